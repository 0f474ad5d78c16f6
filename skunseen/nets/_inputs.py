"""X as a skorch net reads it: float32 numbers, and folds as index views.

The net layer of the data handling (:mod:`skunseen._data` is the part that
needs no torch): it runs only when the scoring model is a skorch net.
"""

import numpy as np
import torch

from .._data import is_dataframe, is_dataset, take_rows
from ..models import ArrayIndexView, DeviceEvalIterator, DeviceTrainIterator


def as_net_input(X, *, keep_uint8=True):
    """X in the form a skorch net consumes: numeric data as float32.

    Every numeric array or tensor (float64, integers, booleans, numeric
    object arrays, a DataFrame's values) becomes float32 once, before any
    fold, so that a user's module receives what ``torch.nn.Linear`` and
    convolutions accept. Integer image data (uint8) is left alone when
    ``keep_uint8`` is set: the fast-path iterators scale it on the device
    (see :func:`serves_uint8`). Datasets are served as they are.

    Raises
    ------
    TypeError
        If X holds values that are no numbers (text, dates, complex values).
    """
    if is_dataframe(X):
        X = X.to_numpy()
    if isinstance(X, torch.Tensor):
        if X.dtype == torch.float32 or (keep_uint8 and X.dtype == torch.uint8):
            return X
        if X.is_complex():
            raise TypeError(f"X must hold real numbers for a skorch net; got a {X.dtype} tensor.")
        return X.float()
    if not isinstance(X, np.ndarray) or is_dataset(X):
        return X
    if X.dtype == np.float32 or (keep_uint8 and X.dtype == np.uint8):
        return X
    if X.dtype.kind in "biuf":
        return X.astype(np.float32)
    if X.dtype.kind == "O":
        try:
            return X.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"X of dtype object must hold numbers only for a skorch net ({exc}); "
                "encode or drop the non-numeric columns first."
            ) from None
    raise TypeError(
        f"X of dtype {X.dtype} is not numeric; a skorch net needs numbers (encode text, "
        "dates or complex values first)."
    )


def serves_uint8(net):
    """Whether a skorch net's iterators scale uint8 data themselves (the fast path)."""
    return all(isinstance(iterator, type) and issubclass(iterator, kind)
               for iterator, kind in ((net.iterator_train, DeviceTrainIterator),
                                      (net.iterator_valid, DeviceEvalIterator)))


def fold_view(X, y, indices):
    """Rows ``indices`` of X as a skorch net's input, without copying them.

    A numpy array or tensor that :func:`as_net_input` leaves as it is
    (float32, or uint8) becomes an :class:`~skunseen.models.ArrayIndexView`
    over the whole array: the net's iterators read the selected rows batch
    by batch, and the fast-path iterators upload the array to the device
    once for all folds. Other inputs fall back to
    ``as_net_input(take_rows(X, indices))``: a lazy ``Subset`` for Datasets,
    a float32 copy of the rows for DataFrames and other dtypes (the pruners
    convert X once before their folds, so they never take a copy).

    Parameters
    ----------
    X : array-like, tensor, DataFrame or Dataset
        All rows.
    y : ndarray of int of shape (n_rows,) or None
        Labels aligned with all rows of X, served with the rows (skorch
        reads the labels of a Dataset from the Dataset); ``None`` for rows
        that are only predicted.
    indices : array-like of int
        The rows, in the order they are served.

    Returns
    -------
    ArrayIndexView, Subset, ndarray or tensor
        What to pass to ``net.fit`` (with ``y[indices]``) or to
        ``net.forward_iter``.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.nets._inputs import fold_view
    >>> X = np.arange(12, dtype=np.uint8).reshape(6, 2)
    >>> view = fold_view(X, np.arange(6) % 2, [4, 1])
    >>> type(view).__name__, view.X is X, view.targets.tolist()
    ('ArrayIndexView', True, [0, 1])
    >>> fold_view(X.astype(np.float64), None, [4, 1]).dtype
    dtype('float32')
    """
    indices = np.asarray(indices, dtype=np.int64)
    if isinstance(X, (np.ndarray, torch.Tensor)) and as_net_input(X) is X:
        return ArrayIndexView(X, y, indices)
    return as_net_input(take_rows(X, indices))
