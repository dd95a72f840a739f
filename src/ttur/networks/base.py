"""What a feature extractor is: pixel batches in, feature vectors (and optionally logits) out.

An extractor maps pixel batches (NCHW, values in [0, 255]) to feature vectors and, for the Inception
network, to the 1008 logits of the Inception Score. Any torch module that maps images to vectors can
stand in (:class:`ModuleExtractor`); its distances are then reported as "FD (<name> features)",
never as FID.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._util import resolve_device


class FeatureExtractor:
    """Base class. Subclasses set the attributes and implement :meth:`forward`."""

    name: str = "features"
    dims: int = 0
    mode: str | None = None
    weights_sha256: str | None = None
    has_logits: bool = False
    #: whether ``forward(pixels, logits, spatial=True)`` also returns sFID's spatial features
    has_spatial: bool = False
    device: torch.device = torch.device("cpu")
    #: the arithmetic of the pass (:mod:`ttur.networks.precision`); extractors that offer others set it
    precision: str = "fp32"

    @property
    def is_inception(self) -> bool:
        return False

    @property
    def label(self) -> str:
        """What a distance on these features is called in reports."""
        return "FID" if self.is_inception else f"FD ({self.name} features)"

    def meta(self) -> dict:
        return {"mode": self.mode, "dims": self.dims, "extractor": self.name,
                "weights_sha256": self.weights_sha256}

    def forward(self, pixels: torch.Tensor, logits: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError  # pragma: no cover

    def __call__(self, pixels, logits: bool = False, spatial: bool = False):
        """``(features, logits or None)``, and with ``spatial=True`` (extractors with ``has_spatial``)
        a third entry, the spatial features of the same pass."""
        if spatial and not self.has_spatial:
            raise ValueError(f"the {self.name} extractor has no spatial features (sFID needs Inception)")
        extra = {"spatial": True} if spatial else {}
        if isinstance(pixels, list):  # images of different sizes: one at a time through preprocessing
            outs = [self.forward(p, logits, **extra) for p in pixels]
            f = torch.cat([o[0] for o in outs])
            lg = torch.cat([o[1] for o in outs]) if logits else None
            return (f, lg, torch.cat([o[2] for o in outs])) if spatial else (f, lg)
        return self.forward(pixels, logits, **extra)


class ModuleExtractor(FeatureExtractor):
    """Any torch module mapping images to vectors, as a stand-in for Inception.

    The module receives float images NCHW scaled to [-1, 1], resized to ``input_size`` (bilinear,
    antialiased) when one is given, and returns ``(N, D)`` features.
    """

    def __init__(self, module: nn.Module, name: str, input_size: int | None = None, device=None,
                 grayscale: bool = False) -> None:
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        self.name = name
        self.input_size = input_size
        self.grayscale = grayscale
        self.mode = f"module:{input_size}" if input_size else "module"
        self.weights_sha256 = _module_hash(module)
        self.dims = 0  # known after the first batch (the module may accept any image size)
        if input_size:
            with torch.inference_mode():
                probe = torch.zeros(2, 1 if grayscale else 3, input_size, input_size, device=self.device)
                self.dims = int(self.module(probe).reshape(2, -1).shape[1])

    def forward(self, pixels: torch.Tensor, logits: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = pixels.to(self.device).float() / 127.5 - 1.0
        if self.grayscale:
            x = x.mean(1, keepdim=True)
        if self.input_size and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=True)
        with torch.inference_mode():
            f = self.module(x).reshape(x.shape[0], -1).float()
        self.dims = int(f.shape[1])
        return f, None


def _module_hash(module: nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
