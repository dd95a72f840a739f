"""The paper's experiments, each runnable as ``ttur experiment NAME`` and writing a report folder.

* :mod:`~ttur.experiments.toy`: TTUR vs one time-scale on the saddle f(x, y) = (1 + x²)(100 − y²),
  a 2-D mixture-of-Gaussians GAN over lr_d/lr_g ratios, and the heavy-ball-with-friction checks;
* :mod:`~ttur.experiments.disturb`: FID and Inception Score of images under six disturbances;
* :mod:`~ttur.experiments.compare`: TTUR vs one time-scale for a training configuration;
* :mod:`~ttur.experiments.sweep`: a (lr_d, lr_g) grid searched by successive halving.

A report folder holds PNG plots, ``report.md`` (tables of the numbers) and the raw numbers as
CSV and JSON; it is built under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

#: experiment name -> module (imported when the experiment runs)
EXPERIMENTS = {
    "toy": "ttur.experiments.toy",
    "disturb": "ttur.experiments.disturb",
    "compare": "ttur.experiments.compare",
    "sweep": "ttur.experiments.sweep",
}

__all__ = ["EXPERIMENTS"]
