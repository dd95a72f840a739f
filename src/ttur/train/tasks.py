"""Tasks: what the generic training loop trains on. ``ImageTask`` here; the text task lives in ``ttur.text``.

A task builds (G, D), draws latent batches, streams real batches, evaluates a generator (lower is
better) and saves samples. The loop (:mod:`ttur.train.loop`) does the rest: losses, the TTUR
optimizer pair, logging, checkpoints, resume, distribution.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, WeightsError
from .data import DataStream
from .taskconfig import ImageConfig, TaskConfig


class Task(TaskConfig):
    """Base class; see the module notes and the training API in the README."""

    name: str = "task"
    metric: str = "metric"
    metric_label: str = "metric"

    def __init__(self, cfg: dict, device: torch.device, rank: int = 0, world: int = 1) -> None:
        self.cfg, self.device, self.rank, self.world = cfg, torch.device(device), rank, world
        self.notes: list[str] = []  # one-line messages the loop says once at the start

    def build_models(self) -> tuple[nn.Module, nn.Module]:  # pragma: no cover - abstract
        raise NotImplementedError

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def data(self) -> DataStream:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare_real(self, batch: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
        """A batch of the data stream as D takes it (images: in the models' memory format)."""
        return batch

    def evaluate(self, G: nn.Module, step: int, out_dir: Path) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError

    def save_samples(self, G: nn.Module, step: int, out_dir: Path) -> Path | None:  # pragma: no cover
        return None


class ImageTask(ImageConfig, Task):
    """GAN on images: DCGAN or WGAN-GP ResNet, FID (or FD on small features) against reference statistics."""

    name = "image"

    def __init__(self, cfg: dict, device: torch.device, rank: int = 0, world: int = 1) -> None:
        super().__init__(cfg, device, rank, world)
        self._dataset = None
        self._extractor = None
        self._ref = None
        self._fid = None  # the ttur.FID metric object, made on the first evaluation
        self.metric, self.metric_label = "fid", "FID"
        self.dataset()  # the data first: a missing dataset is reported before missing weights
        if cfg["fid_every"] > 0:
            self._extractor = self._resolve_extractor()
            ext = self._extractor
            self.metric = "fid" if ext.is_inception else f"fd_{ext.name}"
            self.metric_label = ext.label

    # ------------------------------------------------------------------ models and data
    def build_models(self) -> tuple[nn.Module, nn.Module]:
        from .models import build_image_models

        c = self.cfg
        G, D = build_image_models(c["model"], c["image_size"], c["z_dim"], c["g_width"], c["d_width"])
        return G.to(self.device), D.to(self.device)

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """DCGAN: z ~ U(-1, 1)^z_dim; ResNet (WGAN-GP): z ~ N(0, 1)^z_dim."""
        z_dim = self.cfg["z_dim"]
        if self.cfg["model"] == "dcgan":
            return torch.rand(n, z_dim, generator=generator, device=self.device).mul_(2).sub_(1)
        return torch.randn(n, z_dim, generator=generator, device=self.device)

    def dataset(self):
        if self._dataset is None:
            from ..images.training import open_training_data

            c = self.cfg
            self._dataset = open_training_data(c["dataset"], c["image_size"], c["crop"], length=c["dataset_length"],
                                               seed=c["seed"], resample=c["resample"])
        return self._dataset

    def data(self) -> DataStream:
        ds = self.dataset()
        return DataStream(len(ds), ds.get_batch, self.cfg["batch_size"], seed=self.cfg["seed"], rank=self.rank,
                          world=self.world, device=self.device, prefetch=ds.images.decode_workers, name=ds.name,
                          unit="images")

    def prepare_real(self, batch: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
        return batch.contiguous(memory_format=memory_format)

    # ------------------------------------------------------------------ monitoring
    def _resolve_extractor(self):
        from ..networks import get_extractor
        from ..networks import weights as W

        fe = self.cfg["fid_features"]
        if not isinstance(fe, str):  # an extractor or module given in Python
            return get_extractor(fe, device=self.device)
        if fe == "auto":
            try:
                found = W.find_weights()
            except WeightsError:
                found = None
            if found is not None:
                return get_extractor(None, device=self.device, weights=found)
            small = self.dataset().images.default_extractor  # the bundled extractor made for these images, if any
            if small is not None:
                self.notes.append(f"no FID Inception weights here: monitoring with the {small} feature extractor "
                                  "(FD, not FID); `ttur weights --download` fetches the real weights")
                return get_extractor(small, device=self.device)
            raise WeightsError("fid_features: auto found no FID Inception weights (`ttur weights --download` "
                               f"fetches them; {W.how_to_get()}); or set fid_every=0")
        if fe == "inception":
            return get_extractor(None, device=self.device)
        return get_extractor(fe, device=self.device)

    def _reference(self, out_dir: Path):
        from ..distributed import barrier, is_main
        from ..metrics.api import compute_stats
        from ..metrics.stats import Stats

        if self._ref is not None:
            return self._ref
        c = self.cfg
        if c["fid_ref"]:
            p = Path(c["fid_ref"]).expanduser()
            if not p.is_file():
                raise ConfigError(f"fid_ref: {p} does not exist")
            self._ref = Stats.load(p)
            return self._ref
        cached = Path(out_dir) / f"reference_{self.metric}.npz"
        if cached.is_file():
            self._ref = Stats.load(cached)
            return self._ref
        from ..images.training import open_training_data

        n = c["fid_ref_samples"]
        if c["dataset_length"] is not None:
            n = min(n, c["dataset_length"])
        ref_ds = open_training_data(c["dataset"], c["image_size"], c["crop"], length=n, seed=c["seed"],
                                    resample=c["resample"], spread=True)  # not the first n of a sorted folder
        self._ref = compute_stats(ref_ds.images, extractor=self._extractor, batch_size=c["fid_batch_size"],
                                  progress=False)
        if is_main():
            self._ref.save(cached)
        barrier()
        return self._ref

    def evaluate(self, G: nn.Module, step: int, out_dir: Path) -> dict[str, float]:
        from ..distributed import is_active, shard_range
        from ..metrics.fid_metric import FID

        if self._extractor is None:
            return {}
        if self._fid is None:  # the reference statistics once; each evaluation resets the generated side
            self._fid = FID(self._reference(out_dir), extractor=self._extractor)
        m = self._fid
        gen = torch.Generator(device=self.device).manual_seed(self.cfg["seed"] * 7919 + 104729 + self.rank)
        was_training = G.training
        G.eval()  # DCGAN samples with batch norm in inference mode; the ResNet G always uses batch statistics
        # this rank's share of the samples, in batches of fid_batch_size (as a sharded generator source)
        total, bs = self.cfg["fid_samples"], self.cfg["fid_batch_size"]
        start, stop = shard_range(total) if is_active() else (0, total)
        m.reset()
        try:
            done = 0
            while done < stop - start:
                b = min(bs, stop - start - done)
                with torch.no_grad():
                    m.update(G(self.noise(b, gen)).float().clamp_(-1, 1))
                done += b
        finally:
            G.train(was_training)
        return {self.metric: float(m.compute())}

    def save_samples(self, G: nn.Module, step: int, out_dir: Path) -> Path | None:
        from .plots import save_grid

        gen = torch.Generator(device=self.device).manual_seed(self.cfg["seed"] + 31337)
        was_training = G.training
        G.eval()
        try:
            with torch.no_grad():
                x = G(self.noise(self.cfg["sample_count"], gen)).float()
        finally:
            G.train(was_training)
        return save_grid(x, Path(out_dir) / "samples" / f"step_{step:07d}.png")


TASKS: dict[str, type[Task] | str] = {"image": ImageTask, "text": "ttur.text.task:TextTask"}


def task_class(name: str) -> type[Task]:
    t = TASKS.get(name)
    if t is None:
        raise ConfigError(f"task: must be one of {', '.join(TASKS)}, got {name!r}")
    if isinstance(t, str):
        mod, _, attr = t.partition(":")
        try:
            t = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"task: {name} is not available in this installation ({e})") from e
    return t
