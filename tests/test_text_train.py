"""The text task through the generic training loop: a run folder, bit-identical resume, bundled configs, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ttur.cli import main
from ttur.errors import ConfigError
from ttur.train import list_configs, load_config, train

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "and", "big", "red"]


@pytest.fixture()
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(rng.choice(WORDS, size=rng.integers(2, 9))) + "\n" for _ in range(400)))
    return path


def _cfg(corpus, *extra):
    return load_config({"task": "text", "dataset": str(corpus)}, [
        "loss=wgan-gp", "seq_len=16", "g_width=16", "d_width=16", "res_blocks=2", "z_dim=16", "batch_size=16",
        "steps=6", "d_steps=2", "lr_d=3e-3", "lr_g=1e-3", "betas_d=[0.5,0.9]", "betas_g=[0.5,0.9]",
        "fid_every=3", "eval_samples=64", "eval_lines=50", "sample_every=3", "sample_count=8",
        "checkpoint_every=3", "log_every=1", "device=cpu", *extra])


def _states(d):
    return torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False)


def test_text_run_and_bit_identical_resume(corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    full = train(_cfg(corpus), a, progress=False)
    assert full.metric == "jsd4" and full.metric_label == "JSD (4-gram)" and full.step == 6
    evals = [r for r in full.records if "jsd4" in r]
    assert [r["step"] for r in evals] == [3, 6] and all(0 <= r["jsd4"] <= 1 and 0 <= r["jsd6"] <= 1 for r in evals)
    losses = [r["loss_d"] for r in full.records]
    assert losses[-1] < losses[0]  # the critic separates real from generated sentences
    for f in ("config.yaml", "metrics.jsonl", "metrics.csv", "fid.png", "checkpoint.pt", "vocab.json",
              "jsd_reference.json", "samples/step_0000003.txt", "samples/step_0000006.txt"):
        assert (a / f).is_file(), f
    assert len((a / "samples" / "step_0000006.txt").read_text().splitlines()) == 8

    train(_cfg(corpus, "steps=3"), b, progress=False)
    part = train(load_config(b / "config.yaml", ["steps=6"]), b, resume=True, progress=False)
    assert part.step == 6
    sa, sb = _states(a), _states(b)
    for k in ("G", "D"):
        for name, t in sa[k].items():
            assert torch.equal(t, sb[k][name]), f"{k}.{name} differs after resume"
    assert sa["data"] == sb["data"] and sa["data"]["position"] > 0
    assert [r["jsd4"] for r in part.records if "jsd4" in r] == [r["jsd4"] for r in evals]
    assert (a / "samples" / "step_0000006.txt").read_text() == (b / "samples" / "step_0000006.txt").read_text()


def test_bundled_language_configs_load():
    names = list_configs()
    assert "wgan-gp-lang-ttur" in names and "wgan-gp-lang-orig" in names
    t = load_config("wgan-gp-lang-ttur", ["dataset=/data/1bw"])
    o = load_config("wgan-gp-lang-orig")
    assert t["task"] == o["task"] == "text" and t["jsd_n"] == [4, 6] and t["dataset"] == "/data/1bw"
    assert (t["lr_d"], t["lr_g"], t["d_steps"]) == (3e-4, 1e-4, 1)
    assert (o["lr_d"], o["lr_g"], o["d_steps"]) == (1e-4, 1e-4, 10)
    with pytest.raises(ConfigError, match="jsd_n"):
        load_config("wgan-gp-lang-ttur", ["jsd_n=[4,64]"])
    with pytest.raises(ConfigError, match="seq_len"):
        load_config("wgan-gp-lang-ttur", ["seq_len=0"])


def test_cli_train_text(corpus, tmp_path, capsys):
    cfg_path = tmp_path / "lang.yaml"
    cfg_path.write_text(json.dumps({"task": "text", "dataset": str(corpus), "loss": "wgan-gp", "seq_len": 16,
                                    "g_width": 8, "d_width": 8, "res_blocks": 1, "z_dim": 8, "batch_size": 8,
                                    "steps": 2, "fid_every": 2, "eval_samples": 16, "eval_lines": 20,
                                    "device": "cpu"}))
    out = tmp_path / "run"
    rc = main(["train", str(cfg_path), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert "jsd4" in recs[-1]
    missing = tmp_path / "nothing.txt"
    rc = main(["train", str(cfg_path), "--out", str(tmp_path / "run2"), f"dataset={missing}", "--no-progress"])
    assert rc == 2 and "nothing.txt" in capsys.readouterr().err
