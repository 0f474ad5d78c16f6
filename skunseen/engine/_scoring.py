"""The path of every fit: inputs checked, tasks planned, models trained and recorded.

1. :func:`prepare_scoring` checks the inputs and resolves the scoring model
   into a :class:`ScoringProblem` (a skorch net from :mod:`skunseen.nets`,
   any other classifier as a :class:`ClassifierModel`);
2. a plan (:func:`out_of_fold`, :func:`train_on_rows`) lists the tasks: which
   model trains on which rows and scores which, with its seed, all drawn
   from the caller's ``random_state`` before anything trains;
3. :func:`run_plan` decides every task's device and whether the round trains
   batched, takes finished tasks from the store (``memory``), runs the rest
   (one :class:`~sklearn.utils.parallel.Parallel` call, or the batched
   trainer), stores each as it finishes, and assembles the records.

The pruners and the engine functions (:mod:`skunseen.engine._cross_val`)
take these three steps. A scoring model, whatever its kind, answers:
``plan_round(n_tasks, *, recording, fit_params, n_jobs) -> (devices,
batched)`` (every task's device request, which the task resolves where it
runs: the caller's process asks nothing about its hardware),
``task_runner(n_tasks, n_jobs)`` (one task as a picklable job:
``runner(estimator, X, y, task, *, position, n_classes, recording, device,
fit_params) -> (records, n_epochs)``, ``position`` being the task's place
in the round), ``run_batched(y, tasks, *, devices,
n_classes, recording) -> [(records, n_epochs)]`` (when ``batched``),
``keeping_random_state(devices)`` (a context around the round),
``data_key(fingerprint)`` (the digest of X for the store) and
``non_finite_row(rows)`` (to name bad data when training fails).
"""

import contextlib
import copy
import os
import time
import warnings
from dataclasses import dataclass
from numbers import Integral

import joblib
import numpy as np
from joblib import effective_n_jobs
from joblib.parallel import get_active_backend
from scipy.stats import binomtest
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import get_routing_for_object
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_X_y

from .. import nets
from .._data import (
    check_data,
    check_fit_params,
    check_groups,
    check_labels,
    fingerprint,
    is_dataset,
    n_rows,
    plain,
    refuse_bools,
    take_rows,
)
from .._records import (
    DYNAMICS,
    HeldOutRecords,
    Recording,
    ScoringRecords,
    TrainingDiverged,
    check_extra_requests,
    check_probabilities,
)
from .._progress import make_bar
from ..scores import check_scorer_params
from ._store import estimator_fingerprint, open_store, store_location, task_key

#: Exclusive upper bound of every drawn seed (the int32 range numpy and torch take).
MAX_SEED = np.iinfo(np.int32).max


def draw_seeds(rng, size):
    """``size`` independent seeds from ``rng``, drawn up front, so that neither the
    joblib backend nor the order in which tasks finish can change them.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine import draw_seeds
    >>> draw_seeds(np.random.RandomState(0), 2).tolist()
    [209652396, 398764591]
    """
    return rng.randint(MAX_SEED, size=size)


def draw_seed(rng):
    """One seed from ``rng`` (an int), e.g. for a selection rule."""
    return int(rng.randint(MAX_SEED))


