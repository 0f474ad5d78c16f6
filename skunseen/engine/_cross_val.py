"""The out-of-fold engine as functions, and the session the pruners run it in.

:func:`cross_val_records` is to UNSEEN what scikit-learn's
:func:`~sklearn.model_selection.cross_val_predict` (and cleanlab's
out-of-fold ``pred_probs``) is to cross-validation: every sample's outputs
from models that never trained on it, as :class:`~skunseen.HeldOutRecords`.
:func:`unseen_scores` and :func:`fitting_scores` turn them (or the
conventional records of models trained on every sample) into importances.
The pruners are thin estimators over the same :class:`ScoringSession`, so
for one ``random_state`` these functions return their ``scores_``.
"""

import inspect
import os
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_X_y

from ._cache import CacheHook, CheckpointHook
from .._checks import check_seed, refuse_bools
from ._classifier import describe, is_skorch_net, run_classifier_task
from .._data import (
    check_finite,
    encode_labels,
    is_dataset,
    is_tensor,
    labels_of_dataset,
    n_rows,
    plain,
    sample_shape,
)
from .._docstrings import PARAMETERS, Substitution
from ._execution import DivergenceCheck, JoblibExecutor, ProgressHook, Round, execute
from .._records import (
    DYNAMICS,
    EMBEDDING,
    GRAD_NORM,
    HeldOutRecords,
    Recording,
    check_extra_requests,
)
from ._plan import OutOfFold, TrainOnAll
from ..scores import get_scorer


class ScoringSession:
    """Everything the scoring rounds of one fit share, and how a round runs.

    Parameters
    ----------
    estimator : object
        The resolved scoring model (see :func:`open_session`).
    X : data in the form the models read; y : ndarray of int, encoded labels.
    classes : ndarray
        The class labels.
    recording : Recording
        What the models record besides the probabilities.
    fit_params : dict, default=None
        Metadata for the models' ``fit``.
    device : str or None, default=None
        The device every scoring net is asked to use (None: its own).
    n_jobs, checkpoint_dir, verbose, fold_batching
        As the pruners' parameters.
    label : str, default="skunseen"
        Names the caller in messages and progress bars.
    fingerprint : str, default=None
        The digest of X when the caller has it (computed once otherwise).
    """

    def __init__(self, estimator, X, y, classes, *, recording, fit_params=None, device=None,
                 n_jobs=None, checkpoint_dir=None, verbose=0, fold_batching="auto",
                 label="skunseen", fingerprint=None):
        self.estimator = estimator
        self.X = X
        self.y = y
        self.classes = classes
        self.recording = recording
        self.fit_params = fit_params or {}
        self.device = device
        self.n_jobs = n_jobs
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose
        self.fold_batching = fold_batching
        self.label = label
        self.fingerprint = fingerprint

    def run(self, strategy, rng):
        """Train and record the models of one round of ``strategy``.

        Returns
        -------
        HeldOutRecords
        """
        plan = strategy.plan(self.y, rng, classes=self.classes)
        run = Round(self.estimator, self.X, self.y, plan.tasks, len(self.classes),
                    self.recording, fit_params=self.fit_params, n_jobs=self.n_jobs,
                    verbose=self.verbose, label=self.label, data_fingerprint=self.fingerprint)
        results = execute(run, self._executor(), self._hooks())
        self.fingerprint = run.data_fingerprint
        return HeldOutRecords(
            records=[records for records, _ in results],
            repeats=np.array([task.group for task in plan.tasks], dtype=np.int64),
            rows=plan.rows, y=self.y[plan.rows], classes=self.classes, fold_ids=plan.fold_ids,
            task_info=[info for _, info in results])

    def _executor(self):
        if not is_skorch_net(self.estimator):
            return JoblibExecutor(run_classifier_task)
        from ..nets._batched import net_executor

        return net_executor

    def _hooks(self):
        store = CacheHook() if self.checkpoint_dir is None else CheckpointHook(
            self.checkpoint_dir)
        hooks = [DivergenceCheck(), store, ProgressHook()]
        if is_skorch_net(self.estimator):
            from ..nets._batched import BatchingDecision
            from ..nets._recording import NetRuntime

            # First the tasks' devices, then how they train: both enter the keys.
            hooks[:0] = [NetRuntime(self.device),
                         BatchingDecision(self.fold_batching, sample_shape(self.X))]
        return hooks


