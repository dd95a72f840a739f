"""Streaming statistics, .npz files, compatibility checks, memory independent of the image count."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ttur.errors import NumericalError, StatsError
from ttur.metrics.stats import Stats, StatsAccumulator, check_compatible


def test_streaming_equals_numpy_for_any_batching():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1003, 17)) * 3 + 50  # a large mean: the update must not lose precision
    ref_mu, ref_sigma = x.mean(0), np.cov(x, rowvar=False)
    for sizes in ([1003], [1, 2, 1000], [50] * 20 + [3]):
        acc = StatsAccumulator(17)
        start = 0
        for s in sizes:
            acc.update(torch.from_numpy(x[start:start + s]))
            start += s
        st = acc.stats()
        assert st.n == 1003
        np.testing.assert_allclose(st.mu, ref_mu, rtol=1e-13)
        np.testing.assert_allclose(st.sigma, ref_sigma, rtol=1e-10, atol=1e-12)
        assert np.array_equal(st.sigma, st.sigma.T)


def test_merge_equals_whole():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 5))
    a, b, whole = StatsAccumulator(5), StatsAccumulator(5), StatsAccumulator(5)
    a.update(torch.from_numpy(x[:120]))
    b.update(torch.from_numpy(x[120:]))
    whole.update(torch.from_numpy(x))
    a.merge(b)
    np.testing.assert_allclose(a.stats().sigma, whole.stats().sigma, rtol=1e-12)
    np.testing.assert_allclose(a.stats().mu, whole.stats().mu, rtol=1e-12)


def test_accumulator_refuses_nan_and_too_few():
    acc = StatsAccumulator(3)
    with pytest.raises(NumericalError):
        acc.update(torch.tensor([[1.0, float("nan"), 0.0]]))
    acc.update(torch.ones(1, 3))
    with pytest.raises(StatsError, match="at least 2"):
        acc.stats()


def test_npz_round_trip_and_official_format(tmp_path):
    rng = np.random.default_rng(2)
    mu, sigma = rng.standard_normal(4), np.eye(4)
    st = Stats(mu, sigma, 77, {"mode": "tf", "dims": 4, "extractor": "inception", "weights_sha256": "ab"})
    path = st.save(tmp_path / "s.npz")
    back = Stats.load(path)
    assert back.n == 77 and back.meta["mode"] == "tf" and back.meta["weights_sha256"] == "ab"
    np.testing.assert_array_equal(back.mu, mu)
    # readers of the official format see mu and sigma, without pickles
    with np.load(path, allow_pickle=False) as f:
        np.testing.assert_array_equal(f["sigma"], sigma)
    # the official TTUR files have only mu and sigma
    np.savez_compressed(tmp_path / "official.npz", mu=mu, sigma=sigma)
    off = Stats.load(tmp_path / "official.npz")
    assert off.n is None and off.meta == {}
    check_compatible(off, back)  # no metadata: nothing to refuse
    # a name without the suffix gets one
    assert st.save(tmp_path / "noext").name == "noext.npz"


def test_bad_stats_files(tmp_path):
    with pytest.raises(StatsError, match="no such file"):
        Stats.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(StatsError, match="junk.npz"):
        Stats.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(StatsError, match="not a statistics file"):
        Stats.load(tmp_path / "other.npz")
    np.savez(tmp_path / "shape.npz", mu=np.zeros(3), sigma=np.zeros((3, 2)))
    with pytest.raises(StatsError, match="shape"):
        Stats.load(tmp_path / "shape.npz")
    np.savez(tmp_path / "nan.npz", mu=np.array([np.nan, 0]), sigma=np.eye(2))
    with pytest.raises(StatsError, match="NaN"):
        Stats.load(tmp_path / "nan.npz")


def test_mismatched_stats_refused():
    a = Stats(np.zeros(3), np.eye(3), 10, {"mode": "tf"})
    with pytest.raises(StatsError, match="3-d features.*4-d"):
        check_compatible(a, Stats(np.zeros(4), np.eye(4), 10, {}))
    with pytest.raises(StatsError, match="network weights"):
        check_compatible(Stats(np.zeros(3), np.eye(3), 10, {"weights_sha256": "x"}),
                         Stats(np.zeros(3), np.eye(3), 10, {"weights_sha256": "y"}))


def test_save_is_atomic(tmp_path, monkeypatch):
    st = Stats(np.zeros(2), np.eye(2), 5, {})
    path = st.save(tmp_path / "keep.npz")
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(RuntimeError):
        Stats(np.ones(2), np.eye(2), 5, {}).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]  # no temporary left behind


def test_peak_memory_does_not_grow_with_image_count(tmp_path):
    """A generator source of 20x more images costs no more memory: nothing per image is kept."""
    script = textwrap.dedent("""
        import resource, sys, torch
        from torch import nn
        from ttur.networks.base import ModuleExtractor
        from ttur.metrics.extract import extract
        from ttur.metrics.sources import GeneratorSource
        n = int(sys.argv[1])
        ext = ModuleExtractor(nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, 256)), "probe")
        gen = torch.Generator().manual_seed(0)
        src = GeneratorSource(lambda b: torch.rand(b, 3, 64, 64, generator=gen) * 2 - 1, n)
        extract(src, ext, batch_size=100, progress=False)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    (tmp_path / "probe.py").write_text(script)
    rss = []
    for n in (500, 10000):  # 10000 images of 64x64x3 as float32 would be 491 MB if kept
        p = subprocess.run([sys.executable, str(tmp_path / "probe.py"), str(n)], capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        rss.append(int(p.stdout.strip()) / 1024)  # MB
    assert rss[1] - rss[0] < 100, rss
