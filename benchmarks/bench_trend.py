"""Benchmark ``mrr_trend_risk`` on invoice line items against the seed's pandas approach (003).

Usage: ``python benchmarks/bench_trend.py [--line-items 6100000] [--pandas-sample N]
[--repeat N] [--settle LOAD] [--json]``.

The input is what seed 003's SQL query returns: invoice line items with the
customer (``cus``), the last day of the month the invoice was created
(``monc``) and the line's ``amount`` — about 6.1 M rows, generated with NumPy
(deterministic) and cached as Parquet under ``benchmarks/data/``. Two
implementations compute, per customer, the least-squares slope and r² of its
last N = 4 monthly invoice totals (DESIGN.md §4, the definition of
``custlens.facts.mrr_trend_risk``), stage for stage:

=========  ==========================================  =====================================
stage      custlens (Ibis on in-process DuckDB)         pandas (the seed's approach, correct)
=========  ==========================================  =====================================
group      line items summed per customer and month     ``groupby(["cus", "monc"]).sum()``
           into a table (the ``src_customer_mrr``
           source)
spine      the ``customer_mrr`` fact into a table       pivot to customer × month, every
           (gap-free months from the first paid one,    month a column, zeros where nothing
           zeros where nothing was invoiced)            was invoiced, and each first paid month
fit        the ``mrr_trend_risk`` fact on the           one ``numpy.polyfit`` (r² from
           materialised ``customer_mrr`` table,         ``numpy.corrcoef``) per customer in a
           fetched as a Polars frame                    Python loop over the pivot, from its
                                                        first paid month on
=========  ==========================================  =====================================

Each stage runs in a fresh child process (so that its peak resident set size,
``ru_maxrss`` from ``wait4``, is its own) whose input — the line items, or the
previous stage's output of the same implementation — is loaded into memory
before the clock starts: into an in-memory DuckDB table for custlens, as a
pipeline run finds ``customer_mrr`` already materialised, and into a pandas
frame for pandas, as the seed's loop finds its pivot already built. The clock
stops when the stage's result is in memory (a DuckDB table, a frame); saving
it for the next stage is not timed. Two more children run each
implementation end to end, from the Parquet file (reading included) to the
fits. Beside each wall time is the process's cpu time inside the clock (all
threads), steadier than wall time on a shared machine; for the fit, the
seconds of building the Ibis expression, of the rest (compile, execute,
fetch) and, timed again after the clock, of compiling it to SQL alone.
Imports come before the clock in every child; so does one tiny query
through Ibis (``custlens`` children), which loads the parts of Ibis and
sqlglot that are imported on first use — a pipeline run has paid that before
its second fact. Its cost is reported beside the figures. Every child, of
either implementation, also collects garbage just before its clock: the
first full collection after the imports (~0.06 s) would otherwise land in
whichever clock runs first, and a pipeline pays it once, not per fact.

With ``--repeat N`` every child runs N times, interleaved (all stages, then
again), and the median of each figure is reported (the minimum beside it);
``--settle LOAD`` waits before each child until the 1-minute load average is
below LOAD (at most 3 minutes). With ``--pandas-sample N`` only about N
customers are fitted by the pandas loop and the loop's time is extrapolated
linearly to all.

The fits must agree — the fit stage's and the end-to-end runs' — on slope
and r² to 1e-9 (relative, with an absolute floor of 1e-9) for every customer
pandas fitted, and on the at-risk flag except where numpy's r² is within 1e-9
of the threshold (fits exactly at 0.9, which custlens computes exactly and
numpy to a hair either side).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path.
from child import run_child

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20030512  # seed 003 was published on 12 May 2017; any fixed number does
MONTHS = 24
FIRST_YEAR = 2023
AS_OF = date(FIRST_YEAR + (MONTHS - 1) // 12, (MONTHS - 1) % 12 + 1, 1)
TREND_MONTHS = 4
MIN_R_SQUARED = 0.9
LINES_PER_CUSTOMER = 61  # 6.1 M line items ↔ 100,000 customers
TOLERANCE = 1e-9
CHILD_TIMEOUT_SECONDS = 1800

GOAL_SPEEDUP = 30.0
GOAL_PEAK_MB = 6 * 1024


# -- the input ----------------------------------------------------------------


def source_path(line_items: int, seed: int = SEED) -> Path:
    return DATA_DIR / f"invoice_lines_{line_items}_seed{seed}.parquet"


def generate_source(line_items: int, seed: int = SEED) -> Path:
    """Write (once) the invoice line items and return the Parquet path.

    ``line_items // 61`` customers over 24 months (2023-01 … 2024-12). A customer
    starts in a random month (a third before the data begins), 30 % churn in a
    random later month. Its monthly total is base × (1 + drift)^t × noise: base
    log-normal (median ~150), drift N(0, 5 %) a month, noise none for a fifth of
    the customers (a fifth of those also without drift: flat), else N(1, 2 %) or
    N(1, 10 %). Each customer-month with an invoice gets at least one line; the
    rest of the ``line_items`` are scattered uniformly over those months, and the
    month's total is split among its lines by random weights (rounded to the cent).
    Rows are shuffled: a query result comes in no particular order.
    """
    import numpy as np
    import polars as pl

    path = source_path(line_items, seed)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    customers = max(1, line_items // LINES_PER_CUSTOMER)
    start = np.clip(rng.integers(-MONTHS // 2, MONTHS, customers), 0, MONTHS - 1)
    churns = rng.random(customers) < 0.3
    end = np.where(churns, rng.integers(start + 1, MONTHS + 1), MONTHS)  # exclusive
    base = rng.lognormal(5.0, 1.0, customers)
    drift = rng.normal(0.0, 0.05, customers)
    noise = rng.choice([0.0, 0.02, 0.1], customers, p=[0.2, 0.4, 0.4])
    drift[(noise == 0) & (rng.random(customers) < 0.2)] = 0.0

    t = np.arange(MONTHS)
    active = (t >= start[:, None]) & (t < end[:, None])
    customer, month = np.nonzero(active)
    age = month - start[customer]
    shock = 1 + noise[customer] * rng.standard_normal(customer.size)
    total = base[customer] * (1 + drift[customer]) ** age * np.clip(shock, 0.05, None)

    cells = customer.size
    if cells > line_items:
        raise ValueError(f"{line_items} line items cannot cover {cells} invoiced months")
    lines_per_cell = 1 + np.bincount(rng.integers(0, cells, line_items - cells), minlength=cells)
    cell = np.repeat(np.arange(cells), lines_per_cell)
    weight = rng.uniform(0.5, 1.5, line_items)
    weight /= np.bincount(cell, weight)[cell]
    amount = np.round(total[cell] * weight, 2)

    order = rng.permutation(line_items)
    cell, amount = cell[order], amount[order]
    idx = FIRST_YEAR * 12 + month[cell]
    frame = pl.DataFrame(
        {"c": customer[cell].astype(np.int64), "idx": idx.astype(np.int64), "amount": amount}
    ).select(
        cus=pl.format("C{}", pl.col("c").cast(pl.String).str.zfill(7)),
        monc=pl.date(pl.col("idx") // 12, pl.col("idx") % 12 + 1, 1).dt.month_end(),
        amount="amount",
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.partial")
    frame.write_parquet(partial)
    partial.rename(path)
    return path


Steps = dict[str, float]
"""Seconds of each part of one step, in order."""


# -- custlens: the facts' own Ibis expressions on in-process DuckDB -----------------


def _config() -> Any:
    from custlens.config import Config

    return Config.model_validate(
        {"analytics": {"mrr_trend": {"months": TREND_MONTHS, "min_r_squared": MIN_R_SQUARED}}}
    )


def _fact(name: str, tables: dict[str, Any]) -> Any:
    """The Ibis expression of fact ``name`` over ``tables``, at the benchmark's as-of month."""
    from custlens.facts import REGISTRY, FactContext
    from custlens.pipeline import month_end

    return REGISTRY[name].build(FactContext(tables, month_end(AS_OF), _config()))


