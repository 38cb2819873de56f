"""Calendar arithmetic on months, in Ibis, identical on every backend.

Months are handled as integer indexes (``year * 12 + month - 1``) so that
spines are integer ranges and "the previous month" is ``index - 1``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import ibis

if TYPE_CHECKING:
    import ibis.expr.types as ir

DAYS_PER_MONTH = 30.4375
"""Average days in a Gregorian month (365.25 / 12)."""


def month_index(d: ir.DateValue) -> ir.IntegerValue:
    """Months since year 0 of a date: comparable, and ``+ 1`` is the next month."""
    return d.year().cast("int64") * 12 + d.month().cast("int64") - 1


def index_of(d: date) -> int:
    """The month index of a Python date (see :func:`month_index`)."""
    return d.year * 12 + d.month - 1


def month_start(index: ir.IntegerValue) -> ir.DateValue:
    """The first day of the month with this index."""
    return ibis.date(index // 12, index % 12 + 1, 1)


def period_months(start: ir.DateValue, end: ir.DateValue) -> ir.FloatingValue:
    """Length of the service period [start, end) in months (DESIGN.md §3).

    Whole calendar months when ``end`` is ``start`` moved by k months, the day
    clamped at the month's end (Jan 31 → Feb 29 is one month; Feb 29 → Mar 29
    is one, Feb 29 → Mar 31 is not); else k × 12/52 for k whole weeks; else
    days / 30.4375.
    """
    months = month_index(end) - month_index(start)
    # float days: Spark divides an integer by a decimal literal in DECIMAL,
    # which loses digits.
    days = end.delta(start, unit="day").cast("float64")
    last_day_of_end_month = (
        end.truncate("M") + ibis.interval(months=1) - ibis.interval(days=1)
    ).day()
    whole_months = (months >= 1) & (end.day() == ibis.least(start.day(), last_day_of_end_month))
    return (
        ibis.cases(
            (whole_months, months.cast("float64")),
            ((days % 7) == 0, (days / 7) * 12 / 52),
            else_=days / DAYS_PER_MONTH,
        )
    ).cast("float64")


def months_between(first: ir.IntegerValue, last: ir.IntegerValue | int) -> ir.ArrayValue:
    """The month indexes first..last (inclusive) as an array, to be unnested.

    Returns one element past ``last`` too; callers filter ``<= last`` after
    unnesting. Ibis 12 compiles a one-element ``ibis.range`` on Spark to an
    empty array, while longer ranges come out right on every backend.
    """
    return ibis.range(first, last + 2)
