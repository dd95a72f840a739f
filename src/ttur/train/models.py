"""The paper's image models (PAPER.md §3a, §3b), with their original initialisation.

* DCGAN (carpedm20/DCGAN-tensorflow as the TTUR fork used it): 5x5 (de)convolutions with stride 2,
  batch norm (momentum 0.1 = TF decay 0.9, eps 1e-5, scale 1 and offset 0 at start), ReLU / LeakyReLU(0.2),
  conv weights truncated-normal sigma 0.02, deconv and linear weights normal sigma 0.02, biases 0.
  G: z -> (S/16)^2 * 8w -> BN, ReLU -> deconvs to 4w, 2w, w -> deconv to 3, tanh.
  D: conv to w (no BN), 2w, 4w, 8w (BN), LReLU -> linear to 1 logit.
* WGAN-GP ResNet ("GoodGenerator" / "GoodDiscriminator" of gan_64x64.py): residual blocks with
  nearest-upsample-then-conv (depth_to_space of four copies) and conv-then-mean-pool, batch norm with
  batch statistics in G, layer norm over (C, H, W) with per-channel scale in D, tflib's uniform
  initialisation (std sqrt(4 / (fan_in + fan_out)), Glorot for shortcuts and the in/out convolutions).
  The critic's last linear layer is sized from its real final feature map, (S/16)^2 * 8w, so 32x32
  works (the original reshapes to 4*4*8w whatever the size).

``width`` is gf_dim/df_dim (DCGAN) or DIM (ResNet); the paper uses 64. Smaller widths give CPU-sized models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _check_size(size: int) -> int:
    if size not in (32, 64):
        raise ValueError(f"image_size must be 32 or 64, got {size}")
    return size // 16


# ---------------------------------------------------------------- DCGAN
class DCGANGenerator(nn.Module):
    def __init__(self, size: int = 64, z_dim: int = 100, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.s0 = _check_size(size)
        self.z_dim, self.width = z_dim, width
        self.fc = nn.Linear(z_dim, self.s0 * self.s0 * 8 * width)
        self.bn0 = nn.BatchNorm2d(8 * width, eps=1e-5, momentum=0.1)
        layers: list[nn.Module] = []
        c = 8 * width
        for out in (4 * width, 2 * width, width):
            layers += [nn.ConvTranspose2d(c, out, 5, 2, padding=2, output_padding=1),
                       nn.BatchNorm2d(out, eps=1e-5, momentum=0.1), nn.ReLU(inplace=True)]
            c = out
        layers += [nn.ConvTranspose2d(c, channels, 5, 2, padding=2, output_padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], 8 * self.width, self.s0, self.s0)
        return self.net(F.relu(self.bn0(x)))


class DCGANDiscriminator(nn.Module):
    def __init__(self, size: int = 64, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        s_final = _check_size(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 5, 2, padding=2), nn.LeakyReLU(0.2, inplace=True)]
        c = width
        for out in (2 * width, 4 * width, 8 * width):
            layers += [nn.Conv2d(c, out, 5, 2, padding=2), nn.BatchNorm2d(out, eps=1e-5, momentum=0.1),
                       nn.LeakyReLU(0.2, inplace=True)]
            c = out
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(s_final * s_final * c, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).flatten(1)).view(-1)


@torch.no_grad()
def dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
        elif isinstance(m, nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.BatchNorm2d) and m.bias is not None:
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- WGAN-GP ResNet
@torch.no_grad()
def _tflib_uniform(weight: torch.Tensor, he: bool) -> None:
    if weight.ndim == 4:
        out_c, in_c, k, _ = weight.shape
        fan_in, fan_out = in_c * k * k, out_c * k * k
    else:
        fan_out, fan_in = weight.shape
    std = math.sqrt((4.0 if he else 2.0) / (fan_in + fan_out))
    weight.uniform_(-std * math.sqrt(3), std * math.sqrt(3))


def _conv(cin: int, cout: int, k: int, he: bool = True, bias: bool = True) -> nn.Conv2d:
    c = nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)
    _tflib_uniform(c.weight, he)
    if bias:
        nn.init.zeros_(c.bias)
    return c


class _UpsampleConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, he: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.conv = _conv(cin, cout, k, he, bias)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class _ConvMeanPool(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, he: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.conv = _conv(cin, cout, k, he, bias)

    def forward(self, x):
        return F.avg_pool2d(self.conv(x), 2)


class _MeanPoolConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, he: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.conv = _conv(cin, cout, k, he, bias)

    def forward(self, x):
        return self.conv(F.avg_pool2d(x, 2))


class ResBlock(nn.Module):
    """[norm, ReLU, conv] x 2 plus a 1x1 shortcut; ``resample`` is ``"up"`` (G) or ``"down"`` (D)."""

    def __init__(self, cin: int, cout: int, resample: str, norm: str) -> None:
        super().__init__()

        def make_norm(c: int) -> nn.Module:
            if norm == "batch":  # the TF code normalises with the batch's statistics, in training and sampling
                return nn.BatchNorm2d(c, eps=1e-5, track_running_stats=False)
            return nn.GroupNorm(1, c, eps=1e-5)  # layer norm over (C, H, W), per-channel scale and offset

        if resample == "up":
            self.shortcut = _UpsampleConv(cin, cout, 1, he=False)
            self.conv1 = _UpsampleConv(cin, cout, 3, bias=False)
            self.conv2 = _conv(cout, cout, 3)
            self.norm1, self.norm2 = make_norm(cin), make_norm(cout)
        elif resample == "down":
            self.shortcut = _MeanPoolConv(cin, cout, 1, he=False)
            self.conv1 = _conv(cin, cin, 3, bias=False)
            self.conv2 = _ConvMeanPool(cin, cout, 3)
            self.norm1, self.norm2 = make_norm(cin), make_norm(cin)
        else:
            raise ValueError(f"resample must be up or down, got {resample!r}")

    def forward(self, x):
        h = self.conv1(F.relu(self.norm1(x)))
        h = self.conv2(F.relu(self.norm2(h)))
        return self.shortcut(x) + h


class ResNetGenerator(nn.Module):
    def __init__(self, size: int = 64, z_dim: int = 128, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.s0 = _check_size(size)
        self.z_dim, self.width = z_dim, width
        d = width
        self.fc = nn.Linear(z_dim, self.s0 * self.s0 * 8 * d)
        _tflib_uniform(self.fc.weight, he=False)
        nn.init.zeros_(self.fc.bias)
        self.blocks = nn.Sequential(ResBlock(8 * d, 8 * d, "up", "batch"), ResBlock(8 * d, 4 * d, "up", "batch"),
                                    ResBlock(4 * d, 2 * d, "up", "batch"), ResBlock(2 * d, d, "up", "batch"))
        self.norm = nn.BatchNorm2d(d, eps=1e-5, track_running_stats=False)
        self.out = _conv(d, channels, 3, he=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], 8 * self.width, self.s0, self.s0)
        x = self.blocks(x)
        return torch.tanh(self.out(F.relu(self.norm(x))))


class ResNetDiscriminator(nn.Module):
    def __init__(self, size: int = 64, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        s_final = _check_size(size)
        d = width
        self.inp = _conv(channels, d, 3, he=False)
        self.blocks = nn.Sequential(ResBlock(d, 2 * d, "down", "layer"), ResBlock(2 * d, 4 * d, "down", "layer"),
                                    ResBlock(4 * d, 8 * d, "down", "layer"), ResBlock(8 * d, 8 * d, "down", "layer"))
        self.fc = nn.Linear(s_final * s_final * 8 * d, 1)  # sized from the real final map (see module notes)
        _tflib_uniform(self.fc.weight, he=False)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(self.inp(x)).flatten(1)).view(-1)


def build_image_models(model: str, size: int, z_dim: int, g_width: int, d_width: int) -> tuple[nn.Module, nn.Module]:
    """(G, D) for ``model`` in {"dcgan", "resnet"} at ``size`` in {32, 64}."""
    if model == "dcgan":
        return DCGANGenerator(size, z_dim, g_width), DCGANDiscriminator(size, d_width)
    if model == "resnet":
        return ResNetGenerator(size, z_dim, g_width), ResNetDiscriminator(size, d_width)
    raise ValueError(f"unknown model {model!r}")
