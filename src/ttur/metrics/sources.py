"""Batches of pixels for one feature pass: image sequences decoded in workers, generators, sharding.

A source yields float or uint8 tensors of pixels in [0, 255], NCHW, every image counted (no batch
is dropped, unlike the original TensorFlow code). Sources:

* :class:`SequenceSource` over any :class:`ttur.images.base.ImageSequence` (folders, zips, arrays,
  CIFAR-10, MNIST, ...): decoding runs in DataLoader worker processes; corrupt files stop the pass
  with an error naming the file, or are skipped and counted with ``skip_bad``;
* :class:`GeneratorSource`: a callable ``fn(batch_size)`` returning uint8 images or float images in
  [-1, 1] (a generator being trained), ``n`` samples, nothing written to disk.

:func:`open_source` turns what a user passes (a path, an array, a tensor, a callable, a
:class:`~ttur.metrics.stats.Stats`) into a source or into precomputed statistics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._util import check_positive
from ..errors import InputError
from ..images.arrays import ArrayImages
from ..images.base import ImageSequence, require_images
from ..images.pixels import to_pixels
from ..images.readers import open_images
from .stats import Stats


class Source:
    """Base class. ``batches()`` yields pixel tensors; ``skipped`` counts images skipped as bad."""

    name = "source"
    skipped = 0

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def batches(self, batch_size: int) -> Iterator[torch.Tensor | list[torch.Tensor]]:  # pragma: no cover
        raise NotImplementedError

    def shard(self, start: int, stop: int) -> Source:  # pragma: no cover
        """The part of this source a rank of a process group takes: images [start, stop)."""
        raise NotImplementedError


class _Decode(Dataset):
    """Worker-side decoding: returns (index, image or None, error message or None)."""

    def __init__(self, seq: ImageSequence, indices: np.ndarray | None) -> None:
        self.seq = seq
        self.indices = indices

    def __len__(self) -> int:
        return len(self.seq) if self.indices is None else len(self.indices)

    def __getitem__(self, i: int):
        j = int(i if self.indices is None else self.indices[i])
        try:
            return j, np.ascontiguousarray(self.seq[j]), None
        except InputError as e:
            return j, None, str(e)
        except Exception as e:  # an unexpected decoder failure still names the file
            return j, None, f"{self.seq.describe(j)}: cannot read ({type(e).__name__}: {e})"


def _collate(items):
    return items


def default_workers(n_images: int) -> int:
    """Decoding processes: none for small sets (start-up costs more than it saves), else up to 4."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if n_images <= 256 or cpus < 2:
        return 0
    return max(1, min(4, cpus - 1))


def _stack(images: list[np.ndarray]) -> torch.Tensor | list[torch.Tensor]:
    """One NCHW tensor when all images share a size, else a list of 1-image tensors."""
    ts = [torch.from_numpy(np.asarray(a)).permute(2, 0, 1) for a in images]
    if all(t.shape == ts[0].shape for t in ts):
        return torch.stack(ts)
    return [t[None] for t in ts]