def check_data(X, y, *, caller, validate=check_X_y):
    """X and y as scoring needs them: ``(X, y)``, y a 1-D array.

    Tensors and Datasets are checked here; other X go through ``validate``
    (:func:`~sklearn.utils.validation.check_X_y`, or the pruners'
    ``validate_data``). Raises ``ValueError`` naming ``caller``.
    """
    if y is None:
        if not is_dataset(X):
            raise ValueError(
                f"{caller} requires y to be passed, but the target y is None; pass the "
                "labels, or a torch Dataset that provides them."
            )
        y = labels_of_dataset(X)
    if not (is_dataset(X) or is_tensor(X)):
        # A DataFrame becomes an array for the scoring models.
        return validate(X, y, dtype=None, allow_nd=True, ensure_all_finite=True,
                        ensure_min_samples=2)
    y = np.asarray(y.cpu() if is_tensor(y) else y)
    if y.ndim != 1 or len(y) != n_rows(X):
        raise ValueError(
            f"y must be 1-D with one label per row of X: got shape {y.shape} "
            f"for {n_rows(X)} rows."
        )
    if is_tensor(X):
        check_finite(X)
    return X, y


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
    """``groups`` as a 1-D array with one entry per row (None stays None)."""
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
    return groups


def scorer_recording(scorer, scorer_params=None, extras=None):
    """What ``scorer`` (and a selection rule's ``extras``) need recorded."""
    requests = dict(extras or {})
    requests.update(scorer.requests(scorer_params))
    return Recording(dynamics=scorer.reads_dynamics(scorer_params), extras=requests)


def resolve_estimator(estimator, X, n_classes, *, device, recording, asked_by):
    """The scoring model, checked against X and what it must record before any trains.

    ``None`` builds the default net; ``asked_by`` names, for messages, what
    asks for per-epoch records (``"dynamics"``) and for extras (``"extras"``).
    """
    if estimator is None:
        return _default_net(X, n_classes, device)
    if is_skorch_net(estimator):
        from ..nets._recording import check_net

        check_net(estimator, n_classes=n_classes, device=device,
                  sample_shape=array_sample_shape(X),
                  extras=recording.extras)
    elif is_dataset(X):
        raise ValueError(
            f"X is a torch Dataset, which {describe(estimator)} cannot read; "
            "Dataset input needs a skorch net as `estimator` (or estimator=None "
            "for the default net). Pass an array to score with a scikit-learn "
            "classifier."
        )
    else:
        _check_classifier_records(estimator, recording, asked_by)
    return estimator


def array_sample_shape(X):
    """Shape of one row, when rows are arrays or tensors (a Dataset's may be anything)."""
    if not is_dataset(X):
        return sample_shape(X)
    first = X[0]  # read once: a Dataset item may be a decoded image
    sample = first[0] if isinstance(first, (tuple, list)) else first
    return tuple(sample.shape) if isinstance(sample, np.ndarray) or is_tensor(sample) else None


def _default_net(X, n_classes, device):
    from ..models import make_net

    try:
        return make_net("auto", input_shape=sample_shape(X), n_classes=n_classes,
                        device=device)
    except ValueError as exc:
        raise ValueError(
            f"estimator=None builds the default scoring net with "
            f"skunseen.models.make_net('auto', ...), which fails here: {exc} To "
            "score these samples, pass estimator=make_net('mlp', "
            f"input_shape={sample_shape(X)}, n_classes={n_classes}) or "
            "your own skorch net."
        ) from exc


