"""custlens: customer and revenue analytics, written once in Ibis, run on DuckDB or Spark."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
