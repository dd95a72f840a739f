"""Which reader opens what: the one ordered table of image readers, and :func:`open_images`.

Each :class:`Reader` says whether it recognises a spec (a path, or for built-in datasets a name)
and opens it. :func:`open_images` asks them in the order of :data:`READERS`; the first that
recognises the spec opens it. A new reader is a class in :mod:`ttur.images.files`,
:mod:`ttur.images.formats` (or its own module) and one line in :data:`READERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..shapes.dataset import open_spec, parse_spec
from .arrays import ArrayImages, load_array_file
from .base import ImageSequence
from .files import COMPRESSED_TAR, FolderImages, TarImages, ZipImages
from .formats import Cifar10Batches, LmdbImages, MnistIdx, SvhnMat, is_cifar10_batch_file


@dataclass(frozen=True)
class Reader:
    """One row of the table: ``matches(spec)`` says whether this reader takes ``spec`` (a string or
    path; may raise InputError for a spec it recognises but refuses), ``open(spec)`` reads it."""

    name: str
    matches: Callable[[str | os.PathLike], bool]
    open: Callable[[str | os.PathLike], ImageSequence]


def _base(spec) -> Path:
    """The path part of ``spec`` (CIFAR-10 archives take a ``:test`` / ``:train`` suffix)."""
    s = str(spec)
    return Path(s.rsplit(":", 1)[0]) if s.endswith((":test", ":train")) else Path(s)


def _is_shapes(spec) -> bool:
    return isinstance(spec, str) and parse_spec(spec) is not None


def _is_cifar(spec) -> bool:
    b = _base(spec)
    return ((b.is_dir() and (b / "data_batch_1").is_file()) or is_cifar10_batch_file(b)
            or (b.name.startswith("cifar-10-python") and b.name.endswith((".tar.gz", ".tgz"))))


def _suffix(*exts: str) -> Callable[[str | os.PathLike], bool]:
    return lambda spec: Path(spec).is_file() and Path(spec).name.lower().endswith(exts)


def _is_lmdb(spec) -> bool:
    p = Path(spec)
    return (p.name == "data.mdb" and p.is_file()) or (p.is_dir() and (p / "data.mdb").is_file())


def _refuse_compressed_tar(spec) -> bool:
    if _suffix(*COMPRESSED_TAR)(spec):
        raise InputError(f"{spec}: compressed tar archives cannot be read image by image; unpack it, or repack "
                         "it as an uncompressed .tar or a .zip")
    return False


#: the readers, in the order they are asked (names of built-in datasets before paths; a folder last)
READERS: list[Reader] = [
    Reader("shapes", _is_shapes, open_spec),  # "shapes", "shapes:N", "shapes:N:SEED" (write ./shapes for a folder)
    Reader("cifar10", _is_cifar, Cifar10Batches),
    Reader("zip", _suffix(".zip"), ZipImages),
    Reader("array", _suffix(".npy", ".npz"), lambda p: ArrayImages(load_array_file(p), name=str(p))),
    Reader("mnist", lambda p: Path(p).is_file() and "idx3-ubyte" in Path(p).name, MnistIdx),
    Reader("svhn", _suffix(".mat"), SvhnMat),
    Reader("lmdb", _is_lmdb, LmdbImages),
    Reader("tar", _suffix(".tar"), TarImages),
    Reader("compressed tar", _refuse_compressed_tar, TarImages),
    Reader("folder", lambda p: Path(p).is_dir(), FolderImages),
]


def open_images(spec: str | os.PathLike) -> ImageSequence:
    """The image sequence ``spec`` names: a folder, zip, tar, array file or dataset file, or a
    built-in dataset named by a string (``"shapes"``, ``"shapes:N"``, ``"shapes:N:SEED"``)."""
    for reader in READERS:
        if reader.matches(spec):
            return reader.open(spec)
    if not _base(spec).exists():
        raise InputError(f"{spec}: no such file or folder")
    raise InputError(
        f"{spec}: unknown file type (expected a folder of images, .zip, .npy/.npz, a statistics .npz, "
        "CIFAR-10 batches, MNIST IDX, SVHN .mat, an LSUN LMDB folder, a .tar of images, or shapes)"
    )
