"""Benchmark ``custlens run`` against plain Polars and one hand-written DuckDB query.

Usage: ``python benchmarks/bench_run.py [--customers 1000000] [--months 36] [--repeat N]``
or ``python benchmarks/bench_run.py --profile`` (a custlens run, step by step).

The input is a synthetic ``customer_mrr`` source (one row per customer and paid month:
customers start in random months, some churn, some come back, amounts change now and
then), generated with NumPy and cached as Parquet under ``benchmarks/data/``. Each
implementation computes the MRR movements of DESIGN.md §3 (new, expansion, contraction,
churn, reactivation on a gap-free month spine) and a monthly summary:

- ``custlens``: ``Workspace.load`` (read, validate, write to DuckDB) and
  ``Workspace.run`` (every fact written to DuckDB tables, the run recorded), timed apart;
- ``polars``: the seed notebook's movement logic (001), written correctly, eager as the
  seed is; ``polars-lazy``: the same code on a ``LazyFrame``, collected once;
- ``sql``: one hand-written DuckDB query over the Parquet file, in process.

Times exclude interpreter start and imports (every child imports its libraries before
the clock starts) and include opening files and connections. Each step runs in a
fresh child process, so that its peak resident set size
(``ru_maxrss``, from ``wait4``) is its own. The monthly summaries must agree: MRR
amounts to 1e-6 relative, customer and movement counts exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
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

# The goals of the issue: custlens run no slower than Polars, within 2x of SQL, under 6 GB.
GOAL_VS_POLARS = 1.0
GOAL_VS_SQL = 2.0
GOAL_PEAK_MB = 6 * 1024


# -- the input ----------------------------------------------------------------


def month_index(d: date) -> int:
    """Months since year 0: ``year * 12 + month - 1`` (as custlens.facts.month does)."""
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


def polars_movements(path: Path, as_of: date, lazy: bool = False) -> tuple[Any, Any]:
    """The seed's movement logic, correct, in plain Polars: (movements, monthly summary).

    Customer-month MRR → a gap-free spine from each customer's first paid month
    to the as-of month → the previous month's MRR by a shift per customer →
    new / expansion / contraction / churn / reactivation → totals per month.

    Args:
        path: the ``customer_mrr`` Parquet file.
        as_of: the as-of month (its first day); later months are ignored.
        lazy: build one lazy query for both results and collect them together
            (``pl.collect_all``) instead of the seed's eager, step-by-step frames.
    """
    import polars as pl

    last = month_index(as_of)
    if lazy:
        source: Any = pl.scan_parquet(path).select("customer_id", "month", "mrr")
    else:
        source = pl.read_parquet(path, columns=["customer_id", "month", "mrr"])
    month_idx = pl.col("month").dt.year().cast(pl.Int64) * 12 + pl.col("month").dt.month() - 1
    monthly = (
        source.with_columns(month_idx=month_idx)
        .filter(pl.col("month_idx") <= last)
        .group_by("customer_id", "month_idx")
        .agg(pl.col("mrr").sum())
    )
    firsts = (
        monthly.filter(pl.col("mrr") > 0)
        .group_by("customer_id")
        .agg(first_idx=pl.col("month_idx").min())
    )
    spine = firsts.with_columns(month_idx=pl.int_ranges("first_idx", last + 1)).explode("month_idx")
    mrr = (
        spine.join(monthly, on=["customer_id", "month_idx"], how="left")
        .with_columns(pl.col("mrr").fill_null(0.0))
        .sort("customer_id", "month_idx")
        .with_columns(mrr_before=pl.col("mrr").shift(1).fill_null(0.0).over("customer_id"))
    )
    p, q = pl.col("mrr_before"), pl.col("mrr")
    movement = (
        pl.when((p == 0) & (q > 0) & (pl.col("month_idx") == pl.col("first_idx")))
        .then(pl.lit("new"))
        .when((p == 0) & (q > 0))
        .then(pl.lit("reactivation"))
        .when((p > 0) & (q == 0))
        .then(pl.lit("churn"))
        .when((p > 0) & (q > p))
        .then(pl.lit("expansion"))
        .when((q > 0) & (p > q))
        .then(pl.lit("contraction"))
    )
    movements = (
        mrr.with_columns(movement=movement)
        .filter(pl.col("movement").is_not_null())
        .select(
            "customer_id",
            "month_idx",
            "movement",
            amount=(q - p).abs(),
            mrr_before=p,
            mrr_after=q,
        )
    )
    # Every month from the first paid one to the as-of month has spine rows.
    balances = mrr.group_by("month_idx").agg(
        ending_mrr=q.sum(), ending_customers=(q > 0).sum().cast(pl.Int64)
    )
    kind = pl.col("movement")
    flows = movements.group_by("month_idx").agg(
        *(pl.col("amount").filter(kind == m).sum().alias(f"{m}_mrr") for m in MOVEMENTS),
        *((kind == m).sum().cast(pl.Int64).alias(f"{m}_count") for m in MOVEMENTS),
    )
    summary = balances.join(flows, on="month_idx", how="left").fill_null(0).sort("month_idx")
    if lazy:
        movements, summary = pl.collect_all([movements, summary])
    return movements, summary


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
    began = time.perf_counter()
    loaded = ws.load({"customer_mrr": args.path})
    seconds = time.perf_counter() - began
    ws.close()
    return {"seconds": seconds, "rows": loaded["customer_mrr"]}


def _child_custlens_run(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    import custlens.pipeline  # noqa: F401  (imported here, not in the timing)
    from custlens import Workspace

    ws = Workspace(args.workspace)
    began = time.perf_counter()
    result = ws.run(as_of=as_of_month(args.months))
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
    }


def _child_polars(args: argparse.Namespace, lazy: bool = False) -> dict[str, Any]:
    import polars  # noqa: F401  (imported here, not in the timing)

    began = time.perf_counter()
    movements, summary = polars_movements(Path(args.path), as_of_month(args.months), lazy)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "rows": movements.height, "summary": _summary_rows(summary)}


def _child_polars_lazy(args: argparse.Namespace) -> dict[str, Any]:
    return _child_polars(args, lazy=True)


def _child_sql(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb  # noqa: F401  (imported here, not in the timing)
    import polars  # noqa: F401

    began = time.perf_counter()
    summary = sql_summary(Path(args.path), as_of_month(args.months))
    seconds = time.perf_counter() - began
    rows = sum(int(summary[f"{m}_count"].sum()) for m in MOVEMENTS)
    return {"seconds": seconds, "rows": rows, "summary": _summary_rows(summary)}


def _child_profile(args: argparse.Namespace) -> dict[str, Any]:
    """A custlens run taken apart: the steps of ``pipeline.run``, each timed on its own."""
    import ibis

    from custlens import Workspace
    from custlens.facts import REGISTRY, FactContext, ordered
    from custlens.pipeline import RUN_ID_COLUMN, fingerprints, month_end
    from custlens.sources.contract import SOURCE_PREFIX

    ws = Workspace(args.workspace)
    warehouse = ws.warehouse
    steps: dict[str, tuple[float, float]] = {}

    def timed(label: str, call: Callable[[], Any]) -> Any:
        began, cpu = time.perf_counter(), time.process_time()
        value = call()
        steps[label] = (time.perf_counter() - began, time.process_time() - cpu)
        return value

    sources = {
        name: warehouse.table(name)
        for name in warehouse.list_tables()
        if name.startswith(SOURCE_PREFIX)
    }
    timed("input fingerprints (rows + content checksum)", lambda: fingerprints(warehouse, sources))
    tables: dict[str, Any] = dict(sources)
    as_of = month_end(as_of_month(args.months))
    staged: list[str] = []
    for f in ordered(REGISTRY):
        if f.missing(tables):
            continue
        expr = f.build(FactContext(tables, as_of, ws.config))
        expr = expr.mutate(**{RUN_ID_COLUMN: ibis.literal("profile")})
        tables[f.name] = timed(f"{f.name}: compute + write", partial(warehouse.stage, f.name, expr))
        staged.append(f.name)
        timed(f"{f.name}: count rows", partial(warehouse.scalar, tables[f.name].count()))
    timed("publish (rename staged tables)", lambda: warehouse.publish(staged))
    ws.close()
    return {"steps": steps}


CHILDREN: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "generate": _child_generate,
    "custlens-load": _child_custlens_load,
    "custlens-run": _child_custlens_run,
    "polars": _child_polars,
    "polars-lazy": _child_polars_lazy,
    "sql": _child_sql,
    "profile": _child_profile,
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


@dataclass
class RunBenchmark:
    """Everything :func:`main` measured."""

    customers: int
    months: int
    source_rows: int
    source_mb: float
    load: Measurement
    run: Measurement
    polars: Measurement
    polars_lazy: Measurement
    sql: Measurement
    agreement: dict[str, list[str]]
    load_average: tuple[float, float]
    """1-minute load average before and after: other work on the machine skews times."""

    @property
    def agree(self) -> bool:
        return not any(self.agreement.values())

    def goals(self) -> list[Goal]:
        """The issue's goals for ``custlens run``, each with the figures it was judged on."""
        run, polars, sql = self.run, self.polars, self.sql
        peak = max(self.load.peak_rss_mb, run.peak_rss_mb)
        return [
            Goal(
                "custlens run vs Polars",
                "no slower",
                f"{run.seconds:.1f} s vs {polars.seconds:.1f} s "
                f"({run.seconds / polars.seconds:.2f}x)",
                run.seconds <= GOAL_VS_POLARS * polars.seconds,
            ),
            Goal(
                "custlens run vs hand-written SQL",
                f"within {GOAL_VS_SQL:g}x",
                f"{run.seconds:.1f} s vs {sql.seconds:.1f} s ({run.seconds / sql.seconds:.2f}x)",
                run.seconds <= GOAL_VS_SQL * sql.seconds,
            ),
            Goal(
                "custlens peak memory (load, run)",
                f"under {GOAL_PEAK_MB / 1024:g} GB",
                f"{self.load.peak_rss_mb / 1024:.2f} GB, {run.peak_rss_mb / 1024:.2f} GB",
                peak < GOAL_PEAK_MB,
            ),
        ]


