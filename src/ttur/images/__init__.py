"""Anything -> uint8 HWC RGB images with random access.

:mod:`~ttur.images.base` (the protocol), :mod:`~ttur.images.pixels` (the one pixel convention),
:mod:`~ttur.images.readers` (the one ordered table of readers, ``open_images``), the readers in
:mod:`~ttur.images.files`, :mod:`~ttur.images.arrays`, :mod:`~ttur.images.formats`, and the
training view :mod:`~ttur.images.training` (crop, resize, float tensors in [-1, 1]).
"""
