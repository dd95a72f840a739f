"""GAN training with the Two Time-Scale Update Rule: models, losses, the optimizer pair, the loop.

    from ttur.train import load_config, train
    cfg = load_config("quickstart", ["steps=200"])
    res = train(cfg, "runs/quick")          # TrainResult: metric, best, final, records, ...
"""

from .._util import lazy_attributes

#: public name -> module (imported on first use: checking a config needs no torch)
_LAZY = {"list_configs": ".config", "load_config": ".config", "TrainResult": ".loop", "train": ".loop"}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = ["TrainResult", "list_configs", "load_config", "train"]
