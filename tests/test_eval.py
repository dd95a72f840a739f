"""`ttur eval` / `ttur.evaluate` against the golden data (MODERN.md, golden.json), and its one-line refusals.

The CLI runs in this process (``ttur.cli.main``): the same code path as the command, without the
import cost of a subprocess. ViT-S/14 stands in for the default ViT-L/14 (same code, 14x less work);
the CLIP pass runs on the first two images of each set (embeddings are per image, so rows 0..1 of
the golden embeddings are the expected ones). ``-m slow`` adds the FD on every fixture image.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import vit_common as vc
from helpers import fixture_subset

import ttur
from ttur.cli import main
from ttur.metrics import cmmd as cmmd_mod
from ttur.metrics.distances import frechet_distance
from ttur.metrics.stats import Stats

pytestmark = pytest.mark.usefixtures("one_thread")


def _golden_dino(fixtures_dir, name: str, n: int | None = None) -> np.ndarray:
    return np.load(fixtures_dir / "dinov2" / f"features_vits14_edm2_{name}.npy")[:n]


def _eval_json(capsys, *args) -> dict:
    capsys.readouterr()
    rc = main(["eval", *map(str, args), "--json", "--no-progress"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def _one_line_error(capsys, args, *needles) -> str:
    capsys.readouterr()
    rc = main(["eval", *map(str, args), "--no-progress"])
    out = capsys.readouterr()
    assert rc == 2, (out.out, out.err)
    lines = [ln for ln in out.err.splitlines() if ln.strip() and not ln.startswith("ttur: warning")]
    assert len(lines) == 1, out.err
    assert lines[0].startswith("ttur: error: ") and "Traceback" not in out.err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def no_weights(tmp_path, monkeypatch):
    """An empty cache, no environment variables pointing at weights, no home folders with copies."""
    monkeypatch.setenv("TTUR_OFFLINE", "1")
    monkeypatch.setenv("TTUR_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for v in ("TTUR_DINOV2_WEIGHTS", "TTUR_CLIP_WEIGHTS"):
        monkeypatch.delenv(v, raising=False)


def test_fd_dinov2_cli_golden_subset(fixtures_dir, vits14_file, tmp_path, capsys):
    """16 + 16 images (the golden features are per image: rows 0..15 give the expected FD)."""
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 16), fixture_subset(fixtures_dir, tmp_path, "b", 16)
    r = _eval_json(capsys, a, b, "--metrics", "fd_dinov2", "--dinov2-arch", "vits14",
                   "--dinov2-weights", vits14_file)
    fa, fb = _golden_dino(fixtures_dir, "a", 16), _golden_dino(fixtures_dir, "b", 16)
    want = frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False),
                            features1=fa, features2=fb)
    assert r["fd_dinov2"] == pytest.approx(want, rel=1e-5)
    assert "fid" not in r  # FD on DINOv2 features is never called FID
    rec = r["record"]
    net = rec["networks"]["dinov2"]
    assert (net["name"], net["mode"], net["dims"]) == ("dinov2_vits14", "edm2", 384)
    assert net["weights_sha256"] == ttur._util.sha256_file(vits14_file) and net["weights_official_sha256"] is None
    assert (rec["n_a"], rec["n_b"], net["n_a"], net["n_b"]) == (16, 16, 16, 16)
    for k in ("ttur_version", "torch_version", "numpy_version", "device", "batch_size"):
        assert rec[k] is not None


@pytest.mark.slow
def test_fd_dinov2_cli_golden_all_images(fixtures_dir, vits14_file, capsys):
    images = fixtures_dir / "images"
    r = _eval_json(capsys, images / "a", images / "b", "--metrics", "fd_dinov2", "--dinov2-arch", "vits14",
                   "--dinov2-weights", vits14_file)
    golden = json.loads((fixtures_dir / "dinov2" / "golden.json").read_text())
    assert r["fd_dinov2"] == pytest.approx(golden["fd_vits14_edm2_a_b_exact"], rel=1e-5)


@pytest.mark.slow
def test_fd_dinov2_vitl14_cli_golden_a16_b16(fixtures_dir, tmp_path, capsys):
    """The default network, ViT-L/14, in both modes on the 16 + 16 images of its golden features."""
    path = tmp_path / "dinov2_vitl14_pretrain.pth"
    torch.save(vc.fake_state(fixtures_dir, "dinov2/dinov2_vitl14_keys.json"), path)
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 16), fixture_subset(fixtures_dir, tmp_path, "b", 16)
    golden = json.loads((fixtures_dir / "dinov2" / "golden.json").read_text())
    for mode in ("edm2", "dgm-eval"):
        r = _eval_json(capsys, a, b, "--metrics", "fd_dinov2", "--dinov2-mode", mode, "--dinov2-weights", path)
        assert r["record"]["networks"]["dinov2"]["name"] == "dinov2_vitl14"
        assert r["fd_dinov2"] == pytest.approx(golden[f"fd_vitl14_{mode}_a16_b16_exact"], rel=1e-5)


@pytest.mark.parametrize("n", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_cmmd_cli_golden_subset(fixtures_dir, clip_file, tmp_path, capsys, n):
    """CMMD of the first n + n images against CMMD of rows 0..n-1 of the golden embeddings (ViT-L/14 at
    336 px costs seconds per image on one CPU core; a pass needs 2 images: two per side by default)."""
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", n), fixture_subset(fixtures_dir, tmp_path, "b", n)
    r = _eval_json(capsys, a, b, "--metrics", "cmmd", "--clip-weights", clip_file)
    ea = np.load(fixtures_dir / "clip" / "embeddings_cmmd_a.npy")[:n]
    eb = np.load(fixtures_dir / "clip" / "embeddings_cmmd_b.npy")[:n]
    assert r["cmmd"] == pytest.approx(cmmd_mod.cmmd(ea, eb), rel=1e-5)
    assert r["record"]["networks"]["clip"]["name"] == "clip_vitl14_336"


def test_fid_through_eval_is_ttur_fid(fixtures_dir, golden, weights_env, capsys):
    images = fixtures_dir / "images"
    r = _eval_json(capsys, images / "a", images / "b", "--metrics", "fid,isc", "--batch-size", "32")
    assert r["fid"] == pytest.approx(golden["fid_tf_a_b_exact"], rel=1e-5)
    assert r["record"]["networks"]["inception"]["metrics"] == ["fid", "isc"]
    assert set(r) == {"fid", "isc_mean", "isc_std", "record"}


@pytest.mark.filterwarnings("ignore:.*not the official")
def test_evaluate_api_equals_fid_api(fixtures_dir, weights_env, tmp_path, monkeypatch):
    from ttur.metrics import extract as extract_mod

    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 8), fixture_subset(fixtures_dir, tmp_path, "b", 8)
    assert "evaluate" in ttur.__all__ and "EvalResult" in ttur.__all__
    passes = []
    real = extract_mod.extract
    monkeypatch.setattr(extract_mod, "extract", lambda src, ext, **kw: passes.append(ext.name) or real(src, ext, **kw))
    r = ttur.evaluate(a, b, metrics=["fid", "kid", "isc", "prdc", "fid_inf"], kid_subset_size=4, isc_splits=2,
                      progress=False)
    assert passes == ["inception", "inception"]  # one pass per source, every Inception metric from it
    monkeypatch.setattr(extract_mod, "extract", real)
    ref = ttur.fid(a, b, kid=True, kid_subset_size=4, progress=False)
    assert r["fid"] == ref.fid and r.kid_mean == ref.kid_mean and r.kid_std == ref.kid_std
    d = r.to_dict()
    assert set(d) == {"fid", "kid_mean", "kid_std", "isc_mean", "isc_std", "precision", "recall", "density",
                      "coverage", "fid_inf", "fid_inf_stderr", "fid_inf_residual_std", "record"}


def test_unknown_metric_is_one_line(fixtures_dir, capsys):
    images = fixtures_dir / "images"
    line = _one_line_error(capsys, [images / "a", images / "b", "--metrics", "fid,fdd"], "fdd")
    for known in ("fid", "kid", "isc", "prdc", "fid_inf", "fd_dinov2", "cmmd"):
        assert known in line


@pytest.mark.parametrize(("metric", "filename"), [("fd_dinov2", "dinov2_vits14_pretrain.pth"),
                                                  ("cmmd", "ViT-L-14-336px.pt")])
def test_missing_weights_offline_is_one_line(fixtures_dir, no_weights, tmp_path, capsys, metric, filename):
    images = fixtures_dir / "images"
    _one_line_error(capsys, [images / "a", images / "b", "--metrics", metric, "--dinov2-arch", "vits14"],
                    filename, str(tmp_path / "empty_cache"))
    assert not (tmp_path / "empty_cache").exists() or not any((tmp_path / "empty_cache").iterdir())


def _stats_file(path, extractor, mode, dims, n=16, rows=None):
    rows = np.random.default_rng(0).normal(size=(n, dims)) if rows is None else rows
    meta = {"extractor": extractor, "mode": mode, "dims": dims}
    return Stats(rows.mean(0), np.cov(rows, rowvar=False), len(rows), meta).save(path)


def test_mixing_statistics_of_other_networks_is_refused(fixtures_dir, vits14_file, no_weights, tmp_path, capsys):
    a = fixtures_dir / "images" / "a"
    dino = ["--dinov2-arch", "vits14", "--dinov2-weights", vits14_file]
    inc = _stats_file(tmp_path / "inception.npz", "inception", "tf", 2048, n=4)
    _one_line_error(capsys, [a, inc, "--metrics", "fd_dinov2", *dino], "inception", "dinov2_vits14")
    dgm = _stats_file(tmp_path / "dgm.npz", "dinov2_vits14", "dgm-eval", 384)
    _one_line_error(capsys, [a, dgm, "--metrics", "fd_dinov2", *dino], "dgm-eval", "edm2")
    vitl = _stats_file(tmp_path / "vitl.npz", "dinov2_vitl14", "edm2", 1024, n=4)
    _one_line_error(capsys, [a, vitl, "--metrics", "fd_dinov2", *dino], "dinov2_vitl14")
    edm2 = _stats_file(tmp_path / "edm2.npz", "dinov2_vits14", "edm2", 384)
    _one_line_error(capsys, [a, edm2, "--metrics", "fid"], "dinov2_vits14", "inception")
    _one_line_error(capsys, [a, edm2, "--metrics", "cmmd"], "cmmd", "statistics file")
    legacy = tmp_path / "legacy.npz"  # an official TTUR / pytorch-fid file records no network
    np.savez(legacy, mu=np.zeros(384), sigma=np.eye(384))
    _one_line_error(capsys, [a, legacy, "--metrics", "fd_dinov2", *dino], "does not record its network")


def test_statistics_file_of_the_same_network_as_b(fixtures_dir, vits14_file, tmp_path, capsys):
    a = fixture_subset(fixtures_dir, tmp_path, "a", 8)
    fa, fb = _golden_dino(fixtures_dir, "a", 8), _golden_dino(fixtures_dir, "b", 16)
    b = _stats_file(tmp_path / "b_vits14_edm2.npz", "dinov2_vits14", "edm2", 384, rows=fb)
    r = _eval_json(capsys, a, b, "--metrics", "fd_dinov2", "--dinov2-arch", "vits14", "--dinov2-weights", vits14_file)
    want = frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False),
                            features1=fa, features2=fb)
    assert r["fd_dinov2"] == pytest.approx(want, rel=1e-5)
    assert r["record"]["sources"]["b"] == "statistics file"


def test_weights_lists_every_network(no_weights, capsys):
    capsys.readouterr()
    main(["weights"])
    out = capsys.readouterr().out
    for name in ("dinov2_vits14", "dinov2_vitb14", "dinov2_vitl14", "clip_vitl14_336"):
        assert name in out
    assert "ViT-L-14-336px.pt" in out


def test_eval_help_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom ttur.cli import main\ntry:\n    main(['eval', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "--dinov2-arch" in p.stdout and "fd_dinov2" in p.stdout


def test_kid_and_prdc_on_dinov2_features_from_one_pass(fixtures_dir, vits14_file, tmp_path, capsys, monkeypatch):
    """dgm-eval's KID and precision/recall/density/coverage (all at k = 5) on the golden DINOv2 features, from the
    same single DINOv2 pass as fd_dinov2."""
    import prdc  # in the test extras

    from ttur.metrics.distances import kid
    from ttur.networks.vit_extractors import DINOv2Extractor

    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 8), fixture_subset(fixtures_dir, tmp_path, "b", 12)
    fa, fb = _golden_dino(fixtures_dir, "a", 8), _golden_dino(fixtures_dir, "b", 12)
    calls = []
    real_forward = DINOv2Extractor.forward
    monkeypatch.setattr(DINOv2Extractor, "forward",
                        lambda self, *x, **k: calls.append(1) or real_forward(self, *x, **k))
    r = _eval_json(capsys, a, b, "--metrics", "fd_dinov2,kid_dinov2,prdc_dinov2", "--dinov2-arch", "vits14",
                   "--dinov2-weights", vits14_file, "--batch-size", "50")
    assert len(calls) == 2  # one batch per side: every DINOv2 metric from the same pass
    want = prdc.compute_prdc(real_features=fb, fake_features=fa, nearest_k=5)
    for k in ("precision", "recall", "density", "coverage"):
        assert r[f"{k}_dinov2"] == pytest.approx(want[k], abs=1e-9), k
    m, s = kid(fa.astype(np.float64), fb.astype(np.float64), subsets=100, subset_size=1000, seed=0)
    assert r["kid_dinov2_mean"] == pytest.approx(m, rel=1e-4, abs=1e-7)
    assert r["record"]["metric_details"]["prdc_dinov2"]["k_precision_recall"] == 5


def test_weights_download_names_networks_and_refuses_offline(no_weights, vits14_file, capsys, monkeypatch):
    for argv, needles in ((["weights", "--download", "dinov2_vitl14"], ("dinov2_vitl14_pretrain.pth", "offline")),
                          (["weights", "--download", "clip_vitl14_336"], ("ViT-L-14-336px.pt", "offline")),
                          (["weights", "--download", "inception"], ("offline",)),
                          (["weights", "--download", "dinov3"], ("unknown network", "dinov2_vits14", "all"))):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and all(n in err[0] for n in needles), err
    monkeypatch.setenv("TTUR_DINOV2_WEIGHTS", str(vits14_file))  # a file that is found is not fetched again
    capsys.readouterr()
    assert main(["weights", "--download", "dinov2_vits14"]) == 0
    assert capsys.readouterr().out.strip() == f"dinov2_vits14: {vits14_file}"


def test_stats_writes_dinov2_files_that_eval_reads(fixtures_dir, vits14_file, tmp_path, capsys):
    """`ttur stats --extractor dinov2_vits14[:MODE]` writes the file `ttur eval --metrics fd_dinov2` takes as B."""
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 6), fixture_subset(fixtures_dir, tmp_path, "b", 8)
    out = tmp_path / "b_dino.npz"
    assert main(["stats", str(b), "--extractor", "dinov2_vits14", "--weights", str(vits14_file), "-o", str(out),
                 "--no-progress"]) == 0
    st = Stats.load(out)
    assert (st.meta["extractor"], st.meta["mode"], st.dims, st.n) == ("dinov2_vits14", "edm2", 384, 8)
    fb = _golden_dino(fixtures_dir, "b", 8)
    assert np.abs(st.mu - fb.mean(0)).max() < 1e-5
    args = ["--metrics", "fd_dinov2", "--dinov2-arch", "vits14", "--dinov2-weights", vits14_file]
    from_file = _eval_json(capsys, a, out, *args)["fd_dinov2"]
    from_images = _eval_json(capsys, a, b, *args)["fd_dinov2"]
    assert from_file == pytest.approx(from_images, rel=1e-9)
    dgm = tmp_path / "b_dgm.npz"
    assert main(["stats", str(b), "--extractor", "dinov2_vits14:dgm-eval", "--weights", str(vits14_file),
                 "-o", str(dgm), "--no-progress"]) == 0
    assert Stats.load(dgm).meta["mode"] == "dgm-eval"
    _one_line_error(capsys, [a, dgm, *args], "dgm-eval", "edm2")  # mixing modes is refused
    capsys.readouterr()
    assert main(["stats", str(b), "--extractor", "cifar10:edm2", "-o", str(tmp_path / "x.npz"), "--no-progress"]) == 2
    assert "takes no ':edm2'" in capsys.readouterr().err
