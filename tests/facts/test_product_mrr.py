"""``product_mrr`` and the ``products`` cube — MRR by product — by hand, on DuckDB and Spark.

Lines (as-of April 2024):
- a, PLAN-PRO: 900 for Jan 1 → Apr 1, three calendar months: 300 in Jan, Feb, Mar.
- a, ADDON-X: 120 for Feb 15 → May 15, three months: 40 at the ends of Feb, Mar, Apr.
- a, USAGE: 70 for March, a usage line: not MRR.
- b, PLAN-PRO: 100 for January.
- b, no product: 250 for Mar 10 → Apr 10, one month: 250 at the end of March.

So a's MRR is 300, 340, 340, 40 and b's 100, 0, 250, 0 — each month the sum of
the customer's products.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from custlens import pipeline
from tests.frames import lines

D = date

LINES = lines(
    ("a", "PLAN-PRO", D(2024, 1, 1), D(2024, 4, 1), 900.0),
    ("a", "ADDON-X", D(2024, 2, 15), D(2024, 5, 15), 120.0),
    ("a", "USAGE", D(2024, 3, 1), D(2024, 4, 1), 70.0, "usage"),
    ("b", "PLAN-PRO", D(2024, 1, 1), D(2024, 2, 1), 100.0),
    ("b", None, D(2024, 3, 10), D(2024, 4, 10), 250.0),
    extra=("product_id",),
)

EXPECTED = {
    ("a", "PLAN-PRO", "2024-01"): 300.0,
    ("a", "PLAN-PRO", "2024-02"): 300.0,
    ("a", "PLAN-PRO", "2024-03"): 300.0,
    ("a", "ADDON-X", "2024-02"): 40.0,
    ("a", "ADDON-X", "2024-03"): 40.0,
    ("a", "ADDON-X", "2024-04"): 40.0,
    ("b", "PLAN-PRO", "2024-01"): 100.0,
    ("b", "(none)", "2024-03"): 250.0,
}


@pytest.fixture
def ws(make_workspace):
    ws = make_workspace()
    ws.warehouse.write_tables({"src_subscription_lines": LINES})
    pipeline.run(ws.warehouse, ws.config, as_of=D(2024, 4, 1), only=["product_mrr"])
    return ws


def test_mrr_per_customer_product_and_month_by_hand(ws) -> None:
    rows = ws.table("product_mrr")
    got = {
        (c, p, m.strftime("%Y-%m")): v
        for c, p, m, v in zip(
            rows["customer_id"], rows["product_id"], rows["month"], rows["mrr"], strict=True
        )
    }
    assert got == EXPECTED
    assert rows.height == len(EXPECTED)


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_the_products_cube_answers_mrr_by_product(ws) -> None:
    march = [{"dimension": "products.month", "granularity": "quarter"}]
    result = ws.query(
        ["products.mrr", "products.paying_customers"],
        ["products.product_id"],
        time_dimensions=march,
    ).to_polars()
    # A quarter's MRR is its last month's (March): a's PLAN-PRO 300 (b's ended in
    # January), a's ADDON-X 40, b's line without a product 250.
    got = {
        r["products.product_id"]: (r["products.mrr"], r["products.paying_customers"])
        for r in result.filter(pl.col("products.month.quarter") == D(2024, 1, 1)).to_dicts()
    }
    assert got == {"PLAN-PRO": (300.0, 1), "ADDON-X": (40.0, 1), "(none)": (250.0, 1)}
