"""The offline kit: ``shapes``, the embedded procedural dataset (:mod:`ttur.shapes.dataset`).

It plugs into the rest of ttur through the readers table (:data:`ttur.images.readers.READERS`,
the name ``shapes``) and the extractors table (:data:`ttur.networks.EXTRACTORS`, the bundled
``shapes`` feature network), never by name checks elsewhere.
"""

from .dataset import (
    DEFAULT_LENGTH,
    DEFAULT_SIZE,
    HUE_BINS,
    KINDS,
    MAX_SHAPES,
    ShapesImages,
    is_shapes_spec,
    labels,
    open_spec,
    params,
    parse_spec,
    render,
    uniforms,
)

__all__ = ["DEFAULT_LENGTH", "DEFAULT_SIZE", "HUE_BINS", "KINDS", "MAX_SHAPES", "ShapesImages", "is_shapes_spec",
           "labels", "open_spec", "params", "parse_spec", "render", "uniforms"]
