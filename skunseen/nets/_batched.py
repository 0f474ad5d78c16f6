"""Fold batching: the scoring models of one round trained at once, as one module.

The K models of a round (UNSEEN's folds, the repeats of a multi-step refill)
usually train one after another; for the built-in nets they can instead
train as one :class:`~skunseen.models._stacked.StackedModule` holding the K
models side by side. The rules that keep every score unseen and every model
its own:

* model k draws its batches only from its own training rows: each model has
  its own copy of the net's training iterator (the fast path's
  :class:`~skunseen.models.DeviceTrainIterator`, seeded from the task seed
  exactly as in sequential training), and the K iterators are read in
  lockstep, one batch per model per step;
* no batch statistic mixes models: BatchNorm statistics are per model and
  come from that model's own rows (shorter batches are padded, and the
  padding enters no statistic and no loss); held-out rows are only ever
  predicted, in eval mode;
* per-model optimizer state and learning-rate schedule: one optimizer over
  the stacked tensors when every model takes the same number of steps per
  epoch (element-wise optimizers then update each model exactly as its own
  optimizer would), else one optimizer per model over views of the stacked
  tensors;
* per-epoch held-out records for every model, reduced exactly as
  :class:`~skunseen.nets.HeldOutRecorder` does, batch by batch on the device
  (:class:`~skunseen.nets._recording.EpochStatistics`), so every scorer works
  unchanged and recording takes device memory for one batch of every model;
* a round trains on one device, resolved in the process that trains it.

Given the same batches, batched and sequential training give the same
weights up to float rounding (tests check this); with the same seeds they
see the same batches, so a fixed ``random_state`` gives the same coreset
either way, up to that rounding.

:func:`use_fold_batching` decides, for a whole round and before anything
trains, whether it trains this way; :func:`fit_and_record_batched` does it.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from joblib import effective_n_jobs
from skorch.callbacks import LRScheduler, lr_scheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau
from sklearn.base import clone

from .._records import EPOCH_STATISTICS, ScoringRecords, TrainingDiverged
from ..models import (
    DeviceEvalIterator,
    DeviceTrainIterator,
    TriangularLR,
    resolve_device,
    stack_modules,
    stackable,
)
from ._devices import task_seeds
from ._inputs import fold_view
from ._prepare import describe, prepare_net
from ._recording import EpochStatistics, HostRows, task_device

_OPTIMIZERS = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop,
               torch.optim.Adagrad)
# Callbacks a batched round reproduces; skorch's own defaults only log.
_SCHEDULES = (LRScheduler, TriangularLR)
_CRITERION_PARAMS = {"label_smoothing"}


def batching_obstacle(net, extras=None):
    """Why ``net`` cannot train its folds batched, or None when it can.

    Parameters
    ----------
    net : object
        The scoring estimator.
    extras : dict, default=None
        Extras the recorder must produce (embeddings, gradients): batched
        rounds record probabilities and per-epoch statistics only.

    Returns
    -------
    str or None
        A sentence naming what stands in the way.

    Examples
    --------
    >>> from skunseen.nets._batched import batching_obstacle
    >>> from skunseen.models import make_net
    >>> batching_obstacle(make_net("mlp", input_shape=(4,), n_classes=2, device="cpu")) is None
    True
    >>> batching_obstacle(make_net("resnet18", input_shape=(3, 8, 8), n_classes=2,
    ...                            device="cpu"))
    'its module cifar_resnet18 is not a built-in net that can be stacked (MLP, SmallCNN, FastCifarNet)'
    """
    if extras:
        return f"the recorder must produce {sorted(extras)}, which batched rounds do not record"
    if not stackable(net.module):
        name = getattr(net.module, "__name__", type(net.module).__name__)
        return (f"its module {name} is not a built-in net that can be stacked "
                "(MLP, SmallCNN, FastCifarNet)")
    criterion = net.criterion if isinstance(net.criterion, type) else type(net.criterion)
    if criterion is not torch.nn.CrossEntropyLoss or set(
            net.get_params_for("criterion")) - _CRITERION_PARAMS:
        return "its criterion is not a plain CrossEntropyLoss"
    if net.optimizer not in _OPTIMIZERS or net.get_params_for("optimizer").get("param_groups"):
        return "its optimizer is not one of SGD, Adam, AdamW, RMSprop, Adagrad without param groups"
    if net.iterator_train is not DeviceTrainIterator or net.iterator_valid is not DeviceEvalIterator:
        return "it does not use the fast-path iterators"
    if net.train_split is not None:
        return "it holds out a validation split (train_split)"
    for name, callback in _callbacks(net):
        if not isinstance(callback, _SCHEDULES):
            return (f"its callback {name!r} ({type(callback).__name__}) is not a "
                    "learning-rate schedule")
        if isinstance(callback, LRScheduler) and _policy(callback) is ReduceLROnPlateau:
            return f"its callback {name!r} monitors a score (ReduceLROnPlateau)"
    return None


def use_fold_batching(setting, net, *, n_tasks, devices, sample_shape, extras=None,
                      n_jobs=None, fit_params=None):
    """Whether a round of ``n_tasks`` scoring models trains batched.

    Parameters
    ----------
    setting : bool or "auto"
        The pruner's ``fold_batching``.
    net : object
        The scoring estimator.
    n_tasks : int
        Models still to train in the round.
    devices : list of str or None
        Each task's device request (a batched round trains on the first).
    sample_shape : tuple of int
        Shape of one input row.
    extras : dict, default=None
        Extras the recorder must produce.
    n_jobs : int, default=None
        The pruner's ``n_jobs``: ``"auto"`` leaves rounds to joblib when
        parallel workers were asked for (``n_jobs``, or the active
        :func:`joblib.parallel_config`, e.g. a Dask cluster's workers).
    fit_params : dict, default=None
        Metadata routed to the net's ``fit`` (e.g. ``sample_weight``), which
        a batched round does not take.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        ``setting=True`` for a net or round that cannot be batched.
    """
    if setting is False:
        return False
    obstacle = batching_obstacle(net, extras)
    if obstacle is None and fit_params:
        obstacle = f"fit parameters {sorted(fit_params)} are routed to the net's fit"
    if setting is True:
        if obstacle is not None:
            raise ValueError(
                f"fold_batching=True, but the scoring models cannot train batched: {obstacle}. "
                "Use fold_batching='auto' (batch where possible) or False."
            )
        return n_tasks > 1
    # A batched round trains in this process, so the device is resolved here,
    # and only once the round would not go to joblib's workers.
    return (n_tasks > 1 and obstacle is None and effective_n_jobs(n_jobs) == 1
            and _batching_pays(net, devices[0], sample_shape))


#: Multiply-accumulates per row up to which a batched round was measured to be
#: faster than sequential training on the CPU (benchmarks/fold_batching.py):
#: per-step overheads dominate small nets, and stacking removes K-1 of them;
#: above it the grouped convolutions and larger batched matrix products cost
#: more than they save.
CPU_MACS_LIMIT = 1_000_000


def _batching_pays(net, device, sample_shape):
    """The measured rule of ``fold_batching="auto"``."""
    device = device if device is not None else net.device
    if device is None or device == "auto":
        device = resolve_device(device)  # this process would train the round
    if torch.device(device).type != "cpu":
        # not measured on an accelerator yet: the GPU suite measures it
        return False
    return macs_per_row(net, sample_shape) <= CPU_MACS_LIMIT


def macs_per_row(net, sample_shape):
    """Multiply-accumulates of the linear and convolution layers for one row.

    Parameters
    ----------
    net : skorch NeuralNet
        An unfitted net (a CPU copy of its module is built).
    sample_shape : tuple of int
        Shape of one row.

    Returns
    -------
    int

    Examples
    --------
    >>> from skunseen.nets._batched import macs_per_row
    >>> from skunseen.models import make_net
    >>> macs_per_row(make_net("mlp", input_shape=(64,), n_classes=10, device="cpu"), (64,))
    9472
    """
    probe = clone(net).set_params(device="cpu")
    with torch.random.fork_rng(devices=[]):
        probe.initialize()
    counted, total = set(), 0

    def count(layer, inputs, output):
        nonlocal total
        if layer in counted:  # test-time augmentation calls layers again
            return
        counted.add(layer)
        if isinstance(layer, torch.nn.Linear):
            total += layer.in_features * layer.out_features * (output.numel() // output.shape[-1])
        else:
            total += output.numel() * layer.in_channels // layer.groups * math.prod(
                layer.kernel_size)

    layers = [m for m in probe.module_.modules()
              if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    try:
        with torch.no_grad():
            probe.module_.eval()(torch.zeros((1, *sample_shape)))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _callbacks(net):
    """The net's own ``(name, callback)`` pairs (skorch's defaults only log)."""
    return net.callbacks if isinstance(net.callbacks, list) else []


def _policy(callback):
    """The torch scheduler class of a skorch ``LRScheduler``, looked up as skorch does."""
    policy = callback.policy
    return getattr(lr_scheduler, policy) if isinstance(policy, str) else policy


class _Schedules:
    """The net's learning-rate schedules, applied to one optimizer."""

    def __init__(self, net, optimizer, steps_per_epoch):
        self.optimizer = optimizer
        self.epoch_schedulers, self.batch_schedulers, self.triangles = [], [], []
        self.total = net.max_epochs * steps_per_epoch
        self.step = 0
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        for _, callback in _callbacks(net):
            if isinstance(callback, TriangularLR):
                self.triangles.append(callback)
                continue
            scheduler = _policy(callback)(optimizer, **callback.kwargs)
            (self.batch_schedulers if callback.step_every == "batch"
             else self.epoch_schedulers).append(scheduler)

    def before_step(self):
        for triangle in self.triangles:
            factor = triangle.factor(min(self.step, self.total) / max(self.total, 1))
            for group in self.optimizer.param_groups:
                group["lr"] = group["initial_lr"] * factor
        self.step += 1

    def after_step(self):
        for scheduler in self.batch_schedulers:
            scheduler.step()

    def after_epoch(self):
        for scheduler in self.epoch_schedulers:
            scheduler.step()


