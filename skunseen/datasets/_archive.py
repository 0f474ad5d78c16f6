"""Decode ImageFolder-layout archives and directories into uint8 arrays."""

import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import tarfile
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

from .._files import owned_prefix, remove_orphans
from ._common import (
    TrainTestData,
    class_positions,
    finish,
    image_errors,
    kept_names,
    select_rows,
    take_rows,
    train_sources,
    unreadable_image,
)

__all__ = ["load_image_archive"]

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_TEST_SPLITS = ("test", "val")
# Bump when the decoded layout changes so that old caches are not reused.
_CACHE_VERSION = 3
_CACHE_FILES = ("X_train", "y_train", "X_test", "y_test")
# Temporary cache folders: "<stem>-<fingerprint>.tmp-<host>-<pid>-<random>".
_TMP = ".tmp-"
_TMP_PATTERN = r"[^/]*-[0-9a-f]{16}" + re.escape(_TMP)


def _is_image(name):
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(_IMAGE_EXTENSIONS)


def _parts(name):
    # plain string splitting: PurePosixPath costs seconds over 60k members
    return [part for part in name.split("/") if part not in ("", ".")]


def _split_class(parts):
    if len(parts) < 3 or parts[-3] not in ("train",) + _TEST_SPLITS:
        return None
    return parts[-3], parts[-2]


class _Members:
    """Filters an archive's members: images in ``<split>/<class>/`` folders.

    Skips, and remembers for one warning, every member whose name leaves
    the archive (absolute, or with a ``..`` part) or passes through a link
    member (a file "inside" a symlinked folder); link members themselves are
    never read.
    """

    def __init__(self):
        self.links = set()
        self.skipped = []

    def add_link(self, name):
        self.links.add("/".join(_parts(name)))

    def image(self, name):
        """``(split, class)`` of an image member to read, or None."""
        parts = _parts(name)
        if name.startswith("/") or ".." in parts or any(
                "/".join(parts[:i]) in self.links for i in range(1, len(parts))):
            self.skipped.append(name)
            return None
        return _split_class(parts) if _is_image(name) else None

    def warn(self, path):
        if self.skipped:
            warnings.warn(
                f"{path}: skipped {len(self.skipped)} archive member(s) whose names leave "
                f"the archive or pass through a link, e.g. {self.skipped[:3]}.",
                UserWarning, stacklevel=5,
            )


class _UnsupportedHeader(Exception):
    """A tar header the streaming reader leaves to tarfile (pax, GNU long names)."""


class _Truncated(Exception):
    """The tar stream ends before its end-of-archive block."""


def _stream_ustar(file, members):
    """``[(split, class, name, bytes)]`` of the images in an uncompressed tar stream.

    Reads plain ustar/GNU headers directly from the stream, about 4x faster
    than tarfile's per-member objects on archives of tiny images, and keeps
    only image members in memory: others are skipped chunk by chunk, so a
    huge non-image member costs no memory. Raises ``_UnsupportedHeader`` on
    headers it does not handle (pax or GNU long-name headers, base-256
    sizes) or whose checksum is wrong; the caller then reads the archive
    with tarfile. Raises ``_Truncated`` when the stream ends inside a member
    or before the all-zero block that ends every complete archive.
    """
    entries = []
    while True:
        header = file.read(512)
        if len(header) < 512:
            raise _Truncated(f"it ends after {len(entries)} images without the end-of-archive "
                             "block")
        if not any(header):
            return entries
        if header[257:262] != b"ustar" or header[124] & 0x80 or not _checksum_ok(header):
            raise _UnsupportedHeader
        kind = header[156:157]
        if kind not in (b"0", b"\0", b"5", b"1", b"2"):
            raise _UnsupportedHeader
        size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        name = header[:100].split(b"\0", 1)[0]
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
        name = name.decode("utf-8", "surrogateescape")
        padded = (size + 511) // 512 * 512
        where = None
        if kind in (b"1", b"2"):
            members.add_link(name)
        elif kind in (b"0", b"\0"):
            where = members.image(name)
        if where is None:
            _skip(file, padded, name)
            continue
        data = file.read(size)
        if len(data) < size:
            raise _Truncated(f"it ends inside the member {name}")
        _skip(file, padded - size, name)
        entries.append((*where, name, data))


def _checksum_ok(header):
    # The checksum field counts as eight spaces (32 * 8 = 256).
    try:
        recorded = int(header[148:156].rstrip(b"\0 ") or b"-1", 8)
    except ValueError:
        return False
    return recorded == sum(header[:148]) + 256 + sum(header[156:])


def _skip(file, size, name):
    while size > 0:
        chunk = file.read(min(size, 1 << 20))
        if not chunk:
            raise _Truncated(f"it ends inside the member {name}")
        size -= len(chunk)


