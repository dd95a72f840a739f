"""The peers' own code, run the way their users run it, for the speed benchmarks.

pytorch-fid and torch-fidelity are not ttur dependencies: they live only in a benchmark environment,

    python -m venv .bench && . .bench/bin/activate
    pip install torch==2.13.0
    pip download torchvision==0.28.0 --no-deps -d /tmp/tv && pip install /tmp/tv/torchvision-*.whl --no-deps
    pip install pytorch-fid==0.3.0 torch-fidelity==0.4.0 --no-deps && pip install scipy pillow tqdm -e .

PyPI's torchvision beside the CPU build of torch imports only after its two custom operators
(``nms``, ``qnms``) have a schema: its C extension does not load, and nothing the peers' Inception
code uses needs it. :func:`import_torchvision` gives them that schema first. Both peers load the
Inception weights with ``torch.hub.load_state_dict_from_url``: :func:`hub_with_weights` puts a
weights file where that function looks (``$TORCH_HOME/hub/checkpoints``), under both peers' file
names, so nothing is downloaded.

Also a command runner: ``python benchmarks/peers.py pytorch-fid A B`` or ``python
benchmarks/peers.py fidelity --fid --input1 A --input2 B`` runs the peer's own command-line entry
point after the patch.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"
TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
_TORCHVISION_OPS = None


def import_torchvision():
    import torch

    try:
        import torchvision
        return torchvision
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]
    global _TORCHVISION_OPS
    _TORCHVISION_OPS = torch.library.Library("torchvision", "DEF")  # the schemas live as long as it does
    for op in ("nms", "qnms"):
        _TORCHVISION_OPS.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision
    return torchvision


def have_peers() -> str | None:
    """None when pytorch-fid imports here, else the reason."""
    try:
        import_torchvision()
        import pytorch_fid.inception  # noqa: F401
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return f"{type(e).__name__}: {e}"
    return None


def shared() -> Path:
    return Path(os.environ.get("TTUR_SHARED", ROOT.parent / "shared"))


def stand_in_weights(path: Path) -> Path:
    """The stand-in Inception weights of ../shared/fixtures (speed does not depend on their values)."""
    import importlib.util
    import json

    import torch

    if not path.exists():
        fx = shared() / "fixtures"
        spec = importlib.util.spec_from_file_location("fake_weights", fx / "fake_weights.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        tmp = path.with_suffix(".tmp")
        torch.save(mod.fake_state_dict(json.loads((fx / "fid_inception_keys.json").read_text())), tmp)
        tmp.replace(path)
    return path


def hub_with_weights(weights: Path, torch_home: Path) -> Path:
    """A TORCH_HOME whose hub checkpoints hold ``weights`` under both peers' file names."""
    ck = torch_home / "hub" / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    for name in (PYTORCH_FID_FILE, TORCH_FIDELITY_FILE):
        target = ck / name
        if not target.exists():
            target.symlink_to(Path(weights).resolve())
    return torch_home


def jpeg_folder(out: Path, split: str, n: int) -> Path:
    """The first ``n`` CIFAR-10 JPEGs of a split (``test``: 10,000; ``train``: 50,000) as a folder."""
    folder = out / f"cifar10_{split}_{n}"
    if not folder.exists() or len(list(folder.iterdir())) != n:
        tmp = out / f".{folder.name}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(shared() / "data" / f"cifar10_jpeg_{split}.zip") as z:
            names = sorted(m for m in z.namelist() if m.lower().endswith((".jpg", ".jpeg")))
            if len(names) < n:
                raise SystemExit(f"cifar10_jpeg_{split}.zip holds {len(names)} JPEGs, not {n}")
            for i, m in enumerate(names[:n]):
                (tmp / f"{i:05d}.jpg").write_bytes(z.read(m))
        tmp.replace(folder)
    return folder


def jpeg_folders(out: Path, n: int) -> tuple[Path, Path]:
    """The first ``n`` CIFAR-10 test and ``n`` training JPEGs of ../shared/data, as two folders."""
    return jpeg_folder(out, "test", n), jpeg_folder(out, "train", n)


def _run_cli(argv: list[str]) -> None:
    import_torchvision()
    name, args = argv[0], argv[1:]
    if name == "pytorch-fid":
        from pytorch_fid.fid_score import main
    elif name == "fidelity":
        from torch_fidelity.fidelity import main
    else:
        raise SystemExit(f"unknown peer command {name!r}: pytorch-fid or fidelity")
    sys.argv = [name, *args]
    main()


if __name__ == "__main__":
    _run_cli(sys.argv[1:])
