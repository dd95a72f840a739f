"""``ttur eval``: the command-line face of :func:`ttur.metrics.evaluate.evaluate`."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    from .evaluate import DEFAULT_METRICS, METRICS

    p = sub.add_parser(
        "eval", help="several metrics (FID, KID, IS, precision/recall/density/coverage, FID∞, FD_DINOv2, CMMD) "
                        "from one pass per network",
        description="Metrics between A (the generated images) and B (the reference images, or a "
        "statistics file for fid / fd_dinov2), each source read once per feature network. Metrics: "
        + ", ".join(f"{k} ({m.network})" for k, m in METRICS.items()) + ".",
    )
    p.add_argument("a", help="A: the generated images")
    p.add_argument("b", help="B: the reference images, or a statistics file (fid, fd_dinov2)")
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                   help=f"comma-separated: {', '.join(METRICS)} (default {','.join(DEFAULT_METRICS)})")
    p.add_argument("--dinov2-arch", default="vitl14", choices=("vits14", "vitb14", "vitl14"),
                   help="DINOv2 network of fd_dinov2 (default vitl14)")
    p.add_argument("--dinov2-mode", default="edm2", choices=("edm2", "dgm-eval", "dgm-eval-clean"),
                   help="DINOv2 preprocessing: edm2 (EDM2's fd_dinov2, default), dgm-eval, dgm-eval-clean")
    p.add_argument("--dinov2-weights", default=None, metavar="FILE",
                   help="dinov2_vit*14_pretrain.pth (default: $TTUR_DINOV2_WEIGHTS, the cache, torch hub)")
    p.add_argument("--clip-weights", default=None, metavar="FILE",
                   help="OpenAI's ViT-L-14-336px.pt or a state dict in the OpenAI or Hugging Face layout "
                        "(default: $TTUR_CLIP_WEIGHTS, the cache, ~/.cache/clip)")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="Inception weights (default: $TTUR_INCEPTION_WEIGHTS, the cache, or download)")
    p.add_argument("--num-workers", type=int, default=None, help="decoding processes (default: 0 for small sets)")
    p.add_argument("--batch-size", type=int, default=50, help="images per network batch (50)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--seed", type=int, default=0, help="seed of the KID subsets and the FID∞ sub-samples")
    p.add_argument("--skip-bad", action="store_true", help="skip corrupt images (counted) instead of stopping")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object (the numbers and a record)")
    p.set_defaults(func=run_eval)


#: text output: result key(s) -> line
def _lines(v: dict, record: dict) -> list[str]:
    out = []
    if "fid" in v:
        out.append(f"FID: {v['fid']!r}")
    if "kid_mean" in v:
        out.append(f"KID: {v['kid_mean']!r} +- {v['kid_std']:.6g}")
    if "isc_mean" in v:
        out.append(f"Inception Score: {v['isc_mean']!r} +- {v['isc_std']:.6g}")
    if "precision" in v:
        out.append(f"Precision (k=3): {v['precision']!r}  Recall (k=3): {v['recall']!r}")
        out.append(f"Density (k=5): {v['density']!r}  Coverage (k=5): {v['coverage']!r}")
    if "fid_inf" in v:
        se = v.get("fid_inf_stderr")
        err = f" +- {se:.6g} (intercept's standard error)" if se is not None else ""
        out.append(f"FID_inf: {v['fid_inf']!r}{err}")
    if "sfid" in v:
        out.append(f"sFID: {v['sfid']!r}")
    if "fd_dinov2" in v:
        net = record["networks"]["dinov2"]
        out.append(f"FD_DINOv2 ({net['name']}, {net['mode']}): {v['fd_dinov2']!r}")
    if "cmmd" in v:
        out.append(f"CMMD: {v['cmmd']!r}")
    shown = {"fid", "kid_mean", "kid_std", "isc_mean", "isc_std", "fd_dinov2", "cmmd", "precision", "recall",
             "sfid", "density", "coverage", "fid_inf", "fid_inf_stderr"}
    out += [f"{k}: {x!r}" for k, x in v.items() if k not in shown]  # metrics added later
    return out


def run_eval(args) -> int:
    from .evaluate import evaluate

    r = evaluate(
        args.a, args.b, metrics=args.metrics, dinov2_arch=args.dinov2_arch, dinov2_mode=args.dinov2_mode,
        dinov2_weights=args.dinov2_weights, clip_weights=args.clip_weights, weights=args.weights,
        batch_size=args.batch_size, device=args.device, num_workers=args.num_workers, seed=args.seed,
        skip_bad=args.skip_bad, progress=not args.no_progress,
    )
    for line in r.notes:
        print(f"ttur: note: {line}", file=sys.stderr)
    for side, k in r.skipped.items():
        print(f"ttur: skipped {k} unreadable image{'s' if k > 1 else ''} in {side.upper()}", file=sys.stderr)
    if args.json:
        print(json.dumps(r.to_dict()))
    else:
        print("\n".join(_lines(r.values, r.record)))
    return 0
