"""Benchmark ``mrr_trend_risk`` on invoice line items against the seed's pandas approach (003).

Usage: ``python benchmarks/bench_trend.py [--line-items 6100000] [--pandas-sample N]``.

The input is what seed 003's SQL query returns: invoice line items with the
customer (``cus``), the last day of the month the invoice was created
(``monc``) and the line's ``amount`` — about 6.1 M rows, generated with NumPy
(deterministic) and cached as Parquet under ``benchmarks/data/``. Two
implementations compute, per customer, the least-squares slope and r² of its
last N = 4 monthly invoice totals (DESIGN.md §4, the definition of
``custlens.facts.mrr_trend_risk``):

- ``custlens``: the facts' own Ibis expressions on an in-process DuckDB
  connection, from the Parquet file to a Polars frame: line items summed per
  customer and month (the ``src_customer_mrr`` source), the ``customer_mrr``
  fact (the gap-free spine with zeros) and the ``mrr_trend_risk`` fact, built
  and run as one query. No workspace: nothing is loaded or written, so the
  figure is the computation alone.
- ``pandas``: the seed's approach, written correctly: read, group by customer
  and month, pivot to a customer × month matrix (every month, zeros where
  nothing was invoiced), then fit each customer in a Python loop with
  ``numpy.polyfit`` (and r² from ``numpy.corrcoef``), using the months from
  its first paid month on, as the spine does. With ``--pandas-sample N`` only
  N customers are fitted and the loop's time is extrapolated linearly to all.

Each runs in a fresh child process, so that its peak resident set size
(``ru_maxrss`` from ``wait4``) is its own. They must agree on slope and r² to
1e-9 (relative, with an absolute floor of 1e-9) for every customer pandas fitted,
and on the at-risk flag except where numpy's r² is within 1e-9 of the threshold
(fits exactly at 0.9, which custlens computes exactly and numpy to a hair either side).
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


# -- the two implementations --------------------------------------------------

Steps = dict[str, float]
"""Seconds of each step of one implementation, in order."""


def custlens_trend(path: Path) -> tuple[Any, Steps]:
    """``mrr_trend_risk`` from the line items with custlens' fact expressions on DuckDB.

    Three steps, each materialised as a pipeline run would stage it: ``group``
    (line items summed per customer and month: the ``src_customer_mrr``
    source), ``spine`` (the ``customer_mrr`` fact) and ``trend`` (the
    ``mrr_trend_risk`` fact, fetched as Polars).
    """
    import ibis

    from custlens.config import Config
    from custlens.facts import REGISTRY, FactContext
    from custlens.pipeline import month_end

    config = Config.model_validate(
        {"analytics": {"mrr_trend": {"months": TREND_MONTHS, "min_r_squared": MIN_R_SQUARED}}}
    )
    steps: Steps = {}
    con = ibis.duckdb.connect()
    try:
        began = time.perf_counter()
        lines = con.read_parquet(path)
        monthly = lines.group_by(customer_id=lines.cus, month=lines.monc.truncate("M")).aggregate(
            mrr=lines.amount.sum()
        )
        tables = {"src_customer_mrr": con.create_table("src_customer_mrr", monthly)}
        steps["group"] = time.perf_counter() - began
        for step, name in (("spine", "customer_mrr"), ("trend", "mrr_trend_risk")):
            began = time.perf_counter()
            expr = REGISTRY[name].build(FactContext(tables, month_end(AS_OF), config))
            if name == "mrr_trend_risk":
                result = con.to_polars(expr)
            else:
                tables[name] = con.create_table(name, expr)
            steps[step] = time.perf_counter() - began
        return result, steps
    finally:
        con.disconnect()


def pandas_trend(path: Path, sample: int | None = None) -> tuple[Any, Steps, int]:
    """The seed's pandas approach, correct: (fits, seconds per step, customers fitted).

    Read, group by customer and month, pivot to a customer × month matrix, then
    one ``numpy.polyfit`` per customer over the last N months from its first
    paid month on (a customer that started inside the window has fewer months;
    one with nothing in the window is left out; flat MRR has slope 0 and no r²).
    ``sample``: fit only every k-th customer so that about this many are fitted.
    """
    import numpy as np
    import pandas as pd

    steps: Steps = {}
    began = time.perf_counter()
    items = pd.read_parquet(path, columns=["cus", "monc", "amount"])
    items["monc"] = pd.to_datetime(items["monc"])  # Parquet dates arrive as Python objects
    steps["read"] = time.perf_counter() - began

    began = time.perf_counter()
    monthly = items.groupby(["cus", "monc"], as_index=False)["amount"].sum()
    steps["group"] = time.perf_counter() - began

    began = time.perf_counter()
    pivot = monthly.pivot(index="cus", columns="monc", values="amount")
    # Every month up to the as-of month is a column, even one without invoices.
    months = pd.date_range(pd.Timestamp(FIRST_YEAR, 1, 31), periods=MONTHS, freq="ME")
    # Totals of cent amounts are cents; rounding drops the float noise of the sums.
    pivot = pivot.reindex(columns=months).fillna(0.0).round(2)
    values = pivot.to_numpy()
    first_paid = (values > 0).argmax(axis=1)
    steps["pivot"] = time.perf_counter() - began

    began = time.perf_counter()
    window_start = values.shape[1] - TREND_MONTHS
    step = max(1, len(pivot) // sample) if sample else 1
    rows = []
    for i in range(0, len(pivot), step):
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
        rows.append((pivot.index[i], len(y), slope, r_squared, y.mean(), y[-1]))
    fits = pd.DataFrame(
        rows, columns=["customer_id", "months_used", "slope", "r_squared", "mean_mrr", "current"]
    )
    fits["at_risk"] = (
        (fits.slope < 0) & (fits.r_squared >= MIN_R_SQUARED) & (fits.current > 0)
    ).fillna(False)
    steps["fit"] = time.perf_counter() - began
    return fits, steps, len(range(0, len(pivot), step))


# -- children: one step each, reporting JSON on the last line of stdout --------


def _child(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    path = Path(args.path)
    if args.child == "generate":
        began = time.perf_counter()
        generate_source(args.line_items)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        return {"seconds": time.perf_counter() - began, "rows": rows}
    if args.child == "custlens":
        result, steps = custlens_trend(path)
        result.write_parquet(args.out)
        return {"steps": steps, "rows": result.height, "at_risk": int(result["at_risk"].sum())}
    fits, steps, fitted = pandas_trend(path, args.pandas_sample)
    fits.to_parquet(args.out)
    customers = pl.scan_parquet(path).select(pl.col("cus").n_unique()).collect().item()
    return {
        "steps": steps,
        "fitted": fitted,
        "customers": customers,
        "rows": len(fits),
        "at_risk": int(fits["at_risk"].sum()),
    }


def spawn(step: str, **options: object) -> dict[str, Any]:
    """Run one step in a fresh interpreter; add its wall time and peak RSS (``child.run_child``)."""
    argv = [sys.executable, __file__, "--child", step]
    for name, value in options.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    child = run_child(argv, step)
    report = dict(child.report)
    report["wall_seconds"] = child.wall_seconds
    report["peak_rss_mb"] = child.peak_rss_mb
    return report


def compare(custlens_file: Path, pandas_file: Path) -> dict[str, Any]:
    """Slope and r² of every customer pandas fitted against custlens' (same set, 1e-9)."""
    import polars as pl

    ours = pl.read_parquet(custlens_file)
    theirs = pl.from_pandas(pd_read(pandas_file))
    joined = theirs.join(ours, on="customer_id", how="left", suffix="_custlens")
    missing = joined["months_used_custlens"].null_count()
    problems: list[str] = []
    if missing:
        problems.append(f"{missing} customers fitted by pandas are missing in custlens")
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


