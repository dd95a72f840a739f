"""Preprocessing modes: how pixels become the 299x299 [-1, 1] input of the FID Inception network.

Every mode takes a float batch of pixel values in [0, 255], NCHW (uint8 batches are converted
exactly), and returns float32 NCHW at 299x299.

``tf`` (default)
    The original TensorFlow graph: TF1 legacy bilinear resize (``align_corners=False``,
    ``half_pixel_centers=False``) on pixels in [0, 255], then ``(x - 128) / 128``. These are the
    numbers of bioinf-jku/TTUR and of torch-fidelity.
``pytorch-fid``
    pytorch-fid: pixels scaled to [0, 1], ``F.interpolate(bilinear, align_corners=False)``, then
    ``2x - 1``.
``clean``
    clean-fid: every channel resized on its own as a 32-bit float image by Pillow's antialiased
    bicubic filter, clipped to [0, 255], then ``(x - 128) / 128``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

MODES = ("tf", "pytorch-fid", "clean")
SIZE = 299


def check_mode(mode: str) -> str:
    from ..errors import InputError

    if mode not in MODES:
        raise InputError(f"mode: unknown preprocessing mode {mode!r} (choose from {', '.join(MODES)})")
    return mode


def _tf1_axis(in_size: int, out_size: int, device: torch.device):
    """Source indices and weights of TensorFlow's legacy bilinear kernel along one axis."""
    import torch

    scale = np.float32(in_size) / np.float32(out_size)
    src = np.arange(out_size, dtype=np.float32) * scale
    floor = np.floor(src)
    lo = floor.astype(np.int64)
    hi = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - floor).astype(np.float32)
    return (
        torch.from_numpy(lo).to(device),
        torch.from_numpy(hi).to(device),
        torch.from_numpy(lerp).to(device),
    )


def resize_tf1_bilinear(x: torch.Tensor, size: int | tuple[int, int] = SIZE) -> torch.Tensor:
    """``tf.compat.v1.image.resize_bilinear(align_corners=False, half_pixel_centers=False)``.

    ``x`` is float NCHW. The arithmetic follows TensorFlow's kernel step by step in float32
    (interpolate along x on the two source rows, then along y), so the result matches it to the
    last bit on the fixtures.
    """
    oh, ow = (size, size) if isinstance(size, int) else size
    x = x.float()
    h, w = x.shape[-2:]
    if (h, w) == (oh, ow):
        return x
    ylo, yhi, yl = _tf1_axis(h, oh, x.device)
    xlo, xhi, xl = _tf1_axis(w, ow, x.device)
    top_rows = x.index_select(2, ylo)
    bot_rows = x.index_select(2, yhi)
    tl, tr = top_rows.index_select(3, xlo), top_rows.index_select(3, xhi)
    bl, br = bot_rows.index_select(3, xlo), bot_rows.index_select(3, xhi)
    top = tl + (tr - tl) * xl
    bottom = bl + (br - bl) * xl
    return top + (bottom - top) * yl[:, None]


def resize_pil_bicubic(x: np.ndarray, size: int = SIZE) -> np.ndarray:
    """clean-fid's resize of one HWC float image: each channel as a Pillow 'F' image, bicubic."""
    from PIL import Image

    h, w = x.shape[:2]
    if (h, w) == (size, size):
        return np.clip(x.astype(np.float32), 0, 255)
    out = np.empty((size, size, x.shape[2]), np.float32)
    for c in range(x.shape[2]):
        img = Image.fromarray(np.ascontiguousarray(x[:, :, c], dtype=np.float32))
        out[:, :, c] = np.asarray(img.resize((size, size), resample=Image.BICUBIC))
    return np.clip(out, 0, 255)


def preprocess(x: torch.Tensor, mode: str = "tf", size: int = SIZE) -> torch.Tensor:
    """Pixels (NCHW, [0, 255], uint8 or float) to the network's input (NCHW float32, [-1, 1])."""
    import torch
    import torch.nn.functional as F

    if mode == "tf":
        y = resize_tf1_bilinear(x.float(), size)
        return (y - 128.0) / 128.0
    if mode == "pytorch-fid":
        y = x.float() / 255.0
        y = F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False)
        return 2.0 * y - 1.0
    if mode == "clean":
        arr = x.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
        out = np.stack([resize_pil_bicubic(a, size) for a in arr]).transpose(0, 3, 1, 2)
        y = torch.from_numpy(np.ascontiguousarray(out)).to(x.device)
        return (y - 128.0) / 128.0
    check_mode(mode)
    raise AssertionError("unreachable")
