"""GAN training with the Two Time-Scale Update Rule: models, losses, the optimizer pair, the loop.

    from ttur.train import load_config, train
    cfg = load_config("quickstart", ["steps=200"])
    res = train(cfg, "runs/quick")          # TrainResult: metric, best, final, records, ...
"""

import importlib

#: public name -> module (imported on first use: checking a config needs no torch)
_LAZY = {"list_configs": ".config", "load_config": ".config", "TrainResult": ".loop", "train": ".loop"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'ttur.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = ["TrainResult", "list_configs", "load_config", "train"]