class SequenceSource(Source):
    """Batches from an :class:`ImageSequence`, decoded in ``num_workers`` processes."""

    def __init__(
        self,
        seq: ImageSequence,
        num_workers: int | None = None,
        skip_bad: bool = False,
        indices: np.ndarray | None = None,
    ) -> None:
        self.seq = seq
        self.name = getattr(seq, "name", "images")
        self.indices = indices
        self.num_workers = num_workers
        self.skip_bad = skip_bad
        self.skipped = 0
        self.bad: list[str] = []

    def __len__(self) -> int:
        return len(self.seq) if self.indices is None else len(self.indices)

    def shard(self, start: int, stop: int) -> SequenceSource:
        idx = np.arange(len(self.seq)) if self.indices is None else self.indices
        return SequenceSource(self.seq, self.num_workers, self.skip_bad, idx[start:stop])

    def batches(self, batch_size: int) -> Iterator[torch.Tensor | list[torch.Tensor]]:
        n = len(self)
        if n == 0:  # an empty shard of a non-empty source (an empty source is refused when opened)
            return
        workers = self.num_workers
        if workers is None:
            workers = default_workers(n) if getattr(self.seq, "decode_workers", True) else 0
        loader = DataLoader(
            _Decode(self.seq, self.indices),
            batch_size=batch_size,
            shuffle=False,
            num_workers=workers,
            collate_fn=_collate,
            drop_last=False,
            persistent_workers=False,
            prefetch_factor=4 if workers else None,
        )
        batches = iter(loader)
        try:
            for items in batches:
                images = []
                for _, img, err in items:
                    if err is not None:
                        if not self.skip_bad:
                            raise InputError(err)
                        self.skipped += 1
                        self.bad.append(err)
                        continue
                    images.append(img)
                if images:
                    yield _stack(images)
        finally:  # every exit (end, error, Ctrl-C, SIGTERM via the CLI, an abandoned pass): no worker outlives it
            shutdown = getattr(batches, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()


class GeneratorSource(Source):
    """``n`` samples of ``fn(batch_size)``: uint8 images (NCHW or NHWC) or float images in [-1, 1].

    Float samples become float pixels ``(x + 1) * 127.5`` (not rounded, as the official DCGAN code
    evaluates its samples); ``quantize=True`` rounds them to uint8 first, which gives the FID of the
    images as they would be saved to PNG.
    """

    def __init__(self, fn: Callable[[int], torch.Tensor], n: int, quantize: bool = False,
                 name: str = "generator") -> None:
        check_positive("num_samples", n)
        self.fn = fn
        self.n = int(n)
        self.quantize = quantize
        self.name = name

    def __len__(self) -> int:
        return self.n

    def shard(self, start: int, stop: int) -> GeneratorSource:
        """``stop - start`` samples of the same callable: under a process group each rank calls it for
        its share, so a generator must draw from a per-rank seed (as a training loop's ranks do)."""
        shard = GeneratorSource.__new__(GeneratorSource)
        shard.__dict__.update(self.__dict__)
        shard.n = stop - start
        return shard

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        done = 0
        while done < self.n:
            b = min(batch_size, self.n - done)
            with torch.no_grad():
                x = self.fn(b)
            x = to_pixels(x, self.name, quantize=self.quantize)
            if x.shape[0] != b:
                raise InputError(f"{self.name}: asked for {b} samples, got {x.shape[0]}")
            done += b
            yield x


def open_source(
    src, num_workers: int | None = None, skip_bad: bool = False, num_samples: int | None = None,
    quantize: bool = False,
) -> Source | Stats:
    """A source, or precomputed :class:`Stats`, from what the user passed.

    ``src`` may be a path or name (anything :func:`ttur.images.readers.open_images` reads, or a
    statistics file that :func:`ttur.metrics.reference.read_reference_stats` recognises), a numpy array
    or torch tensor of images, an image sequence, a callable
    generator (``num_samples`` images drawn), a :class:`Stats` or a :class:`Source`.
    ``num_samples`` caps an image source at its first ``num_samples`` images (more than it holds is
    refused); statistics keep the count they were made from. An empty source is refused here,
    before any network loads.
    """
    if num_samples is not None:
        check_positive("num_samples", num_samples)
    if isinstance(src, Stats):
        return src
    if isinstance(src, Source):
        if num_samples is not None and num_samples != len(src):
            raise InputError(f"num_samples: {num_samples} asked for, but the source {src.name} was made "
                             f"with {len(src)}; give the count when making it")
        return src
    if callable(src) and not isinstance(src, torch.Tensor | np.ndarray):
        if num_samples is None:
            raise InputError("num_samples: a generator source needs the number of samples")
        return GeneratorSource(src, num_samples, quantize=quantize)
    if isinstance(src, torch.Tensor | np.ndarray):
        seq: ImageSequence = ArrayImages(src, name=f"{type(src).__name__} of shape {tuple(src.shape)}")
        num_workers = 0
    elif isinstance(src, str | os.PathLike):
        p = Path(src)
        if p.is_file() and _is_stats_file(p):
            return Stats.load(p)  # its count is fixed: num_samples does not apply
        seq = open_images(src)
    elif isinstance(src, ImageSequence):
        seq = src
    else:
        raise InputError(f"cannot use {type(src).__name__} as an image source")
    require_images(seq)
    indices = None
    if num_samples is not None:
        if num_samples > len(seq):
            raise InputError(f"num_samples: {num_samples} asked for, but {seq.name} holds {len(seq)} images")
        indices = np.arange(num_samples)
    return SequenceSource(seq, num_workers=num_workers, skip_bad=skip_bad, indices=indices)


def _is_stats_file(p: Path) -> bool:
    """Whether ``p`` holds statistics, by content (see :mod:`ttur.metrics.reference`): a ``.npz`` with
    ``mu`` and ``sigma`` (or clean-fid's ``feats``), a pickle or a ``torch.save`` file."""
    import zipfile

    from .reference import sniff_stats_file

    if p.suffix == ".npz":
        try:
            with zipfile.ZipFile(p) as zf:
                zf.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise InputError(f"{p}: not a readable .npz file ({e})") from e
    return sniff_stats_file(p)


FILE_HASH_KIND = "sha256 of the statistics file"


def side_record(src, n: int | None, pixels_sha256: str | None = None) -> dict:
    """What ``record["sides"]`` says of one side: its source, count and content hash (and how it was taken).

    A statistics file: the SHA-256 of the file. Images: the hash of the decoded pixels, taken during the
    pass (:data:`ttur.metrics.extract.PIXELS_HASH_KIND`)."""
    from .._util import sha256_file
    from .extract import PIXELS_HASH_KIND

    if isinstance(src, Stats):
        if src.path:
            return {"source": src.path, "kind": "statistics file", "n": n, "sha256": sha256_file(src.path),
                    "hash_kind": FILE_HASH_KIND}
        return {"source": "statistics", "kind": "statistics", "n": n, "sha256": None, "hash_kind": None}
    return {"source": str(getattr(src, "name", "images")), "kind": "images", "n": n, "sha256": pixels_sha256,
            "hash_kind": PIXELS_HASH_KIND if pixels_sha256 else None}


__all__ = ["Source", "SequenceSource", "GeneratorSource", "open_source", "side_record"]
