"""The layout's promises: light help commands, one readers table, one extractors table, capped sources."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ttur.errors import InputError

PROBE = """
import sys
from ttur.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = [m for m in ("torch", "ttur.experiments", "ttur.text", "ttur.train") if m in sys.modules]
print("HEAVY", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["fid", "--help"]])
def test_help_imports_neither_torch_nor_experiments_nor_text(argv):
    p = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in p.stderr, p.stderr
    assert "usage: ttur" in p.stdout


def test_readers_table_is_ordered_and_complete():
    from ttur.images.readers import READERS

    names = [r.name for r in READERS]
    assert names[0] == "shapes" and names[-1] == "folder"
    for want in ("cifar10", "zip", "array", "mnist", "svhn", "lmdb", "tar"):
        assert want in names


def test_extractors_table_names_the_default_first():
    from ttur.networks import EXTRACTORS, get_extractor

    assert list(EXTRACTORS)[:2] == ["inception", "shapes"]
    with pytest.raises(InputError, match="extractor: unknown .*known: inception, shapes"):
        get_extractor("nope")


def test_num_samples_caps_an_image_source_or_is_refused():
    from ttur.metrics.sources import open_source

    a = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    s = open_source(a, num_samples=3)
    assert len(s) == 3
    got = np.concatenate([b.numpy() for b in s.batches(2)]).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(got, a[:3])  # the first N
    with pytest.raises(InputError, match="num_samples: 6 asked for"):
        open_source(a, num_samples=6)
    with pytest.raises(InputError, match="num_samples: must be positive"):
        open_source(a, num_samples=0)


def test_pixel_convention_is_one_module():
    import torch

    from ttur.images.pixels import float_to_pixels, to_pixels, to_tensor, to_unit_nhwc

    u8 = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)  # NCHW
    unit = to_unit_nhwc(u8, "x")
    assert unit.shape == (2, 2, 2, 3) and unit.dtype == np.float32
    np.testing.assert_allclose(to_tensor(u8.transpose(0, 2, 3, 1)).numpy(), unit.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(float_to_pixels(unit, "x"), u8.transpose(0, 2, 3, 1).astype(np.float32), atol=1e-4)
    assert to_pixels(torch.from_numpy(u8), "x").dtype == torch.uint8
    with pytest.raises(InputError, match="must lie in"):
        to_unit_nhwc(np.full((1, 2, 2, 3), 2.0, np.float32), "x")