def _check_classifier_records(estimator, recording, asked_by):
    """A plain classifier records final probabilities only."""
    if recording.dynamics:
        raise ValueError(
            f"{asked_by['dynamics']} reads training dynamics (per-epoch records), "
            f"which {describe(estimator)} does not have. Use a skorch "
            "NeuralNetClassifier as `estimator`, or a final-output scorer "
            "('el2n', 'loss', 'entropy', 'margin')."
        )
    if recording.extras:
        raise ValueError(
            f"{asked_by['extras']} needs {sorted(recording.extras)} records (embeddings or "
            f"gradients), which {describe(estimator)} does not have. Use a skorch "
            "NeuralNetClassifier as `estimator`."
        )


def open_session(estimator, X, y, classes, *, recording, asked_by, device="auto", **options):
    """A :class:`ScoringSession` with the estimator resolved and X in its form.

    ``options`` are the remaining :class:`ScoringSession` parameters.
    """
    check_session_inputs(estimator, n_rows(X), n_jobs=options.get("n_jobs"),
                         fit_params=options.get("fit_params"))
    if not isinstance(options.get("fold_batching", "auto"), str):  # numpy bools too
        options["fold_batching"] = bool(options["fold_batching"])
    estimator = resolve_estimator(estimator, X, len(classes), device=device,
                                  recording=recording, asked_by=asked_by)
    task_device = None
    if options.get("fold_batching") is True and not is_skorch_net(estimator):
        raise ValueError(
            f"fold_batching=True trains skorch nets as one stacked module; the scoring "
            f"{describe(estimator)} is not a skorch net. Use fold_batching='auto' or False."
        )
    if is_skorch_net(estimator):
        from ..nets._inputs import as_net_input, serves_uint8

        check_forward_takes(estimator, options.get("fit_params"))
        # Once for all folds, which then read rows of it without copies.
        X = as_net_input(X, keep_uint8=serves_uint8(estimator))
        task_device = estimator.device if device == "auto" else device
    return ScoringSession(estimator, X, y, classes, recording=recording, device=task_device,
                          **options)


def check_session_inputs(estimator, n_samples, *, n_jobs, fit_params):
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
    for name, weights in (fit_params or {}).items():
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


