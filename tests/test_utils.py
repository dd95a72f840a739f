"""ttur.utils: atomic writes."""

from __future__ import annotations

import os
import stat

import pytest

from ttur import _util as utils
from ttur._util import atomic_torch_save, atomic_write, atomic_write_text


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_write_respects_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert utils._umask() == mask
        atomic_write_text(tmp_path / "a.txt", "hello")
        atomic_torch_save({"x": 1}, tmp_path / "b.pt")
        plain = tmp_path / "plain.txt"
        plain.write_text("hello")
    finally:
        os.umask(old)
    want = 0o666 & ~mask
    assert stat.S_IMODE(plain.stat().st_mode) == want
    for name in ("a.txt", "b.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name
    assert (tmp_path / "a.txt").read_text() == "hello"


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_write(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
