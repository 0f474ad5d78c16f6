"""The out-of-fold engine: held-out records of every sample, as functions.

:func:`cross_val_records` is to UNSEEN what scikit-learn's
:func:`~sklearn.model_selection.cross_val_predict` (and cleanlab's
out-of-fold ``pred_probs``) is to cross-validation: every sample's outputs
from models that never trained on it, as :class:`~skunseen.HeldOutRecords`.
:func:`unseen_scores` and :func:`fitting_scores` turn them (or the records
of models trained on every sample) into importances.

Every fit reads top to bottom:

1. :func:`prepare_scoring` checks the inputs and resolves the scoring model
   into a :class:`ScoringProblem` (a skorch net from :mod:`skunseen.nets`,
   any other classifier as a :class:`~skunseen.engine._classifier.ClassifierModel`);
2. a plan (:func:`~skunseen.engine.out_of_fold`,
   :func:`~skunseen.engine.train_on_rows`) lists the tasks: which model
   trains on which rows and scores which, with its seed;
3. :func:`run_plan` decides every task's device and whether the round trains
   batched, takes finished tasks from the store (``memory``), runs the
   rest (one :class:`~sklearn.utils.parallel.Parallel` call, or the batched
   trainer), stores each as it finishes, and assembles the records.

The pruners run the same three steps, so for one ``random_state`` these
functions return their ``scores_``.

A scoring model, whatever its kind, answers five questions:
``plan_round(n_tasks, *, recording, fit_params, n_jobs) -> (devices,
batched)``, ``task_runner(n_tasks, n_jobs)`` (one task as a picklable job:
``runner(estimator, X, y, task, *, n_classes, recording, device,
fit_params) -> (records, n_epochs)``), ``run_batched(y, tasks, *, devices,
n_classes, recording)`` (when ``batched``), ``keeping_random_state(devices)``
(a context around the round) and ``data_key(fingerprint)`` (the digest
of X for the store), plus ``non_finite_row(rows)`` to name bad data when training fails.
"""

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
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_X_y, column_or_1d

from .. import nets
from .._checks import check_seed, refuse_bools
from .._data import (
    check_finite,
    fingerprint,
    encode_labels,
    is_dataframe,
    is_dataset,
    is_tensor,
    labels_of_dataset,
    n_rows,
    plain,
)
from .._docstrings import PARAMETERS, Substitution
from .._progress import make_bar
from .._records import (
    DYNAMICS,
    EMBEDDING,
    GRAD_NORM,
    HeldOutRecords,
    Recording,
    TrainingDiverged,
    check_extra_requests,
)
from ..scores import get_scorer
from ._classifier import ClassifierModel
from ._plan import out_of_fold, train_on_rows
from ._store import estimator_fingerprint, open_store, task_key

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


