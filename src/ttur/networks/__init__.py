"""Feature networks and their weights, and the one table of feature extractors by name.

:data:`EXTRACTORS` maps each name a user can give (``--extractor NAME``, ``extractor="NAME"``) to
the function that builds it; :func:`get_extractor` is the one lookup. A new feature network is a
module in this package (the network, its weights handling, a :class:`~ttur.networks.base.
FeatureExtractor` subclass) and one entry here. Modules are imported only when an extractor is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: feature dimensions the FID Inception network offers (the average-pooled output of a block)
INCEPTION_DIMS = (64, 192, 768, 2048)
#: the arithmetic a feature pass can run in (:mod:`ttur.networks.precision`; named here so that the
#: command-line help needs no torch)
PRECISIONS = ("fp32", "bf16", "tf32", "fp16")


def precision_name(precision) -> str:
    """``precision`` as one of :data:`PRECISIONS` (None: fp32; any case), or an InputError naming it."""
    p = "fp32" if precision is None else str(precision).lower()
    if p not in PRECISIONS:
        from ..errors import InputError

        raise InputError(f"precision: {precision!r} is not a precision; known: {', '.join(PRECISIONS)}")
    return p


@dataclass(frozen=True)
class Extractor:
    """One row of the table: ``make(device=..., **options)`` builds the extractor; ``about`` is one line on it.

    Options every ``make`` receives (and may ignore): ``mode``, ``dims``, ``weights``, ``fast``,
    ``allow_download``; and ``precision``, which a network that runs in float32 only refuses.
    """

    make: Callable[..., object]
    about: str


def _inception(*, mode="tf", dims=2048, device=None, weights=None, fast=True, allow_download=None, precision="fp32"):
    from .inception import InceptionExtractor

    return InceptionExtractor(weights, mode=mode, dims=dims, device=device, fast=fast, allow_download=allow_download,
                              precision=precision)


def _fp32_only(name: str, precision) -> None:
    if precision_name(precision) != "fp32":
        from ..errors import InputError

        raise InputError(f"precision: the {name} extractor runs in fp32 only, not {precision}")


def _small(name: str) -> Callable[..., object]:
    def make(*, device=None, precision="fp32", **_options):
        from .small import load_small_extractor

        _fp32_only(name, precision)
        return load_small_extractor(name, device=device)

    return make


def _dinov2(arch: str) -> Callable[..., object]:
    def make(*, device=None, weights=None, allow_download=None, variant=None, precision="fp32", **_options):
        from .vit_extractors import DINOv2Extractor

        return DINOv2Extractor(weights, arch=arch, mode=variant or "edm2", device=device,
                               allow_download=allow_download, precision=precision)

    return make


#: every feature extractor known by name; the first is the default (distances on it are FID). A DINOv2 name
#: takes its preprocessing after a colon (``dinov2_vitl14:dgm-eval``; default ``edm2``), so that
#: ``ttur stats --extractor`` writes the statistics files ``ttur eval --metrics fd_dinov2`` reads.
EXTRACTORS: dict[str, Extractor] = {
    "inception": Extractor(_inception, "the FID Inception network (2015-12-05 TensorFlow graph), pool3 or earlier"),
    "shapes": Extractor(_small("shapes"), "bundled ShapesNet, 128-d, for the embedded shapes dataset (offline)"),
    "cifar10": Extractor(_small("cifar10"), "bundled CIFAR-10 classifier (85.45% test accuracy), 128-d, "
                                            "for 32x32 natural images (offline)"),
    **{f"dinov2_{a}": Extractor(_dinov2(a), f"DINOv2 ViT-{a[3].upper()}/14 class token (as fd_dinov2); "
                                            f"`dinov2_{a}:MODE` with MODE edm2 (default), dgm-eval, dgm-eval-clean")
       for a in ("vits14", "vitb14", "vitl14")},
}
#: the extractors that take a variant after a colon
_VARIANTS = {f"dinov2_{a}" for a in ("vits14", "vitb14", "vitl14")}


def get_extractor(
    extractor=None,
    *,
    mode: str = "tf",
    dims: int = 2048,
    device=None,
    weights=None,
    fast: bool = True,
    allow_download: bool | None = None,
    precision: str | None = None,
):
    """The extractor to use: the FID Inception network by default, one named in :data:`EXTRACTORS`,
    a :class:`~ttur.networks.base.FeatureExtractor` as it is, or any torch module (features = its output).
    ``precision`` (default fp32): see :mod:`ttur.networks.precision`."""
    from torch import nn

    from ..errors import InputError
    from .base import FeatureExtractor, ModuleExtractor

    asked = None if precision is None else precision_name(precision)
    if isinstance(extractor, FeatureExtractor):
        if asked is not None and asked != extractor.precision:
            raise InputError(f"precision: the {extractor.name} extractor given runs in {extractor.precision}, "
                             f"not {asked}")
        return extractor
    if isinstance(extractor, nn.Module):
        _fp32_only(type(extractor).__name__, precision)
        return ModuleExtractor(extractor, name=type(extractor).__name__, device=device)
    name = "inception" if extractor is None else str(extractor)
    name, _, variant = name.partition(":")
    entry = EXTRACTORS.get(name)
    if entry is None:
        raise InputError(f"extractor: unknown feature extractor {name!r}; known: {', '.join(EXTRACTORS)}")
    if variant and name not in _VARIANTS:
        raise InputError(f"extractor: {name} takes no ':{variant}'")
    extra = {"variant": variant} if name in _VARIANTS else {}
    return entry.make(mode=mode, dims=dims, device=device, weights=weights, fast=fast, allow_download=allow_download,
                      precision=asked or "fp32", **extra)


__all__ = ["EXTRACTORS", "INCEPTION_DIMS", "PRECISIONS", "Extractor", "get_extractor", "precision_name"]
