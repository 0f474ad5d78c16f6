"""Training one scoring model and recording its outputs on the rows it scores.

For UNSEEN those rows are the held-out fold (the model never trains on them);
for the fitting baseline they are the training rows themselves. The recording
is read-only with respect to training: it runs in eval mode without gradients
and leaves the global RNG state as it was, so a net trained with the
recorder attached ends with exactly the weights it would have without it, and
nothing it records reaches the history that early stopping or checkpointing
read.

Recording runs batch by batch where the model is: every batch's outputs are
reduced to per-sample statistics on the device and copied to the host
(:class:`EpochStatistics`, :class:`HostRows`), so the device memory that
recording takes grows with the batch, never with the number of rows scored.
"""

import functools
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from sklearn.base import clone

from .._progress import make_bar
from .._records import (
    EMBEDDING,
    EPOCH_STATISTICS,
    GRAD_NORM,
    ScoringRecords,
    TrainingDiverged,
    check_extra_requests,
    check_probabilities,
)
from ..scores import (
    epoch_statistics,
    epoch_window,
    grad_norm_batches,
    last_layer_grad_norms,
    last_linear,
)
from ..models import resolve_device, to_device
from ._devices import (
    RNG_LOCK,
    draws_global_rng,
    in_process_workers,
    quiet_global_rng,
    seeded_training,
    task_seeds,
    torch_threads,
)
from ._inputs import fold_view, net_targets
from ._prepare import PROBABILITIES_FIX, describe, prepare_net


#: Where float16 ends: previous log-probabilities below it (never met in
#: practice, logits 65,504 apart) are kept at it rather than as -inf.
_FLOAT16_MIN = float(torch.finfo(torch.float16).min)


class HostRows:
    """Per-row outputs of one pass, copied from the device batch by batch into host arrays.

    Parameters
    ----------
    n_rows : int
        Rows of the pass.
    device : torch.device
        Where the outputs are computed.
    pinned : bool, default=True
        On CUDA, copy into pinned host memory without waiting (the host
        waits once, in :meth:`arrays`); else every copy is an ordinary one
        (for large outputs read once, which pinned memory would double).
    """

    def __init__(self, n_rows, device, pinned=True):
        self.n_rows = n_rows
        self.device = torch.device(device)
        self.pinned = pinned and self.device.type == "cuda"
        self._buffers = {}

    def put(self, name, start, values):
        """Copy ``values`` (a batch, rows first) to rows ``start ...`` of ``name``."""
        buffer = self._buffers.get(name)
        if buffer is None:
            buffer = self._buffers[name] = torch.empty(
                (self.n_rows, *values.shape[1:]), dtype=values.dtype, pin_memory=self.pinned)
        buffer[start:start + len(values)].copy_(values, non_blocking=self.pinned)

    def arrays(self):
        """Every output as an ndarray, once the copies are done."""
        if not self.pinned:
            return {name: buffer.numpy() for name, buffer in self._buffers.items()}
        torch.cuda.current_stream(self.device).synchronize()
        # copies leave the pinned memory free for the next pass
        return {name: buffer.numpy().copy() for name, buffer in self._buffers.items()}


