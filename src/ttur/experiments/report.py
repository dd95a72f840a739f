"""Report folders: plots, a Markdown summary and the raw numbers, written all at once.

A :class:`Report` is built in a hidden temporary folder beside its destination; :meth:`Report.close`
(or leaving the ``with`` block without an error) renames it into place, replacing an older report
of the same name only then. An interrupted experiment leaves the previous report untouched.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def use_agg():
    """matplotlib's pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, Path):
        return str(x)
    return x


def fmt(x, digits: int = 4) -> str:
    """A number for a table: ``—`` for None/NaN, ``4`` significant digits otherwise."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return "—"
    return f"{x:.{digits}g}"


def fmt_pm(mean, std, digits: int = 4) -> str:
    """``mean ± std`` (std omitted when None or NaN)."""
    if std is None or not math.isfinite(float(std)):
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt(std, 2)}"


def md_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown table; cells that are not strings are formatted with :func:`fmt`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in r) + " |")
    return "\n".join(lines) + "\n"


class Report:
    """A report folder under construction. Use as a context manager or call :meth:`close`."""

    def __init__(self, out_dir: str | os.PathLike, title: str) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.", suffix=".tmp", dir=self.out_dir.parent))
        self.title = title
        self.sections: list[str] = []
        self.files: list[str] = []
        self.closed = False

    @property
    def path(self) -> Path:
        """Where files go while the report is being built."""
        return self.tmp

    # --- content -------------------------------------------------------------------------------
    def text(self, md: str) -> None:
        """A paragraph (or any Markdown) appended to report.md."""
        self.sections.append(md.rstrip() + "\n")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence], caption: str | None = None) -> None:
        if caption:
            self.sections.append(caption.rstrip() + "\n")
        self.sections.append(md_table(headers, rows))

    def figure(self, fig, name: str, caption: str | None = None, dpi: int = 110) -> Path:
        """Save a matplotlib figure as ``name`` (PNG) and link it from report.md."""
        p = self.tmp / name
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.files.append(name)
        self.sections.append(f"![{name}]({name})\n")
        if caption:
            self.sections.append(f"*{caption}*\n")
        return p

    def json(self, name: str, obj) -> Path:
        p = self.tmp / name
        p.write_text(json.dumps(_jsonable(obj), indent=1) + "\n")
        self.files.append(name)
        return p

    def csv(self, name: str, rows: Sequence[dict], fields: Sequence[str] | None = None) -> Path:
        """Rows of dicts as CSV (columns: ``fields`` or the union of the keys in order of appearance)."""
        if fields is None:
            fields = []
            for r in rows:
                fields.extend(k for k in r if k not in fields)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_cell(r.get(k)) for k in fields})
        p = self.tmp / name
        p.write_text(buf.getvalue())
        self.files.append(name)
        return p

    # --- finishing -----------------------------------------------------------------------------
    def markdown(self) -> str:
        return f"# {self.title}\n\n" + "\n".join(self.sections)

    def close(self) -> Path:
        """Write report.md and move the folder into place (replacing an older one)."""
        if self.closed:
            return self.out_dir
        (self.tmp / "report.md").write_text(self.markdown())
        old = None
        if self.out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.", suffix=".old", dir=self.out_dir.parent))
            os.replace(self.out_dir, old / "r")
        os.replace(self.tmp, self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.closed = True
        return self.out_dir

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.closed = True

    def __enter__(self) -> Report:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _csv_cell(v):
    if isinstance(v, float | np.floating):
        return repr(float(v)) if math.isfinite(float(v)) else ""
    if isinstance(v, list | tuple):
        return json.dumps(_jsonable(v))
    return v


def training_threads(cfg: dict | None = None) -> int:
    """The torch threads a training run with ``cfg`` uses: its ``threads`` key, else torch's default here."""
    import torch

    return int((cfg or {}).get("threads") or torch.get_num_threads())


def threads_note(threads: int) -> str:
    """What every trained number of a report is stated with: float sums over another number of threads
    come in another order, and a GAN amplifies the difference; the same command and thread count repeat."""
    return (f"torch threads: {threads} (the numbers repeat with the same thread count; another count "
            f"gives other numbers: set `--set threads=N`)")


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Temporarily limit torch's intra-op threads (small models run fastest on one thread)."""
    import torch

    if n is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (NaN, NaN when none; std NaN for one)."""
    a = np.asarray([v for v in values if v is not None], dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else float("nan")


__all__ = ["Report", "fmt", "fmt_pm", "md_table", "mean_std", "threads_note", "torch_threads", "training_threads",
           "use_agg"]
