"""``python -m bench [--quick] [--only B1,B3] [--no-write]``: run the benchmarks and print one table.

The emulators are started privately on free loopback ports. Full mode writes ``bench/results/full.json``
(the README's table); ``--quick`` writes ``bench/results/quick.json``, the baseline of ``python -m bench.check``.
"""

from __future__ import annotations

import argparse
import sys

from .runner import NAMES, results_path, run_all, table, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (the regression check's mode, < 60 s)"
    )
    parser.add_argument(
        "--scale", action="store_true", help="100,000-task jobs: B1, B2, B9 (about 20 minutes): scale.json"
    )
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(NAMES)}")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update bench/results/")
    parser.add_argument("--output", default=None, help="write the results JSON here instead")
    args = parser.parse_args(argv)
    only = [n.strip().upper() for n in args.only.split(",") if n.strip()] or None
    if only and (bad := [n for n in only if n not in NAMES]):
        parser.error(f"unknown benchmark(s) {', '.join(bad)}; choose from {', '.join(NAMES)}")
    document = run_all(
        quick=args.quick,
        only=only,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
        scale=args.scale,
    )
    print(table(document))
    if not args.no_write:
        from pathlib import Path

        path = Path(args.output) if args.output else results_path(args.quick, args.scale)
        if only and not args.output:
            # A partial run updates only its own benchmarks in the committed file.
            from .runner import merge

            document = merge(path, document)
        write(document, path)
        print(f"\nresults written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
