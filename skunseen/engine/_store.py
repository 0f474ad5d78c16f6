"""The store of finished scoring models: ``memory``, as ``Pipeline(memory=...)`` has it.

``memory`` is ``None`` (nothing is kept between fits), a directory path or
a :class:`joblib.Memory` (its ``location``; ``location=None`` keeps
nothing). With a directory, the engine writes the records of every scoring
task (fold, repeat, multi-step model) as soon as it finishes, and reads them
back instead of training again, so the same store caches (a grid search
over ``keep`` or ``selector`` trains each scoring model once) and resumes a
killed run. A file is found by a key that hashes every value its records
depend on: the data (see :func:`skunseen._data.fingerprint`), the labels and
the metadata passed to the estimators' ``fit``, the estimator's class and
parameters, the task (name, seed, training and scored rows), what is
recorded, the device type, whether the task trained batched, and the
library version. Any change there gives another key, so stale work is never
reused; parameters that act after scoring (``scorer`` when the records hold
what it reads, ``selector``, ``keep``, ``class_budget``) are not in the key.
Classes and functions enter the key by their module and name: a class
redefined under the same name (a notebook cell run again) is not told
apart, so use a fresh directory after changing code a model is made of.

Files are ``.npz`` archives written into the directory (no pickle:
loading never runs code, unlike :meth:`joblib.Memory.cache`, which is why
the records are not stored through it), to a temporary file in the same
directory, flushed to disk and moved into place with :func:`os.replace`, so
a file either holds a whole task or does not exist, even if the process is
killed mid-write. The temporary files of killed processes are removed by the
next store opened on the directory (see :mod:`skunseen._files`).

Records read back are checked before use: every array against the digest
written with it, and the records against the task they stand for (scored
rows, their labels, one probability row per scored sample and class, finite
probabilities). A file failing any check is reported and its task trains
again, exactly like a damaged file.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import warnings

import joblib
import numpy as np

from .._files import owned_prefix, remove_orphans
from .._names import __version__
from .._records import ScoringRecords, check_probabilities

#: Bumped whenever the meaning of a stored file changes, which
#: invalidates older files.
FORMAT_VERSION = 3

# Temporary files of unfinished writes start with this.
_PARTIAL = ".partial-"


def estimator_fingerprint(estimator):
    """A digest of an estimator's class and parameters, stable across processes.

    Parameters
    ----------
    estimator : object
        An unfitted estimator with ``get_params``.

    Returns
    -------
    digest : str

    Raises
    ------
    TypeError
        If a parameter cannot be hashed (e.g. a lambda).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen.engine._store import estimator_fingerprint
    >>> a = estimator_fingerprint(LogisticRegression(C=1.0))
    >>> a == estimator_fingerprint(LogisticRegression(C=1.0))
    True
    >>> a == estimator_fingerprint(LogisticRegression(C=2.0))
    False
    """
    cls = type(estimator)
    try:
        # joblib.hash orders dict and set items, unlike plain pickle, so the
        # digest does not depend on the process's hash seed.
        return joblib.hash((cls.__module__, cls.__qualname__, estimator.get_params(deep=False)))
    except Exception as exc:  # noqa: BLE001 - whatever hashing a parameter raises
        raise TypeError(
            f"The parameters of {cls.__name__} cannot be fingerprinted ({exc}), so "
            "the store (memory) could not tell them apart from changed ones."
        ) from exc


def task_key(*, data, labels, fit_params, estimator, task, recording, device, batched):
    """The key of one task's records: a digest of every value they depend on.

    Parameters
    ----------
    data : str
        Fingerprint of X (:func:`skunseen._data.fingerprint`).
    labels : str
        Digest of the encoded labels and the number of classes.
    fit_params : str
        Digest of the metadata passed to the estimators' ``fit`` (e.g.
        ``sample_weight``).
    estimator : str
        :func:`estimator_fingerprint` of the scoring model.
    task : ScoringTask
        Its name, seed, training and scored rows enter the key.
    recording : Recording
        What is recorded besides the probabilities.
    device : str or None
        The task's device; only its type (cpu, cuda, mps) enters the key.
    batched : bool
        Whether the task trains in a batched round (its records then agree
        with sequential training only up to float rounding).

    Returns
    -------
    key : str
    """
    device_type = None if device is None else str(device).split(":")[0]
    return joblib.hash((
        FORMAT_VERSION, __version__, data, labels, fit_params, estimator, task.name, task.seed,
        task.train_indices, task.score_indices, sorted(recording.as_key().items()),
        device_type, bool(batched),
    ))


def store_location(memory, name="memory"):
    """The directory that ``memory`` names, checked but not created; None keeps nothing.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
        As the pruners' ``memory``.
    name : str, default="memory"
        The parameter's name, for messages.

    Returns
    -------
    str or None

    Raises
    ------
    ValueError
        Naming the parameter when it is of another type, empty, or names a
        file (or lies under one).
    """
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        location = os.fspath(memory)
    elif hasattr(memory, "cache"):  # a joblib.Memory, as scikit-learn's check_memory tells
        location = getattr(memory, "location", None)
        if location is None:
            return None
        location = os.fspath(location)
    else:
        raise ValueError(
            f"{name} must be None, a directory path or a joblib.Memory; got {memory!r}."
        )
    if not location:
        raise ValueError(f"{name}='' names no directory; name one, or pass None.")
    existing = location
    while not os.path.exists(existing) and os.path.dirname(existing) not in ("", existing):
        existing = os.path.dirname(existing)
    if os.path.exists(existing) and not os.path.isdir(existing):
        where = "is a file" if existing == location else f"lies under the file {existing!r}"
        raise ValueError(
            f"{name}={location!r} {where}, not a directory; name a directory (it is "
            "created if missing), a joblib.Memory, or None."
        )
    return location


def open_store(memory):
    """The :class:`RecordStore` that ``memory`` names, or None when it keeps nothing.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
        As the pruners' ``memory``.

    Returns
    -------
    RecordStore or None

    Raises
    ------
    ValueError
        Naming ``memory`` when it is of another type or names a file.

    Examples
    --------
    >>> import tempfile
    >>> from skunseen.engine._store import open_store
    >>> open_store(None) is None, open_store(tempfile.mkdtemp()) is not None
    (True, True)
    """
    location = store_location(memory)
    if location is None:
        return None
    try:
        return RecordStore(location)
    except OSError as exc:
        raise ValueError(
            f"memory={os.fspath(location)!r} cannot be used as a directory ({exc})."
        ) from exc


class RecordStore:
    """A directory of finished tasks' records (see :func:`open_store`).

    Parameters
    ----------
    directory : str or path-like
        Created if missing.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from skunseen.engine import ScoringTask
    >>> from skunseen.engine._store import RecordStore
    >>> from skunseen.scores import ScoringRecords
    >>> store = RecordStore(tempfile.mkdtemp())
    >>> task = ScoringTask("fold 0", 0, [1, 2], [0], seed=3)
    >>> records = ScoringRecords(indices=np.array([0]), y=np.array([1]),
    ...                          proba=np.array([[0.2, 0.8]]))
    >>> store.save("abc", task, records, {"seconds": 0.5, "n_epochs": 0})
    >>> loaded, info = store.load("abc", task, y=np.array([1, 0, 0]), n_classes=2)
    >>> loaded.proba.tolist(), info["seconds"]
    ([[0.2, 0.8]], 0.5)
    """

    def __init__(self, directory):
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        remove_orphans(self.directory, re.escape(_PARTIAL))

    def path(self, key, task):
        """File of a task: its readable name, then the key."""
        name = re.sub(r"[^A-Za-z0-9]+", "-", task.name).strip("-").lower()[:60]
        return os.path.join(self.directory, f"{name}-{key}.npz")

    def load(self, key, task, *, y, n_classes):
        """The task's ``(records, info)``, or ``None`` when it has not finished.

        An unreadable file (another format version, damaged on disk, or
        records that do not fit the task) is reported with a warning and
        treated as missing, so the task trains again and overwrites it.

        Parameters
        ----------
        key : str
            The task's :func:`task_key`.
        task : ScoringTask
            The task; its scored rows must be the records' rows.
        y : ndarray of int
            Encoded labels of all rows.
        n_classes : int
            Number of classes (columns of the probabilities).
        """
        path = self.path(key, task)
        if not os.path.exists(path):
            return None
        try:
            # An open file object, closed here: np.load leaks its own handle
            # when the archive is damaged.
            with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                if meta["format"] != FORMAT_VERSION or meta["key"] != key:
                    raise ValueError("it belongs to another format or key")
                records = _decode(meta, archive)
            _check_records(records, task, y, n_classes)
            return records, meta["info"]
        except Exception as exc:  # noqa: BLE001 - any damage means "train again"
            warnings.warn(
                f"Ignoring unreadable stored records {path} ({type(exc).__name__}: {exc}); "
                f"{task.name} is trained again.",
                UserWarning,
                stacklevel=3,
            )
            return None

    def save(self, key, task, records, info):
        """Write the task's records atomically (temporary file, then ``os.replace``).

        A failed write (a full or read-only disk, info that JSON cannot
        hold) warns and leaves the store as it was: the fit itself is fine,
        only a rerun would train this task again.
        """
        try:
            self._write(key, task, records, info)
        except (OSError, TypeError) as exc:
            warnings.warn(
                f"Could not store {task.name} in {self.directory} ({type(exc).__name__}: "
                f"{exc}); the fit goes on without it.",
                UserWarning,
                stacklevel=3,
            )

    def _write(self, key, task, records, info):
        meta, arrays = _encode(records)
        meta.update(format=FORMAT_VERSION, key=key, task=task.name, info=info,
                    digests={name: _digest(array) for name, array in arrays.items()})
        arrays["meta"] = np.array(json.dumps(meta, default=_plain))
        fd, temporary = tempfile.mkstemp(prefix=owned_prefix(_PARTIAL), suffix=".tmp",
                                         dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:
                np.savez(file, **arrays)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path(key, task))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encode(records):
    """Split records into JSON metadata and plain (non-object) arrays."""
    meta = {"arrays": {}, "dicts": {}, "values": {}}
    arrays = {}

    def add(value, where):
        value = np.asarray(value)
        if value.dtype.hasobject:
            raise TypeError(f"records field {where} holds Python objects")
        name = f"a{len(arrays)}"
        arrays[name] = value
        return name

    for field in dataclasses.fields(records):
        value = getattr(records, field.name)
        if isinstance(value, np.ndarray):
            meta["arrays"][field.name] = add(value, field.name)
        elif isinstance(value, dict):
            meta["dicts"][field.name] = {
                str(k): add(v, f"{field.name}[{k!r}]") for k, v in value.items()
            }
        else:
            meta["values"][field.name] = value
    return meta, arrays


def _digest(array):
    """A digest of an array's dtype, shape and bytes (read in place: a fold's
    probabilities are not copied to be hashed)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _check_records(records, task, y, n_classes):
    """Raise ``ValueError`` when decoded records do not fit their task."""
    n = len(task.score_indices)
    problems = []
    if not np.array_equal(records.indices, task.score_indices):
        problems.append("its rows are not the task's scored rows")
    elif not np.array_equal(records.y, y[task.score_indices]):
        problems.append("its labels are not those of the scored rows")
    if records.proba.shape != (n, n_classes):
        problems.append(f"its probabilities have shape {records.proba.shape}, not {(n, n_classes)}")
    elif not np.isfinite(records.proba).all():
        problems.append("its probabilities are not finite")
    else:
        try:
            check_probabilities(records.proba, "it", fix="it is not the model's output")
        except ValueError:
            problems.append("its probabilities are not probability distributions")
    per_sample = {**records.epochs, **records.extras}
    short = sorted(name for name, values in per_sample.items() if len(values) != n)
    if short:
        problems.append(f"{short} do not have one row per scored sample")
    if problems:
        raise ValueError(f"it does not match {task.name}: " + "; ".join(problems))


def _decode(meta, archive):
    arrays = {name: archive[name] for name in archive.files if name != "meta"}
    digests = meta["digests"]
    if set(arrays) != set(digests) - {"meta"} or any(
            _digest(array) != digests[name] for name, array in arrays.items()):
        raise ValueError("its arrays differ from those written")
    fields = dict(meta["values"])
    fields.update({name: arrays[key] for name, key in meta["arrays"].items()})
    fields.update({
        name: {k: arrays[key] for k, key in entries.items()}
        for name, entries in meta["dicts"].items()
    })
    return ScoringRecords(**fields)