def pd_read(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


def main(line_items: int = 6_100_000, pandas_sample: int | None = None) -> dict[str, Any]:
    """Generate (once) and time both implementations; figures, agreement and goals as a dict.

    Args:
        line_items: rows of the invoice line-item input.
        pandas_sample: fit only about this many customers in the pandas loop and
            extrapolate the loop's time linearly to every customer (None: all).
    """
    path = source_path(line_items)
    generated = spawn("generate", path=path, line_items=line_items)
    with tempfile.TemporaryDirectory() as tmp:
        ours_file, theirs_file = Path(tmp) / "custlens.parquet", Path(tmp) / "pandas.parquet"
        ours = spawn("custlens", path=path, line_items=line_items, out=ours_file)
        theirs = spawn(
            "pandas", path=path, line_items=line_items, out=theirs_file, pandas_sample=pandas_sample
        )
        agreement = compare(ours_file, theirs_file)
    # Extrapolate only the fitting loop; reading, grouping and pivoting were done in full.
    scale = theirs["customers"] / theirs["fitted"]
    pandas_steps = {**theirs["steps"], "fit": theirs["steps"]["fit"] * scale}
    ours_steps = ours["steps"]
    # The mrr_trend_risk computation proper: from monthly MRR to the fits. custlens
    # reads customer_mrr, which every run writes for the MRR facts anyway; pandas
    # pivots the monthly totals and fits.
    trend_speedup = (pandas_steps["pivot"] + pandas_steps["fit"]) / ours_steps["trend"]
    from_totals = (pandas_steps["pivot"] + pandas_steps["fit"]) / (
        ours_steps["spine"] + ours_steps["trend"]
    )
    end_to_end = sum(pandas_steps.values()) / sum(ours_steps.values())
    peak = max(ours["peak_rss_mb"], theirs["peak_rss_mb"])
    return {
        "line_items": generated["rows"],
        "customers": theirs["customers"],
        "months": MONTHS,
        "trend_months": TREND_MONTHS,
        "custlens_steps": ours_steps,
        "custlens_seconds": sum(ours_steps.values()),
        "custlens_peak_rss_mb": ours["peak_rss_mb"],
        "custlens_rows": ours["rows"],
        "pandas_steps": pandas_steps,
        "pandas_seconds": sum(pandas_steps.values()),
        "pandas_fitted": theirs["fitted"],
        "pandas_extrapolated": theirs["fitted"] < theirs["customers"],
        "pandas_peak_rss_mb": theirs["peak_rss_mb"],
        "at_risk": {"custlens": ours["at_risk"], "pandas (fitted)": theirs["at_risk"]},
        "compared_customers": agreement["compared"],
        "r_squared_at_threshold": agreement["at_threshold"],
        "worst_relative_difference": agreement["worst_relative"],
        "problems": agreement["problems"],
        "agree": not agreement["problems"],
        "speedup": {
            "trend (fact vs pivot + fit)": trend_speedup,
            "from monthly totals (spine + fact vs pivot + fit)": from_totals,
            "end to end (from line items)": end_to_end,
        },
        "goals": {
            f"mrr_trend_risk >= {GOAL_SPEEDUP:.0f}x faster than pandas": trend_speedup
            >= GOAL_SPEEDUP,
            "peak memory < 6 GB": peak < GOAL_PEAK_MB,
        },
    }


def _print(result: dict[str, Any]) -> None:
    print(f"input: {result['line_items']:,} line items, {result['customers']:,} customers")
    ours = ", ".join(f"{k} {v:.2f} s" for k, v in result["custlens_steps"].items())
    print(
        f"custlens (Ibis on DuckDB): {result['custlens_seconds']:.2f} s ({ours}), "
        f"peak {result['custlens_peak_rss_mb']:,.0f} MB"
    )
    theirs = ", ".join(f"{k} {v:.2f} s" for k, v in result["pandas_steps"].items())
    note = (
        f"; fit extrapolated from {result['pandas_fitted']:,} customers"
        if result["pandas_extrapolated"]
        else ""
    )
    print(
        f"pandas + numpy loop: {result['pandas_seconds']:.2f} s ({theirs}{note}), "
        f"peak {result['pandas_peak_rss_mb']:,.0f} MB"
    )
    for scope, factor in result["speedup"].items():
        print(f"speedup, {scope}: {factor:.1f}x")
    print(f"at risk: {result['at_risk']}")
    print(
        f"agreement on {result['compared_customers']:,} customers: worst relative "
        f"{result['worst_relative_difference']} — {'ok' if result['agree'] else result['problems']}"
    )
    for goal, met in result["goals"].items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line-items", type=int, default=6_100_000)
    parser.add_argument("--pandas-sample", type=int, default=None)
    parser.add_argument("--child", choices=("generate", "custlens", "pandas"))
    parser.add_argument("--path")
    parser.add_argument("--out")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
    else:
        outcome = main(args.line_items, args.pandas_sample)
        print(json.dumps(outcome, indent=2)) if args.json else _print(outcome)
        sys.exit(0 if outcome["agree"] else 1)
