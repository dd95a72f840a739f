"""Lower precisions of the feature pass: off by default, refused where the device lacks them, recorded,
never mixed with float32 statistics, and within a stated distance of the float32 features.

The bfloat16 numbers need a CPU with native bfloat16 (AVX512-BF16 or AMX); on one without, those tests
skip with that reason (as GPU tests skip without a GPU) and the refusal is tested instead.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import fixture_subset

from ttur.cli import main
from ttur.errors import InputError, StatsError
from ttur.metrics.stats import Stats, check_compatible
from ttur.networks import get_extractor
from ttur.networks import precision as P
from ttur.networks.inception import FastFIDInception, InceptionExtractor, build_inception

HAVE_BF16 = P.cpu_supports("bf16")
needs_bf16 = pytest.mark.skipif(not HAVE_BF16, reason="this CPU has no native bfloat16 (no AVX512-BF16 or AMX)")
#: bfloat16 keeps 8 bits of mantissa: pooled features move by ~5e-3 of their largest value through 94 layers
#: (5.5e-3 measured on 200 CIFAR-10 images with the stand-in weights; 3.7e-3 on the noise images here);
#: sFID's spatial features are single activations, not means over a grid, and move by ~3e-2 (3.4e-2 here).
#: The bounds leave room for other inputs.
BF16_FEATURE_TOL = 2e-2
BF16_SPATIAL_TOL = 6e-2


def _run(capsys, *args):
    capsys.readouterr()
    rc = main([*map(str, args), "--no-progress"])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_names_and_devices_are_checked(monkeypatch):
    cpu = torch.device("cpu")
    assert P.check_precision(None, cpu) == "fp32" and P.check_precision("FP32", cpu) == "fp32"
    with pytest.raises(InputError, match="precision: 'fp8' is not a precision"):
        P.check_precision("fp8", cpu)
    with pytest.raises(InputError, match="tf32 is a CUDA GPU precision"):
        P.check_precision("tf32", cpu)
    monkeypatch.setattr(P, "cpu_supports", lambda p: p == "fp32")
    for p in ("bf16", "fp16"):
        with pytest.raises(InputError, match=f"precision: this CPU has no native {p}"):
            P.check_precision(p, cpu)
    with pytest.raises(InputError, match="precision: this CPU has no native bf16"):
        InceptionExtractor(None, precision="bf16")  # refused before any weights are looked for


def test_float32_only_extractors_refuse_lower_precisions():
    with pytest.raises(InputError, match="the shapes extractor runs in fp32 only"):
        get_extractor("shapes", precision="bf16")
    with pytest.raises(InputError, match="precision: 'half' is not a precision"):
        get_extractor("shapes", precision="half")
    with pytest.raises(InputError, match="runs in fp32 only"):
        get_extractor(torch.nn.Flatten(), precision="bf16")
    assert get_extractor("shapes", precision="fp32").precision == "fp32"


def test_precision_context_sets_tf32_only_inside():
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = True
    try:
        with P.precision_context("fp32"):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        with P.precision_context("tf32"):
            assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_statistics_of_different_precisions_are_not_compared():
    mu, sigma = np.zeros(4), np.eye(4)
    a = Stats(mu, sigma, 10, {"extractor": "inception", "mode": "tf", "precision": "bf16"})
    b = Stats(mu, sigma, 10, {"extractor": "inception", "mode": "tf", "precision": "fp32"})
    with pytest.raises(StatsError, match="precision 'bf16'.*precision 'fp32'"):
        check_compatible(a, b)
    check_compatible(a, Stats(mu, sigma, 10, {"extractor": "inception", "mode": "tf"}))  # a file that does not say


def test_default_record_says_float32(fixtures_dir, weights_env, tmp_path, capsys):
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 6), fixture_subset(fixtures_dir, tmp_path, "b", 6)
    rc, out, err = _run(capsys, "fid", a, b, "--json")
    assert rc == 0, err
    rec = json.loads(out)["record"]
    assert rec["dtype"] == "float32" and rec["networks"]["inception"]["precision"] == "fp32"


@needs_bf16
@pytest.mark.parametrize("fast", [True, False])
def test_bf16_features_are_within_the_stated_distance(fake_weights, fast):
    ref32 = build_inception(fake_weights, torch.device("cpu"), fast=fast)
    low = build_inception(fake_weights, torch.device("cpu"), fast=fast, precision="bf16")
    if fast:
        assert isinstance(low, FastFIDInception) and low.stem0[0].conv.weight.dtype == torch.bfloat16
    torch.manual_seed(0)
    x = torch.rand(2, 3, 299, 299) * 2 - 1
    with torch.inference_mode():
        f32, l32, s32 = ref32(x, logits=True, spatial=True)
        f16, l16, s16 = low(x, logits=True, spatial=True)
    assert f16.dtype == l16.dtype == s16.dtype == torch.float32  # returned in float32
    err = float((f32 - f16).abs().max() / f32.abs().max())
    assert 0 < err <= BF16_FEATURE_TOL  # it did run in bfloat16, and stayed close
    assert float((l32 - l16).abs().max() / l32.abs().max()) <= BF16_FEATURE_TOL
    assert float((s32 - s16).abs().max() / s32.abs().max()) <= BF16_SPATIAL_TOL


@needs_bf16
def test_bf16_end_to_end_is_recorded_and_checked(fixtures_dir, weights_env, tmp_path, capsys):
    a, b = fixture_subset(fixtures_dir, tmp_path, "a", 12), fixture_subset(fixtures_dir, tmp_path, "b", 12)
    rc, out, err = _run(capsys, "fid", a, b, "--json")
    assert rc == 0, err
    fid32 = json.loads(out)["fid"]
    rc, out, err = _run(capsys, "fid", a, b, "--json", "--precision", "bf16")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["record"]["dtype"] == "bfloat16" and doc["record"]["networks"]["inception"]["precision"] == "bf16"
    assert abs(doc["fid"] - fid32) <= 2e-2 * fid32 and doc["fid"] != fid32
    # a statistics file says its precision, and is not compared with a float32 one
    s16, s32 = tmp_path / "a16.npz", tmp_path / "a32.npz"
    assert _run(capsys, "stats", a, "-o", s16, "--precision", "bf16")[0] == 0
    assert _run(capsys, "stats", a, "-o", s32)[0] == 0
    assert Stats.load(s16).meta["precision"] == "bf16" and Stats.load(s32).meta["precision"] == "fp32"
    rc, out, err = _run(capsys, "fid", s16, s32)
    assert rc == 2 and "precision 'bf16'" in err and "precision 'fp32'" in err, err
    # ttur eval records it, and --check recomputes in it
    rec = tmp_path / "r.json"
    rc, out, err = _run(capsys, "eval", a, b, "--precision", "bf16", "--record", rec)
    assert rc == 0, err
    doc = json.loads(rec.read_text())
    assert doc["command"]["precision"] == "bf16" and doc["record"]["dtype"] == "bfloat16"
    rc, out, err = _run(capsys, "eval", "--check", rec)
    assert rc == 0 and "check passed" in err, (out, err)


def test_vit_extractors_check_precision(vits14_file):
    with pytest.raises(InputError, match="tf32 is a CUDA GPU precision"):
        get_extractor("dinov2_vits14", weights=vits14_file, precision="tf32")
    ext = get_extractor("dinov2_vits14", weights=vits14_file)
    assert ext.precision == "fp32" and ext.meta()["precision"] == "fp32"


@needs_bf16
def test_dinov2_bf16_runs_under_autocast(vits14_file):
    f32 = get_extractor("dinov2_vits14", weights=vits14_file)
    b16 = get_extractor("dinov2_vits14", weights=vits14_file, precision="bf16")
    assert b16.meta()["precision"] == "bf16"
    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 3, 64, 64), dtype=np.uint8))
    a, _ = f32(pixels)
    b, _ = b16(pixels)
    assert b.dtype == torch.float32
    err = float((a - b).abs().max() / a.abs().max())
    assert 0 < err <= 3e-2  # autocast: matrix products in bfloat16 (4.5e-3 measured on these two images)