def _connect() -> Any:
    import ibis

    return ibis.duckdb.connect()


def _warm_up(con: Any) -> float:
    """One tiny query through Ibis (first-use imports of Ibis and sqlglot); its seconds."""
    import ibis

    began = time.perf_counter()
    con.to_pyarrow(ibis.memtable({"x": [1]}).limit(1))
    return time.perf_counter() - began


def _collect_garbage() -> None:
    """A full garbage collection, just before a clock starts (every child, both sides).

    The first full collection after the imports walks every object they made
    (~0.06 s here); a long-running process pays it once, not in each step.
    Left to chance, it falls inside whichever clock runs first.
    """
    import gc

    gc.collect()


def _custlens_group(con: Any, lines: Any) -> Any:
    """Line items → ``src_customer_mrr`` (customer_id, month, mrr), materialised.

    Grouped by ``monc``, the month's last day (one date per month, as pandas
    groups), and moved to the month's first day after: 1.4 M dates truncated
    instead of 6.1 M, the same rows.
    """
    monthly = lines.group_by(customer_id=lines.cus, monc=lines.monc).aggregate(
        mrr=lines.amount.sum()
    )
    return con.create_table(
        "src_customer_mrr",
        monthly.select("customer_id", month=monthly.monc.truncate("M"), mrr="mrr"),
    )


