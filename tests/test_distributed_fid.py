"""Sharded feature extraction under torch.distributed (gloo, CPU processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from PIL import Image
from torch import nn

from ttur.distributed import shard_range
from ttur.images.arrays import ArrayImages
from ttur.metrics.extract import extract
from ttur.metrics.sources import SequenceSource
from ttur.networks.base import ModuleExtractor


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _images(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)


class _Float64Probe(nn.Module):
    """A small conv net computed in float64, so that batch composition cannot change its float32 output:
    the test then isolates the reduction across processes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten()).double()

    def forward(self, x):
        return self.net(x.double())


def _extractor() -> ModuleExtractor:
    return ModuleExtractor(_Float64Probe(), "probe")


def _worker(rank: int, world: int, port: int, n: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        src = SequenceSource(ArrayImages(_images(n)), num_workers=0)
        e = extract(src, _extractor(), batch_size=3, keep_features=True, progress=False)
        if rank == 0:
            np.savez(out, mu=e.stats.mu, sigma=e.stats.sigma, n=e.n, features=e.features)
    finally:
        tdist.destroy_process_group()


def test_shards_cover_every_index_once():
    for n in (0, 1, 7, 10, 101):
        for w in (1, 2, 3, 8):
            blocks = [shard_range(n, r, w) for r in range(w)]
            covered = [i for a, b in blocks for i in range(a, b)]
            assert covered == list(range(n))
            sizes = [b - a for a, b in blocks]
            assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("world,n", [(2, 7), (3, 2)])  # 3 ranks, 2 images: one shard is empty
def test_sharded_stats_equal_single_process(tmp_path, world, n):
    out = str(tmp_path / "dist.npz")
    mp.spawn(_worker, args=(world, _free_port(), n, out), nprocs=world, join=True)
    single = extract(SequenceSource(ArrayImages(_images(n)), num_workers=0), _extractor(), batch_size=3,
                     keep_features=True, progress=False)
    with np.load(out) as d:
        assert int(d["n"]) == n
        np.testing.assert_allclose(d["mu"], single.stats.mu, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(d["sigma"], single.stats.sigma, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(d["features"], single.features, rtol=1e-6, atol=1e-7)  # rank order kept


def test_torchrun_fid_equals_single_process(tmp_path, weights_env):
    rng = np.random.default_rng(1)
    dirs = []
    for name, count, shift in (("x", 5, 0), ("y", 4, 50)):
        d = tmp_path / name
        d.mkdir()
        for i in range(count):
            Image.fromarray(np.clip(rng.normal(100 + shift, 50, (16, 16, 3)), 0, 255).astype(np.uint8)).save(
                d / f"{i}.png")
        dirs.append(str(d))
    args = ["fid", *dirs, "--json", "--no-progress", "--dims", "768"]
    single = subprocess.run([sys.executable, "-m", "ttur", *args], capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    env = dict(os.environ, OMP_NUM_THREADS="1")
    multi = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                            "-m", "ttur", *args], capture_output=True, text=True, timeout=600, env=env)
    assert multi.returncode == 0, multi.stderr[-3000:]
    lines = [ln for ln in multi.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1  # rank 0 alone reports
    a, b = json.loads(single.stdout), json.loads(lines[0])
    assert b["n_a"] == 5 and b["n_b"] == 4
    assert b["fid"] == pytest.approx(a["fid"], rel=1e-6)


def test_torchrun_error_in_one_shard_stops_all(tmp_path, weights_env):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(4):
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(d / f"{i}.png")
    (d / "9_broken.png").write_bytes(b"junk")  # sorted last: in rank 1's shard
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "ttur", "fid", str(d), str(d), "--no-progress", "--dims", "64"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode != 0
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("ttur: error:")]
    assert len(errors) == 1 and "9_broken.png" in errors[0] and "[rank 1]" in errors[0]
