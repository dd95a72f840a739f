"""Where images come from, as batches of pixels for the feature pass.

A source yields float or uint8 tensors of pixels in [0, 255], NCHW, every image counted (no batch
is dropped, unlike the original TensorFlow code). Sources:

* :class:`SequenceSource` over any :class:`ttur.datasets.ImageSequence` (folders, zips, arrays,
  CIFAR-10, MNIST, ...): decoding runs in DataLoader worker processes; corrupt files stop the pass
  with an error naming the file, or are skipped and counted with ``skip_bad``;
* :class:`GeneratorSource`: a callable ``fn(batch_size)`` returning uint8 images or float images in
  [-1, 1] (a generator being trained), ``n`` samples, nothing written to disk.

:func:`open_source` turns what a user passes (a path, an array, a tensor, a callable, a
:class:`~ttur.stats.Stats`) into a source or into precomputed statistics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .datasets import ArrayImages, ImageSequence, channels_last, float_to_pixels, open_images
from .errors import InputError
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
        if n == 0 and self.indices is not None:  # an empty shard of a non-empty source
            return
        if n == 0:
            raise InputError(f"{self.name}: no images found")
        workers = default_workers(n) if self.num_workers is None else self.num_workers
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
        for items in loader:
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


class GeneratorSource(Source):
    """``n`` samples of ``fn(batch_size)``: uint8 images (NCHW or NHWC) or float images in [-1, 1].

    Float samples become float pixels ``(x + 1) * 127.5`` (not rounded, as the official DCGAN code
    evaluates its samples); ``quantize=True`` rounds them to uint8 first, which gives the FID of the
    images as they would be saved to PNG.
    """

    def __init__(self, fn: Callable[[int], torch.Tensor], n: int, quantize: bool = False,
                 name: str = "generator") -> None:
        if n < 1:
            raise InputError(f"{name}: the number of samples must be positive, got {n}")
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


def to_pixels(x, what: str, quantize: bool = False) -> torch.Tensor:
    """A batch of images (uint8 or float in [-1, 1], NCHW or NHWC) to NCHW pixels in [0, 255]."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{what}: expected a tensor of images, got {type(x).__name__}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise InputError(f"{what}: expected images N x C x H x W, got shape {tuple(x.shape)}")
    layout = channels_last(tuple(x.shape), prefer_last=False)
    if layout is None:
        raise InputError(f"{what}: images need 1, 3 or 4 channels, got shape {tuple(x.shape)}")
    if layout:
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 4:
        x = x[:, :3]
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise InputError(f"{what}: images must be uint8 or float in [-1, 1], not {x.dtype}")
    if not torch.isfinite(x).all():
        raise InputError(f"{what}: images contain NaN or infinity")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.001 or hi > 1.001:
        raise InputError(f"{what}: float images must lie in [-1, 1], got values in [{lo:.3g}, {hi:.3g}]")
    pix = (x.float().clamp(-1, 1) + 1.0) * 127.5
    return pix.round().to(torch.uint8) if quantize else pix


def open_source(
    src, num_workers: int | None = None, skip_bad: bool = False, num_samples: int | None = None,
    quantize: bool = False,
) -> Source | Stats:
    """A source, or precomputed :class:`Stats`, from what the user passed.

    ``src`` may be a path (folder, zip, .npy/.npz images, statistics .npz, dataset file), a numpy
    array or torch tensor of images, a callable generator (with ``num_samples``), a :class:`Stats`
    or a :class:`Source`.
    """
    if isinstance(src, Stats | Source):
        return src
    if callable(src) and not isinstance(src, torch.Tensor | np.ndarray):
        if num_samples is None:
            raise InputError("a generator source needs the number of samples (num_samples=...)")
        return GeneratorSource(src, num_samples, quantize=quantize)
    if isinstance(src, torch.Tensor | np.ndarray):
        seq: ImageSequence = ArrayImages(src, name=f"{type(src).__name__} of shape {tuple(src.shape)}")
        return _non_empty(SequenceSource(seq, num_workers=0))
    if isinstance(src, str | os.PathLike):
        p = Path(src)
        if p.suffix == ".npz" and p.is_file() and _is_stats_file(p):
            return Stats.load(p)
        return _non_empty(SequenceSource(open_images(src), num_workers=num_workers, skip_bad=skip_bad))
    if isinstance(src, ImageSequence):
        return _non_empty(SequenceSource(src, num_workers=num_workers, skip_bad=skip_bad))
    raise InputError(f"cannot use {type(src).__name__} as an image source")


def _non_empty(s: SequenceSource) -> SequenceSource:
    """``s``, refused when it holds no images: said when the source is opened, before any network loads."""
    if len(s) == 0:
        raise InputError(f"{s.name}: no images found")
    return s


def _is_stats_file(p: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{p}: not a readable .npz file ({e})") from e
    return {"mu.npy", "sigma.npy"} <= names


__all__ = ["Source", "SequenceSource", "GeneratorSource", "open_source", "to_pixels", "float_to_pixels"]
