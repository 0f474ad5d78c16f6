"""Where and how scoring nets run: devices, torch threads and per-task randomness.

The engine (:func:`skunseen.engine.run_plan`) dispatches the scoring tasks
(folds, repeats, multi-step models) through
:class:`sklearn.utils.parallel.Parallel`, so any joblib backend runs them:
sequential, ``threading``, ``loky``, ``multiprocessing``, ``dask`` or
``ray``, chosen with :func:`joblib.parallel_config`. This module makes every
net task's result independent of the backend.

Randomness
----------
Every task has its own seed, drawn from ``random_state`` before anything is
dispatched (:func:`skunseen.engine.draw_seeds`), and three seeds derived from
it (:func:`task_seeds`): module initialisation, data order, and any other
draw during training. torch has one global random generator per process
(per device on CUDA), shared by all threads, so a skorch net's randomness
is made task-local as follows:

* initialisation runs under :data:`RNG_LOCK` with the global generator
  seeded for the task (modules draw their initial weights from it);
* the training and validation iterators get their own seeded
  :class:`torch.Generator` (``iterator_train__generator``), which drives
  the ``DataLoader``'s shuffling and worker seeds without touching the
  global generator;
* a net whose training itself draws from the global generator (dropout
  layers, ``RReLU``, attention dropout, or a training iterator without a
  ``generator`` parameter) trains entirely under :data:`RNG_LOCK` with the
  global generator seeded for the task;
* every other write to the global generator that the pruner makes
  (seeding, and the recorder's ``fork_rng``, which restores the state on
  exit) also happens under :data:`RNG_LOCK`, so it cannot land inside
  another thread's seeded section.

What this guarantees, for the same ``random_state`` and the same data:

* process-based backends (``loky``, ``multiprocessing``, dask and ray
  workers that run one task at a time) give the same coreset as
  ``n_jobs=1``, whatever the net does with torch's global generator;
* the ``threading`` backend (and dask workers with several threads) gives
  the same coreset as ``n_jobs=1`` for every net whose training randomness
  comes from initialisation, the iterators and the torch dropout modules.
  Nets with such dropout modules train one at a time in that case (a
  warning says so; use ``loky`` or dask to train them in parallel).
  Randomness the pruner cannot see, e.g. ``torch.rand`` called in a
  module's ``forward``, random dataset transforms run in the main process
  (``num_workers=0``) or a callback drawing random numbers, is reproducible
  with process-based backends only;
* "the same" is bit for bit as far as the arithmetic is: a task given
  fewer torch threads (``n_jobs > 1`` shares the cores) may round large
  reductions differently, and on CUDA, cuDNN and atomics-based kernels may
  differ from run to run unless ``torch.use_deterministic_algorithms(True)``
  is set. Such last-bit differences can move a sample across a selection
  boundary; fix the thread count (``OMP_NUM_THREADS``) for bit-identical
  scores across ``n_jobs``.

The caller's own torch random state is restored when the tasks are done.
"""

import contextlib
import inspect
import threading

import numpy as np
import torch
from joblib import effective_n_jobs
from joblib.parallel import get_active_backend
from skorch.callbacks import Callback


#: Serialises writes to torch's process-global random generators, and the
#: training of nets that draw from them (see the module's docstring).
#: Re-entrant, so a task already holding it may take it again.
RNG_LOCK = threading.RLock()

# Modules that draw from the global generator at every training step.
_STOCHASTIC_MODULES = (
    torch.nn.Dropout,
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.AlphaDropout,
    torch.nn.FeatureAlphaDropout,
)


def task_seeds(seed):
    """Independent seeds for a task's initialisation, data order and training.

    Parameters
    ----------
    seed : int
        The task's seed.

    Returns
    -------
    init_seed, order_seed, train_seed : int

    Examples
    --------
    >>> from skunseen.nets._devices import task_seeds
    >>> task_seeds(0) == task_seeds(0), len(set(task_seeds(0)))
    (True, 3)
    """
    return tuple(int(s) for s in np.random.SeedSequence(int(seed)).generate_state(3))


def task_devices(device, n_tasks):
    """The device of every task.

    A bare ``"cuda"`` with several visible GPUs spreads the tasks over them:
    task ``k`` runs on ``cuda:{k % n_gpus}``. Any other device (``"cpu"``,
    ``"cuda:1"``, or ``"cuda"`` with one GPU) is used by every task; on a
    single GPU, several tasks then share it when ``n_jobs > 1``.

    Parameters
    ----------
    device : str or None
        The device asked for; ``None`` leaves every net's own device alone.
    n_tasks : int
        Number of tasks.

    Returns
    -------
    devices : list of (str or None)

    Examples
    --------
    >>> from skunseen.nets._devices import task_devices
    >>> task_devices("cpu", 2)
    ['cpu', 'cpu']
    """
    if device is None:
        return [None] * n_tasks
    parsed = torch.device(device)
    if parsed.type == "cuda" and parsed.index is None and torch.cuda.is_available():
        n_gpus = torch.cuda.device_count()
        if n_gpus > 1:
            return [f"cuda:{k % n_gpus}" for k in range(n_tasks)]
    return [str(device)] * n_tasks


def cuda_indices(devices):
    """Indices of the CUDA devices among ``devices`` (for ``fork_rng``)."""
    if not torch.cuda.is_available():
        return []
    indices = set()
    for device in devices:
        index = _cuda_index(device)
        if index is not None:
            indices.add(index)
    return sorted(indices)


def _cuda_index(device):
    if device is None:
        return None
    parsed = torch.device(device)
    if parsed.type != "cuda" or not torch.cuda.is_available():
        return None
    return torch.cuda.current_device() if parsed.index is None else parsed.index


