"""DINOv2 ViT-S/14, ViT-B/14 and ViT-L/14 (facebookresearch/dinov2) for FD_DINOv2, in plain PyTorch.

The network is the hub model ``dinov2_vit{s,b,l}14`` with its defaults: patch 14 (convolution with
bias), position embedding for a 37 x 37 grid (518 px) plus the class token, pre-LN blocks with
LayerScale on both branches, exact GELU, LayerNorm eps 1e-6, no register tokens. The feature is the
class token after the final LayerNorm (``forward()`` of the hub model: 384 / 768 / 1024 values).

At 224 x 224 the patch position embedding is resized every call exactly as the official
``interpolate_pos_encoding`` does: bicubic (torch, a = -0.75, no antialias) with
``scale_factor = (16 + 0.1) / 37`` per side, not ``size=(16, 16)``; the source coordinates differ
and the features move by about 0.05 if the obvious call is used.

Preprocessing modes (uint8 RGB images in, normalised ``(N, 3, 224, 224)`` float32 out):

* ``edm2`` (EDM2 ``calculate_metrics.py``, ``fd_dinov2``): torch bicubic with antialias on the
  float 0..255 values, not rounded, not clipped; ``/255``; ImageNet mean/std.
* ``dgm-eval`` (dgm-eval's default, = EDM2's ``resize_mode='pil'``): Pillow's uint8 bicubic resize
  of the RGB image, ``/255``, ImageNet mean/std.
* ``dgm-eval-clean`` (dgm-eval ``--clean_resize``): each channel as a Pillow float image, bicubic,
  clipped to 0..255, not rounded, ``/255``, ImageNet mean/std.

All three stretch the image to 224 x 224 (no crop). Grayscale images are repeated to three channels
and the alpha channel of RGBA images is dropped, as Pillow's ``convert('RGB')`` does (dgm-eval
converts every image so; EDM2 expects RGB input).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError, WeightsError
from ._files import WeightsSpec, read_tensors
from .vit import Block, PatchEmbed, build_without_init, gelu, load_exact
from .vit import autocast_context as _autocast

_BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"
_SHA_NOTE = ("Meta publishes no checksum for the DINOv2 checkpoints (the hub loader downloads "
             "them without check_hash and the file names carry no hash prefix)")

#: arch -> (width, depth, heads)
ARCHS = {"vits14": (384, 12, 6), "vitb14": (768, 12, 12), "vitl14": (1024, 24, 16)}
ARCH_NAMES = {"vits14": "ViT-S/14", "vitb14": "ViT-B/14", "vitl14": "ViT-L/14"}
PATCH = 14
GRID = 37  # position embedding grid of the checkpoints (518 px)
INTERPOLATE_OFFSET = 0.1
EPS = 1e-6
RESOLUTION = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MODES = ("edm2", "dgm-eval", "dgm-eval-clean")
DEFAULT_ARCH = "vitl14"
DEFAULT_MODE = "edm2"
ENV = "TTUR_DINOV2_WEIGHTS"


def weights_spec(arch: str = DEFAULT_ARCH) -> WeightsSpec:
    """The official checkpoint of ``arch``; torch hub keeps it in ``<hub>/checkpoints`` (EDM2 points
    the hub at ``~/.cache/dnnlib/torch_hub``)."""
    _check_arch(arch)
    name = f"dinov2_{arch}"
    return WeightsSpec(
        network=name,
        filename=f"{name}_pretrain.pth",
        url=f"{_BASE_URL}/{name}/{name}_pretrain.pth",
        sha256=None,
        sha256_note=_SHA_NOTE,
        env=ENV,
        known_dirs=("ttur:", "hub:checkpoints", "~/.cache/dnnlib/torch_hub/checkpoints"),
    )


def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise InputError(f"unknown DINOv2 architecture {arch!r}: choose one of {', '.join(ARCHS)}")


#: the official checkpoint of each architecture
WEIGHTS = {arch: weights_spec(arch) for arch in ARCHS}


class DINOv2(nn.Module):
    """The DINOv2 backbone; ``forward`` takes normalised ``(N, 3, H, W)`` (H, W multiples of 14)."""

    def __init__(self, arch: str = DEFAULT_ARCH) -> None:
        super().__init__()
        _check_arch(arch)
        self.arch = arch
        dim, depth, heads = ARCHS[arch]
        self.dim = dim

        def build():
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(torch.zeros(1, GRID * GRID + 1, dim))
            self.mask_token = nn.Parameter(torch.zeros(1, dim))  # in the checkpoints; unused here
            self.patch_embed = PatchEmbed(dim, PATCH, bias=True)
            self.blocks = nn.ModuleList(Block(dim, heads, 4 * dim, gelu, EPS, layer_scale=True)
                                        for _ in range(depth))
            self.norm = nn.LayerNorm(dim, eps=EPS)

        build_without_init(self, build)  # all zeros until a checkpoint is loaded
        self.eval().requires_grad_(False)

    def position_embedding(self, h: int, w: int) -> torch.Tensor:
        """``(1, 1 + h*w, D)`` for an ``h x w`` patch grid, as the official ``interpolate_pos_encoding``."""
        pos = self.pos_embed
        if h * w == GRID * GRID and h == w:
            return pos
        dtype = pos.dtype
        pos = pos.float()
        grid = pos[:, 1:].reshape(1, GRID, GRID, self.dim).permute(0, 3, 1, 2)
        scale = ((h + INTERPOLATE_OFFSET) / GRID, (w + INTERPOLATE_OFFSET) / GRID)
        grid = F.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=False)
        if tuple(grid.shape[-2:]) != (h, w):  # pragma: no cover - the offset rules this out
            raise RuntimeError(f"position embedding resized to {tuple(grid.shape[-2:])}, not {(h, w)}")
        grid = grid.permute(0, 2, 3, 1).reshape(1, h * w, self.dim)
        return torch.cat((pos[:, :1], grid), dim=1).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class token after the final LayerNorm, ``(N, D)``."""
        n, _, hh, ww = x.shape
        if hh % PATCH or ww % PATCH:
            raise InputError(f"DINOv2 input must be a multiple of {PATCH} pixels, got {hh}x{ww}")
        t = self.patch_embed(x.to(self.cls_token.dtype))
        t = torch.cat((self.cls_token.expand(n, -1, -1), t), dim=1)
        t = t + self.position_embedding(hh // PATCH, ww // PATCH)
        last = len(self.blocks) - 1
        for i, blk in enumerate(self.blocks):
            t = blk(t, cls_only=(i == last))
        return self.norm(t[:, 0])


def arch_of_state(sd: dict[str, torch.Tensor]) -> str | None:
    """The architecture a DINOv2 state dict belongs to, from its width and depth; None if none fits."""
    cls = sd.get("cls_token")
    if cls is None or cls.ndim != 3:
        return None
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    for arch, (dim, d, _) in ARCHS.items():
        if cls.shape[-1] == dim and depth == d:
            return arch
    return None


def load_state(path: str | os.PathLike, arch: str | None = None) -> tuple[str, dict[str, torch.Tensor]]:
    """Read and check a ``dinov2_vit*14_pretrain.pth`` state dict: ``(arch, state dict)``.

    A file of another network, of another DINOv2 size than ``arch``, or a truncated file raises
    ``WeightsError`` naming the file.
    """
    if arch is not None:
        _check_arch(arch)
    sd = read_tensors(path)
    found = arch_of_state(sd)
    if found is None:
        if any(k.startswith("register_tokens") for k in sd):
            raise WeightsError(f"{path}: a DINOv2 checkpoint with register tokens; ttur supports the "
                               "plain dinov2_vit{s,b,l}14_pretrain.pth files")
        hint = "" if "cls_token" in sd else " (no cls_token)"
        raise WeightsError(f"{path}: not a DINOv2 ViT-S/14, ViT-B/14 or ViT-L/14 state dict{hint}")
    if arch is not None and found != arch:
        raise WeightsError(f"{path}: holds DINOv2 {ARCH_NAMES[found]} weights, not {ARCH_NAMES[arch]}")
    return found, sd


def load_model(path: str | os.PathLike, arch: str | None = None,
               device: str | torch.device = "cpu") -> DINOv2:
    """The DINOv2 network of ``arch`` (detected from the file if None) with the weights in ``path``."""
    found, sd = load_state(path, arch)
    model = DINOv2(found)
    load_exact(model, sd, str(path))
    return model.to(device)


# ----------------------------------------------------------------------------------------------
# Preprocessing
# ----------------------------------------------------------------------------------------------

def to_rgb(image: np.ndarray) -> np.ndarray:
    """``HxW``, ``HxWx1`` (gray), ``HxWx2`` (gray + alpha), ``HxWx3`` or ``HxWx4`` (RGBA) uint8 ->
    ``HxWx3``, as Pillow's ``convert('RGB')``: gray repeated, alpha dropped."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise InputError(f"images must be uint8, got {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"an image must be HxW or HxWxC with C in 1..4, got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"an empty image ({a.shape[1]}x{a.shape[0]} pixels)")
    c = a.shape[2]
    if c in (1, 2):
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif c == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def as_image_list(images) -> list[np.ndarray]:
    """A uint8 ``NHWC`` array or tensor, or a sequence of ``HWC``/``HW`` arrays -> list of RGB arrays."""
    if isinstance(images, torch.Tensor):
        images = images.cpu().numpy()
    if isinstance(images, np.ndarray):
        if images.ndim == 3 and images.shape[-1] not in (1, 2, 3, 4):
            images = images[..., None]  # N x H x W gray
        if images.ndim != 4:
            raise InputError(f"a batch of images must be N x H x W x C, got shape {images.shape}")
        return [to_rgb(x) for x in images]
    if isinstance(images, Sequence):
        return [to_rgb(x) for x in images]
    raise InputError(f"images must be an array, a tensor or a list of arrays, not {type(images).__name__}")


def _normalise(x: torch.Tensor) -> torch.Tensor:
    """``(x / 255 - mean) / std`` in float32 on ``(N, 3, H, W)``, in the references' order."""
    x = x / 255
    x = x - torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    return x / torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)


