"""``ttur.evaluate``: several metrics from one pass per feature network, and the record of how.

Two tables drive it. :data:`NETWORKS` says how each feature network is built from the options
(Inception, DINOv2, CLIP); :data:`METRICS` says, per metric name, which network it reads, what it
needs of each side (statistics, kept features, kept logits), which result keys it fills, which
reference it reproduces, and the function that computes it. A new metric is one row of
:data:`METRICS` (and, for a new network, one row of :data:`NETWORKS`).

Each source goes through each network that a requested metric needs exactly once; every metric of
that network comes from that pass. A (the first source) is the generated set, B the reference set.
A statistics file stands in for a side when the metrics ask only for statistics there (``fid``,
``fd_dinov2``) and the file records the network and mode the metric needs; anything else is
refused with one line before any network runs. Files without a record of their network (the
official TTUR ones, pytorch-fid's) are taken as Inception files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._util import check_positive
from ..errors import InputError, StatsError

# torch and the pass are imported when a metric runs, so that `ttur eval --help` stays light
if TYPE_CHECKING:  # pragma: no cover - names for the annotations only
    from .extract import Extraction
    from .stats import Stats


@dataclass
class Side:
    """What one pass of one source through one network gave (or the statistics file it stands for)."""

    stats: Stats
    extraction: Extraction | None

    @property
    def features(self) -> np.ndarray:
        return self.extraction.features

    @property
    def logits(self) -> np.ndarray:
        return self.extraction.logits


@dataclass
class Options:
    """Every option of :func:`evaluate` that a network or a metric reads."""

    weights: object = None
    inception_mode: str = "tf"
    dinov2_arch: str = "vitl14"
    dinov2_mode: str = "edm2"
    dinov2_weights: object = None
    clip_weights: object = None
    device: object = None
    allow_download: bool | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    isc_splits: int = 10
    seed: int = 0
    precision: str = "fp32"


# ----------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Network:
    """``make(options)`` builds the extractor; ``expected(options)`` is the (extractor name, mode,
    dims) a statistics file of it records, known without loading the network."""

    make: Callable[[Options], object]
    expected: Callable[[Options], tuple[str, str, int]]
    title: Callable[[Options], str]


def _make_inception(o: Options):
    from ..networks.inception import InceptionExtractor

    return InceptionExtractor(o.weights, mode=o.inception_mode, dims=2048, device=o.device,
                              allow_download=o.allow_download, precision=o.precision)


def _make_dinov2(o: Options):
    from ..networks.vit_extractors import DINOv2Extractor

    return DINOv2Extractor(o.dinov2_weights, arch=o.dinov2_arch, mode=o.dinov2_mode, device=o.device,
                           allow_download=o.allow_download, precision=o.precision)


def _make_clip(o: Options):
    from ..networks.vit_extractors import CLIPExtractor

    return CLIPExtractor(o.clip_weights, device=o.device, allow_download=o.allow_download, precision=o.precision)


def _dinov2_expected(o: Options) -> tuple[str, str, int]:
    from ..networks import dinov2

    dinov2._check_arch(o.dinov2_arch)
    dinov2.check_mode(o.dinov2_mode)
    return f"dinov2_{o.dinov2_arch}", o.dinov2_mode, dinov2.ARCHS[o.dinov2_arch][0]


def _dinov2_title(o: Options) -> str:
    from ..networks import dinov2

    return f"DINOv2 {dinov2.ARCH_NAMES.get(o.dinov2_arch, o.dinov2_arch)}"


#: feature networks by name, in the order the passes run
NETWORKS: dict[str, Network] = {
    "inception": Network(_make_inception, lambda o: ("inception", o.inception_mode, 2048),
                         lambda o: "Inception (FID)"),
    "dinov2": Network(_make_dinov2, _dinov2_expected, _dinov2_title),
    "clip": Network(_make_clip, lambda o: ("clip_vitl14_336", "cmmd", 768),
                    lambda o: "CLIP ViT-L/14@336px"),
}


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------

STATS, FEATURES, LOGITS, SPATIAL = "stats", "features", "logits", "spatial"


@dataclass(frozen=True)
class Metric:
    """One metric: its network, what it needs of A and of B, its result keys, its reference."""

    network: str
    needs_a: frozenset
    needs_b: frozenset
    keys: tuple[str, ...]
    reference: str
    compute: Callable[[Side | None, Side | None, Options], dict]


def _fd(key: str):
    def compute(a: Side, b: Side, o: Options) -> dict:
        from .distances import frechet_distance

        return {key: frechet_distance(a.stats, b.stats)}

    return compute


def _kid(a: Side, b: Side, o: Options) -> dict:
    from .distances import kid

    m, s = kid(a.features, b.features, subsets=o.kid_subsets, subset_size=o.kid_subset_size, seed=o.seed)
    return {"kid_mean": m, "kid_std": s}


def _isc(a: Side, b: Side | None, o: Options) -> dict:
    from .distances import inception_score

    m, s = inception_score(a.logits, splits=o.isc_splits)
    return {"isc_mean": m, "isc_std": s}


def _prdc(a: Side, b: Side, o: Options) -> dict:
    from .manifold import K_DENSITY_COVERAGE, K_PRECISION_RECALL, manifold_metrics

    # B (the reference) is the real set, A (generated) the fake one
    out = manifold_metrics(b.features, a.features, k_pr=K_PRECISION_RECALL, k_dc=K_DENSITY_COVERAGE,
                           device=o.device)
    out["_record"] = {"k_precision_recall": K_PRECISION_RECALL, "k_density_coverage": K_DENSITY_COVERAGE,
                      "dtype": "float64", "real": "B", "fake": "A"}
    return out


def _kid_on(net: str):
    def compute(a: Side, b: Side, o: Options) -> dict:
        out = _kid(a, b, o)
        return {f"kid_{net}_mean": out["kid_mean"], f"kid_{net}_std": out["kid_std"]}

    return compute


#: dgm-eval computes all four manifold metrics at one k, its ``--nearest_k`` (default 5)
K_DGM_EVAL = 5


def _prdc_on(net: str):
    def compute(a: Side, b: Side, o: Options) -> dict:
        from .manifold import manifold_metrics

        out = manifold_metrics(b.features, a.features, k_pr=K_DGM_EVAL, k_dc=K_DGM_EVAL, device=o.device)
        res = {f"{k}_{net}": v for k, v in out.items()}
        res["_record"] = {"k_precision_recall": K_DGM_EVAL, "k_density_coverage": K_DGM_EVAL, "dtype": "float64",
                          "real": "B", "fake": "A"}
        return res

    return compute


def _fid_inf(a: Side, b: Side, o: Options) -> dict:
    from .extrapolate import fid_infinity

    r = fid_infinity(a.features, b.stats, seed=o.seed)  # the paper's setup: A sub-sampled, B's full statistics
    out = {"fid_inf": r.fid_inf, "fid_inf_stderr": r.stderr, "fid_inf_residual_std": r.residual_std,
           "_record": {"sizes": r.sizes, "fids": r.fids, "slope": r.slope, "subsampled": r.subsampled}}
    dims, n_b = a.stats.dims, b.stats.n
    said = []
    if r.sizes[0] < dims:
        se = f" (fid_inf_stderr {r.stderr:.3g})" if r.stderr is not None else ""
        said.append(f"its sub-samples of A ({r.sizes[0]} to {r.sizes[-1]} images) are below the {dims} feature "
                    f"dimensions, where FID_N is not yet linear in 1/N: the line extrapolates from afar{se}")
    if n_b is not None and n_b != a.stats.n:
        said.append(f"B's statistics come from all its {n_b} images against A's up to {r.sizes[-1]}: only A's "
                    "finite-sample bias is extrapolated away, B's stays in the number")
    if said:
        out["_note"] = "fid_inf: " + "; ".join(said)
    return out


def _fid_note(a: Side, b: Side, o: Options) -> str | None:
    """One line when FID's bias makes the number hard to compare: N below the dimension, or unequal N."""
    dims, na, nb = a.stats.dims, a.stats.n, b.stats.n
    said = []
    low = [f"{x} has {n}" for x, n in (("A", na), ("B", nb)) if n is not None and n < dims]
    if low:
        said.append(f"{' and '.join(low)} images, fewer than the {dims} feature dimensions: the covariance is "
                    "singular and FID is biased upward by a term that falls as 1/N (fid_inf extrapolates it away)")
    if na is not None and nb is not None and na != nb:
        said.append(f"the sides differ in N (A {na}, B {nb}): the bias depends on both counts, so the number "
                    "compares only with FIDs at the same two counts")
    return ("fid: " + "; ".join(said)) if said else None