def main(
    customers: int = 1_000_000,
    months: int = 36,
    repeat: int = 1,
    settle_below: float = 0.0,
    verbose: bool = True,
) -> RunBenchmark:
    """Generate (or reuse) the source, time each implementation, check that they agree.

    Args:
        customers: customers in the synthetic source.
        months: months of history (the as-of month is the last one).
        repeat: run each timed step this many times and keep the fastest.
        settle_below: before each timed step, wait (up to 3 minutes) for the
            1-minute load average to drop under this; 0 does not wait.
        verbose: print the figures.
    """
    before = os.getloadavg()[0]
    generated = spawn("generate", customers=customers, months=months)
    path = generated.extra["path"]
    # Rounds interleave the implementations, so that other work on the machine
    # slows them alike; each keeps its fastest round.
    rounds: dict[str, list[Measurement]] = {}
    for _ in range(max(1, repeat)):
        with tempfile.TemporaryDirectory(prefix="custlens-bench-") as folder:
            workspace = Path(folder) / "ws"
            settle(settle_below)
            load = spawn("custlens-load", workspace=workspace, path=path, months=months)
            rounds.setdefault("custlens-load", []).append(load)
            settle(settle_below)
            run = spawn("custlens-run", workspace=workspace, months=months)
            rounds.setdefault("custlens-run", []).append(run)
        for step in ("polars", "polars-lazy", "sql"):
            settle(settle_below)
            rounds.setdefault(step, []).append(spawn(step, path=path, months=months))
    load, run, polars, polars_lazy, sql = (
        min(rounds[step], key=lambda m: m.seconds)
        for step in ("custlens-load", "custlens-run", "polars", "polars-lazy", "sql")
    )
    reference = sql.extra["summary"]
    agreement = {
        "custlens vs SQL": compare(reference, run.extra["summary"]),
        "Polars vs SQL": compare(reference, polars.extra["summary"]),
        "Polars lazy vs SQL": compare(reference, polars_lazy.extra["summary"]),
    }
    result = RunBenchmark(
        customers=customers,
        months=months,
        source_rows=generated.rows,
        source_mb=float(generated.extra["mb"]),
        load=load,
        run=run,
        polars=polars,
        polars_lazy=polars_lazy,
        sql=sql,
        agreement=agreement,
        load_average=(before, os.getloadavg()[0]),
    )
    if verbose:
        _print(result)
    return result


