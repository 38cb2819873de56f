"""Small typed source frames for hand-computed tests."""

from __future__ import annotations

import polars as pl


def lines(*rows: tuple) -> pl.DataFrame:
    """subscription_lines from (customer, start, end, amount[, kind]); kind: recurring."""
    return pl.DataFrame(
        [(*r, "recurring") if len(r) == 4 else r for r in rows],
        schema={
            "customer_id": pl.String,
            "period_start": pl.Date,
            "period_end": pl.Date,
            "amount": pl.Float64,
            "kind": pl.String,
        },
        orient="row",
    )
