"""Metric types (simple, ratio, derived, cumulative, number measures) and compare.

Sales by month (data.py): Feb 2023 35 (web); 2024: Jan 30 (web 10, shop 20, 2 sales),
Feb 70 (web 30, no channel 40, 2 sales), Mar none, Apr 50 (shop, 1), May none,
Jun 60 (web, 1). The workspace is as of 2024-06-30.
"""

from __future__ import annotations

from datetime import date

import pytest

from custlens.errors import QueryError
from tests.semantic.data import rows

D = date
H1 = ["2024-01", "2024-06"]


def monthly(ws, metrics, date_range=H1, **spec):
    td = {"dimension": "sales.day", "granularity": "month", "date_range": date_range}
    return rows(ws, metrics=metrics, time_dimensions=[td], **spec)


def values(got, name):
    return [r[name] for r in got]


def test_ratio_derived_and_number_measure(sem):
    got = monthly(sem, ["avg_sale", "web_share", "total_plus", "sales.per_sale"])
    # avg_sale = total / count: 30/2, 70/2, 0/0 → null, 50/1, null, 60/1.
    assert values(got, "avg_sale") == [15.0, 35.0, None, 50.0, None, 60.0]
    # web_share = web_total / total: 10/30, 30/70, 0/0 → null, 0/50, null, 60/60.
    assert values(got, "web_share") == pytest.approx([1 / 3, 3 / 7, None, 0.0, None, 1.0])
    # total_plus = total × 2 + count: 62, 142, 0, 101, 0, 121.
    assert values(got, "total_plus") == [62.0, 142.0, 0.0, 101.0, 0.0, 121.0]
    # the number measure per_sale = total / count, null on 0 like a ratio.
    assert values(got, "sales.per_sale") == [15.0, 35.0, None, 50.0, None, 60.0]


def test_ratio_without_dimensions(duck):
    # web 35 + 10 + 30 + 60 = 135 of 245 in all.
    assert rows(duck, metrics=["web_share"]) == [{"web_share": pytest.approx(135 / 245)}]


def test_cumulative_running_total_and_trailing_window(sem):
    got = monthly(sem, ["running_total", "total_3m"])
    # The running total starts with the history before the range: 35 (Feb 2023).
    # 35 + 30 = 65, + 70 = 135, 135, + 50 = 185, 185, + 60 = 245.
    assert values(got, "running_total") == [65.0, 135.0, 135.0, 185.0, 185.0, 245.0]
    # Trailing 3 months: Jan = Nov + Dec + Jan = 0 + 0 + 30; Feb = 0 + 30 + 70 = 100;
    # Mar = 30 + 70 + 0 = 100; Apr = 70 + 0 + 50 = 120; May = 0 + 50 + 0 = 50;
    # Jun = 50 + 0 + 60 = 110.
    assert values(got, "total_3m") == [30.0, 100.0, 100.0, 120.0, 50.0, 110.0]


def test_cumulative_per_dimension_value(duck):
    # Running total by channel and quarter in 2024 (with 2023's web 35 before it):
    # web Q1 35 + 10 + 30 = 75, Q2 75 + 60 = 135; shop Q1 20, Q2 20 + 50 = 70;
    # no channel Q1 40, Q2 40.
    got = rows(
        duck,
        metrics=["running_total"],
        dimensions=["sales.channel"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "quarter", "date_range": "this year"}
        ],
    )
    assert {
        (r["sales.day.quarter"].month, r["sales.channel"]): r["running_total"] for r in got
    } == {
        (1, "web"): 75.0,
        (4, "web"): 135.0,
        (1, "shop"): 20.0,
        (4, "shop"): 70.0,
        (1, None): 40.0,
        (4, None): 40.0,
    }


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"metrics": ["running_total"]}, ["running_total", "time dimension"]),
        (
            {
                "metrics": ["total_3m"],
                "time_dimensions": [{"dimension": "sales.day", "granularity": "quarter"}],
            },
            ["total_3m", "month"],
        ),
    ],
)
def test_cumulative_needs_its_grain(duck, spec, words):
    with pytest.raises(QueryError) as err:
        duck.run_query(spec)
    assert all(w in str(err.value) for w in words)


# -- compare ------------------------------------------------------------------------


def compared(got, name):
    return [
        (r[name], r[f"{name}.previous"], r[f"{name}.delta"], r[f"{name}.percent_change"])
        for r in got
    ]


def test_previous_period_one_month(sem):
    # last month = May 2024: 0; the period before = April: 50. Delta −50, change −50/50 = −1.
    got = monthly(sem, ["sales_total"], "last month", compare="previous_period")
    assert [r["sales.day.month"] for r in got] == [D(2024, 5, 1)]
    assert compared(got, "sales_total") == [(0.0, 50.0, -50.0, -1.0)]


