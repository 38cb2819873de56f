"""Errors: a bad query is a QueryError naming the field; a bad model is a ConfigError
naming file:line and the bad key or reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from custlens.errors import ConfigError, QueryError
from custlens.semantic.loader import load_model
from tests.semantic.data import rows

SALES_TOTAL = {"metrics": ["sales.total"]}


def cond(member, operator, value=None, **extra):
    out = {"member": member, "operator": operator, **extra}
    if value is not None:
        out["value"] = value
    return out


BAD_QUERIES = [
    ({"metrics": ["sales.nope"]}, ["metrics.0", "sales.nope"]),
    ({"metrics": ["sales.total", "nope"]}, ["metrics.1", "nope"]),
    # The first bad metric in the order asked (the plan puts metrics in name order).
    ({"metrics": ["zzz", "sales.nope"]}, ["metrics.0: unknown metric or measure 'zzz'"]),
    ({"metrics": ["total_3m", "running_total"]}, ["'total_3m' is cumulative"]),
    ({**SALES_TOTAL, "dimensions": ["sales.nope"]}, ["dimensions.0", "sales.nope"]),
    ({**SALES_TOTAL, "dimensions": ["ghosts.x"]}, ["dimensions.0", "ghosts"]),
    ({**SALES_TOTAL, "dimensions": ["sales.day.decade"]}, ["dimensions.0", "decade"]),
    (
        {**SALES_TOTAL, "filters": [cond("sales.channel", "equal", "web")]},
        ["filters.0", "'equal' is not an operator"],
    ),
    (
        {**SALES_TOTAL, "filters": [cond("sales.colour", "equals", "red")]},
        ["filters.0", "sales.colour"],
    ),
    ({**SALES_TOTAL, "filters": [cond("sales.amount", "gt", "abc")]}, ["sales.amount", "'abc'"]),
    ({**SALES_TOTAL, "filters": [cond("sales.big", "equals", "maybe")]}, ["sales.big", "'maybe'"]),
    (
        {**SALES_TOTAL, "filters": [cond("sales.day", "inDateRange", "last fortnight")]},
        ["sales.day", "last fortnight"],
    ),
    (
        {**SALES_TOTAL, "filters": [cond("sales.day", "afterDate", "2024-13-01")]},
        ["sales.day", "2024-13-01"],
    ),
    (
        # (equals with several values means any of them, as in Cube; gt cannot.)
        {**SALES_TOTAL, "filters": [cond("sales.amount", "gt", [1, 2])]},
        ["filters.0", "exactly one value"],
    ),
    (
        {**SALES_TOTAL, "filters": [cond("sales.channel", "set", "x")]},
        ["filters.0", "set takes no value"],
    ),
    (
        {**SALES_TOTAL, "filters": [cond("sales.channel", "in", [])]},
        ["filters.0", "in takes at least one"],
    ),
    (
        {
            **SALES_TOTAL,
            "filters": [{"member": "sales.channel", "operator": "equals", "value": [None]}],
        },
        ["filters.0", "null"],
    ),
    (
        {**SALES_TOTAL, "filters": [cond("sales.amount", "contains", "3")]},
        ["contains", "sales.amount"],
    ),
    (
        {**SALES_TOTAL, "filters": [cond("sales.channel", "beforeDate", "2024-01-01")]},
        ["beforeDate", "sales.channel"],
    ),
    ({**SALES_TOTAL, "filters": [cond("sales.big", "gt", 1)]}, ["gt", "sales.big"]),
    (
        {**SALES_TOTAL, "filters": [{"or": [cond("sales.channel", "equls", "web")]}]},
        ["filters.0", "'equls' is not an operator"],
    ),
    (
        {**SALES_TOTAL, "filters": [{"and": [], "or": []}]},
        ["filters.0", "exactly one of `and` or `or`"],
    ),
    (
        {
            **SALES_TOTAL,
            "time_dimensions": [{"dimension": "sales.day", "date_range": "last fortnight"}],
        },
        ["time_dimensions.0.date_range", "last fortnight"],
    ),
    (
        {
            **SALES_TOTAL,
            "time_dimensions": [
                {"dimension": "sales.day", "date_range": ["2024-05-01", "2024-01-01"]}
            ],
        },
        ["time_dimensions.0.date_range", "before it starts"],
    ),
    (
        {**SALES_TOTAL, "time_dimensions": [{"dimension": "sales.day", "granularity": "decade"}]},
        ["time_dimensions.0.granularity"],
    ),
    (
        {
            **SALES_TOTAL,
            "time_dimensions": [{"dimension": "sales.channel", "granularity": "month"}],
        },
        ["time_dimensions.0.dimension", "sales.channel"],
    ),
    ({**SALES_TOTAL, "order_by": [{"field": "sales.count"}]}, ["order_by.0.field", "sales.count"]),
    ({**SALES_TOTAL, "metricz": ["x"]}, ["metricz", "unknown field"]),
    ({**SALES_TOTAL, "limit": 0}, ["limit"]),
    ({**SALES_TOTAL, "compare": "previous_week"}, ["compare"]),
    ({}, ["at least one metric or dimension"]),
]


@pytest.mark.parametrize(("spec", "words"), BAD_QUERIES, ids=lambda v: str(v)[:60])
def test_bad_query_names_the_field(duck, spec, words):
    with pytest.raises(QueryError) as err:
        duck.run_query(spec)
    message = str(err.value)
    for word in words:
        assert word in message, (word, message)
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("sales.channel", "equal", "web"), "filters.0.operator: 'equal' is not an operator"),
        ({"or": [cond("sales.channel", "equls", "w")]}, "filters.0.or.0.operator: 'equls' is not"),
        (cond("sales.amount", "gt", [1, 2]), "filters.0: gt takes exactly one value"),
    ],
)
def test_bad_condition_message_is_clean(duck, condition, expected):
    with pytest.raises(QueryError) as err:
        duck.run_query({**SALES_TOTAL, "filters": [condition]})
    message = str(err.value)
    assert message.startswith(expected), message
    assert "function-after" not in message and "unknown field" not in message, message


def test_values_never_become_sql(duck):
    # A quote in a value is data, not SQL: nothing matches and nothing breaks.
    evil = "web' OR '1'='1"
    got = rows(
        duck,
        metrics=["sales.count"],
        dimensions=["sales.channel"],
        filters=[cond("sales.channel", "equals", evil)],
    )
    assert got == []
    result = duck.run_query(
        {
            "metrics": ["sales.count"],
            "filters": [cond("sales.note", "contains", "'; DROP TABLE t_sales; --")],
        }
    )
    assert result.data == [{"sales.count": 0}]
    assert duck.warehouse.has("t_sales")


# -- the model ----------------------------------------------------------------------


def model_error(tmp_path: Path, text: str) -> tuple[str, str]:
    folder = tmp_path / "semantic"
    folder.mkdir(exist_ok=True)
    path = folder / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_model(folder)
    return str(err.value), str(path)


def test_unknown_key_names_file_line_and_key(tmp_path):
    text = """\