def _custlens_spine(con: Any, source: Any) -> Any:
    """``src_customer_mrr`` → the ``customer_mrr`` fact, materialised."""
    return con.create_table("customer_mrr", _fact("customer_mrr", {"src_customer_mrr": source}))


def _custlens_fit(con: Any, mrr: Any) -> tuple[Any, Steps]:
    """The ``mrr_trend_risk`` fact on ``customer_mrr``, as Polars; (result, build / run)."""
    began = time.perf_counter()
    expr = _fact("mrr_trend_risk", {"customer_mrr": mrr})
    built = time.perf_counter()
    result = con.to_polars(expr)
    done = time.perf_counter()
    return result, {"build": built - began, "run": done - built}


# -- pandas: the seed's approach, written correctly ---------------------------------


def _pandas_read(path: Path) -> Any:
    import pandas as pd

    items = pd.read_parquet(path, columns=["cus", "monc", "amount"])
    items["monc"] = pd.to_datetime(items["monc"])  # Parquet dates arrive as Python objects
    return items


def _pandas_group(items: Any) -> Any:
    return items.groupby(["cus", "monc"], as_index=False)["amount"].sum()


def _pandas_pivot(monthly: Any) -> tuple[Any, Any, Any]:
    """Customer × month matrix, every month a column, zeros where nothing was invoiced.

    Returns (pivot frame, its values, each customer's first paid month's column).
    """
    import pandas as pd

    pivot = monthly.pivot(index="cus", columns="monc", values="amount")
    months = pd.date_range(pd.Timestamp(FIRST_YEAR, 1, 31), periods=MONTHS, freq="ME")
    # Totals of cent amounts are cents; rounding drops the float noise of the sums.
    pivot = pivot.reindex(columns=months).fillna(0.0).round(2)
    values = pivot.to_numpy()
    return pivot, values, (values > 0).argmax(axis=1)