def _fid(a: Side, b: Side, o: Options) -> dict:
    out = _fd("fid")(a, b, o)
    note = _fid_note(a, b, o)
    if note:
        out["_note"] = note
    return out


def _sfid(a: Side, b: Side, o: Options) -> dict:
    from ..networks.inception import SPATIAL_DIMS, SPATIAL_TENSOR
    from .distances import frechet_distance

    sa, sb = a.extraction.spatial, b.extraction.spatial
    return {"sfid": frechet_distance(sa, sb),
            "_record": {"tensor": SPATIAL_TENSOR, "module": "Mixed_6d.branch1x1 (after batch norm and ReLU), "
                        "channels 0..6, flattened (h, w, c)", "dims": SPATIAL_DIMS, "mode": o.inception_mode,
                        "dtype": "float64"}}


def _cmmd(a: Side, b: Side, o: Options) -> dict:
    from .cmmd import cmmd

    return {"cmmd": cmmd(a.features, b.features)}


_S, _F, _L, _0 = frozenset({STATS}), frozenset({FEATURES}), frozenset({LOGITS}), frozenset()
_SP = frozenset({SPATIAL})

#: every metric ``ttur eval --metrics`` knows, by name
METRICS: dict[str, Metric] = {
    "fid": Metric("inception", _S, _S, ("fid",),
                  "bioinf-jku/TTUR (TensorFlow FID; same numbers as `ttur fid`)", _fid),
    "kid": Metric("inception", _F, _F, ("kid_mean", "kid_std"),
                  "Binkowski et al. 2018 (KID, as `ttur fid --kid`)", _kid),
    "isc": Metric("inception", _L, _0, ("isc_mean", "isc_std"),
                  "openai/improved-gan (Inception Score of A, as `ttur fid --isc`)", _isc),
    "prdc": Metric("inception", _F, _F, ("precision", "recall", "density", "coverage"),
                   "clovaai/generative-evaluation-prdc (`prdc` package; precision/recall at k = 3 as "
                   "Kynkaanniemi et al. 2019, density/coverage at k = 5 as Naeem et al. 2020)", _prdc),
    "fid_inf": Metric("inception", _F, _S, ("fid_inf", "fid_inf_stderr", "fid_inf_residual_std"),
                      "mchong6/FID_IS_infinity (FID at 15 sizes of A against B's statistics, linear in 1/N)",
                      _fid_inf),
    "sfid": Metric("inception", _SP, _SP, ("sfid",),
                   "openai/guided-diffusion evaluations/evaluator.py (sFID, Nash et al. 2021: Frechet distance of "
                   "mixed_6/conv[..., :7], 2023-d, TF preprocessing; from the same pass as fid)", _sfid),
    "fd_dinov2": Metric("dinov2", _S, _S, ("fd_dinov2",),
                        "NVlabs/edm2 calculate_metrics.py (mode edm2) / layer6ai-labs/dgm-eval (dgm-eval, "
                        "dgm-eval-clean)", _fd("fd_dinov2")),
    "cmmd": Metric("clip", _F, _F, ("cmmd",),
                   "google-research/google-research cmmd (every image kept, float64 means)", _cmmd),
    "kid_dinov2": Metric("dinov2", _F, _F, ("kid_dinov2_mean", "kid_dinov2_std"),
                         "layer6ai-labs/dgm-eval (KID on DINOv2 features: cubic polynomial kernel, 100 subsets of "
                         "1,000)", _kid_on("dinov2")),
    "prdc_dinov2": Metric("dinov2", _F, _F, ("precision_dinov2", "recall_dinov2", "density_dinov2",
                                             "coverage_dinov2"),
                          "layer6ai-labs/dgm-eval (precision, recall, density, coverage on DINOv2 features, all at "
                          "its default k = 5)", _prdc_on("dinov2")),
}
DEFAULT_METRICS = ("fid",)

