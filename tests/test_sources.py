"""Image sources: folders, zips, arrays, tensors, generators, CIFAR-10 batches, bad input."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ttur.errors import InputError
from ttur.images.arrays import ArrayImages
from ttur.images.files import FolderImages, ZipImages
from ttur.images.formats import Cifar10Batches
from ttur.images.pixels import to_pixels
from ttur.images.readers import open_images
from ttur.metrics.extract import extract
from ttur.metrics.sources import GeneratorSource, SequenceSource, open_source
from ttur.metrics.stats import Stats
from ttur.networks.base import ModuleExtractor


class MeanColour(nn.Module):
    """A cheap stand-in extractor: per-channel mean and std of the [-1, 1] image."""

    def forward(self, x):
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


def _ext():
    return ModuleExtractor(MeanColour(), "meancolour")


def _pixels(src, batch_size=7) -> np.ndarray:
    out = []
    for b in src.batches(batch_size):
        for t in (b if isinstance(b, list) else [b]):
            out.extend(t.permute(0, 2, 3, 1).numpy())
    return out


@pytest.fixture()
def image_tree(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    arrays = {}
    specs = [("a.png", "RGB", (12, 10)), ("b.JPG", "RGB", (12, 10)), ("sub/c.bmp", "L", (9, 7)),
             ("sub/deeper/d.webp", "RGBA", (12, 10)), ("sub/e.tif", "RGB", (5, 5)), ("f.jpeg", "RGB", (12, 10))]
    for name, mode, (w, h) in specs:
        ch = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        a = rng.integers(0, 256, (h, w, ch), dtype=np.uint8).squeeze()
        img = Image.fromarray(a, mode)
        kw = {"lossless": True} if name.endswith("webp") else {}
        img.save(root / name, **kw)
        arrays[name] = np.asarray(Image.open(root / name).convert("RGB"))
    (root / "notes.txt").write_text("not an image")
    return root, arrays


def test_folder_is_recursive_and_converts_modes(image_tree):
    root, arrays = image_tree
    seq = FolderImages(root)
    assert len(seq) == 6  # the .txt is ignored
    names = [str(p.relative_to(root)) for p in seq.files]
    assert names == sorted(names)
    for i, p in enumerate(seq.files):
        got = seq[i]
        assert got.dtype == np.uint8 and got.shape[2] == 3
        np.testing.assert_array_equal(got, arrays[str(p.relative_to(root))])


def test_mixed_sizes_and_workers_give_the_same_features(image_tree):
    root, _ = image_tree
    e0 = extract(SequenceSource(FolderImages(root), num_workers=0), _ext(), batch_size=4, keep_features=True,
                 progress=False)
    e2 = extract(SequenceSource(FolderImages(root), num_workers=2), _ext(), batch_size=4, keep_features=True,
                 progress=False)
    assert e0.n == e2.n == 6
    np.testing.assert_array_equal(e0.features, e2.features)


def test_every_image_counted_no_partial_batch_dropped(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (53, 8, 8, 3), dtype=np.uint8)
    for bs in (1, 10, 50, 53, 64):
        e = extract(open_source(a), _ext(), batch_size=bs, progress=False)
        assert e.n == 53
    gen = GeneratorSource(lambda b: torch.zeros(b, 3, 8, 8, dtype=torch.uint8) + torch.randint(0, 255, (b, 3, 1, 1),
                          dtype=torch.uint8), 53)
    assert extract(gen, _ext(), batch_size=50, progress=False).n == 53


def test_zip_matches_folder(image_tree, tmp_path):
    root, _ = image_tree
    zpath = tmp_path / "imgs.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    z, f = ZipImages(zpath), FolderImages(root)
    assert len(z) == len(f) == 6
    for i in range(6):
        np.testing.assert_array_equal(z[i], f[i])
    assert isinstance(open_images(zpath), ZipImages)


def test_arrays_in_every_layout(tmp_path):
    rng = np.random.default_rng(2)
    nhwc = rng.integers(0, 256, (5, 9, 7, 3), dtype=np.uint8)
    ref = _pixels(SequenceSource(ArrayImages(nhwc)))
    for arr in (nhwc.transpose(0, 3, 1, 2), torch.from_numpy(nhwc)):
        np.testing.assert_array_equal(_pixels(SequenceSource(ArrayImages(arr))), ref)
    np.save(tmp_path / "x.npy", nhwc)
    np.savez(tmp_path / "x.npz", images=nhwc)
    for name in ("x.npy", "x.npz"):
        np.testing.assert_array_equal(_pixels(open_source(tmp_path / name)), ref)
    gray = rng.integers(0, 256, (4, 6, 6), dtype=np.uint8)
    out = _pixels(SequenceSource(ArrayImages(gray)))
    assert out[0].shape == (6, 6, 3) and np.array_equal(out[0][..., 0], gray[0])
    floats = np.linspace(-1, 1, 2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    px = _pixels(SequenceSource(ArrayImages(floats)))
    assert px[0].min() == 0.0 and px[-1].max() == 255.0


def test_array_errors(tmp_path):
    with pytest.raises(InputError, match="channel axis"):
        ArrayImages(np.zeros((2, 5, 6, 7), np.uint8))
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        ArrayImages(np.full((2, 4, 4, 3), 3.0, np.float32))
    with pytest.raises(InputError, match="uint8"):
        ArrayImages(np.zeros((2, 4, 4, 3), np.int32))
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    with pytest.raises(InputError, match="two.npz"):
        open_source(tmp_path / "two.npz")


def test_tensor_and_generator_conventions():
    u8 = torch.randint(0, 256, (3, 4, 4, 3), dtype=torch.uint8)  # NHWC
    assert to_pixels(u8, "t").shape == (3, 3, 4, 4)
    f = torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3).expand(1, 3, 2, 3)
    px = to_pixels(f, "t")
    assert px.dtype == torch.float32 and px.min() == 0.0 and px.max() == 255.0
    q = to_pixels(f, "t", quantize=True)
    assert q.dtype == torch.uint8 and q.flatten().tolist()[:3] == [0, 128, 255]
    with pytest.raises(InputError, match="NaN"):
        to_pixels(torch.full((1, 3, 2, 2), float("nan")), "gen")
    with pytest.raises(InputError, match="asked for"):
        list(GeneratorSource(lambda b: torch.zeros(b + 1, 3, 4, 4), 5).batches(5))
    with pytest.raises(InputError, match="num_samples"):
        open_source(lambda b: torch.zeros(b, 3, 4, 4))


def test_cifar10_python_batches(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        batches.append(data)
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": data, b"labels": [0] * 4}, fh)
    train = open_images(folder)
    assert isinstance(train, Cifar10Batches) and len(train) == 20
    first = batches[0][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(train[0], first)
    test = open_images(folder / "test_batch")
    assert len(test) == 4
    np.testing.assert_array_equal(test[3], batches[5][3].reshape(3, 32, 32).transpose(1, 2, 0))
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(InputError, match="data_batch_3"):
        open_images(folder)


def test_bad_images_name_the_file_or_are_skipped(image_tree):
    root, _ = image_tree
    good = (root / "a.png").read_bytes()
    (root / "trunc.png").write_bytes(good[: len(good) // 2])
    (root / "junk.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(InputError, match=r"(trunc\.png|junk\.jpg)"):
        extract(open_source(root, num_workers=0), _ext(), progress=False)
    src = open_source(root, num_workers=0, skip_bad=True)
    e = extract(src, _ext(), progress=False)
    assert e.n == 6 and e.skipped == 2


def test_empty_and_tiny_and_unknown(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        extract(open_source(tmp_path / "empty"), _ext(), progress=False)
    one = tmp_path / "one"
    one.mkdir()
    Image.new("RGB", (4, 4)).save(one / "x.png")
    with pytest.raises(InputError, match="at least 2"):
        extract(open_source(one), _ext(), progress=False)
    (tmp_path / "data.xyz").write_text("?")
    with pytest.raises(InputError, match="unknown file type"):
        open_source(tmp_path / "data.xyz")
    with pytest.raises(InputError, match="no such file"):
        open_source(tmp_path / "missing")


def test_stats_file_is_a_source(tmp_path):
    st = Stats(np.zeros(3), np.eye(3), 9, {"mode": "tf"})
    p = st.save(tmp_path / "ref.npz")
    got = open_source(p)
    assert isinstance(got, Stats) and got.n == 9
