"""Checkpoints: everything a run needs to continue bit for bit, written atomically."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from .._util import atomic_torch_save
from ..errors import ConfigError

FILENAME = "checkpoint.pt"


def rng_state() -> dict:
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(st["cuda"])
        except Exception:  # noqa: BLE001 - a different number of GPUs
            pass


def save(path: Path, state: dict) -> None:
    atomic_torch_save(state, path)


def load(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        raise ConfigError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from e
