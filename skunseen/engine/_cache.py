"""Score once, select many: finished scoring tasks kept in memory or on disk.

Parameters that act after scoring (``keep``, ``selector``, ``class_budget``,
and the scorer when the records hold what it reads) never need the scoring
models trained again. Every finished task is therefore kept under the key
of its checkpoint (:func:`skunseen.engine._store.task_key`: the data, labels,
fit parameters, estimator, task, device type), either

* in memory, in :data:`records_cache`, a bounded least-recently-used store
  that every pruner of the process (clones under ``GridSearchCV`` too)
  reads; or
* on disk, in the pruner's ``checkpoint_dir``, which also resumes killed
  runs and is shared by processes. With a ``checkpoint_dir`` the disk is
  the store and the memory cache is not used.

The hooks here read finished tasks back before a round trains and store
every task the executor finishes.
"""

import collections
import contextlib
import copy
import functools
import numbers
import os
import sys
import threading
import types
import warnings

import joblib
import numpy as np

from ._store import CheckpointStore, estimator_fingerprint, task_key
from ._execution import TaskHook


def _nbytes(records):
    arrays = [records.indices, records.y, records.proba, *records.epochs.values(),
              *records.extras.values()]
    return sum(np.asarray(array).nbytes for array in arrays)


class RecordsCache:
    """A bounded in-memory store of finished scoring tasks' records.

    Entries are keyed like checkpoints, but without what was recorded: an
    entry serves every later request that its recording covers (records
    with per-epoch statistics serve a final-output scorer too), cut down to
    what was asked, so results equal those of a fresh run. Within the
    process the key also holds the identity of every class and function the
    estimator is made of, so a class or function redefined under the same
    name (a notebook cell run again) is trained anew; what those call in
    turn (a helper function, a global, a layer class inside a module class)
    is not compared, so call :meth:`clear` after redefining it. The least
    recently used entries are dropped beyond ``max_bytes``; records larger
    than that are never kept. Entries are copies, so that nothing a caller
    does to its results reaches the store.

    The cache assumes that a scoring model is a function of its class,
    parameters, data and seed: ``random_state`` parameters, nested ones
    included, are set from the task seeds, but a model that draws from a
    global random generator of its own gives one draw that later fits reuse.
    Use :meth:`disabled` (or ``max_bytes = 0``) for such models.

    Parameters
    ----------
    max_bytes : int, default=512 MiB
        Size bound of the stored arrays, in bytes; 0 keeps nothing. Setting
        it later evicts down to the new bound.

    Attributes
    ----------
    n_hits, n_misses : int
        Lookups answered, and not answered, since creation or :meth:`clear`.
    n_bytes : int
        Size of the stored arrays.
    enabled : bool
        Whether fits read and store entries now: ``max_bytes > 0`` and no
        :meth:`disabled` block open.

    Raises
    ------
    TypeError
        If ``max_bytes`` is not an integer.
    ValueError
        If ``max_bytes`` is negative.

    See Also
    --------
    skunseen.records_cache : the process's instance, which the pruners use.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen import RecordsCache
    >>> from skunseen._records import Recording
    >>> from skunseen.scores import ScoringRecords
    >>> cache = RecordsCache(max_bytes=10_000)
    >>> records = ScoringRecords(np.arange(2), np.zeros(2, int), np.ones((2, 2)) / 2)
    >>> cache.put("key", Recording(), records, {"seconds": 1.0})
    >>> found, info = cache.get("key", Recording())
    >>> found.proba.tolist(), len(cache), cache.get("key", Recording(dynamics=True))
    ([[0.5, 0.5], [0.5, 0.5]], 1, None)
    """

    def __init__(self, max_bytes=512 * 2**20):
        self._entries = collections.OrderedDict()
        self._lock = threading.RLock()
        self._n_disabled = 0
        self.clear()
        self.max_bytes = max_bytes

    @property
    def max_bytes(self):
        """Size bound of the stored arrays, in bytes; setting it evicts down to it."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"max_bytes must be an integer number of bytes; got {value!r}.")
        if value < 0:
            raise ValueError(f"max_bytes must be >= 0 (0 keeps nothing); got {value!r}.")
        with self._lock:
            self._max_bytes = int(value)
            self._evict()

    @property
    def enabled(self):
        """Whether fits read and store entries now (see :meth:`disabled`)."""
        return self._max_bytes > 0 and self._n_disabled == 0

    def __len__(self):
        return len(self._entries)

    def clear(self):
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self.n_bytes = self.n_hits = self.n_misses = 0

    def get(self, key, recording):
        """``(records, info)`` stored under ``key`` if they cover ``recording``, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry[0].covers(recording):
                self.n_misses += 1
                return None
            self._entries.move_to_end(key)
            self.n_hits += 1
            _, records, info, _, _ = entry
        return copy.deepcopy(recording.restrict(records)), dict(info)

    def put(self, key, recording, records, info, *, anchors=()):
        """Store a finished task, dropping the least recently used beyond ``max_bytes``.

        ``anchors`` are objects the entry keeps alive: the classes and
        functions whose identities are part of ``key`` (see
        :func:`code_identity`), so that no later object can take their ids.
        """
        size = _nbytes(records)
        if size > self._max_bytes:
            return
        entry = (recording, copy.deepcopy(records), dict(info), size, tuple(anchors))
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.n_bytes -= old[3]
            self._entries[key] = entry
            self.n_bytes += size
            self._evict()

    def _evict(self):
        while self.n_bytes > self._max_bytes:
            self.n_bytes -= self._entries.popitem(last=False)[1][3]

    @contextlib.contextmanager
    def disabled(self):
        """Neither read nor store anything inside the block (e.g. to time training).

        Process-wide, for every thread, while any such block is open; blocks
        may nest and overlap. Entries and ``max_bytes`` are left as they are.
        """
        with self._lock:
            self._n_disabled += 1
        try:
            yield self
        finally:
            with self._lock:
                self._n_disabled -= 1


