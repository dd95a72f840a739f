"""Statistics files of every tool, built here in each tool's layout and read back by content.

Layouts (see ``ttur.metrics.reference``): ours / official TTUR / pytorch-fid ``.npz``, clean-fid's
``.npz`` (stats and KID features), the ADM evaluator's ``VIRTUAL_*.npz`` reference batches, EDM2's
reference ``.pkl`` and torch-fidelity's ``.pt`` cache items. Nothing here runs a network: the
statistics are random (d = 16 or 64) and every comparison is between statistics.
"""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
import torch

import ttur
from ttur.cli import main
from ttur.errors import StatsError
from ttur.metrics.distances import frechet_distance
from ttur.metrics.stats import Stats


def _rows(d: int, n: int = 40, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, d))


def _mu_sigma(x: np.ndarray):
    return x.mean(0), np.cov(x, rowvar=False)


def _check(s: Stats, x: np.ndarray) -> None:
    mu, sigma = _mu_sigma(x)
    np.testing.assert_allclose(s.mu, mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.sigma, sigma, rtol=1e-12, atol=1e-12)
    assert s.mu.dtype == np.float64 and s.sigma.dtype == np.float64


def _one_line(capsys, args, *needles, rc=2) -> str:
    capsys.readouterr()
    got = main([*map(str, args), "--no-progress"])
    out = capsys.readouterr()
    assert got == rc, (out.out, out.err)
    lines = [ln for ln in out.err.splitlines() if ln.startswith("ttur: error")]
    assert len(lines) == 1 and "Traceback" not in out.err, out.err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_official_and_pytorch_fid_npz_say_they_record_nothing(tmp_path):
    x = _rows(16)
    np.savez(tmp_path / "fid_stats_cifar10_train.npz", *(), mu=x.mean(0), sigma=np.cov(x, rowvar=False))
    s = Stats.load(tmp_path / "fid_stats_cifar10_train.npz")
    _check(s, x)
    assert s.n is None and s.meta == {} and s.extra == {}
    assert len(s.notes) == 1 and "records neither the network nor the preprocessing mode" in s.notes[0]
    assert s.path == str(tmp_path / "fid_stats_cifar10_train.npz")
    # ours: the record rides along, no note
    ours = Stats(*_mu_sigma(x), 40, {"extractor": "inception", "mode": "clean"}).save(tmp_path / "ours.npz")
    s = Stats.load(ours)
    _check(s, x)
    assert s.n == 40 and s.meta["mode"] == "clean" and s.notes == []


def test_clean_fid_npz_name_is_only_a_hint_of_the_mode(tmp_path):
    x = _rows(2048, n=8)
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    np.savez(tmp_path / "cifar10_legacy_tensorflow_train_32.npz", mu=mu, sigma=sigma)
    s = Stats.load(tmp_path / "cifar10_legacy_tensorflow_train_32.npz")
    assert s.meta == {"mode": "tf"} and "clean-fid" in s.notes[0]
    # the same content under another name is still statistics (recognised by content), without the hint
    shutil.copy(tmp_path / "cifar10_legacy_tensorflow_train_32.npz", tmp_path / "whatever.bin")
    s2 = Stats.load(tmp_path / "whatever.bin")
    np.testing.assert_array_equal(s2.mu, s.mu)
    assert s2.meta == {}
    # clean-fid's KID reference features: mean and covariance in float64, n kept
    f = _rows(16, n=30).astype(np.float32)
    np.savez(tmp_path / "cifar10_clean_train_32_kid.npz", feats=f)
    s = Stats.load(tmp_path / "cifar10_clean_train_32_kid.npz")
    _check(s, f.astype(np.float64))
    assert s.n == 30


def _adm(path, d=64, n_img=5):
    rng = np.random.default_rng(1)
    x, xs = _rows(d, seed=2), _rows(7 * 2, seed=3)  # 7 channels x a tiny 1x2 map stand for 7 x 17 x 17
    np.savez(path, arr_0=rng.integers(0, 256, (n_img, 8, 8, 3), dtype=np.uint8), mu=x.mean(0),
             sigma=np.cov(x, rowvar=False), mu_s=xs.mean(0), sigma_s=np.cov(xs, rowvar=False))
    return x, xs


def test_adm_reference_batch(tmp_path):
    x, xs = _adm(tmp_path / "VIRTUAL_tiny.npz")
    s = Stats.load(tmp_path / "VIRTUAL_tiny.npz")
    _check(s, x)
    assert s.n is None and s.meta["extractor"] == "inception" and s.meta["mode"] == "tf"
    _check(s.extra["sfid"], xs)
    assert s.extra["sfid"].dims == 14
    assert len(s.notes) == 1 and "ADM evaluator" in s.notes[0] and "n unknown" in s.notes[0]
    assert "5 images" in s.notes[0]
    sp = Stats.load(tmp_path / "VIRTUAL_tiny.npz", entry="sfid")
    _check(sp, xs)
    assert "fid" in sp.extra


