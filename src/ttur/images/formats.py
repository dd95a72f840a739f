"""Readers of the training datasets' own file formats, registered with :mod:`ttur.datasets`.

* MNIST / Fashion-MNIST IDX (``*-images-idx3-ubyte[.gz]``): :class:`MnistIdx`, gray made RGB;
* SVHN (``*_32x32.mat``, MATLAB v5/v7): :class:`SvhnMat`;
* LSUN (an LMDB folder such as ``bedroom_train_lmdb``, or its ``data.mdb``): :class:`LmdbImages`,
  needs the optional ``lmdb`` package (``pip install 'ttur[lmdb]'``);
* an uncompressed ``.tar`` of image files: :class:`TarImages`;
* CelebA needs no reader of its own: ``img_align_celeba/`` is a folder of JPEGs and
  ``img_align_celeba.zip`` a zip, both read by :func:`ttur.datasets.open_images` in sorted file
  order (``000001.jpg`` ... ``202599.jpg``); crop and resize them with
  :func:`ttur.imagedata.open_training_data` (``crop=108, size=64`` as the DCGAN code did);
* CIFAR-10 python batches live in :mod:`ttur.datasets`; the name ``shapes`` in :mod:`ttur.shapes`.

Every reader raises :class:`~ttur.errors.InputError` naming the file (and member or key) when the
data is truncated or corrupt.
"""

from __future__ import annotations

import gzip
import os
import struct
import tarfile
from pathlib import Path

import numpy as np

from . import shapes  # noqa: F401  (registers the name "shapes")
from .datasets import IMAGE_EXTS, ImageSequence, decode_image, register
from .errors import InputError


