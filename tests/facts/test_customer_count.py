"""customer_count: the seed's worker, fixed (DESIGN.md §3), by hand, on both engines."""

from __future__ import annotations

import functools
from datetime import date

import polars as pl
import pytest

from custlens.facts.customer_count import run_worker

REVENUE_FACTS = ["growth_summary", "customer_count", "metrics_catalog"]


@pytest.fixture
def run_facts(run_facts):
    """Only the revenue facts: the others would cost Spark time and test nothing here."""
    return functools.partial(run_facts, only=REVENUE_FACTS)


D = date


def events(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "revenue_type_id": pl.Int64,
            "value_type_id": pl.Int64,
            "nr_of_customers": pl.Int64,
        },
        orient="row",
    )


BALANCES = pl.DataFrame({"value_type_id": [1, 2], "nr_of_customers": [100, 90]})
EVENTS = events(
    # January, actuals: two new-booking rows on one date both count (the seed kept one).
    (D(2024, 1, 10), 1, 1, 5),
    (D(2024, 1, 10), 1, 1, 3),
    (D(2024, 1, 20), 4, 1, 2),
    # February has no actual events: it must still have a row.
    # March: a reactivation and a churn; expansion rows do not change counts.
    (D(2024, 3, 5), 5, 1, 1),
    (D(2024, 3, 6), 4, 1, 4),
    (D(2024, 3, 7), 2, 1, 9),
    # Budget: 10 new a month in January and February.
    (D(2024, 1, 1), 1, 2, 10),
    (D(2024, 2, 1), 1, 2, 10),
)


def test_run_worker_counts_every_row_fills_gaps_and_runs_balances():
    out = run_worker(EVENTS, BALANCES).sort("value_type_id", "date")
    actual = out.filter(pl.col("value_type_id") == 1).to_dicts()
    # Jan: new 8, churned 2 → net 6; Feb: 0; Mar: reactivated 1, churned 4 → net −3.
    assert [r["date"] for r in actual] == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert [r["new"] for r in actual] == [8, 0, 0]
    assert [r["reactivated"] for r in actual] == [0, 0, 1]
    assert [r["churned"] for r in actual] == [2, 0, 4]
    assert [r["net_new"] for r in actual] == [6, 0, -3]
    assert [r["cum_net_new"] for r in actual] == [6, 6, 3]
    assert [r["current_base"] for r in actual] == [100, 106, 106]
    assert [r["ending_balance"] for r in actual] == [106, 106, 103]
    budget = out.filter(pl.col("value_type_id") == 2)
    # Budget events stop in February; its balance still stands in March (issue 14:
    # every value type runs over the same months).
    assert budget["date"].to_list() == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert budget["ending_balance"].to_list() == [100, 110, 110]
    assert budget["current_base"].to_list() == [90, 100, 110]
    assert budget["new"].to_list() == [10, 10, 0]


def test_a_value_type_with_earlier_last_events_carries_its_balance_to_the_end():
    # Actuals through April, budget through February: budget has March and April rows
    # at its February balance (58 = 50 + 8), and both start in January.
    out = run_worker(
        events(
            (D(2024, 1, 5), 1, 1, 2),
            (D(2024, 4, 5), 1, 1, 1),
            (D(2024, 2, 1), 1, 2, 8),
        ),
        pl.DataFrame({"value_type_id": [1, 2], "nr_of_customers": [10, 50]}),
    ).sort("value_type_id", "date")
    months = [D(2024, m, 1) for m in (1, 2, 3, 4)]
    actual = out.filter(pl.col("value_type_id") == 1)
    budget = out.filter(pl.col("value_type_id") == 2)
    assert actual["date"].to_list() == months
    assert actual["ending_balance"].to_list() == [12, 12, 12, 13]
    assert budget["date"].to_list() == months
    assert budget["ending_balance"].to_list() == [50, 58, 58, 58]
    assert budget["current_base"].to_list() == [50, 50, 58, 58]


def test_without_reactivations_net_new_is_the_seeds_new_minus_churn():
    plain = events((D(2024, 1, 3), 1, 1, 4), (D(2024, 1, 9), 4, 1, 1), (D(2024, 2, 2), 1, 1, 2))
    out = run_worker(plain, BALANCES.head(1)).sort("date")
    assert out["net_new"].to_list() == [3, 2]
    assert out["ending_balance"].to_list() == [103, 105]


def test_customer_count_fact_from_mrr_and_budget_events(run_facts):
    lines = pl.DataFrame(
        {
            "customer_id": ["a", "b", "b"],
            "period_start": [D(2024, 1, 1), D(2024, 1, 1), D(2024, 3, 1)],
            "period_end": [D(2024, 4, 1), D(2024, 2, 1), D(2024, 4, 1)],
            "amount": [300.0, 10.0, 20.0],
        }
    )
    budget = events((D(2024, 2, 1), 1, 2, 3), (D(2024, 5, 1), 4, 2, 1))
    facts = run_facts(
        {
            "subscription_lines": lines,
            "revenue_events": budget,
            "starting_balances": pl.DataFrame({"value_type_id": [2], "nr_of_customers": [50]}),
        },
        D(2024, 3, 1),
    )
    counts = facts["customer_count"].sort("value_type_id", "month")
    actual = counts.filter(pl.col("value_type_id") == 1)
    # a new in Jan, b new in Jan, b churns in Feb, b reactivates in Mar.
    assert actual["new"].to_list() == [2, 0, 0]
    assert actual["churned"].to_list() == [0, 1, 0]
    assert actual["reactivated"].to_list() == [0, 0, 1]
    assert actual["ending_balance"].to_list() == [2, 1, 2]
    # The actual bridge ends where growth_summary ends.
    assert actual["ending_balance"].to_list() == (
        facts["growth_summary"].sort("month")["ending_customers"].to_list()
    )
    plan = counts.filter(pl.col("value_type_id") == 2)
    # Budget runs from the first month of any value type (January) to its last event
    # (May: past the as-of month, a plan is about the future), gaps filled; actuals stop
    # at the as-of month.
    assert plan["month"].to_list() == [D(2024, m, 1) for m in (1, 2, 3, 4, 5)]
    assert plan["ending_balance"].to_list() == [50, 53, 53, 53, 52]
    assert actual["month"].to_list() == [D(2024, m, 1) for m in (1, 2, 3)]


def test_budget_that_stops_early_runs_to_the_as_of_month(run_facts):
    lines = pl.DataFrame(
        {
            "customer_id": ["a"],
            "period_start": [D(2024, 1, 1)],
            "period_end": [D(2024, 5, 1)],
            "amount": [400.0],
        }
    )
    facts = run_facts(
        {
            "subscription_lines": lines,
            "revenue_events": events((D(2024, 2, 1), 1, 2, 8)),
            "starting_balances": pl.DataFrame({"value_type_id": [2], "nr_of_customers": [50]}),
        },
        D(2024, 4, 1),
    )
    plan = facts["customer_count"].filter(pl.col("value_type_id") == 2).sort("month")
    # January (no budget event yet) through April, the as-of month: 50, 58, 58, 58.
    assert plan["month"].to_list() == [D(2024, m, 1) for m in (1, 2, 3, 4)]
    assert plan["ending_balance"].to_list() == [50, 58, 58, 58]
