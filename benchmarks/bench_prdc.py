"""Time and peak memory of precision/recall (k = 3) on random 2048-d features, ttur against the `prdc` package.

    python benchmarks/bench_prdc.py --n 10000 50000 [--chunk 512] [--dtype float64] [--device cpu]

ttur's memory is bounded by its chunk size (row blocks of ``chunk x N`` distances); the ``prdc``
package builds three N x N distance matrices (float64 for float64 features: 800 MB each at N = 10,000,
20 GB each at 50,000), so it runs only where ``--ref-max`` allows (default 10,000) and is skipped above
with the reason printed. Each run is in a fresh process, so peak memory (maxrss) is its own; the
reported memory is the growth of maxrss over the loaded features (and, for torch, its import).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _child(which: str, n: int, d: int, chunk: int, dtype: str, device: str, k: int) -> dict:
    import contextlib
    import io

    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((n, d)) + 0.05
    if which == "ttur":
        from ttur.metrics.manifold import precision_recall
    else:
        import prdc  # noqa: F401
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if which == "ttur":
        p, r = precision_recall(real, fake, nearest_k=k, chunk_size=chunk, device=device,
                                dtype=getattr(torch, dtype))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            out = prdc.compute_prdc(real, fake, k)
        p, r = float(out["precision"]), float(out["recall"])
    sec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = {"which": which, "n": n, "d": d, "seconds": round(sec, 2), "peak_mb": round((peak - base) / 1024, 1),
           "precision": p, "recall": r}
    if which == "ttur" and device.startswith("cuda"):
        res["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ref-max", type=int, default=10_000, help="largest N the prdc package is run at")
    ap.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        w, n, d, c, dt, dev, k = args.child
        print(json.dumps(_child(w, int(n), int(d), int(c), dt, dev, int(k))))
        return
    for n in args.n:
        for which in ("ttur", "prdc"):
            if which == "prdc" and n > args.ref_max:
                gb = 3 * n * n * 8 / 1e9
                print(f"prdc  N={n}: skipped: its three N x N float64 distance matrices need {gb:.0f} GB")
                continue
            p = subprocess.run([sys.executable, __file__, "--child", which, str(n), str(args.d), str(args.chunk),
                                args.dtype, args.device, str(args.k)], capture_output=True, text=True)
            if p.returncode:
                print(f"{which} N={n}: failed: {p.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            extra = f", cuda peak {r['cuda_peak_mb']} MB" if "cuda_peak_mb" in r else ""
            label = f"ttur (chunk {args.chunk}, {args.dtype}, {args.device})" if which == "ttur" else "prdc 0.2"
            print(f"{label:36s} N={n} d={args.d} k={args.k}: {r['seconds']:8.2f} s, peak +{r['peak_mb']:.0f} MB"
                  f"{extra}; precision {r['precision']:.6f} recall {r['recall']:.6f}", flush=True)


if __name__ == "__main__":
    main()