#: Constraints of the parameters the pruners and the engine functions share,
#: declared once (scikit-learn's ``_parameter_constraints`` form).
PARAMETER_CONSTRAINTS = {
    "estimator": [None, HasMethods(["fit", "predict_proba"])],
    "scorer": [str, callable],
    "scorer_params": [dict, None],
    "n_repeats": [Interval(Integral, 1, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "n_jobs": [Integral, None],
    "memory": [None, str, os.PathLike, HasMethods(["cache"])],
    "verbose": ["verbose"],
    "fold_batching": ["boolean", StrOptions({"auto"})],
}


@dataclass(frozen=True)
class ScoringProblem:
    """What every scoring round of one fit shares: the checked inputs and the model.

    Made by :func:`prepare_scoring`; :func:`run_plan` runs a plan on it.

    Parameters
    ----------
    model : ClassifierModel or NetModel
        The resolved scoring model and X in the form it reads (``model.X``).
    y : ndarray of int of shape (n_samples,)
        Encoded labels (positions in ``classes``).
    classes : ndarray of shape (n_classes,)
        The class labels.
    groups : ndarray of shape (n_samples,) or None
        Group of every sample.
    recording : Recording
        What the models record besides the final probabilities.
    fit_params : dict
        Metadata for the models' ``fit``.
    fingerprint : str
        The digest of X as the caller gave it (:func:`skunseen._data.fingerprint`).
    n_jobs, memory, verbose
        As the pruners' parameters.
    label : str
        Names the caller in messages and progress bars.
    """

    model: object
    y: np.ndarray
    classes: np.ndarray
    groups: np.ndarray
    recording: Recording
    fit_params: dict
    fingerprint: str
    n_jobs: int = None
    memory: object = None
    verbose: int = 0
    label: str = "skunseen"

    @property
    def estimator(self):
        return self.model.estimator

    @property
    def X(self):
        return self.model.X


def prepare_scoring(estimator, X, y, *, asked_by, scorer=None, scorer_params=None, extras=None,
                    recording=None, groups=None, fit_params=None, device="auto",
                    fold_batching="auto", n_jobs=None, memory=None, random_state=None,
                    verbose=0, label="skunseen", validate=check_X_y):
    """Check the inputs of a fit and resolve its scoring model, before anything trains.

    Parameters
    ----------
    estimator : object or None
        The caller's ``estimator``.
    X, y
        The caller's data, as :func:`check_data` takes them.
    asked_by : dict
        Names, for messages, what asks for per-epoch records
        (``"dynamics"``) and for extras (``"extras"``).
    scorer, scorer_params : default=None
        The scorer and its parameters: what the models record follows from
        them (:func:`scorer_recording`, with a selection rule's ``extras``),
        and they are tried on made-up records of the scoring nets' epochs so
        that bad values fail now, not after training.
    extras : dict, default=None
        Extras a selection rule reads, recorded besides the scorer's.
    recording : Recording or callable, default=None
        What to record when no ``scorer`` says it, or
        ``recording(is_net) -> Recording`` when that depends on whether the
        model is a net.
    groups, fit_params, device, fold_batching, n_jobs, memory, verbose
        As the pruners' parameters.
    random_state : int, RandomState instance or None, default=None
        Only to warn when ``memory`` can reuse nothing (``None``).
    label : str, default="skunseen"
        Names the caller in messages and progress bars.
    validate : callable, default=check_X_y
        Validates array-like X and y (the pruners pass ``validate_data``).

    Returns
    -------
    ScoringProblem

    Raises
    ------
    ValueError, TypeError
        Naming the parameter, for anything a model would fail on.
    """
    check_run_options(estimator, n_jobs=n_jobs, memory=memory, random_state=random_state)
    X, y = check_data(X, y, caller=label, validate=validate)
    classes, y_encoded = check_labels(y)
    n_samples = n_rows(X)
    groups = check_groups(groups, n_samples)
    fit_params = check_fit_params(fit_params, n_samples)
    if not isinstance(fold_batching, str):  # numpy bools too
        fold_batching = bool(fold_batching)
    if scorer is not None:
        recording = scorer_recording(scorer, scorer_params, extras)
    elif callable(recording):
        recording = recording(estimator is None or nets.is_net(estimator))
    model = nets.net_model(estimator, X, n_classes=len(classes), recording=recording,
                           device=device, fold_batching=fold_batching, fit_params=fit_params)
    if model is None:
        model = ClassifierModel(estimator, X, recording=recording, asked_by=asked_by,
                                fold_batching=fold_batching)
    if scorer is not None:
        check_scorer_params(scorer, scorer_params, getattr(model.estimator, "max_epochs", None))
    return ScoringProblem(model, y_encoded, classes, groups, recording, fit_params,
                          fingerprint(X), n_jobs=n_jobs, memory=memory, verbose=verbose,
                          label=label)


def check_run_options(estimator, *, n_jobs, memory, random_state):
    """What scikit-learn's parameter constraints let through, refused before training.

    The store's directory is checked, not created: a refused fit leaves
    nothing behind.
    """
    if isinstance(estimator, type):
        raise TypeError(
            f"estimator must be an estimator instance such as {estimator.__name__}(), "
            f"not the class {estimator.__name__}."
        )
    refuse_bools(n_jobs=n_jobs)
    if n_jobs == 0:
        raise ValueError(
            "n_jobs=0 has no meaning: pass None or 1 (one model at a time), a positive "
            "number of parallel jobs, or a negative one (-1: one job per CPU)."
        )
    if memory is not None and store_location(memory) is not None and random_state is None:
        warnings.warn(
            "memory keeps scoring models for later fits with the same folds and seeds, "
            "but random_state=None draws new ones every fit: nothing stored will be "
            "reused. Fix random_state to an int.", UserWarning, stacklevel=4)


def scorer_recording(scorer, scorer_params=None, extras=None):
    """What ``scorer`` (and a selection rule's ``extras``) need recorded."""
    try:
        requested = check_extra_requests(scorer.requests(scorer_params))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"scorer_params={scorer_params!r}: {exc}") from None
    return Recording(dynamics=scorer.reads_dynamics(scorer_params),
                     extras={**check_extra_requests(extras or {}), **requested})


def recording_from(record, *, is_net):
    """The :class:`~skunseen._records.Recording` a ``record`` argument asks for."""
    if isinstance(record, str) and record == "auto":
        return Recording(dynamics=is_net)
    requests = dict(record) if isinstance(record, dict) else dict.fromkeys(
        (record,) if isinstance(record, str) else record)
    dynamics = DYNAMICS in requests
    if requests.pop(DYNAMICS, None):
        raise ValueError(f"record={record!r}: {DYNAMICS!r} takes no options.")
    return Recording(dynamics=dynamics, extras=check_extra_requests(requests))


# ------------------------------------------------------------------------ plans
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

    See Also
    --------
    Plan : the tasks of one round.

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
    """The tasks of one round and the rows they score.

    Parameters
    ----------
    tasks : list of ScoringTask
        The tasks of one group (repeat) together score every row of ``rows``
        exactly once.
    rows : ndarray of int of shape (n_rows,)
        The sorted rows the tasks score.
    fold_ids : ndarray of int of shape (n_repeats, n_samples), default=None
        The held-out fold of every row per repeat, for out-of-fold rounds
        (-1 where not held out).

    See Also
    --------
    out_of_fold, train_on_rows : make plans.
    skunseen.BasePruner : a custom pruner returns one from ``_plan``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine import Plan, ScoringTask
    >>> plan = Plan([ScoringTask("half 0", 0, [2, 3], [0, 1], seed=0),
    ...              ScoringTask("half 1", 0, [0, 1], [2, 3], seed=1)], rows=np.arange(4))
    >>> [task.name for task in plan.tasks]
    ['half 0', 'half 1']
    """

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

    See Also
    --------
    train_on_rows : models that score rows they may have trained on.
    held_out_splits : the checks of every split.

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
        elif n_repeats > 1 or _shuffles_unseeded(cv):
            # The folds follow random_state, as an int cv's do.
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

    See Also
    --------
    out_of_fold : every row held out once per repeat.

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


def _shuffles_unseeded(cv):
    """Whether a splitter shuffles with ``random_state=None`` (other folds every fit)."""
    params = vars(cv) if hasattr(cv, "split") else {}
    return bool(params.get("shuffle")) and "random_state" in params and \
        params["random_state"] is None


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
        f"n_repeats={n_repeats} redraws the folds for every repeat, which cv={_short(cv)} cannot: "
        f"{why}, so every repeat would train on the same folds. Use a splitter with "
        "shuffle=True (its random_state is drawn anew for every repeat), an int cv, or "
        "n_repeats=1."
    )


