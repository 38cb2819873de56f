"""One small hand-made data set and test model for the semantic-layer tests.

The workspace is built once per backend for the whole session (Spark costs
seconds per workspace) and only read by the tests. Its config pins
``as_of: 2024-06``, so relative ranges count from 2024-06-30.

Tables (written straight to the warehouse, besides three contract sources):

t_sales — one row per sale::

    id  account day               amount channel note
    s0  A       2023-02-14 10:00  35     web     old
    s1  A       2024-01-10 10:00  10     web     promo spring
    s2  A       2024-01-20 10:00  20     shop    -
    s3  B       2024-02-05 09:00  30     web     VIP
    s4  C       2024-02-25 10:00  40     -       promo
    s5  A       2024-04-15 10:00  50     shop    vip promo
    s6  B       2024-06-30 18:00  60     web     -

    (no sale in March or May 2024: gaps in the time spine)

t_accounts — account, tier, seats: A gold 10, B silver 5, C silver 1, D gold 7 (D has no sale).

t_balances — MRR per account and month (a balance)::

    month    A    B    C      (region: A EMEA, B NA, C NA)
    2023-12  -    -    40
    2024-01  100  50   0
    2024-02  110  50   -
    2024-03  120  -    -
    2024-04  120  60   -
    2024-05  130  60   -
    2024-06  150  70   -

Sources: customers c1…c5, their transactions and support tickets (see below).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from custlens.config import CONFIG_FILE
from custlens.workspace import Workspace
from tests.conftest import URLS
from tests.frames import transactions

D = date
T = datetime

SALES = pl.DataFrame(
    [
        ("s0", "A", T(2023, 2, 14, 10), 35.0, "web", "old"),
        ("s1", "A", T(2024, 1, 10, 10), 10.0, "web", "promo spring"),
        ("s2", "A", T(2024, 1, 20, 10), 20.0, "shop", None),
        ("s3", "B", T(2024, 2, 5, 9), 30.0, "web", "VIP"),
        ("s4", "C", T(2024, 2, 25, 10), 40.0, None, "promo"),
        ("s5", "A", T(2024, 4, 15, 10), 50.0, "shop", "vip promo"),
        ("s6", "B", T(2024, 6, 30, 18), 60.0, "web", None),
    ],
    schema={
        "id": pl.String,
        "account": pl.String,
        "day": pl.Datetime("us"),
        "amount": pl.Float64,
        "channel": pl.String,
        "note": pl.String,
    },
    orient="row",
)

ACCOUNTS = pl.DataFrame(
    [("A", "gold", 10), ("B", "silver", 5), ("C", "silver", 1), ("D", "gold", 7)],
    schema={"account": pl.String, "tier": pl.String, "seats": pl.Int64},
    orient="row",
)

_MRR = {
    "A": {1: 100, 2: 110, 3: 120, 4: 120, 5: 130, 6: 150},
    "B": {1: 50, 2: 50, 4: 60, 5: 60, 6: 70},
    "C": {1: 0},
}
_REGION = {"A": "EMEA", "B": "NA", "C": "NA"}
BALANCES = pl.DataFrame(
    [("C", D(2023, 12, 1), 40.0, "NA")]
    + [
        (account, D(2024, m, 1), float(v), _REGION[account])
        for account, months in _MRR.items()
        for m, v in months.items()
    ],
    schema={"account": pl.String, "month": pl.Date, "mrr": pl.Float64, "region": pl.String},
    orient="row",
)

_CUSTOMER_SCHEMA = {
    "customer_id": pl.String,
    "name": pl.String,
    "segment": pl.String,
    "industry": pl.String,
    "region": pl.String,
    "plan": pl.String,
    "acquisition_channel": pl.String,
    "signup_date": pl.Date,
    "email": pl.String,
    "phone": pl.String,
    "domain": pl.String,
    "source_system": pl.String,
}
CUSTOMERS = pl.DataFrame(
    [
        ("c1", "One", "enterprise", "tech", "EMEA", "pro", "ads", D(2024, 1, 15), "a@a.example"),
        ("c2", "Two", "smb", "retail", "EMEA", "basic", "seo", D(2024, 2, 10), "b@b.example"),
        ("c3", "Three", "smb", "tech", "NA", "basic", "ads", D(2024, 3, 5), "c@c.example"),
        ("c4", "Four", "enterprise", "retail", "NA", "pro", "seo", D(2024, 3, 20), None),
        ("c5", "Five", None, "tech", "APAC", "basic", "ads", D(2024, 4, 1), "e@e.example"),
    ],
    schema=list(_CUSTOMER_SCHEMA.items())[:9],
    orient="row",
).with_columns(
    phone=pl.lit(None, pl.String), domain=pl.lit(None, pl.String), source_system=pl.lit("crm")
)

# Revenue (processed; refunds negative): c1 100 + 100 − 50 = 150, c2 40 (its second
# payment failed), c3 30, c4 200, c5 none.
TRANSACTIONS = transactions(
    ("c1", T(2024, 1, 20), 100),
    ("c1", T(2024, 2, 20), 100),
    ("c1", T(2024, 3, 20), 50, "refund"),
    ("c2", T(2024, 2, 15), 40),
    ("c2", T(2024, 4, 15), 40, "payment", "failed"),
    ("c3", T(2024, 4, 10), 30),
    ("c4", T(2024, 6, 5), 200),
)

TICKETS = pl.DataFrame(
    [
        ("k1", "c1", T(2024, 1, 5, 9), T(2024, 1, 5, 21), 0.5, 4),
        ("k2", "c1", T(2024, 2, 5, 9), T(2024, 2, 7, 9), -0.5, 2),
        ("k3", "c1", T(2024, 3, 1, 9), None, 0.0, None),
        ("k4", "c3", T(2024, 4, 1, 0), T(2024, 4, 1, 6), 1.0, 5),
    ],
    schema={
        "ticket_id": pl.String,
        "customer_id": pl.String,
        "opened_at": pl.Datetime("us"),
        "resolved_at": pl.Datetime("us"),
        "sentiment": pl.Float64,
        "csat": pl.Int64,
    },
    orient="row",
)

MODEL = """\
cubes:
  - name: sales
    table: t_sales
    measures:
      - {name: count, type: count}
      - {name: total, type: sum, sql: amount, format: currency}
      - {name: avg_amount, type: avg, sql: amount}
      - {name: max_amount, type: max, sql: amount}
      - {name: min_amount, type: min, sql: amount}
      - {name: median_amount, type: median, sql: amount}
      - {name: web_total, type: sum, sql: amount, filters: [{sql: "channel = 'web'"}]}
      - {name: accounts, type: count_distinct, sql: account}
      - {name: per_sale, type: number, sql: total / count}
    dimensions:
      - {name: id, type: string, primary_key: true}
      - {name: account, type: string}
      - {name: day, type: time}
      - {name: amount, type: number}
      - {name: channel, type: string}
      - {name: note, type: string}
      - {name: big, type: boolean, sql: amount >= 40}
    joins:
      - {cube: accounts, relationship: many_to_one, on: account}
  - name: accounts
    table: t_accounts
    measures:
      - {name: count, type: count}
      - {name: seats, type: sum, sql: seats}
    dimensions:
      - {name: account, type: string, primary_key: true}
      - {name: tier, type: string}
  - name: balances
    table: t_balances
    measures:
      - {name: mrr, type: sum, sql: mrr, semi_additive: month}
      - name: paying
        type: count_distinct
        sql: account
        filters: [{sql: mrr > 0}]
        semi_additive: month
    dimensions:
      - name: key
        type: string
        primary_key: true
        sql: "account || '|' || CAST(month AS VARCHAR)"
      - {name: account, type: string}
      - {name: month, type: time}
      - {name: region, type: string}
