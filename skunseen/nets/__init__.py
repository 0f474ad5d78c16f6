"""The torch and skorch seam: everything of the engine that knows torch or skorch.

The engine asks :func:`net_model` for the scoring model of an estimator: a
:class:`~skunseen.nets._model.NetModel` for a skorch net (or ``None``, the
default net), or ``None`` for any other estimator, which the engine then
trains itself. Importing this package loads no torch: what needs it loads
on first use, and a skorch net was built with torch loaded already.

:func:`is_net`, :func:`net_model` and :func:`seeded_for` are the engine's
interface to the seam. Public: :class:`HeldOutRecorder` (the skorch callback recording a net's
outputs on rows it does not train on), :class:`EpochProgress` (a bar over
a net's epochs), :func:`fit_model` (a classifier trained on given rows, a
net given them in the form it reads) and :func:`model_input` (X as a model
reads it, e.g. to predict).
"""

import contextlib
import importlib
import sys

import numpy as np

from .._data import take_rows

# Public name -> private module defining it, loaded on first use (PEP 562).
_LAZY = {
    "EpochProgress": "_recording",
    "HeldOutRecorder": "_recording",
}

__all__ = ["EpochProgress", "HeldOutRecorder", "fit_model", "model_input"]


def is_net(estimator):
    """Whether ``estimator`` is a skorch ``NeuralNet`` (skorch is not imported).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen.nets import is_net
    >>> is_net(LogisticRegression())
    False
    """
    net = sys.modules.get("skorch.net")
    return net is not None and isinstance(estimator, net.NeuralNet)


def net_model(estimator, X, **options):
    """The scoring model of a skorch net (``None``: the default net), else None.

    Parameters
    ----------
    estimator : object or None
        The caller's ``estimator``.
    X : array-like, tensor, DataFrame or Dataset
        The caller's data.
    **options
        ``n_classes``, ``recording``, ``device``, ``fold_batching`` and
        ``fit_params`` of :class:`~skunseen.nets._model.NetModel`.

    Returns
    -------
    NetModel or None
        None for an estimator that is not a skorch net.
    """
    if estimator is not None and not is_net(estimator):
        return None
    from ._model import NetModel

    return NetModel(estimator, X, **options)


def fit_model(estimator, X, y, *, rows=None, **fit_params):
    """Fit ``estimator`` on rows of X, in the form a skorch net reads them.

    For a net, numeric X becomes float32 once (uint8 images stay for the
    fast path) and its ``rows`` are read through an index view, not copied;
    encoded labels become what its criterion takes; and a training that
    skorch ended early on a ``KeyboardInterrupt`` (Ctrl-C) raises it again
    rather than passing for a trained model (the net gets a callback that
    counts its finished epochs for that). Other estimators are fitted on
    ``take_rows(X, rows)``.

    Parameters
    ----------
    estimator : estimator
        Fitted in place.
    X : array-like, tensor, DataFrame or Dataset
        All rows.
    y : ndarray of int of shape (n_samples,)
        Encoded labels (positions of the classes) of all rows.
    rows : array-like of int, default=None
        The rows to train on; None is every row.
    **fit_params
        Passed to ``fit``.

    Returns
    -------
    estimator

    Raises
    ------
    KeyboardInterrupt
        When a net's training was interrupted.

    See Also
    --------
    model_input : X as the fitted model reads it, to predict.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen.nets import fit_model
    >>> X, y = np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1])
    >>> fit_model(LogisticRegression(), X, y, rows=[0, 1, 3]).classes_.tolist()
    [0, 1]
    """
    rows = np.arange(len(y)) if rows is None else np.asarray(rows, dtype=np.int64)
    if not is_net(estimator):
        return estimator.fit(take_rows(X, rows), np.asarray(y)[rows], **fit_params)
    from ._inputs import fold_view, net_input, net_targets
    from ._recording import EpochCount, raise_if_interrupted

    callbacks = estimator.callbacks if isinstance(estimator.callbacks, list) else []
    if EpochCount.NAME not in dict(callbacks):
        estimator.set_params(callbacks=[*callbacks, EpochCount.named()])
    targets = net_targets(estimator, y)
    estimator.fit(fold_view(net_input(estimator, X), targets, rows), targets[rows],
                  **fit_params)
    raise_if_interrupted(estimator, "the model")
    return estimator


def model_input(estimator, X):
    """X as ``estimator`` reads it: float32 (or uint8 images for the fast path) for a
    skorch net, unchanged for any other estimator.

    Parameters
    ----------
    estimator : estimator
    X : array-like, tensor, DataFrame or Dataset

    Returns
    -------
    X : the same data, in the form ``estimator`` reads

    See Also
    --------
    fit_model : trains on rows given in that form.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skunseen.models import make_net
    >>> from skunseen.nets import model_input
    >>> X = np.zeros((3, 2))
    >>> model_input(make_net("mlp", input_shape=(2,), n_classes=2, device="cpu"), X).dtype
    dtype('float32')
    >>> model_input(LogisticRegression(), X) is X
    True
    """
    if not is_net(estimator):
        return X
    from ._inputs import net_input

    return net_input(estimator, X)


def seeded_for(model, seed):
    """A context seeding torch's global generators for the fit of ``model`` when it
    holds a skorch net (a Pipeline's step, say), which initialises and shuffles
    from them; the caller's generators are restored after. A no-op otherwise.
    """
    if "torch" not in sys.modules or not _holds_net(model):
        return contextlib.nullcontext()
    from ._devices import seeded_globally

    return seeded_globally(seed)


def _holds_net(model):
    try:
        params = model.get_params(deep=True)
    except TypeError:
        return False
    return any(is_net(value) for value in params.values())


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
