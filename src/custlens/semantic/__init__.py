"""The semantic layer: cubes and metrics in YAML, compiled to one Ibis expression per query.

- :mod:`custlens.semantic.model` reads and validates the YAML (defaults + workspace);
- :mod:`custlens.semantic.query` is the JSON query (its date ranges: :mod:`custlens.calendar`);
- :mod:`custlens.semantic.compile` runs a query: the Compiler and its plan cache;
  :mod:`~custlens.semantic.planner` plans it (members, filters, access), with
  :mod:`~custlens.semantic.joins` (per-cube aggregation, the fan-out guard) and
  :mod:`~custlens.semantic.spine` (buckets, the gap-free spine, compare periods);
  :mod:`~custlens.semantic.plan` holds the plan and answer types and
  :mod:`~custlens.semantic.cache` the result cache shared by a server's threads;
- :mod:`custlens.semantic.rollup` builds the rollups (pre-aggregations) queries may read;
- :mod:`custlens.semantic.access` maps API keys to roles, row filters and PII masking;
- :mod:`custlens.semantic.catalog` is the metrics catalog generated from the metric YAML.
"""

from typing import TYPE_CHECKING, Any

from custlens.semantic.loader import load_model
from custlens.semantic.model import SemanticModel
from custlens.semantic.plan import Column, QueryResult
from custlens.semantic.query import Query, parse_query

if TYPE_CHECKING:
    from custlens.semantic.compile import Compiler


def __getattr__(name: str) -> Any:
    # The Compiler is imported when first asked for: it brings Ibis (0.4 s), which
    # reading the model (the catalog, an export's money columns) does not need.
    if name == "Compiler":
        from custlens.semantic.compile import Compiler

        return Compiler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Column",
    "Compiler",
    "Query",
    "QueryResult",
    "SemanticModel",
    "load_model",
    "parse_query",
]
