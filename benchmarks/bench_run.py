"""Benchmark ``custlens run`` against lean Polars and one hand-written DuckDB query.

Usage: ``python benchmarks/bench_run.py [--customers 1000000] [--months 36] [--repeat 3]``
or ``python benchmarks/bench_run.py --profile`` (``custlens run --profile``'s steps).

The input is a synthetic ``customer_mrr`` source (one row per customer and paid month:
customers start in random months, some churn, some come back, amounts change now and
then), generated with NumPy and cached as Parquet under ``benchmarks/data/``. Each
implementation computes the MRR movements of DESIGN.md §3 (new, expansion, contraction,
churn, reactivation) and a monthly summary:

- ``custlens-load``: ``Workspace.load`` (read, validate, write to DuckDB);
- ``custlens-revenue``: ``custlens run --only growth_summary`` (the spine, ``mrr_movements``
  and ``growth_summary`` written to DuckDB, the run recorded);
- ``custlens-run``: the whole ``custlens run`` (every fact, the rollups);
- ``polars``: what a skilled Polars user writes: read, sort, shift per customer,
  classify, sum per month (:func:`polars_summary`), eager, nothing written;
- ``sql``: one hand-written DuckDB query over the Parquet file, in process.

Times exclude interpreter start and imports (every child imports its libraries before
the clock starts) and include opening files and connections. Each step runs in a
fresh child process under the memory cap of ``child.py``, so that its peak resident set
size (``ru_maxrss``, from ``wait4``) is its own. Rounds interleave the steps (the order
alternates), and the figures are medians over rounds; ratios are medians of each
round's pair. The monthly summaries must agree: MRR amounts to 1e-6 relative, customer
and movement counts exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path.
from child import run_child

DATA_DIR = Path(__file__).resolve().parent / "data"
FIRST_MONTH = date(2023, 1, 1)
SEED = 20261123
CHILD_TIMEOUT_SECONDS = 600
SETTLE_TIMEOUT_SECONDS = 180

MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")
AMOUNT_COLUMNS = (*(f"{m}_mrr" for m in MOVEMENTS), "ending_mrr")
COUNT_COLUMNS = (*(f"{m}_count" for m in MOVEMENTS), "ending_customers")
RELATIVE_TOLERANCE = 1e-6

# The goals (issue "Fast core"): the revenue facts no slower than lean Polars, within 2x of
# the hand-written SQL, the whole run within 1.5x of them, under 3 GB.
GOAL_VS_POLARS = 1.0
GOAL_VS_SQL = 2.0
GOAL_WHOLE_VS_REVENUE = 1.5
GOAL_PEAK_MB = 3 * 1024


# -- the input ----------------------------------------------------------------


def month_index(d: date) -> int:
    """Months since year 0: ``year * 12 + month - 1`` (as custlens.calendar does)."""
    return d.year * 12 + d.month - 1


def as_of_month(months: int) -> date:
    """First day of the last month of a history of ``months`` months from FIRST_MONTH."""
    last = month_index(FIRST_MONTH) + months - 1
    return date(last // 12, last % 12 + 1, 1)


def source_path(customers: int, months: int, seed: int = SEED) -> Path:
    """Where the cached Parquet for these sizes lives."""
    return DATA_DIR / f"customer_mrr_{customers}x{months}_seed{seed}.parquet"


def generate_source(customers: int, months: int, seed: int = SEED) -> Path:
    """Write (once) a synthetic ``customer_mrr`` Parquet file and return its path.

    Each customer starts in a uniformly random month; from then on it churns with
    probability 4 % a month, and a churned customer comes back with probability 4 %
    a month. Its MRR starts at a plan price and changes with probability 5 % a month
    (up- or downgrade by a factor, rounded to the cent). Only paid months are rows.
    Deterministic for a given seed; about 13 M rows for 1 M customers x 36 months.
    """
    import numpy as np
    import polars as pl

    path = source_path(customers, months, seed)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    start = rng.integers(0, months, customers)
    plans = np.array([29.0, 49.0, 99.0, 299.0, 999.0])
    amount = rng.choice(plans, customers, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    factors = np.array([0.5, 0.8, 1.1, 1.25, 1.5, 2.0])
    paying = np.zeros(customers, dtype=bool)
    paid_before = np.zeros(customers, dtype=bool)
    mrr = np.zeros((customers, months))
    for t in range(months):
        u = rng.random(customers)
        churned = paying & (u < 0.04)
        returned = ~paying & paid_before & (u < 0.04)
        paying = (paying & ~churned) | (start == t) | returned
        paid_before |= paying
        change = paying & (rng.random(customers) < 0.05)
        amount[change] = np.round(amount[change] * rng.choice(factors, int(change.sum())), 2)
        mrr[:, t] = np.where(paying, amount, 0.0)
    customer, month = np.nonzero(mrr)  # row-major: sorted by customer, then month
    first = month_index(FIRST_MONTH)
    frame = pl.DataFrame(
        {"customer": customer.astype(np.int64), "idx": month.astype(np.int64) + first}
    ).select(
        customer_id=pl.format("C{}", pl.col("customer").cast(pl.String).str.zfill(7)),
        month=pl.date(pl.col("idx") // 12, pl.col("idx") % 12 + 1, 1),
        mrr=pl.Series(mrr[customer, month]),
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: an interrupted run leaves no half file in the cache.
    unfinished = path.with_suffix(".parquet.partial")
    frame.write_parquet(unfinished)
    unfinished.rename(path)
    return path


# -- the implementations -----------------------------------------------------


def polars_summary(path: Path, as_of: date) -> Any:
    """The monthly movement totals as a skilled Polars user writes them: the baseline.

    Eager and lean: read the paid customer-months, sort, compare each row with the
    customer's previous paid month (a shift per customer), classify, and sum per
    month. No gap-free spine: a churn is the month after a paid month that has no
    successor next month, and a reactivation a paid month after a gap. Nothing is
    written. Returns the comparable monthly summary (see :func:`_summary_rows`).
    """
    import polars as pl

    last = month_index(as_of)
    month_idx = pl.col("month").dt.year().cast(pl.Int64) * 12 + pl.col("month").dt.month() - 1
    # customer_mrr has one row per customer and month (the contract refuses repeats),
    # so no group-by; a shift over the sorted frame, masked where the customer
    # changes, is the per-customer shift without a window's grouping.
    paid = (
        pl.read_parquet(path, columns=["customer_id", "month", "mrr"])
        .with_columns(month_idx=month_idx)
        .filter((pl.col("month_idx") <= last) & (pl.col("mrr") > 0))
        .sort("customer_id", "month_idx")
    )
    m, q, who = pl.col("month_idx"), pl.col("mrr"), pl.col("customer_id")
    same_before, same_after = who == who.shift(1), who == who.shift(-1)
    steps = paid.with_columns(
        prev_m=pl.when(same_before).then(m.shift(1)),
        p=pl.when(same_before).then(q.shift(1)),
        next_m=pl.when(same_after).then(m.shift(-1)),
    )
    adjacent = pl.col("prev_m") == m - 1
    arrivals = steps.select(
        "month_idx",
        "mrr",
        new=pl.col("prev_m").is_null(),
        reactivation=pl.col("prev_m").is_not_null() & ~adjacent,
        expansion=adjacent & (q > pl.col("p")),
        contraction=adjacent & (q < pl.col("p")),
        change=(q - pl.col("p")).fill_null(0.0),
    )
    # The month after a paid month with no paid month right after it (up to as-of).
    churns = (
        steps.filter((m < last) & (pl.col("next_m").is_null() | (pl.col("next_m") > m + 1)))
        .group_by(month_idx=m + 1)
        .agg(churn_mrr=q.sum(), churn_count=pl.len().cast(pl.Int64))
    )
    flows = arrivals.group_by("month_idx").agg(
        ending_mrr=q.sum(),
        ending_customers=pl.len().cast(pl.Int64),
        new_mrr=q.filter(pl.col("new")).sum(),
        reactivation_mrr=q.filter(pl.col("reactivation")).sum(),
        expansion_mrr=pl.col("change").filter(pl.col("expansion")).sum(),
        contraction_mrr=-pl.col("change").filter(pl.col("contraction")).sum(),
        **{
            f"{kind}_count": pl.col(kind).sum().cast(pl.Int64)
            for kind in ("new", "reactivation", "expansion", "contraction")
        },
    )
    first = int(paid["month_idx"].min())  # type: ignore[arg-type]
    months = pl.DataFrame({"month_idx": pl.int_range(first, last + 1, eager=True)})
    return (
        months.join(flows, on="month_idx", how="left")
        .join(churns, on="month_idx", how="left")
        .fill_null(0)
    )


SQL = """
WITH monthly AS (        -- one row per customer and month
    SELECT customer_id, year(month) * 12 + month(month) - 1 AS month_idx, sum(mrr) AS mrr
    FROM read_parquet($path)
    WHERE year(month) * 12 + month(month) - 1 <= $last
    GROUP BY ALL
), firsts AS (           -- each customer's first paid month
    SELECT customer_id, min(month_idx) AS first_idx
    FROM monthly WHERE mrr > 0 GROUP BY customer_id
), spine AS (            -- every month from it to the as-of month
    SELECT customer_id, first_idx, unnest(range(first_idx, $last + 1)) AS month_idx
    FROM firsts
), steps AS (            -- q = MRR(m), p = MRR(m - 1)
    SELECT s.month_idx, s.first_idx, coalesce(m.mrr, 0) AS q,
           coalesce(lag(coalesce(m.mrr, 0))
               OVER (PARTITION BY s.customer_id ORDER BY s.month_idx), 0) AS p
    FROM spine s LEFT JOIN monthly m USING (customer_id, month_idx)
), moves AS (
    SELECT month_idx, q, abs(q - p) AS amount, CASE
        WHEN p = 0 AND q > 0 AND month_idx = first_idx THEN 'new'
        WHEN p = 0 AND q > 0 THEN 'reactivation'
        WHEN p > 0 AND q = 0 THEN 'churn'
        WHEN p > 0 AND q > p THEN 'expansion'
        WHEN q > 0 AND p > q THEN 'contraction'
    END AS movement
    FROM steps
)
SELECT month_idx,
    sum(q) AS ending_mrr,
    count(*) FILTER (q > 0) AS ending_customers,
    coalesce(sum(amount) FILTER (movement = 'new'), 0) AS new_mrr,
    coalesce(sum(amount) FILTER (movement = 'expansion'), 0) AS expansion_mrr,
    coalesce(sum(amount) FILTER (movement = 'contraction'), 0) AS contraction_mrr,
    coalesce(sum(amount) FILTER (movement = 'churn'), 0) AS churn_mrr,
    coalesce(sum(amount) FILTER (movement = 'reactivation'), 0) AS reactivation_mrr,
    count(*) FILTER (movement = 'new') AS new_count,
    count(*) FILTER (movement = 'expansion') AS expansion_count,
    count(*) FILTER (movement = 'contraction') AS contraction_count,
    count(*) FILTER (movement = 'churn') AS churn_count,
    count(*) FILTER (movement = 'reactivation') AS reactivation_count
