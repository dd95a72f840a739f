"""The one feature pass: a source through an extractor, into float64 statistics (and kept features).

Every metric is fed from it: the Fréchet distance from the statistics, KID and the bootstrap from
the kept features, the Inception Score from the kept logits. Under a torch.distributed group each
rank takes its shard and the sums meet in one all-reduce.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .. import distributed as dist
from .._util import check_positive
from ..errors import InputError, PeerError
from ..networks.base import FeatureExtractor
from .stats import Stats, StatsAccumulator


@dataclass
class Extraction:
    """Everything one feature pass gives: statistics, and features and logits when kept."""

    stats: Stats
    features: np.ndarray | None
    logits: np.ndarray | None
    n: int
    skipped: int
    seconds: float
    #: SHA-256 of the pixels that went through the network (``hash_pixels=True``; see :data:`PIXELS_HASH_KIND`)
    sha256: str | None = None
    #: statistics of sFID's spatial features (``spatial=True``), from the same pass
    spatial: Stats | None = None


#: how :func:`extract` hashes a source's content (``record["sides"][...]["hash_kind"]``)
PIXELS_HASH_KIND = ("sha256 of the decoded pixels: per image, in source order, the line 'H W C dtype' "
                    "then its H x W x C bytes (uint8 as decoded; a float generator's float32 values)")


def _hash_pixels(h, pixels) -> None:
    for t in pixels if isinstance(pixels, list) else [pixels]:
        t = t.detach().cpu()
        if t.dtype != torch.uint8:
            t = t.float()
        for img in t:
            a = img.permute(1, 2, 0).contiguous().numpy()
            h.update(f"{a.shape[0]} {a.shape[1]} {a.shape[2]} {a.dtype.str}\n".encode())
            h.update(a.tobytes())


def extract(
    source,
    extractor: FeatureExtractor,
    batch_size: int = 50,
    keep_features: bool = False,
    keep_logits: bool = False,
    progress: bool = True,
    desc: str | None = None,
    accumulator: StatsAccumulator | None = None,
    hash_pixels: bool = False,
    spatial: bool = False,
) -> Extraction:
    """Run ``source`` through ``extractor`` once, accumulating float64 statistics on the way.

    ``hash_pixels``: also the SHA-256 of the pixels read (:data:`PIXELS_HASH_KIND`), in
    ``Extraction.sha256`` (None under a process group, where each rank sees only its shard).
    ``spatial=True`` (Inception): also the statistics of sFID's 2023-d spatial features, from the
    same forward pass (``Extraction.spatial``)."""
    import hashlib

    from tqdm.auto import tqdm

    check_positive("batch_size", batch_size)
    if keep_logits and not extractor.has_logits:
        raise InputError(f"the {extractor.name} extractor has no class logits: the Inception Score needs Inception")
    if spatial and not getattr(extractor, "has_spatial", False):
        raise InputError(f"the {extractor.name} extractor has no spatial features: sFID needs Inception")
    total = len(source)
    hasher = hashlib.sha256() if hash_pixels and not dist.is_active() else None
    if dist.is_active():  # each rank takes its block; the sums meet in one all-reduce
        source = source.shard(*dist.shard_range(total))
        progress = progress and dist.is_main()
    acc = accumulator
    sacc: StatsAccumulator | None = None
    feats, logits = [], []
    t0 = time.perf_counter()
    failure: BaseException | None = None
    bar = tqdm(total=len(source), unit="img", desc=desc or getattr(source, "name", "images"),
               disable=not progress, file=sys.stderr, dynamic_ncols=True, leave=False)
    try:
        with bar, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*TypedStorage.*")
            for pixels in source.batches(batch_size):
                if hasher is not None:
                    _hash_pixels(hasher, pixels)
                if spatial:
                    f, lg, sp = extractor(pixels, logits=keep_logits, spatial=True)
                    if sacc is None:
                        sacc = StatsAccumulator(sp.shape[1], device=sp.device)
                    sacc.update(sp.float())
                else:
                    f, lg = extractor(pixels, logits=keep_logits)
                f = f.float()
                if acc is None:  # float64 sums where the features are: on a GPU the update is free
                    acc = StatsAccumulator(f.shape[1], device=f.device)
                acc.update(f)
                if keep_features:
                    feats.append(f.cpu().numpy())
                if keep_logits:
                    logits.append(lg.float().cpu().numpy())
                bar.update(f.shape[0])
    except Exception as e:  # noqa: BLE001 - re-raised below, after the other ranks know
        failure = e
    skipped = getattr(source, "skipped", 0)
    if dist.is_active():
        failed = dist.all_reduce_sum(torch.tensor([1.0 if failure else 0.0]))
        if failure is not None:
            raise failure
        if failed.item() > 0:
            raise PeerError("another process of the group stopped with an error (see its message)")
        dims = int(dist.all_reduce_sum(torch.tensor([float(acc.dims if acc else 0)]), op="max").item())
        if acc is None:  # an empty shard (more processes than images)
            acc = StatsAccumulator(dims, device=extractor.device)
        acc.all_reduce()
        if spatial:
            from ..networks.inception import SPATIAL_DIMS

            if sacc is None:
                sacc = StatsAccumulator(SPATIAL_DIMS, device=extractor.device)
            sacc.all_reduce()
        skipped = int(dist.all_reduce_sum(torch.tensor([float(skipped)])).item())
        feats_all = dist.all_gather_rows(np.concatenate(feats) if feats else np.zeros((0, dims), np.float32))
        logits_all = dist.all_gather_rows(np.concatenate(logits) if logits else np.zeros((0, 1008), np.float32))
    else:
        if failure is not None:
            raise failure
        feats_all = np.concatenate(feats) if feats else None
        logits_all = np.concatenate(logits) if logits else None
    n = acc.n if acc is not None else 0
    if n < 2:
        after = f" after skipping {skipped} unreadable" if skipped else ""
        raise InputError(f"{getattr(source, 'name', 'source')}: {n} image(s){after}; at least 2 are needed")
    stats = acc.stats(extractor.meta())
    spatial_stats = None
    if spatial:
        from ..networks.inception import SPATIAL_TENSOR

        spatial_stats = sacc.stats({**extractor.meta(), "dims": sacc.dims, "extractor": "inception_spatial",
                                    "tensor": SPATIAL_TENSOR})
    return Extraction(
        stats=stats,
        features=feats_all if keep_features else None,
        logits=logits_all if keep_logits else None,
        n=n,
        skipped=skipped,
        seconds=time.perf_counter() - t0,
        sha256=hasher.hexdigest() if hasher is not None else None,
        spatial=spatial_stats,
    )
