"""A handful of queries with their answers worked out by hand (see data.py), shared by
the golden-SQL test (DuckDB) and the DuckDB–Spark parity test."""

from __future__ import annotations

from datetime import date
from typing import Any

D = date

QUERIES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    # Chasm trap: enterprise c1 + c4 = 2 customers, revenue 150 + 200 = 350, tickets 3;
    # smb c2 + c3: 40 + 30 = 70, 1 ticket; c5 (no segment): 1, 0, 0.
    "chasm_trap": (
        {
            "metrics": ["customers.count", "transactions.revenue", "tickets.count"],
            "dimensions": ["customers.segment"],
        },
        [
            {
                "customers.segment": "enterprise",
                "customers.count": 2,
                "transactions.revenue": 350.0,
                "tickets.count": 3,
            },
            {
                "customers.segment": "smb",
                "customers.count": 2,
                "transactions.revenue": 70.0,
                "tickets.count": 1,
            },
            {
                "customers.segment": None,
                "customers.count": 1,
                "transactions.revenue": 0.0,
                "tickets.count": 0,
            },
        ],
    ),
    # A balance by quarter: Q4 2023 = Dec 40 (C), Q1 2024 = Mar 120 (A), Q2 = Jun 150 + 70.
    "balance_by_quarter": (
        {
            "metrics": ["ending_mrr", "balances.paying"],
            "time_dimensions": [{"dimension": "balances.month", "granularity": "quarter"}],
        },
        [
            {"balances.month.quarter": D(2023, 10, 1), "ending_mrr": 40.0, "balances.paying": 1},
            {"balances.month.quarter": D(2024, 1, 1), "ending_mrr": 120.0, "balances.paying": 1},
            {"balances.month.quarter": D(2024, 4, 1), "ending_mrr": 220.0, "balances.paying": 2},
        ],
    ),
    # Gap-free spine over the last 3 months (Apr–Jun 2024): May has no sale.
    "spine_last_3_months": (
        {
            "metrics": ["sales.total", "avg_sale"],
            "time_dimensions": [
                {"dimension": "sales.day", "granularity": "month", "date_range": "last 3 months"}
            ],
        },
        [
            {"sales.day.month": D(2024, 4, 1), "sales.total": 50.0, "avg_sale": 50.0},
            {"sales.day.month": D(2024, 5, 1), "sales.total": 0.0, "avg_sale": None},
            {"sales.day.month": D(2024, 6, 1), "sales.total": 60.0, "avg_sale": 60.0},
        ],
    ),
    # Rows kept by shop-or-(amount > 35 and note set): s2 (A 20), s4 (C 40), s5 (A 50);
    # by account A 70, C 40; then the measure filter total > 40 keeps A.
    "nested_and_measure_filters": (
        {
            "metrics": ["sales.total"],
            "dimensions": ["sales.account"],
            "filters": [
                {
                    "or": [
                        {"member": "sales.channel", "operator": "equals", "value": "shop"},
                        {
                            "and": [
                                {"member": "sales.amount", "operator": "gt", "value": 35},
                                {"member": "sales.note", "operator": "set"},
                            ]
                        },
                    ]
                },
                {"member": "sales.total", "operator": "gt", "value": 40},
            ],
        },
        [{"sales.account": "A", "sales.total": 70.0}],
    ),
    # Negative operator keeps nulls: channel ≠ web → s2 (A 20), s4 (C 40, no channel), s5 (A 50).
    "not_equals_keeps_null": (
        {
            "metrics": ["sales.total", "sales.count"],
            "dimensions": ["sales.account"],
            "filters": [{"member": "sales.channel", "operator": "notEquals", "value": "web"}],
        },
        [
            {"sales.account": "A", "sales.total": 70.0, "sales.count": 2},
            {"sales.account": "C", "sales.total": 40.0, "sales.count": 1},
        ],
    ),
    # This quarter (Q2 2024: 50 + 60) against Q1 (10 + 20 + 30 + 40).
    "compare_previous_period": (
        {
            "metrics": ["sales_total"],
            "time_dimensions": [
                {"dimension": "sales.day", "granularity": "quarter", "date_range": "this quarter"}
            ],
            "compare": "previous_period",
        },
        [
            {
                "sales.day.quarter": D(2024, 4, 1),
                "sales_total": 110.0,
                "sales_total.previous": 100.0,
                "sales_total.delta": 10.0,
                "sales_total.percent_change": 0.1,
            }
        ],
    ),
    # Running total from Feb 2023's 35: Apr 185, May 185, Jun 245; trailing 3 months:
    # Apr 70 + 0 + 50 = 120, May 0 + 50 + 0 = 50, Jun 50 + 0 + 60 = 110.
    "cumulative": (
        {
            "metrics": ["running_total", "total_3m"],
            "time_dimensions": [
                {
                    "dimension": "sales.day",
                    "granularity": "month",
                    "date_range": ["2024-04", "2024-06"],
                }
            ],
        },
        [
            {"sales.day.month": D(2024, 4, 1), "running_total": 185.0, "total_3m": 120.0},
            {"sales.day.month": D(2024, 5, 1), "running_total": 185.0, "total_3m": 50.0},
            {"sales.day.month": D(2024, 6, 1), "running_total": 245.0, "total_3m": 110.0},
        ],
    ),
    # Every measure type by account. A: 35, 10, 20, 50 → avg 28.75, median (20 + 35) / 2;
    # B: 30, 60; C: 40.
    "measure_types": (
        {
            "metrics": [
                "sales.avg_amount",
                "sales.min_amount",
                "sales.max_amount",
                "sales.median_amount",
                "sales.accounts",
            ],
            "dimensions": ["sales.account"],
        },
        [
            {
                "sales.account": "A",
                "sales.avg_amount": 28.75,
                "sales.min_amount": 10.0,
                "sales.max_amount": 50.0,
                "sales.median_amount": 27.5,
                "sales.accounts": 1,
            },
            {
                "sales.account": "B",
                "sales.avg_amount": 45.0,
                "sales.min_amount": 30.0,
                "sales.max_amount": 60.0,
                "sales.median_amount": 45.0,
                "sales.accounts": 1,
            },
            {
                "sales.account": "C",
                "sales.avg_amount": 40.0,
                "sales.min_amount": 40.0,
                "sales.max_amount": 40.0,
                "sales.median_amount": 40.0,
                "sales.accounts": 1,
            },
        ],
    ),
    # Weeks start on Monday: s1 (Wed Jan 10) → Jan 8, s2 (Sat Jan 20) → Jan 15, Jan 22 empty.
    "weeks": (
        {
            "metrics": ["sales.total"],
            "time_dimensions": [
                {
                    "dimension": "sales.day",
                    "granularity": "week",
                    "date_range": ["2024-01-08", "2024-01-28"],
                }
            ],
        },
        [
            {"sales.day.week": D(2024, 1, 8), "sales.total": 10.0},
            {"sales.day.week": D(2024, 1, 15), "sales.total": 20.0},
            {"sales.day.week": D(2024, 1, 22), "sales.total": 0.0},
        ],
    ),
    # One-to-many: seats by sale channel, each account once per channel
    # (web A + B = 15, shop A = 10, none C + D (no sale) = 8).
    "one_to_many_dimension": (
        {"metrics": ["accounts.seats"], "dimensions": ["sales.channel"]},
        [
            {"sales.channel": "shop", "accounts.seats": 10.0},
            {"sales.channel": "web", "accounts.seats": 15.0},
            {"sales.channel": None, "accounts.seats": 8.0},
        ],
    ),
}


def approx_rows(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Floats rounded to 9 places, so backends' last bits do not matter."""
    return [{k: round(v, 9) if isinstance(v, float) else v for k, v in r.items()} for r in data]
