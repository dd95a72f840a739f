"""Run logs: metrics.jsonl (one JSON object per log point), metrics.csv, TensorBoard events when available."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .._util import atomic_write_text


def read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash
                break
    return out


class MetricsLog:
    """Appends records; on resume keeps only those up to the checkpoint's step."""

    def __init__(self, out_dir: Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.out_dir = out_dir
        self.jsonl = out_dir / "metrics.jsonl"
        self.csv = out_dir / "metrics.csv"
        self.records: list[dict] = []
        if resume_step is not None:
            self.records = [r for r in read_records(self.jsonl) if r.get("step", 0) <= resume_step]
        self._rewrite_jsonl()
        self.writer = None
        if tensorboard:
            try:
                import tensorboard  # noqa: F401
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out_dir / "tb"), purge_step=resume_step)
            except Exception:  # noqa: BLE001 - TensorBoard is optional
                self.writer = None

    def _rewrite_jsonl(self) -> None:
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.records))

    def add(self, record: dict) -> None:
        self.records.append(record)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if k not in ("step", "time") and isinstance(v, int | float):
                    self.writer.add_scalar(k, v, record["step"])

    def write_csv(self) -> None:
        keys: list[str] = []
        for r in self.records:
            keys += [k for k in r if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in self.records:
            w.writerow(r)
        atomic_write_text(self.csv, buf.getvalue())

    def close(self) -> None:
        self.write_csv()
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
