"""Gaussian statistics of features: streaming accumulation, ``.npz`` files, compatibility checks.

Files hold ``mu`` and ``sigma`` like the official TTUR files and pytorch-fid's, so either tool reads
ours and we read theirs. Our own metadata rides along under extra keys (``n``, ``mode``, ``dims``,
``extractor``, ``weights_sha256``, ``ttur_version``) that readers of the old format ignore. Every
array is a plain numeric or unicode array: ``np.load(allow_pickle=False)`` reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._util import atomic_write, check_output
from ..errors import NumericalError, StatsError
from .reference import META_KEYS


@dataclass
class Stats:
    """Mean, covariance and sample count of a set of feature vectors, with what made them."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    meta: dict = field(default_factory=dict)
    #: the feature rows themselves, kept by a feature pass when there are no more of them than
    #: dimensions (the covariance is then singular, and the Fréchet step is exact from the rows);
    #: never written to files, where ``n`` tells the rank instead
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the other statistics of the same file, by entry name: an ADM reference batch's spatial pair
    #: (``extra["sfid"]``, 2023-d, for sFID), an EDM2 pickle's ``fd_dinov2`` (or ``fid``) entry
    extra: dict = field(default_factory=dict, repr=False, compare=False)
    #: one line each about what the file did not record (its network, mode, count), for ``ttur: note:``
    notes: list = field(default_factory=list, repr=False, compare=False)
    #: the file these statistics were read from, if any
    path: str | None = field(default=None, repr=False, compare=False)

    @property
    def dims(self) -> int:
        return int(self.mu.shape[0])

    def for_network(self, name: str) -> Stats | None:
        """These statistics or the entry of :attr:`extra` made by the network ``name`` (a file that
        records no network counts as Inception), or None."""
        for s in (self, *self.extra.values()):
            if (s.meta.get("extractor") or "inception") == name and (s is self or s.meta.get("extractor")):
                return s
        return None

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (``.npz``) atomically: a crash never leaves half a file in its place."""
        path = check_output(path, "path", suffix=".npz")  # never DIR.npz beside an existing folder DIR
        arrays = {"mu": self.mu.astype(np.float64), "sigma": self.sigma.astype(np.float64)}
        if self.n is not None:
            arrays["n"] = np.array(self.n, dtype=np.int64)
        for k, v in self.meta.items():
            if v is not None and k in META_KEYS and k != "n":
                arrays[k] = np.array(v)
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, entry: str | None = None) -> Stats:
        """Read a statistics file of any tool ttur knows, recognised by its content.

        Ours, the official TTUR ones, pytorch-fid's, clean-fid's, the ADM evaluator's reference batches,
        EDM2's reference pickles and torch-fidelity's cache items: see :mod:`ttur.metrics.reference`.
        ``entry`` picks one statistics of a file holding several (``"fid"``, ``"fd_dinov2"``, ``"sfid"``);
        the others stay in :attr:`extra`.
        """
        from .reference import read_reference_stats

        return read_reference_stats(path, entry)


def check_compatible(a: Stats, b: Stats, names: tuple[str, str] = ("first", "second")) -> None:
    """Refuse to compare statistics made with different feature dimensions, modes or networks."""
    check_meta(a.dims, a.meta, b.dims, b.meta, names)


def check_meta(dims_a: int, meta_a: dict, dims_b: int, meta_b: dict,
               names: tuple[str, str] = ("first", "second")) -> None:
    """The test behind :func:`check_compatible`, on dimensions and metadata alone."""
    if dims_a != dims_b:
        raise StatsError(f"cannot compare {names[0]} ({dims_a}-d features) with {names[1]} ({dims_b}-d features)")
    for key, what in (("extractor", "feature extractor"), ("mode", "preprocessing mode"),
                      ("weights_sha256", "network weights"), ("precision", "precision")):
        va, vb = meta_a.get(key), meta_b.get(key)
        if va is not None and vb is not None and va != vb:
            raise StatsError(
                f"cannot compare {names[0]} ({what} {va!r}) with {names[1]} ({what} {vb!r}); "
                "compute both with the same settings"
            )


class StatsAccumulator:
    """Streaming mean and covariance in float64: memory is O(d^2), whatever the number of images.

    Each batch is folded in with the pairwise update of Chan, Golub and LeVeque (exact for any
    split of the data), so merging the accumulators of several processes gives the statistics of
    the whole set. While there are no more rows than dimensions the rows are kept too (at most
    ``dims x dims`` values, the size of the covariance): with them the Fréchet step computes its trace
    term exactly instead of from a singular covariance. They are dropped as soon as there are more.
    """

    def __init__(self, dims: int, device: torch.device | str = "cpu", keep_rows: bool = True) -> None:
        self.dims = dims
        self.n = 0
        self.mean = torch.zeros(dims, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(dims, dims, dtype=torch.float64, device=device)
        self._rows: list[torch.Tensor] | None = [] if keep_rows else None

    def update(self, feats: torch.Tensor) -> None:
        x = feats.detach().to(self.mean.device, torch.float64)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise ValueError(f"expected (N, {self.dims}) features, got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise NumericalError("the feature extractor produced NaN or infinity")
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(0)
        xc = x - mb
        self._merge(nb, mb, xc.t() @ xc)
        if self._rows is not None:  # no copy off the device once the rows are dropped
            self._keep([x.cpu()])

    def _keep(self, rows: list[torch.Tensor] | None) -> None:
        """Add ``rows`` (None: not known) to the kept ones, or drop them all past ``dims`` rows."""
        if self._rows is not None:
            self._rows = None if rows is None or self.n > self.dims else self._rows + rows

    def _merge(self, nb: int, mb: torch.Tensor, m2b: torch.Tensor) -> None:
        n = self.n + nb
        delta = mb - self.mean
        self.m2 += m2b + torch.outer(delta, delta) * (self.n * nb / n)
        self.mean += delta * (nb / n)
        self.n = n

    def merge(self, other: StatsAccumulator) -> None:
        if other.n:
            self._merge(other.n, other.mean.to(self.mean.device), other.m2.to(self.m2.device))
            self._keep(other._rows)

    def copy(self) -> StatsAccumulator:
        """An independent accumulator holding the same sums (and kept rows)."""
        out = StatsAccumulator(self.dims, device=self.mean.device, keep_rows=False)
        out.n, out.mean, out.m2 = self.n, self.mean.clone(), self.m2.clone()
        out._rows = None if self._rows is None else list(self._rows)
        return out

    def all_reduce(self) -> None:
        """Combine the accumulators of all ranks of the process group (in place, on every rank).

        First the global count and mean, then each rank's M2 moved to the global mean
        (``M2_r + n_r d_r d_r^T``, ``d_r`` = rank mean - global mean), summed.
        """
        from ..distributed import all_reduce_sum, is_active

        if not is_active():
            return
        n_r = torch.tensor([float(self.n)], dtype=torch.float64, device=self.mean.device)
        total = all_reduce_sum(n_r)
        mean = all_reduce_sum(self.mean * n_r) / total.clamp(min=1)
        d = self.mean - mean
        m2 = all_reduce_sum(self.m2 + torch.outer(d, d) * n_r)
        self.n, self.mean, self.m2 = int(total.item()), mean, m2
        self._rows = None  # each rank holds only its own rows; the count alone bounds the rank

    def stats(self, meta: dict | None = None) -> Stats:
        if self.n < 2:
            raise StatsError(f"need at least 2 images for a covariance, got {self.n}")
        sigma = self.m2 / (self.n - 1)
        sigma = 0.5 * (sigma + sigma.t())
        rows = None if not self._rows else torch.cat(self._rows).numpy()
        return Stats(self.mean.cpu().numpy().copy(), sigma.cpu().numpy(), self.n, dict(meta or {}), rows)
