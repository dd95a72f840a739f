"""Vision-transformer pieces shared by the DINOv2 and CLIP image towers, for inference only.

Both towers are pre-LayerNorm transformers over patch tokens with a class token in front:

    x = x + ls1 * proj(attention(norm1(x)))
    x = x + ls2 * fc2(act(fc1(norm2(x))))

DINOv2 has LayerScale (``ls1``/``ls2``) and exact GELU; CLIP has no LayerScale and QuickGELU. The
module names here follow DINOv2's state dict (``blocks.N.attn.qkv``, ``mlp.fc1`` ...); the CLIP
loader renames OpenAI's or Hugging Face's keys into them.

Speed without changing the arithmetic beyond float32 rounding: the patch embedding is a
convolution run in channels-last memory (its output is already token-major, so flattening is free),
attention is ``scaled_dot_product_attention`` (no n x n score matrix kept per head on CPU), the
residual update with LayerScale is one ``addcmul``, and when only the class token is wanted the
last block computes queries, the projection and the MLP for that token alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbed(nn.Module):
    """``Conv2d(in_ch, dim, patch, stride=patch)`` -> tokens ``(B, h*w, dim)`` in row-major patch order."""

    def __init__(self, dim: int, patch: int, bias: bool, in_ch: int = 3) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_ch, dim, patch, stride=patch, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        w = self.proj.weight
        if not w.is_contiguous(memory_format=torch.channels_last):
            w = w.contiguous(memory_format=torch.channels_last)
        y = F.conv2d(x, w, self.proj.bias, stride=self.patch)  # (B, D, h, w), stored as (B, h, w, D)
        return y.permute(0, 2, 3, 1).flatten(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused q, k, v projection (``qkv``: D -> 3D) and ``proj``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cls_only: bool = False) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        if cls_only:  # queries of the class token only; keys and values of every token
            w, bias = self.qkv.weight, self.qkv.bias
            q = F.linear(x[:, :1], w[:d], bias[:d]).view(b, 1, h, d // h).transpose(1, 2)
            kv = F.linear(x, w[d:], bias[d:]).view(b, n, 2, h, d // h).permute(2, 0, 3, 1, 4)
            k, v = kv[0], kv[1]
            n_out = 1
        else:
            qkv = self.qkv(x).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            n_out = n
        y = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d_head)) v
        return self.proj(y.transpose(1, 2).reshape(b, n_out, d))


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """CLIP's activation, ``x * sigmoid(1.702 x)``, in place on ``x`` (a fresh MLP hidden tensor)."""
    return x.mul_(torch.sigmoid(1.702 * x))


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU as ``nn.GELU()``, in place on ``x`` (a fresh MLP hidden tensor)."""
    return torch.ops.aten.gelu_(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, act) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))


class Block(nn.Module):
    """Pre-LN transformer block; ``layer_scale`` adds DINOv2's ``ls1.gamma``/``ls2.gamma``."""

    def __init__(self, dim: int, heads: int, mlp_hidden: int, act, eps: float,
                 layer_scale: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden, act)
        if layer_scale:
            self.ls1 = LayerScale(dim)
            self.ls2 = LayerScale(dim)
        else:
            self.ls1 = self.ls2 = None

    def _residual(self, x: torch.Tensor, y: torch.Tensor, ls: LayerScale | None) -> torch.Tensor:
        return x + y if ls is None else torch.addcmul(x, ls.gamma, y)

    def forward(self, x: torch.Tensor, cls_only: bool = False) -> torch.Tensor:
        """All tokens out, or (``cls_only``) the class token alone, shape ``(B, 1, D)``."""
        y = self.attn(self.norm1(x), cls_only=cls_only)
        x = self._residual(x[:, :1] if cls_only else x, y, self.ls1)
        return self._residual(x, self.mlp(self.norm2(x)), self.ls2)


def load_exact(module: nn.Module, sd: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``sd`` into ``module``; every key and shape must match (else ``WeightsError`` naming ``source``)."""
    from ..errors import WeightsError

    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        raise WeightsError(f"{source}: weights do not fit the network: " + ", ".join(parts) + " keys")
    for k, t in own.items():
        if tuple(sd[k].shape) != tuple(t.shape):
            raise WeightsError(
                f"{source}: weights do not fit the network: {k} has shape {tuple(sd[k].shape)}, "
                f"expected {tuple(t.shape)}"
            )
    with torch.no_grad():
        for k, t in own.items():
            t.copy_(sd[k].to(t.dtype))


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` to ``dtype`` (e.g. ``torch.bfloat16`` on CUDA) or a no-op when None."""
    import contextlib

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def build_without_init(module: nn.Module, build) -> None:
    """Run ``build()`` (which creates ``module``'s layers) on the meta device, then allocate the
    parameters as zeros: no random initialisation of weights that a checkpoint will overwrite
    (seconds for a ViT-L)."""
    with torch.device("meta"):
        build()
    module.to_empty(device="cpu")
    with torch.no_grad():
        for t in module.parameters():
            t.zero_()
