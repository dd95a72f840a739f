"""The training loop, generic over a :class:`~ttur.train.tasks.Task`.

One iteration = ``d_steps`` discriminator (critic) updates with Adam at ``lr_d``, then one generator
update with Adam at ``lr_g`` (TTUR: the two rates are independent). With the original GAN loss the
generator update reuses the last discriminator step's z batch (as the DCGAN code does); with WGAN-GP
it draws a fresh one (as gan_64x64.py does). ``step`` counts generator updates.

Latent batches and gradient-penalty mixing weights are drawn for the *global* batch from one seeded
generator, and each process keeps its block: a distributed run sees the same numbers as one process.
Rank 0 alone writes files. The checkpoint holds everything needed to continue bit for bit.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import distributed as dist
from ..errors import ConfigError, NumericalError
from ..utils import atomic_write_text, resolve_device
from . import checkpoint as ckpt
from . import losses, parallel
from .config import dump_config, validate
from .logs import MetricsLog
from .optim import make_optimizers
from .plots import plot_metric
from .tasks import task_class


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


def train(cfg: dict, out_dir: str | Path, resume: bool = False, progress: bool = True, callbacks=None,
          say=print) -> TrainResult:
    """Train the GAN that ``cfg`` describes into the run folder ``out_dir``; see the README's training API."""
    cfg = validate(dict(cfg))
    threads = torch.get_num_threads()
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    try:
        return _train(cfg, Path(out_dir), resume, progress, callbacks, say)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: dict, out_dir: Path, resume: bool, progress: bool, callbacks, say) -> TrainResult:
    from tqdm.auto import tqdm

    rank, world = dist.rank(), dist.world_size()
    main = rank == 0
    device = resolve_device(cfg["device"])
    if cfg["amp"] and device.type != "cuda":
        raise ConfigError(f"amp: mixed precision needs a CUDA device, this run is on {device}")
    B = cfg["batch_size"]
    if B % world:
        raise ConfigError(f"batch_size: {B} does not split evenly over {world} processes")
    ckpt_path = out_dir / ckpt.FILENAME
    state = None
    if resume:
        state = ckpt.load(ckpt_path)
    elif ckpt_path.exists():
        raise ConfigError(f"{out_dir}: holds a run already (checkpoint.pt); resume it or choose another folder")
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", dump_config(cfg))
    dist.barrier()

    _seed_all(cfg["seed"])
    task = task_class(cfg["task"])(cfg, device, rank, world)
    _seed_all(cfg["seed"])  # the same initial weights whatever the task set up (e.g. a feature extractor)
    G, D = task.build_models()
    use_cuda = device.type == "cuda"
    if world > 1:  # batch norm over the global batch, as one process would compute it
        G, D = parallel.globalise_batch_norm(G, device), parallel.globalise_batch_norm(D, device)
    if cfg["channels_last"] and use_cuda:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt = make_optimizers(G, D, lr_d=cfg["lr_d"], lr_g=cfg["lr_g"], betas_d=cfg["betas_d"], betas_g=cfg["betas_g"],
                          lr_decay=cfg["lr_decay"], steps=cfg["steps"])
    stream = task.data()
    gen = torch.Generator(device=device).manual_seed(cfg["seed"] + 1)  # latent batches and GP weights
    scaler_d = torch.amp.GradScaler("cuda", enabled=cfg["amp"])
    scaler_g = torch.amp.GradScaler("cuda", enabled=cfg["amp"])
    step, best, elapsed, final = 0, None, 0.0, None
    if state is not None:
        for name, net in (("G", G), ("D", D)):
            try:
                net.load_state_dict(state[name])
            except RuntimeError as e:  # shapes differ: another width, model or vocabulary than the run's
                first = str(e).strip().splitlines()[-1].strip() if str(e).strip() else type(e).__name__
                raise ConfigError(f"{out_dir / 'checkpoint.pt'}: the {name} it holds does not fit the model this "
                                  f"config builds (changed model, width, image size, corpus or vocabulary?): "
                                  f"{first}") from None
        opt.load_state_dict(state["optim"])
        stream.load_state_dict(state["data"])
        gen.set_state(state["gen"])
        scaler_d.load_state_dict(state["scaler_d"])
        scaler_g.load_state_dict(state["scaler_g"])
        ckpt.set_rng_state(state["rng"])
        step, best, elapsed, final = state["step"], state["best"], state["elapsed"], state.get("final")

    Gm, Dm = G, D
    if world > 1:
        Gm, Dm = parallel.wrap(G, D, device)
    lo, hi = dist.shard_range(B, rank, world)
    kind, d_steps, gp_w = cfg["loss"], cfg["d_steps"], cfg["gp_weight"]
    reuse_z = kind == "gan"
    amp_ctx = (lambda: torch.autocast("cuda", dtype=torch.float16)) if cfg["amp"] else contextlib.nullcontext
    fmt = torch.channels_last if (cfg["channels_last"] and use_cuda) else torch.contiguous_format

    log = MetricsLog(out_dir, resume_step=step if resume else None) if main else None
    records = log.records if log else []
    bar = tqdm(total=cfg["steps"], initial=step, unit="it", desc=cfg["task"], disable=not (progress and main),
               file=sys.stderr, dynamic_ncols=True, leave=True)

    def tell(msg: str) -> None:
        if not main:
            return
        if say is print and not bar.disable:
            bar.write(msg)
        else:
            say(msg)

    for note in task.notes:
        tell(note)

    def save_checkpoint() -> None:
        if main:
            ckpt.save(ckpt_path, {
                "step": step, "G": G.state_dict(), "D": D.state_dict(), "optim": opt.state_dict(),
                "data": stream.state_dict(), "gen": gen.get_state(), "scaler_d": scaler_d.state_dict(),
                "scaler_g": scaler_g.state_dict(), "rng": ckpt.rng_state(), "best": best, "final": final,
                "elapsed": elapsed_now(), "metric": task.metric, "config": dump_config(cfg),
            })
        dist.barrier()

    t_start = time.perf_counter()

    def elapsed_now() -> float:
        return elapsed + time.perf_counter() - t_start

    def plot() -> None:
        if main:
            plot_metric(records, task.metric, task.metric_label, out_dir / "fid.png",
                        title=cfg.get("description") or None)

    stopped = None
    t_train, n_train = 0.0, 0  # time and steps of training alone since the last log point
    G.train()
    D.train()
    with _Signals() as sig:
        try:
            while step < cfg["steps"]:
                t0 = time.perf_counter()
                # ---- discriminator updates
                fake = None
                for i in range(d_steps):
                    real = next(stream).contiguous(memory_format=fmt) if real_is_image(cfg) else next(stream)
                    z = task.noise(B, gen)[lo:hi]
                    alpha = torch.rand(B, generator=gen, device=device)[lo:hi] if kind == "wgan-gp" else None
                    with amp_ctx():
                        if reuse_z and i == d_steps - 1:
                            fake = Gm(z)
                        else:
                            with torch.no_grad():
                                fake = G(z)
                        ld = losses.d_loss(kind, Dm(real).float(), Dm(fake.detach()).float())
                        if kind == "wgan-gp":
                            ld = ld + losses.gradient_penalty(D, real, fake, alpha, gp_w,
                                                              scaler=scaler_d if cfg["amp"] else None)
                    opt.opt_d.zero_grad(set_to_none=True)
                    scaler_d.scale(ld).backward()
                    scaler_d.step(opt.opt_d)
                    scaler_d.update()
                # ---- generator update
                if not reuse_z:
                    z = task.noise(B, gen)[lo:hi]
                    with amp_ctx():
                        fake = Gm(z)
                D.requires_grad_(False)
                with amp_ctx():
                    lg = losses.g_loss(kind, D(fake).float())
                opt.opt_g.zero_grad(set_to_none=True)
                scaler_g.scale(lg).backward()
                scaler_g.step(opt.opt_g)
                scaler_g.update()
                D.requires_grad_(True)
                opt.step_schedulers()
                step += 1

                # ---- agree on the losses (and on stopping) across processes
                vals = torch.stack([ld.detach().float(), lg.detach().float(),
                                    torch.tensor(1.0 if sig.received else 0.0, device=ld.device)])
                if world > 1:
                    vals = dist.all_reduce_sum(vals)
                    vals[:2] /= world
                loss_d, loss_g, signalled = (float(v) for v in vals.cpu())
                t_train += time.perf_counter() - t0
                n_train += 1
                if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
                    what = "loss_d" if not math.isfinite(loss_d) else "loss_g"
                    kept = f"the last good checkpoint (step {_ckpt_step(ckpt_path)}) is kept" if ckpt_path.is_file() \
                        else "no checkpoint was written before"
                    raise NumericalError(f"{what} is {loss_d if what == 'loss_d' else loss_g} at step {step}; "
                                         f"training stopped, {kept} in {out_dir}")
                bar.update(1)

                last = step == cfg["steps"]
                eval_now = cfg["fid_every"] > 0 and (step % cfg["fid_every"] == 0 or last)
                log_now = eval_now or last or (cfg["log_every"] > 0 and step % cfg["log_every"] == 0)
                if log_now:
                    rec = {"step": step, "time": round(elapsed_now(), 3), "loss_d": loss_d, "loss_g": loss_g,
                           "lr_d": opt.lr_d, "lr_g": opt.lr_g, "it_s": round(n_train / max(t_train, 1e-9), 3)}
                    t_train, n_train = 0.0, 0
                    if eval_now:
                        values = task.evaluate(G, step, out_dir)
                        rec.update(values)
                        v = values.get(task.metric)
                        if v is not None:
                            final = v
                            best = v if best is None or v < best else best
                            tell(f"step {step}: {task.metric_label} {v:.3f}")
                        rec["time"] = round(elapsed_now(), 3)
                    if main:
                        log.add(rec)
                        bar.set_postfix(loss_d=f"{loss_d:.3f}", loss_g=f"{loss_g:.3f}",
                                        **({task.metric: f"{final:.2f}"} if final is not None else {}))
                    if eval_now:
                        if main:
                            log.write_csv()
                            plot()
                        go_on = True
                        if main:
                            for cb in callbacks or []:
                                if cb(step, rec) is False:
                                    go_on = False
                        if world > 1:
                            go_on = dist.all_reduce_sum(torch.tensor([0.0 if go_on else 1.0])).item() == 0
                        if not go_on:
                            stopped = "callback"
                if main and cfg["sample_every"] > 0 and (step % cfg["sample_every"] == 0 or last):
                    task.save_samples(G, step, out_dir)
                if signalled or (world == 1 and sig.received):  # (one process: also a signal during evaluation)
                    stopped = sig.received or "SIGTERM"
                if stopped or last or (cfg["checkpoint_every"] > 0 and step % cfg["checkpoint_every"] == 0):
                    save_checkpoint()
                if stopped:
                    tell(f"stopped at step {step} ({stopped}); checkpoint written to {ckpt_path}")
                    break
        finally:
            bar.close()
            if main:
                log.close()
                plot()
    return TrainResult(out_dir=out_dir, step=step, metric=task.metric, metric_label=task.metric_label, best=best,
                       final=final, records=list(records), stopped=stopped)


def real_is_image(cfg: dict) -> bool:
    return cfg["task"] == "image"


def _ckpt_step(path: Path) -> int | str:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["step"])
    except Exception:  # noqa: BLE001
        return "?"
