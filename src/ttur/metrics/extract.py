"""Feature extractors and the one feature pass every metric is fed from.

An extractor maps pixel batches (NCHW, values in [0, 255]) to feature vectors and, for the Inception
network, to the 1008 logits of the Inception Score. The FID Inception network is the default; any
torch module that maps images to vectors can stand in (:class:`ModuleExtractor`), and its distances
are then reported as "FD (<name> features)", never as FID.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed as dist
from . import weights as W
from .errors import InputError, PeerError, WeightsError
from .inception import DIMS, FastFIDInception, FIDInception
from .preprocess import check_mode, preprocess
from .stats import Stats, StatsAccumulator
from .utils import resolve_device


class FeatureExtractor:
    """Base class. Subclasses set the attributes and implement :meth:`forward`."""

    name: str = "features"
    dims: int = 0
    mode: str | None = None
    weights_sha256: str | None = None
    has_logits: bool = False
    device: torch.device = torch.device("cpu")

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

    def __call__(self, pixels, logits: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(pixels, list):  # images of different sizes: one at a time through preprocessing
            outs = [self.forward(p, logits) for p in pixels]
            f = torch.cat([o[0] for o in outs])
            lg = torch.cat([o[1] for o in outs]) if logits else None
            return f, lg
        return self.forward(pixels, logits)


_MODEL_CACHE: dict[tuple, nn.Module] = {}
_WARNED: set[str] = set()


class InceptionExtractor(FeatureExtractor):
    """The FID Inception network with a preprocessing mode.

    ``fast=True`` (default) runs the inference build (batch norm folded, merged convolutions,
    channels-last, fused oneDNN kernels on the CPU); ``fast=False`` the reference layout.
    """

    has_logits = True

    def __init__(self, weights: str | Path | None = None, mode: str = "tf", dims: int = 2048,
                 device=None, fast: bool = True, allow_download: bool | None = None) -> None:
        self.mode = check_mode(mode)
        if dims not in DIMS:
            raise InputError(f"--dims: must be one of {', '.join(map(str, DIMS))}, not {dims}")
        self.dims = dims
        self.device = resolve_device(device)
        self.path = W.resolve_weights(weights, allow_download=allow_download)
        self.weights_sha256 = W.sha256_file(self.path)
        self.official = self.weights_sha256 == W.SHA256
        if not self.official and str(self.path) not in _WARNED:
            _WARNED.add(str(self.path))
            warnings.warn(
                f"{self.path} is not the official FID Inception weights file (sha256 "
                f"{self.weights_sha256[:12]}...): its numbers are not comparable with published FIDs",
                stacklevel=2,
            )
        self.name = "inception"
        key = (str(self.path), self.weights_sha256, str(self.device), fast)
        if key not in _MODEL_CACHE:
            _MODEL_CACHE.clear()  # one network at a time: 95 MB each
            _MODEL_CACHE[key] = build_inception(self.path, self.device, fast)
        self.model = _MODEL_CACHE[key]

    @property
    def is_inception(self) -> bool:
        return True

    def forward(self, pixels: torch.Tensor, logits: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = pixels.to(self.device, non_blocking=True)
        x = preprocess(x, self.mode)
        with torch.inference_mode(), full_precision():
            return self.model(x, dims=self.dims, logits=logits)


@contextlib.contextmanager
def full_precision():
    """No TF32 inside: on Ampere and later GPUs it is on by default for convolutions and would move
    features by ~1e-3, far outside the 1e-4 the golden tests hold on the CPU."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def build_inception(path: str | Path, device: torch.device, fast: bool = True) -> nn.Module:
    ref = FIDInception()
    sd = W.load_state_dict(path)
    try:
        ref.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise WeightsError(f"{path}: these weights do not fit the FID Inception network ({first})") from e
    ref.eval().requires_grad_(False)
    model = FastFIDInception(ref) if fast else ref
    return model.to(device)


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


@dataclass
class Extraction:
    """Everything one feature pass gives: statistics, and features and logits when kept."""

    stats: Stats
    features: np.ndarray | None
    logits: np.ndarray | None
    n: int
    skipped: int
    seconds: float


def extract(
    source,
    extractor: FeatureExtractor,
    batch_size: int = 50,
    keep_features: bool = False,
    keep_logits: bool = False,
    progress: bool = True,
    desc: str | None = None,
    accumulator: StatsAccumulator | None = None,
) -> Extraction:
    """Run ``source`` through ``extractor`` once, accumulating float64 statistics on the way."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise InputError(f"--batch-size: must be positive, got {batch_size}")
    if keep_logits and not extractor.has_logits:
        raise InputError(f"the {extractor.name} extractor has no class logits: the Inception Score needs Inception")
    total = len(source)
    if dist.is_active():  # each rank takes its block; the sums meet in one all-reduce
        source = source.shard(*dist.shard_range(total))
        progress = progress and dist.is_main()
    acc = accumulator
    feats, logits = [], []
    t0 = time.perf_counter()
    failure: BaseException | None = None
    bar = tqdm(total=len(source), unit="img", desc=desc or getattr(source, "name", "images"),
               disable=not progress, file=sys.stderr, dynamic_ncols=True, leave=False)
    try:
        with bar, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*TypedStorage.*")
            for pixels in source.batches(batch_size):
                f, lg = extractor(pixels, logits=keep_logits)
                f = f.float()
                if acc is None:  # float64 sums where the features are: on a GPU the update is free
                    acc = StatsAccumulator(f.shape[1], device=f.device)
                acc.update(f)
                if keep_features:
                    feats.append(f.cpu().numpy())
                if keep_logits:
                    logits.append(lg.float().cpu().numpy())
                bar.update(f.shape[0])
    except Exception as e:  # noqa: BLE001 - re-raised below, after the other ranks know
        failure = e
    skipped = getattr(source, "skipped", 0)
    if dist.is_active():
        failed = dist.all_reduce_sum(torch.tensor([1.0 if failure else 0.0]))
        if failure is not None:
            raise failure
        if failed.item() > 0:
            raise PeerError("another process of the group stopped with an error (see its message)")
        dims = int(dist.all_reduce_sum(torch.tensor([float(acc.dims if acc else 0)]), op="max").item())
        if acc is None:  # an empty shard (more processes than images)
            acc = StatsAccumulator(dims, device=extractor.device)
        acc.all_reduce()
        skipped = int(dist.all_reduce_sum(torch.tensor([float(skipped)])).item())
        feats_all = dist.all_gather_rows(np.concatenate(feats) if feats else np.zeros((0, dims), np.float32))
        logits_all = dist.all_gather_rows(np.concatenate(logits) if logits else np.zeros((0, 1008), np.float32))
    else:
        if failure is not None:
            raise failure
        feats_all = np.concatenate(feats) if feats else None
        logits_all = np.concatenate(logits) if logits else None
    n = acc.n if acc is not None else 0
    if n < 2:
        after = f" after skipping {skipped} unreadable" if skipped else ""
        raise InputError(f"{getattr(source, 'name', 'source')}: {n} image(s){after}; at least 2 are needed")
    stats = acc.stats(extractor.meta())
    return Extraction(
        stats=stats,
        features=feats_all if keep_features else None,
        logits=logits_all if keep_logits else None,
        n=n,
        skipped=skipped,
        seconds=time.perf_counter() - t0,
    )
