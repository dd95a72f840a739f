"""Readers of the training datasets' own file formats.

* CIFAR-10 python batches (a ``cifar-10-batches-py`` folder, a batch file, or the ``.tar.gz``):
  :class:`Cifar10Batches`;
* MNIST / Fashion-MNIST IDX (``*-images-idx3-ubyte[.gz]``): :class:`MnistIdx`, gray made RGB;
* SVHN (``*_32x32.mat``, MATLAB v5/v7): :class:`SvhnMat`;
* LSUN (an LMDB folder such as ``bedroom_train_lmdb``, or its ``data.mdb``): :class:`LmdbImages`,
  needs the optional ``lmdb`` package (``pip install 'ttur[lmdb]'``);
* CelebA needs no reader of its own: ``img_align_celeba/`` is a folder of JPEGs and
  ``img_align_celeba.zip`` a zip (:mod:`ttur.images.files`), in sorted file order; crop and resize
  them with :func:`ttur.images.training.open_training_data` (``crop=108, size=64`` as DCGAN did).

Every reader raises :class:`~ttur.errors.InputError` naming the file (and member or key) when the
data is truncated or corrupt. Which reader opens a path is decided in :mod:`ttur.images.readers`.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import ImageSequence, ProcessLocal, decode_image
from .pixels import to_rgb


class Cifar10Batches(ImageSequence):
    """CIFAR-10 "python version": the folder ``cifar-10-batches-py`` (its five training batches),
    one batch file (``data_batch_N`` or ``test_batch``), or the archive ``cifar-10-python.tar.gz``
    (its training batches, or ``...tar.gz:test`` for the test batch)."""

    default_extractor = "cifar10"  # offline monitoring of runs on this data (FD (cifar10 features))

    def __init__(self, path: str | os.PathLike) -> None:
        spec = str(path)
        split = "train"
        if spec.endswith(":test") or spec.endswith(":train"):
            spec, split = spec.rsplit(":", 1)
        p = Path(spec)
        self.name = str(path)
        blobs: list[tuple[str, bytes]] = []
        try:
            if p.is_dir():
                names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
                missing = [n for n in names if not (p / n).is_file()]
                if missing:
                    raise InputError(f"{p}: CIFAR-10 folder without {', '.join(missing)}")
                blobs = [(str(p / n), (p / n).read_bytes()) for n in names]
            elif p.name.endswith((".tar.gz", ".tgz")):
                want = ("test_batch",) if split == "test" else tuple(f"data_batch_{i}" for i in range(1, 6))
                with tarfile.open(p) as tf:
                    for m in sorted(tf.getmembers(), key=lambda m: m.name):
                        if Path(m.name).name in want:
                            blobs.append((f"{p}:{m.name}", tf.extractfile(m).read()))
                if not blobs:
                    raise InputError(f"{p}: no CIFAR-10 batches in this archive")
            else:
                blobs = [(str(p), p.read_bytes())]
        except (OSError, tarfile.TarError) as e:
            raise InputError(f"{path}: cannot read CIFAR-10 batches ({e})") from e
        arrays = []
        for what, blob in blobs:
            try:
                d = pickle.loads(blob, encoding="bytes")
                data = np.asarray(d[b"data"], dtype=np.uint8)
            except Exception as e:
                raise InputError(f"{what}: not a CIFAR-10 python batch ({type(e).__name__})") from e
            if data.ndim != 2 or data.shape[1] != 3072:
                raise InputError(f"{what}: CIFAR-10 data should be N x 3072, got {data.shape}")
            arrays.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.array = np.ascontiguousarray(np.concatenate(arrays))

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.array[i]


def is_cifar10_batch_file(p: Path) -> bool:
    return p.is_file() and (p.name.startswith("data_batch_") or p.name == "test_batch")


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
        return to_rgb(self.array[i])





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
        return to_rgb(np.ascontiguousarray(self.array[:, :, :, i]))





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


class LmdbImages(ProcessLocal, ImageSequence):
    """An LMDB database whose values are encoded images (LSUN's ``bedroom_train_lmdb`` folders).

    Images are in key order. Keys beginning with ``__`` (metadata in some re-packed databases) are
    skipped. The key list is read once when the sequence is made; the database is opened lazily,
    once per process, so the sequence can go to DataLoader workers.
    """

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        self.path = p.parent if p.name == "data.mdb" else p
        self.name = str(self.path)
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
        return self._local(lambda: _lmdb_env(lmdb, self.path))

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
