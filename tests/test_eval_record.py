"""`ttur eval --record` / `--check`: a record anyone can recompute, and what it says when it cannot.

Small: 12 + 8 fixture images through the stand-in Inception weights, fid and kid (B smaller than A,
so the KID subsets of A are drawn by the seed). The CLI runs in this process (``ttur.cli.main``).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import fixture_subset
from PIL import Image

from ttur.cli import main
from ttur.metrics.evaluate import TOLERANCES, within_tolerance
from ttur.metrics.stats import Stats

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(capsys, *args):
    capsys.readouterr()
    rc = main([*map(str, args), "--no-progress"])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture()
def recorded(fixtures_dir, weights_env, tmp_path, capsys):
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 12), fixture_subset(fixtures_dir, tmp_path, "b", 8)
    rec = tmp_path / "r.json"
    rc, out, err = _run(capsys, "eval", a, b, "--metrics", "fid,kid", "--kid-subset-size", "6",
                        "--kid-subsets", "10", "--record", rec, "--json")
    assert rc == 0, err
    return a, b, rec, json.loads(out)


def test_record_is_recomputed_by_check(recorded, capsys):
    a, b, rec, printed = recorded
    doc = json.loads(rec.read_text())
    assert set(doc) == {"values", "record", "command"}
    assert doc["values"] == {k: printed[k] for k in ("fid", "kid_mean", "kid_std")}
    sides = doc["record"]["sides"]
    assert sides["a"]["n"] == 12 and sides["b"]["n"] == 8
    assert len(sides["a"]["sha256"]) == 64 and sides["a"]["sha256"] != sides["b"]["sha256"]
    assert "decoded pixels" in sides["a"]["hash_kind"]
    net = doc["record"]["networks"]["inception"]
    assert len(net["weights_sha256"]) == 64
    for k in ("ttur_version", "torch_version", "numpy_version", "device", "seed", "batch_size", "dtype"):
        assert k in doc["record"]
    c = doc["command"]
    assert c["a"] == str(a.resolve()) and c["kid_subset_size"] == 6 and c["kid_subsets"] == 10
    assert not list(rec.parent.glob(".r.json.*"))  # written atomically, no temporary left
    rc, out, err = _run(capsys, "eval", "--check", rec)
    assert rc == 0, err
    lines = out.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["fid", "kid_mean", "kid_std"]
    assert all(ln.endswith(": ok") for ln in lines)
    assert "check passed" in err


def test_tampered_number_is_named(recorded, capsys):
    _, _, rec, _ = recorded
    doc = json.loads(rec.read_text())
    doc["values"]["kid_mean"] *= 1 + 1e-3
    bad = rec.with_name("tampered.json")
    bad.write_text(json.dumps(doc))
    rc, out, err = _run(capsys, "eval", "--check", bad)
    assert rc == 1, err
    assert "kid_mean:" in out and out.count("DIFFERS") == 1
    assert next(ln for ln in out.splitlines() if ln.startswith("kid_mean")).endswith("DIFFERS")
    assert "kid_mean" in err and "fid," not in err


def test_modified_source_is_named(recorded, capsys):
    a, b, rec, _ = recorded
    p = sorted(b.glob("*.png"))[3]
    x = np.asarray(Image.open(p).convert("RGB")).copy()
    x[0, 0] ^= 1  # one pixel, one bit
    Image.fromarray(x).save(p)
    rc, out, err = _run(capsys, "eval", "--check", rec)
    assert rc == 2, (out, err)
    line = [ln for ln in err.splitlines() if ln.startswith("ttur: error")]
    assert len(line) == 1 and "source B" in line[0] and str(b.resolve()) in line[0] and "changed" in line[0]
    assert out == ""  # no number is judged against a changed source
    shutil.rmtree(a)
    rc, _, err = _run(capsys, "eval", "--check", rec)
    assert rc == 2 and "source A" in err and "missing" in err


def test_unreadable_records(tmp_path, capsys):
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"fid": 1.0}))
    for name, needle in (("junk.json", "not a readable record"), ("other.json", "'values'"),
                         ("nope.json", "no such file")):
        rc, _, err = _run(capsys, "eval", "--check", tmp_path / name)
        assert rc == 2 and needle in err and name in err, err
    rc, _, err = _run(capsys, "eval", "a_only")
    assert rc == 2 and "two sources" in err
    rc, _, err = _run(capsys, "eval", "x", "y", "--check", tmp_path / "junk.json")
    assert rc == 2 and "give no A or B" in err


def test_statistics_file_side_is_hashed_and_checked_before_the_pass(tmp_path, capsys):
    """B a statistics file: its file SHA-256 is recorded; a changed file stops --check before any pass."""
    rng = np.random.default_rng(0)
    for name, shift in (("a", 0.0), ("b", 0.3)):
        x = rng.normal(shift, 1, size=(30, 2048))
        Stats(x.mean(0), np.cov(x, rowvar=False), 30, {"extractor": "inception", "mode": "tf"}).save(
            tmp_path / f"{name}.npz")
    rec = tmp_path / "r.json"
    rc, _, err = _run(capsys, "eval", tmp_path / "a.npz", tmp_path / "b.npz", "--record", rec)
    assert rc == 0, err
    doc = json.loads(rec.read_text())
    assert doc["record"]["sides"]["b"]["hash_kind"] == "sha256 of the statistics file"
    rc, out, err = _run(capsys, "eval", "--check", rec)
    assert rc == 0 and out.startswith("fid: ") and out.rstrip().endswith("ok"), err
    x = rng.normal(0.5, 1, size=(30, 2048))
    Stats(x.mean(0), np.cov(x, rowvar=False), 30, {"extractor": "inception", "mode": "tf"}).save(tmp_path / "b.npz")
    rc, out, err = _run(capsys, "eval", "--check", rec)
    assert rc == 2 and "source B" in err and "b.npz" in err and "changed" in err and out == ""


def test_fid_json_gains_the_record(fixtures_dir, weights_env, tmp_path, capsys):
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 6), fixture_subset(fixtures_dir, tmp_path, "b", 6)
    rc, out, err = _run(capsys, "fid", a, b, "--json", "--dims", "64")
    assert rc == 0, err
    r = json.loads(out)
    assert {"fid", "label", "n_a", "n_b", "mode", "dims", "seconds"} <= set(r)  # the keys it always had
    rec = r["record"]
    assert rec["sides"]["a"]["n"] == 6 and len(rec["sides"]["b"]["sha256"]) == 64
    assert rec["networks"]["inception"]["weights_sha256"] and rec["seed"] == 0 and rec["batch_size"] == 50
    # the pixel hash does not depend on the batch size
    rc, out2, _ = _run(capsys, "fid", a, b, "--json", "--dims", "64", "--batch-size", "4")
    assert json.loads(out2)["record"]["sides"] == rec["sides"]


def test_tolerance_table():
    assert within_tolerance("fid", 10.0, 10.0 + 5e-6) and not within_tolerance("fid", 10.0, 10.0 + 2e-5)
    assert within_tolerance("precision", 0.5, 0.5) and not within_tolerance("precision", 0.5, 0.5 + 1e-12)
    assert within_tolerance("kid_mean", 0.0, 1e-10) and within_tolerance("new_metric", None, None)
    assert not within_tolerance("fid", 1.0, None)
    assert set(TOLERANCES) >= {"fid", "kid_mean", "kid_std", "isc_mean", "fd_dinov2", "cmmd", "precision"}
