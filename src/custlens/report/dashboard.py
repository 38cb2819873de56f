"""The Monday-morning dashboard: one self-contained HTML page from a workspace's facts.

The page makes no network request at all: Plotly's JavaScript is inlined once,
every style is inline, the favicon is a ``data:`` URI, and MathJax is left
out. Sections come in the order a SaaS founder reads them: KPI tiles, the MRR
bridge, the customer bridge, cohorts, RFM, health and journey, then the
customers to call today. A section whose fact is absent from the workspace is
replaced by a note saying which fact it needs, never an error.

Every KPI tile carries its raw number (``data-kpi``, ``data-value``) and every
chart container a stable id (:data:`CHART_IDS`), so tests and scrapers can
read the page without parsing formatted text.

Example::

    from custlens import Workspace
    from custlens.report import build_report

    with Workspace("acme") as ws:
        html = build_report(ws)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from custlens.semantic.access import Role
    from custlens.workspace import Workspace
from custlens.report.charts import (
    cohort_section,
    customer_bridge_section,
    health_section,
    journey_section,
    mrr_movements_section,
    rfm_quadrants_section,
    rfm_segments_section,
)
from custlens.report.kpis import kpi_section
from custlens.report.page import footer, header, page
from custlens.report.tables import at_risk_section, segments_section
from custlens.report.widgets import drawn_in


def build_report(ws: Workspace, *, title: str | None = None, role: Role | None = None) -> str:
    """Build the dashboard of a workspace's latest facts as one HTML document.

    Args:
        ws: an open workspace; facts it lacks become notes on the page.
        title: the page's heading (default: the workspace folder's name).
        role: draw the page as this role sees the facts (:class:`custlens.scoped.RoleView`:
            its customers only, PII masked unless privileged); None draws everything.

    Returns:
        The HTML text: self-contained, no network request when opened.
    """
    from custlens.report.predicted_value import predicted_value_sections

    # The page reads only tables(), table(), runs(), at_risk(), currency(), path and config.
    ws = ws.as_role(role)  # type: ignore[assignment]
    present = set(ws.tables())

    def fact(name: str) -> pl.DataFrame | None:
        return ws.table(name) if name in present else None

    growth = fact("growth_summary")
    heading = title or f"{ws.path.name} · customer and revenue dashboard"
    with drawn_in(ws.currency()):
        body = [
            header(ws, heading, growth),
            kpi_section(growth),
            '<main class="grid">',
            mrr_movements_section(growth),
            customer_bridge_section(fact("customer_count")),
            segments_section(fact("segment_summary")),
            cohort_section(fact("cohort_retention")),
            rfm_segments_section(fact("rfm")),
            rfm_quadrants_section(fact("rfm")),
            health_section(fact("health_scores")),
            journey_section(fact("journey_funnel")),
            at_risk_section(ws, "overdue"),
            at_risk_section(ws, "declining-mrr"),
            predicted_value_sections(ws, fact("clv_predictions")),
            "</main>",
            footer(),
        ]
    return page(heading, "\n".join(body))


def write_report(ws: Workspace, out: str | Path | None = None, *, role: Role | None = None) -> Path:
    """Write :func:`build_report` (as ``role`` sees it) to ``out`` (default
    ``<workspace>/report.html``)."""
    target = Path(out) if out is not None else ws.path / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(build_report(ws, role=role), encoding="utf-8")
    return target
