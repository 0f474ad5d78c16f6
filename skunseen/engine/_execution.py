"""The executor: the scoring tasks of a round run here, with task-level hooks.

A :class:`Round` is the list of tasks of one strategy and what they share
(estimator, data, what to record). :func:`execute` enters every hook's
:meth:`TaskHook.round` context (in order: they may read tasks back from a
store, seed or move things, open a progress bar), hands the tasks still
pending to an executor, and calls :meth:`TaskHook.on_task_end` for every
task the executor finishes, like skorch callbacks around epochs. Executors
are callables ``executor(round, pending)`` yielding ``(position, records,
info)``: :class:`JoblibExecutor` runs one task per joblib job (any backend
set with :func:`joblib.parallel_config`); fold batching
(:mod:`skunseen.nets._batched`) trains the same tasks as one stacked module.

The module imports no torch: nets bring their own task runner and hooks.
"""

import contextlib
from dataclasses import dataclass, field

import numpy as np
from joblib import effective_n_jobs
from joblib.parallel import get_active_backend
from sklearn.utils.parallel import Parallel, delayed

from .._data import first_non_finite_row, fingerprint, is_dataset
from .._progress import make_bar
from .._records import TrainingDiverged


@dataclass
class Round:
    """The tasks of one round and everything they share.

    ``devices`` holds every task's device (``None``: the estimator's own);
    ``batched`` whether the tasks train as one stacked module (fold batching);
    ``finished`` maps task positions to ``(records, info)`` as tasks are
    read back or trained; ``label`` names the caller in messages.
    """

    estimator: object
    X: object
    y: np.ndarray
    tasks: list
    n_classes: int
    recording: object
    fit_params: dict = field(default_factory=dict)
    n_jobs: int = None
    verbose: int = 0
    label: str = "skunseen"
    data_fingerprint: str = None
    devices: list = None
    batched: bool = False
    finished: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.devices is None:
            self.devices = [None] * len(self.tasks)

    def fingerprint(self):
        """The digest of X (see :func:`skunseen._data.fingerprint`), computed once."""
        if self.data_fingerprint is None:
            self.data_fingerprint = fingerprint(self.X)
        return self.data_fingerprint

    def pending(self):
        return [position for position in range(len(self.tasks))
                if position not in self.finished]


class TaskHook:
    """A hook of the executor; every method does nothing unless overridden."""

    @contextlib.contextmanager
    def round(self, run):
        """Wraps the whole round; may fill ``run.finished`` before tasks train."""
        yield

    def on_task_end(self, run, position, records, info):
        """Called for every task the executor trained, in completion order."""


def execute(run, executor, hooks):
    """Run the pending tasks of ``run`` through ``executor``, with ``hooks``.

    Returns
    -------
    results : list of (ScoringRecords, dict)
        Per task, in task order: its records and its info, with ``task``
        (its name), ``resumed`` and ``cached`` filled in.
    """
    with contextlib.ExitStack() as stack:
        for hook in hooks:
            stack.enter_context(hook.round(run))
        for position, records, info in executor(run, run.pending()):
            for hook in hooks:
                hook.on_task_end(run, position, records, info)
            run.finished[position] = (records, info)
    results = []
    for position, task in enumerate(run.tasks):
        records, info = run.finished[position]
        results.append((records, {"task": task.name, "resumed": False, "cached": False, **info}))
    return results


def run_task(runner, estimator, X, y, task, position, **kwargs):
    """One task as a joblib job: ``(position, records, info)``.

    A diverged training names its task's position, so that the error can
    say which task it was.
    """
    try:
        records, info = runner(estimator, X, y, task, **kwargs)
    except TrainingDiverged as exc:
        raise TrainingDiverged(exc.args[0], position) from exc
    return position, records, info


class JoblibExecutor:
    """Runs every pending task as one joblib job (``n_jobs`` of them at once).

    Parameters
    ----------
    runner : callable
        ``runner(estimator, X, y, task, *, n_classes, recording, device,
        fit_params) -> (records, info)``, picklable for process backends.
    """

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, run, pending):
        jobs = (
            delayed(run_task)(
                self.runner, run.estimator, run.X, run.y, run.tasks[position], position,
                n_classes=run.n_classes, recording=run.recording, device=run.devices[position],
                fit_params=run.fit_params,
            )
            for position in pending
        )
        return Parallel(n_jobs=run.n_jobs, return_as=return_mode(run.n_jobs))(jobs)


def in_process_workers(n_jobs):
    """Number of concurrent tasks when they are threads of this process, else 1."""
    backend, _ = get_active_backend()
    n_workers = effective_n_jobs(n_jobs)
    return n_workers if n_workers > 1 and getattr(backend, "uses_threads", False) else 1


def return_mode(n_jobs):
    """``return_as`` for :class:`~sklearn.utils.parallel.Parallel`.

    Results in completion order, so that each finished task can be
    checkpointed at once; the ``multiprocessing`` backend cannot stream
    results and gets a list.
    """
    backend, _ = get_active_backend()
    if effective_n_jobs(n_jobs) == 1 or getattr(backend, "supports_return_generator", True):
        return "generator_unordered"
    return "list"


class DivergenceCheck(TaskHook):
    """Turns a diverged training, or non-finite outputs, into an error naming the task."""

    @contextlib.contextmanager
    def round(self, run):
        try:
            yield
        except TrainingDiverged as exc:
            message, position = exc.args
            raise non_finite_error(run.X, run.tasks[position], f"diverged: {message}") from exc

    def on_task_end(self, run, position, records, info):
        if not np.isfinite(records.proba).all():
            raise non_finite_error(run.X, run.tasks[position],
                                   "produced NaN or infinite outputs: its training diverged")


def non_finite_error(X, task, cause):
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


class ProgressHook(TaskHook):
    """A bar over the round's pending tasks when ``verbose`` is set."""

    @contextlib.contextmanager
    def round(self, run):
        self.bar = None
        if run.verbose:
            self.bar = make_bar(total=len(run.pending()), desc=f"{run.label} models",
                                leave=run.verbose > 1)
        try:
            yield
        finally:
            if self.bar is not None:
                self.bar.close()

    def on_task_end(self, run, position, records, info):
        if self.bar is not None:
            self.bar.update()
