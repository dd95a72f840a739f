"""``ttur experiment compare``: TTUR against one time-scale for a training configuration.

Trains the TTUR configuration and its one-time-scale counterpart (the bundled ``-orig`` config of a
``-ttur`` one, another config given with ``--orig``, or the same config with ``lr_d = lr_g =
--orig-lr``), each for ``--seeds`` seeds, and reports their metric curves on one figure (mean ±
std over seeds, against steps and against wall-clock time, as the paper aligns WGAN-GP runs by
minutes) and a table of the best and final metric of each variant (mean ± std). The metric is the
run's own (``TrainResult.metric``): FID, FD on small features, or the JSD of a text task.

The runs live in ``<out>-runs/<variant>-seed<k>/`` (full training folders, resumable with
``--resume``); the report folder holds the plots, report.md, compare.csv and results.json.

Runtime: ``--quick`` (the ``quickstart`` config, 300 steps, FD every 100 on the shapes features,
one seed per variant) takes 2-5 minutes on two CPU cores. A full comparison is two full trainings
per seed: e.g. ``dcgan-cifar10-ttur`` (75k-100k updates plus FID on 50k samples every 5k) is
roughly 2-4 GPU hours per run on one modern GPU; ``wgan-gp-cifar10-ttur`` (168k iterations)
roughly 10-20 GPU hours per run; the paper used 8 seeds per setting.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..train.checkpoint import FILENAME
from .report import Report, fmt, fmt_pm, mean_std, threads_note, training_threads, use_agg

QUICK_OVERRIDES = {"steps": 300, "fid_every": 100, "sample_every": 0, "checkpoint_every": 0, "log_every": 50}
QUICK_IMAGE_OVERRIDES = {"fid_samples": 500, "fid_ref_samples": 1000}


# ----------------------------------------------------------------------------------------------
# configs and runs
# ----------------------------------------------------------------------------------------------
def _overrides_dict(overrides) -> dict:
    from ..train.config import parse_override

    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return dict(parse_override(o) for o in overrides)


def quick_overrides(cfg: dict) -> dict:
    out = dict(QUICK_OVERRIDES)
    if cfg.get("task") == "image":
        out.update(QUICK_IMAGE_OVERRIDES)
    return out


def orig_counterpart(name) -> str | None:
    """The bundled or sibling ``-orig`` config of a ``-ttur`` one, or None."""
    from ..train import list_configs

    s = str(name)
    p = Path(s)
    if p.suffix in (".yaml", ".yml"):
        if p.stem.endswith("-ttur"):
            q = p.with_name(p.stem[:-5] + "-orig" + p.suffix)
            return str(q) if q.is_file() else None
        return None
    if s.endswith("-ttur") and s[:-5] + "-orig" in list_configs():
        return s[:-5] + "-orig"
    return None


@dataclass
class Variant:
    """One arm of a comparison: a name and a complete config (without the seed)."""

    name: str
    cfg: dict
    runs: list = field(default_factory=list)  # TrainResult per seed


def make_variants(config, *, orig=None, orig_lr: float | None = None, lr_d: float | None = None,
                  lr_g: float | None = None, overrides=None, quick: bool = False) -> list[Variant]:
    """The TTUR variant and its one-time-scale counterpart, with ``overrides`` applied to both."""
    from ..train import load_config

    ov = _overrides_dict(overrides)
    base = load_config(config, {k: v for k, v in ov.items() if _plain(v)})
    q = quick_overrides(base) if quick else {}
    ttur = load_config(config, {**q, **{k: v for k, v in ov.items() if _plain(v)}}) | _objects(ov)
    if lr_d is not None or lr_g is not None:
        if orig_lr is not None:
            raise ConfigError("give --orig-lr or --lr-d/--lr-g, not both")
        a = lr_d if lr_d is not None else lr_g
        b = lr_g if lr_g is not None else lr_d
        orig_lr_d, orig_lr_g = float(a), float(b)
    elif orig_lr is not None:
        orig_lr_d = orig_lr_g = float(orig_lr)
    else:
        orig_lr_d = orig_lr_g = None
    if orig is None and orig_lr_d is None:
        orig = orig_counterpart(config)
        if orig is None:
            raise ConfigError(f"{config}: no '-orig' counterpart; give --orig CONFIG or --orig-lr LR")
    src = orig if orig is not None else config
    o_ov = {**q, **{k: v for k, v in ov.items() if _plain(v)}}
    if orig_lr_d is not None:
        o_ov.update(lr_d=orig_lr_d, lr_g=orig_lr_g)
    one = load_config(src, o_ov) | _objects(ov)
    if ttur["lr_d"] == one["lr_d"] and ttur["lr_g"] == one["lr_g"] and ttur.get("d_steps") == one.get("d_steps"):
        raise ConfigError("the two variants have the same learning rates: nothing to compare")
    return [Variant(_label("TTUR", ttur), ttur), Variant(_label("orig", one), one)]


def _plain(v) -> bool:
    return v is None or isinstance(v, str | int | float | bool | list | tuple)


def _objects(ov: dict) -> dict:
    """Overrides that are Python objects (an extractor module): not YAML, applied after loading."""
    return {k: v for k, v in ov.items() if not _plain(v)}


def _label(kind: str, cfg: dict) -> str:
    if cfg["lr_d"] == cfg["lr_g"]:
        s = f"{kind} lr {cfg['lr_d']:g}"
    else:
        s = f"{kind} lr_d {cfg['lr_d']:g} lr_g {cfg['lr_g']:g}"
    return s + (f" d_steps {cfg['d_steps']}" if cfg.get("d_steps", 1) != 1 else "")


def run_training(cfg: dict, run_dir: Path, *, resume: bool = False, progress: bool = True,
                 train_fn: Callable | None = None, say=print):
    """Train ``cfg`` into ``run_dir``; with ``resume`` an existing run there is continued (or reused when done)."""
    from ..train import train

    train_fn = train_fn or train
    cont = resume and (run_dir / FILENAME).is_file()
    res = train_fn(cfg, run_dir, resume=cont, progress=progress, say=say)
    stop_if_signalled(res)
    return res


def stop_if_signalled(res) -> None:
    """A run stopped by SIGINT/SIGTERM (checkpoint written) stops the whole experiment."""
    if getattr(res, "stopped", None) in ("SIGINT", "SIGTERM"):
        where = getattr(res, "out_dir", "a run")
        raise KeyboardInterrupt(f"{where}: stopped by {res.stopped}; rerun with --resume to continue")


# ----------------------------------------------------------------------------------------------
# aggregation
# ----------------------------------------------------------------------------------------------
def curve(records: Sequence[dict], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, times, values) of the records that carry ``metric``."""
    rs = [r for r in records if r.get(metric) is not None]
    return (np.array([r["step"] for r in rs], dtype=float), np.array([r.get("time", np.nan) for r in rs], dtype=float),
            np.array([float(r[metric]) for r in rs], dtype=float))


