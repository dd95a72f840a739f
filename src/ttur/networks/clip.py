"""The CLIP ViT-L/14@336px image tower (OpenAI) for CMMD, in plain PyTorch.

The network of OpenAI's ``model.py`` ``VisionTransformer`` (= scenic's, = Hugging Face's
``CLIPVisionModelWithProjection``): a 14 x 14 stride-14 convolution without bias -> 576 patch
tokens, the class embedding in front, the 577 position embeddings added, ``ln_pre``, 24 pre-LN
blocks (16-head attention, MLP 1024 -> 4096 -> 1024 with QuickGELU), LayerNorm eps 1e-5,
``ln_post`` on the class token, ``@ proj`` (1024 -> 768, no bias), then divided by its L2 norm.

Weights come from OpenAI's ``ViT-L-14-336px.pt`` (a TorchScript archive holding float16 tensors,
of which the ``visual.*`` ones are used, upcast to float32 like ``clip.load`` on CPU), from a state
dict with those keys, or from the Hugging Face layout (``vision_model.*`` and
``visual_projection.weight``, as a ``torch.save`` file or ``.safetensors``).

CMMD preprocessing (google-research ``cmmd/io_util.py`` and ``embedding.py``): centre crop to the
largest square (``top = (h - l) // 2``, ``left = (w - l) // 2``), Pillow bicubic resize to
336 x 336 in uint8, ``/ 255``, CLIP mean/std in float32. Grayscale images are repeated to three
channels as the reference does. The reference refuses RGBA images (four channels do not meet its
three-channel normalisation); here their alpha channel is dropped, as Pillow's ``convert('RGB')``.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from ..errors import InputError, WeightsError
from ._files import WeightsSpec, read_tensors
from .dinov2 import as_image_list
from .vit import Block, PatchEmbed, build_without_init, load_exact, quick_gelu
from .vit import autocast_context as _autocast

WIDTH, DEPTH, HEADS, PATCH, RESOLUTION, EMBED_DIM = 1024, 24, 16, 14, 336, 768
EPS = 1e-5
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
ENV = "TTUR_CLIP_WEIGHTS"
_SHA = "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02"

#: OpenAI's file; its SHA-256 is the folder name in the URL, which ``clip.load`` checks.
WEIGHTS = WeightsSpec(
    network="clip_vitl14_336",
    filename="ViT-L-14-336px.pt",
    url=f"https://openaipublic.azureedge.net/clip/models/{_SHA}/ViT-L-14-336px.pt",
    sha256=_SHA,
    sha256_note="published by OpenAI as the folder name of the URL (openai/CLIP clip/clip.py checks it)",
    env=ENV,
    known_dirs=("ttur:", "~/.cache/clip"),  # ~/.cache/clip: clip.load's download_root
)


class CLIPVision(nn.Module):
    """CLIP ViT-L/14@336px image encoder; ``forward`` takes normalised ``(N, 3, 336, 336)``."""

    def __init__(self) -> None:
        super().__init__()
        self.dim = EMBED_DIM

        def build():
            self.class_embedding = nn.Parameter(torch.zeros(WIDTH))
            self.positional_embedding = nn.Parameter(torch.zeros((RESOLUTION // PATCH) ** 2 + 1, WIDTH))
            self.patch_embed = PatchEmbed(WIDTH, PATCH, bias=False)
            self.ln_pre = nn.LayerNorm(WIDTH, eps=EPS)
            self.blocks = nn.ModuleList(Block(WIDTH, HEADS, 4 * WIDTH, quick_gelu, EPS, layer_scale=False)
                                        for _ in range(DEPTH))
            self.ln_post = nn.LayerNorm(WIDTH, eps=EPS)
            self.proj = nn.Parameter(torch.zeros(WIDTH, EMBED_DIM))

        build_without_init(self, build)  # all zeros until a checkpoint is loaded
        self.eval().requires_grad_(False)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The projected class token ``ln_post(cls) @ proj`` before normalisation, ``(N, 768)``."""
        n, _, h, w = x.shape
        if (h, w) != (RESOLUTION, RESOLUTION):
            raise InputError(f"the CLIP ViT-L/14@336px input must be {RESOLUTION}x{RESOLUTION}, got {h}x{w}")
        t = self.patch_embed(x.to(self.proj.dtype))
        t = torch.cat((self.class_embedding.expand(n, 1, -1), t), dim=1) + self.positional_embedding
        t = self.ln_pre(t)
        last = len(self.blocks) - 1
        for i, blk in enumerate(self.blocks):
            t = blk(t, cls_only=(i == last))
        return self.ln_post(t[:, 0]) @ self.proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings ``(N, 768)``."""
        e = self.project(x)
        return e / e.norm(dim=-1, keepdim=True)


# ----------------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------------

_BLOCK_OPENAI = {"attn.in_proj_weight": "attn.qkv.weight", "attn.in_proj_bias": "attn.qkv.bias",
                 "attn.out_proj.weight": "attn.proj.weight", "attn.out_proj.bias": "attn.proj.bias",
                 "ln_1.weight": "norm1.weight", "ln_1.bias": "norm1.bias",
                 "ln_2.weight": "norm2.weight", "ln_2.bias": "norm2.bias",
                 "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
                 "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias"}
_TOP_OPENAI = {"class_embedding": "class_embedding", "positional_embedding": "positional_embedding",
               "conv1.weight": "patch_embed.proj.weight", "ln_pre.weight": "ln_pre.weight",
               "ln_pre.bias": "ln_pre.bias", "ln_post.weight": "ln_post.weight",
               "ln_post.bias": "ln_post.bias", "proj": "proj"}
_BLOCK_HF = {"self_attn.out_proj.weight": "attn.proj.weight", "self_attn.out_proj.bias": "attn.proj.bias",
             "layer_norm1.weight": "norm1.weight", "layer_norm1.bias": "norm1.bias",
             "layer_norm2.weight": "norm2.weight", "layer_norm2.bias": "norm2.bias",
             "mlp.fc1.weight": "mlp.fc1.weight", "mlp.fc1.bias": "mlp.fc1.bias",
             "mlp.fc2.weight": "mlp.fc2.weight", "mlp.fc2.bias": "mlp.fc2.bias"}
_TOP_HF = {"embeddings.class_embedding": "class_embedding",
           "embeddings.position_embedding.weight": "positional_embedding",
           "embeddings.patch_embedding.weight": "patch_embed.proj.weight",
           "pre_layrnorm.weight": "ln_pre.weight", "pre_layrnorm.bias": "ln_pre.bias",
           "post_layernorm.weight": "ln_post.weight", "post_layernorm.bias": "ln_post.bias"}


def _from_openai(sd: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    out = {}
    pre = "visual.transformer.resblocks."
    for k, v in sd.items():
        if not k.startswith("visual."):
            continue  # text tower, logit_scale ... of the full model
        name = k[len("visual."):]
        if k.startswith(pre):
            i, rest = k[len(pre):].split(".", 1)
            if rest not in _BLOCK_OPENAI:
                raise WeightsError(f"{source}: unexpected CLIP key {k}")
            out[f"blocks.{i}.{_BLOCK_OPENAI[rest]}"] = v
        elif name in _TOP_OPENAI:
            out[_TOP_OPENAI[name]] = v
        else:
            raise WeightsError(f"{source}: unexpected CLIP key {k} (not a ViT image tower?)")
    return out


def _from_hf(sd: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    out = {}
    pre = "vision_model.encoder.layers."
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        if k == "visual_projection.weight":
            out["proj"] = v.t()
            continue
        if not k.startswith("vision_model.") or k.endswith("position_ids"):
            continue  # text tower of a full CLIPModel; the position_ids buffer
        name = k[len("vision_model."):]
        if k.startswith(pre):
            i, rest = k[len(pre):].split(".", 1)
            if rest[:15] in ("self_attn.q_pro", "self_attn.k_pro", "self_attn.v_pro"):
                qkv.setdefault(f"{i}.{rest.rsplit('.', 1)[1]}", {})[rest[10]] = v
            elif rest in _BLOCK_HF:
                out[f"blocks.{i}.{_BLOCK_HF[rest]}"] = v
            else:
                raise WeightsError(f"{source}: unexpected CLIP key {k}")
        elif name in _TOP_HF:
            out[_TOP_HF[name]] = v
        else:
            raise WeightsError(f"{source}: unexpected CLIP key {k} (not a ViT image tower?)")
    for key, parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise WeightsError(f"{source}: layer {key.split('.')[0]} lacks some of q_proj, k_proj, v_proj")
        i, s = key.split(".")
        out[f"blocks.{i}.attn.qkv.{s}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def convert_state(sd: dict[str, torch.Tensor], source: str = "state dict") -> dict[str, torch.Tensor]:
    """OpenAI (``visual.*``) or Hugging Face (``vision_model.*``) tensors -> this module's keys, float32."""
    if any(k.startswith("visual.") for k in sd):
        out = _from_openai(sd, source)
    elif any(k.startswith("vision_model.") for k in sd):
        out = _from_hf(sd, source)
    else:
        raise WeightsError(f"{source}: not a CLIP model (no visual.* or vision_model.* keys)")
    return {k: v.float() for k, v in out.items()}