class _Round:
    """The state of one batched round: K nets, their stacked module, data and records."""

    def __init__(self, estimator, X, y, tasks, *, device, record_dynamics):
        self.tasks = tasks
        self.record_dynamics = record_dynamics
        device = task_device(estimator, device, 0)
        self.nets = [prepare_net(estimator, task.seed, device=device) for task in tasks]
        first = self.nets[0]
        self.device = torch.device(first.device)
        self.k = len(tasks)
        self.stacked = stack_modules([net.module_ for net in self.nets])
        self.autocast = bool(getattr(first, "autocast", False)) and self.device.type == "cuda"
        self.smoothing = first.get_params_for("criterion").get("label_smoothing", 0.0)
        self.train_sets = [net.get_dataset(fold_view(X, y, task.train_indices),
                                           y[task.train_indices]) for net, task in
                           zip(self.nets, tasks)]
        self.score_sets = [net.get_dataset(fold_view(X, None, task.score_indices))
                           for net, task in zip(self.nets, tasks)]
        self.score_labels = [np.asarray(y[task.score_indices], dtype=np.int64) for task in tasks]
        steps = [len(net.get_iterator(ds, training=True))
                 for net, ds in zip(self.nets, self.train_sets)]
        self.optimizers = self._optimizers(steps)
        self.losses = [[] for _ in tasks]
        self.epochs = [{name: [] for name in EPOCH_STATISTICS} for _ in tasks]
        self.statistics = [EpochStatistics(labels) for labels in self.score_labels]
        self.final_proba = None

    def _optimizers(self, steps):
        """``[(optimizer, schedules, models)]``: one over the stacked tensors when
        every model takes the same steps, else one per model over its views."""
        net = self.nets[0]
        params = list(self.stacked.parameters())
        if len(set(steps)) == 1:
            optimizer = self._optimizer(params)
            return [(optimizer, _Schedules(net, optimizer, steps[0]), list(range(self.k)))]
        self.views = [[p.detach().chunk(self.k)[k].requires_grad_() for p in params]
                      for k in range(self.k)]
        out = []
        for k in range(self.k):
            optimizer = self._optimizer(self.views[k])
            out.append((optimizer, _Schedules(net, optimizer, steps[k]), [k]))
        return out

    def _optimizer(self, params):
        net = self.nets[0]
        kwargs = dict(net.get_params_for("optimizer"))
        kwargs.setdefault("lr", net.lr)
        # One multi-tensor update instead of a loop over the stacked tensors
        # (torch picks it on CUDA only); the arithmetic is the same.
        kwargs.setdefault("foreach", True)
        return net.optimizer(params, **kwargs)

    # -------------------------------------------------------------- training
    def train(self):
        n_epochs = self.nets[0].max_epochs
        for epoch in range(n_epochs):
            self._train_epoch()
            self._check_finite()
            for _, schedules, _ in self.optimizers:
                schedules.after_epoch()
            if self.record_dynamics:
                # the last epoch's pass also gives the final model's probabilities
                self._record(statistics=True, proba=epoch == n_epochs - 1)

    def _train_epoch(self):
        iterators = [iter(net.get_iterator(ds, training=True))
                     for net, ds in zip(self.nets, self.train_sets)]
        self.stacked.train()
        while True:
            batches = [next(it, None) for it in iterators]
            active = [k for k, batch in enumerate(batches) if batch is not None]
            if not active:
                break
            self._train_step(batches, active)

    def _train_step(self, batches, active):
        X, lengths = self._stack([b[0] if b is not None else None for b in batches])
        targets, _ = self._stack([b[1] if b is not None else None for b in batches])
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.stacked(X, lengths)
        rows = F.cross_entropy(logits.float().flatten(0, 1), targets.long().flatten(),
                               label_smoothing=self.smoothing, reduction="none")
        rows = rows.view(self.k, -1)
        if lengths is None:
            per_model = rows.mean(dim=1)
        else:
            n = torch.as_tensor(lengths, device=rows.device)
            real = torch.arange(rows.shape[1], device=rows.device) < n[:, None]
            per_model = (rows * real).sum(dim=1) / n.clamp_min(1)
        steppers = [entry for entry in self.optimizers if set(entry[2]) & set(active)]
        for optimizer, schedules, _ in steppers:
            optimizer.zero_grad(set_to_none=True)
            schedules.before_step()
        per_model.sum().backward()
        if len(self.optimizers) > 1:
            grads = [None if p.grad is None else p.grad.chunk(self.k)
                     for p in self.stacked.parameters()]
            for optimizer, _, (k,) in steppers:
                for view, grad in zip(self.views[k], grads):
                    view.grad = None if grad is None else grad[k]
            for p in self.stacked.parameters():
                p.grad = None
        for optimizer, schedules, _ in steppers:
            optimizer.step()
            schedules.after_step()
        detached = per_model.detach()
        for k in active:
            self.losses[k].append(detached[k])

    def _stack(self, tensors):
        """K batches (None: a model without one) as one ``(K, B, ...)`` tensor, the shorter
        ones zero-padded at the end, and the K row counts (None when all are full)."""
        lengths = [0 if t is None else len(t) for t in tensors]
        size = max(lengths)
        if min(lengths) == size:
            return torch.stack(tensors), None
        template = next(t for t in tensors if t is not None)
        out = template.new_zeros((self.k, size, *template.shape[1:]))
        for k, t in enumerate(tensors):
            if t is not None:
                out[k, :len(t)] = t
        return out, lengths

    def _check_finite(self):
        for k, losses in enumerate(self.losses):
            if not losses:
                continue
            epoch_loss = float(torch.stack(losses).mean())
            losses.clear()
            if not math.isfinite(epoch_loss):
                raise TrainingDiverged(f"its training loss became {epoch_loss}", k)

    # ------------------------------------------------------------- recording
    @torch.no_grad()
    def _record(self, *, statistics, proba):
        """Every model predicts its own scored rows (eval mode), batch by batch: the
        per-epoch statistics and/or the final probabilities, kept on the host."""
        self.stacked.eval()
        iterators = [iter(net.get_iterator(ds, training=False))
                     for net, ds in zip(self.nets, self.score_sets)]
        outputs = [HostRows(len(labels), self.device, pinned=False)
                   for labels in self.score_labels] if proba else None
        offsets = [0] * self.k
        while True:
            batches = [next(it, None) for it in iterators]
            if all(b is None for b in batches):
                break
            X, _ = self._stack([b[0] if b is not None else None for b in batches])
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
                logits = self.stacked(X).float()
            for k, batch in enumerate(batches):
                if batch is None:
                    continue
                log_proba = torch.log_softmax(logits[k, :len(batch[0])], dim=-1)
                if statistics:
                    self.statistics[k].add(offsets[k], log_proba)
                if proba:
                    outputs[k].put("proba", offsets[k], log_proba.exp())
                offsets[k] += len(log_proba)
        if statistics:
            for k, recorder in enumerate(self.statistics):
                for name, values in recorder.end().items():
                    self.epochs[k][name].append(values)
        if proba:
            self.final_proba = [out.arrays()["proba"] for out in outputs]

    def records(self):
        if self.final_proba is None:
            self._record(statistics=False, proba=True)
        out = []
        for k, task in enumerate(self.tasks):
            epochs = ({name: np.stack(v, axis=1) for name, v in self.epochs[k].items()}
                      if self.record_dynamics and self.epochs[k]["correct"] else {})
            out.append(ScoringRecords(
                indices=np.asarray(task.score_indices, dtype=np.int64),
                y=self.score_labels[k], proba=self.final_proba[k], epochs=epochs,
                model=describe(self.nets[k])))
        return out


