"""How sure a difference between two arms of an experiment is, from a handful of seeds.

Both functions compare the mean of ``a`` with the mean of ``b`` (one value per seed, e.g. the best
FD of each seed), the only assumption being that seeds are exchangeable:

- :func:`bootstrap_ci`: the percentile interval of ``mean(a*) - mean(b*)`` where ``a*`` and ``b*``
  are resampled with replacement from ``a`` and ``b`` separately (10,000 resamples, a fixed seed, so
  a report repeats). With 5 seeds per arm the interval is rough; it says how far the seeds spread.
- :func:`permutation_pvalue`: the two-sided p-value of ``|mean(a) - mean(b)|`` under random
  relabelling of the pooled values: every split is enumerated when there are at most ``exact_limit``
  of them (5 + 5 seeds: 252 splits, so the smallest possible p-value is 2/252 = 0.0079), otherwise
  ``samples`` random splits are drawn. The observed split counts, so p is never 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np


def _finite(x: Sequence[float]) -> np.ndarray:
    a = np.asarray([v for v in x if v is not None], dtype=float)
    return a[np.isfinite(a)]


def bootstrap_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> tuple[float, float, float]:
    """``(mean(a) - mean(b), low, high)``: the difference and its percentile bootstrap interval (NaN when an
    arm has no finite value)."""
    a, b = _finite(a), _finite(b)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, a.size, (resamples, a.size))].mean(1)
    db = b[rng.integers(0, b.size, (resamples, b.size))].mean(1)
    lo, hi = np.quantile(da - db, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(a.mean() - b.mean()), float(lo), float(hi)


def permutation_pvalue(a: Sequence[float], b: Sequence[float], exact_limit: int = 20_000, samples: int = 20_000,
                       seed: int = 0) -> float:
    """Two-sided permutation p-value of the difference of means (NaN when an arm has no finite value)."""
    a, b = _finite(a), _finite(b)
    if a.size == 0 or b.size == 0:
        return math.nan
    pooled = np.concatenate([a, b])
    n, k = pooled.size, a.size
    observed = abs(a.mean() - b.mean())
    tol = 1e-12 * max(1.0, float(np.abs(pooled).max()))
    total = pooled.sum()
    if math.comb(n, k) <= exact_limit:
        splits = np.array(list(itertools.combinations(range(n), k)))
        sa = pooled[splits].sum(1)
        diffs = np.abs(sa / k - (total - sa) / (n - k))
        return float(np.mean(diffs >= observed - tol))
    rng = np.random.default_rng(seed)
    hits = 1  # the observed split
    for _ in range(samples):
        p = rng.permutation(n)
        sa = pooled[p[:k]].sum()
        hits += abs(sa / k - (total - sa) / (n - k)) >= observed - tol
    return hits / (samples + 1)


__all__ = ["bootstrap_ci", "permutation_pvalue"]
