"""Train the bundled CIFAR-10 feature network (ttur.networks.cifar10.Cifar10Net) and write its weights.

    python scripts/train_cifar10_features.py             # writes src/ttur/data/cifar10_features.pt
    nohup python scripts/train_cifar10_features.py > train.log 2>&1 &   # the same, in the background

The training zip (``train/<class>/NNNN.jpg``) is decoded once with Pillow to a uint8 cache
(``<cache>/cifar10/cifar10_<split>_u8.npz``, ``<cache>`` = ``$TTUR_CACHE`` or ``~/.cache/ttur``); the
test zip likewise, for the accuracy. Augmentation: random crops of the image padded by 4 pixels
(reflection) and horizontal flips. SGD with Nesterov momentum, weight decay, a one-cycle learning
rate, label smoothing. Deterministic: fixed seeds (the order and augmentation of epoch ``e`` depend
only on ``--seed`` and ``e``), the CPU, a fixed number of threads (1 by default), deterministic
kernels. A checkpoint is written after every epoch (``--work-dir``); rerunning the same command
resumes from it. At the end the float32 weights are written atomically and the accuracy on the
10,000 test images is printed and stored in the file.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ttur.weights import cache_dir  # noqa: E402

from ttur._util import atomic_write, sha256_file  # noqa: E402
from ttur.networks.cifar10 import CLASSES, WIDTHS, Cifar10Net  # noqa: E402
from ttur.networks.small import save_weights  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def load_split(zip_path: Path, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 of a CIFAR-10 JPEG zip, decoded once and cached.

    The label is the index in :data:`CLASSES` of the member's folder (``<split>/<class>/NNNN.jpg``);
    images are in the zip's member order, sorted by name.
    """
    from PIL import Image

    key = sha256_file(zip_path)[:16]
    out = cache / f"cifar10_{zip_path.stem}_{key}_u8.npz"
    if out.is_file():
        with np.load(out) as z:
            return z["images"], z["labels"]
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png")))
        imgs = np.empty((len(names), 32, 32, 3), np.uint8)
        labels = np.empty(len(names), np.int64)
        for i, n in enumerate(names):
            cls = n.split("/")[-2]
            if cls not in CLASSES:
                raise SystemExit(f"{zip_path}: member {n} is not under a CIFAR-10 class folder")
            labels[i] = CLASSES.index(cls)
            with Image.open(io.BytesIO(zf.read(n))) as im:
                a = np.asarray(im.convert("RGB"))
            if a.shape != (32, 32, 3):
                raise SystemExit(f"{zip_path}: member {n} is {a.shape}, not 32x32 RGB")
            imgs[i] = a
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, images=imgs, labels=labels)
    return imgs, labels


