"""FLOPs of one training update for each image config, and what the paper-scale runs cost.

Counts the floating-point operations of real training updates (ttur's own loop, under
``torch.utils.flop_counter.FlopCounterMode``: every convolution, transposed convolution and matrix
product of the D and G steps, forward and backward; elementwise work is not counted) for the
bundled configs at their paper widths and for the CPU-scale DCGAN of the CIFAR-10 comparison
(G width 32, D width 16). With ``--time`` it also measures steps/s on this machine (one thread,
no monitoring), which turns the FLOP counts into an achieved GFLOP/s.

The runtime of a paper-scale run is then estimated as

    steps x (FLOPs per update / R  +  t_launch)  +  evaluations x samples x 11.4 GFLOP / R_inception

with R the sustained throughput assumed for a modern GPU in float32 on these small convolutions,
t_launch the per-update overhead of launching ~100 kernels and the Python loop, and 11.4 GFLOP the
FID Inception network per image (299x299). The assumptions are printed with the table and can be
changed (``--gpu-tflops``, ``--gpu-inception-tflops``, ``--launch-ms``): no GPU was measured here,
so the GPU column is an estimate, not a measurement.

    python benchmarks/train_flops.py [--time] [--gpu-tflops 15] [--launch-ms 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from ttur.train import load_config, train

INCEPTION_GFLOP = 11.4  # per 299x299 image, counted for the FID Inception network

CONFIGS = [  # (name, overrides, paper updates, evaluations x samples at the paper's protocol)
    ("cpu-scale DCGAN 32x32 (g32/d16)", ("dcgan-cifar10-ttur", {"g_width": 32, "d_width": 16}), 2000, (10, 2000)),
    ("dcgan-cifar10 (paper)", ("dcgan-cifar10-ttur", {}), 100_000, (100, 50_000)),
    ("dcgan-celeba 64x64 (paper)", ("dcgan-celeba-ttur", {}), 225_000, (45, 50_000)),
    ("wgan-gp-cifar10 ResNet (paper)", ("wgan-gp-cifar10-ttur", {}), 168_000, (34, 50_000)),
]


class CountFlops(TorchDispatchMode):
    """FLOPs of every aten op torch's flop counter knows (convolutions and their backward, matmuls), with no
    module hooks (those break on the gradient penalty's ``autograd.grad``)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def one_config(name: str, overrides: dict, batches: int) -> dict:
    cfg = load_config(name, {"dataset": "shapes", "dataset_length": 512, "fid_every": 0, "sample_every": 0,
                             "checkpoint_every": 0, "log_every": 0, "device": "cpu", "threads": 1,
                             "crop": None, "steps": batches, **overrides})
    with tempfile.TemporaryDirectory() as d, CountFlops() as fc:
        train(cfg, Path(d) / "r", progress=False, say=lambda s: None)
    return {"flops": fc.total / batches, "cfg": cfg}


def steps_per_second(cfg: dict, n: tuple[int, int] = (10, 40)) -> float:
    ts = []
    for k in n:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            train({**cfg, "steps": k}, Path(d) / "r", progress=False, say=lambda s: None)
            ts.append(time.perf_counter() - t0)
    return (n[1] - n[0]) / (ts[1] - ts[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", action="store_true", help="also measure CPU steps/s (one thread)")
    ap.add_argument("--gpu-tflops", type=float, default=15.0, help="assumed sustained GPU TFLOP/s on the GAN (15)")
    ap.add_argument("--gpu-inception-tflops", type=float, default=30.0,
                    help="assumed sustained GPU TFLOP/s of the Inception pass at batch 500 (30)")
    ap.add_argument("--launch-ms", type=float, default=3.0, help="assumed per-update overhead on a GPU in ms (3)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"assumed GPU: {args.gpu_tflops:g} TFLOP/s on the GAN, {args.gpu_inception_tflops:g} TFLOP/s on "
          f"Inception, {args.launch_ms:g} ms per update overhead (an estimate: no GPU measured here)")
    print(f"{'config':34s} {'GFLOP/update':>12s} {'CPU it/s':>9s} {'CPU GFLOP/s':>11s} {'updates':>8s} "
          f"{'FID evals':>12s} {'est. GPU h':>10s} {'est. CPU h':>10s}")
    for label, (name, ov), updates, (evals, samples) in CONFIGS:
        r = one_config(name, ov, 2)
        gflop = r["flops"] / 1e9
        its = steps_per_second(r["cfg"]) if args.time else float("nan")
        fid_s = evals * samples * INCEPTION_GFLOP / (args.gpu_inception_tflops * 1e3)
        gpu_h = (updates * (gflop / (args.gpu_tflops * 1e3) + args.launch_ms / 1e3) + fid_s) / 3600
        cpu_h = updates / its / 3600 if args.time else float("nan")
        print(f"{label:34s} {gflop:12.3f} {its:9.2f} {gflop * its:11.1f} {updates:8d} "
              f"{evals:4d} x {samples:5d} {gpu_h:10.2f} {cpu_h:10.1f}")


if __name__ == "__main__":
    main()