class EpochStatistics:
    """The per-epoch statistics of the rows a model scores, computed batch by batch.

    Every batch of log-probabilities is reduced on its device by
    :func:`~skunseen.scores.epoch_statistics` (the reduction is row-wise) and
    the statistics are copied to the host. Only the ``change`` statistic
    reads the previous epoch, and it reads the whole previous distribution
    of every row; that one state persists between epochs, on the host, as
    float16 log-probabilities (half the memory of float32). Rounding a
    previous log-probability ``log q_c`` to float16 moves it by at most
    ``2**-11 |log q_c|`` (``2**-25`` below ``2**-14``), so ``change`` moves by
    at most ``2**-11 * sum_c p_c |log q_c| + 2**-25``: ``2**-11`` times the
    cross-entropy between the two epochs' predictions (measured effect on
    ``tdds``: ``benchmarks/recording_memory.py``).

    Parameters
    ----------
    y : array-like of int of shape (n_rows,)
        Labels of the rows, in the order the batches come.
    """

    def __init__(self, y):
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.previous = None
        self._has_previous = False
        self._rows = None

    def add(self, start, log_proba):
        """Record the batch of rows ``start ...``: log-probabilities (n_batch, n_classes)."""
        device = log_proba.device
        if self._rows is None:
            self._rows = HostRows(len(self.y), device)
            if self._rows.pinned and not self.y.is_pinned():
                self.y = self.y.pin_memory()
        pinned = self._rows.pinned
        rows = slice(start, start + len(log_proba))
        previous = None
        if self._has_previous:
            previous = self.previous[rows].to(device, non_blocking=pinned)
        labels = self.y[rows].to(device, non_blocking=pinned)
        for name, values in epoch_statistics(log_proba, labels, previous).items():
            self._rows.put(name, start, values)
        if self.previous is None:
            self.previous = torch.empty((len(self.y), log_proba.shape[1]),
                                        dtype=torch.float16, pin_memory=pinned)
        # Read above and written here in one stream: the read comes first.
        self.previous[rows].copy_(log_proba.clamp_min(_FLOAT16_MIN).half(),
                                  non_blocking=pinned)

    def end(self):
        """The epoch's statistics: name -> ndarray of shape (n_rows,)."""
        arrays = self._rows.arrays()
        self._rows, self._has_previous = None, True
        return arrays


@dataclass
class _PassOutputs:
    """What one eval pass of :class:`HeldOutRecorder` gives, on the host."""

    statistics: dict = None
    proba: np.ndarray = None
    embedding: np.ndarray = None
    head_is_logits: bool = False


