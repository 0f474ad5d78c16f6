"""Image archives: damaged or planted caches, dead runs' leftovers, hostile members."""

import io
import subprocess
import sys
import tarfile
import tracemalloc
import warnings

import numpy as np
import pytest
from PIL import Image

import skunseen.datasets._archive as archive_module
from skunseen._files import _host, owned_prefix
from skunseen.datasets import load_image_archive


def png(seed):
    buf = io.BytesIO()
    pixels = np.random.RandomState(seed).randint(0, 255, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def add_file(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_link(tar, name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    tar.addfile(info)


def tiny_archive(path, extra=None):
    """train/ and test/ with classes cat and dog, 3 images each; ``extra(tar)`` adds more."""
    with tarfile.open(path, "w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for k, (split, cls, i) in enumerate((s, c, i) for s in ("train", "test")
                                            for c in ("cat", "dog") for i in range(3)):
            add_file(tar, f"data/{split}/{cls}/{i}.png", png(k))
        if extra is not None:
            extra(tar)
    return path


def same(a, b):
    return all(np.array_equal(x, z) for x, z in zip(a, b)) and a.classes == b.classes


@pytest.fixture
def archive(tmp_path):
    return tiny_archive(tmp_path / "tiny.tar.gz")


def cache_folder(archive, cache):
    return cache / f"tiny-{archive_module._fingerprint(archive, None)}"


def test_a_damaged_cache_is_reported_and_rebuilt(archive, tmp_path):
    cache = tmp_path / "cache"
    original = load_image_archive(archive, cache_dir=cache)
    npy = cache_folder(archive, cache) / "X_train.npy"
    npy.write_bytes(npy.read_bytes()[:100])
    with pytest.warns(UserWarning, match="Ignoring the unreadable image cache.*decoded again"):
        assert same(load_image_archive(archive, cache_dir=cache), original)
    np.load(npy)  # readable again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same(load_image_archive(archive, cache_dir=cache), original)


@pytest.mark.parametrize("where", ["folder", "file"])
def test_a_planted_symlink_is_never_followed(archive, tmp_path, where):
    cache = tmp_path / "cache"
    original = load_image_archive(archive)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in archive_module._CACHE_FILES:
        np.save(elsewhere / f"{name}.npy", np.zeros(3, dtype=np.uint8))
    (elsewhere / "meta.json").write_text('{"classes": ["x"], "train_files": []}')
    folder = cache_folder(archive, cache)
    if where == "folder":
        cache.mkdir()
        folder.symlink_to(elsewhere, target_is_directory=True)
    else:
        load_image_archive(archive, cache_dir=cache)
        (folder / "X_train.npy").unlink()
        (folder / "X_train.npy").symlink_to(elsewhere / "X_train.npy")
    with pytest.warns(UserWarning, match="Ignoring the unreadable image cache"):
        assert same(load_image_archive(archive, cache_dir=cache), original)
    assert not folder.is_symlink() and not (folder / "X_train.npy").is_symlink()
    assert sorted(p.name for p in elsewhere.iterdir()) == [
        "X_test.npy", "X_train.npy", "meta.json", "y_test.npy", "y_train.npy"]


def test_temporary_folders_of_dead_runs_are_removed(archive, tmp_path):
    cache = tmp_path / "cache"
    stem = cache_folder(archive, cache).name
    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                             capture_output=True, text=True, check=True).stdout)
    dead = cache / f"{stem}.tmp-{_host()}-{pid}-abc"
    live = cache / f"{owned_prefix(stem + '.tmp-')}def"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        np.save(folder / "X_train.npy", np.zeros(3))
    load_image_archive(archive, cache_dir=cache)
    assert not dead.exists() and live.exists()
    assert sorted(p.name for p in cache.iterdir()) == sorted([live.name, stem])


def hostile(tmp_path):
    def extra(tar):
        add_file(tar, "../../evil.txt", b"relative traversal\n")
        add_file(tar, str(tmp_path / "abs_evil.png"), png(90))
        add_file(tar, "../train/cat/trav.png", png(91))
        add_file(tar, "data/train/dog/../../train/cat/up.png", png(92))
        add_link(tar, "data/train/cat/link.png", "/etc/passwd", tarfile.SYMTYPE)
        add_link(tar, "data/train/dog/hard.png", "../../evil.txt", tarfile.LNKTYPE)
        add_link(tar, "data/train/evil", "/elsewhere", tarfile.SYMTYPE)
        add_file(tar, "data/train/evil/x.png", png(93))
    return extra


@pytest.mark.parametrize("cached", [False, True])
def test_hostile_member_names_are_skipped(tmp_path, cached):
    clean = load_image_archive(tiny_archive(tmp_path / "clean.tar.gz"))
    path = tiny_archive(tmp_path / "hostile.tar.gz", extra=hostile(tmp_path))
    with pytest.warns(UserWarning, match=r"skipped 5 archive member\(s\) whose names leave the "
                                         r"archive or pass through a link"):
        data = load_image_archive(path, cache_dir=tmp_path / "cache" if cached else None)
    assert same(data, clean)
    assert not (tmp_path / "abs_evil.png").exists()


def test_members_are_streamed_not_decompressed_whole(tmp_path):
    class Zeros(io.RawIOBase):
        def __init__(self, size):
            self.left = size

        def readable(self):
            return True

        def readinto(self, buffer):
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    size = 64 << 20

    def padding(tar):
        info = tarfile.TarInfo("padding.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(Zeros(size)))

    path = tiny_archive(tmp_path / "padded.tar.gz", extra=padding)
    tracemalloc.start()
    try:
        data = load_image_archive(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data.X_train) == 6
    assert peak < size / 4, f"{peak} bytes for an archive with a {size}-byte member"


@pytest.mark.parametrize("cached", [False, True])
def test_rows_map_back_to_their_members(archive, tmp_path, cached):
    full = load_image_archive(archive)
    data = load_image_archive(archive, classes=["dog", "cat"], limit=4, pool_seed=1,
                              cache_dir=tmp_path / "cache" if cached else None)
    assert data.source_classes == ["cat", "dog"] and data.classes == ["dog", "cat"]
    assert len(data.train_files) == len(data.train_index) == 4
    for row, (index, name) in enumerate(zip(data.train_index, data.train_files)):
        assert name == full.train_files[index]
        assert name.split("/")[-2] == data.classes[data.y_train[row]]
        np.testing.assert_array_equal(data.X_train[row], full.X_train[index])