def prepare_scoring(estimator, X, y, *, recording, asked_by, groups=None, fit_params=None,
                    device="auto", fold_batching="auto", n_jobs=None, memory=None, verbose=0,
                    label="skunseen", validate=check_X_y):
    """Check the inputs of a fit and resolve its scoring model, before anything trains.

    Parameters
    ----------
    estimator : object or None
        The caller's ``estimator``.
    X, y
        The caller's data, as :func:`check_data` takes them.
    recording : Recording or callable
        What to record, or ``recording(is_net) -> Recording`` when it
        depends on whether the model is a net.
    asked_by : dict
        Names, for messages, what asks for per-epoch records
        (``"dynamics"``) and for extras (``"extras"``).
    groups, fit_params, device, fold_batching, n_jobs, memory, verbose
        As the pruners' parameters.
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
    check_run_options(estimator, n_jobs=n_jobs, memory=memory)
    X, y = check_data(X, y, caller=label, validate=validate)
    classes, y_encoded = check_labels(y)
    n_samples = n_rows(X)
    groups = check_groups(groups, n_samples)
    fit_params = check_fit_params(fit_params, n_samples)
    if not isinstance(fold_batching, str):  # numpy bools too
        fold_batching = bool(fold_batching)
    if callable(recording):
        recording = recording(estimator is None or nets.is_net(estimator))
    model = nets.net_model(estimator, X, n_classes=len(classes), recording=recording,
                           device=device, fold_batching=fold_batching, fit_params=fit_params)
    if model is None:
        model = ClassifierModel(estimator, X, recording=recording, asked_by=asked_by,
                                fold_batching=fold_batching)
    return ScoringProblem(model, y_encoded, classes, groups, recording, fit_params,
                          fingerprint(X), n_jobs=n_jobs, memory=memory, verbose=verbose,
                          label=label)


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
    # 2. Take the finished tasks from the store.
    store, keys, finished = open_store(problem.memory), None, {}
    if store is not None:
        keys = _task_keys(problem, tasks, devices, batched)
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
        records, n_epochs = runner(estimator, X, y, task, fit_params=fit_params, **options)
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
    return getattr(memory, "location", memory)


def _check_outputs(model, task, records):
    if not np.isfinite(records.proba).all():
        raise _non_finite_error(model, task,
                                "produced NaN or infinite outputs: its training diverged")


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
    return ValueError(
        f"The scoring model of {task.name} {cause}. Lower the learning rate or check the "
        "data scaling."
    )


# ------------------------------------------------------------------ input checks
def check_data(X, y, *, caller, validate=check_X_y):
    """X and y as scoring needs them: ``(X, y)``, y a 1-D array.

    Tensors and Datasets are checked here; other X go through ``validate``
    (:func:`~sklearn.utils.validation.check_X_y`, or the pruners'
    ``validate_data``). A DataFrame comes back as it is, so that the
    scoring models receive its columns as
    :func:`~sklearn.model_selection.cross_val_predict` passes them. A
    column-vector y is raveled with scikit-learn's warning. Raises
    ``ValueError`` naming ``caller``.
    """
    if y is None:
        if not is_dataset(X):
            raise ValueError(
                f"{caller} requires y to be passed, but the target y is None; pass the "
                "labels, or a torch Dataset that provides them."
            )
        y = labels_of_dataset(X)
    if not (is_dataset(X) or is_tensor(X)):
        checked, y = validate(X, y, dtype=None, allow_nd=True, ensure_all_finite=True,
                              ensure_min_samples=2)
        return (X if is_dataframe(X) else checked), y
    y = np.asarray(y.cpu() if is_tensor(y) else y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1 or len(y) != n_rows(X):
        raise ValueError(
            f"y must be 1-D with one label per row of X: got shape {y.shape} "
            f"for {n_rows(X)} rows."
        )
    if is_tensor(X):
        check_finite(X)
    else:
        check_item_labels(X, y)
    return X, y


#: Items of a Dataset whose labels are compared with y (spread over the Dataset).
N_LABEL_PROBES = 8


def check_item_labels(dataset, y):
    """Raise when the labels a Dataset's items yield disagree with ``y``.

    A skorch net trains on the labels the items yield; folds, class budgets
    and every score's true label come from ``y`` (by default the Dataset's
    ``targets``). A ``target_transform`` (merged classes, label noise)
    makes the two differ, and the scores would then measure the difference,
    silently. :data:`N_LABEL_PROBES` items spread over the Dataset are read.
    """
    n = len(dataset)
    for row in np.unique(np.linspace(0, n - 1, min(n, N_LABEL_PROBES)).astype(np.int64)):
        item = dataset[int(row)]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            return  # the items carry no label: the net trains on y
        label = item[1]
        label = label.item() if hasattr(label, "item") else label
        if plain(label) != plain(y[row]):
            raise ValueError(
                f"The Dataset's item {row} yields the label {plain(label)!r}, but y (its "
                f"`targets` unless given) says {plain(y[row])!r}: the scoring nets would "
                "train on one labelling and be scored against the other. This happens with "
                "a target_transform, which `targets` does not reflect; pass y with the "
                "labels the items yield, or set `targets` to them."
            )


def check_labels(y):
    """The sorted classes of y and y encoded as their positions; 2 classes at least."""
    classes, encoded = encode_labels(y)
    check_classification_targets(y)
    if len(classes) < 2:
        raise ValueError(
            f"y has a single class ({plain(classes[0])!r}); pruning by difficulty "
            "needs at least 2 classes."
        )
    return classes, encoded


def check_groups(groups, n_samples):
    """``groups`` as a 1-D array with one entry per row (None stays None).

    Splitters sort the groups, so every entry must be present (no None or
    NaN) and all of one kind (numbers or strings).
    """
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise ValueError(f"groups must be 1-D, one group per row of X; got shape {groups.shape}.")
    if len(groups) != n_samples:
        raise ValueError(
            f"groups must have one entry per row of X: got {len(groups)} for "
            f"{n_samples} rows."
        )
    as_objects = groups.astype(object)
    missing = np.flatnonzero([value is None or (isinstance(value, float) and value != value)
                              for value in as_objects])
    if len(missing):
        raise ValueError(
            f"groups holds missing values (None or NaN) at {len(missing)} rows (e.g. rows "
            f"{missing[:5].tolist()}); give every row a group, e.g. its own id."
        )
    kinds = {"strings" if isinstance(value, (str, bytes)) else "numbers"
             for value in as_objects}
    if len(kinds) > 1:
        raise TypeError(
            "groups mixes numbers and strings; the group ids must be all numbers or all "
            "strings."
        )
    return groups


def check_run_options(estimator, *, n_jobs, memory):
    """What scikit-learn's parameter constraints let through, refused before training."""
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
    open_store(memory)  # a file, or an unusable directory, is refused now


