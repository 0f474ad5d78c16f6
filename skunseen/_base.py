"""The shared machinery of all pruners: validation, training tasks, selection.

Public methods validate and then hand over to small ``_fit_*`` methods that a
subclass overrides (imbalanced-learn's template-method style): a pruner
decides *which models train on which rows and score which rows*
(:meth:`BasePruner._scoring_tasks`), everything else is shared.
"""

import copy
import os
import sys
import warnings
from numbers import Integral

import joblib
import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._data import (
    as_net_input,
    check_finite,
    encode_labels,
    fingerprint,
    first_non_finite_row,
    is_dataset,
    is_tensor,
    labels_of_dataset,
    n_rows,
    plain,
    resolve_n_select,
    sample_shape,
    serves_uint8,
    take_labels,
    take_rows,
)
from ._checkpoint import CheckpointStore, estimator_fingerprint, task_key
from ._fold_batching import fit_and_record_batched, use_fold_batching
from ._parallel import (
    RNG_LOCK,
    cuda_indices,
    draws_global_rng,
    in_process_workers,
    return_mode,
    task_devices,
    threads_per_task,
    torch_threads,
)
from ._progress import progress
from .models import make_net, resolve_device
from ._recording import (
    TrainingDiverged,
    check_fresh_weights,
    describe,
    fit_and_record,
    is_binary_net,
    is_skorch_net,
)
from .scores import get_scorer
from .selection import class_difficulty, get_selector, select, selector_extras, selector_inputs

_MAX_SEED = np.iinfo(np.int32).max


class ScoringTask:
    """One scoring model: the rows it trains on and the rows it scores.

    Parameters
    ----------
    name : str
        Human-readable label used in progress bars and error messages
        (``"repeat 0, fold 3"``).
    group : int
        Tasks of one group score every sample at most once; scores are
        averaged over groups (repeats).
    train_indices, score_indices : ndarray of int
        Rows of the caller's data.
    seed : int
        Seed of the model's randomness.
    """

    def __init__(self, name, group, train_indices, score_indices, seed):
        self.name = name
        self.group = group
        self.train_indices = np.asarray(train_indices, dtype=np.int64)
        self.score_indices = np.asarray(score_indices, dtype=np.int64)
        self.seed = int(seed)


