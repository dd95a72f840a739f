"""The character-level WGAN-GP language model (igul222 ``gan_language.py``, used unchanged by the TTUR code).

Generator: ``z`` (N, 128) -> Linear -> (N, dim, L) -> 5 residual blocks -> 1x1 convolution to the
vocabulary -> softmax over the vocabulary: (N, V, L), a continuous relaxation of one-hot sentences
(no argmax in training). Critic: (N, V, L) one-hot or softmax sentences -> 1x1 convolution to
``dim`` channels -> 5 residual blocks -> Linear (dim * L) -> 1. Residual block:
``x + 0.3 * conv5(relu(conv5(relu(x))))``. The paper's size is ``dim=512``: about 16M (G) and 14M (D)
parameters at V = 2048, L = 32, of which the residual blocks are 13M each; ``dim`` is the width knob
for small CPU versions (parameters grow as dim squared).

Initialisation as tflib's (the reference code's layer library): every convolution He-uniform with
standard deviation ``sqrt(4 / (fan_in + fan_out))`` (fans counting the kernel width), the linear
layers Glorot-uniform ``sqrt(2 / (fan_in + fan_out))``, biases zero.
"""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def tflib_init(module: nn.Module) -> None:
    """tflib's initialisation of the Conv1d and Linear layers of ``module`` (see the module notes)."""
    for m in module.modules():
        if isinstance(m, nn.Conv1d):
            out_c, in_c, k = m.weight.shape
            std = math.sqrt(4.0 / (in_c * k + out_c * k))
        elif isinstance(m, nn.Linear):
            fan_out, fan_in = m.weight.shape
            std = math.sqrt(2.0 / (fan_in + fan_out))
        else:
            continue
        m.weight.uniform_(-std * math.sqrt(3.0), std * math.sqrt(3.0))
        if m.bias is not None:
            m.bias.zero_()


class ResBlock1d(nn.Module):
    """``x + scale * conv(relu(conv(relu(x))))`` with two 1-D convolutions of odd ``kernel`` (same length)."""

    def __init__(self, dim: int, kernel: int = 5, scale: float = 0.3) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.conv2(torch.relu(self.conv1(torch.relu(x))))


class TextGenerator(nn.Module):
    """(N, z_dim) noise -> (N, vocab_size, seq_len) softmax over the vocabulary at each position."""

    def __init__(self, vocab_size: int, seq_len: int = 32, dim: int = 512, z_dim: int = 128, blocks: int = 5,
                 kernel: int = 5, scale: float = 0.3) -> None:
        super().__init__()
        self.vocab_size, self.seq_len, self.dim, self.z_dim = vocab_size, seq_len, dim, z_dim
        self.fc = nn.Linear(z_dim, dim * seq_len)
        self.blocks = nn.Sequential(*[ResBlock1d(dim, kernel, scale) for _ in range(blocks)])
        self.out = nn.Conv1d(dim, vocab_size, 1)
        tflib_init(self)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], self.dim, self.seq_len)
        return self.out(self.blocks(x))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(z), dim=1)


class TextCritic(nn.Module):
    """(N, vocab_size, seq_len) one-hot or softmax sentences -> (N,) critic values."""

    def __init__(self, vocab_size: int, seq_len: int = 32, dim: int = 512, blocks: int = 5, kernel: int = 5,
                 scale: float = 0.3) -> None:
        super().__init__()
        self.vocab_size, self.seq_len, self.dim = vocab_size, seq_len, dim
        self.inp = nn.Conv1d(vocab_size, dim, 1)
        self.blocks = nn.Sequential(*[ResBlock1d(dim, kernel, scale) for _ in range(blocks)])
        self.fc = nn.Linear(dim * seq_len, 1)
        tflib_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.vocab_size or x.shape[2] != self.seq_len:
            raise ValueError(f"critic expects (N, {self.vocab_size}, {self.seq_len}) sentences, got {tuple(x.shape)}")
        h = self.blocks(self.inp(x))
        return self.fc(h.flatten(1)).view(-1)


def build_text_models(vocab_size: int, seq_len: int = 32, dim: int = 512, z_dim: int = 128, blocks: int = 5,
                      ) -> tuple[TextGenerator, TextCritic]:
    """(G, D) of the WGAN-GP language model."""
    return (TextGenerator(vocab_size, seq_len, dim, z_dim, blocks), TextCritic(vocab_size, seq_len, dim, blocks))
