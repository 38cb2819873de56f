"""The dashboard page behind the API keys, drawn as the caller's role sees the facts.

Three customers, each billed the same amount every month from April to June 2024:

    customer  name        region  MRR
    C1        Alpha Ltd   EMEA    100
    C2        Beta GmbH   EMEA     50
    C3        Gamma Inc   NA      200

As of June: the whole company has MRR 350 and 3 customers; the EMEA role 150
and 2 (C1 + C2), and it never sees a name in clear (names are PII).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from custlens.config import CONFIG_FILE
from custlens.workspace import Workspace
from tests.report import kpi_values
from tests.servers import in_process

CONFIG = """\
warehouse: duckdb:///custlens.duckdb
as_of: 2024-06
server: {pii_salt: pepper}
roles:
  admin: {privileged: true}
  emea: {filters: [{member: customers.region, operator: equals, value: EMEA}]}
api_keys:
  key-admin: admin
  key-emea: emea
"""
NAMES = ("Alpha Ltd", "Beta GmbH", "Gamma Inc")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-access") / "ws"
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(CONFIG)
    customers = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "name": list(NAMES),
            "region": ["EMEA", "EMEA", "NA"],
        }
    )
    months = [date(2024, m, 1) for m in (4, 5, 6)]
    lines = pl.DataFrame(
        {
            "customer_id": [c for c in ("C1", "C2", "C3") for _ in months],
            "line_id": [f"{c}-{m:%m}" for c in ("C1", "C2", "C3") for m in months],
            "period_start": months * 3,
            "period_end": [date(2024, m.month + 1, 1) for m in months] * 3,
            "amount": [100.0] * 3 + [50.0] * 3 + [200.0] * 3,
        }
    )
    with Workspace(folder) as ws:
        ws.load({"customers": customers, "subscription_lines": lines})
        ws.run()
    return folder


@pytest.fixture()
def client(folder: Path) -> Iterator[Any]:
    with in_process(folder) as client:
        yield client


def test_without_a_key_the_page_asks_for_one_and_shows_no_data(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 401
    assert "Sign in with an API key" in page.text
    assert 'name="key"' in page.text
    assert not any(name in page.text for name in NAMES)
    assert "data-kpi" not in page.text
    wrong = client.get("/?key=key-nobody", follow_redirects=False)
    assert wrong.status_code == 401
    assert "invalid API key" in wrong.text


def test_a_key_in_the_url_becomes_an_httponly_cookie(client: Any) -> None:
    signed = client.get("/?key=key-admin", follow_redirects=False)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "custlens_key=key-admin" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    kpis = kpi_values(page.text)
    assert (kpis["ending_mrr"], kpis["ending_customers"]) == (350.0, 3.0)


def test_the_login_form_signs_in(client: Any) -> None:
    signed = client.post(
        "/login",
        content="key=key-emea",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert client.get("/").status_code == 200


def test_a_restricted_role_sees_its_customers_only_and_no_name(client: Any) -> None:
    page = client.get("/", headers={"x-api-key": "key-emea"})
    assert page.status_code == 200
    kpis = kpi_values(page.text)
    # C1 + C2 only: 100 + 50, two customers — never the company's 350 and 3.
    assert (kpis["ending_mrr"], kpis["ending_customers"]) == (150.0, 2.0)
    assert not any(name in page.text for name in NAMES)


def test_the_cookie_opens_the_page_but_not_the_api(client: Any) -> None:
    client.get("/?key=key-admin")
    assert client.get("/").status_code == 200
    answer = client.post("/v1/query", json={"metrics": ["subscriptions.mrr"]})
    assert answer.status_code == 401


def digest(value: str) -> str:
    return hashlib.sha256(f"pepper{value}".encode()).hexdigest()


def test_names_are_hashed_in_queries_and_profiles_of_a_restricted_role(client: Any) -> None:
    spec = {"dimensions": ["customers.customer_id", "customers.name"]}
    admin = client.post("/v1/query", json=spec, headers={"x-api-key": "key-admin"}).json()
    assert [r["customers.name"] for r in admin["data"]] == list(NAMES)
    emea = client.post("/v1/query", json=spec, headers={"x-api-key": "key-emea"}).json()
    assert [r["customers.name"] for r in emea["data"]] == [digest(n) for n in NAMES[:2]]
    profile = client.get("/v1/customers/C1", headers={"x-api-key": "key-emea"}).json()
    assert profile["overview"]["name"] == digest("Alpha Ltd")
    assert profile["overview"]["region"] == "EMEA"


def test_the_cli_reads_as_a_role_in_exports_lists_and_reports(folder: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from custlens.cli import app

    runner = CliRunner()
    out = tmp_path / "customers.csv"
    done = runner.invoke(
        app, ["-w", str(folder), "--role", "emea", "export", "customers", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    exported = pl.read_csv(out)
    assert exported["customer_id"].to_list() == ["C1", "C2"]
    assert exported["name"].to_list() == [digest(n) for n in NAMES[:2]]
    page = tmp_path / "emea.html"
    done = runner.invoke(app, ["-w", str(folder), "--role", "emea", "report", "-o", str(page)])
    assert done.exit_code == 0, done.output
    kpis = kpi_values(page.read_text())
    assert (kpis["ending_mrr"], kpis["ending_customers"]) == (150.0, 2.0)
    # The owner of the workspace, with no role, sees everything in clear.
    done = runner.invoke(app, ["-w", str(folder), "export", "customers", "-o", str(out)])
    assert pl.read_csv(out)["name"].to_list() == list(NAMES)
    unknown = runner.invoke(
        app, ["-w", str(folder), "--role", "sales", "export", "customers", "-o", str(out)]
    )
    assert unknown.exit_code == 1
    assert "no role 'sales' in custlens.yml (roles: admin, emea)" in unknown.output
