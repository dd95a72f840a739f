"""The bundled CIFAR-10 feature network: a real-image feature space that needs no download.

``cifar10``: :class:`Cifar10Net`, a compact residual CNN (a ResNet-9 layout at reduced width)
trained by ``scripts/train_cifar10_features.py`` to classify the 50,000 CIFAR-10 training images
(the JPEG copies in ``shared/data/cifar10_jpeg_train.zip``). Its feature vector is the global
average of the last residual stage, :data:`DIMS` (128) numbers, the layer before the classifier (as
Inception's pool3). Distances on it are reported as "FD (cifar10 features)": they compare sets of
32x32 natural images offline, but they are not FID and are not comparable with published numbers.

Input: RGB images NCHW, uint8 pixels mapped to [-1, 1] (``x / 127.5 - 1``, no per-channel
normalisation; the first batch norm absorbs it), 32x32. Through
:class:`~ttur.networks.base.ModuleExtractor` images of another size are resized to 32x32 with torch's
antialiased bilinear interpolation (``F.interpolate(..., mode="bilinear", antialias=True)``, a
triangle filter as Pillow's BILINEAR), the same for every extractor ttur bundles.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

NAME = "cifar10"
#: channels of the four stages: 32x32 (stem), 32x32 -> 16x16, 16x16 -> 8x8, 8x8 -> 4x4
WIDTHS = (16, 32, 64, 128)
INPUT_SIZE = 32
#: the CIFAR-10 classes in label order (the folder names of the JPEG zips, sorted)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIMS = WIDTHS[-1]


def _cbr(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class _Residual(nn.Module):
    """``x + f(x)``, ``f`` two 3x3 convolutions with batch norm and ReLU."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.f = nn.Sequential(*_cbr(c, c), *_cbr(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


class Cifar10Net(nn.Module):
    """ResNet-9 layout (Page, "How to train your ResNet") at 1/4 of its width, average pooled.

    stem conv 3->a (32x32); conv a->b, max pool, residual (16x16); conv b->c, max pool (8x8);
    conv c->d, max pool, residual (4x4); global average pool to ``d`` features; linear to 10
    logits. ``forward(x)`` takes images NCHW in [-1, 1] (32x32; any size works) and returns the
    ``d``-dimensional features; :meth:`classify` returns the logits.
    """

    def __init__(self, widths: tuple[int, ...] = WIDTHS, classes: int = len(CLASSES)) -> None:
        super().__init__()
        a, b, c, d = widths
        self.widths = tuple(widths)
        self.body = nn.Sequential(
            *_cbr(3, a),
            *_cbr(a, b), nn.MaxPool2d(2), _Residual(b),
            *_cbr(b, c), nn.MaxPool2d(2),
            *_cbr(c, d), nn.MaxPool2d(2), _Residual(d),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(d, classes)

    @property
    def dims(self) -> int:
        return self.widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The (N, 10) class logits."""
        return self.head(self.body(x))


def weights_path() -> Path:
    """The bundled weights file."""
    from .small import weights_path as bundled_path

    return bundled_path(NAME)


def load_cifar10_net(path: str | Path | None = None, check_hash: bool = True) -> tuple[Cifar10Net, dict]:
    """The trained :class:`Cifar10Net` and the dict saved with it (:func:`ttur.networks.small.load_bundled_net`)."""
    from .small import load_bundled_net

    return load_bundled_net(NAME, path, check_hash)


def load_cifar10_extractor(device=None):
    """The bundled network as a feature extractor ("FD (cifar10 features)", :data:`DIMS` dims)."""
    from .small import load_small_extractor

    return load_small_extractor(NAME, device=device)


__all__ = ["Cifar10Net", "load_cifar10_net", "load_cifar10_extractor", "weights_path",
           "WIDTHS", "DIMS", "CLASSES", "INPUT_SIZE"]
