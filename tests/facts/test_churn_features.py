"""``churn_features`` (seed 002) worked out by hand, on DuckDB and Spark.

As-of month 2024-06: the as-of date A is 2024-06-30; "ago" is the number of
days from an event's date to A. u2 is a CRM record of u (same email): its
activity counts for u.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.c360_frames import as_loaded
from tests.frames import lines, rows_by_customer, transactions

AS_OF = date(2024, 6, 1)
T, D = datetime, date


def login(cid: str, at: datetime) -> dict:
    return {"customer_id": cid, "occurred_at": at, "event_type": "login"}


def use(cid: str, at: datetime, feature: str) -> dict:
    return {"customer_id": cid, "occurred_at": at, "event_type": "feature_use", "feature": feature}


CUSTOMERS = as_loaded(
    "customers",
    [
        {"customer_id": "u", "source_system": "billing", "email": "ops@umbrella.com"},
        {"customer_id": "u2", "source_system": "crm", "email": "OPS@umbrella.com"},
        {"customer_id": "v", "source_system": "billing"},
        {"customer_id": "w", "source_system": "billing"},
        {"customer_id": "z", "source_system": "billing"},
    ],
)

USAGE = as_loaded(
    "usage_events",
    [
        # u: logins ago 2 and 20 (last 30 days: 2), ago 41 and 51 (u2) (prior 30: 2);
        # ago 66 counts for neither; Jul 2 is after A. 2 vs 2: stable.
        login("u", T(2024, 6, 28, 10)),
        login("u", T(2024, 6, 10, 9)),
        login("u", T(2024, 5, 20, 9)),
        login("u2", T(2024, 5, 10, 9)),
        login("u", T(2024, 4, 25, 9)),
        login("u", T(2024, 7, 2, 9)),
        # u's features in the last 90 days: reports (ago 29), dashboards (u2, ago 76);
        # api is 121 days ago. → 2 of the product's 4 (reports, api, dashboards, mobile_app).
        use("u", T(2024, 6, 1, 9), "reports"),
        use("u", T(2024, 3, 1, 9), "api"),
        use("u2", T(2024, 4, 15, 9), "dashboards"),
        use("u", T(2024, 7, 3, 9), "automations"),  # after A: not part of the product yet
        # w: 3 logins ago 1, 5, 9 against 1 ago 45: increasing; mobile_app → 1/4.
        login("w", T(2024, 6, 29, 23, 59)),
        login("w", T(2024, 6, 25, 9)),
        login("w", T(2024, 6, 21, 9)),
        login("w", T(2024, 5, 16, 9)),
        use("w", T(2024, 6, 15, 9), "mobile_app"),
        # v: 1 login ago 10 against 4 ago 31..34: 1 < 0.5 × 4 → declining.
        login("v", T(2024, 6, 20, 9)),
        *[login("v", T(2024, 5, d, 9)) for d in (27, 28, 29, 30)],
    ],
)

TICKETS = as_loaded(
    "support_tickets",
    [
        # u, last 90 days: T1 (ago 10, 4 h, +0.5), T2 (ago 60, 26 h, −0.3), T4 (u2, ago 5,
        # open, no sentiment), T5 (ago 1, −0.8, resolved after A: not resolved yet).
        # tickets 4; sentiment mean (0.5 − 0.3 − 0.8) / 3 = −0.2; resolution (4 + 26) / 2
        # = 15 h; latest sentiment T5's −0.8. T3 (ago 121) and T6 (after A) do not count.
        {"ticket_id": "T1", "customer_id": "u", "opened_at": T(2024, 6, 20, 8),
         "resolved_at": T(2024, 6, 20, 12), "sentiment": 0.5},
        {"ticket_id": "T2", "customer_id": "u", "opened_at": T(2024, 5, 1, 0),
         "resolved_at": T(2024, 5, 2, 2), "sentiment": -0.3},
        {"ticket_id": "T3", "customer_id": "u", "opened_at": T(2024, 3, 1, 0),
         "resolved_at": T(2024, 3, 1, 1), "sentiment": 0.9},
        {"ticket_id": "T4", "customer_id": "u2", "opened_at": T(2024, 6, 25, 9)},
        {"ticket_id": "T5", "customer_id": "u", "opened_at": T(2024, 6, 29, 10),
         "resolved_at": T(2024, 7, 1, 10), "sentiment": -0.8},
        {"ticket_id": "T6", "customer_id": "u", "opened_at": T(2024, 7, 5, 10),
         "sentiment": 1.0},
        # w: one old ticket (ago 150): latest sentiment 0.4, nothing in 90 days.
        {"ticket_id": "T7", "customer_id": "w", "opened_at": T(2024, 2, 1, 10),
         "resolved_at": T(2024, 2, 1, 11), "sentiment": 0.4},
    ],
)  # fmt: skip

TRANSACTIONS = transactions(
    # u: one failed payment ago 29 (counts), one ago 107 (too old), one processed.
    ("u", T(2024, 6, 1, 9), 100, "payment", "failed"),
    ("u", T(2024, 3, 15, 9), 100, "payment", "failed"),
    ("u", T(2024, 6, 2, 9), 100),
    ("w", T(2024, 6, 2, 9), 1200),
)

LINES = lines(
    # u: monthly line Jun 15 → Jul 15 covers A: renewal in 15 days (< 60: ending soon).
    ("u", D(2024, 6, 15), D(2024, 7, 15), 100.0),
    # w: annual line to 2025-01-01: 185 days (Jul 31 + Aug 31 + Sep 30 + Oct 31 + Nov 30
    # + Dec 31 + 1 = 185).
    ("w", D(2024, 1, 1), D(2025, 1, 1), 1200.0),
    # v: ends on A (end exclusive): no current line.
    ("v", D(2024, 5, 30), D(2024, 6, 30), 50.0),
)

NPS = as_loaded(
    "nps_responses",
    [
        {"customer_id": "u", "responded_at": T(2024, 2, 1, 9), "score": 9},
        {"customer_id": "u2", "responded_at": T(2024, 6, 2, 9), "score": 6},
        {"customer_id": "u", "responded_at": T(2024, 7, 3, 9), "score": 10},  # after A
    ],
)

SOURCES = {
    "customers": CUSTOMERS,
    "usage_events": USAGE,
    "support_tickets": TICKETS,
    "transactions": TRANSACTIONS,
    "subscription_lines": LINES,
    "nps_responses": NPS,
}


def test_each_feature_by_hand(run_facts):
    facts = run_facts(SOURCES, AS_OF, only=["churn_features"])
    got = rows_by_customer(facts["churn_features"])
    assert sorted(got) == ["u", "v", "w", "z"]  # u2 is u
    u, v, w, z = got["u"], got["v"], got["w"], got["z"]

    assert u["last_login_at"] == T(2024, 6, 28, 10)
    assert [r["days_since_last_login"] for r in (u, v, w, z)] == [2, 10, 1, None]
    assert [(r["logins_30d"], r["logins_prior_30d"]) for r in (u, v, w, z)] == [
        (2, 2),
        (1, 4),
        (3, 1),
        (0, 0),
    ]
    assert [r["login_trend"] for r in (u, v, w, z)] == [
        "stable",
        "declining",
        "increasing",
        "stable",
    ]
    assert [(r["features_used_90d"], r["product_features"]) for r in (u, v, w, z)] == [
        (2, 4),
        (0, 4),
        (1, 4),
        (0, 4),
    ]
    assert [r["feature_adoption"] for r in (u, v, w, z)] == [0.5, 0.0, 0.25, 0.0]

    assert u["tickets_90d"] == 4
    assert u["sentiment_90d"] == pytest.approx(-0.2)
    assert u["latest_sentiment"] == pytest.approx(-0.8)
    assert u["avg_resolution_hours"] == pytest.approx(15.0)
    assert (w["tickets_90d"], w["sentiment_90d"], w["latest_sentiment"]) == (0, None, 0.4)
    assert (z["tickets_90d"], z["latest_sentiment"], z["avg_resolution_hours"]) == (0, None, None)

    assert [(r["failed_payments_90d"], r["payment_issues"]) for r in (u, v, w, z)] == [
        (1, True),
        (0, False),
        (0, False),
        (0, False),
    ]
    assert [(r["days_until_renewal"], r["contract_ending_soon"]) for r in (u, v, w, z)] == [
        (15, True),
        (None, None),
        (185, False),
        (None, None),
    ]
    assert (u["latest_nps"], u["latest_nps_at"]) == (6, T(2024, 6, 2, 9))
    assert w["latest_nps"] is None


def test_sources_not_loaded_give_null_features(run_facts):
    facts = run_facts({"customers": CUSTOMERS, "transactions": TRANSACTIONS}, AS_OF,
                      only=["churn_features"])  # fmt: skip
    got = rows_by_customer(facts["churn_features"])
    assert got["u"]["login_trend"] is None and got["u"]["feature_adoption"] is None
    assert got["u"]["tickets_90d"] is None and got["u"]["latest_nps"] is None
    assert got["u"]["failed_payments_90d"] == 1
