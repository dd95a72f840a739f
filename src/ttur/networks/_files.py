"""Weights files of the transformer networks: what each official file is, and reading one safely.

A :class:`WeightsSpec` is plain data (file name, official URL, SHA-256 where the publisher gives
one, the environment variable that points at a copy, and the folders where the official loaders
keep theirs), so the weights resolution of the command line can treat every network alike.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import WeightsError


@dataclass(frozen=True)
class WeightsSpec:
    """Where one network's official weights file comes from and where copies are usually found."""

    network: str  #: e.g. ``"dinov2_vitl14"``
    filename: str  #: the official file name
    url: str  #: the official download URL
    sha256: str | None  #: official SHA-256, or None where the publisher gives none
    sha256_note: str  #: where the hash comes from, or why there is none
    env: str  #: environment variable naming a copy
    #: folders where copies are kept: ``"ttur:"`` is ttur's cache folder, ``"hub:SUB"`` a folder
    #: under torch hub's, anything else a path with ``~`` expanded
    known_dirs: tuple[str, ...] = field(default_factory=tuple)

    def candidates(self) -> list[Path]:
        """Where an existing copy may lie (not checked for existence)."""
        out = []
        for d in self.known_dirs:
            if d == "ttur:":
                base = _ttur_cache()
            elif d.startswith("hub:"):
                try:
                    base = Path(torch.hub.get_dir()) / d[4:]
                except Exception:  # pragma: no cover - no hub dir
                    continue
            else:
                base = Path(os.path.expanduser(d))
            out.append(base / self.filename)
        return out

    def find(self, path: str | os.PathLike | None = None) -> Path | None:
        """An explicit path, else ``$env``, else the first known folder holding the file; None if none."""
        if path is not None:
            p = Path(path).expanduser()
            if not p.is_file():
                raise WeightsError(f"{self.network} weights: {p} does not exist")
            return p
        env = os.environ.get(self.env)
        if env:
            p = Path(env).expanduser()
            if not p.is_file():
                raise WeightsError(f"{self.env}={env}: no such file")
            return p
        for p in self.candidates():
            if p.is_file():
                return p
        return None

    def how_to_get(self) -> str:
        where = self.candidates()[0].parent if self.known_dirs else None
        put = f" or put it in {where}" if where else ""
        return f"download {self.url} and point {self.env} at it{put}"

    def resolve(self, path: str | os.PathLike | None = None, allow_download: bool | None = None,
                what: str | None = None) -> Path:
        """The weights file: :meth:`find`, else a download into ttur's cache when allowed.

        ``allow_download=None`` follows the Inception weights' policy: allowed unless ``TTUR_OFFLINE``
        is set. Offline and absent: one ``WeightsError`` naming the file and where to put it.
        """
        found = self.find(path)
        if found is not None:
            return found
        if allow_download is None:
            allow_download = not offline()
        if not allow_download:
            what = what or self.network
            raise WeightsError(f"the {what} weights file {self.filename} is not here (offline): "
                               f"{self.how_to_get()}")
        return self.download()

    def download(self, progress: bool = True) -> Path:
        """Fetch the official file into ttur's cache, checked by SHA-256 where one is published,
        written under a temporary name and renamed into place (never half a file)."""
        import sys
        import urllib.error
        import urllib.request

        from tqdm.auto import tqdm

        from .._util import atomic_write, sha256_file

        dest = _ttur_cache() / self.filename
        try:
            with urllib.request.urlopen(self.url, timeout=60) as resp, atomic_write(dest) as tmp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True,
                                                  desc=f"downloading {self.filename}", disable=not progress,
                                                  file=sys.stderr) as bar:
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
                if self.sha256 is not None:
                    got = sha256_file(tmp)
                    if got != self.sha256:
                        raise WeightsError(f"{self.url}: SHA-256 {got} does not match the published "
                                           f"{self.sha256}; nothing kept")
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            raise WeightsError(f"cannot download {self.filename} ({e}); {self.how_to_get()}") from e
        return dest

    def status(self) -> str:
        """One line for ``ttur weights``: where the file is (or how to get it) and how it is checked."""
        try:
            found = self.find()
        except WeightsError as e:
            return f"{self.network}: {e}"
        if found is None:
            return f"{self.network}: not found; {self.how_to_get()}"
        if self.sha256 is None:
            return f"{self.network}: {found} (not checked: {self.sha256_note})"
        from .._util import sha256_file

        ok = sha256_file(found) == self.sha256
        return f"{self.network}: {found}{'' if ok else ' (NOT the official file: SHA-256 differs)'}"


def offline() -> bool:
    """``TTUR_OFFLINE`` set to 1/true/yes: nothing is downloaded."""
    return os.environ.get("TTUR_OFFLINE", "").lower() in ("1", "true", "yes")


def _ttur_cache() -> Path:
    """``$TTUR_CACHE``, else ``$XDG_CACHE_HOME/ttur``, else ``~/.cache/ttur`` (as the Inception weights)."""
    if os.environ.get("TTUR_CACHE"):
        return Path(os.environ["TTUR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ttur"


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``.safetensors`` file without the safetensors package (8-byte header size, JSON, raw data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
              "I32": np.int32, "BF16": None}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for k, info in header.items():
        if k == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = raw[base + a: base + b]
        if info["dtype"] == "BF16":
            t = torch.from_numpy(np.array(buf).view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(np.array(buf).view(dtypes[info["dtype"]]))
        out[k] = t.reshape(info["shape"])
    return out


def read_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a weights file: a ``torch.save`` state dict, a TorchScript archive (OpenAI's
    CLIP files), or a ``.safetensors`` file. Anything unreadable raises ``WeightsError`` naming it."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file")
    try:
        if p.suffix == ".safetensors":
            return _read_safetensors(p)
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                scripted = any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in z.namelist())
            if scripted:  # OpenAI's CLIP files
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    return dict(torch.jit.load(str(p), map_location="cpu").state_dict())
        sd = torch.load(p, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(p))
    except WeightsError:
        raise
    except Exception as e:  # torch and zipfile raise many types for a bad or truncated file
        msg = str(e).splitlines()[0] if str(e) else ""
        raise WeightsError(f"{p}: cannot read weights, truncated or not a weights file "
                           f"({type(e).__name__}: {msg})") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{p}: not a state dict of tensors")
    return sd