#: how close a recomputed number must come to the recorded one (``ttur eval --check``): result key ->
#: (relative, absolute); it matches when ``|new - old| <= max(relative * |old|, absolute)``. Recomputed on
#: the same machine and device a number comes out identical; the margins absorb the float32 reordering of
#: another thread count. Precision, recall, density and coverage are counts over nearest neighbours: exact.
TOLERANCES: dict[str, tuple[float, float]] = {
    "fid": (1e-6, 1e-9), "fd_dinov2": (1e-6, 1e-9), "cmmd": (1e-6, 1e-9),
    "kid_mean": (1e-6, 1e-9), "kid_std": (1e-5, 1e-9), "isc_mean": (1e-6, 1e-9), "isc_std": (1e-5, 1e-9),
    "precision": (0.0, 0.0), "recall": (0.0, 0.0), "density": (0.0, 0.0), "coverage": (0.0, 0.0),
    "fid_inf": (1e-6, 1e-9), "fid_inf_stderr": (1e-4, 1e-9), "fid_inf_residual_std": (1e-4, 1e-9),
    "sfid": (1e-6, 1e-9), "kid_dinov2_mean": (1e-6, 1e-9), "kid_dinov2_std": (1e-5, 1e-9),
    **{f"{k}_dinov2": (0.0, 0.0) for k in ("precision", "recall", "density", "coverage")},
}
#: the tolerance of a key not in :data:`TOLERANCES` (a metric added later)
DEFAULT_TOLERANCE = (1e-6, 1e-9)


