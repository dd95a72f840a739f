"""The FID Inception port: parameter layout, weight loading, the fused build."""

from __future__ import annotations

import json

import pytest
import torch

from ttur.errors import WeightsError
from ttur.networks.inception import DIMS, FastFIDInception, FIDInception, build_inception, expected_keys


def test_state_dict_layout_is_pytorch_fids(fixtures_dir):
    ref = [(k, tuple(s)) for k, s in json.loads((fixtures_dir / "fid_inception_keys.json").read_text())]
    assert expected_keys() == ref


def test_weights_load_strictly(fake_weights):
    net = build_inception(fake_weights, torch.device("cpu"), fast=False)
    assert isinstance(net, FIDInception)
    sd = torch.load(fake_weights, weights_only=True)
    for k, v in net.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_wrong_weights_are_refused(tmp_path, fake_weights):
    sd = torch.load(fake_weights, weights_only=True)
    del sd["fc.bias"]
    bad = tmp_path / "bad.pth"
    torch.save(sd, bad)
    with pytest.raises(WeightsError, match="do not fit"):
        build_inception(bad, torch.device("cpu"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pth"):
        build_inception(junk, torch.device("cpu"))


@pytest.fixture(scope="module")
def nets(fake_weights):
    ref = build_inception(fake_weights, torch.device("cpu"), fast=False)
    return ref, FastFIDInception(ref)


@pytest.mark.parametrize("dims", DIMS)
def test_fused_build_computes_the_same_function(nets, dims):
    ref, fast = nets
    torch.manual_seed(0)
    x = torch.rand(3, 3, 299, 299) * 2 - 1
    with torch.inference_mode():
        fr, lr = ref(x, dims=dims, logits=True)
        ff, lf = fast(x, dims=dims, logits=True)
    assert fr.shape == ff.shape == (3, dims)
    assert lr.shape == lf.shape == (3, 1008)
    assert (fr - ff).abs().max() <= 1e-5 * fr.abs().max()
    assert (lr - lf).abs().max() <= 1e-5 * lr.abs().max()


def test_fused_build_outside_inference_mode(nets):
    """With autograd on (no oneDNN fusion path) the fused build still agrees."""
    ref, fast = nets
    x = torch.rand(2, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        fr, _ = ref(x)
    with torch.enable_grad():
        ff, _ = fast(x)
    assert (fr - ff.detach()).abs().max() <= 1e-5 * fr.abs().max()


def test_bad_dims_rejected(nets):
    with pytest.raises(ValueError):
        nets[0](torch.zeros(1, 3, 299, 299), dims=100)