def check_forward_takes(net, fit_params):
    """skorch hands fit parameters to the module's ``forward``: it must take them."""
    if not fit_params:
        return
    module = net.module if isinstance(net.module, type) else type(net.module)
    parameters = inspect.signature(module.forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    missing = sorted(set(fit_params) - set(parameters))
    if missing:
        raise ValueError(
            f"The fit parameters {missing} would reach {module.__name__}.forward, which does "
            "not take them (a skorch net passes fit parameters to its module's forward). "
            "Drop them, or use a module whose forward accepts them."
        )


def check_checkpoint_dir(checkpoint_dir):
    """Raise before any model trains when ``checkpoint_dir`` names a file."""
    if checkpoint_dir is not None and os.path.isfile(checkpoint_dir):
        raise ValueError(
            f"checkpoint_dir={os.fspath(checkpoint_dir)!r} is a file, not a "
            "directory; name a directory (it is created if missing) or None."
        )


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


def _session(estimator, X, y, *, recording_for, asked_by, groups, params, device, n_jobs,
             checkpoint_dir, verbose, fold_batching, caller, n_repeats):
    """The session of an engine function: data, labels and groups checked."""
    refuse_bools(n_repeats=n_repeats)
    X, y = check_data(X, y, caller=caller)
    classes, y_encoded = check_labels(y)
    groups = check_groups(groups, n_rows(X))
    check_checkpoint_dir(checkpoint_dir)
    is_net = estimator is None or is_skorch_net(estimator)
    session = open_session(
        estimator, X, y_encoded, classes, recording=recording_for(is_net), asked_by=asked_by,
        device=device, fit_params=params, n_jobs=n_jobs, checkpoint_dir=checkpoint_dir,
        verbose=verbose, fold_batching=fold_batching, label=caller)
    return session, groups


_SHARED_CONSTRAINTS = {
    "estimator": [None, HasMethods(["fit", "predict_proba"])],
    "X": "no_validation",
    "y": "no_validation",
    "n_repeats": [Interval(Integral, 1, None, closed="left")],
    "params": [dict, None],
    "device": [str],
    "n_jobs": [Integral, None],
    "random_state": ["random_state"],
    "checkpoint_dir": [str, os.PathLike, None],
    "verbose": ["verbose"],
    "fold_batching": ["boolean", StrOptions({"auto"})],
}
_OUT_OF_FOLD_CONSTRAINTS = {**_SHARED_CONSTRAINTS, "cv": ["cv_object"], "groups": ["array-like", None]}
_SCORER_CONSTRAINTS = {"scorer": [str, callable], "scorer_params": [dict, None]}


@validate_params({**_OUT_OF_FOLD_CONSTRAINTS,
                  "record": [StrOptions({"auto", DYNAMICS, EMBEDDING, GRAD_NORM}), list, tuple,
                             set, dict]},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def cross_val_records(estimator, X, y=None, *, cv=5, n_repeats=1, groups=None, record="auto",
                      params=None, device="auto", n_jobs=None, random_state=None,
                      checkpoint_dir=None, verbose=0, fold_batching="auto"):
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
        options (see :class:`skunseen.HeldOutRecorder`). ``"auto"`` records
        dynamics for skorch nets and nothing more for other classifiers.
    %(engine_params)s
    %(device)s
    %(n_jobs)s
    %(random_state)s
    %(checkpoint_dir)s
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
        asked for records only nets have, or a model whose training diverged.

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
    session, groups = _session(
        estimator, X, y, recording_for=lambda is_net: recording_from(record, is_net=is_net),
        asked_by={"dynamics": f"record={record!r}", "extras": f"record={record!r}"},
        groups=groups, params=params, device=device, n_jobs=n_jobs,
        checkpoint_dir=checkpoint_dir, verbose=verbose, fold_batching=fold_batching,
        caller="cross_val_records", n_repeats=n_repeats)
    return session.run(OutOfFold(cv, n_repeats, groups=groups), check_seed(random_state))


def _scores(strategy_for, estimator, X, y, *, scorer, scorer_params, groups=None, **options):
    """Importances from the records of ``strategy_for(groups)``, averaged over repeats."""
    scorer = get_scorer(scorer)
    random_state = options.pop("random_state")
    asked_by = {"dynamics": f"scorer={scorer.name!r}", "extras": f"scorer={scorer.name!r}"}
    session, groups = _session(
        estimator, X, y, recording_for=lambda is_net: scorer_recording(scorer, scorer_params),
        asked_by=asked_by, groups=groups, **options)
    held = session.run(strategy_for(groups), check_seed(random_state))
    params = scorer_params or {}
    return held.average(lambda records: scorer(records, **params))


@validate_params({**_OUT_OF_FOLD_CONSTRAINTS, **_SCORER_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def unseen_scores(estimator, X, y=None, *, scorer="el2n", scorer_params=None, cv=5,
                  n_repeats=1, groups=None, params=None, device="auto", n_jobs=None,
                  random_state=None, checkpoint_dir=None, verbose=0, fold_batching="auto"):
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
    %(checkpoint_dir)s
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
    return _scores(lambda groups: OutOfFold(cv, n_repeats, groups=groups), estimator, X, y,
                   scorer=scorer, scorer_params=scorer_params, groups=groups, params=params,
                   device=device, n_jobs=n_jobs, random_state=random_state,
                   checkpoint_dir=checkpoint_dir, verbose=verbose,
                   fold_batching=fold_batching, caller="unseen_scores", n_repeats=n_repeats)


@validate_params({**_SHARED_CONSTRAINTS, **_SCORER_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
@Substitution(**PARAMETERS)
def fitting_scores(estimator, X, y=None, *, scorer="el2n", scorer_params=None, n_repeats=1,
                   params=None, device="auto", n_jobs=None, random_state=None,
                   checkpoint_dir=None, verbose=0, fold_batching="auto"):
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
    %(checkpoint_dir)s
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
    return _scores(lambda groups: TrainOnAll(n_repeats), estimator, X, y, scorer=scorer,
                   scorer_params=scorer_params, params=params, device=device, n_jobs=n_jobs,
                   random_state=random_state, checkpoint_dir=checkpoint_dir, verbose=verbose,
                   fold_batching=fold_batching, caller="fitting_scores", n_repeats=n_repeats)
