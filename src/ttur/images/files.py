"""Readers of image files in a folder (recursive), a zip archive or an uncompressed tar archive."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import IMAGE_EXTS, ImageSequence, ProcessLocal, decode_image

#: compressed tars cannot be read image by image (refused by the readers table with a message)
COMPRESSED_TAR = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


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


class ZipImages(ProcessLocal, ImageSequence):
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

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> np.ndarray:
        what = f"{self.path}:{self.members[i]}"
        try:
            data = self._local(lambda: zipfile.ZipFile(self.path)).read(self.members[i])
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise InputError(f"{what}: cannot read ({e})") from e
        return decode_image(data, what)

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.members[i]}"


class TarImages(ProcessLocal, ImageSequence):
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

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> np.ndarray:
        what = self.describe(i)
        try:
            fh = self._local(lambda: open(self.path, "rb"))  # noqa: SIM115 - kept open for the reader's life
            fh.seek(int(self.offsets[i]))
            data = fh.read(int(self.sizes[i]))
        except OSError as e:
            raise InputError(f"{what}: cannot read ({e})") from e
        if len(data) != self.sizes[i]:
            raise InputError(f"{what}: truncated ({len(data)} of {int(self.sizes[i])} bytes)")
        return decode_image(data, what)

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.members[i]}"