cubes:
  - name: things
    table: t_sales
    measures:
      - {name: n, type: count}
      - {name: m, type: sum, sql: amount, colour: red}
"""
    message, path = model_error(tmp_path, text)
    assert f"{path}:6" in message
    assert "colour" in message


def test_unknown_top_level_key(tmp_path):
    message, path = model_error(tmp_path, "cubez: []\n")
    assert f"{path}:1" in message and "cubez" in message


def test_bad_value_names_file_line(tmp_path):
    text = """\
metrics:
  - name: m
    type: averaged
    measure: customers.count
"""
    message, path = model_error(tmp_path, text)
    assert f"{path}:3" in message and "type" in message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            # a metric over a measure that does not exist
            "metrics:\n  - {name: ok, type: simple, measure: customers.count}\n"
            "  - name: broken\n    type: simple\n    measure: customers.nope\n",
            3,
            ["broken", "customers.nope"],
        ),
        (
            # a derived metric over an unknown metric
            "metrics:\n  - {name: d, type: derived, expression: mrr + ghost}\n",
            2,
            ["ghost"],
        ),
        (
            # a join to an unknown cube
            "cubes:\n  - name: things\n    table: t\n    dimensions: [{name: a, type: string}]\n"
            "    joins: [{cube: ghosts, relationship: many_to_one, on: a}]\n",
            2,
            ["ghosts"],
        ),
        (
            # a join on a key the other cube does not have
            "cubes:\n  - name: things\n    table: t\n    dimensions: [{name: a, type: string}]\n"
            "    joins: [{cube: customers, relationship: many_to_one, on: a}]\n",
            2,
            ["'a'", "customers"],
        ),
        (
            # semi_additive over a dimension that is not a time
            "cubes:\n  - name: things\n    table: t\n"
            "    measures: [{name: m, type: sum, sql: x, semi_additive: a}]\n"
            "    dimensions: [{name: a, type: string}]\n",
            2,
            ["semi_additive", "'a'"],
        ),
        (
            # a number measure over an unknown measure
            "cubes:\n  - name: things\n    table: t\n"
            "    measures: [{name: r, type: number, sql: x / y}]\n",
            2,
            ["things.r"],
        ),
        (
            # a metric cycle
            "metrics:\n  - {name: a1, type: derived, expression: b1 + 1}\n"
            "  - {name: b1, type: derived, expression: a1 * 2}\n",
            2,
            ["cycle"],
        ),
        (
            # both table and sql
            "cubes:\n  - {name: things, table: t, sql: SELECT 1}\n",
            2,
            ["exactly one of `table` or `sql`"],
        ),
    ],
)
def test_dangling_reference_names_file_line(tmp_path, text, line, words):
    message, path = model_error(tmp_path, text)
    assert re.search(rf"{re.escape(path)}:{line}\b", message), message
    for word in words:
        assert word in message, (word, message)


def test_bad_sql_and_bad_yaml(tmp_path):
    message, path = model_error(
        tmp_path,
        "cubes:\n  - name: t\n    table: t\n    measures: [{name: m, type: sum, sql: 'a +* ('}]\n",
    )
    assert path in message and "SQL" in message
    message, path = model_error(tmp_path, "cubes: [\n")
    assert path in message and "YAML" in message


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_workspace_query_reports_the_model_error(make_workspace):
    ws = make_workspace()
    (ws.path / "semantic").mkdir()
    (ws.path / "semantic" / "x.yml").write_text(
        "metrics:\n  - {name: m, type: simple, measure: customers.nope}\n"
    )
    with pytest.raises(ConfigError, match=re.escape(str(ws.path / "semantic" / "x.yml")) + ":2"):
        ws.query(["m"])
