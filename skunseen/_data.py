"""Inputs the pruners accept, and how rows are taken from them without loss.

X may be a numpy array (2-D tabular or N-D images), a torch tensor, a pandas
DataFrame or a torch ``Dataset``. Rows are always addressed by their position
in the caller's data, and every row subset is taken with :func:`take_rows` so
that the caller's container type (and a DataFrame's index) comes back.

The module does not import torch: an X that is a tensor or a Dataset was
made with torch, which is then loaded already, so the type checks look it up
in :data:`sys.modules`.
"""

import contextlib
import hashlib
import numbers
import random
import sys

import joblib
import numpy as np
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import _num_samples

from ._rng import RNG_LOCK


def _loaded(module):
    """The module if it is imported already, else None (nothing is imported)."""
    return sys.modules.get(module)


def is_tensor(X):
    torch = _loaded("torch")
    return torch is not None and isinstance(X, torch.Tensor)


def is_dataset(X):
    data = _loaded("torch.utils.data")
    return data is not None and isinstance(X, data.Dataset) and not is_tensor(X)


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
        return _loaded("torch.utils.data").Subset(X, indices.tolist())
    if is_dataframe(X):
        return X.iloc[indices]
    if is_tensor(X):
        return X[_loaded("torch").from_numpy(indices)]
    # Lists and other array-likes come back as arrays, like sklearn's outputs.
    return np.asarray(X)[indices]


def take_labels(y, indices):
    """Labels ``indices`` of y as given (a pandas Series keeps its index)."""
    if hasattr(y, "iloc"):
        return y.iloc[indices]
    return y[indices] if is_tensor(y) else np.asarray(y)[indices]


def labels_of_dataset(dataset):
    """The labels of a torch Dataset without decoding its samples when possible."""
    for attribute in ("targets", "labels", "y"):
        labels = getattr(dataset, attribute, None)
        if labels is not None:
            return np.asarray(labels)
    if isinstance(dataset, _loaded("torch.utils.data").Subset):
        return labels_of_dataset(dataset.dataset)[np.asarray(dataset.indices)]
    return np.asarray([dataset[i][1] for i in range(len(dataset))])


def check_finite(X):
    """Raise a ``ValueError`` naming X when it holds NaN or infinity."""
    if is_tensor(X):
        bad = X.is_floating_point() and not bool(X.isfinite().all())
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
    torch = _loaded("torch")  # only Datasets are read here, so torch is loaded
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
    if is_tensor(sample):
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
