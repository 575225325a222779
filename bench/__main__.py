"""``python -m bench [NAME...] [--quick]``: run the benchmarks, write bench/results/."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from bench.report import RESULTS_DIR, Report


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks (default: all of {available()})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"error: unknown benchmark(s) {unknown}; known: {available()}", file=sys.stderr)
        return 1
    if not names:
        print("no benchmarks defined yet (bench/bench_*.py)")
        return 0
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        report: Report = module.run(args)
        json_path, md_path = report.write(RESULTS_DIR)
        print(report.markdown())
        print(f"written: {json_path} {md_path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
