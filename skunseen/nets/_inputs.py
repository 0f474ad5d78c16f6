"""Data as a skorch net reads it: float32 numbers, folds as index views, labels
in its criterion's form; and Datasets read sample by sample when they must be.

The net layer of the data handling (:mod:`skunseen._data` is the part that
needs no torch): it runs only when the scoring model is a skorch net.
"""

import contextlib
import random

import joblib
import numpy as np
import torch
from skorch import NeuralNetBinaryClassifier

from .._data import is_dataframe, is_dataset, is_tensor, take_rows
from ..models import ArrayIndexView, DeviceEvalIterator, DeviceTrainIterator
from ._devices import RNG_LOCK


def is_binary_net(net):
    """Whether a skorch net trains one logit with a BCE loss on float targets."""
    return isinstance(net, NeuralNetBinaryClassifier)


def net_targets(net, y):
    """Encoded labels in the form the net's criterion takes."""
    return np.asarray(y, dtype=np.float32 if is_binary_net(net) else np.int64)


def net_input(net, X):
    """X as ``net`` reads it: :func:`as_net_input`, uint8 images kept for the fast path."""
    return as_net_input(X, keep_uint8=serves_uint8(net))


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


def dataset_digest(dataset, num_workers=0):
    """A digest of every sample of a Dataset, read once, for the store's key.

    Sample ``i`` is read with Python's, numpy's and torch's CPU generators
    seeded with ``i``, so a random transform gives it the same value every
    time, whichever process reads it and in whichever order: the digest does
    not depend on ``num_workers``. The samples are read through a
    :class:`~torch.utils.data.DataLoader` with ``num_workers`` worker
    processes, which decode and hash them and send back only their digests.
    The cost is one pass over the data, decoding every sample: about one
    epoch of data loading with as many workers (``benchmarks/scale.py``
    measures it), which is why only a store (``memory``) asks for it, and only
    for Datasets that neither list their files nor hold tensors (see
    :func:`skunseen._data.fingerprint`). The caller's generators are restored.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A map-style Dataset.
    num_workers : int, default=0
        DataLoader worker processes (0: read in this process).

    Returns
    -------
    digest : str
    """
    from torch.utils.data import DataLoader

    digest = joblib.hash((type(dataset).__module__, type(dataset).__qualname__, len(dataset)))
    loader = DataLoader(_SampleDigests(dataset), batch_size=_DIGEST_BATCH,
                        num_workers=num_workers, collate_fn=list,
                        generator=torch.Generator().manual_seed(0))
    with _seeded_generators():
        digests = [sample for batch in loader for sample in batch]
    return joblib.hash((digest, digests))


# Samples per message from a DataLoader worker: digests are a few bytes each.
_DIGEST_BATCH = 64


class _SampleDigests(torch.utils.data.Dataset):
    """The digest of every sample of ``dataset``, read with the generators seeded by
    its index (in whichever process reads it)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        random.seed(index)
        np.random.seed(index)
        torch.random.default_generator.manual_seed(index)
        return joblib.hash(_hashable(self.dataset[index]))


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


def _hashable(sample):
    """A sample with tensors as arrays, which joblib hashes by content."""
    if is_tensor(sample):
        return sample.detach().cpu().numpy()
    if isinstance(sample, (tuple, list)):
        return tuple(_hashable(part) for part in sample)
    if isinstance(sample, dict):
        return {key: _hashable(value) for key, value in sample.items()}
    return sample
