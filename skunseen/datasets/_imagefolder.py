"""ImageNet-style folders streamed from disk as torch Datasets."""

from pathlib import Path

import numpy as np
from torch.utils.data import Subset

from ._common import class_positions, finish, image_errors, unreadable_image

__all__ = ["load_image_folder", "IMAGENET_MEAN", "IMAGENET_STD"]

#: Channel statistics used by the default transform (torchvision's ImageNet values).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _default_transform(image_size):
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize(int(round(image_size * 256 / 224))),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def _read_image(path):
    """The RGB image at ``path``, or a ValueError that names the file."""
    from PIL import Image

    try:
        with open(path, "rb") as file, Image.open(file) as image:
            return image.convert("RGB")
    except image_errors() as exc:
        raise unreadable_image(path, exc) from exc


def _image_folder(root, class_names, transform):
    from torchvision.datasets import ImageFolder

    class _FixedClasses(ImageFolder):
        # Class indices come from train/ for every split, so a test split that
        # lacks a class (or a classes= selection) cannot shift the labels.
        def find_classes(self, directory):
            return list(class_names), {c: i for i, c in enumerate(class_names)}

    # allow_empty: a selected class may legitimately have no test images
    return _FixedClasses(str(root), transform=transform, loader=_read_image, allow_empty=True)


def _take_subset(dataset, rows):
    return Subset(dataset, rows.tolist())


def load_image_folder(root, transform=None, *, image_size=224, limit=None, test_limit=None,
                      classes=None, pool_seed=0):
    """Stream an ImageNet-style ``train/`` + ``test/`` (or ``val/``) folder.

    Nothing is loaded into memory but the file list: ``X_train`` and
    ``X_test`` are torchvision ``ImageFolder`` datasets (or ``Subset``\\ s of
    them) that read and transform one image per item, e.g. for a
    ``DataLoader`` with workers; ``y_train`` / ``y_test`` are their labels as
    numpy arrays, read from the file list without opening any image.

    Parameters
    ----------
    root : str or path
        Folder with ``train/<class>/<image>`` and ``test/<class>/<image>``
        (``val/`` is used when there is no ``test/``).
    transform : callable, default=None
        Applied to every PIL image of both splits. ``None``: resize to
        ``image_size * 256 / 224``, centre crop ``image_size``, to float
        tensor, normalise with ImageNet statistics.
    image_size : int, default=224
        Crop size of the default transform.
    limit : int or float, default=None
        Stratified subset of the training split (see
        :func:`stratified_subset`).
    test_limit : int or float, default=None
        The same for the test split.
    classes : sequence of int or str, or callable, default=None
        Keep only these classes (indices into the sorted folder names, or
        names), relabelled ``0 .. len(classes) - 1`` in the given order;
        other class folders are not even listed. A callable receives the
        sorted folder names and returns such a sequence.
    pool_seed : int, default=0
        Seed of the ``limit`` subsets.

    Returns
    -------
    TrainTestData
        ``(X_train, y_train, X_test, y_test)`` with torch Datasets as X and
        int64 arrays as y; ``classes`` holds the names, ``train_files`` the
        path of every training image under ``root`` and, without
        ``classes``, ``train_index`` its position in
        ``ImageFolder(root / "train")``.

    See Also
    --------
    load_image_archive : decode a folder or archive into in-memory arrays.
    TrainTestData : the returned type.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from skunseen.datasets import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for split in ("train", "val"):
    ...     for cls in ("ant", "bee"):
    ...         (root / split / cls).mkdir(parents=True)
    ...         Image.new("RGB", (40, 30)).save(root / split / cls / "0.jpg")
    >>> X_train, y_train, X_test, y_test = load_image_folder(root, image_size=16)
    >>> len(X_train), y_train.tolist(), tuple(X_train[0][0].shape)
    (2, [0, 1], (3, 16, 16))
    """
    root = Path(root).expanduser()
    train_dir = root / "train"
    test_dir = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
    if not train_dir.is_dir() or test_dir is None:
        raise FileNotFoundError(
            f"expected {train_dir} and {root / 'test'} (or {root / 'val'}) with one "
            "sub-folder per class"
        )
    names = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not names:
        raise FileNotFoundError(f"{train_dir} has no class folders")
    if transform is None:
        transform = _default_transform(image_size)
    # List only the requested classes (a large saving on ImageNet) by giving
    # ImageFolder the selection; finish then sees labels already in order.
    positions = class_positions(classes, names)
    listed = names if positions is None else [names[p] for p in positions]
    train = _image_folder(train_dir, listed, transform)
    test = _image_folder(test_dir, listed, transform)
    files = [str(Path(file).relative_to(root)) for file, _ in train.samples]
    data = finish(train, np.asarray(train.targets, dtype=np.int64),
                  test, np.asarray(test.targets, dtype=np.int64),
                  listed, None, limit, test_limit, pool_seed, _take_subset,
                  train_files=files, source_classes=names)
    if positions is not None:
        # Positions among the listed classes only, not in the whole folder.
        data.train_index = None
    return data
