"""Training configs: bundled files, overrides, validation errors, `ttur configs`."""

from __future__ import annotations

import pytest

from ttur.cli import main
from ttur.errors import ConfigError
from ttur.train import list_configs, load_config
from ttur.train.config import DEFAULTS, dump_config

PAPER = {  # PAPER.md §4, Table 1: (lr_d, lr_g) of the TTUR and the best one-time-scale runs
    "dcgan-celeba": ((1e-5, 5e-4), (5e-4, 5e-4)),
    "dcgan-cifar10": ((1e-4, 5e-4), (1e-4, 1e-4)),
    "dcgan-svhn": ((1e-5, 1e-4), (5e-5, 5e-5)),
    "dcgan-lsun": ((1e-5, 1e-4), (5e-5, 5e-5)),
    "wgan-gp-cifar10": ((3e-4, 1e-4), (1e-4, 1e-4)),
    "wgan-gp-lsun": ((3e-4, 1e-4), (1e-4, 1e-4)),
}


def test_bundled_configs_load_with_paper_rates():
    names = list_configs()
    assert "quickstart" in names and all(names.values())  # every config describes itself
    for exp, (ttur, orig) in PAPER.items():
        t, o = load_config(f"{exp}-ttur"), load_config(f"{exp}-orig")
        assert (t["lr_d"], t["lr_g"]) == ttur
        assert (o["lr_d"], o["lr_g"]) == orig
        if exp.startswith("wgan"):
            assert t["loss"] == o["loss"] == "wgan-gp" and t["model"] == "resnet"
            assert (t["d_steps"], o["d_steps"]) == (1, 5)
            assert t["betas_d"] == t["betas_g"] == [0.0, 0.9]
        else:
            assert t["loss"] == "gan" and t["model"] == "dcgan" and t["betas_d"] == [0.5, 0.999]
    assert set(load_config("quickstart")) == set(DEFAULTS)


def test_overrides_are_yaml_scalars(tmp_path):
    cfg = load_config("quickstart", ["lr_d=2e-4", "betas_d=[0.0,0.9]", "fid_every=0", "fid_ref=null", "amp=false"])
    assert cfg["lr_d"] == 2e-4 and isinstance(cfg["lr_d"], float)
    assert cfg["betas_d"] == [0.0, 0.9] and cfg["fid_every"] == 0 and cfg["fid_ref"] is None
    p = tmp_path / "c.yaml"
    p.write_text(dump_config(cfg))
    again = load_config(p, {"steps": 7})
    assert again == {**cfg, "steps": 7}


@pytest.mark.parametrize("override,key", [
    ("lr_d=-1", "lr_d"), ("lr_g=abc", "lr_g"), ("betas_d=[0.5]", "betas_d"), ("betas_g=[0.5,1.5]", "betas_g"),
    ("loss=hinge", "loss"), ("steps=0", "steps"), ("batch_size=2.5", "batch_size"), ("image_size=48", "image_size"),
    ("bogus=1", "bogus"), ("model=vae", "model"), ("amp=maybe", "amp"), ("lr_decay=cosine", "lr_decay"),
    ("task=audio", "task"),
])
def test_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=f"^{key}:"):
        load_config("quickstart", [override])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="no such bundled config"):
        load_config("nope")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="key=value"):
        load_config("quickstart", ["lr_d"])


def test_cli_configs_lists_names(capsys):
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert "quickstart" in out and "wgan-gp-lsun-ttur" in out and "TTUR" in out


def test_cli_train_errors(capsys, tmp_path):
    assert main(["train", "quickstart", "lr_d=1e-4"]) == 2  # no --out
    assert "ttur: error: --out" in capsys.readouterr().err
    assert main(["train", "quickstart", "lr_d=0"]) == 2  # the config is checked first
    assert "ttur: error: lr_d: must be positive" in capsys.readouterr().err
    assert main(["train", "quickstart", "--out", str(tmp_path / "r"), "lr_d=0"]) == 2
    assert "ttur: error: lr_d: must be positive" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "none")]) == 2
    assert "no config.yaml" in capsys.readouterr().err
