"""The image protocol every reader follows: random access to uint8 RGB images (HWC), and file decoding.

``len(seq)``, ``seq[i] -> np.ndarray`` (H, W, 3) uint8, and ``seq.describe(i)`` naming the file or
record of image ``i`` for error messages. Readers open their files lazily, so a sequence can be
handed to DataLoader worker processes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class ImageSequence(Sequence):
    """Base class: random access to uint8 RGB images.

    Two class attributes let a reader say how it is best used, so that no other module needs to
    recognise it by name: ``decode_workers`` (False: images are made in-process faster than worker
    processes or a prefetch thread would pay off, as the shapes dataset renders whole batches at
    once) and ``default_extractor`` (the bundled feature extractor made for these images, named in
    :data:`ttur.networks.EXTRACTORS`; None: Inception).
    """

    name: str = "images"
    decode_workers: bool = True
    default_extractor: str | None = None

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, i):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, i: int) -> str:
        return f"{self.name}[{i}]"


class ProcessLocal:
    """Mixin of readers that keep a file, archive or database open: one handle per process (opened on
    first use in each), left behind when the reader is pickled for a DataLoader worker."""

    _handle = None
    _handle_pid = None

    def _local(self, opener):
        if self._handle is None or self._handle_pid != os.getpid():
            self._handle, self._handle_pid = opener(), os.getpid()
        return self._handle

    def __getstate__(self):
        d = dict(self.__dict__)
        d.pop("_handle", None)
        d.pop("_handle_pid", None)
        return d


def decode_image(data: bytes | str | os.PathLike, what: str) -> np.ndarray:
    """Decode an image file (path or bytes) to HW3 uint8, or raise InputError naming ``what``.

    Grayscale and RGBA images become RGB as Pillow's ``convert("RGB")`` makes them (as pytorch-fid
    and torch-fidelity do).
    """
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


def require_images(seq: ImageSequence) -> ImageSequence:
    """``seq``, refused when it holds no images: the one "no images" check, made when a source is
    opened (before any network loads)."""
    if len(seq) == 0:
        raise InputError(f"{getattr(seq, 'name', 'images')}: no images found")
    return seq
