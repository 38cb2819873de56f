"""Benchmark the HTML dashboard (``custlens.report.build_report``) on a large demo workspace.

Usage: ``python benchmarks/bench_report.py [--customers 100000] [--months 36] [--repeat 3]``.

The workspace is the synthetic demo data (``Workspace.generate`` then ``Workspace.run``),
built once and cached under ``benchmarks/data/report_<customers>x<months>_seed<seed>/``;
building it is not part of the figure (it is ``bench_generate`` and ``bench_run``'s
business). The figure is the wall time of ``build_report`` on that workspace (best of
``--repeat``: reading the facts, drawing every chart, inlining Plotly's JavaScript) and the
size of the HTML it returns. Goals (issue 7): under 10 s and under 8 MB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20261125
START = date(2023, 1, 1)
GOAL_SECONDS = 10.0
GOAL_MB = 8.0


def workspace_path(customers: int, months: int, seed: int = SEED) -> Path:
    """Where the cached workspace for these sizes lives."""
    return DATA_DIR / f"report_{customers}x{months}_seed{seed}"


def prepare(customers: int, months: int, seed: int = SEED) -> tuple[Path, float]:
    """Generate and run the workspace once; return its path and the seconds taken (0: cached)."""
    from custlens.workspace import Workspace

    path = workspace_path(customers, months, seed)
    done = path / ".complete"
    if done.exists():
        return path, 0.0
    # A half-built workspace (an interrupted earlier attempt) is rebuilt from scratch.
    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    with Workspace.init(path) as ws:
        ws.generate(customers=customers, months=months, seed=seed, start=START)
        ws.run()
    seconds = time.perf_counter() - started
    done.write_text(f"{seconds:.1f}\n", encoding="utf-8")
    return path, seconds


def measure(path: Path, repeat: int) -> tuple[float, int]:
    """Best wall time of ``build_report`` over ``repeat`` runs, and the HTML's size in bytes."""
    from custlens.report import build_report
    from custlens.workspace import Workspace

    best = float("inf")
    size = 0
    for _ in range(repeat):
        # A fresh Workspace each time: the server builds the page the same way per request.
        started = time.perf_counter()
        with Workspace(path) as ws:
            html = build_report(ws)
        best = min(best, time.perf_counter() - started)
        size = len(html.encode("utf-8"))
    return best, size


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    path, prepared = prepare(args.customers, args.months)
    if prepared:
        print(f"workspace generated and run in {prepared:.1f} s: {path}")
    else:
        print(f"workspace (cached): {path}")
    seconds, size = measure(path, args.repeat)
    megabytes = size / 1e6
    print(
        f"build_report, {args.customers:,} customers x {args.months} months: "
        f"{seconds:.2f} s (goal < {GOAL_SECONDS:.0f} s), "
        f"HTML {megabytes:.2f} MB (goal < {GOAL_MB:.0f} MB)"
    )
    return 0 if seconds < GOAL_SECONDS and megabytes < GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
