"""Training one scoring model and recording its outputs on the rows it scores.

For UNSEEN those rows are the held-out fold (the model never trains on them);
for the fitting baseline they are the training rows themselves. The recording
is read-only with respect to training: it runs in eval mode without gradients
and restores the global RNG state afterwards, so a net trained with the
recorder attached ends with exactly the weights it would have without it, and
nothing it records reaches the history that early stopping or checkpointing
read.
"""

import contextlib
import functools
import time
import warnings

import numpy as np
import torch
from skorch import NeuralNetBinaryClassifier
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from sklearn.base import clone

from ..engine._classifier import describe, fit_classifier, is_skorch_net, timed_fit
from ..engine._execution import TaskHook, in_process_workers
from ._inputs import fold_view
from ._devices import (
    LockedSection,
    cuda_indices,
    device_params,
    draws_global_rng,
    initialize_seeded,
    seed_params,
    seeded_training,
    task_devices,
    torch_threads,
)
from .._progress import make_bar
from .._records import (
    EMBEDDING,
    EPOCH_STATISTICS,
    GRAD_NORM,
    ScoringRecords,
    TrainingDiverged,
    check_extra_requests,
    epoch_statistics,
)
from .._rng import RNG_LOCK, task_seeds
from ..models import resolve_device
from ..scores import grad_norm_batches, last_layer_grad_norms, last_linear
from ..scores._registry import epoch_window


def is_binary_net(net):
    """Whether a skorch net trains one logit with a BCE loss on float targets."""
    return isinstance(net, NeuralNetBinaryClassifier)


def net_targets(net, y):
    """Encoded labels in the form the net's criterion takes."""
    return np.asarray(y, dtype=np.float32 if is_binary_net(net) else np.int64)


def _given_modules(net):
    """``(name, module)`` of the net's modules and criteria passed as instances.

    skorch trains such an instance as it is, so it carries whatever weights
    it has (trained ones, for a net fitted before); modules built from a
    class (``module=MyNet, module__width=...``) start from fresh weights.
    """
    for name, value in net.get_params(deep=False).items():
        if isinstance(value, torch.nn.Module):
            yield name, value


def _resettable(layer):
    return callable(getattr(layer, "reset_parameters", None)) or callable(
        getattr(layer, "_reset_parameters", None))


def check_fresh_weights(net):
    """Raise ``ValueError`` when a given module's weights cannot be re-initialised.

    Every parameter must belong to a layer with ``reset_parameters`` (all
    torch layers have it; attention layers have ``_reset_parameters``).
    """
    for name, module in _given_modules(net):
        stuck = sorted({type(layer).__name__ for layer in module.modules()
                        if any(True for _ in layer.parameters(recurse=False))
                        and not _resettable(layer)})
        if stuck:
            raise ValueError(
                f"The {describe(net)} has {name}={type(module).__name__}(...) as an instance, "
                f"whose layer(s) {stuck} have no reset_parameters(), so every scoring model "
                f"would start from the weights it holds. Pass the class instead "
                f"({name}={type(module).__name__}, {name}__<arg>=...), or give those layers "
                "a reset_parameters() method."
            )


def check_net(net, *, n_classes, device, sample_shape=None, extras=None):
    """What a given skorch net must satisfy before any of its clones trains.

    ``device`` is the caller's: any value but ``"auto"`` applies to every
    scoring net; with ``"auto"`` every net keeps the device it asks for.
    With ``sample_shape``, a forward pass on a CPU copy checks that the
    module takes such rows and has one output per class. The epochs of a
    ``grad_norm`` extra in ``extras`` must exist in the net's training.
    """
    if device != "auto":
        resolve_device(device)
    else:
        try:
            resolve_device(net.device)
        except ValueError as exc:
            raise ValueError(
                f"The {describe(net)} has device={net.device!r}, which cannot be "
                f"used: {exc}. Set the pruner's device='cpu' (it applies to every "
                "scoring net) or the net's own device."
            ) from None
    if is_binary_net(net) and n_classes != 2:
        raise ValueError(
            f"The {describe(net)} predicts two classes (one logit), but y has "
            f"{n_classes}; use a NeuralNetClassifier as `estimator`."
        )
    check_fresh_weights(net)
    grad_epochs = (extras or {}).get(GRAD_NORM, {}).get("epochs")
    if grad_epochs is not None:
        try:
            epoch_window(grad_epochs, net.max_epochs)
        except ValueError as exc:
            raise ValueError(f"The grad_norm extra's epochs: {exc}") from None
    if sample_shape:
        _check_shapes(net, tuple(sample_shape), n_classes)


