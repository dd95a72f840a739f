"""ttur: FID as the original TensorFlow code computes it, and GANs trained with the Two Time-Scale Update Rule.

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
NeurIPS 2017.
"""

from .api import FIDResult, compute_stats, fid, frechet_distance, get_extractor
from .errors import ConfigError, InputError, NumericalError, StatsError, TturError, WeightsError
from .features import FeatureExtractor, InceptionExtractor, ModuleExtractor
from .metrics import inception_score, kid
from .sources import GeneratorSource
from .stats import Stats

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "FIDResult", "FeatureExtractor", "GeneratorSource", "InceptionExtractor", "InputError",
    "ModuleExtractor", "NumericalError", "Stats", "StatsError", "TturError", "WeightsError",
    "compute_stats", "fid", "frechet_distance", "get_extractor", "inception_score", "kid",
]
