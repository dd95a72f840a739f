"""Data-parallel pieces: batch norm over the global batch, and wrapping (G, D) for DistributedDataParallel.

Under a process group each rank holds ``batch_size / world`` samples of every global batch. Batch norm
must then normalise with the statistics of the *global* batch, or a distributed run would train a
different model than one process does. On CUDA that is :class:`torch.nn.SyncBatchNorm`; on the CPU
(gloo), where SyncBatchNorm refuses to run, :class:`GlobalBatchNorm` does the same with a differentiable
all-reduce of per-channel sums. Both keep the state-dict layout of the batch norm they replace, so
checkpoints move freely between one process and many.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .. import distributed as dist


class GlobalBatchNorm(_BatchNorm):
    """Batch norm (any dimensionality) whose training-mode statistics cover all ranks' samples."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {input.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_active()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        count = torch.full((1,), xf.numel() / c, dtype=torch.float32, device=x.device)
        with warnings.catch_warnings():  # its suggested replacement has no autograd support
            warnings.simplefilter("ignore", FutureWarning)
            packed = all_reduce(torch.cat([xf.sum(dims), (xf * xf).sum(dims), count]))
        n = packed[-1]
        mean = packed[:c] / n
        var = (packed[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                unbiased = var.detach() * n / (n - 1).clamp_min(1)
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def globalise_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm layers of ``module`` normalised over the global batch (in place where possible)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d):
            m.__class__ = GlobalBatchNorm
    return module


def wrap(G: nn.Module, D: nn.Module, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """(G, D) as DistributedDataParallel modules (gradients averaged over the ranks)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    kw = {"device_ids": [device.index if device.index is not None else torch.cuda.current_device()]} \
        if device.type == "cuda" else {}
    return DDP(G, **kw), DDP(D, **kw)
