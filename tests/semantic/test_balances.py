"""Semi-additive balances: a quarter's (or year's) MRR is its last month's, never a sum.

t_balances by month (see data.py): Dec 2023 40 (C); Jan 2024 A 100 + B 50 + C 0 = 150;
Feb 110 + 50 = 160; Mar 120 (B has no row); Apr 120 + 60 = 180; May 130 + 60 = 190;
Jun 150 + 70 = 220. Paying (MRR > 0): Dec 1, Jan 2, Feb 2, Mar 1, Apr–Jun 2.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.frames import lines
from tests.semantic.data import rows

D = date


def by_time(ws, member, granularity, date_range=None, metrics=("ending_mrr", "balances.paying")):
    td = {"dimension": member, "granularity": granularity}
    if date_range is not None:
        td["date_range"] = date_range
    got = rows(ws, metrics=list(metrics), time_dimensions=[td])
    return [tuple(r.values()) for r in got]


def test_quarter_and_year_take_the_last_month(sem):
    # Q4 2023 = Dec 40; Q1 2024 = Mar 120 (a sum over months would be 430); Q2 = Jun 220.
    assert by_time(sem, "balances.month", "quarter") == [
        (D(2023, 10, 1), 40.0, 1),
        (D(2024, 1, 1), 120.0, 1),
        (D(2024, 4, 1), 220.0, 2),
    ]


def test_year(duck):
    # 2023 = Dec 40; 2024 (data up to June) = Jun 220.
    assert by_time(duck, "balances.month", "year") == [
        (D(2023, 1, 1), 40.0, 1),
        (D(2024, 1, 1), 220.0, 2),
    ]


def test_month_is_the_month(duck):
    assert by_time(duck, "balances.month", "month", ["2024-01", "2024-06"]) == [
        (D(2024, 1, 1), 150.0, 2),
        (D(2024, 2, 1), 160.0, 2),
        (D(2024, 3, 1), 120.0, 1),
        (D(2024, 4, 1), 180.0, 2),
        (D(2024, 5, 1), 190.0, 2),
        (D(2024, 6, 1), 220.0, 2),
    ]


def test_quarter_cut_by_a_range_takes_the_last_month_in_range(duck):
    # Range Jan–Feb 2024 by quarter: Q1's last month in range is Feb → 160, 2 paying.
    assert by_time(duck, "balances.month", "quarter", ["2024-01-01", "2024-02-29"]) == [
        (D(2024, 1, 1), 160.0, 2),
    ]


@pytest.mark.parametrize(
    ("date_range", "expected"),
    [
        (None, (220.0, 2)),  # no time at all: the last month of the data, June
        (["2024-01", "2024-03"], (120.0, 1)),  # the last month in range, March
        ("last 3 months", (220.0, 2)),  # Apr–Jun 2024 at as-of 2024-06-30 → June
        (["2023-01", "2023-12"], (40.0, 1)),  # December 2023
    ],
)
def test_no_time_dimension_is_the_last_month_in_range(duck, date_range, expected):
    spec = {"metrics": ["ending_mrr", "balances.paying"]}
    if date_range is not None:
        spec["time_dimensions"] = [{"dimension": "balances.month", "date_range": date_range}]
    assert [tuple(r.values()) for r in rows(duck, **spec)] == [expected]


def test_balance_by_region_and_quarter(sem):
    # Q2 2024 = June: EMEA (A) 150, NA (B) 70. Q4 2023 = Dec: NA (C) 40.
    got = rows(
        sem,
        metrics=["ending_mrr"],
        dimensions=["balances.region"],
        time_dimensions=[
            {"dimension": "balances.month", "granularity": "quarter", "date_range": "last 3 months"}
        ],
    )
    assert got == [
        {"balances.month.quarter": D(2024, 4, 1), "balances.region": "EMEA", "ending_mrr": 150.0},
        {"balances.month.quarter": D(2024, 4, 1), "balances.region": "NA", "ending_mrr": 70.0},
    ]


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_customer_mrr_fact_by_quarter(make_workspace):
    # The shipped subscriptions cube over the customer_mrr fact. Monthly lines:
    #   a: 100 a month Jan–Jun 2024; b: 50 a month Jan–Feb, then nothing.
    # MRR: Jan 150, Feb 150, Mar 100, Apr–Jun 100. Q1 = March 100 (not 400), Q2 = June 100.
    # Paying customers: Q1 (March) 1, Q2 (June) 1; no time → June: 100, 1.
    ws = make_workspace(as_of="2024-06")
    months = [(D(2024, m, 1), D(2024, m + 1, 1)) for m in range(1, 7)]
    ws.load(
        {
            "subscription_lines": lines(
                *[("a", s, e, 100) for s, e in months],
                *[("b", s, e, 50) for s, e in months[:2]],
            )
        }
    )
    ws.run(only=["customer_mrr"])
    got = rows(
        ws,
        metrics=["subscriptions.mrr", "subscriptions.paying_customers"],
        time_dimensions=[
            {
                "dimension": "subscriptions.month",
                "granularity": "quarter",
                "date_range": "this year",
            }
        ],
    )
    assert [tuple(r.values()) for r in got] == [
        (D(2024, 1, 1), 100.0, 1),
        (D(2024, 4, 1), 100.0, 1),
    ]
    monthly = rows(
        ws,
        metrics=["subscriptions.mrr"],
        time_dimensions=[
            {"dimension": "subscriptions.month", "granularity": "month", "date_range": "this year"}
        ],
    )
    assert [r["subscriptions.mrr"] for r in monthly] == [150.0, 150.0, 100.0, 100.0, 100.0, 100.0]
    assert rows(ws, metrics=["subscriptions.mrr", "subscriptions.paying_customers"]) == [
        {"subscriptions.mrr": 100.0, "subscriptions.paying_customers": 1}
    ]
