"""The endless, seeded, resumable stream of training batches that every task (images, text) uses.

Epoch ``e`` visits the dataset in the order ``randperm(n)`` drawn from a generator seeded with
``(seed, e)``; global batch ``k`` is the next ``batch_size`` indices of that order. At the end of an
epoch nothing is dropped: a batch that runs past the end takes its first part from this epoch's
order and the rest from the next epoch's. Rank ``r`` of ``w`` takes the block
``shard_range(batch_size, r, w)`` of each global batch. The state is global (epoch, position, seed),
so a run resumes exactly, also with a different number of processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch

from .._util import check_positive
from ..distributed import shard_range
from ..errors import InputError


class DataStream:
    """``next(stream)``: this rank's share of the next global batch, as ``get_batch(indices)`` makes it.

    ``name`` and ``unit`` ("images", "training lines") name the data in error messages.
    """

    def __init__(self, n: int, get_batch: Callable[[torch.Tensor], torch.Tensor], batch_size: int, seed: int = 0,
                 rank: int = 0, world: int = 1, device: torch.device | str = "cpu", prefetch: bool = False,
                 name: str = "the data", unit: str = "items") -> None:
        check_positive("batch_size", batch_size)
        if n < 1:
            raise InputError(f"{name}: no {unit}")
        if not 0 <= rank < world:
            raise InputError(f"rank {rank} outside a world of {world}")
        self.name, self.unit = name, unit
        self.n, self.get_batch, self.batch_size = int(n), get_batch, int(batch_size)
        self.seed, self.rank, self.world = int(seed), int(rank), int(world)
        self.device = torch.device(device)
        self.lo, self.hi = shard_range(self.batch_size, self.rank, self.world)
        self.epoch, self.position = 0, 0
        self._perm: torch.Tensor | None = None
        self.prefetch = prefetch
        self._next: tuple[dict, threading.Thread, list] | None = None

    def _order(self) -> torch.Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.n, generator=g)
        return self._perm

    def next_indices(self) -> torch.Tensor:
        """The indices of the next global batch (advances the stream)."""
        parts, need = [], self.batch_size
        while need:
            perm = self._order()
            take = perm[self.position:self.position + need]
            parts.append(take)
            need -= len(take)
            self.position += len(take)
            if self.position >= self.n:
                self.epoch, self.position, self._perm = self.epoch + 1, 0, None
        return torch.cat(parts)

    def _load(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.get_batch(idx[self.lo:self.hi].numpy())
        return x.to(self.device, non_blocking=True)

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        if not self.prefetch:
            return self._load(self.next_indices())
        if self._next is None:  # first call, or right after load_state_dict
            self._start()
        _, thread, box = self._next
        thread.join()
        self._start()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _start(self) -> None:
        before = self._state()
        idx = self.next_indices()
        box: list = [None]

        def work():
            try:
                box[0] = self._load(idx)
            except BaseException as e:  # noqa: BLE001 - re-raised in the consumer
                box[0] = e

        t = threading.Thread(target=work, daemon=True)
        t.start()
        self._next = (before, t, box)

    def _state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "n": self.n,
                "batch_size": self.batch_size}

    def state_dict(self) -> dict:
        """The state after the last batch handed out (a prefetched batch is not counted)."""
        if self.prefetch and self._next is not None:
            return dict(self._next[0])  # the prefetched batch was drawn but not consumed
        return self._state()

    def load_state_dict(self, sd: dict) -> None:
        if sd.get("n", self.n) != self.n:
            raise InputError(f"{self.name}: {self.n} {self.unit} here, the checkpoint was made with {sd['n']}; "
                             "resume with the same data and settings")
        self.epoch, self.position, self.seed = int(sd["epoch"]), int(sd["position"]), int(sd["seed"])
        self._perm, self._next = None, None
