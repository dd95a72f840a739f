"""Readers of image collections: each is a random-access sequence of uint8 RGB images (HWC).

One protocol serves both FID (:mod:`ttur.sources`) and training (:mod:`ttur.train.data`):
``len(seq)``, ``seq[i] -> np.ndarray`` (H, W, 3) uint8, and ``seq.describe(i)`` naming the file or
record of image ``i`` for error messages. Grayscale and RGBA images come out as RGB (Pillow's
``convert("RGB")``, as pytorch-fid and torch-fidelity do). Readers open their files lazily, so a
sequence can be handed to DataLoader worker processes.

:func:`open_images` picks the reader for a path; more formats register with :func:`register`.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class ImageSequence(Sequence):
    """Base class: random access to uint8 RGB images."""

    name: str = "images"

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, i):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, i: int) -> str:
        return f"{self.name}[{i}]"


def to_rgb(a: np.ndarray) -> np.ndarray:
    """HW, HW1, HW3 or HW4 uint8 to HW3 (gray repeated, alpha dropped)."""
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"image of shape {a.shape} is not HW, HWC with 1, 3 or 4 channels")
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    if a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    return a


def decode_image(data: bytes | str | os.PathLike, what: str) -> np.ndarray:
    """Decode an image file (path or bytes) to HW3 uint8, or raise InputError naming ``what``."""
    try:
        src = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
        with Image.open(src) as img:
            img.load()
            if img.mode != "RGB":
                img = img.convert("RGB")
            return np.asarray(img, dtype=np.uint8).copy()
    except UnidentifiedImageError as e:
        raise InputError(f"{what}: not a readable image") from e
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
        raise InputError(f"{what}: corrupt or truncated image ({e})") from e


class FolderImages(ImageSequence):
    """Every image file under a folder, recursively, in sorted path order."""

    def __init__(self, root: str | os.PathLike, exts: tuple[str, ...] = IMAGE_EXTS) -> None:
        self.root = Path(root)
        self.name = str(self.root)
        if not self.root.is_dir():
            raise InputError(f"{root}: not a folder")
        self.files = sorted(
            p for p in self.root.rglob("*") if p.suffix.lower() in exts and p.is_file()
        )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray:
        return decode_image(self.files[i], str(self.files[i]))

    def describe(self, i: int) -> str:
        return str(self.files[i])


class ZipImages(ImageSequence):
    """Every image member of a zip archive, in sorted member order."""

    def __init__(self, path: str | os.PathLike, exts: tuple[str, ...] = IMAGE_EXTS) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        try:
            with zipfile.ZipFile(self.path) as zf:
                self.members = sorted(
                    n for n in zf.namelist() if not n.endswith("/") and Path(n).suffix.lower() in exts
                )
        except (zipfile.BadZipFile, OSError) as e:
            raise InputError(f"{path}: not a readable zip archive ({e})") from e
        self._zf: zipfile.ZipFile | None = None
        self._pid = None

    def _zip(self) -> zipfile.ZipFile:
        if self._zf is None or self._pid != os.getpid():  # one handle per process
            self._zf = zipfile.ZipFile(self.path)
            self._pid = os.getpid()
        return self._zf

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_zf"] = None
        return d

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> np.ndarray:
        what = f"{self.path}:{self.members[i]}"
        try:
            data = self._zip().read(self.members[i])
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise InputError(f"{what}: cannot read ({e})") from e
        return decode_image(data, what)

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.members[i]}"


def channels_last(shape: tuple[int, ...], prefer_last: bool) -> bool | None:
    """Whether a 4-d image batch of ``shape`` is NHWC (True) or NCHW (False); None if neither fits.

    An axis of 3 wins over an axis of 1 or 4 (a 4x4 RGB batch is NHWC (N, 4, 4, 3), not RGBA NCHW);
    when both or neither are 3, ``prefer_last`` decides (numpy arrays: NHWC, torch tensors: NCHW).
    """
    last, second = shape[3] in (1, 3, 4), shape[1] in (1, 3, 4)
    if last and second:
        if (shape[3] == 3) != (shape[1] == 3):
            return shape[3] == 3
        return prefer_last
    if last or second:
        return last
    return None


def _array_layout(a: np.ndarray, what: str) -> np.ndarray:
    """An image array to NHWC: accepts NHWC, NCHW (1, 3 or 4 channels) and NHW."""
    if a.ndim == 3:
        return a[..., None]
    if a.ndim != 4:
        raise InputError(f"{what}: expected images as N x H x W x C or N x C x H x W, got shape {a.shape}")
    layout = channels_last(a.shape, prefer_last=True)
    if layout is None:
        raise InputError(f"{what}: cannot tell the channel axis of shape {a.shape} (need 1, 3 or 4 channels)")
    return a if layout else a.transpose(0, 2, 3, 1)


def float_to_pixels(a: np.ndarray, what: str) -> np.ndarray:
    """Float images in [-1, 1] (the generator convention) to float pixels in [0, 255]."""
    a = np.asarray(a, np.float32)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{what}: images contain NaN or infinity")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if lo < -1.001 or hi > 1.001:
        raise InputError(
            f"{what}: float images must lie in [-1, 1] (got values in [{lo:.3g}, {hi:.3g}]); "
            "pass uint8 for pixels in 0..255"
        )
    return (np.clip(a, -1.0, 1.0) + 1.0) * 127.5


class ArrayImages(ImageSequence):
    """Images in an array: uint8 (pixels 0..255) or float in [-1, 1]; NHWC, NCHW or NHW.

    Float images become float pixels ``(x + 1) * 127.5``, not rounded (as the official DCGAN code
    feeds its samples); uint8 images are exact.
    """

    def __init__(self, array, name: str = "array") -> None:
        try:
            import torch

            if isinstance(array, torch.Tensor):
                array = array.detach().cpu().numpy()
        except ImportError:  # pragma: no cover
            pass
        a = np.asarray(array)
        self.name = name
        a = _array_layout(a, name)
        if a.dtype == np.uint8:
            self.array = a
        elif np.issubdtype(a.dtype, np.floating):
            self.array = float_to_pixels(a, name)
        else:
            raise InputError(f"{name}: images must be uint8 (0..255) or float in [-1, 1], not {a.dtype}")

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: int) -> np.ndarray:
        a = self.array[i]
        if not a.flags.writeable:  # memory-mapped .npy
            a = np.array(a)
        if a.shape[2] == 1:
            return np.repeat(a, 3, axis=2)
        return a[:, :, :3]


def load_array_file(path: str | os.PathLike) -> np.ndarray:
    """The image array in a ``.npy`` file, or in a ``.npz`` (key ``images``, ``x``, ``arr_0`` or the only one)."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False, mmap_mode="r" if path.suffix == ".npy" else None)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot read array ({e})") from e
    if isinstance(data, np.ndarray):
        return data
    with data:
        keys = data.files
        for k in ("images", "x", "arr_0"):
            if k in keys:
                return data[k]
        if len(keys) == 1:
            return data[keys[0]]
    raise InputError(f"{path}: holds {keys}; expected one image array (or keys 'mu' and 'sigma' for statistics)")


