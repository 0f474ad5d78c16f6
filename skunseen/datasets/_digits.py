"""scikit-learn's bundled digits as 1x8x8 images."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ._common import finish, take_rows

__all__ = ["load_digits_images"]


def load_digits_images(*, test_size=0.25, split_seed=0, limit=None, test_limit=None,
                       classes=None, pool_seed=0):
    """scikit-learn's 1,797 handwritten digits as float32 (n, 1, 8, 8) images.

    Needs no files or network, which makes it the default for demos and
    fast tests. Pixel values are scaled from 0..16 to [0, 1]. The training
    split holds 1,347 of the 1,797 rows; its ``train_index`` gives every
    training row's row in :func:`sklearn.datasets.load_digits`.

    Parameters
    ----------
    test_size : float, default=0.25
        Fraction held out as the test split (stratified).
    split_seed : int, default=0
        Seed of the train/test split (digits has no official split).
    limit : int or float, default=None
        Keep a stratified subset of the training split of this size (or
        fraction); see :func:`stratified_subset`.
    test_limit : int or float, default=None
        The same for the test split.
    classes : sequence of int or str, or callable, default=None
        Keep only these digits, relabelled ``0 .. len(classes) - 1`` in the
        given order. A callable receives the class names ``"0" .. "9"`` and
        returns such a sequence.
    pool_seed : int, default=0
        Seed of the ``limit`` subsets, independent of any training seed.

    Returns
    -------
    TrainTestData
        ``(X_train, y_train, X_test, y_test)`` with ``classes`` names.

    See Also
    --------
    load_image_archive : decode an ImageFolder-layout archive into arrays.
    stratified_subset : how ``limit`` subsets are drawn.

    Examples
    --------
    >>> from skunseen.datasets import load_digits_images
    >>> X_train, y_train, X_test, y_test = load_digits_images()
    >>> X_train.shape, X_train.dtype, len(X_test)
    ((1347, 1, 8, 8), dtype('float32'), 450)
    >>> data = load_digits_images(classes=[3, 8], limit=50)
    >>> data.X_train.shape, sorted(set(data.y_train.tolist())), data.classes
    ((50, 1, 8, 8), [0, 1], ['3', '8'])
    >>> from sklearn.datasets import load_digits
    >>> bool((load_digits().target[data.train_index] == [3, 8][0]).sum()
    ...      == (data.y_train == 0).sum())
    True
    """
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    X_train, X_test, y_train, y_test, index_train, _ = train_test_split(
        X, y, np.arange(len(y)), test_size=test_size, stratify=y, random_state=split_seed
    )
    names = [str(int(t)) for t in digits.target_names]
    return finish(X_train, y_train, X_test, y_test, names, classes, limit, test_limit,
                  pool_seed, take_rows, train_index=index_train)
