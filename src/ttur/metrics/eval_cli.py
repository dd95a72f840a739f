"""``ttur eval``: the command-line face of :func:`ttur.metrics.evaluate.evaluate`."""

from __future__ import annotations

import json
import sys


def _tolerance_table() -> str:
    from .evaluate import DEFAULT_TOLERANCE, TOLERANCES

    def fmt(t):
        return "exact" if t == (0.0, 0.0) else f"rel {t[0]:g}"

    groups: dict[str, list[str]] = {}
    for k, t in TOLERANCES.items():
        groups.setdefault(fmt(t), []).append(k)
    return "; ".join(f"{', '.join(ks)}: {t}" for t, ks in groups.items()) + (
        f"; others: {fmt(DEFAULT_TOLERANCE)} (absolute floor {DEFAULT_TOLERANCE[1]:g})")


def register(sub) -> None:
    from .cli import add_precision_arg
    from .evaluate import DEFAULT_METRICS, METRICS

    p = sub.add_parser(
        "eval", help="several metrics (FID, KID, IS, precision/recall/density/coverage, FID∞, FD_DINOv2, CMMD) "
                        "from one pass per network",
        description="Metrics between A (the generated images) and B (the reference images, or a "
        "statistics file for fid / fd_dinov2), each source read once per feature network. Metrics: "
        + ", ".join(f"{k} ({m.network})" for k, m in METRICS.items()) + ".",
    )
    p.add_argument("a", nargs="?", help="A: the generated images")
    p.add_argument("b", nargs="?", help="B: the reference images, or a statistics file (fid, fd_dinov2): ours, "
                   "official TTUR, pytorch-fid, clean-fid, ADM VIRTUAL_*.npz, EDM2 .pkl, torch-fidelity .pt")
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
    p.add_argument("--kid-subsets", type=int, default=100, help="KID: number of subsets (100)")
    p.add_argument("--kid-subset-size", type=int, default=1000,
                   help="KID: images per subset (1000; capped at the smaller side)")
    p.add_argument("--isc-splits", type=int, default=10, help="Inception Score: splits of A (10)")
    add_precision_arg(p)
    p.add_argument("--record", default=None, metavar="R.json",
                   help="write the numbers, the record (versions, networks and weights hashes, each side's "
                        "content hash) and the options that recompute them, to R.json (atomically)")
    p.add_argument("--check", default=None, metavar="R.json",
                   help="recompute R.json (written by --record) from its recorded sources and options (only "
                        "--device, --num-workers and --no-progress apply); no A or B. Exit 0 when every number matches "
                        "within its tolerance, 1 naming each that differs, "
                        "2 when the record is unreadable, a source is missing or its content hash changed. "
                        "Tolerances: " + _tolerance_table().replace("%", "%%"))
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


def _command(args, r) -> dict:
    """The options that recompute ``r`` (sources as absolute paths where they are files or folders)."""
    from pathlib import Path

    def where(x):
        return None if x is None else (str(Path(x).resolve()) if Path(str(x)).exists() else str(x))

    o = r.record["options"]
    return {"a": where(args.a), "b": where(args.b), "metrics": ",".join(o["metrics"]),
            "dinov2_arch": o["dinov2_arch"], "dinov2_mode": o["dinov2_mode"],
            "dinov2_weights": where(args.dinov2_weights), "clip_weights": where(args.clip_weights),
            "weights": where(args.weights), "batch_size": o["batch_size"], "device": r.record["device"],
            "seed": o["seed"], "skip_bad": o["skip_bad"], "kid_subsets": o["kid_subsets"],
            "kid_subset_size": o["kid_subset_size"], "isc_splits": o["isc_splits"], "num_samples": o["num_samples"],
            "precision": o["precision"]}


def _evaluate(c: dict, device, num_workers, progress):
    from .evaluate import evaluate

    ns = c.get("num_samples")
    return evaluate(
        c["a"], c["b"], metrics=c["metrics"], dinov2_arch=c["dinov2_arch"], dinov2_mode=c["dinov2_mode"],
        dinov2_weights=c["dinov2_weights"], clip_weights=c["clip_weights"], weights=c["weights"],
        batch_size=c["batch_size"], device=device, num_workers=num_workers, seed=c["seed"],
        skip_bad=c["skip_bad"], kid_subsets=c["kid_subsets"], kid_subset_size=c["kid_subset_size"],
        isc_splits=c["isc_splits"], num_samples=tuple(ns) if isinstance(ns, list) else ns, progress=progress,
        precision=c.get("precision", "fp32"),  # a record from before the option: float32
    )


def _print_notes(r) -> None:
    for line in r.notes:
        print(f"ttur: note: {line}", file=sys.stderr)
    for side, k in r.skipped.items():
        print(f"ttur: skipped {k} unreadable image{'s' if k > 1 else ''} in {side.upper()}", file=sys.stderr)


