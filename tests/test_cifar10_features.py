"""The bundled CIFAR-10 feature network: weights, hash, feature size, and a distance that tells
CIFAR-10 images from the shapes dataset."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

import ttur
from ttur import shapes
from ttur._util import sha256_file
from ttur.errors import WeightsError
from ttur.networks import small
from ttur.networks.cifar10 import CLASSES, DIMS, load_cifar10_extractor, load_cifar10_net, weights_path
from ttur.networks.small import KNOWN


@pytest.fixture(scope="module")
def ext():
    return load_cifar10_extractor(device="cpu")


def _cifar(zip_path, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``step``-th image of a CIFAR-10 JPEG zip (all classes alike), uint8 NHWC, and its labels."""
    from PIL import Image

    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[::step]
        imgs = np.stack([np.asarray(Image.open(io.BytesIO(zf.read(n))).convert("RGB")) for n in names])
    return imgs, np.array([CLASSES.index(n.split("/")[-2]) for n in names])


def test_weights_are_bundled_small_and_hash_matches(ext):
    p = weights_path()
    assert p.is_file() and p.parent.name == "data" and p.name == KNOWN["cifar10"][0]
    assert p.stat().st_size < 5_000_000
    assert sha256_file(p) == KNOWN["cifar10"][1] == ext.weights_sha256
    assert ext.meta() == {"mode": "module:32", "dims": DIMS, "extractor": "cifar10",
                          "weights_sha256": KNOWN["cifar10"][1]}
    assert ext.label == "FD (cifar10 features)" and not ext.is_inception
    model, blob = load_cifar10_net()
    assert blob["info"]["script"] == "scripts/train_cifar10_features.py"
    assert blob["info"]["test_images"] == 10_000 and blob["info"]["test_accuracy"] > 0.8
    assert model.dims == DIMS == 128


def test_damaged_weights_are_refused(tmp_path, monkeypatch):
    bad = tmp_path / "cifar10_features.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a cifar10 feature extractor weights file"):
        load_cifar10_net(bad)
    monkeypatch.setattr(small, "weights_path", lambda name: bad)
    with pytest.raises(WeightsError, match="SHA-256"):
        load_cifar10_extractor()
    with pytest.raises(WeightsError, match="missing"):
        load_cifar10_net(tmp_path / "absent.pt")


def test_feature_size_and_other_image_sizes(ext):
    rng = np.random.default_rng(0)
    f, lg = ext(torch.from_numpy(rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)))
    assert lg is None and f.shape == (6, DIMS) and f.dtype == torch.float32 and torch.isfinite(f).all()
    big = torch.from_numpy(rng.integers(0, 256, (2, 3, 64, 64), dtype=np.uint8))  # resized to 32x32
    assert ext(big)[0].shape == (2, DIMS)


def test_tells_cifar10_from_shapes(ext, data_dir):
    test, labels = _cifar(data_dir / "cifar10_jpeg_test.zip", 20)  # 500 images, 50 per class
    train, _ = _cifar(data_dir / "cifar10_jpeg_train.zip", 100)  # 500 images
    shp = shapes.render(1, np.arange(500))
    kw = {"extractor": ext, "batch_size": 250, "progress": False}
    st_test = ttur.compute_stats(test, **kw)
    same = ttur.frechet_distance(st_test, ttur.compute_stats(train, **kw))
    other = ttur.frechet_distance(st_test, ttur.compute_stats(shp, **kw))
    assert 0 <= same < 0.1 * other
    model, _ = load_cifar10_net()
    with torch.no_grad():
        pred = model.classify(torch.from_numpy(test).permute(0, 3, 1, 2).float() / 127.5 - 1).argmax(1).numpy()
    assert (pred == labels).mean() > 0.75
