"""Images held in an array: a numpy array or torch tensor, or a ``.npy``/``.npz`` file."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import ImageSequence
from .pixels import float_to_pixels, to_nhwc, to_rgb


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
        a = to_nhwc(a, name)
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
        return to_rgb(a)


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
