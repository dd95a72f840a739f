"""DINOv2 ViTs against the golden features of EDM2 and dgm-eval (../shared/fixtures/dinov2, MODERN.md).

The default run checks ViT-S/14 on a few images of every set in every mode; ``-m slow`` runs
ViT-S/14 on all images and ViT-L/14 on the 16 + 16 subset, with the FD of its own features.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import vit_common as vc

from ttur.errors import InputError, WeightsError
from ttur.metrics.distances import frechet_distance
from ttur.networks import dinov2

pytestmark = pytest.mark.usefixtures("one_thread")

MODES = ("edm2", "dgm-eval", "dgm-eval-clean")
FEW = {"a": 3, "b": 3, "odd": 2}  # images per set in the default run


@pytest.fixture(scope="session")
def dino_dir(fixtures_dir):
    return fixtures_dir / "dinov2"


@pytest.fixture(scope="session")
def dino_golden(dino_dir) -> dict:
    return json.loads((dino_dir / "golden.json").read_text())


@pytest.fixture(scope="session")
def vits14(vits14_file):
    return dinov2.load_model(vits14_file)


def _fd(fa: np.ndarray, fb: np.ndarray) -> float:
    return frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))


def _check_features(got: np.ndarray, golden: np.ndarray, scale: float) -> float:
    diff = float(np.abs(got - golden).max())
    assert diff <= 1e-5 * scale, f"max abs difference {diff:.3g} > {1e-5 * scale:.3g}"
    return diff


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["a", "odd"])
def test_model_input(fixtures_dir, dino_dir, mode, name):
    got = dinov2.preprocess(vc.images(fixtures_dir, name, 1), mode)[0].numpy()
    ref = np.load(dino_dir / f"input_{mode}_{name}000.npy")
    diff = np.abs(got - ref).max()
    assert diff <= (0.0 if mode == "dgm-eval" else 1e-5), diff


@pytest.mark.parametrize("mode", MODES)
def test_vits14_features_few(fixtures_dir, dino_dir, vits14, mode):
    for name, n in FEW.items():
        golden = np.load(dino_dir / f"features_vits14_{mode}_{name}.npy")
        got = dinov2.features(vc.images(fixtures_dir, name, n), vits14, mode)
        _check_features(got, golden[:n], np.abs(golden).max())


def test_batch_and_list_agree(fixtures_dir, vits14):
    imgs = vc.images(fixtures_dir, "a", 2)
    a = dinov2.features(np.stack(imgs), vits14, "edm2", batch_size=2)
    b = dinov2.features(imgs, vits14, "edm2", batch_size=1)
    assert np.abs(a - b).max() <= 1e-5


@pytest.mark.parametrize("key", ["fd_vits14_edm2_a_b", "fd_vits14_edm2-pil_a_b", "fd_vits14_dgm-eval_a_b",
                                 "fd_vits14_dgm-eval-clean_a_b", "fd_vitl14_edm2_a16_b16",
                                 "fd_vitl14_dgm-eval_a16_b16"])
def test_fd_from_golden_features(dino_dir, dino_golden, key):
    _, model, mode, x, y = key.split("_")
    fa = np.load(dino_dir / f"features_{model}_{mode}_{x}.npy")
    fb = np.load(dino_dir / f"features_{model}_{mode}_{y}.npy")
    exact = dino_golden[key + "_exact"]
    assert _fd(fa, fb) == pytest.approx(exact, rel=1e-9)


def test_position_embedding_offset(vits14):
    """224 px: the official 0.1-offset scale factor, which is not ``size=(16, 16)``; 518 px: unchanged."""
    assert vits14.position_embedding(37, 37) is vits14.pos_embed
    pos = vits14.position_embedding(16, 16)
    assert pos.shape == (1, 257, 384)
    grid = vits14.pos_embed[:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2)
    plain = F.interpolate(grid, size=(16, 16), mode="bicubic").permute(0, 2, 3, 1).reshape(1, 256, 384)
    assert torch.equal(pos[:, 0], vits14.pos_embed[:, 0])
    assert (pos[:, 1:] - plain).abs().max() > 1e-3


def test_gray_and_rgba_convert_like_pillow(fixtures_dir):
    from PIL import Image

    for name in ("gray", "rgba"):
        path = fixtures_dir / "images" / "modes" / f"{name}.png"
        with Image.open(path) as im:
            raw, rgb = np.array(im), np.array(im.convert("RGB"))
        assert raw.shape[-1:] != (3,)
        for mode in MODES:
            assert torch.equal(dinov2.preprocess([raw], mode), dinov2.preprocess([rgb], mode))


def test_bad_input():
    with pytest.raises(InputError, match="mode"):
        dinov2.preprocess([np.zeros((8, 8, 3), np.uint8)], "bilinear")
    with pytest.raises(InputError, match="empty"):
        dinov2.preprocess([np.zeros((0, 8, 3), np.uint8)], "edm2")
    with pytest.raises(InputError, match="uint8"):
        dinov2.preprocess([np.zeros((8, 8, 3), np.float32)], "edm2")
    with pytest.raises(InputError, match="shape"):
        dinov2.preprocess([np.zeros((8, 8, 5), np.uint8)], "edm2")
    with pytest.raises(InputError, match="architecture"):
        dinov2.DINOv2("vitg14")


def test_wrong_and_truncated_weights(vits14_file, tmp_path):
    with pytest.raises(WeightsError, match="ViT-S/14 weights, not ViT-L/14") as e:
        dinov2.load_state(vits14_file, "vitl14")
    assert str(vits14_file) in str(e.value)
    arch, _ = dinov2.load_state(vits14_file)
    assert arch == "vits14"
    cut = tmp_path / "cut.pth"
    cut.write_bytes(vits14_file.read_bytes()[: 10_000_000])
    with pytest.raises(WeightsError, match="truncated") as e:
        dinov2.load_model(cut)
    assert str(cut) in str(e.value)
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(WeightsError, match="not a DINOv2") as e:
        dinov2.load_model(other)
    assert str(other) in str(e.value)
    sd = {k: v for k, v in torch.load(vits14_file, weights_only=True).items() if k != "norm.bias"}
    torch.save(sd, other)
    with pytest.raises(WeightsError, match="missing"):
        dinov2.load_model(other)


def test_weights_spec(monkeypatch, tmp_path):
    spec = dinov2.WEIGHTS["vitl14"]
    assert spec.filename == "dinov2_vitl14_pretrain.pth"
    assert spec.url == "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth"
    assert spec.sha256 is None and "no checksum" in spec.sha256_note
    assert spec.find() is None
    f = tmp_path / "w.pth"
    f.write_bytes(b"x")
    monkeypatch.setenv(spec.env, str(f))
    assert spec.find() == f
    monkeypatch.setenv(spec.env, str(tmp_path / "nope.pth"))
    with pytest.raises(WeightsError, match=spec.env):
        spec.find()


# ---------------------------------------------------------------------------------------------
# Long runs: every image (ViT-S/14), the 16 + 16 subset (ViT-L/14), FD of the port's own features
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_vits14_features_all(fixtures_dir, dino_dir, dino_golden, vits14, mode):
    feats = {}
    for name in ("a", "b", "odd"):
        golden = np.load(dino_dir / f"features_vits14_{mode}_{name}.npy")
        feats[name] = dinov2.features(vc.images(fixtures_dir, name), vits14, mode)
        _check_features(feats[name], golden, np.abs(golden).max())
    exact = dino_golden[f"fd_vits14_{mode}_a_b_exact"]
    assert _fd(feats["a"], feats["b"]) == pytest.approx(exact, rel=1e-5)


@pytest.fixture(scope="module")
def vitl14(fixtures_dir):
    model = dinov2.DINOv2("vitl14")
    sd = vc.fake_state(fixtures_dir, "dinov2/dinov2_vitl14_keys.json")
    assert dinov2.arch_of_state(sd) == "vitl14"
    from ttur.networks.vit import load_exact

    load_exact(model, sd, "stand-in ViT-L/14")
    return model


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["edm2", "dgm-eval"])
def test_vitl14_features_16(fixtures_dir, dino_dir, dino_golden, vitl14, mode):
    feats = {}
    for name in ("a16", "b16"):
        golden = np.load(dino_dir / f"features_vitl14_{mode}_{name}.npy")
        feats[name] = dinov2.features(vc.images(fixtures_dir, name), vitl14, mode)
        _check_features(feats[name], golden, np.abs(golden).max())
    exact = dino_golden[f"fd_vitl14_{mode}_a16_b16_exact"]
    assert _fd(feats["a16"], feats["b16"]) == pytest.approx(exact, rel=1e-5)
