"""Data-parallel training (gloo, CPU processes) against one process with the same global batch."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from torch import nn

from ttur.networks.base import ModuleExtractor
from ttur.train import load_config, train

BASE = ["lr_decay=none", "lr_d=1e-4", "lr_g=3e-4",  # pinned: the tolerance below is for these rates
        "dataset=shapes", "dataset_length=128", "image_size=32", "g_width=4", "d_width=4", "z_dim=8",
        "batch_size=8", "log_every=1", "sample_every=0", "checkpoint_every=0", "fid_every=0", "device=cpu"]
RUNS = {  # DCGAN: batch norm in G and D; ResNet WGAN-GP: batch norm in G, gradient penalty, 2 critic steps
    "dcgan": [*BASE, "steps=3"],
    "wgan": [*BASE, "steps=2", "model=resnet", "loss=wgan-gp", "d_steps=2", "betas_d=[0.0,0.9]",
             "betas_g=[0.0,0.9]", "lr_d=3e-4"],
}
# float32 sums in a different order (global batch-norm statistics, gradient all-reduce); Adam divides by
# sqrt(v), so where a gradient is near zero that rounding becomes a visible fraction of a step (lr_d = 3e-4)
TOL = 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe() -> ModuleExtractor:
    torch.manual_seed(5)
    return ModuleExtractor(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(2), nn.Flatten()), "probe")


def _worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        for name, over in RUNS.items():
            extra = {"fid_every": 2, "fid_samples": 9, "fid_ref_samples": 16, "fid_features": _probe()} \
                if name == "dcgan" else {}
            train(load_config("quickstart", over) | extra, os.path.join(root, f"{name}-dist"), progress=False)
    finally:
        tdist.destroy_process_group()


def _weights(run) -> dict:
    sd = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    return {f"{k}.{n}": t for k in ("G", "D") for n, t in sd[k].items() if t.is_floating_point()}


def _close(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_processes_match_one(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, over in RUNS.items():
            single = train(load_config("quickstart", over), tmp_path / f"{name}-single", progress=False)
            dist_w, single_w = _weights(tmp_path / f"{name}-dist"), _weights(tmp_path / f"{name}-single")
            moved = _close(single_w, _weights_init(name))
            assert moved > 1e-4  # training moved the weights, so agreement is not trivial
            # weights (and batch-norm scales) agree; biases feeding a batch norm have an exactly zero gradient,
            # so Adam turns rounding noise into +-lr steps there: those are compared through the function instead
            _agree(name, dist_w, single_w)
            dist_loss = [r["loss_d"] for r in _records(tmp_path / f"{name}-dist")]
            assert dist_loss == pytest.approx([r["loss_d"] for r in single.records], abs=1e-5)
        assert (tmp_path / "dcgan-dist" / "reference_fd_probe.npz").is_file()  # sharded monitoring, rank 0 wrote
        assert "fd_probe" in _records(tmp_path / "dcgan-dist")[-1]
        # the state is global: the data stream and the latent generator of the two-process checkpoint are those of
        # the one-process run, so it resumes in one process like an uninterrupted single run
        sd, ss = (torch.load(tmp_path / f"wgan-{k}" / "checkpoint.pt", weights_only=False) for k in ("dist", "single"))
        assert sd["data"] == ss["data"] and torch.equal(sd["gen"], ss["gen"]) and sd["step"] == ss["step"] == 2
        resumed = train(load_config(tmp_path / "wgan-dist" / "config.yaml", ["steps=4"]), tmp_path / "wgan-dist",
                        resume=True, progress=False)
        longer = train(load_config("quickstart", [*RUNS["wgan"], "steps=4"]), tmp_path / "wgan-4", progress=False)
        assert resumed.step == 4
        # two more Adam steps amplify the rounding differences of near-zero gradients (see TOL)
        _agree("wgan", _weights(tmp_path / "wgan-dist"), _weights(tmp_path / "wgan-4"), tol=50 * TOL)
        assert [r["step"] for r in longer.records] == [r["step"] for r in resumed.records] == [1, 2, 3, 4]
    finally:
        torch.set_num_threads(n)


def _agree(name: str, a: dict, b: dict, tol: float = TOL) -> None:
    w = [k for k in a if k.endswith("weight")]
    assert _close({k: a[k] for k in w}, {k: b[k] for k in w}) < tol, name
    out_a, out_b = _outputs(name, a), _outputs(name, b)
    assert max(float((x - y).abs().max()) for x, y in zip(out_a, out_b, strict=True)) < tol, name


def _records(run) -> list[dict]:
    import json

    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def _weights_init(name: str) -> dict:
    from ttur.train.models import build_image_models

    cfg = load_config("quickstart", RUNS[name])
    torch.manual_seed(cfg["seed"])
    G, D = build_image_models(cfg["model"], 32, cfg["z_dim"], cfg["g_width"], cfg["d_width"])
    return {f"{k}.{n}": t for k, m in (("G", G), ("D", D)) for n, t in m.state_dict().items() if t.is_floating_point()}


def _outputs(name: str, weights: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """G(z) and D(x) on fixed inputs, in training mode (batch statistics)."""
    from ttur.train.models import build_image_models

    cfg = load_config("quickstart", RUNS[name])
    G, D = build_image_models(cfg["model"], 32, cfg["z_dim"], cfg["g_width"], cfg["d_width"])
    G.load_state_dict({k[2:]: v for k, v in weights.items() if k.startswith("G.")}, strict=False)
    D.load_state_dict({k[2:]: v for k, v in weights.items() if k.startswith("D.")}, strict=False)
    g = torch.Generator().manual_seed(3)
    z = torch.rand(16, cfg["z_dim"], generator=g) * 2 - 1
    with torch.no_grad():
        x = G(z)
        return x, D(x)
