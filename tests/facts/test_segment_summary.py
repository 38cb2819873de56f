"""segment_summary by hand, and summarise_by another dimension, on DuckDB and Spark.

Every expected value is worked out in the comments; none comes from the code
under test.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from custlens import pipeline
from custlens.calendar import month_end
from custlens.errors import NotFoundError
from custlens.facts import FactContext
from custlens.facts.segment_summary import summarise_by
from custlens.sources.contract import TABLES
from custlens.sources.load import POLARS_TYPES

D, T = date, datetime

COLUMNS = [
    "customers",
    "paying_customers",
    "current_mrr",
    "total_revenue",
    "revenue_basis",
    "avg_lifetime_value",
    "starting_customers",
    "churned_customers",
    "monthly_churn_rate",
]


def as_loaded(table: str, rows: list[dict]) -> pl.DataFrame:
    """A source frame as the loader leaves it: every contract column, typed, absent ones null."""
    schema = {c.name: POLARS_TYPES[c.type] for c in TABLES[table].columns}
    frame = pl.DataFrame(rows, schema={k: v for k, v in schema.items() if k in rows[0]})
    return frame.with_columns(
        pl.lit(c.default, dtype=schema[c.name]).alias(c.name)
        for c in TABLES[table].columns
        if c.name not in frame.columns
    )


CUSTOMERS = as_loaded(
    "customers",
    [
        {"customer_id": "a", "segment": "Enterprise", "region": "EU"},
        {"customer_id": "b", "segment": "Enterprise", "region": "US"},
        {"customer_id": "c", "segment": "SMB", "region": "US"},
        {"customer_id": "d", "segment": None, "region": "EU"},  # never paid
        {"customer_id": "e", "segment": "SMB", "region": None},
    ],
)

MRR = as_loaded(
    "customer_mrr",
    [
        # a: 1000, 1000, 1200 → lifetime 3200; paying in Mar; paying at its start.
        {"customer_id": "a", "month": D(2024, 1, 1), "mrr": 1000.0},
        {"customer_id": "a", "month": D(2024, 2, 1), "mrr": 1000.0},
        {"customer_id": "a", "month": D(2024, 3, 1), "mrr": 1200.0},
        # b: 500, 500, then nothing: churns in March (the as-of month) → lifetime 1000.
        {"customer_id": "b", "month": D(2024, 1, 1), "mrr": 500.0},
        {"customer_id": "b", "month": D(2024, 2, 1), "mrr": 500.0},
        # c: 100 from Feb → 200.
        {"customer_id": "c", "month": D(2024, 2, 1), "mrr": 100.0},
        {"customer_id": "c", "month": D(2024, 3, 1), "mrr": 100.0},
        # e: 50 in Jan, churned in Feb (before the as-of month) → 50.
        {"customer_id": "e", "month": D(2024, 1, 1), "mrr": 50.0},
        # x: no customer record: new in Mar at 10, counted under Unknown.
        {"customer_id": "x", "month": D(2024, 3, 1), "mrr": 10.0},
    ],
)


def transactions(rows: list[tuple[str, datetime, float, str, str]]) -> pl.DataFrame:
    return as_loaded(
        "transactions",
        [
            {
                "transaction_id": f"t{i}",
                "customer_id": c,
                "created_at": at,
                "amount": amount,
                "type": kind,
                "status": status,
            }
            for i, (c, at, amount, kind, status) in enumerate(rows)
        ],
    )


def rows_by(frame: pl.DataFrame, key: str) -> dict[str, tuple]:
    return {row[key]: tuple(row[c] for c in COLUMNS) for row in frame.iter_rows(named=True)}


def test_segments_and_regions_from_mrr(make_workspace):
    ws = make_workspace()
    ws.warehouse.write_tables(
        {
            "src_customers": CUSTOMERS,
            "src_customer_mrr": MRR,
            # Transactions are loaded too, but with MRR the revenue basis is MRR.
            "src_transactions": transactions(
                [("a", T(2024, 3, 5), 99_999.0, "payment", "processed")]
            ),
        }
    )
    # The pipeline alone (no rollups), for the two facts read here.
    pipeline.run(
        ws.warehouse, ws.config, as_of=D(2024, 3, 1), only=["segment_summary", "growth_summary"]
    )
    summary = ws.table("segment_summary")
    assert summary.columns[: len(COLUMNS) + 1] == ["segment", *COLUMNS]
    # (customers, paying, current MRR, total revenue, basis, avg LTV, starting, churned, rate)
    assert rows_by(summary, "segment") == {
        # {a, b}: a pays 1200 in Mar; lifetime 3200 + 1000 = 4200, / 2 = 2100; both paid
        # in Feb, b churned in Mar: 1 / 2.
        "Enterprise": (2, 1, 1200.0, 4200.0, "mrr", 2100.0, 2, 1, 0.5),
        # {c, e}: c pays 100; 200 + 50 = 250, / 2 = 125; only c paid in Feb, nobody churned.
        "SMB": (2, 1, 100.0, 250.0, "mrr", 125.0, 1, 0, 0.0),
        # {d (null segment), x (no record)}: x pays 10; 10 / 2 = 5; nobody paid in Feb.
        "Unknown": (2, 1, 10.0, 10.0, "mrr", 5.0, 0, 0, None),
    }
    # The rows add up to the company: ending MRR of March = 1200 + 100 + 10.
    growth = ws.table("growth_summary").filter(pl.col("month") == D(2024, 3, 1))
    assert summary["current_mrr"].sum() == growth["ending_mrr"].item() == 1310.0

    # The same summary by region, as `custlens segments --by region` asks for it.
    tables = {name: ws.warehouse.table(name) for name in ws.warehouse.list_tables()}
    regions = ws.warehouse.to_polars(
        summarise_by(FactContext(tables, month_end(D(2024, 3, 1))), "region")
    )
    assert regions.columns[0] == "region"
    assert rows_by(regions, "region") == {
        # {a, d}: a's 1200 and 3200; d nothing. a paid in Feb and still pays.
        "EU": (2, 1, 1200.0, 3200.0, "mrr", 1600.0, 1, 0, 0.0),
        # {b, c}: c's 100; 1000 + 200 = 1200; b and c paid in Feb, b churned.
        "US": (2, 1, 100.0, 1200.0, "mrr", 600.0, 2, 1, 0.5),
        # {e (null region), x}: 50 + 10 = 60.
        "Unknown": (2, 1, 10.0, 60.0, "mrr", 30.0, 0, 0, None),
    }


def test_segments_from_transactions_alone(run_facts):
    tx = transactions(
        [
            # a: 100 − 30 refunded; the failed payment does not count → 70.
            ("a", T(2024, 1, 5), 100.0, "payment", "processed"),
            ("a", T(2024, 2, 5), 30.0, "refund", "processed"),
            ("a", T(2024, 2, 6), 999.0, "payment", "failed"),
            # b: only a pending payment → 0.
            ("b", T(2024, 3, 1), 50.0, "payment", "pending"),
            # c: 20 in the last second of the as-of month counts; April's 1000 does not.
            ("c", T(2024, 3, 31, 23, 59, 59), 20.0, "payment", "processed"),
            ("c", T(2024, 4, 1), 1000.0, "payment", "processed"),
            # y: no customer record, a refund only → −5 under Unknown.
            ("y", T(2024, 2, 1), 5.0, "refund", "processed"),
        ]
    )
    customers = as_loaded(
        "customers",
        [
            {"customer_id": "a", "segment": "SMB"},
            {"customer_id": "b", "segment": "SMB"},
            {"customer_id": "c", "segment": None},
        ],
    )
    facts = run_facts(
        {"customers": customers, "transactions": tx}, D(2024, 3, 1), only=["segment_summary"]
    )
    assert rows_by(facts["segment_summary"], "segment") == {
        # {a, b}: 70 + 0 = 70, / 2 = 35. No MRR: no paying customers, MRR or churn.
        "SMB": (2, None, None, 70.0, "net_payments", 35.0, None, None, None),
        # {c, y}: 20 − 5 = 15, / 2 = 7.5.
        "Unknown": (2, None, None, 15.0, "net_payments", 7.5, None, None, None),
    }


def test_an_unknown_dimension_is_an_error_that_names_the_choices():
    with pytest.raises(NotFoundError, match=r"'colour'.*region"):
        summarise_by(FactContext({}, D(2024, 3, 31)), "colour")
