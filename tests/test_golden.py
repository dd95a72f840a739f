"""Golden tests: our network, resize and metrics against the reference outputs in ../shared/fixtures.

Tolerances are the fixtures README's: features max |diff| <= 1e-4 x max |reference| per mode; resize
max |diff| <= 1e-3 (pixels 0..255); FID, KID and IS from the reference features within 1e-6 of the
exact values.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ttur.images.files import FolderImages
from ttur.metrics.api import get_extractor
from ttur.metrics.distances import frechet_distance, inception_score, kid
from ttur.metrics.extract import extract
from ttur.metrics.preprocess import resize_tf1_bilinear
from ttur.metrics.sources import SequenceSource

SETS = ("a", "b", "odd")
FEATURE_TOL = 1e-4


@pytest.fixture(scope="module")
def extracted(fixtures_dir, fake_weights):
    """Features (and tf logits) of the three fixture sets in both modes, fused network: one pass each."""
    out = {}
    for mode in ("tf", "pytorch-fid"):
        ext = get_extractor(None, mode=mode, weights=fake_weights)
        for s in SETS:
            src = SequenceSource(FolderImages(fixtures_dir / "images" / s), num_workers=0)
            e = extract(src, ext, batch_size=16, keep_features=True, keep_logits=(mode == "tf"), progress=False)
            out[mode, s] = e
    return out


def _rel_max(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def test_tf1_resize_matches_tensorflow(fixtures_dir):
    src = np.load(fixtures_dir / "resize_src_odd0.npy")
    ref = np.load(fixtures_dir / "resize_tf1_odd0_299.npy")
    out = resize_tf1_bilinear(torch.from_numpy(src).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-3
    # the arithmetic follows TensorFlow's kernel step by step: bit-identical in practice
    assert np.abs(out - ref).max() == 0.0


@pytest.mark.parametrize("mode", ["tf", "pytorch-fid"])
@pytest.mark.parametrize("s", SETS)
def test_features_match_reference(extracted, fixtures_dir, mode, s):
    ref = np.load(fixtures_dir / f"features_{mode}_{s}.npy")
    got = extracted[mode, s].features
    assert got.shape == ref.shape
    assert _rel_max(got, ref) <= FEATURE_TOL


@pytest.mark.parametrize("s", SETS)
def test_logits_match_reference(extracted, fixtures_dir, s):
    ref = np.load(fixtures_dir / f"logits_tf_{s}.npy")
    got = extracted["tf", s].logits
    assert got.shape == ref.shape == (len(ref), 1008)
    assert _rel_max(got, ref) <= FEATURE_TOL


def test_reference_network_is_bit_exact_in_tf_mode(fixtures_dir, fake_weights):
    """The unfused network reproduces torch-fidelity's features exactly (same operations, same order)."""
    ext = get_extractor(None, mode="tf", weights=fake_weights, fast=False)
    src = SequenceSource(FolderImages(fixtures_dir / "images" / "odd"), num_workers=0)
    e = extract(src, ext, batch_size=16, keep_features=True, progress=False)
    ref = np.load(fixtures_dir / "features_tf_odd.npy")
    assert _rel_max(e.features, ref) <= 1e-6


@pytest.mark.parametrize("mode", ["tf", "pytorch-fid"])
def test_fid_from_reference_features_is_exact(fixtures_dir, golden, mode):
    a = np.load(fixtures_dir / f"features_{mode}_a.npy").astype(np.float64)
    b = np.load(fixtures_dir / f"features_{mode}_b.npy").astype(np.float64)
    got = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    exact = golden[f"fid_{mode}_a_b_exact"]
    assert abs(got - exact) / exact <= 1e-6
    # and it is not the clipped-eigenvalue number, which misses by ~7e-6
    clipped = golden[f"fid_{mode}_a_b_eigh_clipped"]
    assert abs(got - exact) < abs(clipped - exact) or abs(clipped - exact) / exact < 1e-6


@pytest.mark.parametrize("mode", ["tf", "pytorch-fid"])
def test_fid_from_our_features(extracted, golden, mode):
    """End to end through our pipeline: within 1e-5 of the exact FID (the fused network's float32 rounding)."""
    sa, sb = extracted[mode, "a"].stats, extracted[mode, "b"].stats
    got = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
    assert got == pytest.approx(golden[f"fid_{mode}_a_b_exact"], rel=1e-5)
    assert sa.n == sb.n == 64


def test_pytorch_fid_mode_matches_pytorch_fids_own_number(extracted, golden):
    sa, sb = extracted["pytorch-fid", "a"].stats, extracted["pytorch-fid", "b"].stats
    got = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
    assert got == pytest.approx(golden["fid_pytorch-fid_a_b_by_pytorch-fid"], rel=1e-4)


def test_inception_score_from_reference_logits(fixtures_dir, golden):
    logits = np.load(fixtures_dir / "logits_tf_a.npy")
    mean, std = inception_score(logits, splits=1)
    assert mean == pytest.approx(golden["isc_tf_a_splits1"], rel=1e-6)
    assert std == 0.0


def _kid_float64_bruteforce(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x.astype(np.float64), y.astype(np.float64)
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1.0) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = ~np.eye(m, dtype=bool)
    return kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()


def test_kid_from_reference_features(fixtures_dir, golden):
    a = np.load(fixtures_dir / "features_tf_a.npy")
    b = np.load(fixtures_dir / "features_tf_b.npy")
    mean, std = kid(a, b, subsets=1, subset_size=64)
    assert mean == pytest.approx(_kid_float64_bruteforce(a, b), rel=1e-9)
    assert std == 0.0
    # golden.json's KID was computed by torch-fidelity in float32 arithmetic; the same float32
    # arithmetic reproduces it bit for bit, and our float64 value lies within float32 rounding of it
    m = 64
    x, y = b, a
    kxx = (x @ x.T / 2048 + 1) ** 3
    kyy = (y @ y.T / 2048 + 1) ** 3
    kxy = (x @ y.T / 2048 + 1) ** 3
    s = kxx + kyy
    f32 = ((s.sum() - np.diag(s).sum()) / (m - 1) - kxy.sum() * 2 / m) / m
    assert f32.dtype == np.float32 and float(f32) == golden["kid_tf_a_b_one_full_subset"]
    assert abs(mean - golden["kid_tf_a_b_one_full_subset"]) < 2e-7


def test_cli_prints_fixture_fid(fixtures_dir, weights_env, golden):
    cmd = [sys.executable, "-m", "ttur", "fid", str(fixtures_dir / "images" / "a"),
           str(fixtures_dir / "images" / "b"), "--json", "--no-progress", "--batch-size", "32",
           "--isc", "--isc-splits", "1", "--kid", "--kid-subsets", "1", "--kid-subset-size", "64"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["fid"] == pytest.approx(golden["fid_tf_a_b_exact"], rel=1e-5)
    assert out["isc_mean"] == pytest.approx(golden["isc_tf_a_splits1"], rel=1e-6)
    assert out["kid_mean"] == pytest.approx(golden["kid_tf_a_b_one_full_subset"], rel=1e-3)
    assert out["n_a"] == out["n_b"] == 64 and out["mode"] == "tf" and out["label"] == "FID"
    assert out["seconds"] > 0
    # one warning line: the stand-in weights are not the official file
    assert "not the official FID Inception weights" in p.stderr
