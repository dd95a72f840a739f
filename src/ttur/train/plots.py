"""Sample grids (Pillow) and metric curves (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .._util import atomic_write


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """(N, C, H, W) float images in [-1, 1] -> one uint8 (rows*H + pads, cols*W + pads, 3) grid."""
    x = x.detach().float().cpu().clamp(-1, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    img = ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    n, h, w, c = img.shape
    cols = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + k * (w + pad)
        grid[y0:y0 + h, x0:x0 + w] = img[i]
    return grid


def save_grid(x: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    path = Path(path)
    with atomic_write(path) as tmp:
        Image.fromarray(image_grid(x, nrow)).save(tmp, format="PNG")
    return path


def plot_metric(records: list[dict], key: str, label: str, path: str | Path, title: str | None = None) -> Path | None:
    """``key`` against generator updates and against wall-clock minutes, side by side."""
    pts = [(r["step"], r["time"], r[key]) for r in records if r.get(key) is not None]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, times, vals = zip(*pts, strict=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].plot(steps, vals, marker="o", ms=3)
    axes[0].set_xlabel("generator updates")
    axes[1].plot([t / 60 for t in times], vals, marker="o", ms=3, color="C1")
    axes[1].set_xlabel("wall-clock minutes")
    for ax in axes:
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
