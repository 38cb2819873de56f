"""The metrics catalog is generated from the metric YAML (shipped and workspace)."""

from __future__ import annotations

from custlens.semantic.catalog import COLUMNS, catalog, catalog_frame
from custlens.semantic.loader import load_model


def test_every_shipped_metric_is_documented():
    model = load_model()
    rows = catalog(model)
    assert [r["name"] for r in rows] == list(model.metrics)
    assert len(rows) >= 10
    for row in rows:
        assert set(row) == set(COLUMNS)
        for key in ("owner", "definition", "formula", "table", "cadence"):
            assert row[key], (row["name"], key)


def test_shipped_mrr_row():
    # mrr: simple over growth.ending_mrr = sum(ending_mrr), semi-additive by month.
    row = next(r for r in catalog(load_model()) if r["name"] == "mrr")
    assert row["formula"] == "sum(ending_mrr), last month of the period"
    assert (row["table"], row["field"], row["owner"], row["certified"]) == (
        "growth_summary",
        "ending_mrr",
        "Finance",
        True,
    )


def test_workspace_metrics_appear(duck):
    rows = {r["name"]: r for r in catalog(duck.semantic_model)}
    assert rows["sales_total"] == {
        "name": "sales_total",
        "title": "Sales total",
        "type": "simple",
        "definition": "Sum of sale amounts.",
        "formula": "sum(amount)",
        "table": "t_sales",
        "field": "amount",
        "format": "number",
        "owner": "QA",
        "cadence": "daily",
        "certified": False,
    }
    assert rows["avg_sale"]["formula"] == "sales_total / sales_count"
    assert rows["total_plus"]["formula"] == "sales_total * 2 + sales_count"
    assert rows["running_total"]["formula"] == "running total of sum(amount)"
    assert rows["total_3m"]["formula"] == "trailing 3 months of sum(amount)"
    assert rows["ending_mrr"]["formula"] == "sum(mrr), last month of the period"
    # web_share reads amount twice (web_total and total): one table, one field.
    assert (rows["web_share"]["table"], rows["web_share"]["field"]) == ("t_sales", "amount")
    # the shipped metrics are still there
    assert "mrr" in rows


def test_workspace_overrides_a_shipped_metric(tmp_path):
    folder = tmp_path / "semantic"
    folder.mkdir()
    (folder / "m.yml").write_text(
        "metrics:\n  - name: mrr\n    type: simple\n    measure: subscriptions.mrr\n"
        "    description: Ours.\n    meta: {owner: Me}\n"
    )
    row = next(r for r in catalog(load_model(folder)) if r["name"] == "mrr")
    assert (row["owner"], row["definition"], row["table"]) == ("Me", "Ours.", "customer_mrr")


def test_catalog_frame(duck):
    frame = catalog_frame(duck.semantic_model)
    assert frame.columns == list(COLUMNS)
    assert frame.height == len(duck.semantic_model.metrics)
