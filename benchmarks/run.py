"""Run every benchmark and print the figures as Rich tables (``make bench``).

Usage: ``python benchmarks/run.py [--quick] [--repeat N] [--settle LOAD] [--memory-cap 6GB]``.

- ``bench_generate``: ``custlens.synth.generate`` for 100,000 customers x 36 months
  (``--quick``: 10,000): time, peak memory, rows.
- ``bench_run``: ``custlens`` load and run against plain Polars and one hand-written
  DuckDB query on a ``customer_mrr`` source of 1,000,000 customers x 36 months
  (``--quick``: 50,000), with the check that all agree and the issue's goals.
- every other ``bench_*.py`` of this folder, each as its own script with its own
  default sizes (``--quick``: the sizes in :data:`QUICK_ARGS`); its output is shown
  as it printed it.

Nothing is written anywhere but the cached inputs under ``benchmarks/data/``;
``benchmarks/README.md`` is updated by hand from this output. Exits 1 when the
implementations of ``bench_run`` disagree or another benchmark exits non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

# Run as a script, this folder is first on sys.path.
import bench_generate
import bench_run
from child import DEFAULT_MEMORY_CAP, MEMORY_CAP_VARIABLE, MemoryCapExceeded, run_capped
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

HERE = Path(__file__).resolve().parent
OWN = ("bench_generate.py", "bench_run.py")
"""Benchmarks that this script imports and tabulates itself."""
QUICK_ARGS: dict[str, list[str]] = {
    "bench_rfm.py": ["--customers", "10000", "--transactions", "100000"],
    "bench_trend.py": ["--line-items", "61000"],
    "bench_report.py": ["--customers", "5000", "--repeat", "1"],
    "bench_query.py": ["--customers", "5000", "--queries", "50"],
    "bench_clv.py": ["--customers", "20000"],
    "bench_c360.py": ["--records", "50000", "--customers", "5000"],
    "bench_engines.py": ["--customers", "5000"],
}
"""Small sizes of the other benchmarks for ``--quick``; one missing here is skipped then."""
OTHER_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class Sizes:
    """The problem sizes of one benchmark session."""

    generate_customers: int
    run_customers: int
    months: int = 36


FULL = Sizes(generate_customers=100_000, run_customers=1_000_000)
QUICK = Sizes(generate_customers=10_000, run_customers=50_000)


def machine() -> str:
    """Cores, memory and Python of this machine, for the record."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {memory_gb:.0f} GB RAM, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}"
    )


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def generate_table(result: dict[str, Any]) -> Table:
    """The synthetic generator: time, memory and the rows of each table."""
    rows: dict[str, int] = result["rows"]
    table = Table(
        title=f"custlens.synth.generate({result['customers']:,} customers, "
        f"{result['months']} months)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("generate (in the child)", _seconds(float(result["generate_seconds"])))
    table.add_row("child wall (imports included)", _seconds(float(result["wall_seconds"])))
    table.add_row("peak RSS", _mb(float(result["peak_rss_mb"])))
    table.add_row("frames (estimated size)", _mb(float(result["frames_mb"])))
    table.add_row("rows, all tables", f"{sum(rows.values()):,}")
    for name, count in rows.items():
        table.add_row(f"  {name}", f"{count:,}")
    return table


STEP_LABELS = {
    "custlens-load": "custlens load + validate",
    "custlens-revenue": "custlens run --only growth_summary",
    "custlens-run": "custlens run (everything)",
    "polars": "lean Polars (eager)",
    "sql": "hand-written DuckDB SQL",
}


def run_table(result: bench_run.RunBenchmark) -> Table:
    """Each implementation of the MRR movements: median time, ratios, cpu, memory."""
    table = Table(
        title=f"MRR movements: customer_mrr of {result.customers:,} customers x "
        f"{result.months} months = {result.source_rows:,} rows; medians of "
        f"{len(result.rounds['sql'])} interleaved rounds"
    )
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("step", "left"),
        ("time", "right"),
        ("vs Polars", "right"),
        ("vs SQL", "right"),
        ("cpu", "right"),
        ("peak RSS", "right"),
        ("movements", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for step, measured in result.rounds.items():
        ratios = ("—", "—")
        if step != "custlens-load":
            ratios = (
                f"{result.ratio(step, 'polars'):.2f}x",
                f"{result.ratio(step, 'sql'):.2f}x",
            )
        table.add_row(
            STEP_LABELS.get(step, step),
            _seconds(result.seconds(step)),
            *ratios,
            _seconds(bench_run.median([m.cpu_seconds for m in measured])),
            _mb(result.peak_mb(step)),
            f"{measured[-1].rows:,}",
        )
    return table


def goal_table(result: bench_run.RunBenchmark, quick: bool) -> Table:
    """The issue's goals and whether the run meets them."""
    title = "Goals for `custlens run`"
    if quick:
        title += " (set for the full size; at --quick sizes fixed costs dominate)"
    table = Table(title=title)
    for name in ("goal", "target", "measured", "met"):
        table.add_column(name)
    for goal in result.goals():
        verdict = "[green]yes[/green]" if goal.met else "[red]no[/red]"
        table.add_row(goal.name, goal.target, goal.measured, verdict)
    return table


@dataclass(frozen=True)
class Other:
    """One of the other benchmark scripts, as run: its output and exit status."""

    script: str
    args: list[str]
    seconds: float
    returncode: int
    output: str


LAST = ("bench_engines.py",)
"""Run after the others: its Spark servers leave the machine busy for a minute after
they stop (a load average of 4 at 2 cores), which the latency goals of the next
benchmark (bench_query) would pay for."""


def other_benchmarks() -> list[str]:
    """Every ``bench_*.py`` of this folder that this script does not tabulate itself,
    in name order, those of :data:`LAST` at the end."""
    names = sorted(p.name for p in HERE.glob("bench_*.py") if p.name not in OWN)
    return sorted(names, key=lambda name: name in LAST)


def run_other(script: str, args: list[str]) -> Other:
    """Run one benchmark script in its own process, under the memory cap, and keep its output."""
    began = time.perf_counter()
    try:
        done = run_capped(
            [sys.executable, str(HERE / script), *args], script, OTHER_TIMEOUT_SECONDS
        )
        code, output = done.code, done.stdout + (done.stderr if done.code else "")
        if code == -9 and done.wall_seconds >= OTHER_TIMEOUT_SECONDS:
            output += f"\ntimed out after {OTHER_TIMEOUT_SECONDS} s"
    except MemoryCapExceeded as exc:
        code, output = -1, str(exc)
    return Other(script, args, time.perf_counter() - began, code, output.strip())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks at full or quick sizes and print the tables; 1 if results disagree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    bench_run.add_timing_options(parser)
    parser.add_argument(
        "--memory-cap",
        default=os.environ.get(MEMORY_CAP_VARIABLE, DEFAULT_MEMORY_CAP),
        metavar="SIZE",
        help="resident memory each benchmark process (and what it starts) may hold, e.g. "
        f"8GB; past it the step is stopped (default {DEFAULT_MEMORY_CAP}, or "
        f"${MEMORY_CAP_VARIABLE})",
    )
    args = parser.parse_args(argv)
    os.environ[MEMORY_CAP_VARIABLE] = args.memory_cap  # every child reads it
    sizes = QUICK if args.quick else FULL
    console = Console(width=max(Console().width, 110))
    console.print(f"[bold]custlens benchmarks[/bold], {date.today()}: {machine()}")
    busy = os.getloadavg()[0]
    if busy > (os.cpu_count() or 1) / 2:
        console.print(
            f"[yellow]the machine is busy (1-minute load average {busy:.1f}): other work "
            "slows the benchmarks unevenly; compare cpu seconds, or use --repeat and "
            "--settle[/yellow]"
        )

    # First: bench_generate reads the peak of all of this process's children so far.
    with console.status("generate …"), contextlib.redirect_stdout(io.StringIO()):
        generated = bench_generate.main(sizes.generate_customers, sizes.months)
    console.print(generate_table(generated))

    with console.status("run: custlens, Polars, SQL …"):
        result = bench_run.main(
            sizes.run_customers,
            sizes.months,
            repeat=args.repeat,
            settle_below=args.settle,
            verbose=False,
        )
    console.print(run_table(result))
    written = result.rounds["custlens-run"][-1].extra["written"]
    console.print(
        "custlens: load = read + validate + write src_customer_mrr; run = facts written to "
        "DuckDB and the run recorded; the whole run's facts (rows): "
        + ", ".join(f"{name} ({rows:,})" for name, rows in written.items())
        + ". Polars and SQL: read Parquet, compute in memory, write nothing. cpu = user + "
        "system time of the child, all threads."
    )
    for pair, problems in result.agreement.items():
        if problems:
            console.print(f"[red]monthly totals, {pair}: DISAGREE[/red]")
            for problem in problems[:10]:
                console.print(f"  {problem}")
        else:
            console.print(
                f"monthly totals, {pair}: [green]agree[/green] (new, expansion, contraction, "
                "churn, reactivation and ending MRR to 1e-6 relative; counts exactly)"
            )
    console.print(goal_table(result, args.quick))
    before, after = result.load_average
    starts = [m.load_at_start for measured in result.rounds.values() for m in measured]
    console.print(
        f"1-minute load average: {before:.1f} before the run benchmark, {after:.1f} after; "
        f"{min(starts):.1f} to {max(starts):.1f} when the steps started"
    )

    failed = 0
    for script in other_benchmarks():
        if args.quick and script not in QUICK_ARGS:
            console.print(f"{script}: skipped (no --quick sizes in run.QUICK_ARGS)")
            continue
        extra = QUICK_ARGS[script] if args.quick else []
        with console.status(f"{script} …"):
            other = run_other(script, extra)
        failed += other.returncode != 0
        status = "ok" if other.returncode == 0 else f"[red]exit {other.returncode}[/red]"
        title = f"{script} {' '.join(other.args)}".strip()
        console.print(
            Panel(
                other.output or "(no output)",
                title=title,
                subtitle=f"{other.seconds:.0f} s, {status}",
            )
        )
    return 0 if result.agree and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