def aggregate(records_per_seed: Sequence[Sequence[dict]], metric: str) -> dict:
    """Mean and std over seeds of the metric at each evaluation step (steps present in every seed), the
    mean wall time at those steps, and best/final per seed with their mean ± std."""
    curves = [curve(r, metric) for r in records_per_seed]
    curves = [c for c in curves if c[0].size]
    if not curves:
        return {"steps": [], "time": [], "mean": [], "std": [], "best": [], "final": [], "best_step": [],
                "best_mean": math.nan, "best_std": math.nan, "final_mean": math.nan, "final_std": math.nan,
                "seeds": 0}
    common = sorted(set.intersection(*[set(c[0].tolist()) for c in curves]))
    vals = np.array([[c[2][list(c[0]).index(s)] for s in common] for c in curves])
    times = np.array([[c[1][list(c[0]).index(s)] for s in common] for c in curves])
    best, best_step, final = [], [], []
    for s, _t, v in curves:
        ok = np.isfinite(v)
        best.append(float(v[ok].min()) if ok.any() else math.nan)
        best_step.append(float(s[ok][np.argmin(v[ok])]) if ok.any() else math.nan)
        final.append(float(v[-1]))
    with np.errstate(invalid="ignore"):
        std = vals.std(0, ddof=1) if len(curves) > 1 else np.full(len(common), np.nan)
    bm, bs = mean_std(best)
    fm, fs = mean_std(final)
    return {"steps": common, "time": np.nanmean(times, 0).tolist() if common else [],
            "mean": vals.mean(0).tolist(), "std": std.tolist(), "best": best, "best_step": best_step,
            "final": final, "best_mean": bm, "best_std": bs, "final_mean": fm, "final_std": fs,
            "best_step_mean": mean_std(best_step)[0], "seeds": len(curves)}


