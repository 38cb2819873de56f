"""Benchmark ``custlens.synth.generate``: wall time, peak memory and rows per table.

Usage: ``python benchmarks/bench_generate.py [--customers 100000] [--months 36]``.

The generation runs in a child process (``child.run_child``: under the memory cap) so
that its peak resident set size is its own: Polars and NumPy allocate natively, which
``tracemalloc`` does not see. The peak includes the interpreter and library imports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

# Run as a script (or imported by run.py), this folder is first on sys.path.
from child import run_child


def _child(customers: int, months: int) -> None:
    """Run in the child: generate once, print timing and row counts as JSON."""
    from custlens.synth import generate

    began = time.perf_counter()
    frames = generate(customers, months)
    seconds = time.perf_counter() - began
    result = {
        "generate_seconds": round(seconds, 3),
        "rows": {name: frame.height for name, frame in frames.items()},
        "frames_mb": round(sum(f.estimated_size() for f in frames.values()) / 2**20, 1),
    }
    print(json.dumps(result))


def main(customers: int = 100_000, months: int = 36) -> dict[str, Any]:
    """Time ``generate(customers, months)`` in a subprocess and report peak memory.

    Returns a dict with ``generate_seconds`` (inside the child), ``wall_seconds`` (whole
    child, imports included), ``peak_rss_mb`` (the child's maximum resident set size),
    ``frames_mb`` (estimated size of the frames) and ``rows`` per table; also prints them.
    """
    child = run_child(
        [
            sys.executable,
            __file__,
            "--child",
            "--customers",
            str(customers),
            "--months",
            str(months),
        ],
        "generate",
    )
    result: dict[str, Any] = {
        "customers": customers,
        "months": months,
        **child.report,
        "wall_seconds": round(child.wall_seconds, 3),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
    }
    wall = child.wall_seconds
    print(f"generate({customers}, {months})")
    print(f"  generate: {result['generate_seconds']:.2f} s (child wall {wall:.2f} s)")
    print(f"  peak RSS: {result['peak_rss_mb']:.0f} MB; frames: {result['frames_mb']:.0f} MB")
    for name, rows in result["rows"].items():
        print(f"  {name:<20} {rows:>12,}")
    return result


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse(sys.argv[1:])
    if args.child:
        _child(args.customers, args.months)
    else:
        main(args.customers, args.months)
