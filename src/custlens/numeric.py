"""Arithmetic shared by the facts and the semantic layer, identical on every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator / denominator, null when the denominator is 0 or null (DESIGN.md §3).

    Never 0 or infinity: a KPI whose base is empty is unknown, not zero.
    """
    return (numerator.cast("float64") / denominator.cast("float64").nullif(0.0)).cast("float64")
