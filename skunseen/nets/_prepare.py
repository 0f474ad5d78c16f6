"""A skorch net checked before any clone trains, and prepared for one task.

:func:`check_net` (and :func:`check_forward_takes`) run once per fit, before
training; :func:`prepare_net` makes the clone of one task, exactly the same
way for sequential and batched training: task seeds, device, fresh weights.
:func:`default_net` is the net ``estimator=None`` stands for.
"""

import inspect

import numpy as np
import torch
from sklearn.base import clone

from .._data import is_dataset, is_tensor, sample_shape
from .._records import GRAD_NORM, check_probabilities
from ..models import check_device, make_net
from ..scores import epoch_window
from ._devices import RNG_LOCK, device_params, initialize_seeded, seed_params, task_seeds
from ._inputs import is_binary_net


#: What to do about a net whose predict_proba returns no probabilities.
PROBABILITIES_FIX = ("set its predict_nonlinearity ('auto' applies the softmax a "
                     "CrossEntropyLoss implies) or make its module output probabilities")


def describe(net):
    """How messages name a scoring net."""
    return f"estimator {type(net).__name__}"


def default_net(X, n_classes):
    """The scoring net of ``estimator=None``: ``make_net("auto", ...)`` for X's shape.

    Built on the CPU: every task puts it on the device resolved where it runs.
    """
    try:
        return make_net("auto", input_shape=sample_shape(X), n_classes=n_classes,
                        device="cpu")
    except ValueError as exc:
        raise ValueError(
            f"estimator=None builds the default scoring net with "
            f"skunseen.models.make_net('auto', ...), which fails here: {exc} To "
            "score these samples, pass estimator=make_net('mlp', "
            f"input_shape={sample_shape(X)}, n_classes={n_classes}) or "
            "your own skorch net."
        ) from exc


def first_sample(X):
    """One row of X: a Dataset's first item's input (read once: it may be a decoded
    image), else the first row of the array, tensor or DataFrame values."""
    if not is_dataset(X):
        return X.iloc[0].to_numpy() if hasattr(X, "iloc") else X[0]
    first = X[0]
    return first[0] if isinstance(first, (tuple, list)) else first


def array_sample_shape(sample):
    """Shape of one row, when rows are arrays or tensors (a Dataset's may be anything)."""
    return tuple(sample.shape) if isinstance(sample, np.ndarray) or is_tensor(sample) else None


def check_forward_takes(net, fit_params):
    """skorch hands fit parameters to the module's ``forward``: it must take them."""
    if not fit_params:
        return
    module = net.module if isinstance(net.module, type) else type(net.module)
    parameters = inspect.signature(module.forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    missing = sorted(set(fit_params) - set(parameters))
    if missing:
        raise ValueError(
            f"The fit parameters {missing} would reach {module.__name__}.forward, which does "
            "not take them (a skorch net passes fit parameters to its module's forward). "
            "Drop them, or use a module whose forward accepts them."
        )


def prepare_net(estimator, seed, *, device=None, callbacks=(), **params):
    """The clone of ``estimator`` for the task of ``seed``, initialised with fresh weights.

    Sequential and batched training both start from here, so a task's model
    is the same either way: its initial weights drawn from the task's
    initialisation seed, its iterators' data order from its order seed
    (:func:`~skunseen.nets._devices.task_seeds`), modules given as instances reset.

    Parameters
    ----------
    estimator : skorch NeuralNet
        The unfitted scoring net.
    seed : int
        The task's seed.
    device : str, default=None
        Overrides the net's device (and its device-resident iterators').
    callbacks : sequence of (str, Callback), default=()
        Callbacks added after the clone's own (which are fresh copies of the
        estimator's: no state is shared with the caller's net or other tasks).
    **params
        Further skorch parameters.

    Returns
    -------
    net : skorch NeuralNet
        Initialised; ``fit`` must not initialise it again (``warm_start``).
    """
    net = clone(estimator)
    init_seed, order_seed, _ = task_seeds(seed)
    params = {**params, **seed_params(net, order_seed)}
    if callbacks:
        own = net.callbacks if isinstance(net.callbacks, list) else []
        params["callbacks"] = [*own, *callbacks]
    if device is not None:
        params.update(device_params(net, device))
    net.set_params(**params)
    # Under one hold of the lock, so that no other task reseeds in between.
    with RNG_LOCK:
        initialize_seeded(net, init_seed)
        _reset_given_modules(net)
    return net


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
    Devices are checked for their form only: whether they exist is asked
    where each task runs (a Dask client needs no GPU).
    With ``sample_shape``, a forward pass on a CPU copy checks that the
    module takes such rows and has one output per class. The epochs of a
    ``grad_norm`` extra in ``extras`` must exist in the net's training.
    """
    if device != "auto":
        check_device(device)
    else:
        try:
            check_device(net.device)
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

    A wrong input size, number of outputs, or outputs that the net's
    ``predict_proba`` does not turn into probabilities (logits with
    ``predict_nonlinearity=None``) then fail here, before any model trains,
    instead of after the first one has.
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
    proba = probe._get_predict_nonlinearity()(output)
    check_probabilities(np.asarray(proba, dtype=np.float64), f"The scoring {describe(net)}",
                        fix=PROBABILITIES_FIX)


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