class HeldOutRecorder(Callback):
    """skorch callback recording a net's outputs on given rows at every epoch.

    At the end of every epoch the net predicts ``X`` (eval mode, no gradient,
    the net's own ``iterator_valid``) and the recorder keeps the reduced
    per-sample statistics of :data:`skunseen.scores.EPOCH_STATISTICS`; at the
    end of training it keeps the final class probabilities, and the
    ``extras`` asked for. State lives in trailing-underscore attributes that
    are reset when training begins. Nothing kept grows with the number of
    classes times the number of epochs: per-epoch records are one value per
    sample, extras one array per sample. Every batch is reduced on the
    net's device and copied to the host (:class:`EpochStatistics`): the
    device memory recording takes grows with the batch, not with ``X``, and
    the previous epoch's log-probabilities, which the ``change`` statistic
    reads, are kept on the host in float16.

    Parameters
    ----------
    X : array-like, tensor or Dataset
        The rows to record, in the form the net consumes.
    y : array-like of int of shape (n_samples,)
        Their encoded labels.
    every_epoch : bool, default=True
        Record per-epoch statistics (training dynamics). ``False`` records only
        the final probabilities (and the extras).
    extras : tuple of str or dict of str to dict, default=()
        Further per-sample outputs, stored in ``extras_`` under their name;
        give names, or a dict mapping names to options:

        ``"embedding"``
            Penultimate-layer embeddings of the final model, float32 array of
            shape (n_samples, n_features): the input of the module's last
            ``torch.nn.Linear`` (:func:`skunseen.scores.last_linear`), taken
            with a forward hook during the final prediction pass. A module
            with a method ``embed(X)`` gets that called on every batch
            instead, for architectures whose embedding is not the head's
            input.
        ``"grad_norm"``
            Per-sample gradient norm of the loss (GraNd), shape (n_samples,),
            averaged over the chosen epochs. Options: ``last_layer`` (default
            ``False``): w.r.t. the last ``Linear`` layer's weight and bias
            only; ``epochs`` (default ``None``, the end of training): an int,
            ``(start, stop)`` or slice of 0-based epoch positions, resolved
            against ``max_epochs``, at whose end the norms are computed.
            Gradients come from :func:`skunseen.scores.grad_norm_batches`
            (``torch.func``, eval mode: BatchNorm running statistics, no
            dropout). With ``last_layer=True`` and a head whose output is the
            logits of a softmax net, the closed form
            :func:`skunseen.scores.last_layer_grad_norms` of the prediction
            pass is used, which costs no backward pass.

    Attributes
    ----------
    epochs_ : dict of str to list of ndarray
        One array of shape (n_samples,) per epoch for every statistic.
    proba_ : ndarray of shape (n_samples, n_classes)
        Final class probabilities, set when training ends.
    extras_ : dict of str to ndarray
        The requested extras, set when training ends.
    seconds_ : float
        Time spent recording.

    See Also
    --------
    skunseen.scores.ScoringRecords : what the recorded outputs become.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skunseen.nets import HeldOutRecorder
    >>> X = np.random.RandomState(0).randn(40, 3).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> recorder = HeldOutRecorder(X[30:], y[30:], extras=("embedding", "grad_norm"))
    >>> module = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(),
    ...                              torch.nn.Linear(5, 2))
    >>> net = NeuralNetClassifier(module, max_epochs=4,
    ...                           criterion=torch.nn.CrossEntropyLoss,
    ...                           train_split=None, verbose=0,
    ...                           callbacks=[("recorder", recorder)])
    >>> _ = net.fit(X[:30], y[:30])
    >>> len(recorder.epochs_["correct"]), recorder.proba_.shape
    (4, (10, 2))
    >>> recorder.extras_["embedding"].shape, recorder.extras_["grad_norm"].shape
    ((10, 5), (10,))
    """

    def __init__(self, X, y, every_epoch=True, extras=()):
        self.X = X
        self.y = y
        self.every_epoch = every_epoch
        self.extras = extras

    def on_train_begin(self, net, **kwargs):
        self._requests = check_extra_requests(self.extras)
        self._grad_epochs = None
        grad = self._requests.get(GRAD_NORM)
        if grad is not None and grad["epochs"] is not None:
            try:
                self._grad_epochs = set(epoch_window(grad["epochs"], net.max_epochs))
            except ValueError as exc:
                raise ValueError(f"grad_norm epochs: {exc}") from exc
        self.epochs_ = {name: [] for name in EPOCH_STATISTICS}
        self.proba_ = None
        self.extras_ = {}
        self.seconds_ = 0.0
        self._statistics = EpochStatistics(self.y) if self.every_epoch else None
        self._epoch = 0
        self._grad_sum = None
        self._grad_count = 0

    def on_epoch_end(self, net, **kwargs):
        epoch, self._epoch = self._epoch, self._epoch + 1
        grad_now = self._grad_epochs is not None and epoch in self._grad_epochs
        # The closed-form last-layer norm reads the prediction pass; the
        # full-network norm needs its own pass, so no prediction is made for
        # it when dynamics are off.
        closed_form = grad_now and self._requests[GRAD_NORM]["last_layer"]
        if not (self.every_epoch or closed_form):
            if grad_now:
                self._add_grad_norms(net)
            return
        outputs = self._pass(net, statistics=self.every_epoch, proba=closed_form,
                             embed=closed_form)
        if self.every_epoch:
            for name, values in outputs.statistics.items():
                self.epochs_[name].append(values)
        if grad_now:
            self._add_grad_norms(net, outputs)

    def on_train_end(self, net, **kwargs):
        # A second pass rather than the last epoch's outputs: callbacks such as
        # checkpoint restoring may have changed the weights after that epoch.
        grad = self._requests.get(GRAD_NORM)
        grad_at_end = grad is not None and grad["epochs"] is None
        embed = EMBEDDING in self._requests or (grad_at_end and grad["last_layer"])
        outputs = self._pass(net, proba=True, embed=embed)
        self.proba_ = outputs.proba
        self._statistics = None  # the previous epoch's state is not needed any more
        if EMBEDDING in self._requests:
            self.extras_[EMBEDDING] = outputs.embedding
        if grad_at_end:
            self._add_grad_norms(net, outputs)
        if grad is not None:
            if self._grad_count == 0:
                raise ValueError(
                    f"grad_norm epochs={grad['epochs']!r} selects no epoch of the "
                    f"{self._epoch} trained (training stopped early); choose earlier "
                    "epochs or epochs=None (the end of training)."
                )
            self.extras_[GRAD_NORM] = self._grad_sum / self._grad_count

    def _pass(self, net, *, statistics=False, proba=False, embed=False):
        """One eval pass over X, batch by batch: per-epoch statistics, probabilities
        and embeddings (each when asked), and whether the last Linear layer's
        output is the net's output."""
        start = time.perf_counter()
        module = net.module_
        custom_embed = callable(getattr(module, "embed", None))
        head = _find_last_linear(module) if embed else None
        if embed and head is None and not custom_embed:
            last_linear(module)  # raises the explanatory error
        calls = []
        hook = None if head is None else head.register_forward_hook(
            lambda layer, args, out: calls.append((args[0], out)))
        host, offset, head_is_logits = None, 0, head is not None
        try:
            with quiet_global_rng(net), torch.no_grad():
                for batch in net.get_iterator(net.get_dataset(self.X), training=False):
                    calls.clear()
                    out = net.evaluation_step(batch, training=False)
                    out = (out[0] if isinstance(out, tuple) else out).float()
                    log_proba = _to_log_proba(net, out, check=True)
                    if host is None:
                        host = HostRows(len(self.y), log_proba.device, pinned=False)
                    if statistics:
                        self._statistics.add(offset, log_proba)
                    if proba:
                        host.put("proba", offset, log_proba.exp())
                    if embed:
                        features, from_head = self._features(net, batch, out, calls)
                        head_is_logits = head_is_logits and from_head
                        host.put("embedding", offset, features.reshape(len(features), -1).float())
                    offset += len(log_proba)
                stats = self._statistics.end() if statistics else None
        finally:
            if hook is not None:
                hook.remove()
        self.seconds_ += time.perf_counter() - start
        arrays = {} if host is None else host.arrays()
        return _PassOutputs(stats, arrays.get("proba"), arrays.get("embedding"),
                            head_is_logits and _softmax_outputs(net))

    @staticmethod
    def _features(net, batch, out, calls):
        """A batch's embedding, and whether the head's output is the net's output."""
        module = net.module_
        if callable(getattr(module, "embed", None)):
            inputs = to_tensor(to_device(unpack_data(batch)[0], net.device), device=net.device)
            from_head = bool(calls) and torch.equal(calls[-1][1].float(), out)
            return module.embed(inputs), from_head
        if not calls:
            raise ValueError(
                f"The last Linear layer of {type(module).__name__} is not "
                "called in its forward pass, so its input is no embedding; "
                "give the module an `embed(X)` method."
            )
        return calls[-1][0], torch.equal(calls[-1][1].float(), out)

    def _add_grad_norms(self, net, outputs=None):
        start = time.perf_counter()
        last_layer = self._requests[GRAD_NORM]["last_layer"]
        if last_layer and outputs is not None and outputs.embedding is not None and (
                outputs.head_is_logits):
            norms = last_layer_grad_norms(
                outputs.embedding, outputs.proba, np.asarray(self.y),
                bias=_find_last_linear(net.module_).bias is not None)
        else:
            with quiet_global_rng(net):
                norms = grad_norm_batches(net.module_, self._batches(net),
                                          last_layer=last_layer,
                                          log_proba=functools.partial(_to_log_proba, net))
        self._grad_sum = norms if self._grad_sum is None else self._grad_sum + norms
        self._grad_count += 1
        self.seconds_ += time.perf_counter() - start

    def _batches(self, net):
        """``(inputs, labels)`` tensors of X in the eval iterator's order, on the net's device."""
        labels = torch.as_tensor(np.asarray(self.y), dtype=torch.long)
        offset = 0
        for batch in net.get_iterator(net.get_dataset(self.X), training=False):
            inputs = to_tensor(to_device(unpack_data(batch)[0], net.device), device=net.device)
            if not torch.is_tensor(inputs):
                raise TypeError(
                    "Per-sample gradients need tensor inputs; the net's batches are "
                    f"{type(inputs).__name__}."
                )
            yield inputs, to_device(labels[offset:offset + len(inputs)], net.device)
            offset += len(inputs)

    def records(self, indices, model="the scoring model"):
        """The recorded outputs as :class:`~skunseen.scores.ScoringRecords`."""
        epochs = {}
        if self.every_epoch and self.epochs_["correct"]:
            epochs = {name: np.stack(values, axis=1) for name, values in self.epochs_.items()}
        return ScoringRecords(
            indices=np.asarray(indices, dtype=np.int64),
            y=np.asarray(self.y, dtype=np.int64),
            proba=self.proba_,
            epochs=epochs,
            extras=dict(self.extras_),
            model=model,
        )


