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

from ..errors import ConfigError, NumericalError
from ..train.checkpoint import FILENAME
from .report import Report, fmt, fmt_pm, mean_std, threads_note, training_threads, use_agg
from .significance import bootstrap_ci, permutation_pvalue

#: a seed "collapsed" when its last metric value is above this multiple of its best one (see the module notes)
COLLAPSE_FACTOR = 2.0

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
    runs: list = field(default_factory=list)  # TrainResult (or RunOutcome) per seed
    tag: str = ""  # the run folders' prefix: <tag>-seed<k>


@dataclass
class RunOutcome:
    """What the report needs of one finished (or diverged) training run; picklable across processes."""

    out_dir: Path
    records: list
    metric: str | None = None
    metric_label: str | None = None
    stopped: str | None = None
    diverged: str | None = None  # the message when the losses became NaN or infinite
    step: int = 0


def make_variants(config, *, orig=None, orig_lr=None, lr_d: float | None = None,
                  lr_g: float | None = None, overrides=None, quick: bool = False) -> list[Variant]:
    """The TTUR variant and its one-time-scale counterpart(s), with ``overrides`` applied to all.

    ``orig_lr`` may be one rate or several (one one-time-scale arm each, lr_d = lr_g = the rate)."""
    from ..train import load_config

    ov = _overrides_dict(overrides)
    plain = {k: v for k, v in ov.items() if _plain(v)}
    base = load_config(config, plain)
    q = quick_overrides(base) if quick else {}
    ttur = load_config(config, {**q, **plain}) | _objects(ov)
    rates: list[tuple[float, float]] = []
    orig_lrs = [] if orig_lr is None else [orig_lr] if isinstance(orig_lr, int | float) else list(orig_lr)
    if lr_d is not None or lr_g is not None:
        if orig_lrs:
            raise ConfigError("give --orig-lr or --lr-d/--lr-g, not both")
        a = lr_d if lr_d is not None else lr_g
        b = lr_g if lr_g is not None else lr_d
        rates.append((float(a), float(b)))
    rates += [(float(r), float(r)) for r in orig_lrs]
    if orig is None and not rates:
        orig = orig_counterpart(config)
        if orig is None:
            raise ConfigError(f"{config}: no '-orig' counterpart; give --orig CONFIG or --orig-lr LR")
    src = orig if orig is not None else config
    ones = []
    for r in rates or [None]:
        o_ov = {**q, **plain}
        if r is not None:
            o_ov.update(lr_d=r[0], lr_g=r[1])
        ones.append(load_config(src, o_ov) | _objects(ov))
    for one in ones:
        if ttur["lr_d"] == one["lr_d"] and ttur["lr_g"] == one["lr_g"] and ttur.get("d_steps") == one.get("d_steps"):
            raise ConfigError("the two variants have the same learning rates: nothing to compare")
    out = [Variant(_label("TTUR", ttur), ttur, tag="ttur")]
    for one in ones:
        tag = "orig" if len(ones) == 1 else ("orig-lr" + f"{one['lr_d']:g}" if one["lr_d"] == one["lr_g"]
                                             else f"orig-lrd{one['lr_d']:g}-lrg{one['lr_g']:g}")
        out.append(Variant(_label("orig", one), one, tag=tag))
    if len({v.name for v in out}) < len(out):
        raise ConfigError("two arms of the comparison have the same learning rates")
    return out


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
    from ..train.logs import read_records
    from ..train.loop import DIVERGED

    train_fn = train_fn or train
    marker = Path(run_dir) / DIVERGED
    if resume and marker.is_file():  # diverged before: the same data and seed would diverge again
        return _diverged(run_dir, marker.read_text(), read_records)
    cont = resume and (run_dir / FILENAME).is_file()
    try:
        res = train_fn(cfg, run_dir, resume=cont, progress=progress, say=say)
    except NumericalError as e:
        say(f"compare: {run_dir}: diverged ({e})")
        return _diverged(run_dir, str(e), read_records)
    stop_if_signalled(res)
    return res


def _diverged(run_dir, message: str, read_records) -> RunOutcome:
    import json

    try:
        message = json.loads(message)["message"]
    except (ValueError, KeyError, TypeError):
        pass
    recs = read_records(Path(run_dir) / "metrics.jsonl")
    return RunOutcome(Path(run_dir), recs, diverged=message.strip(), step=max((r.get("step", 0) for r in recs),
                                                                               default=0))


