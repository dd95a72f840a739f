"""Character vocabulary and the line-offset corpus reader: round trips, splits, streaming, resume, sharding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttur.errors import InputError
from ttur.text.corpus import TextCorpus, TextStream, corpus_files, iter_lines
from ttur.text.vocab import PAD, UNK, Vocab


def write_corpus(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "and", "big", "red"]
    lines = [" ".join(rng.choice(words, size=rng.integers(2, 9))) for _ in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_vocab_order_unknown_and_padding(tmp_path):
    v = Vocab.build(["aaab", "bbc", "zz"], max_size=4)
    assert v.chars == [UNK, PAD, "a", "b"]  # a:3, b:3 tie broken by the character; c and z dropped
    ids = v.encode("abcz", 6)
    assert ids.tolist() == [2, 3, 0, 0, 1, 1]
    assert v.decode(ids) == UNK.join(["ab", "", ""])
    assert v.decode(ids, strip_pad=False) == f"ab{UNK}{UNK}{PAD}{PAD}"


def test_vocab_round_trip_and_json(tmp_path):
    lines = ["Hello, world!", "Ünïcödé text ok", "a" * 50]
    v = Vocab.build(lines, max_size=2048)
    for s in lines:
        assert v.decode(v.encode(s, 32)) == s[:32]
    batch = v.encode_batch(lines + [""], 32)
    assert batch.shape == (4, 32) and (batch[3] == v.pad_id).all()
    assert v.decode_batch(batch) == [s[:32] for s in lines] + [""]
    path = v.save(tmp_path / "vocab.json")
    w = Vocab.load(path)
    assert w == v and w.pad_id == 1 and w.unk_id == 0
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="bad.json"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="nope.json"):
        Vocab.load(tmp_path / "nope.json")


def test_corpus_file_skips_empty_lines_and_reads_back(tmp_path):
    f = tmp_path / "c.txt"
    f.write_bytes("first line\n\nsecond\r\nthird \xe9t\xe9\n\n\nlast no newline".encode())
    c = TextCorpus(f)
    assert len(c) == 4
    assert c.lines(range(4)) == ["first line", "second", "third été", "last no newline"]
    c2 = TextCorpus(f, max_chars=3)
    assert c2.line(2) == "thi"
    assert len(TextCorpus(f, max_lines=2)) == 2


def test_corpus_folder_and_chunked_index(tmp_path, monkeypatch):
    d = tmp_path / "shards"
    d.mkdir()
    a = write_corpus(d / "news.en-00001-of-00100", 50, seed=1)
    b = write_corpus(d / "news.en-00002-of-00100", 70, seed=2)
    (d / ".hidden").write_text("not read\n")
    assert [p.name for p in corpus_files(d)] == ["news.en-00001-of-00100", "news.en-00002-of-00100"]
    import ttur.text.corpus as corpus_mod

    monkeypatch.setattr(corpus_mod, "_CHUNK", 37)  # lines straddle chunk borders
    c = TextCorpus(d)
    assert len(c) == 120
    assert c.lines(range(120)) == a + b
    assert list(iter_lines(d)) == a + b
    assert len(TextCorpus(d, max_lines=60)) == 60
    with pytest.raises(InputError, match="no such"):
        TextCorpus(tmp_path / "missing")
    (tmp_path / "packed.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(InputError, match="packed.gz.*unpack"):
        TextCorpus(tmp_path / "packed.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no files"):
        TextCorpus(tmp_path / "empty")


def test_split_is_disjoint_and_deterministic(tmp_path):
    write_corpus(tmp_path / "c.txt", 300)
    c = TextCorpus(tmp_path / "c.txt")
    tr, ev = c.split(40, seed=3)
    assert len(ev) == 40 and len(tr) == 260 and not set(tr) & set(ev)
    tr2, ev2 = c.split(40, seed=3)
    assert (ev == ev2).all() and (tr == tr2).all()
    assert not (c.split(40, seed=4)[1] == ev).all()
    assert len(c.split(10_000)[1]) == 60  # at most a fifth held out


def test_stream_batches_resume_and_shards(tmp_path):
    write_corpus(tmp_path / "c.txt", 100)
    c = TextCorpus(tmp_path / "c.txt")
    tr, _ = c.split(10)
    v = Vocab.build(c.lines(tr))
    s = TextStream(c, tr, v, 16, batch_size=8, seed=5)
    x = next(s)
    assert x.shape == (8, len(v), 16) and x.dtype == torch.float32
    assert torch.equal(x.sum(1), torch.ones(8, 16))  # one-hot
    # exact resume across an epoch boundary (90 lines, 8 a batch: 11 batches an epoch)
    for _ in range(7):
        next(s)
    state = s.state_dict()
    want = [s.next_ids() for _ in range(6)]
    t = TextStream(c, tr, v, 16, batch_size=8, seed=5)
    t.load_state_dict(state)
    assert all((a == b).all() for a, b in zip(want, [t.next_ids() for _ in range(6)], strict=True))
    assert t.epoch == 1
    # two ranks take disjoint halves of the same global batches
    full = TextStream(c, tr, v, 16, batch_size=8, seed=5)
    r0 = TextStream(c, tr, v, 16, batch_size=8, seed=5, rank=0, world=3)
    r1 = TextStream(c, tr, v, 16, batch_size=8, seed=5, rank=1, world=3)
    r2 = TextStream(c, tr, v, 16, batch_size=8, seed=5, rank=2, world=3)
    for _ in range(3):
        g = full.next_ids()
        parts = [r0.next_ids(), r1.next_ids(), r2.next_ids()]
        assert [len(p) for p in parts] == [3, 3, 2]
        assert np.concatenate(parts).tolist() == g.tolist()
    with pytest.raises(InputError, match="training lines"):
        t.load_state_dict({**state, "n": 5})
    with pytest.raises(InputError, match="fewer than the batch size"):
        TextStream(c, tr[:4], v, 16, batch_size=8)


def test_real_files(data_dir):
    c = TextCorpus(data_dir / "wmt_newstest2012.en.tok")
    assert len(c) == 3003
    assert c.line(0) == "Parliament Does Not Support Amendment Freeing Tymoshenko"
    ptb = TextCorpus(data_dir / "ptb.valid.txt", max_chars=32)
    assert len(ptb) == 3370
    v = Vocab.build(ptb.lines(range(len(ptb))), seq_len=32)
    assert len(v) < 60  # lower-cased PTB
    assert v.decode(v.encode(ptb.line(5), 32)) == ptb.line(5)[:32]
