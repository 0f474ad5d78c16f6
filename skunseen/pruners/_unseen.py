"""Single-step UNSEEN: every sample is scored by models that never trained on it."""

from ._base import BasePruner
from .._docstrings import SHARED, Substitution
from ..engine import PARAMETER_CONSTRAINTS, out_of_fold


@Substitution(**SHARED)
class UnseenPruner(BasePruner):
    """Prune a training set with out-of-fold (UNSEEN) importance scores.

    The samples are split into ``cv`` folds (stratified, shuffled, seeded).
    For every fold a clone of ``estimator`` trains on the other folds and
    records its outputs on the held-out fold, at the end of training and, for
    skorch nets, at every epoch. The base ``scorer`` turns those held-out
    records into one importance per sample, and the ``selector`` keeps
    ``keep`` of the samples. ``n_repeats > 1`` redraws the folds and averages
    the scores. The scoring stage is :func:`skunseen.cross_val_records`
    (UNSEEN, AAAI 2026, arXiv:2511.12988).

    Read more in the :ref:`User Guide <method>`.

    Parameters
    ----------
    %(estimator)s
    %(scorer)s
    %(scorer_params)s
    %(selector)s
    %(selector_params)s
    %(keep)s
    %(cv)s
    n_repeats : int, default=1
        Number of fold redraws whose scores are averaged.
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
        Out-of-fold importance of every sample (higher = harder).
    %(sample_indices_)s
    oof_proba_ : ndarray of shape (n_samples, n_classes)
        Out-of-fold class probabilities (averaged over repeats), in the
        scoring models' dtype: float32 for nets.
    fold_ids_ : ndarray of shape (n_repeats, n_samples)
        The held-out fold of every sample in every repeat.
    %(data_attributes)s
    %(task_info_)s

    See Also
    --------
    unseen_scores : the same scores as a function.
    FittingPruner : the conventional baseline, scores from models trained on
        the samples they score.
    MultiStepUnseenPruner : incremental "evaluate and refill" selection.
    PrunedClassifier : train a classifier on the coreset inside a Pipeline.

    Notes
    -----
    Every fold's model has its own seed, drawn from ``random_state`` before
    any is trained, so the coreset does not depend on the backend or on the
    order in which folds finish. Process-based backends (``loky``, dask
    workers with one thread) reproduce ``n_jobs=1`` exactly. With threads,
    a net's initialisation, data order and torch dropout layers are
    reproduced too (nets with dropout then train one at a time; a warning
    says so), but randomness the pruner cannot see, such as ``torch.rand``
    in a module's ``forward``, is not. Arithmetic may still differ in the
    last bits: tasks sharing the cores get fewer torch threads, which can
    round large reductions differently, and CUDA kernels may vary from run
    to run unless ``torch.use_deterministic_algorithms(True)`` is set.

    With ``memory``, refitting with other ``keep``, ``selector``,
    ``selector_params`` or ``class_budget`` (also a clone, e.g. under
    ``GridSearchCV``) trains no scoring model again: finished models are
    read back from the store.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import UnseenPruner
    >>> X, y = load_digits(return_X_y=True)
    >>> pruner = UnseenPruner(LogisticRegression(max_iter=200), keep=0.3,
    ...                       random_state=0)
    >>> X_core = pruner.fit_transform(X / 16, y)
    >>> X_core.shape
    (539, 64)
    >>> pruner.scores_.shape, pruner.oof_proba_.shape
    ((1797,), (1797, 10))
    """

    # groups are the pruner's own fit metadata (they shape the folds).
    __metadata_request__fit = {"groups": True}

    _parameter_constraints = {
        **BasePruner._parameter_constraints,
        "cv": ["cv_object"],
        "n_repeats": PARAMETER_CONSTRAINTS["n_repeats"],
    }

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, cv=5, n_repeats=1,
                 class_budget="proportional", device="auto", random_state=None, n_jobs=None,
                 memory=None, verbose=0, fold_batching="auto", checkpoint_dir="deprecated"):
        super().__init__(
            estimator, scorer=scorer, scorer_params=scorer_params, selector=selector,
            selector_params=selector_params, keep=keep, class_budget=class_budget,
            device=device, random_state=random_state, n_jobs=n_jobs,
            memory=memory, verbose=verbose, fold_batching=fold_batching,
            checkpoint_dir=checkpoint_dir,
        )
        self.cv = cv
        self.n_repeats = n_repeats

    @Substitution(**SHARED)
    def fit(self, X, y=None, groups=None, **params):
        """Score every sample out-of-fold and select the coreset.

        A fit that raises leaves the pruner exactly as it was.

        Parameters
        ----------
        %(fit_X)s
        %(fit_y)s
        %(groups)s
        %(fit_params)s

        Returns
        -------
        self : object
            The fitted pruner.
        """
        return super().fit(X, y, groups=groups, **params)

    def _plan(self, problem, rng):
        return out_of_fold(problem.y, rng, classes=problem.classes, cv=self.cv,
                           n_repeats=self.n_repeats, groups=problem.groups)

    def _round_attributes(self, held):
        return {"oof_proba_": held.proba, "fold_ids_": held.fold_ids}
