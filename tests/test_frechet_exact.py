"""The Fréchet step against its exact value in every regime of sample count against dimension.

The reference is computed from the features themselves in float64: with ``A``, ``B`` the centred
features over ``sqrt(n - 1)``, ``S1 = A^T A``, ``S2 = B^T B`` and ``tr sqrt(S1 S2) = ||A B^T||_*``
(the sum of the singular values of the small ``n1 x n2`` matrix). ttur must reach it to 1e-6
relative from the covariances alone (with or without the sample counts), from :class:`Stats`
objects, and from the features when a pass kept them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ttur.metrics.distances import fid_bootstrap, frechet_distance
from ttur.metrics.stats import Stats, StatsAccumulator

TOL = 1e-6


def exact_fd(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    tr = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    d = x.mean(0) - y.mean(0)
    return float(d @ d + (a * a).sum() + (b * b).sum() - 2.0 * tr)


def all_routes(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The distance as each caller reaches it: plain arrays, arrays with counts, Stats, features."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    acc1, acc2 = StatsAccumulator(x.shape[1]), StatsAccumulator(y.shape[1])
    import torch

    for acc, f in ((acc1, x), (acc2, y)):
        for part in np.array_split(f, 3):
            acc.update(torch.from_numpy(part))
    st1, st2 = acc1.stats(), acc2.stats()
    return {
        "arrays": frechet_distance(m1, s1, m2, s2),
        "arrays+n": frechet_distance(m1, s1, m2, s2, n1=len(x), n2=len(y)),
        "features": frechet_distance(m1, s1, m2, s2, features1=x, features2=y),
        "stats (pass)": frechet_distance(st1, st2),
        "stats (file)": frechet_distance(Stats(st1.mu, st1.sigma, st1.n), Stats(st2.mu, st2.sigma, st2.n)),
    }


def assert_exact(x, y, tol=TOL):
    want = exact_fd(x, y)
    got = all_routes(x, y)
    errs = {k: abs(v - want) / abs(want) for k, v in got.items()}
    assert max(errs.values()) < tol, (want, errs)


D = 128


def _spectrum(rng, n, kind):
    if kind == "white":
        return rng.standard_normal((n, D))
    if kind == "tiny":  # singular values of the features from 1 down to 1e-4: eigenvalues down to 1e-8
        return rng.standard_normal((n, D)) * np.logspace(0, -4, D)
    if kind == "relu":  # non-negative, correlated, a few dead dimensions (exact zero variance)
        mix = np.eye(D) + 0.3 * rng.standard_normal((D, D)) / np.sqrt(D)
        z = np.maximum(rng.standard_normal((n, D)) @ mix, 0.0)
        z[:, :4] = 0.0
        return z
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["white", "tiny", "relu"])
@pytest.mark.parametrize("n1,n2", [(2, 2), (3, 40), (D // 2, D // 2), (D - 2, D - 2), (D - 1, D - 1), (D, D),
                                   (D + 1, D + 1), (D + 2, D + 2), (3 * D, 3 * D), (D + 1, 20), (5 * D, D - 1)])
def test_every_sample_count(kind, n1, n2):
    rng = np.random.default_rng(n1 * 7 + n2)
    assert_exact(_spectrum(rng, n1, kind), _spectrum(rng, n2, kind) + 0.01)


@pytest.mark.parametrize("n", [30, D - 1, D + 1, 4 * D])
def test_nearly_orthogonal_ranges(n):
    """Each set lives in its own half of the space, with a coupling of 1e-3 between them."""
    rng = np.random.default_rng(n)
    q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    u, v = q[:, : D // 2], q[:, D // 2:]
    x = rng.standard_normal((n, D // 2)) @ u.T
    y = rng.standard_normal((n, D // 2)) @ (v + 1e-3 * u).T
    assert_exact(x, y)


@pytest.mark.parametrize("n,unique", [(D // 2, D // 8), (2 * D, D // 4), (3 * D, D - 3)])
def test_duplicated_images(n, unique):
    """Repeated rows (a bootstrap resample, a generator that collapsed): the rank is below n - 1."""
    rng = np.random.default_rng(n + unique)
    base = _spectrum(rng, unique, "relu")
    x = base[rng.integers(0, unique, n)]
    y = _spectrum(rng, n, "relu") + 0.05
    assert_exact(x, y)


def test_identical_sets_give_exactly_zero():
    rng = np.random.default_rng(5)
    for n in (10, D + 1, 3 * D):
        x = _spectrum(rng, n, "relu")
        for v in all_routes(x, x).values():
            assert v == 0.0 or 0.0 <= v < 1e-10 * np.trace(np.cov(x, rowvar=False))


def test_bootstrap_resamples_are_exact():
    """The bootstrap draws with replacement, so each resample has duplicates: it uses the features."""
    rng = np.random.default_rng(9)
    x, y = _spectrum(rng, 60, "relu"), _spectrum(rng, 60, "relu") + 0.1
    mean, std = fid_bootstrap(x, y, rounds=3, seed=1)
    r = np.random.default_rng(1)
    want = []
    for _ in range(3):
        xs, ys = x[r.integers(0, 60, 60)], y[r.integers(0, 60, 60)]
        want.append(exact_fd(xs, ys))
    assert mean == pytest.approx(np.mean(want), rel=1e-9)
    assert std == pytest.approx(np.std(want, ddof=1), rel=1e-6)


def test_rows_kept_only_up_to_the_dimension():
    import torch

    acc = StatsAccumulator(8)
    acc.update(torch.ones(5, 8).cumsum(0))
    assert acc.stats().features.shape == (5, 8)
    acc.update(torch.randn(4, 8, dtype=torch.float64))
    assert acc.stats().features is None  # 9 rows > 8 dimensions: dropped, for good
    acc.update(torch.randn(1, 8, dtype=torch.float64))
    assert acc.stats().features is None and acc.n == 10
    # merging keeps the rows of both while there are no more than the dimensions
    a, b = StatsAccumulator(8), StatsAccumulator(8)
    x = torch.randn(6, 8, dtype=torch.float64)
    a.update(x[:3])
    b.update(x[3:])
    a.merge(b)
    assert torch.equal(torch.from_numpy(a.stats().features), x)
    a.merge(b)  # 9 rows > 8: dropped
    assert a.stats().features is None and a.n == 9


# ----------------------------------------------------------------------------------------------
# Real features: pool3 of CIFAR-10 and CelebA JPEGs (scripts/make_frechet_features.py)
# ----------------------------------------------------------------------------------------------

REAL = Path(__file__).parent / "data" / "pool3_pytorch-fid_stand-in_f16.npz"


@pytest.fixture(scope="module")
def real():
    with np.load(REAL) as f:
        return {k: f[k].astype(np.float64) for k in f.files}


def _real_routes(x, y):
    """The routes that differ at 2048 dimensions: covariances alone, covariances and counts (a
    statistics file read back), and the rows a pass keeps."""
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    if min(len(x), len(y)) > x.shape[1]:  # no rows kept, no rank bound from n: the three are one computation
        return {"stats file": frechet_distance(Stats(m1, s1, len(x)), Stats(m2, s2, len(y)))}
    return {
        "arrays": frechet_distance(m1, s1, m2, s2),
        "stats file": frechet_distance(Stats(m1, s1, len(x)), Stats(m2, s2, len(y))),
        "pass": frechet_distance(Stats(m1, s1, len(x), features=x if len(x) <= 2048 else None),
                                 Stats(m2, s2, len(y), features=y if len(y) <= 2048 else None)),
    }


def _check_real(real, n1, n2, a="cifar10_test", b="cifar10_train"):
    x, y = real[a][:n1], real[b][:n2]
    want = exact_fd(x, y)
    errs = {k: abs(v - want) / want for k, v in _real_routes(x, y).items()}
    assert max(errs.values()) < TOL, (n1, n2, want, errs)


# the table: 1,000 airplanes a side is where 7e-3 was lost; 2,047-2,049 straddle full rank
# (about 10 s a case on 2 cores: the rest of the table runs with -m slow)
@pytest.mark.parametrize("n1,n2", [(1000, 1000), (2048, 2048), (2049, 2049)])
def test_real_cifar10_features(real, n1, n2):
    _check_real(real, n1, n2)


@pytest.mark.slow
@pytest.mark.parametrize("n1,n2", [(2, 2), (100, 100), (300, 300), (700, 700), (1500, 1500), (2047, 2047),
                                   (1000, 300), (2049, 1000), (1000, 2049)])
def test_real_cifar10_features_every_count(real, n1, n2):
    _check_real(real, n1, n2)


def test_real_celeba_against_cifar10(real):
    _check_real(real, 32, 500, a="celeba")


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 16])
def test_real_celeba_few_images(real, n):
    _check_real(real, n, 500, a="celeba")