def within_tolerance(key: str, old, new) -> bool:
    """Whether ``new`` matches the recorded ``old`` within the tolerance of ``key``."""
    if old is None or new is None:
        return old is None and new is None
    rel, tol_abs = TOLERANCES.get(key, DEFAULT_TOLERANCE)
    return abs(float(new) - float(old)) <= max(rel * abs(float(old)), tol_abs)


def parse_metrics(metrics: str | Sequence[str] | None) -> list[str]:
    """``"fid,cmmd"`` or ``["fid", "cmmd"]`` -> checked names in the given order (duplicates dropped)."""
    if metrics is None:
        return list(DEFAULT_METRICS)
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for n in (str(x).strip() for x in names):
        if not n:
            continue
        if n not in METRICS:
            raise InputError(f"metrics: unknown metric {n!r}; known: {', '.join(METRICS)}")
        if n not in out:
            out.append(n)
    if not out:
        raise InputError(f"metrics: no metric named; known: {', '.join(METRICS)}")
    return out


# ----------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------

@dataclass
class EvalResult:
    """The numbers of one :func:`evaluate` call (``result["fid"]``, ``result.to_dict()``) and the
    record of how they were made."""

    values: dict
    record: dict
    seconds: float = 0.0
    skipped: dict = field(default_factory=dict)
    #: one line per metric whose number needs a word of caution (``ttur eval`` prints them to stderr)
    notes: list = field(default_factory=list)

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def __getattr__(self, key: str):
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    def to_dict(self) -> dict:
        return {**self.values, "record": self.record}


# ----------------------------------------------------------------------------------------------
# The passes
# ----------------------------------------------------------------------------------------------

def _check_stats_file(s: Stats, side: str, net: str, metric_names: list[str], o: Options) -> Stats:
    """A statistics file standing for ``side`` must record the network and mode ``net`` runs with;
    returns the statistics of the file that ``net`` reads (a file may hold several: EDM2's ``fid`` and
    ``fd_dinov2``)."""
    name, mode, dims = NETWORKS[net].expected(o)
    which = ", ".join(metric_names)
    if s.path:
        side = f"{side} ({s.path})"
    s = s.for_network(name) or s
    recorded = s.meta.get("extractor")
    if recorded is None and net != "inception":
        raise StatsError(f"{side}: a statistics file that does not record its network; {which} needs "
                         f"one made by {name} (mode {mode})")
    recorded = recorded or "inception"
    if recorded != name:
        raise StatsError(f"cannot use {side} (statistics of {recorded} features) for {which}: it needs "
                         f"{name} features; compute both with the same network")
    if s.meta.get("mode") is not None and s.meta["mode"] != mode:
        raise StatsError(f"cannot use {side} (statistics made in mode {s.meta['mode']!r}) for {which}: "
                         f"it runs {name} in mode {mode!r}; compute both with the same mode")
    if s.dims != dims:
        raise StatsError(f"cannot use {side} ({s.dims}-d statistics) for {which}: {name} gives {dims}-d features")
    return s


