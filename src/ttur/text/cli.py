"""``ttur jsd REAL GENERATED``: Jensen-Shannon divergence between the character n-grams of two texts."""

from __future__ import annotations

import argparse
import json

from ..errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "jsd",
        help="normalised Jensen-Shannon divergence between the character n-grams of two texts",
        description="Normalised JSD (in [0, 1]) between the character n-gram distributions of two texts, one "
        "sentence a line, as the paper's language experiment computes it: each line cut or padded with '`' "
        "to --seq-len characters, n-grams at all positions, padding included. Each TEXT is a UTF-8 file or a "
        "folder of them. JSD of small samples is biased upwards: compare numbers at equal sample sizes.",
    )
    p.add_argument("real", metavar="REAL", help="real text (file or folder)")
    p.add_argument("generated", metavar="GENERATED", help="generated text (file or folder)")
    p.add_argument("--n", type=int, nargs="+", default=[4, 6], metavar="N", help="n-gram orders (default: 4 6)")
    p.add_argument("--seq-len", type=int, default=32,
                   help="cut/pad each line to this many characters (default 32, the paper's); 0 = whole lines, "
                   "unpadded")
    p.add_argument("--max-lines", type=int, default=None, help="read at most this many lines of each text")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .corpus import corpus_files, iter_lines  # after the argument checks: corpus imports torch
    from .jsd import CharTable, jsd_counts, text_ngram_counts

    if any(n < 1 for n in args.n):
        raise InputError(f"--n: n-gram orders must be positive, got {args.n}")
    if args.seq_len < 0:
        raise InputError(f"--seq-len: must be 0 or positive, got {args.seq_len}")
    if args.seq_len and max(args.n) > args.seq_len:
        raise InputError(f"--n: order {max(args.n)} exceeds --seq-len {args.seq_len}")
    if args.max_lines is not None and args.max_lines < 1:
        raise InputError(f"--max-lines: must be positive, got {args.max_lines}")
    for path in (args.real, args.generated):
        corpus_files(path)  # fail early with the file's name
    ns = sorted(set(args.n))
    table = CharTable()
    seq_len = args.seq_len or None
    real, n_real = text_ngram_counts(iter_lines(args.real), ns, seq_len, table, max_lines=args.max_lines)
    fake, n_fake = text_ngram_counts(iter_lines(args.generated), ns, seq_len, table, max_lines=args.max_lines)
    for name, path, counts in (("REAL", args.real, real), ("GENERATED", args.generated, fake)):
        if counts[ns[0]].total == 0:
            raise InputError(f"{path}: {name} has no {ns[0]}-grams (empty, or lines shorter than {ns[0]})")
    result = {}
    for n in ns:
        if real[n].total == 0 or fake[n].total == 0:
            raise InputError(f"--n: no {n}-grams in {args.real if real[n].total == 0 else args.generated}")
        result[f"jsd{n}"] = jsd_counts(real[n], fake[n])
    if args.json:
        print(json.dumps({**result, "real_lines": n_real, "generated_lines": n_fake, "seq_len": args.seq_len}))
    else:
        print(f"real: {n_real} lines, generated: {n_fake} lines, seq_len {args.seq_len or 'whole lines'}")
        for n in ns:
            print(f"JSD ({n}-gram): {result[f'jsd{n}']:.4f}")
    return 0
