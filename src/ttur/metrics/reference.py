"""Reference statistics written by other tools, recognised by their content: :func:`read_reference_stats`.

Every statistics file ttur opens (``ttur fid``, ``ttur eval``, :func:`ttur.fid`, the sources) goes
through :func:`read_reference_stats`, reached as :meth:`ttur.metrics.stats.Stats.load`. Layouts read,
told apart by what the file holds and never by its name:

* ``.npz`` with ``mu`` and ``sigma``: ours (with ``n``, ``mode``, ``extractor`` ... beside them), the
  official bioinf-jku TTUR files, pytorch-fid's and clean-fid's (the last three record neither network
  nor mode: a note says so; a clean-fid name ``{name}_{mode}_{split}_{res}.npz`` is used only as a hint
  of the mode);
* ``.npz`` with ``feats`` (clean-fid's KID reference features, N x d): mean and covariance in float64;
* the ADM evaluator's reference batches (guided-diffusion ``evaluations/evaluator.py``,
  ``VIRTUAL_*.npz``): ``arr_0`` (uint8 images), ``mu``/``sigma`` (pool3, 2048-d) and ``mu_s``/``sigma_s``
  (the first 7 channels of ``mixed_6/conv``, 7 x 17 x 17 = 2023-d): the FID statistics, with the
  spatial ones in ``Stats.extra["sfid"]``;
* EDM2's reference ``.pkl`` (``calculate_metrics.py ref``): a pickle of ``{detector: {"mu", "sigma"}}``
  (``fid``: Inception, ``fd_dinov2``: DINOv2 ViT-L/14 in EDM2's preprocessing), read by an unpickler that
  only rebuilds numpy arrays and plain containers (any other global is refused, nothing runs);
* torch-fidelity's cache items (``torch.save``, read with ``weights_only=True``): a statistics item
  ``{"mu", "sigma"}`` (``...-stat-fid-2048.pt``) or a features item, an N x d tensor
  (``...-features-2048.pt``), whose mean and covariance are taken in float64 with N kept.

A file that is none of these, or is truncated or corrupt, is refused with one :class:`StatsError`
naming it.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from ..errors import StatsError

#: keys of ``Stats.meta`` read back from our own .npz files
META_KEYS = ("n", "mode", "dims", "extractor", "weights_sha256", "ttur_version", "precision")

#: the entry of a multi-statistics file each metric reads (EDM2's detector names; ADM's spatial pair)
ENTRIES = ("fid", "fd_dinov2", "sfid")

_CLEANFID_MODES = {"clean": "clean", "legacy_tensorflow": "tf", "legacy_pytorch": "pytorch-fid"}
_CLEANFID_NAME = re.compile(r"^.+_(clean|legacy_tensorflow|legacy_pytorch)_.+\.npz$")
_DINOV2_BY_DIMS = {384: "dinov2_vits14", 768: "dinov2_vitb14", 1024: "dinov2_vitl14"}
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def read_reference_stats(path: str | os.PathLike, entry: str | None = None):
    """The :class:`~ttur.metrics.stats.Stats` in ``path``, whichever tool wrote it (see the module).

    ``entry``: which statistics of a file holding several (``"fid"``, ``"fd_dinov2"``, ``"sfid"``);
    default the FID ones (else the file's first). The others stay in ``Stats.extra`` by entry name.
    ``Stats.notes`` holds one line about what the file does not record (printed as ``ttur: note:``).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except FileNotFoundError as e:
        raise StatsError(f"{path}: no such file") from e
    except OSError as e:
        raise StatsError(f"{path}: cannot read statistics ({e})") from e
    try:
        if head.startswith(b"PK"):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
            if names and all(n.endswith(".npy") for n in names):
                entries, notes = _read_npz(path)
            elif any(n.endswith("data.pkl") for n in names):
                entries, notes = _read_torch(path)
            else:
                raise StatsError(f"{path}: a zip archive that is neither a .npz of statistics nor a torch.save file")
        elif head[:1] == b"\x80":
            entries, notes = _read_pickle(path)
        else:
            raise StatsError(f"{path}: not a statistics file (neither .npz, pickle nor torch.save content)")
    except StatsError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError, zipfile.BadZipFile,
            pickle.UnpicklingError, RuntimeError) as e:
        raise StatsError(f"{path}: cannot read statistics ({type(e).__name__}: {e})") from e
    if entry is None:
        entry = "fid" if "fid" in entries else next(iter(entries))
    if entry not in entries:
        held = ", ".join(f"{k} ({v.meta.get('extractor') or 'no recorded network'})" for k, v in entries.items())
        raise StatsError(f"{path}: holds no {entry} statistics (it holds {held})")
    s = entries[entry]
    s.extra = {k: v for k, v in entries.items() if k != entry}
    s.notes = list(notes)
    s.path = str(path)
    for v in entries.values():
        v.path = str(path)
    return s


