"""Fréchet distance, KID, Inception Score and bootstrap on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ttur.errors import NumericalError, StatsError
from ttur.metrics.distances import (
    fid_bootstrap,
    frechet_distance,
    frechet_distance_sqrtm,
    inception_score,
    kid,
    trace_sqrt_product,
)
from ttur.metrics.stats import Stats


def _gauss(rng, n, d, scale=1.0, shift=0.0):
    mix = np.eye(d) + 0.2 * rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix * scale + shift


@pytest.mark.parametrize("d", [2, 64, 512])
def test_agrees_with_sqrtm_formula_when_well_conditioned(d):
    rng = np.random.default_rng(d)
    x, y = _gauss(rng, 4 * d + 50, d), _gauss(rng, 4 * d + 50, d, 1.3, 0.2)
    args = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert frechet_distance(*args) == pytest.approx(frechet_distance_sqrtm(*args), rel=1e-6)


def test_known_closed_form():
    # diagonal covariances: tr sqrt(S1 S2) = sum sqrt(a_i b_i)
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    expected = 9.0 + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_zero_for_identical_and_symmetric():
    rng = np.random.default_rng(1)
    x, y = _gauss(rng, 300, 40), _gauss(rng, 300, 40, 2.0)
    s1, s2 = (x.mean(0), np.cov(x, rowvar=False)), (y.mean(0), np.cov(y, rowvar=False))
    assert abs(frechet_distance(*s1, *s1)) < 1e-9 * np.trace(s1[1])
    assert frechet_distance(*s1, *s2) == pytest.approx(frechet_distance(*s2, *s1), rel=1e-10)


@pytest.mark.parametrize("n1,n2", [(20, 30), (20, 500), (500, 20)])
def test_singular_covariances_give_the_exact_real_value(n1, n2):
    """Fewer samples than dimensions: exact value from the nuclear norm of the centred features."""
    rng = np.random.default_rng(n1 + n2)
    d = 128
    x, y = _gauss(rng, n1, d), _gauss(rng, n2, d, 1.5, 0.1)
    a = (x - x.mean(0)) / np.sqrt(n1 - 1)
    b = (y - y.mean(0)) / np.sqrt(n2 - 1)
    exact_tr = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert trace_sqrt_product(s1, s2) == pytest.approx(exact_tr, rel=1e-9)
    got = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    diff = x.mean(0) - y.mean(0)
    exact = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * exact_tr
    assert np.isfinite(got) and isinstance(got, float)
    assert got == pytest.approx(exact, rel=1e-7)


def test_stats_objects_and_mismatch():
    rng = np.random.default_rng(2)
    x = _gauss(rng, 50, 8)
    s = Stats(x.mean(0), np.cov(x, rowvar=False), 50, {"mode": "tf"})
    t = Stats(x.mean(0) + 1, np.cov(x, rowvar=False), 50, {"mode": "clean"})
    with pytest.raises(StatsError, match="preprocessing mode"):
        frechet_distance(s, t)
    with pytest.raises(StatsError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(NumericalError, match="NaN"):
        frechet_distance(np.zeros(2), np.array([[np.nan, 0], [0, 1]]), np.zeros(2), np.eye(2))


def test_kid_is_unbiased_and_matches_bruteforce():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((60, 16)), rng.standard_normal((60, 16)) + 0.5

    def brute(a, b):
        d = a.shape[1]
        k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
        m = len(a)
        off = ~np.eye(m, dtype=bool)
        return k(a, a)[off].mean() + k(b, b)[off].mean() - 2 * k(a, b).mean()

    mean, std = kid(x, y, subsets=1, subset_size=60)
    assert mean == pytest.approx(brute(x, y), rel=1e-12) and std == 0.0
    # same distribution: the unbiased estimate averages to ~0 over subsets (it can be negative)
    z = rng.standard_normal((2000, 16))
    m0, s0 = kid(z[:1000], z[1000:], subsets=50, subset_size=100, seed=1)
    assert abs(m0) < 3 * s0 / np.sqrt(50) + 1e-3
    m1, _ = kid(z[:1000], z[1000:] + 0.5, subsets=50, subset_size=100, seed=1)
    assert m1 > 10 * abs(m0)
    with pytest.raises(StatsError):
        kid(x[:1], y)


def test_inception_score_known_values():
    n, k = 40, 8
    uniform = np.zeros((n, 1008))
    assert inception_score(uniform, splits=4)[0] == pytest.approx(1.0)
    # confident and evenly spread over k classes: IS = k
    logits = np.full((n, 1008), -1e4)
    logits[np.arange(n), np.arange(n) % k] = 0.0
    mean, std = inception_score(logits, splits=1)
    assert mean == pytest.approx(k, rel=1e-9)
    with pytest.raises(StatsError, match="at least 10"):
        inception_score(uniform[:5], splits=10)


def test_bootstrap_spread_shrinks_with_more_samples():
    rng = np.random.default_rng(4)
    ref = _gauss(rng, 4000, 6)
    ref_stats = (ref.mean(0), np.cov(ref, rowvar=False))
    small = _gauss(rng, 100, 6, 1.1)
    big = _gauss(rng, 1000, 6, 1.1)
    m_small, s_small = fid_bootstrap(small, None, ref2=ref_stats, rounds=30)
    m_big, s_big = fid_bootstrap(big, None, ref2=ref_stats, rounds=30)
    assert np.isfinite([m_small, s_small, m_big, s_big]).all()
    assert s_big < s_small
