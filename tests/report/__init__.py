"""Tests of the HTML dashboard, its CLI commands and the server that shows it."""

from __future__ import annotations

import re
from pathlib import Path

from custlens.workspace import Workspace

#: (kpi, value) of every KPI tile of a page, as written in its data attributes.
KPI_ATTRIBUTES = re.compile(r'data-kpi="([a-z_]+)" data-value="([^"]*)"')


def demo_workspace(folder: Path, only: list[str] | None = None) -> Path:
    """A small generated workspace (300 customers × 18 months), run, and closed."""
    with Workspace.init(folder) as ws:
        ws.generate(customers=300, months=18, seed=5)
        ws.run(only=only)
    return folder


def kpi_values(html: str) -> dict[str, float | None]:
    """The raw KPI numbers of a page: None for a tile whose value is missing."""
    return {k: float(v) if v else None for k, v in KPI_ATTRIBUTES.findall(html)}
