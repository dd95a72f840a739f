"""Scaling of sharded feature extraction from 1 to N processes (torchrun, gloo on CPU / NCCL on GPU).

Runs ``ttur stats`` on the same images once as a single process and once under
``torchrun --standalone --nproc-per-node N``, in the same session, and prints images/s of each and
their ratio, and checks that the two statistics files agree (mean and covariance to 1e-6 relative).
Threads are split so that both runs use the same cores: the single process gets all of them, each of
the N processes 1/N of them.

    python benchmarks/bench_distributed.py [--images 96] [--nproc 2] [--device cpu] [--weights FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fid import stand_in_weights  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--weights", default=os.environ.get("TTUR_INCEPTION_WEIGHTS"))
    args = ap.parse_args()
    weights = args.weights or stand_in_weights()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        (tmp / "imgs").mkdir()
        for i in range(args.images):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp / "imgs" / f"{i:05d}.png")
        common = ["stats", str(tmp / "imgs"), "--no-progress", "--weights", weights, "--device", args.device,
                  "--num-workers", "0"]

        def run(cmd: list[str], threads: int, out: Path) -> float:
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            t = time.perf_counter()
            p = subprocess.run(cmd + common + ["-o", str(out)], capture_output=True, text=True, env=env)
            dt = time.perf_counter() - t
            if p.returncode != 0:
                sys.exit(p.stderr)
            return dt

        one = run([sys.executable, "-m", "ttur"], cores, tmp / "one.npz")
        many = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                    str(args.nproc), "-m", "ttur"], max(1, cores // args.nproc), tmp / "many.npz")
        a, b = np.load(tmp / "one.npz"), np.load(tmp / "many.npz")
        dmu = np.abs(a["mu"] - b["mu"]).max() / np.abs(a["mu"]).max()
        dsig = np.abs(a["sigma"] - b["sigma"]).max() / np.abs(a["sigma"]).max()
    print(f"{args.images} images on {cores} cores, device {args.device} (wall time incl. start-up):")
    print(f"  1 process : {args.images / one:6.2f} img/s ({one:.1f} s)")
    print(f"  {args.nproc} processes: {args.images / many:6.2f} img/s ({many:.1f} s)")
    print(f"  scaling {one / many:.2f}x; stats agree: mean {dmu:.1e}, covariance {dsig:.1e} (relative to max)")


if __name__ == "__main__":
    main()