def plot_compare(aggs: dict[str, dict], label: str, title: str | None = None):
    plt = use_agg()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for (name, a), c in zip(aggs.items(), ("C0", "C3", "C2", "C1"), strict=False):
        if not a["steps"]:
            continue
        m, s = np.array(a["mean"]), np.nan_to_num(np.array(a["std"]))
        for ax, x in ((axes[0], np.array(a["steps"])), (axes[1], np.array(a["time"]) / 60)):
            ax.plot(x, m, "o-", color=c, ms=3, label=f"{name} ({a['seeds']} seed{'s' if a['seeds'] > 1 else ''})")
            ax.fill_between(x, m - s, m + s, color=c, alpha=0.2, lw=0)
    axes[0].set(xlabel="step", ylabel=label, title=title or f"{label} during training (mean ± std)")
    axes[1].set(xlabel="wall-clock minutes", ylabel=label, title=f"{label} against time")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# the experiment
# ----------------------------------------------------------------------------------------------
def run(out_dir: str | Path, config="quickstart", *, orig=None, orig_lr: float | None = None,
        lr_d: float | None = None, lr_g: float | None = None, seeds: int = 1, overrides=None, quick: bool = False,
        runs_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
        train_fn: Callable | None = None, say=print) -> dict:
    """Train both variants for ``seeds`` seeds and write the comparison report; returns its numbers."""
    if seeds < 1:
        raise ConfigError(f"seeds: must be at least 1, got {seeds}")
    if quick and config == "quickstart" and orig is None and orig_lr is None and lr_d is None and lr_g is None:
        orig_lr = 2e-4  # quickstart is TTUR lr_d 2e-4, lr_g 5e-4: one time-scale at the discriminator's rate
    t0 = time.perf_counter()
    variants = make_variants(config, orig=orig, orig_lr=orig_lr, lr_d=lr_d, lr_g=lr_g, overrides=overrides,
                             quick=quick)
    out_dir = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out_dir.with_name(out_dir.name + "-runs")
    metric = label = None
    for vi, v in enumerate(variants):
        for k in range(seeds):
            cfg = dict(v.cfg)
            cfg["seed"] = int(v.cfg.get("seed", 0)) + k
            tag = ("ttur" if vi == 0 else "orig") + f"-seed{cfg['seed']}"
            say(f"compare: {v.name}, seed {cfg['seed']} -> {runs_dir / tag}")
            res = run_training(cfg, runs_dir / tag, resume=resume, progress=progress, train_fn=train_fn, say=say)
            v.runs.append(res)
            metric, label = res.metric, res.metric_label
    return write_report(out_dir, variants, metric, label, config=str(config), seconds=time.perf_counter() - t0,
                        runs_dir=runs_dir)


