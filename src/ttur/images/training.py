"""Datasets for training: any image collection as float tensors in [-1, 1], with our own transforms.

:func:`open_training_data` is what the training loop calls::

    ds = open_training_data("shapes", 32)                                  # embedded, no files
    ds = open_training_data("data/img_align_celeba", 64, crop=108)          # CelebA as DCGAN used it
    ds = open_training_data("cifar-10-batches-py", 32)
    x = ds[0]                    # torch.float32, (3, H, W), values x / 127.5 - 1 in [-1, 1]

Items depend on the index alone (no random augmentation), so a resumed run sees the same data,
and datasets pickle cheaply (readers open their files lazily in each worker process).

Transforms (:class:`ImageTransform`), in this order, both optional:

1. ``crop``: a square centre crop of ``crop`` pixels, offset ``round((H - crop) / 2)`` from the top
   and ``round((W - crop) / 2)`` from the left (as the DCGAN code's ``center_crop``; CelebA's
   aligned 178x218 images with ``crop=108`` give rows 55..162, columns 35..142);
2. ``size``: a resize to ``size`` x ``size`` with Pillow on the uint8 RGB image. Square images are
   resized directly; others have their shorter side resized to ``size`` and are then centre-cropped,
   so the aspect ratio is kept (LSUN). The filter defaults to **bicubic** (Pillow's resize is
   antialiased: when shrinking, the kernel is widened to the scale factor), a good default for both
   shrinking and enlarging (MNIST 28 -> 32). ``resample="bilinear"`` is the default filter of
   ``scipy.misc.imresize`` (a call to Pillow's bilinear resize), which the DCGAN code used to make
   the 64x64 CelebA images behind the official TTUR CelebA statistics; use it for that comparison.

The same transformed pixels are available as an :class:`~ttur.images.base.ImageSequence`
(:class:`TransformedImages`, ``dataset.images``), so reference statistics can be computed on exactly
the images the generator is trained to imitate: ``ttur.compute_stats(ds.images)``.
"""

from __future__ import annotations

import os
import re

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import InputError
from .base import ImageSequence, require_images
from .pixels import to_rgb, to_tensor
from .readers import open_images

RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}


class ImageTransform:
    """Centre crop to ``crop`` pixels, then resize to ``size`` (see the module notes). Picklable.

    ``transform(img)`` maps an (H, W, 3) uint8 array to an (size, size, 3) uint8 array.
    """

    def __init__(self, size: int | None = None, crop: int | None = None, resample: str = "bicubic") -> None:
        if size is not None and (not isinstance(size, int | np.integer) or size < 1):
            raise InputError(f"size: must be a positive integer, got {size!r}")
        if crop is not None and (not isinstance(crop, int | np.integer) or crop < 1):
            raise InputError(f"crop: must be a positive integer, got {crop!r}")
        if resample not in RESAMPLE:
            raise InputError(f"resample: must be one of {', '.join(RESAMPLE)}, got {resample!r}")
        self.size = None if size is None else int(size)
        self.crop = None if crop is None else int(crop)
        self.resample = resample

    def __repr__(self) -> str:
        return f"ImageTransform(size={self.size}, crop={self.crop}, resample={self.resample!r})"

    @property
    def is_identity(self) -> bool:
        return self.size is None and self.crop is None

    def __call__(self, img: np.ndarray, what: str = "image") -> np.ndarray:
        img = to_rgb(np.asarray(img))
        if img.dtype != np.uint8:
            raise InputError(f"{what}: expected uint8 pixels, got {img.dtype}")
        if self.crop is not None:
            img = center_crop(img, self.crop, what)
        if self.size is not None:
            img = resize(img, self.size, self.resample)
        return img

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """Height and width of the result for an ``h`` x ``w`` input."""
        if self.crop is not None:
            h = w = self.crop
        if self.size is not None:
            h = w = self.size
        return h, w


def center_crop(img: np.ndarray, crop: int, what: str = "image") -> np.ndarray:
    """The centre ``crop`` x ``crop`` square of an HWC image (top-left offset rounded, as DCGAN's code)."""
    h, w = img.shape[:2]
    if crop > h or crop > w:
        raise InputError(f"{what}: cannot crop {crop}x{crop} pixels from an image of {w}x{h}")
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return np.ascontiguousarray(img[top:top + crop, left:left + crop])


