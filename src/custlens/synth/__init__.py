"""Synthetic ERP data for demos, tests and benchmarks: ``generate`` frames, ``write`` files."""

from __future__ import annotations

from custlens.synth.generator import TABLE_NAMES, generate, write

__all__ = ["TABLE_NAMES", "generate", "write"]
