"""Language experiment on CPU: reference JSD numbers of real text, WGAN-GP step rates, a short training run.

1. JSD floors: the normalised n-gram JSD between two real samples (newstest2012 vs newstest2013, both
   whole and with the paper's 640 sentences on one side; Europarl and PTB for a change of domain).
   A generator cannot be expected to go below the real-vs-real value at the same sample sizes.
2. Speed: WGAN-GP steps/s (one critic step with gradient penalty + one generator step, batch 64,
   32 characters) of a small model (``--width``) and the paper's (width 512), and their ratio.
3. ``--train-steps N`` (default 300; 0 skips): trains a small model (TTUR learning rates unless
   ``--lr-d``/``--lr-g`` say otherwise) on newstest2012 and
   prints JSD (4, 6) vs held-out lines before and after, and the real-vs-held-out floor.

    python benchmarks/bench_text.py [--data ../shared/data] [--width 64] [--train-steps 300] [--threads 1]
        [--blocks 5] [--lr-d 3e-4] [--lr-g 1e-4] [--skip-speed]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from ttur.text.corpus import iter_lines
from ttur.text.jsd import text_jsd
from ttur.text.models import TextCritic, TextGenerator
from ttur.train import losses as L


def jsd_floors(data: Path) -> None:
    n12, n13 = data / "wmt_newstest2012.en.tok", data / "wmt_newstest2013.en.tok"
    pairs = [
        ("newstest2012 (3003) vs newstest2013 (3000)", lambda: iter_lines(n12), lambda: iter_lines(n13)),
        ("newstest2012 first 640 vs newstest2013 (3000)", lambda: itertools.islice(iter_lines(n12), 640),
         lambda: iter_lines(n13)),
        ("newstest2012 first 640 vs next 640", lambda: itertools.islice(iter_lines(n12), 640),
         lambda: itertools.islice(iter_lines(n12), 640, 1280)),
        ("europarl first 3000 vs newstest2013 (3000)",
         lambda: itertools.islice(iter_lines(data / "europarl-v7.es-en.en.first20k.tok"), 3000),
         lambda: iter_lines(n13)),
        ("ptb.valid vs ptb.test", lambda: iter_lines(data / "ptb.valid.txt"),
         lambda: iter_lines(data / "ptb.test.txt")),
    ]
    print("== JSD of real text, 32 characters padded with '`' (the paper's metric)")
    print(f"{'pair':48s} {'JSD4':>7s} {'JSD6':>7s} {'s':>6s}")
    for name, a, b in pairs:
        t = time.perf_counter()
        r = text_jsd(a(), b(), ns=(4, 6), seq_len=32)
        print(f"{name:48s} {r[4]:7.4f} {r[6]:7.4f} {time.perf_counter() - t:6.2f}")


def wgan_gp_step(G, D, opt_g, opt_d, real, z_dim, gen) -> None:
    bs = real.shape[0]
    fake = G(torch.randn(bs, z_dim, generator=gen)).detach()
    ld = L.d_loss("wgan-gp", D(real), D(fake)) + L.gradient_penalty(D, real, fake, generator=gen)
    opt_d.zero_grad()
    ld.backward()
    opt_d.step()
    lg = L.g_loss("wgan-gp", D(G(torch.randn(bs, z_dim, generator=gen))))
    opt_g.zero_grad()
    lg.backward()
    opt_g.step()


def steps_per_s(width: int, vocab: int, seconds: float = 10.0, batch: int = 64) -> float:
    torch.manual_seed(0)
    G, D = TextGenerator(vocab, 32, width), TextCritic(vocab, 32, width)
    opt_g = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 3e-4, betas=(0.5, 0.9))
    real = torch.nn.functional.one_hot(torch.randint(0, vocab, (batch, 32)), vocab).permute(0, 2, 1).float()
    gen = torch.Generator().manual_seed(0)
    wgan_gp_step(G, D, opt_g, opt_d, real, 128, gen)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        wgan_gp_step(G, D, opt_g, opt_d, real, 128, gen)
        n += 1
    return n / (time.perf_counter() - t0)


def short_run(data: Path, steps: int, width: int, blocks: int, lr_d: float, lr_g: float) -> None:
    from ttur.text.task import TextTask

    cfg = {"dataset": str(data / "wmt_newstest2012.en.tok"), "seq_len": 32, "batch_size": 64, "g_width": width,
           "d_width": width, "res_blocks": blocks, "z_dim": 128, "eval_samples": 640, "eval_lines": 600, "seed": 0}
    torch.manual_seed(0)
    task = TextTask(cfg, torch.device("cpu"))
    G, D = task.build_models()
    opt_g = torch.optim.Adam(G.parameters(), lr_g, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr_d, betas=(0.5, 0.9))
    gen = torch.Generator().manual_seed(1)
    data_stream = task.data()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"== {steps} steps (lr_d {lr_d:g}, lr_g {lr_g:g}, 1 critic step), width {width}, {blocks} blocks, "
              f"newstest2012 "
              f"({len(task.train_ids)} lines, {len(task.eval_ids)} held out, {len(task.vocab)} symbols)")
        print(f"floor (640 real training lines vs held out): {task.reference()}")
        print(f"step 0: {task.evaluate(G, 0, Path(tmp))}")
        t0 = time.perf_counter()
        every = max(steps // 3, 1)
        for s in range(1, steps + 1):
            wgan_gp_step(G, D, opt_g, opt_d, next(data_stream), 128, gen)
            if s % every == 0 or s == steps:
                print(f"step {s}: {task.evaluate(G, s, Path(tmp))}  ({time.perf_counter() - t0:.0f} s)")
        path = task.save_samples(G, steps, Path(tmp))
        print("samples:", *path.read_text().splitlines()[:8], sep="\n  ")


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("TTUR_SHARED", here.parent / "shared")) / "data")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=100, help="vocabulary size for the speed test")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=5, help="residual blocks of the trained model")
    ap.add_argument("--lr-d", type=float, default=3e-4)
    ap.add_argument("--lr-g", type=float, default=1e-4)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.data.is_dir():
        jsd_floors(args.data)
    else:
        print(f"{args.data}: not found, JSD floors skipped", file=sys.stderr)
    if not args.skip_speed:
        print(f"== WGAN-GP steps/s on CPU ({args.threads} thread(s)), batch 64, 32 characters, vocabulary {args.vocab}")
        small = steps_per_s(args.width, args.vocab, args.seconds)
        paper = steps_per_s(512, args.vocab, args.seconds)
        print(f"width {args.width:4d}: {small:8.2f} steps/s")
        print(f"width  512: {paper:8.2f} steps/s   (paper size; {small / paper:.1f}x slower than width {args.width})")
    if args.train_steps > 0 and args.data.is_dir():
        short_run(args.data, args.train_steps, args.width, args.blocks, args.lr_d, args.lr_g)


if __name__ == "__main__":
    main()
