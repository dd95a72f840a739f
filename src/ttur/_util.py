"""Small shared helpers: atomic file writes, hashing, device choice, argument checks."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import operator
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    If the body raises (or the process dies), ``path`` keeps its old content and the temporary
    file is removed. The file gets the mode a plain ``open(path, "w")`` would give it
    (``0o666`` less the umask), not the ``0o600`` of :func:`tempfile.mkstemp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    """The process umask: from /proc on Linux (no change to process state), else by setting it
    and putting it back (the only portable way)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    import torch

    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text)


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file, cached by path, size and modification time."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def resolve_device(device):
    """``None`` or ``"auto"``: CUDA when present, else CPU. Anything else is checked to exist."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(f"device: {device!r} is not a device ({e})") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device: {device!r} asked for, but this machine has no CUDA device")
    return dev


def check_positive(name: str, value, minimum: int = 1) -> None:
    """The one check of a count argument: an integer of at least ``minimum``; the message names the
    Python argument (the CLI names its flag instead)."""
    try:
        ok = not isinstance(value, bool) and operator.index(value) >= minimum
    except TypeError:
        ok = False
    if not ok:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise InputError(f"{name}: must be {what}, got {value!r}")


def check_output(path: str | os.PathLike, name: str, *, folder: bool = False, suffix: str | None = None) -> Path:
    """The one check of an output path, made by every writer before its long work; returns the path
    that will be written (``suffix`` appended when missing, as the writer does).

    Refused with one line naming ``name``: an existing folder where a file is written (no silent
    ``DIR.npz`` beside it), an existing file where a folder is written, a parent that is a file, and
    a place this process cannot write (read-only folder or file system). Nothing is created.
    """
    from .errors import InputError

    p = Path(path)
    if not folder and p.is_dir():
        raise InputError(f"{name}: {p} is a folder; give a file name (e.g. {p / ('out' + (suffix or ''))})")
    if not folder and suffix and p.suffix != suffix:
        p = p.with_name(p.name + suffix)
        if p.is_dir():
            raise InputError(f"{name}: {p} is a folder; give a file name")
    if folder and p.exists() and not p.is_dir():
        raise InputError(f"{name}: {p} exists and is not a folder")
    target = p if (folder and p.is_dir()) else p.parent
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(f"{name}: cannot write {p}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{name}: cannot write {p}: {probe} is not writable")
    if not folder and p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{name}: cannot write {p}: the file is read-only")
    return p


def lazy_attributes(package: str, table: dict[str, str], namespace: dict):
    """A module ``__getattr__`` that imports each public name of ``table`` (name -> module, absolute
    or relative to ``package``) on first use and keeps it in ``namespace`` (the module's globals)."""

    def __getattr__(name: str):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__
