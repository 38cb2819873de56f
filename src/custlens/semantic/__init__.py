"""The semantic layer: cubes and metrics in YAML, compiled to one Ibis expression per query.

- :mod:`custlens.semantic.model` reads and validates the YAML (defaults + workspace);
- :mod:`custlens.semantic.query` is the JSON query and its date ranges;
- :mod:`custlens.semantic.compile` plans and runs a query;
- :mod:`custlens.semantic.rollup` builds the rollups (pre-aggregations) queries may read;
- :mod:`custlens.semantic.access` maps API keys to roles, row filters and PII masking;
- :mod:`custlens.semantic.catalog` is the metrics catalog generated from the metric YAML.
"""

from custlens.semantic.compile import Column, Compiler, QueryResult
from custlens.semantic.model import SemanticModel, load_model
from custlens.semantic.query import Query, parse_query

__all__ = [
    "Column",
    "Compiler",
    "Query",
    "QueryResult",
    "SemanticModel",
    "load_model",
    "parse_query",
]