def _damaged(path, reason):
    return ValueError(f"{path} is truncated or damaged ({reason}); download or copy it again")


# What decompressors and tarfile raise on a cut or corrupted stream.
_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, tarfile.TarError)


def _entries_from_tar(path):
    """``[(split, class, name, encoded bytes)]`` of the images in a tar file.

    The archive is read as a stream, member by member: peak memory follows
    the images kept, not the size of the decompressed tar. An archive that
    ends early (an interrupted download or copy) or whose headers are
    corrupted is an error, never a silently smaller dataset.
    """
    members = _Members()
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        opener = gzip.open if path.name.endswith((".tar.gz", ".tgz")) else open
        try:
            with opener(path, "rb") as file:
                entries = _stream_ustar(io.BufferedReader(file, 1 << 20), members)
            members.warn(path)
            return entries
        except _UnsupportedHeader:
            members = _Members()  # start over with tarfile
        except _Truncated as exc:
            raise _damaged(path, exc) from None
        except _STREAM_ERRORS as exc:
            raise _damaged(path, f"{type(exc).__name__}: {exc}") from None
    try:
        entries = _tarfile_entries(path, members)
    except _STREAM_ERRORS as exc:
        raise _damaged(path, f"{type(exc).__name__}: {exc}") from None
    members.warn(path)
    return entries


def _tarfile_entries(path, members):
    """The entries of :func:`_entries_from_tar`, read by tarfile (any header format)."""
    last_header_was_end = []

    class EndCheckedTarInfo(tarfile.TarInfo):
        # tarfile ends its member loop silently on a missing, short or invalid
        # header; only an all-zero block is the real end of an archive.
        @classmethod
        def fromtarfile(cls, tar):
            try:
                return super().fromtarfile(tar)
            except tarfile.HeaderError as exc:
                last_header_was_end.append(isinstance(exc, tarfile.EOFHeaderError))
                raise

    entries = []
    with tarfile.open(path, mode="r|*", tarinfo=EndCheckedTarInfo) as tar:
        for member in tar:
            if member.issym() or member.islnk():
                members.add_link(member.name)
            elif member.isfile() and (where := members.image(member.name)):
                entries.append((*where, member.name, tar.extractfile(member).read()))
        if not last_header_was_end[-1:] == [True]:
            raise _damaged(path, f"it ends after {len(entries)} images without a valid "
                                 "end-of-archive block")
    return entries


def _entries_from_dir(root):
    entries = []
    for split in ("train",) + _TEST_SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            for file in sorted(class_dir.iterdir()):
                if file.is_file() and _is_image(file.name):
                    entries.append((split, class_dir.name, str(file.relative_to(root)),
                                    file.read_bytes()))
    return entries


