"""Device-resident batch iterators for in-memory image data (the "fast path").

A standard skorch net feeds every sample through ``Dataset.__getitem__`` and a
``DataLoader`` collate, and applies torchvision transforms one PIL image at a
time. For CIFAR-sized data held in memory that per-sample Python work dominates
training time. The iterators here instead

* copy the whole (uint8) array to the training device once and keep it there
  across epochs, folds and clones (a small weak-reference cache keyed by the
  identity of the array, with at most one copy of it per device),
* shuffle with a device-side permutation drawn from torch's global RNG (so a
  seeded fit is reproducible),
* slice batches by indexing the device tensor, without a ``DataLoader``,
* crop (zero padding, 4 pixels by default) and flip on the device, in one gather,
* scale and normalise on the device and return channels-last batches of
  multi-channel images (faster convolutions on CUDA and on the CPU).

They are skorch ``iterator_train`` / ``iterator_valid`` classes: skorch calls
``iterator(dataset, batch_size=..., **iterator_train__kwargs)`` once per epoch.
Datasets they cannot serve from memory (streamed image folders, dict inputs,
DataFrames) fall back to a plain :class:`torch.utils.data.DataLoader` with the
same arguments, so they are safe to set on any net.
"""

import math
import numbers
import threading
import warnings
import weakref
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from ._device import resolve_device

__all__ = ["ArrayIndexView", "DeviceTrainIterator", "DeviceEvalIterator", "clear_device_cache"]

#: Default padding of the random crop, as in the standard CIFAR recipe.
CROP_PADDING = 4
# Default normalisation of uint8 images after scaling to [0, 1]: centres
# natural images near 0 with roughly unit spread without dataset statistics,
# which would differ between training folds and held-out folds.
_UINT8_MEAN = 0.5
_UINT8_STD = 0.25
# Arrays whose device copies are kept: enough for one training array and one
# held-out array plus a spare. Each array has at most one copy per device, so
# folds spread over any number of GPUs upload it once per GPU; the least
# recently used array (with all its copies) is evicted, so device memory does
# not grow with the number of folds when callers pass per-fold copies instead
# of ArrayIndexView.
_CACHE_ARRAYS = 4
# id(array) -> (weak reference to the array, {device: its copy there})
_DEVICE_CACHE = OrderedDict()
# Folds trained in threads (n_jobs with the threading backend) share the cache.
_CACHE_LOCK = threading.Lock()


class ArrayIndexView(Dataset):
    """Rows of an in-memory array selected by index, without copying them.

    Pass this instead of ``X[idx]`` to a skorch net whose iterators are the
    fast-path iterators: they recognise the view, keep the full array on the
    device once and gather the selected rows batch by batch, so K folds cost
    no K copies of the data. With any other iterator it behaves as an ordinary
    map-style dataset yielding ``(X[indices[i]], y[indices[i]])``.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor
        Full data, samples along the first axis. Not copied; do not modify it
        in place while nets trained on views of it are in use (the device copy
        would be stale).
    y : array-like of shape (len(X),), default=None
        Full labels aligned with ``X`` (not with ``indices``). ``None`` for
        prediction.
    indices : array-like of int, default=None
        Rows of ``X`` in the order they are served. ``None`` means all rows.

    Attributes
    ----------
    targets : numpy.ndarray or None
        Labels of the selected rows, ``y[indices]``.

    See Also
    --------
    DeviceTrainIterator : serves such views from device memory.
    DeviceEvalIterator : predicts such views in row order.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.models import ArrayIndexView
    >>> X = np.arange(20, dtype=np.float32).reshape(10, 2)
    >>> y = np.arange(10) % 2
    >>> view = ArrayIndexView(X, y, indices=[7, 2])
    >>> len(view), view.targets.tolist()
    (2, [1, 0])
    >>> view[0][0].tolist()
    [14.0, 15.0]
    """

    def __init__(self, X, y=None, indices=None):
        if y is not None and len(y) != len(X):
            raise ValueError(
                f"y must be aligned with the full X: len(y)={len(y)} != len(X)={len(X)}"
            )
        self.X = X
        self.y = y
        if indices is None:
            indices = np.arange(len(X))
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.indices.size and (self.indices.min() < -len(X) or self.indices.max() >= len(X)):
            raise IndexError(f"indices out of range for X with {len(X)} rows")

    @property
    def targets(self):
        return None if self.y is None else np.asarray(self.y)[self.indices]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        j = int(self.indices[i])
        if torch.is_tensor(self.X):
            Xi = self.X[j]
        else:
            row = np.asarray(self.X[j])
            # joblib hands process workers read-only memmaps, which torch
            # warns about; one row's copy is cheap next to the batch collate.
            Xi = torch.from_numpy(row if row.flags.writeable else row.copy())
        # Same placeholder skorch's Dataset uses when there are no labels.
        yi = torch.Tensor([0]) if self.y is None else torch.as_tensor(np.asarray(self.y[j]))
        return Xi, yi


