"""Damaged data is an error that says where: cut archives, broken headers, broken images."""

import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from skunseen.datasets import load_digits_images, load_image_archive, load_image_folder

DAMAGED = "d/train/bee/1.png"


def png(seed):
    buffer = io.BytesIO()
    Image.fromarray(np.random.RandomState(seed).randint(0, 255, (8, 8, 3), dtype=np.uint8)).save(
        buffer, "PNG")
    return buffer.getvalue()


def members(damaged=()):
    """``(name, bytes)`` of train/ and test/ with classes ant and bee, 3 images each."""
    return [(f"d/{split}/{cls}/{i}.png",
             b"\x89PNG but damaged" if f"d/{split}/{cls}/{i}.png" in damaged else png(k))
            for k, (split, cls, i) in enumerate((s, c, i) for s in ("train", "test")
                                                for c in ("ant", "bee") for i in range(3))]


def write_tar(path, entries, mode="w", tar_format=tarfile.USTAR_FORMAT):
    with tarfile.open(path, mode, format=tar_format) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def uncompressed(tmp_path, tar_format=tarfile.USTAR_FORMAT, names=None):
    entries = members()
    if names is not None:
        entries = [(names(name), data) for name, data in entries]
    return write_tar(tmp_path / "whole.tar", entries, tar_format=tar_format)


def cuts(path):
    """Where to cut the archive ``path``, around its last member."""
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    end = last.offset_data + (last.size + 511) // 512 * 512
    return {"at a member header": last.offset, "inside a member header": last.offset + 200,
            "inside a member's data": last.offset_data + last.size // 2,
            "before the end-of-archive block": end}


@pytest.mark.parametrize("where", ["at a member header", "inside a member header",
                                   "inside a member's data", "before the end-of-archive block"])
@pytest.mark.parametrize("tar_format", [tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "pax"])
def test_a_cut_tar_is_an_error_not_a_smaller_dataset(tmp_path, where, tar_format):
    # PAX headers with long names are read by tarfile, plain ones by the streaming reader.
    names = (lambda name: name.replace("/", "/" + "x" * 110 + "/", 1)) \
        if tar_format == tarfile.PAX_FORMAT else None
    whole = uncompressed(tmp_path, tar_format, names)
    path = tmp_path / "cut.tar"
    path.write_bytes(whole.read_bytes()[:cuts(whole)[where]])
    with pytest.raises(ValueError, match=rf"{path} is truncated or damaged .*copy it again"):
        load_image_archive(path)


@pytest.mark.parametrize("suffix, compress", [(".tar.gz", "gz"), (".tar.bz2", "bz2"),
                                              (".tar.xz", "xz")])
def test_a_cut_compressed_tar_is_an_error(tmp_path, suffix, compress):
    whole = write_tar(tmp_path / f"whole{suffix}", members(), mode=f"w:{compress}")
    assert len(load_image_archive(whole).y_train) == 6
    path = tmp_path / f"cut{suffix}"
    raw = whole.read_bytes()
    path.write_bytes(raw[:len(raw) * 2 // 3])
    with pytest.raises(ValueError, match=rf"{path} is truncated or damaged"):
        load_image_archive(path)


def test_a_corrupted_member_header_is_an_error(tmp_path):
    whole = uncompressed(tmp_path)
    raw = bytearray(whole.read_bytes())
    raw[cuts(whole)["at a member header"] + 130] ^= 0x01  # the size field: the checksum fails
    path = tmp_path / "flipped.tar"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="truncated or damaged"):
        load_image_archive(path)


def test_complete_archives_still_load(tmp_path):
    for tar_format in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        path = write_tar(tmp_path / f"{tar_format}.tar", members(), tar_format=tar_format)
        data = load_image_archive(path)
        assert len(data.y_train) == len(data.y_test) == 6


@pytest.mark.parametrize("source", ["tar.gz", "folder", "cached"])
def test_a_damaged_image_is_named(tmp_path, source):
    entries = members(damaged={DAMAGED})
    if source == "folder":
        for name, data in entries:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(data)
        path, where = tmp_path / "d", DAMAGED.removeprefix("d/")
    else:
        path, where = write_tar(tmp_path / "images.tar.gz", entries, mode="w:gz"), DAMAGED
    cache = tmp_path / "cache" if source == "cached" else None
    with pytest.raises(ValueError, match=rf"cannot decode the image {where} in {path}: not an "
                                         "image format Pillow can identify"):
        load_image_archive(path, cache_dir=cache)
    # Outside the pool, the damaged image is never decoded.
    assert load_image_archive(path, classes=["ant"]).classes == ["ant"]


def test_images_of_different_sizes_are_named(tmp_path):
    entries = members()
    big = io.BytesIO()
    Image.new("RGB", (9, 9)).save(big, "PNG")
    entries[1] = (entries[1][0], big.getvalue())
    path = write_tar(tmp_path / "sizes.tar", entries)
    with pytest.raises(ValueError, match=r"d/train/ant/0.png is \(3, 8, 8\), d/train/ant/1.png "
                                         r"is \(3, 9, 9\)"):
        load_image_archive(path)


def test_a_damaged_image_in_a_streamed_folder_is_named_when_read(tmp_path):
    for name, data in members(damaged={DAMAGED}):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    X_train, _, _, _ = load_image_folder(tmp_path / "d", image_size=8)
    X_train[0]  # intact images read as before
    with pytest.raises(ValueError, match=rf"cannot decode the image {tmp_path / DAMAGED}"):
        X_train[4]



def test_classes_may_be_chosen_once_the_names_are_known(tmp_path):
    seen = []

    def pick(names):
        seen.append(names)
        return [names[-1], names[0]]

    data = load_image_archive(write_tar(tmp_path / "a.tar", members()), classes=pick)
    assert seen == [["ant", "bee"]] and data.classes == ["bee", "ant"]
    assert load_digits_images(classes=lambda names: names[3:5]).classes == ["3", "4"]