def _short(value, limit=80):
    """``repr(value)``, cut to ``limit`` characters (an iterable of splits can be long)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


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
    if not splits:
        raise ValueError(
            "`cv` gave no split; a generator of splits is used up by the first fit that "
            "reads it: pass a list of splits or a splitter object."
        )
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


# ------------------------------------------------------------------ the round
def run_plan(problem, plan):
    """Train and record the scoring models of ``plan``: the engine, top to bottom.

    Parameters
    ----------
    problem : ScoringProblem
        The checked inputs and the scoring model.
    plan : Plan
        The tasks of the round and the rows they score.

    Returns
    -------
    HeldOutRecords

    Raises
    ------
    ValueError
        Naming the task whose model diverged or produced non-finite outputs.
    """
    model, tasks, n_classes = problem.model, plan.tasks, len(problem.classes)
    # 1. How every task runs, decided for the whole round before anything runs.
    devices, batched = model.plan_round(len(tasks), recording=problem.recording,
                                        fit_params=problem.fit_params, n_jobs=problem.n_jobs)
    # 2. Take the finished tasks from the store, when there is one.
    store, keys, finished = None, None, {}
    if problem.memory is not None:
        store = open_store(problem.memory)
        keys = None if store is None else _task_keys(problem, tasks, devices, batched)
    if keys is not None:
        for position, (task, key) in enumerate(zip(tasks, keys)):
            found = store.load(key, task, y=problem.y, n_classes=n_classes)
            if found is not None:
                finished[position] = (found[0], {**found[1], "resumed": True})
        if finished and problem.verbose:
            print(f"[{problem.label}] Resumed {len(finished)} of {len(tasks)} scoring models "
                  f"from memory={_location(problem.memory)!r}.")
    # 3. Run the rest, and 4. store every task as it finishes.
    pending = [position for position in range(len(tasks)) if position not in finished]
    bar = make_bar(total=len(pending), desc=f"{problem.label} models",
                   leave=problem.verbose > 1) if problem.verbose and pending else None
    try:
        with model.keeping_random_state(devices):
            for position, records, info in _run(problem, tasks, pending, devices, batched):
                _check_outputs(model, tasks[position], records)
                if keys is not None:
                    store.save(keys[position], tasks[position], records, info)
                finished[position] = (records, {**info, "resumed": False})
                if bar is not None:
                    bar.update()
    except TrainingDiverged as exc:
        message, position = exc.args
        raise _non_finite_error(model, tasks[position], f"diverged: {message}") from exc
    finally:
        if bar is not None:
            bar.close()
    # 5. Assemble the records, in task order.
    held = HeldOutRecords(
        records=[finished[position][0] for position in range(len(tasks))],
        repeats=np.array([task.group for task in tasks], dtype=np.int64),
        rows=plan.rows, y=problem.y[plan.rows], classes=problem.classes,
        fold_ids=plan.fold_ids,
        task_info=[{"task": task.name, **finished[position][1]}
                   for position, task in enumerate(tasks)])
    warn_if_near_chance(held, tasks, problem.label)
    return held


def warn_if_near_chance(held, tasks, label):
    """Warn when models that never saw their rows predict them no better than chance.

    Chance is the share of the most frequent class (always predicting it);
    the held-out accuracy must beat it by a one-sided binomial test at the
    1 % level. Scores of such models rank samples by noise. Models that
    score their own training rows (the fitting baseline) are not held out
    and not checked.
    """
    if any(np.intersect1d(task.train_indices, task.score_indices).size for task in tasks):
        return
    n_right = sum(int((records.proba.argmax(axis=1) == records.y).sum())
                  for records in held.records)
    n_scored = sum(records.n_samples for records in held.records)
    chance = np.bincount(held.y).max() / len(held.y)
    if n_scored == 0 or chance >= 1:
        return
    if binomtest(n_right, n_scored, chance, alternative="greater").pvalue > 0.01:
        warnings.warn(
            f"[{label}] The scoring models' held-out accuracy is {n_right / n_scored:.3f} "
            f"on {n_scored} predictions, no better than chance ({chance:.3f}, always the "
            "most frequent class): their scores rank samples by noise. Train them longer "
            "(more epochs, a higher learning rate), scale the data, or use a stronger "
            "estimator.",
            UserWarning, stacklevel=3,
        )


def _run(problem, tasks, pending, devices, batched):
    """``(position, records, info)`` of every pending task, in completion order."""
    model, n_classes = problem.model, len(problem.classes)
    if batched and len(pending) > 1:
        start = time.perf_counter()
        try:
            results = model.run_batched(problem.y, [tasks[p] for p in pending],
                                        devices=[devices[p] for p in pending],
                                        n_classes=n_classes, recording=problem.recording)
        except TrainingDiverged as exc:
            raise TrainingDiverged(exc.args[0], pending[exc.args[1]]) from exc
        seconds = (time.perf_counter() - start) / len(pending)
        return [(position, records, {"seconds": seconds, "n_epochs": n_epochs, "batched": True})
                for position, (records, n_epochs) in zip(pending, results)]
    runner = model.task_runner(len(pending), problem.n_jobs)
    jobs = (delayed(_run_task)(runner, model.estimator, model.X, problem.y, tasks[position],
                               position, n_classes=n_classes, recording=problem.recording,
                               device=devices[position], fit_params=problem.fit_params)
            for position in pending)
    return Parallel(n_jobs=problem.n_jobs, return_as=_return_mode(problem.n_jobs))(jobs)


def _run_task(runner, estimator, X, y, task, position, *, fit_params, **options):
    """One task as a joblib job: ``(position, records, info)``.

    Per-row fit parameters are restricted to the task's training rows; a
    diverged training names the task's position, so that the error can say
    which task it was.
    """
    start = time.perf_counter()
    fit_params = _check_method_params(X, fit_params, task.train_indices)
    try:
        records, n_epochs = runner(estimator, X, y, task, position=position,
                                   fit_params=fit_params, **options)
    except TrainingDiverged as exc:
        raise TrainingDiverged(exc.args[0], position) from exc
    return position, records, {"seconds": time.perf_counter() - start, "n_epochs": n_epochs,
                               "batched": False}


def _return_mode(n_jobs):
    """Results in completion order, so that each finished task is stored at once;
    the ``multiprocessing`` backend cannot stream results and gets a list."""
    backend, _ = get_active_backend()
    if effective_n_jobs(n_jobs) == 1 or getattr(backend, "supports_return_generator", True):
        return "generator_unordered"
    return "list"


def _task_keys(problem, tasks, devices, batched):
    """Every task's store key, or None (with a warning) when the estimator's
    parameters cannot be keyed by value."""
    try:
        estimator = estimator_fingerprint(problem.estimator)
    except TypeError as exc:
        warnings.warn(f"{exc} memory is not used in this fit.", UserWarning, stacklevel=4)
        return None
    data = problem.model.data_key(problem.fingerprint)
    labels = joblib.hash((problem.y, len(problem.classes)))
    fit_params = joblib.hash(problem.fit_params)
    return [task_key(data=data, labels=labels, fit_params=fit_params, estimator=estimator,
                     task=task, recording=problem.recording, device=device, batched=batched)
            for task, device in zip(tasks, devices)]


def _location(memory):
    return os.fspath(getattr(memory, "location", memory))


def _check_outputs(model, task, records):
    if not np.isfinite(records.proba).all():
        raise _non_finite_error(model, task, "produced NaN or infinite outputs")


def _non_finite_error(model, task, cause):
    """The error for a task whose model produced NaN or infinite values.

    Arrays and tensors are checked for finite values before training; a
    Dataset cannot be without reading it whole, so its task's rows are read
    now, to name bad data as the cause rather than the model.
    """
    row = model.non_finite_row(np.unique(np.concatenate([task.train_indices,
                                                         task.score_indices])))
    if row is not None:
        return ValueError(
            f"X holds NaN or infinite values: sample {row} of the Dataset, one of the "
            f"rows of {task.name}. Clean or impute the data first."
        )
    advice = ("Lower the learning rate or check the data scaling" if nets.is_net(model.estimator)
              else "Check the data scaling and the estimator's parameters")
    return ValueError(f"The scoring model of {task.name} {cause}. {advice}.")


# -------------------------------------------------------- scikit-learn models
def describe(estimator):
    """How messages name an estimator."""
    return f"estimator {type(estimator).__name__}"


class ClassifierModel:
    """A scikit-learn classifier, checked against what it must record.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The scoring model (cloned for every task).
    X : array-like or DataFrame
        The caller's data, passed to the models as it is (a DataFrame keeps
        its columns, as :func:`~sklearn.model_selection.cross_val_predict`
        passes them).
    recording : Recording
        What every task records: a classifier records final probabilities only.
    asked_by : dict
        Names, for messages, what asks for per-epoch records
        (``"dynamics"``) and for extras (``"extras"``).
    fold_batching : bool or "auto"
        The caller's ``fold_batching``: True is refused, only nets batch.

    Raises
    ------
    ValueError
        For a Dataset X, a recording only nets make, or ``fold_batching=True``.
    """

    def __init__(self, estimator, X, *, recording, asked_by, fold_batching="auto"):
        if is_dataset(X):
            raise ValueError(
                f"X is a torch Dataset, which {describe(estimator)} cannot read; "
                "Dataset input needs a skorch net as `estimator` (or estimator=None "
                "for the default net). Pass an array to score with a scikit-learn "
                "classifier."
            )
        if recording.dynamics:
            raise ValueError(
                f"{asked_by['dynamics']} reads training dynamics (per-epoch records), "
                f"which {describe(estimator)} does not have. Use a skorch "
                "NeuralNetClassifier as `estimator`, or a final-output scorer "
                "('el2n', 'loss', 'entropy', 'margin')."
            )
        if recording.extras:
            raise ValueError(
                f"{asked_by['extras']} needs {sorted(recording.extras)} records (embeddings "
                f"or gradients), which {describe(estimator)} does not have. Use a skorch "
                "NeuralNetClassifier as `estimator`."
            )
        if fold_batching is True:
            raise ValueError(
                f"fold_batching=True trains skorch nets as one stacked module; the scoring "
                f"{describe(estimator)} is not a skorch net. Use fold_batching='auto' or "
                "False."
            )
        self.estimator = estimator
        self.X = X

    def plan_round(self, n_tasks, *, recording, fit_params, n_jobs):
        """Every task on the estimator's own device, none batched."""
        return [None] * n_tasks, False

    def task_runner(self, n_tasks, n_jobs):
        """The joblib job of one task."""
        return fit_classifier

    def keeping_random_state(self, devices):
        """Nothing global to restore: tasks seed only their own models."""
        return contextlib.nullcontext()

    def data_key(self, fingerprint):
        """The digest of X for the store: its fingerprint, which covers every value."""
        return fingerprint

    def non_finite_row(self, rows):
        """None: arrays are checked for finite values before training."""
        return None


