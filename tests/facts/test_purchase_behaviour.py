"""``purchase_behaviour``, ``purchase_frequency`` and ``revenue_new_vs_returning`` by hand.

One data set, run once per engine (DuckDB and Spark); as-of date 2024-06-30.
Weekdays are ISO (1 = Monday … 7 = Sunday); 2024-01-01 was a Monday.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.frames import rows_by_customer, transactions

AS_OF = date(2024, 6, 1)
BEHAVIOUR_FACTS = ["purchase_behaviour", "purchase_frequency", "revenue_new_vs_returning"]
T = datetime

SOURCES = {
    "transactions": transactions(
        # even: 5 purchases of 100. Gaps in calendar days 1, 3, 10, 30 (an even count):
        # mean 44 / 4 = 11.0, median (3 + 10) / 2 = 6.5.
        # Weekdays Mon, Tue, Fri, Mon, Wed → 1. Hours 9, 9, 14, 14, 20 → tie 9/14 → 9.
        # Methods card 2, paypal 2, ach 1 → tie → card (alphabetical), share 2/5 = 0.4.
        ("even", T(2024, 1, 1, 9, 0), 100, "payment", "processed", "card"),
        ("even", T(2024, 1, 2, 9, 30), 100, "payment", "processed", "card"),
        ("even", T(2024, 1, 5, 14, 0), 100, "payment", "processed", "paypal"),
        ("even", T(2024, 1, 15, 14, 10), 100, "payment", "processed", "paypal"),
        ("even", T(2024, 2, 14, 20, 0), 100, "payment", "processed", "ach"),
        # Not purchases, so no Sunday, no 23:00, no wire for "even": a refund, failed
        # payments, a payment after the as-of date (2024-07-07 is a Sunday).
        ("even", T(2024, 1, 7, 23), 50, "refund", "processed", "wire"),
        *[("even", T(2024, 1, 14, 23), 100, "payment", "failed", "wire") for _ in range(3)],
        ("even", T(2024, 7, 7, 23), 100, "payment", "processed", "wire"),
        # A refund in June, a month without purchases: returning revenue −30.
        ("even", T(2024, 6, 15, 12), 30, "refund", "processed", "card"),
        # odd: 4 purchases of 10 on Sundays 03-03 23:59, 03-10 00:01, 03-31 12:00 and Monday
        # 03-11 23:00. Calendar gaps 7, 1, 20 → mean 28 / 3, median 7. Peak weekday 7 (Sunday),
        # peak hour 23 (twice): a timezone shift would move both. Two purchases name no
        # method; wire is 2 of the 2 known → share 1.0.
        ("odd", T(2024, 3, 3, 23, 59), 10, "payment", "processed", None),
        ("odd", T(2024, 3, 10, 0, 1), 10, "payment", "processed", None),
        ("odd", T(2024, 3, 11, 23, 0), 10, "payment", "processed", "wire"),
        ("odd", T(2024, 3, 31, 12, 0), 10, "payment", "processed", "wire"),
        # single: one purchase of 1000 on Sunday 2024-06-30 23:59:59: no gaps.
        ("single", T(2024, 6, 30, 23, 59, 59), 1000, "payment", "processed", "card"),
        # single2: one purchase of 7 on 2024-02-20.
        ("single2", T(2024, 2, 20, 8), 7, "payment", "processed", "card"),
        # sameday: two purchases of 20 on Wednesday 2024-05-01: one gap of 0 days.
        ("sameday", T(2024, 5, 1, 10, 0), 20, "payment", "processed", "ach"),
        ("sameday", T(2024, 5, 1, 10, 5), 20, "payment", "processed", "ach"),
        # refund_only: no purchase, so in none of the facts (its refund is not revenue here).
        ("refund_only", T(2024, 4, 10), 40, "refund", "processed", "card"),
    )
}


def test_behaviour_frequency_and_new_vs_returning(run_facts):
    facts = run_facts(SOURCES, AS_OF, only=BEHAVIOUR_FACTS)

    behaviour = rows_by_customer(facts["purchase_behaviour"])
    summary = {
        c: (
            row["purchases"],
            row["mean_days_between"],
            row["median_days_between"],
            row["peak_day_of_week"],
            row["peak_hour"],
            row["preferred_payment_method"],
            row["preferred_method_share"],
        )
        for c, row in behaviour.items()
    }
    assert summary.pop("odd")[1] == pytest.approx(28 / 3)
    assert summary == {
        "even": (5, 11.0, 6.5, 1, 9, "card", 0.4),
        "single": (1, None, None, 7, 23, "card", 1.0),
        "single2": (1, None, None, 2, 8, "card", 1.0),
        "sameday": (2, 0.0, 0.0, 3, 10, "ach", 1.0),
    }
    odd = behaviour["odd"]
    assert (odd["median_days_between"], odd["peak_day_of_week"], odd["peak_hour"]) == (7.0, 7, 23)
    assert (odd["preferred_payment_method"], odd["preferred_method_share"]) == ("wire", 1.0)

    # Purchases per customer: single 1, single2 1, sameday 2, odd 4, even 5 (of 5 customers).
    frequency = facts["purchase_frequency"].sort("order_count")
    assert frequency.select("order_count", "customers", "customer_share").rows() == [
        (1, 2, 0.4),
        (2, 1, 0.2),
        (4, 1, 0.2),
        (5, 1, 0.2),
    ]

    # By month, 2024-01 … 06 (April has no transactions but a row):
    # Jan: even's first month: 4 × 100 − refund 50 = 350 new, 1 customer.
    # Feb: even returns with 100; single2 is new with 7.
    # Mar: odd new, 4 × 10 = 40. May: sameday new, 40.
    # Jun: single new 1000; even's refund of 30 is returning revenue without a customer.
    months = facts["revenue_new_vs_returning"].sort("month")
    assert months.select(
        "month", "new_customers", "new_revenue", "returning_customers", "returning_revenue"
    ).rows() == [
        (date(2024, 1, 1), 1, 350.0, 0, 0.0),
        (date(2024, 2, 1), 1, 7.0, 1, 100.0),
        (date(2024, 3, 1), 1, 40.0, 0, 0.0),
        (date(2024, 4, 1), 0, 0.0, 0, 0.0),
        (date(2024, 5, 1), 1, 40.0, 0, 0.0),
        (date(2024, 6, 1), 1, 1000.0, 0, -30.0),
    ]
    assert months["total_revenue"].to_list() == [350.0, 107.0, 40.0, 0.0, 40.0, 970.0]
    assert months["new_revenue_share"][3] is None
    assert months["new_revenue_share"][5] == pytest.approx(1000 / 970)
