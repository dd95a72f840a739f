"""Language models and the text task: shapes, a few WGAN-GP steps on a small generated corpus, evaluation, samples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ttur.errors import ConfigError
from ttur.text.jsd import jsd_counts, ngram_counts
from ttur.text.models import TextCritic, TextGenerator, build_text_models
from ttur.text.task import TextTask
from ttur.train import losses as L

pytestmark = pytest.mark.usefixtures("one_thread")


WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "and", "big", "red"]


def write_corpus(path, n=600, seed=0):
    rng = np.random.default_rng(seed)
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(2, 9))) for _ in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def small_cfg(path, **kw):
    return {"dataset": str(path), "seq_len": 16, "batch_size": 32, "g_width": 32, "d_width": 32, "res_blocks": 2,
            "z_dim": 32, "eval_samples": 128, "eval_lines": 100, "seed": 0, "jsd_n": [4, 6], **kw}


def test_model_shapes_and_paper_size():
    G, D = build_text_models(vocab_size=40, seq_len=32, dim=16, z_dim=128, blocks=5)
    z = torch.randn(3, 128)
    x = G(z)
    assert x.shape == (3, 40, 32)
    assert torch.allclose(x.sum(1), torch.ones(3, 32), atol=1e-5) and (x >= 0).all()
    assert D(x).shape == (3,)
    with pytest.raises(ValueError, match="critic expects"):
        D(torch.zeros(3, 41, 32))
    big_g, big_d = TextGenerator(2048, 32, 512), TextCritic(2048, 32, 512)
    blocks = sum(p.numel() for p in big_g.blocks.parameters())
    assert blocks == 5 * 2 * (512 * 512 * 5 + 512)  # five residual blocks of two kernel-5 convolutions
    assert sum(p.numel() for p in big_g.parameters()) == blocks + 128 * 512 * 32 + 512 * 32 + 512 * 2048 + 2048
    assert sum(p.numel() for p in big_d.parameters()) == blocks + 2048 * 512 + 512 + 512 * 32 + 1
    assert big_g.blocks[0].scale == 0.3 and big_g.blocks[0].conv1.kernel_size == (5,)
    w = big_g.blocks[0].conv1.weight.detach()  # tflib He-uniform: bound sqrt(3) * sqrt(4 / (2 * 512 * 5))
    bound = math.sqrt(3) * math.sqrt(4 / (2 * 512 * 5))
    assert bound >= w.abs().max() > 0.99 * bound
    assert float(w.std()) == pytest.approx(bound / 3**0.5, rel=0.01)
    assert big_g.fc.bias.abs().max() == 0 and big_d.fc.weight.abs().max() <= math.sqrt(6 / (512 * 32 + 1))


def wgan_gp_steps(task, G, D, steps, lr_d=3e-3, lr_g=1e-3, d_steps=1, gen=None):
    """A plain WGAN-GP loop with the library's losses (critic on one-hot real vs softmax fake, GP on (N, V, L))."""
    opt_d = torch.optim.Adam(D.parameters(), lr_d, betas=(0.5, 0.9))
    opt_g = torch.optim.Adam(G.parameters(), lr_g, betas=(0.5, 0.9))
    data = task.data()
    gen = gen or torch.Generator().manual_seed(1)
    bs = task.cfg["batch_size"]
    losses = []
    for _ in range(steps):
        for _ in range(d_steps):
            real = next(data)
            fake = G(task.noise(bs, gen)).detach()
            ld = L.d_loss("wgan-gp", D(real), D(fake)) + L.gradient_penalty(D, real, fake, generator=gen)
            opt_d.zero_grad()
            ld.backward()
            opt_d.step()
            losses.append(ld.item())
        lg = L.g_loss("wgan-gp", D(G(task.noise(bs, gen))))
        opt_g.zero_grad()
        lg.backward()
        opt_g.step()
    return losses


