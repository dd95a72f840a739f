"""CLIP ViT-L/14@336px and CMMD against google-research's CMMD goldens (../shared/fixtures/clip, MODERN.md).

The default run checks the CMMD preprocessing, the CMMD value from the golden embeddings, the weight
layouts, and the embedding of one image (the non-square ``odd/000.png``); ``-m slow`` embeds the
first 16 images of a and b (and 4 of odd) and checks CMMD from the port's own embeddings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import vit_common as vc
from torch import nn

from ttur.errors import InputError, WeightsError
from ttur.metrics import cmmd
from ttur.networks import clip

pytestmark = pytest.mark.usefixtures("one_thread")

OPENAI_KEYS = "clip/clip_vitl14_336_openai_visual_keys.json"


@pytest.fixture(scope="session")
def clip_dir(fixtures_dir):
    return fixtures_dir / "clip"


@pytest.fixture(scope="session")
def clip_golden(clip_dir) -> dict:
    return json.loads((clip_dir / "golden.json").read_text())


@pytest.fixture(scope="session")
def clip_model(clip_file):
    return clip.load_model(clip_file)


def _small_openai_state(fixtures_dir, blocks: int = 2) -> dict:
    keys = json.loads((fixtures_dir / OPENAI_KEYS).read_text())
    keep = [(k, s) for k, s in keys
            if ".resblocks." not in k or int(k.split(".resblocks.")[1].split(".")[0]) < blocks]
    return vc.fake_module(fixtures_dir).fake_state_dict(keep)


def _script_tree(sd: dict) -> nn.Module:
    """A TorchScript-able module whose state dict is ``sd`` (the form of OpenAI's JIT files)."""
    root = nn.Module()
    for key, value in sd.items():
        *path, leaf = key.split(".")
        m = root
        for p in path:
            if not hasattr(m, p):
                m.add_module(p, nn.Module())
            m = getattr(m, p)
        m.register_parameter(leaf, nn.Parameter(value, requires_grad=False))
    return torch.jit.script(root)


@pytest.mark.parametrize("name", ["a", "odd"])
def test_crop_and_resize(fixtures_dir, clip_dir, name):
    (img,) = vc.images(fixtures_dir, name, 1, convert=False)
    assert np.array_equal(clip.resize_cmmd(img), np.load(clip_dir / f"resized_cmmd_{name}000.npy"))


def test_cmmd_from_golden_embeddings(clip_dir, clip_golden):
    a = np.load(clip_dir / "embeddings_cmmd_a.npy")
    b = np.load(clip_dir / "embeddings_cmmd_b.npy")
    assert cmmd.cmmd(a, b) == pytest.approx(clip_golden["cmmd_a_b_exact"], rel=1e-9)
    assert cmmd.cmmd(a[:16], b[:16]) == pytest.approx(clip_golden["cmmd_a16_b16_exact"], rel=1e-9)
    # the official float32 value, only to its float32 accuracy (MODERN.md)
    official = clip_golden["cmmd_a_b_by_google_default_batch32"]
    assert cmmd.cmmd(a, b, drop_remainder=32) == pytest.approx(official, rel=2e-3)
    assert cmmd.official_count(48) == 32 and cmmd.official_count(31) == 0
    assert cmmd.cmmd(a[:48], b[:48], drop_remainder=32) == cmmd.cmmd(a[:32], b[:32])
    with pytest.raises(InputError, match="no embedding"):
        cmmd.cmmd(a[:31], b, drop_remainder=32)
    with pytest.raises(InputError):
        cmmd.cmmd(a[:, :10], b)
    assert cmmd.cmmd(a, a) == pytest.approx(0.0, abs=1e-12)


def test_openai_and_hf_layouts_agree(fixtures_dir):
    sd = _small_openai_state(fixtures_dir)
    fw = vc.fake_module(fixtures_dir)
    a, b = clip.convert_state(sd), clip.convert_state(fw.clip_openai_to_hf(sd))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    half = clip.convert_state({k: v.half() for k, v in sd.items()})
    assert all(half[k].dtype == torch.float32 and torch.equal(half[k], a[k]) for k in a)


def test_hf_key_list_is_covered(fixtures_dir):
    """Every key of CLIPVisionModelWithProjection's state dict has a place in the network."""
    hf_keys = json.loads((fixtures_dir / "clip/clip_vitl14_336_hf_vision_keys.json").read_text())
    sd = {k: torch.empty(s, device="meta") for k, s in hf_keys}
    conv = clip.convert_state(sd)
    own = clip.CLIPVision().state_dict()
    assert conv.keys() == own.keys()
    assert all(conv[k].shape == own[k].shape for k in own)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_archive_and_bad_files(fixtures_dir, tmp_path):
    sd = {k: v.half() for k, v in _small_openai_state(fixtures_dir).items()}
    sd["logit_scale"] = torch.ones(())  # the text-side tensors of the full file are ignored
    jit = tmp_path / "ViT-L-14-336px.pt"
    torch.jit.save(_script_tree(sd), str(jit))
    with pytest.raises(WeightsError, match="missing") as e:  # 2 of 24 blocks
        clip.load_model(jit)
    assert str(jit) in str(e.value)
    small = {k: v for k, v in sd.items() if k != "visual.conv1.weight"}
    small["visual.conv1.weight"] = torch.zeros(768, 3, 32, 32)
    other = tmp_path / "vit_b32.pt"
    torch.save(small, other)
    with pytest.raises(WeightsError, match="not ViT-L/14@336px"):
        clip.load_state(other)
    torch.save({"cls_token": torch.zeros(1, 1, 384)}, other)
    with pytest.raises(WeightsError, match="not a CLIP model") as e:
        clip.load_state(other)
    assert str(other) in str(e.value)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(jit.read_bytes()[:200_000])
    with pytest.raises(WeightsError, match="truncated") as e:
        clip.load_state(cut)
    assert str(cut) in str(e.value)


def test_gray_rgba_and_bad_input(fixtures_dir):
    from PIL import Image

    for name in ("gray", "rgba"):
        with Image.open(fixtures_dir / "images" / "modes" / f"{name}.png") as im:
            raw, rgb = np.array(im), np.array(im.convert("RGB"))
        assert torch.equal(clip.preprocess([raw]), clip.preprocess([rgb]))
    with pytest.raises(InputError, match="empty"):
        clip.preprocess([np.zeros((4, 0, 3), np.uint8)])
    with pytest.raises(InputError, match="336"):
        clip.CLIPVision().project(torch.zeros(1, 3, 224, 224))


def test_weights_spec():
    spec = clip.WEIGHTS
    assert spec.filename == "ViT-L-14-336px.pt" and spec.env == "TTUR_CLIP_WEIGHTS"
    assert spec.sha256 in spec.url
    assert any(str(p).endswith(".cache/clip/ViT-L-14-336px.pt") for p in spec.candidates())


def test_embedding_one_image(fixtures_dir, clip_dir, clip_model):
    """The non-square image (centre crop) through the float16 OpenAI-layout file."""
    got = clip.features(vc.images(fixtures_dir, "odd", 1, convert=False), clip_model)
    golden = np.load(clip_dir / "embeddings_cmmd_odd.npy")[:1]
    assert np.abs(got - golden).max() <= 1e-5


@pytest.mark.slow
def test_embeddings_and_cmmd_16(fixtures_dir, clip_dir, clip_golden, clip_model):
    emb = {}
    for name, n in (("a", 16), ("b", 16), ("odd", 4)):
        emb[name] = clip.features(vc.images(fixtures_dir, name, n, convert=False), clip_model, batch_size=8)
        golden = np.load(clip_dir / f"embeddings_cmmd_{name}.npy")[:n]
        assert np.abs(emb[name] - golden).max() <= 1e-5
    assert cmmd.cmmd(emb["a"], emb["b"]) == pytest.approx(clip_golden["cmmd_a16_b16_exact"], rel=1e-5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_full_torchscript_archive(fixtures_dir, clip_file, clip_model, tmp_path):
    """A JIT archive holding the whole stand-in (float16), as OpenAI's file: same network."""
    sd = torch.load(clip_file, weights_only=True)
    path = tmp_path / "ViT-L-14-336px.pt"
    torch.jit.save(_script_tree(sd), str(path))
    model = clip.load_model(path)
    own = clip_model.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in model.state_dict().items())
