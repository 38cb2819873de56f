"""The API documents itself offline: /docs and /redoc load their scripts from the
server (no CDN), the API-key scheme is declared so Swagger's Authorize button works,
the query body has a typed schema whose examples answer, and every request is logged
in one line without the key."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.test_api import _load
from tests.servers import in_process


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with in_process(_load(tmp_path_factory.mktemp("docs") / "ws")) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_every_asset_from_the_server(client: Any, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert assets, html.text
    for asset in assets:
        assert asset.startswith("/"), f"{page} loads {asset} from another host"
        if asset != "/openapi.json":
            fetched = client.get(asset)
            assert fetched.status_code == 200, asset
            assert len(fetched.content) > 1000, asset


def test_the_api_key_scheme_is_declared_on_every_v1_route(client: Any) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    header = [s for s in schemes.values() if s["type"] == "apiKey"]
    assert header == [{"type": "apiKey", "in": "header", "name": "X-API-Key", **header[0]}]
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert ("security" in operation) == path.startswith("/v1"), path


def test_the_query_body_is_typed_with_named_examples(client: Any) -> None:
    # The examples are executed on a workspace with MRR in tests/test_documented_examples.
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/query"]["post"]["requestBody"]
    assert body["required"] is True
    content = body["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Query"}
    query = schema["components"]["schemas"]["Query"]
    assert {"metrics", "dimensions", "time_dimensions", "filters", "limit"} <= set(
        query["properties"]
    )
    assert all(set(e) == {"summary", "value"} for e in content["examples"].values())


def test_a_body_that_is_not_json_is_a_400_naming_the_problem(client: Any) -> None:
    answer = client.post(
        "/v1/query",
        content=b"{metrics:",
        headers={"X-API-Key": "key-admin", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert "JSON" in answer.json()["error"]


def test_each_request_is_logged_in_one_line_without_the_key(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="custlens.server"):
        client.post(
            "/v1/query",
            json={"metrics": ["transactions.revenue"]},
            headers={"X-API-Key": "key-emea"},
        )
        client.get("/v1/meta")
    lines = [r.getMessage() for r in caplog.records if r.name == "custlens.server"]
    assert len(lines) == 2, lines
    assert re.fullmatch(r"POST /v1/query 200 \d+ ms role=emea", lines[0]), lines[0]
    assert re.fullmatch(r"GET /v1/meta 401 \d+ ms role=-", lines[1]), lines[1]
    assert not any("key-emea" in line for line in lines)


def test_the_dashboard_key_in_the_url_is_never_logged(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="custlens.server"):
        client.get("/?key=key-admin", follow_redirects=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "custlens.server"]
    assert lines and not any("key-admin" in line for line in lines)


def test_the_readme_names_both_docs_pages() -> None:
    text = (Path(__file__).parents[2] / "README.md").read_text()
    assert "/docs" in text and "/redoc" in text
