"""``customer_value`` (DESIGN.md §4) as hand-computed cases, on DuckDB and on Spark.

Expected values are worked out by hand in the comments; none comes from the
code under test. As-of month June 2024: the as-of date is 2024-06-30.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.frames import rows_by_customer, transactions

AS_OF = date(2024, 6, 1)

T = datetime
SOURCES = {
    "transactions": transactions(
        # one: a single payment, 107 days before 2024-06-30 (16 left in March + 30 + 31 + 30).
        ("one", T(2024, 3, 15, 10), 250),
        # refund: pays 100, then 150 is refunded: total −50, kept negative.
        ("refund", T(2024, 5, 1, 12), 100),
        ("refund", T(2024, 5, 10, 12), 150, "refund"),
        # mixed: processed payments 3000 + 1000 + 2000 + 4000, a processed refund of 500.
        ("mixed", T(2024, 1, 10, 8), 3000),
        ("mixed", T(2024, 4, 1, 8), 1000),  # 90 days before 06-30: outside the window
        ("mixed", T(2024, 4, 2, 9), 2000),  # 89 days before: inside
        ("mixed", T(2024, 6, 30, 23, 59, 59), 4000),  # on the as-of date: inside, 0 days
        ("mixed", T(2024, 6, 15), 500, "refund"),
        ("mixed", T(2024, 6, 1), 9999, "payment", "failed"),  # ignored
        ("mixed", T(2024, 6, 2), 8888, "payment", "pending"),  # ignored
        ("mixed", T(2024, 6, 16), 300, "refund", "failed"),  # ignored
        ("mixed", T(2024, 7, 1, 0, 0), 7777),  # after the as-of date: ignored
        # tier edges are inclusive: exactly 10000 is Platinum, 1000 Silver, 999.99 Bronze.
        ("plat", T(2024, 6, 30), 10000),
        ("silver", T(2024, 6, 1), 1000),
        ("bronze", T(2024, 6, 1), 999.99),
        # zero: a payment fully refunded: total 0, so trailing_share is null.
        ("zero", T(2024, 6, 10), 100),
        ("zero", T(2024, 6, 11), 100, "refund"),
        # No row for: only a refund, only a future payment, only a failed payment.
        ("refund_only", T(2024, 5, 5), 40, "refund"),
        ("future", T(2024, 7, 2), 500),
        ("failed_only", T(2024, 5, 5), 500, "payment", "failed"),
    )
}


def test_value_per_customer_with_refunds_statuses_tiers_and_trailing_window(run_facts):
    facts = run_facts(SOURCES, AS_OF, only=["customer_value"])
    value = facts["customer_value"]
    assert value.columns[:11] == [
        "customer_id",
        "total_spend",
        "avg_order_value",
        "order_count",
        "first_purchase_at",
        "last_purchase_at",
        "tenure_days",
        "days_since_last",
        "tier",
        "trailing_spend",
        "trailing_orders",
    ]
    got = rows_by_customer(value)
    assert sorted(got) == ["bronze", "mixed", "one", "plat", "refund", "silver", "zero"]

    one = got["one"]
    assert (one["total_spend"], one["avg_order_value"], one["order_count"]) == (250.0, 250.0, 1)
    assert one["first_purchase_at"] == one["last_purchase_at"] == T(2024, 3, 15, 10)
    assert (one["tenure_days"], one["days_since_last"], one["tier"]) == (107, 107, "Bronze")
    # 107 days ago is outside the 90-day window.
    assert (one["trailing_spend"], one["trailing_orders"]) == (0.0, 0)
    assert one["trailing_share"] == 0.0
    assert one["trailing_avg_order_value"] is None

    refund = got["refund"]
    # 100 − 150 = −50 over one order; 2024-05-01 → 06-30 is 60 days.
    assert (refund["total_spend"], refund["avg_order_value"], refund["order_count"]) == (
        -50.0,
        -50.0,
        1,
    )
    assert (refund["tenure_days"], refund["days_since_last"], refund["tier"]) == (60, 60, "Bronze")
    assert (refund["trailing_spend"], refund["trailing_orders"]) == (-50.0, 1)
    assert refund["trailing_share"] == 1.0

    mixed = got["mixed"]
    # 3000 + 1000 + 2000 + 4000 − 500 = 9500 over 4 orders = 2375; Gold (5000 ≤ 9500 < 10000).
    assert (mixed["total_spend"], mixed["avg_order_value"], mixed["order_count"]) == (
        9500.0,
        2375.0,
        4,
    )
    assert mixed["first_purchase_at"] == T(2024, 1, 10, 8)
    assert mixed["last_purchase_at"] == T(2024, 6, 30, 23, 59, 59)
    # 2024-01-10 → 06-30: 21 + 29 + 31 + 30 + 31 + 30 = 172 days.
    assert (mixed["tenure_days"], mixed["days_since_last"], mixed["tier"]) == (172, 0, "Gold")
    # Window 2024-04-02 … 06-30: 2000 + 4000 − 500 = 5500 from 2 orders.
    assert (mixed["trailing_spend"], mixed["trailing_orders"]) == (5500.0, 2)
    assert mixed["trailing_share"] == pytest.approx(5500 / 9500)
    assert mixed["trailing_avg_order_value"] == 2750.0

    assert (got["plat"]["tier"], got["plat"]["tenure_days"]) == ("Platinum", 0)
    assert got["silver"]["tier"] == "Silver"
    assert got["bronze"]["tier"] == "Bronze"

    zero = got["zero"]
    assert (zero["total_spend"], zero["trailing_spend"], zero["trailing_share"]) == (0.0, 0.0, None)


def test_tiers_and_trailing_window_follow_the_config(run_facts):
    facts = run_facts(
        SOURCES,
        AS_OF,
        only=["customer_value"],
        analytics="{tiers: {platinum: 9500, gold: 2000, silver: 500}, trailing_days: 30}",
    )
    got = rows_by_customer(facts["customer_value"])
    # 9500 is now exactly Platinum; 1000 is Silver ≥ 500 < 2000, as is 999.99; 250 Bronze.
    tiers = {c: row["tier"] for c, row in got.items()}
    assert tiers == {
        "bronze": "Silver",
        "mixed": "Platinum",
        "one": "Bronze",
        "plat": "Platinum",
        "refund": "Bronze",
        "silver": "Silver",
        "zero": "Bronze",
    }
    # 30-day window 2024-06-01 … 06-30: mixed has 4000 − 500 = 3500 from 1 order;
    # refund's May transactions (50 and 51 days ago) fall out; silver's 06-01 (29 days) is in.
    assert (got["mixed"]["trailing_spend"], got["mixed"]["trailing_orders"]) == (3500.0, 1)
    assert (got["refund"]["trailing_spend"], got["refund"]["trailing_orders"]) == (0.0, 0)
    assert (got["silver"]["trailing_spend"], got["silver"]["trailing_orders"]) == (1000.0, 1)