def _find_last_linear(module):
    layers = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    return layers[-1] if layers else None


def _softmax_outputs(net):
    """Whether the net's probabilities are the softmax of the module's outputs."""
    nonlinearity = net._get_predict_nonlinearity()
    return isinstance(nonlinearity, functools.partial) and nonlinearity.func is torch.softmax


def _to_log_proba(net, outputs, check=False):
    """Log-probabilities of the module's outputs, as the net's ``predict_proba`` gives them.

    With ``check``, outputs that ``predict_proba`` does not turn into
    probabilities raise (not inside ``torch.func`` transforms, which have no
    values to check).
    """
    if _softmax_outputs(net):
        return torch.log_softmax(outputs, dim=-1)
    proba = net._get_predict_nonlinearity()(outputs)
    if check:
        check_probabilities(proba.detach().cpu().numpy(), f"The scoring {describe(net)}",
                            fix=PROBABILITIES_FIX)
    return torch.log(proba.clamp_min(torch.finfo(torch.float32).tiny))


class _StopWhenDiverged(Callback):
    """Stops a net as soon as its training loss is not finite.

    The remaining epochs could only produce NaN outputs, so training stops
    there and the pruner reports the task instead of scoring with them.
    """

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is not None and not np.isfinite(loss):
            raise TrainingDiverged(
                f"its training loss became {loss} in epoch {len(net.history)}"
            )


