"""The one validation table of numbers a user gives: command-line options and config keys.

:data:`NUMBERS` names each option (by its ``argparse`` destination) and each numeric config key
with its kind, its range and whether it may be null; :func:`check_number` checks one value against
it (finite, integral where it must be, in range) with one line naming the option or key.
:func:`check_args` runs the table (and :data:`OUTPUTS`, the output paths) over parsed command-line
arguments before any command starts, so a bad value never reaches the computation. Light: no torch.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from ._util import check_output
from .errors import ConfigError, InputError


@dataclass(frozen=True)
class Number:
    kind: type            # int or float
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False   # the minimum itself is excluded (a rate > 0)
    null: bool = False    # None is allowed (default or "off")


_POS = Number(int, 1)
_NONNEG = Number(int, 0)
_POS_NULL = Number(int, 1, null=True)
_RATE = Number(float, 0, above=True)
_RATE_NULL = Number(float, 0, above=True, null=True)

#: name -> its range; command-line options by argparse destination, config keys by name
NUMBERS: dict[str, Number] = {
    # ttur fid / stats
    "batch_size": _POS, "num_workers": Number(int, 0, null=True), "kid_subsets": _POS,
    "kid_subset_size": Number(int, 2), "isc_splits": _POS, "bootstrap": _NONNEG, "seed": _NONNEG,
    # ttur jsd
    "n": _POS, "seq_len": _NONNEG, "max_lines": _POS_NULL,
    # ttur experiment ...
    "num_images": _POS_NULL, "size": _POS, "crop": _POS_NULL, "orig_lr": _RATE_NULL, "lr_d": _RATE_NULL,
    "lr_g": _RATE_NULL, "seeds": _POS_NULL, "r": _POS_NULL, "max_steps": _POS_NULL, "eta": Number(int, 2),
    "iters": _POS_NULL, "sigma": Number(float, 0), "radius": _RATE, "window": _POS, "mog_steps": _POS_NULL,
    "mog_seeds": _POS_NULL, "ratios": _RATE_NULL, "hbf_steps": _POS_NULL,
    # training config keys (those shared with options above keep one entry)
    "image_size": _POS, "d_steps": _POS, "steps": _POS, "z_dim": _POS, "g_width": _POS, "d_width": _POS,
    "fid_samples": _POS, "fid_ref_samples": _POS, "fid_batch_size": _POS, "sample_count": _POS,
    "fid_every": _NONNEG, "sample_every": _NONNEG, "checkpoint_every": _NONNEG, "log_every": _NONNEG,
    "gp_weight": Number(float, 0), "dataset_length": _POS_NULL, "threads": _POS_NULL,
}
#: config keys whose meaning differs from the option of the same name
CONFIG_NUMBERS: dict[str, Number] = {**NUMBERS, "lr_d": _RATE, "lr_g": _RATE}

#: output options (argparse destination) -> kind of output: a file (with its suffix) or a folder
OUTPUTS: dict[str, dict] = {"output": {"suffix": ".npz"}, "out": {"folder": True}, "record": {"suffix": ".json"}}


def check_number(name: str, value, spec: Number | None = None, *, error=InputError):
    """``value`` checked against ``spec`` (default: the table's entry for ``name``); returns it normalised
    (an integral float such as ``1e3`` becomes ``1000`` for an integer)."""
    spec = spec or NUMBERS[name]
    if value is None:
        if spec.null:
            return None
        raise error(f"{name}: expected a number, got null")
    v = value
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise error(f"{name}: expected a number, got {value!r}") from None
    if isinstance(v, bool) or not isinstance(v, int | float):
        try:
            v = operator.index(v)
        except TypeError:
            raise error(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise error(f"{name}: must be a finite number, got {value!r}")
    if spec.kind is int:
        if float(v) != int(v):
            raise error(f"{name}: expected an integer, got {value!r}")
        v = int(v)
    else:
        v = float(v)
    lo, hi = spec.minimum, spec.maximum
    if lo is not None and (v <= lo if spec.above else v < lo):
        what = ("positive" if lo == 0 and spec.above else
                "a positive integer" if lo == 1 and spec.kind is int else
                f"{'>' if spec.above else '>='} {lo:g}")
        raise error(f"{name}: must be {what}, got {value!r}")
    if hi is not None and v > hi:
        raise error(f"{name}: must be <= {hi:g}, got {value!r}")
    return v


def check_args(args) -> None:
    """Every numeric option of ``args`` in :data:`NUMBERS`, and every output in :data:`OUTPUTS`."""
    values = vars(args)
    for name, spec in NUMBERS.items():
        if name in values:
            v = values[name]
            if isinstance(v, list):
                values[name] = [check_number(name, x, spec) for x in v]
            else:
                values[name] = check_number(name, v, spec)
    for name, how in OUTPUTS.items():
        if values.get(name) is not None:
            check_output(values[name], name, **how)


def check_config_number(key: str, value):
    return check_number(key, value, CONFIG_NUMBERS[key], error=ConfigError)
