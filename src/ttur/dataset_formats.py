"""Readers of the training datasets' own file formats, registered with :mod:`ttur.datasets`."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from . import shapes  # noqa: F401  (registers the name "shapes")
from .datasets import ImageSequence, register
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
