"""``customer_count``: the customer bridge per month and value type (seed 000, fixed).

Per month and value type (1 actual, 2 budget, 3 forecast): new, reactivated,
churned, net_new = new + reactivated − churned, cum_net_new (running sum per
value type), current_base = starting balance + cum_net_new of the previous
month, ending_balance = starting balance + cum_net_new.

Actuals come from the MRR bridge (``growth_summary``) when MRR is loaded, else
from ``revenue_events`` of value type 1; budget and forecast always come from
``revenue_events``. Unlike the seed, every row of a type on a date counts
(the seed kept the first), and every value type has a row for every month from
the first month of any value type to the as-of month (a type whose events stop
early carries its balance forward). Budget and forecast rows may lie after the
as-of month (a plan is about the future), and then every plan runs to the last
of them; actuals stop at the as-of month. A value type without a starting balance starts
from 0, or, for MRR-derived actuals, from the opening balance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.calendar import index_of, month_index, month_start, months_between
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import polars as pl

NEW, CHURN, REACTIVATION = 1, 4, 5
ACTUAL = 1


@fact(
    "customer_count",
    any_of=("growth_summary", "src_revenue_events"),
    optional=("src_starting_balances",),
)
def build(ctx: FactContext) -> ir.Table:
    """Customer bridge per month and value type: new, reactivated, churned, balances."""
    parts: list[ir.Table] = []
    opening: ir.Table | None = None
    if ctx.has("growth_summary"):
        g = ctx["growth_summary"]
        parts.append(
            g.select(
                month_idx=month_index(g.month),
                value_type_id=ibis.literal(ACTUAL, "int64"),
                new=g.new_customers.cast("int64"),
                reactivated=g.reactivated_customers.cast("int64"),
                churned=g.churned_customers.cast("int64"),
            )
        )
        first = g.filter(g.month == g.month.min().as_scalar())
        opening = first.select(
            value_type_id=ibis.literal(ACTUAL, "int64"),
            opening=first.starting_customers.cast("int64"),
        )
    if ctx.has("src_revenue_events"):
        events = ctx["src_revenue_events"]
        if ctx.has("growth_summary"):
            events = events.filter(events.value_type_id != ACTUAL)
        last = index_of(ctx.as_of)
        events = events.filter(
            (events.value_type_id != ACTUAL) | (month_index(events.date) <= last)
        )
        parts.append(monthly_counts(events))
    balances = ctx["src_starting_balances"] if ctx.has("src_starting_balances") else None
    table = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    return bridge(table, balances, opening, last=index_of(ctx.as_of))


def monthly_counts(events: ir.Table) -> ir.Table:
    """Sum revenue events to month_idx, value_type_id, new, reactivated, churned."""
    kind, n = events.revenue_type_id, events.nr_of_customers.cast("int64")
    return events.group_by(
        month_idx=month_index(events.date), value_type_id=events.value_type_id.cast("int64")
    ).aggregate(
        new=n.sum(where=kind == NEW).fill_null(0),
        reactivated=n.sum(where=kind == REACTIVATION).fill_null(0),
        churned=n.sum(where=kind == CHURN).fill_null(0),
    )


def bridge(
    counts: ir.Table,
    balances: ir.Table | None,
    opening: ir.Table | None = None,
    last: int | None = None,
) -> ir.Table:
    """Give every value type the same months, without gaps, and run the balances.

    The months run from the first month of any value type to the last one, and to
    the as-of month (``last``, a month index) when given: a value type whose events
    stop early keeps its balance standing to the end. Actuals stop at the as-of
    month; a plan may run past it.
    """
    bounds = counts.aggregate(lo=counts.month_idx.min(), hi=counts.month_idx.max())
    if last is not None:
        bounds = bounds.mutate(hi=ibis.greatest(bounds.hi, ibis.literal(last, "int64")))
    months = (
        bounds.select("hi", month_idx=months_between(bounds.lo, bounds.hi))
        .unnest("month_idx")
        .filter(ibis._.month_idx <= ibis._.hi)
        .drop("hi")
    )
    types = counts.select("value_type_id")
    if balances is not None:
        types = types.union(balances.select(value_type_id=balances.value_type_id.cast("int64")))
    spine = types.distinct().cross_join(months)
    if last is not None:
        spine = spine.filter((spine.value_type_id != ACTUAL) | (spine.month_idx <= last))
    rows = spine.left_join(counts, ["value_type_id", "month_idx"])
    rows = rows.select(
        "value_type_id",
        "month_idx",
        new=rows.new.fill_null(0),
        reactivated=rows.reactivated.fill_null(0),
        churned=rows.churned.fill_null(0),
    )
    starts = _starting_balances(balances, opening)
    if starts is None:
        rows = rows.mutate(starting_balance=ibis.literal(0, "int64"))
    else:
        rows = rows.left_join(starts, "value_type_id")
        rows = rows.mutate(starting_balance=rows.starting_balance.fill_null(0).cast("int64"))
    rows = rows.mutate(net_new=rows.new + rows.reactivated - rows.churned)
    running = ibis.cumulative_window(group_by="value_type_id", order_by="month_idx")
    rows = rows.mutate(cum_net_new=rows.net_new.sum().over(running).cast("int64"))
    previous = ibis.window(group_by="value_type_id", order_by="month_idx")
    return rows.select(
        month=month_start(rows.month_idx),
        value_type_id=rows.value_type_id,
        new=rows.new.cast("int64"),
        reactivated=rows.reactivated.cast("int64"),
        churned=rows.churned.cast("int64"),
        net_new=rows.net_new.cast("int64"),
        cum_net_new=rows.cum_net_new,
        current_base=(
            rows.starting_balance + rows.cum_net_new.lag().over(previous).fill_null(0)
        ).cast("int64"),
        ending_balance=(rows.starting_balance + rows.cum_net_new).cast("int64"),
    ).order_by("value_type_id", "month")


def _starting_balances(balances: ir.Table | None, opening: ir.Table | None) -> ir.Table | None:
    """value_type_id, starting_balance: the given balances, else the MRR opening balance."""
    given = None
    if balances is not None:
        given = balances.select(
            value_type_id=balances.value_type_id.cast("int64"),
            starting_balance=balances.nr_of_customers.cast("int64"),
        )
    if opening is None:
        return given
    derived = opening.select("value_type_id", starting_balance=opening.opening)
    if given is None:
        return derived
    return given.union(derived.anti_join(given, "value_type_id"))


def run_worker(revenue_info_df: pl.DataFrame, starting_balance_df: pl.DataFrame) -> pl.DataFrame:
    """The seed's worker shape: customer counts from revenue events and starting balances.

    Args:
        revenue_info_df: date, revenue_type_id, value_type_id, nr_of_customers.
        starting_balance_df: value_type_id, nr_of_customers.

    Returns:
        date (first day of the month), value_type_id, new, reactivated, churned,
        net_new, cum_net_new, current_base, ending_balance — one row per month
        of each value type's range, in Polars.
    """
    events = ibis.memtable(revenue_info_df)
    events = events.mutate(date=events.date.cast("date"))
    table = bridge(monthly_counts(events), ibis.memtable(starting_balance_df))
    return table.rename(date="month").to_polars()