def check_fit_params(fit_params, n_samples):
    """The models' fit parameters; sample weights must be finite, >= 0, one per row."""
    fit_params = dict(fit_params or {})
    for name, weights in fit_params.items():
        if name != "sample_weight" and not name.endswith("__sample_weight"):
            continue
        weights = np.asarray(weights)
        if weights.shape != (n_samples,):
            raise ValueError(
                f"The fit parameter {name} must have one weight per row of X: got shape "
                f"{weights.shape} for {n_samples} rows."
            )
        if not np.issubdtype(weights.dtype, np.number) or not np.isfinite(weights).all() \
                or (weights < 0).any():
            raise ValueError(f"The fit parameter {name} must hold finite weights >= 0.")
    return fit_params


def scorer_recording(scorer, scorer_params=None, extras=None):
    """What ``scorer`` (and a selection rule's ``extras``) need recorded."""
    requests = dict(extras or {})
    requests.update(scorer.requests(scorer_params))
    return Recording(dynamics=scorer.reads_dynamics(scorer_params), extras=requests)


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


# --------------------------------------------------------------- the functions
_RUN_CONSTRAINTS = {
    **{name: PARAMETER_CONSTRAINTS[name] for name in (
        "estimator", "n_repeats", "device", "random_state", "n_jobs", "memory", "verbose",
        "fold_batching")},
    "X": "no_validation",
    "y": "no_validation",
    "params": [dict, None],
}
_OUT_OF_FOLD_CONSTRAINTS = {**_RUN_CONSTRAINTS, "cv": ["cv_object"],
                            "groups": ["array-like", None]}
_SCORER_CONSTRAINTS = {name: PARAMETER_CONSTRAINTS[name] for name in ("scorer", "scorer_params")}


