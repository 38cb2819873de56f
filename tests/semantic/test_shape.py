"""Measure types, dimension-only queries, order / limit / offset, row limits, the
Python API's keyword form, and a few less travelled paths, each by hand.

Sales (data.py) by account: A s0 35, s1 10, s2 20, s5 50 (4 sales, 115); B s3 30,
s6 60 (2, 90); C s4 40 (1, 40).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.semantic.data import fill, rows

D = date


def test_every_measure_type(duck):
    metrics = [
        "sales.count",
        "sales.total",
        "sales.avg_amount",
        "sales.min_amount",
        "sales.max_amount",
        "sales.median_amount",
        "sales.accounts",
        "sales.web_total",
    ]
    got = rows(duck, metrics=metrics, dimensions=["sales.account"])
    assert [tuple(r[m] for m in metrics) for r in got] == [
        # A: avg 115 / 4 = 28.75; median of 10, 20, 35, 50 = (20 + 35) / 2 = 27.5;
        # web sales s0 + s1 = 45.
        (4, 115.0, 28.75, 10.0, 50.0, 27.5, 1, 45.0),
        # B: avg 45, median (30 + 60) / 2 = 45, web 30 + 60 = 90.
        (2, 90.0, 45.0, 30.0, 60.0, 45.0, 1, 90.0),
        # C: one sale of 40, no channel → web_total of nothing is 0.
        (1, 40.0, 40.0, 40.0, 40.0, 40.0, 1, 0.0),
    ]


def test_count_distinct_by_channel(duck):
    # web: A (s0, s1), B (s3, s6) → 2; shop: A → 1; none: C → 1.
    got = rows(duck, metrics=["sales.accounts"], dimensions=["sales.channel"])
    assert [(r["sales.channel"], r["sales.accounts"]) for r in got] == [
        ("shop", 1),
        ("web", 2),
        (None, 1),
    ]


def test_dimensions_only(duck):
    # The distinct values, ordered, nulls last.
    assert rows(duck, dimensions=["sales.channel"]) == [
        {"sales.channel": "shop"},
        {"sales.channel": "web"},
        {"sales.channel": None},
    ]
    # Across the join: (shop, gold: A), (web, gold: A), (web, silver: B), (none, silver: C).
    got = rows(duck, dimensions=["sales.channel", "accounts.tier"])
    assert [tuple(r.values()) for r in got] == [
        ("shop", "gold"),
        ("web", "gold"),
        ("web", "silver"),
        (None, "silver"),
    ]


def test_order_limit_offset(duck):
    spec = {"metrics": ["sales.total"], "dimensions": ["sales.account"]}
    desc = rows(duck, **spec, order_by=[{"field": "sales.total", "direction": "desc"}])
    assert [r["sales.account"] for r in desc] == ["A", "B", "C"]
    page = rows(duck, **spec, order_by=["sales.total desc"], limit=2, offset=1)
    assert page == [
        {"sales.account": "B", "sales.total": 90.0},
        {"sales.account": "C", "sales.total": 40.0},
    ]
    # the default order: keys ascending
    assert [r["sales.account"] for r in rows(duck, **spec)] == ["A", "B", "C"]


def test_nulls_sort_last_both_ways(duck):
    spec = {"metrics": ["sales.count"], "dimensions": ["sales.channel"]}
    asc = rows(duck, **spec, order_by=["sales.channel asc"])
    desc = rows(duck, **spec, order_by=["sales.channel desc"])
    assert [r["sales.channel"] for r in asc] == ["shop", "web", None]
    assert [r["sales.channel"] for r in desc] == ["web", "shop", None]


def test_python_keyword_api(duck):
    result = duck.query(["sales_total"], ["sales.account"], order_by=["sales_total desc"], limit=1)
    assert result.data == [{"sales.account": "A", "sales_total": 115.0}]
    assert [c.name for c in result.columns] == ["sales.account", "sales_total"]
    assert result.frame.to_dicts() == result.data
    assert result.as_of == D(2024, 6, 30)
    assert "t_sales" in result.sql


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_row_limit_truncates(make_workspace):
    # server.max_rows 2: three accounts → two rows and the flag.
    ws = fill(make_workspace(server="{max_rows: 2}"))
    result = ws.run_query({"metrics": ["sales.total"], "dimensions": ["sales.account"]})
    assert [r["sales.account"] for r in result.data] == ["A", "B"]
    assert result.truncated is True
    # a limit of its own below the maximum is no truncation
    result = ws.run_query({"metrics": ["sales.total"], "dimensions": ["sales.account"], "limit": 1})
    assert (len(result.data), result.truncated) == (1, False)


def test_filter_on_a_granularity(duck):
    # sales.day.month equals 2024-02 → the February sales s3, s4.
    got = rows(
        duck,
        metrics=["sales.count"],
        dimensions=["sales.id"],
        filters=[{"member": "sales.day.month", "operator": "equals", "value": "2024-02"}],
    )
    assert [r["sales.id"] for r in got] == ["s3", "s4"]


def test_time_as_a_plain_dimension(duck):
    # Without a granularity the time is a plain key: B's two sales, at their timestamps.
    got = rows(
        duck,
        metrics=["sales.count"],
        dimensions=["sales.day"],
        filters=[{"member": "sales.account", "operator": "equals", "value": "B"}],
    )
    assert [r["sales.day"] for r in got] == [datetime(2024, 2, 5, 9), datetime(2024, 6, 30, 18)]


def test_two_ranges_on_one_dimension_intersect(duck):
    # by month Jan–Jun ∩ Feb–Dec = Feb–Jun: 70, 0, 50, 0, 60.
    got = rows(
        duck,
        metrics=["sales_total"],
        time_dimensions=[
            {
                "dimension": "sales.day",
                "granularity": "month",
                "date_range": ["2024-01", "2024-06"],
            },
            {"dimension": "sales.day", "date_range": ["2024-02", "2024-12"]},
        ],
    )
    assert [(r["sales.day.month"].month, r["sales_total"]) for r in got] == [
        (2, 70.0),
        (3, 0.0),
        (4, 50.0),
        (5, 0.0),
        (6, 60.0),
    ]


def test_balance_filtered_by_a_time_filter(duck):
    # A filter (not a date_range) on the month: Jan–Mar → the last month left, March: 120.
    got = rows(
        duck,
        metrics=["ending_mrr"],
        filters=[
            {"member": "balances.month", "operator": "inDateRange", "value": ["2024-01", "2024-03"]}
        ],
    )
    assert got == [{"ending_mrr": 120.0}]


def test_balance_without_time_by_a_dimension(duck):
    # The last month of the data (June) by region: EMEA A 150, NA B 70.
    got = rows(duck, metrics=["ending_mrr"], dimensions=["balances.region"])
    assert got == [
        {"balances.region": "EMEA", "ending_mrr": 150.0},
        {"balances.region": "NA", "ending_mrr": 70.0},
    ]


def test_previous_period_of_days(duck):
    # Jun 25–30 (6 days: s6, 60) against Jun 19–24 (nothing): +60, no % change.
    got = rows(
        duck,
        metrics=["sales_total"],
        time_dimensions=[{"dimension": "sales.day", "date_range": ["2024-06-25", "2024-06-30"]}],
        compare="previous_period",
    )
    assert got == [
        {
            "sales_total": 60.0,
            "sales_total.previous": 0.0,
            "sales_total.delta": 60.0,
            "sales_total.percent_change": None,
        }
    ]


def test_previous_year_by_week(duck):
    # The week of Mon 2024-02-05 (s3, 30) against 52 weeks earlier, the week of Mon
    # 2023-02-06 (s0 is on Tue 2023-02-14, the week after): 0.
    got = rows(
        duck,
        metrics=["sales_total"],
        time_dimensions=[
            {
                "dimension": "sales.day",
                "granularity": "week",
                "date_range": ["2024-02-05", "2024-02-11"],
            }
        ],
        compare="previous_year",
    )
    assert [tuple(r.values()) for r in got] == [(D(2024, 2, 5), 30.0, 0.0, 30.0, None)]


def test_running_total_over_a_range_before_the_data(duck):
    # Nov 2022 – Mar 2023: nothing until s0 (Feb 2023, 35). Running total 0, 0, 0, 35, 35.
    got = rows(
        duck,
        metrics=["running_total", "sales_total"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "month", "date_range": ["2022-11", "2023-03"]}
        ],
    )
    assert [(r["sales.day.month"], r["running_total"], r["sales_total"]) for r in got] == [
        (D(2022, 11, 1), 0.0, 0.0),
        (D(2022, 12, 1), 0.0, 0.0),
        (D(2023, 1, 1), 0.0, 0.0),
        (D(2023, 2, 1), 35.0, 35.0),
        (D(2023, 3, 1), 35.0, 0.0),
    ]


def test_running_total_previous_year(duck):
    # 2024 Jan–Mar running totals 65, 135, 135 against 2023's 0, 35, 35.
    got = rows(
        duck,
        metrics=["running_total"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "month", "date_range": ["2024-01", "2024-03"]}
        ],
        compare="previous_year",
    )
    assert [
        (r["running_total"], r["running_total.previous"], r["running_total.delta"]) for r in got
    ] == [
        (65.0, 0.0, 65.0),
        (135.0, 35.0, 100.0),
        (135.0, 35.0, 100.0),
    ]


def test_running_total_past_the_data(duck):
    # May–Aug 2024: 185 (to April), 245 (+ June's 60), then 245, 245.
    got = rows(
        duck,
        metrics=["running_total"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "month", "date_range": ["2024-05", "2024-08"]}
        ],
    )
    assert [r["running_total"] for r in got] == [185.0, 245.0, 245.0, 245.0]


def test_cube_style_keys(duck):
    # Cube's spelling: "measures" for metrics, "dimension" for a filter's member.
    got = duck.run_query(
        {
            "measures": ["sales.total"],
            "dimensions": ["sales.account"],
            "filters": [{"dimension": "sales.channel", "operator": "equals", "value": "web"}],
        }
    ).data
    # web: A s0 35 + s1 10 = 45; B s3 30 + s6 60 = 90.
    assert got == [
        {"sales.account": "A", "sales.total": 45.0},
        {"sales.account": "B", "sales.total": 90.0},
    ]