def device_params(net, device):
    """skorch parameters that move ``net`` and its fast-path iterators to ``device``."""
    params = {"device": device}
    for name in ("iterator_train__device", "iterator_valid__device"):
        # Device-resident iterators keep their own device: left alone, they
        # would serve the data from another GPU than the module's.
        if hasattr(net, name):
            params[name] = device
    return params


def takes_generator(iterator):
    """Whether an iterator class has an explicit ``generator`` parameter."""
    try:
        return "generator" in inspect.signature(iterator).parameters
    except (TypeError, ValueError):
        return False


def seed_params(net, order_seed):
    """skorch parameters that make a net's data order task-local.

    Iterators taking a ``generator`` (``DataLoader``) get their own seeded
    one; a net's ``random_state`` is cleared because the pruner seeds it
    (a fixed value would also give every task the same initial weights).
    """
    params = {}
    for prefix, offset in (("iterator_train", 0), ("iterator_valid", 1)):
        if takes_generator(getattr(net, prefix)):
            params[f"{prefix}__generator"] = torch.Generator().manual_seed(order_seed + offset)
    if "random_state" in net.get_params(deep=False):
        params["random_state"] = None
    return params


def draws_global_rng(net):
    """Whether an initialised net draws from torch's global generator while training.

    True for nets with dropout modules (``p > 0``), ``RReLU``, attention
    dropout, or a training iterator that takes no ``generator`` (its shuffling
    would draw from the global generator).
    """
    if not takes_generator(net.iterator_train):
        return True
    for name in getattr(net, "_modules", ["module"]):
        module = getattr(net, f"{name}_", None)
        if not isinstance(module, torch.nn.Module):
            continue
        for layer in module.modules():
            if isinstance(layer, _STOCHASTIC_MODULES) and layer.p > 0:
                return True
            if isinstance(layer, torch.nn.RReLU):
                return True
            if isinstance(layer, torch.nn.MultiheadAttention) and layer.dropout > 0:
                return True
    return False


def _seed_global(seed, device):
    torch.random.default_generator.manual_seed(seed)
    index = _cuda_index(device)
    if index is not None:
        with torch.cuda.device(index):
            torch.cuda.manual_seed(seed)
    elif device is not None and torch.device(device).type == "mps":
        torch.mps.manual_seed(seed)


def initialize_seeded(net, seed):
    """``net.initialize()`` with torch's global generator seeded, under the lock."""
    with RNG_LOCK:
        _seed_global(seed, net.device)
        net.initialize()


@contextlib.contextmanager
def seeded_training(net, seed):
    """Train an initialised net with its randomness seeded for the task.

    A net that draws from the global generator while training holds
    :data:`RNG_LOCK` for the whole block (other tasks of the process wait);
    any other net only seeds under the lock and trains concurrently.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialised net.
    seed : int
        Seed of the global generator for this task's training.

    Yields
    ------
    serialised : bool
        Whether the block holds the lock.
    """
    if draws_global_rng(net):
        with RNG_LOCK:
            _seed_global(seed, net.device)
            yield True
    else:
        with RNG_LOCK:
            _seed_global(seed, net.device)
        yield False


class LockedSection:
    """Holds :data:`RNG_LOCK` between two skorch callbacks.

    The recorder restores torch's global random state when it is done
    (``fork_rng``); that write must not land inside another thread's seeded
    section, so :meth:`callbacks` brackets it with the lock. :meth:`release`
    frees the lock if an exception left it held.
    """

    def __init__(self):
        self._depth = 0

    def acquire(self):
        RNG_LOCK.acquire()
        self._depth += 1

    def release(self):
        while self._depth:
            self._depth -= 1
            RNG_LOCK.release()

    def callbacks(self, name, *inner):
        """``inner`` named callbacks, run with the lock held at epoch and train end."""
        return [(f"{name}_lock", _SectionEdge(self, "acquire")), *inner,
                (f"{name}_unlock", _SectionEdge(self, "release"))]


class _SectionEdge(Callback):
    """Calls ``section.acquire`` or ``section.release`` at epoch and train end."""

    def __init__(self, section, action):
        self.section = section
        self.action = action

    def _act(self):
        getattr(self.section, self.action)()

    def on_epoch_end(self, net, **kwargs):
        self._act()

    def on_train_end(self, net, **kwargs):
        self._act()


def in_process_workers(n_jobs):
    """Number of concurrent tasks when they are threads of this process, else 1."""
    backend, _ = get_active_backend()
    n_workers = effective_n_jobs(n_jobs)
    return n_workers if n_workers > 1 and getattr(backend, "uses_threads", False) else 1


def threads_per_task(n_jobs):
    """torch intra-op threads for each of ``n_jobs`` concurrent threaded tasks.

    Process-based backends need no limit here: joblib's ``loky`` backend
    starts its workers with ``OMP_NUM_THREADS = cpus // n_jobs`` and dask's
    nanny with ``OMP_NUM_THREADS=1``, which torch reads at start-up.

    Returns
    -------
    n_threads : int or None
        ``None`` when no limit is needed.
    """
    n_workers = in_process_workers(n_jobs)
    if n_workers == 1:
        return None
    return max(1, torch.get_num_threads() // n_workers)


@contextlib.contextmanager
def torch_threads(n_threads):
    """Lower torch's intra-op threads of the calling thread for the block.

    With torch's OpenMP backend the setting belongs to the calling thread,
    so concurrent tasks on other threads keep their own.
    """
    previous = torch.get_num_threads()
    if n_threads is None or n_threads >= previous:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded_globally(seed):
    """torch's global CPU generator seeded for the block, under the lock, then restored."""
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
