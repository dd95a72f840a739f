"""The disturbance experiment: each disturbance's definition, and FID/IS from one pass per level."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from ttur.cli import main
from ttur.errors import ConfigError
from ttur.experiments import disturb
from ttur.shapes.dataset import render


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return disturb.load_images(render(0, np.arange(8), 32), 8)


def test_load_images_layouts(images):
    assert images.shape == (8, 32, 32, 3) and images.dtype == np.float32
    assert -1 <= images.min() and images.max() <= 1
    u8 = render(0, np.arange(4), 32)
    nchw = disturb.load_images(torch.from_numpy(u8).permute(0, 3, 1, 2).contiguous(), 4)
    np.testing.assert_allclose(nchw, images[:4])
    spec = disturb.load_images("shapes:10:0", 5, size=32)
    assert spec.shape == (5, 32, 32, 3)
    np.testing.assert_allclose(spec, images[:5], atol=1e-6)
    with pytest.raises(ConfigError):
        disturb.load_images(u8, 1)


def test_disturbances(images):
    x = images
    rng = np.random.default_rng
    for name, f in disturb.DISTURBANCES.items():
        y = f(x, 0.0, rng(0), other=x[::-1])
        np.testing.assert_array_equal(y, x, err_msg=name)  # level 0 is the identity
        y = f(x, disturb.LEVELS[name][-1], rng(0), other=-x)
        assert y.shape == x.shape and y.dtype == np.float32, name
        assert np.isfinite(y).all() and y.min() >= -1 - 1e-6 and y.max() <= 1 + 1e-6, name
        assert np.abs(y - x).mean() > 1e-3, name
    n = disturb.gaussian_noise(x, 0.5, rng(1))
    np.testing.assert_allclose(n.max(), 0.5 * x.max() + 0.5, atol=0.2)  # noise scaled to [-1, 1]
    sp = disturb.salt_and_pepper(x, 0.2, rng(1))
    changed = (sp != x).any(-1)
    hit = (np.abs(sp) == 1).all(-1) & (sp == sp[..., :1]).all(-1)  # the same value in every channel
    assert 0.15 < changed.mean() < 0.25 and (hit | ~changed).all()
    r = disturb.black_rectangles(x, 0.25, rng(2))
    assert ((r == -1).all(-1)).sum(axis=(1, 2)).min() >= 8 * 8  # at least one 8x8 black square each
    b = disturb.gaussian_blur(x, 2.0, rng(0))
    assert np.abs(np.diff(b, axis=1)).mean() < np.abs(np.diff(x, axis=1)).mean()
    s = disturb.swirl(x, 4.0, rng(0))
    np.testing.assert_array_equal(s[:, :3], x[:, :3])  # the border is restored
    c = disturb.contamination(x, 0.5, rng(0), other=-np.ones_like(x))
    assert ((c == -1).all(axis=(1, 2, 3))).sum() == 4
    with pytest.raises(ConfigError):
        disturb.contamination(x, 0.5, rng(0), other=None)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, x):
        return torch.cat([torch.relu(self.conv(x)).mean((2, 3)), x.std((2, 3))], 1)


def test_all_disturbances_with_a_small_extractor(tmp_path, images):
    out = tmp_path / "d"
    res = disturb.run(out, images, n=8, levels={k: [v[1], v[-1]] for k, v in disturb.LEVELS.items()},
                      extractor=_Tiny(), other=render(3, np.arange(8), 32) // 2, progress=False)
    for name in ("report.md", "disturb_fid_is.png", "disturb_examples.png", "disturb.csv", "results.json"):
        assert (out / name).stat().st_size > 0, name
    assert res["label"].startswith("FD (")
    for s in res["summary"]:
        assert len(s["fid"]) == 3 and abs(s["fid"][0]) < 1e-8
        assert all(math.isfinite(v) for v in s["fid"][1:]) and min(s["fid"][1:]) > 0
        assert all(math.isnan(v) for v in s["is"])  # no logits: no Inception Score
    noise = next(s for s in res["summary"] if s["disturbance"] == "gaussian_noise")
    assert noise["fid_increasing"]  # stronger noise, larger distance
    assert noise["fid"][0] < noise["fid"][1] < noise["fid"][2]
    data = json.loads((out / "results.json").read_text())
    assert len(data["rows"]) == 18
    assert "rises monotonically" in (out / "report.md").read_text()


def test_fid_and_is_from_one_inception_pass_cli(tmp_path, weights_env, capsys):
    # the CPU Inception network is slow: 3 images, one disturbance, 64-d features
    np.save(tmp_path / "images.npy", render(0, np.arange(3), 32))
    out = tmp_path / "d"
    rc = main(["experiment", "disturb", str(tmp_path / "images.npy"), "-o", str(out), "--size", "32", "-n", "3",
               "--disturbances", "gaussian_noise", "--dims", "64", "--isc-splits", "2", "--no-progress"])
    assert rc == 0
    assert "gaussian_noise" in capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    (s,) = data["summary"]
    assert s["levels"] == [0.0, 0.25, 0.5, 0.75]
    assert abs(s["fid"][0]) < 1e-6
    assert s["fid"][0] < s["fid"][1] < s["fid"][2] < s["fid"][3]  # stronger noise, larger FID
    assert s["fid_increasing"]
    assert all(math.isfinite(v) and v >= 1 for v in s["is"])
    assert data["label"] == "FID" and data["official_weights"] is False and data["n"] == 3
    assert "not the official file" in (out / "report.md").read_text()
    assert (out / "disturb_fid_is.png").stat().st_size > 0


def test_bad_arguments(tmp_path, images):
    with pytest.raises(ConfigError):
        disturb.run(tmp_path / "x", images, disturbances=["fog"], extractor=_Tiny(), progress=False)
    assert disturb.monotone([0, 1, 2]) and not disturb.monotone([0, 2, 1]) and not disturb.monotone([0, float("nan")])
    assert disturb.monotone([3, 2, 1], increasing=False)
