"""Which scoring models train on which rows and score which rows: the strategies.

A strategy turns the labels and a random generator into a :class:`Plan`:
the list of :class:`ScoringTask` (each trains one clone of the estimator on
some rows and records its outputs on others) and the rows they score. Three
strategies cover every pruner:

* :class:`OutOfFold`: K folds, every row held out once per repeat (UNSEEN,
  and the multi-step replacement within the coreset);
* :class:`TrainOnAll`: models trained on every row score every row (the
  fitting baseline);
* :class:`TrainOnRows`: models trained on some rows score others (a
  multi-step refill: trained on the coreset, scoring the pool).

Seeds are drawn here, from the caller's generator, before anything trains.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils.metadata_routing import get_routing_for_object

from .._data import plain
from .._rng import draw_seeds


class ScoringTask:
    """One scoring model: the rows it trains on and the rows it scores.

    Parameters
    ----------
    name : str
        Human-readable label used in progress bars and error messages
        (``"repeat 0, fold 3"``); it enters the checkpoint key.
    group : int
        Tasks of one group (repeat) score every scored row once; results
        are averaged over groups.
    train_indices, score_indices : array-like of int
        Rows of the caller's data.
    seed : int
        Seed of the model's randomness.

    Examples
    --------
    >>> from skunseen.engine._plan import ScoringTask
    >>> task = ScoringTask("fold 0", 0, [1, 2], [0], seed=3)
    >>> task.train_indices.tolist(), task.score_indices.tolist()
    ([1, 2], [0])
    """

    def __init__(self, name, group, train_indices, score_indices, seed):
        self.name = name
        self.group = group
        self.train_indices = np.asarray(train_indices, dtype=np.int64)
        self.score_indices = np.asarray(score_indices, dtype=np.int64)
        self.seed = int(seed)


@dataclass
class Plan:
    """The tasks of one round, the sorted rows they score, and the held-out
    fold of every row per repeat (out-of-fold rounds; -1 where not held out)."""

    tasks: list
    rows: np.ndarray
    fold_ids: np.ndarray = None


class OutOfFold:
    """K folds per repeat: a model per fold trains on the others and scores it.

    Parameters
    ----------
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled stratified folds (stratified by group too
        with ``groups``), seeded from the caller's generator; otherwise a
        splitter, or (over all rows only) an iterable of splits.
    n_repeats : int, default=1
        Fold redraws.
    groups : array-like of shape (n_samples,), default=None
        Group of every row; no group straddles a split.
    rows : array-like of int, default=None
        Fold only these rows (a multi-step coreset); ``None`` folds every
        row. Over all rows a class smaller than an int ``cv`` raises, and a
        test fold holding a class its training rows lack warns; within a
        subset, small classes are expected and the folds shrink to its size.
    name : str, default=""
        Prefix of the task names (``"step 1, "``).

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine._plan import OutOfFold
    >>> y = np.array([0, 1] * 6)
    >>> plan = OutOfFold(cv=3).plan(y, np.random.RandomState(0), classes=[0, 1])
    >>> [task.name for task in plan.tasks]
    ['repeat 0, fold 0', 'repeat 0, fold 1', 'repeat 0, fold 2']
    >>> sorted(np.bincount(plan.fold_ids[0]).tolist())
    [4, 4, 4]
    """

    def __init__(self, cv=5, n_repeats=1, *, groups=None, rows=None, name=""):
        self.cv = cv
        self.n_repeats = n_repeats
        self.groups = groups
        self.rows = rows
        self.name = name

    def plan(self, y, rng, *, classes):
        """The :class:`Plan`: seeds of the splits first, then of the models."""
        rows = np.arange(len(y)) if self.rows is None else np.asarray(self.rows, np.int64)
        fold_ids = np.full((self.n_repeats, len(y)), -1, dtype=np.int64)
        folds = []
        for repeat, split_seed in enumerate(draw_seeds(rng, self.n_repeats)):
            for fold, (train, held_out) in enumerate(self._splits(y, rows, split_seed, classes)):
                fold_ids[repeat, rows[held_out]] = fold
                folds.append((repeat, fold, rows[train], rows[held_out]))
        model_seeds = draw_seeds(rng, len(folds))
        tasks = [ScoringTask(f"{self.name}repeat {repeat}, fold {fold}", repeat, train,
                             held_out, seed)
                 for (repeat, fold, train, held_out), seed in zip(folds, model_seeds)]
        return Plan(tasks, rows, fold_ids)

    def _splits(self, y, rows, seed, classes):
        y_rows = y[rows]
        groups = None if self.groups is None else np.asarray(self.groups)[rows]
        if self.rows is None:
            return held_out_splits(self._splitter(y_rows, seed, groups, classes), y_rows,
                                   groups, classes=classes)
        with warnings.catch_warnings():
            # A coreset may hold fewer members of a class than folds: that
            # class is then missing from some training folds, by design.
            warnings.filterwarnings("ignore", message=".*least populated class",
                                    category=UserWarning)
            return held_out_splits(self._splitter(y_rows, seed, groups, classes), y_rows,
                                   groups, classes=classes, warn_missing_classes=False)

    def _splitter(self, y, seed, groups, classes):
        if not isinstance(self.cv, Integral):
            return check_cv(self.cv, y, classifier=True)
        n_splits = self.cv
        if self.rows is None:
            _check_class_sizes(y, self.cv, classes)
        else:
            n_splits = min(self.cv, len(y))
        kind = StratifiedKFold if groups is None else StratifiedGroupKFold
        return kind(n_splits=n_splits, shuffle=True, random_state=int(seed))


def _check_class_sizes(y, cv, classes):
    """Raise when a class is too small for every fold to train on it."""
    counts = np.bincount(y)
    smallest = int(np.argmin(counts))
    if counts[smallest] >= cv:
        return
    name = plain(classes[smallest])
    if counts[smallest] < 2:
        raise ValueError(
            f"Class {name!r} has a single sample, so no split can both train on it "
            "and hold it out (whatever cv); drop that class or merge it into another."
        )
    raise ValueError(
        f"Class {name!r} has only {counts[smallest]} samples, fewer than "
        f"cv={cv} folds, so some folds could not train on it. "
        f"Use cv={counts[smallest]} or fewer, or drop that class."
    )


class TrainOnRows:
    """``n_repeats`` models (own seeds) train on some rows and score others.

    Parameters
    ----------
    train_rows, score_rows : array-like of int, default=None
        Rows the models train on, and rows they score; ``None`` is every row.
    n_repeats : int, default=1
        Number of models.
    name : str, default=""
        Prefix of the task names (``"step 2, "``).

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine._plan import TrainOnRows
    >>> plan = TrainOnRows([0, 1, 2], [3, 4], n_repeats=2, name="step 2, ").plan(
    ...     np.zeros(5, int), np.random.RandomState(0), classes=[0])
    >>> [task.name for task in plan.tasks], plan.rows.tolist()
    (['step 2, model 0', 'step 2, model 1'], [3, 4])
    """

    def __init__(self, train_rows=None, score_rows=None, *, n_repeats=1, name=""):
        self.train_rows = train_rows
        self.score_rows = score_rows
        self.n_repeats = n_repeats
        self.name = name

    def plan(self, y, rng, *, classes):
        """The :class:`Plan`: one seed per model."""
        everything = np.arange(len(y))
        train = everything if self.train_rows is None else self.train_rows
        rows = everything if self.score_rows is None else np.asarray(self.score_rows, np.int64)
        tasks = [ScoringTask(f"{self.name}model {repeat}", repeat, train, rows, seed)
                 for repeat, seed in enumerate(draw_seeds(rng, self.n_repeats))]
        return Plan(tasks, rows)


class TrainOnAll(TrainOnRows):
    """``n_repeats`` models (own seeds) train on every row and score every row.

    The conventional "fitting" scores, for the baseline.

    Parameters
    ----------
    n_repeats : int, default=1
        Number of models.
    name : str, default=""
        Prefix of the task names.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine._plan import TrainOnAll
    >>> plan = TrainOnAll(n_repeats=2).plan(np.zeros(3, int), np.random.RandomState(0),
    ...                                     classes=[0])
    >>> [task.name for task in plan.tasks], plan.tasks[0].train_indices.tolist()
    (['model 0', 'model 1'], [0, 1, 2])
    """

    def __init__(self, n_repeats=1, *, name=""):
        super().__init__(n_repeats=n_repeats, name=name)


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
    >>> from skunseen.engine._plan import held_out_splits
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
    splits, held_out = [], np.zeros(n, dtype=bool)
    for k, (train, test) in enumerate(_raw_splits(splitter, y, groups)):
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


def _raw_splits(splitter, y, groups):
    """The splits of ``splitter`` (or of ``check_cv(splitter)``) as it yields them."""
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
        # Whatever the splitter does with groups, held_out_splits keeps them whole.
        return list(splitter.split(np.zeros((n, 1)), y,
                                   groups if by_groups or not declares else None))
    except ValueError as exc:
        raise ValueError(f"`cv` cannot split these {n} samples: {exc}") from exc

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