def _pandas_fit(
    customers: Any, values: Any, first_paid: Any, sample: int | None
) -> tuple[Any, int]:
    """One ``numpy.polyfit`` per customer over the last N months from its first paid month.

    A customer that started inside the window has fewer months; one with nothing
    in the window is left out; flat MRR has slope 0 and no r². ``sample``: fit
    only every k-th customer so that about this many are fitted.
    Returns (fits frame, customers fitted).
    """
    import numpy as np
    import pandas as pd

    window_start = values.shape[1] - TREND_MONTHS
    step = max(1, len(customers) // sample) if sample else 1
    rows = []
    for i in range(0, len(customers), step):
        lo = max(int(first_paid[i]), window_start)
        y = values[i, lo:]
        if not (y > 0).any():
            continue
        x = np.arange(lo - window_start, TREND_MONTHS, dtype=float)
        slope = r_squared = np.nan
        if len(y) >= 2:
            if y.min() == y.max():
                slope = 0.0
            else:
                slope = np.polyfit(x, y, 1)[0]
                r_squared = np.corrcoef(x, y)[0, 1] ** 2
        rows.append((customers[i], len(y), slope, r_squared, y.mean(), y[-1]))
    fits = pd.DataFrame(
        rows, columns=["customer_id", "months_used", "slope", "r_squared", "mean_mrr", "current"]
    )
    fits["at_risk"] = (
        (fits.slope < 0) & (fits.r_squared >= MIN_R_SQUARED) & (fits.current > 0)
    ).fillna(False)
    return fits, len(range(0, len(customers), step))


# -- children: one stage each, reporting JSON on the last line of stdout -----------

CHILDREN = (
    "custlens-group",
    "pandas-group",
    "custlens-spine",
    "pandas-pivot",
    "custlens-fit",
    "pandas-fit",
    "custlens-all",
    "pandas-all",
)
"""One round, in order: each stage of both implementations, then each end to end."""


def _child(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    path, out = Path(args.path), Path(args.out) if args.out else None
    if args.child == "generate":
        began = time.perf_counter()
        generate_source(args.line_items)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        customers = pl.scan_parquet(path).select(pl.col("cus").n_unique()).collect().item()
        return {"seconds": time.perf_counter() - began, "rows": rows, "customers": customers}

    if args.child.startswith("custlens"):
        # Imported before the clock (the fact modules register themselves on import).
        import custlens.config
        import custlens.facts
        import custlens.pipeline  # noqa: F401

        con = _connect()
        if args.child != "custlens-all":  # the stage's input, loaded into memory: not timed
            source = con.create_table("input", con.read_parquet(path))
        warm_up = _warm_up(con)
        _collect_garbage()
        began = time.perf_counter()
        cpu_began = time.process_time()
        if args.child == "custlens-group":
            result = _custlens_group(con, source)
        elif args.child == "custlens-spine":
            result = _custlens_spine(con, source)
        elif args.child == "custlens-fit":
            result, split = _custlens_fit(con, source)
        else:  # custlens-all: from the Parquet file, read inside the clock
            lines = con.read_parquet(path)
            split = {"group": 0.0, "spine": 0.0, "fit": 0.0}
            tables = {"group": _custlens_group(con, lines)}
            split["group"] = time.perf_counter() - began
            tables["spine"] = _custlens_spine(con, tables["group"])
            split["spine"] = time.perf_counter() - began - split["group"]
            result, _ = _custlens_fit(con, tables["spine"])
            split["fit"] = time.perf_counter() - began - split["group"] - split["spine"]
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        report: dict[str, Any] = {"seconds": seconds, "cpu": cpu, "warm_up": warm_up}
        if args.child in ("custlens-fit", "custlens-all"):
            report["split"] = split
            if args.child == "custlens-fit":  # once more, after the clock: SQL compilation alone
                expr = _fact("mrr_trend_risk", {"customer_mrr": source})
                compiling = time.perf_counter()
                con.compile(expr)
                report["compile"] = time.perf_counter() - compiling
            result.write_parquet(out)
            report |= {"rows": result.height, "at_risk": int(result["at_risk"].sum())}
        else:
            con.to_parquet(result, out)
            report["rows"] = int(result.count().to_pyarrow().as_py())
        con.disconnect()
        return report

    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (pandas imports it on first read: not timed)

    if args.child == "pandas-all":
        _collect_garbage()
        began = time.perf_counter()
        cpu_began = time.process_time()
        items = _pandas_read(path)
        split = {"read": time.perf_counter() - began}
        monthly = _pandas_group(items)
        split["group"] = time.perf_counter() - began - sum(split.values())
        pivot, values, first_paid = _pandas_pivot(monthly)
        split["pivot"] = time.perf_counter() - began - sum(split.values())
        fits, fitted = _pandas_fit(pivot.index, values, first_paid, args.pandas_sample)
        split["fit"] = time.perf_counter() - began - sum(split.values())
        fits.to_parquet(out)
        return {
            "seconds": time.perf_counter() - began,
            "cpu": time.process_time() - cpu_began,
            "split": split,
            "fitted": fitted,
            "customers": len(pivot),
            "rows": len(fits),
            "at_risk": int(fits["at_risk"].sum()),
        }
    if args.child == "pandas-group":
        items = _pandas_read(path)  # not timed
        _collect_garbage()
        began = time.perf_counter()
        cpu_began = time.process_time()
        monthly = _pandas_group(items)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        monthly.to_parquet(out)
        return {"seconds": seconds, "cpu": cpu, "rows": len(monthly)}
    if args.child == "pandas-pivot":
        monthly = pd.read_parquet(path)  # not timed
        _collect_garbage()
        began = time.perf_counter()
        cpu_began = time.process_time()
        pivot, _, _ = _pandas_pivot(monthly)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        pivot.columns = pivot.columns.strftime("%Y-%m-%d")  # Parquet wants text names
        pivot.to_parquet(out)
        return {"seconds": seconds, "cpu": cpu, "rows": len(pivot)}
    # pandas-fit: the pivot as the pivot stage left it (values, first paid month), not timed
    pivot = pd.read_parquet(path)
    values = pivot.to_numpy()
    first_paid = (values > 0).argmax(axis=1)
    _collect_garbage()
    began = time.perf_counter()
    cpu_began = time.process_time()
    fits, fitted = _pandas_fit(pivot.index, values, first_paid, args.pandas_sample)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    fits.to_parquet(out)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "fitted": fitted,
        "customers": len(pivot),
        "rows": len(fits),
        "at_risk": int(fits["at_risk"].sum()),
    }


# -- the parent: rounds of children, medians, agreement ----------------------------


def spawn(step: str, settle_below: float = 0.0, **options: object) -> dict[str, Any]:
    """Run one child in a fresh interpreter; add its wall, cpu, peak RSS and load at start."""
    from bench_run import settle

    settle(settle_below)
    argv = [sys.executable, __file__, "--child", step]
    for name, value in options.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    child = run_child(argv, step, timeout=CHILD_TIMEOUT_SECONDS)
    return {
        **child.report,
        "wall_seconds": child.wall_seconds,
        "cpu_seconds": child.cpu_seconds,
        "peak_rss_mb": child.peak_rss_mb,
        "load": child.load_at_start,
    }


def compare(custlens_file: Path, pandas_file: Path) -> dict[str, Any]:
    """Slope and r² of every customer pandas fitted against custlens' (same set, 1e-9)."""
    import pandas as pd
    import polars as pl

    ours = pl.read_parquet(custlens_file)
    theirs = pl.from_pandas(pd.read_parquet(pandas_file))
    joined = theirs.join(ours, on="customer_id", how="left", suffix="_custlens")
    missing = joined["months_used_custlens"].null_count()
    problems: list[str] = []
    if missing:
        problems.append(f"{missing} customers fitted by pandas are missing in custlens")
    if (joined["months_used"] != joined["months_used_custlens"]).any():
        problems.append("months_used differs")
    worst: dict[str, float] = {}
    for column in ("slope", "r_squared", "mean_mrr"):
        a = joined[column].fill_nan(None)
        b = joined[f"{column}_custlens"]
        if (a.is_null() != b.is_null()).any():
            problems.append(f"{column}: null in one and not the other")
        both = joined.filter(a.is_not_null() & b.is_not_null())
        diff = (both[column] - both[f"{column}_custlens"]).abs()
        # Relative to the value, with a floor of 1 (an absolute 1e-9 near zero).
        relative = (diff / both[column].abs().clip(lower_bound=1.0)).max()
        worst[column] = float(relative or 0.0)  # type: ignore[arg-type]
        if worst[column] > TOLERANCE:
            problems.append(f"{column}: differs by {worst[column]:.3g} (relative)")
    # numpy's r² of a fit exactly at the threshold (0.9 in exact arithmetic) lands
    # a hair above or below it; custlens computes those exactly. Judge the rest.
    at_edge = (joined["r_squared"].fill_nan(None) - MIN_R_SQUARED).abs() < TOLERANCE
    flags = ((joined["at_risk"] != joined["at_risk_custlens"]) & ~at_edge.fill_null(False)).sum()
    if flags:
        problems.append(f"at_risk differs for {flags} customers")
    return {
        "compared": joined.height,
        "worst_relative": worst,
        "at_threshold": int(at_edge.sum()),
        "problems": problems,
    }


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def _summary(runs: list[dict[str, Any]], extrapolate: float = 1.0) -> dict[str, Any]:
    """Median (and min) of a child's figures over its rounds; ``extrapolate`` scales a fit."""
    seconds = [r["seconds"] for r in runs]
    if extrapolate != 1.0:  # only the fitting loop is sampled
        seconds = [
            r["seconds"] + (extrapolate - 1) * (r["split"]["fit"] if "split" in r else r["seconds"])
            for r in runs
        ]
    # cpu time of the process inside the clock (all threads), scaled as the seconds were
    cpu = [r["cpu"] * s / r["seconds"] for r, s in zip(runs, seconds, strict=True)]
    out: dict[str, Any] = {
        "seconds": _median(seconds),
        "cpu": _median(cpu),
        "min_seconds": min(seconds),
        "all_seconds": seconds,
        "cpu_seconds": _median([r["cpu_seconds"] for r in runs]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "load": [round(r["load"], 1) for r in runs],
        "rows": runs[0]["rows"],
    }
    for key in ("warm_up", "compile"):
        if key in runs[0]:
            out[key] = _median([r[key] for r in runs])
    if "split" in runs[0]:
        out["split"] = {k: _median([r["split"][k] for r in runs]) for k in runs[0]["split"]}
        if extrapolate != 1.0 and "fit" in out["split"]:
            out["split"]["fit"] *= extrapolate
    return out


def main(
    line_items: int = 6_100_000,
    pandas_sample: int | None = None,
    repeat: int = 1,
    settle_below: float = 0.0,
) -> dict[str, Any]:
    """Generate (once) and time each stage of both implementations; figures, agreement, goals.

    Args:
        line_items: rows of the invoice line-item input.
        pandas_sample: fit only about this many customers in the pandas loop and
            extrapolate the loop's time linearly to every customer (None: all).
        repeat: rounds of every child; figures are medians over the rounds.
        settle_below: before each child, wait for the 1-minute load average to drop
            under this (0: do not wait).
    """
    import os

    path = source_path(line_items)
    generated = spawn("generate", path=path, line_items=line_items)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CHILDREN}
    agreement: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="custlens-trend-") as folder:
        tmp = Path(folder)
        inputs = {
            "custlens-group": path,
            "pandas-group": path,
            "custlens-spine": tmp / "custlens-group.parquet",
            "pandas-pivot": tmp / "pandas-group.parquet",
            "custlens-fit": tmp / "custlens-spine.parquet",
            "pandas-fit": tmp / "pandas-pivot.parquet",
            "custlens-all": path,
            "pandas-all": path,
        }
        for _ in range(max(1, repeat)):
            for name in CHILDREN:
                report = spawn(
                    name,
                    settle_below,
                    path=inputs[name],
                    out=tmp / f"{name}.parquet",
                    pandas_sample=pandas_sample if name in ("pandas-fit", "pandas-all") else None,
                )
                runs[name].append(report)
        for scope in ("fit", "all"):
            agreement[scope] = compare(
                tmp / f"custlens-{scope}.parquet", tmp / f"pandas-{scope}.parquet"
            )
    load_after = os.getloadavg()[0]

    fitted = runs["pandas-fit"][0]["fitted"]
    customers = runs["pandas-fit"][0]["customers"]
    scale = customers / fitted  # 1 unless --pandas-sample
    stages = {
        "group": (_summary(runs["custlens-group"]), _summary(runs["pandas-group"])),
        "spine": (_summary(runs["custlens-spine"]), _summary(runs["pandas-pivot"])),
        "fit": (_summary(runs["custlens-fit"]), _summary(runs["pandas-fit"], scale)),
        "end to end": (_summary(runs["custlens-all"]), _summary(runs["pandas-all"], scale)),
    }
    speedup = {
        stage: theirs["seconds"] / ours["seconds"] for stage, (ours, theirs) in stages.items()
    }
    speedup_cpu = {stage: theirs["cpu"] / ours["cpu"] for stage, (ours, theirs) in stages.items()}
    peak = max(s["peak_rss_mb"] for pair in stages.values() for s in pair)
    problems = [f"{scope}: {p}" for scope, a in agreement.items() for p in a["problems"]]
    return {
        "line_items": generated["rows"],
        "customers": generated["customers"],
        "months": MONTHS,
        "trend_months": TREND_MONTHS,
        "repeat": max(1, repeat),
        "load_average": [load_before, load_after],
        "stages": {
            stage: {"custlens": ours, "pandas": theirs} for stage, (ours, theirs) in stages.items()
        },
        "pandas_fitted": fitted,
        "pandas_extrapolated": fitted < customers,
        "custlens_rows": runs["custlens-fit"][0]["rows"],
        "at_risk": {
            "custlens": runs["custlens-fit"][0]["at_risk"],
            "pandas (fitted)": runs["pandas-fit"][0]["at_risk"],
        },
        "agreement": agreement,
        "problems": problems,
        "agree": not problems,
        "speedup": speedup,
        "speedup_cpu": speedup_cpu,
        "goals": {
            f"fit: mrr_trend_risk >= {GOAL_SPEEDUP:.0f}x faster than the per-customer fit": speedup[
                "fit"
            ]
            >= GOAL_SPEEDUP,
            f"end to end >= {GOAL_SPEEDUP:.0f}x faster than pandas": speedup["end to end"]
            >= GOAL_SPEEDUP,
            "peak memory < 6 GB": peak < GOAL_PEAK_MB,
        },
    }


