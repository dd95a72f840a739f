"""Distances and scores on features: Fréchet distance, KID, Inception Score, FID bootstrap error bars.

All in float64 numpy. The Fréchet distance never calls ``scipy.linalg.sqrtm``: the trace of
``sqrt(S1 S2)`` is the sum of the square roots of the eigenvalues of the symmetric matrix
``L^T S2 L`` (``S1 = L L^T``), which a Cholesky factor and one symmetric eigenvalue solve give in
well under a second at 2048 dimensions, real and finite even when a covariance is singular.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import blas
from scipy.special import logsumexp

from ..errors import NumericalError, StatsError

_EPS = np.finfo(np.float64).eps


def _congruence(l: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``L^T S L`` for lower-triangular ``L`` and symmetric ``S``: two triangular products.

    BLAS wants column-major operands: ``L.T`` of a row-major ``L`` is a column-major upper
    triangle ``U = L^T``, and ``S.T`` (= S) is column-major, so no copy is made.
    """
    u = l.T
    sl = blas.dtrmm(1.0, u, s.T, side=1, lower=0, trans_a=1)  # S U^T = S L
    return blas.dtrmm(1.0, u, sl, side=0, lower=0, overwrite_b=1)  # U (S L) = L^T S L


def _factor(s: np.ndarray) -> np.ndarray | None:
    """Cholesky factor of ``s``, or None when it is not numerically positive definite."""
    try:
        return np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        return None


def _threshold(w: np.ndarray, d: int) -> np.ndarray:
    """Eigenvalues below ``d * eps * max`` are rounding noise of a null space: make them zero."""
    top = max(float(w.max(initial=0.0)), 0.0)
    return np.where(w > d * _EPS * top, w, 0.0)


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``tr sqrt(S1 S2)`` for symmetric positive semi-definite S1, S2 (float64).

    The eigenvalues of ``S1 S2`` are those of ``L^T S2 L`` for any factor ``S1 = L L^T``. With a
    Cholesky factor of either matrix this costs one factorisation, two triangular products and one
    eigenvalue-only symmetric solve. When neither is positive definite (fewer samples than
    dimensions on both sides), the factor comes from the eigendecomposition of S1 restricted to its
    numerical range. Eigenvalues at the rounding level of a null space are treated as zero, which is
    what keeps the result at the exact value instead of summing square roots of noise.
    """
    d = s1.shape[0]
    if d == 1:
        return float(np.sqrt(max(float(s1[0, 0] * s2[0, 0]), 0.0)))
    l = _factor(s1)
    other = s2
    if l is None:
        l = _factor(s2)
        other = s1
    if l is not None:
        m = _congruence(l, other)
    else:
        # Only the eigenpairs above the noise floor (bounded through the trace, >= the largest
        # eigenvalue): with few samples that is a handful, and the solver skips the rest.
        floor = d * _EPS * max(float(np.trace(s1)), 0.0)
        w, v = linalg.eigh(s1, subset_by_value=[floor, np.inf], driver="evr", check_finite=False)
        b = v * np.sqrt(w)
        m = b.T @ s2 @ b
    ev = _threshold(linalg.eigh(m, eigvals_only=True, driver="evd", check_finite=False), d)
    return float(np.sqrt(ev).sum())


def frechet_distance(mu1, sigma1, mu2=None, sigma2=None) -> float:
    """Fréchet distance between two Gaussians, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2))``.

    Takes ``(mu1, sigma1, mu2, sigma2)`` arrays, or two :class:`ttur.stats.Stats` objects.
    """
    if mu2 is None and sigma2 is None and hasattr(mu1, "mu") and hasattr(sigma1, "mu"):
        from .stats import check_compatible

        check_compatible(mu1, sigma1)
        mu1, sigma1, mu2, sigma2 = mu1.mu, mu1.sigma, sigma1.mu, sigma1.sigma
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise StatsError(
            f"statistics do not match: mean {mu1.shape} and covariance {s1.shape} against "
            f"mean {mu2.shape} and covariance {s2.shape}"
        )
    for name, a in (("first mean", mu1), ("first covariance", s1), ("second mean", mu2),
                    ("second covariance", s2)):
        if not np.all(np.isfinite(a)):
            raise NumericalError(f"the {name} contains NaN or infinity")
    diff = mu1 - mu2
    tr = trace_sqrt_product(s1, s2)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr)


def frechet_distance_sqrtm(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """The original formula with ``scipy.linalg.sqrtm`` (bioinf-jku/TTUR, pytorch-fid); for comparison only."""
    from scipy import linalg

    diff = mu1 - mu2
    with np.errstate(all="ignore"):
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


# ----------------------------------------------------------------------------------------------
# Kernel Inception Distance
# ----------------------------------------------------------------------------------------------


def _poly_kernel(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (x @ y.T * gamma + coef0) ** degree


def kid(
    f1: np.ndarray,
    f2: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018): mean and std of the unbiased MMD^2.

    Polynomial kernel ``(x.y * gamma + coef0) ** degree`` with ``gamma = 1/dim``, over ``subsets``
    random subsets of ``subset_size`` samples from each side (without replacement; the size is
    capped at the smaller set).
    """
    f1 = np.asarray(f1, np.float64)
    f2 = np.asarray(f2, np.float64)
    n = min(len(f1), len(f2))
    if n < 2:
        raise StatsError(f"KID needs at least 2 samples on each side, got {len(f1)} and {len(f2)}")
    if subset_size < 2:
        raise StatsError(f"KID: the subset size must be at least 2, got {subset_size}")
    m = min(subset_size, n)
    gamma = 1.0 / f1.shape[1] if gamma is None else gamma
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)] if m < len(f1) else f1
        y = f2[rng.choice(len(f2), m, replace=False)] if m < len(f2) else f2
        kxx = _poly_kernel(x, x, degree, gamma, coef0)
        kyy = _poly_kernel(y, y, degree, gamma, coef0)
        kxy = _poly_kernel(x, y, degree, gamma, coef0)
        vals[i] = (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2.0 * kxy.mean()
        )
    return float(vals.mean()), float(vals.std())


