"""The HTML dashboard: one self-contained page built from a workspace's facts.

:mod:`~custlens.report.dashboard` puts the page together from its parts:
:mod:`~custlens.report.page` (the document, header and footer),
:mod:`~custlens.report.kpis` (the KPI tiles), :mod:`~custlens.report.charts`,
:mod:`~custlens.report.tables`, :mod:`~custlens.report.predicted_value`, all drawn
with the public pieces of :mod:`~custlens.report.widgets`.
"""

from __future__ import annotations

from custlens.report.charts import CHART_IDS
from custlens.report.dashboard import build_report, write_report
from custlens.report.kpis import KPIS

__all__ = ["CHART_IDS", "KPIS", "build_report", "write_report"]
