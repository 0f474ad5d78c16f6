import os
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

import skunseen.datasets._archive as archive_module
from helpers import CIFAR_ARCHIVE, NO_CIFAR
from skunseen.datasets import (
    load_cifar10,
    load_cifar100,
    load_digits_images,
    load_image_archive,
    load_image_folder,
    stratified_subset,
)

CLASSES = ("cat", "dog", "emu")
N_TRAIN = {"cat": 4, "dog": 6, "emu": 2}
N_TEST = {"cat": 2, "dog": 1, "emu": 2}


def _pixel(split, cls, i):
    # distinct, exactly recoverable colour per image (PNG is lossless)
    return (CLASSES.index(cls) * 80, i * 20, 200 if split == "train" else 100)


def _make_tree(root, size=(6, 5), ext="png"):
    for split, counts in (("train", N_TRAIN), ("test", N_TEST)):
        for cls, count in counts.items():
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", size, _pixel(split, cls, i)).save(folder / f"{i:03d}.{ext}")
    return root


def _make_tar(tree, target, mode="w:gz", prefix="data", long_names=False):
    with tarfile.open(target, mode) as tar:
        for file in sorted(tree.rglob("*")):
            name = f"{prefix}/{file.relative_to(tree)}" if prefix else str(file.relative_to(tree))
            if long_names and file.is_file():
                # > 100 characters forces pax headers: the tarfile fallback path
                name = name.replace(file.name, "x" * 110 + file.name)
            tar.add(file, arcname=name, recursive=False)
    return target


def _expected(split, counts):
    X, y = [], []
    for label, cls in enumerate(CLASSES):
        for i in range(counts[cls]):
            X.append(np.broadcast_to(np.array(_pixel(split, cls, i), np.uint8)[:, None, None],
                                     (3, 5, 6)))
            y.append(label)
    return np.stack(X), np.array(y)


@pytest.fixture
def tree(tmp_path):
    return _make_tree(tmp_path / "tree")


def _check_full(data):
    X_train, y_train, X_test, y_test = data
    exp_X, exp_y = _expected("train", N_TRAIN)
    assert X_train.dtype == np.uint8 and X_train.shape == (12, 3, 5, 6)
    assert np.array_equal(X_train, exp_X) and np.array_equal(y_train, exp_y)
    exp_X, exp_y = _expected("test", N_TEST)
    assert np.array_equal(X_test, exp_X) and np.array_equal(y_test, exp_y)
    assert y_train.dtype == np.int64
    assert data.classes == list(CLASSES)


def test_archive_from_directory(tree):
    _check_full(load_image_archive(tree))


@pytest.mark.parametrize(
    "suffix, mode, prefix, long_names",
    [
        (".tar.gz", "w:gz", "data", False),
        (".tgz", "w:gz", None, False),
        (".tar", "w", "data", False),
        (".tar.gz", "w:gz", "data", True),
        (".tar.bz2", "w:bz2", "data", False),
    ],
)
def test_archive_from_tar(tree, tmp_path, suffix, mode, prefix, long_names):
    target = _make_tar(tree, tmp_path / f"images{suffix}", mode, prefix, long_names)
    _check_full(load_image_archive(target))


def test_archive_jpeg_decoding_matches_pil(tmp_path):
    tree = _make_tree(tmp_path / "jpg", size=(32, 32), ext="jpg")
    fast = load_image_archive(tree)
    assert fast.X_train.shape == (12, 3, 32, 32)
    pil = np.stack([
        np.asarray(Image.open(p).convert("RGB")).transpose(2, 0, 1)
        for cls in CLASSES for p in sorted((tree / "train" / cls).iterdir())
    ])
    assert np.array_equal(fast.X_train, pil)


def test_archive_pil_fallback_gives_same_arrays(tree, monkeypatch):
    monkeypatch.setattr(archive_module, "_torchvision_decoder", lambda: None)
    _check_full(load_image_archive(tree))


def test_archive_decodes_with_pillow_when_torchvision_does_not_load(tree, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def broken_torchvision(name, *args, **kwargs):
        if name == "torchvision.io":
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken_torchvision)
    with pytest.warns(RuntimeWarning, match="decoding images with Pillow"):
        data = load_image_archive(tree)
    _check_full(data)


