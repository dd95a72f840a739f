"""Speed of ttur's FID against the peers' own code, run the way their users run it, in the same run.

Parts (``--parts``, default all but ``gpu`` and ``frechet``):

``limit``     The achievable float32 convolution throughput of this CPU: the best GFLOP/s of a set of
              Inception convolution shapes (channels-last, oneDNN, batch 50, this many threads). The
              pass is reported as a fraction of it, and of the time its own convolutions take when
              each is timed alone at the shape it has in the pass (oneDNN's kernels with nothing around).
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
``precision`` Each precision this device runs (``fp32``; ``bf16`` on CPUs with AVX512-BF16/AMX and on GPUs;
              ``tf32``, ``fp16`` on GPUs): the network's images/s on the same resized batches, rounds
              interleaved, the convolution limit in that dtype, the features' distance from float32
              (pool3, logits, sFID's spatial features), and the FID of the two folders at each precision.
``gpu``       On a CUDA device only: pytorch-fid's ``InceptionV3`` and ttur's network on the same resized
              batches of 50 and 500 (images/s, peak memory), then the FID of the 50,000 CIFAR-10 training
              JPEGs against the 10,000 test JPEGs end to end, ``pytorch-fid --device cuda`` against
              ``ttur fid --device cuda`` (and ``--precision`` tf32 and fp16 as further, labelled lines).
``frechet``   The Fréchet step at 2048 dimensions: scipy's sqrtm (the official code's) against ttur's.

    python benchmarks/bench_fid.py                           # all but gpu and frechet
    python benchmarks/bench_fid.py --parts limit,network --images 100 --rounds 3
    python benchmarks/bench_fid.py --parts commands --folder-images 1000 --rounds 1
    python benchmarks/bench_fid.py --parts gpu,precision --device cuda    # on a GPU

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


def _conv_relu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, pad):
    """A call running one convolution + ReLU as ttur's pass runs it: oneDNN's fused kernel on weights packed
    once on the CPU, cuDNN then ReLU on a GPU."""
    if x.device.type == "cpu":
        args = (list(pad), [1, 1], [1, 1], 1)
        packed = torch.ops.mkldnn._reorder_convolution_weight(w, *args, list(x.shape))
        return lambda: torch.ops.mkldnn._convolution_pointwise(x, packed, b, *args, "relu", [], "")
    import torch.nn.functional as F

    return lambda: F.relu(F.conv2d(x, w.contiguous(memory_format=torch.channels_last), b, padding=pad))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def conv_limit(batch: int = 50, reps: int = 3, dtype: torch.dtype = torch.float32, device="cpu",
               tf32: bool = False) -> tuple[float, str]:
    """The best GFLOP/s over PROBE: channels-last input, convolution + ReLU (``tf32``: TF32 allowed, GPUs)."""
    from ttur.networks.precision import precision_context

    dev = torch.device(device)
    best, where = 0.0, ""
    with torch.inference_mode(), precision_context("tf32" if tf32 else "fp32"):
        for cin, cout, k, pad, size in PROBE:
            x = torch.randn(batch, cin, size, size, device=dev).contiguous(memory_format=torch.channels_last).to(dtype)
            w = (torch.randn(cout, cin, *k, device=dev) * 0.05).to(dtype)
            run = _conv_relu(x, w, torch.randn(cout, device=dev).to(dtype), pad)
            flops = 2.0 * run().numel() * cin * k[0] * k[1]  # the first call also warms up
            _sync(dev)
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                run()
                _sync(dev)
                times.append(time.perf_counter() - t)
            g = flops / min(times) / 1e9
            if g > best:
                best, where = g, f"{cin}->{cout} {k[0]}x{k[1]} at {size}x{size}"
    return best, where


def convs_alone(model: torch.nn.Module, batch: int = 50):
    """A function timing once every convolution of a batch through the fused build, each alone on an input
    of the shape it has in the pass (the stem's chunks included): seconds, what oneDNN's kernels take for
    this network with nothing around them. Also the GFLOP of those convolutions."""
    from ttur.networks.inception import _ConvReLU

    calls: list[tuple[_ConvReLU, tuple]] = []
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append((m, tuple(i[0].shape), o.numel())))
             for m in model.modules() if isinstance(m, _ConvReLU)]
    try:
        with torch.inference_mode():
            model(torch.zeros(batch, 3, 299, 299))
    finally:
        for h in hooks:
            h.remove()
    gflop = sum(2.0 * n * m.conv.in_channels * m.conv.kernel_size[0] * m.conv.kernel_size[1] for m, _, n in calls)

    inputs = {shape: torch.rand(shape).contiguous(memory_format=torch.channels_last) for _, shape, _ in calls}

    def once() -> float:
        total = 0.0
        with torch.inference_mode():
            for m, shape, _ in calls:
                x = inputs[shape]
                m(x)  # the input in cache and the primitive warm, as in the pass, where its producer just ran
                t = time.perf_counter()
                m(x)
                total += time.perf_counter() - t
        return total

    return once, gflop / 1e9


def part_limit(args, state) -> None:
    from ttur.networks.inception import build_inception

    ref = build_inception(state["weights"], torch.device("cpu"), fast=False)
    state["gflop_per_image"] = conv_flops_per_image(ref) / 1e9
    best, where = conv_limit()
    state["limit"] = best
    print(f"[limit] convolutions of the pass: {state['gflop_per_image']:.2f} GFLOP per image; best convolution "
          f"throughput measured here {best:.1f} GFLOP/s ({where}, batch 50, {torch.get_num_threads()} threads) "
          f"-> at most {best / state['gflop_per_image']:.2f} images/s")
    once, gflop = convs_alone(build_inception(state["weights"], torch.device("cpu")), args.batch_size)
    state["convs_alone"] = (once, gflop)
    alone = min(once() for _ in range(3))
    print(f"[limit] the fused build's {gflop / args.batch_size:.2f} GFLOP of convolutions a image, each convolution "
          f"timed alone at its shape in the pass: {alone:.2f} s a batch of {args.batch_size}, {gflop / alone:.1f} "
          f"GFLOP/s ({100 * gflop / alone / best:.0f}% of the best shape) -> at most {args.batch_size / alone:.2f} "
          "images/s with oneDNN's kernels as they are (timed again in each round of the network part)")


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
    if "convs_alone" in state:  # not a tool: the kernels' own time for the same images, in the same rounds
        once = state["convs_alone"][0]
        runs["ttur's convolutions alone (no tool)"] = lambda: sum(once() for _ in range(n // args.batch_size))
    rows = {"pytorch-fid get_activations": [], **{name: [] for name in runs}}
    for r in range(args.rounds):
        line = []
        for name, fn in runs.items():
            t = time.perf_counter()
            timed = fn()
            seconds = timed if isinstance(timed, float) else time.perf_counter() - t
            rows[name].append(n / seconds)
            line.append(f"{name} {rows[name][-1]:.2f}")
        print(f"  round {r + 1}: " + ", ".join(line) + " images/s")
    base = _median(rows["pytorch-fid get_activations"])
    for name, v in rows.items():
        if v:
            ratio = f", {_median(v) / base:.2f}x pytorch-fid" if base == base and "no tool" not in name else ""
            print(f"[network] {name}: {_median(v):.2f} images/s{ratio}")
    state["ttur_ips"] = _median(rows["ttur compute_stats"])
    if "limit" in state:
        frac = state["ttur_ips"] * state["gflop_per_image"] / state["limit"]
        alone = _median(rows["ttur's convolutions alone (no tool)"])
        print(f"[network] ttur's pass (decode and resize included) runs at {100 * frac:.0f}% of the measured "
              f"convolution limit ({state['ttur_ips'] * state['gflop_per_image']:.1f} of {state['limit']:.1f} GFLOP/s)"
              f", and at {100 * state['ttur_ips'] / alone:.0f}% of the rate of its convolutions timed alone "
              f"({alone:.2f} images/s)")


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


def part_precision(args, state) -> None:
    import ttur
    from ttur.errors import InputError
    from ttur.metrics.preprocess import preprocess
    from ttur.metrics.sources import open_source
    from ttur.networks import PRECISIONS
    from ttur.networks.inception import InceptionExtractor, build_inception
    from ttur.networks.precision import DTYPES, check_precision, precision_context

    device = torch.device(args.device)
    runnable = []
    for p in PRECISIONS:
        try:
            check_precision(p, device)
            runnable.append(p)
        except InputError as e:
            print(f"[precision] {p}: not run here ({str(e).split(': ', 1)[1]})")
    a, b = peers.jpeg_folders(state["tmp"], args.folder_images)
    src = open_source(str(a), num_workers=0)
    x = next(iter(src.batches(args.batch_size)))
    y = preprocess(x, "tf").to(device)
    exts = {p: InceptionExtractor(state["weights"], mode="tf", device=device, precision=p) for p in runnable}

    outs = {}
    for p, e in exts.items():  # warm-up, and the features of each
        with torch.inference_mode(), precision_context(p):
            outs[p] = [t.float().cpu() for t in e.model(y, dims=2048, logits=True, spatial=True)]
        _sync(device)
    rates = {p: [] for p in exts}
    batches = max(1, args.images // args.batch_size)
    for _round in range(args.rounds):
        for p, e in exts.items():
            t = time.perf_counter()
            for _ in range(batches):
                with torch.inference_mode(), precision_context(p):
                    e.model(y, dims=2048, logits=False)
            _sync(device)
            rates[p].append(batches * len(y) / (time.perf_counter() - t))
    if "gflop_per_image" not in state:
        state["gflop_per_image"] = conv_flops_per_image(build_inception(state["weights"], torch.device("cpu"),
                                                                        fast=False)) / 1e9
    gflop = state["gflop_per_image"]
    base = _median(rates["fp32"])
    print(f"[precision] the network alone on {len(y)} resized CIFAR-10 images a batch, {device}, "
          f"{args.rounds} interleaved rounds (median); distances from fp32 as max |diff| / max |fp32|:")
    for p in exts:
        ips = _median(rates[p])
        if p == "fp32" and device.type == "cpu" and "limit" in state:
            lim = state["limit"]  # measured by the limit part of this run
        else:
            lim = conv_limit(dtype=DTYPES[p], device=device, tf32=p == "tf32")[0]
        err = [float((o - r).abs().max() / r.abs().max()) for o, r in zip(outs[p], outs["fp32"], strict=True)]
        print(f"  {p}: {ips:.2f} images/s ({ips / base:.2f}x fp32), {100 * ips * gflop / lim:.0f}% of the {p} "
              f"convolution limit ({lim:.1f} GFLOP/s); pool3 {err[0]:.1e}, logits {err[1]:.1e}, "
              f"spatial (sFID) {err[2]:.1e}")
        sys.stdout.flush()
    k = args.folder_images
    fids = {}
    for p in exts:
        t = time.perf_counter()
        fids[p] = ttur.fid(str(a), str(b), weights=state["weights"], device=device, precision=p, progress=False).fid
        print(f"  FID of {k} + {k} JPEGs (tf mode) in {p}: {fids[p]:.9g} ({time.perf_counter() - t:.1f} s end to end"
              + (f"; {abs(fids[p] - fids['fp32']) / fids['fp32']:.1e} from fp32)" if p != "fp32" else ")"))
        sys.stdout.flush()


def part_gpu(args, state) -> None:
    if not torch.cuda.is_available():
        print("[gpu] no CUDA device here: not run")
        return
    from ttur.metrics.preprocess import preprocess
    from ttur.metrics.sources import open_source
    from ttur.networks.inception import InceptionExtractor
    from ttur.networks.precision import precision_context

    dev = torch.device("cuda")
    print(f"[gpu] {torch.cuda.get_device_name(dev)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    a = peers.jpeg_folder(state["tmp"], "test", 1000)
    pix = torch.cat(list(open_source(str(a), num_workers=0).batches(250)))  # 1,000 images, 32x32
    why = peers.have_peers()
    pf_model = None
    if why is None:
        from pytorch_fid.inception import InceptionV3

        pf_model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval().to(dev)
    else:
        print(f"[gpu] pytorch-fid not importable here ({why}); ttur only")
    ext = InceptionExtractor(state["weights"], mode="pytorch-fid", device=dev)

    def run_pf(y):
        with torch.no_grad():
            return pf_model(y)[0]

    def run_ttur(y):
        with torch.inference_mode(), precision_context("fp32"):
            return ext.model(y, dims=2048)[0]

    for bs in (50, 500):
        ys = [preprocess(pix[i:i + bs], "pytorch-fid").to(dev) for i in range(0, len(pix), bs)]
        runs = {"pytorch-fid InceptionV3": run_pf, "ttur": run_ttur} if pf_model is not None else {"ttur": run_ttur}
        rate, peak = {k: [] for k in runs}, {}
        for name, fn in runs.items():  # warm-up (cuDNN's algorithm search), peak memory of a batch
            fn(ys[0])
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            fn(ys[0])
            torch.cuda.synchronize()
            peak[name] = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
        for _round in range(args.rounds):
            for name, fn in runs.items():
                t = time.perf_counter()
                for y in ys:
                    fn(y)
                torch.cuda.synchronize()
                rate[name].append(len(pix) / (time.perf_counter() - t))
        for name in runs:
            ratio = (f", {_median(rate[name]) / _median(rate['pytorch-fid InceptionV3']):.2f}x pytorch-fid"
                     if pf_model is not None else "")
            print(f"[gpu] batch {bs}: {name} {_median(rate[name]):.1f} images/s{ratio}; peak memory of a batch "
                  f"{peak[name]:.0f} MiB")
        sys.stdout.flush()
    train, test = peers.jpeg_folder(state["tmp"], "train", 50000), peers.jpeg_folder(state["tmp"], "test", 10000)
    env = dict(os.environ, TORCH_HOME=str(state["torch_home"]), TTUR_INCEPTION_WEIGHTS=str(state["weights"]))
    base_cmd = ["ttur", "fid", str(train), str(test), "--mode", "pytorch-fid", "--device", "cuda", "--no-progress"]
    cmds = {"ttur fid --device cuda": base_cmd,
            "ttur fid --device cuda --precision tf32": [*base_cmd, "--precision", "tf32"],
            "ttur fid --device cuda --precision fp16": [*base_cmd, "--precision", "fp16"]}
    if why is None:
        cmds = {"pytorch-fid --device cuda": [sys.executable, str(Path(peers.__file__)), "pytorch-fid", "--device",
                                              "cuda", str(train), str(test)], **cmds}
    times, fids = {}, {}
    for name, cmd in cmds.items():
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"[gpu] {name} failed ({p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
            continue
        times[name], fids[name] = time.perf_counter() - t0, _command_fid(p.stdout + p.stderr)
        ratio = (f", {times['pytorch-fid --device cuda'] / times[name]:.2f}x pytorch-fid"
                 if "pytorch-fid --device cuda" in times else "")
        print(f"[gpu] 50,000 + 10,000 JPEGs, {name}: {times[name]:.1f} s{ratio}; FID {fids[name]:.9g}")
        sys.stdout.flush()


def _command_fid(out: str) -> float:
    m = re.findall(r"(?:FID|frechet_inception_distance|Frechet Inception Distance)\s*:\s*([0-9.eE+-]+)", out)
    return float(m[-1]) if m else float("nan")


def part_commands(args, state) -> None:
    a, b = peers.jpeg_folders(state["tmp"], args.folder_images)
    env = dict(os.environ, TORCH_HOME=str(state["torch_home"]), TTUR_INCEPTION_WEIGHTS=str(state["weights"]))
    py = sys.executable
    me = str(Path(peers.__file__))
    cmds = {"ttur fid --mode pytorch-fid": ["ttur", "fid", str(a), str(b), "--mode", "pytorch-fid"]}
    from ttur.networks.precision import cpu_supports

    if cpu_supports("bf16"):  # a fourth line, not the default: the features move (see the precision part)
        cmds["ttur fid --mode pytorch-fid --precision bf16"] = [*cmds["ttur fid --mode pytorch-fid"], "--precision",
                                                                "bf16"]
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
         "precision": part_precision, "gpu": part_gpu, "frechet": part_frechet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="limit,network,breakdown,commands,precision",
                    help=f"comma-separated, from {', '.join(PARTS)}")
    ap.add_argument("--weights", default=os.environ.get("TTUR_INCEPTION_WEIGHTS"))
    ap.add_argument("--images", type=int, default=100, help="images of the network part")
    ap.add_argument("--folder-images", type=int, default=1000, help="JPEGs per side of breakdown and commands")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="cpu", help="device of the precision part (cpu, cuda)")
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
