"""The one pixel convention: layouts (NHWC/NCHW/NHW), channels (gray/RGBA -> RGB) and value ranges.

Images are uint8 pixels 0..255, or float in [-1, 1] (the generator convention). Float images become
float pixels ``(x + 1) * 127.5`` (not rounded, as the official DCGAN code feeds its samples to the
FID graph), and training tensors are ``x / 127.5 - 1``. Used by the FID sources, the readers, the
training data and the experiments alike.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def to_rgb(a: np.ndarray) -> np.ndarray:
    """HW, HW1, HW3 or HW4 (or the same with a leading batch axis: NHWC) to 3 channels:
    gray repeated, alpha dropped."""
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim not in (3, 4) or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image of shape {a.shape} is not HW, HWC with 1, 3 or 4 channels")
    if a.shape[-1] == 1:
        return np.repeat(a, 3, axis=-1)
    if a.shape[-1] == 4:
        return np.ascontiguousarray(a[..., :3])
    return a


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


def to_nhwc(a: np.ndarray, what: str) -> np.ndarray:
    """An image array to NHWC: accepts NHWC, NCHW (1, 3 or 4 channels) and NHW (numpy: NHWC preferred)."""
    if a.ndim == 3:
        return a[..., None]
    if a.ndim != 4:
        raise InputError(f"{what}: expected images as N x H x W x C or N x C x H x W, got shape {a.shape}")
    layout = channels_last(a.shape, prefer_last=True)
    if layout is None:
        raise InputError(f"{what}: cannot tell the channel axis of shape {a.shape} (need 1, 3 or 4 channels)")
    return a if layout else a.transpose(0, 2, 3, 1)


def check_unit_range(finite: bool, lo: float, hi: float, what: str) -> None:
    """Refuse float images outside [-1, 1] (a little rounding slack allowed) or with NaN/infinity."""
    if not finite:
        raise InputError(f"{what}: images contain NaN or infinity")
    if lo < -1.001 or hi > 1.001:
        raise InputError(
            f"{what}: float images must lie in [-1, 1] (got values in [{lo:.3g}, {hi:.3g}]); "
            "pass uint8 for pixels in 0..255"
        )


def float_to_pixels(a: np.ndarray, what: str) -> np.ndarray:
    """Float images in [-1, 1] (the generator convention) to float pixels in [0, 255]."""
    a = np.asarray(a, np.float32)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    check_unit_range(bool(np.all(np.isfinite(a))), lo, hi, what)
    return (np.clip(a, -1.0, 1.0) + 1.0) * 127.5


def to_pixels(x, what: str, quantize: bool = False):
    """A torch batch of images (uint8 or float in [-1, 1]; NCHW, NHWC or NHW) to NCHW RGB pixels in
    [0, 255]: uint8 as it is, float as float pixels (rounded to uint8 with ``quantize``)."""
    import torch

    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{what}: expected a tensor of images, got {type(x).__name__}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise InputError(f"{what}: expected images N x C x H x W, got shape {tuple(x.shape)}")
    layout = channels_last(tuple(x.shape), prefer_last=False)
    if layout is None:
        raise InputError(f"{what}: images need 1, 3 or 4 channels, got shape {tuple(x.shape)}")
    if layout:
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 4:
        x = x[:, :3]
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise InputError(f"{what}: images must be uint8 or float in [-1, 1], not {x.dtype}")
    finite = bool(torch.isfinite(x).all())
    check_unit_range(finite, float(x.min()) if finite else 0.0, float(x.max()) if finite else 0.0, what)
    pix = (x.float().clamp(-1, 1) + 1.0) * 127.5
    return pix.round().to(torch.uint8) if quantize else pix


def to_unit_nhwc(a: np.ndarray, what: str) -> np.ndarray:
    """An image array (uint8 pixels or float in [-1, 1]; NHWC, NCHW or NHW; gray, RGB or RGBA) to
    float32 NHWC RGB in [-1, 1]."""
    a = to_rgb(to_nhwc(np.asarray(a), what))
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a.astype(np.float32) / 127.5 - 1)
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{what}: images must be uint8 (0..255) or float in [-1, 1], not {a.dtype}")
    a = np.asarray(a, np.float32)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    check_unit_range(bool(np.all(np.isfinite(a))), lo, hi, what)
    return np.ascontiguousarray(a)


def to_tensor(img: np.ndarray):
    """uint8 HWC (or NHWC) to float32 CHW (or NCHW) with values ``x / 127.5 - 1`` in [-1, 1]."""
    import torch

    img = np.ascontiguousarray(img)
    if not img.flags.writeable:  # Pillow's arrays are read-only; torch wants to own writable memory
        img = img.copy()
    t = torch.from_numpy(img)
    t = t.permute(2, 0, 1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.float().div_(127.5).sub_(1.0).contiguous()
