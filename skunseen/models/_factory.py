"""Factories for ready-to-train skorch nets."""

import contextlib
import numbers

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from skorch.dataset import get_len
from sklearn.utils import check_random_state

from .._names import MODELS
from ._device import resolve_device, to_device, visible_gpus
from ._fast_path import DeviceEvalIterator, DeviceTrainIterator
from ._fastcifar import FastCifarNet, TriangularLR, recipe_lr
from ._nets import MLP, SmallCNN, cifar_resnet18

__all__ = ["FastNetClassifier", "make_net", "MODEL_NAMES"]

#: Model names accepted by :func:`make_net` besides ``"auto"`` (from
#: ``skunseen._names.MODELS``, which the command line reads without torch).
MODEL_NAMES = tuple(MODELS)

# Short schedules are the norm for scoring nets, so Adam for the small models
# (robust without tuning) and the standard CIFAR SGD recipe for ResNet-18.
_DEFAULTS = {
    "mlp": dict(max_epochs=20, batch_size=128, lr=1e-3, optimizer=torch.optim.Adam,
                optimizer_kw={}),
    "cnn": dict(max_epochs=15, batch_size=128, lr=2e-3, optimizer=torch.optim.AdamW,
                optimizer_kw={"weight_decay": 5e-4}),
    "resnet18": dict(max_epochs=30, batch_size=128, lr=0.1, optimizer=torch.optim.SGD,
                     optimizer_kw={"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}),
    # The fast-training recipe (see _fastcifar): lr None follows the batch size.
    "fastcifar": dict(max_epochs=10, batch_size=1024, lr=None, optimizer=torch.optim.SGD,
                      optimizer_kw={"momentum": 0.85, "nesterov": True,
                                    "weight_decay": 0.0015}),
}
_MODULES = {"mlp": MLP, "cnn": SmallCNN, "resnet18": cifar_resnet18, "fastcifar": FastCifarNet}
_FASTCIFAR_LABEL_SMOOTHING = 0.2
_FASTCIFAR_CROP_PADDING = 2


class FastNetClassifier(NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` with seeded fits and CUDA fast math.

    Behaves exactly like :class:`skorch.NeuralNetClassifier` and adds:

    * ``random_state``: an int makes module initialisation and ``fit``
      reproducible by running them under a private copy of torch's RNG seeded with it
      (``torch.random.fork_rng``), so parameter init, shuffling, dropout and
      fast-path augmentation repeat exactly while the caller's global RNG is
      left untouched. A ``RandomState`` draws a fresh seed per call.
    * ``autocast``: bf16 autocast of the forward pass on CUDA (ignored on
      other devices); logits are returned as float32, and the built-in
      modules compute their classifier head in float32
      (:class:`Float32Linear`);
    * batches reach the device with non-blocking copies (asynchronous from
      a ``DataLoader``'s pinned memory).
    * ``channels_last``: the module's 4-D weights use channels-last memory
      format on CUDA.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Must return logits (use ``criterion=torch.nn.CrossEntropyLoss``).
    *args
        Passed to :class:`skorch.NeuralNetClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seed of module initialisation and ``fit``.
    autocast : bool, default=True
        bf16 autocast on CUDA.
    channels_last : bool, default=True
        Channels-last module weights on CUDA.
    **kwargs
        Passed to :class:`skorch.NeuralNetClassifier`.

    See Also
    --------
    make_net : builds a ready-to-train FastNetClassifier from the input shape.
    DeviceTrainIterator : the fast-path training iterator.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skunseen.models import FastNetClassifier, MLP
    >>> net = FastNetClassifier(MLP, module__n_features=4, module__n_classes=2,
    ...                         criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
    ...                         train_split=None, verbose=0, random_state=0)
    >>> X = np.random.RandomState(0).rand(20, 4).astype(np.float32)
    >>> net.fit(X, np.arange(20) % 2).predict_proba(X).shape
    (20, 2)
    """

    def __init__(self, module, *args, random_state=None, autocast=True,
                 channels_last=True, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.random_state = random_state
        self.autocast = autocast
        self.channels_last = channels_last

    def _on_cuda(self):
        return torch.device(self.device).type == "cuda" if self.device else False

    @contextlib.contextmanager
    def _seeded(self):
        if self.random_state is None:
            yield
            return
        if isinstance(self.random_state, numbers.Integral):
            seed = int(self.random_state)
        else:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        cuda_devices = []
        if self._on_cuda() and visible_gpus():
            index = torch.device(self.device).index
            cuda_devices = [torch.cuda.current_device() if index is None else index]
        with torch.random.fork_rng(devices=cuda_devices):
            torch.random.default_generator.manual_seed(seed)
            for index in cuda_devices:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            yield

    def initialize_module(self):
        """Build the module (seeded by ``random_state``); channels-last on CUDA."""
        # Seeding here rather than in initialize() also covers the
        # re-initialisation that set_params(module__...) triggers.
        with self._seeded():
            super().initialize_module()
        if self.channels_last and self._on_cuda():
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        return self

    def fit(self, X, y=None, **fit_params):
        """Initialise and train (seeded by ``random_state``); see skorch."""
        with self._seeded():
            return super().fit(X, y, **fit_params)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One epoch of training or validation (see skorch).

        As skorch's, except that a batch's loss enters the history as a
        detached 0-d tensor and becomes a float once, for all batches, at the
        end of the epoch: skorch's ``loss.item()`` after every batch makes
        the host wait for the device at every step, which leaves a GPU idle
        while the next step is launched. Callbacks reading a batch's loss
        during the epoch get the tensor, which formats and compares like a
        number.
        """
        if iterator is None:
            return
        losses = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            loss = step["loss"]
            losses.append(loss.detach() if torch.is_tensor(loss) else torch.tensor(float(loss)))
            self.history.record_batch(prefix + "_loss", losses[-1])
            self.history.record_batch(prefix + "_batch_size", get_len(
                batch[0] if isinstance(batch, (tuple, list)) else batch))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if losses:
            values = torch.stack([loss.float().reshape(()) for loss in losses]).tolist()
            for row, value in zip(self.history[-1, "batches"][-len(losses):], values):
                row[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", len(losses))

    def infer(self, x, **fit_params):
        """Forward pass, under bf16 autocast on CUDA when enabled.

        The batch is copied to the device without making the host wait
        (:func:`~skunseen.models.to_device`): from the pinned memory of a
        ``DataLoader`` with ``pin_memory=True`` the copy overlaps the host's
        work on the next step.
        """
        x = to_device(x, self.device)
        if not (self.autocast and self._on_cuda()):
            return super().infer(x, **fit_params)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            out = super().infer(x, **fit_params)
        # loss and softmax in float32: bf16 logits lose too much precision
        return out.float() if torch.is_tensor(out) and out.is_floating_point() else out

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """The loss (see skorch), the targets copied to the device without waiting."""
        return super().get_loss(y_pred, to_device(y_true, self.device), *args, **kwargs)


def _resolve_model(model, input_shape):
    shape = tuple(int(s) for s in input_shape)
    if model == "auto":
        if len(shape) == 1:
            return "mlp", shape
        if len(shape) == 3:
            return "cnn", shape
        raise ValueError(
            f"model='auto' needs input_shape of length 1 (features) or 3 (C, H, W); "
            f"got input_shape={shape}; reshape the samples, or choose model='mlp', which "
            "flattens them."
        )
    if model not in MODEL_NAMES:
        raise ValueError(f"model must be 'auto' or one of {MODEL_NAMES}, got {model!r}")
    if model != "mlp" and len(shape) != 3:
        raise ValueError(f"model={model!r} needs input_shape (C, H, W), got input_shape={shape}")
    return model, shape


def make_net(model="auto", *, input_shape, n_classes, device="auto", max_epochs=None,
             batch_size=None, lr=None, random_state=None, fast_path="auto",
             augment="auto", mean=None, std=None, **net_params):
    """Build a ready-to-train skorch classifier for the given input shape.

    Parameters
    ----------
    model : {"auto", "mlp", "cnn", "resnet18", "fastcifar"}, default="auto"
        ``"auto"`` picks ``"mlp"`` for 1-D inputs and ``"cnn"``
        (:class:`SmallCNN`) for (C, H, W) images. ``"resnet18"`` is
        :func:`cifar_resnet18`. ``"fastcifar"`` is :class:`FastCifarNet`
        with its fast-training recipe: Nesterov SGD (momentum 0.85, weight
        decay 0.0015), label smoothing 0.2, batch size 1024, 10 epochs, a
        per-step :class:`TriangularLR` schedule and crops shifted by up to
        2 pixels with reflected edges; about
        94 % CIFAR-10 test accuracy (``module__width=0.25`` for a CPU-sized
        variant, ``module__tta`` for test-time augmentation).
    input_shape : tuple of int
        Shape of one sample, e.g. ``X.shape[1:]``. 2-D or other shapes need
        an explicit ``model="mlp"`` (inputs are flattened).
    n_classes : int
        Number of classes; labels must be ``0 .. n_classes - 1`` (the net's
        ``classes`` is set to that range so that folds missing a class still
        predict ``n_classes`` columns).
    device : str, default="auto"
        See :func:`resolve_device`.
    max_epochs : int, default=None
        ``None``: 20 (mlp), 15 (cnn), 30 (resnet18), 10 (fastcifar).
    batch_size : int, default=None
        ``None``: 128; 1024 for fastcifar.
    lr : float, default=None
        ``None``: 1e-3 Adam (mlp), 2e-3 AdamW with weight decay 5e-4 (cnn),
        0.1 SGD with Nesterov momentum 0.9 and weight decay 5e-4 (resnet18),
        and for fastcifar ``batch_size x 1.27e-3`` (the recipe's step per
        example times the batch size, for the mean-reduced loss).
        cnn and resnet18 follow a per-epoch cosine schedule over
        ``max_epochs`` (callback ``"lr"``; if you change ``max_epochs`` later
        with ``set_params`` also set ``callbacks__lr__T_max``); fastcifar's
        per-step schedule adapts to ``max_epochs`` and the data size by itself.
    random_state : int, RandomState instance or None, default=None
        An int makes initialisation and training reproducible: the net runs
        module initialisation and ``fit`` under a forked torch RNG seeded with it (see
        :class:`FastNetClassifier`), so two nets built with the same seed and
        fitted on the same data predict identically on CPU.
    fast_path : bool or "auto", default="auto"
        Use :class:`DeviceTrainIterator`/:class:`DeviceEvalIterator` (data
        kept on the device, device-side shuffling and augmentation).
        ``"auto"`` turns it on for every model: it is faster than a
        ``DataLoader`` for in-memory arrays on the CPU too (see
        ``benchmarks/overhead.py``), and data that cannot be served from
        memory fall back to a ``DataLoader``.
    augment : bool or "auto", default="auto"
        Fast-path training augmentation (random crop with 4-pixel padding and
        horizontal flip); ``"auto"`` enables it for uint8 RGB images.
    mean, std : float or sequence of float, default=None
        Fast-path normalisation (see :class:`DeviceTrainIterator`).
    **net_params
        Passed to :class:`FastNetClassifier` and override the defaults;
        double-underscore parameters (``module__hidden=64``,
        ``optimizer__momentum=0.8``, ``iterator_train__num_workers=2``) work.

    Returns
    -------
    FastNetClassifier
        A :class:`skorch.NeuralNetClassifier` subclass with
        ``criterion=CrossEntropyLoss``, ``train_split=None``,
        ``iterator_train__shuffle=True`` and ``verbose=0``.

    See Also
    --------
    FastNetClassifier : the class of the returned net.
    resolve_device : how ``device`` is resolved.
    skunseen.UnseenPruner : builds its scoring net with this function when
        ``estimator=None``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.models import make_net
    >>> X = np.random.RandomState(0).rand(40, 1, 8, 8).astype(np.float32)
    >>> y = np.arange(40) % 3
    >>> net = make_net(input_shape=X.shape[1:], n_classes=3, device="cpu",
    ...                max_epochs=1, random_state=0)
    >>> net.module.__name__
    'SmallCNN'
    >>> net.fit(X, y).predict_proba(X).shape
    (40, 3)
    """
    name, shape = _resolve_model(model, input_shape)
    n_classes = int(n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    device = resolve_device(device)
    defaults = _DEFAULTS[name]
    max_epochs = defaults["max_epochs"] if max_epochs is None else int(max_epochs)
    batch_size = defaults["batch_size"] if batch_size is None else int(batch_size)
    if lr is None:
        lr = (recipe_lr(batch_size, defaults["optimizer_kw"]["momentum"])
              if name == "fastcifar" else defaults["lr"])

    if name == "mlp":
        module_kw = {"n_features": int(np.prod(shape)), "n_classes": n_classes}
    else:
        module_kw = {"in_channels": shape[0], "n_classes": n_classes}

    params = dict(
        module=_MODULES[name],
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=defaults["optimizer"],
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=None,
        iterator_train__shuffle=True,
        classes=list(range(n_classes)),
        device=device,
        verbose=0,
        random_state=random_state,
    )
    params.update({f"module__{k}": v for k, v in module_kw.items()})
    params.update({f"optimizer__{k}": v for k, v in defaults["optimizer_kw"].items()})
    if name == "fastcifar":
        params["criterion__label_smoothing"] = _FASTCIFAR_LABEL_SMOOTHING
        params["callbacks"] = [("lr", TriangularLR())]
    elif name != "mlp":
        params["callbacks"] = [
            ("lr", LRScheduler(policy="CosineAnnealingLR", T_max=max_epochs, step_every="epoch"))
        ]

    params.update(_iterator_params(name, device, fast_path, augment, mean, std))
    params.update(net_params)
    return FastNetClassifier(**params)


def _iterator_params(name, device, fast_path, augment, mean, std):
    """The fast-path iterators' parameters; none when ``fast_path`` is off."""
    if fast_path != "auto" and not fast_path:
        if mean is not None or std is not None or augment not in ("auto", False):
            raise ValueError(
                "augment, mean and std apply to the fast path only; set fast_path=True")
        return {}
    params = dict(
        iterator_train=DeviceTrainIterator,
        iterator_valid=DeviceEvalIterator,
        iterator_train__device=device,
        iterator_valid__device=device,
        iterator_train__augment=augment,
    )
    if name == "fastcifar":
        params.update(iterator_train__crop_padding=_FASTCIFAR_CROP_PADDING,
                      iterator_train__padding_mode="reflect")
    for key, value in (("mean", mean), ("std", std)):
        if value is not None:
            params[f"iterator_train__{key}"] = value
            params[f"iterator_valid__{key}"] = value
    return params