class BasePruner(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base class of the pruners; not meant to be used directly.

    Subclasses implement :meth:`_scoring_tasks`: which models train on which
    rows and score which rows. Everything else is shared: input validation,
    training the scoring models (in parallel, with checkpoints), combining
    their scores and selecting the coreset, and the transformer API
    (``fit``, ``transform``, ``fit_transform``, ``fit_resample``,
    ``get_support``).

    Parameters
    ----------
    estimator : skorch NeuralNet or classifier with ``predict_proba``, default=None
        The scoring model, cloned for every scoring task. ``None`` builds a
        small skorch net from the shape of X with
        :func:`skunseen.models.make_net`. A plain scikit-learn classifier
        supports the final-output scorers only.
    scorer : str or callable, default="el2n"
        Name of a registered scorer (see
        :func:`skunseen.scores.available_scorers`) or a callable
        ``scorer(records, **params) -> importance`` (higher = harder).
    scorer_params : dict, default=None
        Keyword arguments of the scorer.
    selector : str or callable, default="ccs"
        Selection rule (see :func:`skunseen.selection.available_selectors`)
        or a callable ``selector(scores, n_select, rng, **params)``.
    selector_params : dict, default=None
        Keyword arguments of the selector.
    keep : float in (0, 1] or int, default=0.5
        Fraction of the samples to keep, or their number.
    class_budget : {"proportional", "balanced", "difficulty"} or None, \
            default="proportional"
        How the budget is shared among classes: keep class proportions, equal
        shares, shares proportional to the scoring models' smoothed per-class
        error (:func:`skunseen.selection.class_difficulty`), or one global
        ranking (``None``).
    device : str, default="auto"
        Device of the scoring nets. ``"auto"`` uses CUDA for the default net
        when present and leaves a given net's own ``device`` untouched; any
        other value is applied to every scoring net.
    random_state : int, RandomState instance or None, default=None
        Seeds the scoring tasks and the selection.
    n_jobs : int, default=None
        Number of scoring models trained in parallel through joblib.
    checkpoint_dir : str or path-like, default=None
        Directory where every finished scoring model's records are saved,
        and read back by a rerun on the same data and parameters. ``None``
        saves nothing.
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
        Importance of every sample (higher = harder), averaged over the
        groups (repeats) of scoring tasks.
    sample_indices_ : ndarray of shape (n_selected,)
        Sorted rows of the data passed to ``fit`` that form the coreset.
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
    UnseenPruner : out-of-fold (UNSEEN) scores.
    MultiStepUnseenPruner : incremental "evaluate and refill" selection.
    FittingPruner : scores from models trained on the samples they score.

    Notes
    -----
    ``_scoring_tasks(X, y, rng)`` returns a list of ``ScoringTask(name,
    group, train_indices, score_indices, seed)`` (from ``skunseen._base``).
    Each task trains a clone of ``estimator`` on ``train_indices`` and scores
    ``score_indices``; the tasks of one group must together score every
    sample exactly once, and scores are averaged over groups. Draw seeds from
    ``rng`` so that ``random_state`` fixes the coreset. A subclass that adds
    constructor parameters extends ``_parameter_constraints``.

    Examples
    --------
    A pruner with two models, each scoring the half of the rows it did not
    train on:

    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen import BasePruner
    >>> from skunseen._base import ScoringTask
    >>> class HalvesPruner(BasePruner):
    ...     def _scoring_tasks(self, X, y, rng):
    ...         rows = rng.permutation(len(y))
    ...         first, second = np.sort(rows[::2]), np.sort(rows[1::2])
    ...         return [ScoringTask("half 0", 0, first, second, seed=0),
    ...                 ScoringTask("half 1", 0, second, first, seed=1)]
    >>> X, y = load_iris(return_X_y=True)
    >>> pruner = HalvesPruner(LogisticRegression(max_iter=500), keep=0.4,
    ...                       random_state=0)
    >>> pruner.fit_transform(X, y).shape
    (60, 4)
    >>> pruner.scores_.shape, [info["task"] for info in pruner.task_info_]
    ((150,), ['half 0', 'half 1'])
    """

    _parameter_constraints = {
        "estimator": [None, HasMethods(["fit", "predict_proba"])],
        "scorer": [str, callable],
        "scorer_params": [dict, None],
        "selector": [str, callable],
        "selector_params": [dict, None],
        "keep": [Interval(RealNotInt, 0, 1, closed="right"),
                 Interval(Integral, 1, None, closed="left")],
        "class_budget": [StrOptions({"proportional", "balanced", "difficulty"}), None],
        "device": [str],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "checkpoint_dir": [str, os.PathLike, None],
        "verbose": ["verbose"],
        "fold_batching": ["boolean", StrOptions({"auto"})],
    }

    def __init__(self, estimator=None, *, scorer="el2n", scorer_params=None, selector="ccs",
                 selector_params=None, keep=0.5, class_budget="proportional", device="auto",
                 random_state=None, n_jobs=None, checkpoint_dir=None, verbose=0,
                 fold_batching="auto"):
        self.estimator = estimator
        self.scorer = scorer
        self.scorer_params = scorer_params
        self.selector = selector
        self.selector_params = selector_params
        self.keep = keep
        self.class_budget = class_budget
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose
        self.fold_batching = fold_batching

    # ------------------------------------------------------------------ public
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Score every sample and select the coreset.

        The fit runs on a copy of the pruner without fitted attributes, which
        replace the previous ones only when it succeeds: a fit that raises
        leaves the pruner exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), tensor, DataFrame or Dataset
            Training data. A torch ``Dataset`` is never loaded whole: scoring
            models read it through index views.
        y : array-like of shape (n_samples,), default=None
            Labels. May be omitted only when X is a Dataset exposing
            ``targets`` (or yielding ``(x, y)`` pairs).
        **params : dict
            ``groups`` for pruners with ``cv`` (see their ``fit``), and
            metadata for the scoring estimators' ``fit`` (e.g.
            ``sample_weight``), which needs scikit-learn's metadata routing:
            ``sklearn.set_config(enable_metadata_routing=True)`` and
            ``estimator.set_fit_request(sample_weight=True)``. Values with one
            entry per sample reach every scoring model restricted to its
            training rows.

        Returns
        -------
        self : object
            The fitted pruner.
        """
        state = self._unfitted_copy()
        state._fit_checked(X, y, params)
        for name in _fitted_names(self):
            delattr(self, name)
        for name in _fitted_names(state):
            setattr(self, name, getattr(state, name))
        return self

    def transform(self, X):
        """Return the coreset rows of X, which must be the data seen in ``fit``.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            The same data that was passed to ``fit``.

        Returns
        -------
        X_core : same type as X
            Rows ``sample_indices_`` of X, in the original row order.
        """
        check_is_fitted(self, "sample_indices_")
        X_checked = X if is_dataset(X) or is_tensor(X) else validate_data(
            self, X, reset=False, dtype=None, allow_nd=True)
        if n_rows(X) != self.n_samples_fit_ or fingerprint(X_checked) != self._fingerprint_:
            raise ValueError(
                f"{type(self).__name__}.transform returns the coreset of the data seen "
                f"in fit ({self.n_samples_fit_} rows); the X given differs from it. "
                "Call fit (or fit_transform) on this data first. To predict with a model "
                "trained on the coreset, use PrunedClassifier(pruner, estimator)."
            )
        return take_rows(X, self.sample_indices_)

    def fit_transform(self, X, y=None, **params):
        """Fit and return the coreset rows of X.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,), default=None
            Labels.
        **params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        X_core : same type as X
            The coreset rows.
        """
        _refuse_intermediate_pipeline_step(self)
        return take_rows(X, self.fit(X, y, **params).sample_indices_)

    def fit_resample(self, X, y=None, **params):
        """Fit and return the coreset rows of X and their labels.

        Parameters
        ----------
        X : array-like, tensor, DataFrame or Dataset
            Training data.
        y : array-like of shape (n_samples,), default=None
            Labels, returned as given (strings stay strings, a Series keeps
            its index).
        **params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        X_core : same type as X
            The coreset rows.
        y_core : same type as y
            Their labels.
        """
        self.fit(X, y, **params)
        if y is None:
            y = labels_of_dataset(X)
        return take_rows(X, self.sample_indices_), take_labels(y, self.sample_indices_)

    def get_support(self, indices=False):
        """Mask or indices of the coreset rows.

        Parameters
        ----------
        indices : bool, default=False
            Return row indices instead of a boolean mask.

        Returns
        -------
        support : ndarray
            Boolean mask of shape (n_samples_fit_,) or int indices.
        """
        check_is_fitted(self, "sample_indices_")
        if indices:
            return self.sample_indices_.copy()
        mask = np.zeros(self.n_samples_fit_, dtype=bool)
        mask[self.sample_indices_] = True
        return mask

    def get_metadata_routing(self):
        """How ``fit`` routes metadata: its own (``groups``) and the estimator's.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            ``fit`` of the pruner routes to ``fit`` of every scoring estimator.
        """
        return MetadataRouter(owner=self).add_self_request(self).add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    # ------------------------------------------------------------ fit steps
    def _unfitted_copy(self):
        """A shallow copy of the pruner without fitted attributes, to fit on."""
        state = copy.copy(self)
        for name in _fitted_names(state):
            delattr(state, name)
        return state

    def _fit_checked(self, X, y, params):
        """The whole fit on this (unfitted) copy: validation, scoring, selection."""
        own, routed = self._split_fit_params(params)
        X_model, y_encoded = self._validate_fit_input(X, y)
        self._fit_groups = self._check_groups(own.get("groups"))
        self._fit_params = routed
        scorer = get_scorer(self.scorer)
        estimator = self._resolve_estimator(X_model, scorer)
        if is_skorch_net(estimator):
            # Once for all folds, which then read rows of it without copies.
            X_model = as_net_input(X_model, keep_uint8=serves_uint8(estimator))
        rng = check_random_state(self.random_state)
        self._fit(X_model, y_encoded, estimator, scorer, rng)

    def _split_fit_params(self, params):
        """The pruner's own fit parameters, and those routed to the estimator."""
        consumed = set(self._get_metadata_request().fit.requests)
        own = {name: value for name, value in params.items() if name in consumed}
        others = {name: value for name, value in params.items() if name not in consumed}
        if not others:
            return own, {}
        if not _routing_enabled():
            raise TypeError(
                f"{type(self).__name__}.fit got {sorted(others)}, which would reach the "
                "scoring estimators; fit parameters reach them through scikit-learn's "
                "metadata routing only: call sklearn.set_config(enable_metadata_routing=True) "
                "and request them, e.g. estimator.set_fit_request(sample_weight=True)."
            )
        return own, dict(process_routing(self, "fit", **others)["estimator"]["fit"])

    def _check_groups(self, groups):
        if groups is None:
            return None
        groups = column_or_1d(groups)
        if len(groups) != self.n_samples_fit_:
            raise ValueError(
                f"groups must have one entry per row of X: got {len(groups)} for "
                f"{self.n_samples_fit_} rows."
            )
        return groups

    # --------------------------------------------------------- overridables
    def _fit(self, X, y, estimator, scorer, rng):
        """Score every sample with the subclass's tasks, then select."""
        tasks = self._scoring_tasks(X, y, rng)
        results = self._run_tasks(estimator, X, y, tasks, record_dynamics=scorer.reads_dynamics(self.scorer_params),
                                  extras=self._extra_requests(scorer))
        rows = np.arange(len(y))
        self.scores_, proba = self._combine(results, scorer, rows)
        self._store_proba(proba)
        inputs = self._selector_inputs(results, rows)
        n_select = resolve_n_select(self.keep, len(y))
        self.sample_indices_ = self._choose(self.scores_, y, n_select, proba, rng, inputs)

    def _extra_requests(self, scorer):
        """What the scorer and the selection rule need recorded besides the
        probabilities: ``{extra name: options}`` for the recorder."""
        requests = selector_extras(get_selector(self.selector))
        requests.update(scorer.requests(self.scorer_params))
        return requests

    def _selector_inputs(self, results, rows):
        """Per-sample inputs the selection rule reads besides the scores."""
        return selector_inputs(get_selector(self.selector), results, rows)

    def _scoring_tasks(self, X, y, rng):
        """The :class:`ScoringTask` list; implemented by subclasses."""
        raise NotImplementedError

    def _store_proba(self, proba):
        """Keep the scoring models' probabilities under the subclass's name."""

    def _run_tasks(self, estimator, X, y, tasks, *, record_dynamics, extras=None):
        """Train and record every task, in parallel when ``n_jobs`` says so.

        Tasks run through :class:`sklearn.utils.parallel.Parallel`, so any
        joblib backend set with :func:`joblib.parallel_config` runs them;
        :mod:`skunseen._parallel` says which device, how many torch threads
        and which random streams each task gets. With ``checkpoint_dir``
        set, finished tasks are read back instead of trained, and every task
        is written as soon as it finishes.

        Returns
        -------
        results : list of (ScoringTask, ScoringRecords)
            In the order of ``tasks``.
        """
        # Everything that changes what a task records: passed to
        # fit_and_record and part of the checkpoint key.
        recording = {"record_dynamics": bool(record_dynamics)}
        if extras:
            recording["extras"] = extras
        devices = task_devices(self._task_device(estimator), len(tasks))
        store, keys = self._checkpoints(estimator, y, tasks, recording, devices)
        finished = {}
        if store is not None:
            for position, task in enumerate(tasks):
                found = store.load(keys[position], task, y=y, n_classes=len(self.classes_))
                if found is not None:
                    finished[position] = (*found, True)
        n_resumed = len(finished)
        if n_resumed and self.verbose:
            print(
                f"[{type(self).__name__}] Resumed {n_resumed} of {len(tasks)} scoring "
                f"models from checkpoint_dir={os.fspath(self.checkpoint_dir)!r}."
            )
        pending = [position for position in range(len(tasks)) if position not in finished]
        batched = use_fold_batching(
            self.fold_batching, estimator, n_tasks=len(pending),
            devices=[devices[p] for p in pending], sample_shape=sample_shape(X),
            extras=extras, n_jobs=self.n_jobs, fit_params=self._fit_params)
        if not batched:
            self._warn_if_serialised(estimator, len(pending))
        # Tasks seed torch's global generators; in-process backends (threads,
        # sequential) would otherwise leave the caller's state changed.
        with torch.random.fork_rng(devices=cuda_indices(devices)):
            if batched:
                outputs = _score_batched(estimator, X, y, tasks, pending,
                                         n_classes=len(self.classes_), recording=recording,
                                         device=devices[pending[0]])
            else:
                outputs = self._score_in_parallel(estimator, X, y, tasks, pending, recording,
                                                  devices)
            bar = progress(outputs, total=len(pending), desc=f"{type(self).__name__} models",
                           verbose=self.verbose)
            for position, records, info in bar:
                task = tasks[position]
                if not np.isfinite(records.proba).all():
                    raise _non_finite_error(
                        X, task, "produced NaN or infinite outputs: its training diverged")
                if store is not None:
                    self._save_checkpoint(store, keys[position], task, records, info)
                finished[position] = (records, info, False)
        self.n_tasks_resumed_ += n_resumed
        results = []
        for position, task in enumerate(tasks):
            records, info, resumed = finished[position]
            self.task_info_.append({"task": task.name, **info, "resumed": resumed})
            results.append((task, records))
        return results

    def _score_in_parallel(self, estimator, X, y, tasks, pending, recording, devices):
        """The pending tasks as joblib jobs: an iterable of ``(position, records, info)``."""
        n_threads = threads_per_task(self.n_jobs)
        jobs = (
            delayed(_score_task)(
                estimator, X, y, tasks[position], position, n_classes=len(self.classes_),
                recording=recording, device=devices[position], n_threads=n_threads,
                fit_params=self._fit_params,
            )
            for position in pending
        )
        return Parallel(n_jobs=self.n_jobs, return_as=return_mode(self.n_jobs))(jobs)

    def _task_device(self, estimator):
        """The device every scoring net is asked to use (None: leave it alone)."""
        if not is_skorch_net(estimator):
            return None
        return estimator.device if self.device == "auto" else self.device

    def _checkpoints(self, estimator, y, tasks, recording, devices):
        """The checkpoint store and every task's key; ``(None, ...)`` when off."""
        if self.checkpoint_dir is None:
            return None, [None] * len(tasks)
        try:
            model = estimator_fingerprint(estimator)
        except TypeError as exc:
            warnings.warn(f"{exc} checkpoint_dir is ignored in this fit.", UserWarning,
                          stacklevel=3)
            return None, [None] * len(tasks)
        try:
            store = CheckpointStore(self.checkpoint_dir)
        except OSError as exc:
            raise ValueError(
                f"checkpoint_dir={os.fspath(self.checkpoint_dir)!r} cannot be used as a "
                f"directory ({exc})."
            ) from exc
        labels = joblib.hash((np.asarray(y), len(self.classes_)))
        fit_params = joblib.hash(self._fit_params)
        keys = [
            task_key(data=self._fingerprint_, labels=labels, fit_params=fit_params,
                     estimator=model, task=task, recording=recording, device=device)
            for task, device in zip(tasks, devices)
        ]
        return store, keys

    @staticmethod
    def _save_checkpoint(store, key, task, records, info):
        try:
            store.save(key, task, records, info)
        except (OSError, TypeError) as exc:
            # The fit itself is fine; only resuming it would train this task again.
            warnings.warn(
                f"Could not checkpoint {task.name} ({type(exc).__name__}: {exc}); the fit "
                "goes on without that checkpoint.",
                UserWarning,
                stacklevel=3,
            )

    def _warn_if_serialised(self, estimator, n_pending):
        """Say so when threads would train a net one at a time (see _parallel)."""
        if n_pending < 2 or not is_skorch_net(estimator) or in_process_workers(self.n_jobs) == 1:
            return
        # An initialised CPU copy shows the modules that the clones will have.
        probe = clone(estimator).set_params(device="cpu")
        with RNG_LOCK, torch.random.fork_rng(devices=[]):
            probe.initialize()
        if draws_global_rng(probe):
            warnings.warn(
                "The scoring net draws from torch's global random generator while "
                "training (dropout layers, or a training iterator without a `generator` "
                "parameter), so threads train one net at a time to keep the coreset "
                "reproducible. Use the 'loky' or 'dask' joblib backend to train these "
                "nets in parallel.",
                UserWarning,
                stacklevel=3,
            )

    def _combine(self, results, scorer, rows):
        """Scores and probabilities of ``rows``, averaged over groups (repeats)."""
        position = np.full(self.n_samples_fit_, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        params = self.scorer_params or {}
        groups = sorted({task.group for task, _ in results})
        scores = np.zeros((len(groups), len(rows)))
        proba = np.zeros((len(groups), len(rows), len(self.classes_)))
        seen = np.zeros((len(groups), len(rows)), dtype=bool)
        for task, records in results:
            g, at = groups.index(task.group), position[records.indices]
            scores[g, at] = scorer(records, **params)
            proba[g, at] = records.proba
            seen[g, at] = True
        if not seen.all():
            missing = rows[~seen.all(axis=0)]
            raise ValueError(
                f"{len(missing)} samples (e.g. rows {missing[:5].tolist()}) were never "
                "scored: the tasks of every group must score each row exactly once."
            )
        return scores.mean(axis=0), proba.mean(axis=0)

    def _choose(self, scores, y, n_select, proba, rng, inputs=None):
        """Positions of the ``n_select`` candidates the selection rule keeps.

        Every selection of every pruner goes through here, so that the class
        budgets (and their ``"difficulty"`` weights) have one definition.
        """
        class_weights = None
        if self.class_budget == "difficulty":
            class_weights = class_difficulty(proba, y, len(self.classes_))
        return select(
            scores, y, n_select, selector=self.selector, class_budget=self.class_budget,
            class_weights=class_weights, random_state=rng.randint(_MAX_SEED),
            selector_params=self.selector_params, sample_inputs=inputs,
        )

    # -------------------------------------------------------------- helpers
    def _validate_fit_input(self, X, y):
        """Check X and y; set the data-describing fitted attributes.

        Returns the data in the form scoring models train on (the caller's X
        unless it is a DataFrame, which becomes an array) and the encoded labels.
        """
        if y is None:
            if not is_dataset(X):
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y "
                    "is None; pass the labels, or a torch Dataset that provides them."
                )
            y = labels_of_dataset(X)
        if is_dataset(X) or is_tensor(X):
            y = np.asarray(y.cpu() if is_tensor(y) else y)
            if y.ndim != 1 or len(y) != n_rows(X):
                raise ValueError(
                    f"y must be 1-D with one label per row of X: got shape {y.shape} "
                    f"for {n_rows(X)} rows."
                )
            if is_tensor(X):
                check_finite(X)
                if X.ndim >= 2:
                    self.n_features_in_ = X.shape[1]
            X_model = X
        else:
            # A DataFrame becomes an array for the scoring models; the caller's
            # DataFrame is what transform and fit_resample return rows of.
            X_model, y = validate_data(self, X, y, dtype=None, allow_nd=True,
                                       ensure_all_finite=True, ensure_min_samples=2)
        self.classes_, y_encoded = encode_labels(y)
        check_classification_targets(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has a single class ({plain(self.classes_[0])!r}); pruning by difficulty "
                "needs at least 2 classes."
            )
        self.n_samples_fit_ = n_rows(X)
        self._validate_pruning_params()
        self._fingerprint_ = fingerprint(X_model)
        self.task_info_ = []
        self.n_tasks_resumed_ = 0
        return X_model, y_encoded

    def _validate_pruning_params(self):
        """Check the parameters not covered by the constraints before any model trains."""
        resolve_n_select(self.keep, self.n_samples_fit_)
        get_selector(self.selector)
        if self.checkpoint_dir is not None and os.path.isfile(self.checkpoint_dir):
            raise ValueError(
                f"checkpoint_dir={os.fspath(self.checkpoint_dir)!r} is a file, not a "
                "directory; name a directory (it is created if missing) or None."
            )

    def _resolve_estimator(self, X, scorer):
        """The scoring model, checked against X and the scorer before any trains."""
        if self.estimator is None:
            try:
                return make_net("auto", input_shape=sample_shape(X),
                                n_classes=len(self.classes_), device=self.device)
            except ValueError as exc:
                raise ValueError(
                    f"estimator=None builds the default scoring net with "
                    f"skunseen.models.make_net('auto', ...), which fails here: {exc} To "
                    "score these samples, pass estimator=make_net('mlp', "
                    f"input_shape={sample_shape(X)}, n_classes={len(self.classes_)}) or "
                    "your own skorch net."
                ) from exc
        if self.device != "auto":
            resolve_device(self.device)
        estimator = self.estimator
        if is_skorch_net(estimator):
            self._check_net(estimator)
        elif is_dataset(X):
            raise ValueError(
                f"X is a torch Dataset, which {describe(estimator)} cannot read; "
                "Dataset input needs a skorch net as `estimator` (or estimator=None "
                "for the default net). Pass an array to score with a scikit-learn "
                "classifier."
            )
        if scorer.reads_dynamics(self.scorer_params) and not is_skorch_net(estimator):
            raise ValueError(
                f"scorer={scorer.name!r} reads training dynamics (per-epoch records), "
                f"which {describe(estimator)} does not have. Use a skorch "
                "NeuralNetClassifier as `estimator`, or a final-output scorer "
                "('el2n', 'loss', 'entropy', 'margin')."
            )
        extras = self._extra_requests(scorer)
        if extras and not is_skorch_net(estimator):
            raise ValueError(
                f"scorer={scorer.name!r} with selector={self.selector!r} needs "
                f"{sorted(extras)} records (embeddings or gradients), which "
                f"{describe(estimator)} does not have. Use a skorch "
                "NeuralNetClassifier as `estimator`."
            )
        return estimator

    def _check_net(self, net):
        """What a given skorch net must satisfy before any of its clones trains."""
        if self.device == "auto":
            try:
                # With device="auto" every scoring net keeps the device it asks for.
                resolve_device(net.device)
            except ValueError as exc:
                raise ValueError(
                    f"The {describe(net)} has device={net.device!r}, which cannot be "
                    f"used: {exc}. Set the pruner's device='cpu' (it applies to every "
                    "scoring net) or the net's own device."
                ) from None
        if is_binary_net(net) and len(self.classes_) != 2:
            raise ValueError(
                f"The {describe(net)} predicts two classes (one logit), but y has "
                f"{len(self.classes_)}; use a NeuralNetClassifier as `estimator`."
            )
        check_fresh_weights(net)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        return tags


def _fitted_names(estimator):
    """Fitted attributes (``name_``), private fitted state (``_name_``) included."""
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("__")]


