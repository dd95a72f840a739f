"""The bundled shapes feature extractor: weights, features, distances, labels, CLI, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ttur
from ttur._util import sha256_file
from ttur.errors import InputError, WeightsError
from ttur.networks.base import FeatureExtractor
from ttur.networks.small import KNOWN, ShapesNet, load_shapes_net, load_small_extractor, save_weights, weights_path
from ttur.shapes import dataset as shapes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ext():
    return load_small_extractor("shapes", device="cpu")


@pytest.fixture(scope="module")
def ref_stats(ext):
    return ttur.compute_stats(shapes.render(1, np.arange(600)), extractor=ext, batch_size=300, progress=False)


def test_weights_are_bundled_small_and_hash_is_stable(ext):
    p = weights_path("shapes")
    assert p.is_file() and p.parent.name == "data"
    assert p.stat().st_size < 1_000_000
    assert sha256_file(p) == KNOWN["shapes"][1]
    assert ext.weights_sha256 == KNOWN["shapes"][1]
    again = load_small_extractor("shapes", device="cpu")
    assert again.weights_sha256 == ext.weights_sha256
    assert ext.meta() == {"mode": "module:32", "dims": 128, "extractor": "shapes",
                          "weights_sha256": KNOWN["shapes"][1]}
    # the same weights always make the same bytes (the archive is not named after a temporary file)
    model, blob = load_shapes_net()
    assert blob["info"]["script"] == "scripts/train_small_features.py"


def test_save_weights_is_byte_stable(tmp_path):
    model, blob = load_shapes_net()
    a = save_weights(model, tmp_path / "a.pt", blob["info"])
    b = save_weights(model, tmp_path / "sub" / "b.pt", blob["info"])
    assert a == b == KNOWN["shapes"][1]
    reloaded, _ = load_shapes_net(tmp_path / "a.pt")
    for (k, v), (k2, v2) in zip(model.state_dict().items(), reloaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)


def test_damaged_weights_are_refused(tmp_path, monkeypatch):
    bad = tmp_path / "shapes_features.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a shapes feature extractor weights file"):
        load_shapes_net(bad)
    import ttur.networks.small as sf

    monkeypatch.setattr(sf, "weights_path", lambda name="shapes": bad)
    with pytest.raises(WeightsError, match="SHA-256"):
        load_small_extractor("shapes")


def test_features_shape_and_determinism(ext):
    imgs = shapes.render(5, np.arange(40))
    f1, lg = ext(torch.from_numpy(imgs).permute(0, 3, 1, 2))
    f2, _ = ext(torch.from_numpy(imgs[:7]).permute(0, 3, 1, 2))
    assert lg is None
    assert f1.shape == (40, 128) and f1.dtype == torch.float32
    assert torch.isfinite(f1).all() and f1.std(0).gt(0).sum() > 100  # not a collapsed feature space
    torch.testing.assert_close(f1[:7], f2, rtol=1e-5, atol=1e-5)  # no batch dependence (eval-mode norm)
    # 64x64 images are resized to the 32x32 the network was trained on
    big = torch.from_numpy(shapes.render(5, np.arange(4), size=64)).permute(0, 3, 1, 2)
    assert ext(big)[0].shape == (4, 128)


def test_classifier_learned_the_labels():
    model, blob = load_shapes_net()
    idx = np.arange(50_000, 50_500)  # images of a seed and range the training never drew
    x = torch.from_numpy(shapes.render(99, idx)).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = shapes.labels(99, idx)
    with torch.no_grad():
        out = model.classify(x)
    # measured 0.87, 0.75, 0.97; the best constant guesses give ~0.34, ~0.53, ~0.70
    assert (out["count"].argmax(1).numpy() == y["count"]).mean() > 0.8
    assert ((out["kinds"] > 0).numpy() == y["kinds"]).mean() > 0.7
    assert ((out["hues"] > 0).numpy() == y["hues"]).mean() > 0.9
    assert blob["info"]["heldout_accuracy"]["count"] > 0.8


def test_fd_small_between_samples_large_against_noise(ext, ref_stats):
    sample = shapes.render(2, np.arange(600))
    same = ttur.frechet_distance(ref_stats, ttur.compute_stats(sample, extractor=ext, batch_size=300, progress=False))
    rng = np.random.default_rng(0)
    noisy = np.clip(sample + rng.normal(0, 0.1 * 255, sample.shape), 0, 255).astype(np.uint8)
    noise = ttur.frechet_distance(ref_stats, ttur.compute_stats(noisy, extractor=ext, batch_size=300, progress=False))
    assert 0 <= same < 1.5  # 0.66: the sampling bias of 600 vs 600 images (0.06 at 5000)
    assert same < 0.01 * noise


def test_fid_api_with_named_extractor_labels_fd(ext):
    a = shapes.render(3, np.arange(150))
    b = shapes.render(4, np.arange(150))
    r = ttur.fid(a, b, extractor="shapes", batch_size=150, progress=False)
    assert r.label == "FD (shapes features)" and "FID" not in r.label
    assert r.dims == 128 and r.n_a == r.n_b == 150 and r.fid >= 0
    assert ext.label == "FD (shapes features)"
    assert isinstance(ext, FeatureExtractor) and not ext.is_inception
    st = ttur.compute_stats("shapes:100:3", extractor="shapes", num_workers=0, batch_size=100, progress=False)
    assert st.meta["extractor"] == "shapes" and st.meta["weights_sha256"] == KNOWN["shapes"][1]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(InputError, match="known: .*shapes"):
        load_small_extractor("nope")
    with pytest.raises(InputError, match="'nope'"):
        ttur.fid(np.zeros((4, 8, 8, 3), np.uint8), np.zeros((4, 8, 8, 3), np.uint8), extractor="nope",
                 progress=False)


def test_default_extractor_comes_with_the_images(tmp_path):
    from PIL import Image

    from ttur.images.arrays import ArrayImages
    from ttur.images.readers import open_images
    from ttur.networks import EXTRACTORS

    assert open_images("shapes").default_extractor == "shapes"
    assert open_images("shapes:2000:1").default_extractor == "shapes"
    with pytest.raises(InputError, match="shapes:N"):  # a bad shapes spec still names the dataset
        open_images("shapes:x")
    (tmp_path / "shapes").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "shapes" / "a.png")
    assert open_images(str(tmp_path / "shapes")).default_extractor is None  # a folder so named is a folder
    assert ArrayImages(np.zeros((2, 4, 4, 3), np.uint8)).default_extractor is None
    assert "shapes" in EXTRACTORS and list(EXTRACTORS)[0] == "inception"


def test_missing_inception_weights_name_the_offline_extractor(tmp_path, monkeypatch):
    monkeypatch.delenv("TTUR_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TTUR_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsError) as e:
        ttur.fid("shapes:20:1", "shapes:20:2", progress=False)
    msg = str(e.value)
    assert "--extractor shapes" in msg and "TTUR_INCEPTION_WEIGHTS" in msg and "\n" not in msg
    with pytest.raises(WeightsError, match="--extractor shapes"):
        ttur.compute_stats("shapes:20:1", progress=False)
    arr = shapes.render(1, np.arange(4))
    with pytest.raises(WeightsError) as e:  # not the shapes dataset: no hint
        ttur.fid(arr, arr, progress=False)
    assert "--extractor" not in str(e.value)


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "ttur", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_fid_with_shapes_extractor():
    r = _cli("fid", "shapes:2000:1", "shapes:2000:2", "--extractor", "shapes", "--json", "--no-progress",
             "--num-workers", "0", "--batch-size", "250")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["label"] == "FD (shapes features)" and "FD" in out["label"] and "FID" not in out["label"]
    assert out["n_a"] == out["n_b"] == 2000 and out["dims"] == 128
    assert 0 <= out["fid"] < 1.0


def test_cli_offline_error_mentions_extractor(tmp_path):
    env = {"TTUR_CACHE": str(tmp_path), "TORCH_HOME": str(tmp_path), "TTUR_OFFLINE": "1"}
    env_clean = {k: v for k, v in os.environ.items() if k != "TTUR_INCEPTION_WEIGHTS"}
    r = subprocess.run([sys.executable, "-m", "ttur", "fid", "shapes:10:1", "shapes:10:2", "--no-progress"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(env_clean, PYTHONPATH=str(ROOT / "src"), **env))
    assert r.returncode == 2
    assert r.stderr.startswith("ttur: error: ") and "--extractor shapes" in r.stderr
    assert "Traceback" not in r.stderr


def test_shapesnet_layout():
    m = ShapesNet()
    assert m.dims == 128
    assert sum(p.numel() for p in m.parameters()) < 250_000
    out = m.eval().classify(torch.zeros(2, 3, 32, 32))
    assert {k: v.shape[1] for k, v in out.items()} == {"count": 3, "kinds": 3, "hues": 6}
