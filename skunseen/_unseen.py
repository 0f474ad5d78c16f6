"""Single-step UNSEEN: every sample is scored by models that never trained on it."""

from numbers import Integral

import numpy as np
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils._param_validation import Interval

from ._base import BasePruner, ScoringTask, draw_seeds
from ._data import plain


class UnseenPruner(BasePruner):
    """Prune a training set with out-of-fold (UNSEEN) importance scores.

    The samples are split into ``cv`` folds (stratified, shuffled, seeded).
    For every fold a clone of ``estimator`` trains on the other folds and
    records its outputs on the held-out fold, at the end of training and, for
    skorch nets, at every epoch. The base ``scorer`` turns those held-out
    records into one importance per sample, and the ``selector`` keeps
    ``keep`` of the samples. ``n_repeats > 1`` redraws the folds and averages
    the scores.

    Read more in the :ref:`User Guide <method>`.

    Parameters
    ----------
    estimator : skorch NeuralNet or classifier with ``predict_proba``, default=None
        The scoring model, cloned for every fold. ``None`` builds a small
        skorch net from the shape of X (an MLP for 2-D data, a small CNN for
        images) with :func:`skunseen.models.make_net`. A plain scikit-learn
        classifier supports the final-output scorers only.
    scorer : str or callable, default="el2n"
        Name of a registered scorer (see
        :func:`skunseen.scores.available_scorers`) or a callable
        ``scorer(records, **params) -> importance`` (higher = harder).
    scorer_params : dict, default=None
        Keyword arguments of the scorer, e.g. ``{"window": 5}``.
    selector : str or callable, default="ccs"
        Selection rule (see :func:`skunseen.selection.available_selectors`)
        or a callable ``selector(scores, n_select, rng, **params)``.
    selector_params : dict, default=None
        Keyword arguments of the selector, e.g. ``{"cutoff": 0.1}``.
    keep : float in (0, 1] or int, default=0.5
        Fraction of the samples to keep, or their number.
    cv : int, cross-validation generator or iterable, default=5
        Number of folds (stratified, shuffled with a seed drawn from
        ``random_state``), or a splitter whose test folds partition the data.
    n_repeats : int, default=1
        Number of fold redraws whose scores are averaged.
    class_budget : {"proportional", "balanced", "difficulty"} or None, \
            default="proportional"
        How the budget is shared among classes: keep class proportions, equal
        shares, shares proportional to the scoring models' per-class error on
        the held-out folds, or one global ranking (``None``).
    device : str, default="auto"
        Device of the scoring nets. ``"auto"`` uses CUDA for the default net
        when present and leaves a given net's own ``device`` untouched; any
        other value (``"cpu"``, ``"cuda"``, ``"cuda:1"``) is applied to every
        scoring net. A bare ``"cuda"`` (given here or as the net's device)
        with several visible GPUs spreads the folds over them: fold ``k`` of
        the task list trains on ``cuda:{k % n_gpus}``. ``"cuda"`` without a
        GPU raises; ``"auto"`` falls back to the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the scoring models and the selection. The same
        value gives the same coreset, for every joblib backend (see Notes).
    n_jobs : int, default=None
        Number of folds trained in parallel through joblib (honours
        :func:`joblib.parallel_config`: ``"loky"``, ``"threading"``,
        ``"dask"``, ...). With threads, each fold gets an equal share of
        torch's intra-op threads. On one GPU, ``n_jobs > 1`` with the
        threading backend trains several small nets on it at once.
    checkpoint_dir : str or path-like, default=None
        Directory where every finished fold is saved (atomically). A rerun
        with the same data and parameters reads finished folds back instead
        of training them again, e.g. after the process was killed; changed
        data, estimator, folds or seeds never reuse them. ``scorer``,
        ``selector``, ``keep`` and ``class_budget`` act after scoring, so
        changing them reuses every fold. ``None`` saves nothing.
    verbose : int, default=0
        Show progress bars, and how many folds were resumed, when positive.
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
        Out-of-fold importance of every sample (higher = harder).
    sample_indices_ : ndarray of shape (n_selected,)
        Sorted rows of the data passed to ``fit`` that form the coreset.
    oof_proba_ : ndarray of shape (n_samples, n_classes)
        Out-of-fold class probabilities (averaged over repeats).
    fold_ids_ : ndarray of shape (n_repeats, n_samples)
        The held-out fold of every sample in every repeat.
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

    _parameter_constraints = {
        **BasePruner._parameter_constraints,
        "cv": ["cv_object"],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, cv=5, n_repeats=1,
                 class_budget="proportional", device="auto", random_state=None, n_jobs=None,
                 checkpoint_dir=None, verbose=0, fold_batching="auto"):
        super().__init__(
            estimator, scorer=scorer, scorer_params=scorer_params, selector=selector,
            selector_params=selector_params, keep=keep, class_budget=class_budget,
            device=device, random_state=random_state, n_jobs=n_jobs,
            checkpoint_dir=checkpoint_dir, verbose=verbose, fold_batching=fold_batching,
        )
        self.cv = cv
        self.n_repeats = n_repeats

    def _scoring_tasks(self, X, y, rng):
        split_seeds = draw_seeds(rng, self.n_repeats)
        self.fold_ids_ = np.full((self.n_repeats, len(y)), -1, dtype=np.int64)
        folds = []
        for repeat, split_seed in enumerate(split_seeds):
            splitter = self._splitter(y, split_seed)
            for fold, (train, held_out) in enumerate(splitter.split(np.zeros((len(y), 1)), y)):
                if np.any(self.fold_ids_[repeat, held_out] >= 0):
                    raise ValueError(
                        "`cv` must put every sample in exactly one test fold; "
                        f"fold {fold} repeats samples of an earlier fold."
                    )
                self.fold_ids_[repeat, held_out] = fold
                folds.append((repeat, fold, train, held_out))
        model_seeds = draw_seeds(rng, len(folds))
        return [
            ScoringTask(f"repeat {repeat}, fold {fold}", repeat, train, held_out, seed)
            for (repeat, fold, train, held_out), seed in zip(folds, model_seeds)
        ]

    def _splitter(self, y, seed):
        if not isinstance(self.cv, Integral):
            return check_cv(self.cv, y, classifier=True)
        counts = np.bincount(y)
        smallest = int(np.argmin(counts))
        if counts[smallest] < self.cv:
            raise ValueError(
                f"Class {plain(self.classes_[smallest])!r} has only {counts[smallest]} samples, "
                f"fewer than cv={self.cv} folds, so some folds could not train on it. "
                f"Use cv={max(2, int(counts[smallest]))} or fewer, or drop that class."
            )
        return StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=int(seed))

    def _store_proba(self, proba):
        self.oof_proba_ = proba
