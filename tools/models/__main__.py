"""``python -m tools.models build [--only NAME ...]`` | ``list`` | ``bench``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from tools.models.specs import SPECS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.models")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="fetch, convert, verify and write models/")
    build.add_argument(
        "--only", action="append", metavar="NAME", help="build only NAME (repeatable)"
    )
    sub.add_parser("list", help="names of the models the builder knows")
    bench = sub.add_parser("bench", help="median raw session.run time per shipped model")
    bench.add_argument("--threads", type=int, action="append", help="intra-op threads (repeatable)")
    bench.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.command == "list":
        for spec in SPECS:
            print(f"{spec.name:24s} {spec.task:12s} {spec.method}")
        return 0
    if args.command == "bench":
        from tools.models.bench import main as bench_main

        return bench_main(args.threads or [1, 2], args.runs)
    from tools.models.build import build_all

    started = time.perf_counter()
    entries = build_all(args.only)
    total = sum(e["bytes"] for e in entries.values())
    took = time.perf_counter() - started
    print(f"built {len(entries)} model(s), {total / 1e6:.1f} MB, in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
