"""The TTUR optimizer pair: one Adam for D at ``lr_d``, one for G at ``lr_g``, each with its own betas."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class OptimizerPair:
    opt_d: torch.optim.Adam
    opt_g: torch.optim.Adam
    sched_d: torch.optim.lr_scheduler.LambdaLR
    sched_g: torch.optim.lr_scheduler.LambdaLR

    def step_schedulers(self) -> None:
        """Once per generator update (both schedules count generator updates)."""
        self.sched_d.step()
        self.sched_g.step()

    @property
    def lr_d(self) -> float:
        return self.opt_d.param_groups[0]["lr"]

    @property
    def lr_g(self) -> float:
        return self.opt_g.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return {"opt_d": self.opt_d.state_dict(), "opt_g": self.opt_g.state_dict(),
                "sched_d": self.sched_d.state_dict(), "sched_g": self.sched_g.state_dict()}

    def load_state_dict(self, sd: dict) -> None:
        self.opt_d.load_state_dict(sd["opt_d"])
        self.opt_g.load_state_dict(sd["opt_g"])
        self.sched_d.load_state_dict(sd["sched_d"])
        self.sched_g.load_state_dict(sd["sched_g"])


def decay_factor(kind: str, steps: int):
    if kind == "none":
        return lambda step: 1.0
    if kind == "linear":  # as igul222's code: lr * (1 - step / ITERS)
        return lambda step: max(0.0, 1.0 - step / steps)
    raise ValueError(f"unknown lr_decay {kind!r}")


def make_optimizers(G: nn.Module, D: nn.Module, *, lr_d: float, lr_g: float, betas_d=(0.5, 0.999),
                    betas_g=(0.5, 0.999), lr_decay: str = "none", steps: int = 1, eps: float = 1e-8) -> OptimizerPair:
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=tuple(betas_d), eps=eps)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=tuple(betas_g), eps=eps)
    f = decay_factor(lr_decay, steps)
    return OptimizerPair(opt_d, opt_g, torch.optim.lr_scheduler.LambdaLR(opt_d, f),
                         torch.optim.lr_scheduler.LambdaLR(opt_g, f))
