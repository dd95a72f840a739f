"""Small helpers shared by test modules (imported as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch import nn

from ttur.networks.base import ModuleExtractor


def probe_extractor() -> ModuleExtractor:
    """A tiny seeded feature extractor ("probe") for fast FD monitoring in training tests; reseeds torch."""
    torch.manual_seed(123)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
    return ModuleExtractor(net, "probe")


def fixture_subset(fixtures_dir: Path, tmp: Path, name: str, n: int) -> Path:
    """A folder of the first ``n`` PNGs of ``fixtures/images/<name>``."""
    d = tmp / f"{name}{n}"
    d.mkdir()
    for p in sorted((fixtures_dir / "images" / name).glob("*.png"))[:n]:
        shutil.copy(p, d / p.name)
    return d
