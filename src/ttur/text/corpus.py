"""Text corpora for the language GAN, read by line offsets so that a corpus of many GB needs no memory for its text.

A corpus is one UTF-8 text file or a folder of them (read recursively, in sorted order, hidden files
skipped), one sentence a line: the One Billion Word training folder
``training-monolingual.tokenized.shuffled/`` with its shards ``news.en-000NN-of-00100`` is one.
:class:`TextCorpus` scans the files once, in large binary chunks, and keeps only the byte offset of
each non-empty line (8 bytes a line; ``max_lines`` caps the count, as the paper's code loaded at most
10M lines). A line is read back with one seek when it is needed::

    corpus = TextCorpus("data/training-monolingual.tokenized.shuffled", max_lines=10_000_000)
    train_ids, eval_ids = corpus.split(heldout=10_000, seed=0)   # disjoint, deterministic
    corpus.lines(eval_ids[:3])                                   # -> list[str]

:class:`TextStream` is the training :class:`~ttur.train.data.DataStream` over the training lines (the
same seeded epochs, epoch-end behaviour, shares per rank and exact resume as the image task's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..train.data import DataStream
from .vocab import Vocab

_CHUNK = 1 << 24  # bytes read at a time while indexing


_PACKED = (".gz", ".bz2", ".xz", ".zip", ".tar", ".tgz", ".zst", ".7z")


def corpus_files(path: str | os.PathLike) -> list[Path]:
    """The text files of ``path``: the file itself, or a folder's files (recursive, sorted, hidden ones skipped).

    Compressed files and archives are refused (lines are read by byte offset): unpack them first.
    """
    p = Path(path).expanduser()
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(
            f for f in p.rglob("*")
            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
        )
        if not files:
            raise InputError(f"{path}: folder holds no files")
    else:
        raise InputError(f"{path}: no such file or folder")
    for f in files:
        if f.name.lower().endswith(_PACKED):
            raise InputError(f"{f}: a compressed file or archive; unpack it (text corpora are read by line offset)")
    return files


def iter_lines(path: str | os.PathLike) -> Iterator[str]:
    """Every line of a text file or folder, newline removed, undecodable bytes replaced (streaming)."""
    for f in corpus_files(path):
        with open(f, encoding="utf-8", errors="replace", newline="\n") as fh:
            for line in fh:
                yield line.rstrip("\n").rstrip("\r")


def _line_starts(path: Path, limit: int | None) -> np.ndarray:
    """Byte offsets of the non-empty lines of one file (at most ``limit``)."""
    starts: list[np.ndarray] = []
    count = 0
    pos = 0  # file offset of the chunk
    line_start = 0  # offset where the current (unfinished) line began
    with open(path, "rb") as fh:
        while limit is None or count < limit:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + pos
            if len(nl):
                begins = np.concatenate(([line_start], nl[:-1] + 1))
                keep = nl - begins > 0  # empty lines skipped
                got = begins[keep]
                starts.append(got)
                count += len(got)
                line_start = int(nl[-1]) + 1
            pos += len(chunk)
        if pos > line_start and (limit is None or count < limit):  # last line without a newline
            fh.seek(line_start)
            if fh.read(pos - line_start).strip(b"\r"):
                starts.append(np.array([line_start], dtype=np.int64))
    out = np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, dtype=np.int64)
    return out[:limit] if limit is not None else out


class TextCorpus:
    """Line-offset index of a text file or folder: ``len(corpus)`` non-empty lines, read back on demand.

    ``max_chars`` bounds what is read of a line (a sentence is cut to the sequence length anyway).
    """

    def __init__(self, path: str | os.PathLike, max_lines: int | None = None, max_chars: int = 256) -> None:
        self.path = Path(path)
        self.files = corpus_files(path)
        self.max_chars = max_chars
        offsets, counts = [], []
        left = max_lines
        for f in self.files:
            if left is not None and left <= 0:
                break
            s = _line_starts(f, left)
            offsets.append(s)
            counts.append(len(s))
            if left is not None:
                left -= len(s)
        self.files = self.files[: len(offsets)]
        self._offsets = offsets
        self._ends = np.cumsum(counts, dtype=np.int64)
        if len(self) == 0:
            raise InputError(f"{path}: no non-empty lines")
        self._handles: dict[int, object] = {}

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getstate__(self) -> dict:
        d = self.__dict__.copy()
        d["_handles"] = {}
        return d

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles = {}

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def _locate(self, i: int) -> tuple[int, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"line {i} out of range (corpus of {len(self)} lines)")
        f = int(np.searchsorted(self._ends, i, side="right"))
        local = i - (int(self._ends[f - 1]) if f else 0)
        return f, int(self._offsets[f][local])

    def line(self, i: int) -> str:
        f, off = self._locate(int(i))
        fh = self._handles.get(f)
        if fh is None:
            fh = self._handles[f] = open(self.files[f], "rb")  # noqa: SIM115
        fh.seek(off)
        raw = fh.read(4 * self.max_chars + 1)
        raw = raw.split(b"\n", 1)[0]
        return raw.decode("utf-8", errors="replace").rstrip("\r")[: self.max_chars]

    def lines(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        return [self.line(i) for i in np.asarray(ids).reshape(-1)]

    def split(self, heldout: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(training ids, held-out ids): ``heldout`` lines drawn at random (seeded) and kept out of training.

        At most a fifth of the corpus is held out, and at least one line is left for training.
        """
        n = len(self)
        k = int(min(max(heldout, 0), n // 5 if n >= 5 else 0))
        rng = np.random.default_rng([seed, 0x7E57])
        eval_ids = np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
        mask = np.ones(n, dtype=bool)
        mask[eval_ids] = False
        dtype = np.int32 if n < 2**31 else np.int64
        return np.flatnonzero(mask).astype(dtype), eval_ids.astype(dtype)


def one_hot(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(N, L) int64 -> (N, V, L) float32 one-hot, the layout of the critic's input."""
    return torch.nn.functional.one_hot(ids, vocab_size).permute(0, 2, 1).float().contiguous()


class TextStream(DataStream):
    """Endless batches of training sentences as one-hot (N, V, L) tensors (token ids with
    ``as_one_hot=False``): the training :class:`~ttur.train.data.DataStream` over the lines ``ids``."""

    def __init__(self, corpus: TextCorpus, ids: np.ndarray, vocab: Vocab, seq_len: int, batch_size: int,
                 seed: int = 0, rank: int = 0, world: int = 1, device: torch.device | str = "cpu",
                 as_one_hot: bool = True) -> None:
        if len(ids) < batch_size:
            raise InputError(f"{corpus.path}: {len(ids)} training lines, fewer than the batch size {batch_size}")
        self.corpus, self.ids, self.vocab = corpus, np.asarray(ids), vocab
        self.seq_len, self.as_one_hot = seq_len, as_one_hot
        super().__init__(len(self.ids), self._tokens, batch_size, seed=seed, rank=rank, world=world, device=device,
                         name=str(corpus.path), unit="training lines")

    def _tokens(self, idx: np.ndarray) -> torch.Tensor:
        lines = self.corpus.lines(self.ids[np.asarray(idx)])
        tok = torch.from_numpy(self.vocab.encode_batch(lines, self.seq_len)).to(self.device)
        return one_hot(tok, len(self.vocab)) if self.as_one_hot else tok

    def next_ids(self) -> np.ndarray:
        """Corpus line ids of this rank's share of the next global batch (advances the stream)."""
        return self.ids[self.next_indices()[self.lo:self.hi].numpy()]
