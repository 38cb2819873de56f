"""Property tests of the revenue facts (DESIGN.md §3), on DuckDB.

Random ``customer_mrr`` inputs — a few customers, months of one year with
arbitrary gaps, MRR values chosen so that zeros and ties occur — are run
through the pipeline and checked against the bridge invariants and against
``naive``, a plain loop over each customer's months that implements §3
literally. Examples are derandomized, so every run of the suite sees the same
inputs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from custlens import pipeline
from custlens.synth import generate

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

CUSTOMERS = ("a", "b", "c", "d")
MONTHS = [date(2024, m, 1) for m in range(1, 13)]
VALUES = (0.0, 10.0, 25.5, 100.0, 99.99)
# As-of months inside the data, and after it (the spine then runs on with zeros).
AS_OF = [*MONTHS, date(2025, 1, 1), date(2025, 3, 1)]
MOVEMENT_COLUMNS = {
    "new": "new_mrr",
    "reactivation": "reactivation_mrr",
    "expansion": "expansion_mrr",
    "contraction": "contraction_mrr",
    "churn": "churn_mrr",
}

Inputs = dict[str, dict[date, float]]


@pytest.fixture
def backend() -> str:
    """These properties run on DuckDB only (parity with Spark is tests/facts/test_parity.py)."""
    return "duckdb"


def idx(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_of(i: int) -> date:
    return date(i // 12, i % 12 + 1, 1)


@dataclass
class Naive:
    """§3 computed by hand: MRR per (customer, month index), movements, totals per month."""

    mrr: dict[tuple[str, int], float] = field(default_factory=dict)
    moves: list[tuple[str, int, str, float]] = field(default_factory=list)
    months: list[int] = field(default_factory=list)


def naive(given: Inputs, as_of: date, opening_balance: str) -> Naive:
    """DESIGN.md §3 for given customer MRR, one customer and one month at a time."""
    last = idx(as_of)
    out = Naive()
    for customer, rows in sorted(given.items()):
        # Anything after the as-of month is ignored.
        by_month = {idx(m): v for m, v in rows.items() if idx(m) <= last}
        paid = [i for i, v in by_month.items() if v > 0]
        if not paid:
            continue  # never paid: no spine, never a customer
        ever_paid = False
        for i in range(min(paid), last + 1):
            p, q = by_month.get(i - 1, 0.0), by_month.get(i, 0.0)
            out.mrr[(customer, i)] = q
            if p == 0 and q > 0:
                out.moves.append((customer, i, "reactivation" if ever_paid else "new", q))
            elif p > 0 and q == 0:
                out.moves.append((customer, i, "churn", p))
            elif q > p > 0:
                out.moves.append((customer, i, "expansion", q - p))
            elif p > q > 0:
                out.moves.append((customer, i, "contraction", p - q))
            ever_paid = ever_paid or q > 0
    if out.mrr:
        first = min(i for _, i in out.mrr)
        out.months = list(range(first, last + 1))
        if opening_balance == "first_month":
            # The first month's payers are the opening balance, not new business.
            out.moves = [m for m in out.moves if m[1] != first]
    return out


def frame_of(given: Inputs) -> pl.DataFrame:
    rows = [(c, m, v) for c, months in given.items() for m, v in months.items()]
    return pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "month": pl.Date, "mrr": pl.Float64},
        orient="row",
    )


REVENUE_FACTS = ["customer_mrr", "mrr_movements", "growth_summary", "customer_count"]


def run(make_workspace, sources: dict[str, pl.DataFrame], as_of: date, **settings: object):
    """Load through the contract and run the revenue facts (the ones checked here)."""
    with make_workspace(**settings) as ws:
        ws.load(sources)
        # The pipeline alone: these facts need none of the semantic model's rollups.
        result = pipeline.run(ws.warehouse, ws.config, as_of=as_of, only=REVENUE_FACTS)
        return {name: ws.table(name).drop("_run_id") for name in result.written}


def assert_bridges_balance(facts: dict[str, pl.DataFrame]) -> None:
    """Per month: the MRR bridge, the customer bridge, positive movements, customer_count."""
    growth = facts["growth_summary"].sort("month")
    for g in growth.iter_rows(named=True):
        flows = (
            g["new_mrr"]
            + g["reactivation_mrr"]
            + g["expansion_mrr"]
            - g["contraction_mrr"]
            - g["churn_mrr"]
        )
        assert math.isclose(g["ending_mrr"], g["starting_mrr"] + flows, abs_tol=1e-6), g
        customers = (
            g["starting_customers"]
            + g["new_customers"]
            + g["reactivated_customers"]
            - g["churned_customers"]
        )
        assert g["ending_customers"] == customers, g
    # Each month starts where the previous one ended.
    assert growth["starting_mrr"][1:].to_list() == growth["ending_mrr"][:-1].to_list()
    assert growth["starting_customers"][1:].to_list() == growth["ending_customers"][:-1].to_list()
    moves = facts["mrr_movements"]
    assert (moves["amount"] > 0).all(), moves.filter(pl.col("amount") <= 0)
    actual = facts["customer_count"].filter(pl.col("value_type_id") == 1).sort("month")
    assert actual["month"].to_list() == growth["month"].to_list()
    assert actual["ending_balance"].to_list() == growth["ending_customers"].to_list()


given_mrr = st.dictionaries(
    st.sampled_from(CUSTOMERS),
    st.dictionaries(st.sampled_from(MONTHS), st.sampled_from(VALUES), max_size=len(MONTHS)),
    min_size=1,
    max_size=len(CUSTOMERS),
)


@PROPERTY
@given(
    given=given_mrr,
    as_of=st.sampled_from(AS_OF),
    opening_balance=st.sampled_from(["none", "first_month"]),
)
def test_revenue_facts_match_a_naive_reading_of_the_definitions(
    make_workspace, given: Inputs, as_of: date, opening_balance: str
) -> None:
    facts = run(
        make_workspace, {"customer_mrr": frame_of(given)}, as_of, opening_balance=opening_balance
    )
    expected = naive(given, as_of, opening_balance)

    mrr = facts["customer_mrr"]
    got_mrr = {
        (c, idx(m)): v for c, m, v in zip(mrr["customer_id"], mrr["month"], mrr["mrr"], strict=True)
    }
    assert mrr.height == len(got_mrr)  # one row per customer and month
    assert got_mrr == expected.mrr

    moves = facts["mrr_movements"].sort("customer_id", "month", "movement")
    got_moves = list(
        zip(
            moves["customer_id"],
            [idx(m) for m in moves["month"]],
            moves["movement"],
            moves["amount"],
            strict=True,
        )
    )
    want_moves = sorted(expected.moves)
    assert [m[:3] for m in got_moves] == [m[:3] for m in want_moves]
    for got, want in zip(got_moves, want_moves, strict=True):
        assert math.isclose(got[3], want[3], rel_tol=1e-9, abs_tol=1e-9), (got, want)
    # mrr_before and mrr_after are the MRR of the month before and of the month.
    for row in moves.iter_rows(named=True):
        i = idx(row["month"])
        assert row["mrr_before"] == expected.mrr.get((row["customer_id"], i - 1), 0.0), row
        assert row["mrr_after"] == expected.mrr[(row["customer_id"], i)], row

    growth = facts["growth_summary"].sort("month")
    # Gap-free, from the first paid month to the as-of month.
    assert [idx(m) for m in growth["month"]] == expected.months
    ending: dict[int, float] = defaultdict(float)
    paying: dict[int, int] = defaultdict(int)
    for (_, i), v in expected.mrr.items():
        ending[i] += v
        paying[i] += v > 0
    flows: dict[tuple[int, str], float] = defaultdict(float)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for _, i, kind, amount in expected.moves:
        flows[(i, kind)] += amount
        counts[(i, kind)] += 1
    for g in growth.iter_rows(named=True):
        i = idx(g["month"])
        assert math.isclose(g["ending_mrr"], ending[i], abs_tol=1e-6), g
        assert g["ending_customers"] == paying[i], g
        for kind, column in MOVEMENT_COLUMNS.items():
            assert math.isclose(g[column], flows[(i, kind)], abs_tol=1e-6), (kind, g)
        assert g["new_customers"] == counts[(i, "new")], g
        assert g["reactivated_customers"] == counts[(i, "reactivation")], g
        assert g["churned_customers"] == counts[(i, "churn")], g

    assert_bridges_balance(facts)


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_the_bridges_balance_on_generated_data(make_workspace, seed: int) -> None:
    frames = generate(customers=80, months=12, seed=seed)
    # 2023-01 … 2023-12 (the generator's default start).
    sources = {name: frames[name] for name in ("subscription_lines", "acquisition_costs")}
    facts = run(make_workspace, sources, date(2023, 12, 1))
    growth = facts["growth_summary"]
    assert growth.height > 0 and growth["ending_mrr"].sum() > 0
    assert growth["month"].max() == date(2023, 12, 1)
    months = [idx(m) for m in growth.sort("month")["month"]]
    assert months == list(range(months[0], months[-1] + 1))
    assert_bridges_balance(facts)
