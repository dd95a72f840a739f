"""The compare experiment: aggregation over seeds on synthetic records, variants, a tiny end-to-end run."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import probe_extractor

from ttur.cli import main
from ttur.errors import ConfigError
from ttur.experiments import compare

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["dataset=shapes", "dataset_length=256", "image_size=32", "g_width=4", "d_width=4", "z_dim=8",
        "batch_size=8", "steps=4", "log_every=2", "sample_every=0", "checkpoint_every=0", "fid_every=4",
        "device=cpu", "fid_samples=16", "fid_ref_samples=32"]


def _records(values, metric="fid", every=100):
    out = []
    for i, v in enumerate(values):
        out.append({"step": (i + 1) * every - 50, "time": i * 10.0, "loss_d": 1.0})  # a log point without metric
        out.append({"step": (i + 1) * every, "time": i * 10.0 + 5, metric: v})
    return out


def test_aggregate_synthetic():
    a = compare.aggregate([_records([50, 30, 40]), _records([60, 20, 25])], "fid")
    assert a["steps"] == [100, 200, 300] and a["seeds"] == 2
    assert a["mean"] == pytest.approx([55, 25, 32.5])
    assert a["std"][0] == pytest.approx(math.sqrt(50))
    assert a["best"] == [30, 20] and a["best_step"] == [200, 200]
    assert a["final"] == [40, 25] and a["final_mean"] == pytest.approx(32.5)
    assert a["best_mean"] == pytest.approx(25) and a["best_std"] == pytest.approx(math.sqrt(50))
    assert a["time"] == pytest.approx([5, 15, 25])
    # a seed that stopped early: only the common steps are averaged, best/final per seed stay
    b = compare.aggregate([_records([50, 30, 40]), _records([45])], "fid")
    assert b["steps"] == [100] and b["final"] == [40, 45]
    one = compare.aggregate([_records([0.5, 0.4], metric="jsd4")], "jsd4")
    assert one["best_mean"] == 0.4 and math.isnan(one["best_std"]) and math.isnan(one["std"][0])
    assert compare.aggregate([[{"step": 1, "loss_d": 0}]], "fid")["seeds"] == 0


@dataclass
class _Res:
    records: list
    metric: str = "jsd4"
    metric_label: str = "JSD (4-gram)"
    stopped: str | None = None
    out_dir: Path = field(default_factory=Path)


def test_report_from_synthetic_text_runs(tmp_path):
    cfg = {"lr_d": 3e-4, "lr_g": 1e-4, "d_steps": 1, "steps": 300, "seed": 0}
    ttur = compare.Variant("TTUR", cfg, [_Res(_records([0.6, 0.4, 0.35], "jsd4")), _Res(_records([0.6, 0.45, 0.37],
                                                                                              "jsd4"))])
    orig = compare.Variant("orig", cfg | {"lr_d": 1e-4, "d_steps": 10},
                           [_Res(_records([0.7, 0.5, 0.38], "jsd4")), _Res(_records([0.7, 0.5, 0.4], "jsd4"))])
    res = compare.write_report(tmp_path / "c", [ttur, orig], "jsd4", "JSD (4-gram)", config="lang")
    md = (tmp_path / "c" / "report.md").read_text()
    assert "JSD (4-gram)" in md and "no difference in best JSD (4-gram) resolved at 2 + 2 seeds" in md
    assert "| orig | best | -0.03 | [" in md  # TTUR minus orig, mean best 0.36 - 0.39
    assert (tmp_path / "c" / "compare_metric.png").stat().st_size > 0
    rows = {r["variant"]: r for r in res["rows"]}
    assert rows["TTUR"]["best_mean"] == pytest.approx(0.36)
    assert rows["orig"]["final_mean"] == pytest.approx(0.39)
    lines = (tmp_path / "c" / "compare_curves.csv").read_text().splitlines()
    assert lines[0] == "variant,seed,step,time,jsd4" and len(lines) == 13


def test_variants():
    v = compare.make_variants("dcgan-cifar10-ttur", overrides=["dataset=shapes"])
    assert [x.cfg["lr_d"] for x in v] == [1e-4, 1e-4] and v[0].cfg["lr_g"] == 5e-4 and v[1].cfg["lr_g"] == 1e-4
    assert v[1].cfg["dataset"] == "shapes"
    v = compare.make_variants("quickstart", orig_lr=2e-4, quick=True)
    assert v[1].cfg["lr_d"] == v[1].cfg["lr_g"] == 2e-4 and v[0].cfg["steps"] == 300
    v = compare.make_variants("quickstart", lr_d=5e-5, lr_g=5e-5)
    assert v[1].name == "orig lr 5e-05"
    with pytest.raises(ConfigError, match="orig"):
        compare.make_variants("quickstart")
    with pytest.raises(ConfigError, match="same learning rates"):
        compare.make_variants("quickstart", lr_d=2e-4, lr_g=5e-4)


def test_compare_end_to_end(tmp_path):
    res = compare.run(tmp_path / "rep", "quickstart", orig_lr=3e-4, seeds=1,
                      overrides={**dict(o.split("=") for o in TINY), "fid_features": probe_extractor()},
                      progress=False, say=lambda m: None)
    rows = {r["variant"]: r for r in res["rows"]}
    assert set(rows) == {"TTUR lr_d 0.0002 lr_g 0.0005", "orig lr 0.0003"}
    for r in rows.values():
        assert r["seeds"] == 1 and math.isfinite(r["best_mean"]) and math.isfinite(r["final_mean"])
        assert r["best_mean"] <= r["final_mean"]
    assert res["metric"] == "fd_probe"
    runs = sorted(p.name for p in (tmp_path / "rep-runs").iterdir())
    assert runs == ["orig-seed0", "ttur-seed0"]
    data = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert data["curves"]["orig lr 0.0003"]["steps"] == [4]
    # an existing run is not overwritten
    with pytest.raises(ConfigError, match="holds a run"):
        compare.run(tmp_path / "rep", "quickstart", orig_lr=3e-4, overrides={**dict(o.split("=") for o in TINY),
                    "fid_features": probe_extractor()}, progress=False, say=lambda m: None)


def test_compare_cli_errors(capsys):
    assert main(["experiment", "compare", "quickstart", "--no-progress"]) == 2
    assert "counterpart" in capsys.readouterr().err


def test_significance_known_values():
    from ttur.experiments.significance import bootstrap_ci, permutation_pvalue

    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [11.0, 12.0, 13.0, 14.0, 15.0]
    d, lo, hi = bootstrap_ci(a, b)
    assert d == -10 and -12.5 < lo < -10 < hi < -7.5
    # complete separation of 5 + 5 seeds: only the observed split and its mirror are as extreme, 2 / C(10, 5)
    assert permutation_pvalue(a, b) == pytest.approx(2 / 252)
    assert permutation_pvalue(a, a) == 1.0
    assert permutation_pvalue([1.0, 3.0], [2.0, 4.0]) == pytest.approx(4 / 6)  # |diff| >= 1 in 4 of 6 splits
    # large arms: Monte Carlo, the observed split counted (never 0)
    rng = __import__("numpy").random.default_rng(0)
    p = permutation_pvalue(rng.normal(0, 1, 30), rng.normal(3, 1, 30), samples=2000)
    assert 0 < p <= 1 / 2001 + 1e-12
    assert math.isnan(permutation_pvalue([], [1.0])) and math.isnan(bootstrap_ci([math.nan], [1.0])[0])


def test_seed_status_and_costs():
    ok = _Res(_records([50, 30, 40]))
    assert compare.seed_status(ok, "jsd4") == "ok"
    col = _Res(_records([50, 10, 25], "fid"))
    assert compare.seed_status(col, "fid") == "collapsed"  # 25 > 2 x 10
    nan = _Res(_records([50, math.nan], "fid"))
    assert compare.seed_status(nan, "fid") == "diverged"
    div = compare.RunOutcome(Path("x"), _records([50, 30], "fid"), diverged="loss_d is nan at step 150")
    assert compare.seed_status(div, "fid") == "diverged"
    recs = [{"step": 100, "time": 10.0, "fid": 5, "eval_s": 1.0}, {"step": 200, "time": 20.0, "fid": 4, "eval_s": 2.0}]
    assert compare.monitoring_cost(_Res(recs)) == (3.0, 20.0)
    assert math.isnan(compare.monitoring_cost(_Res(_records([1.0])))[0])
    assert compare.oscillation([50, 30, 40]) == 5.0 and compare.oscillation([5, 4, 3]) == 0.0
    assert math.isnan(compare.oscillation([1.0])) and compare.oscillation([3, math.nan, 4]) == 1.0
    a = compare.aggregate([_records([50, 30, 40]), _records([60, 20, 25])], "fid")
    assert a["oscillation"] == [5.0, 2.5] and a["oscillation_mean"] == 3.75


def test_several_one_time_scale_arms():
    v = compare.make_variants("dcgan-cifar10-ttur", orig_lr=[1e-4, 5e-4], overrides=["dataset=shapes"])
    assert [x.tag for x in v] == ["ttur", "orig-lr0.0001", "orig-lr0.0005"]
    assert [(x.cfg["lr_d"], x.cfg["lr_g"]) for x in v] == [(1e-4, 5e-4), (1e-4, 1e-4), (5e-4, 5e-4)]
    with pytest.raises(ConfigError, match="same learning rates"):
        compare.make_variants("dcgan-cifar10-ttur", orig_lr=[1e-4, 1e-4])


def test_report_three_arms_with_a_diverged_seed(tmp_path):
    cfg = {"lr_d": 1e-4, "lr_g": 5e-4, "d_steps": 1, "steps": 300, "seed": 0}
    ttur = compare.Variant("TTUR", cfg, [_Res(_records([60, 30 + k, 32 + k], "fid")) for k in range(5)], tag="ttur")
    slow = compare.Variant("orig lr 0.0001", cfg | {"lr_g": 1e-4},
                           [_Res(_records([70, 50 + k, 52 + k], "fid")) for k in range(5)], tag="orig-lr0.0001")
    fast = compare.Variant("orig lr 0.0005", cfg | {"lr_d": 5e-4},
                           [_Res(_records([60, 31 + k, 90], "fid")) for k in range(4)]
                           + [compare.RunOutcome(Path("r"), _records([65, 40], "fid"), diverged="loss_g is nan")],
                           tag="orig-lr0.0005")
    res = compare.write_report(tmp_path / "c", [ttur, slow, fast], "fid", "FID", config="x")
    rows = {r["variant"]: r for r in res["rows"]}
    assert rows["orig lr 0.0005"]["diverged"] == 1 and rows["orig lr 0.0005"]["collapsed"] == 4
    assert rows["TTUR"]["diverged"] == rows["TTUR"]["collapsed"] == 0
    d = {(x["arm"], x["of"]): x for x in res["differences"]}
    assert d[("orig lr 0.0001", "best")]["difference"] == pytest.approx(-20)
    assert d[("orig lr 0.0001", "best")]["p_value"] == pytest.approx(2 / 252)
    assert d[("orig lr 0.0005", "final")]["n_arm"] == 4  # the diverged seed has no final value
    md = (tmp_path / "c" / "report.md").read_text()
    assert "**TTUR** reaches a lower best FID than orig lr 0.0001" in md
    assert "no difference in best FID resolved" in md  # TTUR 30..34 vs 31..34 and 40
    assert (tmp_path / "c" / "compare_differences.csv").is_file()


def test_compare_resume_reads_a_diverged_run(tmp_path):
    d = tmp_path / "runs" / "ttur-seed0"
    d.mkdir(parents=True)
    (d / "diverged.json").write_text(json.dumps({"step": 7, "message": "loss_d is nan at step 7"}))
    (d / "metrics.jsonl").write_text(json.dumps({"step": 5, "time": 1.0, "fd_probe": 3.0}) + "\n")

    def never(*a, **k):
        raise AssertionError("a diverged run is not trained again")

    r = compare.run_training({}, d, resume=True, train_fn=never, say=lambda m: None)
    assert r.diverged == "loss_d is nan at step 7" and r.step == 5 and r.records[0]["fd_probe"] == 3.0


def test_compare_jobs_runs_in_processes(tmp_path):
    over = {**dict(o.split("=") for o in TINY), "fid_features": "shapes"}
    res = compare.run(tmp_path / "rep", "quickstart", orig_lr=[3e-4, 1e-4], seeds=2, overrides=over, jobs=2,
                      progress=False, say=lambda m: None)
    assert res["jobs"] == 2 and res["threads"] == 1  # one torch thread per process unless the config sets it
    runs = sorted(p.name for p in (tmp_path / "rep-runs").iterdir() if p.is_dir())
    assert runs == ["orig-lr0.0001-seed0", "orig-lr0.0001-seed1", "orig-lr0.0003-seed0", "orig-lr0.0003-seed1",
                    "ttur-seed0", "ttur-seed1"]
    rows = {r["variant"]: r for r in res["rows"]}
    assert all(r["seeds"] == 2 and math.isfinite(r["best_mean"]) for r in rows.values())
    assert 0 < rows["orig lr 0.0003"]["monitoring_fraction"] < 1
    # --resume reuses the finished runs: nothing is trained again, the numbers are the same
    again = compare.run(tmp_path / "rep", "quickstart", orig_lr=[3e-4, 1e-4], seeds=2, overrides=over, jobs=2,
                        resume=True, progress=False, say=lambda m: None)
    assert [r["best"] for r in again["curves"].values()] == [r["best"] for r in res["curves"].values()]


def test_verdict_sentences_follow_interval_and_p_value():
    def d(of, diff, lo, hi, p):
        return {"arm": "orig", "of": of, "difference": diff, "ci_low": lo, "ci_high": hi, "p_value": p,
                "n_reference": 5, "n_arm": 5}

    says = compare.verdict([d("best", -2.0, -3.0, -1.0, 0.01), d("oscillation", 1.0, 0.5, 1.5, 0.02)], "TTUR", "FD")
    assert says[0].startswith("**TTUR** reaches a lower best FD than orig")
    assert says[1].startswith("TTUR oscillates more than orig")
    says = compare.verdict([d("best", 2.0, 1.0, 3.0, 0.01), d("oscillation", -1.0, -1.5, -0.5, 0.03)], "TTUR", "FD")
    assert says[0].startswith("**orig** reaches a lower best FD than TTUR")
    assert says[1].startswith("TTUR oscillates less than orig")
    # an interval that excludes 0 without p < 0.05, or p < 0.05 with an interval over 0: not resolved
    says = compare.verdict([d("best", -2.0, -3.0, -1.0, 0.2), d("oscillation", 1.0, -0.5, 1.5, 0.01),
                            d("final", -9.0, -10.0, -8.0, 0.001)], "TTUR", "FD")
    assert len(says) == 2 and "no difference in best FD resolved at 5 + 5 seeds" in says[0]
    assert says[1].startswith("No difference in oscillation from orig resolved")
    assert compare.verdict([d("best", math.nan, math.nan, math.nan, math.nan)], "TTUR", "FD") == [
        "TTUR vs orig: no finite values to compare."]
