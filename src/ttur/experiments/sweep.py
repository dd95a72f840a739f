"""``ttur experiment sweep``: search (lr_d, lr_g) pairs by successive halving on the early metric.

Every pair of the grid ``--lr-d × --lr-g`` trains for ``r`` steps; the better half (by the metric
at that step: FID, FD on small features, or a text task's JSD; lower is better) is resumed to
``2r`` steps, the better half of those to ``4r``, and so on up to ``--max-steps`` (at least one pair
goes on at each budget: a last survivor is trained on to the largest budget). Bad runs cost ``r``
steps instead of a full training. Runs that diverge (NaN losses) rank last. The report has the best
pair, a heat map of the metric over the grid
(``sweep_heatmap.png``: the metric of every pair at ``r`` steps, survivors annotated with their
value at the last budget they reached), the metric against the budget for every pair
(``sweep_rungs.png``), and every number in sweep.csv / results.json.

The runs live in ``<out>-runs/lrd<lr_d>_lrg<lr_g>/`` and are resumed through the training API
(``train(load_config(run/"config.yaml", ["steps=2r"]), run, resume=True)``): a schedule such as
``lr_decay`` that depends on ``steps`` is re-planned at each resume (the runs are made with
``lr_decay_extend: replan``; a plain ``ttur train --resume`` continues a decay instead).

Runtime: ``--quick`` (quickstart config, 3 × 2 pairs, r = 75, up to 300 steps: 975 training steps
and 11 evaluations of FD on the shapes features) takes 3-6 minutes on two CPU cores. A full sweep
trains each pair to the budget at which it is dropped: with 4 × 4 pairs of DCGAN CIFAR-10, r = 5k
and max 40k steps, 16×5k + 8×5k + 4×10k + 2×20k = 200k steps in all (a full grid: 640k),
roughly 3-6 GPU hours on one modern GPU with FID on 10k samples per evaluation.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, NumericalError
from ..train.checkpoint import FILENAME
from .compare import _objects, _overrides_dict, _plain, add_run_arguments, quick_overrides, stop_if_signalled
from .report import Report, fmt, threads_note, training_threads, use_agg

QUICK = {"lr_d": [3e-5, 1e-4, 3e-4], "lr_g": [1e-4, 3e-4], "r": 75, "max_steps": 300}
QUICK_OVERRIDES = {"sample_every": 0, "checkpoint_every": 0, "log_every": 25}
QUICK_IMAGE_OVERRIDES = {"fid_samples": 500, "fid_ref_samples": 1000}


def budgets(r: int, max_steps: int, eta: int = 2) -> list[int]:
    """r, eta·r, eta²·r, ... up to max_steps (max_steps itself is the last budget when not a multiple)."""
    if r < 1 or max_steps < r or eta < 2:
        raise ConfigError(f"sweep: need 1 <= r <= max_steps and eta >= 2 (got r={r}, max_steps={max_steps}, "
                          f"eta={eta})")
    out = [r]
    while out[-1] < max_steps:
        out.append(min(out[-1] * eta, max_steps))
    return out


def run_dir_name(lr_d: float, lr_g: float) -> str:
    return f"lrd{lr_d:g}_lrg{lr_g:g}"


def successive_halving(pairs: Sequence[tuple[float, float]], steps: Sequence[int],
                       evaluate: Callable[[tuple[float, float], int, int], float], eta: int = 2,
                       say=print, evaluate_many: Callable | None = None) -> dict:
    """Generic successive halving: ``evaluate(pair, budget, rung) -> value`` (lower is better; NaN/inf worst),
    or ``evaluate_many(pairs, budget, rung) -> [value per pair]`` for a whole rung at once (parallel runs).

    Returns ``{"values": {pair: [value per rung reached]}, "survivors": [pairs per rung], "best": pair}``.
    """
    alive = list(pairs)
    values: dict[tuple[float, float], list[float]] = {p: [] for p in pairs}
    survivors = []
    for k, b in enumerate(steps):
        survivors.append(list(alive))
        got = evaluate_many(alive, b, k) if evaluate_many is not None else [evaluate(p, b, k) for p in alive]
        for p, v in zip(alive, got, strict=True):
            values[p].append(float(v) if v is not None and math.isfinite(v) else math.inf)
        ranked = sorted(alive, key=lambda p: values[p][-1])
        say(f"sweep: {b} steps: " + ", ".join(f"({p[0]:g}, {p[1]:g}) {fmt(values[p][-1])}" for p in ranked))
        if k == len(steps) - 1:
            alive = ranked[:1]
            break
        # at least one goes on: a last survivor is trained on to the largest budget, where it is reported
        alive = ranked[: max(1, math.ceil(len(ranked) / eta))]
    return {"values": values, "survivors": survivors, "best": alive[0]}


def run(out_dir: str | Path, config="quickstart", *, lr_d: Sequence[float] | None = None,
        lr_g: Sequence[float] | None = None, r: int | None = None, max_steps: int | None = None, eta: int = 2,
        overrides=None, quick: bool = False, runs_dir: str | Path | None = None, resume: bool = False,
        progress: bool = True, jobs: int = 1, train_fn: Callable | None = None, say=print) -> dict:
    """Run the sweep and write its report; returns its numbers (also in results.json).

    ``jobs`` > 1 trains the runs of a budget that many at a time, each in its own process with one torch
    thread (unless the config sets ``threads``)."""
    from ..train import load_config, train

    parallel = jobs > 1 and train_fn is None  # an injected train_fn runs here, in this process
    train_fn = train_fn or train
    t0 = time.perf_counter()
    if jobs < 1:
        raise ConfigError(f"jobs: must be at least 1, got {jobs}")
    ov = _overrides_dict(overrides)
    if jobs > 1:
        ov.setdefault("threads", 1)
    plain = {k: v for k, v in ov.items() if _plain(v)}
    objs = _objects(ov)
    base = load_config(config, plain)
    if quick:
        plain = {**quick_overrides(base), **plain}
        lr_d = lr_d or QUICK["lr_d"]
        lr_g = lr_g or QUICK["lr_g"]
        r = r or QUICK["r"]
        max_steps = max_steps or QUICK["max_steps"]
    lr_d = [float(v) for v in (lr_d or [base["lr_d"] / 3, base["lr_d"], base["lr_d"] * 3])]
    lr_g = [float(v) for v in (lr_g or [base["lr_g"] / 3, base["lr_g"], base["lr_g"] * 3])]
    max_steps = int(max_steps or base["steps"])
    r = int(r or max(1, max_steps // 8))
    steps = budgets(r, max_steps, eta)
    plain.setdefault("lr_decay_extend", "replan")  # each rung re-plans the decay over its budget
    if "fid_every" not in plain or int(plain["fid_every"]) <= 0:
        plain["fid_every"] = r if base.get("fid_every", 0) <= 0 or r % base["fid_every"] else base["fid_every"]
    out_dir = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out_dir.with_name(out_dir.name + "-runs")
    pairs = list(itertools.product(lr_d, lr_g))
    info: dict = {"metric": None, "label": None, "stopped": {}}

    def run_cfg(pair: tuple[float, float], budget: int, rung: int) -> tuple[dict, Path, bool]:
        d = runs_dir / run_dir_name(*pair)
        cont = rung > 0 or (resume and (d / FILENAME).is_file())
        if cont:
            cfg = load_config(d / "config.yaml", {"steps": budget}) | objs
        else:
            cfg = load_config(config, {**plain, "lr_d": pair[0], "lr_g": pair[1], "steps": budget}) | objs
        return cfg, d, cont

    def value_at(res, budget: int) -> float:
        at = [r[res.metric] for r in res.records if r.get(res.metric) is not None and r.get("step", 0) <= budget]
        v = at[-1] if at else getattr(res, "final", None)  # (a resumed sweep: the value at this budget, not later)
        return v if v is not None else math.inf

    def evaluate_many(alive, budget: int, rung: int) -> list[float]:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from .compare import _job

        todo = [run_cfg(p, budget, rung) for p in alive]
        say(f"sweep: {len(todo)} runs to {budget} steps, {jobs} at a time")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            outs = list(pool.map(_job, [c for c, _, _ in todo], [str(d) for _, d, _ in todo],
                                 [cont for _, _, cont in todo]))
        vals = []
        for pair, res in zip(alive, outs, strict=True):
            if res.diverged:
                say(f"sweep: ({pair[0]:g}, {pair[1]:g}) diverged: {res.diverged}")
                info["stopped"][pair] = "diverged"
                vals.append(math.inf)
                continue
            stop_if_signalled(res)
            info["metric"], info["label"] = res.metric, res.metric_label
            if res.stopped:
                info["stopped"][pair] = res.stopped
            vals.append(value_at(res, budget))
        return vals

    def evaluate(pair: tuple[float, float], budget: int, rung: int) -> float:
        cfg, d, cont = run_cfg(pair, budget, rung)
        try:
            res = train_fn(cfg, d, resume=cont, progress=progress, say=say)
        except NumericalError as e:
            say(f"sweep: ({pair[0]:g}, {pair[1]:g}) diverged: {e}")
            info["stopped"][pair] = "diverged"
            return math.inf
        stop_if_signalled(res)
        info["metric"], info["label"] = res.metric, res.metric_label
        if res.stopped:
            info["stopped"][pair] = res.stopped
        return value_at(res, budget)

    sh = successive_halving(pairs, steps, evaluate, eta=eta, say=say, evaluate_many=evaluate_many if parallel else None)
    metric, label = info["metric"] or "metric", info["label"] or "metric"
    rows = []
    for p in pairs:
        vals = sh["values"][p]
        rows.append({"lr_d": p[0], "lr_g": p[1], "ratio": p[0] / p[1], "rungs": len(vals),
                     "steps": steps[len(vals) - 1], **{f"{metric}@{steps[k]}": v for k, v in enumerate(vals)},
                     "last": vals[-1], "best": p == sh["best"], "status": info["stopped"].get(p)})
    best = sh["best"]
    results = {"experiment": "sweep", "config": str(config), "metric": metric, "label": label, "budgets": steps,
               "eta": eta, "best": {"lr_d": best[0], "lr_g": best[1], "value": sh["values"][best][-1],
                                    "steps": steps[len(sh["values"][best]) - 1]},
               "rows": rows, "lr_d": lr_d, "lr_g": lr_g, "runs_dir": str(runs_dir),
               "train_steps": int(sum(steps[len(v) - 1] for v in sh["values"].values())),
               "threads": training_threads({**base, **plain}), "jobs": jobs}
    results["seconds"] = time.perf_counter() - t0
    with Report(out_dir, f"Learning-rate sweep by successive halving: {config}") as rep:
        rep.text(f"Config `{config}`; metric **{label}** (`{metric}`, lower is better); {len(pairs)} pairs "
                 f"(lr_d ∈ {{{', '.join(f'{v:g}' for v in lr_d)}}}, lr_g ∈ {{{', '.join(f'{v:g}' for v in lr_g)}}}); "
                 f"budgets {', '.join(map(str, steps))} steps, the best 1/{eta} kept at each; "
                 f"{results['train_steps']} training steps in all (a full grid: {len(pairs) * steps[-1]}). "
                 f"Runs in `{runs_dir}`.\n")
        rep.text(threads_note(results["threads"]) + "\n")
        rep.text(f"**Best pair: lr_d = {best[0]:g}, lr_g = {best[1]:g}** ({label} {fmt(results['best']['value'])} "
                 f"at {results['best']['steps']} steps; lr_d/lr_g = {best[0] / best[1]:.3g}).\n")
        rows_sorted = sorted(rows, key=lambda x: (-x["rungs"], x["last"]))
        rep.table(["lr_d", "lr_g", "lr_d/lr_g", *[f"{label} @ {b}" for b in steps], "note"],
                  [[fmt(x["lr_d"]), fmt(x["lr_g"]), f"{x['ratio']:.3g}",
                    *[fmt(x.get(f"{metric}@{b}")) for b in steps],
                    ("**best**" if x["best"] else "") + (f" {x['status']}" if x["status"] else "")]
                   for x in rows_sorted])
        rep.figure(plot_heatmap(lr_d, lr_g, sh["values"], steps, best, label), "sweep_heatmap.png",
                   f"{label} at {steps[0]} steps over the grid; survivors: → value at their last budget")
        rep.figure(plot_rungs(sh["values"], steps, best, label), "sweep_rungs.png",
                   f"{label} against the training budget for every pair")
        rep.csv("sweep.csv", rows)
        rep.text(f"Took {results['seconds']:.1f} s.\n")
        rep.json("results.json", results)
    results["out_dir"] = str(out_dir)
    return results


def plot_heatmap(lr_d, lr_g, values: dict, steps, best, label: str):
    plt = use_agg()
    grid = np.array([[values[(d, g)][0] for g in lr_g] for d in lr_d], dtype=float)
    shown = np.where(np.isfinite(grid), grid, np.nan)
    fig, ax = plt.subplots(figsize=(1.6 * len(lr_g) + 2.5, 1.1 * len(lr_d) + 1.8))
    im = ax.imshow(shown, cmap="viridis_r", origin="lower", aspect="auto")
    fig.colorbar(im, ax=ax, label=f"{label} at {steps[0]} steps")
    for i, d in enumerate(lr_d):
        for j, g in enumerate(lr_g):
            v = values[(d, g)]
            txt = fmt(v[0], 3) if math.isfinite(v[0]) else "diverged"
            if len(v) > 1:
                txt += f"\n→ {fmt(v[-1], 3)} @{steps[len(v) - 1]}"
            light = math.isfinite(v[0]) and im.norm(v[0]) < 0.5  # viridis_r: low values are light
            ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                    color="red" if (d, g) == best else ("black" if light else "white"),
                    fontweight="bold" if (d, g) == best else None)
    ax.set_xticks(range(len(lr_g)), [f"{g:g}" for g in lr_g])
    ax.set_yticks(range(len(lr_d)), [f"{d:g}" for d in lr_d])
    ax.set(xlabel="lr_g", ylabel="lr_d", title=f"best: lr_d {best[0]:g}, lr_g {best[1]:g}")
    fig.tight_layout()
    return fig


def plot_rungs(values: dict, steps, best, label: str):
    plt = use_agg()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for p, v in values.items():
        x = steps[: len(v)]
        y = [u if math.isfinite(u) else np.nan for u in v]
        ax.plot(x, y, "o-", lw=2.2 if p == best else 0.9, label=f"{p[0]:g} / {p[1]:g}" if len(v) > 1 else None,
                color="C3" if p == best else None, alpha=1 if len(v) > 1 else 0.5)
    ax.set(xlabel="training steps (budget)", ylabel=label, title="successive halving (legend: lr_d / lr_g)")
    ax.set_xticks(steps)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def register(sub) -> None:
    p = sub.add_parser("sweep", help="(lr_d, lr_g) grid by successive halving on the early metric; heat map",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", default="quickstart", help="config: bundled name or YAML path (quickstart)")
    p.add_argument("-o", "--out", default="reports/sweep", help="report folder (reports/sweep)")
    p.add_argument("--lr-d", type=float, nargs="+", default=None, help="discriminator rates (lr_d × 1/3, 1, 3)")
    p.add_argument("--lr-g", type=float, nargs="+", default=None, help="generator rates (default: lr_g × 1/3, 1, 3)")
    p.add_argument("-r", "--r", dest="r", type=int, default=None, help="first budget in steps (default: max_steps/8)")
    p.add_argument("--max-steps", type=int, default=None, help="largest budget (default: the config's steps)")
    p.add_argument("--eta", type=int, default=2, help="keep the best 1/eta at each budget, which grows by eta (2)")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs of a budget trained at once, each in its own process with one torch thread (1)")
    p.add_argument("--device", default=None, help="override every run's device (cpu, cuda, cuda:1)")
    add_run_arguments(p, set_help="config override for every run (repeatable)",
                      quick_help="quickstart, 3 × 2 pairs, r = 75, up to 300 steps",
                      resume_help="continue runs already in the runs folder")
    p.set_defaults(func=_main)


def _main(args) -> int:
    res = run(args.out, args.config, lr_d=args.lr_d, lr_g=args.lr_g, r=args.r, max_steps=args.max_steps, eta=args.eta,
              overrides=list(args.overrides) + ([f"device={args.device}"] if args.device else []), quick=args.quick,
              runs_dir=args.runs_dir, resume=args.resume, progress=not args.no_progress, jobs=args.jobs)
    b = res["best"]
    print(f"best: lr_d {b['lr_d']:g}, lr_g {b['lr_g']:g}: {res['label']} {fmt(b['value'])} at {b['steps']} steps "
          f"({res['threads']} torch threads)")
    print(f"report: {res['out_dir']}/report.md ({res['seconds']:.1f} s, {res['threads']} torch threads)")
    return 0