def _resize_torch(img: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].to(torch.float32)
    return F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bicubic", antialias=True)


def _resize_pil(img: np.ndarray) -> torch.Tensor:
    from PIL import Image

    r = np.array(Image.fromarray(img, "RGB").resize((RESOLUTION, RESOLUTION), Image.Resampling.BICUBIC))
    return torch.from_numpy(np.ascontiguousarray(r)).permute(2, 0, 1)[None].to(torch.float32)


def _resize_pil_float(img: np.ndarray) -> torch.Tensor:
    from PIL import Image

    f = img.astype(np.float32)
    chans = []
    for c in range(3):
        im = Image.fromarray(np.ascontiguousarray(f[:, :, c]))  # mode 'F'
        r = np.asarray(im.resize((RESOLUTION, RESOLUTION), Image.Resampling.BICUBIC), dtype=np.float32)
        chans.append(np.clip(r, 0, 255))
    return torch.from_numpy(np.stack(chans))[None]


_RESIZERS = {"edm2": _resize_torch, "dgm-eval": _resize_pil, "dgm-eval-clean": _resize_pil_float}


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InputError(f"unknown DINOv2 preprocessing mode {mode!r}: choose one of {', '.join(MODES)}")


def preprocess(images, mode: str = DEFAULT_MODE) -> torch.Tensor:
    """uint8 RGB images (``NHWC`` batch or list of ``HWC``) -> network input ``(N, 3, 224, 224)`` float32."""
    check_mode(mode)
    imgs = as_image_list(images)
    if not imgs:
        return torch.empty(0, 3, RESOLUTION, RESOLUTION)
    resize = _RESIZERS[mode]
    if mode == "edm2" and len({x.shape for x in imgs}) == 1:  # one interpolate call for the batch
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).to(torch.float32)
        x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bicubic", antialias=True)
    else:
        x = torch.cat([resize(im) for im in imgs])
    return _normalise(x)


def preprocess_edm2(images) -> torch.Tensor:
    return preprocess(images, "edm2")


def preprocess_dgm_eval(images) -> torch.Tensor:
    return preprocess(images, "dgm-eval")


def preprocess_dgm_eval_clean(images) -> torch.Tensor:
    return preprocess(images, "dgm-eval-clean")


@torch.inference_mode()
def features(images, model: DINOv2, mode: str = DEFAULT_MODE, batch_size: int = 32,
             device: str | torch.device | None = None, autocast: torch.dtype | None = None) -> np.ndarray:
    """DINOv2 features ``(N, D)`` (float32 network output as float64) of uint8 images, in batches.

    ``autocast=torch.bfloat16`` runs the network under autocast (for GPUs; not golden-exact).
    """
    check_mode(mode)
    imgs = as_image_list(images)
    device = torch.device(device) if device is not None else model.cls_token.device
    out = []
    for i in range(0, len(imgs), batch_size):
        x = preprocess(imgs[i:i + batch_size], mode).to(device)
        with _autocast(device, autocast):
            out.append(model(x).float().cpu())
    if not out:
        return np.zeros((0, model.dim))
    return torch.cat(out).numpy().astype(np.float64)
