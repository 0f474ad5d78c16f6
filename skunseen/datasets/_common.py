"""Return type and subset helpers shared by the loaders."""

import numbers
from collections import namedtuple

import numpy as np

__all__ = ["TrainTestData", "stratified_subset"]


class TrainTestData(namedtuple("TrainTestData", ["X_train", "y_train", "X_test", "y_test"])):
    """What every loader returns: a 4-tuple that also knows the class names.

    Unpacks as ``X_train, y_train, X_test, y_test``. ``X`` is a numpy array
    for in-memory data and a torch ``Dataset`` for streamed data; ``y`` is
    always a numpy int64 array (for streamed data, the labels of the
    dataset's items in order).

    Parameters
    ----------
    X_train : ndarray or torch Dataset
        Training inputs.
    y_train : ndarray of shape (n_train,)
        Training labels.
    X_test : ndarray or torch Dataset
        Test inputs.
    y_test : ndarray of shape (n_test,)
        Test labels.
    classes : sequence of str, default=None
        Class names, stored as a list (``None`` when unknown).
    train_index : array-like of int of shape (n_train,), default=None
        For every training row, its index in the data the loader read, before
        ``classes`` and ``limit`` (``None`` when unknown).
    train_files : sequence of str of shape (n_train,), default=None
        For every training row, the file it was read from (``None`` for data
        that do not come from one file per image).
    source_classes : sequence of str, default=None
        All class names of the data the loader read, before ``classes``
        (default: ``classes``).

    Attributes
    ----------
    classes : list of str
        Class names; label ``i`` is ``classes[i]``.
    train_index : ndarray of int64 or None
        Where every training row comes from: the row of scikit-learn's
        ``load_digits()`` (digits), the index in the training split
        (CIFAR, archives: images ordered by class, then file name; image
        folders read without ``classes``, in ``ImageFolder`` order).
    train_files : list of str or None
        The archive member or the path under the folder of every training
        row (archives and image folders).
    source_classes : list of str or None
        All class names of the source, e.g. to tell a 10-class archive from
        CIFAR-100 whatever ``classes`` kept.

    See Also
    --------
    load_digits_images : a loader that returns this type.
    stratified_subset : how the loaders' ``limit`` subsets are drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.datasets import TrainTestData
    >>> data = TrainTestData(np.zeros((2, 1)), np.array([0, 1]),
    ...                      np.zeros((1, 1)), np.array([1]), classes=["a", "b"])
    >>> X_train, y_train, X_test, y_test = data
    >>> data.classes, len(X_train)
    (['a', 'b'], 2)
    """

    def __new__(cls, X_train, y_train, X_test, y_test, classes=None, train_index=None,
                train_files=None, source_classes=None):
        self = super().__new__(cls, X_train, y_train, X_test, y_test)
        self.classes = list(classes) if classes is not None else None
        self.source_classes = (list(source_classes) if source_classes is not None
                               else self.classes)
        self.train_index = (None if train_index is None
                            else np.asarray(train_index, dtype=np.int64))
        self.train_files = list(train_files) if train_files is not None else None
        return self

    def __reduce__(self):
        return (type(self), (*self, self.classes, self.train_index, self.train_files,
                             self.source_classes))

    def with_arrays(self, X_train, y_train, X_test, y_test):
        """The same data description (class names, sources) for other arrays
        of the same rows, e.g. the images flattened to features.

        Examples
        --------
        >>> import numpy as np
        >>> from skunseen.datasets import load_digits_images
        >>> data = load_digits_images(limit=20)
        >>> X_train, y_train, X_test, y_test = data
        >>> flat = data.with_arrays(X_train.reshape(20, 64), y_train, X_test, y_test)
        >>> flat.X_train.shape, np.array_equal(flat.train_index, data.train_index)
        ((20, 64), True)
        """
        return TrainTestData(X_train, y_train, X_test, y_test, classes=self.classes,
                             train_index=self.train_index, train_files=self.train_files,
                             source_classes=self.source_classes)


