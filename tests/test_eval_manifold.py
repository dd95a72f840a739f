"""`ttur eval --metrics prdc,fid_inf` on the fixture images (stand-in Inception weights).

The Inception features of the fixture images are the golden ``features_tf_{a,b}.npy``, one row per
image; the first 16 images of each side (a pass on all 64 + 64 costs a minute on one loaded core) give
rows 0..15. Precision and recall (k = 3) and density and coverage (k = 5) from the eval pass equal the
``prdc`` package's on those rows.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from helpers import fixture_subset

from ttur.cli import main
from ttur.metrics.distances import frechet_distance
from ttur.metrics.extrapolate import fid_infinity
from ttur.metrics.stats import Stats

pytestmark = pytest.mark.usefixtures("one_thread")


N = 16


def test_prdc_and_fid_inf_through_eval(fixtures_dir, weights_env, tmp_path, capsys):
    prdc_ref = pytest.importorskip("prdc")
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", N), fixture_subset(fixtures_dir, tmp_path, "b", N)
    capsys.readouterr()
    rc = main(["eval", str(a), str(b), "--metrics", "fid,prdc,fid_inf", "--json", "--no-progress"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    r = json.loads(out.out)
    assert set(r) == {"fid", "precision", "recall", "density", "coverage", "fid_inf", "fid_inf_stderr",
                      "fid_inf_residual_std", "record"}
    fa = np.load(fixtures_dir / "features_tf_a.npy")[:N].astype(np.float64)
    fb = np.load(fixtures_dir / "features_tf_b.npy")[:N].astype(np.float64)
    assert r["fid"] == pytest.approx(frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0),
                                                      np.cov(fb, rowvar=False), features1=fa, features2=fb), rel=1e-5)
    with contextlib.redirect_stdout(io.StringIO()):
        r3 = prdc_ref.compute_prdc(fb, fa, 3)  # B real, A fake
        r5 = prdc_ref.compute_prdc(fb, fa, 5)
    assert (r["precision"], r["recall"]) == (float(r3["precision"]), float(r3["recall"]))
    assert (r["density"], r["coverage"]) == (float(r5["density"]), float(r5["coverage"]))

    det = r["record"]["metric_details"]
    assert det["prdc"]["k_precision_recall"] == 3 and det["prdc"]["k_density_coverage"] == 5
    assert det["fid_inf"]["sizes"][0] == 2 and det["fid_inf"]["sizes"][-1] == N and len(det["fid_inf"]["sizes"]) == 15
    want = fid_infinity(fa, Stats(fb.mean(0), np.cov(fb, rowvar=False), N, features=fb), seed=0)
    assert r["fid_inf"] == pytest.approx(want.fid_inf, rel=1e-4)
    assert r["fid_inf_stderr"] == pytest.approx(want.stderr, rel=1e-3)
    assert det["fid_inf"]["fids"][-1] == pytest.approx(r["fid"], rel=1e-9)  # all 16: the FID itself

    # 16 images per side, 2048 dimensions: one line per Fréchet number says so, and what it does
    notes = [ln for ln in out.err.splitlines() if ln.startswith("ttur: note: ")]
    assert len(notes) == 2, out.err
    assert notes[0].startswith("ttur: note: fid: ") and "fewer than the 2048 feature dimensions" in notes[0]
    assert "biased upward" in notes[0]
    assert notes[1].startswith("ttur: note: fid_inf: ") and "below the 2048 feature dimensions" in notes[1]
    assert r["record"]["notes"] == [n[len("ttur: note: "):] for n in notes]


def test_prdc_needs_images_as_b(fixtures_dir, weights_env, tmp_path, capsys):
    b = tmp_path / "b.npz"
    rows = np.random.default_rng(0).normal(size=(8, 2048))
    Stats(rows.mean(0), np.cov(rows, rowvar=False), 8, {"extractor": "inception", "mode": "tf", "dims": 2048}).save(b)
    capsys.readouterr()
    # refused before any pass
    rc = main(["eval", str(fixtures_dir / "images" / "a"), str(b), "--metrics", "prdc", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "prdc: needs images as B, not a statistics file" in err


def test_text_lines():
    from ttur.metrics.eval_cli import _lines

    v = {"precision": 0.5, "recall": 0.25, "density": 0.75, "coverage": 1.0, "fid_inf": 3.5,
         "fid_inf_stderr": 0.125, "fid_inf_residual_std": 0.2}
    lines = _lines(v, {})
    assert lines[:3] == ["Precision (k=3): 0.5  Recall (k=3): 0.25", "Density (k=5): 0.75  Coverage (k=5): 1.0",
                         "FID_inf: 3.5 +- 0.125 (intercept's standard error)"]
    assert lines[3] == "fid_inf_residual_std: 0.2"


def test_fid_note_says_what_it_does():
    from ttur.metrics.evaluate import Side, _fid_note

    def side(n, d=2048):
        return Side(Stats(np.zeros(d), np.eye(d), n), None)

    assert _fid_note(side(5000), side(5000), None) is None
    line = _fid_note(side(5000), side(10000), None)
    assert line.startswith("fid: the sides differ in N (A 5000, B 10000)") and "\n" not in line
    line = _fid_note(side(100), side(3000), None)
    assert "A has 100 images, fewer than the 2048 feature dimensions" in line and "differ in N" in line
    assert _fid_note(side(100, 8), side(None, 8), None) is None  # a file without a count: nothing to say
