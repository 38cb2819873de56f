"""``journey_funnel`` by hand, on DuckDB and Spark. As-of date 2024-06-30."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.c360_frames import as_loaded

AS_OF = date(2024, 6, 1)
T = datetime


def ev(cid: str, at: datetime, stage: str) -> dict:
    return {"customer_id": cid, "occurred_at": at, "stage": stage}


CUSTOMERS = as_loaded(
    "customers",
    [
        {"customer_id": "a", "segment": "SMB", "source_system": "billing"},
        {"customer_id": "b", "segment": "SMB", "source_system": "billing"},
        {"customer_id": "c", "segment": "Enterprise", "source_system": "billing"},
        {"customer_id": "d", "segment": "Enterprise", "signup_date": date(2024, 1, 10)},
        {"customer_id": "e", "source_system": "billing", "email": "e@e.com"},
        {"customer_id": "e2", "source_system": "crm", "email": "E@e.com"},
        {"customer_id": "f", "segment": "SMB"},  # no journey events: not in the funnel
    ],
)

EVENTS = as_loaded(
    "journey_events",
    [
        # a: onboarding after 2 days, first value after 5.5, paid after 10.
        ev("a", T(2024, 1, 1), "signup"),
        ev("a", T(2024, 1, 3), "onboarding"),
        ev("a", T(2024, 1, 6, 12), "first_value"),
        ev("a", T(2024, 1, 11), "paid"),
        # b: onboarding after 1 day.
        ev("b", T(2024, 1, 1), "signup"),
        ev("b", T(2024, 1, 2), "onboarding"),
        # c: paid after 20 days and expanded after 30 (Feb 1 → Mar 2, 2024 is a leap
        # year): it passed onboarding and first_value without events for them. Its
        # advocacy is after the as-of date.
        ev("c", T(2024, 2, 1), "signup"),
        ev("c", T(2024, 2, 21), "paid"),
        ev("c", T(2024, 3, 2), "expansion"),
        ev("c", T(2024, 7, 5), "advocacy"),
        # d: no signup event; onboarding 2.5 days after its signup_date (Jan 10).
        ev("d", T(2024, 1, 12, 12), "onboarding"),
        # e signed up under its CRM id.
        ev("e2", T(2024, 3, 1), "signup"),
    ],
)

# segment → per stage (customers, from first, from previous, avg days), worked out:
# SMB = {a, b}, Enterprise = {c, d}, Unknown = {e}, All = the five.
EXPECTED = {
    "SMB": [
        (2, 1.0, None, 0.0),
        (2, 1.0, 1.0, 1.5),  # (2 + 1) / 2
        (1, 0.5, 0.5, 5.5),
        (1, 0.5, 1.0, 10.0),
        (0, 0.0, 0.0, None),
        (0, 0.0, None, None),  # 0 / 0
    ],
    "Enterprise": [
        (2, 1.0, None, 0.0),  # d has no signup event: only c's 0 days
        (2, 1.0, 1.0, 2.5),  # c passed it; only d has the event: 2.5
        (1, 0.5, 0.5, None),  # c passed it, no event
        (1, 0.5, 1.0, 20.0),
        (1, 0.5, 1.0, 30.0),
        (0, 0.0, 0.0, None),
    ],
    "Unknown": [
        (1, 1.0, None, 0.0),
        (0, 0.0, 0.0, None),
        (0, 0.0, None, None),
        (0, 0.0, None, None),
        (0, 0.0, None, None),
        (0, 0.0, None, None),
    ],
    "All": [
        (5, 1.0, None, 0.0),
        (4, 0.8, 0.8, 11 / 6),  # (2 + 1 + 2.5) / 3
        (2, 0.4, 0.5, 5.5),
        (2, 0.4, 1.0, 15.0),  # (10 + 20) / 2
        (1, 0.2, 0.5, 30.0),
        (0, 0.0, 0.0, None),
    ],
}


def test_funnel_by_segment_by_hand(run_facts):
    facts = run_facts(
        {"customers": CUSTOMERS, "journey_events": EVENTS}, AS_OF, only=["journey_funnel"]
    )
    funnel = facts["journey_funnel"]
    assert funnel.columns == [
        "segment",
        "stage",
        "stage_order",
        "customers",
        "conversion_from_first",
        "conversion_from_previous",
        "avg_days_from_signup",
    ]
    got: dict[str, list] = {}
    for row in funnel.sort("segment", "stage_order").iter_rows(named=True):
        got.setdefault(row["segment"], []).append(row)
    assert sorted(got) == sorted(EXPECTED)
    for segment, rows in got.items():
        assert [r["stage"] for r in rows] == [
            "signup",
            "onboarding",
            "first_value",
            "paid",
            "expansion",
            "advocacy",
        ]
        for row, (customers, first, previous, days) in zip(rows, EXPECTED[segment], strict=True):
            where = f"{segment} {row['stage']}"
            assert row["customers"] == customers, where
            assert row["conversion_from_first"] == pytest.approx(first), where
            assert row["conversion_from_previous"] == pytest.approx(previous), where
            assert row["avg_days_from_signup"] == pytest.approx(days), where
