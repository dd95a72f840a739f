"""``ttur experiment NAME``: run one of the paper's experiments and write its report folder."""

from __future__ import annotations

import importlib

from . import EXPERIMENTS


def register(sub) -> None:
    p = sub.add_parser("experiment", help="run one of the paper's experiments, write a report folder",
                       description="Run one of the paper's experiments end to end; writes PNG plots, "
                       "report.md and the raw numbers (CSV/JSON) into a report folder.")
    esub = p.add_subparsers(dest="experiment", metavar="NAME")
    for mod in EXPERIMENTS.values():
        importlib.import_module(mod).register(esub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
