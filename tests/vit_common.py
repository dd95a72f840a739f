"""Helpers of the DINOv2 and CLIP golden tests (imported as ``vit_common``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import numpy as np


def fake_module(fixtures: Path):
    """``fixtures/fake_weights_vit.py``, the definition of the stand-in weights."""
    spec = importlib.util.spec_from_file_location("fake_weights_vit", fixtures / "fake_weights_vit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_state(fixtures: Path, keys_file: str) -> dict:
    return fake_module(fixtures).fake_state_dict(json.loads((fixtures / keys_file).read_text()))


def image_paths(fixtures: Path, name: str) -> list[Path]:
    """Sorted PNGs of ``images/<name>`` (``a16``/``b16``: the first 16 of ``a``/``b``)."""
    if name.endswith("16"):
        return image_paths(fixtures, name[:-2])[:16]
    return sorted((fixtures / "images" / name).glob("*.png"))


@cache
def _read(path: Path, convert: bool) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im.convert("RGB") if convert else im)


def images(fixtures: Path, name: str, n: int | None = None, convert: bool = True) -> list[np.ndarray]:
    """uint8 arrays of the first ``n`` images of a set, read as the references read them."""
    return [_read(p, convert) for p in image_paths(fixtures, name)[:n]]
