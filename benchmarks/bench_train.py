"""Overhead of ttur's training loop over a minimal plain-PyTorch loop of the same models, in the same run.

Both train the quickstart DCGAN-32 (G width 32, D width 16, batch 64) on the shapes dataset on the CPU:
one D step and one G step per iteration, Adam at lr_d / lr_g, non-saturating GAN loss. ttur's loop adds
its data stream, per-step loss agreement and NaN check, logging every 50 steps, tqdm, and a checkpoint at
the end; monitoring and sample grids are off. Each side is timed at two run lengths and the per-step time
is the difference divided by the difference in steps, so set-up (imports, TensorBoard, model building)
cancels; rounds alternate the two sides so that background load hits both alike.

    python benchmarks/bench_train.py [--steps 20 80] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ttur.images.training import open_training_data
from ttur.train import load_config, train
from ttur.train.models import build_image_models


def ttur_run(n: int, cfg: dict) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        train({**cfg, "steps": n}, Path(d) / "run", progress=False, say=lambda s: None)
        return time.perf_counter() - t0


def plain_run(n: int, cfg: dict) -> float:
    t0 = time.perf_counter()
    torch.manual_seed(0)
    ds = open_training_data("shapes", 32, length=cfg["dataset_length"])
    G, D = build_image_models("dcgan", 32, cfg["z_dim"], cfg["g_width"], cfg["d_width"])
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr_d"], betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg["lr_g"], betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    B = cfg["batch_size"]
    for _ in range(n):
        real = ds.get_batch(rng.integers(0, len(ds), B))
        z = torch.rand(B, cfg["z_dim"]) * 2 - 1
        fake = G(z)
        ld = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        ld.backward()
        opt_d.step()
        lg = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        lg.backward()
        opt_g.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs=2, default=[20, 80], metavar=("SHORT", "LONG"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config("quickstart", ["fid_every=0", "sample_every=0", "checkpoint_every=0", "device=cpu"])
    n1, n2 = args.steps
    per = {"plain": [], "ttur": []}
    plain_run(5, cfg)  # warm-up: oneDNN primitives, imports
    ttur_run(5, cfg)
    for r in range(args.rounds):
        for name, fn in (("plain", plain_run), ("ttur", ttur_run)) if r % 2 == 0 else (("ttur", ttur_run),
                                                                                       ("plain", plain_run)):
            a, b = fn(n1, cfg), fn(n2, cfg)
            per[name].append((b - a) / (n2 - n1))
    p, t = min(per["plain"]), min(per["ttur"])
    print(f"DCGAN-32 (G width {cfg['g_width']}, D width {cfg['d_width']}), batch {cfg['batch_size']}, CPU, "
          f"{torch.get_num_threads()} threads; per-step time from runs of {n1} and {n2} steps, best of {args.rounds}")
    print(f"  plain PyTorch loop : {1 / p:6.2f} G+D steps/s")
    print(f"  ttur.train.train   : {1 / t:6.2f} G+D steps/s")
    print(f"  overhead ratio     : {t / p:.3f} (ttur time per step / plain time per step)")


if __name__ == "__main__":
    main()
