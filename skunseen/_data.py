"""Inputs the pruners accept, and how rows are taken from them without loss.

X may be a numpy array (2-D tabular or N-D images), a torch tensor, a pandas
DataFrame or a torch ``Dataset``. Rows are always addressed by their position
in the caller's data, and every row subset is taken with :func:`take_rows` so
that the caller's container type (and a DataFrame's index) comes back.
"""

import contextlib
import hashlib
import numbers
import random

import joblib
import numpy as np
import torch
from sklearn.utils._param_validation import InvalidParameterError
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
    from .models import DeviceEvalIterator, DeviceTrainIterator

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
    >>> from skunseen._data import fold_view
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
    """A digest of the whole data content, to recognise X again.

    ``transform`` uses it to refuse data other than the fitted data, and
    checkpoints to never reuse work done on other data. Arrays, tensors and
    DataFrames are hashed in full (joblib hashes array buffers directly,
    several hundred MB/s). A Dataset is read sample by sample, every sample
    once, with all random generators seeded so that random transforms give
    the same samples; its type, length and file list (``samples``/``imgs``
    of an ``ImageFolder``) enter the digest too. Memory stays at one sample:
    each is hashed and dropped. For a Dataset this costs one pass over the
    data (decoding every image of an image folder) per call.
    """
    if is_dataset(X):
        files = getattr(X, "samples", None) or getattr(X, "imgs", None)
        digest = hashlib.sha256(
            joblib.hash((type(X).__module__, type(X).__qualname__, len(X), files)).encode())
        with _seeded_generators():
            for i in range(len(X)):
                digest.update(joblib.hash(_hashable(X[i])).encode())
        return digest.hexdigest()
    if is_dataframe(X):
        X = X.to_numpy()
    if is_tensor(X):
        X = X.detach().cpu().numpy()
    return joblib.hash(np.asarray(X))


@contextlib.contextmanager
def _seeded_generators():
    """Python's, numpy's and torch's global generators seeded with 0, then restored."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with RNG_LOCK, torch.random.fork_rng(devices=[]):
        try:
            random.seed(0)
            np.random.seed(0)
            torch.manual_seed(0)
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def first_non_finite_row(dataset, rows):
    """The first of ``rows`` whose sample holds NaN or infinity, or None.

    A Dataset cannot be checked before training without reading it whole;
    this is read when a scoring model failed, to tell bad data from a
    diverging model.
    """
    with _seeded_generators():
        for row in rows:
            sample = dataset[int(row)]
            inputs = sample[0] if isinstance(sample, (tuple, list)) else sample
            values = _hashable(inputs)
            if isinstance(values, np.ndarray) and values.dtype.kind in "fc" and not np.isfinite(
                    values).all():
                return int(row)
    return None


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
    """Number of rows to keep: ``keep`` is a fraction in (0, 1] or a count.

    A bool is neither (``True`` is the integer 1 to Python, which would keep
    a single sample), so it is refused like any value of the wrong type.
    """
    if isinstance(keep, (bool, np.bool_)):
        raise InvalidParameterError(
            f"keep={keep!r}: keep must be a fraction in (0, 1] or a number of samples >= 1, "
            "not a bool."
        )
    if isinstance(keep, numbers.Integral):
        if keep > n_samples:
            raise ValueError(
                f"keep={keep} asks for more samples than the {n_samples} given; "
                f"pass at most {n_samples} or a fraction in (0, 1]."
            )
        return int(keep)
    return max(1, int(round(float(keep) * n_samples)))


def encode_labels(y):
    """The sorted classes of y and y encoded as their positions (int64).

    Raises
    ------
    TypeError
        If y mixes label types (numbers and strings), which cannot be sorted.
    """
    try:
        classes, encoded = np.unique(y, return_inverse=True)
    except TypeError:
        types = sorted({type(plain(value)).__name__ for value in np.asarray(y, dtype=object)})
        raise TypeError(
            f"y mixes label types {types}; the labels must be all numbers or all strings."
        ) from None
    return classes, encoded.reshape(-1).astype(np.int64)
