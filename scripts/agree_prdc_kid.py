"""Precision/recall/density/coverage and KID of ttur against the reference packages on a real pair.

The pair: pool3 features (ttur's pytorch-fid pipeline, stand-in weights) of the first 1,000 CIFAR-10
test and 1,000 training JPEGs (all airplanes), kept in ``tests/data/pool3_pytorch-fid_stand-in_f16.npz``
by ``scripts/make_frechet_features.py``. Each tool runs in its own environment and prints JSON:

    python scripts/agree_prdc_kid.py ttur                       # this environment
    python scripts/agree_prdc_kid.py prdc                       # with the prdc package (the test extras)
    REFVENV/bin/python scripts/agree_prdc_kid.py torch-fidelity # torch-fidelity 0.4.0 installed there

torch-fidelity imports torchvision at start, whose wheels do not load with this CPU torch: the
script puts a small stand-in package first on the path (only torch-fidelity's KID on given features
runs; nothing of torchvision is used).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

FEATURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "pool3_pytorch-fid_stand-in_f16.npz"


def _torchvision_stand_in() -> None:
    root = Path(tempfile.mkdtemp()) / "torchvision"
    for sub, text in {"": "from . import datasets, io, transforms  # noqa: F401\n",
                      "datasets": "class CIFAR10: pass\nclass CIFAR100: pass\nclass STL10: pass\n",
                      "io": "class ImageReadMode:\n    RGB = 'RGB'\n\n"
                            "def read_image(*a, **k):\n    raise NotImplementedError\n",
                      "transforms": "".join(f"class {c}:\n    def __init__(self, *a, **k): pass\n" for c in
                                            ("Compose", "ToTensor", "Resize", "CenterCrop", "Normalize",
                                             "PILToTensor", "Lambda"))}.items():
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        (d / "__init__.py").write_text(text)
    (root / "transforms" / "functional.py").write_text("")
    sys.path.insert(0, str(root.parent))


def main() -> None:
    tool = sys.argv[1] if len(sys.argv) > 1 else "ttur"
    d = np.load(FEATURES)
    a = d["cifar10_test"][:1000].astype(np.float64)  # A: the "generated" side
    b = d["cifar10_train"][:1000].astype(np.float64)  # B: the reference (real) side
    if tool == "ttur":
        from ttur.metrics.distances import kid
        from ttur.metrics.manifold import manifold_metrics

        m, s = kid(a, b, subsets=100, subset_size=1000, seed=0)
        out = {"k3_5": manifold_metrics(b, a, k_pr=3, k_dc=5), "k5": manifold_metrics(b, a, k_pr=5, k_dc=5),
               "kid_mean": m, "kid_std": s}
    elif tool == "prdc":
        import prdc

        r3 = prdc.compute_prdc(real_features=b.astype(np.float32), fake_features=a.astype(np.float32), nearest_k=3)
        r5 = prdc.compute_prdc(real_features=b.astype(np.float32), fake_features=a.astype(np.float32), nearest_k=5)
        out = {"k3_5": {"precision": r3["precision"], "recall": r3["recall"], "density": r5["density"],
                        "coverage": r5["coverage"]}, "k5": r5}
    elif tool == "torch-fidelity":
        _torchvision_stand_in()
        import torch
        from torch_fidelity.metric_kid import kid_features_to_metric

        r = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=100, kid_subset_size=1000,
                                   verbose=False, rng_seed=0)
        out = {"kid_mean": r["kernel_inception_distance_mean"], "kid_std": r["kernel_inception_distance_std"]}
    else:
        raise SystemExit(f"unknown tool {tool!r}: ttur, prdc or torch-fidelity")
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
