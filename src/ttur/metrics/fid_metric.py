"""``ttur.FID``: FID as a metric object for training loops (the torchmetrics convention).

::

    m = ttur.FID(reference="cifar10_train.npz")      # or a Stats, a folder, an array... (once)
    for _ in range(n_batches):
        m.update(G(z))                              # float in [-1, 1], or uint8 pixels
    fid = m.compute()                               # float; m.stats: the generated side's statistics
    m.reset()

The reference is computed (or loaded) once, at construction, with the options of :func:`ttur.fid`.
``update`` takes a batch of images, NCHW (or NHWC, gray or RGBA, as :func:`ttur.fid`'s generator
callables): **uint8 pixels in [0, 255]**, or **float images in [-1, 1]** (a generator's ``tanh``
output), which become float pixels ``(x + 1) * 127.5``, not rounded, exactly as
:class:`ttur.metrics.sources.GeneratorSource` converts them (``quantize=True`` rounds them to uint8
first, the FID of the images as saved to PNG). Floats outside [-1, 1] (beyond 1e-3) are refused. The
features stay on the network's device and go into float64 streaming sums
(:class:`~ttur.metrics.stats.StatsAccumulator`) there, so the number equals ``ttur fid`` on the same
images in the same batches.

Under torch.distributed each rank updates with its own images, as many batches as it likes: no
collective runs inside :meth:`update`. :meth:`compute` is the one collective (every rank must call
it): the sums of all ranks are all-reduced, and every rank gets the FID of the union.
"""

from __future__ import annotations

from pathlib import Path

from .. import distributed as dist
from ..errors import InputError
from ..images.pixels import to_pixels
from ..networks.base import FeatureExtractor
from .distances import frechet_distance
from .extract import extract
from .sources import open_source
from .stats import Stats, StatsAccumulator, check_meta


class FID:
    """FID of the images given to :meth:`update` against a fixed reference (see the module text)."""

    def __init__(
        self,
        reference,
        *,
        mode: str = "tf",
        dims: int = 2048,
        batch_size: int = 50,
        device=None,
        num_workers: int | None = None,
        weights: str | Path | None = None,
        extractor: FeatureExtractor | str | None = None,
        num_samples: int | None = None,
        skip_bad: bool = False,
        progress: bool = False,
        fast: bool = True,
        quantize: bool = False,
        precision: str | None = None,
    ) -> None:
        from .api import _get_extractor_for

        src = open_source(reference, num_workers=num_workers, skip_bad=skip_bad, num_samples=num_samples)
        self.extractor = _get_extractor_for((src,), extractor, mode=mode, dims=dims, device=device,
                                            weights=weights, fast=fast, precision=precision)
        if isinstance(src, Stats):
            if self.extractor.dims:
                check_meta(src.dims, src.meta, self.extractor.dims, self.extractor.meta(),
                           ("the reference statistics", "these settings"))
            self.reference = src
        else:
            self.reference = extract(src, self.extractor, batch_size=batch_size, progress=progress,
                                     desc="reference").stats
        self.quantize = quantize
        self.stats: Stats | None = None
        self._acc: StatsAccumulator | None = None

    @property
    def label(self) -> str:
        """"FID" for the Inception network, "FD (<name> features)" for any other."""
        return self.extractor.label

    @property
    def n(self) -> int:
        """Images given to :meth:`update` on this process since the last :meth:`reset`."""
        return self._acc.n if self._acc is not None else 0

    def reset(self) -> None:
        """Forget the generated images (the reference stays)."""
        self._acc = None
        self.stats = None

    def update(self, images) -> None:
        """Add a batch: uint8 pixels in [0, 255] or float images in [-1, 1] (NCHW or NHWC)."""
        pixels = to_pixels(images, "FID.update", quantize=self.quantize)
        f, _ = self.extractor(pixels, logits=False)
        f = f.float()
        if self._acc is None:  # float64 sums where the features are
            self._acc = StatsAccumulator(f.shape[1], device=f.device)
        self._acc.update(f)

    def compute(self) -> float:
        """The FID of the images so far (over all ranks under torch.distributed: a collective)."""
        acc = self._acc.copy() if self._acc is not None else None
        if dist.is_active():
            if acc is None:  # this rank saw no images
                acc = StatsAccumulator(self.reference.dims, device=self.extractor.device)
            acc.all_reduce()
        n = acc.n if acc is not None else 0
        if n < 2:
            raise InputError(f"FID.compute: {n} image(s) given to update since the last reset; at least 2 are "
                             "needed for a covariance")
        self.stats = acc.stats(self.extractor.meta())
        return frechet_distance(self.stats, self.reference)

    def __repr__(self) -> str:
        return f"FID(extractor={self.extractor.name!r}, mode={self.extractor.mode!r}, n={self.n})"


__all__ = ["FID"]
