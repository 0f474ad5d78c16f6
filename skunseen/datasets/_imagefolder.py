"""ImageNet-style folders streamed from disk as torch Datasets."""

from pathlib import Path

import numpy as np
from torch.utils.data import Subset

from ._common import class_positions, finish, image_errors, unreadable_image

__all__ = ["load_image_folder", "IMAGENET_MEAN", "IMAGENET_STD"]

#: Channel statistics used by the default transform (torchvision's ImageNet values).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _default_transform(image_size, first_image):
    from torchvision import transforms

    if image_size is None:
        from PIL import Image

        with Image.open(first_image) as image:  # reads the header, not the pixels
            width, height = image.size
        resize = [transforms.Resize((height, width))]
    else:
        resize = [transforms.Resize(int(round(image_size * 256 / 224))),
                  transforms.CenterCrop(image_size)]
    return transforms.Compose([
        *resize, transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


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


def load_image_folder(root, transform=None, *, image_size=None, limit=None, test_limit=None,
                      classes=None, pool_seed=0):
    """Stream an ImageNet-style ``train/`` folder, and ``test/`` (or ``val/``) if present.

    Nothing is loaded into memory but the file list: ``X_train`` and
    ``X_test`` are torchvision ``ImageFolder`` datasets (or ``Subset``\\ s of
    them) that read and transform one image per item, e.g. for a
    ``DataLoader`` with workers; ``y_train`` / ``y_test`` are their labels as
    numpy arrays, read from the file list without opening any image.

    Parameters
    ----------
    root : str or path
        Folder with ``train/<class>/<image>`` and, to measure test accuracy,
        ``test/<class>/<image>`` (``val/`` is used when there is no
        ``test/``). Without either, the test split is empty: pruning needs
        none.
    transform : callable, default=None
        Applied to every PIL image of both splits. ``None``: resize (see
        ``image_size``), to float tensor, normalise with ImageNet statistics.
    image_size : int, default=None
        Size of the default transform's images. ``None``: the size of the
        first training image (first class folder, first file name), to
        which any image of another size is resized; images keep their
        resolution, so 32-pixel images train as fast as CIFAR. An int:
        resize the shorter side to ``image_size * 256 / 224`` and centre crop
        ``image_size`` (torchvision's ImageNet evaluation transform, e.g.
        224 for ImageNet photographs of varying sizes).
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
        int64 arrays as y (``X_test`` an empty Dataset without a test
        split); ``classes`` holds the names, ``train_files`` the path of
        every training image under ``root`` and, without ``classes``,
        ``train_index`` its position in ``ImageFolder(root / "train")``.

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
    >>> X_train, y_train, X_test, y_test = load_image_folder(root)
    >>> len(X_train), y_train.tolist(), tuple(X_train[0][0].shape), len(X_test)
    (2, [0, 1], (3, 30, 40), 2)
    >>> tuple(load_image_folder(root, image_size=16).X_train[0][0].shape)
    (3, 16, 16)
    """
    root = Path(root).expanduser()
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise FileNotFoundError(
            f"expected {train_dir} with one sub-folder per class (and, for test accuracy, "
            f"{root / 'test'} or {root / 'val'} alike)"
        )
    test_dir = next((root / split for split in ("test", "val") if (root / split).is_dir()),
                    None)
    names = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not names:
        raise FileNotFoundError(f"{train_dir} has no class folders")
    # List only the requested classes (a large saving on ImageNet) by giving
    # ImageFolder the selection; finish then sees labels already in order.
    positions = class_positions(classes, names)
    listed = names if positions is None else [names[p] for p in positions]
    train = _image_folder(train_dir, listed, transform)
    if not train.samples:
        raise FileNotFoundError(f"{train_dir} holds no images in its class folders")
    if transform is None:
        train.transform = _default_transform(image_size, train.samples[0][0])
    if test_dir is None:
        test = Subset(train, [])
    else:
        test = _image_folder(test_dir, listed, train.transform)
    files = [str(Path(file).relative_to(root)) for file, _ in train.samples]
    data = finish(train, np.asarray(train.targets, dtype=np.int64),
                  test, np.asarray(getattr(test, "targets", []), dtype=np.int64),
                  listed, None, limit, test_limit, pool_seed, _take_subset,
                  train_files=files, source_classes=names)
    if positions is not None:
        # Positions among the listed classes only, not in the whole folder.
        data.train_index = None
    return data