class Cifar10Batches(ImageSequence):
    """CIFAR-10 "python version": the folder ``cifar-10-batches-py`` (its five training batches),
    one batch file (``data_batch_N`` or ``test_batch``), or the archive ``cifar-10-python.tar.gz``
    (its training batches, or ``...tar.gz:test`` for the test batch)."""

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


# --------------------------------------------------------------------------------------------
# Registry: path -> reader
# --------------------------------------------------------------------------------------------

Opener = Callable[[Path], ImageSequence | None]
_OPENERS: list[Opener] = []


def register(opener: Opener) -> Opener:
    """Add a reader: ``opener(path)`` returns a sequence if it recognises ``path``, else None."""
    _OPENERS.append(opener)
    return opener


@register
def _open_cifar(p: Path) -> ImageSequence | None:
    base = str(p)
    if base.endswith((":test", ":train")):
        base = base.rsplit(":", 1)[0]
    b = Path(base)
    if (b.is_dir() and (b / "data_batch_1").is_file()) or is_cifar10_batch_file(b):
        return Cifar10Batches(p)
    if b.name.startswith("cifar-10-python") and b.name.endswith((".tar.gz", ".tgz")):
        return Cifar10Batches(p)
    return None


@register
def _open_zip(p: Path) -> ImageSequence | None:
    return ZipImages(p) if p.suffix.lower() == ".zip" and p.is_file() else None


@register
def _open_array(p: Path) -> ImageSequence | None:
    if p.suffix.lower() in (".npy", ".npz") and p.is_file():
        return ArrayImages(load_array_file(p), name=str(p))
    return None


def _load_plugins() -> None:
    # readers of the training datasets register themselves on import
    from . import dataset_formats  # noqa: F401


NamedOpener = Callable[[str], ImageSequence | None]
_NAMED: list[NamedOpener] = []


def register_named(opener: NamedOpener) -> NamedOpener:
    """Add a built-in dataset named by a string (no file): ``opener(spec)`` returns a sequence
    if ``spec`` names it (e.g. ``"shapes"``), else None. Names are looked at before paths."""
    _NAMED.append(opener)
    return opener


def open_images(path: str | os.PathLike) -> ImageSequence:
    """The image sequence at ``path``: a folder, zip, array file or dataset file, or a built-in
    dataset named by a string (``"shapes"``, ``"shapes:N"``; write ``./shapes`` for a folder so named)."""
    _load_plugins()
    if isinstance(path, str):
        for named in _NAMED:
            seq = named(path)
            if seq is not None:
                return seq
    p = Path(path)
    for opener in _OPENERS:
        seq = opener(p)
        if seq is not None:
            return seq
    base = Path(str(p).rsplit(":", 1)[0]) if ":" in p.name else p
    if not base.exists():
        raise InputError(f"{path}: no such file or folder")
    if p.is_dir():
        return FolderImages(p)
    raise InputError(
        f"{path}: unknown file type (expected a folder of images, .zip, .npy/.npz, a statistics .npz, "
        "CIFAR-10 batches, MNIST IDX, SVHN .mat, an LSUN LMDB folder, a .tar of images, or shapes)"
    )
