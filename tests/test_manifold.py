"""Precision, recall, density and coverage (ttur.metrics.manifold) against the reference `prdc` package.

The reference (clovaai/generative-evaluation-prdc, ``compute_prdc``) runs on float64 features here, so
both compute the same distances with the same expansion: the four numbers agree exactly, counts and all.
Ties and duplicates are tested on small integer features, where every distance is exact in float64 in
both implementations, so a tie is a tie in both.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from ttur.errors import InputError
from ttur.metrics import manifold
from ttur.metrics.manifold import knn_radii, manifold_metrics, prdc, precision_recall

prdc_ref = pytest.importorskip("prdc")

KEYS = ("precision", "recall", "density", "coverage")


def _ref(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the two counts
        out = prdc_ref.compute_prdc(np.asarray(real, np.float64), np.asarray(fake, np.float64), k)
    return {key: float(out[key]) for key in KEYS}


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("chunk", [1, 37, 10_000])
def test_random_features_equal_the_reference(k, chunk):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(300, 32))
    fake = rng.normal(size=(250, 32)) * 1.1 + 0.2
    assert prdc(real, fake, nearest_k=k, chunk_size=chunk) == _ref(real, fake, k)


def test_golden_inception_features_equal_the_reference(fixtures_dir):
    """The fixture's Inception pool3 features (64 + 64 images, 2048-d), B as real, A as fake, k = 3 and 5."""
    a = np.load(fixtures_dir / "features_tf_a.npy")
    b = np.load(fixtures_dir / "features_tf_b.npy")
    for k in (3, 5):
        ref = _ref(b, a, k)
        got = prdc(b, a, nearest_k=k, chunk_size=10)
        assert got == ref, (k, got, ref)
    both = manifold_metrics(b, a)  # the papers' ks: precision/recall at 3, density/coverage at 5
    r3, r5 = _ref(b, a, 3), _ref(b, a, 5)
    assert both == {"precision": r3["precision"], "recall": r3["recall"], "density": r5["density"],
                    "coverage": r5["coverage"]}
    assert precision_recall(b, a) == (r3["precision"], r3["recall"])


def test_identical_sets_give_one():
    x = np.random.default_rng(1).normal(size=(100, 16))
    for fake in (x, x.copy()):
        out = prdc(x, fake, nearest_k=5, chunk_size=16)
        assert out["precision"] == out["recall"] == out["coverage"] == 1.0
        assert out == _ref(x, fake, 5)


@pytest.mark.parametrize("seed", range(4))
def test_ties_and_duplicates_as_the_reference(seed):
    """Integer features in a small cube: many exact duplicates and distance ties. The reference counts a
    duplicate as a neighbour at distance 0 and a point inside a ball only when distance < radius."""
    rng = np.random.default_rng(seed)
    real = rng.integers(0, 3, size=(80, 3)).astype(np.float64)
    fake = rng.integers(0, 3, size=(70, 3)).astype(np.float64)
    for k in (1, 3, 5):
        assert prdc(real, fake, nearest_k=k, chunk_size=9) == _ref(real, fake, k)


def test_boundary_is_outside_and_duplicates_shrink_the_ball():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    # radii (k = 1): 1, 1, 1, 1. A fake point at distance exactly 1 from its nearest real point is outside.
    assert precision_recall(real, np.array([[4.0], [5.0]]), nearest_k=1)[0] == 0.0
    assert precision_recall(real, np.array([[3.5], [5.0]]), nearest_k=1)[0] == 0.5
    # a real point with a duplicate has radius 0 at k = 1: its ball holds nothing, not even the point itself
    dup = np.array([[0.0], [0.0], [10.0], [11.0]])
    r = knn_radii(dup, [1, 2])
    assert r[1].tolist() == [0.0, 0.0, 1.0, 1.0] and r[2].tolist() == [10.0, 10.0, 10.0, 11.0]
    fake = np.array([[0.0], [0.0], [0.0]])  # the reference needs k + 2 points per side (argpartition at k + 1)
    out = prdc(dup, fake, nearest_k=1)
    assert out["precision"] == 0.0 and out["coverage"] == 0.0 and out == _ref(dup, fake, 1)


def test_memory_is_bounded_by_the_chunk(monkeypatch):
    """Every distance block has at most chunk_size rows: no N x N matrix is made."""
    shapes = []
    real_block = manifold._block
    monkeypatch.setattr(manifold, "_block", lambda xb, *a, **kw: shapes.append(tuple(real_block(xb, *a, **kw).shape))
                        or real_block(xb, *a, **kw))
    x = np.random.default_rng(0).normal(size=(200, 8))
    y = np.random.default_rng(1).normal(size=(150, 8))
    prdc(x, y, chunk_size=16)
    assert shapes and max(s[0] for s in shapes) <= 16
    assert {s[1] for s in shapes} == {200, 150}


def test_float32_is_close():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(200, 64)), rng.normal(size=(200, 64)) + 0.1
    a = prdc(real, fake, dtype=torch.float32)
    b = prdc(real, fake)
    for key in KEYS:
        assert a[key] == pytest.approx(b[key], abs=0.02)


def test_torch_input_and_device():
    x = torch.randn(50, 8, dtype=torch.float32)
    y = torch.randn(40, 8, dtype=torch.float32)
    assert prdc(x, y, device="cpu") == _ref(x.double().numpy(), y.double().numpy(), 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_the_reference():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(3000, 256)), rng.normal(size=(2000, 256)) + 0.05
    assert prdc(real, fake, device="cuda", chunk_size=500) == _ref(real, fake, 5)


def test_bad_inputs_are_one_line():
    x = np.zeros((4, 3))
    with pytest.raises(InputError, match="at least 6 real"):
        prdc(x, x, nearest_k=5)
    with pytest.raises(InputError, match="different dimensions"):
        prdc(np.zeros((10, 3)), np.zeros((10, 4)), nearest_k=2)
    with pytest.raises(InputError, match="NaN"):
        prdc(np.full((10, 3), np.nan), np.zeros((10, 3)), nearest_k=2)
    with pytest.raises(InputError, match="chunk_size"):
        prdc(np.zeros((10, 3)), np.zeros((10, 3)), nearest_k=2, chunk_size=0)