def write_report(out_dir: str | Path, variants: list[Variant], metric: str, label: str, *, config: str = "",
                 seconds: float = 0.0, runs_dir: Path | None = None) -> dict:
    """The comparison report from finished runs (each ``Variant.runs`` a list of TrainResult-like objects)."""
    aggs = {v.name: aggregate([r.records for r in v.runs], metric) for v in variants}
    rows = []
    for v in variants:
        a = aggs[v.name]
        rows.append({"variant": v.name, "lr_d": v.cfg["lr_d"], "lr_g": v.cfg["lr_g"], "d_steps": v.cfg.get("d_steps"),
                     "steps": v.cfg["steps"], "seeds": a["seeds"], "best_mean": a["best_mean"],
                     "best_std": a["best_std"], "best_step_mean": a.get("best_step_mean", math.nan),
                     "final_mean": a["final_mean"], "final_std": a["final_std"],
                     "stopped": [r.stopped for r in v.runs if r.stopped] or None})
    curves = [{"variant": v.name, "seed": v.cfg.get("seed", 0) + k, "step": rec["step"], "time": rec.get("time"),
               metric: rec[metric]}
              for v in variants for k, r in enumerate(v.runs) for rec in r.records if rec.get(metric) is not None]
    threads = training_threads(variants[0].cfg if variants else None)
    results = {"experiment": "compare", "config": config, "metric": metric, "label": label, "rows": rows,
               "curves": aggs, "seconds": seconds, "runs_dir": str(runs_dir) if runs_dir else None,
               "threads": threads}
    with Report(out_dir, f"TTUR vs one time-scale: {config}") as rep:
        rep.text(f"Config `{config}`; metric **{label}** (`{metric}`), lower is better. Runs in "
                 f"`{runs_dir}`.\n" if runs_dir else f"Config `{config}`; metric **{label}** (`{metric}`).\n")
        rep.text(threads_note(threads) + "\n")
        rep.table(["variant", "lr_d", "lr_g", "d_steps", "steps", "seeds", f"best {label}", "step of best",
                   f"final {label}"],
                  [[r["variant"], fmt(r["lr_d"]), fmt(r["lr_g"]), fmt(r["d_steps"]), fmt(r["steps"]), fmt(r["seeds"]),
                    fmt_pm(r["best_mean"], r["best_std"]), fmt(r["best_step_mean"]),
                    fmt_pm(r["final_mean"], r["final_std"])] for r in rows], caption="Mean ± std over seeds:")
        fin = [r for r in rows if math.isfinite(r["best_mean"])]
        if len(fin) == 2:
            w = min(fin, key=lambda r: r["best_mean"])
            rep.text(f"Lower best {label}: **{w['variant']}** ({fmt(w['best_mean'])} vs "
                     f"{fmt(max(fin, key=lambda r: r['best_mean'])['best_mean'])}).\n")
        rep.figure(plot_compare(aggs, label), "compare_metric.png",
                   f"{label} against steps and wall-clock time, mean ± std over seeds")
        rep.csv("compare.csv", rows)
        rep.csv("compare_curves.csv", curves)
        rep.text(f"Took {seconds:.1f} s.\n")
        rep.json("results.json", results)
    results["out_dir"] = str(out_dir)
    return results


def add_run_arguments(p: argparse.ArgumentParser, *, set_help: str, quick_help: str, resume_help: str) -> None:
    """The options an experiment that trains runs shares: --set, --quick, --runs-dir, --resume, --no-progress."""
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--runs-dir", default=None, help="where the training runs go (default: <out>-runs)")
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--no-progress", action="store_true")


def register(sub) -> None:
    p = sub.add_parser("compare", help="TTUR vs one time-scale for a training config (metric curves, table)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", default="quickstart",
                   help="TTUR config: bundled name (ttur configs) or YAML path (default quickstart)")
    p.add_argument("-o", "--out", default="reports/compare", help="report folder (reports/compare)")
    p.add_argument("--orig", default=None, help="the one-time-scale config (default: the '-orig' counterpart)")
    p.add_argument("--orig-lr", type=float, default=None, help="one time-scale: the same config with lr_d = lr_g = LR")
    p.add_argument("--lr-d", type=float, default=None, help="one-time-scale variant's lr_d (with --lr-g)")
    p.add_argument("--lr-g", type=float, default=None, help="one-time-scale variant's lr_g (with --lr-d)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per variant (the paper: 8 for images, 10 for text)")
    add_run_arguments(
        p, set_help="config override for both variants (repeatable), e.g. --set steps=5000 --set dataset=PATH",
        quick_help="300 steps, metric every 100 (quickstart: orig lr 2e-4)",
        resume_help="continue (or reuse) runs already in the runs folder")
    p.set_defaults(func=_main)


def _main(args) -> int:
    res = run(args.out, args.config, orig=args.orig, orig_lr=args.orig_lr, lr_d=args.lr_d, lr_g=args.lr_g,
              seeds=args.seeds, overrides=args.overrides, quick=args.quick, runs_dir=args.runs_dir,
              resume=args.resume, progress=not args.no_progress)
    for r in res["rows"]:
        print(f"{r['variant']:32s} best {res['label']} {fmt_pm(r['best_mean'], r['best_std'])}  "
              f"final {fmt_pm(r['final_mean'], r['final_std'])}  ({res['threads']} torch threads)")
    print(f"report: {res['out_dir']}/report.md ({res['seconds']:.1f} s, {res['threads']} torch threads)")
    return 0
