"""Benchmark ``clv_predictions`` (BG/NBD + Gamma-Gamma) against ``lifetimes``.

Usage: ``python benchmarks/bench_clv.py [--customers 1000000]``.

The input is a ``transactions`` source drawn from the models themselves (see
:func:`generate_source`: about 10 M transactions of 1 M customers over three years to
2024-12-31, cached as Parquet under ``benchmarks/data/``). ``bench_rfm``'s source would
not do: its customers buy at a steady rate and never leave, so the BG/NBD dropout
parameters have no finite maximum and lifetimes' fit stops with a ConvergenceError.
Each step runs in a fresh child process, so that its peak
resident set size is its own:

- ``custlens summary``: the Parquet file copied into an in-memory DuckDB table (timed as
  *load*), then the repeat-purchase summary of :mod:`custlens.facts.clv_summary`
  (processed payments, periods of a day, ages in weeks) computed and fetched as a
  Polars frame, as the fact does. It is written to Parquet (not timed) for the fits.
- ``custlens fit``: :mod:`custlens.predict.clv` on that summary: BG/NBD and
  Gamma-Gamma fits (4 starts each), then p_alive, expected purchases over 12 months,
  expected average value and the 12-month CLV at 1 % a month for every customer.
- ``lifetimes summary``: ``lifetimes.utils.summary_data_from_transaction_data`` on the
  processed payments (``freq="D", freq_multiplier=7``: the same summary).
- ``lifetimes fit``: ``BetaGeoFitter`` and ``GammaGammaFitter`` on custlens's summary
  (the same input as ``custlens fit``), then ``conditional_probability_alive``,
  ``conditional_expected_number_of_purchases_up_to_time`` and
  ``customer_lifetime_value`` (12 months, 1 %, ``freq="W"``).

The report checks that both summaries agree (row count and column totals) and that the
parameters agree to three decimals. Times exclude interpreter start and imports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, this folder is first on sys.path.
from bench_rfm import AS_OF, DATA_DIR, FIRST_DAY
from child import run_child

CHILD_TIMEOUT_SECONDS = 1800
HORIZON_MONTHS = 12
DISCOUNT = 0.01
SEED = 20261124
TRUTH = {"r": 0.9, "alpha": 3.0, "a": 0.8, "b": 6.0, "p": 6.0, "q": 4.0, "v": 60.0}
"""The generating parameters (weeks; spend in dollars)."""


def source_path(customers: int, seed: int = SEED) -> Path:
    return DATA_DIR / f"clv_transactions_{customers}_seed{seed}.parquet"


def generate_source(customers: int, seed: int = SEED) -> Path:
    """Write (once) ``transactions`` drawn from BG/NBD + Gamma-Gamma and return the path.

    Customers' first purchases fall uniformly on the days of 2022-01-01 … 2024-12-31.
    While alive a customer buys at λ ~ Gamma(r, α) a week and leaves after each repeat
    purchase with probability p ~ Beta(a, b) (:data:`TRUTH`); each purchase is worth
    Gamma(p, ν) with ν ~ Gamma(q, v). Purchase times are kept to the second; with about
    10 purchases a customer the million customers make about ten million transactions.
    The repeat purchases are the first min(N, K) of the N Poisson arrivals in (0, T)
    (K the purchase after which the customer leaves), drawn as normalised sums of
    exponentials, so no more than the kept ones are generated. Deterministic for a seed.
    """
    import numpy as np
    import polars as pl

    path = source_path(customers, seed)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    t = TRUTH
    days = (AS_OF - FIRST_DAY).days + 1
    first_day = rng.integers(0, days, customers)
    start_s = int(np.datetime64(FIRST_DAY, "s").astype(np.int64))
    first_s = start_s + first_day * 86_400 + rng.integers(0, 86_400, customers)
    end_s = start_s + days * 86_400
    age_weeks = (end_s - first_s) / (7 * 86_400)
    rate = rng.gamma(t["r"], 1 / t["alpha"], customers)
    leave = rng.beta(t["a"], t["b"], customers)
    arrivals = rng.poisson(rate * age_weeks)
    repeats = np.minimum(arrivals, rng.geometric(leave))
    # The k-th of N sorted uniforms on (0, 1) is S_k / S_(N+1), S_k a sum of k Exp(1).
    owner = np.repeat(np.arange(customers), repeats)
    gaps = rng.exponential(1.0, owner.size)
    sums = np.cumsum(gaps)
    offsets = np.concatenate([[0], np.cumsum(repeats)[:-1]])
    before = np.concatenate([[0.0], sums])[offsets]
    partial = sums - np.repeat(before, repeats)
    last = np.zeros(customers)
    has = repeats > 0
    last[has] = partial[offsets[has] + repeats[has] - 1]
    total = last + rng.gamma(arrivals - repeats + 1.0)
    fraction = partial / np.repeat(total, repeats)
    repeat_s = first_s[owner] + (fraction * age_weeks[owner] * 7 * 86_400).astype(np.int64)
    who = np.concatenate([np.arange(customers), owner])
    seconds = np.concatenate([first_s, np.minimum(repeat_s, end_s - 1)])
    nu = rng.gamma(t["q"], 1 / t["v"], customers)
    amount = np.round(rng.gamma(t["p"], 1 / nu[who]), 2)
    n = who.size
    frame = pl.DataFrame(
        {
            "transaction_id": pl.int_range(1, n + 1, eager=True).cast(pl.String).str.zfill(9),
            "customer_id": pl.Series(who).cast(pl.String).str.zfill(7),
            "created_at": pl.Series((seconds * 1_000_000).astype("datetime64[us]")),
            "amount": np.maximum(amount, 0.01),
            "type": pl.repeat("payment", n, eager=True),
            "status": pl.repeat("processed", n, eager=True),
        }
    ).with_columns(
        ("T" + pl.col("transaction_id")).alias("transaction_id"),
        ("C" + pl.col("customer_id")).alias("customer_id"),
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.write_parquet(temporary)
    temporary.rename(path)
    return path


def summary_path(source: Path) -> Path:
    return DATA_DIR / f"clv_summary_{source.stem}.parquet"


def _totals(frame: Any) -> dict[str, float]:
    columns = ("frequency", "recency", "T", "monetary_value")
    return {c: round(float(frame[c].sum()), 4) for c in columns}


# -- the children ---------------------------------------------------------------


def _child_custlens_summary(path: Path) -> dict[str, Any]:
    import ibis

    from custlens.facts.clv_summary import summary

    began = time.perf_counter()
    con = ibis.duckdb.connect()
    con.create_table("src_transactions", con.read_parquet(str(path)))
    load = time.perf_counter() - began

    began = time.perf_counter()
    frame = con.to_polars(summary(con.table("src_transactions"), AS_OF, unit="weeks"))
    seconds = time.perf_counter() - began
    frame.sort("customer_id").write_parquet(summary_path(path))
    return {
        "load_seconds": round(load, 3),
        "seconds": round(seconds, 3),
        "rows": frame.height,
        "totals": _totals(frame),
    }


def _child_custlens_fit(path: Path) -> dict[str, Any]:
    import polars as pl

    from custlens.predict.clv import predict_frame

    began = time.perf_counter()
    frame = pl.read_parquet(summary_path(path))
    load = time.perf_counter() - began

    began = time.perf_counter()
    out, fitted = predict_frame(
        frame, unit="weeks", horizon_months=HORIZON_MONTHS, discount=DISCOUNT
    )
    seconds = time.perf_counter() - began
    return {
        "load_seconds": round(load, 3),
        "seconds": round(seconds, 3),
        "rows": out.height,
        "params": {**fitted.purchases.params, **fitted.spend.params},
        "log_likelihood": fitted.purchases.log_likelihood,
        "p_alive_mean": float(out["p_alive"].mean()),  # type: ignore[arg-type]
        "clv_total": float(out["clv"].sum()),
    }


def _child_lifetimes_summary(path: Path) -> dict[str, Any]:
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
    frame = summary_data_from_transaction_data(
        paid,
        "customer_id",
        "created_at",
        monetary_value_col="amount",
        observation_period_end=pd.Timestamp(AS_OF),
        freq="D",
        freq_multiplier=7,
    )
    seconds = time.perf_counter() - began
    return {
        "load_seconds": round(load, 3),
        "seconds": round(seconds, 3),
        "rows": len(frame),
        "totals": _totals(frame),
    }


def _child_lifetimes_fit(path: Path) -> dict[str, Any]:
    import pandas as pd

    try:
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError as exc:
        return {"skipped": f"lifetimes does not import: {exc}"}

    began = time.perf_counter()
    frame = pd.read_parquet(summary_path(path)).set_index("customer_id")
    load = time.perf_counter() - began

    began = time.perf_counter()
    f, r, t, m = (frame[c].astype(float) for c in ("frequency", "recency", "T", "monetary_value"))
    bgf = BetaGeoFitter().fit(f, r, t)
    repeat = (f > 0) & (m > 0)
    ggf = GammaGammaFitter().fit(f[repeat], m[repeat])
    alive = bgf.conditional_probability_alive(f, r, t)
    horizon = HORIZON_MONTHS * 4.345
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, t)
    value = ggf.conditional_expected_average_profit(f, m)
    clv = ggf.customer_lifetime_value(
        bgf, f, r, t, m, time=HORIZON_MONTHS, discount_rate=DISCOUNT, freq="W"
    )
    seconds = time.perf_counter() - began
    return {
        "load_seconds": round(load, 3),
        "seconds": round(seconds, 3),
        "rows": len(clv),
        "params": {**bgf.params_.to_dict(), **ggf.params_.to_dict()},
        "log_likelihood": -float(bgf._negative_log_likelihood_) * len(f),
        "p_alive_mean": float(alive.mean()),
        "expected_mean": float(expected.mean()),
        "value_mean": float(value.mean()),
        "clv_total": float(clv.sum()),
    }


CHILDREN = {
    "custlens summary": _child_custlens_summary,
    "custlens fit": _child_custlens_fit,
    "lifetimes summary": _child_lifetimes_summary,
    "lifetimes fit": _child_lifetimes_fit,
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


def main(customers: int = 1_000_000) -> dict[str, Any]:
    """Time custlens's summary, fit and predictions beside lifetimes', and print it.

    Returns ``{"customers", "transactions", "results": {step: {...}}, "summaries_agree",
    "max_parameter_difference", "parameters_agree", "end_to_end": {custlens, lifetimes,
    speedup}, "peak_rss_mb"}``.
    """
    import pyarrow.parquet as pq

    began = time.perf_counter()
    path = generate_source(customers)
    generated = time.perf_counter() - began
    transactions = pq.read_metadata(path).num_rows
    results = {step: spawn(step, path) for step in CHILDREN}
    ours_s, theirs_s = results["custlens summary"], results["lifetimes summary"]
    ours_f, theirs_f = results["custlens fit"], results["lifetimes fit"]
    report: dict[str, Any] = {
        "customers": customers,
        "transactions": transactions,
        "generate_seconds": round(generated, 2),
        "truth": TRUTH,
    }
    report["results"] = results
    if "skipped" not in theirs_s:
        report["summaries_agree"] = ours_s["rows"] == theirs_s["rows"] and all(
            abs(ours_s["totals"][c] - theirs_s["totals"][c])
            <= 1e-9 * max(1.0, abs(theirs_s["totals"][c]))
            for c in ours_s["totals"]
        )
    if "skipped" not in theirs_f:
        difference = max(
            abs(ours_f["params"][k] - theirs_f["params"][k]) for k in theirs_f["params"]
        )
        report["max_parameter_difference"] = difference
        report["parameters_agree"] = all(
            round(ours_f["params"][k], 3) == round(theirs_f["params"][k], 3)
            for k in theirs_f["params"]
        )
        ours = ours_s["seconds"] + ours_f["seconds"]
        theirs = theirs_s.get("seconds", 0.0) + theirs_f["seconds"]
        report["end_to_end"] = {
            "custlens_seconds": round(ours, 2),
            "lifetimes_seconds": round(theirs, 2),
            "speedup": round(theirs / ours, 2),
            "fit_speedup": round(theirs_f["seconds"] / ours_f["seconds"], 2),
        }
    report["peak_rss_mb"] = {step: r["peak_rss_mb"] for step, r in results.items()}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.path)))
    else:
        main(args.customers)