def _edm2(path, d_fid=16, d_dino=384, entries=("fid", "fd_dinov2"), protocol=pickle.HIGHEST_PROTOCOL):
    data = {"fid": _rows(d_fid, seed=4), "fd_dinov2": _rows(d_dino, n=8, seed=5)}
    ref = {k: dict(zip(("mu", "sigma"), _mu_sigma(data[k]), strict=True)) for k in entries}
    with open(path, "wb") as fh:
        pickle.dump(ref, fh, protocol=protocol)
    return data


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_edm2_reference_pickle(tmp_path, protocol):
    data = _edm2(tmp_path / "img512.pkl", protocol=protocol)
    s = Stats.load(tmp_path / "img512.pkl")  # FID reads the fid entry
    _check(s, data["fid"])
    assert s.meta["extractor"] == "inception" and "EDM2" in s.notes[0]
    d = s.extra["fd_dinov2"]
    _check(d, data["fd_dinov2"])
    assert d.meta["extractor"] == "dinov2_vits14" and d.meta["mode"] == "edm2"
    d2 = Stats.load(tmp_path / "img512.pkl", entry="fd_dinov2")
    _check(d2, data["fd_dinov2"])
    with pytest.raises(StatsError, match="img512.pkl: holds no sfid"):
        Stats.load(tmp_path / "img512.pkl", entry="sfid")


def test_evaluate_takes_each_metric_its_entry_of_an_edm2_pickle(tmp_path):
    """fd_dinov2 from two EDM2 pickles read its entry, not the fid one loaded first (no network runs)."""
    da = _edm2(tmp_path / "a.pkl")
    with open(tmp_path / "b.pkl", "wb") as fh:
        rows = {"fid": _rows(16, seed=6, shift=0.5), "fd_dinov2": _rows(384, n=8, seed=7, shift=0.5)}
        pickle.dump({k: dict(zip(("mu", "sigma"), _mu_sigma(v), strict=True)) for k, v in rows.items()}, fh)
    r = ttur.evaluate(tmp_path / "a.pkl", tmp_path / "b.pkl", metrics="fd_dinov2", dinov2_arch="vits14",
                      progress=False)
    for k in ("fd_dinov2",):
        want = frechet_distance(*_mu_sigma(da[k]), *_mu_sigma(rows[k]))
        assert r[k] == pytest.approx(want, rel=1e-9)
    assert any("EDM2" in n for n in r.notes)
    with pytest.raises(StatsError, match="a.pkl"):  # its fid entry is 16-d, not Inception's 2048
        ttur.evaluate(tmp_path / "a.pkl", tmp_path / "b.pkl", metrics="fid", progress=False)
    assert r.record["sides"]["b"]["hash_kind"] == "sha256 of the statistics file"
    assert r.record["sides"]["b"]["sha256"] == ttur._util.sha256_file(tmp_path / "b.pkl")


def test_mixing_networks_is_refused_naming_the_file(tmp_path, capsys, fixtures_dir):
    _edm2(tmp_path / "dino_only.pkl", entries=("fd_dinov2",), d_dino=384)
    x = _rows(384, n=8, seed=9)
    ours = Stats(*_mu_sigma(x), 8, {"extractor": "inception", "mode": "tf"}).save(tmp_path / "inc384.npz")
    # the fd_dinov2 entry (DINOv2 features) used for FID against Inception statistics
    with pytest.raises(StatsError, match="dino_only.pkl") as e:
        ttur.fid(ours, tmp_path / "dino_only.pkl", progress=False)
    assert "dinov2_vits14" in str(e.value) and "inception" in str(e.value)
    _one_line(capsys, ["fid", ours, tmp_path / "dino_only.pkl"], "dino_only.pkl", "dinov2_vits14")
    # refused before any network loads (no weights are needed for the refusal)
    _one_line(capsys, ["eval", fixtures_dir / "images" / "a", tmp_path / "dino_only.pkl", "--metrics", "fid"],
              "dino_only.pkl", "dinov2_vits14")
    # statistics of one file asked for a metric whose entry it does not hold
    with pytest.raises(StatsError, match="dino_only.pkl: holds no fid"):
        Stats.load(tmp_path / "dino_only.pkl", entry="fid")
    # the ADM batch (tf) against statistics made in mode clean
    _adm(tmp_path / "VIRTUAL_tiny.npz", d=16)
    clean = Stats(*_mu_sigma(_rows(16)), 40, {"extractor": "inception", "mode": "clean"}).save(tmp_path / "c.npz")
    _one_line(capsys, ["fid", clean, tmp_path / "VIRTUAL_tiny.npz"], "VIRTUAL_tiny.npz", "preprocessing mode")


