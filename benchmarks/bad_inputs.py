"""Rerun the bad inputs of issue 14 and check each gives one line on stderr, exit status 2, no traceback,
and leaves every file as it was (the run folder of a refused resume included); prints the time each took.

    PYTHONPATH=src python benchmarks/bad_inputs.py            # exit 0 when every case holds

The sandbox is a temporary folder with an image array, a finished tiny training run (linear decay) and
a plain file and folder to aim outputs at.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TINY = ["dataset=shapes", "dataset_length=64", "image_size=32", "g_width=4", "d_width=4", "z_dim=8", "batch_size=8",
        "steps=2", "log_every=1", "sample_every=0", "checkpoint_every=2", "fid_every=0", "device=cpu",
        "sample_count=4", "threads=1", "lr_decay=linear"]


def cases(box: Path) -> list[list[str]]:
    run, f, d, npy = str(box / "run"), str(box / "file"), str(box / "dir"), str(box / "imgs.npy")
    out = [
        ["train", "--resume", run, "g_width=64"],                           # 1. refused resume
        ["train", "--resume", run, "steps=10"],                             # 5. a decay that reached 0
        ["stats", npy, "-o", f + "/x.npz"],                                 # 2. parent is a file
        ["stats", npy, "-o", d],                                            # 8. -o an existing folder
        ["train", "quickstart", "--out", f],                                # 2. --out an existing file
        ["train", "quickstart", "--out", f + "/run"],
        ["experiment", "toy", "--quick", "-o", f + "/r"],
        ["fid", npy, npy, "--num-workers", "-1"],                           # 3. numbers
        ["fid", npy, npy, "--kid-subset-size", "1"],
        ["train", "quickstart", "--out", str(box / "new"), "steps=nan"],
        ["train", "quickstart", "--out", str(box / "new"), "steps=.inf"],
        ["train", "quickstart", "--out", str(box / "new"), "foo=1"],        # 6. fast errors
        ["jsd", npy, npy, "--n", "0"],
        ["train", "quickstart", "dataset=/nonexistent", "fid_features=inception", "fid_every=10",
         "--out", str(box / "new")],                                        # 8. the data before the weights
    ]
    if os.geteuid() != 0:  # root writes into read-only folders
        out.append(["stats", npy, "-o", str(box / "ro" / "x.npz")])
    return out


def snapshot(box: Path) -> dict:
    return {str(p.relative_to(box)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(box.rglob("*"))}


def main() -> int:
    env = {**os.environ, "TTUR_INCEPTION_WEIGHTS": "/nonexistent/weights.pth", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp)
        np.save(box / "imgs.npy", np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8))
        (box / "file").write_text("x")
        (box / "dir").mkdir()
        (box / "ro").mkdir()
        (box / "ro").chmod(0o555)
        subprocess.run([sys.executable, "-m", "ttur", "train", "quickstart", "--out", str(box / "run"), "--no-progress",
                        *TINY], check=True, env=env, capture_output=True)
        failures = 0
        for argv in cases(box):
            before = snapshot(box)
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "ttur", *argv], capture_output=True, text=True, env=env,
                               cwd=box, timeout=600)
            dt = time.perf_counter() - t0
            lines = [x for x in p.stderr.splitlines() if x.strip()]
            problems = []
            if p.returncode != 2:
                problems.append(f"exit {p.returncode}")
            if len(lines) != 1 or not lines[0].startswith("ttur: error: "):
                problems.append(f"{len(lines)} lines on stderr")
            if "Traceback" in p.stderr:
                problems.append("traceback")
            if snapshot(box) != before:
                problems.append("files changed")
            failures += bool(problems)
            shown = " ".join(a.replace(str(box) + "/", "") for a in argv)
            print(f"{'FAIL' if problems else 'ok  '} {dt:5.1f} s  ttur {shown}\n       {lines[-1] if lines else ''}"
                  + (f"\n       {'; '.join(problems)}" if problems else ""))
        (box / "ro").chmod(0o755)
    print(f"{failures} of {len(cases(Path('/x')))} cases failed" if failures else "every case: one line, exit 2, "
          "no traceback, no file changed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
