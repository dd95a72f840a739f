"""`ttur fid` / `ttur stats` / `ttur weights` from the outside: outputs, files, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ttur.errors import WeightsError
from ttur.metrics.stats import Stats
from ttur.networks import weights as W


def ttur(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ttur", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def assert_one_line_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("ttur: warning")]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("ttur: error: ")
    assert "Traceback" not in p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture()
def small_sets(tmp_path):
    rng = np.random.default_rng(0)
    out = []
    for name, shift in (("x", 0), ("y", 60)):
        d = tmp_path / name
        d.mkdir()
        for i in range(6):
            a = np.clip(rng.normal(120 + shift, 40, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(d / f"{i}.png")
        out.append(d)
    return out


def test_stats_then_fid_against_the_file(small_sets, weights_env, tmp_path):
    x, y = small_sets
    p = ttur("stats", y, "-o", tmp_path / "y_stats.npz", "--no-progress", "--dims", "64")
    assert p.returncode == 0, p.stderr
    assert "6 images" in p.stdout
    with np.load(tmp_path / "y_stats.npz", allow_pickle=False) as f:  # what pytorch-fid/TTUR read
        assert f["mu"].shape == (64,) and f["sigma"].shape == (64, 64)
        assert str(f["mode"]) == "tf"
    direct = json.loads(ttur("fid", x, y, "--json", "--no-progress", "--dims", "64").stdout)
    via = json.loads(ttur("fid", x, tmp_path / "y_stats.npz", "--json", "--no-progress", "--dims", "64").stdout)
    assert via["fid"] == pytest.approx(direct["fid"], rel=1e-9)
    assert direct["fid"] > 0 and direct["n_a"] == 6 and direct["n_b"] == 6
    # text output: one line that names the metric
    txt = ttur("fid", x, y, "--no-progress", "--dims", "64")
    assert txt.stdout.startswith("FID: ")
    # mixing modes is refused
    p = ttur("fid", x, tmp_path / "y_stats.npz", "--mode", "clean", "--dims", "64", "--no-progress")
    assert_one_line_error(p, "preprocessing mode")
    # and mixing dims
    p = ttur("fid", x, tmp_path / "y_stats.npz", "--dims", "192", "--no-progress")
    assert_one_line_error(p, "64-d", "192-d")
    assert "first:" not in p.stderr  # refused before any image went through the network


def test_one_line_errors(small_sets, weights_env, tmp_path):
    x, _ = small_sets
    assert_one_line_error(ttur("fid", x, tmp_path / "nope", "--no-progress"), "nope", "no such file")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(ttur("fid", x, tmp_path / "empty", "--no-progress"), "empty", "no images")
    (x / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert_one_line_error(ttur("fid", x, x, "--no-progress"), "broken.png")
    p = ttur("fid", x, x, "--no-progress", "--skip-bad", "--dims", "64")
    assert p.returncode == 0 and "skipped 1 unreadable image" in p.stderr
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04junk")
    assert_one_line_error(ttur("fid", x, tmp_path / "bad.npz"), "bad.npz")
    assert_one_line_error(ttur("fid", x, x, "--batch-size", "0"), "--batch-size")
    assert_one_line_error(ttur("fid", x, x, "--kid", "--no-progress", "--dims", "64", "--kid-subset-size", "1",
                               "--skip-bad"),
                          "--kid-subset-size: must be >= 2")  # refused when the command line is read
    np.savez(tmp_path / "nan.npz", mu=np.array([np.nan] * 64), sigma=np.eye(64))
    assert_one_line_error(ttur("fid", x, tmp_path / "nan.npz", "--dims", "64"), "NaN")


def test_stats_output_survives_a_failed_run(small_sets, weights_env, tmp_path):
    x, _ = small_sets
    out = tmp_path / "s.npz"
    assert ttur("stats", x, "-o", out, "--no-progress", "--dims", "64").returncode == 0
    before = out.read_bytes()
    (x / "zz_broken.png").write_bytes(b"junk")
    assert_one_line_error(ttur("stats", x, "-o", out, "--no-progress", "--dims", "64"), "zz_broken.png")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".s.npz")) == []


def test_missing_weights_offline_says_where_to_put_them(small_sets, monkeypatch):
    monkeypatch.delenv("TTUR_INCEPTION_WEIGHTS", raising=False)
    x, _ = small_sets
    p = ttur("fid", x, x, "--no-progress")
    assert_one_line_error(p, W.FILENAME, "TTUR_INCEPTION_WEIGHTS")
    assert ttur("weights").returncode == 1


def test_weight_resolution_order(tmp_path, monkeypatch, fake_weights):
    monkeypatch.delenv("TTUR_INCEPTION_WEIGHTS", raising=False)
    # a cache of its own: the file written below must not be seen by any other test
    monkeypatch.setenv("TTUR_CACHE", str(tmp_path / "cache"))
    assert W.cache_dir() == tmp_path / "cache"
    assert W.find_weights() is None
    cached = W.cache_dir() / W.FILENAME
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"x")
    assert W.find_weights() == cached
    env_file = tmp_path / "env.pth"
    env_file.write_bytes(b"y")
    monkeypatch.setenv("TTUR_INCEPTION_WEIGHTS", str(env_file))
    assert W.find_weights() == env_file
    assert W.find_weights(fake_weights) == Path(fake_weights)
    with pytest.raises(WeightsError, match="does not exist"):
        W.find_weights(tmp_path / "nothing.pth")
    monkeypatch.setenv("TTUR_INCEPTION_WEIGHTS", str(tmp_path / "gone.pth"))
    with pytest.raises(WeightsError, match="TTUR_INCEPTION_WEIGHTS"):
        W.find_weights()


def test_download_checks_sha256_and_writes_atomically(tmp_path, fake_weights):
    url = Path(fake_weights).as_uri()  # a local file:// URL: nothing leaves the machine
    good = W.sha256_file(fake_weights)
    dest = tmp_path / "cache" / "w.pth"
    assert W.download(url, dest, sha256=good, progress=False) == dest
    assert W.sha256_file(dest) == good
    bad_dest = tmp_path / "cache" / "bad.pth"
    with pytest.raises(WeightsError, match="does not match"):
        W.download(url, bad_dest, sha256="0" * 64, progress=False)
    assert not bad_dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == ["w.pth"]
    with pytest.raises(WeightsError, match="cannot download"):
        W.download((tmp_path / "absent.pth").as_uri(), tmp_path / "x.pth", progress=False)


def test_weights_command_checks_a_file(fake_weights):
    p = ttur("weights", "--check", fake_weights)
    assert p.returncode == 1 and "NOT the official weights" in p.stdout


def test_stats_api_round_trip(small_sets, weights_env, tmp_path):
    import ttur

    x, y = small_sets
    sx = ttur.compute_stats(x, dims=64, progress=False)
    assert isinstance(sx, Stats) and sx.n == 6 and sx.meta["mode"] == "tf"
    r = ttur.fid(x, y, dims=64, progress=False)
    assert float(r) == pytest.approx(ttur.frechet_distance(sx, ttur.compute_stats(y, dims=64, progress=False)))
