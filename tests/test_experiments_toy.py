"""The toy experiment at tiny settings: saddle convergence, MoG GAN, heavy-ball checks, report files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ttur.cli import main
from ttur.errors import ConfigError
from ttur.experiments import report, toy


def test_saddle_ttur_reaches_the_saddle_first():
    runs = {r.name: r for r in toy.run_saddle(seeds=4, n_iter=1500, radius=0.2, window=100)}
    x_slow = runs["TTUR x-slow"].summary()
    slow = runs["orig slow"].summary()
    fast = runs["orig fast"].summary()
    assert x_slow["reached"] == 4 and slow["reached"] == 4
    assert x_slow["settle_mean"] < 150 < slow["settle_mean"] < 1000
    assert fast["reached"] < 4 or fast["settle_mean"] > slow["settle_mean"]  # one fast time-scale fluctuates
    assert x_slow["frac_inside_last_half"] > 0.9
    # the update is the notebook's: x first, then y at the new x
    r = toy.run_saddle([("one", 0.01, 0.02)], seeds=1, n_iter=1, sigma=0.0)[0]
    x1 = 0.5 - 0.01 * 2 * 0.5 * (100 - 0.16)
    assert r.x[1, 0] == pytest.approx(x1)
    assert r.y[1, 0] == pytest.approx(-0.4 + 0.02 * (2 * 0.4 * (1 + x1**2)))


def test_settle_counts_only_lasting_entries():
    r = toy.SaddleRun("t", 0, 0, np.array([[1.0], [0.1], [1.0], [0.1], [0.1], [0.1]]), np.zeros((6, 1)), 0.2, 3)
    assert r.first_entry()[0] == 1
    assert r.settle()[0] == 3
    r.window = 10  # stays inside until the end of the run: counts
    assert r.settle()[0] == 3


def test_adam_first_moment_is_the_hbf_recursion():
    c32 = toy.adam_vs_hbf(steps=200, dtype=torch.float32)
    c64 = toy.adam_vs_hbf(steps=200, dtype=torch.float64)
    assert c32["agree"] and c64["agree"]
    assert c64["max_rel_diff"] < 1e-13
    assert c32["max_rel_diff"] < 1e-5


def test_hbf_energy_decreases():
    e = toy.hbf_energy(t_end=10.0, dt=2e-3)
    assert e["monotone"]
    assert e["E_end"] < e["E0"] - 0.5
    assert e["dEdt_max_err"] < 1e-3


def test_mog_gan_and_fd2():
    c = toy.ring_centres(8, 2.0)
    rng = np.random.default_rng(0)
    pts = c[rng.integers(0, 8, 20000)] + 0.05 * rng.normal(size=(20000, 2))
    cov = np.cov(c.T, bias=True) + 0.05**2 * np.eye(2)
    assert toy.fd2(pts, c.mean(0), cov) < 0.01
    assert toy.fd2(pts * 0.5, c.mean(0), cov) > 0.5
    res = toy.run_mog([1.0, 4.0], seeds=2, steps=40, eval_every=20, batch=64, hidden=16, eval_samples=200,
                      progress=False)
    assert res.fd.shape == (2, 2, 2) and np.isfinite(res.fd).all()
    assert res.samples.shape[:2] == (2, 2)
    rows = res.rows()
    assert [r["lr_d"] for r in rows] == pytest.approx([5e-4, 2e-3])
    with pytest.raises(ConfigError):
        toy.run_mog([0.0], steps=10)


def test_toy_report_from_the_cli(tmp_path, capsys):
    out = tmp_path / "toy"
    rc = main(["experiment", "toy", "--quick", "-o", str(out), "--seeds", "3", "--iters", "800", "--window", "100",
               "--mog-steps", "30", "--mog-seeds", "1", "--ratios", "1", "3", "--hbf-steps", "50", "--no-progress"])
    assert rc == 0
    assert "TTUR x-slow" in capsys.readouterr().out
    for name in ("report.md", "toy_saddle.png", "toy_mog.png", "toy_hbf.png", "saddle.csv", "mog.csv",
                 "results.json", "saddle_curves.csv", "mog_curves.csv"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "report.md").read_text()
    assert "TTUR x-slow" in md and "toy_saddle.png" in md
    data = json.loads((out / "results.json").read_text())
    rows = {r["setting"]: r for r in data["saddle"]["rows"]}
    assert rows["TTUR x-slow"]["reached"] == 3
    assert all(math.isfinite(r["final_fd_mean"]) for r in data["mog"]["rows"])
    assert all(c["agree"] for c in data["hbf"]["momentum"]) and data["hbf"]["energy"]["monotone"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_report_replaces_atomically(tmp_path):
    out = tmp_path / "rep"
    with report.Report(out, "first") as r:
        r.csv("a.csv", [{"x": 1.0, "y": float("nan")}, {"x": 2, "z": [1, 2]}])
        r.table(["a", "b"], [[1.23456789, None]])
    assert (out / "a.csv").read_text().splitlines() == ["x,y,z", "1.0,,", "2,,\"[1, 2]\""]
    assert "| 1.235 | — |" in (out / "report.md").read_text()
    with pytest.raises(RuntimeError), report.Report(out, "second") as r:
        r.text("partial")
        raise RuntimeError("interrupted")
    assert "# first" in (out / "report.md").read_text()  # the old report is untouched
    with report.Report(out, "third") as r:
        r.json("n.json", {"v": np.float32(1.5), "bad": float("inf")})
    assert not (out / "a.csv").exists()
    assert json.loads((out / "n.json").read_text()) == {"v": 1.5, "bad": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