def clear_device_cache():
    """Drop all device copies held by the fast-path iterators.

    The cache only holds weak references to the source arrays and evicts old
    entries on its own; call this to release device memory at once, e.g.
    between experiments in a notebook.

    Returns
    -------
    None

    Examples
    --------
    >>> from skunseen.models import clear_device_cache
    >>> clear_device_cache()

    See Also
    --------
    DeviceTrainIterator : the iterator whose device copies this drops.
    skunseen.models.resolve_device : which device the copies live on.
    """
    with _CACHE_LOCK:
        _DEVICE_CACHE.clear()


def _as_tensor(array):
    if not torch.is_tensor(array):
        array = np.asarray(array)
        if not array.flags.c_contiguous or array.strides and min(array.strides) < 0:
            array = np.ascontiguousarray(array)
        with warnings.catch_warnings():
            # read-only arrays (e.g. np.load(mmap_mode="r")) are never written here
            warnings.filterwarnings("ignore", message=".*not writable.*")
            array = torch.from_numpy(array)
    if array.is_contiguous():
        # Size-1 axes can carry any stride (numpy's X[:, None] does), and torch
        # reads some of them as channels-last, which switches CPU convolutions
        # to other kernels with other rounding. A flat view gives the standard
        # strides without a copy, so batches are the same whichever array
        # (full data or a fold's copy) they are gathered from.
        array = array.view(-1).view(array.shape)
    return array


def _on_device(array, device):
    """Device copy of ``array``, uploaded once while ``array`` is alive."""
    with _CACHE_LOCK:
        return _cached_on_device(array, device)


def _cached_on_device(array, device):
    device = _one_name(device)
    entry = _DEVICE_CACHE.get(id(array))
    if entry is not None and entry[0]() is array:
        _DEVICE_CACHE.move_to_end(id(array))
        copies = entry[1]
        if device not in copies:
            copies[device] = _as_tensor(array).to(device)
        return copies[device]
    tensor = _as_tensor(array).to(device)
    try:
        ref = weakref.ref(array)
    except TypeError:
        return tensor
    _DEVICE_CACHE[id(array)] = (ref, {device: tensor})
    for stale in [k for k, (r, _) in _DEVICE_CACHE.items() if r() is None]:
        del _DEVICE_CACHE[stale]
    while len(_DEVICE_CACHE) > _CACHE_ARRAYS:
        _DEVICE_CACHE.popitem(last=False)
    return tensor


