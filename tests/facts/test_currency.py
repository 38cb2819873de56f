"""Amounts in the reporting currency (custlens.facts.exchange, DESIGN.md §2 money).

Every expected value is worked by hand from the rows and rates in the test.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from custlens.errors import PipelineError
from tests.frames import transactions

MONTHS = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


def lines(*rows: tuple) -> pl.DataFrame:
    """subscription_lines from (customer, start, end, amount, currency)."""
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "period_start": pl.Date,
            "period_end": pl.Date,
            "amount": pl.Float64,
            "currency": pl.String,
        },
        orient="row",
    ).with_columns(kind=pl.lit("recurring"))


def rates(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"date": pl.Date, "currency": pl.String, "rate": pl.Float64}, orient="row"
    )


def mrr_by_month(facts, customer: str) -> list[float]:
    mrr = facts["customer_mrr"].filter(pl.col("customer_id") == customer).sort("month")
    return [round(v, 6) for v in mrr["mrr"]]


SOURCES = {
    "subscription_lines": lines(
        # An annual contract of 1,200 EUR from 1 January: converted at the rate of
        # 1 January, which is the rate published on Friday 29 December (1.10):
        # 1,320 USD over 12 months = 110 a month, in every month, although the rate is
        # 1.20 from 31 January.
        ("A", date(2024, 1, 1), date(2025, 1, 1), 1200.0, "EUR"),
        # 100 USD for 15 January – 15 February: 100 at the end of January.
        ("B", date(2024, 1, 15), date(2024, 2, 15), 100.0, "USD"),
        # 10,000 JPY for February at 0.0067: 67 at the end of February.
        ("B", date(2024, 2, 1), date(2024, 3, 1), 10000.0, "JPY"),
        # No currency: the reporting currency's 50, every month.
        ("C", date(2024, 1, 1), date(2024, 4, 1), 150.0, None),
    ),
    "fx_rates": rates(
        (date(2023, 12, 29), "EUR", 1.10),
        (date(2024, 1, 31), "EUR", 1.20),
        (date(2024, 1, 2), "JPY", 0.0067),
    ),
}


def test_lines_are_converted_at_the_rate_of_their_period_start(run_facts) -> None:
    facts = run_facts(SOURCES, date(2024, 3, 1), only=["customer_mrr"], reporting_currency="USD")
    assert mrr_by_month(facts, "A") == [110.0, 110.0, 110.0]
    assert mrr_by_month(facts, "B") == [100.0, 67.0, 0.0]
    assert mrr_by_month(facts, "C") == [50.0, 50.0, 50.0]


def test_transactions_are_converted_at_the_rate_of_their_day(run_facts) -> None:
    tx = transactions(
        ("A", datetime(2024, 1, 30, 23, 0), 100.0),  # EUR at 1.10 (29 Dec's rate): 110
        ("A", datetime(2024, 1, 31, 9, 0), 100.0),  # EUR at 1.20 from 31 Jan: 120
        ("A", datetime(2024, 2, 5), 30.0),  # USD: 30
    ).with_columns(currency=pl.Series(["EUR", "EUR", "USD"]))
    facts = run_facts(
        {"transactions": tx, "fx_rates": SOURCES["fx_rates"]},
        date(2024, 3, 1),
        only=["customer_value"],
        reporting_currency="USD",
    )
    value = facts["customer_value"].row(0, named=True)
    assert value["total_spend"] == pytest.approx(260.0)


def test_a_missing_rate_names_the_currency_and_the_first_day(run_facts) -> None:
    sources = {
        "subscription_lines": SOURCES["subscription_lines"],
        # JPY's only rate is dated after February's line.
        "fx_rates": rates((date(2023, 12, 29), "EUR", 1.10), (date(2024, 3, 1), "JPY", 0.0067)),
    }
    with pytest.raises(PipelineError) as refused:
        run_facts(sources, date(2024, 3, 1), only=["customer_mrr"], reporting_currency="USD")
    assert str(refused.value) == (
        "no exchange rate to USD for JPY on 2024-02-01 (1 subscription_lines row has no rate "
        "on or before their date, the first this one); load fx_rates with a rate for each "
        "currency dated on or before the day named"
    )


def test_several_currencies_need_a_reporting_currency(run_facts) -> None:
    with pytest.raises(PipelineError, match=r"amounts in EUR, JPY, USD; set reporting_currency"):
        run_facts(SOURCES, date(2024, 3, 1), only=["customer_mrr"])


def test_another_currency_without_fx_rates_is_refused(run_facts) -> None:
    with pytest.raises(PipelineError, match=r"amounts in EUR, JPY need exchange rates to USD"):
        run_facts(
            {"subscription_lines": SOURCES["subscription_lines"]},
            date(2024, 3, 1),
            only=["customer_mrr"],
            reporting_currency="USD",
        )


def test_one_currency_and_no_rates_reads_as_it_is(run_facts) -> None:
    only_eur = lines(("A", date(2024, 1, 1), date(2025, 1, 1), 1200.0, "EUR"))
    facts = run_facts({"subscription_lines": only_eur}, date(2024, 2, 1), only=["customer_mrr"])
    assert mrr_by_month(facts, "A") == [100.0, 100.0]


def test_customer_mrr_keeps_the_currency_billed_and_the_mrr_in_it(run_facts) -> None:
    facts = run_facts(SOURCES, date(2024, 3, 1), only=["customer_mrr"], reporting_currency="USD")
    rows = {
        (r["customer_id"], r["month"].month): (r["currency"], r["original_mrr"])
        for r in facts["customer_mrr"].iter_rows(named=True)
    }
    assert rows == {
        # 1,200 EUR a year: 100 EUR a month (110 USD).
        ("A", 1): ("EUR", 100.0),
        ("A", 2): ("EUR", 100.0),
        ("A", 3): ("EUR", 100.0),
        ("B", 1): ("USD", 100.0),
        ("B", 2): ("JPY", 10000.0),
        # No MRR in March: 0 in the reporting currency.
        ("B", 3): ("USD", 0.0),
        # Lines without a currency are in the reporting currency.
        ("C", 1): ("USD", 50.0),
        ("C", 2): ("USD", 50.0),
        ("C", 3): ("USD", 50.0),
    }


def test_a_month_billed_in_two_currencies_has_no_single_original(run_facts) -> None:
    two = lines(
        ("A", date(2024, 1, 1), date(2024, 2, 1), 100.0, "EUR"),
        ("A", date(2024, 1, 1), date(2024, 2, 1), 10.0, "USD"),
    )
    facts = run_facts(
        {"subscription_lines": two, "fx_rates": SOURCES["fx_rates"]},
        date(2024, 1, 1),
        only=["customer_mrr"],
        reporting_currency="USD",
    )
    row = facts["customer_mrr"].row(0, named=True)
    assert (row["mrr"], row["currency"], row["original_mrr"]) == (120.0, None, None)


def test_without_conversion_the_original_is_the_mrr(run_facts) -> None:
    only_eur = lines(("A", date(2024, 1, 1), date(2024, 2, 1), 100.0, "EUR"))
    facts = run_facts({"subscription_lines": only_eur}, date(2024, 1, 1), only=["customer_mrr"])
    row = facts["customer_mrr"].row(0, named=True)
    assert (row["mrr"], row["currency"], row["original_mrr"]) == (100.0, "EUR", 100.0)


def test_daily_rates_each_hold_for_their_own_day(run_facts) -> None:
    # A rate for every day: each line takes its own day's (a one-day validity too).
    daily = lines(
        ("A", date(2024, 1, 1), date(2024, 2, 1), 100.0, "EUR"),  # 1.10 → 110
        ("B", date(2024, 1, 2), date(2024, 2, 2), 100.0, "EUR"),  # 1.20 → 120
        ("C", date(2024, 1, 5), date(2024, 2, 5), 100.0, "EUR"),  # 3 Jan's 1.30 → 130
    )
    facts = run_facts(
        {
            "subscription_lines": daily,
            "fx_rates": rates(
                (date(2024, 1, 1), "EUR", 1.10),
                (date(2024, 1, 2), "EUR", 1.20),
                (date(2024, 1, 3), "EUR", 1.30),
            ),
        },
        date(2024, 1, 1),
        only=["customer_mrr"],
        reporting_currency="USD",
    )
    mrr = dict(zip(facts["customer_mrr"]["customer_id"], facts["customer_mrr"]["mrr"], strict=True))
    assert mrr == {"A": 110.0, "B": 120.0, "C": 130.0}
