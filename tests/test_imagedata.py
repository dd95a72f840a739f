"""Training datasets: transforms, value range, determinism, pickling, DataLoader batches."""

from __future__ import annotations

import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ttur.errors import InputError
from ttur.images.pixels import to_tensor
from ttur.images.training import (
    ImageDataset,
    ImageTransform,
    TransformedImages,
    center_crop,
    open_training_data,
    resize,
)


def _write_idx(path, images: np.ndarray) -> None:
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())


def _ramp(h: int, w: int) -> np.ndarray:
    """An image whose pixel (r, c) is (r, c, 7) so crops can be located exactly."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.arange(h)[:, None]
    img[..., 1] = np.arange(w)[None, :]
    img[..., 2] = 7
    return img


def test_center_crop_offsets_as_dcgan():
    img = _ramp(218, 178)  # CelebA aligned size
    out = center_crop(img, 108)
    assert out.shape == (108, 108, 3)
    assert out[0, 0, 0] == 55 and out[0, 0, 1] == 35  # round((218-108)/2), round((178-108)/2)
    assert out[-1, -1, 0] == 162 and out[-1, -1, 1] == 142


def test_center_crop_too_large_names_image():
    with pytest.raises(InputError, match="pic.png: cannot crop 40x40"):
        center_crop(_ramp(30, 50), 40, "pic.png")


def test_resize_is_pillow_bicubic_and_keeps_aspect():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    out = resize(img, 20)
    ref = np.asarray(Image.fromarray(img).resize((20, 20), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(out, ref)
    assert resize(img, 48) is img  # no-op at the target size
    wide = rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)
    out = resize(wide, 20)
    assert out.shape == (20, 20, 3)
    ref = np.asarray(Image.fromarray(wide).resize((40, 20), Image.Resampling.BICUBIC))[:, 10:30]
    np.testing.assert_array_equal(out, ref)  # shorter side to 20, centre crop of the longer


def test_transform_validation_and_gray():
    with pytest.raises(InputError, match="size"):
        ImageTransform(size=0)
    with pytest.raises(InputError, match="crop"):
        ImageTransform(crop=-3)
    with pytest.raises(InputError, match="resample"):
        ImageTransform(size=8, resample="cubic-ish")
    t = ImageTransform(size=8)
    out = t(np.full((4, 4), 200, np.uint8))
    assert out.shape == (8, 8, 3) and (out == 200).all()
    assert ImageTransform().is_identity and not t.is_identity
    assert ImageTransform(size=64, crop=108).output_size(218, 178) == (64, 64)


def test_to_tensor_range_and_layout():
    img = np.array([[[0, 127, 255]]], np.uint8)
    t = to_tensor(img)
    assert t.shape == (3, 1, 1) and t.dtype == torch.float32
    np.testing.assert_allclose(t[:, 0, 0].numpy(), [-1.0, 127 / 127.5 - 1, 1.0], atol=1e-7)
    b = to_tensor(np.stack([img, img]))
    assert b.shape == (2, 3, 1, 1)


def test_mnist_idx_becomes_three_channels_and_resized(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "t-images-idx3-ubyte", imgs)
    ds = open_training_data(str(tmp_path / "t-images-idx3-ubyte"), 32)
    assert len(ds) == 5
    x = ds[2]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    ref = np.asarray(Image.fromarray(imgs[2]).convert("RGB").resize((32, 32), Image.Resampling.BICUBIC))
    torch.testing.assert_close(x, to_tensor(ref))
    same = open_training_data(str(tmp_path / "t-images-idx3-ubyte"), 28)
    torch.testing.assert_close(same[4][0], torch.from_numpy(imgs[4]).float() / 127.5 - 1)


def test_folder_crop_resize_length_and_pickle(tmp_path):
    for i in range(6):
        Image.fromarray(_ramp(218, 178) + i).save(tmp_path / f"{i:06d}.png")
    ds = open_training_data(str(tmp_path), 64, crop=108, length=4)
    assert len(ds) == 4 and ds.image_shape == (3, 64, 64)
    ref = resize(center_crop(_ramp(218, 178) + 3, 108), 64)
    torch.testing.assert_close(ds[3], to_tensor(ref))
    assert float(ds[0].min()) >= -1 and float(ds[0].max()) <= 1
    assert "000003.png" in ds.describe(3)
    ds2 = pickle.loads(pickle.dumps(ds))
    assert torch.equal(ds2[1], ds[1])
    with pytest.raises(InputError, match="length 10"):
        open_training_data(str(tmp_path), 64, crop=108, length=10)
    with pytest.raises(InputError, match="cannot crop 300x300"):
        open_training_data(str(tmp_path), 64, crop=300)[0]


def test_dataloader_workers_give_same_batches(tmp_path):
    rng = np.random.default_rng(2)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for i in range(12):
            import io

            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(buf, "PNG")
            zf.writestr(f"d/{i:02d}.png", buf.getvalue())
    ds = open_training_data(str(tmp_path / "imgs.zip"), 16)
    direct = torch.stack([ds[i] for i in range(12)])
    loaded = torch.cat(list(DataLoader(ds, batch_size=5, num_workers=2)))
    assert torch.equal(direct, loaded)
    assert torch.equal(ds.get_batch([3, 0]), direct[[3, 0]])


def test_shapes_training_data_deterministic_and_batched():
    ds = open_training_data("shapes", 32, length=100)
    assert len(ds) == 100 and ds[0].shape == (3, 32, 32)
    batch = ds.get_batch([5, 17, 99])
    assert torch.equal(batch[1], ds[17])
    assert torch.equal(open_training_data("shapes", 32, length=100)[42], ds[42])
    other = open_training_data("shapes", 32, length=100, seed=1)
    assert not torch.equal(other[42], ds[42])
    assert torch.equal(open_training_data("shapes:100:1", 32)[42], other[42])
    assert open_training_data("shapes", 32).__len__() == 50_000
    big = open_training_data("shapes", 64, length=10)
    assert big[0].shape == (3, 64, 64)
    cropped = open_training_data("shapes", 16, crop=24, length=10)
    assert cropped[0].shape == (3, 16, 16)
    loaded = next(iter(DataLoader(ds, batch_size=8, shuffle=False)))
    assert loaded.shape == (8, 3, 32, 32) and torch.equal(loaded[7], ds[7])
    assert pickle.loads(pickle.dumps(ds))[3].equal(ds[3])


def test_transformed_images_is_an_image_sequence(tmp_path):
    from ttur.images.arrays import ArrayImages

    arr = np.random.default_rng(3).integers(0, 256, (4, 10, 10, 3), dtype=np.uint8)
    seq = TransformedImages(ArrayImages(arr), ImageTransform(size=5), length=3)
    assert len(seq) == 3 and seq[2].shape == (5, 5, 3) and seq[-1].shape == (5, 5, 3)
    with pytest.raises(IndexError):
        seq[3]
    assert isinstance(ImageDataset(seq)[0], torch.Tensor)


def test_missing_path_and_bad_size(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_training_data(str(tmp_path / "nothing"), 32)
    with pytest.raises(InputError, match="size"):
        open_training_data("shapes", 0)


def test_real_celeba_zip_cropped_like_dcgan(data_dir):
    path = data_dir / "celeba_img_align_000001-000032.zip"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    ds = open_training_data(str(path), 64, crop=108)
    assert len(ds) == 32
    x = ds[0]
    assert x.shape == (3, 64, 64)
    assert -1 <= float(x.min()) < -0.5 and 0.5 < float(x.max()) <= 1  # a real photo spans the range
    raw = np.asarray(Image.open(zipfile.ZipFile(path).open("celeba/000001.jpg")).convert("RGB"))
    assert raw.shape == (218, 178, 3)
    torch.testing.assert_close(x, to_tensor(resize(raw[55:163, 35:143], 64)))


def test_spread_subset_covers_a_sorted_source():
    """Reference samples of a folder sorted by class: evenly spaced over the whole source, not its first images."""
    from ttur.images.training import TransformedImages

    seq = np.repeat(np.arange(10, dtype=np.uint8), 100)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    first = TransformedImages(seq, None, 100)
    spread = TransformedImages(seq, None, 100, spread=True)
    assert {int(first[i][0, 0, 0]) for i in range(100)} == {0}
    classes = [int(spread[i][0, 0, 0]) for i in range(100)]
    assert [classes.count(c) for c in range(10)] == [10] * 10
    assert (spread.batch([0, 99])[:, 0, 0, 0] == [0, 9]).all()
    assert len(TransformedImages(seq, None, 1000, spread=True)) == 1000  # all of it: the identity


def test_cifar10_folders_and_archives_are_monitored_with_the_cifar10_extractor(tmp_path, data_dir):
    from ttur.images.training import open_training_data

    ds = open_training_data(data_dir / "cifar10_jpeg_test.zip", 32, length=8)
    assert ds.images.default_extractor == "cifar10"
    for name, side, want in (("CIFAR-10_train", 32, "cifar10"), ("cifar100", 32, None), ("cifar10_big", 64, None),
                             ("faces", 32, None)):
        d = tmp_path / name
        d.mkdir()
        Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(d / "a.png")
        Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(d / "b.png")
        assert open_training_data(d, 32).images.default_extractor == want, name