def run_eval(args) -> int:
    from .._util import atomic_write_text, check_output
    from ..errors import InputError

    if args.check is not None:
        if args.a is not None or args.b is not None:
            raise InputError("--check: recomputes with the recorded sources; give no A or B")
        return run_check(args)
    if args.a is None or args.b is None:
        raise InputError("ttur eval needs two sources, A and B (or --check R.json)")
    c = {"a": args.a, "b": args.b, "metrics": args.metrics, "dinov2_arch": args.dinov2_arch,
         "dinov2_mode": args.dinov2_mode, "dinov2_weights": args.dinov2_weights, "clip_weights": args.clip_weights,
         "weights": args.weights, "batch_size": args.batch_size, "seed": args.seed, "skip_bad": args.skip_bad,
         "kid_subsets": args.kid_subsets, "kid_subset_size": args.kid_subset_size, "isc_splits": args.isc_splits,
         "precision": args.precision}
    r = _evaluate(c, args.device, args.num_workers, not args.no_progress)
    _print_notes(r)
    if args.record is not None:
        path = check_output(args.record, "record", suffix=".json")
        doc = {"values": r.values, "record": r.record, "command": _command(args, r)}
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    if args.json:
        print(json.dumps(r.to_dict()))
    else:
        print("\n".join(_lines(r.values, r.record)))
    return 0


def _read_record(path) -> dict:
    from pathlib import Path

    from ..errors import InputError

    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError(f"--check: {p}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"--check: {p}: not a readable record ({e})") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), dict) for k in ("values", "record", "command")):
        raise InputError(f"--check: {p}: not a record of ttur eval --record (it needs 'values', 'record' and "
                         "'command' objects)")
    c = doc["command"]
    need = ("a", "b", "metrics", "dinov2_arch", "dinov2_mode", "dinov2_weights", "clip_weights", "weights",
            "batch_size", "device", "seed", "skip_bad", "kid_subsets", "kid_subset_size", "isc_splits")
    missing = [k for k in need if k not in c]
    if missing:
        raise InputError(f"--check: {p}: its command lacks {', '.join(missing)}")
    return doc


def run_check(args) -> int:
    """``ttur eval --check R.json``: recompute, compare each number, say which differ."""
    from pathlib import Path

    from .._util import sha256_file
    from ..errors import InputError
    from .evaluate import DEFAULT_TOLERANCE, TOLERANCES, within_tolerance

    doc = _read_record(args.check)
    c, rec, values = doc["command"], doc["record"], doc["values"]
    sides = rec.get("sides", {})
    for x in ("a", "b"):  # a missing source or a changed statistics file stops here, before any pass
        side = sides.get(x) or {}
        src = c[x]
        if src is None:
            continue
        p = Path(src)
        if side.get("kind") in ("images", "statistics file") and not p.exists():
            if side.get("kind") == "statistics file" or Path(str(src)).is_absolute():
                raise InputError(f"--check: source {x.upper()} ({src}) is missing")
        if side.get("kind") == "statistics file" and side.get("sha256") and sha256_file(p) != side["sha256"]:
            raise InputError(f"--check: source {x.upper()} ({src}) changed: sha256 {sha256_file(p)}, recorded "
                             f"{side['sha256']}")
    device = args.device if args.device is not None else c["device"]
    r = _evaluate(c, device, args.num_workers, not args.no_progress)
    _print_notes(r)
    for x in ("a", "b"):
        old, new = (sides.get(x) or {}).get("sha256"), (r.record["sides"].get(x) or {}).get("sha256")
        if old and new and old != new:
            raise InputError(f"--check: source {x.upper()} ({c[x]}) changed: its content hash is {new}, recorded "
                             f"{old} ({r.record['sides'][x]['hash_kind']})")
        if old and not new:
            raise InputError(f"--check: source {x.upper()} ({c[x]}): its content hash could not be recomputed")
    for net, entry in (rec.get("networks") or {}).items():
        now = (r.record["networks"].get(net) or {}).get("weights_sha256")
        if entry.get("weights_sha256") and now and now != entry["weights_sha256"]:
            raise InputError(f"--check: the {net} weights changed: sha256 {now}, recorded {entry['weights_sha256']}")
    differ = []
    for key, old in values.items():
        new = r.values.get(key)
        ok = within_tolerance(key, old, new)
        rel, tol_abs = TOLERANCES.get(key, DEFAULT_TOLERANCE)
        tol = "exact" if (rel, tol_abs) == (0.0, 0.0) else f"rel {rel:g}"
        print(f"{key}: recorded {old!r}, recomputed {new!r} ({tol}): {'ok' if ok else 'DIFFERS'}")
        if not ok:
            differ.append(key)
    extra = sorted(set(r.values) - set(values))
    if extra:
        print(f"ttur: note: recomputed but not recorded: {', '.join(extra)}", file=sys.stderr)
    if args.record is not None:
        from .._util import atomic_write_text, check_output

        path = check_output(args.record, "record", suffix=".json")
        atomic_write_text(path, json.dumps({"values": r.values, "record": r.record, "command": c}, indent=1) + "\n")
    if differ:
        print(f"ttur: check failed: {', '.join(differ)} differ{'s' if len(differ) == 1 else ''} from {args.check}",
              file=sys.stderr)
        return 1
    print(f"ttur: check passed: {len(values)} numbers of {args.check} recomputed within tolerance", file=sys.stderr)
    return 0
