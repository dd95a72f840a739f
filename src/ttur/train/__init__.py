"""GAN training with the Two Time-Scale Update Rule: models, losses, the optimizer pair, the loop.

    from ttur.train import load_config, train
    cfg = load_config("quickstart", ["steps=200"])
    res = train(cfg, "runs/quick")          # TrainResult: metric, best, final, records, ...
"""

from .config import list_configs, load_config
from .loop import TrainResult, train

__all__ = ["TrainResult", "list_configs", "load_config", "train"]
