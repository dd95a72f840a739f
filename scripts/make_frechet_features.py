"""Write ``tests/data/pool3_pytorch-fid_stand-in_f16.npz``: real pool3 features for the Fréchet tests.

The features of the first 2,049 images of the CIFAR-10 test zip (the 1,000 airplanes, the 1,000
automobiles, 49 birds), of the first 2,049 of the train zip (airplanes) and of the 32 CelebA images in
``../shared/data``, through ttur's ``pytorch-fid`` pipeline with the stand-in Inception weights of
``../shared/fixtures/fake_weights.py``, stored as float16 (14.5 MB instead of 34 MB). The tests
compare the Fréchet step from covariances with the exact value from these same rows, so the rounding
to float16 changes nothing they check; it keeps a realistic spectrum (174 dead dimensions, a long
tail of small eigenvalues) at every sample count up to just past the dimension.

    python scripts/make_frechet_features.py --weights /tmp/fake.pth   # about 30 min on 2 cores
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "data" / "pool3_pytorch-fid_stand-in_f16.npz"


def first_images(zip_path: Path, n: int) -> np.ndarray:
    with zipfile.ZipFile(zip_path) as z:
        names = [m for m in z.namelist() if m.lower().endswith(".jpg")][:n]
        return np.stack([np.asarray(Image.open(io.BytesIO(z.read(m))).convert("RGB")) for m in names])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="the stand-in Inception weights (fake_weights.py)")
    ap.add_argument("-n", type=int, default=2049, help="images per CIFAR-10 side")
    args = ap.parse_args()
    from ttur.metrics.extract import extract
    from ttur.metrics.sources import open_source
    from ttur.networks import get_extractor

    ext = get_extractor(None, mode="pytorch-fid", weights=args.weights)

    def features(src) -> np.ndarray:
        ex = extract(open_source(src, num_workers=0), ext, batch_size=50, keep_features=True)
        return ex.features.astype(np.float16)

    out = {
        "cifar10_test": features(first_images(DATA / "cifar10_jpeg_test.zip", args.n)),
        "cifar10_train": features(first_images(DATA / "cifar10_jpeg_train.zip", args.n)),
        "celeba": features(str(DATA / "celeba_img_align_000001-000032.zip")),
    }
    tmp = OUT.with_name(OUT.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **out)
    tmp.replace(OUT)
    print(OUT, {k: v.shape for k, v in out.items()})


if __name__ == "__main__":
    main()
