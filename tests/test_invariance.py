"""Features and statistics do not depend on the batch size or the thread count.

The fused Inception network on the first 50 images of ``fixtures/images/a`` (stand-in weights), one
pass per batch size (1, 7, 50) and one with two threads. Measured on the development machine (CPU,
oneDNN, torch 2.x): the float32 features were bit-identical across batch sizes 1, 7, 50 and across
1 vs 2 threads (max abs difference 0.0); the float64 statistics differed only by the order of the
streaming sums, at most 6.7e-16 in mu and 7.6e-17 in sigma (whose largest entry is 0.065).
The tolerances below leave room for other kernels (other CPUs, GPUs) while staying far below
anything that moves an FID: features 1e-6 of their largest value, statistics 1e-9 absolute.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttur.metrics.extract import extract
from ttur.metrics.sources import open_source
from ttur.networks.inception import InceptionExtractor

N = 50
FEATURE_REL_TOL = 1e-6  # measured 0.0
STATS_ABS_TOL = 1e-9  # measured <= 6.7e-16 (mu), 7.6e-17 (sigma)


@pytest.fixture(scope="module")
def passes(fixtures_dir, fake_weights):
    ext = InceptionExtractor(fake_weights, mode="tf")
    threads = torch.get_num_threads()
    out = {}
    try:
        for key, bs, nt in ((1, 1, 1), (7, 7, 1), (50, 50, 1), ("threads2", 50, 2)):
            torch.set_num_threads(nt)
            src = open_source(fixtures_dir / "images" / "a", num_workers=0, num_samples=N)
            out[key] = extract(src, ext, batch_size=bs, keep_features=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.mark.parametrize("key", [1, 7, "threads2"])
def test_features_and_stats_independent_of_batch_size_and_threads(passes, key):
    ref, other = passes[50], passes[key]
    assert other.n == ref.n == N
    scale = float(np.abs(ref.features).max())
    assert float(np.abs(other.features - ref.features).max()) <= FEATURE_REL_TOL * scale
    np.testing.assert_allclose(other.stats.mu, ref.stats.mu, rtol=0, atol=STATS_ABS_TOL)
    np.testing.assert_allclose(other.stats.sigma, ref.stats.sigma, rtol=0, atol=STATS_ABS_TOL)
