"""Fact tables: one module per fact, each a pure Ibis function registered with its inputs.

Every module of this package that defines a fact registers it on import
(``@fact`` in :mod:`custlens.facts.registry`); importing the package imports
them all, so a new fact needs nothing but its module.
"""

from __future__ import annotations

import importlib
import pkgutil

from custlens.facts.registry import REGISTRY, Fact, FactContext, ordered

_HELPERS = {"registry", "month", "numeric"}

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _HELPERS and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "Fact", "FactContext", "ordered"]
