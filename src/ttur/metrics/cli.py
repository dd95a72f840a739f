"""``ttur fid``, ``ttur stats`` and ``ttur weights``: the command-line face of :mod:`ttur.metrics.api`."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InputError, WeightsError


def add_extractor_args(p: argparse.ArgumentParser, decoding: bool = True) -> None:
    """Options shared by every command that runs images through a feature extractor.

    ``decoding=False`` leaves out the options of the decoding pass (``--num-workers``, ``--skip-bad``) for
    commands that load their images otherwise.
    """
    from ..networks import INCEPTION_DIMS as DIMS
    from .preprocess import MODES

    p.add_argument("--mode", default="tf", choices=MODES,
                   help="preprocessing: tf (the original TensorFlow graph, default), pytorch-fid, clean")
    p.add_argument("--dims", type=int, default=2048, choices=DIMS, help="Inception feature dimension (2048)")
    p.add_argument("--batch-size", type=int, default=50, help="images per network batch (50)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    if decoding:
        p.add_argument("--num-workers", type=int, default=None,
                       help="decoding processes (default: 0 for small sets, else up to 4)")
    p.add_argument("--weights", default=None,
                   help="weights file of the network: Inception's (default: $TTUR_INCEPTION_WEIGHTS, the cache, or "
                        "download), or a DINOv2 extractor's .pth")
    p.add_argument("--extractor", default=None,
                   help="feature extractor instead of Inception, by name (see ttur.networks.EXTRACTORS; "
                        "reported as FD, not FID)")
    p.add_argument("--reference-net", action="store_true",
                   help="run the reference layout of the network (slower; the fused default agrees to ~1e-6)")
    add_precision_arg(p)
    if decoding:
        p.add_argument("--skip-bad", action="store_true", help="skip corrupt images (counted) instead of stopping")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_precision_arg(p: argparse.ArgumentParser) -> None:
    from ..networks import PRECISIONS

    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="arithmetic of the feature pass: fp32 (default, the reference numbers), bf16 (CPUs with "
                        "AVX512-BF16/AMX, GPUs), tf32 (Ampere+ GPUs), fp16 (GPUs); the low precisions move "
                        "features (see the README) and are recorded")


def register(sub) -> None:
    p = sub.add_parser(
        "fid", help="FID between two image sources",
        description="FID between two sources: folders (recursive), zips, .npy/.npz image arrays, "
        "statistics files (ours, TTUR, pytorch-fid, clean-fid, ADM VIRTUAL_*.npz, EDM2 .pkl, torch-fidelity .pt; "
        "recognised by content), CIFAR-10 batches, MNIST IDX, SVHN .mat, LSUN LMDB.",
    )
    p.add_argument("a", help="first source (the generated images, by convention)")
    p.add_argument("b", help="second source (the reference images or statistics)")
    add_extractor_args(p)
    p.add_argument("--kid", action="store_true", help="also the Kernel Inception Distance")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--isc", action="store_true", help="also the Inception Score of the first source")
    p.add_argument("--isc-splits", type=int, default=10)
    p.add_argument("--bootstrap", type=int, default=0, metavar="K",
                   help="error bar: standard deviation of the FID over K bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of KID subsets and bootstrap resamples")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_fid)

    s = sub.add_parser("stats", help="save the feature statistics of a source (.npz)",
                       description="Compute mu and sigma of a source's features and save them; the file "
                       "is readable by the official TTUR code and pytorch-fid.")
    s.add_argument("src", help="image source")
    s.add_argument("-o", "--output", required=True, help="output .npz")
    add_extractor_args(s)
    s.set_defaults(func=run_stats)

    w = sub.add_parser("weights", help="where every network's weights are; fetch or check them")
    w.add_argument("--download", nargs="*", default=None, metavar="NETWORK",
                   help="download into the cache (checked by SHA-256 where published): the Inception weights, or "
                        "the networks named (inception, dinov2_vits14, dinov2_vitb14, dinov2_vitl14, "
                        "clip_vitl14_336, all); a file already found is not fetched again")
    w.add_argument("--check", metavar="FILE", help="say whether FILE is the official weights file")
    w.set_defaults(func=run_weights)


def run_fid(args) -> int:
    from .api import fid

    r = fid(
        args.a, args.b, mode=args.mode, dims=args.dims, batch_size=args.batch_size, device=args.device,
        num_workers=args.num_workers, weights=args.weights, extractor=args.extractor, kid=args.kid,
        kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, isc=args.isc,
        isc_splits=args.isc_splits, bootstrap=args.bootstrap, seed=args.seed, skip_bad=args.skip_bad,
        progress=not args.no_progress, fast=not args.reference_net, precision=args.precision,
    )
    for line in r.notes:
        print(f"ttur: note: {line}", file=sys.stderr)
    for side, k in r.skipped.items():
        print(f"ttur: skipped {k} unreadable image{'s' if k > 1 else ''} in the "
              f"{'first' if side == 'a' else 'second'} source", file=sys.stderr)
    if args.json:
        print(json.dumps(r.to_dict()))
        return 0
    label = r.label
    line = f"{label}: {r.fid!r}"
    if r.fid_bootstrap_std is not None:
        line += f"  (bootstrap std {r.fid_bootstrap_std:.4g} over {args.bootstrap} resamples)"
    print(line)
    if r.kid_mean is not None:
        shrunk = f"  (subsets of {r.kid_subset_size})" if r.kid_subset_size != args.kid_subset_size else ""
        print(f"KID: {r.kid_mean!r} +- {r.kid_std:.6g}{shrunk}")
    if r.isc_mean is not None:
        print(f"Inception Score: {r.isc_mean!r} +- {r.isc_std:.6g}")
    return 0


def run_stats(args) -> int:
    from .api import compute_stats

    st = compute_stats(
        args.src, mode=args.mode, dims=args.dims, batch_size=args.batch_size, device=args.device,
        num_workers=args.num_workers, weights=args.weights, extractor=args.extractor,
        skip_bad=args.skip_bad, progress=not args.no_progress, fast=not args.reference_net,
        precision=args.precision,
    )
    path = st.save(args.output)
    print(f"wrote {path} ({st.n} images, {st.dims}-d, mode {st.meta.get('mode')})")
    return 0


def _download(names: list[str]) -> int:
    from ..networks import clip, dinov2
    from ..networks import weights as W
    from ..networks._files import offline

    specs = {s.network: s for s in (*dinov2.WEIGHTS.values(), clip.WEIGHTS)}
    known = ["inception", *specs]
    names = names or ["inception"]
    if "all" in names:
        names = known
    for n in names:
        if n not in known:
            raise InputError(f"--download: unknown network {n!r}; known: {', '.join(known)}, all")
    for n in names:
        # (find, download, how to get it) of each network's file
        find, download, how = ((W.find_weights, W.download, W.how_to_get) if n == "inception"
                               else (specs[n].find, specs[n].download, specs[n].how_to_get))
        found = find()
        if found is None:
            if offline():
                raise WeightsError(f"--download {n}: offline (TTUR_OFFLINE); {how()}")
            found = download()
        print(f"{n}: {found}")
    return 0


def run_weights(args) -> int:
    from ..networks import weights as W

    if args.check:
        from pathlib import Path

        p = Path(args.check)
        if not p.is_file():
            raise InputError(f"--check: {p} does not exist")
        ok = W.is_official(p)
        print(f"{p}: {'the official FID Inception weights' if ok else 'NOT the official weights'} "
              f"(sha256 {W.sha256_file(p)})")
        return 0 if ok else 1
    if args.download is not None:
        return _download(args.download)
    found = W.find_weights()
    if found is None:
        print(f"no FID Inception weights found: {W.how_to_get()}")
    else:
        print(f"weights: {found}{'' if W.is_official(found) else ' (not the official file)'}")
    from ..networks import clip, dinov2

    for spec in (*dinov2.WEIGHTS.values(), clip.WEIGHTS):  # the networks of `ttur eval`
        print(spec.status())
    return 0 if found is not None else 1
