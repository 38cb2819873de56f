"""cohort_retention by hand: both cohort kinds, gap-free triangles, refunds, on DuckDB and Spark.

Every expected row is worked out in the comments; none comes from the code
under test.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from custlens.sources.contract import TABLES
from custlens.sources.load import POLARS_TYPES

D, T = date, datetime

COLUMNS = [
    "cohort_kind",
    "cohort_month",
    "months_since",
    "cohort_customers",
    "active_customers",
    "logo_retention",
    "revenue",
    "revenue_retention",
    "orders",
]


def as_loaded(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as the loader leaves it: every contract column, absent ones at their default."""
    return frame.with_columns(
        pl.lit(c.default, dtype=POLARS_TYPES[c.type]).alias(c.name)
        for c in TABLES[table].columns
        if c.name not in frame.columns
    )


def mrr(*rows: tuple[str, date, float]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"customer_id": pl.String, "month": pl.Date, "mrr": pl.Float64}, orient="row"
    )


def transactions(*rows: tuple[str, datetime, float, str, str]) -> pl.DataFrame:
    """transactions from (customer, created_at, amount, type, status); ids by position."""
    frame = pl.DataFrame(
        [(f"t{i}", *row) for i, row in enumerate(rows)],
        schema={
            "transaction_id": pl.String,
            "customer_id": pl.String,
            "created_at": pl.Datetime("us"),
            "amount": pl.Float64,
            "type": pl.String,
            "status": pl.String,
        },
        orient="row",
    )
    return as_loaded("transactions", frame)


def triangle(facts: dict[str, pl.DataFrame], kind: str) -> list[tuple]:
    frame = facts["cohort_retention"].filter(pl.col("cohort_kind") == kind)
    return [
        tuple(row[c] for c in COLUMNS[1:])
        for row in frame.sort("cohort_month", "months_since").iter_rows(named=True)
    ]


def approx_rows(rows: list[tuple]) -> list[tuple]:
    return [tuple(pytest.approx(v) if isinstance(v, float) else v for v in r) for r in rows]


SUBSCRIPTIONS = mrr(
    # a: Jan 100, Feb 100, nothing in Mar, back in Apr at 120 → cohort Jan.
    ("a", D(2024, 1, 1), 100),
    ("a", D(2024, 2, 1), 100),
    ("a", D(2024, 4, 1), 120),
    # b: Jan 50 only → cohort Jan, gone from Feb. So nobody of Jan is active in March.
    ("b", D(2024, 1, 1), 50),
    # c: 200 from Feb → cohort Feb.
    ("c", D(2024, 2, 1), 200),
    ("c", D(2024, 3, 1), 200),
    ("c", D(2024, 4, 1), 200),
    # e: a row of 0 never makes a cohort.
    ("e", D(2024, 3, 1), 0),
)

TRANSACTIONS = transactions(
    # p: two payments in Jan (150); a refund of 30 alone in Feb; in Mar a payment of
    # 80 and a refund of 200, larger than it (−120); nothing in Apr → cohort Jan.
    ("p", T(2024, 1, 10, 9), 100, "payment", "processed"),
    ("p", T(2024, 1, 20, 9), 50, "payment", "processed"),
    ("p", T(2024, 2, 14, 9), 30, "refund", "processed"),
    ("p", T(2024, 3, 2, 9), 80, "payment", "processed"),
    ("p", T(2024, 3, 9, 9), 200, "refund", "processed"),
    # s: one payment of 70 on Jan 31 late in the evening → cohort Jan; a payment after
    # the as-of date (Apr 30) is ignored; a refund before its first payment is dropped.
    ("s", T(2023, 12, 20, 9), 15, "refund", "processed"),
    ("s", T(2024, 1, 31, 23, 30), 70, "payment", "processed"),
    ("s", T(2024, 5, 2, 9), 999, "payment", "processed"),
    # q: a failed payment in Jan does not make it a January customer; 40 in Feb
    # (cohort Feb); a pending payment in Mar is nothing; 60 in Apr.
    ("q", T(2024, 1, 5, 9), 500, "payment", "failed"),
    ("q", T(2024, 2, 3, 9), 40, "payment", "processed"),
    ("q", T(2024, 3, 3, 9), 45, "payment", "pending"),
    ("q", T(2024, 4, 3, 9), 60, "payment", "processed"),
    # r: only a refund, never a payment → in no cohort.
    ("r", T(2024, 2, 1, 9), 25, "refund", "processed"),
    # z: pays 50 and gets it all back in Mar (cohort Mar, revenue 0 in its first
    # month), then pays 20 in Apr: revenue retention has no base, so it is null.
    ("z", T(2024, 3, 1, 9), 50, "payment", "processed"),
    ("z", T(2024, 3, 15, 9), 50, "refund", "processed"),
    ("z", T(2024, 4, 15, 9), 20, "payment", "processed"),
)