def _stats(path: Path, mu, sigma, n=None, meta=None, what: str = ""):
    from .stats import Stats

    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    where = f" ({what})" if what else ""
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise StatsError(f"{path}{where}: mu has shape {mu.shape} and sigma {sigma.shape}; expected (d,) and (d, d)")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise StatsError(f"{path}{where}: the statistics contain NaN or infinity")
    return Stats(mu, sigma, None if n is None else int(n), dict(meta or {}))


def _from_features(path: Path, feats, meta: dict, what: str):
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise StatsError(f"{path}: {what} of shape {x.shape}; expected N x d features with N >= 2")
    if not np.all(np.isfinite(x)):
        raise StatsError(f"{path}: the features contain NaN or infinity")
    s = _stats(path, x.mean(0), np.cov(x, rowvar=False), len(x), meta)
    if len(x) <= x.shape[1]:
        s.features = x
    return s


_NO_RECORD = "records neither the network nor the preprocessing mode that made it"


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        if {"mu", "sigma"} <= keys:
            mu, sigma = data["mu"], data["sigma"]
            if {"mu_s", "sigma_s"} <= keys:  # the ADM evaluator's reference batch
                n_img = _npy_shape(path, "arr_0.npy") if "arr_0" in keys else None
                meta = {"extractor": "inception", "mode": "tf", "dims": int(np.shape(mu)[0])}
                spatial = _stats(path, data["mu_s"], data["sigma_s"], None,
                                 {"extractor": "inception_mixed6_spatial7", "mode": "tf",
                                  "dims": int(np.shape(data["mu_s"])[0])}, "mu_s/sigma_s")
                held = f"; its arr_0 holds {n_img[0]} images" if n_img else ""
                note = (f"{path.name}: an ADM evaluator reference batch, made by its TensorFlow Inception (taken as "
                        f"mode tf); it does not record how many images the statistics came from (n unknown){held}")
                return {"fid": _stats(path, mu, sigma, None, meta), "sfid": spatial}, [note]
            meta = {}
            for k in META_KEYS:
                if k in keys:
                    v = data[k]
                    meta[k] = v.item() if v.ndim == 0 else v.tolist()
            n = meta.pop("n", None)
            notes = []
            if "extractor" not in meta and "mode" not in meta:
                m = _CLEANFID_NAME.match(path.name)
                if m and np.shape(mu) == (2048,):
                    meta["mode"] = _CLEANFID_MODES[m.group(1)]
                    notes.append(f"{path.name}: {_NO_RECORD}; its name follows clean-fid's, taken as Inception "
                                 f"statistics in mode {meta['mode']} (clean-fid's {m.group(1)}); n unknown")
                else:
                    notes.append(f"{path.name}: {_NO_RECORD} (an official TTUR, pytorch-fid or clean-fid file); "
                                 "taken as Inception statistics" + ("" if n is not None else "; n unknown"))
            return {"fid": _stats(path, mu, sigma, n, meta)}, notes
        if "feats" in keys:  # clean-fid's KID reference features
            meta = {}
            m = _CLEANFID_NAME.match(path.name.replace("_kid.npz", ".npz"))
            if m and data["feats"].ndim == 2 and data["feats"].shape[1] == 2048:
                meta["mode"] = _CLEANFID_MODES[m.group(1)]
            s = _from_features(path, data["feats"], meta, "feats")
            return {"fid": s}, [f"{path.name}: clean-fid features ({s.n} rows); {_NO_RECORD}"
                                + (f" (its name says mode {meta['mode']})" if meta else "")]
    raise StatsError(f"{path}: not a statistics file (it has {sorted(keys)}, not the keys 'mu' and 'sigma')")


def _npy_shape(path: Path, member: str):
    """The shape in the header of one array of a .npz, without reading the array."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, _ = read(fh)
            return shape
    except (OSError, ValueError, KeyError, AttributeError, zipfile.BadZipFile):
        return None


# ----------------------------------------------------------------------------------------------
# Pickles (EDM2) and torch.save files (torch-fidelity)
# ----------------------------------------------------------------------------------------------

def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only globals a statistics pickle may name: numpy's array and dtype rebuilders."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode}  # protocol 2 writes bytes as _codecs.encode(str, 'latin1')
    for mod in ("numpy.core", "numpy._core"):
        allowed[(f"{mod}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{mod}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{mod}.numeric", "_frombuffer")] = numeric._frombuffer
    for t in (np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_):
        allowed[("numpy.dtypes", type(np.dtype(t)).__name__)] = type(np.dtype(t))
    return allowed


def _latin1_encode(text, encoding="latin1"):
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode("latin1")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, numbers, strings and numpy arrays; refuses every other global."""

    _allowed = None

    def find_class(self, module: str, name: str):
        allowed = type(self)._allowed
        if allowed is None:
            allowed = type(self)._allowed = _numpy_globals()
        obj = allowed.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"refused to load the global {module}.{name}: a statistics pickle holds "
                                         "only numpy arrays")
        return obj

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed in a statistics pickle")


