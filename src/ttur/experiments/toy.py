"""``ttur experiment toy``: TTUR against one time-scale where everything runs in seconds.

1. **Saddle** (the paper's Fig. 4 and its notebook): f(x, y) = (1 + x²)(100 − y²) has a saddle at
   (0, 0); x descends and y ascends on f with noisy gradients (σ = 1), sequentially (x first, then y
   at the new x), from (0.5, −0.4), under the paper's four learning-rate settings. Over several seeds
   (common random numbers across settings) it reports f and the distance to the saddle over time
   (mean ± std), one trajectory per setting, and the iterations needed to reach the neighbourhood
   ``‖(x, y)‖ < radius`` of the saddle: the first entry and the *settling* time (first iteration
   after which the distance stays below the radius for ``window`` iterations).
2. **Mixture of Gaussians** (beyond the paper): a GAN with small MLPs (non-saturating loss, Adam)
   learns 8 Gaussians on a ring, for a range of ratios lr_d / lr_g at a fixed lr_g. All (ratio, seed)
   models train at once as one batched network. The measure is the Fréchet distance between
   2-D samples and the data distribution (exact mean and covariance of the mixture), plus the
   number of modes covered.
3. **Heavy ball with friction** (the paper's §3 / App. A3): (a) Adam's first-moment recursion
   against the stochastic HBF recursion m ← (1 − a·r) m + a·r·g with a·r = 1 − β1, on the very
   gradients Adam saw (agreement to the float precision); (b) the energy E = ½|θ̇|² + f(θ) along an
   RK4 solution of θ̈ + a(t) θ̇ + ∇f(θ) = 0, a(t) = a₀ (1 + t)^(−τ), for a 2-D test function:
   non-increasing, with dE/dt = −a|θ̇|².

Runtime: ``--quick`` (8 seeds; 4 ratios × 2 seeds × 2,000 GAN steps) took 70-80 s on two CPU
cores shared with other jobs, most of it the GAN; the full setting (20 seeds × 5,000 saddle
iterations, 6 ratios × 5 seeds × 5,000 GAN steps, all 30 GANs batched) took 280 s on the same CPU.
A GPU does not help models this small: run it on the CPU.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .report import Report, fmt, fmt_pm, mean_std, torch_threads, use_agg

#: the paper's four settings: (name, lr_x, lr_y); x is the minimising (descending) player
SADDLE_SETTINGS: list[tuple[str, float, float]] = [
    ("orig fast", 0.01, 0.01),
    ("orig slow", 0.001, 0.001),
    ("TTUR x-slow", 1e-4, 0.01),
    ("TTUR y-slow", 0.01, 1e-4),
]


# ----------------------------------------------------------------------------------------------
# 1. saddle
# ----------------------------------------------------------------------------------------------
def saddle_f(x, y):
    """f(x, y) = (1 + x²)(100 − y²)."""
    return (1 + x**2) * (100 - y**2)


@dataclass
class SaddleRun:
    name: str
    lr_x: float
    lr_y: float
    x: np.ndarray  # (n_iter + 1, seeds)
    y: np.ndarray
    radius: float
    window: int

    @property
    def dist(self) -> np.ndarray:
        return np.hypot(self.x, self.y)

    @property
    def f(self) -> np.ndarray:
        return saddle_f(self.x, self.y)

    def first_entry(self) -> np.ndarray:
        """Per seed: the first iteration with distance < radius (NaN: never)."""
        inside = self.dist < self.radius
        return np.where(inside.any(0), inside.argmax(0), np.nan).astype(float)

    def settle(self) -> np.ndarray:
        """Per seed: the first iteration after which the distance stays < radius for ``window`` iterations
        (or until the end of the run when fewer remain); NaN when it never does."""
        inside = self.dist < self.radius
        n = inside.shape[0]
        out = np.full(inside.shape[1], np.nan)
        for s in range(inside.shape[1]):
            # run lengths of consecutive "inside" ending at each position, scanned backwards
            run = np.zeros(n + 1, dtype=np.int64)
            col = inside[:, s]
            for i in range(n - 1, -1, -1):
                run[i] = run[i + 1] + 1 if col[i] else 0
            ok = (run[:n] >= self.window) | ((run[:n] > 0) & (run[:n] == n - np.arange(n)))
            if ok.any():
                out[s] = float(np.argmax(ok))
        return out

    def frac_inside_last_half(self) -> np.ndarray:
        d = self.dist
        return (d[d.shape[0] // 2:] < self.radius).mean(0)

    def summary(self) -> dict:
        fe, st = self.first_entry(), self.settle()
        d_end, f_end = self.dist[-1], self.f[-1]
        return {
            "setting": self.name, "lr_x": self.lr_x, "lr_y": self.lr_y, "seeds": self.x.shape[1],
            "reached": int(np.isfinite(st).sum()),
            "settle_mean": mean_std(st)[0], "settle_std": mean_std(st)[1],
            "settle_median": float(np.nanmedian(st)) if np.isfinite(st).any() else float("nan"),
            "first_entry_mean": mean_std(fe)[0], "first_entry_std": mean_std(fe)[1],
            "frac_inside_last_half": float(self.frac_inside_last_half().mean()),
            "final_dist_mean": float(d_end.mean()), "final_dist_std": float(d_end.std(ddof=1)) if d_end.size > 1
            else float("nan"),
            "final_f_mean": float(f_end.mean()), "final_f_std": float(f_end.std(ddof=1)) if f_end.size > 1
            else float("nan"),
        }


def run_saddle(settings=SADDLE_SETTINGS, seeds: int = 10, n_iter: int = 5000, sigma: float = 1.0,
               start: tuple[float, float] = (0.5, -0.4), radius: float = 0.2, window: int = 200,
               seed: int = 0) -> list[SaddleRun]:
    """The noisy simultaneous-descent/ascent loop of the paper's notebook, ``seeds`` runs per setting.

    Seed ``s`` draws the same noise in every setting. The iterates are not clipped: a diverging
    setting shows as inf/NaN in its curves.
    """
    if seeds < 1 or n_iter < 1:
        raise ConfigError(f"saddle: seeds and iterations must be positive, got {seeds} and {n_iter}")
    noise = np.stack([np.random.default_rng([seed, s]).normal(0.0, sigma, size=(n_iter, 2))
                      for s in range(seeds)], axis=1)  # (n_iter, seeds, 2)
    runs = []
    with np.errstate(over="ignore", invalid="ignore"):
        for name, lx, ly in settings:
            xs = np.empty((n_iter + 1, seeds))
            ys = np.empty((n_iter + 1, seeds))
            x = np.full(seeds, float(start[0]))
            y = np.full(seeds, float(start[1]))
            xs[0], ys[0] = x, y
            for i in range(n_iter):
                x = x - lx * (2 * x * (100 - y**2) + noise[i, :, 0])
                y = y + ly * (-2 * y * (1 + x**2) + noise[i, :, 1])
                xs[i + 1], ys[i + 1] = x, y
            runs.append(SaddleRun(name, lx, ly, xs, ys, radius, window))
    return runs


def plot_saddle(runs: list[SaddleRun]):
    plt = use_agg()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ax = axes[0, 0]
    lim = 1.0
    gx, gy = np.meshgrid(np.linspace(-lim, lim, 200), np.linspace(-lim, lim, 200))
    cs = ax.contour(gx, gy, saddle_f(gx, gy), levels=15, cmap="Greys", linewidths=0.6)
    ax.clabel(cs, fontsize=6)
    for r, c in zip(runs, colors, strict=False):
        ax.plot(np.clip(r.x[:, 0], -lim, lim), np.clip(r.y[:, 0], -lim, lim), color=c, lw=0.8, alpha=0.8,
                label=r.name)
    ax.plot([0], [0], "k*", ms=10)
    ax.plot([runs[0].x[0, 0]], [runs[0].y[0, 0]], "ko", ms=5)
    ax.set(xlabel="x (descends)", ylabel="y (ascends)", title="trajectories (seed 0)", xlim=(-lim, lim),
           ylim=(-lim, lim))
    ax.legend(fontsize=8)
    it = np.arange(runs[0].x.shape[0])
    for ax, key, title in ((axes[0, 1], "f", "f(x, y)  (saddle value 100)"),
                           (axes[1, 0], "dist", "distance to the saddle")):
        for r, c in zip(runs, colors, strict=False):
            v = getattr(r, key)
            with np.errstate(invalid="ignore", over="ignore"):
                if key == "dist":  # spans decades: median and quartiles
                    m = np.nanmedian(v, 1)
                    lo, hi = np.nanpercentile(v, 25, 1), np.nanpercentile(v, 75, 1)
                else:
                    m, s = np.nanmean(v, 1), np.nanstd(v, 1)
                    lo, hi = m - s, m + s
            ax.plot(it, m, color=c, lw=1, label=r.name)
            ax.fill_between(it, lo, hi, color=c, alpha=0.2, lw=0)
        spread = "median, quartiles" if key == "dist" else "mean ± std"
        ax.set(xlabel="iteration", title=f"{title} — {spread} over seeds")
        if key == "dist":
            ax.set_yscale("log")
            ax.axhline(runs[0].radius, color="k", ls=":", lw=0.8)
        else:
            ax.axhline(100, color="k", ls=":", lw=0.8)
            lo, hi = np.nanpercentile(np.concatenate([r.f.ravel() for r in runs]), [1, 99])
            ax.set_ylim(min(lo, 95), max(hi, 105))
        ax.legend(fontsize=8)
    ax = axes[1, 1]
    data = [r.settle() for r in runs]
    n_iter = runs[0].x.shape[0] - 1
    for k, (d, c) in enumerate(zip(data, colors, strict=False)):
        finite = d[np.isfinite(d)]
        never = int(np.isnan(d).sum())
        ax.scatter(np.full(finite.size, k) + np.linspace(-0.15, 0.15, max(finite.size, 1))[:finite.size], finite,
                   color=c, s=14)
        if finite.size:
            ax.hlines(np.median(finite), k - 0.3, k + 0.3, color=c)
        if never:
            ax.text(k, n_iter * 1.02, f"{never} never", ha="center", fontsize=8, color=c)
    ax.set_xticks(range(len(runs)), [r.name for r in runs], fontsize=8)
    ax.set(ylabel="iterations", ylim=(0, n_iter * 1.1),
           title=f"iterations until it stays within r={runs[0].radius:g} ({runs[0].window} its)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# 2. mixture of Gaussians GAN
# ----------------------------------------------------------------------------------------------
def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    a = 2 * np.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(a), radius * np.sin(a)], 1)


def _init_mlp(k: int, sizes: list[int], gen: torch.Generator) -> list[torch.Tensor]:
    params = []
    for i, o in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1 / math.sqrt(i)
        params.append(((torch.rand(k, i, o, generator=gen) * 2 - 1) * bound).requires_grad_())
        params.append(((torch.rand(k, 1, o, generator=gen) * 2 - 1) * bound).requires_grad_())
    return params


def _mlp(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    n = len(params) // 2
    for j in range(n):
        x = torch.baddbmm(params[2 * j + 1], x, params[2 * j])
        if j < n - 1:
            x = F.leaky_relu(x, 0.2)
    return x


class _BatchedAdam:
    """Adam over K stacked models at once, each with its own learning rate (``lr``: shape (K,))."""

    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor, betas=(0.5, 0.999), eps: float = 1e-8):
        self.params, self.betas, self.eps, self.t = params, betas, eps, 0
        self.lr = lr.view(-1, 1, 1)
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        b1, b2 = self.betas
        self.t += 1
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(self.lr * (m / c1) / ((v / c2).sqrt() + self.eps))


def fd2(samples: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> float:
    """Fréchet distance between the Gaussian fitted to 2-D ``samples`` and N(mu, cov)."""
    from ..metrics.distances import frechet_distance

    s = np.asarray(samples, dtype=np.float64)
    if not np.isfinite(s).all():
        return float("nan")
    return float(frechet_distance(s.mean(0), np.cov(s, rowvar=False), mu, cov))


@dataclass
class MogResult:
    ratios: list[float]
    lr_g: float
    seeds: int
    steps: list[int]
    fd: np.ndarray  # (n_ratios, seeds, n_evals)
    modes: np.ndarray  # (n_ratios, seeds, n_evals)
    quality: np.ndarray  # fraction of samples within 4 std of a mode
    samples: np.ndarray  # (n_ratios, seeds, n_plot, 2) at the end
    data: np.ndarray  # real samples for plotting
    seconds: float
    config: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        out = []
        for i, r in enumerate(self.ratios):
            fd_end, modes_end = self.fd[i, :, -1], self.modes[i, :, -1]
            best = np.nanmin(np.where(np.isfinite(self.fd[i]), self.fd[i], np.nan), axis=1)
            out.append({
                "ratio": r, "lr_d": r * self.lr_g, "lr_g": self.lr_g,
                "final_fd_mean": mean_std(fd_end)[0], "final_fd_std": mean_std(fd_end)[1],
                "best_fd_mean": mean_std(best)[0], "best_fd_std": mean_std(best)[1],
                "modes_mean": mean_std(modes_end)[0], "modes_std": mean_std(modes_end)[1],
                "quality_mean": mean_std(self.quality[i, :, -1])[0],
            })
        return out


def run_mog(ratios=(0.3, 1.0, 3.0, 10.0), lr_g: float = 5e-4, seeds: int = 3, steps: int = 3000,
            eval_every: int = 250, batch: int = 256, hidden: int = 64, z_dim: int = 8, modes: int = 8,
            ring: float = 2.0, std: float = 0.05, eval_samples: int = 2000, betas=(0.5, 0.999), seed: int = 0,
            progress: bool = True) -> MogResult:
    """Train ``len(ratios) * seeds`` small GANs on the ring of Gaussians at once (lr_d = ratio * lr_g)."""
    from tqdm.auto import tqdm

    ratios = [float(r) for r in ratios]
    if not ratios or min(ratios) <= 0 or steps < 1 or seeds < 1 or eval_every < 1:
        raise ConfigError("mog: ratios must be positive and steps, seeds, eval_every at least 1")
    t0 = time.perf_counter()
    k = len(ratios) * seeds
    centres = torch.tensor(ring_centres(modes, ring), dtype=torch.float32)
    cov = np.cov(ring_centres(modes, ring).T, bias=True) + np.eye(2) * std**2
    mu = ring_centres(modes, ring).mean(0)
    gen = torch.Generator().manual_seed(seed)
    g_params = _init_mlp(k, [z_dim, hidden, hidden, 2], gen)
    d_params = _init_mlp(k, [2, hidden, hidden, 1], gen)
    lr_d = torch.tensor([r * lr_g for r in ratios for _ in range(seeds)], dtype=torch.float32)
    opt_d = _BatchedAdam(d_params, lr_d, betas)
    opt_g = _BatchedAdam(g_params, torch.full((k,), lr_g), betas)

    def real(n: int) -> torch.Tensor:
        idx = torch.randint(modes, (k, n), generator=gen)
        return centres[idx] + std * torch.randn(k, n, 2, generator=gen)

    eval_steps = sorted(set(list(range(eval_every, steps + 1, eval_every)) + [steps]))
    fd = np.full((len(ratios), seeds, len(eval_steps)), np.nan)
    cov_modes = np.zeros_like(fd)
    quality = np.zeros_like(fd)
    last = None
    cn = centres.numpy().astype(np.float64)
    with torch_threads(1), tqdm(total=steps, desc="mog GANs", unit="step", disable=not progress, leave=False) as bar:
        e = 0
        for step in range(1, steps + 1):
            z = torch.randn(k, batch, z_dim, generator=gen)
            fake = _mlp(g_params, z)
            ld = F.softplus(-_mlp(d_params, real(batch))).mean((1, 2)).sum() + \
                F.softplus(_mlp(d_params, fake.detach())).mean((1, 2)).sum()
            opt_d.step(torch.autograd.grad(ld, d_params))
            lg = F.softplus(-_mlp(d_params, _mlp(g_params, z))).mean((1, 2)).sum()
            opt_g.step(torch.autograd.grad(lg, g_params))
            bar.update(1)
            if step == eval_steps[e]:
                with torch.no_grad():
                    s = _mlp(g_params, torch.randn(k, eval_samples, z_dim, generator=gen)).double().numpy()
                for j in range(k):
                    i, sd = divmod(j, seeds)
                    fd[i, sd, e] = fd2(s[j], mu, cov)
                    d2 = ((s[j][:, None, :] - cn[None]) ** 2).sum(-1)
                    near = d2.min(1) < (4 * std) ** 2
                    quality[i, sd, e] = near.mean()
                    counts = np.bincount(d2.argmin(1)[near], minlength=modes)
                    cov_modes[i, sd, e] = int((counts >= 0.2 * eval_samples / modes).sum())
                last = s
                e += 1
    data = real(1000)[0].numpy()
    return MogResult(ratios, lr_g, seeds, eval_steps, fd, cov_modes, quality,
                     last.reshape(len(ratios), seeds, eval_samples, 2)[:, :, :1000], data,
                     time.perf_counter() - t0,
                     {"lr_g": lr_g, "steps": steps, "batch": batch, "hidden": hidden, "z_dim": z_dim,
                      "modes": modes, "ring": ring, "std": std, "betas": list(betas), "eval_samples": eval_samples})


def plot_mog(res: MogResult):
    plt = use_agg()
    n = len(res.ratios)
    fig = plt.figure(figsize=(max(10, 2.6 * n), 7.5))
    gs = fig.add_gridspec(2, max(n, 2), height_ratios=[1.1, 1])
    colors = plt.cm.viridis(np.linspace(0, 0.9, n))
    ax = fig.add_subplot(gs[0, : max(n, 2) // 2])
    for i, r in enumerate(res.ratios):
        with np.errstate(invalid="ignore"):
            m, s = np.nanmean(res.fd[i], 0), np.nanstd(res.fd[i], 0)
        ax.plot(res.steps, m, color=colors[i], label=f"lr_d/lr_g = {r:g}")
        ax.fill_between(res.steps, m - s, m + s, color=colors[i], alpha=0.2, lw=0)
    ax.set(xlabel="step", ylabel="Fréchet distance (2-D)", yscale="log", title="FD of samples, mean ± std")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(gs[0, max(n, 2) // 2:])
    rows = res.rows()
    x = np.arange(n)
    ax.errorbar(x, [r["final_fd_mean"] for r in rows], yerr=[np.nan_to_num(r["final_fd_std"]) for r in rows],
                fmt="o-", label="final FD")
    ax.errorbar(x, [r["best_fd_mean"] for r in rows], yerr=[np.nan_to_num(r["best_fd_std"]) for r in rows],
                fmt="s--", label="best FD")
    ax.set_xticks(x, [f"{r:g}" for r in res.ratios])
    ax.set(xlabel="lr_d / lr_g", ylabel="FD", yscale="log", title=f"lr_g = {res.lr_g:g}")
    ax2 = ax.twinx()
    ax2.plot(x, [r["modes_mean"] for r in rows], "^:", color="C3", label="modes covered")
    ax2.set_ylabel("modes covered", color="C3")
    ax2.set_ylim(0, res.config.get("modes", 8) + 0.5)
    ax.legend(fontsize=8, loc="upper left")
    for i, r in enumerate(res.ratios):
        ax = fig.add_subplot(gs[1, i])
        ax.scatter(res.data[:, 0], res.data[:, 1], s=2, color="0.75")
        s = res.samples[i, 0]
        s = s[np.isfinite(s).all(1)]
        ax.scatter(s[:, 0], s[:, 1], s=2, color=colors[i])
        lim = res.config.get("ring", 2.0) * 1.6
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=f"ratio {r:g} (seed 0)")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# 3. heavy ball with friction
# ----------------------------------------------------------------------------------------------
def _test_grad(theta: torch.Tensor) -> torch.Tensor:
    """Gradient of f(θ) = Σ θ² + 0.5 Σ sin(3θ) (a bumpy bowl)."""
    return 2 * theta + 1.5 * torch.cos(3 * theta)


def adam_vs_hbf(steps: int = 500, dim: int = 16, beta1: float = 0.9, beta2: float = 0.999, lr: float = 1e-2,
                noise: float = 0.5, seed: int = 0, dtype=torch.float32) -> dict:
    """Run torch's Adam on noisy gradients of a test function and replay its gradients through the
    HBF momentum recursion m ← (1 − a r) m + a r g (a r = 1 − β1) in float64.

    Returns the largest absolute and relative difference between Adam's ``exp_avg`` and the HBF ``m``
    over all steps, and the per-step relative differences.
    """
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(dim, generator=gen, dtype=dtype).requires_grad_()
    opt = torch.optim.Adam([theta], lr=lr, betas=(beta1, beta2))
    ar = 1.0 - beta1
    m = np.zeros(dim)
    rel = []
    max_abs = 0.0
    for _ in range(steps):
        opt.zero_grad()
        g = _test_grad(theta.detach()) + noise * torch.randn(dim, generator=gen, dtype=dtype)
        theta.grad = g.clone()
        opt.step()
        m = (1 - ar) * m + ar * g.double().numpy()
        adam_m = opt.state[theta]["exp_avg"].double().numpy()
        diff = np.abs(adam_m - m).max()
        max_abs = max(max_abs, float(diff))
        rel.append(float(diff / max(np.abs(m).max(), 1e-300)))
    eps = float(torch.finfo(dtype).eps)
    return {"dtype": str(dtype).replace("torch.", ""), "steps": steps, "beta1": beta1, "max_abs_diff": max_abs,
            "max_rel_diff": float(max(rel)), "eps": eps, "rel": np.array(rel),
            "agree": bool(max(rel) < 100 * eps)}


def hbf_energy(t_end: float = 20.0, dt: float = 2e-3, a0: float = 0.5, tau: float = 0.5,
               theta0=(2.2, 1.5), v0=(0.0, 0.0)) -> dict:
    """RK4 solution of θ̈ + a(t) θ̇ + ∇f(θ) = 0 (a(t) = a0 (1 + t)^−τ) for the 2-D test function
    f(x, y) = (x² − 1)² + 0.5 y² + 0.3 x, and its energy E = ½|θ̇|² + f(θ)."""

    def f(p):
        x, y = p[..., 0], p[..., 1]
        return (x**2 - 1) ** 2 + 0.5 * y**2 + 0.3 * x

    def grad(p):
        x, y = p[..., 0], p[..., 1]
        return np.stack([4 * x * (x**2 - 1) + 0.3, y], -1)

    def a(t):
        return a0 * (1 + t) ** (-tau)

    def rhs(t, s):
        p, v = s[:2], s[2:]
        return np.concatenate([v, -a(t) * v - grad(p)])

    n = int(round(t_end / dt))
    s = np.array([*theta0, *v0], dtype=np.float64)
    traj = np.empty((n + 1, 4))
    traj[0] = s
    for i in range(n):
        t = i * dt
        k1 = rhs(t, s)
        k2 = rhs(t + dt / 2, s + dt / 2 * k1)
        k3 = rhs(t + dt / 2, s + dt / 2 * k2)
        k4 = rhs(t + dt, s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        traj[i + 1] = s
    t = np.arange(n + 1) * dt
    p, v = traj[:, :2], traj[:, 2:]
    energy = 0.5 * (v**2).sum(1) + f(p)
    de = np.diff(energy)
    dissip = -a(t) * (v**2).sum(1)  # dE/dt predicted
    de_dt = np.gradient(energy, dt)
    scale = np.abs(dissip).max()
    return {"t": t, "theta": p, "energy": energy, "f": f, "max_increase": float(max(de.max(), 0.0)),
            "monotone": bool(de.max() <= 1e-9 * max(abs(energy[0]), 1.0)),
            "dEdt_max_err": float(np.abs(de_dt[1:-1] - dissip[1:-1]).max() / scale),
            "E0": float(energy[0]), "E_end": float(energy[-1]), "a0": a0, "tau": tau, "dt": dt}


def plot_hbf(checks: list[dict], energy: dict):
    plt = use_agg()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    for c in checks:
        ax.semilogy(np.maximum(c["rel"], 1e-18), lw=0.8, label=f"Adam {c['dtype']} (eps {c['eps']:.1e})")
        ax.axhline(c["eps"], ls=":", lw=0.8, color="k")
    ax.set(xlabel="step", ylabel="max |m_Adam − m_HBF| / max |m|", title="Adam first moment = HBF momentum")
    ax.legend(fontsize=8)
    ax = axes[1]
    p = energy["theta"]
    gx, gy = np.meshgrid(np.linspace(-2.5, 2.5, 200), np.linspace(-2, 2, 200))
    ax.contour(gx, gy, energy["f"](np.stack([gx, gy], -1)), levels=20, cmap="Greys", linewidths=0.6)
    ax.plot(p[:, 0], p[:, 1], lw=1)
    ax.plot(p[0, 0], p[0, 1], "ko", ms=4)
    ax.set(xlabel="θ₁", ylabel="θ₂", title=f"HBF ODE, a(t) = {energy['a0']:g}(1+t)^-{energy['tau']:g}")
    ax = axes[2]
    ax.plot(energy["t"], energy["energy"], label="E = ½|θ̇|² + f(θ)")
    ax.plot(energy["t"], energy["f"](p), lw=0.8, alpha=0.7, label="f(θ)")
    ax.set(xlabel="t", title=f"energy (max increase {energy['max_increase']:.1e})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# the experiment
# ----------------------------------------------------------------------------------------------
QUICK = {"seeds": 8, "iters": 5000, "mog_steps": 2000, "mog_seeds": 2, "ratios": [0.3, 1.0, 3.0, 10.0],
         "mog_eval_every": 250, "hbf_steps": 300}
FULL = {"seeds": 20, "iters": 5000, "mog_steps": 5000, "mog_seeds": 5, "ratios": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
        "mog_eval_every": 250, "hbf_steps": 2000}


def run(out_dir: str | Path, *, quick: bool = False, seeds: int | None = None, iters: int | None = None,
        sigma: float = 1.0, radius: float = 0.2, window: int = 200, mog: bool = True,
        mog_steps: int | None = None, mog_seeds: int | None = None, ratios=None, lr_g: float = 5e-4,
        mog_eval_every: int | None = None, hbf_steps: int | None = None, seed: int = 0,
        progress: bool = True) -> dict:
    """Run the toy experiment and write its report folder. Returns the numbers (also in results.json)."""
    base = QUICK if quick else FULL
    seeds = seeds or base["seeds"]
    iters = iters or base["iters"]
    mog_steps = mog_steps or base["mog_steps"]
    mog_seeds = mog_seeds or base["mog_seeds"]
    ratios = list(ratios or base["ratios"])
    mog_eval_every = min(mog_eval_every or base["mog_eval_every"], mog_steps)
    hbf_steps = hbf_steps or base["hbf_steps"]
    t0 = time.perf_counter()
    results: dict = {"experiment": "toy", "quick": quick}
    with Report(out_dir, "Toy experiments: TTUR vs one time-scale") as rep:
        # saddle
        ts = time.perf_counter()
        runs = run_saddle(seeds=seeds, n_iter=iters, sigma=sigma, radius=radius, window=window, seed=seed)
        rows = [r.summary() for r in runs]
        results["saddle"] = {"rows": rows, "seconds": time.perf_counter() - ts,
                             "config": {"seeds": seeds, "iters": iters, "sigma": sigma, "radius": radius,
                                        "window": window, "start": [0.5, -0.4]}}
        rep.text(
            "## Saddle f(x, y) = (1 + x²)(100 − y²)\n\n"
            f"x descends and y ascends on f with noisy gradients (σ = {sigma:g}), x first, from (0.5, −0.4), "
            f"{iters} iterations, {seeds} seeds (the same noise in every setting). *Settle*: the first iteration "
            f"after which ‖(x, y)‖ stays below r = {radius:g} for {window} iterations; *first entry*: the first "
            "iteration below r; *inside*: the fraction of the second half of the run spent below r. "
            "Mean ± std over the seeds that reached it.\n")
        rep.table(
            ["setting", "lr_x", "lr_y", "reached", "settle (its)", "first entry (its)", "inside (2nd half)",
             "final distance", "final f"],
            [[r["setting"], fmt(r["lr_x"]), fmt(r["lr_y"]), f"{r['reached']}/{r['seeds']}",
              fmt_pm(r["settle_mean"], r["settle_std"]), fmt_pm(r["first_entry_mean"], r["first_entry_std"]),
              f"{r['frac_inside_last_half']:.2f}", fmt_pm(r["final_dist_mean"], r["final_dist_std"]),
              fmt_pm(r["final_f_mean"], r["final_f_std"])] for r in rows])
        fastest = min((r for r in rows if r["reached"]), key=lambda r: r["settle_mean"], default=None)
        if fastest:
            rep.text(f"Fastest to settle at the saddle: **{fastest['setting']}** "
                     f"({fmt(fastest['settle_mean'])} iterations on average).\n")
        rep.figure(plot_saddle(runs), "toy_saddle.png", "Saddle: trajectories, f and distance to the saddle "
                   "(mean ± std over seeds), iterations to settle")
        rep.csv("saddle.csv", rows)
        curves = []
        step = max(1, iters // 500)
        for r in runs:
            d, f = r.dist, r.f
            for i in range(0, iters + 1, step):
                curves.append({"setting": r.name, "iteration": i, "dist_mean": float(np.nanmean(d[i])),
                               "dist_std": float(np.nanstd(d[i])), "f_mean": float(np.nanmean(f[i])),
                               "f_std": float(np.nanstd(f[i]))})
        rep.csv("saddle_curves.csv", curves)

        # mixture of Gaussians
        if mog:
            res = run_mog(ratios, lr_g=lr_g, seeds=mog_seeds, steps=mog_steps, eval_every=mog_eval_every,
                          seed=seed, progress=progress)
            mrows = res.rows()
            results["mog"] = {"rows": mrows, "steps": res.steps, "fd": res.fd, "modes": res.modes,
                              "seconds": res.seconds, "config": res.config}
            rep.text(
                "## Mixture-of-Gaussians GAN (beyond the paper)\n\n"
                f"{res.config['modes']} Gaussians (std {res.config['std']:g}) on a ring of radius "
                f"{res.config['ring']:g}; G and D are MLPs ({res.config['hidden']} hidden units, two hidden "
                f"layers), non-saturating loss, Adam β = {tuple(res.config['betas'])}, batch {res.config['batch']}, "
                f"{mog_steps} steps, lr_g = {lr_g:g}, lr_d = ratio × lr_g, {mog_seeds} seeds. Measure: Fréchet "
                f"distance between {res.config['eval_samples']} generated 2-D points and the mixture (its exact "
                "mean and covariance); *modes*: modes holding ≥ 20% of their fair share of samples within 4 std. "
                f"Took {res.seconds:.1f} s.\n")
            rep.table(["lr_d/lr_g", "lr_d", "final FD", "best FD", "modes covered", "samples near a mode"],
                      [[fmt(r["ratio"]), fmt(r["lr_d"]), fmt_pm(r["final_fd_mean"], r["final_fd_std"]),
                        fmt_pm(r["best_fd_mean"], r["best_fd_std"]), fmt_pm(r["modes_mean"], r["modes_std"], 3),
                        f"{r['quality_mean']:.2f}"] for r in mrows])
            best = min(mrows, key=lambda r: r["final_fd_mean"] if math.isfinite(r["final_fd_mean"]) else math.inf)
            rep.text(f"Lowest final FD at lr_d/lr_g = **{fmt(best['ratio'])}**.\n")
            rep.figure(plot_mog(res), "toy_mog.png", "MoG GAN: FD over training per ratio, final/best FD and "
                       "modes against the ratio, samples at the end")
            rep.csv("mog.csv", mrows)
            mcurves = [{"ratio": r, "seed": s, "step": st, "fd": res.fd[i, s, e], "modes": res.modes[i, s, e]}
                       for i, r in enumerate(res.ratios) for s in range(res.seeds) for e, st in enumerate(res.steps)]
            rep.csv("mog_curves.csv", mcurves)

        # heavy ball with friction
        checks = [adam_vs_hbf(steps=hbf_steps, dtype=torch.float32, seed=seed),
                  adam_vs_hbf(steps=hbf_steps, dtype=torch.float64, seed=seed)]
        energy = hbf_energy()
        results["hbf"] = {"momentum": [{k: v for k, v in c.items() if k != "rel"} for c in checks],
                          "energy": {k: v for k, v in energy.items() if k not in ("t", "theta", "energy", "f")}}
        rep.text(
            "## Adam as heavy ball with friction\n\n"
            "Adam's first moment `exp_avg` (torch.optim.Adam) against the stochastic HBF recursion "
            "m ← (1 − a·r) m + a·r·g with a·r = 1 − β1, fed the gradients Adam saw:\n")
        rep.table(["Adam dtype", "steps", "β1", "max abs Δm", "max relative Δm", "machine eps", "agree (< 100 eps)"],
                  [[c["dtype"], c["steps"], fmt(c["beta1"]), f"{c['max_abs_diff']:.2e}", f"{c['max_rel_diff']:.2e}",
                    f"{c['eps']:.2e}", c["agree"]] for c in checks])
        rep.text(
            f"Energy E = ½|θ̇|² + f(θ) along θ̈ + a(t)θ̇ + ∇f(θ) = 0, a(t) = {energy['a0']:g}(1 + t)^−{energy['tau']:g}, "
            f"f(x, y) = (x² − 1)² + ½y² + 0.3x, RK4 with dt = {energy['dt']:g}: E goes from {energy['E0']:.4f} to "
            f"{energy['E_end']:.4f}; largest step-to-step increase {energy['max_increase']:.1e} "
            f"(**{'non-increasing' if energy['monotone'] else 'NOT monotone'}**); dE/dt matches −a|θ̇|² to "
            f"{energy['dEdt_max_err']:.1e} (relative).\n")
        rep.figure(plot_hbf(checks, energy), "toy_hbf.png", "Adam/HBF momentum agreement; HBF trajectory; energy")
        results["seconds"] = time.perf_counter() - t0
        rep.text(f"Total time {results['seconds']:.1f} s.\n")
        rep.json("results.json", results)
    results["out_dir"] = str(Path(out_dir))
    return results


def register(sub) -> None:
    p = sub.add_parser("toy", help="saddle problem, MoG GAN over lr ratios, heavy-ball checks",
                       description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[-1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", default="reports/toy", help="report folder (reports/toy)")
    p.add_argument("--quick", action="store_true", help="small setting (seconds): 8 seeds, short GAN runs")
    p.add_argument("--seeds", type=int, default=None, help="saddle seeds (quick 8, full 20)")
    p.add_argument("--iters", type=int, default=None, help="saddle iterations (5000)")
    p.add_argument("--sigma", type=float, default=1.0, help="gradient noise std (1)")
    p.add_argument("--radius", type=float, default=0.2, help="saddle neighbourhood radius (0.2)")
    p.add_argument("--window", type=int, default=200, help="iterations it must stay inside (200)")
    p.add_argument("--no-mog", action="store_true", help="skip the mixture-of-Gaussians GAN")
    p.add_argument("--mog-steps", type=int, default=None, help="GAN steps (quick 2000, full 5000)")
    p.add_argument("--mog-seeds", type=int, default=None, help="GAN seeds per ratio (quick 2, full 5)")
    p.add_argument("--ratios", type=float, nargs="+", default=None, help="lr_d/lr_g ratios")
    p.add_argument("--lr-g", type=float, default=5e-4, help="generator learning rate of the GAN (5e-4)")
    p.add_argument("--hbf-steps", type=int, default=None, help="Adam steps of the momentum check (quick 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_main)


def _main(args) -> int:
    res = run(args.out, quick=args.quick, seeds=args.seeds, iters=args.iters, sigma=args.sigma, radius=args.radius,
              window=args.window, mog=not args.no_mog, mog_steps=args.mog_steps, mog_seeds=args.mog_seeds,
              ratios=args.ratios, lr_g=args.lr_g, hbf_steps=args.hbf_steps, seed=args.seed,
              progress=not args.no_progress)
    for r in res["saddle"]["rows"]:
        print(f"{r['setting']:12s} settle {fmt(r['settle_mean']):>6s} its ({r['reached']}/{r['seeds']} seeds)  "
              f"final distance {r['final_dist_mean']:.3g}")
    for r in res.get("mog", {}).get("rows", []):
        print(f"mog lr_d/lr_g={r['ratio']:<5g} final FD {fmt(r['final_fd_mean'])}  modes {fmt(r['modes_mean'])}")
    print(f"report: {res['out_dir']}/report.md ({res['seconds']:.1f} s)")
    return 0