def test_torch_fidelity_cache_items(tmp_path):
    x = _rows(16, seed=10)
    mu, sigma = _mu_sigma(x.astype(np.float32))
    stat = tmp_path / "cifar10-train-inception-v3-compat-stat-fid-2048.pt"
    torch.save({"mu": mu.astype(np.float32), "sigma": sigma}, stat)  # what torch-fidelity caches
    s = Stats.load(stat)
    np.testing.assert_allclose(s.mu, mu.astype(np.float32), rtol=0, atol=0)
    np.testing.assert_allclose(s.sigma, sigma, rtol=0, atol=0)
    assert s.meta == {"extractor": "inception", "mode": "tf"} and "torch-fidelity" in s.notes[0]
    feats = tmp_path / "cifar10-train-inception-v3-compat-features-2048.pt"
    torch.save(torch.from_numpy(x).float(), feats)
    s = Stats.load(feats)
    _check(s, torch.from_numpy(x).float().double().numpy())
    assert s.n == 40
    # a features item with no hint in its name still reads, said to record nothing
    torch.save(torch.from_numpy(x).float(), tmp_path / "feats.pt")
    s = Stats.load(tmp_path / "feats.pt")
    assert s.meta == {} and "records neither" in s.notes[0]
    # the same source through ttur fid (statistics on both sides: no network)
    r = ttur.fid(stat, tmp_path / "cifar10-train-inception-v3-compat-stat-fid-2048.pt", progress=False)
    assert r.fid == pytest.approx(0.0, abs=1e-6)
    assert r.record["sides"]["a"]["kind"] == "statistics file"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_forbidden_globals_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump({"fid": {"mu": _Evil(), "sigma": np.eye(3)}}, fh)
    with pytest.raises(StatsError, match=r"evil.pkl: refused to load the global (posix|nt)\.system"):
        Stats.load(tmp_path / "evil.pkl")
    torch.save({"mu": _Evil(), "sigma": np.eye(3)}, tmp_path / "evil.pt")
    with pytest.raises(StatsError, match=r"evil.pt: refused by torch.load\(weights_only=True\)"):
        Stats.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned.txt").exists()
    _one_line(capsys, ["fid", tmp_path / "evil.pkl", tmp_path / "evil.pkl"], "evil.pkl", "refused")


def test_corrupt_truncated_and_unknown_files(tmp_path, capsys):
    _edm2(tmp_path / "ok.pkl")
    (tmp_path / "trunc.pkl").write_bytes((tmp_path / "ok.pkl").read_bytes()[:300])
    np.savez(tmp_path / "other.npz", foo=np.zeros(3), bar=np.zeros(2))
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    (tmp_path / "bad_entry.pkl").write_bytes(pickle.dumps({"fid": {"mu": np.zeros(3)}}))
    (tmp_path / "text.txt").write_text("mu sigma")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "model.pt")
    np.savez(tmp_path / "nan.npz", mu=np.array([np.nan, 0.0]), sigma=np.eye(2))
    np.savez(tmp_path / "shape.npz", mu=np.zeros(3), sigma=np.eye(2))
    for name, needle in (("trunc.pkl", "truncated"), ("other.npz", "not a statistics file"),
                         ("list.pkl", "not EDM2"), ("bad_entry.pkl", "'fid'"), ("text.txt", "not a statistics"),
                         ("model.pt", "'weights'"), ("nan.npz", "NaN"), ("shape.npz", r"expected \(d,\)"),
                         ("missing.npz", "no such file")):
        with pytest.raises(StatsError, match=needle) as e:
            Stats.load(tmp_path / name)
        assert str(e.value).startswith(str(tmp_path / name))
    x = _rows(16)
    ours = Stats(*_mu_sigma(x), 40, {}).save(tmp_path / "ours.npz")
    _one_line(capsys, ["fid", ours, tmp_path / "trunc.pkl"], "trunc.pkl")
    _one_line(capsys, ["eval", ours, tmp_path / "trunc.pkl"], "trunc.pkl")


def test_cli_prints_the_note_line(tmp_path, capsys):
    x = _rows(16)
    np.savez(tmp_path / "official.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False))
    capsys.readouterr()
    assert main(["fid", str(tmp_path / "official.npz"), str(tmp_path / "official.npz"), "--json"]) == 0
    out = capsys.readouterr()
    notes = [ln for ln in out.err.splitlines() if ln.startswith("ttur: note: ")]
    assert len(notes) == 2 and "official.npz: records neither" in notes[0]
    import json

    r = json.loads(out.out)
    assert r["fid"] == pytest.approx(0.0, abs=1e-9) and "notes" not in r
    assert set(r["record"]["sides"]) == {"a", "b"}