def fit_classifier(estimator, X, y, task, *, position, n_classes, recording, device,
                   fit_params):
    """Train a clone of ``estimator`` on the task's rows; record its probabilities
    on the scored rows. Returns ``(records, n_epochs)``, ``n_epochs`` being 0."""
    model = clone(estimator)
    seed_random_states(model, task.seed)
    with nets.seeded_for(model, task.seed):
        model.fit(take_rows(X, task.train_indices), y[task.train_indices], **fit_params)
    proba = aligned_columns(model.predict_proba(take_rows(X, task.score_indices)),
                            model.classes_, n_classes)
    check_probabilities(proba, f"The scoring {describe(model)}",
                        fix="use a classifier whose predict_proba returns class probabilities")
    return ScoringRecords(indices=task.score_indices, y=y[task.score_indices], proba=proba,
                          model=describe(model)), 0


def aligned_columns(values, model_classes, n_classes, *, fill=0.0):
    """Per-class columns of a model's output placed at the positions of its classes.

    A model trained on rows lacking some class has fewer ``predict_proba``
    (or ``decision_function``) columns; the missing classes get ``fill``
    (probability 0), so columns stay aligned with ``classes``
    (``model_classes`` are positions in it). The model's floating dtype is
    kept (float32 stays float32), and columns aligned already are returned
    as they are, not copied. The one rule for the scoring models and for
    :class:`~skunseen.PrunedClassifier`'s predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.engine import aligned_columns
    >>> aligned_columns(np.array([[0.3, 0.7]]), [0, 2], 3)
    array([[0.3, 0. , 0.7]])
    >>> aligned_columns(np.array([[0.3, 0.7]], dtype=np.float32), [0, 1], 2).dtype
    dtype('float32')
    """
    values = np.asarray(values)
    columns = np.asarray(model_classes, dtype=np.int64)
    if values.ndim != 2 or values.shape[1] != len(columns):
        raise ValueError(
            f"The model returned {values.shape[1] if values.ndim == 2 else 'no'} columns per "
            f"row for its {len(columns)} classes (classes_); a classifier's "
            "predict_proba has one column per class."
        )
    dtype = np.result_type(np.float32, values.dtype)
    if values.dtype == dtype and np.array_equal(columns, np.arange(n_classes)):
        return values
    out = np.full((len(values), n_classes), fill, dtype=dtype)
    out[:, columns] = values
    return out


def seed_random_states(model, seed):
    """Give every ``random_state`` parameter of ``model``, nested ones included, its own
    seed drawn from ``seed``, in sorted order of the parameter names.

    As scikit-learn's ensembles seed their members: a pipeline or
    meta-estimator whose inner models keep ``random_state=None`` would
    otherwise draw new randomness on every fit, and equal seeds would
    correlate inner models that should be independent.

    Examples
    --------
    >>> from sklearn.ensemble import BaggingClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skunseen.engine import seed_random_states
    >>> model = BaggingClassifier(DecisionTreeClassifier())
    >>> seed_random_states(model, 0)
    >>> model.random_state != model.estimator.random_state
    True
    """
    try:
        params = model.get_params(deep=True)
    except TypeError:  # e.g. a class given as a Pipeline step: its fit reports it
        params = model.get_params(deep=False)
    rng = np.random.RandomState(seed)
    seeds = {name: int(rng.randint(MAX_SEED)) for name in sorted(params)
             if name == "random_state" or name.endswith("__random_state")}
    if seeds:
        model.set_params(**seeds)