STAGE_LABELS = {
    "group": ("group (line items → monthly totals)", "groupby"),
    "spine": ("customer_mrr fact → table", "pivot with zeros"),
    "fit": ("mrr_trend_risk on customer_mrr", "per-customer polyfit loop"),
    "end to end": ("Parquet → fits", "Parquet → fits"),
}


def _print(result: dict[str, Any]) -> None:
    print(
        f"input: {result['line_items']:,} line items, {result['customers']:,} customers; "
        f"median of {result['repeat']} round(s); load average "
        f"{result['load_average'][0]:.1f} before, {result['load_average'][1]:.1f} after"
    )
    for stage, pair in result["stages"].items():
        ours, theirs = pair["custlens"], pair["pandas"]
        labels = STAGE_LABELS[stage]
        print(f"{stage}:")
        for who, figures, label in (("custlens", ours, labels[0]), ("pandas", theirs, labels[1])):
            extra = ""
            if "split" in figures:
                extra += " (" + ", ".join(f"{k} {v:.2f}" for k, v in figures["split"].items()) + ")"
            if "compile" in figures:
                extra += f" [of which SQL compile {figures['compile']:.2f}]"
            if "warm_up" in figures:
                extra += f" [+ first Ibis query before the clock {figures['warm_up']:.2f}]"
            print(
                f"  {who:<9} {label:<38} {figures['seconds']:7.2f} s "
                f"(min {figures['min_seconds']:.2f}; cpu {figures['cpu']:.2f} s), "
                f"peak {figures['peak_rss_mb']:,.0f} MB, load {figures['load']}{extra}"
            )
        print(
            f"  speedup {result['speedup'][stage]:.1f}x (wall, median), "
            f"{result['speedup_cpu'][stage]:.1f}x (cpu)"
        )
    if result["pandas_extrapolated"]:
        print(f"(pandas fit extrapolated from {result['pandas_fitted']:,} customers)")
    print(f"at risk: {result['at_risk']}")
    for scope, a in result["agreement"].items():
        print(
            f"agreement ({scope}) on {a['compared']:,} customers: worst relative "
            f"{a['worst_relative']} — {'ok' if not a['problems'] else a['problems']}"
        )
    for goal, met in result["goals"].items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    from bench_run import add_timing_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--line-items", type=int, default=6_100_000)
    parser.add_argument("--pandas-sample", type=int, default=None)
    add_timing_options(parser)
    parser.add_argument("--child", choices=("generate", *CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
    else:
        outcome = main(args.line_items, args.pandas_sample, args.repeat, args.settle)
        print(json.dumps(outcome, indent=2)) if args.json else _print(outcome)
        sys.exit(0 if outcome["agree"] else 1)