def fit_and_record_batched(estimator, X, y, tasks, *, n_classes, record_dynamics, device=None):
    """Train the tasks' models at once and record the rows each one scores.

    The batched counterpart of :func:`skunseen.nets._recording.fit_and_record`
    for a list of tasks sharing one estimator and one device.

    Parameters
    ----------
    estimator : skorch NeuralNet
        The unfitted scoring net; :func:`batching_obstacle` must return None.
    X : ndarray or tensor
        All rows, as the net consumes them.
    y : ndarray of int
        Encoded labels of all rows.
    tasks : sequence of ScoringTask
        At least one task.
    n_classes : int
        Number of classes in the whole data.
    record_dynamics : bool
        Record per-epoch statistics.
    device : str, default=None
        Overrides the net's device: a request, resolved in this process
        (``"cuda"``: its first GPU).

    Returns
    -------
    list of (ScoringRecords, int)
        Per task, in order: its records and the number of epochs trained.

    Raises
    ------
    TrainingDiverged
        When a model's training loss stops being finite; ``exc.args[1]`` is
        the position of its task.
    """
    with torch.random.fork_rng(devices=[]):
        # what the models draw while training (dropout), seeded like sequential training
        torch.manual_seed(task_seeds(tasks[0].seed)[2])
        state = _Round(estimator, X, y, list(tasks), device=device,
                       record_dynamics=record_dynamics)
        state.train()
        records = state.records()
    for rec in records:
        if rec.proba.shape[1] != n_classes:
            raise ValueError(
                f"The net outputs {rec.proba.shape[1]} classes but y has {n_classes}; "
                "set the module's number of outputs (e.g. module__n_classes) to match.")
    return [(rec, state.nets[0].max_epochs) for rec in records]
