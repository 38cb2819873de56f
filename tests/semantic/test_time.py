"""The gap-free time spine, fixed date ranges and ranges relative to the as-of date.

Sales by month (data.py): Feb 2023 35; Jan 2024 10 + 20 = 30 (2 sales); Feb 30 + 40 = 70
(2); Mar none; Apr 50 (1); May none; Jun 60 (1, on Jun 30 at 18:00). The shared
workspace is as of 2024-06 (config), so relative ranges end on 2024-06-30.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.frames import lines
from tests.semantic.data import fill, rows

D = date
METRICS = ["sales.total", "sales.count", "sales.avg_amount"]


def series(ws, granularity, date_range, metrics=METRICS, dimension="sales.day"):
    td = {"dimension": dimension, "granularity": granularity, "date_range": date_range}
    return [tuple(r.values()) for r in rows(ws, metrics=metrics, time_dimensions=[td])]


def test_last_12_months_is_gap_free(sem):
    # Jul 2023 … Jun 2024 (12 months ending with the as-of month). Empty months: sum and
    # count 0, average null.
    empty = [(D(2023, m, 1), 0.0, 0, None) for m in range(7, 13)]
    assert series(sem, "month", "last 12 months") == [
        *empty,
        (D(2024, 1, 1), 30.0, 2, 15.0),
        (D(2024, 2, 1), 70.0, 2, 35.0),
        (D(2024, 3, 1), 0.0, 0, None),
        (D(2024, 4, 1), 50.0, 1, 50.0),
        (D(2024, 5, 1), 0.0, 0, None),
        (D(2024, 6, 1), 60.0, 1, 60.0),
    ]


def test_no_range_spans_the_data(duck):
    # Without a range the spine runs from the first sale's month (Feb 2023) to the last's
    # (Jun 2024): 17 months, 35 first and 60 last, totals 35 + 30 + 70 + 50 + 60 = 245.
    got = series(duck, "month", None, metrics=["sales.total"])
    assert len(got) == 17
    assert got[0] == (D(2023, 2, 1), 35.0)
    assert got[-1] == (D(2024, 6, 1), 60.0)
    assert sum(v for _, v in got) == 245.0


def test_fixed_range_is_inclusive(duck):
    # [2024-02-01, 2024-04-30] by month: Feb 70, Mar 0, Apr 50.
    assert series(duck, "month", ["2024-02-01", "2024-04-30"], ["sales.total"]) == [
        (D(2024, 2, 1), 70.0),
        (D(2024, 3, 1), 0.0),
        (D(2024, 4, 1), 50.0),
    ]


def test_range_end_day_includes_the_whole_day(duck):
    # s6 is at 2024-06-30 18:00: a range ending 2024-06-30 includes it.
    assert series(duck, "day", ["2024-06-29", "2024-06-30"], ["sales.total"]) == [
        (D(2024, 6, 29), 0.0),
        (D(2024, 6, 30), 60.0),
    ]


def test_weeks_start_on_monday(duck):
    # 2024-01-01 is a Monday. s1 (Wed Jan 10) in the week of Jan 8; s2 (Sat Jan 20) in the
    # week of Jan 15; the week of Jan 22 is empty.
    assert series(duck, "week", ["2024-01-08", "2024-01-28"], ["sales.total"]) == [
        (D(2024, 1, 8), 10.0),
        (D(2024, 1, 15), 20.0),
        (D(2024, 1, 22), 0.0),
    ]


def test_spine_crossed_with_a_dimension(sem):
    # By quarter and channel in 2024: Q1 web s1 10 + s3 30 = 40, shop s2 20, none s4 40;
    # Q2 web s6 60, shop s5 50, none → a row with 0.
    got = rows(
        sem,
        metrics=["sales.total"],
        dimensions=["sales.channel"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "quarter", "date_range": "this year"}
        ],
    )
    assert [(r["sales.day.quarter"], r["sales.channel"], r["sales.total"]) for r in got] == [
        (D(2024, 1, 1), "shop", 20.0),
        (D(2024, 1, 1), "web", 40.0),
        (D(2024, 1, 1), None, 40.0),
        (D(2024, 4, 1), "shop", 50.0),
        (D(2024, 4, 1), "web", 60.0),
        (D(2024, 4, 1), None, 0.0),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    # as of 2024-06-30 (a Sunday):
    [
        ("this quarter", 110.0),  # Apr 1 – Jun 30: 50 + 60
        ("last quarter", 100.0),  # Q1: 10 + 20 + 30 + 40
        ("last month", 0.0),  # May
        ("this month", 60.0),  # June
        ("month to date", 60.0),
        ("this year", 210.0),  # Jan–Jun 2024: 30 + 70 + 50 + 60
        ("year to date", 210.0),
        ("last year", 35.0),  # 2023: s0
        ("today", 60.0),  # Jun 30
        ("yesterday", 0.0),  # Jun 29
        ("last 7 days", 60.0),  # Jun 24–30
        ("last 2 weeks", 60.0),  # weeks of Jun 17 and Jun 24
        ("last 3 months", 110.0),  # Apr–Jun
        ("last 2 quarters", 210.0),  # Q1–Q2 2024
        ("last 2 years", 245.0),  # 2023–2024
    ],
)
def test_relative_ranges(duck, name, expected):
    got = rows(
        duck,
        metrics=["sales.total"],
        time_dimensions=[{"dimension": "sales.day", "date_range": name}],
    )
    assert got == [{"sales.total": expected}]


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_as_of_from_config(make_workspace):
    # as_of: 2024-03 → 2024-03-31; last 3 months = Jan–Mar 2024: 30, 70, 0.
    ws = fill(make_workspace(as_of="2024-03"))
    assert ws.as_of() == D(2024, 3, 31)
    assert series(ws, "month", "last 3 months", ["sales.total"]) == [
        (D(2024, 1, 1), 30.0),
        (D(2024, 2, 1), 70.0),
        (D(2024, 3, 1), 0.0),
    ]


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_as_of_from_the_latest_run_wins(make_workspace):
    # Config says 2024-06, the latest run was as of 2024-02 → 2024-02-29:
    # last 2 months = Jan–Feb 2024: 30, 70.
    ws = fill(make_workspace(as_of="2024-06"))
    ws.load({"subscription_lines": lines(("c1", D(2024, 1, 1), D(2024, 2, 1), 10))})
    ws.run(as_of=D(2024, 2, 1), only=["customer_mrr"])
    assert ws.as_of() == D(2024, 2, 29)
    assert series(ws, "month", "last 2 months", ["sales.total"]) == [
        (D(2024, 1, 1), 30.0),
        (D(2024, 2, 1), 70.0),
    ]


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_as_of_without_run_or_config_is_today(make_workspace):
    ws = make_workspace()
    assert ws.as_of() == date.today()
