"""The Python API that ``ttur fid`` and ``ttur stats`` mirror: :func:`fid`, :func:`compute_stats`, the result."""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._util import check_positive
from ..errors import InputError, WeightsError
from ..networks import get_extractor
from ..networks.base import FeatureExtractor
from . import distances
from .distances import frechet_distance
from .extract import Extraction, extract
from .sources import open_source
from .stats import Stats, check_compatible, check_meta


def _get_extractor_for(sources: tuple, extractor, **kw) -> FeatureExtractor:
    """:func:`get_extractor`; when the Inception weights are missing and a source's images have a
    bundled extractor of their own (the shapes dataset), the error also names it (no silent switch)."""
    try:
        return get_extractor(extractor, **kw)
    except WeightsError as e:
        if extractor is not None:
            raise
        alt = next((a for a in (getattr(getattr(s, "seq", None), "default_extractor", None) for s in sources)
                    if a is not None), None)
        if alt is None:
            raise
        raise WeightsError(f"{e}; or, offline, use --extractor {alt} (extractor={alt!r}): "
                           f"reported as FD ({alt} features), not FID") from e


def _run(s, extractor: FeatureExtractor, keep_features, keep_logits, batch_size, progress, hash_pixels=False
         ) -> tuple[Stats, Extraction | None]:
    if isinstance(s, Stats):
        return s, None
    desc = str(getattr(s, "name", "images"))
    desc = desc if len(desc) <= 30 else "..." + desc[-27:]
    ex = extract(s, extractor, batch_size=batch_size, keep_features=keep_features,
                 keep_logits=keep_logits, progress=progress, desc=desc, hash_pixels=hash_pixels)
    return ex.stats, ex


def _named(s: Stats, name: str) -> str:
    """How an error names a side: ``the first statistics (FILE)`` when read from a file."""
    return f"the {name} statistics ({s.path})" if s.path else f"the {name} statistics"


def compute_stats(
    src,
    *,
    mode: str = "tf",
    dims: int = 2048,
    batch_size: int = 50,
    device=None,
    num_workers: int | None = None,
    weights: str | Path | None = None,
    extractor: FeatureExtractor | str | None = None,
    num_samples: int | None = None,
    skip_bad: bool = False,
    progress: bool = True,
    fast: bool = True,
    precision: str | None = None,
) -> Stats:
    """Mean and covariance of the features of ``src`` (any source; a statistics file is returned as is).

    ``extractor``: a name in :data:`ttur.networks.EXTRACTORS`, a feature extractor or any torch module
    (default: the FID Inception network). ``num_samples``: how many images a generator callable draws;
    an image source is capped at its first ``num_samples``. ``fast=False`` runs the reference layout
    of the Inception network instead of the fused build. ``precision``: ``fp32`` (default), ``bf16``,
    ``tf32``, ``fp16`` where the device has them (:mod:`ttur.networks.precision`).
    """
    s = open_source(src, num_workers=num_workers, skip_bad=skip_bad, num_samples=num_samples)
    if isinstance(s, Stats):
        return s
    ext = _get_extractor_for((s,), extractor, mode=mode, dims=dims, device=device, weights=weights, fast=fast,
                             precision=precision)
    return extract(s, ext, batch_size=batch_size, progress=progress).stats


@dataclass
class FIDResult:
    """The numbers of one ``fid`` call. ``float(result)`` is the distance."""

    fid: float
    label: str
    n_a: int
    n_b: int
    mode: str | None
    dims: int
    seconds: float
    kid_mean: float | None = None
    kid_std: float | None = None
    kid_subset_size: int | None = None
    isc_mean: float | None = None
    isc_std: float | None = None
    fid_bootstrap_mean: float | None = None
    fid_bootstrap_std: float | None = None
    skipped: dict = field(default_factory=dict)
    #: how the numbers were made: ttur, torch and numpy versions, network and weights hash, mode, counts,
    #: device, seed, batch size, and each side's source and content hash (as ``ttur.evaluate``'s record)
    record: dict = field(default_factory=dict)
    #: one line each about what a statistics file does not record (``ttur fid`` prints them as notes)
    notes: list = field(default_factory=list)

    def __float__(self) -> float:
        return self.fid

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {} and k != "notes"}


