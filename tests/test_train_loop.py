"""The training loop: exact resume, monitoring, stopping (NaN, callbacks, signals), the CLI."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from helpers import probe_extractor

from ttur.cli import main
from ttur.errors import ConfigError, NumericalError
from ttur.train import load_config, train
from ttur.train import losses as L

pytestmark = pytest.mark.usefixtures("one_thread")

# the schedule is pinned here: the resume tests stop at k steps and resume to n, which re-plans a decay over `steps`
TINY = ["lr_decay=none", "lr_d=1e-4", "lr_g=3e-4",
        "dataset=shapes", "dataset_length=256", "image_size=32", "g_width=4", "d_width=4", "z_dim=8",
        "batch_size=8", "steps=6", "log_every=2", "sample_every=3", "checkpoint_every=3", "fid_every=0",
        "device=cpu", "sample_count=4"]
WGAN = ["model=resnet", "loss=wgan-gp", "d_steps=2", "betas_d=[0.0,0.9]", "betas_g=[0.0,0.9]", "lr_d=3e-4"]


def _cfg(*extra, **kw):
    cfg = load_config("quickstart", [*TINY, *extra])
    cfg.update(kw)
    return cfg


def _states(run) -> dict:
    return torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)


@pytest.mark.parametrize("extra", [[], WGAN], ids=["dcgan-gan", "resnet-wgan-gp"])
def test_resume_is_bit_identical(tmp_path, extra):
    a, b = tmp_path / "a", tmp_path / "b"
    ext = probe_extractor()
    kw = {"fid_every": 3, "fid_samples": 16, "fid_ref_samples": 32, "fid_features": ext}
    full = train(_cfg(*extra, **kw), a, progress=False)
    train(_cfg(*extra, "steps=3", **kw), b, progress=False)
    part = train(load_config(b / "config.yaml", ["steps=6"]) | {"fid_features": ext}, b, resume=True, progress=False)
    assert full.step == part.step == 6
    sa, sb = _states(a), _states(b)
    for k in ("G", "D"):
        for name, t in sa[k].items():
            assert torch.equal(t, sb[k][name]), f"{k}.{name} differs after resume"
    assert sa["optim"]["opt_d"]["state"][0]["exp_avg"].equal(sb["optim"]["opt_d"]["state"][0]["exp_avg"])
    assert sa["data"] == sb["data"]
    fa = [r["fd_probe"] for r in full.records if "fd_probe" in r]
    fb = [r["fd_probe"] for r in part.records if "fd_probe" in r]
    assert len(fa) == 2 and fa == fb  # the evaluations too, and the resumed log holds both
    assert [r["step"] for r in part.records] == [r["step"] for r in full.records] == [2, 3, 4, 6]
    assert full.metric == "fd_probe" and full.metric_label == "FD (probe features)"
    assert full.best == min(fa) and full.final == fa[-1]
    for f in ("config.yaml", "metrics.jsonl", "metrics.csv", "fid.png", "samples/step_0000006.png",
              "reference_fd_probe.npz"):
        assert (a / f).is_file(), f


def test_resume_after_a_stop_is_bit_identical_with_linear_decay(tmp_path):
    """The quickstart's schedule: a run stopped at step 3 of 6 and resumed equals the uninterrupted run."""
    a, b = tmp_path / "a", tmp_path / "b"
    ext = probe_extractor()
    kw = {"fid_every": 3, "fid_samples": 16, "fid_ref_samples": 32, "fid_features": ext}
    decay = ["lr_decay=linear", "lr_d=2e-4", "lr_g=5e-4"]
    full = train(_cfg(*decay, **kw), a, progress=False)
    stop = train(_cfg(*decay, **kw), b, progress=False, callbacks=[lambda step, rec: step < 3])
    assert stop.stopped == "callback" and stop.step == 3
    part = train(load_config(b / "config.yaml") | {"fid_features": ext}, b, resume=True, progress=False)
    assert full.step == part.step == 6
    assert [r["lr_d"] for r in full.records] == [r["lr_d"] for r in part.records]
    sa, sb = _states(a), _states(b)
    for k in ("G", "D"):
        for name, t in sa[k].items():
            assert torch.equal(t, sb[k][name]), f"{k}.{name} differs after resume"


