"""``churn_risk`` (seed 004, DESIGN.md §4) as hand-computed cases, on DuckDB and on Spark.

As-of date 2024-06-30. Expected gap = tenure_days / purchases; flagged when
days_since_last > 2 × gap and value > 1000; risk = min(days_since_last / gap, 10).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.frames import rows_by_customer, transactions

AS_OF = date(2024, 6, 1)
T = datetime

SOURCES = {
    "transactions": transactions(
        # late: 4 × 500 on Jan 1, 11, 21, 31. Tenure Jan 1 → Jun 30 = 181 days, gap 181/4 =
        # 45.25; 151 days since Jan 31 > 90.5 and 2000 > 1000: flagged;
        # risk 151 / 45.25 = 3.33702, priority × 2000 = 6674.03.
        *[("late", T(2024, 1, d, 10), 500) for d in (1, 11, 21, 31)],
        # capped: 20 × 100 on Jan 1 … 20. Gap 181/20 = 9.05; 162 days since Jan 20;
        # 162 / 9.05 = 17.9 → capped at 10; priority 10 × 2000 = 20000. Flagged.
        *[("capped", T(2024, 1, d, 10), 100) for d in range(1, 21)],
        # low: like late at 250 each: value 1000 is not > 1000 → not flagged; same score.
        *[("low", T(2024, 1, d, 10), 250) for d in (1, 11, 21, 31)],
        # edge: two payments on Apr 1: tenure = since = 90, gap 45, 90 = 2 × 45 is not
        # more → not flagged; risk 2.0, priority 2 × 1200 = 2400.
        ("edge", T(2024, 4, 1, 9), 600),
        ("edge", T(2024, 4, 1, 17), 600),
        # one: one purchase on Mar 15: tenure = since = 107, gap 107, risk 1.0, priority 5000.
        ("one", T(2024, 3, 15, 10), 5000),
        # today: one purchase on the as-of date: gap 0 → no risk score, not flagged.
        ("today", T(2024, 6, 30, 8), 2000),
        # refund: pays 3000 on Jan 1, refunded 3500: value −500 → not flagged although late
        # (gap 181, since 181: ratio 1.0), priority −500.
        ("refund", T(2024, 1, 1, 10), 3000),
        ("refund", T(2024, 1, 2, 10), 3500, "refund"),
    )
}


def test_expected_gap_score_priority_flag_and_rank(run_facts):
    facts = run_facts(SOURCES, AS_OF, only=["churn_risk"])
    risk = facts["churn_risk"]
    assert risk.columns[:7] == [
        "customer_id",
        "expected_gap_days",
        "days_since_last",
        "value",
        "risk_score",
        "priority",
        "flagged",
    ]
    got = rows_by_customer(risk)
    summary = {
        c: (
            row["expected_gap_days"],
            row["days_since_last"],
            row["value"],
            None if row["risk_score"] is None else round(row["risk_score"], 5),
            None if row["priority"] is None else round(row["priority"], 2),
            row["flagged"],
            row["risk_rank"],
        )
        for c, row in got.items()
    }
    assert summary == {
        "late": (45.25, 151, 2000.0, 3.33702, 6674.03, True, 2),
        "capped": (9.05, 162, 2000.0, 10.0, 20000.0, True, 1),
        "low": (45.25, 151, 1000.0, 3.33702, 3337.02, False, None),
        "edge": (45.0, 90, 1200.0, 2.0, 2400.0, False, None),
        "one": (107.0, 107, 5000.0, 1.0, 5000.0, False, None),
        "today": (0.0, 0, 2000.0, None, None, False, None),
        "refund": (181.0, 181, -500.0, 1.0, -500.0, False, None),
    }


def test_multiple_threshold_and_cap_follow_the_config(run_facts):
    facts = run_facts(
        SOURCES,
        AS_OF,
        only=["churn_risk"],
        analytics="{churn_risk: {gap_multiple: 1.5, min_value: 0, max_score: 3}}",
    )
    got = rows_by_customer(facts["churn_risk"])
    # Now > 1.5 × gap and value > 0: edge (90 > 67.5) and low join late and capped; one
    # (107 = 1 × gap) and refund (value −500) still do not. Scores are capped at 3, so
    # late and low score 3 (priority 6000 and 3000), capped 3 (6000), edge 2 (2400).
    # Ranks by priority, ties by customer_id: capped 6000, late 6000, low 3000, edge 2400.
    assert {c: row["risk_rank"] for c, row in got.items() if row["flagged"]} == {
        "capped": 1,
        "late": 2,
        "low": 3,
        "edge": 4,
    }
    assert got["late"]["risk_score"] == pytest.approx(3.0)
    assert got["edge"]["risk_score"] == pytest.approx(2.0)
