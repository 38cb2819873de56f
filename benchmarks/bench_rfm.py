"""Benchmark the ``customer_value`` and ``rfm`` facts against pandas and ``lifetimes``.

Usage: ``python benchmarks/bench_rfm.py [--customers 1000000] [--transactions 10000000]``.

The input is a synthetic ``transactions`` source (payments, 3 % refunds, 2 % failed and
1 % pending, four payment methods, customers of very unequal activity, three years to the
as-of date 2024-12-31), generated with NumPy and cached as Parquet under
``benchmarks/data/``. Each implementation runs in a fresh child process, so that its peak
resident set size (``ru_maxrss`` from ``wait4``) is its own:

- ``custlens``: the Parquet file is copied into an in-memory DuckDB table
  (``src_transactions``; timed as *load*), then the facts' own Ibis expressions are
  built on that connection and each is materialised as a table, as the pipeline does:
  ``customer_value``, then ``rfm`` reading it (timed together as *facts*). No
  ``Workspace``: the other facts a run would also compute are left out of the figure.
- ``pandas``: the same RFM (processed transactions to the as-of date, refunds subtract,
  recency in calendar days, quintile scores by the same min-rank rule) with a
  straightforward ``groupby``; its score counts must equal custlens's. (It computes the
  RFM columns only, not the rest of ``customer_value``.)
- ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` on the processed
  payments (its own repeat-purchase summary: frequency, recency, T, monetary_value), when
  the package imports.

Times exclude interpreter start and imports; *load* (reading the Parquet file) is timed
apart from the computation in every child.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path.
from child import run_child

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20261124
AS_OF = date(2024, 12, 31)
FIRST_DAY = date(2022, 1, 1)
CHILD_TIMEOUT_SECONDS = 900
METHODS = ("ach", "card", "paypal", "wire")


# -- the input ----------------------------------------------------------------


def source_path(customers: int, transactions: int, seed: int = SEED) -> Path:
    """Where the cached Parquet for these sizes lives."""
    return DATA_DIR / f"transactions_{customers}x{transactions}_seed{seed}.parquet"


def generate_source(customers: int, transactions: int, seed: int = SEED) -> Path:
    """Write (once) a synthetic ``transactions`` Parquet file and return its path.

    Each customer has a lognormal activity weight (σ = 1: a few buy very often, many
    rarely); transactions pick their customer in proportion to it, their time uniformly
    in [2022-01-01, 2025-01-01), their amount lognormal (median about 55) rounded to
    the cent. 3 % are refunds, 2 % failed and 1 % pending payments. Deterministic for a
    given seed.
    """
    import numpy as np
    import polars as pl

    path = source_path(customers, transactions, seed)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    weight = rng.lognormal(0.0, 1.0, customers)
    cust = rng.choice(customers, size=transactions, p=weight / weight.sum())
    # Whole seconds since the epoch, as naive (UTC) timestamps: no local time zone involved.
    start_s = int(np.datetime64(FIRST_DAY, "s").astype(np.int64))
    end_s = int(np.datetime64(date(AS_OF.year + 1, 1, 1), "s").astype(np.int64))
    seconds = rng.integers(start_s, end_s, transactions)
    amount = np.round(rng.lognormal(4.0, 1.0, transactions), 2)
    u = rng.random(transactions)
    kind = np.where(u < 0.03, "refund", "payment")
    status = np.select(
        [(u >= 0.03) & (u < 0.05), (u >= 0.05) & (u < 0.06)], ["failed", "pending"], "processed"
    )
    method = np.asarray(METHODS)[rng.integers(0, len(METHODS), transactions)]
    frame = pl.DataFrame(
        {
            "transaction_id": pl.int_range(1, transactions + 1, eager=True)
            .cast(pl.String)
            .str.zfill(9),
            "customer_id": pl.Series(cust).cast(pl.String).str.zfill(7),
            "created_at": pl.Series((seconds * 1_000_000).astype("datetime64[us]")),
            "amount": amount,
            "type": kind,
            "status": status,
            "payment_method": method,
        }
    ).with_columns(
        ("T" + pl.col("transaction_id")).alias("transaction_id"),
        ("C" + pl.col("customer_id")).alias("customer_id"),
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    frame.write_parquet(partial)
    partial.rename(path)
    return path


# -- the children ---------------------------------------------------------------


def _summary(codes: Any, monetary_total: float, frequency_total: int, rows: int) -> dict:
    return {
        "rows": int(rows),
        "monetary_total": round(float(monetary_total), 2),
        "frequency_total": int(frequency_total),
        "code_counts": {str(k): int(v) for k, v in sorted(codes.items())},
    }


def _child_custlens(path: Path) -> dict[str, Any]:
    import ibis

    from custlens.config import Config
    from custlens.facts import REGISTRY, FactContext

    began = time.perf_counter()
    con = ibis.duckdb.connect()
    con.create_table("src_transactions", con.read_parquet(str(path)))
    load = time.perf_counter() - began

    began = time.perf_counter()
    tables = {"src_transactions": con.table("src_transactions")}
    for name in ("customer_value", "rfm"):
        expr = REGISTRY[name].build(FactContext(tables, AS_OF, Config()))
        tables[name] = con.create_table(name, expr)
    seconds = time.perf_counter() - began

    rfm = tables["rfm"]
    stats = con.to_polars(
        rfm.aggregate(rows=rfm.count(), monetary=rfm.monetary.sum(), frequency=rfm.frequency.sum())
    ).row(0, named=True)
    codes = con.to_polars(rfm.group_by("rfm_code").aggregate(n=rfm.count()))
    counts = dict(zip(codes["rfm_code"], codes["n"], strict=True))
    return {
        "load_seconds": round(load, 3),
        "seconds": round(seconds, 3),
        **_summary(counts, stats["monetary"], stats["frequency"], stats["rows"]),
    }


def _quintile(values: Any, higher_is_better: bool) -> Any:
    """custlens's rule: min(1 + ⌊5 r / (n − 1)⌋, 5), r = customers strictly worse."""
    worse = values.rank(method="min", ascending=higher_is_better).astype("int64") - 1
    return ((worse * 5) // max(len(values) - 1, 1) + 1).clip(upper=5)


def _child_pandas(path: Path) -> dict[str, Any]:
    import pandas as pd

    began = time.perf_counter()
    tx = pd.read_parquet(path)
    load = time.perf_counter() - began

    began = time.perf_counter()
    end = pd.Timestamp(AS_OF)
    tx = tx[(tx["status"] == "processed") & (tx["created_at"].dt.normalize() <= end)]
    is_payment = tx["type"] == "payment"
    signed = tx["amount"].where(is_payment, -tx["amount"])
    frame = pd.DataFrame(
        {
            "customer_id": tx["customer_id"],
            "signed": signed,
            "is_payment": is_payment,
            "paid_at": tx["created_at"].where(is_payment),
        }
    )
    per = frame.groupby("customer_id", sort=False).agg(
        monetary=("signed", "sum"), frequency=("is_payment", "sum"), last=("paid_at", "max")
    )
    per = per[per["frequency"] > 0]
    # custlens sums money exactly; a float sum is off by an ulp or so, in an order-dependent
    # way, which is enough to move a customer across a quintile edge. Round it away.
    per["monetary"] = per["monetary"].round(6)
    per["recency_days"] = (end - per["last"].dt.normalize()).dt.days
    r = _quintile(per["recency_days"], higher_is_better=False)
    f = _quintile(per["frequency"], higher_is_better=True)
    m = _quintile(per["monetary"], higher_is_better=True)
    per["rfm_code"] = r.astype(str) + f.astype(str) + m.astype(str)
    seconds = time.perf_counter() - began
    counts = per["rfm_code"].value_counts().to_dict()
    return {
        "load_seconds": round(load, 3),
        "seconds": round(seconds, 3),
        **_summary(counts, per["monetary"].sum(), per["frequency"].sum(), len(per)),
    }


def _child_lifetimes(path: Path) -> dict[str, Any]:
    import pandas as pd

    try:
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError as exc:
        return {"skipped": f"lifetimes does not import: {exc}"}

    began = time.perf_counter()
    tx = pd.read_parquet(path, columns=["customer_id", "created_at", "amount", "type", "status"])
    load = time.perf_counter() - began

    began = time.perf_counter()
    paid = tx[(tx["status"] == "processed") & (tx["type"] == "payment")]
    summary = summary_data_from_transaction_data(
        paid,
        "customer_id",
        "created_at",
        monetary_value_col="amount",
        observation_period_end=pd.Timestamp(AS_OF),
    )
    seconds = time.perf_counter() - began
    return {"load_seconds": round(load, 3), "seconds": round(seconds, 3), "rows": len(summary)}


CHILDREN = {
    "custlens": _child_custlens,
    "pandas": _child_pandas,
    "lifetimes": _child_lifetimes,
}


# -- the parent -------------------------------------------------------------------


def spawn(step: str, path: Path) -> dict[str, Any]:
    """Run one child step in a fresh interpreter (see ``child.run_child``)."""
    argv = [sys.executable, __file__, "--child", step, "--path", str(path)]
    child = run_child(argv, step, CHILD_TIMEOUT_SECONDS)
    result = dict(child.report)
    result["peak_rss_mb"] = round(child.peak_rss_mb, 1)
    result["wall_seconds"] = round(child.wall_seconds, 2)
    return result


def main(customers: int = 1_000_000, transactions: int = 10_000_000) -> dict[str, Any]:
    """Time the facts beside pandas and lifetimes on the same transactions, and print it.

    Returns ``{"customers", "transactions", "generate_seconds", "results": {step:
    {load_seconds, seconds, peak_rss_mb, wall_seconds, rows, …}}, "agree", "speedup"}``:
    ``agree`` is whether custlens and pandas give the same RFM (row count, frequency and
    monetary totals, and the number of customers with each RFM code); ``speedup`` is the
    other step's computing time over custlens's.
    """
    began = time.perf_counter()
    path = generate_source(customers, transactions)
    generated = time.perf_counter() - began
    results = {step: spawn(step, path) for step in CHILDREN}
    ours, theirs = results["custlens"], results["pandas"]
    agree = (
        ours["rows"] == theirs["rows"]
        and ours["frequency_total"] == theirs["frequency_total"]
        and abs(ours["monetary_total"] - theirs["monetary_total"])
        <= 1e-6 * abs(theirs["monetary_total"])
        and ours["code_counts"] == theirs["code_counts"]
    )
    speedup = {
        step: round(r["seconds"] / ours["seconds"], 2)
        for step, r in results.items()
        if step != "custlens" and "seconds" in r
    }
    report = {
        "customers": customers,
        "transactions": transactions,
        "generate_seconds": round(generated, 2),
        "results": {
            step: {k: v for k, v in r.items() if k != "code_counts"} for step, r in results.items()
        },
        "agree": agree,
        "speedup": speedup,
    }
    if not agree:
        different = {
            code: (ours["code_counts"].get(code, 0), theirs["code_counts"].get(code, 0))
            for code in set(ours["code_counts"]) | set(theirs["code_counts"])
            if ours["code_counts"].get(code, 0) != theirs["code_counts"].get(code, 0)
        }
        report["code_count_differences"] = different
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.path)))
    else:
        main(args.customers, args.transactions)
