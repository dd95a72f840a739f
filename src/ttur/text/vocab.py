"""Character vocabulary of the language GAN: the most frequent characters, an unknown and a padding symbol.

As in the WGAN-GP language code the paper used (igul222 ``language_helpers.load_dataset``), a
sentence is a sequence of characters cut to ``seq_len`` and padded on the right with a backtick
(`````), and characters outside the ``max_size`` most frequent ones map to one unknown symbol.
Index 0 is the unknown symbol, index 1 the padding symbol, then characters by falling frequency
(ties broken by the character, so the same corpus always gives the same vocabulary)::

    vocab = Vocab.build(lines, max_size=2048)
    ids = vocab.encode("Hello world", 32)        # 32 ints; padded with vocab.pad_id
    vocab.decode(ids) == "Hello world"            # trailing padding stripped
    vocab.save("vocab.json"); Vocab.load("vocab.json")

A backtick inside the text is the padding symbol too (the reference code did the same).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .._util import atomic_write_text
from ..errors import InputError

PAD = "`"
UNK = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER, printed for characters outside the vocabulary


class Vocab:
    """A character vocabulary: ``chars[i]`` is the character of index ``i``; 0 = unknown, 1 = padding."""

    def __init__(self, chars: Sequence[str], pad: str = PAD, unk: str = UNK) -> None:
        chars = list(chars)
        if len(chars) < 2 or chars[0] != unk or chars[1] != pad:
            raise InputError(f"vocabulary: must start with the unknown {unk!r} and padding {pad!r} symbols")
        if any(len(c) != 1 for c in chars):
            raise InputError("vocabulary: every entry must be a single character")
        if len(set(chars)) != len(chars):
            raise InputError("vocabulary: characters repeat")
        self.chars = chars
        self.pad, self.unk = pad, unk
        self.unk_id, self.pad_id = 0, 1
        self.index = {c: i for i, c in enumerate(chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Vocab({len(self)} symbols)"

    @classmethod
    def build(cls, lines: Iterable[str], max_size: int = 2048, seq_len: int | None = None,
              pad: str = PAD, unk: str = UNK) -> Vocab:
        """The ``max_size - 2`` most frequent characters of ``lines`` (each cut to ``seq_len``), plus unk and pad."""
        if max_size < 3:
            raise InputError(f"vocab_size: must be at least 3 (unknown, padding, one character), got {max_size}")
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(line[:seq_len] if seq_len else line)
        for special in (pad, unk):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([unk, pad] + [c for c, _ in ranked[: max_size - 2]], pad=pad, unk=unk)

    def encode(self, line: str, seq_len: int) -> np.ndarray:
        """``line`` cut or padded to ``seq_len`` indices (int64)."""
        out = np.full(seq_len, self.pad_id, dtype=np.int64)
        get = self.index.get
        for i, c in enumerate(line[:seq_len]):
            out[i] = get(c, 0)
        return out

    def encode_batch(self, lines: Sequence[str], seq_len: int) -> np.ndarray:
        """(N, seq_len) int64 indices of ``lines``."""
        out = np.full((len(lines), seq_len), self.pad_id, dtype=np.int64)
        get = self.index.get
        for r, line in enumerate(lines):
            if line:
                ids = [get(c, 0) for c in line[:seq_len]]
                out[r, : len(ids)] = ids
        return out

    def decode(self, ids: Iterable[int], strip_pad: bool = True) -> str:
        """The characters of ``ids``; trailing padding removed unless ``strip_pad`` is False."""
        s = "".join(self.chars[int(i)] for i in ids)
        return s.rstrip(self.pad) if strip_pad else s

    def decode_batch(self, ids: np.ndarray, strip_pad: bool = True) -> list[str]:
        return [self.decode(row, strip_pad) for row in np.asarray(ids)]

    def to_dict(self) -> dict:
        return {"format": "ttur-char-vocab", "pad": self.pad, "unk": self.unk, "chars": self.chars}

    def save(self, path: str | os.PathLike) -> Path:
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=0))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(d["chars"], pad=d["pad"], unk=d["unk"])
        except FileNotFoundError as e:
            raise InputError(f"{path}: vocabulary file not found") from e
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{path}: not a ttur vocabulary file ({e})") from e
