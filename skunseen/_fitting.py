"""The conventional baseline: scores from models trained on the samples they score."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import BasePruner, ScoringTask, draw_seeds


class FittingPruner(BasePruner):
    """Prune with "fitting" scores: models trained on all samples score them.

    This is how score-based pruning is usually done (EL2N, forgetting, AUM,
    ... computed on the training set), kept here with the same scorers,
    selectors and recording as :class:`UnseenPruner`, so that every claim
    that UNSEEN is better is measured against it on the same data and budget.

    Parameters
    ----------
    estimator : skorch NeuralNet or classifier with ``predict_proba``, default=None
        The scoring model; ``None`` builds a default net from the shape of X.
    scorer : str or callable, default="el2n"
        Registered scorer name or callable (see :class:`UnseenPruner`).
    scorer_params : dict, default=None
        Keyword arguments of the scorer.
    selector : str or callable, default="ccs"
        Selection rule name or callable.
    selector_params : dict, default=None
        Keyword arguments of the selector.
    keep : float in (0, 1] or int, default=0.5
        Fraction of the samples to keep, or their number.
    n_repeats : int, default=1
        Number of models (different seeds) whose scores are averaged.
    class_budget : {"proportional", "balanced", "difficulty"} or None, \
            default="proportional"
        How the budget is shared among classes (``"difficulty"`` uses the
        models' smoothed training error per class, see
        :func:`skunseen.selection.class_difficulty`).
    device : str, default="auto"
        Device of the scoring nets (see :class:`UnseenPruner`).
    random_state : int, RandomState instance or None, default=None
        Seeds the models and the selection.
    n_jobs : int, default=None
        Number of models trained in parallel (see :class:`UnseenPruner`).
    checkpoint_dir : str or path-like, default=None
        Directory where every finished model's records are saved, and read
        back by a rerun on the same data and parameters (see
        :class:`UnseenPruner`).
    verbose : int, default=0
        Show progress bars, and how many models were resumed, when positive.
    fold_batching : bool or "auto", default="auto"
        Train the scoring models of a round (the folds, or a multi-step
        refill's repeats) at once, as one stacked module on one device (see
        :ref:`fold batching <fold_batching>`): each model still trains on its
        own rows only, with its own BatchNorm statistics, optimizer state and
        learning-rate schedule. ``"auto"`` does so where it is measured to be
        faster: for built-in nets with a fast-path iterator, on the CPU, when
        the net is small (see the docs), with ``n_jobs`` unset or 1.
        ``True`` always does for such nets and raises a ``ValueError`` saying
        why for any other; ``False`` trains the models one by one.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Importance of every sample from models that trained on it.
    sample_indices_ : ndarray of shape (n_selected,)
        Sorted rows of the data passed to ``fit`` that form the coreset.
    train_proba_ : ndarray of shape (n_samples, n_classes)
        The models' class probabilities on their own training samples.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_samples_fit_ : int
        Number of rows seen in ``fit``.
    n_features_in_ : int
        Number of features (second axis) of array input.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X is a DataFrame with string column names.
    task_info_ : list of dict
        Per scoring model: its name, training seconds and epochs, whether it
        trained in a ``batched`` round (``fold_batching``; its seconds are then
        the round's divided among its models) and whether it was ``resumed``
        from ``checkpoint_dir``.
    n_tasks_resumed_ : int
        Number of scoring models read back from ``checkpoint_dir``.

    See Also
    --------
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
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, n_repeats=1, class_budget="proportional",
                 device="auto", random_state=None, n_jobs=None, checkpoint_dir=None,
                 verbose=0, fold_batching="auto"):
        super().__init__(
            estimator, scorer=scorer, scorer_params=scorer_params, selector=selector,
            selector_params=selector_params, keep=keep, class_budget=class_budget,
            device=device, random_state=random_state, n_jobs=n_jobs,
            checkpoint_dir=checkpoint_dir, verbose=verbose, fold_batching=fold_batching,
        )
        self.n_repeats = n_repeats

    def _scoring_tasks(self, X, y, rng):
        everything = np.arange(len(y))
        return [
            ScoringTask(f"model {repeat}", repeat, everything, everything, seed)
            for repeat, seed in enumerate(draw_seeds(rng, self.n_repeats))
        ]

    def _store_proba(self, proba):
        self.train_proba_ = proba
