"""``ttur experiment disturb``: FID and Inception Score of images under increasing disturbance.

The paper's Fig. 3 / App. Fig. A8: take real images, apply a disturbance at increasing levels α,
and compare FID (against the clean images) with the Inception Score of the disturbed images. The
six disturbances and their levels (images handled as float in [−1, 1], as the official code did):

* Gaussian noise ``(1 − α) X + α N``, N standard normal over the whole set, min-max scaled to
  [−1, 1]; α ∈ {0, .25, .5, .75}
* Gaussian blur with σ = α pixels (edge mode "nearest", truncated at 4σ, as
  ``skimage.filters.gaussian``); α ∈ {0, 1, 2, 4}
* 5 black squares of side ``int(α · H)`` at random positions; α ∈ {0, .25, .5, .75}
* swirl (``skimage.transform.swirl``) about the centre, strength ±α (random sign), radius 70 px at
  64 px (scaled with the image size), a 3-pixel border restored from the original; α ∈ {0, 1, 2, 4}
* salt and pepper: a fraction α of pixel locations (shared across channels) set to black or white; α ∈ {0, .1, .2, .3}
* contamination: a random fraction α of the images replaced by images of another source (the
  paper: ImageNet; here any source, by default the embedded ``shapes`` dataset); α ∈ {0, .25, .5, .75}

Each level's images go through the network once: the features give the FID, the logits the
Inception Score. The clean images' own pass is the reference (so level 0 gives FID 0) unless
``--reference`` names other images or a statistics file (the paper used all-CelebA statistics).

Runtime: the Inception network runs at ~12 images/s on one CPU core and ~2,000-4,000 images/s
on a recent GPU; the experiment makes 19 passes (1 clean + 6 × 3 levels). ``--quick``
(32 images of 64 px: 608 images through the network, plus 19 Fréchet distances at 2048
dimensions) takes 1-3 minutes on two idle CPU cores (12 minutes measured on two cores shared with
three other jobs); the full setting (``-n 50000``, the
paper's count) about 950k images: roughly 5-10 minutes of network time on one GPU plus a few
minutes of CPU time for the swirls and blurs (``-n 10000``: ~2-3 minutes on a GPU).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, InputError
from ..images.pixels import to_unit_nhwc
from .report import Report, fmt, use_agg

#: name -> (levels, short description); the paper's levels
LEVELS: dict[str, list[float]] = {
    "gaussian_noise": [0.0, 0.25, 0.5, 0.75],
    "gaussian_blur": [0.0, 1.0, 2.0, 4.0],
    "black_rectangles": [0.0, 0.25, 0.5, 0.75],
    "swirl": [0.0, 1.0, 2.0, 4.0],
    "salt_and_pepper": [0.0, 0.1, 0.2, 0.3],
    "contamination": [0.0, 0.25, 0.5, 0.75],
}
TITLES = {
    "gaussian_noise": "Gaussian noise", "gaussian_blur": "Gaussian blur", "black_rectangles": "black rectangles",
    "swirl": "swirl", "salt_and_pepper": "salt and pepper", "contamination": "contamination",
}


# ----------------------------------------------------------------------------------------------
# disturbances: float32 NHWC in [-1, 1] -> float32 NHWC in [-1, 1]
# ----------------------------------------------------------------------------------------------
def gaussian_noise(x: np.ndarray, a: float, rng: np.random.Generator, **_) -> np.ndarray:
    if a == 0:
        return x.copy()
    n = rng.standard_normal(x.shape).astype(np.float32)
    n = (n - n.min()) / (n.max() - n.min()) * 2 - 1  # min-max over the whole set, to the image range
    return ((1 - a) * x + a * n).astype(np.float32)


def gaussian_blur(x: np.ndarray, a: float, rng: np.random.Generator, **_) -> np.ndarray:
    if a == 0:
        return x.copy()
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=(0, a, a, 0), mode="nearest", truncate=4.0).astype(np.float32)


def black_rectangles(x: np.ndarray, a: float, rng: np.random.Generator, count: int = 5, **_) -> np.ndarray:
    out = x.copy()
    n, h, w, _c = x.shape
    s = int(a * min(h, w))
    if s == 0:
        return out
    ys = rng.integers(0, h - s + 1, size=(n, count))
    xs = rng.integers(0, w - s + 1, size=(n, count))
    for i in range(n):
        for k in range(count):
            out[i, ys[i, k]:ys[i, k] + s, xs[i, k]:xs[i, k] + s] = -1.0
    return out


def swirl(x: np.ndarray, a: float, rng: np.random.Generator, radius: float | None = None, border: int = 3,
          **_) -> np.ndarray:
    if a == 0:
        return x.copy()
    try:
        from skimage.transform import swirl as sk_swirl
    except ImportError as e:
        raise ConfigError("the swirl disturbance needs scikit-image (pip install scikit-image), "
                          "or leave it out with --disturbances") from e
    n, h, w, _c = x.shape
    r = radius if radius is not None else 70.0 * h / 64.0
    signs = rng.choice([-1.0, 1.0], size=n)
    out = np.empty_like(x)
    for i in range(n):
        img = (x[i] + 1) / 2  # skimage works on [0, 1]
        sw = sk_swirl(img, strength=signs[i] * a, radius=r, rotation=0, mode="reflect", order=1,
                      preserve_range=True)
        sw = sw * 2 - 1
        if border > 0:
            sw[:border], sw[-border:], sw[:, :border], sw[:, -border:] = (
                x[i, :border], x[i, -border:], x[i, :, :border], x[i, :, -border:])
        out[i] = sw
    return np.clip(out, -1, 1).astype(np.float32)


def salt_and_pepper(x: np.ndarray, a: float, rng: np.random.Generator, **_) -> np.ndarray:
    if a == 0:
        return x.copy()
    n, h, w, _c = x.shape
    hit = rng.random((n, h, w)) < a
    value = np.where(rng.random((n, h, w)) < 0.5, -1.0, 1.0).astype(np.float32)
    return np.where(hit[..., None], value[..., None], x).astype(np.float32)


def contamination(x: np.ndarray, a: float, rng: np.random.Generator, other: np.ndarray | None = None,
                  **_) -> np.ndarray:
    out = x.copy()
    k = int(round(a * len(x)))
    if k == 0:
        return out
    if other is None or len(other) == 0:
        raise ConfigError("other: contamination needs images of another source")
    if other.shape[1:] != x.shape[1:]:
        raise InputError(f"contamination: the other images are {other.shape[1:]}, the images {x.shape[1:]}")
    where = rng.choice(len(x), size=k, replace=False)
    out[where] = other[rng.choice(len(other), size=k, replace=len(other) < k)]
    return out


DISTURBANCES: dict[str, Callable[..., np.ndarray]] = {
    "gaussian_noise": gaussian_noise, "gaussian_blur": gaussian_blur, "black_rectangles": black_rectangles,
    "swirl": swirl, "salt_and_pepper": salt_and_pepper, "contamination": contamination,
}


# ----------------------------------------------------------------------------------------------
# images in and features out
# ----------------------------------------------------------------------------------------------
def load_images(src, n: int, size: int | None = 64, crop: int | None = None, seed: int = 0) -> np.ndarray:
    """``n`` images of ``src`` as float32 NHWC in [−1, 1].

    ``src``: a uint8 NHWC/NCHW array or tensor, a float one in [−1, 1], or a spec/path that
    :func:`ttur.images.training.open_training_data` reads (``"shapes"``, a folder, a zip, ...), centre-cropped
    to ``crop`` and resized to ``size``.
    """
    if n < 2:
        raise ConfigError(f"n: at least 2 images are needed, got {n}")
    if isinstance(src, torch.Tensor):
        src = src.detach().cpu().numpy()
    if isinstance(src, np.ndarray):
        return to_unit_nhwc(src[:n], "images")
    from ..images.readers import open_images
    from ..images.training import open_training_data

    seq = open_images(src)
    if not hasattr(seq, "redraw"):  # files: at most all of them (the procedural shapes are drawn at length n)
        n = min(n, len(seq))
    # n images evenly spaced over the source: the first n of a folder sorted by class would be a few classes
    ds = open_training_data(src, size=size or 64, crop=crop, length=n, seed=seed, spread=True)
    n = min(n, len(ds))
    x = ds.get_batch(np.arange(n)).numpy()
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _array_source(x: np.ndarray, name: str):
    from ..metrics.sources import GeneratorSource

    pos = [0]

    def fn(b: int) -> torch.Tensor:
        out = torch.from_numpy(np.clip(x[pos[0]:pos[0] + b], -1, 1).transpose(0, 3, 1, 2).copy())
        pos[0] += b
        return out

    return GeneratorSource(fn, len(x), name=name)


def feature_pass(x: np.ndarray, extractor, batch_size: int, name: str, isc_splits: int, progress: bool):
    """One pass: (Stats, Inception Score mean, std); IS is NaN for an extractor without logits."""
    from ..metrics.distances import inception_score
    from ..metrics.extract import extract

    ex = extract(_array_source(x, name), extractor, batch_size=batch_size, keep_logits=extractor.has_logits,
                 progress=progress, desc=name)
    if ex.logits is None:
        return ex.stats, float("nan"), float("nan")
    m, s = inception_score(ex.logits, splits=min(isc_splits, len(x)))
    return ex.stats, m, s


def monotone(values, increasing: bool = True, tol: float = 0.0) -> bool:
    v = [float(x) for x in values]
    if any(not math.isfinite(x) for x in v):
        return False
    d = np.diff(v)
    return bool((d > tol).all() if increasing else (d < -tol).all())


# ----------------------------------------------------------------------------------------------
# the experiment
# ----------------------------------------------------------------------------------------------
def run(out_dir: str | Path, source="shapes", *, n: int | None = None, quick: bool = False, size: int = 64,
        crop: int | None = None, other="shapes:5000:7", reference=None, disturbances=None,
        levels: dict[str, list[float]] | None = None, extractor=None, mode: str = "tf", dims: int = 2048,
        device=None, weights=None, batch_size: int = 50, isc_splits: int = 10, seed: int = 0,
        fast: bool = True, progress: bool = True, precision: str | None = None) -> dict:
    """Run the disturbance experiment and write its report folder; returns the numbers (also results.json)."""
    from ..metrics.distances import frechet_distance
    from ..metrics.sources import open_source
    from ..metrics.stats import Stats
    from ..networks import get_extractor

    t0 = time.perf_counter()
    n = n or (32 if quick else 50_000)
    names = list(disturbances or LEVELS)
    for d in names:
        if d not in DISTURBANCES:
            raise ConfigError(f"disturbances: unknown {d!r} (choose from {', '.join(DISTURBANCES)})")
    lv = {d: sorted({0.0, *[float(v) for v in (levels or {}).get(d, LEVELS[d])]}) for d in names}
    x = load_images(source, n, size=size, crop=crop, seed=seed)
    n = len(x)
    oth = None
    if "contamination" in names:
        oth = load_images(other, n, size=x.shape[1], seed=seed + 1)
        if oth.shape[1:3] != x.shape[1:3]:
            oth = load_images(other, n, size=x.shape[1], crop=min(oth.shape[1:3]), seed=seed + 1)
    src_name = source if isinstance(source, str | Path) else f"array {tuple(np.shape(source))}"
    # the network last: a bad source or --other is reported before weights are looked for (or downloaded)
    ext = get_extractor(extractor, mode=mode, dims=dims, device=device, weights=weights, fast=fast,
                        precision=precision)
    clean_stats, clean_is, clean_is_std = feature_pass(x, ext, batch_size, "clean", isc_splits, progress)
    if reference is not None:
        ref = open_source(reference)
        ref_stats = ref if isinstance(ref, Stats) else feature_pass(
            load_images(reference, n, size=x.shape[1], crop=crop, seed=seed), ext, batch_size, "reference",
            isc_splits, progress)[0]
    else:
        ref_stats = clean_stats
    fid0 = frechet_distance(clean_stats.mu, clean_stats.sigma, ref_stats.mu, ref_stats.sigma)
    rows: list[dict] = []
    examples: dict[str, list[np.ndarray]] = {}
    for di, d in enumerate(names):
        examples[d] = []
        for li, a in enumerate(lv[d]):
            rng = np.random.default_rng([seed, di, li])
            if a == 0:
                y = x
                st, is_m, is_s, fd = clean_stats, clean_is, clean_is_std, fid0
            else:
                ts = time.perf_counter()
                y = DISTURBANCES[d](x, a, rng, other=oth)
                st, is_m, is_s = feature_pass(y, ext, batch_size, f"{d} {a:g}", isc_splits, progress)
                fd = frechet_distance(st.mu, st.sigma, ref_stats.mu, ref_stats.sigma)
            rows.append({"disturbance": d, "level": a, "fid": fd, "is_mean": is_m, "is_std": is_s, "n": n,
                         "seconds": 0.0 if a == 0 else time.perf_counter() - ts})
            examples[d].append(y[0])
    summary = []
    for d in names:
        r = [row for row in rows if row["disturbance"] == d]
        fids = [row["fid"] for row in r]
        iss = [row["is_mean"] for row in r]
        summary.append({"disturbance": d, "levels": lv[d], "fid": fids, "is": iss,
                        "fid_increasing": monotone(fids, True),
                        "is_decreasing": monotone(iss, False), "is_monotone": monotone(iss, False) or
                        monotone(iss, True)})
    label = ext.label
    official = getattr(ext, "official", None)
    results = {"experiment": "disturb", "source": str(src_name), "n": n, "size": int(x.shape[1]),
               "label": label, "extractor": ext.name, "official_weights": official, "precision": ext.precision,
               "reference": str(reference) if reference is not None else "the clean images", "rows": rows,
               "summary": summary, "clean_is": clean_is}
    with Report(out_dir, f"{label} and Inception Score under disturbances") as rep:
        note = ""
        if official is False:
            note = (" **The Inception weights are not the official file: the numbers show the method, "
                    "they are not comparable with published ones.**")
        if ext.precision != "fp32":
            note += f" The network ran in {ext.precision}, not float32: its features differ from the reference ones."
        rep.text(f"Source: `{src_name}`, {n} images of {x.shape[1]}×{x.shape[2]} px; reference: "
                 f"{results['reference']}; features: {label} ({ext.name}).{note} Each level: one pass through the "
                 f"network for both the distance and the Inception Score ({min(isc_splits, n)} splits).\n")
        headers = ["disturbance", *[f"level {i}" for i in range(max(len(v) for v in lv.values()))]]
        rep.table(headers, [[TITLES[s["disturbance"]], *[f"α={a:g}: {fmt(f)}" for a, f in zip(s["levels"],
                                                                                             s["fid"], strict=True)]]
                            for s in summary], caption=f"**{label}** against the reference:")
        if ext.has_logits:
            rep.table(headers, [[TITLES[s["disturbance"]], *[f"α={a:g}: {fmt(v)}" for a, v in
                                                            zip(s["levels"], s["is"], strict=True)]]
                                for s in summary], caption="**Inception Score** of the disturbed images:")
        rep.table(["disturbance", f"{label} rises monotonically", "IS falls monotonically", "IS monotone at all"],
                  [[TITLES[s["disturbance"]], s["fid_increasing"], s["is_decreasing"] if ext.has_logits else "—",
                    s["is_monotone"] if ext.has_logits else "—"] for s in summary],
                  caption="**Monotonicity** (strict, over all levels including 0):")
        k = sum(s["fid_increasing"] for s in summary)
        j = sum(s["is_decreasing"] for s in summary)
        verdict = f"{label} rises monotonically with the level for {k} of {len(summary)} disturbances"
        if ext.has_logits:
            verdict += f"; the Inception Score falls monotonically for {j} of {len(summary)}"
        rep.text(verdict + ".\n")
        rep.figure(plot_grid(summary, label, ext.has_logits), "disturb_fid_is.png",
                   f"{label} (left axis) and Inception Score (right axis) against the disturbance level")
        rep.figure(plot_examples(examples, lv), "disturb_examples.png", "the first image at each level")
        rep.csv("disturb.csv", rows)
        results["seconds"] = time.perf_counter() - t0
        rep.text(f"Took {results['seconds']:.1f} s.\n")
        rep.json("results.json", results)
    results["out_dir"] = str(Path(out_dir))
    return results


def plot_grid(summary: list[dict], label: str, with_is: bool = True):
    plt = use_agg()
    k = len(summary)
    cols = min(3, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.4 * rows), squeeze=False)
    for ax, s in zip(axes.ravel(), summary, strict=False):
        ax.plot(s["levels"], s["fid"], "o-", color="C0")
        ax.set_xlabel("disturbance level α")
        ax.set_ylabel(label, color="C0")
        ax.set_title(TITLES[s["disturbance"]])
        ax.set_xticks(s["levels"])
        if with_is:
            ax2 = ax.twinx()
            ax2.plot(s["levels"], s["is"], "s--", color="C3")
            ax2.set_ylabel("Inception Score", color="C3")
            ax2.ticklabel_format(axis="y", useOffset=False)
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_examples(examples: dict[str, list[np.ndarray]], levels: dict[str, list[float]]):
    plt = use_agg()
    names = list(examples)
    m = max(len(v) for v in examples.values())
    fig, axes = plt.subplots(len(names), m, figsize=(1.6 * m, 1.7 * len(names)), squeeze=False)
    for i, d in enumerate(names):
        for j in range(m):
            ax = axes[i, j]
            ax.axis("off")
            if j < len(examples[d]):
                ax.imshow(np.clip((examples[d][j] + 1) / 2, 0, 1), interpolation="nearest")
                ax.set_title(f"{TITLES[d]} {levels[d][j]:g}" if j else TITLES[d], fontsize=7)
    fig.tight_layout()
    return fig


def register(sub) -> None:
    from ..metrics.cli import add_extractor_args

    p = sub.add_parser("disturb", help="FID and Inception Score under six image disturbances",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="?", default="shapes",
                   help="real images: folder, zip, .npy/.npz, dataset file, or 'shapes' (default), e.g. "
                        "the CelebA zip with --crop 108 --size 64")
    p.add_argument("-o", "--out", default="reports/disturb", help="report folder (reports/disturb)")
    p.add_argument("--quick", action="store_true", help="32 images (default -n: 50,000, the paper's count)")
    p.add_argument("-n", "--num-images", type=int, default=None,
                   help="images to disturb (N evenly spaced over the source)")
    p.add_argument("--size", type=int, default=64, help="image side after resizing (64, as the paper's CelebA)")
    p.add_argument("--crop", type=int, default=None, help="centre crop before resizing (CelebA: 108)")
    p.add_argument("--other", default="shapes:5000:7",
                   help="source of the contaminating images (default: the shapes dataset, seed 7)")
    p.add_argument("--reference", default=None,
                   help="reference images or statistics .npz (default: the clean images themselves)")
    p.add_argument("--disturbances", nargs="+", default=None, choices=list(DISTURBANCES),
                   help="which disturbances (default: all six)")
    p.add_argument("--isc-splits", type=int, default=10, help="Inception Score splits (10)")
    p.add_argument("--seed", type=int, default=0)
    add_extractor_args(p, decoding=False)  # the images are loaded into memory once, not streamed
    p.set_defaults(func=_main)


def _main(args) -> int:
    res = run(args.out, args.source, n=args.num_images, quick=args.quick, size=args.size, crop=args.crop,
              other=args.other, reference=args.reference, disturbances=args.disturbances, extractor=args.extractor,
              mode=args.mode, dims=args.dims, device=args.device, weights=args.weights, batch_size=args.batch_size,
              isc_splits=args.isc_splits, seed=args.seed, fast=not args.reference_net, progress=not args.no_progress,
              precision=args.precision)
    for s in res["summary"]:
        fids = ", ".join(fmt(v) for v in s["fid"])
        iss = ", ".join(fmt(v) for v in s["is"])
        print(f"{s['disturbance']:17s} {res['label']} [{fids}] rising={s['fid_increasing']}  IS [{iss}]")
    print(f"report: {res['out_dir']}/report.md ({res['seconds']:.1f} s)")
    return 0
