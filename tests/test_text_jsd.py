"""n-gram JSD: properties, a hand-computed case, the reference code's formula, and the `ttur jsd` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ttur.cli import main
from ttur.errors import InputError
from ttur.text.jsd import CharTable, js_divergence, jsd_counts, jsd_ids, ngram_counts, text_jsd


def reference_js(p_lines: list[str], q_lines: list[str], n: int) -> float:
    """The official code's NgramLanguageModel.js_with, written out with dicts (log 0 = -inf)."""
    def model(lines):
        c: dict[tuple, int] = {}
        for s in lines:
            for i in range(len(s) - n + 1):
                c[tuple(s[i:i + n])] = c.get(tuple(s[i:i + n]), 0) + 1
        tot = sum(c.values())
        return lambda g: math.log(c[g] / tot) if g in c else -math.inf, c

    lp, cp = model(p_lines)
    lq, cq = model(q_lines)

    def kl(keys, la, lb):
        s = 0.0
        for g in keys:
            a, b = la(g), lb(g)
            m = np.logaddexp(a - math.log(2), b - math.log(2))
            s += math.exp(a) * (a - m)
        return s

    return 0.5 * (kl(cp, lp, lq) + kl(cq, lq, lp)) / math.log(2)


def pad(lines, L=8):
    return [(s[:L] + "`" * L)[:L] for s in lines]


def test_identical_texts_give_zero():
    lines = ["the cat sat", "on the mat", "a dog ran far away"]
    r = text_jsd(lines, list(reversed(lines)), ns=(1, 2, 4, 6))
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in r.values())


def test_disjoint_ngrams_give_one():
    r = text_jsd(["aaaa", "abab"], ["xyzx", "zzzz"], ns=(1, 2, 4), seq_len=None)
    assert all(v == pytest.approx(1.0, abs=1e-12) for v in r.values())


def test_symmetric_and_bounded():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(50, 12))
    b = rng.integers(0, 7, size=(30, 12))
    for n in (1, 2, 3, 4):
        ab = jsd_counts(ngram_counts(a, n), ngram_counts(b, n))
        ba = jsd_counts(ngram_counts(b, n), ngram_counts(a, n))
        assert ab == pytest.approx(ba, abs=1e-12)
        assert 0.0 < ab < 1.0


def test_hand_computed_case():
    # 1-grams: p = {a: 1/2, b: 1/2}, q = {a: 1/4, c: 3/4}; m = {a: 3/8, b: 1/4, c: 3/8}
    # JSD = 0.5 * (1/2 log2(4/3) + 1/2 log2(2) + 1/4 log2(2/3) + 3/4 log2(2))
    expect = 0.5 * (0.5 * math.log2(4 / 3) + 0.5 + 0.25 * math.log2(2 / 3) + 0.75)
    assert text_jsd(["ab"], ["accc"], ns=(1,), seq_len=None)[1] == pytest.approx(expect, abs=1e-12)
    # 2-grams of "aab" = {aa, ab}, of "abb" = {ab, bb}: p = q on ab only, m = (1/4, 1/2, 1/4)
    expect2 = 0.5 * (0.5 * math.log2(2) + 0.5 * math.log2(1) + 0.5 * math.log2(2) + 0.5 * math.log2(1))
    assert text_jsd(["aab"], ["abb"], ns=(2,), seq_len=None)[2] == pytest.approx(expect2, abs=1e-12)
    assert expect2 == pytest.approx(0.5)


def test_matches_reference_formula_with_padding():
    p = pad(["the cat sat on", "a mat", "the dog", "dogs and cats and mats"])
    q = pad(["the cat", "a dog sat", "mats and cats", "tha cot", "xyz"])
    for n in (1, 2, 4, 6):
        ours = text_jsd(p, q, ns=(n,), seq_len=8)[n]
        assert ours == pytest.approx(reference_js(p, q, n), abs=1e-12)


def test_padding_counts_and_unpadded_windows():
    t = CharTable()
    arr = t.encode(["abc", "a"], seq_len=4)
    assert arr.tolist() == [[1, 2, 3, 0], [1, 0, 0, 0]]  # "`" is 0
    c = ngram_counts(arr, 2)
    assert c.total == 6
    unp = CharTable().encode(["abc", "a"], seq_len=None)
    assert ngram_counts(unp, 2).total == 2  # ab, bc; "a" alone has no 2-gram


def test_wide_ids_fall_back_to_byte_keys():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5000, size=(40, 10))  # 13 bits x 6 > 63: not packed into int64
    b = a.copy()
    b[:5] = rng.integers(0, 5000, size=(5, 10))
    got = jsd_ids(a, b, ns=(6,))[6]
    small = jsd_ids(a % 7, a % 7, ns=(6,))[6]
    assert small == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < got < 1.0
    c = ngram_counts(a, 6)
    assert c.total == 40 * 5 and sum(c.as_dict().values()) == 200


def test_streamed_counts_equal_one_pass():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 4, size=(100, 9))
    one = ngram_counts(a, 3).as_dict()
    parts = ngram_counts(a[:37], 3).update(a[37:80]).update(a[80:]).as_dict()
    assert one == parts


def test_js_divergence_errors():
    with pytest.raises(InputError):
        js_divergence(np.zeros(3), np.ones(3))
    with pytest.raises(InputError, match="no 4-grams"):
        text_jsd(["ab"], ["abcdef"], ns=(4,), seq_len=None)


def test_cli_jsd(tmp_path, capsys):
    real = tmp_path / "real.txt"
    fake = tmp_path / "fake.txt"
    real.write_text("the cat sat on the mat\nthe dog ran\n")
    fake.write_text("the cat sat on the mat\nthe dog ran\n")
    assert main(["jsd", str(real), str(fake), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["jsd4"] == pytest.approx(0.0, abs=1e-12) and out["jsd6"] == pytest.approx(0.0, abs=1e-12)
    fake.write_text("xyz xyz xyz\n")
    assert main(["jsd", str(real), str(fake), "--n", "4", "--seq-len", "0"]) == 0
    assert "JSD (4-gram): 1.0000" in capsys.readouterr().out
    assert main(["jsd", str(real), str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
    assert main(["jsd", str(real), str(fake), "--n", "40"]) == 2


def test_real_text_floor(data_dir):
    a, b = data_dir / "wmt_newstest2012.en.tok", data_dir / "wmt_newstest2013.en.tok"
    from ttur.text.corpus import iter_lines

    r = text_jsd(iter_lines(a), iter_lines(b), ns=(4, 6))
    assert 0.1 < r[4] < 0.25 and 0.35 < r[6] < 0.6  # two real samples of ~3,000 news sentences
    assert r[4] < r[6]
