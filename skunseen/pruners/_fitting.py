"""The conventional baseline: scores from models trained on the samples they score."""

from ._base import BasePruner
from .._docstrings import SHARED, Substitution
from ..engine import PARAMETER_CONSTRAINTS, train_on_rows


@Substitution(**SHARED)
class FittingPruner(BasePruner):
    """Prune with "fitting" scores: models trained on all samples score them.

    This is how score-based pruning is usually done (EL2N, forgetting, AUM,
    ... computed on the training set), kept here with the same scorers,
    selectors and recording as :class:`UnseenPruner`, so that every claim
    that UNSEEN is better is measured against it on the same data and budget.

    Parameters
    ----------
    %(estimator)s
    %(scorer)s
    %(scorer_params)s
    %(selector)s
    %(selector_params)s
    %(keep)s
    n_repeats : int, default=1
        Number of models (different seeds) whose scores are averaged.
    %(class_budget)s
    %(device)s
    %(random_state)s
    %(n_jobs)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s
    %(checkpoint_dir)s

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Importance of every sample from models that trained on it.
    %(sample_indices_)s
    train_proba_ : ndarray of shape (n_samples, n_classes)
        The models' class probabilities on their own training samples
        (averaged over repeats), in the models' dtype: float32 for nets.
    %(data_attributes)s
    %(task_info_)s

    See Also
    --------
    fitting_scores : the same scores as a function.
    UnseenPruner : the same scores from models that never saw the sample.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import FittingPruner
    >>> X, y = load_digits(return_X_y=True)
    >>> pruner = FittingPruner(LogisticRegression(max_iter=200), keep=0.3,
    ...                        random_state=0).fit(X / 16, y)
    >>> int(pruner.get_support().sum())
    539
    """

    _parameter_constraints = {
        **BasePruner._parameter_constraints,
        "n_repeats": PARAMETER_CONSTRAINTS["n_repeats"],
    }

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, n_repeats=1, class_budget="proportional",
                 device="auto", random_state=None, n_jobs=None, memory=None,
                 verbose=0, fold_batching="auto", checkpoint_dir="deprecated"):
        super().__init__(
            estimator, scorer=scorer, scorer_params=scorer_params, selector=selector,
            selector_params=selector_params, keep=keep, class_budget=class_budget,
            device=device, random_state=random_state, n_jobs=n_jobs,
            memory=memory, verbose=verbose, fold_batching=fold_batching,
            checkpoint_dir=checkpoint_dir,
        )
        self.n_repeats = n_repeats

    def _plan(self, problem, rng):
        return train_on_rows(len(problem.y), rng, n_repeats=self.n_repeats)

    def _round_attributes(self, held):
        return {"train_proba_": held.proba}