def stratified_subset(y, size, random_state=0):
    """Indices of a class-stratified random subset, in increasing order.

    Class shares follow the class proportions of ``y`` (largest-remainder
    rounding), so small sizes still work (some classes may get no sample).
    The result depends only on ``y``, ``size`` and ``random_state``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.
    size : int or float
        Number of samples, or a fraction in (0, 1]. ``None`` or at least
        ``n_samples`` keeps all samples.
    random_state : int, default=0
        Seed of the draw.

    Returns
    -------
    numpy.ndarray of int64
        Sorted row indices.

    See Also
    --------
    load_digits_images : a loader whose ``limit=`` draws such a subset.
    skunseen.selection.class_budgets : per-class shares of a coreset budget.

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen.datasets import stratified_subset
    >>> y = np.array([0] * 6 + [1] * 3)
    >>> idx = stratified_subset(y, 3, random_state=0)
    >>> np.bincount(y[idx]).tolist()
    [2, 1]
    """
    y = np.asarray(y)
    n = len(y)
    if size is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        if size < 0:
            raise ValueError(f"limit must be non-negative, got {size}")
        count = int(size)
    elif isinstance(size, numbers.Real) and 0 < size <= 1:
        count = int(round(size * n))
    else:
        raise ValueError(f"limit must be an int or a fraction in (0, 1], got {size!r}")
    if count >= n:
        return np.arange(n, dtype=np.int64)
    labels, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * count / n
    share = np.floor(quota).astype(np.int64)
    # largest remainders first; stable sort keeps ties in label order
    extra = np.argsort(-(quota - share), kind="stable")[: count - share.sum()]
    share[extra] += 1
    rng = np.random.RandomState(random_state)
    picked = [rng.choice(np.flatnonzero(inverse == k), share[k], replace=False)
              for k in range(len(labels))]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def class_positions(classes, names):
    """Positions of the requested ``classes`` (indices or names) in ``names``.

    ``classes`` may also be a callable that receives ``names`` (a list) and
    returns the selection, for callers that can only decide once the names
    are known (the command line's ``--classes`` reads a token that names a
    class as that class, whatever its characters).
    """
    if classes is None:
        return None
    if callable(classes):
        classes = classes(list(names))
    positions = []
    for c in classes:
        if isinstance(c, str):
            if c not in names:
                raise ValueError(f"unknown class {c!r}; available: {list(names)}")
            positions.append(list(names).index(c))
        elif isinstance(c, numbers.Integral) and 0 <= int(c) < len(names):
            positions.append(int(c))
        else:
            raise ValueError(f"class {c!r} is not a name or an index in [0, {len(names)})")
    if len(set(positions)) != len(positions):
        raise ValueError(f"classes contains duplicates: {list(classes)}")
    if not positions:
        raise ValueError("classes must not be empty")
    return positions


def select_rows(y, positions, limit, pool_seed):
    """Rows kept by a class selection and a stratified limit, and their new labels.

    Rows are None when everything is kept in order, so callers can skip a copy.
    """
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    rows = np.arange(n, dtype=np.int64)
    if positions is not None:
        mapping = np.full(max(int(y.max(initial=0)), max(positions)) + 1, -1, dtype=np.int64)
        mapping[positions] = np.arange(len(positions))
        new_y = mapping[y]
        rows = np.flatnonzero(new_y >= 0)
        y = new_y[rows]
    keep = stratified_subset(y, limit, random_state=pool_seed)
    rows, y = rows[keep], y[keep]
    return (None if len(rows) == n else rows), y


def kept_names(names, positions):
    return list(names) if positions is None else [names[p] for p in positions]


def finish(X_train, y_train, X_test, y_test, names, classes, limit, test_limit,
           pool_seed, take, *, train_index=None, train_files=None, source_classes=None):
    """Apply ``classes`` and the ``limit`` subsets; ``train_index`` and
    ``train_files`` describe the given training rows (default: their positions),
    ``source_classes`` all classes of the source (default: ``names``)."""
    positions = class_positions(classes, names)
    n_train = len(y_train)
    train_rows, y_train = select_rows(y_train, positions, limit, pool_seed)
    test_rows, y_test = select_rows(y_test, positions, test_limit, pool_seed)
    return TrainTestData(
        X_train if train_rows is None else take(X_train, train_rows), y_train,
        X_test if test_rows is None else take(X_test, test_rows), y_test,
        classes=kept_names(names, positions),
        source_classes=names if source_classes is None else source_classes,
        **train_sources(n_train, train_rows, train_index, train_files))


def train_sources(n_train, rows, train_index=None, train_files=None):
    """``train_index`` and ``train_files`` of the kept ``rows`` (None: all of them)."""
    index = np.arange(n_train, dtype=np.int64) if train_index is None else train_index
    if rows is None:
        return {"train_index": index, "train_files": train_files}
    return {"train_index": np.asarray(index)[rows],
            "train_files": None if train_files is None else [train_files[r] for r in rows]}


def take_rows(X, rows):
    return X[rows]


def image_errors():
    """The exceptions Pillow raises on data it cannot decode as an image."""
    from PIL import Image

    return (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def unreadable_image(where, error):
    """The ValueError for an image that cannot be decoded, naming where it lies.

    Pillow's own message names only an in-memory buffer; in an archive of
    50,000 images, the member name is what lets the user find the file.
    """
    from PIL import UnidentifiedImageError

    reason = ("not an image format Pillow can identify"
              if isinstance(error, UnidentifiedImageError) else f"{type(error).__name__}: {error}")
    return ValueError(f"cannot decode the image {where}: {reason}")
