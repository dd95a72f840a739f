"""Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020) on features.

Each sample's manifold is the union of balls around its points, a ball's radius being the distance
to its point's k-th nearest neighbour in the same set. Precision: the share of fake points inside
the real manifold; recall: the share of real points inside the fake manifold; density: the mean
number of real balls holding a fake point, divided by k; coverage: the share of real points whose
ball holds at least one fake point.

The numbers are those of the reference code, the ``prdc`` package (clovaai/generative-evaluation-prdc,
``compute_prdc``), which this module reproduces rule for rule:

- distances are Euclidean, ``sqrt(max(|x|^2 - 2 x.y + |y|^2, 0))`` (scikit-learn's expansion, in
  that order), and a point's distance to itself is exactly 0;
- the radius of a point is the (k+1)-th smallest distance of its row *including itself*, i.e. the
  distance to its k-th nearest other point, where a duplicate of the point counts as a neighbour
  at distance 0 (a point with k or more duplicates has radius 0);
- "inside a ball" is strict: ``distance < radius``. A point on a ball's boundary is outside, and a
  ball of radius 0 holds nothing (not even an exact duplicate).

Identical sets give precision = recall = coverage = 1 whenever no point has k duplicates; density is
then the mean number of real balls around each real point, divided by k.

The ``prdc`` package uses one k for all four numbers (its README: k = 5). Each paper defines its own:
k = 3 for precision and recall, k = 5 for density and coverage. :func:`manifold_metrics` takes both
(``k_pr``, ``k_dc``) and computes them from the same distance blocks; :func:`prdc` is the package's
one-k form and :func:`precision_recall` the k = 3 pair. ``ttur eval --metrics prdc`` reports
precision and recall at k = 3 and density and coverage at k = 5.

Memory is bounded by ``chunk_size``: distances are computed ``chunk_size`` rows at a time against
all points of the other set (a ``chunk_size x N`` block, about ``8 * chunk_size * N`` bytes in
float64, plus a boolean block of a quarter of that), the k-th neighbour radii by a partial sort
(``topk``) per block, and the counts summed across blocks; no ``N x N`` matrix is ever made. The
work is three ``N x M x d`` matrix products, on the device given (CPU or CUDA alike).

Precision: float64 by default, which is what the comparisons against the reference use (the
``prdc`` package on float64 features). float32 (``dtype=torch.float32``) is faster, chiefly on GPUs,
and rounds each distance to about 1e-7 relative: a count can then change for a pair whose distance
is that close to a radius. The ``prdc`` package on float32 features rounds its distances to float32
as well (scikit-learn upcasts the products, then casts back).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError

#: rows of one distance block (a block is ``chunk_size x N``: 200 MB in float64 at N = 50,000)
DEFAULT_CHUNK_SIZE = 512
#: the k of each paper: precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020)
K_PRECISION_RECALL = 3
K_DENSITY_COVERAGE = 5


def _tensor(x, name: str, device, dtype):
    import torch

    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(f"{name}: expected a non-empty (N, dims) array of features, got shape {tuple(t.shape)}")
    t = t.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name}: features hold NaN or infinite values")
    return t.contiguous()


def _sq_norms(x):
    return (x * x).sum(1)


def _block(xb, xb_sq, y, y_sq, out=None):
    """Euclidean distances of the rows ``xb`` to every row of ``y``, scikit-learn's expansion in its order."""
    import torch

    d = torch.mm(xb, y.T, out=out)
    d.mul_(-2.0)
    d.add_(xb_sq[:, None])
    d.add_(y_sq[None, :])
    d.clamp_(min=0.0)
    return d.sqrt_()


def _check_k(name: str, k: int, n: int, side: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"{name}: must be a positive integer, got {k!r}")
    if k + 1 > n:
        raise InputError(f"{name}: the {k}-th nearest neighbour needs at least {k + 1} {side} features, got {n}")
    return int(k)