def _check_shapes(net, sample_shape, n_classes):
    """A forward pass of two zero rows through a CPU copy of the module.

    A wrong input size or number of outputs then fails here, before any
    model trains, instead of after the first one has.
    """
    probe = clone(net).set_params(device="cpu")
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        probe.initialize()
    try:
        with torch.no_grad():
            output = probe.module_.eval()(torch.zeros((2, *sample_shape)))
    except Exception as exc:  # noqa: BLE001 - whatever the user's module raises
        raise ValueError(
            f"The scoring {describe(net)} cannot take rows of shape {sample_shape}: its "
            f"module failed on them ({type(exc).__name__}: {exc}). Match the module's "
            "input size to X (e.g. module__n_features, or make_net's input_shape)."
        ) from None
    if isinstance(output, (tuple, list)):
        output = output[0]  # skorch reads the first output as the prediction
    expected = 1 if is_binary_net(net) else n_classes
    width = 1 if output.ndim == 1 else output.shape[-1]
    if output.ndim > 2 or width != expected:
        raise ValueError(
            f"The scoring {describe(net)} outputs {width} value(s) per row (output shape "
            f"{tuple(output.shape)} for 2 rows), but y has {n_classes} classes, so it needs "
            f"{expected} per row; set the module's number of outputs (e.g. "
            "module__n_classes) to match."
        )


def initialize_fresh(net, seed):
    """Initialise ``net`` seeded (see :func:`skunseen.nets._devices.initialize_seeded`),
    with fresh weights also for modules it was given as instances.

    Under one hold of the lock, so that no other task reseeds in between.
    """
    with RNG_LOCK:
        initialize_seeded(net, seed)
        _reset_given_modules(net)


def _reset_given_modules(net):
    """Re-initialise the weights of every module the net was given as an instance."""
    for name, _ in _given_modules(net):
        built = getattr(net, f"{name}_", None)
        if built is None or built is not getattr(net, name):
            continue  # rebuilt from its class with module__ parameters: already fresh
        for layer in built.modules():
            reset = getattr(layer, "reset_parameters", None) or getattr(
                layer, "_reset_parameters", None)
            if callable(reset):
                reset()


