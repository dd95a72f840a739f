"""Distances and scores on features: Fréchet distance, KID, Inception Score, FID bootstrap error bars.

All in float64 numpy. The Fréchet distance never calls ``scipy.linalg.sqrtm``. Its trace term
``tr sqrt(S1 S2)`` is the nuclear norm (sum of singular values) of ``G1 G2^T`` for any factors
``S1 = G1^T G1`` and ``S2 = G2^T G2``: a Cholesky factor when a covariance is positive definite,
its range (eigenvectors scaled by the square roots of the eigenvalues above the rounding floor)
when it is singular, and the centred features themselves when they are at hand. Singular values of
that product are accurate to rounding of its largest one, so the many small terms that decide the
value when there are about as many images as dimensions are kept exactly; the eigenvalues of
``S1 S2`` (what ``sqrtm`` and an eigendecomposition of the product work from) carry the squared
condition number and lose them. For two full-rank covariances a faster route (eigenvalues of
``L1^T S2 L1``) is taken when its own error bound shows it cannot matter.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import blas
from scipy.special import logsumexp

from ..errors import NumericalError, StatsError

_EPS = np.finfo(np.float64).eps
#: the fast full-rank route is taken only when its error bound is below this share of the result
#: (100x inside the 1e-6 promise)
_FAST_ROUTE_TOLERANCE = 1e-8


def _congruence(l: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``L^T S L`` for lower-triangular ``L`` and symmetric ``S``: two triangular products.

    BLAS wants column-major operands: ``L.T`` of a row-major ``L`` is a column-major upper
    triangle ``U = L^T``, and ``S.T`` (= S) is column-major, so no copy is made.
    """
    u = l.T
    sl = blas.dtrmm(1.0, u, s.T, side=1, lower=0, trans_a=1)  # S U^T = S L
    return blas.dtrmm(1.0, u, sl, side=0, lower=0, overwrite_b=1)  # U (S L) = L^T S L