def knn_radii(x, ks: Sequence[int], *, chunk_size: int = DEFAULT_CHUNK_SIZE, device=None, dtype=None) -> dict:
    """``{k: radii}``: each point's distance to its k-th nearest other point of ``x`` (as ``prdc``), per k.

    One pass of ``chunk_size``-row blocks serves every k (a partial sort of the ``max(ks) + 1``
    smallest distances of each row, the point's own 0 included).
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    x = x if isinstance(x, torch.Tensor) and x.dtype == dtype else _tensor(x, "features", device, dtype)
    n = x.shape[0]
    ks = sorted({_check_k("nearest_k", k, n, "") for k in ks})
    top = ks[-1] + 1
    sq = _sq_norms(x)
    out = {k: torch.empty(n, dtype=dtype, device=x.device) for k in ks}
    buf = None
    for i in range(0, n, chunk_size):
        j = min(i + chunk_size, n)
        buf = buf if buf is not None and buf.shape[0] == j - i else torch.empty(j - i, n, dtype=dtype, device=x.device)
        d = _block(x[i:j], sq[i:j], x, sq, out=buf)
        idx = torch.arange(i, j, device=x.device)
        d[idx - i, idx] = 0.0  # a point's distance to itself (scikit-learn zeroes the diagonal)
        smallest = torch.topk(d, top, dim=1, largest=False, sorted=True).values
        for k in ks:
            out[k][i:j] = smallest[:, k]  # the (k+1)-th smallest, the point's own 0 counted
    return out


def manifold_metrics(
    real,
    fake,
    *,
    k_pr: int | None = K_PRECISION_RECALL,
    k_dc: int | None = K_DENSITY_COVERAGE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    device=None,
    dtype=None,
) -> dict:
    """Precision and recall at ``k_pr`` and density and coverage at ``k_dc`` (None leaves a pair out).

    ``real``, ``fake``: (N, d) and (M, d) feature arrays (numpy or torch). ``device``: where the
    distance blocks are computed (default: the tensor's own device, CPU for numpy arrays).
    ``dtype``: torch float64 (default) or float32. Returns floats under ``precision``, ``recall``,
    ``density``, ``coverage``.
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    if dtype not in (torch.float64, torch.float32):
        raise InputError(f"dtype: float64 or float32, got {dtype}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    if k_pr is None and k_dc is None:
        raise InputError("k_pr, k_dc: at least one of them must be given")
    same = real is fake
    r = _tensor(real, "real", device, dtype)
    f = r if same else _tensor(fake, "fake", device if device is not None else r.device, dtype)
    if r.shape[1] != f.shape[1]:
        raise InputError(f"real, fake: features of different dimensions ({r.shape[1]} and {f.shape[1]})")
    n, m = r.shape[0], f.shape[0]
    k_real = [k for k in (k_pr, k_dc) if k is not None]
    for name, k in (("k_pr", k_pr), ("k_dc", k_dc)):
        if k is not None:
            _check_k(name, k, n, "real")
    if k_pr is not None:
        _check_k("k_pr", k_pr, m, "fake")
    rr = knn_radii(r, k_real, chunk_size=chunk_size, dtype=dtype)
    rf = knn_radii(f, [k_pr], chunk_size=chunk_size, dtype=dtype)[k_pr] if k_pr is not None else None

    r_sq, f_sq = _sq_norms(r), _sq_norms(f)
    in_pr = torch.zeros(m, dtype=torch.int64, device=r.device)  # per fake point: real k_pr-balls holding it
    in_dc = torch.zeros(m, dtype=torch.int64, device=r.device)  # per fake point: real k_dc-balls holding it
    recalled = covered = 0
    buf = None
    for i in range(0, n, chunk_size):
        j = min(i + chunk_size, n)
        buf = buf if buf is not None and buf.shape[0] == j - i else torch.empty(j - i, m, dtype=dtype, device=r.device)
        d = _block(r[i:j], r_sq[i:j], f, f_sq, out=buf)
        if same:
            idx = torch.arange(i, j, device=r.device)
            d[idx - i, idx] = 0.0  # scikit-learn zeroes the diagonal when both arguments are one array
        if k_pr is not None:
            in_pr += (d < rr[k_pr][i:j, None]).sum(0)
            recalled += int((d < rf[None, :]).any(1).sum())
        if k_dc is not None:
            in_dc += (d < rr[k_dc][i:j, None]).sum(0)
            covered += int((d.min(1).values < rr[k_dc][i:j]).sum())
    out: dict = {}
    if k_pr is not None:
        out["precision"] = int((in_pr > 0).sum()) / m
        out["recall"] = recalled / n
    if k_dc is not None:
        out["density"] = (1.0 / float(k_dc)) * (int(in_dc.sum()) / m)  # the reference's order of operations
        out["coverage"] = covered / n
    return out


def prdc(real, fake, nearest_k: int = 5, *, chunk_size: int = DEFAULT_CHUNK_SIZE, device=None, dtype=None) -> dict:
    """The ``prdc`` package's ``compute_prdc``: all four numbers at one ``nearest_k`` (default 5)."""
    return manifold_metrics(real, fake, k_pr=nearest_k, k_dc=nearest_k, chunk_size=chunk_size, device=device,
                            dtype=dtype)


def precision_recall(real, fake, nearest_k: int = K_PRECISION_RECALL, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                     device=None, dtype=None) -> tuple[float, float]:
    """(precision, recall) of Kynkäänniemi et al. 2019 at ``nearest_k`` (default 3)."""
    out = manifold_metrics(real, fake, k_pr=nearest_k, k_dc=None, chunk_size=chunk_size, device=device, dtype=dtype)
    return out["precision"], out["recall"]


__all__ = ["DEFAULT_CHUNK_SIZE", "K_DENSITY_COVERAGE", "K_PRECISION_RECALL", "knn_radii", "manifold_metrics",
           "precision_recall", "prdc"]
