"""``ttur.FID``, the metric object of training loops: the same numbers as ``ttur fid``, any batching,
reset, refusals, the float input convention, and torch.distributed with unequal update counts."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from helpers import fixture_subset
from torch import nn

import ttur
from ttur.images.files import FolderImages
from ttur.metrics.sources import SequenceSource
from ttur.networks.base import ModuleExtractor

pytestmark = pytest.mark.usefixtures("one_thread")

N = 16  # the first 16 images of fixtures/images/a and b: the Inception pass dominates the time


def _subset(fixtures_dir, tmp, name: str, n: int = N):
    return fixture_subset(fixtures_dir, tmp, name, n)


@pytest.fixture(scope="module")
def sets(fixtures_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fidm")
    return {s: _subset(fixtures_dir, tmp, s) for s in ("a", "b")}


@pytest.fixture(scope="module")
def pixels_a(sets) -> torch.Tensor:
    return torch.cat(list(SequenceSource(FolderImages(sets["a"]), num_workers=0).batches(64)))


@pytest.fixture(scope="module")
def metric(sets, fake_weights):
    """One FID object, reference b16 computed at construction, shared by the tests (reset by each)."""
    return ttur.FID(reference=sets["b"], weights=fake_weights, batch_size=N)


def _feed(m, images: torch.Tensor, bs: int) -> None:
    m.reset()
    for i in range(0, len(images), bs):
        m.update(images[i:i + bs])


def test_equals_ttur_fid_and_any_batching(metric, sets, pixels_a, fake_weights, tmp_path):
    golden = ttur.fid(sets["a"], sets["b"], weights=fake_weights, batch_size=7, progress=False)
    values, stats = {}, {}
    for bs in (1, 7, 50):
        _feed(metric, pixels_a, bs)
        values[bs] = metric.compute()
        stats[bs] = metric.stats
        assert metric.stats.n == N and metric.n == N
    assert values[7] == pytest.approx(golden.fid, rel=1e-6)
    for bs in (1, 50):  # features bit-identical across batch sizes here (tests/test_invariance.py)
        assert values[bs] == pytest.approx(values[7], rel=1e-6)
        np.testing.assert_allclose(stats[bs].mu, stats[7].mu, rtol=0, atol=1e-9)
        np.testing.assert_allclose(stats[bs].sigma, stats[7].sigma, rtol=0, atol=1e-9)
    # the reference as a statistics file, or as a Stats object: the same number
    ref = metric.reference
    path = ref.save(tmp_path / "b.npz")
    for reference in (path, str(path), ref):
        m2 = ttur.FID(reference=reference, weights=fake_weights)
        _feed(m2, pixels_a, 7)
        assert m2.compute() == pytest.approx(golden.fid, rel=1e-6)


def test_float_input_is_the_generator_convention(metric, sets, pixels_a, fake_weights):
    """Float images in [-1, 1] become (x + 1) * 127.5, unrounded: the number of ttur.fid on a generator."""
    floats = pixels_a.float() / 127.5 - 1.0
    it = iter(floats.split(7))
    golden = ttur.fid(lambda n: next(it), sets["b"], weights=fake_weights, num_samples=N, batch_size=7,
                      progress=False)
    _feed(metric, floats, 7)
    assert metric.compute() == pytest.approx(golden.fid, rel=1e-9)
    # NHWC float input: the same
    _feed(metric, floats.permute(0, 2, 3, 1).contiguous(), 7)
    assert metric.compute() == pytest.approx(golden.fid, rel=1e-9)
    # outside [-1, 1] is refused with the range it saw
    with pytest.raises(ttur.InputError, match=r"\[-1, 1\]"):
        metric.update(floats * 2)
    with pytest.raises(ttur.InputError, match="uint8 or float"):
        metric.update(pixels_a.to(torch.int32))


def test_reset_and_too_few_images(metric, pixels_a):
    metric.reset()
    with pytest.raises(ttur.InputError, match="0 image"):
        metric.compute()
    metric.update(pixels_a[:1])
    with pytest.raises(ttur.InputError, match="1 image.*at least 2"):
        metric.compute()
    _feed(metric, pixels_a[:8], 4)
    first = metric.compute()
    metric.reset()
    assert metric.n == 0 and metric.stats is None
    _feed(metric, pixels_a[:8], 8)
    assert metric.compute() == pytest.approx(first, rel=1e-9)
    metric.update(pixels_a[8:])  # compute does not consume: more updates extend the same set
    assert metric.n == N


def test_exported_and_repr(metric):
    assert ttur.FID is type(metric)
    assert "FID" in ttur.__all__
    assert metric.label == "FID" and "inception" in repr(metric)


# ----------------------------------------------------------------------------------------------
# torch.distributed: unequal update counts per rank, one all-reduce in compute
# ----------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Probe(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten()).double()

    def forward(self, x):
        return self.net(x.double())


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 10, 10), dtype=np.uint8)


# rank -> batches it updates with (rank 0: three, rank 1: one, of different sizes)
SPLITS = {0: [(0, 4), (4, 5), (5, 11)], 1: [(11, 14)]}


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        m = ttur.FID(reference=_images(9, 1), extractor=ModuleExtractor(_Probe(), "probe"), batch_size=4)
        gen = torch.from_numpy(_images(14, 2))
        for a, b in SPLITS[rank]:
            m.update(gen[a:b])
        value = m.compute()
        np.savez(f"{out}.{rank}", fid=value, n=m.stats.n, mu=m.stats.mu)
    finally:
        tdist.destroy_process_group()


def test_distributed_unequal_updates_equal_single_process(tmp_path):
    out = str(tmp_path / "fid")
    mp.spawn(_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    single = ttur.FID(reference=_images(9, 1), extractor=ModuleExtractor(_Probe(), "probe"))
    single.update(torch.from_numpy(_images(14, 2)))
    expected = single.compute()
    for rank in (0, 1):
        with np.load(f"{out}.{rank}.npz") as d:
            assert int(d["n"]) == 14
            assert float(d["fid"]) == pytest.approx(expected, rel=1e-9)
            np.testing.assert_allclose(d["mu"], single.stats.mu, rtol=1e-12, atol=1e-12)
