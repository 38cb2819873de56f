"""Cube's /load query is accepted as Cube writes it, and answered in Cube's shape over
HTTP. Sales (data.py): web s0 35, s1 10, s3 30, s6 60 = 135; shop s2 20, s5 50 = 70;
no channel s4 40. By month: Feb 2024 70, Mar 0, Apr 50, May 0, Jun 60; as of 2024-06."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from custlens.cli import app
from custlens.workspace import Workspace
from tests.semantic.data import fill, write_workspace
from tests.servers import in_process

D = date


def test_time_dimensions_with_a_from_to_date_range(duck) -> None:
    answer = duck.run_query(
        {
            "measures": ["sales.total"],
            "timeDimensions": [
                {
                    "dimension": "sales.day",
                    "granularity": "month",
                    "dateRange": "from 2024-02-01 to 2024-04-30",
                }
            ],
        }
    ).data
    assert [(r["sales.day.month"], r["sales.total"]) for r in answer] == [
        (D(2024, 2, 1), 70.0),
        (D(2024, 3, 1), 0.0),
        (D(2024, 4, 1), 50.0),
    ]


def test_last_n_months_as_cube_writes_it(duck) -> None:
    answer = duck.run_query(
        {
            "measures": ["sales.total"],
            "timeDimensions": [
                {"dimension": "sales.day", "granularity": "month", "dateRange": "last 3 months"}
            ],
        }
    ).data
    assert [r["sales.total"] for r in answer] == [50.0, 0.0, 60.0]


def test_equals_with_several_values_matches_any(duck) -> None:
    both = {"member": "sales.channel", "operator": "equals", "values": ["web", "shop"]}
    answer = duck.run_query({"measures": ["sales.total"], "filters": [both]}).data
    assert answer == [{"sales.total": 205.0}]
    neither = {**both, "operator": "notEquals"}
    answer = duck.run_query({"measures": ["sales.total"], "filters": [neither]}).data
    assert answer == [{"sales.total": 40.0}]  # negative operators keep the null channel


def test_order_as_a_member_to_direction_mapping(duck) -> None:
    spec = {"measures": ["sales.total"], "dimensions": ["sales.channel"]}
    desc = duck.run_query({**spec, "order": {"sales.total": "desc"}}).data
    assert [r["sales.total"] for r in desc] == [135.0, 70.0, 40.0]
    pairs = duck.run_query({**spec, "order": [["sales.total", "asc"]]}).data
    assert [r["sales.total"] for r in pairs] == [40.0, 70.0, 135.0]


def test_a_timezone_other_than_utc_is_refused(duck) -> None:
    from custlens.errors import QueryError

    with pytest.raises(QueryError, match="only UTC"):
        duck.run_query({"measures": ["sales.total"], "timezone": "Europe/Berlin"})


def test_the_server_answers_a_cube_query_in_cubes_shape(tmp_path) -> None:
    # A workspace of its own: the shared one is open in this process, and a server
    # reads a serving copy of the file.
    folder = write_workspace(tmp_path, "duckdb")
    fill(Workspace(folder)).close()
    query: dict[str, Any] = {
        "measures": ["sales.total"],
        "timeDimensions": [
            {"dimension": "sales.day", "granularity": "month", "dateRange": "last 2 months"}
        ],
    }
    with in_process(folder) as client:
        body = client.post("/v1/query", json=query).json()
        loaded = client.post("/cubejs-api/v1/load", json={"query": query}).json()
        native = client.post("/v1/query", json={"metrics": ["sales.total"]}).json()
    assert body == loaded
    assert body["query"] == query
    assert body["data"] == [
        {"sales.day.month": "2024-05-01", "sales.day": "2024-05-01", "sales.total": 0.0},
        {"sales.day.month": "2024-06-01", "sales.day": "2024-06-01", "sales.total": 60.0},
    ]
    assert body["annotation"]["measures"]["sales.total"]["type"] == "number"
    assert "sales.day.month" in body["annotation"]["timeDimensions"]
    assert "annotation" not in native and "columns" in native  # the native shape stays


def test_the_cli_prints_quarters_as_a_person_reads_them(duck) -> None:
    argv = ["-w", str(duck.path), "query", "-m", "sales.total"]
    argv += ["-t", "sales.day:quarter:last 4 quarters"]
    table = CliRunner().invoke(app, argv, terminal_width=120)
    assert table.exit_code == 0, table.output
    for quarter in ("2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2"):
        assert quarter in table.stdout
    csv = CliRunner().invoke(app, [*argv, "--format", "csv"])
    assert "2024-04-01" in csv.stdout  # programs get ISO dates


def test_a_malformed_cube_query_is_a_query_error_naming_the_field() -> None:
    # Each of these raised a TypeError in the shape conversion (a 500 over HTTP).
    from custlens.errors import QueryError
    from custlens.semantic.query import parse_query

    for body, field in [
        ({"metrics": 5, "measures": ["sales.total"]}, "measures"),
        ({"timeDimensions": 3}, "timeDimensions"),
        ({"measures": ["sales.total"], "order": [1, 2]}, "order"),
        (
            {
                "measures": ["sales.total"],
                "filters": [{"member": "sales.channel", "operator": ["x"], "values": [1, 2]}],
            },
            "filters.0.operator",
        ),
    ]:
        with pytest.raises(QueryError, match=field):
            parse_query(body)
