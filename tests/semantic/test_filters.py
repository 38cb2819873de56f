"""Every filter operator, and/or nesting, measure filters and the null rule.

Each case asks for the sale ids a filter keeps and compares them with ids picked by
hand from the sales table (data.py)::

    id  account day               amount channel note          big (amount >= 40)
    s0  A       2023-02-14 10:00  35     web     old           false
    s1  A       2024-01-10 10:00  10     web     promo spring  false
    s2  A       2024-01-20 10:00  20     shop    -             false
    s3  B       2024-02-05 09:00  30     web     VIP           false
    s4  C       2024-02-25 10:00  40     -       promo         true
    s5  A       2024-04-15 10:00  50     shop    vip promo     true
    s6  B       2024-06-30 18:00  60     web     -             true

Null rule (query.NEGATIVE): negative operators (notEquals, notIn, notContains) keep
rows whose value is null; positive ones never match null; set / notSet test null.
String matching (contains, startsWith, endsWith) ignores case.
"""

from __future__ import annotations

import pytest

from custlens.errors import QueryError
from custlens.semantic.query import NEGATIVE, OPERATORS
from tests.semantic.data import rows

ALL = {"s0", "s1", "s2", "s3", "s4", "s5", "s6"}


def kept(ws, *filters):
    got = rows(ws, metrics=["sales.count"], dimensions=["sales.id"], filters=list(filters))
    assert all(r["sales.count"] == 1 for r in got)
    return {r["sales.id"] for r in got}


def f(member, operator, value=None):
    out = {"member": f"sales.{member}", "operator": operator}
    if value is not None:
        out["value"] = value
    return out


CASES = [
    (f("channel", "equals", "web"), {"s0", "s1", "s3", "s6"}),
    (f("channel", "notEquals", "web"), {"s2", "s4", "s5"}),  # s4: null channel kept
    (f("channel", "in", ["web", "shop"]), ALL - {"s4"}),  # null never "in"
    (f("channel", "notIn", ["shop"]), {"s0", "s1", "s3", "s4", "s6"}),  # null kept
    (f("amount", "equals", 30), {"s3"}),
    (f("amount", "notEquals", "30"), ALL - {"s3"}),  # a number given as text
    (f("amount", "in", [10, "20"]), {"s1", "s2"}),
    (f("amount", "notIn", [10, 20, 30]), {"s0", "s4", "s5", "s6"}),
    (f("amount", "gt", 40), {"s5", "s6"}),
    (f("amount", "gte", 40), {"s4", "s5", "s6"}),
    (f("amount", "lt", 20), {"s1"}),
    (f("amount", "lte", 20), {"s1", "s2"}),
    (f("amount", "between", [20, 40]), {"s0", "s2", "s3", "s4"}),  # both ends included
    (f("day", "between", ["2024-01-15", "2024-02-25"]), {"s2", "s3", "s4"}),
    (f("note", "contains", "promo"), {"s1", "s4", "s5"}),
    (f("note", "contains", "vip"), {"s3", "s5"}),  # "VIP" matches: case ignored
    (f("note", "notContains", "promo"), {"s0", "s2", "s3", "s6"}),  # s2, s6: null kept
    (f("note", "startsWith", "promo"), {"s1", "s4"}),
    (f("note", "endsWith", "PROMO"), {"s4", "s5"}),
    (f("note", "set"), {"s0", "s1", "s3", "s4", "s5"}),
    (f("note", "notSet"), {"s2", "s6"}),
    (f("channel", "notSet"), {"s4"}),
    (f("day", "inDateRange", ["2024-02-01", "2024-04-30"]), {"s3", "s4", "s5"}),
    (f("day", "inDateRange", "last 3 months"), {"s5", "s6"}),  # Apr–Jun 2024
    (f("day", "inDateRange", ["2024-06-30", "2024-06-30"]), {"s6"}),  # 18:00 is in the day
    (f("day", "beforeDate", "2024-02-05"), {"s0", "s1", "s2"}),  # s3 is on, not before
    (f("day", "afterDate", "2024-02-25"), {"s5", "s6"}),  # s4 is on, not after
    (f("day", "equals", "2024-01-10"), {"s1"}),  # a time compared by its day
    (f("day", "gte", "2024-04-15"), {"s5", "s6"}),
    (f("big", "equals", True), {"s4", "s5", "s6"}),
    (f("big", "equals", "false"), {"s0", "s1", "s2", "s3"}),
    (f("big", "notEquals", True), {"s0", "s1", "s2", "s3"}),
    # LIKE wildcards in a value are plain characters
    (f("note", "contains", "%"), set()),
    (f("note", "startsWith", "_romo"), set()),
    (f("note", "endsWith", "_"), set()),
    (f("note", "notContains", "%"), ALL),
    # through the join to accounts: B and C are silver
    ({"member": "accounts.tier", "operator": "equals", "value": "silver"}, {"s3", "s4", "s6"}),
]


