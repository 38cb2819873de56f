"""CLI tables never cut a number at 80, 100 or 160 columns: text wraps or is hidden
first, money is abbreviated where space is short, and csv/json give every column whole."""

from __future__ import annotations

import re

import polars as pl
import pytest

from custlens.cli import render
from custlens.cli.render import OutputFormat, emit
from custlens.format import money, money_short

WIDE = pl.DataFrame(
    {
        "customers.segment": ["Enterprise", "Mid-Market", "SMB"],
        "customers.industry_and_a_long_description": ["Software and services"] * 3,
        "subscriptions.mrr": [143_210.55, 98_765_432.10, 12.5],
        "subscriptions.paying_customers": [1234, 56, 7],
        "subscriptions.arpa": [116.05, 1_763_668.43, 1.79],
        "growth.net_revenue_retention": [1.0123, 0.9876, 1.5],
        "movements.churn_mrr": [16_978.35, 1_250_000.0, 0.0],
    }
)
FORMATS = {
    "subscriptions.mrr": "currency",
    "subscriptions.arpa": "currency",
    "movements.churn_mrr": "currency",
    "growth.net_revenue_retention": "percentage",
    "subscriptions.paying_customers": "number",
}
MONEY = ["subscriptions.mrr", "subscriptions.arpa", "movements.churn_mrr"]


def _print(width: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> str:
    monkeypatch.setattr(render.console, "width", width)
    emit(WIDE, OutputFormat.table, "MRR", FORMATS)
    return capsys.readouterr().out


@pytest.mark.parametrize("width", [80, 100, 160])
def test_no_number_is_cut_at_any_width(width, monkeypatch, capsys) -> None:
    out = _print(width, monkeypatch, capsys)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    for row in WIDE.iter_rows(named=True):
        for column in MONEY:
            full, short = money(row[column]), money_short(row[column])
            assert full in out or short in out, (column, full, short)
        assert f"{row['subscriptions.paying_customers']:,}" in out
        assert f"{row['growth.net_revenue_retention'] * 100:.1f} %" in out


def test_money_is_whole_when_there_is_room(monkeypatch, capsys) -> None:
    out = _print(160, monkeypatch, capsys)
    assert "$98,765,432" in out and "$143,211" in out
    assert "hidden" not in out


def test_money_is_abbreviated_where_space_is_short(monkeypatch, capsys) -> None:
    out = _print(80, monkeypatch, capsys)
    assert "$98.8M" in out and "$143.2k" in out
    assert "$98,765,432" not in out
    assert "Enterprise" in out and "Software and" in out  # text wraps, still shown


def test_text_columns_are_hidden_and_named_before_a_number_is_cut(monkeypatch, capsys) -> None:
    out = _print(60, monkeypatch, capsys)
    assert "…" not in out
    assert "Enterpri" in out  # the first column names the row and stays (wrapped)
    assert "Software" not in out
    caption = " ".join(out.split())
    assert re.search(r"customers\.industry_and_a_long_description hidden at this width", caption)
    assert "$98.8M" in out


@pytest.mark.parametrize("format", [OutputFormat.csv, OutputFormat.json])
def test_csv_and_json_give_every_column_whole(format, monkeypatch, capsys) -> None:
    monkeypatch.setattr(render.console, "width", 80)
    emit(WIDE, format, "MRR", FORMATS)
    out = capsys.readouterr().out
    for column in WIDE.columns:
        assert column in out
    assert "98765432.1" in out


def test_a_fit_is_a_plain_number_and_an_overdue_score_a_multiple(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(render.console, "width", 160)
    frame = pl.DataFrame({"customer_id": ["a"], "r_squared": [0.9871], "risk_score": [2.4]})
    emit(frame, OutputFormat.table, "At risk")
    out = capsys.readouterr().out
    assert "0.99" in out and "0.99×" not in out  # r² is not "times" anything
    assert "2.40×" in out  # 2.4 times the usual gap
