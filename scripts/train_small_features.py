"""Train the bundled shapes feature extractor (ttur.networks.small.ShapesNet) and write its weights.

    python scripts/train_small_features.py                 # writes src/ttur/data/shapes_features.pt

Deterministic: fixed seeds, the CPU, a fixed number of threads, deterministic kernels, and the
weights file built in memory under a fixed archive name, so the same command writes the same bytes
(on the same torch version and CPU kind). Training images are drawn fresh every step from the
shapes dataset with seed TRAIN_SEED (no image is seen twice); accuracy is measured on images of
another seed. The targets are ttur.shapes.dataset.labels: the number of shapes (3 classes), which kinds are
present (3 yes/no) and which hue sixths are present (6 yes/no).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ttur.networks.small import HEADS, ShapesNet, save_weights  # noqa: E402
from ttur.shapes import dataset as shapes  # noqa: E402

TRAIN_SEED = 7_001
HELDOUT_SEED = 7_002


def batch(seed: int, start: int, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Images ``start .. start+n`` of the shapes dataset ``seed`` in [-1, 1] NCHW, and their labels."""
    idx = np.arange(start, start + n)
    x = torch.from_numpy(shapes.render(seed, idx)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    y = {k: torch.from_numpy(v) for k, v in shapes.labels(seed, idx).items()}
    return x.contiguous(), y


def loss_fn(out: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
    return (F.cross_entropy(out["count"], y["count"])
            + F.binary_cross_entropy_with_logits(out["kinds"], y["kinds"])
            + F.binary_cross_entropy_with_logits(out["hues"], y["hues"]))


@torch.no_grad()
def evaluate(model: ShapesNet, n: int, bs: int = 500) -> dict[str, float]:
    """Held-out accuracies: count (exact class), kinds and hues (per label, and all labels of an image right)."""
    model.eval()
    right = {"count": 0, "kinds_label": 0, "kinds_image": 0, "hues_label": 0, "hues_image": 0}
    for s in range(0, n, bs):
        x, y = batch(HELDOUT_SEED, s, min(bs, n - s))
        out = model.classify(x)
        right["count"] += int((out["count"].argmax(1) == y["count"]).sum())
        for k in ("kinds", "hues"):
            ok = (out[k] > 0).float() == y[k]
            right[f"{k}_label"] += int(ok.sum())
            right[f"{k}_image"] += int(ok.all(1).sum())
    model.train()
    return {"count": right["count"] / n,
            "kinds (per label)": right["kinds_label"] / (n * HEADS["kinds"]),
            "kinds (per image)": right["kinds_image"] / n,
            "hues (per label)": right["hues_label"] / (n * HEADS["hues"]),
            "hues (per image)": right["hues_image"] / n}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--heldout", type=int, default=4000, help="held-out images for the accuracy")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    p.add_argument("-o", "--output", default=str(ROOT / "src" / "ttur" / "data" / "shapes_features.pt"))
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    model = ShapesNet()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.15)
    t0 = time.perf_counter()
    bar = tqdm(range(args.steps), unit="step", desc="training ShapesNet", file=sys.stderr, dynamic_ncols=True)
    for step in bar:
        x, y = batch(TRAIN_SEED, step * args.batch_size, args.batch_size)
        loss = loss_fn(model.classify(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    train_s = time.perf_counter() - t0
    acc = evaluate(model.eval(), args.heldout)
    info = {"script": "scripts/train_small_features.py", "steps": args.steps, "batch_size": args.batch_size,
            "lr": args.lr, "seed": args.seed, "train_seed": TRAIN_SEED, "heldout_seed": HELDOUT_SEED,
            "heldout_images": args.heldout, "torch": str(torch.__version__),
            "heldout_accuracy": {k: round(v, 4) for k, v in acc.items()}}
    digest = save_weights(model.eval(), args.output, info)
    size = Path(args.output).stat().st_size
    print(f"trained {args.steps} steps x {args.batch_size} images in {train_s:.1f} s "
          f"({args.steps * args.batch_size / train_s:.0f} img/s, {args.threads} threads)")
    print(f"held-out accuracy on {args.heldout} images (shapes seed {HELDOUT_SEED}):")
    for k, v in acc.items():
        print(f"  {k:18s} {v:.4f}")
    print(f"wrote {args.output} ({size / 1024:.0f} KiB), sha256 {digest}")
    print("(update KNOWN['shapes'] in src/ttur/networks/small.py if this differs from the bundled hash)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