def _read_pickle(path: Path):
    with open(path, "rb") as fh:
        try:
            obj = _NumpyOnlyUnpickler(fh).load()
        except pickle.UnpicklingError as e:
            raise StatsError(f"{path}: {e}") from e
    if isinstance(obj, int) and obj == _TORCH_LEGACY_MAGIC:  # torch.save's pre-1.6 format
        return _read_torch(path)
    if not isinstance(obj, dict) or not obj:
        raise StatsError(f"{path}: a pickle of {type(obj).__name__}, not EDM2's {{detector: {{'mu', 'sigma'}}}}")
    if {"mu", "sigma"} <= set(obj):  # a bare {'mu', 'sigma'} pickle
        return {"fid": _stats(path, obj["mu"], obj["sigma"])}, [f"{path.name}: {_NO_RECORD}; taken as Inception"]
    entries = {}
    for key, d in obj.items():
        if not (isinstance(d, dict) and {"mu", "sigma"} <= set(d)):
            raise StatsError(f"{path}: entry {key!r} is not a dict with 'mu' and 'sigma'")
        dims = int(np.shape(d["mu"])[0]) if np.ndim(d["mu"]) == 1 else None
        if key == "fid":
            meta = {"extractor": "inception", "mode": "tf", "dims": dims}
        elif key == "fd_dinov2" and dims in _DINOV2_BY_DIMS:
            meta = {"extractor": _DINOV2_BY_DIMS[dims], "mode": "edm2", "dims": dims}
        else:
            meta = {"dims": dims}
        entries[str(key)] = _stats(path, d["mu"], d["sigma"], None, meta, f"entry {key!r}")
    note = (f"{path.name}: EDM2 reference statistics ({', '.join(entries)}); fid taken as Inception in mode tf, "
            "fd_dinov2 as DINOv2 in mode edm2; n unknown")
    return entries, [note]


def _read_torch(path: Path):
    import torch

    try:
        with torch.serialization.safe_globals(list(_numpy_globals().values())):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        m = re.search(r"(?:[Uu]nsupported global:?|GLOBAL) (?:GLOBAL )?([\w.]+)", str(e))
        why = f"it names the global {m.group(1)}" if m else (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise StatsError(f"{path}: refused by torch.load(weights_only=True): {why}, not only tensors and "
                         "numpy arrays") from e
    # torch-fidelity names its items {input}-{extractor}-stat-fid-{layer}.pt / -features-{layer}.pt: the
    # extractor part of the name is the only record of the network, used as a hint
    hint = {}
    if "inception-v3-compat" in path.name:
        hint = {"extractor": "inception", "mode": "tf"}
    what = "a torch-fidelity " + ("statistics" if isinstance(obj, dict) else "features") + " item"
    note = (f"{path.name}: {what}; " + ("taken as Inception in mode tf (torch-fidelity's inception-v3-compat, "
                                         "from its name)" if hint else f"{_NO_RECORD}; taken as Inception"))
    if isinstance(obj, dict) and {"mu", "sigma"} <= set(obj):
        mu, sigma = (v.numpy() if isinstance(v, torch.Tensor) else v for v in (obj["mu"], obj["sigma"]))
        return {"fid": _stats(path, mu, sigma, None, hint)}, [note + "; n unknown"]
    if isinstance(obj, torch.Tensor) and obj.ndim == 2:
        return {"fid": _from_features(path, obj.double().numpy(), hint, "features")}, [note]
    if isinstance(obj, dict):
        raise StatsError(f"{path}: a torch.save dict with {sorted(map(str, obj))}, not 'mu' and 'sigma'")
    raise StatsError(f"{path}: a torch.save file holding {type(obj).__name__}, not statistics or N x d features")


def sniff_stats_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a statistics file by content (cheap: no arrays read)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
        if head.startswith(b"PK"):
            with zipfile.ZipFile(p) as zf:
                names = set(zf.namelist())
            if names and all(n.endswith(".npy") for n in names):
                return {"mu.npy", "sigma.npy"} <= names or names == {"feats.npy"}
            return any(n.endswith("data.pkl") for n in names)
        return head[:1] == b"\x80"
    except (OSError, zipfile.BadZipFile):
        return False


__all__ = ["ENTRIES", "read_reference_stats", "sniff_stats_file"]