def test_archive_cache_makes_second_load_skip_decoding(tree, tmp_path, monkeypatch):
    target = _make_tar(tree, tmp_path / "images.tar.gz")
    cache = tmp_path / "cache"
    first = load_image_archive(target, cache_dir=cache)
    assert len(list(cache.glob("images-*/X_train.npy"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("decoded again despite a valid cache")

    monkeypatch.setattr(archive_module, "_decode_all", fail)
    second = load_image_archive(target, cache_dir=cache)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert second.classes == list(CLASSES)
    # a changed archive must not be served from the stale cache
    os.utime(target, ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_archive(target, cache_dir=cache)


def test_archive_subset_is_identical_with_and_without_cache(tree, tmp_path):
    kwargs = dict(classes=["emu", "dog"], limit=5, test_limit=2, pool_seed=3)
    direct = load_image_archive(tree, **kwargs)
    cached = load_image_archive(tree, cache_dir=tmp_path / "c", **kwargs)
    for a, b in zip(direct, cached):
        assert np.array_equal(a, b)
    assert direct.classes == cached.classes == ["emu", "dog"]
    assert sorted(np.bincount(direct.y_train).tolist()) == [1, 4]
    assert len(direct.X_test) == 2
    # every row maps back to the same file and position either way
    assert direct.train_files == cached.train_files
    assert np.array_equal(direct.train_index, cached.train_index)
    full = load_image_archive(tree)
    assert [full.train_files[i] for i in direct.train_index] == direct.train_files
    for row, file in enumerate(direct.train_files):
        cls = file.split("/")[-2]
        assert direct.classes[direct.y_train[row]] == cls
        assert tuple(direct.X_train[row, :, 0, 0]) == _pixel("train", cls, int(file[-7:-4]))


def test_archive_classes_are_relabelled_in_given_order(tree):
    data = load_image_archive(tree, classes=[2, "cat"])
    assert data.classes == ["emu", "cat"]
    assert data.y_train.tolist() == [1] * 4 + [0] * 2
    assert np.array_equal(data.X_train[-1], _expected("train", N_TRAIN)[0][-1])


def test_archive_resizes_or_rejects_mixed_sizes(tree):
    Image.new("RGB", (9, 9)).save(tree / "train" / "cat" / "999.png")
    with pytest.raises(ValueError, match="image_size"):
        load_image_archive(tree)
    assert load_image_archive(tree, image_size=4).X_train.shape == (13, 3, 4, 4)


def test_archive_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image_archive(tmp_path / "missing.tar.gz")
    (tmp_path / "flat" / "train" / "a").mkdir(parents=True)
    Image.new("RGB", (2, 2)).save(tmp_path / "flat" / "train" / "a" / "0.png")
    with pytest.raises(ValueError, match="train/ and test/"):
        load_image_archive(tmp_path / "flat")


@pytest.mark.skipif(not CIFAR_ARCHIVE.exists(), reason=NO_CIFAR)
def test_cifar10_jpeg_archive_subset():
    X_train, y_train, X_test, y_test = data = load_image_archive(
        CIFAR_ARCHIVE, limit=500, test_limit=100, classes=None, pool_seed=0)
    assert X_train.shape == (500, 3, 32, 32) and X_train.dtype == np.uint8
    assert X_test.shape == (100, 3, 32, 32)
    assert np.bincount(y_train).tolist() == [50] * 10
    assert data.classes[0] == "airplane" and len(data.classes) == 10
    assert 60 < X_train.mean() < 190, "decoded pixels should look like natural images"
    again = load_image_archive(CIFAR_ARCHIVE, limit=500, test_limit=100, pool_seed=0)
    assert np.array_equal(again.X_train, X_train)


def test_image_folder_streams_with_labels(tmp_path):
    root = _make_tree(tmp_path / "imagenet", size=(20, 16))
    (root / "test").rename(root / "val")
    X_train, y_train, X_test, y_test = data = load_image_folder(root, image_size=8)
    assert isinstance(X_train, Dataset) and not isinstance(X_train, np.ndarray)
    assert y_train.tolist() == _expected("train", N_TRAIN)[1].tolist()
    assert len(X_test) == 5 and data.classes == list(CLASSES)
    image, label = X_train[0]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == 0


def test_image_folder_classes_and_limit_give_aligned_subsets(tmp_path):
    root = _make_tree(tmp_path / "imagenet")
    X_train, y_train, X_test, y_test = load_image_folder(
        root, transform=lambda im: torch.tensor(im.getpixel((0, 0))),
        classes=["dog", "cat"], limit=6, pool_seed=1)
    assert len(X_train) == 6 and np.bincount(y_train).tolist() == [4, 2]
    for i in range(len(X_train)):
        pixel, label = X_train[i]
        assert label == y_train[i]
        assert CLASSES[pixel[0].item() // 80] == ["dog", "cat"][label]
    assert sorted(y_test.tolist()) == [0, 1, 1]
    assert [X_test.targets[i] for i in range(3)] == y_test.tolist()


def test_image_folder_missing_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="train"):
        load_image_folder(tmp_path)


def test_digits_images():
    X_train, y_train, X_test, y_test = data = load_digits_images()
    assert X_train.shape == (1347, 1, 8, 8) and X_train.dtype == np.float32
    assert X_train.min() == 0 and X_train.max() == 1
    assert len(X_test) == 450 and data.classes == [str(d) for d in range(10)]
    small = load_digits_images(classes=[7, 1], limit=40, test_limit=10, pool_seed=5)
    assert small.X_train.shape == (40, 1, 8, 8) and np.bincount(small.y_train).tolist() == [20, 20]
    assert len(small.y_test) == 10 and small.classes == ["7", "1"]
    assert np.array_equal(small.X_train, load_digits_images(classes=[7, 1], limit=40,
                                                            test_limit=10, pool_seed=5).X_train)
    assert not np.array_equal(small.X_train, load_digits_images(classes=[7, 1], limit=40,
                                                                pool_seed=6).X_train)


@pytest.mark.parametrize("loader, folder", [(load_cifar10, "cifar-10-batches-py"),
                                            (load_cifar100, "cifar-100-python")])
def test_cifar_missing_files_explain_where(tmp_path, loader, folder):
    with pytest.raises(FileNotFoundError, match=folder):
        loader(tmp_path)
    assert not any(tmp_path.iterdir()), "nothing may be downloaded by default"


def test_cifar_reads_torchvision_data_as_chw(monkeypatch, tmp_path):
    class FakeCIFAR10:
        classes = ["a", "b"]

        def __init__(self, root, train, download):
            n = 6 if train else 2
            self.data = np.arange(n * 32 * 32 * 3, dtype=np.int64).reshape(n, 32, 32, 3) % 251
            self.data = self.data.astype(np.uint8)
            self.targets = [i % 2 for i in range(n)]

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    X_train, y_train, X_test, y_test = load_cifar10(tmp_path, limit=4)
    reference = FakeCIFAR10(tmp_path, True, False).data
    assert X_train.shape == (4, 3, 32, 32)
    idx = stratified_subset(np.arange(6) % 2, 4, random_state=0)
    assert np.array_equal(X_train, reference[idx].transpose(0, 3, 1, 2))
    assert y_train.tolist() == (np.arange(6) % 2)[idx].tolist() and X_test.shape == (2, 3, 32, 32)


def test_stratified_subset():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    idx = stratified_subset(y, 10, random_state=0)
    assert np.all(np.diff(idx) > 0) and np.bincount(y[idx]).tolist() == [5, 3, 2]
    assert np.array_equal(idx, stratified_subset(y, 10, random_state=0))
    assert not np.array_equal(idx, stratified_subset(y, 10, random_state=1))
    assert len(stratified_subset(y, 0.5)) == 50
    assert np.array_equal(stratified_subset(y, 1000), np.arange(100))
    assert len(stratified_subset(y, 2)) == 2
    for bad in (-1, 1.5, "10"):
        with pytest.raises(ValueError):
            stratified_subset(y, bad)
