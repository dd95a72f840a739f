"""Issue 14, "nothing lost, nothing silent": one regression test (or more) for each of its nine items."""

from __future__ import annotations

import gzip
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ttur.cli import main

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(__import__("ttur").__file__).resolve().parents[1]  # the ttur under test
TINY = ["lr_decay=none", "dataset=shapes", "dataset_length=64", "image_size=32", "g_width=4", "d_width=4", "z_dim=8",
        "batch_size=8", "steps=2", "log_every=1", "sample_every=0", "checkpoint_every=2", "fid_every=0",
        "device=cpu", "sample_count=4", "threads=1"]


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(SRC), **extra}


@pytest.fixture
def tiny_run(tmp_path):
    from ttur.train import load_config, train

    run = tmp_path / "run"
    train(load_config("quickstart", TINY), run, progress=False)
    return run


# 1. a refused resume changes nothing in the run folder ------------------------------------------------------------
def test_refused_resume_leaves_the_run_folder_as_it_was(tiny_run, capsys):
    before = _snapshot(tiny_run)
    assert main(["train", "--resume", str(tiny_run), "g_width=8", "steps=4", "--no-progress"]) == 2
    assert "the G it holds does not fit" in _one_line(capsys.readouterr().err)
    assert _snapshot(tiny_run) == before  # config.yaml included
    assert main(["train", "--resume", str(tiny_run), "steps=3", "--no-progress"]) == 0  # the plain resume works