def test_run_folder_contents(tmp_path):
    res = train(_cfg(), tmp_path / "r", progress=False)
    recs = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert recs == res.records and [r["step"] for r in recs] == [2, 4, 6]
    assert set(recs[0]) == {"step", "time", "loss_d", "loss_g", "lr_d", "lr_g", "it_s"}
    assert recs[0]["lr_d"] == 1e-4 and recs[0]["lr_g"] == 3e-4
    csv = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert csv[0].startswith("step,time,loss_d") and len(csv) == 4
    png = sorted(p.name for p in (tmp_path / "r" / "samples").iterdir())
    assert png == ["step_0000003.png", "step_0000006.png"]
    from PIL import Image

    assert Image.open(tmp_path / "r" / "samples" / png[0]).size == (2 + 2 * 34, 2 + 2 * 34)  # 2x2 grid, 2 px pad
    with pytest.raises(ConfigError, match="holds a run already"):
        train(_cfg(), tmp_path / "r", progress=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = L.d_loss

    def poisoned(kind, r, f):
        calls["n"] += 1
        out = real(kind, r, f)
        return out * float("nan") if calls["n"] == 5 else out

    monkeypatch.setattr(L, "d_loss", poisoned)
    with pytest.raises(NumericalError, match=r"^loss_d is nan at step 5; .*checkpoint \(step 3\)"):
        train(_cfg(), tmp_path / "r", progress=False)
    assert _states(tmp_path / "r")["step"] == 3
    assert torch.isfinite(_states(tmp_path / "r")["G"]["fc.weight"]).all()
    marker = json.loads((tmp_path / "r" / "diverged.json").read_text())
    assert marker["step"] == 5 and marker["what"] == "loss_d" and marker["message"].startswith("loss_d is nan")
    monkeypatch.setattr(L, "d_loss", real)  # a resumed attempt starts from the checkpoint: the marker goes
    train(_cfg(), tmp_path / "r", resume=True, progress=False)
    assert not (tmp_path / "r" / "diverged.json").exists()


def test_callback_and_signal_stop_cleanly(tmp_path):
    seen = []
    res = train(_cfg(fid_every=2, fid_samples=16, fid_ref_samples=32, fid_features=probe_extractor()), tmp_path / "cb",
                progress=False, callbacks=[lambda step, rec: seen.append((step, rec)) or step < 4])
    assert res.stopped == "callback" and res.step == 4 and [s for s, _ in seen] == [2, 4]
    assert "fd_probe" in seen[0][1] and _states(tmp_path / "cb")["step"] == 4

    def term(step, rec):
        os.kill(os.getpid(), signal.SIGTERM)

    old = signal.getsignal(signal.SIGTERM)
    res = train(_cfg(fid_every=2, fid_samples=16, fid_ref_samples=32, fid_features=probe_extractor()), tmp_path / "sig",
                progress=False, callbacks=[term])
    assert res.stopped == "SIGTERM" and res.step == 2 and _states(tmp_path / "sig")["step"] == 2
    assert signal.getsignal(signal.SIGTERM) is old  # handlers restored


def _no_weights(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TTUR_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TTUR_CACHE", str(tmp_path / "empty-cache"))


def test_shapes_fallback_when_no_inception_weights(tmp_path, monkeypatch):
    import ttur.networks

    _no_weights(monkeypatch, tmp_path)

    probe, asked = probe_extractor(), []
    real = ttur.networks.get_extractor

    def fake(extractor=None, **kw):
        asked.append(extractor)
        if extractor == "shapes":
            probe.name = "shapes"
            return probe
        return real(extractor, **kw)

    monkeypatch.setattr(ttur.networks, "get_extractor", fake)
    said = []
    res = train(_cfg("fid_every=3", "fid_samples=16", "fid_ref_samples=32"), tmp_path / "r", progress=False,
                say=said.append)
    assert asked[0] == "shapes" and None not in asked and "inception" not in asked
    assert res.metric == "fd_shapes" and res.metric_label == "FD (shapes features)"
    notes = [s for s in said if "ttur weights --download" in s]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert [s for s in said if s.startswith("step 3: FD (shapes features)")]


def test_non_shapes_data_without_weights_is_refused(tmp_path, monkeypatch):
    import numpy as np

    _no_weights(monkeypatch, tmp_path)

    np.save(tmp_path / "x.npy", np.zeros((4, 32, 32, 3), np.uint8))
    from ttur.errors import WeightsError

    with pytest.raises(WeightsError, match="ttur weights --download"):
        train(_cfg(f"dataset={tmp_path / 'x.npy'}", "dataset_length=null", "fid_every=2"), tmp_path / "r",
              progress=False)


@pytest.mark.filterwarnings("ignore:.*not the official FID Inception weights")
def test_inception_monitoring_with_stand_in_weights(tmp_path, weights_env):
    res = train(_cfg("steps=2", "fid_every=2", "fid_samples=4", "fid_ref_samples=4", "fid_batch_size=4"),
                tmp_path / "r", progress=False)
    assert res.metric == "fid" and res.metric_label == "FID"
    assert res.final is not None and res.final >= 0 and "fid" in res.records[-1]


def test_cli_train_resume_and_interrupt_codes(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("\n".join(x.replace("=", ": ", 1) for x in TINY) + "\n")
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "steps=4", "--no-progress"]) == 0
    assert "trained 4 steps" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "steps=6", "--no-progress"]) == 0
    assert _states(run)["step"] == 6
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6]
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 2
    assert "holds a run already" in capsys.readouterr().err


