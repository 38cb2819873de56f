"""``mrr_trend_risk``: the least-squares trend of each customer's recent MRR (seed 003).

The window is the N months ending at the as-of month (N =
``analytics.mrr_trend.months``, default 4). A customer is in the table when
its MRR is > 0 in at least one month of the window; its values are its
``customer_mrr`` rows in the window (the spine already holds the zeros of
months without MRR). With x = the month's position in the window (0 … N−1,
the as-of month is N−1) and y = MRR, over the months_used months a customer
has in the window:

- slope = cov(x, y) / var(x), the least-squares slope in money per month;
- r_squared = cov(x, y)² / (var(x) · var(y)), the share of the variance of
  MRR the line explains (capped at 1 against rounding);
- mean_mrr = mean of y; relative_slope = slope / mean of y (−0.25: losing a
  quarter of the average MRR each month);
- at_risk = slope < 0 and r_squared ≥ ``analytics.mrr_trend.min_r_squared``
  and current_mrr > 0;
- risk_rank = 1, 2, … among at_risk customers by relative_slope, steepest
  decline first (ties by slope, then customer_id); slope_rank likewise by
  slope, the seed's ordering. Both are null for customers not at risk.

Choices where the issue is silent:

- One grouped aggregate of plain sums per customer (no per-customer loop, no
  pivot): n, Σx, Σx², and over the MRR in whole cents c, Σc, Σxc (64-bit
  integers) and Σc² (a 38-digit decimal). n² times the variances and the
  covariance, n·Σx² − (Σx)², n·Σc² − (Σc)² and n·Σxc − Σx·Σc, are then
  exact integers at any level of MRR, so a flat MRR has a variance of
  exactly 0 and a fit that lands exactly on min_r_squared is exactly on it
  (cent-level wiggles such as a, a, a−0.01, a−0.01 give exactly 0.8, at
  a = $50M as at $50). Each of the three becomes a double once, and slope and
  r² are the same few IEEE operations on them, so DuckDB and Spark agree to
  the bit. The doubles are the exact integers while these stay below 2**53
  (MRR swings within the window up to ~$200k); beyond, each is rounded once.
  Exact for |MRR| up to $10**13 a month in windows up to 100 months; far
  beyond, the engine reports an overflow.
- relative_slope is computed from the same integers, n·cov / (var(x) · Σc),
  not through the float mean: while the two products stay below 2**53 they
  are exact and the one rounding is the division's, so equal ratios (−4.292 /
  56.98 and −0.348 / 4.62) are equal doubles, and risk_rank breaks such ties
  by slope, then customer_id, on every engine and in every run (a float mean
  summed in parallel can differ in its last bit from run to run, and ranks
  built on it did). It is 0 for flat MRR and null with fewer than 2 months,
  or when the cents sum to 0 without being flat (negative MRR in the window).
- A customer whose spine starts inside the window (it started paying in
  the last N months) uses the months it has; the slope and r² are the same
  whichever x its first month gets, so it keeps its position in the window.
  With fewer than 2 months, slope, r_squared and relative_slope are null
  and it is not at risk. With exactly 2 a line fits perfectly (r² = 1 unless
  flat), so any drop between them flags it: a new customer that downgrades
  in its second month is a signal worth the call.
- Flat MRR (every value in the window equal, var(y) = 0): slope is 0 and
  r_squared null (no variance to explain); never at risk. Flatness is tested
  on whole cents, so that float noise in a variance of ~0 cannot produce a
  spurious negative slope with a high r².
- A customer that churned inside the window (MRR > 0 early in the window, 0
  at the as-of month) is in the table with its trend, but not at_risk: it is
  no longer at risk, it is lost, and ``mrr_movements`` records the churn.
  ``current_mrr`` (MRR in the as-of month) is added so a reader sees why.
  Customers whose MRR is 0 throughout the window are not in the table.
- MRR is rounded to the cent before the fit (``customer_mrr`` already is, when
  it comes from subscription lines), so flatness is decided on money, not on
  the last bits of a float sum (51.15 summed as 51.150000000000006).
  mean_mrr and current_mrr are of the MRR as given; relative_slope divides
  by the mean of the cents, which is mean_mrr when MRR is whole cents.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt

from custlens.calendar import index_of, month_index
from custlens.facts.customer_mrr import MRR_DECIMALS
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

CENTS = 10**MRR_DECIMALS
WIDE = dt.Decimal(19, 0)
"""A 64-bit integer as a decimal: the product of two is a 38-digit decimal, exact."""


@fact("mrr_trend_risk", requires=("customer_mrr",))
def build(ctx: FactContext) -> ir.Table:
    """Slope and r² of each customer's last N monthly MRR values; the risk flag and rank."""
    settings = ctx.config.analytics.mrr_trend
    return trend(ctx["customer_mrr"], index_of(ctx.as_of), settings.months, settings.min_r_squared)