def load_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read OpenAI's ``ViT-L-14-336px.pt`` or a state dict in either layout; checked against the
    ViT-L/14@336px shapes. Another network or a truncated file raises ``WeightsError`` naming it."""
    sd = convert_state(read_tensors(path), str(path))
    _check_shapes(sd, str(path))
    return sd


def _check_shapes(sd: dict[str, torch.Tensor], source: str) -> None:
    pos = sd.get("positional_embedding")
    conv = sd.get("patch_embed.proj.weight")
    if pos is None or conv is None:
        raise WeightsError(f"{source}: a CLIP file without the vision tower's embeddings")
    if tuple(conv.shape) != (WIDTH, 3, PATCH, PATCH) or tuple(pos.shape) != ((RESOLUTION // PATCH) ** 2 + 1, WIDTH):
        raise WeightsError(
            f"{source}: CLIP image tower with patch embedding {tuple(conv.shape)} and "
            f"{tuple(pos.shape)} position embeddings, not ViT-L/14@336px"
        )


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> CLIPVision:
    model = CLIPVision()
    load_exact(model, load_state(path), str(path))
    return model.to(device)


def model_from_state(sd: dict[str, torch.Tensor], source: str = "state dict") -> CLIPVision:
    """The network from tensors already in memory (either layout)."""
    model = CLIPVision()
    conv = convert_state(sd, source)
    _check_shapes(conv, source)
    load_exact(model, conv, source)
    return model


# ----------------------------------------------------------------------------------------------
# Preprocessing
# ----------------------------------------------------------------------------------------------

def resize_cmmd(image: np.ndarray) -> np.ndarray:
    """Centre crop to the largest square, Pillow bicubic to 336 x 336: ``(336, 336, 3)`` uint8."""
    from PIL import Image

    (img,) = as_image_list([image])
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = np.ascontiguousarray(img[top:top + side, left:left + side])
    return np.asarray(Image.fromarray(crop, "RGB").resize((RESOLUTION, RESOLUTION), Image.Resampling.BICUBIC))


def preprocess(images) -> torch.Tensor:
    """uint8 images (``NHWC`` batch or list of ``HWC``) -> network input ``(N, 3, 336, 336)`` float32."""
    imgs = as_image_list(images)
    if not imgs:
        return torch.empty(0, 3, RESOLUTION, RESOLUTION)
    x = torch.from_numpy(np.stack([resize_cmmd(im) for im in imgs])).to(torch.float32) / 255.0
    x = (x - torch.tensor(MEAN, dtype=torch.float32)) / torch.tensor(STD, dtype=torch.float32)
    return x.permute(0, 3, 1, 2)


@torch.inference_mode()
def features(images, model: CLIPVision, batch_size: int = 32,
             device: str | torch.device | None = None, autocast: torch.dtype | None = None) -> np.ndarray:
    """L2-normalised CLIP embeddings ``(N, 768)`` (float32 network output as float64), every image kept.

    ``autocast=torch.bfloat16`` runs the network under autocast (for GPUs; not golden-exact).
    """
    imgs = as_image_list(images)
    device = torch.device(device) if device is not None else model.proj.device
    out = []
    for i in range(0, len(imgs), batch_size):
        with _autocast(device, autocast):
            out.append(model(preprocess(imgs[i:i + batch_size]).to(device)).float().cpu())
    if not out:
        return np.zeros((0, EMBED_DIM))
    return torch.cat(out).numpy().astype(np.float64)