def evaluate(
    a,
    b,
    metrics: str | Sequence[str] | None = None,
    *,
    dinov2_arch: str = "vitl14",
    dinov2_mode: str = "edm2",
    dinov2_weights=None,
    clip_weights=None,
    weights=None,
    batch_size: int = 50,
    device=None,
    num_workers: int | None = None,
    num_samples: int | tuple[int | None, int | None] | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    isc_splits: int = 10,
    seed: int = 0,
    skip_bad: bool = False,
    allow_download: bool | None = None,
    progress: bool = True,
    precision: str | None = None,
) -> EvalResult:
    """Metrics between A (generated) and B (reference) from one pass of each source per network.

    ``metrics``: names of :data:`METRICS` (``fid``, ``kid``, ``isc``, ``prdc``, ``fid_inf``, ``sfid``,
    ``fd_dinov2``, ``cmmd``), as a
    list or a comma-separated string; default ``fid``. ``weights``: the Inception weights;
    ``dinov2_weights`` / ``clip_weights``: those files (else ``$TTUR_DINOV2_WEIGHTS`` /
    ``$TTUR_CLIP_WEIGHTS``, ttur's cache, the torch hub or CLIP folder, a download unless
    ``TTUR_OFFLINE``; ``allow_download=False`` forbids it). ``fid`` gives the same number as
    :func:`ttur.fid`; FD on DINOv2 features is ``fd_dinov2``, never "FID". ``precision``: the arithmetic
    of every network's pass, ``fp32`` (default), ``bf16``, ``tf32``, ``fp16`` where the device has them
    (:mod:`ttur.networks.precision`); recorded.
    """
    import numpy
    import torch

    from .. import __version__
    from .._util import resolve_device
    from ..networks.precision import DTYPE_NAMES, check_precision
    from .extract import extract
    from .sources import open_source, side_record
    from .stats import Stats, check_meta

    t0 = time.perf_counter()
    names = parse_metrics(metrics)
    check_positive("batch_size", batch_size)
    for n, v, m in (("kid_subsets", kid_subsets, 1), ("isc_splits", isc_splits, 1)):
        check_positive(n, v, m)
    o = Options(weights=weights, dinov2_arch=dinov2_arch, dinov2_mode=dinov2_mode, dinov2_weights=dinov2_weights,
                clip_weights=clip_weights, device=device, allow_download=allow_download,
                kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, isc_splits=isc_splits, seed=seed)
    dev = resolve_device(device)
    o.device = dev
    o.precision = check_precision(precision, dev)

    # what each network needs of each side
    plan: dict[str, dict[str, set]] = {}
    users: dict[str, list[str]] = {}
    for n in names:
        m = METRICS[n]
        p = plan.setdefault(m.network, {"a": set(), "b": set()})
        p["a"] |= m.needs_a
        p["b"] |= m.needs_b
        users.setdefault(m.network, []).append(n)
    plan = {net: plan[net] for net in NETWORKS if net in plan}  # the table's order

    # open (and so check) both sources, and the statistics files against their networks, before any network loads
    na, nb = num_samples if isinstance(num_samples, tuple) else (num_samples, num_samples)
    need_b = any(p["b"] for p in plan.values())
    src = {"a": open_source(a, num_workers=num_workers, skip_bad=skip_bad, num_samples=na),
           "b": open_source(b, num_workers=num_workers, skip_bad=skip_bad, num_samples=nb) if need_b else None}
    picked: dict[tuple[str, str], Stats] = {}
    for net, p in plan.items():
        for side in ("a", "b"):
            s = src[side]
            if isinstance(s, Stats) and p[side]:
                label = "A" if side == "a" else "B"
                beyond = sorted(p[side] - {STATS})
                if beyond:
                    which = [n for n in users[net] if set(getattr(METRICS[n], f"needs_{side}")) - {STATS}]
                    raise InputError(f"{', '.join(which)}: needs images as {label}, not a statistics file")
                picked[(net, side)] = _check_stats_file(s, label, net, users[net], o)

    # build every network first: a missing weights file stops here, before the long passes
    extractors = {}
    for net, p in plan.items():
        if any(not isinstance(src[side], Stats) for side in ("a", "b") if p[side]):
            extractors[net] = NETWORKS[net].make(o)

    values: dict = {}
    record_nets: dict = {}
    counts: dict = {}
    skipped: dict = {}
    notes: list[str] = [line for x in ("a", "b") if isinstance(src[x], Stats) for line in src[x].notes]
    details: dict = {}
    hashes: dict[str, str | None] = {}
    for net, p in plan.items():
        ext = extractors.get(net)
        sides: dict[str, Side | None] = {}
        for side in ("a", "b"):
            s = src[side]
            if not p[side]:
                sides[side] = None
                continue
            if isinstance(s, Stats):
                s = picked[(net, side)]
                if ext is not None:
                    check_meta(s.dims, s.meta, ext.dims, ext.meta(),
                               (f"the {'first' if side == 'a' else 'second'} statistics", "these settings"))
                sides[side] = Side(s, None)
                continue
            desc = str(getattr(s, "name", "images"))
            desc = f"{net}: " + (desc if len(desc) <= 30 else "..." + desc[-27:])
            ex = extract(s, ext, batch_size=batch_size, keep_features=FEATURES in p[side],
                         keep_logits=LOGITS in p[side], progress=progress, desc=desc,
                         hash_pixels=side not in hashes, spatial=SPATIAL in p[side])
            if side not in hashes:
                hashes[side] = ex.sha256
            if ex.skipped:
                skipped[side] = max(skipped.get(side, 0), ex.skipped)
            sides[side] = Side(ex.stats, ex)
        for side in ("a", "b"):
            if sides[side] is not None:
                counts.setdefault(f"n_{side}", sides[side].stats.n)
        if sides["a"] is not None and sides["b"] is not None:
            check_meta(sides["a"].stats.dims, sides["a"].stats.meta, sides["b"].stats.dims, sides["b"].stats.meta,
                       ("A", "B"))
        for n in users[net]:
            got = METRICS[n].compute(sides["a"], sides["b"], o)
            if "_note" in got:
                notes.append(got.pop("_note"))
            if "_record" in got:
                details[n] = got.pop("_record")
            values.update(got)
        name, mode, dims = NETWORKS[net].expected(o)
        entry = {"name": name, "mode": mode, "dims": dims, "metrics": users[net], "precision": o.precision}
        if ext is not None:
            entry["weights"] = str(getattr(ext, "path", "")) or None
            entry["weights_sha256"] = ext.weights_sha256
            official = getattr(ext, "official_sha256", None) if net != "inception" else _inception_sha()
            entry["weights_official_sha256"] = official
        else:
            entry["weights_sha256"] = next((sides[x].stats.meta.get("weights_sha256") for x in ("a", "b")
                                            if sides[x] is not None), None)
        entry.update({f"n_{x}": sides[x].stats.n for x in ("a", "b") if sides[x] is not None})
        record_nets[net] = entry
    del extractors

    record = {
        "ttur_version": __version__,
        "metrics": names,
        "networks": record_nets,
        **counts,
        "sources": {x: ("statistics file" if isinstance(src[x], Stats) else str(getattr(src[x], "name", "")))
                    for x in ("a", "b") if src[x] is not None},
        "sides": {x: side_record(src[x], counts.get(f"n_{x}"), hashes.get(x)) for x in ("a", "b")
                  if src[x] is not None},
        "dtype": DTYPE_NAMES[o.precision],
        "device": str(dev),
        "batch_size": batch_size,
        "seed": seed,
        "options": {"metrics": names, "dinov2_arch": dinov2_arch, "dinov2_mode": dinov2_mode,
                    "kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size, "isc_splits": isc_splits,
                    "num_samples": list(num_samples) if isinstance(num_samples, tuple) else num_samples,
                    "skip_bad": skip_bad, "batch_size": batch_size, "seed": seed, "precision": o.precision},
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
    }
    if skipped:
        record["skipped"] = skipped
    if details:
        record["metric_details"] = details
    if notes:
        record["notes"] = notes
    return EvalResult(values=values, record=record, seconds=time.perf_counter() - t0, skipped=skipped, notes=notes)


def _inception_sha() -> str:
    from ..networks.weights import SHA256

    return SHA256


__all__ = ["DEFAULT_METRICS", "METRICS", "NETWORKS", "TOLERANCES", "EvalResult", "Metric", "Network", "evaluate",
           "parse_metrics", "within_tolerance"]
