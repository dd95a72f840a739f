"""The training loop, generic over a :class:`~ttur.train.tasks.Task`.

One iteration = ``d_steps`` discriminator (critic) updates with Adam at ``lr_d``, then one generator
update with Adam at ``lr_g`` (TTUR: the two rates are independent). With the original GAN loss the
generator update reuses the last discriminator step's z batch (as the DCGAN code does); with WGAN-GP
it draws a fresh one (as gan_64x64.py does). ``step`` counts generator updates.

Latent batches and gradient-penalty mixing weights are drawn for the *global* batch from one seeded
generator, and each process keeps its block: a distributed run sees the same numbers as one process.
Rank 0 alone writes files. The checkpoint is :meth:`RunState.state_dict`: everything needed to
continue bit for bit, saved and restored by one object so the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import distributed as dist
from .._util import atomic_write_text, check_output, resolve_device
from ..errors import ConfigError, NumericalError
from . import checkpoint as ckpt
from . import losses, parallel
from .config import dump_config, validate
from .logs import MetricsLog
from .optim import make_optimizers
from .plots import plot_metric
from .tasks import Task, task_class

DIVERGED = "diverged.json"  # written into the run folder when the losses became NaN or infinite


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    metric: str
    metric_label: str
    best: float | None = None
    final: float | None = None
    records: list[dict] = field(default_factory=list)
    stopped: str | None = None


class _Signals:
    """SIGINT/SIGTERM set a flag that the loop checks after each step (main thread only)."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._old: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def _seed_all(seed: int) -> None:
    import random

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class RunState:
    """Everything a checkpoint holds: models, optimizers, data position, random streams, progress.

    :meth:`state_dict` is the checkpoint; :meth:`load_state_dict` restores it. ``elapsed`` counts
    training time over all sessions of the run.
    """

    def __init__(self, G, D, opt, stream, gen: torch.Generator, scaler_d, scaler_g, metric: str, config: str) -> None:
        self.G, self.D, self.opt, self.stream, self.gen = G, D, opt, stream, gen
        self.scaler_d, self.scaler_g = scaler_d, scaler_g
        self.metric, self.config = metric, config
        self.step, self.best, self.final = 0, None, None
        self._elapsed_before, self._t_start = 0.0, time.perf_counter()

    @property
    def elapsed(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._t_start

    def start_clock(self) -> None:
        """Count elapsed time from now on (the set-up before the loop is not training time)."""
        self._t_start = time.perf_counter()

    def record(self, value: float) -> None:
        """Note a new value of the (lower is better) metric."""
        self.final = value
        self.best = value if self.best is None or value < self.best else self.best

    def state_dict(self) -> dict:
        return {
            "step": self.step, "G": self.G.state_dict(), "D": self.D.state_dict(), "optim": self.opt.state_dict(),
            "data": self.stream.state_dict(), "gen": self.gen.get_state(), "scaler_d": self.scaler_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "rng": ckpt.rng_state(), "best": self.best, "final": self.final,
            "elapsed": self.elapsed, "metric": self.metric, "config": self.config,
        }

    def load_state_dict(self, sd: dict, where: Path) -> None:
        for name, net in (("G", self.G), ("D", self.D)):
            try:
                net.load_state_dict(sd[name])
            except RuntimeError as e:  # shapes differ: another width, model or vocabulary than the run's
                first = str(e).strip().splitlines()[-1].strip() if str(e).strip() else type(e).__name__
                raise ConfigError(f"{where}: the {name} it holds does not fit the model this config builds "
                                  f"(changed model, width, image size, corpus or vocabulary?): {first}") from None
        self.opt.load_state_dict(sd["optim"])
        self.stream.load_state_dict(sd["data"])
        self.gen.set_state(sd["gen"])
        self.scaler_d.load_state_dict(sd["scaler_d"])
        self.scaler_g.load_state_dict(sd["scaler_g"])
        ckpt.set_rng_state(sd["rng"])
        self.step, self.best, self.final = sd["step"], sd["best"], sd.get("final")
        self._elapsed_before = sd["elapsed"]


def train(cfg: dict, out_dir: str | Path, resume: bool = False, progress: bool = True, callbacks=None,
          say=print) -> TrainResult:
    """Train the GAN that ``cfg`` describes into the run folder ``out_dir``; see the README's training API."""
    cfg = validate(dict(cfg))
    threads = torch.get_num_threads()
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    try:
        return _Trainer(cfg, Path(out_dir), resume, say).run(progress, callbacks)
    finally:
        torch.set_num_threads(threads)


class _Trainer:
    """One training run: set up in ``__init__``, the loop in :meth:`run`, one method per part of an iteration."""

    def __init__(self, cfg: dict, out_dir: Path, resume: bool, say) -> None:
        self.cfg, self.out_dir, self.resume, self.say = cfg, out_dir, resume, say
        self.rank, self.world = dist.rank(), dist.world_size()
        self.main = self.rank == 0
        self.device = device = resolve_device(cfg["device"])
        if cfg["amp"] and device.type != "cuda":
            raise ConfigError(f"amp: mixed precision needs a CUDA device, this run is on {device}")
        B = cfg["batch_size"]
        if B % self.world:
            raise ConfigError(f"batch_size: {B} does not split evenly over {self.world} processes")
        self.ckpt_path = out_dir / ckpt.FILENAME
        # Nothing in the run folder changes (nor is it created) until the data, the models and, on resume,
        # the checkpoint have been loaded and checked against this config: a refused start leaves it as it was.
        check_output(out_dir, "out", folder=True)
        saved = ckpt.load(self.ckpt_path) if resume else None
        if not resume and self.ckpt_path.exists():
            raise ConfigError(f"{out_dir}: holds a run already ({ckpt.FILENAME}); resume it or choose another folder")

        _seed_all(cfg["seed"])
        self.task: Task = task_class(cfg["task"])(cfg, device, self.rank, self.world)
        _seed_all(cfg["seed"])  # the same initial weights whatever the task set up (e.g. a feature extractor)
        G, D = self.task.build_models()
        self.fmt = torch.contiguous_format
        if self.world > 1:  # batch norm over the global batch, as one process would compute it
            G, D = parallel.globalise_batch_norm(G, device), parallel.globalise_batch_norm(D, device)
        if cfg["channels_last"] and device.type == "cuda":
            G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
            self.fmt = torch.channels_last
        opt = make_optimizers(G, D, lr_d=cfg["lr_d"], lr_g=cfg["lr_g"], betas_d=cfg["betas_d"],
                              betas_g=cfg["betas_g"], lr_decay=cfg["lr_decay"], steps=cfg["steps"])
        gen = torch.Generator(device=device).manual_seed(cfg["seed"] + 1)  # latent batches and GP weights
        self.state = RunState(G, D, opt, self.task.data(), gen, torch.amp.GradScaler("cuda", enabled=cfg["amp"]),
                              torch.amp.GradScaler("cuda", enabled=cfg["amp"]), self.task.metric, dump_config(cfg))
        if saved is not None:
            self.state.load_state_dict(saved, self.ckpt_path)
            # a longer (or shorter) run: a linear decay goes on from the rate reached (or is re-planned)
            opt.extend(self.state.step, cfg["steps"], replan=cfg["lr_decay_extend"] == "replan")
        if self.main:  # the run can start: now the folder is created or changed
            out_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(out_dir)
            (out_dir / DIVERGED).unlink(missing_ok=True)  # this attempt starts from the last good checkpoint
            atomic_write_text(out_dir / "config.yaml", dump_config(cfg))
        dist.barrier()
        self.Gm, self.Dm = parallel.wrap(G, D, device) if self.world > 1 else (G, D)
        self.lo, self.hi = dist.shard_range(B, self.rank, self.world)
        self.amp_ctx = (lambda: torch.autocast("cuda", dtype=torch.float16)) if cfg["amp"] else contextlib.nullcontext
        self.log = MetricsLog(out_dir, resume_step=self.state.step if resume else None) if self.main else None
        self.t_train, self.n_train = 0.0, 0  # time and steps of training alone since the last log point

    # ------------------------------------------------------------------ the loop
    def run(self, progress: bool, callbacks) -> TrainResult:
        from tqdm.auto import tqdm

        cfg, st = self.cfg, self.state
        self.bar = tqdm(total=cfg["steps"], initial=st.step, unit="it", desc=cfg["task"],
                        disable=not (progress and self.main), file=sys.stderr, dynamic_ncols=True, leave=True)
        for note in self.task.notes:
            self.tell(note)
        stopped = None
        st.start_clock()
        st.G.train()
        st.D.train()
        with _Signals() as sig:
            try:
                while st.step < cfg["steps"]:
                    t0 = time.perf_counter()
                    ld, fake = self.discriminator_steps()
                    lg = self.generator_step(fake)
                    st.step += 1
                    loss_d, loss_g, signalled = self.agree(ld, lg, sig.received)
                    self.t_train, self.n_train = self.t_train + time.perf_counter() - t0, self.n_train + 1
                    self.check_finite(loss_d, loss_g)
                    self.bar.update(1)
                    last = st.step == cfg["steps"]
                    if self.evaluate_and_log(loss_d, loss_g, last, callbacks) is False:
                        stopped = "callback"
                    if self.main and cfg["sample_every"] > 0 and (st.step % cfg["sample_every"] == 0 or last):
                        self.task.save_samples(st.G, st.step, self.out_dir)
                    if signalled or (self.world == 1 and sig.received):  # one process: also during evaluation
                        stopped = sig.received or "SIGTERM"
                    if stopped or last or (cfg["checkpoint_every"] > 0 and st.step % cfg["checkpoint_every"] == 0):
                        self.save_checkpoint()
                    if stopped:
                        self.tell(f"stopped at step {st.step} ({stopped}); checkpoint written to {self.ckpt_path}")
                        break
            finally:
                self.bar.close()
                if self.main:
                    self.log.close()
                    self.plot()
        return TrainResult(out_dir=self.out_dir, step=st.step, metric=self.task.metric,
                           metric_label=self.task.metric_label, best=st.best, final=st.final,
                           records=list(self.log.records if self.log else []), stopped=stopped)

    # ------------------------------------------------------------------ one iteration
    def discriminator_steps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``d_steps`` updates of D; returns the last loss and the last fake batch (the GAN loss reuses its z)."""
        cfg, st, B = self.cfg, self.state, self.cfg["batch_size"]
        kind, d_steps = cfg["loss"], cfg["d_steps"]
        fake = ld = None
        for i in range(d_steps):
            real = self.task.prepare_real(next(st.stream), self.fmt)
            z = self.task.noise(B, st.gen)[self.lo:self.hi]
            alpha = torch.rand(B, generator=st.gen, device=self.device)[self.lo:self.hi] if kind == "wgan-gp" else None
            with self.amp_ctx():
                if kind == "gan" and i == d_steps - 1:
                    fake = self.Gm(z)
                else:
                    with torch.no_grad():
                        fake = st.G(z)
                ld = losses.d_loss(kind, self.Dm(real).float(), self.Dm(fake.detach()).float())
                if kind == "wgan-gp":
                    ld = ld + losses.gradient_penalty(st.D, real, fake, alpha, cfg["gp_weight"],
                                                      scaler=st.scaler_d if cfg["amp"] else None)
            st.opt.opt_d.zero_grad(set_to_none=True)
            st.scaler_d.scale(ld).backward()
            st.scaler_d.step(st.opt.opt_d)
            st.scaler_d.update()
        return ld, fake

    def generator_step(self, fake: torch.Tensor) -> torch.Tensor:
        """One update of G (on a fresh z batch with WGAN-GP, as gan_64x64.py does); returns its loss."""
        cfg, st = self.cfg, self.state
        if cfg["loss"] != "gan":
            z = self.task.noise(cfg["batch_size"], st.gen)[self.lo:self.hi]
            with self.amp_ctx():
                fake = self.Gm(z)
        st.D.requires_grad_(False)
        with self.amp_ctx():
            lg = losses.g_loss(cfg["loss"], st.D(fake).float())
        st.opt.opt_g.zero_grad(set_to_none=True)
        st.scaler_g.scale(lg).backward()
        st.scaler_g.step(st.opt.opt_g)
        st.scaler_g.update()
        st.D.requires_grad_(True)
        st.opt.step_schedulers()
        return lg

    def agree(self, ld: torch.Tensor, lg: torch.Tensor, signal_name: str | None) -> tuple[float, float, float]:
        """The losses averaged over the processes, and whether any of them was signalled."""
        vals = torch.stack([ld.detach().float(), lg.detach().float(),
                            torch.tensor(1.0 if signal_name else 0.0, device=ld.device)])
        if self.world > 1:
            vals = dist.all_reduce_sum(vals)
            vals[:2] /= self.world
        loss_d, loss_g, signalled = (float(v) for v in vals.cpu())
        return loss_d, loss_g, signalled

    def check_finite(self, loss_d: float, loss_g: float) -> None:
        if math.isfinite(loss_d) and math.isfinite(loss_g):
            return
        what = "loss_d" if not math.isfinite(loss_d) else "loss_g"
        kept = (f"the last good checkpoint (step {_ckpt_step(self.ckpt_path)}) is kept" if self.ckpt_path.is_file()
                else "no checkpoint was written before")
        msg = (f"{what} is {loss_d if what == 'loss_d' else loss_g} at step {self.state.step}; "
               f"training stopped, {kept} in {self.out_dir}")
        if self.main:  # experiments that resume a folder read this instead of training into the same NaN again
            atomic_write_text(self.out_dir / DIVERGED, json.dumps({"step": self.state.step, "what": what,
                                                                    "message": msg}) + "\n")
        raise NumericalError(msg)

    def evaluate_and_log(self, loss_d: float, loss_g: float, last: bool, callbacks) -> bool:
        """Log (and evaluate) when due; False when a callback asks to stop."""
        cfg, st, task = self.cfg, self.state, self.task
        eval_now = cfg["fid_every"] > 0 and (st.step % cfg["fid_every"] == 0 or last)
        if not (eval_now or last or (cfg["log_every"] > 0 and st.step % cfg["log_every"] == 0)):
            return True
        rec = {"step": st.step, "time": round(st.elapsed, 3), "loss_d": loss_d, "loss_g": loss_g,
               "lr_d": st.opt.lr_d, "lr_g": st.opt.lr_g, "it_s": round(self.n_train / max(self.t_train, 1e-9), 3)}
        self.t_train, self.n_train = 0.0, 0
        if eval_now:
            t_eval = time.perf_counter()
            values = task.evaluate(st.G, st.step, self.out_dir)
            rec.update(values)
            rec["eval_s"] = round(time.perf_counter() - t_eval, 3)  # the cost of monitoring, part of "time"
            v = values.get(task.metric)
            if v is not None:
                st.record(v)
                self.tell(f"step {st.step}: {task.metric_label} {v:.3f}")
            rec["time"] = round(st.elapsed, 3)
        if self.main:
            self.log.add(rec)
            self.bar.set_postfix(loss_d=f"{loss_d:.3f}", loss_g=f"{loss_g:.3f}",
                                 **({task.metric: f"{st.final:.2f}"} if st.final is not None else {}))
        if not eval_now:
            return True
        go_on = True
        if self.main:
            self.log.write_csv()
            self.plot()
            for cb in callbacks or []:
                if cb(st.step, rec) is False:
                    go_on = False
        if self.world > 1:
            go_on = dist.all_reduce_sum(torch.tensor([0.0 if go_on else 1.0])).item() == 0
        return go_on

    # ------------------------------------------------------------------ output
    def save_checkpoint(self) -> None:
        if self.main:
            ckpt.save(self.ckpt_path, self.state.state_dict())
        dist.barrier()

    def plot(self) -> None:
        if self.main:
            plot_metric(self.log.records, self.task.metric, self.task.metric_label, self.out_dir / "fid.png",
                        title=self.cfg.get("description") or None)

    def tell(self, msg: str) -> None:
        if not self.main:
            return
        if self.say is print and not self.bar.disable:
            self.bar.write(msg)
        else:
            self.say(msg)


#: the files of a run folder written under a temporary name (``atomic_write``: ``.NAME.XXXXXXXX.tmp``)
RUN_FILES = (ckpt.FILENAME, "config.yaml", "metrics.jsonl", "metrics.csv", "fid.png")
_STALE = re.compile("(" + "|".join(re.escape(f".{name}.") for name in RUN_FILES) + r")[a-z0-9_]{8}\.tmp")


def remove_stale_temporaries(out_dir: Path) -> list[Path]:
    """Remove the temporary files a killed run left (only ours, by their pattern); returns them."""
    gone = []
    for p in out_dir.iterdir():
        if _STALE.fullmatch(p.name) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                gone.append(p)
    return gone


def _ckpt_step(path: Path) -> int | str:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["step"])
    except Exception:  # noqa: BLE001
        return "?"
