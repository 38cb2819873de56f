"""The metrics catalog, generated from the metric YAML (never a hand-kept list).

One row per metric: name, title, type, definition, formula, the table and field
it reads, format, owner, cadence and whether it is certified. ``custlens
catalog``, ``GET /v1/catalog`` and the ``metrics_catalog`` fact all come from
here, so a definition is written once.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from custlens.semantic.model import Metric, SemanticModel, metric_references

COLUMNS = (
    "name", "title", "type", "definition", "formula", "table", "field",
    "format", "owner", "cadence", "certified",
)  # fmt: skip


def formula(model: SemanticModel, metric: Metric) -> str:
    """How the metric is computed, in terms a reader can check against the tables."""
    if metric.type == "ratio":
        return f"{metric.numerator} / {metric.denominator}"
    if metric.type == "derived":
        return " ".join((metric.expression or "").split())
    ref = metric_references(metric)[0]
    cube_name, _, name = ref.partition(".")
    measure = model.cubes[cube_name].measure(name)
    assert measure is not None
    inner = f"{measure.type}({measure.sql or '*'})"
    if measure.filters:
        inner += " where " + " and ".join(f.sql for f in measure.filters)
    if measure.semi_additive:
        inner += f", last {measure.semi_additive} of the period"
    if metric.type == "cumulative":
        window = f"trailing {metric.window}" if metric.window else "running total"
        return f"{window} of {inner}"
    return inner


def _source(model: SemanticModel, metric: Metric) -> tuple[str, str]:
    """(tables, fields) the metric reads, following metrics down to measures."""
    tables: dict[str, None] = {}
    fields: dict[str, None] = {}

    def visit(m: Metric) -> None:
        for ref in metric_references(m):
            if "." in ref:
                cube_name, _, name = ref.partition(".")
                cube = model.cubes[cube_name]
                measure = cube.measure(name)
                for table in cube.tables:
                    tables[table] = None
                if measure is not None:
                    fields[measure.sql or "*"] = None
            else:
                visit(model.metrics[ref])

    visit(metric)
    return ", ".join(tables), ", ".join(fields)


def catalog(model: SemanticModel) -> list[dict[str, Any]]:
    """The catalog rows, in the order the metrics were defined."""
    rows = []
    for metric in model.metrics.values():
        table, field = _source(model, metric)
        rows.append(
            {
                "name": metric.name,
                "title": metric.title or metric.name.replace("_", " ").capitalize(),
                "type": metric.type,
                "definition": " ".join(metric.description.split()),
                "formula": formula(model, metric),
                "table": table,
                "field": field,
                "format": metric.format,
                "owner": metric.meta.owner,
                "cadence": metric.meta.cadence,
                "certified": metric.meta.certified,
            }
        )
    return rows


def catalog_frame(model: SemanticModel) -> pl.DataFrame:
    schema = {c: pl.Boolean if c == "certified" else pl.String for c in COLUMNS}
    return pl.DataFrame(catalog(model), schema=schema)
