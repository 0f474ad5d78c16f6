"""Which scoring models train on which rows and score which rows: the plan of a round.

A plan is the list of :class:`ScoringTask` of one round (each trains one
clone of the estimator on some rows and records its outputs on others), the
rows they score and, for out-of-fold rounds, the fold of every row. Two
functions make every plan the pruners need:

* :func:`out_of_fold`: K folds, every row held out once per repeat (UNSEEN,
  and the multi-step replacement within the coreset);
* :func:`train_on_rows`: models trained on some rows score others (a
  multi-step refill: trained on the coreset, scoring the pool), or every row
  (the fitting baseline).

Seeds are drawn here, from the caller's generator, before anything trains.
"""

import copy
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
        (``"repeat 0, fold 3"``); it enters the store's key.
    group : int
        Tasks of one group (repeat) score every scored row once; results
        are averaged over groups.
    train_indices, score_indices : array-like of int
        Rows of the caller's data.
    seed : int
        Seed of the model's randomness.

    Examples
    --------
    >>> from skunseen.engine import ScoringTask
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


def out_of_fold(y, rng, *, classes, cv=5, n_repeats=1, groups=None, rows=None, name=""):
    """K folds per repeat: a model per fold trains on the others and scores it.

    Parameters
    ----------
    y : ndarray of int of shape (n_samples,)
        Encoded labels of every row.
    rng : numpy.random.RandomState
        Draws the seeds of the splits first, then of the models.
    classes : ndarray
        The class labels, to name classes in messages.
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled stratified folds (stratified by group too
        with ``groups``), seeded from ``rng``; otherwise a splitter, or
        (over all rows only) an iterable of splits. With ``n_repeats > 1``
        a splitter must shuffle: every repeat uses a clone of it whose
        ``random_state`` is drawn from ``rng``.
    n_repeats : int, default=1
        Fold redraws.
    groups : ndarray of shape (n_samples,), default=None
        Group of every row; no group straddles a split.
    rows : array-like of int, default=None
        Fold only these rows (a multi-step coreset); ``None`` folds every
        row. Over all rows a class smaller than an int ``cv`` raises, and a
        test fold holding a class its training rows lack warns; within a
        subset, small classes are expected and the folds shrink to its size.
    name : str, default=""
        Prefix of the task names (``"step 1, "``).

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        Naming ``cv`` when its splits do not hold every row out exactly
        once, or when ``n_repeats > 1`` asks it for redraws it cannot make.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine import out_of_fold
    >>> y = np.array([0, 1] * 6)
    >>> plan = out_of_fold(y, np.random.RandomState(0), classes=[0, 1], cv=3)
    >>> [task.name for task in plan.tasks]
    ['repeat 0, fold 0', 'repeat 0, fold 1', 'repeat 0, fold 2']
    >>> sorted(np.bincount(plan.fold_ids[0]).tolist())
    [4, 4, 4]
    """
    subset = rows is not None
    rows = np.arange(len(y)) if rows is None else np.asarray(rows, np.int64)
    y_rows = y[rows]
    groups_rows = None if groups is None else np.asarray(groups)[rows]
    if isinstance(cv, Integral):
        if not subset:
            _check_class_sizes(y_rows, cv, classes)
        n_splits = min(cv, len(rows)) if subset else cv
    else:
        _check_redraws(cv, n_repeats)
    fold_ids = np.full((n_repeats, len(y)), -1, dtype=np.int64)
    folds = []
    for repeat, split_seed in enumerate(draw_seeds(rng, n_repeats)):
        if isinstance(cv, Integral):
            kind = StratifiedKFold if groups is None else StratifiedGroupKFold
            splitter = kind(n_splits=n_splits, shuffle=True, random_state=int(split_seed))
        elif n_repeats > 1:
            splitter = copy.copy(cv)
            splitter.random_state = int(split_seed)
        else:
            splitter = cv
        with warnings.catch_warnings():
            if subset:
                # A coreset may hold fewer members of a class than folds: that
                # class is then missing from some training folds, by design.
                warnings.filterwarnings("ignore", message=".*least populated class",
                                        category=UserWarning)
            splits = held_out_splits(splitter, y_rows, groups_rows, classes=classes,
                                     warn_missing_classes=not subset)
        for fold, (train, held_out) in enumerate(splits):
            fold_ids[repeat, rows[held_out]] = fold
            folds.append((repeat, fold, rows[train], rows[held_out]))
    model_seeds = draw_seeds(rng, len(folds))
    tasks = [ScoringTask(f"{name}repeat {repeat}, fold {fold}", repeat, train, held_out, seed)
             for (repeat, fold, train, held_out), seed in zip(folds, model_seeds)]
    return Plan(tasks, rows, fold_ids)


def train_on_rows(n_samples, rng, *, train_rows=None, score_rows=None, n_repeats=1, name=""):
    """``n_repeats`` models (own seeds) train on some rows and score others.

    With every row on both sides these are the conventional "fitting"
    scores of the baseline.

    Parameters
    ----------
    n_samples : int
        Number of rows of the data.
    rng : numpy.random.RandomState
        Draws one seed per model.
    train_rows, score_rows : array-like of int, default=None
        Rows the models train on, and rows they score; ``None`` is every row.
    n_repeats : int, default=1
        Number of models.
    name : str, default=""
        Prefix of the task names (``"step 2, "``).

    Returns
    -------
    Plan

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine import train_on_rows
    >>> plan = train_on_rows(5, np.random.RandomState(0), train_rows=[0, 1, 2],
    ...                      score_rows=[3, 4], n_repeats=2, name="step 2, ")
    >>> [task.name for task in plan.tasks], plan.rows.tolist()
    (['step 2, model 0', 'step 2, model 1'], [3, 4])
    """
    everything = np.arange(n_samples)
    train = everything if train_rows is None else np.asarray(train_rows, np.int64)
    rows = everything if score_rows is None else np.asarray(score_rows, np.int64)
    tasks = [ScoringTask(f"{name}model {repeat}", repeat, train, rows, seed)
             for repeat, seed in enumerate(draw_seeds(rng, n_repeats))]
    return Plan(tasks, rows)


def _check_redraws(cv, n_repeats):
    """Refuse ``n_repeats > 1`` for a ``cv`` whose folds cannot be redrawn."""
    if n_repeats == 1:
        return
    # scikit-learn's splitters keep their parameters as attributes of the same name.
    params = vars(cv) if hasattr(cv, "split") else {}
    if "random_state" in params and params.get("shuffle", True):
        return
    why = ("it does not shuffle" if "shuffle" in params
           else "it has no random_state to redraw its folds with")
    raise ValueError(
        f"n_repeats={n_repeats} redraws the folds for every repeat, which cv={cv!r} cannot: "
        f"{why}, so every repeat would train on the same folds. Use a splitter with "
        "shuffle=True (its random_state is drawn anew for every repeat), an int cv, or "
        "n_repeats=1."
    )


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
    >>> from skunseen.engine import held_out_splits
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
