"""Small feature extractors shipped with ttur, for distances that need no download.

``shapes``: :class:`ShapesNet`, a compact CNN trained (by ``scripts/train_small_features.py``) to
classify images of the embedded procedural dataset (:mod:`ttur.shapes.dataset`): how many shapes an image
holds, which kinds (disk, square, triangle) and which hues. Its 128-d penultimate layer (the
global average of the last convolution, as Inception's pool3) is the feature vector. Distances on
it are reported as "FD (shapes features)": they rank samples of the shapes dataset, offline and in
a fraction of a second, but they are not FID and are not comparable with published numbers.
"""

from __future__ import annotations

import importlib
import io
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from .._util import atomic_write, sha256_file
from ..errors import InputError, WeightsError
from .base import ModuleExtractor

#: bundled extractors: name -> (weights file in ttur/data, its SHA-256, the script that trained it,
#: the network class as "module:Class" within ttur.networks, imported when the network is built)
BUNDLED: dict[str, tuple[str, str, str, str]] = {
    "shapes": ("shapes_features.pt", "958333e0c7217af7d914af201cf0596fe03768b3f76c4a83ba9bad9a0ec28715",
               "scripts/train_small_features.py", ".small:ShapesNet"),
    "cifar10": ("cifar10_features.pt", "84178b6c779618644252c9ef45de06b57fe0000124a48ac6311faaae5fed0206",
                "scripts/train_cifar10_features.py", ".cifar10:Cifar10Net"),
}
#: name -> (weights file, SHA-256)
KNOWN: dict[str, tuple[str, str]] = {k: v[:2] for k, v in BUNDLED.items()}
WIDTHS = (24, 48, 96, 128)
INPUT_SIZE = 32
#: classifier heads of the shapes labels (:func:`ttur.shapes.dataset.labels`): name -> number of outputs
HEADS = {"count": 3, "kinds": 3, "hues": 6}


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ShapesNet(nn.Module):
    """Four 3x3 convolutions (with batch norm) at 32, 16, 8 and 4 pixels, a global average pool to
    ``widths[-1]`` (128) features, and one linear layer to the classifier logits.

    ``forward(x)`` takes images NCHW in [-1, 1] (32x32) and returns the features; :meth:`classify`
    the logits, split by head.
    """

    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        a, b, c, d = widths
        self.widths = tuple(widths)
        self.body = nn.Sequential(
            *_block(3, a), nn.MaxPool2d(2),
            *_block(a, b), nn.MaxPool2d(2),
            *_block(b, c), nn.MaxPool2d(2),
            *_block(c, d), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(d, sum(HEADS.values()))

    @property
    def dims(self) -> int:
        return self.widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def classify(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per head: ``count`` (N, 3) classes, ``kinds`` (N, 3) and ``hues`` (N, 6) presence."""
        out = self.head(self.body(x))
        return dict(zip(HEADS, out.split(list(HEADS.values()), dim=1), strict=True))


def weights_path(name: str = "shapes") -> Path:
    """The bundled weights file of extractor ``name``."""
    _check_name(name)
    return Path(str(resources.files("ttur") / "data" / KNOWN[name][0]))


def _check_name(name: str) -> None:
    if name not in KNOWN:
        raise InputError(f"extractor: unknown bundled feature extractor {name!r}; known: {', '.join(KNOWN)}")


def save_weights(model: ShapesNet, path: str | Path, info: dict | None = None) -> str:
    """Write ``model`` to ``path`` atomically, byte for byte the same for the same weights (the
    archive is built in memory under a fixed name); returns the file's SHA-256."""
    buf = io.BytesIO()
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save({"state_dict": sd, "widths": list(model.widths), "input_size": INPUT_SIZE,
                "info": dict(info or {})}, buf)
    with atomic_write(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return sha256_file(path)


def _network(name: str, widths: tuple[int, ...]) -> nn.Module:
    module, cls = BUNDLED[name][3].split(":")
    return getattr(importlib.import_module(module, __package__), cls)(widths)


def load_bundled_net(name: str, path: str | Path | None = None, check_hash: bool = True) -> tuple[nn.Module, dict]:
    """The trained bundled network ``name`` (float32, eval mode, on the CPU) and the dict saved with it.

    The bundled file is checked against its known SHA-256 (``check_hash``); a missing, different or
    unreadable file raises :class:`~ttur.errors.WeightsError`.
    """
    _check_name(name)
    _, sha, script, _ = BUNDLED[name]
    p = Path(path) if path is not None else weights_path(name)
    if not p.is_file():
        raise WeightsError(f"{p}: the {name} feature extractor's weights are missing (reinstall ttur, or run {script})")
    if check_hash and path is None:
        got = sha256_file(p)
        if got != sha:
            raise WeightsError(f"{p}: SHA-256 {got[:12]}... is not that of the bundled {name} weights "
                               f"({sha[:12]}...); the file is damaged or was retrained")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
        model = _network(name, tuple(blob["widths"]))
        model.load_state_dict(blob["state_dict"], strict=True)
    except Exception as e:  # torch raises many types for a bad file
        raise WeightsError(f"{p}: not a {name} feature extractor weights file ({type(e).__name__}: {e})") from e
    return model.float().eval().requires_grad_(False), blob


def load_shapes_net(path: str | Path | None = None, check_hash: bool = True) -> tuple[ShapesNet, dict]:
    """The trained :class:`ShapesNet` and the dict saved with it (:func:`load_bundled_net`)."""
    return load_bundled_net("shapes", path, check_hash)


class SmallExtractor(ModuleExtractor):
    """A bundled small network as a :class:`~ttur.networks.base.FeatureExtractor` ("FD (<name> features)")."""

    def __init__(self, name: str, model: nn.Module, path: Path, device=None) -> None:
        super().__init__(model, name=name, input_size=INPUT_SIZE, device=device)
        self.path = path
        self.weights_sha256 = sha256_file(path)  # the file's hash, not the in-memory layout's


def load_small_extractor(name: str = "shapes", device=None) -> SmallExtractor:
    """The bundled feature extractor ``name`` (``shapes``, ``cifar10``); no download, no Inception weights.

    Raises :class:`~ttur.errors.InputError` for an unknown name.
    """
    name = str(name)
    model, _ = load_bundled_net(name)
    return SmallExtractor(name, model, weights_path(name), device=device)


__all__ = ["BUNDLED", "KNOWN", "ShapesNet", "SmallExtractor", "load_bundled_net", "load_shapes_net",
           "load_small_extractor", "weights_path"]
