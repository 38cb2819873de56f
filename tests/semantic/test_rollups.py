"""Rollups: which queries they answer, that their answers are the cubes' answers, freshness.

The test model (data.py) gets three rollups here:

- ``sales.by_month``: count, total, max, min and the web-only total by account,
  channel and accounts.tier, with ``day`` truncated to the month;
- ``sales.by_tier``: count and total by accounts.tier and year (fewer dimensions: a
  query it covers reads it rather than by_month; its rows hold several sales each);
- ``balances.by_region``: the MRR balance by region and month (``month`` kept as
  it is, so the last-value step finds the same months).

Hand answers from data.py: sales (account, day, amount, channel) A 2023-02-14 35 web,
A 2024-01-10 10 web, A 2024-01-20 20 shop, B 2024-02-05 30 web, C 2024-02-25 40 -,
A 2024-04-15 50 shop, B 2024-06-30 60 web; tiers A gold, B silver, C silver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from custlens.errors import ConfigError
from custlens.semantic import Compiler
from custlens.semantic.access import Role
from custlens.semantic.loader import build_model
from custlens.semantic.query import Condition
from custlens.workspace import Workspace
from tests.semantic.data import MODEL, fill, write_workspace
from tests.semantic.queries import approx_rows

SALES_ROLLUP = """\
    rollups:
      - name: by_month
        measures: [count, total, max_amount, min_amount, web_total]
        dimensions: [account, channel, accounts.tier]
        time_dimension: day
        granularity: month
      - name: by_tier
        measures: [count, total]
        dimensions: [accounts.tier]
        time_dimension: day
        granularity: year
"""
BALANCES_ROLLUP = """\
    rollups:
      - {name: by_region, measures: [mrr], dimensions: [region, month]}