FROM moves
GROUP BY month_idx
ORDER BY month_idx
"""
"""The hand-written query: movements as a CTE, summed per month in the same pass."""


def sql_summary(path: Path, as_of: date) -> Any:
    """Run :data:`SQL` on an in-memory DuckDB connection; the monthly summary as Polars."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(SQL, {"path": str(path), "last": month_index(as_of)}).pl()
    finally:
        con.close()


# -- children: one step each, reporting JSON on the last line of stdout --------


def _summary_rows(frame: Any) -> list[dict[str, Any]]:
    """The comparable columns of a monthly summary (Polars), as plain rows."""
    columns = ["month_idx", *AMOUNT_COLUMNS, *COUNT_COLUMNS]
    return [
        {c: (float(v) if c in AMOUNT_COLUMNS else int(v)) for c, v in row.items()}
        for row in frame.select(columns).sort("month_idx").iter_rows(named=True)
    ]


def _child_generate(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    began = time.perf_counter()
    path = generate_source(args.customers, args.months)
    seconds = time.perf_counter() - began
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    return {"seconds": seconds, "rows": rows, "path": str(path), "mb": path.stat().st_size / 2**20}


def _child_custlens_load(args: argparse.Namespace) -> dict[str, Any]:
    import custlens.sources.load  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    ws = Workspace.init(args.workspace)
    # DuckDB spills past its limit; keep it under the benchmark's cap (child.py).
    config = Path(args.workspace) / "custlens.yml"
    config.write_text(config.read_text() + f"\nmemory_limit: {engine_memory_mb()}MB\n")
    ws = Workspace(args.workspace)
    began = time.perf_counter()
    loaded = ws.load({"customer_mrr": args.path})
    seconds = time.perf_counter() - began
    ws.close()
    return {"seconds": seconds, "rows": loaded["customer_mrr"]}


def engine_memory_mb() -> int:
    """DuckDB's memory_limit in the benchmark's workspaces: 60 % of the child's cap."""
    from child import memory_cap_mb

    return int(memory_cap_mb() * 0.6)


def _custlens_run(args: argparse.Namespace, only: list[str] | None) -> dict[str, Any]:
    import polars as pl

    import custlens.pipeline  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    ws = Workspace(args.workspace)
    began = time.perf_counter()
    result = ws.run(as_of=as_of_month(args.months), only=only)
    seconds = time.perf_counter() - began
    # Not timed: the written facts, in the comparable shape.
    growth = ws.table("growth_summary")
    counts = (
        ws.table("mrr_movements")
        .group_by("month")
        .agg(
            *((pl.col("movement") == m).sum().cast(pl.Int64).alias(f"{m}_count") for m in MOVEMENTS)
        )
    )
    summary = (
        growth.select("month", *(f"{m}_mrr" for m in MOVEMENTS), "ending_mrr", "ending_customers")
        .join(counts, on="month", how="left")
        .fill_null(0)
        .with_columns(month_idx=pl.col("month").dt.year() * 12 + pl.col("month").dt.month() - 1)
    )
    ws.close()
    return {
        "seconds": seconds,
        "rows": result.written.get("mrr_movements", 0),
        "written": result.written,
        "summary": _summary_rows(summary),
        "profile": [
            {
                "name": step.name,
                "kind": step.kind,
                "build": step.build_seconds,
                "compile": step.compile_seconds,
                "execute": step.execute_seconds,
                "rows": step.rows,
            }
            for step in result.profile
        ],
    }


def _child_custlens_revenue(args: argparse.Namespace) -> dict[str, Any]:
    """``custlens run --only growth_summary``: the spine, the movements and the summary."""
    return _custlens_run(args, ["growth_summary"])


def _child_custlens_run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole ``custlens run``: every fact whose inputs are loaded, and the rollups."""
    return _custlens_run(args, None)


def _child_polars(args: argparse.Namespace) -> dict[str, Any]:
    import polars  # noqa: F401  (imported here, not in the timing)

    began = time.perf_counter()
    summary = polars_summary(Path(args.path), as_of_month(args.months))
    seconds = time.perf_counter() - began
    rows = sum(int(summary[f"{m}_count"].sum()) for m in MOVEMENTS)
    return {"seconds": seconds, "rows": rows, "summary": _summary_rows(summary)}


def _child_sql(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb  # noqa: F401  (imported here, not in the timing)
    import polars  # noqa: F401

    began = time.perf_counter()
    summary = sql_summary(Path(args.path), as_of_month(args.months))
    seconds = time.perf_counter() - began
    rows = sum(int(summary[f"{m}_count"].sum()) for m in MOVEMENTS)
    return {"seconds": seconds, "rows": rows, "summary": _summary_rows(summary)}


CHILDREN: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "generate": _child_generate,
    "custlens-load": _child_custlens_load,
    "custlens-revenue": _child_custlens_revenue,
    "custlens-run": _child_custlens_run,
    "polars": _child_polars,
    "sql": _child_sql,
}


# -- the parent -------------------------------------------------------------------


@dataclass
class Measurement:
    """One child process: the time of its step, and what the parent saw of the process."""

    step: str
    seconds: float
    """The measured step, timed inside the child (interpreter start and imports excluded)."""
    wall_seconds: float
    """The whole child, interpreter start and imports included."""
    cpu_seconds: float
    """User + system time of the child, all threads (less sensitive to a busy machine)."""
    peak_rss_mb: float
    """The child's maximum resident set size (``ru_maxrss``)."""
    rows: int = 0
    load_at_start: float = 0.0
    """The machine's 1-minute load average when the child started."""
    extra: dict[str, Any] = field(default_factory=dict)


def spawn(step: str, **options: object) -> Measurement:
    """Run one child step in a fresh interpreter (see ``child.run_child``)."""
    argv = [sys.executable, __file__, "--child", step]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    child = run_child(argv, step, CHILD_TIMEOUT_SECONDS)
    report = dict(child.report)
    return Measurement(
        step=step,
        seconds=float(report.pop("seconds", 0.0)),
        wall_seconds=child.wall_seconds,
        cpu_seconds=child.cpu_seconds,
        peak_rss_mb=child.peak_rss_mb,
        rows=int(report.pop("rows", 0)),
        load_at_start=child.load_at_start,
        extra=report,
    )


def settle(below: float, timeout: float = SETTLE_TIMEOUT_SECONDS) -> float:
    """Wait until the 1-minute load average is under ``below`` (or ``timeout`` passed).

    On a shared machine this keeps other people's work out of the timings;
    ``below`` <= 0 does not wait. Returns the load average it stopped at.
    """
    deadline = time.monotonic() + timeout
    load = os.getloadavg()[0]
    while below > 0 and load >= below and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load


def compare(reference: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[str]:
    """Differences between two monthly summaries; empty when they agree.

    Amounts must agree to RELATIVE_TOLERANCE (relative to the larger, or 1),
    counts exactly, month by month.
    """
    problems: list[str] = []
    ref = {r["month_idx"]: r for r in reference}
    got = {r["month_idx"]: r for r in other}
    if ref.keys() != got.keys():
        problems.append(f"months differ: {sorted(ref.keys() ^ got.keys())}")
    for month in sorted(ref.keys() & got.keys()):
        a, b = ref[month], got[month]
        for column in AMOUNT_COLUMNS:
            scale = max(abs(a[column]), abs(b[column]), 1.0)
            if abs(a[column] - b[column]) > RELATIVE_TOLERANCE * scale:
                problems.append(f"month {month} {column}: {a[column]} vs {b[column]}")
        for column in COUNT_COLUMNS:
            if a[column] != b[column]:
                problems.append(f"month {month} {column}: {a[column]} vs {b[column]}")
    return problems


@dataclass
class Goal:
    """One goal of the issue, and how the measurement compares."""

    name: str
    target: str
    measured: str
    met: bool


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class RunBenchmark:
    """Everything :func:`main` measured: every round of every step."""

    customers: int
    months: int
    source_rows: int
    source_mb: float
    rounds: dict[str, list[Measurement]]
    """step → its measurement in each round (rounds interleave the steps)."""
    agreement: dict[str, list[str]]
    load_average: tuple[float, float]
    """1-minute load average before and after: other work on the machine skews times."""

    @property
    def agree(self) -> bool:
        return not any(self.agreement.values())

    def seconds(self, step: str) -> float:
        """The median over rounds of the step's time (measured inside the child)."""
        return median([m.seconds for m in self.rounds[step]])

    def peak_mb(self, step: str) -> float:
        """The largest peak resident set size of the step's children."""
        return max(m.peak_rss_mb for m in self.rounds[step])

    def ratio(self, step: str, baseline: str) -> float:
        """Median over rounds of step / baseline, each round's pair timed side by side."""
        pairs = zip(self.rounds[step], self.rounds[baseline], strict=True)
        return median([a.seconds / b.seconds for a, b in pairs])

    def goals(self) -> list[Goal]:
        """The goals for ``custlens run``, each with the figures it was judged on."""
        revenue, polars, sql = "custlens-revenue", "polars", "sql"
        peak = max(self.peak_mb(s) for s in ("custlens-load", revenue, "custlens-run"))
        whole = self.ratio("custlens-run", revenue)
        return [
            Goal(
                "run --only growth_summary vs lean Polars",
                f"<= {GOAL_VS_POLARS:g}x",
                f"{self.seconds(revenue):.1f} s vs {self.seconds(polars):.1f} s "
                f"({self.ratio(revenue, polars):.2f}x)",
                self.ratio(revenue, polars) <= GOAL_VS_POLARS,
            ),
            Goal(
                "run --only growth_summary vs hand-written SQL",
                f"<= {GOAL_VS_SQL:g}x",
                f"{self.seconds(revenue):.1f} s vs {self.seconds(sql):.1f} s "
                f"({self.ratio(revenue, sql):.2f}x)",
                self.ratio(revenue, sql) <= GOAL_VS_SQL,
            ),
            Goal(
                "whole run vs the revenue facts alone",
                f"<= {GOAL_WHOLE_VS_REVENUE:g}x",
                f"{self.seconds('custlens-run'):.1f} s vs {self.seconds(revenue):.1f} s "
                f"({whole:.2f}x)",
                whole <= GOAL_WHOLE_VS_REVENUE,
            ),
            Goal(
                "custlens peak memory (load, revenue, run)",
                f"under {GOAL_PEAK_MB / 1024:g} GB",
                f"{peak / 1024:.2f} GB",
                peak < GOAL_PEAK_MB,
            ),
        ]


STEPS = ("custlens-revenue", "custlens-run", "polars", "sql")
"""The timed steps of a round, after the load; the order alternates between rounds."""


def main(
    customers: int = 1_000_000,
    months: int = 36,
    repeat: int = 3,
    settle_below: float = 0.0,
    verbose: bool = True,
) -> RunBenchmark:
    """Generate (or reuse) the source, time each implementation, check that they agree.

    Args:
        customers: customers in the synthetic source.
        months: months of history (the as-of month is the last one).
        repeat: rounds; each runs every step once, and figures are medians over rounds.
        settle_below: before each timed step, wait (up to 3 minutes) for the
            1-minute load average to drop under this; 0 does not wait.
        verbose: print the figures.
    """
    before = os.getloadavg()[0]
    generated = spawn("generate", customers=customers, months=months)
    path = generated.extra["path"]
    # Rounds interleave the implementations, so that other work on the machine
    # slows them alike; each figure is the median over rounds.
    rounds: dict[str, list[Measurement]] = {}
    for number in range(max(1, repeat)):
        order = STEPS if number % 2 == 0 else tuple(reversed(STEPS))
        with tempfile.TemporaryDirectory(prefix="custlens-bench-") as folder:
            workspace = Path(folder) / "ws"
            settle(settle_below)
            load = spawn("custlens-load", workspace=workspace, path=path, months=months)
            rounds.setdefault("custlens-load", []).append(load)
            for step in order:
                settle(settle_below)
                options: dict[str, object] = {"path": path, "months": months}
                if step.startswith("custlens"):
                    options["workspace"] = workspace
                rounds.setdefault(step, []).append(spawn(step, **options))
    last = {step: measured[-1] for step, measured in rounds.items()}
    reference = last["sql"].extra["summary"]
    agreement = {
        "custlens (revenue facts) vs SQL": compare(
            reference, last["custlens-revenue"].extra["summary"]
        ),
        "custlens (whole run) vs SQL": compare(reference, last["custlens-run"].extra["summary"]),
        "lean Polars vs SQL": compare(reference, last["polars"].extra["summary"]),
    }
    result = RunBenchmark(
        customers=customers,
        months=months,
        source_rows=generated.rows,
        source_mb=float(generated.extra["mb"]),
        rounds=rounds,
        agreement=agreement,
        load_average=(before, os.getloadavg()[0]),
    )
    if verbose:
        _print(result)
    return result


def profile(customers: int = 1_000_000, months: int = 36) -> list[dict[str, Any]]:
    """Load the source into a fresh workspace and print ``custlens run --profile``'s steps."""
    path = generate_source(customers, months)
    with tempfile.TemporaryDirectory(prefix="custlens-profile-") as folder:
        workspace = Path(folder) / "ws"
        spawn("custlens-load", workspace=workspace, path=path, months=months)
        measured = spawn("custlens-run", workspace=workspace, months=months)
    steps: list[dict[str, Any]] = measured.extra["profile"]
    print(f"custlens run, step by step ({customers:,} customers x {months} months)")
    print(f"  {'step':<40} {'build':>8} {'compile':>8} {'execute':>8} {'rows':>12}")
    for step in steps:
        rows = "" if step["rows"] is None else f"{step['rows']:,}"
        print(
            f"  {step['name']:<40} {step['build']:7.2f}s {step['compile']:7.2f}s "
            f"{step['execute']:7.2f}s {rows:>12}"
        )
    total = sum(s["build"] + s["compile"] + s["execute"] for s in steps)
    print(f"  {'total':<40} {total:7.2f}s")
    print(f"  child cpu {measured.cpu_seconds:.1f} s, peak RSS {measured.peak_rss_mb:,.0f} MB")
    return steps


def _print(result: RunBenchmark) -> None:
    print(
        f"customer_mrr: {result.customers:,} customers x {result.months} months, "
        f"{result.source_rows:,} rows ({result.source_mb:.0f} MB Parquet); "
        f"medians of {len(result.rounds['sql'])} interleaved rounds"
    )
    for step, measured in result.rounds.items():
        print(
            f"  {step:<18} {result.seconds(step):7.2f} s  (cpu "
            f"{median([m.cpu_seconds for m in measured]):6.2f} s)  peak RSS "
            f"{result.peak_mb(step):7,.0f} MB  rows {measured[-1].rows:,}  rounds "
            + ", ".join(f"{m.seconds:.2f}" for m in measured)
        )
    for pair, problems in result.agreement.items():
        print(f"  monthly totals, {pair}: {'agree' if not problems else 'DISAGREE'}")
        for problem in problems[:10]:
            print(f"    {problem}")
    for goal in result.goals():
        verdict = "met" if goal.met else "NOT met"
        print(f"  goal: {goal.name} {goal.target}: {goal.measured}: {verdict}")
    print(f"  load average {result.load_average[0]:.1f} before, {result.load_average[1]:.1f} after")


def add_timing_options(parser: argparse.ArgumentParser) -> None:
    """--repeat and --settle, shared by this script and run.py."""
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved rounds; figures are their medians"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="LOAD",
        help="before each timed step, wait for the 1-minute load average to drop under LOAD",
    )


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=36)
    add_timing_options(parser)
    parser.add_argument("--profile", action="store_true", help="time each part of a custlens run")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse(sys.argv[1:])
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
    elif args.profile:
        profile(args.customers, args.months)
    else:
        outcome = main(args.customers, args.months, args.repeat, args.settle)
        sys.exit(0 if outcome.agree else 1)
