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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from custlens.errors import NotFoundError
from custlens.format import money, number, percent, ratio
from custlens.report import widgets as w

if TYPE_CHECKING:
    from custlens.scoped import RoleView
    from custlens.semantic.access import Role
    from custlens.workspace import Workspace

Kind = Literal["money", "count", "rate", "ratio"]


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
)

#: The chart containers the page draws when their facts are present, in page order.
CHART_IDS: tuple[str, ...] = (
    "chart-mrr-movements",
    "chart-customer-bridge",
    "chart-cohort-retention",
    "chart-rfm-segments",
    "chart-rfm-quadrants",
    "chart-health-bands",
    "chart-journey-funnel",
)

# Colours that read the same to most colour-blind readers: up is blue/green, down is red.
_MOVEMENT_COLOURS = {
    "new_mrr": "#2563eb",
    "expansion_mrr": "#16a34a",
    "reactivation_mrr": "#0891b2",
    "contraction_mrr": "#f59e0b",
    "churn_mrr": "#dc2626",
}
_SEGMENT_ORDER = (
    "Champions",
    "Loyal Customers",
    "Big Spenders",
    "Promising",
    "Need Attention",
    "At Risk",
    "Lost",
)
_QUADRANTS = {
    "champions": ("Champions: high value, recent", "#16a34a"),
    "at_risk": ("At risk: high value, gone quiet", "#dc2626"),
    "promising": ("Promising: low value, recent", "#2563eb"),
    "hibernating": ("Hibernating: low value, quiet", "#9ca3af"),
}
# A scatter of every customer of a large workspace would weigh megabytes and
# draw slowly on a phone; a fixed-seed sample shows the same shape.
_SCATTER_POINTS = 1500
_TABLE_ROWS = 10
_SPARK_MONTHS = 12


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

    # The page reads only tables(), table(), runs(), at_risk(), path and config.
    ws = ws.as_role(role)  # type: ignore[assignment]
    present = set(ws.tables())

    def fact(name: str) -> pl.DataFrame | None:
        return ws.table(name) if name in present else None

    growth = fact("growth_summary")
    heading = title or f"{ws.path.name} · customer and revenue dashboard"
    body = [
        _header(ws, heading, growth),
        _kpi_section(growth),
        '<main class="grid">',
        _mrr_movements(growth),
        _customer_bridge(fact("customer_count")),
        _segments(fact("segment_summary")),
        _cohort_heatmap(fact("cohort_retention")),
        _rfm_segments(fact("rfm")),
        _rfm_quadrants(fact("rfm")),
        _health(fact("health_scores")),
        _journey(fact("journey_funnel")),
        _at_risk(ws, "churn-risk"),
        _at_risk(ws, "trend"),
        predicted_value_sections(ws, fact("clv_predictions")),
        "</main>",
        _footer(),
    ]
    return _page(heading, "\n".join(body))


def write_report(ws: Workspace, out: str | Path | None = None, *, role: Role | None = None) -> Path:
    """Write :func:`build_report` (as ``role`` sees it) to ``out`` (default
    ``<workspace>/report.html``)."""
    target = Path(out) if out is not None else ws.path / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(build_report(ws, role=role), encoding="utf-8")
    return target


# -- page frame ------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#111827;background:#f3f4f6;line-height:1.4}
header.top{padding:20px 24px 8px}
header.top h1{margin:0;font-size:1.35rem}
header.top p{margin:4px 0 0;color:#4b5563;font-size:.9rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;
 padding:12px 24px}
