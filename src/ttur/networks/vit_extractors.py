"""DINOv2 and CLIP as :class:`~ttur.networks.base.FeatureExtractor` s, so the one feature pass
(:func:`ttur.metrics.extract.extract`) runs them like Inception.

Each takes pixel batches (NCHW, uint8 or float in [0, 255]) from any source, hands them to the
network's own reference preprocessing (:func:`ttur.networks.dinov2.preprocess`,
:func:`ttur.networks.clip.preprocess`) as uint8 RGB images, and returns the float32 features:
the DINOv2 class token (384 / 768 / 1024 values) or the L2-normalised CLIP embedding (768 values).
Float pixels (a generator's samples) are rounded to uint8 first: both references read 8-bit files.

Weights are found as :meth:`ttur.networks._files.WeightsSpec.resolve` says (explicit path,
environment variable, ttur's cache, the torch hub / CLIP folders, a download when allowed). A file
whose SHA-256 differs from the published one (CLIP) gives a warning; DINOv2 has no published hash.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .._util import resolve_device, sha256_file
from .base import FeatureExtractor
from .precision import DEFAULT_PRECISION, DTYPES, check_precision, precision_context
from .vit import autocast_context

_WARNED: set[str] = set()


def _uint8_nhwc(pixels: torch.Tensor):
    if pixels.dtype != torch.uint8:
        pixels = pixels.float().round().clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


def _warn_unofficial(path: Path, sha: str, official: str | None, what: str) -> None:
    if official is not None and sha != official and str(path) not in _WARNED:
        _WARNED.add(str(path))
        warnings.warn(f"{path} is not the official {what} weights file (sha256 {sha[:12]}...): "
                      "its numbers are not comparable with published ones", stacklevel=3)


class _ViTExtractor(FeatureExtractor):
    """What the two share: the precision of the pass. ``fp32`` (default; TF32 off, as the references
    compute), ``tf32`` (TF32 matrix units), ``bf16`` / ``fp16`` (autocast: matrix products in the low
    precision, normalisations and softmax in float32)."""

    def meta(self) -> dict:
        return {**super().meta(), "precision": self.precision}

    def _pass(self, x: torch.Tensor) -> torch.Tensor:
        # autocast only to a low dtype: fp32 and tf32 (float32 storage) run without it
        with (torch.inference_mode(), precision_context(self.precision),
              autocast_context(self.device, DTYPES[self.precision])):
            return self.model(x).float()


class DINOv2Extractor(_ViTExtractor):
    """DINOv2 ViT-S/B/L/14 class-token features in one of the modes ``edm2``, ``dgm-eval``,
    ``dgm-eval-clean`` (see :mod:`ttur.networks.dinov2`)."""

    def __init__(self, weights=None, arch: str = "vitl14", mode: str = "edm2", device=None,
                 allow_download: bool | None = None, precision: str = DEFAULT_PRECISION) -> None:
        from . import dinov2

        dinov2._check_arch(arch)
        dinov2.check_mode(mode)
        spec = dinov2.WEIGHTS[arch]
        self.arch = arch
        self.mode = mode
        self.name = spec.network  # dinov2_vits14 ...
        self.dims = dinov2.ARCHS[arch][0]
        self.device = resolve_device(device)
        self.precision = check_precision(precision, self.device)
        self.path = spec.resolve(weights, allow_download, what=f"DINOv2 {dinov2.ARCH_NAMES[arch]}")
        self.weights_sha256 = sha256_file(self.path)
        self.official_sha256 = spec.sha256
        self.model = dinov2.load_model(self.path, arch, self.device)

    def forward(self, pixels: torch.Tensor, logits: bool):
        from . import dinov2

        x = dinov2.preprocess(_uint8_nhwc(pixels), self.mode).to(self.device)
        return self._pass(x), None


class CLIPExtractor(_ViTExtractor):
    """L2-normalised CLIP ViT-L/14@336px image embeddings with CMMD's preprocessing."""

    def __init__(self, weights=None, device=None, allow_download: bool | None = None,
                 precision: str = DEFAULT_PRECISION) -> None:
        from . import clip

        spec = clip.WEIGHTS
        self.mode = "cmmd"
        self.name = spec.network  # clip_vitl14_336
        self.dims = clip.EMBED_DIM
        self.device = resolve_device(device)
        self.precision = check_precision(precision, self.device)
        self.path = spec.resolve(weights, allow_download, what="CLIP ViT-L/14@336px")
        self.weights_sha256 = sha256_file(self.path)
        self.official_sha256 = spec.sha256
        _warn_unofficial(self.path, self.weights_sha256, spec.sha256, "CLIP ViT-L/14@336px")
        self.model = clip.load_model(self.path, self.device)

    def forward(self, pixels: torch.Tensor, logits: bool):
        from . import clip

        x = clip.preprocess(_uint8_nhwc(pixels)).to(self.device)
        return self._pass(x), None


__all__ = ["CLIPExtractor", "DINOv2Extractor"]
