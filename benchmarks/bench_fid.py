"""Speed of ttur's FID against the peers' own code, run the way their users run it, in the same run.

Parts (``--parts``, default all but ``frechet``):

``limit``     The achievable float32 convolution throughput of this CPU: the best GFLOP/s of a set of
              Inception convolution shapes (channels-last, oneDNN, batch 50, this many threads). The
              pass is reported as a fraction of it.
``network``   The same images through each tool's Python entry point, setup excluded, rounds
              interleaved: pytorch-fid 0.3.0's ``InceptionV3`` + ``get_activations`` (its code, its
              loop), ``ttur.compute_stats(mode="pytorch-fid")``, and ttur's reference layout of the
              network (``fast=False``, labelled as such). The features are compared.
``breakdown`` Where ``ttur fid A B --mode pytorch-fid`` spends its time on two folders of JPEGs:
              decode, DataLoader hand-off, preprocessing (resize to 299), network, statistics, the
              Fréchet step, against the end-to-end call (the stages overlap: decoding runs in workers).
``commands``  The commands end to end, as subprocesses, rounds interleaved: ``pytorch-fid A B``,
              ``fidelity --fid --input1 A --input2 B`` (torch-fidelity) and ``ttur fid A B --mode
              pytorch-fid``, each tool with its own defaults; FID values printed beside the times.
``frechet``   The Fréchet step at 2048 dimensions: scipy's sqrtm (the official code's) against ttur's.

    python benchmarks/bench_fid.py                           # all but frechet
    python benchmarks/bench_fid.py --parts limit,network --images 100 --rounds 3
    python benchmarks/bench_fid.py --parts commands --folder-images 1000 --rounds 1

The peers run only where they are installed (see benchmarks/peers.py for the environment); without
them their lines say so and ttur's still run. The images are CIFAR-10 JPEGs of ../shared/data (32x32,
resized to 299 by every tool); the weights are the stand-in Inception weights of ../shared/fixtures
unless ``--weights`` names a file (speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

from ttur.metrics import distances as metrics  # noqa: E402

# the convolution shapes of the limit probe: (in, out, kernel, padding, size), all at stride 1
PROBE = [
    (64, 96, (3, 3), (1, 1), 35), (96, 96, (3, 3), (1, 1), 35), (48, 64, (5, 5), (2, 2), 35),
    (192, 192, (1, 7), (0, 3), 17), (768, 768, (1, 1), (0, 0), 17), (448, 384, (3, 3), (1, 1), 8),
    (80, 192, (3, 3), (0, 0), 73), (32, 64, (3, 3), (1, 1), 147),
]


def conv_flops_per_image(model: torch.nn.Module) -> float:
    """Multiply-adds x 2 of every convolution (and the matrix products) of one 299x299 image."""
    total = 0.0

    def hook(m, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total += 2.0 * out.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:  # on the reference layout: the fused build calls oneDNN directly, not the modules
        with torch.inference_mode():
            model(torch.zeros(1, 3, 299, 299))
    finally:
        for h in handles:
            h.remove()
    return total


def conv_limit(batch: int = 50, reps: int = 3) -> tuple[float, str]:
    """The best GFLOP/s over PROBE: channels-last input, oneDNN convolution + ReLU on packed weights."""
    best, where = 0.0, ""
    with torch.inference_mode():
        for cin, cout, k, pad, size in PROBE:
            x = torch.randn(batch, cin, size, size).contiguous(memory_format=torch.channels_last)
            w, b = torch.randn(cout, cin, *k) * 0.05, torch.randn(cout)
            args = (list(pad), [1, 1], [1, 1], 1)
            packed = torch.ops.mkldnn._reorder_convolution_weight(w, *args, list(x.shape))
            y = torch.ops.mkldnn._convolution_pointwise(x, packed, b, *args, "relu", [], "")
            flops = 2.0 * y.numel() * cin * k[0] * k[1]
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                torch.ops.mkldnn._convolution_pointwise(x, packed, b, *args, "relu", [], "")
                times.append(time.perf_counter() - t)
            g = flops / min(times) / 1e9
            if g > best:
                best, where = g, f"{cin}->{cout} {k[0]}x{k[1]} at {size}x{size}"
    return best, where


def part_limit(args, state) -> None:
    from ttur.networks.inception import build_inception

    ref = build_inception(state["weights"], torch.device("cpu"), fast=False)
    state["gflop_per_image"] = conv_flops_per_image(ref) / 1e9
    best, where = conv_limit()
    state["limit"] = best
    print(f"[limit] convolutions of the pass: {state['gflop_per_image']:.2f} GFLOP per image; best convolution "
          f"throughput measured here {best:.1f} GFLOP/s ({where}, batch 50, {torch.get_num_threads()} threads) "
          f"-> at most {best / state['gflop_per_image']:.2f} images/s")


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def part_network(args, state) -> None:
    from ttur.metrics.extract import extract
    from ttur.metrics.sources import open_source
    from ttur.networks.inception import InceptionExtractor

    a, _ = peers.jpeg_folders(state["tmp"], args.images)
    files = sorted(a.iterdir())
    n = len(files)
    why = peers.have_peers()
    pf_model = None
    if why is None:
        from pytorch_fid.fid_score import get_activations
        from pytorch_fid.inception import InceptionV3

        pf_model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()  # weights from the hub folder
    else:
        print(f"[network] pytorch-fid not importable here ({why}); see benchmarks/peers.py")
    ext = InceptionExtractor(state["weights"], mode="pytorch-fid")
    ref_ext = InceptionExtractor(state["weights"], mode="pytorch-fid", fast=False)

    def run_pf():
        return get_activations([str(f) for f in files], pf_model, batch_size=args.batch_size, dims=2048,
                               device="cpu", num_workers=0)

    def run_ttur(e, keep=False):
        src = open_source(str(a), num_workers=0)
        return extract(src, e, batch_size=args.batch_size, keep_features=keep, progress=False)

    # warm-up (oneDNN primitives, weight packing) and the features of each
    ours = run_ttur(ext, keep=True).features
    if pf_model is not None:
        theirs = run_pf()
        err = float(np.abs(theirs - ours).max() / np.abs(theirs).max())
        print(f"[network] features: ttur vs pytorch-fid max |diff| / max |ref| = {err:.2e} (golden tolerance 1e-4)")
    run_ttur(ref_ext)
    runs = {"pytorch-fid get_activations": run_pf, "ttur reference layout (fast=False)": lambda: run_ttur(ref_ext),
            "ttur compute_stats": lambda: run_ttur(ext)}
    if pf_model is None:
        del runs["pytorch-fid get_activations"]
    rows = {"pytorch-fid get_activations": [], **{name: [] for name in runs}}
    for r in range(args.rounds):
        line = []
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            rows[name].append(n / (time.perf_counter() - t))
            line.append(f"{name} {rows[name][-1]:.2f}")
        print(f"  round {r + 1}: " + ", ".join(line) + " images/s")
    base = _median(rows["pytorch-fid get_activations"])
    for name, v in rows.items():
        if v:
            ratio = f", {_median(v) / base:.2f}x pytorch-fid" if base == base else ""
            print(f"[network] {name}: {_median(v):.2f} images/s{ratio}")
    state["ttur_ips"] = _median(rows["ttur compute_stats"])
    if "limit" in state:
        frac = state["ttur_ips"] * state["gflop_per_image"] / state["limit"]
        print(f"[network] ttur's pass (decode and resize included) runs at {100 * frac:.0f}% of the measured "
              f"convolution limit ({state['ttur_ips'] * state['gflop_per_image']:.1f} of {state['limit']:.1f} GFLOP/s)")


def part_breakdown(args, state) -> None:
    import ttur
    from ttur.metrics.preprocess import preprocess
    from ttur.metrics.sources import open_source
    from ttur.metrics.stats import StatsAccumulator
    from ttur.networks.inception import InceptionExtractor

    a, b = peers.jpeg_folders(state["tmp"], args.folder_images)
    ext = InceptionExtractor(state["weights"], mode="pytorch-fid")
    ext(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), logits=False)  # warm-up
    t = {"decode (one process)": 0.0, "DataLoader hand-off": 0.0, "preprocess (resize to 299)": 0.0,
         "network": 0.0, "statistics": 0.0, "Frechet step": 0.0}
    stats = []
    for folder in (a, b):
        src = open_source(str(folder))
        t0 = time.perf_counter()
        for i in range(len(src.seq)):
            src.seq[i]
        t["decode (one process)"] += time.perf_counter() - t0
        batches = []
        t0 = time.perf_counter()
        for x in src.batches(args.batch_size):
            batches.append(x)
        t["DataLoader hand-off"] += time.perf_counter() - t0
        acc = StatsAccumulator(2048)
        for x in batches:
            t0 = time.perf_counter()
            y = preprocess(x, "pytorch-fid")
            t1 = time.perf_counter()
            with torch.inference_mode():
                f, _ = ext.model(y, dims=2048, logits=False)
            t2 = time.perf_counter()
            acc.update(f.float())
            t["statistics"] += time.perf_counter() - t2
            t["preprocess (resize to 299)"] += t1 - t0
            t["network"] += t2 - t1
        t0 = time.perf_counter()
        stats.append(acc.stats(ext.meta()))
        t["statistics"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    value = metrics.frechet_distance(stats[0], stats[1])
    t["Frechet step"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = ttur.fid(str(a), str(b), mode="pytorch-fid", weights=state["weights"], progress=False)
    end = time.perf_counter() - t0
    n = 2 * args.folder_images
    k = args.folder_images
    print(f"[breakdown] ttur fid on {k} + {k} JPEGs (pytorch-fid mode), stage by stage:")
    for k, v in t.items():
        print(f"  {k:28s} {v:7.2f} s  {100 * v / end:5.1f}% of the end-to-end time")
    print(f"  end to end (ttur.fid)        {end:7.2f} s  ({n / end:.2f} images/s; FID {res.fid:.9g}, "
          f"stages {value:.9g})")
    print("  decoding runs in DataLoader workers beside the network: the hand-off line is what the main process "
          "waits for when nothing else runs")


def _command_fid(out: str) -> float:
    m = re.findall(r"(?:FID|frechet_inception_distance|Frechet Inception Distance)\s*:\s*([0-9.eE+-]+)", out)
    return float(m[-1]) if m else float("nan")


def part_commands(args, state) -> None:
    a, b = peers.jpeg_folders(state["tmp"], args.folder_images)
    env = dict(os.environ, TORCH_HOME=str(state["torch_home"]), TTUR_INCEPTION_WEIGHTS=str(state["weights"]))
    py = sys.executable
    me = str(Path(peers.__file__))
    cmds = {"ttur fid --mode pytorch-fid": ["ttur", "fid", str(a), str(b), "--mode", "pytorch-fid"]}
    why = peers.have_peers()
    if why is None:
        cmds = {"pytorch-fid": [py, me, "pytorch-fid", "--device", "cpu", str(a), str(b)],
                "fidelity --fid": [py, me, "fidelity", "--fid", "--cpu", "--input1", str(a), "--input2", str(b)],
                **cmds}
    else:
        print(f"[commands] the peers are not installed here ({why}): ttur's command only")
    times = {k: [] for k in cmds}
    fids = {}
    for r in range(args.rounds):
        for name, cmd in cmds.items():
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                print(f"[commands] {name} failed ({p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
                continue
            times[name].append(dt)
            fids[name] = _command_fid(p.stdout + p.stderr)
            print(f"  round {r + 1}: {name} {dt:.1f} s (FID {fids[name]:.9g})")
            sys.stdout.flush()
    base = _median(times.get("pytorch-fid", []))
    n = 2 * args.folder_images
    for name, v in times.items():
        if v:
            ratio = f", {base / _median(v):.2f}x the pytorch-fid command" if base == base else ""
            print(f"[commands] {name}: {_median(v):.1f} s for {n} images ({n / _median(v):.2f} images/s{ratio}); "
                  f"FID {fids[name]:.9g}")


def part_frechet(args, state) -> None:
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
        print(f"[frechet] {d} dims, {name}: scipy sqrtm {t_sqrtm:.2f} s, ttur {t_ours:.2f} s, "
              f"ratio {t_sqrtm / t_ours:.1f}x; values {v_sqrtm:.9g} vs {v_ours:.9g} "
              f"(rel diff {abs(v_sqrtm - v_ours) / abs(v_ours):.1e})")
        sys.stdout.flush()


PARTS = {"limit": part_limit, "network": part_network, "breakdown": part_breakdown, "commands": part_commands,
         "frechet": part_frechet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="limit,network,breakdown,commands",
                    help=f"comma-separated, from {', '.join(PARTS)}")
    ap.add_argument("--weights", default=os.environ.get("TTUR_INCEPTION_WEIGHTS"))
    ap.add_argument("--images", type=int, default=100, help="images of the network part")
    ap.add_argument("--folder-images", type=int, default=1000, help="JPEGs per side of breakdown and commands")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "ttur_bench_fid"))
    args = ap.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for p in parts:
        if p not in PARTS:
            ap.error(f"--parts: unknown part {p!r} (choose from {', '.join(PARTS)})")
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(args.workdir)
    tmp.mkdir(parents=True, exist_ok=True)
    weights = Path(args.weights) if args.weights else peers.stand_in_weights(tmp / "stand_in_inception.pth")
    torch_home = peers.hub_with_weights(weights, tmp / "torch_home")
    os.environ["TORCH_HOME"] = str(torch_home)  # the peers' loaders look there; nothing is downloaded
    import warnings
    warnings.filterwarnings("ignore", message=".*not the official FID Inception weights.*")
    import platform
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}; batch {args.batch_size}")
    state = {"weights": str(weights), "tmp": tmp, "torch_home": torch_home}
    for p in parts:
        PARTS[p](args, state)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
