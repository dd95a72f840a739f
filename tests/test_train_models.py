"""Training building blocks: model shapes and initialisation, losses, gradient penalty, the optimizer pair."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ttur.train import losses
from ttur.train.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
    build_image_models,
)
from ttur.train.optim import make_optimizers


@pytest.mark.parametrize("model", ["dcgan", "resnet"])
@pytest.mark.parametrize("size", [32, 64])
def test_model_shapes(model, size):
    torch.manual_seed(0)
    G, D = build_image_models(model, size, z_dim=16, g_width=4, d_width=4)
    z = torch.randn(3, 16)
    x = G(z)
    assert x.shape == (3, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    out = D(x)
    assert out.shape == (3,)
    # the critic's last layer is sized from the real final map: (size/16)^2 * 8 * width inputs
    assert D.fc.in_features == (size // 16) ** 2 * 8 * 4


def test_model_sizes_refused():
    with pytest.raises(ValueError):
        DCGANGenerator(48)
    with pytest.raises(ValueError):
        ResNetDiscriminator(128)


def test_dcgan_init():
    torch.manual_seed(0)
    G, D = DCGANGenerator(64, 100, 16), DCGANDiscriminator(64, 16)
    conv = D.net[0].weight
    assert conv.abs().max() <= 0.04 + 1e-7  # truncated normal, 2 sigma
    assert abs(conv.std().item() - 0.02 * 0.88) < 0.003  # std of N(0, .02) truncated at 2 sigma
    assert abs(G.fc.weight.std().item() - 0.02) < 0.001 and G.fc.weight.abs().max() > 0.05  # plain normal
    assert all(float(m.bias.detach().abs().max()) == 0 for m in D.modules() if isinstance(m, nn.Conv2d))
    bn = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn and all(torch.all(m.weight == 1) and m.momentum == 0.1 and m.eps == 1e-5 for m in bn)


def test_resnet_init_and_norms():
    torch.manual_seed(0)
    G, D = ResNetGenerator(32, 128, 8), ResNetDiscriminator(32, 8)
    w = D.blocks[0].conv1.weight  # he-init 3x3 conv d -> d: uniform with std sqrt(4 / (fan_in + fan_out))
    fan = 8 * 9
    bound = math.sqrt(4 / (2 * fan)) * math.sqrt(3)
    assert w.abs().max() <= bound + 1e-6 and w.abs().max() > 0.9 * bound
    # G: batch statistics always (no running stats); D: layer norm over (C, H, W) with per-channel affine
    assert all(not m.track_running_stats for m in G.modules() if isinstance(m, nn.BatchNorm2d))
    gn = [m for m in D.modules() if isinstance(m, nn.GroupNorm)]
    assert gn and all(m.num_groups == 1 for m in gn)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_gan_losses_match_bce():
    r, f = torch.randn(10), torch.randn(10)
    want_d = (F.binary_cross_entropy_with_logits(r, torch.ones(10))
              + F.binary_cross_entropy_with_logits(f, torch.zeros(10)))
    assert torch.allclose(losses.d_loss("gan", r, f), want_d, atol=1e-6)
    assert torch.allclose(losses.g_loss("gan", f), F.binary_cross_entropy_with_logits(f, torch.ones(10)), atol=1e-6)
    assert torch.allclose(losses.d_loss("wgan-gp", r, f), f.mean() - r.mean())
    assert torch.allclose(losses.g_loss("wgan-gp", f), -f.mean())


class _Linear(nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (4, 7, 6)])  # images, and one-hot sequences (N, V, L)
def test_gradient_penalty_linear_critic(shape):
    torch.manual_seed(1)
    w = torch.randn(shape[1:]) * 0.3
    D = _Linear(w)
    real, fake = torch.randn(shape), torch.randn(shape)
    gp = losses.gradient_penalty(D, real, fake, weight=10.0)
    want = 10.0 * (w.norm() - 1) ** 2  # grad of w.x is w at every interpolate
    assert torch.allclose(gp, want, rtol=1e-5)
    gp.backward()  # the penalty trains the critic: d/dw of 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||
    assert torch.allclose(D.w.grad, 20 * (w.norm() - 1) * w / w.norm(), rtol=1e-4, atol=1e-6)


def test_gradient_penalty_under_a_grad_scaler_is_unscaled():
    torch.manual_seed(2)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.Tanh(), nn.Linear(4, 1))
    real, fake, alpha = torch.randn(3, 3, 2, 2), torch.randn(3, 3, 2, 2), torch.rand(3)
    plain = losses.gradient_penalty(D, real, fake, alpha)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    assert torch.allclose(losses.gradient_penalty(D, real, fake, alpha, scaler=scaler), plain, rtol=1e-5)


def test_gradient_penalty_uses_alpha():
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    real, fake = torch.zeros(2, 3, 2, 2), torch.ones(2, 3, 2, 2)
    a = losses.gradient_penalty(D, real, fake, alpha=torch.tensor([0.0, 1.0]))
    b = losses.gradient_penalty(D, real, fake, alpha=torch.tensor([1.0, 0.0]))
    assert torch.allclose(a, b)  # a linear critic: the penalty does not depend on where it is taken


def test_optimizer_pair_distinct_rates_and_betas():
    G, D = nn.Linear(3, 3), nn.Linear(3, 1)
    pair = make_optimizers(G, D, lr_d=3e-4, lr_g=1e-4, betas_d=(0.0, 0.9), betas_g=(0.5, 0.999))
    assert pair.opt_d.param_groups[0]["lr"] == 3e-4 and pair.opt_g.param_groups[0]["lr"] == 1e-4
    assert pair.opt_d.param_groups[0]["betas"] == (0.0, 0.9)
    assert pair.opt_g.param_groups[0]["betas"] == (0.5, 0.999)
    assert {id(p) for p in pair.opt_d.param_groups[0]["params"]} == {id(p) for p in D.parameters()}
    assert {id(p) for p in pair.opt_g.param_groups[0]["params"]} == {id(p) for p in G.parameters()}
    # first Adam step moves each parameter by about its own lr
    before = D.weight.detach().clone(), G.weight.detach().clone()
    D(torch.ones(1, 3)).sum().backward()
    G(torch.ones(1, 3)).sum().backward()
    pair.opt_d.step()
    pair.opt_g.step()
    assert torch.allclose((D.weight - before[0]).abs(), torch.full_like(D.weight, 3e-4), rtol=1e-3)
    assert torch.allclose((G.weight - before[1]).abs(), torch.full_like(G.weight, 1e-4), rtol=1e-3)


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_linear_decay():
    G, D = nn.Linear(1, 1), nn.Linear(1, 1)
    pair = make_optimizers(G, D, lr_d=1.0, lr_g=0.5, lr_decay="linear", steps=4)
    seen = []
    for _ in range(4):
        seen.append((pair.lr_d, pair.lr_g))
        pair.step_schedulers()
    assert seen == [(1.0, 0.5), (0.75, 0.375), (0.5, 0.25), (0.25, 0.125)]
    assert pair.lr_d == 0.0