# ----------------------------------------------------------------------------------------------
# Inception Score
# ----------------------------------------------------------------------------------------------


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score from the 1008 logits: ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over splits.

    The images are split in order into ``splits`` nearly equal parts, as the original code does.
    """
    logits = np.asarray(logits, np.float64)
    n = len(logits)
    if n < splits or n < 1:
        raise StatsError(f"the Inception Score needs at least {splits} images (one per split), got {n}")
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    scores = []
    for part in np.array_split(np.arange(n), splits):
        pp, lp = p[part], log_p[part]
        log_py = logsumexp(lp, axis=0) - np.log(len(part))  # log of the mean, finite where p underflows
        kl = (pp * (lp - log_py)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


# ----------------------------------------------------------------------------------------------
# Bootstrap
# ----------------------------------------------------------------------------------------------


def fid_bootstrap(
    f1: np.ndarray | None,
    f2: np.ndarray | None,
    ref1=None,
    ref2=None,
    rounds: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap mean and standard deviation of the FID.

    Each side that has features (``f1``, ``f2``) is resampled with replacement; a side given only
    as statistics (``ref1`` / ``ref2``: (mu, sigma)) is held fixed, as a reference set is.
    """
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(rounds):
        sides = []
        for f, ref in ((f1, ref1), (f2, ref2)):
            if f is not None:
                sample = np.asarray(f, np.float64)[rng.integers(0, len(f), len(f))]
                sides.append((sample.mean(0), np.cov(sample, rowvar=False)))
            else:
                sides.append(ref)
        vals.append(frechet_distance(sides[0][0], sides[0][1], sides[1][0], sides[1][1]))
    vals = np.asarray(vals)
    return float(vals.mean()), float(vals.std(ddof=1)) if rounds > 1 else 0.0