def profile(customers: int = 1_000_000, months: int = 36) -> dict[str, list[float]]:
    """Load the source into a fresh workspace and time each part of a custlens run.

    Returns:
        step → [wall seconds, cpu seconds of all threads].
    """
    path = generate_source(customers, months)
    with tempfile.TemporaryDirectory(prefix="custlens-profile-") as folder:
        workspace = Path(folder) / "ws"
        spawn("custlens-load", workspace=workspace, path=path, months=months)
        measured = spawn("profile", workspace=workspace, months=months)
    steps: dict[str, list[float]] = measured.extra["steps"]
    print(f"custlens run, step by step ({customers:,} customers x {months} months)")
    print(f"  {'step':<50} {'wall':>9} {'cpu':>9}")
    for label, (wall, cpu) in steps.items():
        print(f"  {label:<50} {wall:7.2f} s {cpu:7.2f} s")
    walls, cpus = zip(*steps.values(), strict=True)
    print(f"  {'total':<50} {sum(walls):7.2f} s {sum(cpus):7.2f} s")
    print(f"  child cpu {measured.cpu_seconds:.1f} s, peak RSS {measured.peak_rss_mb:,.0f} MB")
    return steps


def _print(result: RunBenchmark) -> None:
    print(
        f"customer_mrr: {result.customers:,} customers x {result.months} months, "
        f"{result.source_rows:,} rows ({result.source_mb:.0f} MB Parquet)"
    )
    for m in (result.load, result.run, result.polars, result.polars_lazy, result.sql):
        print(
            f"  {m.step:<14} {m.seconds:7.2f} s  (child wall {m.wall_seconds:6.2f} s, "
            f"cpu {m.cpu_seconds:6.2f} s)  peak RSS {m.peak_rss_mb:7,.0f} MB  rows {m.rows:,}  "
            f"load {m.load_at_start:.1f}"
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
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N rounds")
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
