"""Amounts in the reporting currency: subscription lines and transactions in other
currencies are converted with ``fx_rates`` before any fact reads them.

The rule (DESIGN.md §2, money):

- A row's currency is its ``currency`` value; empty means the reporting currency.
- The reporting currency is ``reporting_currency`` in custlens.yml, else the data's
  only currency, else USD. Data in several currencies without the setting is an
  error: custlens will not guess which one the numbers should be read in.
- A subscription line is converted at the rate of its ``period_start``, a
  transaction at the rate of the day it was created: the rate in ``fx_rates`` for
  that currency dated on that day, or else the latest one before it (rates are
  published on working days). This is ChartMogul's rule — an invoice is converted
  at the rate of its date — and it keeps an annual contract's MRR the same for all
  twelve months, where a month-end rate would move MRR (and book expansion and
  contraction) with the exchange rate while the customer pays the same.
- A row in another currency with no rate on or before its date is an error naming
  the currency and the date; never a silent rate of 1.
- The converted row keeps its ``currency`` and its ``original_amount``; ``amount`` is
  in the reporting currency.

A workspace whose rows are all in one currency (or name none) reads its tables as
they are: nothing is joined and its SQL does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import ibis

from custlens import currency
from custlens.config import Config
from custlens.errors import PipelineError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import polars as pl

RATES = "src_fx_rates"
DATED = {"src_subscription_lines": "period_start", "src_transactions": "created_at"}
"""The tables with amounts in a currency, and the column whose date picks the rate."""
LISTED = 5
"""Missing rates named in an error; then how many more."""


@dataclass
class Converted:
    """The reporting currency and the source tables as the facts should read them."""

    reporting: str
    tables: dict[str, ir.Table] = field(default_factory=dict)
    """Only the tables that were converted."""


def in_reporting_currency(
    tables: Mapping[str, ir.Table],
    config: Config,
    collect: Callable[[ir.Table], pl.DataFrame],
) -> Converted:
    """The reporting currency, and every table of :data:`DATED` holding another currency
    converted to it.

    Raises:
        PipelineError: several currencies and no ``reporting_currency``; a row in another
            currency without a rate on or before its date.
    """
    # A table without the column (written around the contract, as tests do) is all in
    # the reporting currency.
    present = {n: tables[n] for n in DATED if n in tables and "currency" in tables[n].columns}
    found, last_day = _currencies(present, collect)
    named = set().union(*found.values())
    reporting = config.reporting_currency
    if reporting is None:
        if len(named) > 1:
            raise PipelineError(
                f"the data has amounts in {', '.join(sorted(named))}; set reporting_currency "
                "in custlens.yml to the currency the numbers should be shown in (the others "
                "are converted with fx_rates)"
            )
        reporting = next(iter(named), currency.DEFAULT)
    foreign = {name for name, codes in found.items() if codes - {reporting}}
    if not foreign:
        return Converted(reporting)
    if RATES not in tables:
        others = sorted(named - {reporting})
        raise PipelineError(
            f"amounts in {', '.join(others)} need exchange rates to {reporting}: load the "
            "fx_rates source (date, currency, rate)"
        )
    assert last_day is not None  # some row names a currency
    daily = _daily(tables[RATES], reporting, last_day)
    joined = {name: _with_rates(present[name], DATED[name], daily, reporting) for name in foreign}
    _check_rates(joined, reporting, collect)
    converted = {
        name: t.select(
            *[c for c in present[name].columns if c not in ("amount", "currency")],
            amount=(t.amount * t.fx_rate).cast("float64"),
            original_amount=t.amount,
            currency=t.currency.fill_null(reporting),
        )
        for name, t in joined.items()
    }
    return Converted(reporting, converted)


def _currencies(
    present: Mapping[str, ir.Table], collect: Callable[[ir.Table], pl.DataFrame]
) -> tuple[dict[str, set[str]], date | None]:
    """Each table's distinct currencies (empty ones left out), and the last day of a row
    in one, in one query."""
    if not present:
        return {}, None
    parts = []
    for name, t in present.items():
        named = t.filter(t.currency.notnull())
        parts.append(
            named.group_by("currency").aggregate(
                source=ibis.literal(name), last_day=_day(named[DATED[name]]).max()
            )
        )
    rows = collect(ibis.union(*parts))
    found: dict[str, set[str]] = {name: set() for name in present}
    for row in rows.iter_rows(named=True):
        found[row["source"]].add(row["currency"])
    last = rows["last_day"].max() if rows.height else None
    return {name: codes for name, codes in found.items() if codes}, last  # type: ignore[return-value]


def _day(column: ir.Value) -> ir.DateValue:
    """The day of a date or timestamp column."""
    return column.date() if column.type().is_timestamp() else column  # type: ignore[attr-defined,return-value]


def _daily(rates: ir.Table, reporting: str, last_day: date) -> ir.Table:
    """The rate of each currency on each day from its first rate to ``last_day``: the
    latest rate on or before the day. A row finds its rate by an equality join on
    (currency, day) — a few thousand rows a currency-decade — where a join on the
    ranges between rates would compare every row with every rate of its currency."""
    foreign = rates.filter(rates.currency != reporting)
    following = ibis.window(group_by=foreign.currency, order_by=foreign.date)
    valid = foreign.select(
        fx_currency=foreign.currency,
        fx_from=foreign.date,
        # The day the next rate starts; the last rate holds to last_day.
        fx_until=foreign.date.lead()
        .over(following)
        .fill_null(ibis.literal(last_day + timedelta(days=1))),
        fx_rate=foreign.rate,
    )
    valid = valid.filter(valid.fx_from < valid.fx_until)
    spread = valid.select(
        "fx_currency",
        "fx_rate",
        # Ibis ranges over timestamps, not dates.
        fx_day=ibis.range(
            valid.fx_from.cast("timestamp"), valid.fx_until.cast("timestamp"), ibis.interval(days=1)
        ).unnest(),
    )
    return spread.select("fx_currency", "fx_rate", fx_day=spread.fx_day.date())


def _with_rates(table: ir.Table, dated: str, daily: ir.Table, reporting: str) -> ir.Table:
    """``table`` with each row's ``fx_rate`` to ``reporting`` (1 in that currency; null
    where a rate is missing) and ``_fx_day``, the day that picked it."""
    keyed = table.mutate(_fx_day=_day(table[dated]))
    joined = keyed.left_join(
        daily, [keyed.currency == daily.fx_currency, keyed._fx_day == daily.fx_day]
    )
    foreign = joined.currency.notnull() & (joined.currency != reporting)
    rate = ibis.cases((foreign, joined.fx_rate), else_=ibis.literal(1.0))
    return joined.select(*keyed.columns, fx_rate=rate)


def _check_rates(
    converted: Mapping[str, ir.Table],
    reporting: str,
    collect: Callable[[ir.Table], pl.DataFrame],
) -> None:
    """Refuse rows in another currency without a rate on or before their date, naming
    each currency and its earliest such date."""
    parts = []
    for name, t in converted.items():
        missing = t.filter(t.fx_rate.isnull())
        parts.append(
            missing.group_by("currency").aggregate(
                source=ibis.literal(name.removeprefix("src_")),
                first_day=missing._fx_day.min(),
                rows=missing.count(),
            )
        )
    gaps = collect(ibis.union(*parts)).sort("currency", "first_day", "source")
    if gaps.height == 0:
        return
    listed = [
        f"{row['currency']} on {row['first_day']} ({row['rows']:,} {row['source']} "
        + ("row has" if row["rows"] == 1 else "rows have")
        + " no rate on or before their date, the first this one)"
        for row in gaps.head(LISTED).iter_rows(named=True)
    ]
    more = f"; and {gaps.height - LISTED} more" if gaps.height > LISTED else ""
    raise PipelineError(
        f"no exchange rate to {reporting} for " + "; ".join(listed) + more + "; load fx_rates "
        "with a rate for each currency dated on or before the day named"
    )