def _one_name(device):
    """One name per device: a bare ``cuda`` is the current GPU, ``cuda:N``."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _is_array(obj):
    return torch.is_tensor(obj) or isinstance(obj, np.ndarray)


def _resolve_source(dataset):
    """``(X, y, indices)`` behind ``dataset`` if it is array-backed, else None."""
    from skorch.dataset import Dataset as SkorchDataset

    if isinstance(dataset, ArrayIndexView):
        if not _is_array(dataset.X):
            return None
        return dataset.X, dataset.y, dataset.indices
    if isinstance(dataset, SkorchDataset):
        if not _is_array(dataset.X) or getattr(dataset.X, "ndim", 0) < 2:
            return None
        if dataset.y is not None and not (_is_array(dataset.y) or isinstance(dataset.y, list)):
            return None
        return dataset.X, dataset.y, None
    if isinstance(dataset, TensorDataset) and 1 <= len(dataset.tensors) <= 2:
        y = dataset.tensors[1] if len(dataset.tensors) == 2 else None
        return dataset.tensors[0], y, None
    if isinstance(dataset, Subset):
        inner = _resolve_source(dataset.dataset)
        if inner is None:
            return None
        X, y, indices = inner
        sub = np.asarray(dataset.indices, dtype=np.int64)
        return X, y, (sub if indices is None else indices[sub])
    return None


def _reflect(index, size):
    """Indices outside ``[0, size)`` mirrored back inside (without repeating the edge)."""
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


class _DeviceIterator:
    """Shared machinery of the train and eval iterators."""

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False,
                 device="auto", augment=False, crop_padding=CROP_PADDING,
                 padding_mode="constant", mean=None, std=None, channels_last="auto",
                 generator=None, **loader_kwargs):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        if not (isinstance(crop_padding, numbers.Integral) and crop_padding >= 0):
            raise ValueError(f"crop_padding must be a non-negative int, got {crop_padding!r}")
        if padding_mode not in ("constant", "reflect"):
            raise ValueError(
                f"padding_mode must be 'constant' or 'reflect', got {padding_mode!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = torch.device(resolve_device(device))
        self.augment = augment
        self.crop_padding = crop_padding
        self.padding_mode = padding_mode
        self.mean = mean
        self.std = std
        self.channels_last = channels_last
        self.generator = generator
        source = _resolve_source(dataset)
        self._fallback = None
        if source is None:
            self._fallback = DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                                        drop_last=drop_last, generator=generator,
                                        **loader_kwargs)
            return
        # loader_kwargs (num_workers, pin_memory, ...) only concern the
        # fallback; accepting them lets one net config serve both kinds of data
        X, y, indices = source
        self._X = _on_device(X, self.device)
        self._y = None
        if y is not None:
            y = _as_tensor(np.asarray(y) if isinstance(y, list) else y)
            self._y = (y.long() if not y.is_floating_point() else y).to(self.device)
        self._indices = None if indices is None else _as_tensor(indices).to(self.device)
        self._n = len(self._X) if indices is None else len(indices)

    @property
    def uses_fallback(self):
        """True when the dataset is served by a plain ``DataLoader``."""
        return self._fallback is not None

    def __len__(self):
        if self._fallback is not None:
            return len(self._fallback)
        if self.drop_last:
            return self._n // self.batch_size
        return math.ceil(self._n / self.batch_size)

    def _augment_enabled(self, X):
        if self.augment != "auto":
            return bool(self.augment)
        # Crop + flip is the right prior for natural RGB images only; it would
        # corrupt e.g. digits (flips) or tabular rows.
        return X.dtype == torch.uint8 and X.ndim == 4 and X.shape[1] == 3 and min(X.shape[2:]) >= 16

    def _channels_last_enabled(self, X):
        if X.ndim != 4:
            return False
        if self.channels_last != "auto":
            return bool(self.channels_last)
        # oneDNN's CPU convolutions are faster on channels-last inputs with
        # several channels (1.3-1.9x per SmallCNN training step on CIFAR
        # images), and no faster on single-channel ones.
        return self.device.type == "cuda" or X.shape[1] > 1

    def _crop_flip(self, xb, generator):
        b, _, h, w = xb.shape
        p = self.crop_padding
        dev = xb.device
        dy = torch.randint(0, 2 * p + 1, (b, 1), device=dev, generator=generator)
        dx = torch.randint(0, 2 * p + 1, (b, 1), device=dev, generator=generator)
        flip = torch.rand((b, 1), device=dev, generator=generator) < 0.5
        rows = dy + torch.arange(h, device=dev)
        cols_fwd = torch.arange(w, device=dev)
        cols = dx + torch.where(flip, cols_fwd.flip(0), cols_fwd)
        batch = torch.arange(b, device=dev)[:, None, None]
        if self.padding_mode == "reflect":
            # positions in the padded image mapped back onto the image, mirrored at its edges
            source = xb
            rows, cols = _reflect(rows - p, h), _reflect(cols - p, w)
        else:
            source = F.pad(xb, (p, p, p, p))
        # advanced indices around the channel slice put them first: (b, h, w, c)
        out = source[batch, :, rows[:, :, None], cols[:, None, :]]
        return out.permute(0, 3, 1, 2)

    def _scaling(self, X):
        """Per-channel ``(mean, std)`` tensors (or None), built once per epoch."""
        if X.dtype == torch.uint8:
            mean = _UINT8_MEAN if self.mean is None else self.mean
            std = _UINT8_STD if self.std is None else self.std
        else:
            mean, std = self.mean, self.std
        shape = (1, -1) + (1,) * (X.ndim - 2)
        return tuple(
            None if value is None
            else torch.as_tensor(value, dtype=torch.float32, device=self.device).reshape(shape)
            for value in (mean, std)
        )

    @staticmethod
    def _normalise(xb, channels_last, mean, std):
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # A uint8 batch becomes a fresh float batch (converted to the memory
        # format in the same copy) that the in-place steps may overwrite; a
        # float batch may alias the device copy of the data and is never
        # written to.
        fresh = xb.dtype == torch.uint8
        xb = xb.to(torch.float32, memory_format=memory_format)
        if fresh:
            xb = xb.div_(255.0)
        if mean is not None:
            xb = xb.sub_(mean) if fresh else xb - mean
            fresh = True
        if std is not None:
            xb = xb.div_(std) if fresh else xb / std
        return xb

    def __iter__(self):
        if self._fallback is not None:
            yield from self._fallback
            return
        generator = None
        augment = self._augment_enabled(self._X)
        channels_last = self._channels_last_enabled(self._X)
        mean, std = self._scaling(self._X)
        if self.shuffle or augment:
            # The epoch's seed comes from the given CPU generator (skorch
            # passes the same one every epoch, so epochs differ but repeat),
            # else from torch's global RNG, which a seeded fit (see
            # FastNetClassifier.random_state) makes reproducible too.
            seed = int(torch.randint(0, 2**62, (1,), generator=self.generator).item())
            generator = torch.Generator(device=self.device).manual_seed(seed)
        order = self._indices
        if self.shuffle:
            perm = torch.randperm(self._n, device=self.device, generator=generator)
            order = perm if order is None else order[perm]
        stop = self._n - self._n % self.batch_size if self.drop_last else self._n
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, self._n)
            if order is None:
                xb = self._X[start:end]
                yb = None if self._y is None else self._y[start:end]
            else:
                rows = order[start:end]
                xb = self._X[rows]
                yb = None if self._y is None else self._y[rows]
            if augment:
                xb = self._crop_flip(xb, generator)
            xb = self._normalise(xb, channels_last, mean, std)
            if yb is None:
                yb = torch.zeros(len(xb), device=self.device)
            yield xb, yb


class DeviceTrainIterator(_DeviceIterator):
    """skorch ``iterator_train`` that keeps in-memory data on the device.

    Every epoch each sample is served exactly once, in a fresh device-side
    random order; natural uint8 RGB images are randomly cropped (zero
    padding) and horizontally flipped on the device.

    Parameters
    ----------
    dataset : torch Dataset
        What skorch passes: a ``skorch.dataset.Dataset`` over a numpy array or
        tensor, an :class:`ArrayIndexView`, a ``TensorDataset`` or a
        ``Subset`` of these is served from device memory; anything else by a
        plain ``DataLoader``.
    batch_size : int, default=128
        Set by skorch from the net's ``batch_size``.
    shuffle : bool, default=True
        Permute the samples every epoch.
    drop_last : bool, default=False
        Skip the last incomplete batch.
    device : str, default="auto"
        Where the data live; use the net's device.
    augment : bool or "auto", default="auto"
        Random crop with ``crop_padding``-pixel padding and horizontal
        flip. ``"auto"`` enables it for uint8 data with 3 channels and at
        least 16x16 pixels.
    crop_padding : int, default=4
        Largest shift of the random crop, in pixels (4 in the standard CIFAR
        recipe, 2 in the fast-training recipe of ``make_net("fastcifar")``).
    padding_mode : {"constant", "reflect"}, default="constant"
        What the crop shows beyond the image's edges: zeros (black, as
        torchvision's ``RandomCrop(padding=4)``), or the image mirrored at its
        edges (the fast-training recipe), which adds no artificial edges.
    mean, std : float or sequence of float, default=None
        Per-channel normalisation applied after uint8 data are scaled to
        [0, 1]. ``None`` means 0.5 / 0.25 for uint8 data and no normalisation
        for float data.
    channels_last : bool or "auto", default="auto"
        Return 4-D batches in channels-last memory format. ``"auto"``: on
        CUDA, and on the CPU for images with more than one channel, where
        convolutions are faster that way.
    generator : torch.Generator, default=None
        CPU generator the per-epoch shuffling and augmentation seed is drawn
        from (``iterator_train__generator``); ``None`` draws from torch's
        global generator. The pruners pass a per-task one, so folds trained
        in threads do not share a random stream.
    **loader_kwargs
        Passed to the fallback ``DataLoader`` (e.g. ``num_workers``); ignored
        for array-backed data.

    See Also
    --------
    DeviceEvalIterator : the matching ``iterator_valid``.
    ArrayIndexView : row views that folds pass without copying.
    skunseen.models.make_net : builds nets that use these iterators.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from skunseen.models import DeviceTrainIterator
    >>> X = np.zeros((10, 3, 32, 32), dtype=np.uint8)
    >>> it = DeviceTrainIterator(Dataset(X, np.arange(10)), batch_size=4, device="cpu")
    >>> [tuple(xb.shape) for xb, yb in it]
    [(4, 3, 32, 32), (4, 3, 32, 32), (2, 3, 32, 32)]
    """

    def __init__(self, dataset, batch_size=128, shuffle=True, drop_last=False,
                 device="auto", augment="auto", crop_padding=CROP_PADDING,
                 padding_mode="constant", mean=None, std=None, channels_last="auto",
                 generator=None, **loader_kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle,
                         drop_last=drop_last, device=device, augment=augment,
                         crop_padding=crop_padding, padding_mode=padding_mode,
                         mean=mean, std=std,
                         channels_last=channels_last, generator=generator,
                         **loader_kwargs)


class DeviceEvalIterator(_DeviceIterator):
    """skorch ``iterator_valid`` matching :class:`DeviceTrainIterator`.

    Serves the samples in the given row order, without augmentation and with
    the same scaling and normalisation as the train iterator, so held-out
    predictions line up with the rows they were asked for.

    Parameters
    ----------
    dataset : torch Dataset
        As for :class:`DeviceTrainIterator`.
    batch_size : int, default=128
        Set by skorch from the net's ``batch_size``.
    shuffle : bool, default=False
        Accepted for interface compatibility; keep it False for predictions.
    drop_last : bool, default=False
        Skip the last incomplete batch.
    device : str, default="auto"
        Where the data live; use the net's device.
    mean, std : float or sequence of float, default=None
        Must equal the train iterator's (see there).
    channels_last : bool or "auto", default="auto"
        As for :class:`DeviceTrainIterator`.
    generator : torch.Generator, default=None
        CPU generator of the fallback ``DataLoader`` (array-backed data are
        served without drawing any random number); ``None`` lets the
        ``DataLoader`` draw its worker seed from torch's global generator.
        The pruners pass a per-task one, so that held-out passes of folds
        trained in threads never touch the global generator.
    **loader_kwargs
        Passed to the fallback ``DataLoader``.

    See Also
    --------
    DeviceTrainIterator : the matching ``iterator_train``.
    ArrayIndexView : row views that folds pass without copying.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.models import ArrayIndexView, DeviceEvalIterator
    >>> X = np.arange(6, dtype=np.float32).reshape(6, 1)
    >>> it = DeviceEvalIterator(ArrayIndexView(X, indices=[5, 0, 3]), batch_size=2, device="cpu")
    >>> [xb.ravel().tolist() for xb, _ in it]
    [[5.0, 0.0], [3.0]]
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False,
                 device="auto", mean=None, std=None, channels_last="auto",
                 generator=None, **loader_kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle,
                         drop_last=drop_last, device=device, augment=False,
                         mean=mean, std=std, channels_last=channels_last,
                         generator=generator, **loader_kwargs)
