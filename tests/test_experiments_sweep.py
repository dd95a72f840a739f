"""The sweep experiment: successive halving with a stand-in trainer, and a tiny real run with resume."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import probe_extractor

from ttur.errors import ConfigError, NumericalError
from ttur.experiments import sweep

TINY = {"dataset": "shapes", "dataset_length": 256, "image_size": 32, "g_width": 4, "d_width": 4, "z_dim": 8,
        "batch_size": 8, "log_every": 2, "sample_every": 0, "checkpoint_every": 0, "device": "cpu",
        "fid_samples": 16, "fid_ref_samples": 32}


def test_budgets():
    assert sweep.budgets(100, 800) == [100, 200, 400, 800]
    assert sweep.budgets(100, 500) == [100, 200, 400, 500]
    assert sweep.budgets(10, 10) == [10]
    assert sweep.budgets(10, 100, eta=3) == [10, 30, 90, 100]
    with pytest.raises(ConfigError):
        sweep.budgets(0, 10)


def test_successive_halving_keeps_the_better_half():
    calls = []

    def evaluate(p, budget, rung):
        calls.append((p, budget))
        return p[0] * 10 + 1 / budget  # lower lr_d is better
    pairs = [(float(i), 1.0) for i in range(5)]
    sh = sweep.successive_halving(pairs, [1, 2, 4, 8], evaluate, say=lambda m: None)
    assert sh["best"] == (0.0, 1.0)
    assert [len(s) for s in sh["survivors"]] == [5, 3, 2, 1]
    assert len(calls) == 5 + 3 + 2 + 1
    assert len(sh["values"][(4.0, 1.0)]) == 1 and len(sh["values"][(0.0, 1.0)]) == 4
    # one survivor before the last budget (3 pairs, eta 3): it is trained on to every larger budget
    calls.clear()
    sh = sweep.successive_halving(pairs[:3], [1, 3, 9, 12], evaluate, eta=3, say=lambda m: None)
    assert [len(s) for s in sh["survivors"]] == [3, 1, 1, 1]
    assert calls[3:] == [((0.0, 1.0), 3), ((0.0, 1.0), 9), ((0.0, 1.0), 12)]
    assert len(sh["values"][(0.0, 1.0)]) == 4
    nan = sweep.successive_halving([(1.0, 1.0), (2.0, 1.0)], [1, 2], lambda p, b, k: math.nan if p[0] == 1 else 5.0,
                                   say=lambda m: None)
    assert nan["best"] == (2.0, 1.0) and nan["values"][(1.0, 1.0)] == [math.inf]


@dataclass
class _Res:
    final: float
    metric: str = "fid"
    metric_label: str = "FID"
    stopped: str | None = None
    records: list = field(default_factory=list)


def test_sweep_report_with_a_stand_in_trainer(tmp_path):
    seen = []

    def fake_train(cfg, out_dir, resume=False, progress=True, say=print):
        out_dir = Path(out_dir)
        seen.append((out_dir.name, cfg["steps"], resume))
        if cfg["lr_d"] > 5e-4:
            raise NumericalError("loss_d is nan")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(f"lr_d: {cfg['lr_d']}\nlr_g: {cfg['lr_g']}\n")
        (out_dir / "checkpoint.pt").write_text("x")
        v = abs(cfg["lr_d"] / cfg["lr_g"] - 3) * 10 + 100 / cfg["steps"]
        # a run already past the budget (a resumed sweep): its value at the budget counts, not the later one
        return _Res(final=-1.0, records=[{"step": cfg["steps"] - 1, "loss_d": 0.1}, {"step": cfg["steps"], "fid": v},
                                         {"step": cfg["steps"] + 5, "fid": -1.0}])

    res = sweep.run(tmp_path / "s", "quickstart", lr_d=[1e-4, 3e-4, 1e-3], lr_g=[1e-4, 3e-4], r=10, max_steps=40,
                    progress=False, train_fn=fake_train, say=lambda m: None,
                    overrides={"dataset": "shapes"})
    assert res["best"]["lr_d"] == 3e-4 and res["best"]["lr_g"] == 1e-4 and res["best"]["steps"] == 40
    assert res["budgets"] == [10, 20, 40]
    first = [s for s in seen if s[1] == 10]
    assert len(first) == 6 and not any(s[2] for s in first)
    assert all(s[2] for s in seen if s[1] > 10)  # later budgets resume
    assert len(seen) == 6 + 3 + 2
    assert res["train_steps"] == 3 * 10 + 1 * 20 + 2 * 40  # dropped at 10, 20; the last two at 40
    rows = {(r["lr_d"], r["lr_g"]): r for r in res["rows"]}
    assert rows[(1e-3, 1e-4)]["status"] == "diverged" and rows[(1e-3, 1e-4)]["last"] == math.inf
    out = tmp_path / "s"
    for name in ("report.md", "sweep_heatmap.png", "sweep_rungs.png", "sweep.csv", "results.json"):
        assert (out / name).stat().st_size > 0, name
    assert "Best pair: lr_d = 0.0003, lr_g = 0.0001" in (out / "report.md").read_text()
    assert json.loads((out / "results.json").read_text())["best"]["value"] == pytest.approx(2.5)


@pytest.mark.usefixtures("one_thread")
def test_sweep_end_to_end(tmp_path):
    res = sweep.run(tmp_path / "s", "quickstart", lr_d=[1e-4, 1e-3], lr_g=[3e-4], r=2, max_steps=4,
                    overrides={**TINY, "fid_features": probe_extractor()}, progress=False, say=lambda m: None)
    assert res["metric"] == "fd_probe" and res["budgets"] == [2, 4]
    best = res["best"]
    assert best["steps"] == 4 and math.isfinite(best["value"])
    d = tmp_path / "s-runs" / sweep.run_dir_name(best["lr_d"], best["lr_g"])
    recs = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if "fd_probe" in r] == [2, 4]  # resumed from 2 to 4 steps
    assert (tmp_path / "s" / "sweep_heatmap.png").stat().st_size > 0


def test_a_signal_stops_the_sweep(tmp_path):
    def stopped_train(cfg, out_dir, resume=False, progress=True, say=print):
        return _Res(final=1.0, stopped="SIGTERM")

    with pytest.raises(KeyboardInterrupt):
        sweep.run(tmp_path / "s", "quickstart", lr_d=[1e-4, 3e-4], lr_g=[1e-4], r=2, max_steps=4, progress=False,
                  train_fn=stopped_train, say=lambda m: None)
    assert not (tmp_path / "s").exists()


@pytest.mark.usefixtures("one_thread")
def test_sweep_jobs_runs_a_budget_in_processes(tmp_path):
    over = {**TINY, "fid_features": "shapes"}
    res = sweep.run(tmp_path / "s", "quickstart", lr_d=[1e-4, 1e-3], lr_g=[3e-4], r=2, max_steps=4, jobs=2,
                    overrides=over, progress=False, say=lambda m: None)
    assert res["jobs"] == 2 and res["threads"] == 1 and res["budgets"] == [2, 4]
    assert res["metric"] == "fd_shapes" and math.isfinite(res["best"]["value"]) and res["best"]["steps"] == 4
    d = tmp_path / "s-runs" / sweep.run_dir_name(res["best"]["lr_d"], res["best"]["lr_g"])
    recs = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if "fd_shapes" in r] == [2, 4]  # resumed from 2 to 4 steps in a worker
    # the runs went through worker processes: each wrote its messages to <run>.log beside its folder
    assert all((d.parent / f"{sweep.run_dir_name(a, 3e-4)}.log").is_file() for a in (1e-4, 1e-3))