def to_input(u8: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1], channels-last memory (faster convolutions on the CPU)."""
    x = torch.from_numpy(u8).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last)


def augment(u8: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """Random crops of the images reflection-padded by ``pad``, half of them flipped, in one gather."""
    n, h, w, _ = u8.shape
    padded = np.pad(u8, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    oy = rng.integers(0, 2 * pad + 1, n)
    ox = rng.integers(0, 2 * pad + 1, n)
    flip = rng.random(n) < 0.5
    rows = oy[:, None] + np.arange(h)
    cols = ox[:, None] + np.where(flip[:, None], np.arange(w)[::-1], np.arange(w))
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


@torch.no_grad()
def evaluate(model: Cifar10Net, imgs: np.ndarray, labels: np.ndarray, bs: int = 500) -> float:
    """Top-1 accuracy (no test-time augmentation)."""
    was = model.training
    model.eval()
    right = 0
    for s in range(0, len(imgs), bs):
        right += int((model.classify(to_input(imgs[s:s + bs])).argmax(1).numpy() == labels[s:s + bs]).sum())
    model.train(was)
    return right / len(imgs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=14)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.2, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-zip", default=str(DATA / "cifar10_jpeg_train.zip"))
    p.add_argument("--test-zip", default=str(DATA / "cifar10_jpeg_test.zip"))
    p.add_argument("--subset", type=int, default=0, help="train on the first N shuffled images only (timing)")
    p.add_argument("--cache", default=str(cache_dir() / "cifar10"), help="folder of the decoded uint8 arrays")
    p.add_argument("--work-dir", default=str(cache_dir() / "cifar10" / "train"),
                   help="folder of the per-epoch checkpoint (resumed from when its settings match)")
    p.add_argument("--eval-every", type=int, default=1, help="test accuracy every N epochs (0: only at the end)")
    p.add_argument("-o", "--output", default=str(ROOT / "src" / "ttur" / "data" / "cifar10_features.pt"))
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    widths = tuple(int(w) for w in args.widths.split(","))

    t0 = time.perf_counter()
    cache = Path(args.cache)
    x_train, y_train = load_split(Path(args.train_zip), cache)
    x_test, y_test = load_split(Path(args.test_zip), cache)
    print(f"data: {len(x_train)} training, {len(x_test)} test images ({time.perf_counter() - t0:.1f} s)", flush=True)
    if args.subset:
        keep = np.random.default_rng(args.seed).permutation(len(x_train))[:args.subset]
        x_train, y_train = x_train[keep], y_train[keep]

    model = Cifar10Net(widths).to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=args.weight_decay)
    steps_per_epoch = len(x_train) // args.batch_size  # the last partial batch is dropped
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25,
                                                div_factor=10, final_div_factor=100)
    settings = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing",
                                              "seed", "subset")} | {"widths": list(widths)}
    work = Path(args.work_dir)
    ckpt = work / "checkpoint.pt"
    start, history, train_s = 0, [], 0.0
    if ckpt.is_file():
        c = torch.load(ckpt, map_location="cpu", weights_only=False)
        if c["settings"] == settings:
            model.load_state_dict(c["model"])
            opt.load_state_dict(c["opt"])
            sched.load_state_dict(c["sched"])
            start, history, train_s = c["epoch"], c["history"], c["train_s"]
            print(f"resumed from {ckpt} after epoch {start}", flush=True)
        else:
            print(f"{ckpt} has other settings ({c['settings']}); starting afresh", flush=True)
    print(f"Cifar10Net widths {widths}: {n_params} parameters; {args.epochs} epochs x {steps_per_epoch} steps "
          f"of {args.batch_size}; {args.threads} thread(s)", flush=True)

    model.train()
    for epoch in range(start, args.epochs):
        rng = np.random.default_rng([args.seed, epoch])
        torch.manual_seed(args.seed * 1000 + epoch)
        order = rng.permutation(len(x_train))
        te = time.perf_counter()
        loss_sum = 0.0
        bar = tqdm(range(steps_per_epoch), unit="img", unit_scale=args.batch_size, file=sys.stderr,
                   desc=f"epoch {epoch + 1}/{args.epochs}", dynamic_ncols=True, mininterval=10)
        for i in bar:
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            x = to_input(augment(x_train[idx], rng))
            y = torch.from_numpy(y_train[idx])
            loss = F.cross_entropy(model.classify(x), y, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item()
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / (i + 1):.3f}", lr=f"{sched.get_last_lr()[0]:.3f}")
        bar.close()
        epoch_s = time.perf_counter() - te
        train_s += epoch_s
        last = epoch + 1 == args.epochs
        acc = evaluate(model, x_test, y_test) if (args.eval_every and (epoch + 1) % args.eval_every == 0) or last \
            else None
        history.append({"epoch": epoch + 1, "loss": round(loss_sum / steps_per_epoch, 4), "seconds": round(epoch_s, 1),
                        "test_accuracy": acc})
        print(json.dumps(history[-1]), flush=True)
        work.mkdir(parents=True, exist_ok=True)
        blob = {"settings": settings, "model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "epoch": epoch + 1, "history": history, "train_s": train_s}
        with atomic_write(ckpt) as tmp:
            torch.save(blob, tmp)

    acc = history[-1]["test_accuracy"]
    model = model.to(memory_format=torch.contiguous_format).eval()
    info = {"script": "scripts/train_cifar10_features.py", **settings, "threads": args.threads,
            "train_images": len(x_train), "test_images": len(x_test), "parameters": n_params,
            "train_seconds": round(train_s, 1), "torch": str(torch.__version__),
            "test_accuracy": round(acc, 4), "history": history}
    digest = save_weights(model, args.output, info)
    size = Path(args.output).stat().st_size
    print(f"trained {len(history)} epochs in {train_s:.0f} s ({train_s / len(history):.0f} s/epoch, "
          f"{args.threads} thread(s)); {n_params} parameters")
    print(f"test accuracy on {len(x_test)} images: {acc:.4f}")
    print(f"wrote {args.output} ({size / 1024:.0f} KiB), sha256 {digest}")
    print("(update BUNDLED in src/ttur/networks/small.py if this differs from the bundled hash)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
