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

    def extend(self, step: int, steps: int, replan: bool = False) -> None:
        """A resumed run to ``steps`` generator updates, set for update ``step``: a linear decay continues from
        the rate it reached to 0 at the new end (see :class:`LinearDecay`), so the rate never jumps up; a decay
        that already reached 0 cannot be extended (ConfigError: a longer run would not learn). ``replan``
        (config ``lr_decay_extend: replan``, what the sweep's successive halving uses) plans the decay anew
        over the new ``steps``, from the start, as if the run had been started with them."""
        from ..errors import ConfigError

        for sched in (self.sched_d, self.sched_g):
            for f in sched.lr_lambdas:
                if isinstance(f, LinearDecay) and replan:
                    f.start, f.start_factor, f.end = 0, 1.0, int(steps)
                elif isinstance(f, LinearDecay) and f.end != steps:
                    if steps > step and f(step) == 0.0:
                        raise ConfigError(f"steps: the linear decay of this run reached a learning rate of 0 at step "
                                          f"{f.end}; a longer run would not learn (resume with lr_decay=none to go "
                                          f"on at the base rates, or start a new run)")
                    f.extend(step, steps)
            for group, base, f in zip(sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas, strict=True):
                group["lr"] = base * f(step)  # the rate the schedule gives now (unchanged when the config is)
            sched._last_lr = [group["lr"] for group in sched.optimizer.param_groups]

class LinearDecay:
    """The factor of the learning rate at generator update ``step``: ``start_factor`` at ``start``, falling
    linearly to 0 at ``end`` (igul222's ``lr * (1 - step / ITERS)`` with ``start = 0``, ``start_factor = 1``).

    A callable object, not a function, so that the scheduler's state (and so the checkpoint) keeps its
    numbers. :meth:`extend` is what a resumed run with another ``steps`` does: the decay continues from
    the current rate to 0 at the new end, so the rate never jumps.
    """

    def __init__(self, end: int, start: int = 0, start_factor: float = 1.0) -> None:
        self.start, self.start_factor, self.end = int(start), float(start_factor), int(end)

    def __call__(self, step: int) -> float:
        if step >= self.end:
            return 0.0
        return max(0.0, self.start_factor * (1.0 - (step - self.start) / (self.end - self.start)))

    def extend(self, step: int, end: int) -> None:
        if end != self.end:
            self.start, self.start_factor, self.end = int(step), self(step), int(end)


def decay_factor(kind: str, steps: int):
    if kind == "none":
        return lambda step: 1.0
    if kind == "linear":  # as igul222's code: lr * (1 - step / ITERS)
        return LinearDecay(steps)
    raise ValueError(f"unknown lr_decay {kind!r}")


def make_optimizers(G: nn.Module, D: nn.Module, *, lr_d: float, lr_g: float, betas_d=(0.5, 0.999),
                    betas_g=(0.5, 0.999), lr_decay: str = "none", steps: int = 1, eps: float = 1e-8) -> OptimizerPair:
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=tuple(betas_d), eps=eps)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=tuple(betas_g), eps=eps)
    return OptimizerPair(opt_d, opt_g, torch.optim.lr_scheduler.LambdaLR(opt_d, decay_factor(lr_decay, steps)),
                         torch.optim.lr_scheduler.LambdaLR(opt_g, decay_factor(lr_decay, steps)))