# 2. one output-path check, before the long work -------------------------------------------------------------------
def test_outputs_are_checked_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    folder = tmp_path / "dir"
    folder.mkdir()
    images = tmp_path / "imgs.npy"
    np.save(images, np.zeros((4, 8, 8, 3), np.uint8))
    cases = [
        (["stats", str(images), "-o", str(a_file / "x.npz")], "--output: cannot write .*is a file, not a folder"),
        (["stats", str(images), "-o", str(folder)], "--output: .*dir is a folder; give a file name"),
        (["train", "quickstart", "--out", str(a_file)], "--out: .*file exists and is not a folder"),
        (["train", "quickstart", "--out", str(a_file / "run")], "--out: cannot write .*is a file"),
        (["experiment", "toy", "--quick", "-o", str(a_file / "r")], "--out: cannot write .*is a file"),
    ]
    before = _snapshot(tmp_path)
    for argv, pattern in cases:
        assert main(argv) == 2, argv
        assert re.search(pattern, _one_line(capsys.readouterr().err)), argv
    assert _snapshot(tmp_path) == before and not (tmp_path / "dir.npz").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_refused_at_once(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["stats", "shapes", "-o", str(ro / "x.npz")]) == 2
        assert "is not writable" in _one_line(capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


def test_library_writer_refuses_an_existing_folder(tmp_path):
    from ttur.errors import InputError
    from ttur.metrics.stats import Stats

    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        Stats(np.zeros(2), np.eye(2), n=3).save(tmp_path / "d")
    assert not (tmp_path / "d.npz").exists()


# 3. one validation table for numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,flag", [
    (["fid", "a", "b", "--num-workers", "-1"], "--num-workers"),
    (["fid", "a", "b", "--kid-subsets", "0"], "--kid-subsets"),
    (["fid", "a", "b", "--batch-size", "0"], "--batch-size"),
    (["train", "quickstart", "--out", "R", "steps=nan"], "steps"),
    (["train", "quickstart", "--out", "R", "steps=.nan"], "steps"),
    (["train", "quickstart", "--out", "R", "steps=.inf"], "steps"),
    (["train", "quickstart", "--out", "R", "lr_d=.inf"], "lr_d"),
    (["train", "quickstart", "--out", "R", "steps=2.5"], "steps"),
    (["jsd", "a", "b", "--n", "0"], "--n"),
    (["experiment", "toy", "--radius", "nan"], "--radius"),
    (["experiment", "sweep", "--eta", "1"], "--eta"),
])
def test_numbers_are_checked_at_parse_time_with_one_line(argv, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert _one_line(capsys.readouterr().err).startswith(f"ttur: error: {flag}: ")
    assert list(tmp_path.iterdir()) == []


def test_config_numbers_refuse_nan_and_infinity():
    from ttur.errors import ConfigError
    from ttur.train import load_config

    for bad in ("steps=.nan", "steps=.inf", "fid_every=-.inf", "gp_weight=.nan", "threads=1.5"):
        with pytest.raises(ConfigError, match=r"^(steps|fid_every|gp_weight|threads): "):
            load_config("quickstart", [bad])


# 4. num_samples honoured by every source ----------------------------------------------------------------------------
def _idx(images: np.ndarray) -> bytes:
    return struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", *images.shape) + images.tobytes()


def test_num_samples_caps_every_source_at_its_first_n(tmp_path):
    from PIL import Image

    from ttur.errors import InputError
    from ttur.metrics.sources import open_source

    imgs = np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(_idx(imgs))
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(30):
        Image.fromarray(imgs[i]).save(folder / f"{i:03d}.png")
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    np.save(tmp_path / "a.npy", imgs)
    for src in ("t10k-images-idx3-ubyte.gz", "folder", "z.zip", "a.npy"):
        s = open_source(tmp_path / src, num_samples=20)
        assert len(s) == 20, src
        got = np.concatenate([b.numpy() for b in s.batches(8)])[:, 0]
        np.testing.assert_array_equal(got, imgs[:20], err_msg=src)  # the first N, in order
        with pytest.raises(InputError, match="num_samples: 31 asked for"):
            open_source(tmp_path / src, num_samples=31)
    mnist = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist_t10k-images-idx3-ubyte.gz"
    if mnist.is_file():
        assert len(open_source(mnist, num_samples=20)) == 20


# 5. extending a run under a linear decay ------------------------------------------------------------------------------
def test_a_longer_resumed_run_continues_the_linear_decay_from_its_rate(tmp_path):
    from helpers import probe_extractor

    from ttur.errors import ConfigError
    from ttur.train import load_config, train

    run = tmp_path / "r"
    cfg = load_config("quickstart", [*TINY, "lr_decay=linear", "steps=4", "fid_every=2", "fid_samples=16",
                                     "fid_ref_samples=32"]) | {"fid_features": probe_extractor()}
    res = train(cfg, run, progress=False, callbacks=[lambda step, rec: step < 2])  # stopped at step 2 of 4
    assert res.step == 2
    base = cfg["lr_g"]
    res = train(load_config(run / "config.yaml", ["steps=8", "fid_every=0"]), run, resume=True, progress=False)
    lrs = {r["step"]: r["lr_g"] for r in res.records}
    assert lrs[2] == pytest.approx(base / 2)  # where the first session had decayed to
    assert lrs[3] == pytest.approx(base / 2 * 5 / 6)  # then on, linearly, to 0 at the new end: no jump up
    assert lrs[5] == pytest.approx(base / 4)
    assert lrs[8] == 0.0
    steps = sorted(lrs)
    assert all(lrs[a] >= lrs[b] for a, b in zip(steps, steps[1:], strict=False))
    before = _snapshot(run)
    with pytest.raises(ConfigError, match="steps: the linear decay of this run reached a learning rate of 0"):
        train(load_config(run / "config.yaml", ["steps=12"]), run, resume=True, progress=False)
    assert _snapshot(run) == before


# 6. argument and config errors before heavy imports ---------------------------------------------------------------
PROBE = """
import sys, time
t = time.perf_counter()
from ttur.cli import main
rc = main({argv!r})
print("RESULT", rc, "torch" in sys.modules, round(time.perf_counter() - t, 3), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["train", "quickstart", "foo=1"], ["train", "quickstart", "--out", "R", "steps=.nan"],
                                  ["jsd", "a", "b", "--n", "0"], ["fid", "a", "b", "--num-workers", "-1"],
                                  ["stats", "x", "-o", "/dev/null/x.npz"]])
def test_argument_errors_come_before_torch_is_imported(argv, tmp_path):
    p = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env=_env())
    assert "RESULT 2 False" in p.stderr, p.stderr


# 7. debris after a kill ----------------------------------------------------------------------------------------------
def test_stale_temporaries_of_the_run_are_removed_on_its_next_start(tiny_run):
    from ttur.train import load_config, train

    ours = [tiny_run / ".checkpoint.pt.k3j_9x0a.tmp", tiny_run / ".config.yaml.abcdefgh.tmp"]
    not_ours = [tiny_run / ".checkpoint.pt.mine.tmp", tiny_run / "notes.tmp", tiny_run / ".other.abcdefgh.tmp"]
    for p in ours + not_ours:
        p.write_bytes(b"x" * 100)
    train(load_config(tiny_run / "config.yaml", ["steps=3"]), tiny_run, resume=True, progress=False)
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in not_ours)


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        f = task / "children"
        if f.is_file():
            out |= {int(x) for x in f.read_text().split()}
    return out


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_sigterm_to_stats_shuts_the_decoding_workers_down(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(400):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    p = subprocess.Popen([sys.executable, "-m", "ttur", "stats", str(folder), "-o", str(tmp_path / "s.npz"),
                          "--num-workers", "2", "--batch-size", "2", "--no-progress", "--extractor", "shapes"],
                         env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        workers: set[int] = set()
        while time.time() < deadline and len(workers) < 2 and p.poll() is None:
            workers = _children(p.pid)
            time.sleep(0.05)
        if len(workers) < 2:
            pytest.skip("the pass ended before its workers could be seen")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(60)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert rc == 143 and "Traceback" not in err, err
    time.sleep(0.5)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "zombie" not in _state(w)]
    assert alive == [], f"workers {alive} outlived ttur stats"
    assert not (tmp_path / "s.npz").exists()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].splitlines()[0].lower()
    except (OSError, IndexError):
        return "zombie"


# 8. numbers that mislead ---------------------------------------------------------------------------------------------
def test_readme_kid_example_has_images_on_both_sides():
    text = (ROOT / "README.md").read_text()
    calls = re.findall(r"ttur\.fid\(([^\n]*kid=True[^\n]*)\)", text)
    assert calls
    for call in calls:
        assert ".npz" not in call and "stats" not in call.split("kid=True")[0], call


def test_kid_with_subsets_larger_than_the_images_says_what_it_did():
    from helpers import probe_extractor

    import ttur

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match="kid_subset_size: 1000 is more than the 10 images .* subsets of 10"):
        r = ttur.fid(a, b, extractor=probe_extractor(), kid=True, kid_subsets=5, progress=False)
    assert r.kid_subset_size == 10 and r.to_dict()["kid_subset_size"] == 10


def test_identical_inputs_give_a_distance_of_exactly_zero():
    import ttur
    from ttur.metrics.stats import Stats

    seen = []
    for seed in range(12):
        for n in (10, 65, 300):  # singular, barely full-rank and well-conditioned covariances
            f = np.random.default_rng(seed).normal(size=(n, 64)) * 10.0 ** (seed % 4)
            s = Stats(f.mean(0), np.cov(f, rowvar=False), n=n)
            d = ttur.frechet_distance(s, s)
            assert 0.0 <= d < 1e-6 * 10.0 ** (2 * (seed % 4)), (seed, n, d)  # never negative: clamped at 0.0
            seen.append(d)
    assert 0.0 in seen


def test_missing_dataset_is_reported_before_weights_and_creates_no_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TTUR_INCEPTION_WEIGHTS", str(tmp_path / "no-weights.pth"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = tmp_path / "run"
    rc = main(["train", "quickstart", "dataset=/nonexistent", "fid_features=inception", "fid_every=10",
               "--out", str(run), "--no-progress"])
    assert rc == 2
    assert "/nonexistent" in _one_line(capsys.readouterr().err)
    assert not run.exists()


# 9. numbers that depend on the thread count -------------------------------------------------------------------------
def test_sweep_and_compare_state_the_thread_count_with_their_numbers(tmp_path, capsys):
    from dataclasses import dataclass, field

    from ttur.experiments import compare, sweep

    @dataclass
    class Res:
        final: float
        step: int = 0
        best: float | None = None
        metric: str = "fid"
        metric_label: str = "FID"
        stopped: str | None = None
        records: list = field(default_factory=list)

    def fake_train(cfg, out_dir, resume=False, progress=True, say=print):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "config.yaml").write_text(f"lr_d: {cfg['lr_d']}\nlr_g: {cfg['lr_g']}\nthreads: 3\n")
        (Path(out_dir) / "checkpoint.pt").write_text("x")
        v = cfg["lr_d"] * 1e4 + 100 / cfg["steps"]
        return Res(final=v, step=cfg["steps"], best=v, records=[{"step": cfg["steps"], "fid": v}])

    res = sweep.run(tmp_path / "s", "quickstart", lr_d=[1e-4, 3e-4], lr_g=[1e-4], r=10, max_steps=20, progress=False,
                    train_fn=fake_train, say=lambda m: None, overrides={"threads": 3})
    assert res["threads"] == 3 and "torch threads: 3" in (tmp_path / "s" / "report.md").read_text()
    res = compare.run(tmp_path / "c", "quickstart", orig_lr=2e-4, progress=False, train_fn=fake_train,
                      say=lambda m: None, overrides={"threads": 2, "steps": 10})
    assert res["threads"] == 2 and "torch threads: 2" in (tmp_path / "c" / "report.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"1119 TTUR, 807 one time-scale[^|]*torch thread", readme)
    assert re.search(r"FD \(shapes features\) 714[^|]*torch thread", readme)
