"""``metrics_catalog``: every shipped metric's definition and owner, in the warehouse.

Generated from the semantic layer's default metric YAML
(``custlens/semantic/defaults/metrics.yml``) by :mod:`custlens.semantic.catalog`,
so a reader of a number finds its definition beside the facts, and the
definition is written once. A workspace's own metrics are in ``custlens
catalog`` and ``GET /v1/catalog`` (the fact knows only the shipped model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir


@fact("metrics_catalog", requires=("growth_summary",))
def build(ctx: FactContext) -> ir.Table:
    """Name, definition, formula, table, field, owner and cadence of every shipped metric."""
    from custlens.semantic.catalog import catalog_frame
    from custlens.semantic.loader import load_model

    return ibis.memtable(catalog_frame(load_model()))
