"""No fan-out: a measure is never multiplied by a one-to-many join.

Ground truth is worked out by hand (see the data in conftest.py) and, for the
chasm trap, also by a naive per-table group-by in Polars over the same frames.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tests.semantic.data import ACCOUNTS, CUSTOMERS, SALES, TICKETS, TRANSACTIONS, rows

CHASM = ["customers.count", "transactions.revenue", "transactions.count", "tickets.count"]


def naive_chasm() -> dict[str | None, dict[str, float]]:
    """Each table grouped on its own by the customer's segment, then put side by side."""
    segment = CUSTOMERS.select("customer_id", "segment")
    revenue = (
        TRANSACTIONS.filter(pl.col("status") == "processed")
        .with_columns(
            v=pl.when(pl.col("type") == "refund")
            .then(-pl.col("amount"))
            .otherwise(pl.col("amount"))
        )
        .join(segment, on="customer_id")
        .group_by("segment")
        .agg(pl.col("v").sum())
    )
    tx = TRANSACTIONS.join(segment, on="customer_id").group_by("segment").len()
    tickets = TICKETS.join(segment, on="customer_id").group_by("segment").len()
    out: dict[str | None, dict[str, float]] = {}
    for seg, n in CUSTOMERS.group_by("segment").len().iter_rows():
        out[seg] = {
            "customers.count": n,
            "transactions.revenue": dict(revenue.iter_rows()).get(seg, 0.0),
            "transactions.count": dict(tx.iter_rows()).get(seg, 0),
            "tickets.count": dict(tickets.iter_rows()).get(seg, 0),
        }
    return out


def test_chasm_trap_customers_transactions_tickets(sem):
    # enterprise = c1, c4: revenue 100 + 100 − 50 (c1) + 200 (c4) = 350; transactions
    # 3 + 1 = 4; tickets 3 (all c1). smb = c2, c3: revenue 40 (c2's failed payment is
    # not revenue) + 30 = 70; transactions 2 + 1 = 3; tickets 1 (c3). No segment = c5:
    # nothing. A fanned-out join would give enterprise revenue 150 × 3 tickets + 200 = 650.
    got = {
        r["customers.segment"]: {k: r[k] for k in CHASM}
        for r in rows(sem, metrics=CHASM, dimensions=["customers.segment"])
    }
    assert got == {
        "enterprise": dict(zip(CHASM, [2, 350.0, 4, 3], strict=True)),
        "smb": dict(zip(CHASM, [2, 70.0, 3, 1], strict=True)),
        None: dict(zip(CHASM, [1, 0.0, 0, 0], strict=True)),
    }
    assert got == naive_chasm()


def test_chasm_trap_avg_over_the_other_branch(duck):
    # tickets.avg_csat beside transactions: enterprise (4 + 2) / 2 = 3 (k3 has no csat),
    # smb 5; the sum side stays 350, not 350 × 3. No customers measure is asked for, so
    # c5 (no segment, no transaction, no ticket) gives no row.
    got = rows(
        duck,
        metrics=["tickets.avg_csat", "transactions.revenue"],
        dimensions=["customers.segment"],
    )
    assert [
        (r["customers.segment"], r["tickets.avg_csat"], r["transactions.revenue"]) for r in got
    ] == [
        ("enterprise", 3.0, 350.0),
        ("smb", 5.0, 70.0),
    ]


def test_measure_through_one_to_many_counts_each_key_once(sem):
    # accounts → sales is one-to-many. seats by sales.channel:
    #   web:  A (s0, s1) and B (s3, s6) → 10 + 5 = 15   (a fan-out: 10·2 + 5·2 = 30)
    #   shop: A (s2, s5) → 10                            (a fan-out: 20)
    #   none: C (s4 has no channel) 1 + D (no sale at all, left join) 7 = 8
    got = rows(sem, metrics=["accounts.seats", "accounts.count"], dimensions=["sales.channel"])
    assert {r["sales.channel"]: (r["accounts.seats"], r["accounts.count"]) for r in got} == {
        "web": (15.0, 2),
        "shop": (10.0, 1),
        None: (8.0, 2),
    }