def _cholesky(s: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of ``s``, or None when it is not numerically positive definite."""
    try:
        return np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        return None


def _range_factor(s: np.ndarray, n: int | None) -> np.ndarray:
    """``G`` (k x d) with ``G^T G = s`` restricted to the numerical range of ``s``.

    Eigenvalues below ``d * eps * largest`` are the rounding noise of a null space and are dropped;
    with the sample count ``n`` known, the rank is also at most ``n - 1``, so no more than that
    many are kept (the duplicates of a resampled set lower it further, which the floor catches).
    """
    d = s.shape[0]
    w, v = linalg.eigh(s, driver="evd", check_finite=False)  # ascending; divide and conquer: 6x evr on a null space
    top = max(float(w[-1]), 0.0)
    keep = w > d * _EPS * top
    if n is not None and n - 1 < d:
        keep[: d - max(n - 1, 0)] = False
    w, v = w[keep], v[:, keep]
    return (v * np.sqrt(w)).T


def _feature_factor(f: np.ndarray) -> np.ndarray:
    """The centred features over ``sqrt(n - 1)``: ``G^T G`` is their covariance, exactly."""
    f = np.asarray(f, np.float64)
    return (f - f.mean(0)) / np.sqrt(len(f) - 1)


def _nuclear_norm(x: np.ndarray) -> float:
    if x.size == 0:
        return 0.0
    try:
        sv = linalg.svd(x, compute_uv=False, lapack_driver="gesdd", check_finite=False)
    except linalg.LinAlgError:  # gesdd rarely fails to converge; the slower QR iteration does not
        sv = linalg.svd(x, compute_uv=False, lapack_driver="gesvd", check_finite=False)
    return float(sv.sum())


def _sqrt_sum_error(ev: np.ndarray, delta: float) -> float:
    """Largest change of ``sum(sqrt(max(ev, 0)))`` when each eigenvalue may be off by ``delta``."""
    hi = np.sqrt(np.maximum(ev + delta, 0.0))
    lo = np.sqrt(np.maximum(ev - delta, 0.0))
    return float((hi - lo).sum())


def trace_sqrt_product(
    s1: np.ndarray,
    s2: np.ndarray,
    *,
    n1: int | None = None,
    n2: int | None = None,
    features1: np.ndarray | None = None,
    features2: np.ndarray | None = None,
    rest: float | None = None,
) -> float:
    """``tr sqrt(S1 S2)`` for symmetric positive semi-definite S1, S2 (float64).

    ``n1``/``n2`` are the sample counts behind the covariances (they bound the rank); with
    ``features1``/``features2`` (the rows the covariance was computed from) that side is factored
    exactly by its centred features instead of its covariance. The fast route for two full-rank
    covariances is taken only when its error bound is below ``1e-8`` of the result, or, given
    ``rest`` (``|mu1 - mu2|^2 + tr S1 + tr S2``), of the Fréchet distance ``rest - 2 tr``, which can
    be far smaller than the trace term itself.
    """
    d = s1.shape[0]
    if d == 1 and features1 is None and features2 is None:
        return float(np.sqrt(max(float(s1[0, 0] * s2[0, 0]), 0.0)))
    sides = []
    for s, n, f in ((s1, n1, features1), (s2, n2, features2)):
        if f is not None and len(f) <= d:  # more rows than dimensions: the covariance is as good, and smaller
            sides.append(("features", _feature_factor(f)))
        elif n is not None and n - 1 < d:
            sides.append(("range", _range_factor(s, n)))
        else:
            l = _cholesky(s)
            sides.append(("range", _range_factor(s, n)) if l is None else ("cholesky", l))
    (k1, g1), (k2, g2) = sides
    if k1 == "cholesky" and k2 == "cholesky":
        # Fast route: eigenvalues of L1^T S2 L1 (the eigenvalues of S1 S2). Their absolute error is
        # about sqrt(d) * eps * the largest (the usual size of a Householder solver's backward error);
        # when the square roots of that much noise could move the distance by more than the
        # tolerance, the singular values of L1^T L2 are taken instead.
        ev = linalg.eigh(_congruence(g1, s2), eigvals_only=True, driver="evd", check_finite=False)
        value = float(np.sqrt(np.maximum(ev, 0.0)).sum())
        delta = np.sqrt(d) * _EPS * max(float(ev[-1]), 0.0)
        scale = value if rest is None else 0.5 * max(rest - 2.0 * value, d * _EPS * rest)
        tol = _FAST_ROUTE_TOLERANCE * scale
        if _sqrt_sum_error(ev, delta) <= tol:
            return value
        return _nuclear_norm(blas.dtrmm(1.0, g1.T, g2, side=0, lower=0))  # L1^T L2
    a = g1.T if k1 == "cholesky" else g1  # k x d with a^T a = S
    b = g2.T if k2 == "cholesky" else g2
    return _nuclear_norm(a @ b.T)


def frechet_distance(mu1, sigma1, mu2=None, sigma2=None, *, n1: int | None = None, n2: int | None = None,
                     features1: np.ndarray | None = None, features2: np.ndarray | None = None) -> float:
    """Fréchet distance between two Gaussians, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2))``.

    Takes ``(mu1, sigma1, mu2, sigma2)`` arrays, or two :class:`ttur.stats.Stats` objects (whose
    sample counts, and features where they were kept, make the trace term exact when there are
    fewer images than dimensions). ``n1``/``n2`` give the sample counts of plain arrays, and
    ``features1``/``features2`` the features themselves. Rounding that would make the result
    negative (identical inputs) is clamped: a distance is never below 0.
    """
    if mu2 is None and sigma2 is None and hasattr(mu1, "mu") and hasattr(sigma1, "mu"):
        from .stats import check_compatible

        check_compatible(mu1, sigma1)
        a, b = mu1, sigma1
        mu1, sigma1, mu2, sigma2 = a.mu, a.sigma, b.mu, b.sigma
        n1, n2 = a.n if n1 is None else n1, b.n if n2 is None else n2
        features1 = getattr(a, "features", None) if features1 is None else features1
        features2 = getattr(b, "features", None) if features2 is None else features2
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
    for name, f in (("features1", features1), ("features2", features2)):
        if f is not None and (np.ndim(f) != 2 or np.shape(f)[1] != mu1.size or len(f) < 2):
            raise StatsError(f"{name}: expected (N >= 2, {mu1.size}) features, got {np.shape(f)}")
    diff = mu1 - mu2
    rest = float(diff @ diff + np.trace(s1) + np.trace(s2))
    tr = trace_sqrt_product(s1, s2, n1=n1, n2=n2, features1=features1, features2=features2, rest=rest)
    return max(rest - 2.0 * tr, 0.0)


def frechet_distance_sqrtm(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """The original formula with ``scipy.linalg.sqrtm`` (bioinf-jku/TTUR, pytorch-fid); for comparison only."""
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
                sides.append((sample.mean(0), np.cov(sample, rowvar=False), sample))
            else:
                sides.append((*ref, None))
        (m1, c1, f1s), (m2, c2, f2s) = sides
        vals.append(frechet_distance(m1, c1, m2, c2, features1=f1s, features2=f2s))
    vals = np.asarray(vals)
    return float(vals.mean()), float(vals.std(ddof=1)) if rounds > 1 else 0.0
