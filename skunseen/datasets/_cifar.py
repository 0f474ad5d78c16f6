"""CIFAR-10/100 from local torchvision files."""

from pathlib import Path

import numpy as np

from ._common import finish, take_rows

__all__ = ["load_cifar10", "load_cifar100"]


def _load_torchvision_cifar(cls, folder, archive, title, root, download, limit,
                            test_limit, classes, pool_seed):
    root = Path(root).expanduser()
    splits = []
    for train in (True, False):
        try:
            ds = cls(root=str(root), train=train, download=download)
        except RuntimeError as exc:
            raise FileNotFoundError(
                f"{title} not found under {root}: expected torchvision's python version "
                f"extracted at {root / folder} (or the archive {root / archive}, which "
                f"download=True extracts without network access). Pass download=True on "
                f"a machine with internet, or use load_image_archive() for an "
                f"ImageFolder-layout archive."
            ) from exc
        # torchvision keeps HWC; models and the fast path use CHW
        X = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))
        splits += [X, np.asarray(ds.targets, dtype=np.int64)]
    names = list(ds.classes)
    return finish(*splits, names, classes, limit, test_limit, pool_seed, take_rows)


def load_cifar10(root, *, download=False, limit=None, test_limit=None, classes=None,
                 pool_seed=0):
    """CIFAR-10 as uint8 (n, 3, 32, 32) arrays, read with torchvision.

    Nothing is downloaded unless ``download=True``.

    Parameters
    ----------
    root : str or path
        Directory holding ``cifar-10-batches-py/`` (or
        ``cifar-10-python.tar.gz``).
    download : bool, default=False
        Let torchvision download (and/or extract) the data.
    limit : int or float, default=None
        Stratified subset of the training split (see
        :func:`stratified_subset`).
    test_limit : int or float, default=None
        The same for the test split.
    classes : sequence of int or str, or callable, default=None
        Keep only these classes (indices into the class names, or names),
        relabelled ``0 .. len(classes) - 1`` in the given order. A callable
        receives the class names and returns such a sequence.
    pool_seed : int, default=0
        Seed of the ``limit`` subsets.

    Returns
    -------
    TrainTestData
        ``(X_train, y_train, X_test, y_test)`` with ``classes`` names.

    Raises
    ------
    FileNotFoundError
        If the files are missing and ``download`` is False; the message says
        where they are expected.

    See Also
    --------
    load_cifar100 : the 100-class variant.
    load_image_archive : CIFAR-10 from an ImageFolder-layout JPEG archive.

    Examples
    --------
    >>> from skunseen.datasets import load_cifar10
    >>> try:
    ...     X_train, y_train, X_test, y_test = load_cifar10("/nonexistent/cifar")
    ... except FileNotFoundError as exc:
    ...     print("cifar-10-batches-py" in str(exc))
    True
    """
    from torchvision.datasets import CIFAR10

    return _load_torchvision_cifar(CIFAR10, "cifar-10-batches-py", "cifar-10-python.tar.gz",
                                   "CIFAR-10", root, download, limit, test_limit, classes,
                                   pool_seed)


def load_cifar100(root, *, download=False, limit=None, test_limit=None, classes=None,
                  pool_seed=0):
    """CIFAR-100 (fine labels) as uint8 (n, 3, 32, 32) arrays, read with torchvision.

    Nothing is downloaded unless ``download=True``.

    Parameters
    ----------
    root : str or path
        Directory holding ``cifar-100-python/`` (or
        ``cifar-100-python.tar.gz``).
    download : bool, default=False
        Let torchvision download (and/or extract) the data.
    limit : int or float, default=None
        Stratified subset of the training split.
    test_limit : int or float, default=None
        The same for the test split.
    classes : sequence of int or str, or callable, default=None
        Keep only these classes (indices or names), relabelled in the given
        order. A callable receives the class names and returns such a
        sequence.
    pool_seed : int, default=0
        Seed of the ``limit`` subsets.

    Returns
    -------
    TrainTestData
        ``(X_train, y_train, X_test, y_test)`` with ``classes`` names.

    Raises
    ------
    FileNotFoundError
        If the files are missing and ``download`` is False.

    See Also
    --------
    load_cifar10 : the 10-class variant.
    load_image_archive : images from an ImageFolder-layout archive.

    Examples
    --------
    >>> from skunseen.datasets import load_cifar100
    >>> try:
    ...     data = load_cifar100("/nonexistent/cifar", limit=1000)
    ... except FileNotFoundError as exc:
    ...     print("cifar-100-python" in str(exc))
    True
    """
    from torchvision.datasets import CIFAR100

    return _load_torchvision_cifar(CIFAR100, "cifar-100-python", "cifar-100-python.tar.gz",
                                   "CIFAR-100", root, download, limit, test_limit, classes,
                                   pool_seed)