def test_measure_through_one_to_many_naive():
    # The same numbers from a naive distinct (account, channel) then a group-by.
    pairs = (
        ACCOUNTS.join(SALES.select("account", "channel"), on="account", how="left")
        .unique(["account", "channel"])
        .group_by("channel")
        .agg(pl.col("seats").sum())
    )
    assert dict(pairs.iter_rows()) == {"web": 15, "shop": 10, None: 8}


def test_customers_by_transaction_status(duck):
    # customers → transactions is one-to-many (the reverse of transactions' join).
    # processed: c1 (3 rows), c2, c3, c4 → 4 customers; failed: c2 → 1;
    # no transaction: c5 → the null group, 1.
    got = rows(duck, metrics=["customers.count"], dimensions=["transactions.status"])
    assert {r["transactions.status"]: r["customers.count"] for r in got} == {
        "processed": 4,
        "failed": 1,
        None: 1,
    }


def test_customers_by_ticket_month(duck):
    # c1 opened tickets in Jan, Feb and Mar (counted once in each), c3 in Apr.
    got = rows(
        duck,
        metrics=["customers.count"],
        time_dimensions=[
            {
                "dimension": "tickets.opened_at",
                "granularity": "month",
                "date_range": ["2024-01", "2024-05"],
            }
        ],
    )
    assert [(r["tickets.opened_at.month"], r["customers.count"]) for r in got] == [
        (date(2024, 1, 1), 1),
        (date(2024, 2, 1), 1),
        (date(2024, 3, 1), 1),
        (date(2024, 4, 1), 1),
        (date(2024, 5, 1), 0),
    ]


def test_accounts_by_sale_month(duck):
    # Jan 2024: A (s1, s2) once → 1; Feb: B, C → 2; Mar: none; Apr: A; May: none; Jun: B.
    got = rows(
        duck,
        metrics=["accounts.count", "accounts.seats"],
        time_dimensions=[
            {"dimension": "sales.day", "granularity": "month", "date_range": ["2024-01", "2024-06"]}
        ],
    )
    assert [(r["accounts.count"], r["accounts.seats"]) for r in got] == [
        (1, 10.0),
        (2, 6.0),
        (0, 0.0),
        (1, 10.0),
        (0, 0.0),
        (1, 5.0),
    ]


def test_filter_through_one_to_many(duck):
    # Accounts with a shop sale: A only (two shop sales, counted once) → seats 10.
    got = rows(
        duck,
        metrics=["accounts.seats"],
        dimensions=["accounts.tier"],
        filters=[{"member": "sales.channel", "operator": "equals", "value": "shop"}],
    )
    assert got == [{"accounts.tier": "gold", "accounts.seats": 10.0}]


@pytest.mark.parametrize(
    ("metric", "expected"),
    # Without any dimension: each table's own total. Revenue 150 + 40 + 30 + 200 = 420;
    # 7 transactions; 4 tickets; 5 customers.
    [
        ("transactions.revenue", 420.0),
        ("transactions.count", 7),
        ("tickets.count", 4),
        ("customers.count", 5),
    ],
)
def test_no_dimension_totals(duck, metric, expected):
    assert rows(duck, metrics=[metric]) == [{metric: expected}]


def test_own_dimension_filtered_through_one_to_many(duck):
    # Customers with a processed transaction, by segment: enterprise c1 (3 rows, once)
    # + c4 = 2; smb c2 + c3 = 2 (a fan-out would count c1 three times: 4).
    got = rows(
        duck,
        metrics=["customers.count"],
        dimensions=["customers.segment"],
        filters=[{"member": "transactions.status", "operator": "equals", "value": "processed"}],
    )
    assert got == [
        {"customers.segment": "enterprise", "customers.count": 2},
        {"customers.segment": "smb", "customers.count": 2},
    ]
    # notEquals failed keeps c5, whose status is null (no transaction): the null rule.
    got = rows(
        duck,
        metrics=["customers.count"],
        dimensions=["customers.segment"],
        filters=[{"member": "transactions.status", "operator": "notEquals", "value": "failed"}],
    )
    assert [(r["customers.segment"], r["customers.count"]) for r in got] == [
        ("enterprise", 2),
        ("smb", 2),
        (None, 1),
    ]
