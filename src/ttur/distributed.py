"""torch.distributed helpers: process-group set-up under torchrun, sharding, reductions.

ttur scales out on PyTorch's own engine: ``torchrun --nproc-per-node N -m ttur ...`` starts N
processes; each initialises the default process group (gloo on CPU, NCCL on CUDA) from the
environment torchrun sets, works on its shard, and the results meet in all-reduce / all-gather.
Nothing here starts processes itself.
"""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_from_env(device: str | torch.device | None = None) -> bool:
    """Join the process group torchrun describes in the environment (once); False when not launched so.

    The backend is NCCL when this process computes on CUDA, else gloo. Under CUDA each process
    takes the GPU of its ``LOCAL_RANK``.
    """
    if not launched_by_torchrun():
        return False
    if dist.is_initialized():
        return True
    use_cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda") or device == "auto")
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(minutes=30))
    return True


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    return dist.get_world_size() if is_active() else 1


def is_main() -> bool:
    return rank() == 0


def shard_range(n: int, r: int | None = None, w: int | None = None) -> tuple[int, int]:
    """The contiguous block [start, stop) of ``range(n)`` that rank ``r`` of ``w`` takes.

    Blocks differ in size by at most one; every index is taken exactly once, whatever n and w.
    """
    r = rank() if r is None else r
    w = world_size() if w is None else w
    base, extra = divmod(n, w)
    start = r * base + min(r, extra)
    return start, start + base + (1 if r < extra else 0)


def _reduce_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(t: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Sum (or ``op="max"``) of ``t`` over the ranks (reduced on the backend's device, returned where ``t`` was)."""
    if not is_active():
        return t
    x = t.detach().to(_reduce_device()).clone()
    dist.all_reduce(x, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return x.to(t.device)


def all_gather_rows(a: np.ndarray | None) -> np.ndarray | None:
    """Concatenate per-rank row blocks (of different lengths) in rank order, on every rank."""
    if not is_active() or a is None:
        return a
    dev = _reduce_device()
    t = torch.from_numpy(np.ascontiguousarray(a)).to(dev)
    n = torch.tensor([t.shape[0]], device=dev)
    sizes = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(sizes, n)
    top = int(max(s.item() for s in sizes))
    padded = torch.zeros((top, *t.shape[1:]), dtype=t.dtype, device=dev)
    padded[: t.shape[0]] = t
    parts = [torch.zeros_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)]).cpu().numpy()


def barrier() -> None:
    if is_active():
        dist.barrier()
