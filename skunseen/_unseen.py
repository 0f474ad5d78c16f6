"""Single-step UNSEEN: every sample is scored by models that never trained on it."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils._param_validation import Interval
from sklearn.utils.metadata_routing import get_routing_for_object

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
        ``random_state``; stratified by group too when ``fit`` gets
        ``groups``), or a splitter or iterable of ``(train, test)`` splits
        whose test folds partition the data. Splits are checked before any
        model trains: a split's training and test rows are disjoint, every
        row is in exactly one test fold, indices are row positions (or
        boolean masks) and, with ``groups``, no group straddles a split; a
        test fold holding a class its training rows lack gets a warning.
    n_repeats : int, default=1
        Number of fold redraws whose scores are averaged.
    class_budget : {"proportional", "balanced", "difficulty"} or None, \
            default="proportional"
        How the budget is shared among classes: keep class proportions, equal
        shares, shares proportional to the scoring models' smoothed per-class
        error on the held-out folds
        (:func:`skunseen.selection.class_difficulty`), or one global ranking
        (``None``).
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

    # groups are the pruner's own fit metadata (they shape the folds).
    __metadata_request__fit = {"groups": True}

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

    def fit(self, X, y=None, groups=None, **params):
        """Score every sample out-of-fold and select the coreset.

        A fit that raises leaves the pruner exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), tensor, DataFrame or Dataset
            Training data. A torch ``Dataset`` is never loaded whole: scoring
            models read it through index views.
        y : array-like of shape (n_samples,), default=None
            Labels. May be omitted only when X is a Dataset exposing
            ``targets`` (or yielding ``(x, y)`` pairs).
        groups : array-like of shape (n_samples,), default=None
            Group of every sample (e.g. the patient or the source video), so
            that no group is both trained on and held out by a fold: a group
            splitter as ``cv`` (``GroupKFold``, ``StratifiedGroupKFold``, ...)
            receives them, an int ``cv`` then gives ``StratifiedGroupKFold``
            folds, and any ``cv`` is checked to keep every group whole.
        **params : dict
            Metadata for the scoring estimators' ``fit`` (e.g.
            ``sample_weight``), through scikit-learn's metadata routing (see
            :meth:`BasePruner.fit`).

        Returns
        -------
        self : object
            The fitted pruner.
        """
        return super().fit(X, y, groups=groups, **params)

    def _scoring_tasks(self, X, y, rng):
        split_seeds = draw_seeds(rng, self.n_repeats)
        fold_ids = np.full((self.n_repeats, len(y)), -1, dtype=np.int64)
        folds = []
        for repeat, split_seed in enumerate(split_seeds):
            splits = held_out_splits(self._splitter(y, split_seed), y, self._fit_groups,
                                     classes=self.classes_)
            for fold, (train, held_out) in enumerate(splits):
                fold_ids[repeat, held_out] = fold
                folds.append((repeat, fold, train, held_out))
        self.fold_ids_ = fold_ids
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
            name = plain(self.classes_[smallest])
            if counts[smallest] < 2:
                raise ValueError(
                    f"Class {name!r} has a single sample, so no split can both train on it "
                    "and hold it out (whatever cv); drop that class or merge it into another."
                )
            raise ValueError(
                f"Class {name!r} has only {counts[smallest]} samples, fewer than "
                f"cv={self.cv} folds, so some folds could not train on it. "
                f"Use cv={counts[smallest]} or fewer, or drop that class."
            )
        if self._fit_groups is not None:
            return StratifiedGroupKFold(n_splits=self.cv, shuffle=True, random_state=int(seed))
        return StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=int(seed))

    def _store_proba(self, proba):
        self.oof_proba_ = proba


def held_out_splits(splitter, y, groups=None, *, classes, warn_missing_classes=True):
    """The splits of ``splitter``, checked to hold every sample out exactly once.

    Every sample must be scored by a model that never trained on it, so a
    split's training and test rows must be disjoint, every row must be in
    exactly one test fold, and, with ``groups``, no group may be on both
    sides of a split. Indices must be integer row positions in
    ``[0, n_samples)``; boolean masks of length ``n_samples`` are accepted.

    Parameters
    ----------
    splitter : cross-validation splitter
        An object with ``split(X, y, groups)`` (what :func:`check_cv` returns).
    y : ndarray of int of shape (n_samples,)
        Encoded labels.
    groups : array-like of shape (n_samples,), default=None
        Group labels.
    classes : ndarray
        The class labels, to name classes in the warning.
    warn_missing_classes : bool, default=True
        Warn when a test fold holds a class that its training rows lack (its
        model cannot predict that class).

    Returns
    -------
    splits : list of (ndarray, ndarray)
        Training and test rows of every split, as int64 positions.

    Raises
    ------
    ValueError
        Naming ``cv`` (and ``groups``) when the splits break a rule above.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import KFold
    >>> from skunseen._unseen import held_out_splits
    >>> y = np.array([0, 1, 0, 1])
    >>> [test.tolist() for _, test in held_out_splits(KFold(2), y, classes=[0, 1])]
    [[0, 1], [2, 3]]
    >>> held_out_splits([(np.arange(4), np.arange(2)), (np.arange(2), np.arange(2, 4))], y,
    ...                 classes=[0, 1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `cv` split 0 trains on 2 of the rows it holds out (e.g. rows [0, 1]); ...
    """
    n = len(y)
    if not hasattr(splitter, "split"):
        splitter = check_cv(splitter, y, classifier=True)
    # scikit-learn's splitters declare whether they split by groups (and warn
    # when given groups they ignore); other splitters get the groups given.
    declares = hasattr(splitter, "get_metadata_routing")
    by_groups = declares and bool(get_routing_for_object(splitter).consumes("split",
                                                                             ["groups"]))
    if groups is None and by_groups:
        raise ValueError(
            f"`cv` ({splitter!r}) splits by groups, but none were given; pass them to "
            "fit: fit(X, y, groups=...)."
        )
    try:
        # Whatever the splitter does with groups, the check below keeps them whole.
        raw = list(splitter.split(np.zeros((n, 1)), y,
                                  groups if by_groups or not declares else None))
    except ValueError as exc:
        raise ValueError(f"`cv` cannot split these {n} samples: {exc}") from exc
    splits, held_out = [], np.zeros(n, dtype=bool)
    for k, (train, test) in enumerate(raw):
        train, test = _rows(train, n, k, "training"), _rows(test, n, k, "test")
        if len(train) == 0:
            raise ValueError(f"`cv` split {k} has no training rows.")
        shared = np.intersect1d(train, test)
        if len(shared):
            raise ValueError(
                f"`cv` split {k} trains on {len(shared)} of the rows it holds out (e.g. rows "
                f"{shared[:5].tolist()}); every sample must be scored by a model that did not "
                "train on it, so a split's training and test rows must be disjoint."
            )
        if np.any(held_out[test]):
            raise ValueError(
                "`cv` must put every sample in exactly one test fold; "
                f"fold {k} repeats samples of an earlier fold."
            )
        held_out[test] = True
        if groups is not None:
            straddling = np.intersect1d(np.asarray(groups)[train], np.asarray(groups)[test])
            if len(straddling):
                raise ValueError(
                    f"`cv` split {k} puts group(s) {[plain(g) for g in straddling[:5]]} in "
                    "both its training and test rows; with groups, every group must stay "
                    "whole (use a group splitter such as GroupKFold, or an int cv)."
                )
        if warn_missing_classes:
            missing = np.setdiff1d(y[test], y[train])
            if len(missing):
                names = [plain(classes[c]) for c in missing]
                warnings.warn(
                    f"Fold {k} of `cv` holds out class(es) {names}, which its training rows "
                    "lack: its model cannot predict them, so their samples get degenerate "
                    "scores. Use folds stratified by class (an int cv is).",
                    UserWarning, stacklevel=4,
                )
        splits.append((train, test))
    if not held_out.all():
        missing = np.flatnonzero(~held_out)
        raise ValueError(
            f"`cv` must put every sample in exactly one test fold; {len(missing)} samples "
            f"(e.g. rows {missing[:5].tolist()}) are in none."
        )
    return splits


def _rows(indices, n, k, side):
    """Row positions of one side of a split: integers in [0, n), or a boolean mask."""
    indices = np.asarray(indices)
    if indices.dtype == bool and indices.shape == (n,):
        return np.flatnonzero(indices)
    if indices.size == 0:
        return np.empty(0, dtype=np.int64)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(
            f"`cv` split {k}: the {side} indices must be integer row positions in [0, {n}) "
            f"or a boolean mask of length {n}; got an array of dtype {indices.dtype} and "
            f"shape {indices.shape}."
        )
    if indices.min() < 0 or indices.max() >= n:
        bad = indices[(indices < 0) | (indices >= n)]
        raise ValueError(
            f"`cv` split {k}: the {side} indices must be row positions in [0, {n}); got "
            f"{bad[:5].tolist()}."
        )
    if len(np.unique(indices)) != len(indices):
        raise ValueError(f"`cv` split {k} repeats {side} rows.")
    return indices.astype(np.int64)
