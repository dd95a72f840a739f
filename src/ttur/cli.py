"""The ``ttur`` command: one line per subcommand here; each is defined beside the code it drives.

Only the module of the command being run is imported (``ttur --help`` imports none of them), so
the help and the start-up stay fast. Errors a user can cause (:class:`ttur.TturError`) print one
line on stderr and exit with status 2; a message that names a Python argument names its flag.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading
import warnings

from .errors import PeerError, TturError

#: command -> (module whose ``register(subparsers)`` defines it, one line of help); order of ``ttur --help``
COMMANDS: dict[str, tuple[str, str]] = {
    "fid": ("ttur.metrics.cli", "FID between two image sources"),
    "stats": ("ttur.metrics.cli", "save the feature statistics of a source (.npz)"),
    "weights": ("ttur.metrics.cli", "where the Inception weights are; fetch or check them"),
    "eval": ("ttur.metrics.eval_cli", "several metrics (FID, KID, IS, FD_DINOv2, CMMD) from one pass per network"),
    "train": ("ttur.train.cli", "train a GAN with TTUR from a bundled config or a YAML file"),
    "configs": ("ttur.train.cli", "list the bundled training configs"),
    "quickstart": ("ttur.train.cli", "train the small bundled DCGAN on the shapes dataset (CPU minutes)"),
    "experiment": ("ttur.experiments.cli", "run one of the paper's experiments, write a report folder"),
    "jsd": ("ttur.text.cli", "normalised Jensen-Shannon divergence between the character n-grams of two texts"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser: the module of ``command`` defines its commands in full, the others are one help line each."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="ttur",
        description="FID as the original TensorFlow code computes it, and GANs trained with the "
        "Two Time-Scale Update Rule (Heusel et al., NeurIPS 2017).",
    )
    parser.add_argument("--version", action="version", version=f"ttur {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = COMMANDS[command][0] if command in COMMANDS else None
    if chosen is not None:
        importlib.import_module(chosen).register(sub)  # the commands of this module, in full
    for name, (module, help_line) in COMMANDS.items():
        if module != chosen:
            sub.add_parser(name, help=help_line)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def _option_strings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """destination -> its longest option string, in the (sub)parsers of the command that ``args`` runs."""
    out: dict[str, str] = {}
    todo = [parser]
    while todo:
        p = todo.pop()
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                chosen = vars(args).get(a.dest)
                if chosen in a.choices:
                    todo.append(a.choices[chosen])
            elif a.option_strings:
                out[a.dest] = max(a.option_strings, key=len)
    return out


def _flagged(message: str, args: argparse.Namespace, flags: dict[str, str] | None = None) -> str:
    """``batch_size: ...`` -> ``--batch-size: ...`` (``n: ...`` -> ``-n: ...``) when the command has that option."""
    m = re.match(r"(\w+): ", message)
    name = m.group(1) if m else None
    if name is None or name not in vars(args) or name in ("command", "func", "config", "overrides"):
        return message
    flag = (flags or {}).get(name) or ("-" + name if len(name) == 1 else "--" + name.replace("_", "-"))
    return flag + message[len(name):]


def _terminate(signum, frame) -> None:
    """SIGTERM ends the command as Ctrl-C does: ``finally`` blocks run and decoding workers are shut down."""
    raise _Terminated


class _Terminated(BaseException):
    pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ttur: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from .options import check_args

    flags = _option_strings(parser, args)
    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        check_args(args)  # every number and output path, before any command starts its work
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ:  # under torchrun
            from . import distributed as dist

            dist.init_from_env(getattr(args, "device", None))
            if not dist.is_main():  # one process reports; the others only compute
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return int(args.func(args) or 0)
    except PeerError:
        return 2
    except TturError as e:
        prefix = f"ttur: error: [rank {_dist().rank()}] " if _dist_active() else "ttur: error: "
        print(f"{prefix}{_flagged(str(e), args, flags)}", file=sys.stderr)
        return 2
    except _Terminated:
        print("ttur: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("ttur: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `ttur fid ... | head`
        return 0
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        if _dist_active():
            import torch.distributed

            torch.distributed.destroy_process_group()


def _dist():
    """:mod:`ttur.distributed` if something imported it (it imports torch: an early error need not)."""
    return sys.modules.get("ttur.distributed")


def _dist_active() -> bool:
    d = _dist()
    return d is not None and d.is_active()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
