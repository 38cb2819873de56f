"""Source tables: the data contract and the loader that enforces it."""

from __future__ import annotations