def fit_net(estimator, X, y, task, *, n_classes, recording, device, fit_params):
    """Train the task's net on its rows with a :class:`HeldOutRecorder` on the scored rows.

    Parameters
    ----------
    estimator : skorch NeuralNet
        The unfitted scoring net (:func:`~skunseen.nets._prepare.prepare_net`
        makes the task's clone).
    X : array-like, tensor or Dataset
        All rows, as the net consumes them (:func:`~skunseen.nets._inputs.as_net_input`);
        its rows are read through index views, never copied.
    y : ndarray of int
        Encoded labels of all rows.
    task : ScoringTask
        Rows to train on and to score, and the seed.
    n_classes : int
        Number of classes in the whole data.
    recording : Recording
        What to record besides the final probabilities.
    device : str or None
        Overrides the net's device (a device of this process).
    fit_params : dict
        Keyword arguments of the net's ``fit``, restricted to the training rows.

    Returns
    -------
    records : ScoringRecords
    n_epochs : int

    Raises
    ------
    TrainingDiverged
        When the training loss stops being finite.
    KeyboardInterrupt
        When training was interrupted: skorch ends ``fit`` quietly on one,
        and a model trained part of the way must not be scored as if done.
    """
    recorder = HeldOutRecorder(fold_view(X, None, task.score_indices), y[task.score_indices],
                               every_epoch=recording.dynamics, extras=recording.extras)
    net = prepare_net(estimator, task.seed, device=device, callbacks=[
        ("skunseen_divergence", _StopWhenDiverged()),
        ("skunseen_recorder", recorder),
        EpochCount.named(),
    ], warm_start=True)  # fit must not initialise again: prepare_net did
    # Index views, not copies: K folds of an image array cost no K copies.
    X_train = fold_view(X, net_targets(net, y), task.train_indices)
    with seeded_training(net, task_seeds(task.seed)[2]):
        net.fit(X_train, net_targets(net, y[task.train_indices]), **fit_params)
    raise_if_interrupted(net, task.name)
    records = recorder.records(task.score_indices, model=describe(net))
    if records.proba.shape[1] != n_classes:
        raise ValueError(
            f"The net outputs {records.proba.shape[1]} classes but y has {n_classes}; "
            "set the module's number of outputs (e.g. module__n_classes) to match."
        )
    return records, len(net.history)


