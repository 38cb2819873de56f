"""The HTML dashboard: one self-contained page built from a workspace's facts."""

from __future__ import annotations

from custlens.report.dashboard import CHART_IDS, KPIS, build_report, write_report

__all__ = ["CHART_IDS", "KPIS", "build_report", "write_report"]