"""
SALES_TABLE = "_rollup_sales__by_month"
TIER_TABLE = "_rollup_sales__by_tier"
BALANCES_TABLE = "_rollup_balances__by_region"


def with_rollups(model: str = MODEL, sales: str = SALES_ROLLUP) -> str:
    """The test model with the rollups added to its sales and balances cubes."""
    model = model.replace(
        "      - {cube: accounts, relationship: many_to_one, on: account}\n",
        "      - {cube: accounts, relationship: many_to_one, on: account}\n" + sales,
    )
    return model.replace(
        "      - {name: region, type: string}\n",
        "      - {name: region, type: string}\n" + BALANCES_ROLLUP,
    )


@pytest.fixture(scope="module")
def rolled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Workspace]]:
    """backend → a workspace with the test data and the rollup model (built once)."""
    made: dict[str, Workspace] = {}

    def get(backend: str) -> Workspace:
        if backend not in made:
            folder = write_workspace(tmp_path_factory.mktemp(f"rollups-{backend}"), backend)
            made[backend] = fill(Workspace(folder), with_rollups())
        return made[backend]

    yield get
    for ws in made.values():
        ws.close()


def both(ws: Workspace, spec: dict[str, Any], role: Role | None = None) -> tuple[Any, Any]:
    """(answer with rollups, answer from the cubes) of one query."""
    run_id, as_of = ws.latest_run()
    assert as_of is not None
    on = Compiler(ws.semantic_model, ws.warehouse)
    off = Compiler(ws.semantic_model, ws.warehouse, rollups=False)
    return (
        on.run(spec, as_of=as_of, role=role, run_id=run_id),
        off.run(spec, as_of=as_of, role=role, run_id=run_id),
    )


H1_2024 = ["2024-01-01", "2024-06-30"]
COVERED: dict[str, dict[str, Any]] = {
    "measures by month": {
        "metrics": ["sales.total", "sales.count", "sales.per_sale", "sales.max_amount"],
        "dimensions": ["sales.channel"],
        "time_dimensions": [{"dimension": "sales.day", "granularity": "month"}],
    },
    "coarser, ranged, compared": {
        "metrics": ["sales_total", "sales.min_amount"],
        "time_dimensions": [
            {"dimension": "sales.day", "granularity": "quarter", "date_range": H1_2024}
        ],
        "compare": "previous_year",
    },
    "metrics over metrics": {
        "metrics": ["avg_sale", "web_share", "total_plus"],
        "dimensions": ["accounts.tier"],
    },
    "running and trailing totals": {
        "metrics": ["running_total", "total_3m"],
        "time_dimensions": [
            {"dimension": "sales.day", "granularity": "month", "date_range": H1_2024}
        ],
    },
    "or filter, null rule, measure filter, order and limit": {
        "metrics": ["sales.total"],
        "dimensions": ["sales.account"],
        "filters": [
            {
                "or": [
                    {"member": "sales.channel", "operator": "notEquals", "value": "shop"},
                    {"member": "accounts.tier", "operator": "equals", "value": "gold"},
                ]
            },
            {"member": "sales.total", "operator": "gt", "value": 40},
        ],
        "order_by": [{"id": "sales.total", "direction": "desc"}],
        "limit": 2,
    },
    "filter on a coarser period": {
        "metrics": ["sales.count"],
        "filters": [{"member": "sales.day.year", "operator": "equals", "value": "2024-01-01"}],
    },
    "balance by quarter": {
        "metrics": ["balances.mrr"],
        "dimensions": ["balances.region"],
        "time_dimensions": [{"dimension": "balances.month", "granularity": "quarter"}],
    },
    "balance over a range, no time": {
        "metrics": ["ending_mrr"],
        "time_dimensions": [{"dimension": "balances.month", "date_range": "last 6 months"}],
    },
    "balance by month, filtered": {
        "metrics": ["balances.mrr"],
        "time_dimensions": [{"dimension": "balances.month", "granularity": "month"}],
        "filters": [{"member": "balances.region", "operator": "equals", "value": "NA"}],
    },
}

NOT_COVERED: dict[str, dict[str, Any]] = {
    "an average is not stored": {"metrics": ["sales.avg_amount"]},
    "a distinct count is not stored": {"metrics": ["sales.accounts"]},
    "a dimension it does not have": {"metrics": ["sales.total"], "dimensions": ["sales.note"]},
    "a range that cuts a month": {
        "metrics": ["sales.total"],
        "time_dimensions": [{"dimension": "sales.day", "date_range": ["2024-01-15", "2024-02-20"]}],
    },
    "weeks from months": {
        "metrics": ["sales.total"],
        "time_dimensions": [
            {"dimension": "sales.day", "granularity": "week", "date_range": H1_2024}
        ],
    },
    "a day filter on months": {
        "metrics": ["sales.total"],
        "filters": [{"member": "sales.day", "operator": "afterDate", "value": "2024-02-10"}],
    },
}


def test_covered_queries_read_the_rollup_and_agree_with_the_cubes(backend, rolled):
    ws = rolled(backend)
    for name, spec in COVERED.items():
        routed, direct = both(ws, spec)
        assert routed.rollups, name
        assert not direct.rollups, name
        assert approx_rows(routed.data) == approx_rows(direct.data), name
        assert routed.columns == direct.columns, name


def test_a_role_row_filter_on_a_rollup_dimension_still_routes(rolled):
    gold = Role(
        "gold",
        filters=(
            Condition.model_validate(
                {"member": "accounts.tier", "operator": "equals", "value": "gold"}
            ),
        ),
    )
    spec = {"metrics": ["sales.total"], "dimensions": ["sales.channel"]}
    routed, direct = both(rolled("duckdb"), spec, role=gold)
    # Gold is account A: web 35 + 10 = 45, shop 20 + 50 = 70.
    assert routed.rollups == [SALES_TABLE]
    assert (
        routed.data
        == direct.data
        == [
            {"sales.channel": "shop", "sales.total": 70.0},
            {"sales.channel": "web", "sales.total": 45.0},
        ]
    )


def test_hand_answers_from_the_rollup(rolled):
    ws = rolled("duckdb")
    result = ws.run_query(
        {
            "metrics": ["sales.total", "sales.count"],
            "dimensions": ["accounts.tier"],
            "time_dimensions": [
                {"dimension": "sales.day", "granularity": "quarter", "date_range": H1_2024}
            ],
        }
    )
    assert result.rollups == [SALES_TABLE]
    # Q1 2024: gold A 10 + 20, silver B 30 + C 40; Q2: gold A 50, silver B 60.
    assert [
        (str(r["sales.day.quarter"]), r["accounts.tier"], r["sales.total"], r["sales.count"])
        for r in result.data
    ] == [
        ("2024-01-01", "gold", 30.0, 2),
        ("2024-01-01", "silver", 70.0, 2),
        ("2024-04-01", "gold", 50.0, 1),
        ("2024-04-01", "silver", 60.0, 1),
    ]
    # The balance takes each quarter's last month: Dec 40 (C); Mar 120 (A; B has no
    # March row); Jun 150 + 70. Within NA: Dec 40; Feb 50 (B; no NA row in March); Jun 70.
    balances = ws.run_query(
        {
            "metrics": ["balances.mrr"],
            "dimensions": ["balances.region"],
            "time_dimensions": [{"dimension": "balances.month", "granularity": "quarter"}],
            "filters": [{"member": "balances.region", "operator": "equals", "value": "NA"}],
        }
    )
    assert balances.rollups == [BALANCES_TABLE]
    assert [r["balances.mrr"] for r in balances.data] == [40.0, 50.0, 70.0]
    web = ws.run_query({"metrics": ["sales.web_total", "sales.max_amount", "sales.min_amount"]})
    # Web sales 35 + 10 + 30 + 60; largest 60, smallest 10.
    assert web.rollups == [SALES_TABLE]
    assert web.data == [
        {"sales.web_total": 135.0, "sales.max_amount": 60.0, "sales.min_amount": 10.0}
    ]


@pytest.mark.parametrize("name", sorted(NOT_COVERED))
def test_queries_a_rollup_cannot_answer_read_the_cube(rolled, name):
    routed, direct = both(rolled("duckdb"), NOT_COVERED[name])
    assert routed.rollups == []
    assert routed.data == direct.data


def test_only_the_covered_cube_of_a_query_reads_its_rollup(rolled):
    # Sales by tier from by_tier (rows of several sales); the accounts count (not
    # rolled up) from its cube. Gold is A (sales 35, 10, 20, 50) and D (none);
    # silver B (30, 60) and C (40).
    spec = {
        "metrics": ["sales.total", "sales.count", "accounts.count"],
        "dimensions": ["accounts.tier"],
    }
    routed, direct = both(rolled("duckdb"), spec)
    assert routed.rollups == [TIER_TABLE]
    assert (
        routed.data
        == direct.data
        == [
            {"accounts.tier": "gold", "sales.total": 115.0, "sales.count": 4, "accounts.count": 2},
            {
                "accounts.tier": "silver",
                "sales.total": 130.0,
                "sales.count": 3,
                "accounts.count": 2,
            },
        ]
    )


# -- freshness -------------------------------------------------------------------------


@pytest.fixture
def fresh(tmp_path) -> Iterator[Workspace]:
    """A DuckDB workspace of its own with the rollup model (these tests change it)."""
    ws = fill(Workspace(write_workspace(tmp_path / "ws", "duckdb")), with_rollups())
    yield ws
    ws.close()


TOTAL = {"metrics": ["sales.total"], "dimensions": ["accounts.tier"]}


def test_an_edited_rollup_is_not_read_until_it_is_rebuilt(fresh):
    assert fresh.run_query(TOTAL).rollups == [TIER_TABLE]
    edited = SALES_ROLLUP.replace("measures: [count, total]\n", "measures: [total]\n")
    (fresh.path / "semantic" / "test.yml").write_text(with_rollups(sales=edited))
    ws = Workspace(fresh.path)
    try:
        stale = ws.run_query(TOTAL)
        # by_tier was built from another definition; by_month was not edited.
        assert stale.rollups == [SALES_TABLE]
        assert [r["sales.total"] for r in stale.data] == [115.0, 130.0]
        built = ws.build_rollups()
        # Seven sales, each its own (account, channel, tier, month); by tier and year:
        # gold 2023, 2024, silver 2024; balances by region and month: NA 2023-12,
        # 2024-01, -02, -04, -05, -06, EMEA 2024-01…06.
        assert built.written[SALES_TABLE] == 7
        assert built.written[TIER_TABLE] == 3
        assert built.written[BALANCES_TABLE] == 12
        assert ws.run_query(TOTAL).rollups == [TIER_TABLE]
    finally:
        ws.close()


def test_a_load_retires_rollups_until_the_next_run(fresh):
    from tests.semantic.data import CUSTOMERS

    assert fresh.run_query(TOTAL).rollups == [TIER_TABLE]
    fresh.load({"customers": CUSTOMERS})
    assert fresh.run_query(TOTAL).rollups == []
    result = fresh.run(only=["dim_customers"])
    assert TIER_TABLE in result.rollups
    assert fresh.run_query(TOTAL).rollups == [TIER_TABLE]


def test_a_rollup_whose_table_is_missing_is_skipped_with_the_reason(fresh):
    missing = with_rollups().replace("table: t_accounts", "table: t_gone")
    (fresh.path / "semantic" / "test.yml").write_text(missing)
    ws = Workspace(fresh.path)
    try:
        result = ws.run(only=["dim_customers"])
        assert "t_gone" in result.rollups_skipped["sales.by_month"]
        assert BALANCES_TABLE in result.rollups
    finally:
        ws.close()


# -- the model ---------------------------------------------------------------------------


def check(model: str) -> str:
    with pytest.raises(ConfigError) as caught:
        build_model([("m.yml", model)])
    return str(caught.value)


@pytest.mark.parametrize(
    ("rollup", "message"),
    [
        (
            "{name: r, measures: [avg_amount]}",
            "m.yml:2: rollup sales.r: measure 'avg_amount' is avg, which a rollup cannot add up",
        ),
        ("{name: r, measures: [accounts]}", "measure 'accounts' is count_distinct"),
        ("{name: r, measures: [nope]}", "rollup sales.r: 'nope' is not a measure of 'sales'"),
        ("{name: r, measures: [total], dimensions: [colour]}", "unknown dimension 'sales.colour'"),
        (
            "{name: r, measures: [total], time_dimension: channel, granularity: month}",
            "time_dimension 'channel' is not a time dimension of 'sales'",
        ),
        (
            "{name: r, measures: [total], time_dimension: day}",
            "a time_dimension needs a granularity",
        ),
        ("{name: r, measures: [total], wrong: 1}", "wrong"),
        (
            # Stored twice under one column name: the truncated months would be read
            # as the days themselves (10 to 20 January would take all of January).
            "{name: r, measures: [total], dimensions: [day], time_dimension: day, "
            "granularity: month}",
            "rollup sales.r: 'sales.day' is both a dimension and its time_dimension",
        ),
        (
            "{name: r, measures: [total], dimensions: [channel, sales.channel]}",
            "rollup sales.r: 'sales.channel' is listed twice",
        ),
    ],
)
def test_a_bad_rollup_is_refused_with_where_and_why(rollup, message):
    assert message in check(
        MODEL.replace(
            "      - {cube: accounts, relationship: many_to_one, on: account}\n",
            "      - {cube: accounts, relationship: many_to_one, on: account}\n"
            f"    rollups:\n      - {rollup}\n",
        )
    )


def test_a_rollup_through_a_one_to_many_join_is_refused():
    # accounts → sales is one-to-many: an account's seats would count once per sale.
    model = MODEL.replace(
        "      - {name: tier, type: string}\n",
        "      - {name: tier, type: string}\n"
        "    rollups:\n      - {name: r, measures: [seats], dimensions: [sales.channel]}\n",
    )
    assert "'sales.channel' is reached through a one-to-many join" in check(model)


def test_a_balance_needs_its_own_stamps():
    # balances.month has no declared grain: truncated to months, the last day is lost.
    model = MODEL.replace(
        "      - {name: region, type: string}\n",
        "      - {name: region, type: string}\n"
        "    rollups:\n"
        "      - {name: r, measures: [mrr], time_dimension: month, granularity: month}\n",
    )
    assert "measure 'mrr' is a balance over 'month'" in check(model)


def test_a_rebuild_or_a_load_elsewhere_retires_the_rollups_a_server_holds(fresh):
    # `fresh` plays a server that read the registry; `other` another process.
    assert fresh.run_query(TOTAL).rollups == [TIER_TABLE]
    edited = SALES_ROLLUP.replace("measures: [count, total]\n", "measures: [total]\n")
    (fresh.path / "semantic" / "test.yml").write_text(with_rollups(sales=edited))
    with Workspace(fresh.path) as other:
        other.build_rollups()  # by_tier from the edited definition, for the same run
        # The server's model still has the old by_tier: it must not read the new table.
        answer = fresh.run_query(TOTAL)
        assert answer.rollups == [SALES_TABLE]
        assert [r["sales.total"] for r in answer.data] == [115.0, 130.0]
        from tests.semantic.data import CUSTOMERS

        other.load({"customers": CUSTOMERS})
        assert fresh.run_query(TOTAL).rollups == []


def test_a_rollup_whose_sql_fails_while_it_is_built_is_skipped_and_the_others_built(fresh):
    # The cast binds (DuckDB accepts the SQL) but fails on the data ('old' is no
    # integer): the run's facts are published already, so the run must not raise,
    # and the other rollups must still be built for it.
    bad = with_rollups().replace(
        "      - {name: count, type: count}\n",
        "      - {name: count, type: count}\n"
        "      - {name: bad, type: sum, sql: CAST(note AS INTEGER)}\n",
        1,
    )
    bad = bad.replace("measures: [count, total]\n", "measures: [count, total, bad]\n")
    (fresh.path / "semantic" / "test.yml").write_text(bad)
    ws = Workspace(fresh.path)
    try:
        result = ws.run(only=["dim_customers"])
        assert "sales.by_tier" in result.rollups_skipped
        assert "Conversion Error" in result.rollups_skipped["sales.by_tier"]
        assert TIER_TABLE not in result.rollups
        assert SALES_TABLE in result.rollups
        assert BALANCES_TABLE in result.rollups
        assert ws.run_query(TOTAL).rollups == [SALES_TABLE]
    finally:
        ws.close()


def test_rollups_built_after_a_query_of_their_run_are_read(fresh):
    # `custlens run` records the run, then builds its rollups: a server thread that
    # answers in between finds none for the run. Once built they must be read.
    from custlens import pipeline

    result = pipeline.run(fresh.warehouse, fresh.config, only=["dim_customers"])
    between = fresh.run_query(TOTAL)
    assert between.rollups == []
    assert [r["sales.total"] for r in between.data] == [115.0, 130.0]
    with Workspace(fresh.path) as other:
        other.build_rollups(result.run_id)
    after = fresh.run_query(TOTAL)
    assert after.rollups == [TIER_TABLE]
    assert [r["sales.total"] for r in after.data] == [115.0, 130.0]


# -- the shipped rollups ------------------------------------------------------------------

DEFAULT_QUERIES: dict[str, dict[str, Any]] = {
    "MRR by segment and month, one region": {
        "metrics": ["subscriptions.mrr", "subscriptions.paying_customers", "subscriptions.arpa"],
        "dimensions": ["customers.segment"],
        "time_dimensions": [
            {
                "dimension": "subscriptions.month",
                "granularity": "month",
                "date_range": "last 12 months",
            }
        ],
        "filters": [{"member": "customers.region", "operator": "equals", "value": "EMEA"}],
    },
    "MRR by plan and quarter, compared": {
        "metrics": ["subscriptions.mrr"],
        "dimensions": ["customers.plan"],
        "time_dimensions": [
            {
                "dimension": "subscriptions.month",
                "granularity": "quarter",
                "date_range": "last 4 quarters",
            }
        ],
        "compare": "previous_year",
    },
    "movements by channel": {
        "metrics": ["movements.new_mrr", "movements.churn_mrr", "movements.count"],
        "dimensions": ["customers.channel", "movements.movement"],
        "time_dimensions": [{"dimension": "movements.month", "granularity": "year"}],
    },
    "payments by method and month": {
        "metrics": ["transactions.revenue", "transactions.orders"],
        "dimensions": ["transactions.payment_method"],
        "time_dimensions": [
            {
                "dimension": "transactions.created_at",
                "granularity": "month",
                "date_range": "last 6 months",
            }
        ],
        "filters": [{"member": "customers.segment", "operator": "notEquals", "value": "SMB"}],
    },
    "top spenders of a region": {
        "metrics": ["customer_value.total_spend", "customer_value.orders"],
        "dimensions": ["customers.customer_id", "customer_value.tier"],
        "filters": [{"member": "customers.region", "operator": "in", "values": ["EMEA", "NA"]}],
        "order_by": [{"id": "customer_value.total_spend", "direction": "desc"}],
        "limit": 25,
    },
}


def test_the_shipped_rollups_answer_as_their_cubes_do(tmp_path):
    with Workspace.init(tmp_path / "demo") as ws:
        ws.generate(customers=300, months=24, seed=5)
        result = ws.run()
        assert set(result.rollups) == {
            "_rollup_subscriptions__by_customer_attributes",
            "_rollup_movements__by_customer_attributes",
            "_rollup_transactions__by_month",
            "_rollup_customer_value__by_customer",
        }
        for name, spec in DEFAULT_QUERIES.items():
            routed, direct = both(ws, spec)
            assert routed.rollups and not direct.rollups, name
            assert routed.data, name
            assert approx_rows(routed.data) == approx_rows(direct.data), name