def _refuse_intermediate_pipeline_step(pruner):
    """Raise when a Pipeline fits the pruner as an intermediate step.

    Such a step would hand fewer rows than labels to the next step, which
    then fails with a message about inconsistent numbers of samples. A
    Pipeline fits intermediate steps through ``sklearn.pipeline._fit_transform_one``
    and its last step directly, and no public hook tells them apart, so the
    caller's frame (past the ``set_output`` wrapper) is looked at.
    """
    from sklearn import pipeline
    from sklearn.utils import _set_output

    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == _set_output.__file__:
        frame = frame.f_back
    if frame is not None and frame.f_code is pipeline._fit_transform_one.__code__:
        raise ValueError(
            f"{type(pruner).__name__} is an intermediate step of a Pipeline: it returns "
            "fewer rows than it was given, which the next step cannot line up with y. "
            "A pruner can be the last step of a Pipeline; to train a model on the "
            "coreset inside one, use PrunedClassifier(pruner, estimator) as the last "
            "step, or PruningSampler(pruner) in an imblearn Pipeline."
        )


def _non_finite_error(X, task, cause):
    """The error for a task whose model produced NaN or infinite values.

    Arrays and tensors are checked for finite values before training; a
    Dataset cannot be without reading it whole, so its task's rows are read
    now, to name bad data as the cause rather than the model.
    """
    if is_dataset(X):
        rows = np.unique(np.concatenate([task.train_indices, task.score_indices]))
        row = first_non_finite_row(X, rows)
        if row is not None:
            return ValueError(
                f"X holds NaN or infinite values: sample {row} of the Dataset, one of the "
                f"rows of {task.name}. Clean or impute the data first."
            )
    return ValueError(
        f"The scoring model of {task.name} {cause}. Lower the learning rate or check the "
        "data scaling."
    )


