"""Speed of ttur's FID pipeline against the baselines it replaces, measured in the same run.

1. Feature extraction, images/s: pytorch-fid's way (the reference network layout, contiguous NCHW
   tensors, ``torch.no_grad``, bilinear ``F.interpolate`` to 299) against ttur's pass (fused network,
   channels-last, oneDNN conv+ReLU kernels, ``inference_mode``), on the same images, rounds
   interleaved so that background load hits both alike. The features are checked to agree within
   the golden tolerance (1e-4 of the largest value).
2. The Fréchet step at 2048 dimensions: ``scipy.linalg.sqrtm`` (the official code's) against
   ttur's Cholesky + symmetric eigenvalue route, on the same covariances.

    python benchmarks/bench_fid.py [--weights FILE] [--images 100] [--rounds 3] [--device cpu]

Without ``--weights`` (or ``TTUR_INCEPTION_WEIGHTS``) it builds the stand-in weights of
../shared/fixtures: speed does not depend on the weight values.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ttur.metrics import distances as metrics
from ttur.networks.inception import InceptionExtractor, build_inception

ROOT = Path(__file__).resolve().parents[1]


def stand_in_weights() -> str:
    import importlib.util
    import json

    fx = Path(os.environ.get("TTUR_SHARED", ROOT.parent / "shared")) / "fixtures"
    spec = importlib.util.spec_from_file_location("fake_weights", fx / "fake_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    path = Path(tempfile.gettempdir()) / "ttur_bench_fake_inception.pth"
    if not path.exists():
        torch.save(mod.fake_state_dict(json.loads((fx / "fid_inception_keys.json").read_text())), path)
    return str(path)


def pytorch_fid_loop(model, images: torch.Tensor, batch_size: int, device) -> torch.Tensor:
    """What pytorch-fid's get_activations does per batch: [0,1] floats, resize, 2x-1, the network."""
    out = []
    for i in range(0, len(images), batch_size):
        batch = images[i:i + batch_size].to(device).float() / 255.0
        with torch.no_grad():
            x = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
            x = 2 * x - 1
            out.append(model(x)[0].cpu())
    return torch.cat(out)


def ttur_loop(ext: InceptionExtractor, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([ext(images[i:i + batch_size])[0].cpu() for i in range(0, len(images), batch_size)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=os.environ.get("TTUR_INCEPTION_WEIGHTS"))
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-frechet", action="store_true")
    ap.add_argument("--frechet-only", action="store_true", help="only the Fréchet step (no weights needed)")
    args = ap.parse_args()
    if args.frechet_only:
        frechet_bench(metrics)
        return
    weights = args.weights or stand_in_weights()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
          f"{args.images} images of 64x64 per round, batch {args.batch_size}")

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 3, 64, 64), dtype=torch.uint8, generator=gen)
    reference = build_inception(weights, device, fast=False)
    ext = InceptionExtractor(weights, mode="pytorch-fid", device=device)

    # warm-up (oneDNN primitive creation, weight reorders) and a correctness check
    a = pytorch_fid_loop(reference, images[: args.batch_size], args.batch_size, device)
    b = ttur_loop(ext, images[: args.batch_size], args.batch_size)
    err = float((a - b).abs().max() / a.abs().max())
    print(f"features agree: max |diff| / max |ref| = {err:.2e} (golden tolerance 1e-4)")

    def timed(fn) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return args.images / (time.perf_counter() - t)

    base, ours = [], []
    for r in range(args.rounds):
        base.append(timed(lambda: pytorch_fid_loop(reference, images, args.batch_size, device)))
        ours.append(timed(lambda: ttur_loop(ext, images, args.batch_size)))
        print(f"  round {r + 1}: pytorch-fid loop {base[-1]:6.2f} img/s   ttur {ours[-1]:6.2f} img/s")
    mb, mo = statistics.median(base), statistics.median(ours)
    print(f"feature extraction: pytorch-fid loop {mb:.2f} img/s, ttur {mo:.2f} img/s, ratio {mo / mb:.2f}x")

    if args.skip_frechet:
        return
    frechet_bench(metrics)


def frechet_bench(metrics) -> None:
    """The Fréchet step at 2048 dimensions on two full-rank spectra: a well-conditioned one (the
    fast route: eigenvalues of L1^T S2 L1) and a power-law one like real pool3 features, whose tail
    the fast route's error bound does not trust (the singular values of L1^T L2 are taken)."""
    rng = np.random.default_rng(0)
    d = 2048
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cases = {
        "well-conditioned": lambda: np.maximum(
            rng.standard_normal((5000, d)) @ (np.eye(d) + 0.05 * rng.standard_normal((d, d))), 0),
        "power-law spectrum": lambda: np.maximum((rng.standard_normal((8000, d)) / np.arange(1, d + 1)) @ q, 0),
    }
    for name, make in cases.items():
        feats = [make() for _ in range(2)]
        s = [(f.mean(0), np.cov(f, rowvar=False)) for f in feats]
        t = time.perf_counter()
        v_sqrtm = metrics.frechet_distance_sqrtm(s[0][0], s[0][1], s[1][0], s[1][1])
        t_sqrtm = time.perf_counter() - t
        times = []
        for _ in range(3):
            t = time.perf_counter()
            v_ours = metrics.frechet_distance(s[0][0], s[0][1], s[1][0], s[1][1])
            times.append(time.perf_counter() - t)
        t_ours = statistics.median(times)
        print(f"Frechet step at {d} dims, {name}: scipy sqrtm {t_sqrtm:.2f} s, ttur {t_ours:.2f} s, "
              f"ratio {t_sqrtm / t_ours:.1f}x; values {v_sqrtm:.9g} vs {v_ours:.9g} "
              f"(rel diff {abs(v_sqrtm - v_ours) / abs(v_ours):.1e})")
        sys.stdout.flush()

if __name__ == "__main__":
    main()