def test_task_trains_and_evaluates(tmp_path, capsys):
    torch.manual_seed(0)
    task = TextTask(small_cfg(write_corpus(tmp_path / "c.txt")), torch.device("cpu"))
    assert task.metric == "jsd4" and task.metric_label == "JSD (4-gram)"
    assert len(task.eval_ids) == 100 and len(task.train_ids) == 500
    assert task.notes and "500 training lines" in task.notes[0]
    G, D = task.build_models()
    assert G.fc.in_features == 32 and D.inp.in_channels == len(task.vocab) == 18
    run = tmp_path / "run"
    before = task.evaluate(G, 0, run)
    assert set(before) == {"jsd4", "jsd6"} and before["jsd4"] > 0.9
    assert task.evaluate(G, 0, run) == before  # evaluation noise depends on the step alone
    ref = json.loads((run / "jsd_reference.json").read_text())
    assert ref["jsd4"] < 0.2 and ref["real_samples"] == 128
    assert (run / "vocab.json").is_file()
    # the held-out text and the CLI's JSD on decoded sentences give the task's numbers
    ids = task.generate_ids(G, 128, seed=7)
    (run / "gen.txt").write_text("".join(s + "\n" for s in task.vocab.decode_batch(ids)))
    real = task.real_counts()
    want = {f"jsd{n}": jsd_counts(real[n], ngram_counts(ids, n)) for n in (4, 6)}
    from ttur.cli import main

    assert main(["jsd", str(run / "heldout.txt"), str(run / "gen.txt"), "--seq-len", "16", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["real_lines"] == 100 and got["generated_lines"] == 128
    assert got["jsd4"] == pytest.approx(want["jsd4"], abs=1e-12)
    assert got["jsd6"] == pytest.approx(want["jsd6"], abs=1e-12)

    state = torch.get_rng_state()
    losses = wgan_gp_steps(task, G, D, 30)
    assert np.mean(losses[-5:]) < np.mean(losses[:3]) - 1.0  # the critic learns to separate real from fake
    after = task.evaluate(G, 30, run)
    path = task.save_samples(G, 30, run)
    assert torch.equal(torch.get_rng_state(), state)  # no global RNG draws outside the noise generator
    assert all(0.0 <= v <= 1.0 for v in after.values())
    assert path == run / "samples" / "step_0000030.txt"
    lines = path.read_text().splitlines()
    assert len(lines) == 64 and all(len(s) <= 16 for s in lines)


def test_noise_and_stream_devices(tmp_path):
    task = TextTask(small_cfg(write_corpus(tmp_path / "c.txt"), batch_size=8), torch.device("cpu"), rank=1, world=2)
    z = task.noise(8, torch.Generator().manual_seed(0))
    assert z.shape == (8, 32)
    x = next(task.data())
    assert x.shape == (4, len(task.vocab), 16)
    assert task.save_samples(task.build_models()[0], 1, tmp_path / "run") is None  # rank 1 writes nothing


def test_config_errors(tmp_path):
    c = write_corpus(tmp_path / "c.txt")
    with pytest.raises(ConfigError, match="jsd_n"):
        TextTask(small_cfg(c, jsd_n=[4, 40]), torch.device("cpu"))
    with pytest.raises(ConfigError, match="seq_len"):
        TextTask(small_cfg(c, seq_len=0), torch.device("cpu"))
    with pytest.raises(ConfigError, match="dataset"):
        TextTask(small_cfg(c, dataset=""), torch.device("cpu"))
    cfg = small_cfg(c, jsd_n=4)
    TextTask.check_config(cfg)
    assert cfg["jsd_n"] == [4]


def test_bundled_configs_have_the_paper_settings():
    from importlib.resources import files

    import yaml

    ttur_cfg = yaml.safe_load((files("ttur") / "configs" / "wgan-gp-lang-ttur.yaml").read_text())
    orig = yaml.safe_load((files("ttur") / "configs" / "wgan-gp-lang-orig.yaml").read_text())
    for c in (ttur_cfg, orig):
        TextTask.check_config(c)
        assert c["task"] == "text" and c["loss"] == "wgan-gp" and c["seq_len"] == 32 and c["batch_size"] == 64
        assert c["g_width"] == c["d_width"] == 512 and c["res_blocks"] == 5 and c["z_dim"] == 128
        assert c["betas_d"] == c["betas_g"] == [0.5, 0.9] and c["eval_samples"] == 640
    assert (ttur_cfg["lr_d"], ttur_cfg["lr_g"], ttur_cfg["d_steps"]) == (3e-4, 1e-4, 1)
    assert (orig["lr_d"], orig["lr_g"], orig["d_steps"]) == (1e-4, 1e-4, 10)
