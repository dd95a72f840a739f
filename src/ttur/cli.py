"""The ``ttur`` command. Each subcommand lives beside the code it drives and registers itself here.

Errors a user can cause (:class:`ttur.TturError`) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from .errors import PeerError, TturError

#: modules that define ``register(subparsers)``; order is the order of ``ttur --help``
SUBCOMMANDS = [
    "ttur.cli_fid",
    "ttur.train.cli",
    "ttur.experiments.cli",
    "ttur.text.cli",
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="ttur",
        description="FID as the original TensorFlow code computes it, and GANs trained with the "
        "Two Time-Scale Update Rule (Heusel et al., NeurIPS 2017).",
    )
    parser.add_argument("--version", action="version", version=f"ttur {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ttur: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from . import distributed as dist

    try:
        if dist.launched_by_torchrun():
            dist.init_from_env(getattr(args, "device", None))
            if not dist.is_main():  # one process reports; the others only compute
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return int(args.func(args) or 0)
    except PeerError:
        return 2
    except TturError as e:
        prefix = f"ttur: error: [rank {dist.rank()}] " if dist.is_active() else "ttur: error: "
        print(f"{prefix}{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ttur: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `ttur fid ... | head`
        return 0
    finally:
        if dist.is_active():
            import torch.distributed

            torch.distributed.destroy_process_group()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