metrics:
  - name: sales_total
    type: simple
    measure: sales.total
    description: Sum of sale amounts.
    meta: {owner: QA, certified: false, cadence: daily}
  - {name: sales_count, type: simple, measure: sales.count}
  - {name: avg_sale, type: ratio, numerator: sales_total, denominator: sales_count}
  - {name: web_share, type: ratio, numerator: sales.web_total, denominator: sales.total}
  - {name: total_plus, type: derived, expression: sales_total * 2 + sales_count}
  - {name: running_total, type: cumulative, measure: sales.total}
  - {name: total_3m, type: cumulative, measure: sales.total, window: 3 months}
  - {name: ending_mrr, type: simple, measure: balances.mrr}
"""


def write_workspace(folder: Path, backend: str, **settings: Any) -> Path:
    """A workspace folder with its config: as of 2024-06 unless told."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"warehouse: {URLS[backend]}", "as_of: 2024-06"]
    lines += [f"{k}: {v}" for k, v in settings.items()]
    (folder / CONFIG_FILE).write_text("\n".join(lines) + "\n")
    return folder


def fill(ws: Workspace, model: str = MODEL) -> Workspace:
    """Load the test data into ``ws`` and give it the test model (``semantic/test.yml``)."""
    (ws.path / "semantic").mkdir(exist_ok=True)
    (ws.path / "semantic" / "test.yml").write_text(model)
    ws.load({"customers": CUSTOMERS, "transactions": TRANSACTIONS, "support_tickets": TICKETS})
    ws.warehouse.write_tables({"t_sales": SALES, "t_accounts": ACCOUNTS, "t_balances": BALANCES})
    # The default customers cube is the identity-resolved dim_customers (every record
    # here is its own customer: no two share an email, phone or domain).
    ws.run(only=["dim_customers"])
    return ws


def rows(ws: Workspace, **spec: Any) -> list[dict[str, Any]]:
    """The rows of a query given as keyword arguments (the JSON query's keys)."""
    return ws.run_query(spec).data


def column(ws: Workspace, name: str, **spec: Any) -> list[Any]:
    return [r[name] for r in rows(ws, **spec)]
