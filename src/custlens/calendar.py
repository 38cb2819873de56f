"""The one home of months and dates: month indexes, month ends, period starts, shifts,
and the rule that picks the as-of month.

Months are handled as integer indexes (``year * 12 + month - 1``) so that
spines are integer ranges and "the previous month" is ``index - 1``; each
helper comes as a Python function (on :class:`datetime.date`) and, where facts
and queries need it, as an Ibis expression, identical on every engine.

The as-of month is the month a computation counts to; upstream it is a month's
first day, and the *as-of date* downstream (runs, queries, profiles) is that
month's last day: :func:`month_end` of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from custlens.errors import QueryError

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Ibis is imported inside the functions that build expressions: a command that only
# reads facts needs the Python-date half of this module, not Ibis (0.4 s to import).

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
    import ibis

    return ibis.date(index // 12, index % 12 + 1, 1)


def period_months(start: ir.DateValue, end: ir.DateValue) -> ir.FloatingValue:
    """Length of the service period [start, end) in months (DESIGN.md §3).

    Whole calendar months when ``end`` is ``start`` moved by k months, the day
    clamped at the month's end (Jan 31 → Feb 29 is one month; Feb 29 → Mar 29
    is one, Feb 29 → Mar 31 is not); else k × 12/52 for k whole weeks; else
    days / 30.4375.
    """
    import ibis

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
    import ibis

    return ibis.range(first, last + 2)


# -- Python dates ------------------------------------------------------------

MONTHS_PER_UNIT = {"month": 1, "quarter": 3, "year": 12}


def month_end_of(index: int) -> date:
    """The last day of the month with this index (see :func:`index_of`)."""
    following = index + 1
    return date(following // 12, following % 12 + 1, 1) - timedelta(days=1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return month_end_of(index_of(day))


def period_start(day: date, unit: str) -> date:
    """The first day of the ``unit`` (day, week from Monday, month, quarter, year) that
    holds ``day``."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def shift(day: date, unit: str, count: int) -> date:
    """``day`` moved by ``count`` units (months clamp to the month's end)."""
    if unit == "day":
        return day + timedelta(days=count)
    if unit == "week":
        return day + timedelta(weeks=count)
    index = index_of(day) + count * MONTHS_PER_UNIT[unit]
    return date(index // 12, index % 12 + 1, min(day.day, month_end_of(index).day))


def shift_column(column: ir.DateValue, unit: str, count: int) -> ir.DateValue:
    """A column of period starts moved ``count`` units later (:func:`shift` in Ibis)."""
    import ibis

    if unit in ("day", "week"):
        days = count * (7 if unit == "week" else 1)
        return (column + ibis.interval(days=days)).cast("date")
    return (column + ibis.interval(months=count * MONTHS_PER_UNIT[unit])).cast("date")


# -- the as-of month -----------------------------------------------------------


def as_of_month(
    explicit: date | None = None,
    latest_run: date | None = None,
    configured: date | None = None,
    data: Callable[[], date | None] | None = None,
) -> date | None:
    """The as-of month (its first day): the first of these that is given.

    1. ``explicit`` — ``--as-of`` on the command line, an argument in Python;
    2. ``latest_run`` — the latest successful run's, for commands that read its facts
       (a run itself passes None: it computes anew);
    3. ``configured`` — ``as_of`` in ``custlens.yml``;
    4. ``data()`` — the last month with data (asked only when needed: it is a query).

    None when none of them gives one.
    """
    for candidate in (explicit, latest_run, configured):
        if candidate is not None:
            return candidate.replace(day=1)
    found = data() if data is not None else None
    return found.replace(day=1) if found is not None else None


# -- date ranges of queries ------------------------------------------------------

MAX_RANGE_YEARS = 100
"""A relative date range (``last N months``) spans at most this many years."""


def parse_date(text: Any, field: str) -> date:
    """A ``YYYY-MM-DD`` (or ``YYYY-MM``, the first day) value."""
    if isinstance(text, date):
        return text
    value = str(text).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}", value):
            return date.fromisoformat(value + "-01")
        return date.fromisoformat(value[:10])
    except ValueError:
        raise QueryError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def resolve_range(
    value: str | tuple[str, str] | list[str], as_of: date, field: str
) -> tuple[date, date]:
    """An inclusive (first, last) day range from a pair of dates or a relative name.

    Relative names count against the as-of date (the last day of the data), never
    the wall clock:

    - ``last N days|weeks|months|quarters|years``: the N periods ending with the
      as-of date's period, which is included (``last 12 months`` at as-of
      2025-06-30 is 2024-07-01 … 2025-06-30);
    - ``this month|quarter|year`` (and ``month|quarter|year to date``): the as-of
      date's period up to the as-of date;
    - ``last month|quarter|year``: the whole period before the as-of date's;
    - ``today`` / ``yesterday``: the as-of date / the day before;
    - ``from 2025-01-01 to 2025-03-31``: the fixed range, as Cube writes it.
    """
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise QueryError(f"{field}: a date range is [from, to], got {list(value)!r}")
        first, last = parse_date(value[0], field), parse_date(value[1], field)
        if re.fullmatch(r"\d{4}-\d{2}", str(value[1]).strip()):
            last = shift(last, "month", 1) - timedelta(days=1)  # a month means all of it
        if last < first:
            raise QueryError(f"{field}: the range ends ({last}) before it starts ({first})")
        return first, last
    text = " ".join(str(value).lower().split())
    match = re.fullmatch(r"from (\S+) to (\S+)", text)
    if match:  # Cube's spelling of a fixed range
        return resolve_range([match.group(1), match.group(2)], as_of, field)
    if text == "today":
        return as_of, as_of
    if text == "yesterday":
        return as_of - timedelta(days=1), as_of - timedelta(days=1)
    match = re.fullmatch(r"last (\d+) (day|week|month|quarter|year)s?", text)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if count < 1:
            raise QueryError(f"{field}: {value!r} needs a count of at least 1")
        per_year = {"day": 366, "week": 53, "month": 12, "quarter": 4, "year": 1}[unit]
        if count > MAX_RANGE_YEARS * per_year:
            raise QueryError(f"{field}: {value!r} spans more than {MAX_RANGE_YEARS} years")
        return shift(period_start(as_of, unit), unit, 1 - count), as_of
    match = re.fullmatch(r"(?:this (month|quarter|year)|(month|quarter|year) to date)", text)
    if match:
        unit = match.group(1) or match.group(2)
        return period_start(as_of, unit), as_of
    match = re.fullmatch(r"last (week|month|quarter|year)", text)
    if match:
        unit = match.group(1)
        start = shift(period_start(as_of, unit), unit, -1)
        return start, shift(start, unit, 1) - timedelta(days=1)
    raise QueryError(
        f"{field}: {value!r} is not a date range; use [from, to] or a name such as "
        "'last 12 months', 'this year', 'last quarter'"
    )