def resize(img: np.ndarray, size: int, resample: str = "bicubic") -> np.ndarray:
    """Resize an HWC uint8 RGB image to ``size`` x ``size`` with Pillow (keeping the aspect ratio:
    shorter side to ``size``, then a centre crop)."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return img
    pil = Image.fromarray(img)
    f = RESAMPLE[resample]
    if h == w:
        return np.asarray(pil.resize((size, size), f))
    scale = size / min(h, w)
    nh, nw = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
    out = np.asarray(pil.resize((nw, nh), f))
    return center_crop(out, size)


class TransformedImages(ImageSequence):
    """An :class:`ImageSequence` seen through an :class:`ImageTransform`, limited to its first
    ``length`` images when given. Uses the sequence's vectorised ``batch(indices)`` when it has one."""

    def __init__(self, seq: ImageSequence, transform: ImageTransform | None = None,
                 length: int | None = None, spread: bool = False) -> None:
        self.seq = seq
        self.transform = transform if transform is not None and not transform.is_identity else None
        n = len(seq)
        if length is not None:
            if length < 1:
                raise InputError(f"length: must be positive, got {length}")
            if length > n:
                raise InputError(f"{getattr(seq, 'name', 'images')}: length {length} asked for, "
                                 f"but it holds {n} images")
            n = int(length)
        self.n = n
        # spread: ``length`` images evenly spaced over the whole source instead of its first ones (a folder or
        # zip sorted by class, as the CIFAR-10 JPEG archives are, gives a few classes only in its first images)
        self._map = (np.linspace(0, len(seq) - 1, n).round().astype(np.int64)
                     if spread and length is not None and n < len(seq) else None)
        base = getattr(seq, "name", "images")
        self.name = base if self.transform is None else f"{base} ({self.transform})"
        self.decode_workers = getattr(seq, "decode_workers", True)
        self.default_extractor = getattr(seq, "default_extractor", None) or _known_extractor(seq)

    def __len__(self) -> int:
        return self.n

    def _index(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"{self.name}: index {i} out of range (length {self.n})")
        return i if self._map is None else int(self._map[i])

    def __getitem__(self, i) -> np.ndarray:
        j = self._index(i)
        img = to_rgb(np.asarray(self.seq[j]))
        return self.transform(img, self.seq.describe(j)) if self.transform else img

    def batch(self, indices) -> np.ndarray:
        """Images ``indices`` as one uint8 (B, H, W, 3) array (they must share a size)."""
        raw = np.asarray(indices).reshape(-1)
        if hasattr(self.seq, "batch"):
            idx = [self._index(i) for i in raw]
            imgs = self.seq.batch(idx)
            if self.transform is None:
                return imgs
            return np.stack([self.transform(a, self.seq.describe(j)) for a, j in zip(imgs, idx, strict=True)])
        out = [self[i] for i in raw]
        shapes = {a.shape for a in out}
        if len(shapes) > 1:
            raise InputError(f"{self.name}: images of different sizes {sorted(shapes)} in one batch; "
                             "give a size to resize them to")
        return np.stack(out)

    def describe(self, i: int) -> str:
        return self.seq.describe(self._index(i))


_CIFAR10_NAME = re.compile(r"cifar[-_ ]?10(?!\d)", re.IGNORECASE)


def _known_extractor(seq) -> str | None:
    """The bundled extractor for a folder or archive of CIFAR-10 images (its name says CIFAR-10 and its images
    are 32x32; the CIFAR-10 batch files say it themselves): ``cifar10``, else None."""
    name = os.path.basename(str(getattr(seq, "name", "")).rstrip("/\\"))
    if not _CIFAR10_NAME.search(name) or len(seq) == 0:
        return None
    try:
        shape = np.asarray(seq[0]).shape
    except Exception:  # noqa: BLE001 - an unreadable first image is reported when it is read for training
        return None
    return "cifar10" if tuple(shape[:2]) == (32, 32) else None


class ImageDataset(Dataset):
    """A training dataset: item ``i`` is image ``i`` of ``images`` as float32 (3, H, W) in [-1, 1].

    ``__getitems__`` (used by DataLoader for a whole batch) and :meth:`get_batch` render a batch
    at once when the images come from a vectorised source (the shapes dataset).
    """

    def __init__(self, images: ImageSequence) -> None:
        self.images = images
        self.name = getattr(images, "name", "images")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return to_tensor(self.images[int(i)])

    def get_batch(self, indices) -> torch.Tensor:
        """Items ``indices`` as one float32 (B, 3, H, W) tensor."""
        if hasattr(self.images, "batch"):
            return to_tensor(self.images.batch(indices))
        return torch.stack([self[int(i)] for i in np.asarray(indices).reshape(-1)])

    def __getitems__(self, indices: list[int]) -> list[torch.Tensor]:
        return list(self.get_batch(indices).unbind(0))

    def describe(self, i: int) -> str:
        return self.images.describe(i)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of item 0."""
        return tuple(self[0].shape)


def open_training_data(
    spec: str | os.PathLike,
    size: int,
    crop: int | None = None,
    *,
    length: int | None = None,
    seed: int = 0,
    resample: str = "bicubic",
    spread: bool = False,
) -> ImageDataset:
    """The training images named by ``spec`` as a dataset of float32 (3, size, size) tensors in [-1, 1].

    ``spec``: ``"shapes"`` (the embedded procedural dataset; also ``"shapes:N"``, ``"shapes:N:SEED"``)
    or any spec :func:`ttur.images.readers.open_images` reads (folder, zip, .tar, .npy/.npz, CIFAR-10
    batches, MNIST IDX, SVHN .mat, LSUN LMDB). ``size``: output side in pixels. ``crop``: centre crop
    (pixels) before resizing. ``length``: the number of images (shapes: how many to draw, default
    50,000; files: the first ``length``, or with ``spread`` ``length`` images evenly spaced over the whole
    source, which is what reference statistics and other samples of a sorted folder need). ``seed``: the
    shapes dataset's seed (when the spec
    does not give one); files ignore it. ``resample``: the resize filter (``bicubic``, ``bilinear``,
    ``lanczos``, ``box``, ``nearest``).
    """
    if size is None or int(size) < 1:
        raise InputError(f"size: must be a positive integer, got {size!r}")
    size = int(size)
    seq = require_images(open_images(spec))
    if hasattr(seq, "redraw"):  # a procedural dataset: drawn at the asked length and seed, rendered at the size
        seq = seq.redraw(length=length, seed=seed, size=size if crop is None else None)
        if crop is None:
            return ImageDataset(seq)
        return ImageDataset(TransformedImages(seq, ImageTransform(size, crop, resample)))
    return ImageDataset(TransformedImages(seq, ImageTransform(size, crop, resample), length, spread=spread))

__all__ = ["ImageDataset", "ImageTransform", "TransformedImages", "center_crop", "open_training_data", "resize"]
