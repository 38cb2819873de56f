"""A time dimension's declared ``grain`` lets a balance skip its last-value step at that
grain (one stamp per period), and changes no number.

Balances by hand (account, month → value):

    a  2024-01 10   2024-02 20   2024-03 30
    b  2024-01  5                2024-03  7

By month: Jan 15, Feb 20, Mar 37. By quarter (last month, March): 37.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

CUBE = """\
cubes:
  - name: bal
    table: t_bal
    measures:
      - {{name: value, type: sum, sql: value, semi_additive: month}}
    dimensions:
      - {{name: key, type: string, primary_key: true, sql: "account || CAST(month AS VARCHAR)"}}
      - {{name: account, type: string}}
      - {{name: month, type: time{grain}}}
"""


def workspace(make_workspace, grain: str):
    ws = make_workspace(as_of="2024-03")
    (ws.path / "semantic").mkdir()
    (ws.path / "semantic" / "bal.yml").write_text(CUBE.format(grain=grain))
    d = date
    ws.warehouse.write_tables(
        {
            "t_bal": pl.DataFrame(
                {
                    "account": ["a", "a", "a", "b", "b"],
                    "month": [d(2024, 1, 1), d(2024, 2, 1), d(2024, 3, 1), d(2024, 1, 1),
                              d(2024, 3, 1)],
                    "value": [10.0, 20.0, 30.0, 5.0, 7.0],
                }
            )
        }
    )  # fmt: skip
    return ws


def by(ws, granularity: str):
    return ws.run_query(
        {
            "metrics": ["bal.value"],
            "time_dimensions": [{"dimension": "bal.month", "granularity": granularity}],
        }
    )


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_a_declared_grain_skips_the_last_value_step_and_changes_no_number(make_workspace):
    with_grain = workspace(make_workspace, ", grain: month")
    without = workspace(make_workspace, "")
    months = [(date(2024, 1, 1), 15.0), (date(2024, 2, 1), 20.0), (date(2024, 3, 1), 37.0)]
    for ws in (with_grain, without):
        got = by(ws, "month").data
        assert [(r["bal.month.month"], r["bal.value"]) for r in got] == months
        got = by(ws, "quarter").data
        assert [(r["bal.month.quarter"], r["bal.value"]) for r in got] == [(date(2024, 1, 1), 37.0)]
    # The window (MAX … OVER) is gone at the grain only.
    assert "OVER" not in by(with_grain, "month").sql
    assert "OVER" in by(without, "month").sql
    assert "OVER" in by(with_grain, "quarter").sql