def _job(cfg: dict, run_dir: str, resume: bool) -> RunOutcome:
    """One run in a worker process (``--jobs``): no progress bar, the run's messages in its folder's log."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = run_dir.parent / f"{run_dir.name}.log"
    with open(log, "a") as fh:
        def say(msg):
            print(msg, file=fh, flush=True)

        res = run_training(cfg, run_dir, resume=resume, progress=False, say=say)
    if isinstance(res, RunOutcome):
        return res
    return RunOutcome(Path(res.out_dir), list(res.records), res.metric, res.metric_label, res.stopped, None,
                      int(res.step))


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
                "oscillation": [], "oscillation_mean": math.nan, "oscillation_std": math.nan, "seeds": 0}
    common = sorted(set.intersection(*[set(c[0].tolist()) for c in curves]))
    vals = np.array([[c[2][list(c[0]).index(s)] for s in common] for c in curves])
    times = np.array([[c[1][list(c[0]).index(s)] for s in common] for c in curves])
    best, best_step, final, osc = [], [], [], []
    for s, _t, v in curves:
        ok = np.isfinite(v)
        best.append(float(v[ok].min()) if ok.any() else math.nan)
        best_step.append(float(s[ok][np.argmin(v[ok])]) if ok.any() else math.nan)
        final.append(float(v[-1]))
        osc.append(oscillation(v))
    with np.errstate(invalid="ignore"):
        std = vals.std(0, ddof=1) if len(curves) > 1 else np.full(len(common), np.nan)
    bm, bs = mean_std(best)
    fm, fs = mean_std(final)
    om, os_ = mean_std(osc)
    return {"steps": common, "time": np.nanmean(times, 0).tolist() if common else [],
            "mean": vals.mean(0).tolist(), "std": std.tolist(), "best": best, "best_step": best_step,
            "final": final, "best_mean": bm, "best_std": bs, "final_mean": fm, "final_std": fs,
            "oscillation": osc, "oscillation_mean": om, "oscillation_std": os_,
            "best_step_mean": mean_std(best_step)[0], "seeds": len(curves)}


def oscillation(values) -> float:
    """How much a seed's metric goes up again: the mean rise between consecutive evaluations (falls count 0),
    so a curve that only falls scores 0, whatever its level (NaN with fewer than two finite values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan
    return float(np.clip(np.diff(v), 0, None).mean())


def plot_compare(aggs: dict[str, dict], label: str, title: str | None = None):
    plt = use_agg()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for (name, a), c in zip(aggs.items(), ("C0", "C3", "C2", "C1", "C4", "C5", "C6"), strict=False):
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
def run(out_dir: str | Path, config="quickstart", *, orig=None, orig_lr=None,
        lr_d: float | None = None, lr_g: float | None = None, seeds: int = 1, overrides=None, quick: bool = False,
        runs_dir: str | Path | None = None, resume: bool = False, progress: bool = True, jobs: int = 1,
        train_fn: Callable | None = None, say=print) -> dict:
    """Train every arm for ``seeds`` seeds and write the comparison report; returns its numbers.

    ``jobs`` > 1 trains that many runs at once, each in its own process with one torch thread (unless
    the config sets ``threads``); the runs are the same as one after another with that thread count."""
    if seeds < 1:
        raise ConfigError(f"seeds: must be at least 1, got {seeds}")
    if jobs < 1:
        raise ConfigError(f"jobs: must be at least 1, got {jobs}")
    if quick and config == "quickstart" and orig is None and orig_lr is None and lr_d is None and lr_g is None:
        orig_lr = 2e-4  # quickstart is TTUR lr_d 2e-4, lr_g 5e-4: one time-scale at the discriminator's rate
    t0 = time.perf_counter()
    if jobs > 1:
        ov = _overrides_dict(overrides)
        ov.setdefault("threads", 1)
        overrides = ov
    variants = make_variants(config, orig=orig, orig_lr=orig_lr, lr_d=lr_d, lr_g=lr_g, overrides=overrides,
                             quick=quick)
    out_dir = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out_dir.with_name(out_dir.name + "-runs")
    todo = []  # seed-major, so that a stopped experiment has every arm at the same number of seeds
    for k in range(seeds):
        for vi, v in enumerate(variants):
            cfg = dict(v.cfg)
            cfg["seed"] = int(v.cfg.get("seed", 0)) + k
            todo.append((vi, k, cfg, runs_dir / f"{v.tag}-seed{cfg['seed']}"))
    for v in variants:
        v.runs = [None] * seeds
    if jobs == 1 or train_fn is not None or len(todo) == 1:
        for vi, k, cfg, d in todo:
            say(f"compare: {variants[vi].name}, seed {cfg['seed']} -> {d}")
            variants[vi].runs[k] = run_training(cfg, d, resume=resume, progress=progress, train_fn=train_fn, say=say)
    else:
        _run_parallel(todo, variants, jobs, resume, progress, say)
    metric = label = None
    for v in variants:
        for r in v.runs:
            if getattr(r, "metric", None) and metric is None:
                metric, label = r.metric, r.metric_label
    return write_report(out_dir, variants, metric or "metric", label or "metric", config=str(config),
                        seconds=time.perf_counter() - t0, runs_dir=runs_dir, jobs=jobs)


def _run_parallel(todo, variants, jobs: int, resume: bool, progress: bool, say) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    say(f"compare: {len(todo)} runs, {jobs} at a time (each run's messages in <run folder>.log)")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool, \
            tqdm(total=len(todo), unit="run", desc="compare", disable=not progress, dynamic_ncols=True) as bar:
        futs = {pool.submit(_job, cfg, str(d), resume): (vi, k, cfg, d) for vi, k, cfg, d in todo}
        for f in as_completed(futs):
            vi, k, cfg, d = futs[f]
            res = f.result()
            variants[vi].runs[k] = res
            vals = [r[res.metric] for r in res.records if res.metric and r.get(res.metric) is not None]
            what = (f"diverged at step {res.step}" if res.diverged else
                    f"best {fmt(min(vals))}, final {fmt(vals[-1])}" if vals else "no metric")
            bar.update(1)
            say(f"compare: {variants[vi].name}, seed {cfg['seed']}: {what} ({d})")


# ----------------------------------------------------------------------------------------------
# outcome of each seed, and the differences between arms
# ----------------------------------------------------------------------------------------------
def seed_status(run, metric: str, collapse_factor: float = COLLAPSE_FACTOR) -> str:
    """``diverged`` (the losses or the metric became NaN/inf), ``collapsed`` (the last metric value is above
    ``collapse_factor`` times the seed's best: the run lost most of what it had reached and did not get it
    back), or ``ok``."""
    if getattr(run, "diverged", None):
        return "diverged"
    _, _, v = curve(run.records, metric)
    if v.size == 0:
        return "ok"
    if not np.all(np.isfinite(v)):
        return "diverged"
    best = float(v.min())
    return "collapsed" if best > 0 and v[-1] > collapse_factor * best else "ok"


def monitoring_cost(run) -> tuple[float, float]:
    """(seconds spent evaluating the metric, the run's wall time in seconds) from its records."""
    recs = run.records
    if not recs:
        return math.nan, math.nan
    total = max(float(r.get("time") or 0.0) for r in recs)
    spent = sum(float(r.get("eval_s") or 0.0) for r in recs)
    has = any("eval_s" in r for r in recs)
    return (spent if has else math.nan), total


def differences(aggs: dict[str, dict], statuses: dict[str, list[str]], reference: str) -> list[dict]:
    """Each arm against ``reference`` (TTUR): difference of mean best and of mean final metric (reference
    minus arm; negative favours the reference), its 95% bootstrap interval and permutation p-value. The
    final metric counts the seeds that did not diverge."""
    out = []
    ra = aggs[reference]
    for name, a in aggs.items():
        if name == reference:
            continue
        for what in ("best", "final", "oscillation"):
            x, y = ra[what], a[what]
            if what == "final":
                x = [v for v, s in zip(x, statuses[reference], strict=False) if s != "diverged"]
                y = [v for v, s in zip(y, statuses[name], strict=False) if s != "diverged"]
            d, lo, hi = bootstrap_ci(x, y)
            out.append({"arm": name, "of": what, "difference": d, "ci_low": lo, "ci_high": hi,
                        "p_value": permutation_pvalue(x, y), "n_reference": len(_fin(x)), "n_arm": len(_fin(y))})
    return out


def _fin(x) -> list[float]:
    return [v for v in x if v is not None and math.isfinite(v)]


def _resolved(d: dict) -> int:
    """-1 when the interval lies below 0 and p < 0.05 (the reference is lower), 1 above, 0 otherwise."""
    if d["p_value"] < 0.05:
        if d["ci_high"] < 0:
            return -1
        if d["ci_low"] > 0:
            return 1
    return 0


def verdict(diffs: list[dict], reference: str, label: str) -> list[str]:
    """One sentence per arm, saying what the best-metric difference supports (interval and p-value)."""
    lines = []
    for d in diffs:
        if d["of"] not in ("best", "oscillation"):
            continue
        if not all(math.isfinite(d[k]) for k in ("difference", "ci_low", "ci_high")):
            if d["of"] == "best":
                lines.append(f"{reference} vs {d['arm']}: no finite values to compare.")
            continue
        side = _resolved(d)
        if d["of"] == "oscillation":
            span = f"{fmt(d['difference'])} [{fmt(d['ci_low'])}, {fmt(d['ci_high'])}], p = {fmt(d['p_value'], 2)}"
            lines.append({-1: f"{reference} oscillates less than {d['arm']} ({span}).",
                          1: f"{reference} oscillates more than {d['arm']} ({span}).",
                          0: f"No difference in oscillation from {d['arm']} resolved ({span})."}[side])
            continue
        span = f"{fmt(d['difference'])} [95% CI {fmt(d['ci_low'])}, {fmt(d['ci_high'])}], p = {fmt(d['p_value'], 2)}"
        lines.append({-1: f"**{reference}** reaches a lower best {label} than {d['arm']}: {span}.",
                      1: f"**{d['arm']}** reaches a lower best {label} than {reference}: difference {span}.",
                      0: f"{reference} vs {d['arm']}: no difference in best {label} resolved at "
                         f"{d['n_reference']} + {d['n_arm']} seeds ({span})."}[side])
    return lines


def write_report(out_dir: str | Path, variants: list[Variant], metric: str, label: str, *, config: str = "",
                 seconds: float = 0.0, runs_dir: Path | None = None, jobs: int = 1) -> dict:
    """The comparison report from finished runs (each ``Variant.runs`` a list of TrainResult-like objects)."""
    aggs = {v.name: aggregate([r.records for r in v.runs], metric) for v in variants}
    statuses = {v.name: [seed_status(r, metric) for r in v.runs] for v in variants}
    rows = []
    for v in variants:
        a = aggs[v.name]
        costs = [monitoring_cost(r) for r in v.runs]
        spent = sum(c[0] for c in costs if math.isfinite(c[0]))
        total = sum(c[1] for c in costs if math.isfinite(c[0]) and math.isfinite(c[1]))
        wall = mean_std([c[1] for c in costs])
        rows.append({"variant": v.name, "lr_d": v.cfg["lr_d"], "lr_g": v.cfg["lr_g"], "d_steps": v.cfg.get("d_steps"),
                     "steps": v.cfg["steps"], "seeds": len(v.runs), "best_mean": a["best_mean"],
                     "best_std": a["best_std"], "best_step_mean": a.get("best_step_mean", math.nan),
                     "final_mean": a["final_mean"], "final_std": a["final_std"],
                     "oscillation_mean": a["oscillation_mean"], "oscillation_std": a["oscillation_std"],
                     "diverged": statuses[v.name].count("diverged"), "collapsed": statuses[v.name].count("collapsed"),
                     "seed_status": statuses[v.name], "run_seconds_mean": wall[0],
                     "monitoring_fraction": spent / total if total > 0 else math.nan,
                     "stopped": [r.stopped for r in v.runs if getattr(r, "stopped", None)] or None})
    ref = variants[0].name
    diffs = differences(aggs, statuses, ref) if len(variants) > 1 else []
    says = verdict(diffs, ref, label)
    curves = [{"variant": v.name, "seed": v.cfg.get("seed", 0) + k, "step": rec["step"], "time": rec.get("time"),
               metric: rec[metric]}
              for v in variants for k, r in enumerate(v.runs) for rec in r.records if rec.get(metric) is not None]
    threads = training_threads(variants[0].cfg if variants else None)
    results = {"experiment": "compare", "config": config, "metric": metric, "label": label, "rows": rows,
               "curves": aggs, "differences": diffs, "verdict": says, "collapse_factor": COLLAPSE_FACTOR,
               "seconds": seconds, "runs_dir": str(runs_dir) if runs_dir else None, "threads": threads, "jobs": jobs}
    with Report(out_dir, f"TTUR vs one time-scale: {config}") as rep:
        rep.text(f"Config `{config}`; metric **{label}** (`{metric}`), lower is better. Runs in "
                 f"`{runs_dir}`.\n" if runs_dir else f"Config `{config}`; metric **{label}** (`{metric}`).\n")
        rep.text(threads_note(threads) + (f"; {jobs} runs at a time" if jobs > 1 else "") + "\n")
        rep.table(["variant", "lr_d", "lr_g", "d_steps", "steps", "seeds", f"best {label}", "step of best",
                   f"final {label}", "oscillation", "diverged", "collapsed", "min per run", "monitoring"],
                  [[r["variant"], fmt(r["lr_d"]), fmt(r["lr_g"]), fmt(r["d_steps"]), fmt(r["steps"]), fmt(r["seeds"]),
                    fmt_pm(r["best_mean"], r["best_std"]), fmt(r["best_step_mean"]),
                    fmt_pm(r["final_mean"], r["final_std"]), fmt_pm(r["oscillation_mean"], r["oscillation_std"]),
                    fmt(r["diverged"]), fmt(r["collapsed"]),
                    fmt(r["run_seconds_mean"] / 60, 3),
                    "—" if not math.isfinite(r["monitoring_fraction"]) else f"{100 * r['monitoring_fraction']:.1f}%"]
                   for r in rows], caption="Mean ± std over seeds:")
        rep.text(f"*oscillation*: the mean rise of {label} between consecutive evaluations (falls count 0; a curve "
                 "that only falls scores 0). "
                 f"*diverged*: the losses or the metric became NaN or infinite (the run stops; its best is counted, "
                 f"its final is not). *collapsed*: the last {label} is above {COLLAPSE_FACTOR:g}x the seed's best "
                 "(it lost most of what it reached and did not recover). *monitoring*: the share of the runs' "
                 "wall-clock time spent computing the metric. *min per run*: wall-clock minutes of one run "
                 "(with --jobs, runs share the cores).\n")
        if diffs:
            rep.table(["arm", "of", f"{ref} − arm", "95% CI (bootstrap over seeds)", "permutation p", "seeds"],
                      [[d["arm"], d["of"], fmt(d["difference"]), f"[{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]",
                        fmt(d["p_value"], 2), f"{d['n_reference']} + {d['n_arm']}"] for d in diffs],
                      caption=f"Differences in mean {label} ({ref} minus the arm: negative favours {ref}); 10,000 "
                              "bootstrap resamples of the seeds of each arm; two-sided permutation test of the "
                              "difference of means:")
            rep.text("**Verdict.** " + " ".join(says) + "\n")
        rep.figure(plot_compare(aggs, label), "compare_metric.png",
                   f"{label} against steps and wall-clock time, mean ± std over seeds")
        rep.csv("compare.csv", rows)
        rep.csv("compare_curves.csv", curves)
        if diffs:
            rep.csv("compare_differences.csv", diffs)
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
    p.add_argument("--orig-lr", type=float, nargs="+", default=None, metavar="LR",
                   help="one time-scale: the same config with lr_d = lr_g = LR (several rates: one arm each)")
    p.add_argument("--lr-d", type=float, default=None, help="one-time-scale variant's lr_d (with --lr-g)")
    p.add_argument("--lr-g", type=float, default=None, help="one-time-scale variant's lr_g (with --lr-d)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per variant (the paper: 8 for images, 10 for text)")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once, each in its own process with one torch thread (1)")
    p.add_argument("--device", default=None, help="override every run's device (cpu, cuda, cuda:1)")
    add_run_arguments(
        p, set_help="config override for both variants (repeatable), e.g. --set steps=5000 --set dataset=PATH",
        quick_help="300 steps, metric every 100 (quickstart: orig lr 2e-4)",
        resume_help="continue (or reuse) runs already in the runs folder")
    p.set_defaults(func=_main)


def _main(args) -> int:
    ov = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    orig_lr = args.orig_lr[0] if args.orig_lr and len(args.orig_lr) == 1 else args.orig_lr
    res = run(args.out, args.config, orig=args.orig, orig_lr=orig_lr, lr_d=args.lr_d, lr_g=args.lr_g,
              seeds=args.seeds, overrides=ov, quick=args.quick, runs_dir=args.runs_dir,
              resume=args.resume, progress=not args.no_progress, jobs=args.jobs)
    for r in res["rows"]:
        print(f"{r['variant']:32s} best {res['label']} {fmt_pm(r['best_mean'], r['best_std'])}  "
              f"final {fmt_pm(r['final_mean'], r['final_std'])}  diverged {r['diverged']}, collapsed "
              f"{r['collapsed']} of {r['seeds']}  ({res['threads']} torch threads)")
    for line in res.get("verdict", []):
        print(line.replace("**", ""))
    print(f"report: {res['out_dir']}/report.md ({res['seconds']:.1f} s, {res['threads']} torch threads)")
    return 0
