"""Benchmarks: each runs the vanilla Feast path and ours side by side on the same data.

A benchmark is a module ``bench/bench_<name>.py`` with a function
``run(args: argparse.Namespace) -> Report``. ``python -m bench [NAME...]`` (``make bench``)
runs them and writes ``bench/results/<name>.json`` and ``bench/results/<name>.md``.
"""
