"""FID∞ (Chong and Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them").

FID computed from N samples is biased upward, by a term that falls as 1/N. FID∞ fits
``FID_N = a + b / N`` by least squares to FIDs of random sub-samples at several sizes N and reports
the intercept ``a``, the FID at infinitely many samples. The defaults are those of the paper's code
(mchong6/FID_IS_infinity, ``calculate_FID_infinity``): 15 sizes evenly spaced in N from 5,000 to
50,000 (``np.linspace(...).astype(int32)``), each sub-sample drawn anew without replacement (the
code shuffles the features and takes the first N), the generated side only sub-sampled against
statistics of the whole reference set.

Two settings:

- B given as statistics (a :class:`~ttur.metrics.stats.Stats`, or ``(mu, sigma)``): only A is
  sub-sampled; this is the paper's setup and what ``ttur eval --metrics fid_inf`` does. B's own
  finite-sample bias (from its n_B) stays in the intercept.
- B given as features: both sides are sub-sampled at the same N (up to the smaller side), so the
  intercept removes the bias of both.

When fewer features than 5,000 are at hand, the sizes scale to what there is: from a tenth of the
available count (at least 2) to all of it, the ratio of the paper's 5,000 to 50,000. Between 5,000
and 50,000 the range is 5,000 to the available count, as the paper's code does with ``num_im``.

The fit's error: ``residual_std`` is the residual standard error (``sqrt(RSS / (P - 2))`` over the P
sizes) and ``stderr`` the standard error of the intercept from it (``sqrt(s^2 [(X^T X)^-1]_00)``);
both are None with fewer than 3 sizes. With N below the feature dimension (2,048 for Inception)
FID_N is far from its asymptotic 1/N regime and the line extrapolates from afar: read ``stderr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

#: the paper's code: FID at 15 sizes from 5,000 to 50,000
NUM_POINTS = 15
N_MIN = 5000
N_MAX = 50000


@dataclass
class FIDInfinity:
    """The intercept (``fid_inf``), the slope, the fit's errors, and the FIDs it was fitted to."""

    fid_inf: float
    slope: float
    stderr: float | None
    residual_std: float | None
    sizes: list[int]
    fids: list[float]
    subsampled: str  # "A" (B as statistics) or "A and B"


def default_sizes(n: int, num_points: int = NUM_POINTS) -> list[int]:
    """The paper's sizes for ``n`` available features (see the module's text for fewer than 5,000)."""
    if n < 2:
        raise InputError(f"FID∞ needs at least 2 features per side, got {n}")
    n_max = min(N_MAX, n)
    n_min = N_MIN if n_max >= N_MIN else max(2, n_max // 10)
    return [int(x) for x in np.linspace(n_min, n_max, num_points).astype(np.int32)]


def fit_line(sizes: Sequence[int], fids: Sequence[float]) -> tuple[float, float, float | None, float | None]:
    """Least squares ``fid = a + b / N``: ``(a, b, stderr of a, residual standard error)``."""
    x = 1.0 / np.asarray(sizes, np.float64)
    y = np.asarray(fids, np.float64)
    if np.unique(x).size < 2:
        raise InputError(f"sizes: FID∞ needs at least two different sub-sample sizes, got {list(sizes)}")
    design = np.stack([np.ones_like(x), x], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    p = len(y)
    if p < 3:
        return float(a), float(b), None, None
    rss = float(np.sum((y - design @ np.array([a, b])) ** 2))
    s2 = rss / (p - 2)
    cov = s2 * np.linalg.inv(design.T @ design)
    return float(a), float(b), float(np.sqrt(max(cov[0, 0], 0.0))), float(np.sqrt(s2))


def _moments(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return f.mean(0), np.cov(f, rowvar=False)


def fid_infinity(
    features_a,
    b,
    *,
    sizes: Sequence[int] | None = None,
    num_points: int = NUM_POINTS,
    seed: int = 0,
) -> FIDInfinity:
    """FID∞ of A's features against B (features, a ``Stats`` or ``(mu, sigma)``).

    ``sizes``: the sub-sample sizes N (default :func:`default_sizes` of the available count);
    ``num_points``: how many default sizes; ``seed``: the sub-samples' generator
    (``numpy.random.default_rng``).
    """
    from .distances import frechet_distance

    fa = np.asarray(features_a, np.float64)
    if fa.ndim != 2:
        raise InputError(f"features_a: expected an (N, dims) array, got shape {fa.shape}")
    fb = rows_b = None
    if hasattr(b, "mu") and hasattr(b, "sigma"):
        mu_b, sigma_b, n_b = np.asarray(b.mu, np.float64), np.asarray(b.sigma, np.float64), getattr(b, "n", None)
        rows_b = getattr(b, "features", None)  # kept by a pass with no more rows than dimensions: B factored once
    elif isinstance(b, tuple) and len(b) == 2:
        mu_b, sigma_b, n_b = np.asarray(b[0], np.float64), np.asarray(b[1], np.float64), None
    else:
        fb = np.asarray(b, np.float64)
        if fb.ndim != 2 or fb.shape[1] != fa.shape[1]:
            raise InputError(f"b: expected ({'N'}, {fa.shape[1]}) features, got shape {fb.shape}")
    available = fa.shape[0] if fb is None else min(fa.shape[0], fb.shape[0])
    if sizes is None:
        if isinstance(num_points, bool) or not isinstance(num_points, (int, np.integer)) or num_points < 2:
            raise InputError(f"num_points: must be an integer of at least 2, got {num_points!r}")
        sizes = default_sizes(available, num_points)
    sizes = [int(s) for s in sizes]
    bad = [s for s in sizes if s < 2 or s > available]
    if bad:
        raise InputError(f"sizes: each must be between 2 and {available} (the features available), got {bad}")
    rng = np.random.default_rng(seed)
    fids = []
    for n in sizes:
        sa = fa[rng.permutation(fa.shape[0])[:n]]
        mu_a, sigma_a = _moments(sa)
        if fb is None:
            fids.append(frechet_distance(mu_a, sigma_a, mu_b, sigma_b, n1=n, n2=n_b, features1=sa, features2=rows_b))
        else:
            sb = fb[rng.permutation(fb.shape[0])[:n]]
            mu, sigma = _moments(sb)
            fids.append(frechet_distance(mu_a, sigma_a, mu, sigma, n1=n, n2=n, features1=sa, features2=sb))
    a, slope, se, rse = fit_line(sizes, fids)
    return FIDInfinity(fid_inf=a, slope=slope, stderr=se, residual_std=rse, sizes=sizes, fids=[float(x) for x in fids],
                       subsampled="A" if fb is None else "A and B")


__all__ = ["FIDInfinity", "N_MAX", "N_MIN", "NUM_POINTS", "default_sizes", "fid_infinity", "fit_line"]