class HeldOutRecorder(Callback):
    """skorch callback recording a net's outputs on given rows at every epoch.

    At the end of every epoch the net predicts ``X`` (eval mode, no gradient,
    the net's own ``iterator_valid``) and the recorder keeps the reduced
    per-sample statistics of :data:`skunseen.scores.EPOCH_STATISTICS`; at the
    end of training it keeps the final class probabilities, and the
    ``extras`` asked for. State lives in trailing-underscore attributes that
    are reset when training begins. Nothing kept grows with the number of
    classes times the number of epochs: per-epoch records are one value per
    sample, extras one array per sample.

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
    >>> from skunseen import HeldOutRecorder
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
        self._previous_log_proba = None
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
        log_proba, embedding, head_is_logits = self._predict(net, embed=closed_form)
        if self.every_epoch:
            labels = torch.as_tensor(np.asarray(self.y), device=log_proba.device)
            stats = epoch_statistics(log_proba, labels, self._previous_log_proba)
            self._previous_log_proba = log_proba
            for name, values in stats.items():
                self.epochs_[name].append(values.cpu().numpy())
        if grad_now:
            self._add_grad_norms(net, log_proba, embedding, head_is_logits)

    def on_train_end(self, net, **kwargs):
        # A second pass rather than the last epoch's outputs: callbacks such as
        # checkpoint restoring may have changed the weights after that epoch.
        grad = self._requests.get(GRAD_NORM)
        grad_at_end = grad is not None and grad["epochs"] is None
        embed = EMBEDDING in self._requests or (grad_at_end and grad["last_layer"])
        log_proba, embedding, head_is_logits = self._predict(net, embed=embed)
        self.proba_ = log_proba.exp().cpu().numpy()
        self._previous_log_proba = None
        if EMBEDDING in self._requests:
            self.extras_[EMBEDDING] = embedding.numpy()
        if grad_at_end:
            self._add_grad_norms(net, log_proba, embedding, head_is_logits)
        if grad is not None:
            if self._grad_count == 0:
                raise ValueError(
                    f"grad_norm epochs={grad['epochs']!r} selects no epoch of the "
                    f"{self._epoch} trained (training stopped early); choose earlier "
                    "epochs or epochs=None (the end of training)."
                )
            self.extras_[GRAD_NORM] = self._grad_sum / self._grad_count

    def _predict(self, net, embed=False):
        """One eval pass over X: log-probabilities, embeddings (or None), and
        whether the last Linear layer's output is the net's output."""
        start = time.perf_counter()
        module = net.module_
        custom_embed = callable(getattr(module, "embed", None))
        head = _find_last_linear(module) if embed else None
        if embed and head is None and not custom_embed:
            last_linear(module)  # raises the explanatory error
        calls = []
        hook = None if head is None else head.register_forward_hook(
            lambda layer, args, out: calls.append((args[0], out)))
        outputs, embeddings, head_is_logits = [], [], head is not None
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                for batch in net.get_iterator(net.get_dataset(self.X), training=False):
                    calls.clear()
                    out = net.evaluation_step(batch, training=False)
                    out = (out[0] if isinstance(out, tuple) else out).float()
                    outputs.append(out)
                    if not embed:
                        continue
                    if not calls and not custom_embed:
                        raise ValueError(
                            f"The last Linear layer of {type(module).__name__} is not "
                            "called in its forward pass, so its input is no embedding; "
                            "give the module an `embed(X)` method."
                        )
                    head_is_logits = (head_is_logits and bool(calls)
                                      and torch.equal(calls[-1][1].float(), out))
                    if custom_embed:
                        inputs = to_tensor(unpack_data(batch)[0], device=net.device)
                        features = module.embed(inputs)
                    else:
                        features = calls[-1][0]
                    embeddings.append(features.reshape(len(features), -1).float().cpu())
            log_proba = _to_log_proba(net, torch.cat(outputs))
        finally:
            if hook is not None:
                hook.remove()
        self.seconds_ += time.perf_counter() - start
        embedding = torch.cat(embeddings) if embed else None
        return log_proba, embedding, head_is_logits and _softmax_outputs(net)

    def _add_grad_norms(self, net, log_proba=None, embedding=None, head_is_logits=False):
        start = time.perf_counter()
        last_layer = self._requests[GRAD_NORM]["last_layer"]
        if last_layer and embedding is not None and head_is_logits:
            norms = last_layer_grad_norms(
                embedding.numpy(), log_proba.exp().cpu().numpy(), np.asarray(self.y),
                bias=_find_last_linear(net.module_).bias is not None)
        else:
            with torch.random.fork_rng(devices=[]):
                norms = grad_norm_batches(net.module_, self._batches(net),
                                          last_layer=last_layer,
                                          log_proba=functools.partial(_to_log_proba, net))
        self._grad_sum = norms if self._grad_sum is None else self._grad_sum + norms
        self._grad_count += 1
        self.seconds_ += time.perf_counter() - start

    def _batches(self, net):
        """``(inputs, labels)`` tensors of X in the eval iterator's order."""
        labels = torch.as_tensor(np.asarray(self.y), dtype=torch.long, device=net.device)
        offset = 0
        for batch in net.get_iterator(net.get_dataset(self.X), training=False):
            inputs = to_tensor(unpack_data(batch)[0], device=net.device)
            if not torch.is_tensor(inputs):
                raise TypeError(
                    "Per-sample gradients need tensor inputs; the net's batches are "
                    f"{type(inputs).__name__}."
                )
            yield inputs, labels[offset:offset + len(inputs)]
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


def _to_log_proba(net, outputs):
    if _softmax_outputs(net):
        return torch.log_softmax(outputs, dim=-1)
    nonlinearity = net._get_predict_nonlinearity()
    return torch.log(nonlinearity(outputs).clamp_min(torch.finfo(torch.float32).tiny))