def fid(
    a,
    b,
    *,
    mode: str = "tf",
    dims: int = 2048,
    batch_size: int = 50,
    device=None,
    num_workers: int | None = None,
    weights: str | Path | None = None,
    extractor: FeatureExtractor | str | None = None,
    num_samples: int | tuple[int | None, int | None] | None = None,
    kid: bool = False,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    isc: bool = False,
    isc_splits: int = 10,
    bootstrap: int = 0,
    seed: int = 0,
    skip_bad: bool = False,
    progress: bool = True,
    fast: bool = True,
    precision: str | None = None,
) -> FIDResult:
    """FID between two sources (folders, zips, arrays, tensors, generators, statistics files).

    With ``kid=True`` also the Kernel Inception Distance (needs images on both sides; subsets of
    ``kid_subset_size``, shrunk to the smaller side with a warning, the size used in ``kid_subset_size``
    of the result), with ``isc=True`` the Inception Score of
    ``a``, with ``bootstrap=K`` the mean and standard deviation of the FID over K bootstrap
    resamples of the images. All come from one pass of each source through the network.
    ``num_samples`` (one number, or one per side): how many images a generator callable draws; an
    image source is capped at its first ``num_samples`` (more than it holds is refused); a
    statistics file keeps the count it was made from.
    ``fast=False`` runs the reference layout of the Inception network instead of the fused build.
    ``precision``: ``fp32`` (default), ``bf16``, ``tf32``, ``fp16`` where the device has them
    (:mod:`ttur.networks.precision`); recorded, and statistics files of another precision are refused.
    """
    t0 = time.perf_counter()
    for name, value, minimum in (("kid_subsets", kid_subsets, 1), ("isc_splits", isc_splits, 1),
                                 ("bootstrap", bootstrap, 0)):
        check_positive(name, value, minimum)
    na, nb = num_samples if isinstance(num_samples, tuple) else (num_samples, num_samples)
    keep_f = kid or bootstrap > 0
    # open (and so check) both sources before loading the network and the long pass over the first
    src_a = open_source(a, num_workers=num_workers, skip_bad=skip_bad, num_samples=na)
    src_b = open_source(b, num_workers=num_workers, skip_bad=skip_bad, num_samples=nb)
    both_stats = isinstance(src_a, Stats) and isinstance(src_b, Stats)
    ext = None if both_stats else _get_extractor_for((src_a, src_b), extractor, mode=mode, dims=dims, device=device,
                                                      weights=weights, fast=fast, precision=precision)
    if kid and (isinstance(src_a, Stats) or isinstance(src_b, Stats)):
        raise InputError("kid: needs images on both sides, not a statistics file")
    if isc and isinstance(src_a, Stats):
        raise InputError("isc: needs images as the first source, not a statistics file")
    for s, name in ((src_a, "first"), (src_b, "second")):
        if isinstance(s, Stats) and ext is not None and ext.dims:
            check_meta(s.dims, s.meta, ext.dims, ext.meta(), (_named(s, name), "these settings"))
    sa, ea = _run(src_a, ext, keep_f, isc, batch_size, progress, hash_pixels=True)
    sb, eb = _run(src_b, ext, keep_f, False, batch_size, progress, hash_pixels=True)
    check_compatible(sa, sb, (_named(sa, "first"), _named(sb, "second")))
    result = FIDResult(
        fid=distances.frechet_distance(sa, sb),
        label=ext.label if ext is not None else _stats_label(sa),
        n_a=sa.n or 0,
        n_b=sb.n or 0,
        mode=sa.meta.get("mode") or sb.meta.get("mode") or (ext.mode if ext is not None else None),
        dims=sa.dims,
        seconds=0.0,
    )
    if kid:
        n_small = min(len(ea.features), len(eb.features))
        used = min(kid_subset_size, n_small)
        if used < kid_subset_size:  # said, not silent: the subsets shrink to the smaller side
            whole = " (every subset holds all images of both sides, so kid_std is 0)" if (
                len(ea.features) == len(eb.features) == used) else ""
            warnings.warn(f"kid_subset_size: {kid_subset_size} is more than the {n_small} images of the smaller "
                          f"side; KID used subsets of {used}{whole}", stacklevel=2)
        result.kid_subset_size = used
        result.kid_mean, result.kid_std = distances.kid(
            ea.features, eb.features, subsets=kid_subsets, subset_size=used, seed=seed
        )
    if isc:
        result.isc_mean, result.isc_std = distances.inception_score(ea.logits, splits=isc_splits)
    if bootstrap > 0:
        result.fid_bootstrap_mean, result.fid_bootstrap_std = distances.fid_bootstrap(
            ea.features if ea else None, eb.features if eb else None,
            ref1=(sa.mu, sa.sigma), ref2=(sb.mu, sb.sigma), rounds=bootstrap, seed=seed,
        )
    skipped = {k: e.skipped for k, e in (("a", ea), ("b", eb)) if e is not None and e.skipped}
    result.skipped = skipped
    result.notes = [line for x in (src_a, src_b) if isinstance(x, Stats) for line in x.notes]
    result.record = _record(result, ext, (src_a, src_b), (ea, eb), device=device, batch_size=batch_size,
                            seed=seed, kid=kid, isc=isc, bootstrap=bootstrap)
    result.seconds = time.perf_counter() - t0
    return result


def _record(r: FIDResult, ext, srcs, exs, *, device, batch_size, seed, kid, isc, bootstrap) -> dict:
    """The record of one ``fid`` call, with the fields of ``ttur.evaluate``'s."""
    import numpy
    import torch

    from .. import __version__
    from .._util import resolve_device
    from ..networks.precision import DTYPE_NAMES
    from .sources import side_record

    metrics = ["fid"] + (["kid"] if kid else []) + (["isc"] if isc else []) + (["bootstrap"] if bootstrap else [])
    net = {"name": ext.name if ext is not None else (srcs[0].meta.get("extractor") or "inception"),
           "mode": r.mode, "dims": r.dims, "metrics": metrics}
    if ext is not None:
        from ..networks.weights import SHA256

        net["weights"] = str(getattr(ext, "path", "") or "") or None
        net["weights_sha256"] = getattr(ext, "weights_sha256", None)
        if ext.name == "inception":
            net["weights_official_sha256"] = SHA256
    precision = ext.precision if ext is not None else (srcs[0].meta.get("precision") or "fp32")
    net["precision"] = precision
    sides = {}
    for x, s, e in zip(("a", "b"), srcs, exs, strict=True):
        sides[x] = side_record(s, (e.stats.n if e is not None else s.n), e.sha256 if e is not None else None)
    return {
        "ttur_version": __version__,
        "metrics": metrics,
        "networks": {"inception" if net["name"] == "inception" else net["name"]: net},
        "n_a": r.n_a,
        "n_b": r.n_b,
        "sides": sides,
        "dtype": DTYPE_NAMES.get(precision, precision),
        "device": str(getattr(ext, "device", None) or resolve_device(device)),
        "batch_size": batch_size,
        "seed": seed,
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
    }


def _stats_label(s: Stats) -> str:
    name = s.meta.get("extractor")
    return "FID" if name in (None, "inception") else f"FD ({name} features)"


__all__ = ["compute_stats", "fid", "frechet_distance", "get_extractor", "FIDResult"]