def trend(mrr: ir.Table, last: int, months: int, min_r_squared: float) -> ir.Table:
    """The trend table of the module docstring from ``customer_mrr``-shaped rows.

    Args:
        mrr: customer_id, month (first day), mrr — one row per spine month.
        last: month index of the as-of month (see ``custlens.calendar``).
        months: N, the length of the window ending at ``last``.
        min_r_squared: the fit a decline needs to count as a trend.
    """
    first = last - months + 1
    # A date range rather than the month index of every row: the same rows (months
    # first … last), compared without taking every row's date apart.
    rows = mrr.filter(
        mrr.month >= _first_day(first), mrr.month < _first_day(last + 1), mrr.mrr.notnull()
    )
    y = rows.mrr.cast("float64")
    window = rows.select(
        "customer_id",
        x=(month_index(rows.month) - first).cast("int64"),
        y=y,
        cents=(y * CENTS).round(0).cast("int64"),
    )
    x, cents = window.x, window.cents
    # One pass of plain sums: the least-squares moments, exact integers (the
    # squares of cents in 38 digits: a 64-bit square overflows from $30M).
    sums = window.group_by("customer_id").aggregate(
        n=window.count(),
        sx=x.sum(),
        sxx=(x * x).sum(),
        sc=cents.sum(),
        scc=(cents.cast(WIDE) * cents.cast(WIDE)).sum(),
        sxc=(cents * x).sum(),
        mean_mrr=window.y.mean(),
        max_mrr=window.y.max(),
        current_mrr=window.y.max(where=x == months - 1),
    )
    sums = sums.filter(sums.max_mrr > 0)
    # n² times the variances and the covariance: exact integers, each turned into
    # a double once, in their own projection (repeated inside the formulas below,
    # the wide-decimal products would be computed several times per row).
    n, sx, sc = (sums[k].cast(WIDE) for k in ("n", "sx", "sc"))
    cdd = n * sums.scc - sc * sc
    cxd = n * sums.sxc.cast(WIDE) - sx * sc
    moments = sums.select(
        "customer_id",
        "mean_mrr",
        "n",
        current_mrr=sums.current_mrr.fill_null(0.0).cast("float64"),
        flat=cdd == 0,
        level=sums.sc != 0,
        # small: n ≤ N, Σx² < N³
        cxx=(sums.n * sums.sxx - sums.sx * sums.sx).cast("float64"),
        cdd=cdd.cast("float64"),
        cxd=cxd.cast("float64"),
        sc=sums.sc.cast("float64"),
    )
    enough = moments.n >= 2
    slope = ibis.cases(
        (~enough, ibis.null("float64")),
        (moments.flat, ibis.literal(0.0)),
        else_=moments.cxd / moments.cxx / CENTS,
    )
    r_squared = ibis.cases(
        (~enough | moments.flat, ibis.null("float64")),
        # Cauchy–Schwarz keeps it <= 1; rounding of very large products might not.
        else_=ibis.least(moments.cxd * moments.cxd / (moments.cxx * moments.cdd), 1.0),
    )
    relative_slope = ibis.cases(
        (~enough, ibis.null("float64")),
        # slope / mean of the fitted cents = (cxd / cxx) / (Σc / n)
        (moments.level, moments.cxd * moments.n / (moments.cxx * moments.sc)),
        (moments.flat, ibis.literal(0.0)),  # MRR under half a cent throughout
        else_=ibis.null("float64"),
    )
    fits = moments.select(
        "customer_id",
        "mean_mrr",
        "current_mrr",
        months_used=moments.n.cast("int64"),
        slope=slope.cast("float64"),
        r_squared=r_squared.cast("float64"),
        relative_slope=relative_slope.cast("float64"),
    )
    at_risk = (
        (fits.slope < 0) & (fits.r_squared >= min_r_squared) & (fits.current_mrr > 0)
    ).fill_null(False)
    fits = fits.mutate(at_risk=at_risk)
    by_relative = ibis.window(
        group_by="at_risk", order_by=["relative_slope", "slope", "customer_id"]
    )
    by_slope = ibis.window(group_by="at_risk", order_by=["slope", "relative_slope", "customer_id"])
    no_rank = ibis.null("int64")
    # No ORDER BY: a fact table has no row order (readers sort: Workspace.table,
    # the at-risk view by risk_rank).
    return fits.select(
        "customer_id",
        "months_used",
        "slope",
        "r_squared",
        "mean_mrr",
        "relative_slope",
        at_risk=fits.at_risk,
        risk_rank=ibis.ifelse(fits.at_risk, ibis.row_number().over(by_relative) + 1, no_rank),
        slope_rank=ibis.ifelse(fits.at_risk, ibis.row_number().over(by_slope) + 1, no_rank),
        current_mrr=fits.current_mrr,
    )


def _first_day(index: int) -> ir.DateScalar:
    """The first day of the month with this index, as a date literal."""
    return ibis.literal(date(index // 12, index % 12 + 1, 1))
