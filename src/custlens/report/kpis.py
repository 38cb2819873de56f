"""The KPI tiles: each a growth_summary column with its raw value (``data-kpi``,
``data-value``), the change against the month before and a sparkline."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from custlens.format import number, percent, ratio
from custlens.report import widgets as w

if TYPE_CHECKING:
    pass


Kind = Literal["money", "count", "rate", "ratio", "months"]


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: a ``growth_summary`` column, its label and how it reads."""

    column: str
    label: str
    kind: Kind
    higher_is_better: bool = True


KPIS: tuple[Kpi, ...] = (
    Kpi("ending_mrr", "MRR", "money"),
    Kpi("arr", "ARR", "money"),
    Kpi("ending_customers", "Customers", "count"),
    Kpi("net_revenue_retention", "Net revenue retention", "rate"),
    Kpi("gross_revenue_retention", "Gross revenue retention", "rate"),
    Kpi("quick_ratio", "Quick ratio", "ratio"),
    Kpi("customer_churn_rate", "Customer churn rate", "rate", higher_is_better=False),
    Kpi("arpa", "ARPA", "money"),
    Kpi("ltv", "LTV", "money"),
    Kpi("cac_payback_months", "CAC payback", "months", higher_is_better=False),
    Kpi("ltv_to_cac", "LTV / CAC", "ratio"),
)


_SPARK_MONTHS = 12


def kpi_section(growth: pl.DataFrame | None) -> str:
    if growth is None or growth.height == 0:
        return f'<section class="kpis" id="kpis">{w.missing("growth_summary")}</section>'
    last = growth.row(growth.height - 1, named=True)
    previous = growth.row(growth.height - 2, named=True) if growth.height > 1 else None
    month = last["month"]
    tiles = [_tile(kpi, growth, last, previous, month) for kpi in KPIS]
    return f'<section class="kpis" id="kpis">{"".join(tiles)}</section>'


def _tile(
    kpi: Kpi,
    growth: pl.DataFrame,
    last: dict[str, Any],
    previous: dict[str, Any] | None,
    month: date,
) -> str:
    value = last[kpi.column]
    before = previous[kpi.column] if previous else None
    shown = _FORMATS[kpi.kind](value)
    delta, mood = _delta(kpi, value, before)
    raw = "" if _absent(value) else repr(value)
    spark = _sparkline(growth[kpi.column].tail(_SPARK_MONTHS).to_list())
    return (
        f'<div class="kpi" data-kpi="{kpi.column}" data-value="{raw}" '
        f'data-month="{month.isoformat()}">'
        f'<div class="label">{w.esc(kpi.label)}</div>'
        f'<div class="value">{w.esc(shown)}</div>'
        f'<div class="delta {mood}">{w.esc(delta)}</div>{spark}</div>'
    )


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _delta(kpi: Kpi, value: Any, before: Any) -> tuple[str, str]:
    """The change vs the previous month as text, and whether it is good or bad news."""
    if _absent(value) or _absent(before):
        return "no previous month to compare", ""
    change = value - before
    if kpi.kind == "rate":
        # Rates change in percentage points: "+1.2 pp", not a percent of a percent.
        text = f"{change * 100:+.1f} pp vs last month"
    elif kpi.kind == "ratio":
        text = f"{change:+.2f} vs last month"
    elif kpi.kind == "months":
        text = f"{change:+.1f} months vs last month"
    else:
        absolute = w.cash(abs(change)) if kpi.kind == "money" else number(abs(change))
        sign = "+" if change >= 0 else "−"
        relative = f" ({change / before * 100:+.1f} %)" if before else ""
        text = f"{sign}{absolute}{relative} vs last month"
    if change == 0:
        return text, ""
    good = (change > 0) == kpi.higher_is_better
    return text, "good" if good else "bad"


def _sparkline(values: Sequence[float | int | None]) -> str:
    """A tiny inline SVG trend line; a few hundred bytes, no script needed."""
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None and not _absent(v)]
    if len(points) < 2:
        return ""
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = high - low or 1.0
    width, height = 100, 30
    last_x = max(len(values) - 1, 1)
    coords = " ".join(
        f"{i / last_x * width:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in points
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'aria-hidden="true"><polyline fill="none" stroke="#2563eb" stroke-width="1.6" '
        f'vector-effect="non-scaling-stroke" points="{coords}"/></svg>'
    )


_FORMATS: dict[Kind, Callable[[Any], str]] = {
    "money": w.cash,
    "count": number,
    "rate": percent,
    "ratio": ratio,
    "months": lambda v: "—" if _absent(v) else f"{v:,.1f} months",
}