.kpi{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .label{font-size:.78rem;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
.kpi .value{font-size:clamp(1rem,1.4vw,1.5rem);font-weight:650;margin:2px 0;white-space:nowrap}
.kpi .delta{font-size:.8rem;color:#6b7280}
.kpi .delta.good{color:#15803d}.kpi .delta.bad{color:#b91c1c}
.kpi svg.spark{display:block;width:100%;height:30px;margin-top:6px}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px;padding:12px 24px 24px}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);
 min-width:0}
.card.wide{grid-column:1/-1}
.card h2{margin:0 0 4px;font-size:1.05rem}
.card p.sub{margin:0 0 8px;color:#6b7280;font-size:.85rem}
.note{color:#92400e;background:#fffbeb;border:1px solid #fde68a;border-radius:8px;
 padding:10px 12px;font-size:.88rem}
.chart{width:100%}
.scroll{overflow-x:auto}
table.data{border-collapse:collapse;width:100%;font-size:.86rem}
table.data th,table.data td{padding:6px 8px;border-bottom:1px solid #e5e7eb;text-align:left;
 vertical-align:top}
table.data th{color:#6b7280;font-weight:600;white-space:nowrap}
table.data td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
footer{padding:0 24px 24px;color:#9ca3af;font-size:.78rem}
@media (max-width:700px){
 .grid{grid-template-columns:1fr;padding:8px 10px 16px;gap:12px}
 .kpis{grid-template-columns:repeat(2,minmax(0,1fr));padding:8px 10px;gap:8px}
 header.top{padding:14px 12px 4px}
 .kpi .value{font-size:1.2rem}
 footer{padding:0 12px 16px}
}
"""


def _page(title: str, body: str) -> str:
    from plotly.offline import get_plotlyjs

    # A literal "</script" inside the bundle would end the tag early; plotly.js has none
    # today, and the escape keeps it that way if a release adds one.
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Without an icon the browser asks the server for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{w.esc(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{plotly_js}</script>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _header(ws: Workspace | RoleView, heading: str, growth: pl.DataFrame | None) -> str:
    facts = []
    runs = ws.runs()
    done = runs.filter(pl.col("status") == "succeeded") if runs.height else runs
    if done.height:
        run = done.row(0, named=True)
        if run["as_of"] is not None:
            facts.append(f"Data as of {run['as_of']:%d %b %Y}")
        finished = run["finished_at"]
        if isinstance(finished, datetime):
            facts.append(f"run {run['run_id']} finished {finished:%Y-%m-%d %H:%M}")
    elif growth is not None and growth.height:
        facts.append(f"Data to {growth['month'][-1]:%B %Y}")
    line = " · ".join(facts) or "No run recorded yet: run `custlens run` first."
    return f'<header class="top"><h1>{w.esc(heading)}</h1><p>{w.esc(line)}</p></header>'


def _footer() -> str:
    return (
        "<footer>Built by custlens. Definitions: MRR is a month-end snapshot; NRR = (S + E − C"
        " − X) / S; GRR = (S − C − X) / S; quick ratio = (N + E + R) / (C + X); customer churn"
        " rate = churned / starting customers.</footer>"
    )


# -- KPI tiles ----------------------------------------------------------------------------


def _kpi_section(growth: pl.DataFrame | None) -> str:
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
    else:
        absolute = money(abs(change)) if kpi.kind == "money" else number(abs(change))
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
    "money": money,
    "count": number,
    "rate": percent,
    "ratio": ratio,
}


# -- charts --------------------------------------------------------------------------------


def _bridge_figure(
    frame: pl.DataFrame,
    bars: tuple[tuple[str, str, int, str], ...],
    line: tuple[str, str, str],
    hover: str,
    axis: dict[str, Any],
) -> Any:
    """Signed stacked bars per month (gains up, losses down) and the balance as a line.

    Args:
        bars: (column, label, sign, colour) per bar series.
        line: (column, legend name, axis and hover label) of the month-end balance,
            drawn on a second axis.
        hover: the d3 number format of hover values, e.g. ``$%{y:,.0f}``.
        axis: the settings both y axes share (tick format, prefix).
    """
    import plotly.graph_objects as go

    months = frame["month"].to_list()
    fig = go.Figure()
    for column, label, sign, colour in bars:
        fig.add_bar(
            x=months,
            y=[None if v is None else sign * v for v in frame[column].to_list()],
            name=label,
            marker_color=colour,
            hovertemplate=f"{label}: {hover}<extra></extra>",
        )
    column, name, label = line
    fig.add_scatter(
        x=months,
        y=frame[column].to_list(),
        name=name,
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#111827", "width": 2},
        marker={"size": 4},
        hovertemplate=f"{label}: {hover}<extra></extra>",
    )
    fig.update_layout(
        **w.layout(
            barmode="relative",
            hovermode="x unified",
            xaxis=w.month_axis(),
            yaxis={**axis, "title": {"text": "Movement"}},
            yaxis2={
                **axis,
                "title": {"text": label},
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                "rangemode": "tozero",
            },
        )
    )
    return fig


def _mrr_movements(growth: pl.DataFrame | None) -> str:
    heading = "MRR movements by month"
    if growth is None or growth.height == 0:
        return w.card("section-mrr-movements", heading, w.missing("growth_summary"), wide=True)
    fig = _bridge_figure(
        growth,
        tuple(
            (column, label, sign, _MOVEMENT_COLOURS[column])
            for column, label, sign in (
                ("new_mrr", "New", 1),
                ("expansion_mrr", "Expansion", 1),
                ("reactivation_mrr", "Reactivation", 1),
                ("contraction_mrr", "Contraction", -1),
                ("churn_mrr", "Churn", -1),
            )
        ),
        ("ending_mrr", "Ending MRR", "Ending MRR"),
        "$%{y:,.0f}",
        w.money_axis(),
    )
    subtitle = "New, expansion and reactivation up; contraction and churn down; the line is MRR."
    return w.card(
        "section-mrr-movements", heading, w.div(fig, "chart-mrr-movements", 400), subtitle, True
    )


def _customer_bridge(counts: pl.DataFrame | None) -> str:
    heading = "Customer bridge by month"
    if counts is None:
        return w.card("section-customer-bridge", heading, w.missing("customer_count"))
    # Value type 1 is actuals; budget and forecast rows may run past the as-of month.
    actual = counts.filter(pl.col("value_type_id") == 1).sort("month")
    if actual.height == 0:
        return w.card("section-customer-bridge", heading, w.note("No actual customer counts yet."))
    fig = _bridge_figure(
        actual,
        (
            ("new", "New", 1, "#2563eb"),
            ("reactivated", "Reactivated", 1, "#0891b2"),
            ("churned", "Churned", -1, "#dc2626"),
        ),
        ("ending_balance", "Customers at month end", "Customers"),
        "%{y:,}",
        {"tickformat": ",d"},
    )
    return w.card(
        "section-customer-bridge",
        heading,
        w.div(fig, "chart-customer-bridge"),
        "New and reactivated customers up, churned down; the line is the paying base.",
    )


def _cohort_heatmap(cohorts: pl.DataFrame | None) -> str:
    heading = "Cohort retention"
    if cohorts is None or cohorts.height == 0:
        return w.card("section-cohort-retention", heading, w.missing("cohort_retention"))
    kinds = set(cohorts["cohort_kind"].unique().to_list())
    # Subscriptions are the revenue a SaaS founder runs on; transactions stand in without them.
    kind = "subscription" if "subscription" in kinds else sorted(kinds)[0]
    rows = cohorts.filter(pl.col("cohort_kind") == kind)
    cohort_months = sorted(set(rows["cohort_month"].to_list()))
    width = int(rows["months_since"].max() or 0) + 1  # type: ignore[arg-type]
    index = {m: i for i, m in enumerate(cohort_months)}
    logo: list[list[float | None]] = [[None] * width for _ in cohort_months]
    revenue: list[list[float | None]] = [[None] * width for _ in cohort_months]
    sizes = [0] * len(cohort_months)
    for row in rows.iter_rows(named=True):
        i, j = index[row["cohort_month"]], row["months_since"]
        logo[i][j] = row["logo_retention"]
        revenue[i][j] = row["revenue_retention"]
        sizes[i] = row["cohort_customers"]
    labels = [f"{m:%b %Y} ({n:,})" for m, n in zip(cohort_months, sizes, strict=True)]
    import plotly.graph_objects as go

    peak = max((v for line in revenue for v in line if v is not None), default=1.0)
    fig = go.Figure()
    for name, matrix, visible, zmax in (
        ("Logo retention", logo, True, 1.0),
        # Expansion lifts revenue retention above 100 %; cap the scale so one cell
        # does not wash out the rest.
        ("Revenue retention", revenue, False, max(1.0, min(peak, 1.5))),
    ):
        fig.add_heatmap(
            z=matrix,
            x=list(range(width)),
            y=labels,
            name=name,
            visible=visible,
            zmin=0,
            zmax=zmax,
            colorscale="Blues",
            colorbar={"tickformat": ".0%", "thickness": 12},
            hovertemplate=f"Cohort %{{y}}<br>Month %{{x}}<br>{name}: %{{z:.1%}}<extra></extra>",
            hoverongaps=False,
        )
    fig.update_layout(
        **w.layout(
            margin={"l": 110, "r": 16, "t": 40, "b": 40},
            xaxis={"title": {"text": "Months since first payment"}, "dtick": 3},
            yaxis={"autorange": "reversed", "type": "category", "automargin": True},
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "x": 0,
                    "y": 1.12,
                    "xanchor": "left",
                    "yanchor": "top",
                    "showactive": True,
                    "buttons": [
                        {"label": "Logo", "method": "restyle", "args": ["visible", [True, False]]},
                        {
                            "label": "Revenue",
                            "method": "restyle",
                            "args": ["visible", [False, True]],
                        },
                    ],
                }
            ],
        )
    )
    subtitle = (
        f"{kind.capitalize()} cohorts by first paid month (size in brackets); "
        "switch between customers kept (logo) and revenue kept."
    )
    height = max(360, 16 * len(cohort_months) + 120)
    return w.card(
        "section-cohort-retention",
        heading,
        w.div(fig, "chart-cohort-retention", height),
        subtitle,
        wide=True,
    )


def _rfm_segments(rfm: pl.DataFrame | None) -> str:
    heading = "RFM segments"
    if rfm is None or rfm.height == 0:
        return w.card("section-rfm-segments", heading, w.missing("rfm"))
    import plotly.graph_objects as go

    per = (
        rfm.group_by("segment")
        .agg(customers=pl.len(), revenue=pl.col("monetary").sum())
        .with_columns(
            order=pl.col("segment").replace_strict(
                {name: i for i, name in enumerate(_SEGMENT_ORDER)},
                default=len(_SEGMENT_ORDER),
                return_dtype=pl.Int64,
            )
        )
        .sort(["order", "segment"], descending=[True, True])
    )
    total = float(per["revenue"].sum() or 0.0)
    shares = [r / total if total else None for r in per["revenue"].to_list()]
    fig = go.Figure()
    fig.add_bar(
        x=per["customers"].to_list(),
        y=per["segment"].to_list(),
        orientation="h",
        marker_color="#2563eb",
        customdata=list(zip(per["revenue"].to_list(), shares, strict=True)),
        text=[percent(s, 0) + " of revenue" for s in shares],
        textposition="auto",
        hovertemplate=(
            "%{y}: %{x:,} customers<br>$%{customdata[0]:,.0f} spent "
            "(%{customdata[1]:.0%})<extra></extra>"
        ),
    )
    fig.update_layout(
        **w.layout(
            margin={"l": 120, "r": 16, "t": 16, "b": 40},
            xaxis={"title": {"text": "Customers"}, "tickformat": ",d"},
            yaxis={"automargin": True},
            showlegend=False,
        )
    )
    return w.card(
        "section-rfm-segments",
        heading,
        w.div(fig, "chart-rfm-segments"),
        "Customers per recency-frequency-monetary segment, with their share of spend.",
    )


def _rfm_quadrants(rfm: pl.DataFrame | None) -> str:
    heading = "Value × recency quadrants"
    if rfm is None or rfm.height == 0:
        return w.card("section-rfm-quadrants", heading, w.missing("rfm"))
    import plotly.graph_objects as go

    counts = dict(rfm.group_by("quadrant").len().iter_rows())
    sample = rfm if rfm.height <= _SCATTER_POINTS else rfm.sample(_SCATTER_POINTS, seed=0)
    # Log scale needs positive spend; refunds can leave a customer at or below zero.
    sample = sample.filter(pl.col("monetary") > 0).sort("customer_id")
    fig = go.Figure()
    for quadrant, (label, colour) in _QUADRANTS.items():
        part = sample.filter(pl.col("quadrant") == quadrant)
        fig.add_scatter(
            x=part["recency_days"].to_list(),
            y=part["monetary"].to_list(),
            text=part["customer_id"].to_list(),
            mode="markers",
            name=f"{label} ({counts.get(quadrant, 0):,})",
            marker={"color": colour, "size": 6, "opacity": 0.7},
            hovertemplate="%{text}<br>$%{y:,.0f} spent<br>%{x} days since last purchase"
            "<extra></extra>",
        )
    fig.update_layout(
        **w.layout(
            xaxis={"title": {"text": "Days since last purchase"}, "rangemode": "tozero"},
            # dtick 1: a tick per power of ten, without the crowded 2 and 5 minor labels.
            yaxis=w.money_axis(type="log", dtick=1, title={"text": "Total spend"}),
            legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
            margin={"l": 56, "r": 16, "t": 16, "b": 40},
        )
    )
    note = (
        "" if sample.height == rfm.height else f" (a sample of {sample.height:,} of {rfm.height:,})"
    )
    return w.card(
        "section-rfm-quadrants",
        heading,
        w.div(fig, "chart-rfm-quadrants", 400),
        f"Each dot a customer{note}; customers per quadrant in the legend.",
    )


_BANDS = {
    "Excellent": "#16a34a",
    "Good": "#2563eb",
    "At Risk": "#f59e0b",
    "Critical": "#dc2626",
}
_STAGES = ("prospect", "active", "at-risk", "churned")
_COMPONENTS = {
    "usage_score": "Usage",
    "support_score": "Support",
    "payment_score": "Payment",
    "engagement_score": "Engagement",
    "nps_score": "NPS",
}


def _health(health: pl.DataFrame | None) -> str:
    heading = "Health bands and lifecycle stages"
    if health is None or health.height == 0:
        return w.card("section-health", heading, w.missing("health_scores"))
    import plotly.graph_objects as go

    counts = health.group_by("lifecycle_stage", "band").len()
    stages = [s for s in _STAGES if s in set(health["lifecycle_stage"])]
    stages += sorted(set(health["lifecycle_stage"]) - set(_STAGES))
    fig = go.Figure()
    for band, colour in _BANDS.items():
        part = dict(counts.filter(pl.col("band") == band).select("lifecycle_stage", "len").rows())
        fig.add_bar(
            x=stages,
            y=[part.get(stage, 0) for stage in stages],
            name=band,
            marker_color=colour,
            hovertemplate=f"%{{x}}: %{{y:,}} customers {band}<extra></extra>",
        )
    fig.update_layout(
        **w.layout(
            barmode="stack",
            xaxis={"title": {"text": "Lifecycle stage"}},
            yaxis={"title": {"text": "Customers"}, "tickformat": ",d"},
            margin={"l": 56, "r": 16, "t": 16, "b": 40},
        )
    )
    means = (
        health.group_by("band")
        .agg(pl.len().alias("customers"), *[pl.col(c).mean() for c in _COMPONENTS])
        .with_columns(
            order=pl.col("band").replace_strict(
                {b: i for i, b in enumerate(_BANDS)}, default=len(_BANDS), return_dtype=pl.Int64
            )
        )
        .sort("order")
    )
    table = w.table(
        means, {"band": "Band", "customers": "Customers", **_COMPONENTS}, "table-health-components"
    )
    return w.card(
        "section-health",
        heading,
        w.div(fig, "chart-health-bands") + table,
        "Customers per lifecycle stage, coloured by health band (Excellent ≥ 80, Good 60–79,"
        " At Risk 40–59, Critical < 40); below, the mean of each 0–100 component per band.",
    )


def _journey(funnel: pl.DataFrame | None) -> str:
    heading = "Journey funnel"
    if funnel is None or funnel.height == 0:
        return w.card("section-journey", heading, w.missing("journey_funnel"))
    import plotly.graph_objects as go

    overall = funnel.filter(pl.col("segment") == "All").sort("stage_order")
    labels = [str(s).replace("_", " ").capitalize() for s in overall["stage"].to_list()]
    shares = overall["conversion_from_first"].to_list()
    fig = go.Figure()
    fig.add_bar(
        x=overall["customers"].to_list(),
        y=labels,
        orientation="h",
        marker_color="#2563eb",
        text=[
            f"{number(n)} ({percent(s, 0)})"
            for n, s in zip(overall["customers"], shares, strict=True)
        ],
        textposition="auto",
        customdata=list(
            zip(
                overall["conversion_from_previous"].to_list(),
                overall["avg_days_from_signup"].to_list(),
                strict=True,
            )
        ),
        hovertemplate="%{y}: %{x:,} customers<br>%{customdata[0]:.0%} of the previous stage"
        "<br>%{customdata[1]:.0f} days from signup on average<extra></extra>",
    )
    fig.update_layout(
        **w.layout(
            margin={"l": 100, "r": 16, "t": 16, "b": 40},
            xaxis={"title": {"text": "Customers"}, "tickformat": ",d"},
            yaxis={"autorange": "reversed", "automargin": True},
            showlegend=False,
        )
    )
    by_segment = funnel.filter(pl.col("segment") != "All").pivot(
        on="stage", index="segment", values="conversion_from_first", sort_columns=False
    )
    stages = [s for s in overall["stage"].to_list() if s in by_segment.columns]
    table = w.table(
        by_segment.sort("segment"),
        {"segment": "Segment", **{s: s.replace("_", " ").capitalize() for s in stages}},
        "table-journey-segments",
    )
    return w.card(
        "section-journey",
        heading,
        w.div(fig, "chart-journey-funnel") + table,
        "Customers reaching each stage (share of signups); below, the share per segment.",
    )


# -- tables ---------------------------------------------------------------------------------


_AT_RISK = {
    "churn-risk": (
        "At-risk customers: overdue purchases",
        "Customers silent well past their own purchase rhythm, most valuable first.",
        {"value": "Spend"},
    ),
    "trend": (
        "At-risk customers: falling MRR",
        "Customers whose MRR has fallen steadily over the last months, steepest first.",
        {"current_mrr": "MRR now", "relative_slope": "Monthly change"},
    ),
}


def _at_risk(ws: Workspace | RoleView, by: Literal["churn-risk", "trend"]) -> str:
    heading, subtitle, extra = _AT_RISK[by]
    section_id = f"section-at-risk-{by}"
    try:
        rows = ws.at_risk(by, _TABLE_ROWS)
    except NotFoundError:
        fact = "churn_risk" if by == "churn-risk" else "mrr_trend_risk"
        return w.card(section_id, heading, w.missing(fact))
    if rows.height == 0:
        return w.card(section_id, heading, w.note("No customer is flagged by this signal today."))
    columns = {"customer_id": "Customer"}
    if "name" in rows.columns:
        columns["name"] = "Name"
    if "segment" in rows.columns:
        columns["segment"] = "Segment"
    columns.update(extra)
    columns["reason"] = "Why"
    return w.card(section_id, heading, w.table(rows, columns, f"table-at-risk-{by}"), subtitle)


def _segments(summary: pl.DataFrame | None) -> str:
    heading = "Segments"
    if summary is None or summary.height == 0:
        return w.card("section-segments", heading, w.missing("segment_summary"))
    columns = {
        "segment": "Segment",
        "customers": "Customers",
        "paying_customers": "Paying",
        "current_mrr": "MRR",
        "monthly_churn_rate": "Churn",
        "avg_lifetime_value": "Lifetime value",
    }
    ordered = summary.sort("current_mrr", descending=True, nulls_last=True)
    return w.card(
        "section-segments",
        heading,
        w.table(
            ordered, {k: v for k, v in columns.items() if k in summary.columns}, "table-segments"
        ),
        "Where the MRR sits and where it is leaking.",
    )
