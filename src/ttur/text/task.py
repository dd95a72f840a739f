"""The language task of the training loop: a character-level WGAN-GP on a text corpus, scored by n-gram JSD.

Configuration keys it reads (beside the common ones: seed, batch_size, z_dim, sample_count):

- ``dataset``: the corpus, a UTF-8 text file or a folder of them, one sentence a line (the One
  Billion Word ``training-monolingual.tokenized.shuffled/`` folder in the paper);
- ``seq_len`` (32): characters per sentence (cut or padded with the backtick);
- ``vocab_size`` (2048): most frequent characters kept (with the unknown and padding symbols);
  counted on ``vocab_lines`` (100,000) random training lines, or read from ``vocab`` (a JSON file);
- ``max_lines`` (10,000,000, the paper's cap; null = all): lines of the corpus indexed;
- ``eval_lines`` (10,000): lines held out of training, the real side of the JSD;
- ``eval_samples`` (640, as the paper): generated sentences per evaluation (argmax decoding);
- ``jsd_n`` ([4, 6]): n-gram orders; the first is the primary metric (``jsd4``);
- ``g_width`` / ``d_width`` (the common width keys; 512 in the paper) and ``res_blocks`` (5): generator
  and critic width and depth.

``evaluate`` returns ``{"jsd4": .., "jsd6": ..}``; it draws its noise from its own generator seeded by
``(seed, step)``, so evaluating never changes the training random streams (exact resume). The first
evaluation also writes into the run folder ``vocab.json``; ``heldout.txt``, the held-out sentences as
the metric sees them (cut to ``seq_len``, unknown characters as U+FFFD), so that
``ttur jsd RUN/heldout.txt SENTENCES.txt`` gives the same numbers for generated sentences written one a
line; and ``jsd_reference.json``, the JSD of ``eval_samples`` real training sentences against the
held-out ones, the floor of the metric at these sample sizes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._util import atomic_write_text
from ..errors import ConfigError
from ..train.tasks import Task
from .config import COMMON_FALLBACKS, CONFIG_DEFAULTS, TextConfig
from .corpus import TextCorpus, TextStream
from .jsd import NgramCounts, jsd_counts, ngram_counts
from .models import TextCritic, TextGenerator
from .vocab import Vocab


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(1)[0])


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


class TextTask(TextConfig, Task):
    """Character-level language GAN on a text corpus (see the module notes)."""

    name = "text"

    def __init__(self, cfg: dict, device: torch.device, rank: int = 0, world: int = 1) -> None:
        c = {**COMMON_FALLBACKS, **CONFIG_DEFAULTS, **cfg}
        self.check_config(c)
        super().__init__(c, device, rank, world)
        self.ns = ns = list(c["jsd_n"])
        self.metric = f"jsd{ns[0]}"
        self.metric_label = f"JSD ({ns[0]}-gram)"
        self.seed = int(c.get("seed", 0) or 0)
        self.seq_len = c["seq_len"]

        self.corpus = TextCorpus(c["dataset"], max_lines=c["max_lines"], max_chars=self.seq_len)
        self.train_ids, self.eval_ids = self.corpus.split(c["eval_lines"], seed=self.seed)
        if len(self.eval_ids) == 0:
            raise ConfigError(f"dataset: {c['dataset']} has {len(self.corpus)} lines, too few to hold some out")
        if c["vocab"]:
            self.vocab = Vocab.load(c["vocab"])
        else:
            rng = np.random.default_rng([self.seed, 0x70CA])
            k = min(c["vocab_lines"], len(self.train_ids))
            sample = np.sort(rng.choice(self.train_ids, size=k, replace=False))
            self.vocab = Vocab.build(self.corpus.lines(sample), max_size=c["vocab_size"], seq_len=self.seq_len)
        self._real: dict[int, NgramCounts] | None = None
        self.notes.append(f"text: {c['dataset']}: {len(self.train_ids)} training lines, {len(self.eval_ids)} held out; "
                          f"{len(self.vocab)} symbols, sentences of {self.seq_len} characters")

    # models and noise -------------------------------------------------------------------------------------------
    def build_models(self) -> tuple[nn.Module, nn.Module]:
        c = self.cfg
        G = TextGenerator(len(self.vocab), self.seq_len, c["g_width"], c["z_dim"], c["res_blocks"])
        D = TextCritic(len(self.vocab), self.seq_len, c["d_width"], c["res_blocks"])
        return G.to(self.device), D.to(self.device)

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.cfg["z_dim"], generator=generator, device=generator.device)
        return z.to(self.device)

    # data -------------------------------------------------------------------------------------------------------
    def data(self) -> TextStream:
        return TextStream(self.corpus, self.train_ids, self.vocab, self.seq_len, self.cfg["batch_size"],
                          seed=self.seed, rank=self.rank, world=self.world, device=self.device)

    # evaluation -------------------------------------------------------------------------------------------------
    def real_counts(self) -> dict[int, NgramCounts]:
        """n-gram counts of the held-out real sentences (computed once)."""
        if self._real is None:
            tok = self.vocab.encode_batch(self.corpus.lines(self.eval_ids), self.seq_len)
            self._real = {n: ngram_counts(tok, n) for n in self.ns}
        return self._real

    @torch.no_grad()
    def generate_ids(self, G: nn.Module, n: int, seed: int) -> np.ndarray:
        """(n, seq_len) argmax character ids of ``n`` sentences from noise seeded by ``seed``."""
        G = _unwrap(G)
        was_training = G.training
        G.eval()
        gen = torch.Generator().manual_seed(seed)
        out = []
        bs = self.cfg["batch_size"]
        try:
            for i in range(0, n, bs):
                z = torch.randn(min(bs, n - i), self.cfg["z_dim"], generator=gen).to(self.device)
                out.append(G(z).argmax(dim=1).cpu())
        finally:
            G.train(was_training)
        return torch.cat(out).numpy()

    def evaluate(self, G: nn.Module, step: int, out_dir: Path) -> dict[str, float]:
        real = self.real_counts()
        fake = self.generate_ids(G, self.cfg["eval_samples"], seed=_seed(self.seed, int(step), 0xE7A1))
        out_dir = Path(out_dir)
        self._write_once(out_dir)
        return {f"jsd{n}": jsd_counts(real[n], ngram_counts(fake, n)) for n in self.ns}

    def reference(self) -> dict[str, float]:
        """JSD of ``eval_samples`` real training sentences vs the held-out ones: the floor at these sample sizes."""
        rng = np.random.default_rng([self.seed, 0x5EF])
        k = min(self.cfg["eval_samples"], len(self.train_ids))
        ids = np.sort(rng.choice(self.train_ids, size=k, replace=False))
        tok = self.vocab.encode_batch(self.corpus.lines(ids), self.seq_len)
        real = self.real_counts()
        return {f"jsd{n}": jsd_counts(real[n], ngram_counts(tok, n)) for n in self.ns}

    def _write_once(self, out_dir: Path) -> None:
        if self.rank != 0:
            return
        if not (out_dir / "vocab.json").exists():
            self.vocab.save(out_dir / "vocab.json")
        held = out_dir / "heldout.txt"
        if not held.exists():  # the real side of the JSD as text: `ttur jsd RUN/heldout.txt GENERATED.txt`
            tok = self.vocab.encode_batch(self.corpus.lines(self.eval_ids), self.seq_len)
            atomic_write_text(held, "".join(s + "\n" for s in self.vocab.decode_batch(tok)))
        ref = out_dir / "jsd_reference.json"
        if not ref.exists():
            d = {"what": "JSD of real training sentences vs the held-out ones (the floor at these sample sizes)",
                 "real_samples": int(min(self.cfg["eval_samples"], len(self.train_ids))),
                 "heldout_lines": int(len(self.eval_ids)), **self.reference()}
            atomic_write_text(ref, json.dumps(d, indent=1) + "\n")

    def save_samples(self, G: nn.Module, step: int, out_dir: Path) -> Path | None:
        """Write ``sample_count`` sentences from fixed noise to ``samples/step_NNNNNNN.txt`` (one a line)."""
        if self.rank != 0:
            return None
        ids = self.generate_ids(G, self.cfg["sample_count"], seed=_seed(self.seed, 0x5A4))
        path = Path(out_dir) / "samples" / f"step_{int(step):07d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(s + "\n" for s in self.vocab.decode_batch(ids)))
        return path
