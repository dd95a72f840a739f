"""Where the FID Inception weights come from.

In order: an explicit path, the ``TTUR_INCEPTION_WEIGHTS`` environment variable, the cache folders
(ttur's own, then the torch hub folder where pytorch-fid keeps its copy), and last a download from
pytorch-fid's release URL, checked against its SHA-256 and written atomically into ttur's cache.
``TTUR_OFFLINE=1`` (or ``download=False``) forbids the download; a missing file then raises one
error that says where to put it.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import torch

from .._util import atomic_write, sha256_file
from ..errors import WeightsError

FILENAME = "pt_inception-2015-12-05-6726825d.pth"
URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FILENAME
SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
SIZE = 95_628_359
ENV = "TTUR_INCEPTION_WEIGHTS"
#: torch-fidelity keeps the same bytes under this name
ALT_FILENAMES = (FILENAME, "weights-inception-2015-12-05-6726825d.pth")


def cache_dir() -> Path:
    """``$TTUR_CACHE``, else ``$XDG_CACHE_HOME/ttur``, else ``~/.cache/ttur``."""
    if os.environ.get("TTUR_CACHE"):
        return Path(os.environ["TTUR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ttur"


def _candidates() -> list[Path]:
    dirs = [cache_dir()]
    try:
        dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    except Exception:  # pragma: no cover - torch hub dir unavailable
        pass
    return [d / name for d in dirs for name in ALT_FILENAMES]


def how_to_get() -> str:
    return (
        f"download {URL} (sha256 {SHA256[:12]}...) to {cache_dir() / FILENAME}, "
        f"or point {ENV} or --weights at a copy"
    )


def find_weights(path: str | os.PathLike | None = None) -> Path | None:
    """The first weights file that exists, without downloading; None if there is none."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsError(f"weights: {p} does not exist")
        return p
    env = os.environ.get(ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise WeightsError(f"{ENV}={env}: no such file")
        return p
    for p in _candidates():
        if p.is_file():
            return p
    return None


def download(url: str = URL, dest: str | os.PathLike | None = None, sha256: str = SHA256,
             progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` (ttur's cache by default), verify its SHA-256, rename into place."""
    from tqdm.auto import tqdm

    dest = Path(dest) if dest is not None else cache_dir() / FILENAME
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, atomic_write(dest) as tmp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with open(tmp, "wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}",
                disable=not progress, file=sys.stderr,
            ) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
            got = sha256_file(tmp)
            if got != sha256:
                raise WeightsError(f"{url}: SHA-256 {got} does not match the expected {sha256}; nothing kept")
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise WeightsError(f"cannot download the Inception weights ({e}); {how_to_get()}") from e
    return dest


def resolve_weights(path: str | os.PathLike | None = None, allow_download: bool | None = None) -> Path:
    """Path of the weights file, downloading it if allowed and nowhere to be found."""
    found = find_weights(path)
    if found is not None:
        return found
    if allow_download is None:
        allow_download = os.environ.get("TTUR_OFFLINE", "") not in ("1", "true", "yes")
    if not allow_download:
        raise WeightsError(f"the FID Inception weights are not here: {how_to_get()}")
    return download()


def is_official(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.stat().st_size == SIZE and sha256_file(p) == SHA256


def load_state_dict(path: str | os.PathLike) -> dict:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: cannot read weights ({type(e).__name__}: {str(e).splitlines()[0]})") from e
    if not isinstance(sd, dict):
        raise WeightsError(f"{path}: not a state dict")
    return sd
