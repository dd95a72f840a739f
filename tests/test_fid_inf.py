"""FID∞ (ttur.metrics.extrapolate): the paper's sizes, the least-squares line and its errors, sub-sampling."""

from __future__ import annotations

import numpy as np
import pytest

from ttur.errors import InputError
from ttur.metrics.distances import frechet_distance
from ttur.metrics.extrapolate import default_sizes, fid_infinity, fit_line
from ttur.metrics.stats import Stats


def test_default_sizes_are_the_papers():
    # mchong6/FID_IS_infinity: np.linspace(5000, num_im, 15).astype('int32'), num_im = 50000
    assert default_sizes(50_000) == np.linspace(5000, 50000, 15).astype(np.int32).tolist()
    assert default_sizes(200_000) == default_sizes(50_000)
    assert default_sizes(20_000) == np.linspace(5000, 20000, 15).astype(np.int32).tolist()
    small = default_sizes(64)  # fewer than 5,000: a tenth of what there is, to all of it
    assert small[0] == 6 and small[-1] == 64 and len(small) == 15
    assert default_sizes(10, 5) == [2, 4, 6, 8, 10]


def test_fit_line_exact_and_as_sklearn():
    n = np.array([100, 200, 400, 800, 1600])
    a, b, se, rse = fit_line(n, 3.0 + 250.0 / n)
    assert a == pytest.approx(3.0, abs=1e-12) and b == pytest.approx(250.0, rel=1e-12)
    assert se == pytest.approx(0.0, abs=1e-10) and rse == pytest.approx(0.0, abs=1e-10)
    lm = pytest.importorskip("sklearn.linear_model")
    y = 3.0 + 250.0 / n + np.array([0.1, -0.2, 0.05, 0.3, -0.1])
    a, b, se, rse = fit_line(n, y)
    reg = lm.LinearRegression().fit(1 / n.reshape(-1, 1), y.reshape(-1, 1))  # the paper's fit
    assert a == pytest.approx(float(reg.predict(np.array([[0.0]]))[0, 0]), abs=1e-12)
    assert b == pytest.approx(float(reg.coef_[0, 0]), rel=1e-10)
    # textbook standard error of the intercept
    x = 1 / n
    resid = y - (a + b * x)
    s2 = resid @ resid / (len(n) - 2)
    assert rse == pytest.approx(np.sqrt(s2), rel=1e-12)
    assert se == pytest.approx(np.sqrt(s2 * (x @ x) / (len(n) * (x @ x) - x.sum() ** 2)), rel=1e-10)
    assert fit_line([10, 20], [1.0, 2.0])[2:] == (None, None)
    with pytest.raises(InputError, match="two different"):
        fit_line([10, 10, 10], [1.0, 2.0, 3.0])


def test_gaussians_extrapolate_to_the_true_distance():
    """A ~ N(0, I_8) against B's exact statistics N(0.5, I_8): the true FID is 8 * 0.25 = 2.
    The intercept lands on 2 within its error."""
    rng = np.random.default_rng(0)
    d = 8
    a = rng.normal(size=(4000, d))
    b = Stats(np.full(d, 0.5), np.eye(d), None)
    r = fid_infinity(a, b, sizes=[250, 500, 1000, 2000, 4000], seed=1)
    assert r.subsampled == "A"
    assert abs(r.fid_inf - 2.0) < 4 * r.stderr + 0.05
    assert r.fids[-1] == pytest.approx(frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mu, b.sigma))


def test_seeded_and_without_replacement(monkeypatch):
    rng = np.random.default_rng(2)
    a, bf = rng.normal(size=(300, 4)), rng.normal(size=(200, 4)) + 0.3
    one = fid_infinity(a, bf, num_points=5, seed=7)
    assert one == fid_infinity(a, bf, num_points=5, seed=7)
    assert one.fids != fid_infinity(a, bf, num_points=5, seed=8).fids
    assert one.subsampled == "A and B" and one.sizes == [20, 65, 110, 155, 200]  # up to the smaller side
    # without replacement: a sub-sample of every row is the whole set, whatever its order
    stats_b = (bf.mean(0), np.cov(bf, rowvar=False))
    full = fid_infinity(a, stats_b, sizes=[150, 300], seed=3)
    assert full.fids[1] == pytest.approx(frechet_distance(a.mean(0), np.cov(a, rowvar=False), *stats_b), rel=1e-12)


def test_bad_sizes_are_refused():
    a = np.zeros((10, 2))
    with pytest.raises(InputError, match="between 2 and 10"):
        fid_infinity(a, (np.zeros(2), np.eye(2)), sizes=[5, 11])
    with pytest.raises(InputError, match="at least 2"):
        default_sizes(1)
