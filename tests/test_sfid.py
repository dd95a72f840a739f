"""sFID (ADM's evaluator): the spatial tensor, its flattening, the distance, and one pass for fid + sfid.

The expected values are computed here independently of the hook: the reference network run block by
block up to ``Mixed_6d.branch1x1`` (TF's ``mixed_6/conv``), the NHWC ``[..., :7]`` slice taken in
numpy, and the Fréchet distance in float64 numpy (trace term as the nuclear norm of the centred
features, exact for fewer images than dimensions).
"""

from __future__ import annotations

import json
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
from ttur.cli import main
from ttur.images.arrays import ArrayImages
from ttur.images.files import FolderImages
from ttur.metrics.extract import extract
from ttur.metrics.preprocess import preprocess
from ttur.metrics.sources import SequenceSource
from ttur.networks import inception as inc
from ttur.networks.base import ModuleExtractor

pytestmark = pytest.mark.usefixtures("one_thread")

N = 8  # images per side: the Inception pass dominates the time of this module


def _subset(fixtures_dir, tmp_path, name: str, n: int = N):
    return fixture_subset(fixtures_dir, tmp_path, name, n)


def _pixels(folder) -> torch.Tensor:
    src = SequenceSource(FolderImages(folder), num_workers=0)
    return torch.cat(list(src.batches(64)))


