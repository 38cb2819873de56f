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
- mean_mrr = mean of y; relative_slope = slope / mean_mrr (−0.25: losing a
  quarter of the average MRR each month);
- at_risk = slope < 0 and r_squared ≥ ``analytics.mrr_trend.min_r_squared``
  and current_mrr > 0;
- risk_rank = 1, 2, … among at_risk customers by relative_slope, steepest
  decline first (ties by slope, then customer_id); slope_rank likewise by
  slope, the seed's ordering. Both are null for customers not at risk.

Choices where the issue is silent:

- One grouped aggregate puts each customer's N values side by side (no
  per-customer loop), in whole cents measured from its latest value; the
  sums n·Σxy − Σx·Σy and the like are then exact integers, so the
  covariance and variances (times n²) carry no rounding error, a flat MRR has
  a variance of exactly 0, and DuckDB and Spark agree to the bit on a fit
  that lands exactly on min_r_squared (cent-level wiggles such as a, a, a−0.01,
  a−0.01 give exact values like 0.8). Exact while the sums stay below 2**53
  (MRR swings within the window up to ~$200k); beyond, merely rounded.
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
  mean_mrr and current_mrr are of the MRR as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.customer_mrr import MRR_DECIMALS
from custlens.facts.month import index_of, month_index
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

CENTS = 10**MRR_DECIMALS


@fact("mrr_trend_risk", requires=("customer_mrr",))
def build(ctx: FactContext) -> ir.Table:
    """Slope and r² of each customer's last N monthly MRR values; the risk flag and rank."""
    settings = ctx.config.analytics.mrr_trend
    return trend(ctx["customer_mrr"], index_of(ctx.as_of), settings.months, settings.min_r_squared)


def trend(mrr: ir.Table, last: int, months: int, min_r_squared: float) -> ir.Table:
    """The trend table of the module docstring from ``customer_mrr``-shaped rows.

    Args:
        mrr: customer_id, month (first day), mrr — one row per spine month.
        last: month index of the as-of month (see ``custlens.facts.month``).
        months: N, the length of the window ending at ``last``.
        min_r_squared: the fit a decline needs to count as a trend.
    """
    first = last - months + 1
    idx = month_index(mrr.month)
    window = mrr.filter(idx >= first, idx <= last).select(
        "customer_id",
        x=(idx - first).cast("int64"),
        y=mrr.mrr.cast("float64"),
        # MRR in whole cents, as a float: sums of integers below 2**53 are exact.
        cents=(mrr.mrr.cast("float64") * CENTS).round(0),
    )
    # One pass: each customer's N values side by side (null before its spine
    # starts), as the seed's pivot has them, but grouped in the engine.
    positions = range(months)
    pivot = window.group_by("customer_id").aggregate(
        mean_mrr=window.y.mean(),
        max_mrr=window.y.max(),
        current_mrr=window.y.max(where=window.x == months - 1),
        **{f"c{k}": window.cents.max(where=window.x == k) for k in positions},
    )
    cents = [pivot[f"c{k}"] for k in positions]
    # Measured from the latest value (the as-of month's, on a spine), so the
    # squares stay small enough to sum exactly even for large accounts.
    anchor = ibis.coalesce(*reversed(cents))
    # Not a cast: Postgres cannot cast a boolean to bigint or double; integer
    # branches, because Spark reads a literal 1.0 as a low-precision decimal.
    present = [ibis.ifelse(c.notnull(), 1, 0).cast("float64") for c in cents]
    d = [(c - anchor).fill_null(0.0) for c in cents]
    zero = ibis.literal(0.0)
    sums = pivot.select(
        "customer_id",
        "mean_mrr",
        "max_mrr",
        "current_mrr",
        n=sum(present, zero),
        sx=sum((p * k for k, p in enumerate(present)), zero),
        sxx=sum((p * (k * k) for k, p in enumerate(present)), zero),
        sd=sum(d, zero),
        sdd=sum((v * v for v in d), zero),
        sxd=sum((v * k for k, v in enumerate(d)), zero),
    )
    sums = sums.filter(sums.max_mrr > 0)
    # n² times the variances and the covariance: exact integers, so flat MRR
    # is exactly 0 and a fit exactly at min_r_squared is exactly at it, on
    # every engine.
    cxx = sums.n * sums.sxx - sums.sx * sums.sx
    cdd = sums.n * sums.sdd - sums.sd * sums.sd
    cxd = sums.n * sums.sxd - sums.sx * sums.sd
    enough = sums.n >= 2
    flat = cdd == 0
    slope = ibis.cases(
        (~enough, ibis.null("float64")),
        (flat, ibis.literal(0.0)),
        else_=cxd / cxx / CENTS,
    )
    r_squared = ibis.cases(
        (~enough | flat, ibis.null("float64")),
        # Cauchy–Schwarz keeps it <= 1; rounding of very large products might not.
        else_=ibis.least(cxd * cxd / (cxx * cdd), 1.0),
    )
    fits = sums.mutate(
        months_used=sums.n.cast("int64"),
        slope=slope.cast("float64"),
        r_squared=r_squared.cast("float64"),
        current_mrr=sums.current_mrr.fill_null(0.0).cast("float64"),
    )
    at_risk = (
        (fits.slope < 0) & (fits.r_squared >= min_r_squared) & (fits.current_mrr > 0)
    ).fill_null(False)
    fits = fits.mutate(at_risk=at_risk, relative_slope=fits.slope / fits.mean_mrr)
    by_relative = ibis.window(
        group_by="at_risk", order_by=["relative_slope", "slope", "customer_id"]
    )
    by_slope = ibis.window(group_by="at_risk", order_by=["slope", "relative_slope", "customer_id"])
    no_rank = ibis.null("int64")
    return fits.select(
        "customer_id",
        "months_used",
        "slope",
        "r_squared",
        "mean_mrr",
        relative_slope=fits.relative_slope.cast("float64"),
        at_risk=fits.at_risk,
        risk_rank=ibis.ifelse(fits.at_risk, ibis.row_number().over(by_relative) + 1, no_rank),
        slope_rank=ibis.ifelse(fits.at_risk, ibis.row_number().over(by_slope) + 1, no_rank),
        current_mrr=fits.current_mrr,
    ).order_by("customer_id")
