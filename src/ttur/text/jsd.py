"""Jensen-Shannon divergence between character n-gram distributions, the paper's language metric.

As the official code computes it (``NgramLanguageModel.js_with`` in igul222's ``language_helpers.py``,
used by ``gan_language_JSD.py``):

- every sentence is cut or padded (with the backtick) to the sequence length, 32, and the n-grams are
  the character n-tuples at **all** positions of the padded sentence, padding included;
- p and q are the n-gram frequencies (count / total) of the real and the generated sentences;
- ``JSD = 0.5 * (sum_{x: p>0} p log(p/m) + sum_{x: q>0} q log(q/m)) / ln 2`` with ``m = (p + q) / 2``,
  so 0 for equal distributions and 1 for disjoint supports.

The paper's p is the model of all loaded training lines and q that of 640 generated sentences
(10 batches of 64, argmax decoding); it reports n = 4 and n = 6. JSD of finite samples is biased
upwards when a sample is small, so numbers are comparable only at equal sample sizes; the JSD of two
real samples of the same sizes is the floor a generator can reach.

Counting is vectorised: sentences are integer arrays (N, L) (a negative entry means "no character",
for sentences left unpadded), n-grams are the rows of sliding windows, counted with ``np.unique``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import InputError

LN2 = math.log(2.0)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows, inverse) of a non-negative int (K, n) array; rows packed into int64 when they fit."""
    k, n = rows.shape
    if k == 0:
        return rows.copy(), np.zeros(0, dtype=np.int64)
    bits = max(1, int(rows.max()).bit_length())
    if bits * n <= 63:
        key = np.zeros(k, dtype=np.int64)
        for j in range(n):
            key = (key << bits) | rows[:, j].astype(np.int64)
        uk, inv = np.unique(key, return_inverse=True)
        out = np.empty((len(uk), n), dtype=rows.dtype)
        mask = (1 << bits) - 1
        for j in range(n - 1, -1, -1):
            out[:, j] = uk & mask
            uk = uk >> bits
        return out, inv.reshape(-1)
    r = np.ascontiguousarray(rows)
    void = r.view(np.dtype((np.void, r.dtype.itemsize * n))).reshape(-1)
    uv, idx, inv = np.unique(void, return_index=True, return_inverse=True)
    return r[idx], inv.reshape(-1)


