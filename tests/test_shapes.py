"""The embedded procedural dataset: determinism, variety, antialiasing, spec strings, speed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ttur.errors import InputError
from ttur.images.readers import open_images
from ttur.shapes import dataset as shapes
from ttur.shapes.dataset import ShapesImages, labels, params, render, uniforms


def test_uniforms_are_a_pure_function_of_seed_and_index():
    a = uniforms(0, [0, 1, 2, 1000])
    b = uniforms(0, [1000, 2, 1, 0])
    np.testing.assert_array_equal(a, b[::-1])
    assert a.shape == (4, shapes.N_UNIFORMS)
    assert not np.array_equal(uniforms(1, [0]), uniforms(0, [0]))
    big = uniforms(3, np.arange(4000))
    assert 0 <= big.min() and big.max() < 1
    assert abs(big.mean() - 0.5) < 0.005 and abs(big.std() - np.sqrt(1 / 12)) < 0.005
    # neighbouring indices and neighbouring counters are uncorrelated
    assert abs(np.corrcoef(big[:-1, 0], big[1:, 0])[0, 1]) < 0.05
    assert abs(np.corrcoef(big[:, 0], big[:, 1])[0, 1]) < 0.05


def test_pinned_pixels():
    """The dataset's definition must not drift: these values pin images 0 and 12345 of seed 0.

    If rendering changes on purpose, the bundled feature extractor must be retrained and these
    values updated together. (A tolerance of a few units allows for last-bit differences of
    cos/sin between platforms flipping a rounding.)"""
    img0 = render(0, [0])[0].astype(np.int64)
    img1 = render(0, [12345])[0].astype(np.int64)
    assert img0.shape == (32, 32, 3)
    assert render(0, [0]).dtype == np.uint8
    assert abs(int(img0.sum()) - 215104) <= 4
    assert abs(int(img1.sum()) - 328424) <= 4
    assert np.abs(img0[16, 16] - [53, 246, 10]).max() <= 1
    assert np.abs(img1[10, 20] - [111, 83, 84]).max() <= 1


def test_any_order_any_batch_gives_same_images():
    seq = ShapesImages(200)
    idx = [7, 150, 3, 3, 199]
    batch = seq.batch(idx)
    for k, i in enumerate(idx):
        np.testing.assert_array_equal(batch[k], seq[i])
    np.testing.assert_array_equal(seq[-1], seq[199])
    np.testing.assert_array_equal(seq[2:5], seq.batch([2, 3, 4]))
    with pytest.raises(IndexError):
        seq[200]
    again = pickle.loads(pickle.dumps(seq))
    np.testing.assert_array_equal(again[150], seq[150])
    offset = ShapesImages(10, offset=100)
    np.testing.assert_array_equal(offset[0], ShapesImages(200)[100])


def test_variety_and_label_balance():
    p = params(0, np.arange(3000))
    counts = np.bincount(p["count"], minlength=4)[1:]
    assert (np.abs(counts / 3000 - 1 / 3) < 0.04).all()
    kinds = np.bincount(p["kind"].ravel(), minlength=3) / p["kind"].size
    assert (np.abs(kinds - 1 / 3) < 0.03).all()
    lab = labels(0, np.arange(3000))
    assert set(np.unique(lab["count"])) == {0, 1, 2}
    assert ((lab["kinds"].sum(1) >= 1) & (lab["kinds"].sum(1) <= lab["count"] + 1)).all()
    assert (lab["hues"].mean(0) > 0.15).all()
    imgs = render(0, np.arange(300)).astype(np.float64)
    # images differ from one another, and pixels span a wide range
    assert imgs.reshape(300, -1).std(0).mean() > 40
    assert imgs.min() < 20 and imgs.max() > 235


def test_shapes_have_antialiased_edges_and_flat_interiors():
    imgs = render(0, np.arange(50), size=64)
    small = render(0, np.arange(50), size=32).astype(np.float64)
    # rendering at 64 and box-downsampling is close to rendering at 32 (resolution independence)
    down = imgs.astype(np.float64).reshape(50, 32, 2, 32, 2, 3).mean(axis=(2, 4))
    assert np.abs(down - small).mean() < 4
    # antialiasing: some edge pixels take values strictly between the two sides' colours
    p = params(0, [0])
    img = render(0, [0], size=64)[0].astype(np.float64)
    col = np.round(p["color"][0, :p["count"][0]] * 255)
    dist = np.abs(img[:, :, None, :] - col[None, None]).sum(-1).min(-1)
    assert (dist < 2).sum() > 100  # flat interiors of exactly the shape colour
    assert ((dist > 10) & (dist < 100)).sum() > 5


def test_open_images_names(tmp_path, monkeypatch):
    s = open_images("shapes")
    assert isinstance(s, ShapesImages) and len(s) == 50_000 and s.seed == 0
    s = open_images("shapes:64:5")
    assert len(s) == 64 and s.seed == 5 and s.name == "shapes:64:5"
    np.testing.assert_array_equal(open_images("shapes:10")[3], ShapesImages(10)[3])
    with pytest.raises(InputError, match="shapes:N:SEED"):
        open_images("shapes:ten")
    with pytest.raises(InputError, match="positive"):
        open_images("shapes:0")
    # a folder called shapes is still reachable as ./shapes
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shapes").mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(tmp_path / "shapes" / "a.png")
    assert len(open_images("./shapes")) == 1
    assert len(open_images("shapes")) == 50_000
    assert shapes.is_shapes_spec("shapes:5") and not shapes.is_shapes_spec("./shapes")