@validate_params({**_OUT_OF_FOLD_CONSTRAINTS,
                  "record": [StrOptions({"auto", DYNAMICS, EMBEDDING, GRAD_NORM}), list, tuple,
                             set, dict]},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def cross_val_records(estimator, X, y=None, *, cv=5, n_repeats=1, groups=None, record="auto",
                      params=None, device="auto", n_jobs=None, random_state=None, memory=None,
                      verbose=0, fold_batching="auto"):
    """Held-out records of every sample: outputs of models that never trained on it.

    The samples are split into ``cv`` folds (stratified, shuffled, seeded);
    for every fold a clone of ``estimator`` trains on the other folds and
    records its outputs on the held-out fold: the final class
    probabilities and, for skorch nets, per-epoch statistics and the
    extras asked for. ``n_repeats > 1`` redraws the folds. This is the
    scoring stage of :class:`UnseenPruner` (UNSEEN, AAAI 2026,
    arXiv:2511.12988) as a function, like scikit-learn's
    :func:`~sklearn.model_selection.cross_val_predict`: bring the records
    to :func:`skunseen.scores` scorers and :func:`skunseen.selection.select`.

    Parameters
    ----------
    %(estimator)s
    %(engine_X)s
    %(cv)s
    n_repeats : int, default=1
        Number of fold redraws.
    %(groups)s
    record : "auto", str, list of str or dict, default="auto"
        What the models record besides the final probabilities:
        ``"dynamics"`` (per-epoch statistics), ``"embedding"``,
        ``"grad_norm"``, several of them, or a dict mapping extras to
        options (see :class:`skunseen.nets.HeldOutRecorder`). ``"auto"``
        records dynamics for skorch nets and nothing more for other
        classifiers.
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s

    Returns
    -------
    records : HeldOutRecords
        One :class:`~skunseen.scores.ScoringRecords` per fold model, every
        sample held out once per repeat, the fold ids of shape
        ``(n_repeats, n_samples)`` and per-model ``task_info``;
        ``records.proba`` has shape ``(n_samples, n_classes)``.

    Raises
    ------
    ValueError
        For invalid splits, a class smaller than ``cv``, a plain classifier
        asked for records only nets have, a model whose outputs are no
        probabilities, or a model whose training diverged.
    KeyboardInterrupt
        When training is interrupted (Ctrl-C); nothing trained part of the
        way is kept.

    See Also
    --------
    unseen_scores : importances from these records.
    fitting_scores : importances from models trained on every sample.
    UnseenPruner : these records, scored and selected, as an estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import cross_val_records
    >>> X, y = load_digits(return_X_y=True)
    >>> held = cross_val_records(LogisticRegression(max_iter=200), X / 16, y, cv=3,
    ...                          random_state=0)
    >>> held.proba.shape, held.fold_ids.shape, len(held.records)
    ((1797, 10), (1, 1797), 3)
    """
    refuse_bools(n_repeats=n_repeats)
    problem = prepare_scoring(
        estimator, X, y, recording=lambda is_net: recording_from(record, is_net=is_net),
        asked_by={"dynamics": f"record={record!r}", "extras": f"record={record!r}"},
        groups=groups, fit_params=params, device=device, fold_batching=fold_batching,
        n_jobs=n_jobs, memory=memory, verbose=verbose, label="cross_val_records")
    plan = out_of_fold(problem.y, check_seed(random_state), classes=problem.classes, cv=cv,
                       n_repeats=n_repeats, groups=problem.groups)
    return run_plan(problem, plan)


def _scores(make_plan, estimator, X, y, *, scorer, scorer_params, random_state, n_repeats,
            **options):
    """Importances from the records of ``make_plan(problem, rng)``, averaged over repeats."""
    refuse_bools(n_repeats=n_repeats)
    scorer = get_scorer(scorer)
    problem = prepare_scoring(
        estimator, X, y, recording=scorer_recording(scorer, scorer_params),
        asked_by={"dynamics": f"scorer={scorer.name!r}", "extras": f"scorer={scorer.name!r}"},
        **options)
    held = run_plan(problem, make_plan(problem, check_seed(random_state)))
    params = scorer_params or {}
    return held.average(lambda records: scorer(records, **params))


@validate_params({**_OUT_OF_FOLD_CONSTRAINTS, **_SCORER_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def unseen_scores(estimator, X, y=None, *, scorer="el2n", scorer_params=None, cv=5,
                  n_repeats=1, groups=None, params=None, device="auto", n_jobs=None,
                  random_state=None, memory=None, verbose=0, fold_batching="auto"):
    """UNSEEN importances: every sample scored by models that never trained on it.

    :func:`cross_val_records` with what ``scorer`` reads recorded, then the
    scorer applied to every fold model's held-out records and averaged over
    repeats (UNSEEN, AAAI 2026, arXiv:2511.12988). For one
    ``random_state`` this is the ``scores_`` of an :class:`UnseenPruner`
    with the same parameters.

    Parameters
    ----------
    %(estimator)s
    %(engine_X)s
    %(scorer)s
    %(scorer_params)s
    %(cv)s
    n_repeats : int, default=1
        Number of fold redraws whose scores are averaged.
    %(groups)s
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Importance of every sample, higher = harder.

    Raises
    ------
    ValueError
        As :func:`cross_val_records`, and for a scorer reading records the
        estimator cannot produce.

    See Also
    --------
    fitting_scores : the conventional scores, from models that trained on
        every sample.
    cross_val_records : the records these scores are computed from.
    UnseenPruner : these scores and a selection rule, as an estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import UnseenPruner, unseen_scores
    >>> X, y = load_digits(return_X_y=True)
    >>> scores = unseen_scores(LogisticRegression(max_iter=200), X / 16, y, cv=3,
    ...                        random_state=0)
    >>> pruner = UnseenPruner(LogisticRegression(max_iter=200), cv=3, random_state=0)
    >>> scores.shape, bool((pruner.fit(X / 16, y).scores_ == scores).all())
    ((1797,), True)
    """
    def plan(problem, rng):
        return out_of_fold(problem.y, rng, classes=problem.classes, cv=cv,
                           n_repeats=n_repeats, groups=problem.groups)

    return _scores(plan, estimator, X, y, scorer=scorer, scorer_params=scorer_params,
                   random_state=random_state, n_repeats=n_repeats, groups=groups,
                   fit_params=params, device=device, n_jobs=n_jobs, memory=memory,
                   verbose=verbose, fold_batching=fold_batching, label="unseen_scores")


@validate_params({**_RUN_CONSTRAINTS, **_SCORER_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def fitting_scores(estimator, X, y=None, *, scorer="el2n", scorer_params=None, n_repeats=1,
                   params=None, device="auto", n_jobs=None, random_state=None, memory=None,
                   verbose=0, fold_batching="auto"):
    """Conventional ("fitting") importances: models trained on every sample score them.

    How score-based pruning is usually done (EL2N, forgetting, AUM, ...
    computed on the training set); the baseline that UNSEEN (AAAI 2026,
    arXiv:2511.12988) is measured against. For one ``random_state`` this is
    the ``scores_`` of a :class:`FittingPruner` with the same parameters.

    Parameters
    ----------
    %(estimator)s
    %(engine_X)s
    %(scorer)s
    %(scorer_params)s
    n_repeats : int, default=1
        Number of models (different seeds) whose scores are averaged.
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(memory)s
    %(verbose)s
    %(fold_batching)s

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Importance of every sample, higher = harder.

    Raises
    ------
    ValueError
        For a scorer reading records the estimator cannot produce, or a
        model whose training diverged.

    See Also
    --------
    unseen_scores : the same scores from models that never saw the sample.
    FittingPruner : these scores and a selection rule, as an estimator.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import fitting_scores
    >>> X, y = load_digits(return_X_y=True)
    >>> fitting_scores(LogisticRegression(max_iter=200), X / 16, y, random_state=0).shape
    (1797,)
    """
    def plan(problem, rng):
        return train_on_rows(len(problem.y), rng, n_repeats=n_repeats)

    return _scores(plan, estimator, X, y, scorer=scorer, scorer_params=scorer_params,
                   random_state=random_state, n_repeats=n_repeats, fit_params=params,
                   device=device, n_jobs=n_jobs, memory=memory, verbose=verbose,
                   fold_batching=fold_batching, label="fitting_scores")
