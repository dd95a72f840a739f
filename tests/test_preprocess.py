"""The three preprocessing modes, each checked against its definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ttur.errors import TturError
from ttur.metrics.preprocess import preprocess, resize_pil_bicubic, resize_tf1_bilinear


@pytest.fixture()
def odd_batch(fixtures_dir):
    files = sorted((fixtures_dir / "images" / "odd").glob("*.png"))[:4]
    a = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    return torch.from_numpy(a).permute(0, 3, 1, 2)


def test_tf_mode_is_resize_then_shift_and_scale(odd_batch):
    got = preprocess(odd_batch, "tf")
    assert got.shape == (4, 3, 299, 299) and got.dtype == torch.float32
    expected = (resize_tf1_bilinear(odd_batch.float()) - 128) / 128
    assert torch.equal(got, expected)
    assert got.min() >= -1 and got.max() <= 127 / 128


def test_tf1_kernel_by_hand():
    # 2 -> 4 along one axis: source positions 0, .5, 1, 1.5 -> clamp at the last pixel
    x = torch.tensor([[[[10.0, 30.0]]]])
    out = resize_tf1_bilinear(x, (1, 4))
    assert out.flatten().tolist() == [10.0, 20.0, 30.0, 30.0]
    # identity at the target size
    y = torch.rand(1, 3, 299, 299) * 255
    assert torch.equal(resize_tf1_bilinear(y), y)


def test_pytorch_fid_mode_is_pytorch_fids_transform(odd_batch):
    got = preprocess(odd_batch, "pytorch-fid")
    x = odd_batch.float() / 255
    expected = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
    assert torch.equal(got, expected)


def test_clean_mode_is_per_channel_pil_bicubic(odd_batch):
    got = preprocess(odd_batch, "clean")
    img = odd_batch[1].permute(1, 2, 0).numpy()
    for c in range(3):
        ch = Image.fromarray(img[:, :, c].astype(np.float32)).resize((299, 299), Image.BICUBIC)
        ref = (np.clip(np.asarray(ch), 0, 255) - 128) / 128
        np.testing.assert_allclose(got[1, c].numpy(), ref, rtol=0, atol=1e-6)
    # bicubic overshoot is clipped to the pixel range
    assert got.min() >= -1 and got.max() <= 127 / 128
    # a different resize than tf's: the modes must not coincide on non-299 input
    assert not torch.allclose(got, preprocess(odd_batch, "tf"))


def test_all_modes_agree_at_299():
    x = torch.randint(0, 256, (2, 3, 299, 299), dtype=torch.uint8)
    tf, clean = preprocess(x, "tf"), preprocess(x, "clean")
    assert torch.equal(tf, clean)
    assert torch.allclose(preprocess(x, "pytorch-fid"), tf, atol=1 / 128 + 1e-6)  # 2x/255-1 vs (x-128)/128


def test_constant_image_stays_constant():
    a = np.full((37, 53, 3), 77, np.uint8)
    out = resize_pil_bicubic(a.astype(np.float32))
    np.testing.assert_allclose(out, 77, atol=1e-4)


def test_unknown_mode():
    with pytest.raises(TturError, match="unknown preprocessing mode"):
        preprocess(torch.zeros(1, 3, 8, 8), "tensorflow2")