class MnistIdx(ImageSequence):
    """MNIST (or Fashion-MNIST) images in IDX format (``*-images-idx3-ubyte``, optionally ``.gz``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        opener = gzip.open if self.path.suffix == ".gz" else open
        try:
            with opener(self.path, "rb") as fh:
                head = fh.read(16)
                if len(head) < 16:
                    raise InputError(f"{self.path}: truncated IDX header")
                magic, n, h, w = struct.unpack(">IIII", head)
                if magic != 2051:
                    raise InputError(f"{self.path}: not an IDX image file (magic {magic}, expected 2051)")
                data = fh.read(n * h * w)
        except (OSError, EOFError) as e:
            raise InputError(f"{self.path}: cannot read ({e})") from e
        if len(data) != n * h * w:
            raise InputError(f"{self.path}: truncated: {len(data)} bytes of pixels for {n} images of {h}x{w}")
        self.array = np.frombuffer(data, np.uint8).reshape(n, h, w)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.repeat(self.array[i][:, :, None], 3, axis=2)


@register
def _open_mnist(p: Path) -> ImageSequence | None:
    if p.is_file() and "idx3-ubyte" in p.name:
        return MnistIdx(p)
    return None


# --------------------------------------------------------------------------------------------
# SVHN: MATLAB .mat files with the images in "X" (H x W x 3 x N)
# --------------------------------------------------------------------------------------------

class SvhnMat(ImageSequence):
    """SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``), or any
    MATLAB v5/v7 file whose variable ``X`` holds images as H x W x C x N (C = 1 or 3) or H x W x N.

    MATLAB v7.3 files are HDF5 containers that scipy cannot read: they raise an error that says so.
    """

    def __init__(self, path: str | Path, key: str = "X") -> None:
        self.path = Path(path)
        self.name = str(self.path)
        try:
            import scipy.io
            from scipy.io.matlab import matfile_version

            with open(self.path, "rb") as fh:
                major, _ = matfile_version(fh)
            if major == 2:
                raise InputError(
                    f"{self.path}: a MATLAB v7.3 (HDF5) file, which scipy cannot read; re-save it in MATLAB "
                    f"with save(..., '-v7'), or convert '{key}' to a .npy array"
                )
            data = scipy.io.loadmat(self.path, variable_names=[key])
        except InputError:
            raise
        except OSError as e:
            raise InputError(f"{self.path}: cannot read ({e})") from e
        except Exception as e:  # scipy raises many types for truncated or corrupt files
            raise InputError(f"{self.path}: not a readable MATLAB file ({type(e).__name__}: {e})") from e
        if key not in data:
            raise InputError(f"{self.path}: no variable '{key}' (SVHN keeps its images in '{key}')")
        x = np.asarray(data[key])
        if x.ndim == 3:
            x = x[:, :, None, :]
        if x.ndim != 4 or x.shape[2] not in (1, 3):
            raise InputError(f"{self.path}: '{key}' should be H x W x 3 x N images, got shape {x.shape}")
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.number) or x.size and (x.min() < 0 or x.max() > 255):
                raise InputError(f"{self.path}: '{key}' should hold pixels 0..255, got {x.dtype}")
            x = np.rint(x).astype(np.uint8)
        self.array = x  # kept as stored; image i is x[:, :, :, i]

    def __len__(self) -> int:
        return self.array.shape[3]

    def __getitem__(self, i: int) -> np.ndarray:
        a = np.ascontiguousarray(self.array[:, :, :, i])
        return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a


@register
def _open_mat(p: Path) -> ImageSequence | None:
    return SvhnMat(p) if p.suffix.lower() == ".mat" and p.is_file() else None


# --------------------------------------------------------------------------------------------
# LSUN: LMDB databases of encoded images (webp/jpeg), one per category and split
# --------------------------------------------------------------------------------------------

def _import_lmdb():
    try:
        import lmdb
    except ImportError as e:
        raise InputError(
            "reading an LMDB database (LSUN) needs the lmdb package: pip install 'ttur[lmdb]' (or pip install lmdb)"
        ) from e
    return lmdb


_LMDB_ENVS: dict[str, tuple[int, object]] = {}


def _lmdb_env(lmdb, path: Path):
    """One read-only environment per database and process (lmdb refuses to open one twice)."""
    key = os.path.realpath(path)
    hit = _LMDB_ENVS.get(key)
    if hit is not None and hit[0] == os.getpid():
        return hit[1]
    env = lmdb.open(str(path), subdir=True, readonly=True, lock=False, readahead=False, meminit=False,
                    max_readers=256)
    _LMDB_ENVS[key] = (os.getpid(), env)
    return env


class LmdbImages(ImageSequence):
    """An LMDB database whose values are encoded images (LSUN's ``bedroom_train_lmdb`` folders).

    Images are in key order. Keys beginning with ``__`` (metadata in some re-packed databases) are
    skipped. The key list is read once when the sequence is made; the database is opened lazily,
    once per process, so the sequence can go to DataLoader workers.
    """

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        self.path = p.parent if p.name == "data.mdb" else p
        self.name = str(self.path)
        self._env = None
        self._pid = None
        lmdb = _import_lmdb()
        keys: list[bytes] = []
        try:
            env = self._open(lmdb)
            with env.begin(write=False) as txn:
                for k in txn.cursor().iternext(keys=True, values=False):
                    if not k.startswith(b"__"):
                        keys.append(bytes(k))
        except lmdb.Error as e:
            raise InputError(f"{self.path}: not a readable LMDB database ({type(e).__name__}: {e})") from e
        # keys packed into one buffer: compact even for LSUN's three million entries
        self._keybuf = b"".join(keys)
        self._offsets = np.cumsum([0] + [len(k) for k in keys], dtype=np.int64)

    def _open(self, lmdb):
        if self._env is None or self._pid != os.getpid():
            self._env = _lmdb_env(lmdb, self.path)
            self._pid = os.getpid()
        return self._env

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_env"] = None
        return d

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def key(self, i: int) -> bytes:
        return self._keybuf[self._offsets[i]:self._offsets[i + 1]]

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"{self.name}: index {i} out of range (length {len(self)})")
        i = i % len(self)
        lmdb = _import_lmdb()
        what = self.describe(i)
        try:
            with self._open(lmdb).begin(write=False) as txn:
                data = txn.get(self.key(i))
        except lmdb.Error as e:
            raise InputError(f"{what}: cannot read ({type(e).__name__}: {e})") from e
        if data is None:
            raise InputError(f"{what}: key missing from the database")
        return decode_image(bytes(data), what)

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.key(i).decode('utf-8', 'backslashreplace')}"


@register
def _open_lmdb(p: Path) -> ImageSequence | None:
    if p.name == "data.mdb" and p.is_file():
        return LmdbImages(p)
    if p.is_dir() and (p / "data.mdb").is_file():
        return LmdbImages(p)
    return None


# --------------------------------------------------------------------------------------------
# Tar archives of image files
# --------------------------------------------------------------------------------------------

class TarImages(ImageSequence):
    """Every image member of an uncompressed ``.tar`` archive, in sorted member order.

    The member table is read once; images are then read by offset (random access), with one file
    handle per process. Compressed tars (``.tar.gz`` ...) cannot be read at random and are refused
    with a message; unpack them or repack as ``.tar`` or ``.zip``.
    """

    def __init__(self, path: str | Path, exts: tuple[str, ...] = IMAGE_EXTS) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        entries = []
        try:
            with tarfile.open(self.path, "r:") as tf:
                for m in tf:
                    if m.isfile() and Path(m.name).suffix.lower() in exts:
                        entries.append((m.name, m.offset_data, m.size))
        except tarfile.ReadError as e:
            raise InputError(f"{self.path}: not a readable uncompressed tar archive ({e})") from e
        except (OSError, EOFError, tarfile.TarError) as e:
            raise InputError(f"{self.path}: cannot read ({e})") from e
        entries.sort()
        self.members = [e[0] for e in entries]
        self.offsets = np.array([e[1] for e in entries], dtype=np.int64)
        self.sizes = np.array([e[2] for e in entries], dtype=np.int64)
        self._fh = None
        self._pid = None

    def _file(self):
        if self._fh is None or self._pid != os.getpid():
            self._fh = open(self.path, "rb")  # kept open for the life of the sequence
            self._pid = os.getpid()
        return self._fh

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_fh"] = None
        return d

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> np.ndarray:
        what = self.describe(i)
        try:
            fh = self._file()
            fh.seek(int(self.offsets[i]))
            data = fh.read(int(self.sizes[i]))
        except OSError as e:
            raise InputError(f"{what}: cannot read ({e})") from e
        if len(data) != self.sizes[i]:
            raise InputError(f"{what}: truncated ({len(data)} of {int(self.sizes[i])} bytes)")
        return decode_image(data, what)

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.members[i]}"


_COMPRESSED_TAR = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@register
def _open_tar(p: Path) -> ImageSequence | None:
    name = p.name.lower()
    if not p.is_file():
        return None
    if name.endswith(".tar"):
        return TarImages(p)
    if name.endswith(_COMPRESSED_TAR):
        raise InputError(f"{p}: compressed tar archives cannot be read image by image; unpack it, or repack "
                         "it as an uncompressed .tar or a .zip")
    return None
