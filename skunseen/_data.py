"""Inputs the pruners accept, and how rows are taken from them without loss.

X may be a numpy array (2-D tabular or N-D images), a torch tensor, a pandas
DataFrame or a torch ``Dataset``. Rows are always addressed by their position
in the caller's data, and every row subset is taken with :func:`take_rows` so
that the caller's container type (and a DataFrame's index) comes back.
"""

import numbers
import random

import joblib
import numpy as np
import torch
from sklearn.utils.validation import _num_samples
from torch.utils.data import Dataset, Subset

from ._parallel import RNG_LOCK
from .models import ArrayIndexView


def is_dataset(X):
    return isinstance(X, Dataset) and not isinstance(X, torch.Tensor)


def is_tensor(X):
    return isinstance(X, torch.Tensor)


def is_dataframe(X):
    return hasattr(X, "iloc") and hasattr(X, "columns")


def n_rows(X):
    return len(X) if is_dataset(X) else _num_samples(X)


def sample_shape(X):
    """Shape of one sample (without the batch axis)."""
    if is_dataset(X):
        first = X[0]
        sample = first[0] if isinstance(first, (tuple, list)) else first
        return tuple(np.shape(sample))
    return tuple(X.shape[1:])


def take_rows(X, indices):
    """Rows ``indices`` of X in the caller's container type.

    Datasets give a lazy :class:`torch.utils.data.Subset` (no sample is loaded),
    DataFrames keep their index, arrays and tensors are indexed directly.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if is_dataset(X):
        return Subset(X, indices.tolist())
    if is_dataframe(X):
        return X.iloc[indices]
    if isinstance(X, torch.Tensor):
        return X[torch.from_numpy(indices)]
    # Lists and other array-likes come back as arrays, like sklearn's outputs.
    return np.asarray(X)[indices]


def take_labels(y, indices):
    """Labels ``indices`` of y as given (a pandas Series keeps its index)."""
    if hasattr(y, "iloc"):
        return y.iloc[indices]
    return np.asarray(y)[indices] if not isinstance(y, torch.Tensor) else y[indices]


def labels_of_dataset(dataset):
    """The labels of a torch Dataset without decoding its samples when possible."""
    for attribute in ("targets", "labels", "y"):
        labels = getattr(dataset, attribute, None)
        if labels is not None:
            return np.asarray(labels)
    if isinstance(dataset, Subset):
        return labels_of_dataset(dataset.dataset)[np.asarray(dataset.indices)]
    return np.asarray([dataset[i][1] for i in range(len(dataset))])


def as_net_input(X):
    """X in the form a skorch net consumes: float64 becomes float32.

    Integer image data (uint8) is left alone: the fast path and the user's
    module decide how to scale it.
    """
    if is_dataframe(X):
        X = X.to_numpy()
    if isinstance(X, np.ndarray) and X.dtype == np.float64:
        return X.astype(np.float32)
    if isinstance(X, torch.Tensor) and X.dtype == torch.float64:
        return X.float()
    return X


def fold_view(X, y, indices):
    """Rows ``indices`` of X as a skorch net's input, without copying them.

    A numpy array or tensor that :func:`as_net_input` leaves as it is
    (anything but float64) becomes an :class:`~skunseen.models.ArrayIndexView`
    over the whole array: the net's iterators read the selected rows batch
    by batch, and the fast-path iterators upload the array to the device
    once for all folds. Other inputs fall back to
    ``as_net_input(take_rows(X, indices))``: a lazy ``Subset`` for Datasets,
    a copy of the rows for DataFrames and float64 data (the pruners cast
    float64 to float32 once before their folds, so they never take a copy).

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
    >>> from skunseen._data import fold_view
    >>> X = np.arange(12, dtype=np.uint8).reshape(6, 2)
    >>> view = fold_view(X, np.arange(6) % 2, [4, 1])
    >>> type(view).__name__, view.X is X, view.targets.tolist()
    ('ArrayIndexView', True, [0, 1])
    >>> fold_view(X.astype(np.float64), None, [4, 1]).dtype
    dtype('float32')
    """
    indices = np.asarray(indices, dtype=np.int64)
    if isinstance(X, np.ndarray) and X.dtype != np.float64 or (
            isinstance(X, torch.Tensor) and X.dtype != torch.float64):
        return ArrayIndexView(X, y, indices)
    return as_net_input(take_rows(X, indices))


def check_finite(X):
    """Raise a ``ValueError`` naming X when it holds NaN or infinity."""
    if isinstance(X, torch.Tensor):
        bad = X.is_floating_point() and not bool(torch.isfinite(X).all())
    elif isinstance(X, np.ndarray) and np.issubdtype(X.dtype, np.floating):
        bad = not bool(np.isfinite(X).all())
    else:
        bad = False
    if bad:
        raise ValueError("Input X contains NaN or infinity; clean or impute it first.")


def fingerprint(X):
    """A digest identifying the data content, to recognise X again.

    ``transform`` uses it to refuse data other than the fitted data, and
    checkpoints to never reuse work done on other data. Arrays, tensors and
    DataFrames are hashed in full (joblib hashes array buffers directly,
    several hundred MB/s). A Dataset is not read whole, since that could mean
    decoding a whole image collection: its digest covers its type, length,
    file list (``samples``/``imgs`` of an ``ImageFolder``) and
    :data:`_DATASET_PROBES` samples spread over it, read with all random
    generators fixed so that random transforms give the same samples.
    Changes elsewhere in a Dataset go unnoticed.
    """
    if is_dataset(X):
        files = getattr(X, "samples", None) or getattr(X, "imgs", None)
        return joblib.hash(
            (type(X).__module__, type(X).__qualname__, len(X), files, _probe_samples(X))
        )
    if is_dataframe(X):
        X = X.to_numpy()
    if is_tensor(X):
        X = X.detach().cpu().numpy()
    return joblib.hash(np.asarray(X))


#: Number of samples of a Dataset that :func:`fingerprint` reads.
_DATASET_PROBES = 8


def _probe_samples(dataset):
    positions = np.unique(np.linspace(0, len(dataset) - 1, _DATASET_PROBES).astype(int))
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        try:
            random.seed(0)
            np.random.seed(0)
            torch.manual_seed(0)
            return [_hashable(dataset[int(i)]) for i in positions] if len(dataset) else []
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def _hashable(sample):
    """A sample with tensors as arrays, which joblib hashes by content."""
    if isinstance(sample, torch.Tensor):
        return sample.detach().cpu().numpy()
    if isinstance(sample, (tuple, list)):
        return tuple(_hashable(part) for part in sample)
    if isinstance(sample, dict):
        return {key: _hashable(value) for key, value in sample.items()}
    return sample


def plain(value):
    """A numpy scalar as the Python value, so messages read ``0`` not ``np.int64(0)``."""
    return value.item() if isinstance(value, np.generic) else value


def resolve_n_select(keep, n_samples):
    """Number of rows to keep: ``keep`` is a fraction in (0, 1] or a count."""
    if isinstance(keep, numbers.Integral):
        if keep > n_samples:
            raise ValueError(
                f"keep={keep} asks for more samples than the {n_samples} given; "
                f"pass at most {n_samples} or a fraction in (0, 1]."
            )
        return int(keep)
    return max(1, int(round(float(keep) * n_samples)))
