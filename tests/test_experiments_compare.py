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
    assert "JSD (4-gram)" in md and "Lower best JSD (4-gram): **TTUR**" in md
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