def _score_task(estimator, X, y, task, position, *, n_classes, recording, device, n_threads,
                fit_params):
    """One scoring task as a joblib job: ``(position, records, info)``."""
    with torch_threads(n_threads):
        try:
            records, info = fit_and_record(
                estimator, X, y, task.train_indices, task.score_indices, n_classes=n_classes,
                seed=task.seed, device=device, fit_params=fit_params, **recording,
            )
        except TrainingDiverged as exc:
            raise _non_finite_error(X, task, f"diverged: {exc}") from exc
    return position, records, info


def _score_batched(estimator, X, y, tasks, pending, *, n_classes, recording, device):
    """The pending tasks trained as one batched round: ``[(position, records, info)]``."""
    try:
        results = fit_and_record_batched(
            estimator, X, y, [tasks[p] for p in pending], n_classes=n_classes,
            record_dynamics=recording["record_dynamics"], device=device)
    except TrainingDiverged as exc:
        message, index = exc.args
        raise _non_finite_error(X, tasks[pending[index]], f"diverged: {message}") from exc
    return [(position, records, info) for position, (records, info) in zip(pending, results)]


def draw_seeds(rng, size):
    """Independent per-task seeds drawn up front, so parallel order cannot matter."""
    return rng.randint(_MAX_SEED, size=size)
