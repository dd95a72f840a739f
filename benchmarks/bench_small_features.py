"""FD (shapes features) sanity: two disjoint shapes samples, then the second disturbed.

    python benchmarks/bench_small_features.py [--n 5000] [--threads 2]

The reference is shapes seed 1, the sample shapes seed 2 (disjoint images, same distribution);
the sample is then disturbed by Gaussian pixel noise (sigma in units of the [0, 1] pixel range,
clipped, rounded to uint8) and by Gaussian blur (sigma in pixels). Each line prints the distance
and its ratio to the clean-vs-clean baseline of the same run. A useful extractor gives a baseline
near 0 and distances that rise with every step of each disturbance. The extraction rate
(images/s) is printed too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ttur  # noqa: E402
from ttur.networks.small import load_small_extractor  # noqa: E402
from ttur.shapes import dataset as shapes  # noqa: E402

NOISE = (0.05, 0.1, 0.2, 0.4)
BLUR = (0.5, 1.0, 1.5, 2.0)


def noisy(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = x.astype(np.float32) + rng.normal(0.0, sigma * 255.0, x.shape).astype(np.float32)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def blurred(x: np.ndarray, sigma: float) -> np.ndarray:
    y = gaussian_filter(x.astype(np.float32), sigma=(0, sigma, sigma, 0), mode="reflect")
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="images per sample (5000)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ext = load_small_extractor("shapes", device="cpu")
    ref_imgs = shapes.render(1, np.arange(args.n))
    smp_imgs = shapes.render(2, np.arange(args.n))
    t0 = time.perf_counter()
    ref = ttur.compute_stats(ref_imgs, extractor=ext, batch_size=250, progress=False)
    rate = args.n / (time.perf_counter() - t0)

    def fd(imgs: np.ndarray) -> float:
        return ttur.frechet_distance(ref, ttur.compute_stats(imgs, extractor=ext, batch_size=250, progress=False))

    base = fd(smp_imgs)
    print(f"{ext.label}, {args.n} vs {args.n} images, extractor {ext.dims}-d, {rate:.0f} images/s "
          f"({args.threads} threads)")
    print(f"  {'disturbance':24s} {'FD':>10s} {'x baseline':>11s}")
    print(f"  {'none (shapes:1 vs :2)':24s} {base:10.4f} {1.0:11.1f}")
    rows = [(f"noise sigma {s:g}", noisy(smp_imgs, s)) for s in NOISE]
    rows += [(f"blur sigma {s:g} px", blurred(smp_imgs, s)) for s in BLUR]
    for name, imgs in rows:
        v = fd(imgs)
        print(f"  {name:24s} {v:10.4f} {v / base:11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
