"""``POST /v1/query`` under random bodies: every answer is a 2xx or a 4xx, never a 5xx.

Bodies are drawn around the shape of the query schema (names the model knows and
names it does not, every operator, values of every JSON type, groups nested past
the limit, date ranges relative and absolute, huge counts) and as arbitrary JSON.
Examples are derandomized, so every run sends the same bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from custlens.semantic.query import OPERATORS
from tests.server.test_api import _load

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MEMBERS = [
    "transactions.revenue",
    "transactions.count",
    "customers.count",
    "customers.region",
    "customers.email",
    "transactions.created_at",
    "subscriptions.mrr",
    "mrr",
    "nope",
    "customers.",
    "",
]
# Mostly names that resolve, so that bodies get past name resolution to the planner.
METRICS = st.sampled_from(["transactions.revenue"] * 6 + MEMBERS)
DATES = st.sampled_from(["transactions.created_at"] * 6 + MEMBERS)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    st.text(max_size=12),
    st.sampled_from(["2024-05-01", "2024-05", "0001-01-01", "9999-12-31", "2024-13-45"]),
)
condition = st.fixed_dictionaries(
    {
        "member": st.sampled_from(["customers.region"] * 4 + MEMBERS),
        "operator": st.sampled_from([*OPERATORS, "eq"]),
    },
    optional={"value": scalars, "values": st.lists(scalars, max_size=4)},
)
filters = st.recursive(
    condition,
    lambda inner: st.dictionaries(
        st.sampled_from(["and", "or"]), st.lists(inner, max_size=4), min_size=1, max_size=2
    ),
    max_leaves=12,
)
date_ranges = st.one_of(
    st.sampled_from(
        [
            "last 12 months",
            "last 999999999 months",
            "last 0 days",
            "this year",
            "last quarter",
            "today",
            "yesterday",
            "next week",
        ]
    ),
    st.builds(
        lambda n, u: f"last {n} {u}",
        st.integers(0, 10**12),
        st.sampled_from(["days", "weeks", "months", "quarters", "years"]),
    ),
    st.lists(scalars, max_size=3),
)
time_dimension = st.fixed_dictionaries(
    {"dimension": DATES},
    optional={
        "granularity": st.sampled_from(["day", "week", "month", "quarter", "year", "hour"]),
        "date_range": date_ranges,
    },
)
queries = st.fixed_dictionaries(
    {"metrics": st.lists(METRICS, min_size=1, max_size=3)},
    optional={
        "dimensions": st.lists(st.sampled_from(MEMBERS), max_size=3),
        "time_dimensions": st.lists(time_dimension, max_size=2),
        "filters": st.lists(filters, max_size=3),
        "order_by": st.lists(st.one_of(st.sampled_from(MEMBERS), st.text(max_size=8)), max_size=2),
        "limit": st.one_of(st.integers(-5, 10**20), scalars),
        "offset": st.one_of(st.integers(-5, 10**20), scalars),
        "compare": st.sampled_from(["previous_period", "previous_year", "next_year"]),
    },
)
any_json = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner)
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from custlens.server import create_app

    folder = _load(tmp_path_factory.mktemp("fuzz") / "ws")
    with TestClient(create_app(folder), raise_server_exceptions=False) as test_client:
        yield test_client


def post(client: Any, body: object) -> None:
    response = client.post("/v1/query", json=body, headers={"X-API-Key": "key-emea"})
    assert response.status_code < 500, (body, response.text)
    if response.status_code >= 400:
        assert response.json()["status"] == response.status_code


@FUZZ
@given(body=queries)
def test_no_query_body_gives_a_server_error(client: Any, body: dict[str, Any]) -> None:
    post(client, body)


@settings(FUZZ, max_examples=60)
@given(body=any_json)
def test_no_json_body_gives_a_server_error(client: Any, body: object) -> None:
    post(client, body)


def test_the_fuzz_reaches_answers_too(client: Any, tmp_path: Path) -> None:
    """The strategies are not all errors: a plain query from them answers 200."""
    response = client.post(
        "/v1/query",
        json={"metrics": ["transactions.revenue"], "dimensions": ["customers.region"]},
        headers={"X-API-Key": "key-emea"},
    )
    assert response.status_code == 200, response.text