def fit_and_record(estimator, X, y, train_indices, score_indices, *, n_classes, seed,
                   record_dynamics, device=None, extras=(), fit_params=None):
    """Clone and train ``estimator`` on ``train_indices``; record ``score_indices``.

    Parameters
    ----------
    estimator : skorch NeuralNet or scikit-learn classifier with predict_proba
        The unfitted scoring model (it is cloned).
    X : array-like, tensor, DataFrame or Dataset
        All rows of the caller's data. A net reads its rows through
        :func:`skunseen.nets._inputs.fold_view`: arrays and tensors are not copied
        unless they are float64 (cast them once with
        :func:`skunseen.nets._inputs.as_net_input` before calling this per fold).
    y : ndarray of int
        Encoded labels of all rows.
    n_classes : int
        Number of classes in the whole data.
    train_indices, score_indices : ndarray of int
        Rows the clone trains on, and rows whose outputs it records.
    seed : int
        Seed of this model's randomness: a classifier's ``random_state``; a
        skorch net's initialisation, data order and training draws (see
        :mod:`skunseen.nets._devices` for what is reproducible with threads). A
        net's own ``random_state`` is replaced. torch's global generator is
        seeded, not forked: callers that need their state back wrap the call
        in :func:`torch.random.fork_rng`, as the pruners do.
    record_dynamics : bool
        Record per-epoch statistics (skorch nets only).
    extras : tuple of str or dict of str to dict, default=()
        Extras to record (skorch nets only), passed to
        :class:`HeldOutRecorder`; ignored for other classifiers, whose records
        then lack them (a scorer reading them says so).
    device : str or None
        Overrides a skorch net's ``device`` (and its device-resident
        iterators' ``device``) when given.
    fit_params : dict, default=None
        Keyword arguments of the model's ``fit`` (e.g. ``sample_weight``);
        those with one value per row of X are restricted to the training rows.

    Returns
    -------
    records : ScoringRecords
        Rows ``score_indices`` with the model's outputs on them.
    info : dict
        ``seconds`` spent, ``n_epochs`` trained (0 without dynamics) and
        ``batched`` (False).

    Raises
    ------
    TrainingDiverged
        When a net's training loss stops being finite.
    """
    if is_skorch_net(estimator):
        return timed_fit(fit_net, estimator, X, y, train_indices, score_indices,
                         fit_params=fit_params, n_classes=n_classes, seed=seed,
                         record_dynamics=record_dynamics, device=device, extras=extras)
    return timed_fit(fit_classifier, estimator, X, y, train_indices, score_indices,
                     fit_params=fit_params, seed=seed, n_classes=n_classes)


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


def fit_net(net, X, y, train_indices, score_indices, *, n_classes, seed, record_dynamics,
            device, extras, fit_params):
    """Train a skorch net on its rows with a :class:`HeldOutRecorder` on the scored rows.

    Returns the records and the number of epochs trained.
    """
    # Index views, not copies: K folds of an image array cost no K copies.
    X_train = fold_view(X, net_targets(net, y), train_indices)
    recorder = HeldOutRecorder(fold_view(X, None, score_indices), y[score_indices],
                               every_epoch=record_dynamics, extras=extras)
    section = LockedSection()
    callbacks = net.callbacks if isinstance(net.callbacks, list) else []
    init_seed, order_seed, train_seed = task_seeds(seed)
    params = {
        "callbacks": [
            *callbacks,
            ("skunseen_divergence", _StopWhenDiverged()),
            *section.callbacks("skunseen_recorder", ("skunseen_recorder", recorder)),
        ],
        # fit must not initialise again: initialize_fresh below did it.
        "warm_start": True,
        **seed_params(net, order_seed),
    }
    if device is not None:
        params.update(device_params(net, device))
    net.set_params(**params)
    initialize_fresh(net, init_seed)
    try:
        with seeded_training(net, train_seed):
            net.fit(X_train, net_targets(net, y[train_indices]), **fit_params)
    finally:
        section.release()
    records = recorder.records(score_indices, model=describe(net))
    if records.proba.shape[1] != n_classes:
        raise ValueError(
            f"The net outputs {records.proba.shape[1]} classes but y has {n_classes}; "
            "set the module's number of outputs (e.g. module__n_classes) to match."
        )
    return records, len(net.history)


class NetTaskRunner:
    """One net task for :class:`~skunseen.engine._execution.JoblibExecutor` (picklable).

    Parameters
    ----------
    n_threads : int or None
        torch intra-op threads of the task (``None``: leave them).
    """

    def __init__(self, n_threads=None):
        self.n_threads = n_threads

    def __call__(self, estimator, X, y, task, *, n_classes, recording, device, fit_params):
        with torch_threads(self.n_threads):
            return fit_and_record(
                estimator, X, y, task.train_indices, task.score_indices, n_classes=n_classes,
                seed=task.seed, record_dynamics=recording.dynamics, device=device,
                extras=recording.extras, fit_params=fit_params)


class NetRuntime(TaskHook):
    """Devices and torch's random state around a round of nets.

    Every task gets its device (:func:`skunseen.nets._devices.task_devices`;
    ``device=None`` leaves each net's own), and the caller's torch
    generators are restored when the round ends: tasks seed the global
    generators, which in-process backends (threads, sequential) share with
    the caller.
    """

    def __init__(self, device):
        self.device = device

    @contextlib.contextmanager
    def round(self, run):
        run.devices = task_devices(self.device, len(run.tasks))
        with torch.random.fork_rng(devices=cuda_indices(run.devices)):
            yield


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
