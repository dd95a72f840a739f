"""``ttur train``, ``ttur configs`` and ``ttur quickstart``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT = {"SIGINT": 130, "SIGTERM": 143}


class _Intermixed(argparse.ArgumentParser):
    """Options and key=value overrides in any order (``ttur train quickstart --out r lr_d=1e-4``)."""

    _mixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._mixing:
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def register(sub: argparse._SubParsersAction) -> None:
    saved = sub._parser_class
    sub._parser_class = _Intermixed
    try:
        p = sub.add_parser("train", help="train a GAN with TTUR from a bundled config or a YAML file",
                           description="Train a GAN. CONFIG is a bundled config name (see `ttur configs`) or a YAML "
                           "file; key=value pairs override its values (parsed as YAML: lr_d=1e-4, "
                           "betas_d=[0.5,0.999]).")
        p.add_argument("config", nargs="?", help="bundled config name or YAML path (not with --resume)")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
        p.add_argument("--out", metavar="RUN_DIR", help="run folder (config, metrics, samples, checkpoint)")
        p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
        p.add_argument("--device", default=None, help="override the config's device (cpu, cuda, cuda:1)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(func=run_train)

        c = sub.add_parser("configs", help="list the bundled training configs")
        c.set_defaults(func=run_configs)

        q = sub.add_parser("quickstart", help="train the small bundled DCGAN on the shapes dataset (CPU minutes)",
                           description="Train the bundled `quickstart` config (a small DCGAN on the embedded "
                           "shapes dataset) to its end, printing the metric as it goes.")
        q.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
        q.add_argument("--out", metavar="DIR", default="runs/quickstart", help="run folder (default: runs/quickstart)")
        q.add_argument("--device", default=None, help="device (default: the config's)")
        q.add_argument("--no-progress", action="store_true", help="no progress bar")
        q.set_defaults(func=run_quickstart)
    finally:
        sub._parser_class = saved


def _finish(res) -> int:
    if res.stopped in EXIT:
        return EXIT[res.stopped]
    return 0


def _summary(res) -> None:
    if res.final is not None:
        best_step = min((r["step"] for r in res.records if r.get(res.metric) == res.best), default=None)
        at = f" at step {best_step}" if best_step is not None else ""
        print(f"{res.metric_label}: final {res.final:.3f} at step {res.step}, best {res.best:.3f}{at}; "
              f"run folder {res.out_dir}")
    else:
        print(f"trained {res.step} steps; run folder {res.out_dir}")


def run_train(args) -> int:
    from ..errors import ConfigError
    from .config import load_config

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    if args.resume:
        run = Path(args.resume)
        if args.config:  # `ttur train --resume RUN key=value`: argparse put the first override in `config`
            if "=" not in args.config:
                raise ConfigError(f"{args.config}: give either CONFIG or --resume RUN_DIR, not both")
            overrides.insert(0, args.config)
        if not (run / "config.yaml").is_file():
            raise ConfigError(f"--resume: {run} has no config.yaml (not a run folder)")
        cfg = load_config(run / "config.yaml", overrides)
        from .loop import train  # heavy (torch): only once the config is checked

        res = train(cfg, run, resume=True, progress=not args.no_progress)
    else:
        if not args.config:
            raise ConfigError("train: give a CONFIG (see `ttur configs`) or --resume RUN_DIR")
        cfg = load_config(args.config, overrides)
        if not args.out:
            raise ConfigError("--out: the run folder is required")
        from .loop import train

        res = train(cfg, Path(args.out), progress=not args.no_progress)
    _summary(res)
    return _finish(res)


def run_configs(args) -> int:
    from .config import list_configs

    items = list_configs()
    width = max(map(len, items), default=0)
    for name, desc in items.items():
        print(f"{name:<{width}}  {desc}")
    return 0


def run_quickstart(args) -> int:
    from .config import load_config

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    cfg = load_config("quickstart", overrides)
    from .checkpoint import FILENAME
    from .loop import train
    out = Path(args.out)
    resume = (out / FILENAME).is_file()
    if resume:
        print(f"continuing the run in {out}", file=sys.stderr)
    res = train(cfg, out, resume=resume, progress=not args.no_progress)
    _summary(res)
    if res.final is not None:
        print(f"samples: {out / 'samples'}; curve: {out / 'fid.png'}")
    return _finish(res)