def case_id(value: object) -> str:
    # Sets print in hash order, which differs between processes (pytest-xdist workers).
    return str(sorted(value)) if isinstance(value, set) else str(value)


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=case_id)
def test_operator(duck, condition, expected):
    assert kept(duck, condition) == expected


def test_every_operator_is_covered():
    used = {c["operator"] for c, _ in CASES}
    assert used == set(OPERATORS)
    assert set(NEGATIVE) == {"notEquals", "notIn", "notContains"}


SPARK_CASES = [
    case
    for case in CASES
    if (case[0]["operator"], str(case[0].get("value")))
    in {
        ("notEquals", "web"),
        ("notIn", "['shop']"),
        ("notContains", "promo"),
        ("startsWith", "_romo"),
        ("endsWith", "PROMO"),
        ("inDateRange", "['2024-06-30', '2024-06-30']"),
        ("afterDate", "2024-02-25"),
    }
]


def test_operators_on_spark(sem):
    # The null rule, case-folding, wildcards and time bounds, on each backend.
    assert len(SPARK_CASES) == 7
    for condition, expected in SPARK_CASES:
        assert kept(sem, condition) == expected, condition


def test_filters_are_anded(duck):
    # web and amount > 20: s0 (35), s3 (30), s6 (60).
    assert kept(duck, f("channel", "equals", "web"), f("amount", "gt", 20)) == {"s0", "s3", "s6"}


def test_or_and_nesting(duck):
    # shop (s2, s5) or (amount > 35 and note set: s4, s5) → s2, s4, s5.
    nested = {
        "or": [f("channel", "equals", "shop"), {"and": [f("amount", "gt", 35), f("note", "set")]}]
    }
    assert kept(duck, nested) == {"s2", "s4", "s5"}
    # (account A or C: s0, s1, s2, s4, s5) and note not set (s2, s6) → s2.
    nested = {
        "and": [
            {"or": [f("account", "equals", "A"), f("account", "equals", "C")]},
            f("note", "notSet"),
        ]
    }
    assert kept(duck, nested) == {"s2"}


# -- measure filters: after aggregation ------------------------------------------------
# Totals by account: A 35 + 10 + 20 + 50 = 115 (4 sales), B 30 + 60 = 90 (2), C 40 (1).


def by_account(ws, metrics, *filters):
    got = rows(ws, metrics=metrics, dimensions=["sales.account"], filters=list(filters))
    return {r["sales.account"]: tuple(r[m] for m in metrics) for r in got}


def test_measure_filter_applies_after_aggregation(sem):
    # total > 50 keeps A (115) and B (90); a row filter amount > 50 would keep only s6.
    got = by_account(sem, ["sales.total"], {"member": "sales.total", "operator": "gt", "value": 50})
    assert got == {"A": (115.0,), "B": (90.0,)}


def test_filter_on_a_metric_not_asked_for(duck):
    # filter on sales_total ≥ 90 while asking only for the count: A 4, B 2.
    got = by_account(
        duck, ["sales_count"], {"member": "sales_total", "operator": "gte", "value": 90}
    )
    assert got == {"A": (4,), "B": (2,)}


def test_measure_filter_on_a_ratio_and_or(duck):
    # avg_sale: A 115 / 4 = 28.75, B 45, C 40 → lt 40 keeps A.
    got = by_account(duck, ["avg_sale"], {"member": "avg_sale", "operator": "lt", "value": 40})
    assert got == {"A": (28.75,)}
    # total < 50 (C) or count ≥ 4 (A).
    either = {
        "or": [
            {"member": "sales.total", "operator": "lt", "value": 50},
            {"member": "sales.count", "operator": "gte", "value": 4},
        ]
    }
    assert set(by_account(duck, ["sales.total"], either)) == {"A", "C"}


def test_measure_filter_with_a_dimension_filter(duck):
    # Row filter first (web only: A 35 + 10 = 45, B 30 + 60 = 90), then total > 50 → B.
    got = by_account(
        duck,
        ["sales.total"],
        f("channel", "equals", "web"),
        {"member": "sales.total", "operator": "gt", "value": 50},
    )
    assert got == {"B": (90.0,)}


def test_measure_filter_drops_empty_months(duck):
    # 2024 H1 by month with total > 0: the empty March and May go.
    got = rows(
        duck,
        metrics=["sales_total"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "month", "date_range": ["2024-01", "2024-06"]}
        ],
        filters=[{"member": "sales_total", "operator": "gt", "value": 0}],
    )
    assert [(r["sales.day.month"].month, r["sales_total"]) for r in got] == [
        (1, 30.0),
        (2, 70.0),
        (4, 50.0),
        (6, 60.0),
    ]


def test_a_group_may_not_mix_dimensions_and_measures(duck):
    mixed = {
        "or": [
            f("channel", "equals", "web"),
            {"member": "sales.total", "operator": "gt", "value": 1},
        ]
    }
    with pytest.raises(QueryError, match=r"filters\.0"):
        kept(duck, mixed)