@pytest.fixture(scope="module")
def sets(fixtures_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sfid")
    return {s: _subset(fixtures_dir, tmp, s) for s in ("a", "b")}


@pytest.fixture(scope="module")
def ref_net(fake_weights):
    return inc.build_inception(fake_weights, torch.device("cpu"), fast=False)


def _mixed6_conv_blockwise(net: inc.FIDInception, pixels: torch.Tensor) -> np.ndarray:
    """TF's ``mixed_6/conv`` (NCHW, 192 x 17 x 17): the stem, Mixed_5b..Mixed_6c, then Mixed_6d's 1x1 branch."""
    x = preprocess(pixels, "tf")
    with torch.inference_mode():
        for layer in (net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, inc._MaxPool(),
                      net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, inc._MaxPool(),
                      net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c):
            x = layer(x)
        t = net.Mixed_6d.branch1x1(x)
    return t.numpy().astype(np.float64)


def _adm_flatten(t_nchw: np.ndarray) -> np.ndarray:
    """ADM: ``spatial[..., :7]`` of the NHWC tensor, reshaped to (N, -1)."""
    nhwc = np.transpose(t_nchw, (0, 2, 3, 1))
    return nhwc[..., :7].reshape(nhwc.shape[0], -1)


def _fd_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance of two feature sets, float64; tr sqrt(S1 S2) = ||A B^T||_* (A, B centred / sqrt(n-1))."""
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    d = x.mean(0) - y.mean(0)
    nuc = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    return float(d @ d + (a * a).sum() + (b * b).sum() - 2 * nuc)


def test_spatial_tensor_is_mixed_6d_branch1x1_in_hwc_order(sets, ref_net, fake_weights):
    pixels = _pixels(sets["a"])[:4]
    t = _mixed6_conv_blockwise(ref_net, pixels)
    assert t.shape == (4, 192, 17, 17)
    expected = _adm_flatten(t)
    assert expected.shape == (4, inc.SPATIAL_DIMS) == (4, 2023)
    # the reference layout, one forward pass: bit for bit the block-by-block tensor
    with torch.inference_mode():
        f, lg, sp = ref_net(preprocess(pixels, "tf"), spatial=True)
        f_plain, _ = ref_net(preprocess(pixels, "tf"))
    assert sp.shape == (4, 2023)
    np.testing.assert_array_equal(sp.numpy().astype(np.float64), expected)
    np.testing.assert_array_equal(f.numpy(), f_plain.numpy())  # the hook changes nothing else
    # index by index: element (h, w, c) of image 0 is t[0, c, h, w]
    for h, w, c in ((0, 0, 0), (0, 0, 6), (0, 1, 0), (3, 5, 2), (16, 16, 6)):
        assert sp[0, (h * 17 + w) * 7 + c].item() == pytest.approx(t[0, c, h, w], abs=0)
    # the fused build (merged 1x1 head) gives the same tensor to float32 rounding
    ext = inc.InceptionExtractor(fake_weights, mode="tf")
    f2, _, sp2 = ext(pixels, spatial=True)
    assert float(np.abs(sp2.numpy() - expected).max()) <= 1e-4 * float(np.abs(expected).max())
    assert not ref_net.Mixed_6d.branch1x1._forward_hooks  # the hook lives for one call only


def test_sfid_one_pass_with_fid_and_independent_value(sets, ref_net, monkeypatch, fake_weights):
    calls = []
    orig = inc.FastFIDInception.forward

    def counting(self, *a, **k):
        calls.append(k.get("spatial", False))
        return orig(self, *a, **k)

    monkeypatch.setattr(inc.FastFIDInception, "forward", counting)
    r = ttur.evaluate(sets["a"], sets["b"], metrics="fid,sfid", weights=fake_weights, batch_size=N, progress=False)
    assert calls == [True, True]  # one batch per side, each one pass giving pool3 and the spatial tensor
    # fid is unchanged by the extra output
    r_fid = ttur.evaluate(sets["a"], sets["b"], metrics="fid", weights=fake_weights, batch_size=N, progress=False)
    assert calls[2:] == [False, False]
    assert r["fid"] == pytest.approx(r_fid["fid"], rel=1e-12)
    # sfid against the block-by-block tensor and a numpy Fréchet distance
    xa = _adm_flatten(_mixed6_conv_blockwise(ref_net, _pixels(sets["a"])))
    xb = _adm_flatten(_mixed6_conv_blockwise(ref_net, _pixels(sets["b"])))
    expected = _fd_numpy(xa, xb)
    # fused vs reference network: measured 1.1e-6 relative (15.649322 vs 15.649304) on these 8 + 8 images
    assert r["sfid"] == pytest.approx(expected, rel=1e-5)
    rec = r.record
    assert rec["metric_details"]["sfid"]["tensor"] == "mixed_6/conv:0[..., :7]"
    assert rec["metric_details"]["sfid"]["mode"] == "tf"
    assert rec["metric_details"]["sfid"]["dims"] == 2023


def test_sfid_of_a_set_against_itself_is_zero(sets, weights_env, capsys):
    """Through the command line: ``ttur eval A A --metrics sfid --json``, key ``sfid``."""
    capsys.readouterr()
    rc = main(["eval", str(sets["a"]), str(sets["a"]), "--metrics", "sfid", "--json", "--no-progress",
               "--batch-size", "5"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    r = json.loads(out.out)
    assert abs(r["sfid"]) < 1e-9  # measured 0.0 (the trace of either covariance is about 8.7)
    assert r["record"]["networks"]["inception"]["metrics"] == ["sfid"]
    assert r["record"]["metric_details"]["sfid"]["mode"] == "tf"


def test_sfid_refuses_statistics_files_and_other_networks(sets, tmp_path, fake_weights):
    s = ttur.compute_stats(sets["b"], weights=fake_weights, batch_size=N, progress=False)
    p = s.save(tmp_path / "b.npz")
    with pytest.raises(ttur.InputError, match="sfid: needs images as B"):
        ttur.evaluate(sets["a"], p, metrics="sfid", weights=fake_weights, progress=False)


# ----------------------------------------------------------------------------------------------
# The spatial statistics under torch.distributed: each rank's sums meet in the same all-reduce
# ----------------------------------------------------------------------------------------------

class _SpatialProbe(ModuleExtractor):
    """A small float64 net whose second output stands in for the spatial tensor (the code path of extract)."""

    has_spatial = True

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).double(), "probe")

    def forward(self, pixels, logits, spatial=False):
        x = pixels.double() / 127.5 - 1
        with torch.inference_mode():
            t = self.module(x)
        f = t.mean((2, 3)).float()
        return (f, None, inc.spatial_features(t).float()) if spatial else (f, None)


def _images(n: int) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        e = extract(SequenceSource(ArrayImages(_images(7)), num_workers=0), _SpatialProbe(), batch_size=2,
                    spatial=True, progress=False)
        if rank == 0:
            np.savez(out, mu=e.spatial.mu, sigma=e.spatial.sigma, n=e.spatial.n)
    finally:
        tdist.destroy_process_group()


def test_spatial_stats_sharded_equal_single_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "sp.npz")
    mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
    single = extract(SequenceSource(ArrayImages(_images(7)), num_workers=0), _SpatialProbe(), batch_size=2,
                     spatial=True, progress=False).spatial
    assert single.dims == 6 * 6 * 4
    with np.load(out) as d:
        assert int(d["n"]) == 7
        np.testing.assert_allclose(d["mu"], single.mu, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(d["sigma"], single.sigma, rtol=1e-9, atol=1e-12)
