"""Errors a user can cause. The CLI prints their message as one line on stderr and exits with 2."""

from __future__ import annotations


class TturError(Exception):
    """Base class of every error ttur raises for bad input, bad arguments or missing files."""


class InputError(TturError):
    """An image source cannot be read: missing, empty, corrupt, of an unknown type, or of a bad shape."""


class StatsError(TturError):
    """A statistics file cannot be read, or two statistics cannot be compared."""


class WeightsError(TturError):
    """Network weights are missing, corrupt, or do not fit the network."""


class ConfigError(TturError):
    """A training or experiment configuration is invalid."""


class NumericalError(TturError):
    """A computation produced NaN or infinity."""


class PeerError(TturError):
    """Another process of a torch.distributed group failed; it reports the cause itself."""
