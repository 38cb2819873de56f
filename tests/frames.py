"""Small typed source frames for hand-computed tests."""

from __future__ import annotations

from datetime import date

import polars as pl


def given_mrr(*rows: tuple[str, date, float]) -> pl.DataFrame:
    """A customer_mrr source from (customer_id, month, mrr) rows."""
    return pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "month": pl.Date, "mrr": pl.Float64},
        orient="row",
    )


def lines(*rows: tuple, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """subscription_lines from (customer, *extra, start, end, amount[, kind]); kind:
    recurring. ``extra`` names text columns given after the customer
    (``("subscription_id",)``)."""
    width = 4 + len(extra)
    return pl.DataFrame(
        [(*r, "recurring") if len(r) == width else r for r in rows],
        schema={
            "customer_id": pl.String,
            **dict.fromkeys(extra, pl.String),
            "period_start": pl.Date,
            "period_end": pl.Date,
            "amount": pl.Float64,
            "kind": pl.String,
        },
        orient="row",
    )


TRANSACTION_DEFAULTS = ("payment", "processed", "card")


def transactions(*rows: tuple) -> pl.DataFrame:
    """transactions from (customer, created_at, amount[, type[, status[, method]]]).

    Ids by position; type, status and method default to payment, processed, card.
    """
    full = []
    for i, (customer, at, amount, *rest) in enumerate(rows):
        kind, status, method = (*rest, *TRANSACTION_DEFAULTS[len(rest) :])
        full.append((f"t{i:03d}", customer, at, float(amount), kind, status, method, "USD"))
    return pl.DataFrame(
        full,
        schema={
            "transaction_id": pl.String,
            "customer_id": pl.String,
            "created_at": pl.Datetime("us"),
            "amount": pl.Float64,
            "type": pl.String,
            "status": pl.String,
            "payment_method": pl.String,
            "currency": pl.String,
        },
        orient="row",
    )


def rows_by_customer(frame: pl.DataFrame) -> dict[str, dict]:
    """A fact's rows keyed by customer_id."""
    return {row["customer_id"]: row for row in frame.iter_rows(named=True)}
