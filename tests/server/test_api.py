"""The HTTP API through the Python client against a real uvicorn server on a loopback port:
API keys, role row filters (joins included), PII hashing, JSON errors, limits.

The data is small enough to check by hand:

    customer  region  email      transactions (processed unless noted)
    C1        EMEA    a@x.com    payment 100, refund 30            → net 70
    C2        EMEA    b@y.com    payment 50                        → 50
    C3        NA      c@z.com    payment 200, failed payment 999   → 200
    C4        APAC    (none)     payment 10                        → 10

Revenue by region: EMEA 120, NA 200, APAC 10; all 330.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from custlens import AccessError, Client, NotFoundError, QueryError
from custlens.config import CONFIG_FILE
from custlens.workspace import Workspace
from tests.servers import serving

SALT = "pepper"
CONFIG = f"""\
warehouse: duckdb:///custlens.duckdb
as_of: 2024-06
server: {{max_rows: 3, pii_salt: {SALT}}}
roles:
  admin: {{privileged: true}}
  emea: {{filters: [{{member: customers.region, operator: equals, value: EMEA}}]}}
api_keys:
  key-admin: admin
  key-emea: emea
"""


def _load(folder: Path, config: str = CONFIG) -> Path:
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(config)
    customers = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "region": ["EMEA", "EMEA", "NA", "APAC"],
            "email": ["a@x.com", "b@y.com", "c@z.com", None],
        }
    )
    day = datetime(2024, 5, 1)
    transactions = pl.DataFrame(
        {
            "transaction_id": [f"T{i}" for i in range(1, 8)],
            "customer_id": ["C1", "C1", "C2", "C3", "C3", "C4", "C4"],
            "created_at": [day] * 7,
            "amount": [100.0, 30.0, 50.0, 200.0, 999.0, 10.0, 0.0],
            "type": ["payment", "refund", "payment", "payment", "payment", "payment", "payment"],
            "status": ["processed"] * 4 + ["failed", "processed", "pending"],
        }
    )
    with Workspace(folder) as ws:
        ws.load({"customers": customers, "transactions": transactions})
        ws.run()  # the customers cube is the identity-resolved dim_customers
    return folder


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = _load(tmp_path_factory.mktemp("api") / "ws")
    with serving(folder) as base:
        yield base


def revenue_by_region(client: Client) -> dict[str, float]:
    rows = client.query(["transactions.revenue"], ["customers.region"]).data
    return {r["customers.region"]: r["transactions.revenue"] for r in rows}


def test_a_key_is_required_when_keys_are_configured(url: str) -> None:
    with pytest.raises(AccessError, match="API key is required") as missing:
        Client(url).query(["transactions.revenue"])
    assert missing.value.status == 401
    with pytest.raises(AccessError, match="invalid API key") as wrong:
        Client(url, api_key="key-nobody").meta()
    assert wrong.value.status == 401


def test_health_needs_no_key(url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(url + "health") as response:
        assert response.read() == b'{"status":"ok"}'


def test_the_admin_sees_every_region(url: str) -> None:
    assert revenue_by_region(Client(url, api_key="key-admin")) == {
        "APAC": 10.0,
        "EMEA": 120.0,
        "NA": 200.0,
    }


def test_a_role_filter_applies_to_every_query_joins_included(url: str) -> None:
    emea = Client(url, api_key="key-emea")
    assert revenue_by_region(emea) == {"EMEA": 120.0}
    # No customer dimension asked: transactions are still joined to customers and filtered.
    total = emea.query(["transactions.revenue", "transactions.orders"]).data
    assert total == [{"transactions.revenue": 120.0, "transactions.orders": 2}]
    # A filter of its own narrows further, never widens.
    widened = emea.query(
        ["transactions.revenue"],
        filters=[{"member": "customers.region", "operator": "equals", "value": "NA"}],
    ).data
    assert widened == [{"transactions.revenue": 0.0}]


def test_a_cube_the_role_filter_cannot_reach_is_refused(url: str) -> None:
    with pytest.raises(AccessError, match="not available to this role") as refused:
        Client(url, api_key="key-emea").query(["mrr"])
    assert refused.value.status == 403


def test_pii_is_hashed_for_unprivileged_roles(url: str) -> None:
    spec = {"dimensions": ["customers.customer_id", "customers.email"]}
    clear = Client(url, api_key="key-admin").query(**spec).data
    assert [r["customers.email"] for r in clear] == ["a@x.com", "b@y.com", "c@z.com"]
    hashed = Client(url, api_key="key-emea").query(**spec).data
    expected = [hashlib.sha256((SALT + e).encode()).hexdigest() for e in ("a@x.com", "b@y.com")]
    assert [r["customers.email"] for r in hashed] == expected


def test_unprivileged_roles_may_not_filter_on_pii(url: str) -> None:
    with pytest.raises(AccessError, match="PII") as refused:
        Client(url, api_key="key-emea").query(
            ["transactions.revenue"],
            filters=[{"member": "customers.email", "operator": "equals", "value": "a@x.com"}],
        )
    assert refused.value.status == 403


def nested(depth: int) -> dict[str, object]:
    """Groups ``depth`` deep (and, or, and, …) around one condition."""
    node: dict[str, object] = {"member": "customers.region", "operator": "equals", "value": "x"}
    for level in range(depth):
        node = {"and" if level % 2 else "or": [node]}
    return node


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metrics": ["transactions.revenu"]}, "metrics.0: unknown metric or measure"),
        (
            {
                "metrics": ["transactions.revenue"],
                "filters": [{"member": "customers.region", "operator": "equal", "value": "x"}],
            },
            "'equal' is not an operator",
        ),
        ({"metrics": ["transactions.revenue"], "colour": "red"}, "colour: unknown field"),
        (
            {
                "metrics": ["transactions.revenue"],
                "filters": [{"member": "transactions.amount", "operator": "gt", "value": 1}],
            },
            "unknown dimension 'transactions.amount'",
        ),
        # Issue 14: these were HTTP 500 (RecursionError, ValueError).
        (
            {
                "metrics": ["transactions.revenue"],
                "filters": [
                    {
                        "or": [
                            {"member": "customers.region", "operator": "equals", "value": f"R{i}"}
                            for i in range(2000)
                        ]
                    }
                ],
            },
            "filters.0.or: at most 100 terms in a group, got 2000",
        ),
        (
            {
                "metrics": ["transactions.revenue"],
                "time_dimensions": [
                    {"dimension": "transactions.created_at", "date_range": "last 999999999 months"}
                ],
            },
            "time_dimensions.0.date_range: 'last 999999999 months' spans more than 100 years",
        ),
        (
            {
                "metrics": ["transactions.revenue"],
                "filters": [
                    {"member": "customers.region", "operator": "in", "values": ["x"] * 1001}
                ],
            },
            "filters.0.values: at most 1000 values, got 1001",
        ),
        (
            {"metrics": ["transactions.revenue"], "filters": [nested(6)]},
            "filters.0: filters nest at most 5 groups deep",
        ),
        (
            {
                "metrics": ["transactions.revenue"],
                "time_dimensions": [
                    {"dimension": "transactions.created_at", "date_range": ["0001-01-01", "x"]}
                ],
            },
            "time_dimensions.0.date_range: 'x' is not a date",
        ),
    ],
)
def test_bad_queries_are_400_json_naming_the_field(
    url: str, spec: dict[str, object], message: str
) -> None:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url + "v1/query",
        json.dumps(spec).encode(),
        {"Content-Type": "application/json", "X-API-Key": "key-admin"},
    )
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request)
    assert failed.value.code == 400
    body = json.loads(failed.value.read())
    assert body["status"] == 400
    assert message in body["error"]
    assert "Traceback" not in body["error"]


def test_the_client_raises_the_servers_message(url: str) -> None:
    with pytest.raises(QueryError, match="unknown metric or measure 'nope'"):
        Client(url, api_key="key-admin").query(["nope"])


def test_responses_are_cut_at_max_rows(url: str) -> None:
    result = Client(url, api_key="key-admin").query(dimensions=["transactions.transaction_id"])
    assert [r["transactions.transaction_id"] for r in result.data] == ["T1", "T2", "T3"]
    assert result.truncated


def test_meta_and_catalog(url: str) -> None:
    client = Client(url, api_key="key-admin")
    cubes = {c["name"]: c for c in client.meta()["cubes"]}
    email = next(d for d in cubes["customers"]["dimensions"] if d["name"] == "customers.email")
    assert email["pii"] is True
    mrr = next(m for m in client.catalog() if m["name"] == "mrr")
    assert mrr["owner"] == "Finance"
    assert mrr["table"] == "growth_summary"


def test_a_query_past_the_timeout_is_504(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from custlens.server import create_app

    slow = CONFIG.replace("max_rows: 3", "max_rows: 3, query_timeout_seconds: 0.000001")
    folder = _load(tmp_path / "ws", slow)
    with TestClient(create_app(folder)) as client:
        response = client.post(
            "/v1/query",
            json={"metrics": ["transactions.revenue"]},
            headers={"X-API-Key": "key-admin"},
        )
    assert response.status_code == 504
    assert "query_timeout_seconds" in response.json()["error"]


def test_without_keys_the_api_is_open_and_hashes_pii(tmp_path: Path) -> None:
    folder = _load(tmp_path / "ws", "warehouse: duckdb:///custlens.duckdb\nserver: {pii_salt: s}\n")
    with serving(folder) as base:
        rows = Client(base).query(dimensions=["customers.customer_id", "customers.email"], limit=1)
    assert rows.data == [
        {"customers.customer_id": "C1", "customers.email": hashlib.sha256(b"sa@x.com").hexdigest()}
    ]


def test_the_profile_hashes_pii_and_keeps_to_the_role(url: str) -> None:
    admin = Client(url, api_key="key-admin").profile("C1")
    assert admin["customer_id"] == "C1"
    assert admin["overview"]["email"] == "a@x.com"
    assert admin["overview"]["region"] == "EMEA"
    emea = Client(url, api_key="key-emea").profile("C1")
    assert emea["overview"]["email"] == hashlib.sha256(f"{SALT}a@x.com".encode()).hexdigest()
    assert emea["overview"]["name"] == admin["overview"]["name"]
    # C3 is in NA: outside the EMEA role's rows, so not found (not even "forbidden").
    with pytest.raises(NotFoundError, match="C3"):
        Client(url, api_key="key-emea").profile("C3")
    assert Client(url, api_key="key-admin").profile("C3")["overview"]["region"] == "NA"
    with pytest.raises(NotFoundError):
        Client(url, api_key="key-admin").profile("nobody")


def test_predicted_value_by_segment_through_the_clv_cube(tmp_path: Path) -> None:
    # A clv_predictions table written by hand: C1, C2 (EMEA) 100 + 50, C3 (NA) 30.
    folder = _load(tmp_path / "ws")
    with Workspace(folder) as ws:
        ws.warehouse.write_tables(
            {
                "clv_predictions": pl.DataFrame(
                    {
                        "customer_id": ["C1", "C2", "C3"],
                        "p_alive": [0.9, 0.4, 0.8],
                        "clv": [100.0, 50.0, 30.0],
                        "expected_purchases": [2.0, 1.0, 0.5],
                        "frequency": [3, 1, 0],
                    }
                )
            }
        )
        rows = ws.query(
            ["clv.predicted_value", "clv.likely_alive", "clv.avg_p_alive"], ["customers.region"]
        ).data
    assert rows == [
        {"customers.region": "EMEA", "clv.predicted_value": 150.0, "clv.likely_alive": 1,
         "clv.avg_p_alive": pytest.approx(0.65)},
        {"customers.region": "NA", "clv.predicted_value": 30.0, "clv.likely_alive": 1,
         "clv.avg_p_alive": pytest.approx(0.8)},
    ]  # fmt: skip


def _raw(url: str, route: str, accept: str, body: dict | None = None) -> tuple[bytes, Any]:
    """The raw answer of a route: its bytes and its headers (case-insensitive)."""
    import json
    import urllib.request

    headers = {"X-API-Key": "key-admin", "Accept": accept, "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + route, data, headers)
    with urllib.request.urlopen(request) as response:
        return response.read(), response.headers


def test_a_query_answers_csv_or_arrow_when_asked(url: str) -> None:
    import io

    query = {"metrics": ["transactions.revenue"], "dimensions": ["customers.region"]}
    expected = pl.DataFrame(
        {"customers.region": ["APAC", "EMEA", "NA"], "transactions.revenue": [10.0, 120.0, 200.0]}
    )
    text, headers = _raw(url, "v1/query", "text/csv", query)
    assert headers["Content-Type"].startswith("text/csv")
    assert headers["X-Custlens-As-Of"] == "2024-06-30"
    assert headers["X-Custlens-Currency"] == "USD"
    assert pl.read_csv(io.BytesIO(text)).sort("customers.region").equals(expected)
    stream, headers = _raw(url, "v1/query", "application/vnd.apache.arrow.stream", query)
    assert headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    frame = pl.read_ipc_stream(io.BytesIO(stream)).sort("customers.region")
    assert frame.equals(expected)  # typed: the revenue a float, not text
    # Anything else is JSON, as before.
    _, headers = _raw(url, "v1/query", "*/*", query)
    assert headers["Content-Type"] == "application/json"


def test_a_dimensions_values_as_the_role_sees_them(url: str) -> None:
    admin, emea = Client(url, api_key="key-admin"), Client(url, api_key="key-emea")
    assert admin.dimension_values("customers.region") == ["APAC", "EMEA", "NA"]
    assert emea.dimension_values("customers.region") == ["EMEA"]  # its row filter
    assert admin.dimension_values("customers.region", contains="N") == ["NA"]
    assert admin.dimension_values("customers.region", limit=2) == ["APAC", "EMEA"]
    body, _ = _raw(url, "v1/dimensions/customers.region/values?limit=2", "application/json")
    assert b'"truncated":true' in body
    # Values in order would tell an unprivileged role the hidden PII: refused.
    with pytest.raises(AccessError, match="may not order by PII"):
        emea.dimension_values("customers.email")
    # At most server.max_rows (3 here) values; C4's missing email would come last.
    assert admin.dimension_values("customers.email") == ["a@x.com", "b@y.com", "c@z.com"]
    with pytest.raises(QueryError, match="nope"):
        admin.dimension_values("customers.nope")