#: The process's records cache: every pruner and engine function reads and
#: fills it when no ``checkpoint_dir`` is given.
records_cache = RecordsCache()


def code_identity(estimator):
    """The classes and functions an estimator's behaviour is defined by.

    The estimator's class and, through its parameters (nested estimators,
    lists, tuples and dicts of them included), every class, function and
    module instance's class it holds, each once, in a stable order.
    Checkpoint keys name these by module and name, which a redefinition
    under the same name does not change; their identities do.
    """
    found, seen, pending = [], set(), [estimator]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, (type, *_FUNCTIONS)):
            found.append(value)
        elif isinstance(value, types.MethodType):
            pending.extend([value.__func__, type(value.__self__)])
        elif isinstance(value, functools.partial):
            pending.extend([value.func, *value.args, *value.keywords.values()])
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
        elif hasattr(value, "get_params"):
            found.append(type(value))
            pending.extend(value.get_params(deep=False).values())
        elif callable(value) or _is_module(value):
            found.append(type(value))
    return found


_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType)


def _is_module(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def task_keys(run, *, with_recording):
    """Every task's key (see :func:`skunseen.engine._store.task_key`), or None
    when the estimator's parameters cannot be fingerprinted (``TypeError``)."""
    model = estimator_fingerprint(run.estimator)
    labels = joblib.hash((np.asarray(run.y), run.n_classes))
    fit_params = joblib.hash(run.fit_params)
    recording = run.recording.as_key() if with_recording else None
    return [
        task_key(data=run.fingerprint(), labels=labels, fit_params=fit_params, estimator=model,
                 task=task, recording=recording, device=device)
        for task, device in zip(run.tasks, run.devices)
    ]


class _StoreHook(TaskHook):
    """Reads finished tasks back before the round, stores every trained task."""

    #: The flag set in the info of a task read back.
    flag = None

    @contextlib.contextmanager
    def round(self, run):
        self.keys = self._keys(run)
        if self.keys is not None:
            for position, task in enumerate(run.tasks):
                found = self._load(run, position, task)
                if found is not None:
                    records, info = found
                    run.finished[position] = (records, {**info, self.flag: True})
            n_found = len(run.finished)
            if n_found and run.verbose:
                print(f"[{run.label}] {self._found_message(n_found, len(run.tasks))}")
        yield

    def on_task_end(self, run, position, records, info):
        if self.keys is not None:
            self._save(run, position, records, info)


class CacheHook(_StoreHook):
    """The in-memory store, :data:`records_cache`."""

    flag = "cached"

    def __init__(self, cache=None):
        self.cache = records_cache if cache is None else cache

    def _keys(self, run):
        if not self.cache.enabled:
            return None
        try:
            keys = task_keys(run, with_recording=False)
        except TypeError:  # such an estimator is simply trained every time
            return None
        self.anchors = code_identity(run.estimator)
        # Within one process the cache also tells apart a class or function
        # redefined under the same name (a notebook cell run again), and
        # records trained batched from records trained one by one.
        local = joblib.hash(([id(anchor) for anchor in self.anchors], run.batched))
        return [joblib.hash((key, local)) for key in keys]

    def _load(self, run, position, task):
        return self.cache.get(self.keys[position], run.recording)

    def _save(self, run, position, records, info):
        self.cache.put(self.keys[position], run.recording, records, info,
                       anchors=self.anchors)

    def _found_message(self, n_found, n_tasks):
        return f"Reused {n_found} of {n_tasks} scoring models from the in-memory records cache."


class CheckpointHook(_StoreHook):
    """The on-disk store of ``checkpoint_dir``."""

    flag = "resumed"

    def __init__(self, directory):
        self.directory = directory

    def _keys(self, run):
        try:
            keys = task_keys(run, with_recording=True)
        except TypeError as exc:
            warnings.warn(f"{exc} checkpoint_dir is ignored in this fit.", UserWarning,
                          stacklevel=5)
            return None
        try:
            self.store = CheckpointStore(self.directory)
        except OSError as exc:
            raise ValueError(
                f"checkpoint_dir={os.fspath(self.directory)!r} cannot be used as a "
                f"directory ({exc})."
            ) from exc
        return keys

    def _load(self, run, position, task):
        return self.store.load(self.keys[position], task, y=run.y, n_classes=run.n_classes)

    def _save(self, run, position, records, info):
        try:
            self.store.save(self.keys[position], run.tasks[position], records, info)
        except (OSError, TypeError) as exc:
            # The fit itself is fine; only resuming it would train this task again.
            warnings.warn(
                f"Could not checkpoint {run.tasks[position].name} ({type(exc).__name__}: "
                f"{exc}); the fit goes on without that checkpoint.",
                UserWarning,
                stacklevel=5,
            )

    def _found_message(self, n_found, n_tasks):
        return (f"Resumed {n_found} of {n_tasks} scoring models from "
                f"checkpoint_dir={os.fspath(self.directory)!r}.")