def _torchvision_decoder():
    """Decoder based on torchvision.io (libjpeg-turbo; ~6x faster than PIL
    for CIFAR-sized images), or None where this torchvision lacks it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_image
    except ImportError:
        return None
    except RuntimeError as exc:
        # A torchvision built for another torch (e.g. a CUDA wheel beside a
        # CPU-only torch) fails to register its operators at import.
        warnings.warn(f"torchvision does not load with this torch ({exc}); decoding images "
                      "with Pillow instead, which is slower. Install the torchvision "
                      "build that matches torch.", RuntimeWarning, stacklevel=3)
        return None

    def decode(blob):
        return decode_image(torch.from_numpy(np.frombuffer(blob, dtype=np.uint8)),
                            mode=ImageReadMode.RGB)

    return decode


def _pil_decode(blob):
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as image:
        return torch.from_numpy(np.asarray(image.convert("RGB")).transpose(2, 0, 1).copy())


@contextlib.contextmanager
def _quiet_decoding():
    # Entered once per batch, not per image (catch_warnings is slow):
    # torchvision.io decoding is deprecated in favour of torchcodec but
    # correct, and the read-only byte buffers are never written.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*not writable.*")
        yield


def _decode_all(blobs, names, image_size, source):
    """The images ``blobs`` (members ``names`` of ``source``) as one uint8 array."""
    # Single-threaded on purpose: per-image overhead holds the GIL, and
    # measured 2-thread decoding of CIFAR-10 was no faster (2.3 s either way).
    decoder = _torchvision_decoder()

    def decode(blob, name):
        image = None
        if decoder is not None:
            try:
                image = decoder(blob)
            except RuntimeError:
                image = None  # formats torchvision cannot read; PIL may
        if image is None:
            try:
                image = _pil_decode(blob)
            except image_errors() as exc:
                raise unreadable_image(f"{name} in {source}", exc) from exc
        if image_size is not None and tuple(image.shape[1:]) != image_size:
            from torchvision.transforms.v2.functional import resize

            image = resize(image, list(image_size), antialias=True)
        return image

    with _quiet_decoding():
        if not blobs:
            return np.empty((0, 3) + (image_size or (0, 0)), dtype=np.uint8)
        first = decode(blobs[0], names[0])
        out = np.empty((len(blobs),) + tuple(first.shape), dtype=np.uint8)
        out[0] = first.numpy()
        for i in range(1, len(blobs)):
            image = decode(blobs[i], names[i])
            if image.shape != first.shape:
                raise ValueError(
                    f"images differ in size ({names[0]} is {tuple(first.shape)}, {names[i]} "
                    f"is {tuple(image.shape)} in {source}); pass image_size=(H, W) to resize "
                    "them, or stream them with load_image_folder()"
                )
            out[i] = image.numpy()
    return out


def _take_list(items, rows):
    return items if rows is None else [items[r] for r in rows]


def _list_archive(path):
    """``([(blobs, labels, member names)] per split, class names)``.

    Images are ordered by class, then by member name.
    """
    entries = _entries_from_dir(path) if path.is_dir() else _entries_from_tar(path)
    by_split = {}
    for split, cls, name, blob in entries:
        by_split.setdefault(split, []).append((cls, name, blob))
    test_split = next((s for s in _TEST_SPLITS if s in by_split), None)
    if "train" not in by_split or test_split is None:
        raise ValueError(
            f"{path} is not in ImageFolder layout with train/ and test/ (or val/) splits: "
            f"expected <split>/<class>/<image> entries, found splits {sorted(by_split)}"
        )
    names = sorted({cls for cls, _, _ in by_split["train"]})
    index = {cls: i for i, cls in enumerate(names)}
    unknown = sorted({cls for cls, _, _ in by_split[test_split]} - set(index))
    if unknown:
        raise ValueError(f"{path}: {test_split}/ has classes missing from train/: {unknown}")
    splits = []
    for split in ("train", test_split):
        items = sorted(by_split[split], key=lambda item: (index[item[0]], item[1]))
        splits.append(([blob for _, _, blob in items],
                       np.array([index[cls] for cls, _, _ in items], dtype=np.int64),
                       [name for _, name, _ in items]))
    return splits, names


def _fingerprint(path, image_size):
    digest = hashlib.sha1(f"{path.resolve()}|{image_size}|v{_CACHE_VERSION}".encode())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        st = file.stat()
        digest.update(f"|{file}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _read_cache(folder):
    """The cached ``(arrays, meta)``, or None when absent, foreign or damaged.

    Only a real folder (no symlink) holding readable files that agree with
    each other is used; anything else is reported and decoded again.
    """
    if not os.path.lexists(folder):
        return None
    try:
        if folder.is_symlink() or not folder.is_dir():
            raise ValueError("it is not a folder this loader wrote")
        arrays = [_read_file(folder / f"{name}.npy", np.load) for name in _CACHE_FILES]
        meta = _read_file(folder / "meta.json", json.load)
        X_train, y_train, X_test, y_test = arrays
        if not (len(X_train) == len(y_train) == len(meta["train_files"])
                and len(X_test) == len(y_test)):
            raise ValueError("its files disagree on the number of images")
        return arrays, meta
    except Exception as exc:  # noqa: BLE001 - any damage means "decode again"
        warnings.warn(
            f"Ignoring the unreadable image cache {folder} ({type(exc).__name__}: {exc}); "
            "the archive is decoded again and the cache rebuilt.",
            UserWarning, stacklevel=3,
        )
        return None


def _read_file(path, read):
    # O_NOFOLLOW: a symlink planted in the cache is refused, never followed.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as file:
        return read(file)


def _write_cache(folder, arrays, meta):
    """Publish the decoded data in ``folder`` atomically.

    The files are written into a fresh temporary folder with an
    unpredictable name (``tempfile.mkdtemp``, owned by this process, see
    :mod:`skunseen._files`), flushed to disk, and the folder is renamed into
    place. A previous, damaged ``folder`` (or a symlink there) is moved
    aside first; a failure to publish (another process published first)
    leaves the cache to that process.
    """
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=owned_prefix(f"{folder.name}{_TMP}"), dir=parent))
    try:
        for name, array in zip(_CACHE_FILES, arrays):
            with open(tmp / f"{name}.npy", "wb") as file:
                np.save(file, array)
                file.flush()
                os.fsync(file.fileno())
        with open(tmp / "meta.json", "w") as file:
            json.dump(meta, file)
            file.flush()
            os.fsync(file.fileno())
        if os.path.lexists(folder):
            old = tmp.with_name(f"{tmp.name}-old")  # ours too: a dead run's is cleaned up
            os.replace(folder, old)  # renames a symlink itself, never its target
            _remove(old)
        os.replace(tmp, folder)
    except OSError:
        _remove(tmp)  # another process won the race, or the disk is full


def _remove(path):
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def load_image_archive(path, *, cache_dir=None, image_size=None, limit=None, test_limit=None,
                       classes=None, pool_seed=0):
    """Decode an ImageFolder-layout archive or directory into uint8 arrays.

    Reads ``train/<class>/<image>`` and ``test/<class>/<image>`` (or
    ``val/``) from a directory, a ``.tar`` or a ``.tar.gz``/``.tgz`` archive
    (a leading folder inside the archive is fine), e.g. CIFAR-10 stored as
    JPEG files. Images are decoded to RGB
    and ordered by class, then by file name. Class names are the sorted
    folder names of ``train/``.

    Parameters
    ----------
    path : str or path
        Directory or tar archive.
    cache_dir : str or path, default=None
        Where to keep the decoded arrays as ``.npy`` files (in a subfolder
        named after the archive and a fingerprint of its path, size, mtime and
        ``image_size``), so that the next load skips decoding. ``None``
        disables caching.
    image_size : int or (int, int), default=None
        Resize every image to this (H, W). Required when image sizes differ.
    limit : int or float, default=None
        Stratified subset of the training split (see
        :func:`stratified_subset`). Without ``cache_dir`` only the selected
        images are decoded (labels come from the file names); the cache
        always holds the full data. Both give the same rows.
    test_limit : int or float, default=None
        The same for the test split.
    classes : sequence of int or str, or callable, default=None
        Keep only these classes (indices into the sorted names, or names),
        relabelled ``0 .. len(classes) - 1`` in the given order. A callable
        receives the sorted class names and returns such a sequence.
    pool_seed : int, default=0
        Seed of the ``limit`` subsets.

    Returns
    -------
    TrainTestData
        ``(X_train, y_train, X_test, y_test)``; X uint8 of shape
        (n, 3, H, W), y int64; ``classes`` holds the names, ``train_files``
        the archive member (or path under the directory) of every training
        image and ``train_index`` its position among all training images.

    See Also
    --------
    load_image_folder : stream a folder from disk instead of decoding it into memory.
    load_cifar10 : CIFAR-10 from torchvision's files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skunseen.datasets import load_image_archive
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for split in ("train", "test"):
    ...     for cls in ("cat", "dog"):
    ...         (root / split / cls).mkdir(parents=True)
    ...         Image.new("RGB", (8, 8)).save(root / split / cls / "0.png")
    >>> data = load_image_archive(root)
    >>> X_train, y_train, X_test, y_test = data
    >>> X_train.shape, y_train.tolist(), data.train_files
    ((2, 3, 8, 8), [0, 1], ['train/cat/0.png', 'train/dog/0.png'])
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no image archive or directory at {path}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif image_size is not None:
        image_size = tuple(int(s) for s in image_size)
    if cache_dir is None:
        # Decode only the rows that survive classes/limit: the labels are
        # known from the file names, so small pools load in a fraction of the
        # time. The selection is the same as on cached full arrays.
        ((train_blobs, y_train, train_files), (test_blobs, y_test, test_files)), names = (
            _list_archive(path))
        positions = class_positions(classes, names)
        n_train = len(y_train)
        train_rows, y_train = select_rows(y_train, positions, limit, pool_seed)
        test_rows, y_test = select_rows(y_test, positions, test_limit, pool_seed)
        return TrainTestData(
            _decode_all(_take_list(train_blobs, train_rows), _take_list(train_files, train_rows),
                        image_size, path), y_train,
            _decode_all(_take_list(test_blobs, test_rows), _take_list(test_files, test_rows),
                        image_size, path), y_test,
            classes=kept_names(names, positions), source_classes=names,
            **train_sources(n_train, train_rows, train_files=train_files))
    stem = path.name.split(".")[0] or "images"
    cache = Path(cache_dir).expanduser()
    remove_orphans(cache, _TMP_PATTERN)
    folder = cache / f"{stem}-{_fingerprint(path, image_size)}"
    loaded = _read_cache(folder)
    if loaded is None:
        splits, names = _list_archive(path)
        arrays = []
        for blobs, y, files in splits:
            arrays += [_decode_all(blobs, files, image_size, path), y]
        loaded = arrays, {"classes": names, "train_files": splits[0][2]}
        _write_cache(folder, *loaded)
    (X_train, y_train, X_test, y_test), meta = loaded
    return finish(X_train, y_train, X_test, y_test, meta["classes"], classes, limit,
                  test_limit, pool_seed, take_rows, train_files=meta["train_files"])