def test_previous_period_of_a_quarter(duck):
    # this quarter (Q2 2024) 50 + 60 = 110 against Q1 100: delta 10, change 10 %.
    got = rows(
        duck,
        metrics=["sales_total"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "quarter", "date_range": "this quarter"}
        ],
        compare="previous_period",
    )
    assert compared(got, "sales_total") == [(110.0, 100.0, 10.0, pytest.approx(0.1))]


def test_previous_period_of_a_range_shifts_by_its_length(duck):
    # Apr–Jun 2024 by month against Jan–Mar (the range moved back by its 3 months), row
    # by row: Apr 50 vs Jan 30 (+20, 2/3); May 0 vs Feb 70 (−70, −1); Jun 60 vs Mar 0
    # (+60, null: no base).
    got = monthly(duck, ["sales_total"], ["2024-04", "2024-06"], compare="previous_period")
    assert compared(got, "sales_total") == [
        (50.0, 30.0, 20.0, pytest.approx(2 / 3)),
        (0.0, 70.0, -70.0, -1.0),
        (60.0, 0.0, 60.0, None),
    ]


def test_previous_period_without_granularity(duck):
    # The range Apr–Jun as one total (110) against Jan–Mar (100).
    got = rows(
        duck,
        metrics=["sales_total", "sales_count"],
        time_dimensions=[{"dimension": "sales.day", "date_range": ["2024-04-01", "2024-06-30"]}],
        compare="previous_period",
    )
    assert compared(got, "sales_total") == [(110.0, 100.0, 10.0, pytest.approx(0.1))]
    # count 2 against 4: −2, −50 %.
    assert compared(got, "sales_count") == [(2, 4, -2, -0.5)]


def test_previous_year(sem):
    # Jan–Mar 2024 against Jan–Mar 2023: Jan 30 vs 0 (null change), Feb 70 vs 35
    # (+35, +100 %), Mar 0 vs 0 (0, null).
    got = monthly(sem, ["sales_total"], ["2024-01", "2024-03"], compare="previous_year")
    assert compared(got, "sales_total") == [
        (30.0, 0.0, 30.0, None),
        (70.0, 35.0, 35.0, 1.0),
        (0.0, 0.0, 0.0, None),
    ]


def test_percent_change_divides_by_the_absolute_previous(duck):
    # Revenue by month: Mar 2024 = −50 (c1's refund), Apr = 30 (c3; c2's was failed).
    # Apr against Mar: delta 30 − (−50) = 80, change 80 / |−50| = +1.6 (not −1.6).
    got = rows(
        duck,
        metrics=["transactions.revenue"],
        time_dimensions=[
            {
                "dimension": "transactions.created_at",
                "granularity": "month",
                "date_range": ["2024-04", "2024-04"],
            }
        ],
        compare="previous_period",
    )
    assert compared(got, "transactions.revenue") == [(30.0, -50.0, 80.0, pytest.approx(1.6))]


def test_compare_a_balance(duck):
    # MRR this quarter = June 220, last quarter = March 120: +100, +83.3 %.
    got = rows(
        duck,
        metrics=["ending_mrr"],
        time_dimensions=[
            {"dimension": "balances.month", "granularity": "quarter", "date_range": "this quarter"}
        ],
        compare="previous_period",
    )
    assert compared(got, "ending_mrr") == [(220.0, 120.0, 100.0, pytest.approx(100 / 120))]


def test_compare_needs_a_range(duck):
    with pytest.raises(QueryError, match="compare"):
        duck.run_query({"metrics": ["sales_total"], "compare": "previous_period"})


def test_columns_describe_the_outputs(duck):
    result = duck.run_query(
        {
            "metrics": ["sales_total", "web_share"],
            "time_dimensions": [
                {"dimension": "sales.day", "granularity": "month", "date_range": "last month"}
            ],
            "compare": "previous_period",
        }
    )
    kinds = {c.name: (c.kind, c.format) for c in result.columns}
    assert kinds == {
        "sales.day.month": ("time", None),
        "sales_total": ("metric", "number"),
        "sales_total.previous": ("metric", "number"),
        "sales_total.delta": ("metric", "number"),
        "sales_total.percent_change": ("metric", "percentage"),
        "web_share": ("metric", "number"),
        "web_share.previous": ("metric", "number"),
        "web_share.delta": ("metric", "number"),
        "web_share.percent_change": ("metric", "percentage"),
    }
    assert result.frame.columns == list(kinds)
