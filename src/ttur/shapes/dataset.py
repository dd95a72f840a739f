"""``shapes``: the embedded procedural dataset (no files, no download).

Image ``i`` of the dataset with seed ``s`` is a function of ``(s, i)`` alone, so any index can be
drawn in any order, in any process, and gives the same pixels on every machine:

* background: a linear gradient between two muted colours (HSV saturation 0-0.6, value 0.1-0.55)
  along a random direction;
* 1 to 3 filled shapes, painted in order over it: each a **disk**, a **square** or an equilateral
  **triangle** (kind uniform), of a vivid colour (hue uniform, saturation 0.6-1, value 0.7-1),
  size ``r`` uniform in 0.12-0.28 of the image side (equal-area radius; squares and triangles are
  rotated by a random angle), centre uniform in [0.2, 0.8]^2;
* antialiased edges: a pixel's coverage by a shape is ``clip(0.5 - d, 0, 1)`` where ``d`` is the
  signed distance in pixels from the pixel centre to the outline (a one-pixel ramp across edges).

Random numbers come from a counter-based hash (the SplitMix64 finaliser) of ``(seed, index, k)``
rather than from numpy's generators: the images are pinned by this file alone, not by numpy's
version, and a whole batch is drawn in one vectorised step. Images are rendered at any resolution
(the parameters are in unit coordinates); 32x32 is the default and what the bundled feature
extractor (:mod:`ttur.networks.small`) was trained on.

Use it as ``ttur.images.readers.open_images("shapes")`` (50,000 images), ``"shapes:N"`` or ``"shapes:N:SEED"``, as
:class:`ShapesImages`, or for training as ``ttur.images.training.open_training_data("shapes", 32)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..images.base import ImageSequence

DEFAULT_LENGTH = 50_000
DEFAULT_SIZE = 32
KINDS = ("disk", "square", "triangle")
MAX_SHAPES = 3
HUE_BINS = 6

# Layout of the per-image random vector: 7 numbers for the background, 8 per shape slot, 1 count.
_BG = 0
_COUNT = 7
_SLOT0 = 8
_PER_SLOT = 8
N_UNIFORMS = _SLOT0 + MAX_SHAPES * _PER_SLOT

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_K = np.uint64(0xD1B54A32D192ED03)
_SEED_SALT = np.uint64(0x632BE59BD9B4E019)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection of uint64 that scrambles every input bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, indices, k: int = N_UNIFORMS) -> np.ndarray:
    """``(len(indices), k)`` float64 numbers in [0, 1): number ``j`` of image ``i`` hashes ``(seed, i, j)``."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and idx.min() < 0:
        raise InputError(f"shapes: negative image index {int(idx.min())}")
    with np.errstate(over="ignore"):
        base = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], np.uint64) * _GOLDEN + _SEED_SALT)
        ctr = idx.astype(np.uint64)[:, None] * _GOLDEN + np.arange(k, dtype=np.uint64)[None, :] * _K
        x = _mix(base ^ _mix(ctr))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (all in [0, 1]) to RGB in [0, 1]; returns shape ``h.shape + (3,)``."""
    h6 = (h % 1.0) * 6.0
    i = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def params(seed: int, indices) -> dict[str, np.ndarray]:
    """The parameters of images ``indices``: the single definition of the dataset.

    Keys: ``bg0``, ``bg1`` (B, 3) colours, ``bg_angle`` (B,), ``count`` (B,) in 1..3, and per slot
    (B, 3): ``kind`` (0 disk, 1 square, 2 triangle), ``color`` (B, 3, 3), ``hue`` in [0, 1),
    ``radius``, ``cx``, ``cy``, ``angle``. Slots at or beyond ``count`` are not drawn.
    """
    u = uniforms(seed, indices)
    bg = u[:, _BG:_BG + 7]
    bg0 = _hsv_to_rgb(bg[:, 0], 0.6 * bg[:, 1], 0.1 + 0.45 * bg[:, 2])
    bg1 = _hsv_to_rgb(bg[:, 3], 0.6 * bg[:, 4], 0.1 + 0.45 * bg[:, 5])
    s = u[:, _SLOT0:].reshape(-1, MAX_SHAPES, _PER_SLOT)
    hue = s[..., 1]
    return {
        "bg0": bg0,
        "bg1": bg1,
        "bg_angle": 2 * np.pi * bg[:, 6],
        "count": 1 + np.minimum((u[:, _COUNT] * MAX_SHAPES).astype(np.int64), MAX_SHAPES - 1),
        "kind": np.minimum((s[..., 0] * len(KINDS)).astype(np.int64), len(KINDS) - 1),
        "hue": hue,
        "color": _hsv_to_rgb(hue, 0.6 + 0.4 * s[..., 2], 0.7 + 0.3 * s[..., 3]),
        "radius": 0.12 + 0.16 * s[..., 4],
        "cx": 0.2 + 0.6 * s[..., 5],
        "cy": 0.2 + 0.6 * s[..., 6],
        "angle": 2 * np.pi * s[..., 7],
    }


# equal-area sizes: a square of half-side sqrt(pi)/2 r and a triangle of circumradius
# sqrt(4 pi / (3 sqrt 3)) r have the area of a disk of radius r
_SQUARE_HALF = float(np.sqrt(np.pi) / 2)
_TRIANGLE_R = float(np.sqrt(4 * np.pi / (3 * np.sqrt(3))))


def _coverage(kind: np.ndarray, radius, cx, cy, angle, size: int) -> np.ndarray:
    """Fraction of each pixel covered by one shape per image: (B, size, size) float32.

    Antialiasing from the signed distance ``d`` to the outline (negative inside), in pixels:
    coverage ``clip(0.5 - d, 0, 1)``, exact for a straight edge crossing a pixel at any angle
    to within the pixel's corners, and 16 times cheaper than 4x4 supersampling.
    """
    centres = ((np.arange(size, dtype=np.float32) + 0.5) / size)
    x = centres[None, None, :] - cx.astype(np.float32)[:, None, None]  # (B, 1, S) along columns
    y = centres[None, :, None] - cy.astype(np.float32)[:, None, None]  # (B, S, 1) along rows
    r = radius.astype(np.float32)[:, None, None]
    c = np.cos(angle).astype(np.float32)[:, None, None]
    s = np.sin(angle).astype(np.float32)[:, None, None]
    d = np.empty((kind.shape[0], size, size), dtype=np.float32)
    for k in range(len(KINDS)):
        sel = np.nonzero(kind == k)[0]
        if sel.size == 0:
            continue
        xs, ys, rs, cs, ss = x[sel], y[sel], r[sel], c[sel], s[sel]
        if k == 0:  # disk
            d[sel] = np.sqrt(xs * xs + ys * ys) - rs
        elif k == 1:  # square, rotated: exact box distance
            h = _SQUARE_HALF * rs
            qx = np.abs(xs * cs + ys * ss) - h
            qy = np.abs(ys * cs - xs * ss) - h
            out = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
            d[sel] = out + np.minimum(np.maximum(qx, qy), 0)
        else:  # equilateral triangle, rotated: the largest distance to its three edge lines
            inr = 0.5 * _TRIANGLE_R * rs
            m = None
            for j in range(3):
                a = 2 * np.pi * j / 3
                nx = cs * np.float32(np.cos(a)) - ss * np.float32(np.sin(a))
                ny = ss * np.float32(np.cos(a)) + cs * np.float32(np.sin(a))
                e = xs * nx + ys * ny - inr
                m = e if m is None else np.maximum(m, e)
            d[sel] = m
    return np.clip(np.float32(0.5) - d * np.float32(size), 0.0, 1.0)


def render(seed: int, indices, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Images ``indices`` of the dataset with ``seed``, as uint8 ``(B, size, size, 3)``."""
    if size < 1:
        raise InputError(f"shapes: image size must be positive, got {size}")
    p = params(seed, indices)
    # channels first while compositing: numpy's inner loops then run over whole rows of pixels
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    ang = p["bg_angle"]
    proj = (np.cos(ang).astype(np.float32)[:, None, None, None] * centres[None, None, None, :]
            + np.sin(ang).astype(np.float32)[:, None, None, None] * centres[None, None, :, None])
    t = np.clip(np.float32(0.5) + proj * np.float32(1 / np.sqrt(2.0)), 0.0, 1.0)  # (B, 1, S, S)
    bg0 = p["bg0"].astype(np.float32)[:, :, None, None]
    bg1 = p["bg1"].astype(np.float32)[:, :, None, None]
    img = bg0 + (bg1 - bg0) * t  # (B, 3, S, S)
    for slot in range(MAX_SHAPES):
        a = _coverage(p["kind"][:, slot], p["radius"][:, slot], p["cx"][:, slot], p["cy"][:, slot],
                      p["angle"][:, slot], size)
        a *= (slot < p["count"]).astype(np.float32)[:, None, None]
        col = p["color"][:, slot].astype(np.float32)[:, :, None, None]
        img += (col - img) * a[:, None]
    img = np.clip(np.rint(img * np.float32(255.0)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img.transpose(0, 2, 3, 1))


def labels(seed: int, indices) -> dict[str, np.ndarray]:
    """Targets of the bundled feature extractor's classifier, exact from the parameters.

    ``count`` (B,) in 0..2 (number of shapes minus one); ``kinds`` (B, 3) 0/1 presence of disk,
    square, triangle; ``hues`` (B, 6) 0/1 presence of a shape whose hue lies in each sixth of the
    colour circle, the bins centred on red, yellow, green, cyan, blue and magenta.
    """
    p = params(seed, indices)
    drawn = np.arange(MAX_SHAPES)[None, :] < p["count"][:, None]  # (B, 3)
    kinds = np.zeros((drawn.shape[0], len(KINDS)), np.float32)
    hues = np.zeros((drawn.shape[0], HUE_BINS), np.float32)
    hbin = np.floor((p["hue"] * HUE_BINS + 0.5) % HUE_BINS).astype(np.int64)
    rows = np.arange(drawn.shape[0])
    for slot in range(MAX_SHAPES):
        d = drawn[:, slot]
        kinds[rows[d], p["kind"][d, slot]] = 1
        hues[rows[d], hbin[d, slot]] = 1
    return {"count": p["count"] - 1, "kinds": kinds, "hues": hues}


class ShapesImages(ImageSequence):
    """``n`` images of the shapes dataset as an :class:`~ttur.images.base.ImageSequence` (uint8 HWC).

    ``seq[i]`` renders image ``i``; :meth:`batch` renders many at once (vectorised, much faster),
    in-process (no decoding workers); distances on it default to the bundled ``shapes`` extractor.
    """

    decode_workers = False
    default_extractor = "shapes"

    def __init__(self, n: int = DEFAULT_LENGTH, seed: int = 0, size: int = DEFAULT_SIZE,
                 offset: int = 0) -> None:
        if n < 1:
            raise InputError(f"shapes: the number of images must be positive, got {n}")
        if size < 1:
            raise InputError(f"shapes: image size must be positive, got {size}")
        if offset < 0:
            raise InputError(f"shapes: the offset must not be negative, got {offset}")
        self.n, self.seed, self.size, self.offset = int(n), int(seed), int(size), int(offset)
        self.name = f"shapes:{self.n}:{self.seed}" if self.seed else f"shapes:{self.n}"
        self.seed_given = True  # False when opened from a spec without a seed: redraw() may then set it

    def redraw(self, length: int | None = None, seed: int = 0, size: int | None = None) -> ShapesImages:
        """The same dataset drawn ``length`` images long (default: as now), at ``size`` pixels (default:
        as now), with ``seed`` unless a seed was given when it was opened. The training data uses this
        to render the images directly at the asked size."""
        n = self.n if length is None else int(length)
        if n < 1:
            raise InputError(f"length: must be positive, got {n}")
        return ShapesImages(n, seed=self.seed if self.seed_given else int(seed),
                            size=self.size if size is None else size, offset=self.offset)

    def __len__(self) -> int:
        return self.n

    def _check(self, idx: np.ndarray) -> np.ndarray:
        idx = np.where(idx < 0, idx + self.n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise IndexError(f"{self.name}: index out of range (length {self.n})")
        return idx + self.offset

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.batch(range(*i.indices(self.n)))
        return render(self.seed, self._check(np.array([int(i)])), self.size)[0]

    def batch(self, indices) -> np.ndarray:
        """Images ``indices`` as uint8 ``(B, size, size, 3)``."""
        return render(self.seed, self._check(np.asarray(indices, dtype=np.int64).reshape(-1)), self.size)

    def describe(self, i: int) -> str:
        return f"{self.name}[{i}]"


def parse_spec(spec: str) -> dict | None:
    """``"shapes"``, ``"shapes:N"`` or ``"shapes:N:SEED"`` to ``{"n", "seed"}`` (``seed`` None when the
    spec has none); None for strings that do not name the shapes dataset."""
    if not isinstance(spec, str):
        return None
    parts = spec.split(":")
    if parts[0] != "shapes" or len(parts) > 3:
        return None
    try:
        n = int(parts[1]) if len(parts) > 1 and parts[1] != "" else DEFAULT_LENGTH
        seed = int(parts[2]) if len(parts) > 2 else None
    except ValueError as e:
        raise InputError(f"{spec}: expected shapes, shapes:N or shapes:N:SEED with integers N and SEED") from e
    if n < 1:
        raise InputError(f"{spec}: the number of images must be positive")
    return {"n": n, "seed": seed}


def is_shapes_spec(spec) -> bool:
    """Whether ``spec`` names the embedded dataset (``shapes``, ``shapes:N``, ``shapes:N:SEED``)."""
    try:
        return parse_spec(spec) is not None
    except InputError:
        return isinstance(spec, str) and spec.split(":")[0] == "shapes"


def open_spec(spec: str, size: int = DEFAULT_SIZE) -> ShapesImages:
    """The :class:`ShapesImages` named by a spec string."""
    p = parse_spec(spec)
    if p is None:
        raise InputError(f"{spec}: not a shapes dataset name (shapes, shapes:N or shapes:N:SEED)")
    seq = ShapesImages(p["n"], seed=p["seed"] or 0, size=size)
    seq.seed_given = p["seed"] is not None
    return seq