class EpochCount(Callback):
    """Counts the epochs whose end every callback before it saw.

    Placed after all other callbacks, it does not count an epoch that a
    ``KeyboardInterrupt`` cut short, whether Ctrl-C landed in the training
    loop or a callback raised it at the epoch's end: skorch adds an epoch's
    history row when the epoch begins, so the history alone cannot tell.
    ``n_epochs_`` is reset when training begins.
    """

    NAME = "skunseen_epoch_count"

    @classmethod
    def named(cls):
        return cls.NAME, cls()

    def on_train_begin(self, net, **kwargs):
        self.n_epochs_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.n_epochs_ += 1


def raise_if_interrupted(net, name="the net"):
    """Raise ``KeyboardInterrupt`` when a fitted net stopped short of ``max_epochs``
    for any reason but skorch's :class:`~skorch.callbacks.EarlyStopping`.

    skorch's ``fit`` catches ``KeyboardInterrupt`` (Ctrl-C, or a callback
    raising it) and returns as if training had ended; a model cut short
    there must not be recorded, stored or evaluated as a trained one. The
    net counts its finished epochs with an :class:`EpochCount` callback.
    """
    n_epochs = dict(net.callbacks_)[EpochCount.NAME].n_epochs_
    if n_epochs >= net.max_epochs:
        return
    if any(isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
           for _, callback in getattr(net, "callbacks_", [])):
        return
    raise KeyboardInterrupt(
        f"Training of {name} was interrupted after {n_epochs} of {net.max_epochs} epochs."
    )


class NetTaskRunner:
    """One net task as a joblib job (picklable): :func:`fit_net` with the task's threads,
    on the device its request resolves to in the process that runs it.

    Parameters
    ----------
    n_threads : int or None
        torch intra-op threads of the task (``None``: leave them).
    """

    def __init__(self, n_threads=None):
        self.n_threads = n_threads

    def __call__(self, estimator, X, y, task, *, position, device, **options):
        device = task_device(estimator, device, position)
        with torch_threads(self.n_threads):
            return fit_net(estimator, X, y, task, device=device, **options)


def task_device(estimator, device, position):
    """The device of the task at ``position``, resolved here, where the task runs:
    ``"cuda"`` is the GPUs this process sees.

    Raises
    ------
    ValueError
        When this process has no such device, naming the net when the
        device is the net's own.
    """
    if device is None:
        return None
    try:
        return resolve_device(device, position)
    except ValueError as exc:
        if str(device) != str(estimator.device):
            raise  # the pruner's device, which the message names
        raise ValueError(
            f"The {describe(estimator)} has device={device!r}, which cannot be used where "
            f"its scoring task runs: {exc}. Set the pruner's device='cpu' (it applies to "
            "every scoring net) or the net's own device."
        ) from None


def warn_if_serialised(estimator, n_pending, n_jobs):
    """Say so when threads would train a net one at a time (see _parallel)."""
    if n_pending < 2 or in_process_workers(n_jobs) == 1:
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
            stacklevel=4,
        )


class EpochProgress(Callback):
    """skorch callback showing a bar over a net's epochs with its training loss.

    Parameters
    ----------
    desc : str, default="epochs"
        Label of the bar.
    leave : bool, default=False
        Keep the finished bar on screen (``False`` suits nets trained one
        after another under an outer bar).

    See Also
    --------
    skunseen._progress.make_bar : the bar, a plain line now and then off a terminal.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skunseen.nets._recording import EpochProgress
    >>> net = NeuralNetClassifier(torch.nn.Linear(2, 2), max_epochs=2, train_split=None,
    ...                           criterion=torch.nn.CrossEntropyLoss, verbose=0,
    ...                           callbacks=[("progress", EpochProgress(leave=True))])
    >>> X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    >>> len(net.fit(X, y).history)
    2
    """

    def __init__(self, desc="epochs", leave=False):
        self.desc = desc
        self.leave = leave

    def on_train_begin(self, net, **kwargs):
        self.bar_ = make_bar(total=net.max_epochs, desc=self.desc, leave=self.leave,
                             unit="epoch")

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        # a closed bar holds a lock that cannot be pickled with the net
        self.bar_ = None
