"""Fact tables: one module per fact, each a pure Ibis function registered with its inputs."""

from __future__ import annotations

from custlens.facts import (  # noqa: F401  (importing registers the facts)
    customer_count,
    customer_mrr,
    growth_summary,
    metrics_catalog,
    mrr_movements,
)
from custlens.facts.registry import REGISTRY, Fact, FactContext, ordered

__all__ = ["REGISTRY", "Fact", "FactContext", "ordered"]
