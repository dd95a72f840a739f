"""The training data stream: seeded epochs, exact resume, shares per rank; dataset formats through the image task."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from ttur.train.config import load_config
from ttur.train.data import DataStream
from ttur.train.tasks import ImageTask


def _stream(n=10, b=4, seed=0, rank=0, world=1, prefetch=False):
    return DataStream(n, lambda idx: torch.as_tensor(np.asarray(idx)), b, seed=seed, rank=rank, world=world,
                      prefetch=prefetch)


def test_epochs_visit_every_index_once_and_depend_on_seed():
    s = _stream(n=12, b=4)
    first = torch.cat([next(s) for _ in range(3)])
    second = torch.cat([next(s) for _ in range(3)])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(12))
    assert first.tolist() != second.tolist()  # a new order each epoch
    assert s.state_dict()["epoch"] == 2
    again = torch.cat([next(_stream(n=12, b=4)) for _ in range(1)])
    assert again.tolist() == first[:4].tolist()
    assert next(_stream(n=12, b=4, seed=1)).tolist() != first[:4].tolist()


def test_batches_run_across_epochs():
    s = _stream(n=10, b=4)
    got = torch.cat([next(s) for _ in range(5)])  # 20 = two epochs exactly
    assert sorted(got[:10].tolist()) == list(range(10)) and sorted(got[10:].tolist()) == list(range(10))


@pytest.mark.parametrize("prefetch", [False, True])
def test_resume_gives_the_same_batches(prefetch):
    s = _stream(n=10, b=3, prefetch=prefetch)
    for _ in range(4):
        next(s)
    sd = s.state_dict()
    rest = [next(s).tolist() for _ in range(5)]
    t = _stream(n=10, b=3, prefetch=prefetch)
    t.load_state_dict(sd)
    assert [next(t).tolist() for _ in range(5)] == rest


def test_ranks_take_disjoint_blocks_of_each_global_batch():
    whole = _stream(n=20, b=7)
    shards = [_stream(n=20, b=7, rank=r, world=3) for r in range(3)]
    for _ in range(4):
        parts = [next(s).tolist() for s in shards]
        assert sum(parts, []) == next(whole).tolist()
        assert [len(p) for p in parts] == [3, 2, 2]
    # the state is global: a 3-process run resumes in one process where it stopped
    one = _stream(n=20, b=7)
    one.load_state_dict(shards[0].state_dict())
    assert next(one).tolist() == next(whole).tolist()


# ---------------------------------------------------------------------- formats through ImageTask.data()

def _folder(tmp_path, imgs):
    d = tmp_path / "folder"
    d.mkdir()
    for i, im in enumerate(imgs):
        Image.fromarray(im).save(d / f"{i:03d}.png")
    return d


def _cifar(tmp_path, imgs):
    p = tmp_path / "data_batch_1"
    data = imgs.transpose(0, 3, 1, 2).reshape(len(imgs), 3072)
    p.write_bytes(pickle.dumps({b"batch_label": b"x", b"labels": [0] * len(imgs), b"data": data}))
    return p


def _mnist(tmp_path, imgs):
    p = tmp_path / "train-images-idx3-ubyte"
    gray = imgs[..., 0][:, 2:30, 2:30]
    p.write_bytes(struct.pack(">IIII", 2051, len(gray), 28, 28) + gray.tobytes())
    return p


def _svhn(tmp_path, imgs):
    p = tmp_path / "train_32x32.mat"
    scipy.io.savemat(p, {"X": imgs.transpose(1, 2, 3, 0), "y": np.ones((len(imgs), 1))})
    return p


@pytest.mark.parametrize("writer", [_folder, _cifar, _mnist, _svhn])
def test_formats_stream_through_the_image_task(tmp_path, writer):
    imgs = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    path = writer(tmp_path, imgs)
    cfg = load_config("quickstart", [f"dataset={path}", "batch_size=4", "fid_every=0", "dataset_length=null"])
    task = ImageTask(cfg, torch.device("cpu"))
    stream = task.data()
    x = next(stream)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    idx = torch.randperm(10, generator=torch.Generator().manual_seed(0))[:4].numpy()
    if writer is not _mnist:  # same pixels as written (MNIST is resized from 28 to 32)
        want = torch.from_numpy(imgs[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
        assert torch.allclose(x, want, atol=1e-6)