def test_cli_quickstart_runs_to_its_end(tmp_path, capsys):
    run = tmp_path / "q"
    args = ["quickstart", "--out", str(run), "--no-progress", *TINY, "steps=2", "sample_every=2"]
    assert main(args) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    assert (run / "samples" / "step_0000002.png").is_file() and (run / "config.yaml").is_file()
    assert main(args) == 0  # a finished run folder: nothing more to do, same summary
    assert "trained 2 steps" in capsys.readouterr().out


def test_cli_sigterm_writes_a_checkpoint_and_exits_143(tmp_path):
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ttur", "train", "quickstart", "--out", str(run), "--no-progress",
                             *TINY, "steps=100000", "log_every=1", "checkpoint_every=0", "sample_every=0", "threads=1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not ((run / "metrics.jsonl").is_file() and (run / "metrics.jsonl").read_text()):
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "timeout"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    step = _states(run)["step"]
    assert step >= 1 and f"stopped at step {step} (SIGTERM)" in out


def test_bundled_shapes_extractor_monitors_offline(tmp_path, monkeypatch):
    _no_weights(monkeypatch, tmp_path)
    said = []
    res = train(_cfg("steps=2", "fid_every=2", "fid_samples=40", "fid_ref_samples=40", "fid_batch_size=40"),
                tmp_path / "r", progress=False, say=said.append)
    assert res.metric == "fd_shapes" and res.metric_label == "FD (shapes features)"
    assert res.final is not None and res.final > 0 and res.records[-1]["fd_shapes"] == res.final
    assert sum("ttur weights --download" in s for s in said) == 1


def test_resume_with_a_model_that_does_not_fit_is_one_error(tmp_path):
    run = tmp_path / "r"
    train(_cfg("steps=2", "checkpoint_every=2", "sample_every=0"), run, progress=False)
    cfg = load_config(run / "config.yaml", ["steps=4", "g_width=8"])
    with pytest.raises(ConfigError, match=r"checkpoint\.pt: the G it holds does not fit"):
        train(cfg, run, resume=True, progress=False)