class NgramCounts:
    """Counts of the n-grams of integer sentences, accumulated batch by batch (``update``)."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise InputError(f"n-gram order must be positive, got {n}")
        self.n = n
        self.rows = np.zeros((0, n), dtype=np.int32)
        self.counts = np.zeros(0, dtype=np.int64)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def __len__(self) -> int:
        return len(self.counts)

    def update(self, seqs: np.ndarray) -> NgramCounts:
        """Add the n-grams of (N, L) int sentences; windows holding a negative entry are skipped."""
        seqs = np.asarray(seqs)
        if seqs.ndim != 2:
            raise InputError(f"sentences must be an (N, L) array, got shape {seqs.shape}")
        if seqs.shape[1] < self.n or seqs.shape[0] == 0:
            return self
        win = np.lib.stride_tricks.sliding_window_view(seqs, self.n, axis=1).reshape(-1, self.n)
        win = win[(win >= 0).all(axis=1)].astype(np.int32)
        if len(win) == 0:
            return self
        rows = np.concatenate([self.rows, win])
        weights = np.concatenate([self.counts, np.ones(len(win), dtype=np.int64)])
        self.rows, inv = _unique_rows(rows)
        self.counts = np.bincount(inv, weights=weights, minlength=len(self.rows)).astype(np.int64)
        return self

    def as_dict(self) -> dict[tuple[int, ...], int]:
        return {tuple(int(v) for v in r): int(c) for r, c in zip(self.rows, self.counts, strict=True)}


def ngram_counts(seqs: np.ndarray, n: int) -> NgramCounts:
    return NgramCounts(n).update(seqs)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two distributions on the same support, in bits (in [0, 1]).

    ``p`` and ``q`` are non-negative weights, normalised here. Terms with p = 0 (or q = 0) add nothing.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise InputError(f"JSD: distributions of different shapes {p.shape} and {q.shape}")
    sp, sq = p.sum(), q.sum()
    if sp <= 0 or sq <= 0:
        raise InputError("JSD: a distribution is empty (no n-grams)")
    p, q = p / sp, q / sq
    m = 0.5 * (p + q)
    kp = p > 0
    kq = q > 0
    kl_pm = float(np.sum(p[kp] * (np.log(p[kp]) - np.log(m[kp]))))
    kl_qm = float(np.sum(q[kq] * (np.log(q[kq]) - np.log(m[kq]))))
    return min(max(0.5 * (kl_pm + kl_qm) / LN2, 0.0), 1.0)


def jsd_counts(a: NgramCounts, b: NgramCounts) -> float:
    """Normalised JSD between the n-gram distributions of two count tables of the same order."""
    if a.n != b.n:
        raise InputError(f"JSD: n-gram orders differ ({a.n} and {b.n})")
    if a.total == 0 or b.total == 0:
        raise InputError(f"JSD: no {a.n}-grams in {'the first' if a.total == 0 else 'the second'} text "
                         "(sentences shorter than n?)")
    rows, inv = _unique_rows(np.concatenate([a.rows, b.rows]))
    pa = np.bincount(inv[: len(a)], weights=a.counts, minlength=len(rows))
    pb = np.bincount(inv[len(a):], weights=b.counts, minlength=len(rows))
    return js_divergence(pa, pb)


def jsd_ids(real: np.ndarray, fake: np.ndarray, ns: Sequence[int] = (4, 6)) -> dict[int, float]:
    """``{n: JSD}`` between the n-grams of two (N, L) integer sentence arrays."""
    return {n: jsd_counts(ngram_counts(real, n), ngram_counts(fake, n)) for n in ns}


class CharTable:
    """Maps characters to small integers (first seen, first numbered); shared by the texts compared."""

    def __init__(self, pad: str = "`") -> None:
        self.pad = pad
        self.index: dict[str, int] = {pad: 0}

    def encode(self, lines: Sequence[str], seq_len: int | None) -> np.ndarray:
        """(N, L) ids; ``seq_len`` cuts and pads with the padding symbol, None keeps lines whole (-1 fills)."""
        width = seq_len if seq_len else max((len(s) for s in lines), default=0)
        out = np.full((len(lines), width), 0 if seq_len else -1, dtype=np.int32)
        idx = self.index
        for r, s in enumerate(lines):
            ids = []
            for c in s[:width]:
                i = idx.get(c)
                if i is None:
                    i = idx[c] = len(idx)
                ids.append(i)
            out[r, : len(ids)] = ids
        return out


def text_ngram_counts(lines: Iterable[str], ns: Sequence[int], seq_len: int | None = 32,
                      table: CharTable | None = None, chunk: int = 20000,
                      max_lines: int | None = None) -> tuple[dict[int, NgramCounts], int]:
    """({n: counts}, number of lines) of a stream of sentences, read ``chunk`` lines at a time."""
    table = table or CharTable()
    counts = {n: NgramCounts(n) for n in ns}
    buf: list[str] = []
    total = 0

    def flush() -> None:
        arr = table.encode(buf, seq_len)
        for c in counts.values():
            c.update(arr)
        buf.clear()

    for line in lines:
        if max_lines is not None and total >= max_lines:
            break
        buf.append(line)
        total += 1
        if len(buf) >= chunk:
            flush()
    if buf:
        flush()
    return counts, total


def text_jsd(real: Iterable[str], fake: Iterable[str], ns: Sequence[int] = (4, 6), seq_len: int | None = 32,
             max_lines: int | None = None) -> dict[int, float]:
    """``{n: JSD}`` between the character n-grams of two collections of sentences (one sentence per item)."""
    table = CharTable()
    a, _ = text_ngram_counts(real, ns, seq_len, table, max_lines=max_lines)
    b, _ = text_ngram_counts(fake, ns, seq_len, table, max_lines=max_lines)
    return {n: jsd_counts(a[n], b[n]) for n in ns}
