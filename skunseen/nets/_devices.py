"""Where and how scoring nets run: devices, torch threads and per-task randomness.

The engine (:func:`skunseen.engine.run_plan`) dispatches the scoring tasks
(folds, repeats, multi-step models) through
:class:`sklearn.utils.parallel.Parallel`, so any joblib backend runs them:
sequential, ``threading``, ``loky``, ``multiprocessing``, ``dask`` or
``ray``, chosen with :func:`joblib.parallel_config`. This module makes every
net task's result independent of the backend.

Devices
-------
A round's device is a request (``"cuda"``, ``"cuda:1"``, ``"cpu"``,
``"auto"``) that the caller's process only checks for its form
(:func:`skunseen.models.check_device`): it is resolved in the process that
runs the task (:func:`skunseen.models.resolve_device`), so ``"cuda"`` means
the GPUs that worker sees, and task ``k`` of a round runs on
``cuda:{k mod n_gpus}`` there. A Dask client without a GPU never asks about
GPUs and never initialises CUDA. The ``multiprocessing`` backend forks its
workers: with CUDA initialised in the caller's process they could not use
it, so that combination is refused before anything is dispatched
(:func:`check_fork_safe`).

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
* the training and held-out iterators get their own seeded
  :class:`torch.Generator` (``iterator_train__generator``,
  ``iterator_valid__generator``), which drives the ``DataLoader``'s
  shuffling and worker seeds without touching the global generator;
* held-out passes run in eval mode under ``torch.no_grad()`` and draw from
  nothing but their iterator's own generator, so they take no lock: folds
  sharing a process predict at the same time. A held-out iterator without
  a ``generator`` parameter could draw from the global generator; its
  passes run under :data:`RNG_LOCK` and restore the generator's state;
* a net whose training itself draws from the global generator (dropout
  layers, ``RReLU``, attention dropout, or a training iterator without a
  ``generator`` parameter) trains entirely under :data:`RNG_LOCK` with the
  global generator seeded for the task;
* every other write to the global generator that the pruner makes
  (seeding, and restoring a state saved before) also happens under
  :data:`RNG_LOCK`, so it cannot land inside another thread's seeded
  section.

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

The caller's own torch random state is restored when the tasks are done:
its CPU generator always, its GPUs' generators when CUDA was in use in its
process before the fit (:func:`callers_generators`).
"""

import contextlib
import inspect
import multiprocessing
import threading

import numpy as np
import torch
from joblib import effective_n_jobs
from joblib import parallel as joblib_parallel
from joblib.parallel import MultiprocessingBackend, get_active_backend
from torch.utils.data import DataLoader

from ..models import DeviceEvalIterator, DeviceTrainIterator, check_device, gpus_in_use


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


def device_params(net, device):
    """skorch parameters that move ``net`` and its fast-path iterators to ``device``.

    On CUDA the ``DataLoader`` iterators (and the fallback loaders of the
    fast-path ones) also pin their batches, so that copies to the GPU are
    asynchronous, unless the net sets ``pin_memory`` itself.
    """
    params = {"device": device}
    for name in ("iterator_train__device", "iterator_valid__device"):
        # Device-resident iterators keep their own device: left alone, they
        # would serve the data from another GPU than the module's.
        if hasattr(net, name):
            params[name] = device
    if device is not None and torch.device(device).type == "cuda":
        for prefix in ("iterator_train", "iterator_valid"):
            if _loads_batches(getattr(net, prefix)) and (
                    "pin_memory" not in net.get_params_for(prefix)):
                params[f"{prefix}__pin_memory"] = True
    return params


def _loads_batches(iterator):
    """Whether an iterator is a ``DataLoader`` or hands ``pin_memory`` to one."""
    return isinstance(iterator, type) and issubclass(
        iterator, (DataLoader, DeviceTrainIterator, DeviceEvalIterator))


def takes_generator(iterator):
    """Whether an iterator class has an explicit ``generator`` parameter."""
    try:
        return "generator" in inspect.signature(iterator).parameters
    except (TypeError, ValueError):
        return False


def has_own_generator(net, prefix="iterator_valid"):
    """Whether the net's ``prefix`` iterator was given its own ``generator``
    (:func:`seed_params`): then its passes draw nothing from the global one."""
    return isinstance(net.get_params_for(prefix).get("generator"), torch.Generator)


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
    kind = None if device is None else torch.device(device).type
    if kind == "cuda":
        # Every GPU of the process: deferred until CUDA is initialised, so
        # seeding asks nothing of the hardware; the GPUs of other tasks serve
        # only randomness the pruner cannot see (see the module docstring).
        torch.cuda.manual_seed_all(seed)
    elif kind == "mps":
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


def callers_generators():
    """A context restoring the caller's torch generators after the round: the CPU's,
    and the GPUs' when CUDA is in use in this process already (asking nothing
    of the hardware otherwise, as on a Dask client without a GPU)."""
    return torch.random.fork_rng(devices=gpus_in_use())


@contextlib.contextmanager
def quiet_global_rng(net):
    """A held-out pass of ``net`` that leaves torch's global generator as it was.

    A pass whose iterator has its own generator draws nothing from the
    global one and runs as it is, concurrently with other tasks; any other
    runs under :data:`RNG_LOCK` with the global state restored after.
    """
    if has_own_generator(net):
        yield
        return
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        yield


def check_fork_safe(device, n_jobs):
    """Refuse the ``multiprocessing`` backend's forked workers once CUDA is initialised.

    A process forked after CUDA was initialised cannot use CUDA (torch
    raises in the worker, after the data were shipped); tasks on the CPU are
    not concerned.

    Raises
    ------
    RuntimeError
        Naming the backend, and what to use instead.
    """
    backend, _ = get_active_backend()
    if not (isinstance(backend, MultiprocessingBackend) and torch.cuda.is_initialized()
            and effective_n_jobs(n_jobs) > 1 and _start_method(backend) == "fork"):
        return
    if device is not None and check_device(device) == "cpu":
        return
    raise RuntimeError(
        "The joblib 'multiprocessing' backend forks its workers, and CUDA is already "
        "initialised in this process: forked workers cannot use CUDA. Use the 'loky' "
        "backend (the default for n_jobs > 1) or 'dask', or let joblib start its "
        "workers with 'spawn' (JOBLIB_START_METHOD=spawn before joblib is imported), "
        "or train on device='cpu'."
    )


def _start_method(backend):
    """The start method the backend's pool will use, found as joblib finds it."""
    context = (getattr(backend, "backend_kwargs", {}).get("context")
               or joblib_parallel.DEFAULT_MP_CONTEXT or multiprocessing.get_context())
    return context.get_start_method()
