"""GAN losses on discriminator outputs, generic over the data's shape.

* ``gan``: the original loss with the non-saturating generator loss, as sigmoid cross-entropy on logits
  (D: real -> 1, fake -> 0; G: fake -> 1).
* ``wgan-gp``: critic ``mean(D(fake)) - mean(D(real)) + gp_weight * mean((||grad D(x_hat)|| - 1)^2)`` with
  ``x_hat = real + alpha (fake - real)``, alpha ~ U(0, 1) per sample, the norm over all non-batch dims;
  generator ``-mean(D(fake))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss without the gradient penalty."""
    if kind == "gan":
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    if kind == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    if kind == "gan":
        return F.softplus(-d_fake).mean()
    if kind == "wgan-gp":
        return -d_fake.mean()
    raise ValueError(f"unknown loss {kind!r}")


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor | None = None,
                     weight: float = 10.0, generator: torch.Generator | None = None, scaler=None) -> torch.Tensor:
    """``weight * mean((||grad_x D(x_hat)||_2 - 1)^2)`` on interpolates of tensors of any shape (N, ...)."""
    n = real.shape[0]
    if alpha is None:
        alpha = torch.rand(n, generator=generator, device=real.device)
    alpha = alpha.to(real.dtype).view(n, *([1] * (real.ndim - 1)))
    x_hat = (real.detach() + alpha * (fake.detach() - real.detach())).requires_grad_(True)
    out = D(x_hat).float().sum()
    if scaler is not None and scaler.is_enabled():  # mixed precision: differentiate the scaled output, unscale
        (grad,) = torch.autograd.grad(scaler.scale(out), x_hat, create_graph=True)
        grad = grad / scaler.get_scale()
    else:
        (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)
    return weight * ((norm - 1.0) ** 2).mean()
