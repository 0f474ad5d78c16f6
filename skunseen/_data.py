"""Inputs the library accepts, checked, and how rows are taken from them without loss.

X may be a numpy array (2-D tabular or N-D images), a torch tensor, a pandas
DataFrame or a torch ``Dataset``. Rows are always addressed by their position
in the caller's data, and every row subset is taken with :func:`take_rows` so
that the caller's container type (and a DataFrame's index) comes back. The
checks of X, y, groups, fit parameters and of counts and seeds given as
arguments are here too, shared by every layer.

The module does not import torch: an X that is a tensor or a Dataset was
made with torch, which is then loaded already, so the type checks look it up
in :data:`sys.modules`.
"""

import hashlib
import numbers
import os
import sys

import joblib
import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_X_y, column_or_1d


def is_int(value):
    """Whether ``value`` is an integer and not a bool.

    A bool is an ``Integral`` to Python, but ``window=True`` or
    ``n_select=True`` is a caller's error, not a 1.

    Examples
    --------
    >>> from skunseen._data import is_int
    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def refuse_bools(**counts):
    """Refuse a bool given for a count (``n_repeats=True``, ``n_jobs=False``).

    scikit-learn's ``Interval(Integral, ...)`` constraints take a bool as the
    integer 0 or 1, which would silently change what is computed.

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and ``TypeError``) naming the first such parameter.

    Examples
    --------
    >>> from skunseen._data import refuse_bools
    >>> refuse_bools(n_repeats=2, n_jobs=None)
    >>> refuse_bools(n_repeats=True)
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: n_repeats=True: n_repeats must be an integer, not a bool.
    """
    for name, value in counts.items():
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            raise InvalidParameterError(f"{name}={value!r}: {name} must be an integer, not a bool.")


def check_seed(random_state):
    """:func:`~sklearn.utils.check_random_state`, refusing a bool (``True`` is not a seed).

    Examples
    --------
    >>> from skunseen._data import check_seed
    >>> check_seed(0).randint(10) == check_seed(0).randint(10)
    True
    """
    refuse_bools(random_state=random_state)
    return check_random_state(random_state)


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
    if len(dataset) and not _item_label(dataset[0])[0]:
        raise ValueError(_NO_ITEM_LABELS)
    return np.asarray([plain(_item_label(dataset[i])[1]) for i in range(len(dataset))])


_NO_ITEM_LABELS = (
    "X is a torch Dataset whose items carry no label (they are not (x, y) pairs), and a "
    "skorch net trains on the labels the items yield; give a Dataset yielding (x, y) "
    "pairs, e.g. TensorDataset(X, y)."
)


def _item_label(item):
    """``(True, label)`` of a Dataset item that is an ``(x, y, ...)`` sequence, else
    ``(False, None)``."""
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        return False, None
    label = item[1]
    return True, label.item() if hasattr(label, "item") else label


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
    """A digest of the data by its values, to recognise X again.

    ``transform`` uses it to refuse data other than the fitted data, and the
    store (``memory``) to never reuse work done on other data.

    * Arrays, tensors and DataFrames are hashed by value in C order, block
      by block: the same values give the same digest whatever their memory
      layout (a Fortran-ordered array, a column slice), at several hundred
      MB/s. A DataFrame's column names enter too.
    * A file-backed Dataset (an ``ImageFolder``/``DatasetFolder``,
      skunseen's folder loaders, anything listing its files in ``samples``
      or ``imgs``, and ``Subset`` views of one) is identified by its files'
      paths, sizes and modification times, its labels and its transforms'
      descriptions; no image is read.
    * A ``TensorDataset`` (or anything holding its data in a ``tensors``
      tuple) by the values of its tensors.
    * Any other Dataset by its type, length and labels; the store reads its
      content when it needs a key (one pass over the data).

    Examples
    --------
    >>> import numpy as np
    >>> from skunseen._data import fingerprint
    >>> X = np.arange(12.0).reshape(4, 3)
    >>> fingerprint(X) == fingerprint(np.asfortranarray(X))
    True
    >>> fingerprint(X) == fingerprint(X + 1)
    False
    """
    if is_dataset(X):
        tensors = getattr(X, "tensors", None)
        if isinstance(tensors, tuple) and all(is_tensor(t) for t in tensors):
            return joblib.hash(("tensors", _type_name(X), [fingerprint(t) for t in tensors]))
        files = dataset_files(X)
        if files is None:
            return joblib.hash((_type_name(X), len(X), labels_of_dataset(X)))
        return joblib.hash(("files", _type_name(X), files, _transforms(X),
                            labels_of_dataset(X)))
    columns = None
    if is_dataframe(X):
        # The dtypes too: a pipeline may select columns by them (categories, ints).
        columns = [(str(column), str(dtype)) for column, dtype in X.dtypes.items()]
        X = X.to_numpy()
    if is_tensor(X):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype.hasobject:
        return joblib.hash((columns, X.shape, X.tolist()))
    digest = hashlib.sha256(f"{X.dtype.str}|{X.shape}|{columns}|".encode())
    rows = max(1, _HASH_BLOCK // max(1, X[:1].nbytes))
    for start in range(0, len(X), rows):
        digest.update(np.ascontiguousarray(X[start:start + rows]).data)
    return digest.hexdigest()


# Bytes hashed at a time: C-ordered copies of blocks of rows stay small.
_HASH_BLOCK = 64 * 2**20


def _type_name(X):
    return f"{type(X).__module__}.{type(X).__qualname__}"


def dataset_files(dataset):
    """``[(path, size, mtime_ns), ...]`` of a file-backed Dataset's samples, or None.

    ``samples`` or ``imgs`` list ``(path, label)`` pairs in an ``ImageFolder``
    and similar folders; a ``Subset`` gives its parent's files at its indices.
    """
    Subset = _loaded("torch.utils.data").Subset
    if isinstance(dataset, Subset):
        files = dataset_files(dataset.dataset)
        return None if files is None else [files[i] for i in dataset.indices]
    listed = getattr(dataset, "samples", None) or getattr(dataset, "imgs", None)
    if not isinstance(listed, (list, tuple)) or len(listed) != len(dataset):
        return None
    files = []
    for entry in listed:
        path = entry[0] if isinstance(entry, (tuple, list)) else entry
        if not isinstance(path, (str, os.PathLike)):
            return None
        stat = os.stat(path)
        files.append((os.fspath(path), stat.st_size, stat.st_mtime_ns))
    return files


def _transforms(dataset):
    """How a Dataset (or a Subset's parent) transforms its samples, as text."""
    while isinstance(dataset, _loaded("torch.utils.data").Subset):
        dataset = dataset.dataset
    return [repr(getattr(dataset, name, None))
            for name in ("transform", "target_transform", "transforms")]


def check_data(X, y, *, caller, validate=check_X_y):
    """X and y as scoring needs them: ``(X, y)``, y a 1-D array.

    Tensors and Datasets are checked here; other X go through ``validate``
    (:func:`~sklearn.utils.validation.check_X_y`, or the pruners'
    ``validate_data``). A DataFrame comes back as it is, so that the
    scoring models receive its columns as
    :func:`~sklearn.model_selection.cross_val_predict` passes them. A
    column-vector y is raveled with scikit-learn's warning. Raises
    ``ValueError`` naming ``caller``.
    """
    if y is None:
        if not is_dataset(X):
            raise ValueError(
                f"{caller} requires y to be passed, but the target y is None; pass the "
                "labels, or a torch Dataset that provides them."
            )
        y = labels_of_dataset(X)
    if not (is_dataset(X) or is_tensor(X)):
        checked, y = validate(X, y, dtype=None, allow_nd=True, ensure_all_finite=True,
                              ensure_min_samples=2)
        return (X if is_dataframe(X) else checked), y
    y = np.asarray(y.cpu() if is_tensor(y) else y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1 or len(y) != n_rows(X):
        raise ValueError(
            f"y must be 1-D with one label per row of X: got shape {y.shape} "
            f"for {n_rows(X)} rows."
        )
    if is_tensor(X):
        check_finite(X)
    else:
        check_item_labels(X, y)
    return X, y


#: Items of a Dataset whose labels are compared with y (spread over the Dataset).
N_LABEL_PROBES = 8


def check_item_labels(dataset, y):
    """Raise when the labels a Dataset's items yield disagree with ``y``, or when
    its items carry none.

    A skorch net trains on the labels the items yield; folds, class budgets
    and every score's true label come from ``y`` (by default the Dataset's
    ``targets``). A ``target_transform`` (merged classes, label noise)
    makes the two differ, and the scores would then measure the difference,
    silently. The first item of every class and :data:`N_LABEL_PROBES`
    items spread over the Dataset are read, so any relabelling of a whole
    class is caught; noise on single items may not be.
    """
    if _labels_follow_files(dataset) and np.array_equal(labels_of_dataset(dataset), y):
        return  # a folder's items carry the labels of its file list, which y is
    n = len(dataset)
    _, first_of_class = np.unique(y, return_index=True)
    spread = np.linspace(0, n - 1, min(n, N_LABEL_PROBES)).astype(np.int64)
    for row in np.unique(np.concatenate([first_of_class, spread])):
        has_label, label = _item_label(dataset[int(row)])
        if not has_label:
            raise ValueError(_NO_ITEM_LABELS)
        if plain(label) != plain(y[row]):
            raise ValueError(
                f"The Dataset's item {row} yields the label {plain(label)!r}, but y (its "
                f"`targets` unless given) says {plain(y[row])!r}: the scoring nets would "
                "train on one labelling and be scored against the other. This happens with "
                "a target_transform, which `targets` does not reflect; pass y with the "
                "labels the items yield, or set `targets` to them."
            )


def _labels_follow_files(dataset):
    """Whether a Dataset's items carry the labels of its file list: an ``ImageFolder``
    or ``DatasetFolder`` (or a ``Subset`` of one) without a ``target_transform``."""
    while isinstance(dataset, _loaded("torch.utils.data").Subset):
        dataset = dataset.dataset
    return (isinstance(getattr(dataset, "samples", None), list)
            and getattr(dataset, "target_transform", "absent") is None)


def check_labels(y):
    """The sorted classes of y and y encoded as their positions; 2 classes at least."""
    classes, encoded = encode_labels(y)
    check_classification_targets(y)
    if len(classes) < 2:
        raise ValueError(
            f"y has a single class ({plain(classes[0])!r}); pruning by difficulty "
            "needs at least 2 classes."
        )
    return classes, encoded


def check_groups(groups, n_samples):
    """``groups`` as a 1-D array with one entry per row (None stays None).

    Splitters sort the groups, so every entry must be present (no None or
    NaN) and all of one kind (numbers or strings).
    """
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise ValueError(f"groups must be 1-D, one group per row of X; got shape {groups.shape}.")
    if len(groups) != n_samples:
        raise ValueError(
            f"groups must have one entry per row of X: got {len(groups)} for "
            f"{n_samples} rows."
        )
    as_objects = groups.astype(object)
    # NaN, NaT and pandas' NA are unequal to themselves (pd.NA's comparison is NA).
    missing = np.flatnonzero([value is None or not _equals_itself(value)
                              for value in as_objects])
    if len(missing):
        raise ValueError(
            f"groups holds missing values (None or NaN) at {len(missing)} rows (e.g. rows "
            f"{missing[:5].tolist()}); give every row a group, e.g. its own id."
        )
    kinds = {"strings" if isinstance(value, (str, bytes)) else "numbers"
             for value in as_objects}
    if len(kinds) > 1:
        raise TypeError(
            "groups mixes numbers and strings; the group ids must be all numbers or all "
            "strings."
        )
    return groups


def _equals_itself(value):
    try:
        return bool(value == value)
    except TypeError:  # pandas.NA
        return False


def check_fit_params(fit_params, n_samples):
    """The models' fit parameters; sample weights must be finite, >= 0, one per row."""
    fit_params = dict(fit_params or {})
    for name, weights in fit_params.items():
        if name != "sample_weight" and not name.endswith("__sample_weight"):
            continue
        weights = np.asarray(weights)
        if weights.shape != (n_samples,):
            raise ValueError(
                f"The fit parameter {name} must have one weight per row of X: got shape "
                f"{weights.shape} for {n_samples} rows."
            )
        if not np.issubdtype(weights.dtype, np.number) or not np.isfinite(weights).all() \
                or (weights < 0).any():
            raise ValueError(f"The fit parameter {name} must hold finite weights >= 0.")
    return fit_params


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
