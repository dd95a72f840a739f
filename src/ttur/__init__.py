"""ttur: FID as the original TensorFlow code computes it, and GANs trained with the Two Time-Scale Update Rule.

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
NeurIPS 2017. The public names below are imported on first use, so ``import ttur`` (and ``ttur
--help``) stays light; docs/architecture.md describes the layout.
"""

from __future__ import annotations

from ._util import lazy_attributes
from .errors import ConfigError, InputError, NumericalError, StatsError, TturError, WeightsError

__version__ = "0.1.0"

#: public name -> module that defines it (imported when the name is first used)
_LAZY = {
    "FID": "ttur.metrics.fid_metric",
    "FIDResult": "ttur.metrics.api",
    "compute_stats": "ttur.metrics.api",
    "fid": "ttur.metrics.api",
    "evaluate": "ttur.metrics.evaluate",
    "EvalResult": "ttur.metrics.evaluate",
    "frechet_distance": "ttur.metrics.distances",
    "inception_score": "ttur.metrics.distances",
    "kid": "ttur.metrics.distances",
    "get_extractor": "ttur.networks",
    "FeatureExtractor": "ttur.networks.base",
    "ModuleExtractor": "ttur.networks.base",
    "InceptionExtractor": "ttur.networks.inception",
    "GeneratorSource": "ttur.metrics.sources",
    "Stats": "ttur.metrics.stats",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ConfigError", "EvalResult", "FID", "FIDResult", "FeatureExtractor", "GeneratorSource", "InceptionExtractor",
    "InputError", "ModuleExtractor", "NumericalError", "Stats", "StatsError", "TturError", "WeightsError",
    "compute_stats", "evaluate", "fid", "frechet_distance", "get_extractor", "inception_score", "kid",
]