def test_both_cohort_kinds_by_hand(run_facts):
    facts = run_facts(
        {"customer_mrr": SUBSCRIPTIONS, "transactions": TRANSACTIONS},
        D(2024, 4, 1),
        only=["cohort_retention"],
    )
    assert facts["cohort_retention"].columns[: len(COLUMNS)] == COLUMNS
    # (cohort, since, customers, active, logo, revenue, revenue retention, orders)
    assert triangle(facts, "subscription") == approx_rows(
        [
            # Jan cohort {a, b}: 150 in Jan; a alone in Feb (100 / 150); nobody in
            # Mar, still a row; a again in Apr (120 / 150 = 0.8).
            (D(2024, 1, 1), 0, 2, 2, 1.0, 150.0, 1.0, None),
            (D(2024, 1, 1), 1, 2, 1, 0.5, 100.0, 100 / 150, None),
            (D(2024, 1, 1), 2, 2, 0, 0.0, 0.0, 0.0, None),
            (D(2024, 1, 1), 3, 2, 1, 0.5, 120.0, 0.8, None),
            # Feb cohort {c}: 200 every month.
            (D(2024, 2, 1), 0, 1, 1, 1.0, 200.0, 1.0, None),
            (D(2024, 2, 1), 1, 1, 1, 1.0, 200.0, 1.0, None),
            (D(2024, 2, 1), 2, 1, 1, 1.0, 200.0, 1.0, None),
        ]
    )
    assert triangle(facts, "transaction") == approx_rows(
        [
            # Jan cohort {p, s}: 150 + 70 = 220 from 3 payments; Feb: only p's refund
            # (−30 / 220, nobody active); Mar: p pays 80 and gets 200 back
            # (−120 / 220, 1 active, 1 order); Apr: nobody, a row of zeros.
            (D(2024, 1, 1), 0, 2, 2, 1.0, 220.0, 1.0, 3),
            (D(2024, 1, 1), 1, 2, 0, 0.0, -30.0, -30 / 220, 0),
            (D(2024, 1, 1), 2, 2, 1, 0.5, -120.0, -120 / 220, 1),
            (D(2024, 1, 1), 3, 2, 0, 0.0, 0.0, 0.0, 0),
            # Feb cohort {q}: 40; the pending payment leaves Mar empty; 60 in Apr (1.5).
            (D(2024, 2, 1), 0, 1, 1, 1.0, 40.0, 1.0, 1),
            (D(2024, 2, 1), 1, 1, 0, 0.0, 0.0, 0.0, 0),
            (D(2024, 2, 1), 2, 1, 1, 1.0, 60.0, 1.5, 1),
            # Mar cohort {z}: 50 − 50 = 0 in its first month → no base for revenue retention.
            (D(2024, 3, 1), 0, 1, 1, 1.0, 0.0, None, 1),
            (D(2024, 3, 1), 1, 1, 1, 1.0, 20.0, None, 1),
        ]
    )


def test_transactions_alone_make_transaction_cohorts_only(run_facts):
    # Without MRR data there is no customer_mrr fact; the cohorts still run on
    # transactions alone.
    tx = transactions(
        ("k", T(2024, 5, 6, 9), 30, "payment", "processed"),
        ("k", T(2024, 6, 6, 9), 45, "payment", "processed"),
        ("m", T(2024, 6, 7, 9), 10, "payment", "processed"),
    )
    facts = run_facts({"transactions": tx}, D(2024, 6, 1), only=["cohort_retention"])
    assert "customer_mrr" not in facts
    assert set(facts["cohort_retention"]["cohort_kind"]) == {"transaction"}
    assert triangle(facts, "transaction") == approx_rows(
        [
            # May {k}: 30, then 45 in Jun (1.5). Jun {m}: 10.
            (D(2024, 5, 1), 0, 1, 1, 1.0, 30.0, 1.0, 1),
            (D(2024, 5, 1), 1, 1, 1, 1.0, 45.0, 1.5, 1),
            (D(2024, 6, 1), 0, 1, 1, 1.0, 10.0, 1.0, 1),
        ]
    )
