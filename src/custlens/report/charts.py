"""The dashboard's charts, one section each: the MRR and customer bridges, cohorts, RFM
segments and quadrants, health bands and the journey funnel (:data:`CHART_IDS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from custlens.format import number, percent
from custlens.report import widgets as w

if TYPE_CHECKING:
    pass


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

    months = frame["month"].to_list()
    fig = w.figure()
    ups = [0.0] * len(months)
    downs = [0.0] * len(months)
    for column, label, sign, colour in bars:
        values = [None if v is None else sign * v for v in frame[column].to_list()]
        for i, v in enumerate(values):
            if v is not None:
                (ups if v > 0 else downs)[i] += v
        fig.add_bar(
            x=months,
            y=values,
            name=label,
            marker_color=colour,
            # Each bar is its month, drawn in the month's middle (not on its first
            # day, where it sat under the month before).
            xperiod="M1",
            xperiodalignment="middle",
            hovertemplate=f"{label}: {hover}<extra></extra>",
        )
    column, name, label = line
    balance = [v for v in frame[column].to_list() if v is not None]
    fig.add_scatter(
        x=months,
        y=frame[column].to_list(),
        name=name,
        yaxis="y2",
        mode="lines+markers",
        xperiod="M1",
        xperiodalignment="middle",
        line={"color": "#111827", "width": 2},
        marker={"size": 4},
        hovertemplate=f"{label}: {hover}<extra></extra>",
    )
    left, right = _aligned_ranges(min(downs, default=0.0), max(ups, default=0.0), balance)
    fig.update_layout(
        **w.layout(
            barmode="relative",
            hovermode="x unified",
            xaxis=w.month_axis(len(months)),
            yaxis={**axis, **_whole(axis, left), "title": {"text": "Movement"}, "range": left},
            yaxis2={
                **axis,
                **_whole(axis, right),
                "title": {"text": label},
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                "range": right,
            },
        )
    )
    return fig


def _aligned_ranges(
    low: float, high: float, balance: list[float]
) -> tuple[list[float], list[float]]:
    """Ranges for the movements' axis and the balance's that put both zeros at the same
    height (so a loss below the line reads against the same zero), with 5 % headroom."""
    low, high = min(low, 0.0) * 1.05, max(high, 0.0) * 1.05
    top = max([*balance, 0.0]) * 1.05
    if high <= 0:
        high = -low if low < 0 else 1.0
    if top <= 0:
        top = 1.0
    # The zero sits at the same fraction of both axes: low / high = bottom / top.
    return [low, high], [top * low / high, top]


def _whole(axis: dict[str, Any], span: list[float]) -> dict[str, Any]:
    """A step of 1 on a count axis that spans fewer than ten (Plotly would put ticks
    at halves, printed 2, 2, 1, 1, 0, −1)."""
    if axis.get("tickformat") == ",d" and span[1] - span[0] < 10:
        return {"dtick": 1}
    return {}


def mrr_movements_section(growth: pl.DataFrame | None) -> str:
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
        w.cash_hover("%{y:,.0f}"),
        w.money_axis(),
    )
    subtitle = "New, expansion and reactivation up; contraction and churn down; the line is MRR."
    return w.card(
        "section-mrr-movements", heading, w.div(fig, "chart-mrr-movements", 400), subtitle, True
    )


def customer_bridge_section(counts: pl.DataFrame | None) -> str:
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


def cohort_section(cohorts: pl.DataFrame | None) -> str:
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

    peak = max((v for line in revenue for v in line if v is not None), default=1.0)
    fig = w.figure()
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


def rfm_segments_section(rfm: pl.DataFrame | None) -> str:
    heading = "RFM segments"
    if rfm is None or rfm.height == 0:
        return w.card("section-rfm-segments", heading, w.missing("rfm"))

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
    fig = w.figure()
    fig.add_bar(
        x=per["customers"].to_list(),
        y=per["segment"].to_list(),
        orientation="h",
        marker_color="#2563eb",
        customdata=list(zip(per["revenue"].to_list(), shares, strict=True)),
        text=[percent(s, 0) + " of revenue" for s in shares],
        textposition="auto",
        hovertemplate=(
            "%{y}: %{x:,} customers<br>" + w.cash_hover("%{customdata[0]:,.0f}") + " spent "
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


def rfm_quadrants_section(rfm: pl.DataFrame | None) -> str:
    heading = "Value × recency quadrants"
    if rfm is None or rfm.height == 0:
        return w.card("section-rfm-quadrants", heading, w.missing("rfm"))

    counts = dict(rfm.group_by("quadrant").len().iter_rows())
    sample = rfm if rfm.height <= _SCATTER_POINTS else rfm.sample(_SCATTER_POINTS, seed=0)
    # Log scale needs positive spend; refunds can leave a customer at or below zero.
    sample = sample.filter(pl.col("monetary") > 0).sort("customer_id")
    fig = w.figure()
    for quadrant, (label, colour) in _QUADRANTS.items():
        part = sample.filter(pl.col("quadrant") == quadrant)
        fig.add_scatter(
            x=part["recency_days"].to_list(),
            y=part["monetary"].to_list(),
            text=part["customer_id"].to_list(),
            mode="markers",
            name=f"{label} ({counts.get(quadrant, 0):,})",
            marker={"color": colour, "size": 6, "opacity": 0.7},
            hovertemplate="%{text}<br>"
            + w.cash_hover("%{y:,.0f}")
            + " spent<br>%{x} days since last purchase<extra></extra>",
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


def health_section(health: pl.DataFrame | None) -> str:
    heading = "Health bands and lifecycle stages"
    if health is None or health.height == 0:
        return w.card("section-health", heading, w.missing("health_scores"))

    counts = health.group_by("lifecycle_stage", "band").len()
    stages = [s for s in _STAGES if s in set(health["lifecycle_stage"])]
    stages += sorted(set(health["lifecycle_stage"]) - set(_STAGES))
    fig = w.figure()
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
    # The bands' table is about the customers a CSM can save: a prospect who never
    # paid scores low on usage and payment and would fill "At Risk" with people who
    # were never at risk of leaving.
    paying = health.filter(pl.col("lifecycle_stage").is_in(["active", "at-risk"]))
    means = (
        paying.group_by("band")
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
        " At Risk 40–59, Critical < 40); below, for paying customers (stages active and"
        " at-risk), how many are in each band and the mean of each 0–100 component.",
    )


def journey_section(funnel: pl.DataFrame | None) -> str:
    heading = "Journey funnel"
    if funnel is None or funnel.height == 0:
        return w.card("section-journey", heading, w.missing("journey_funnel"))

    overall = funnel.filter(pl.col("segment") == "All").sort("stage_order")
    labels = [str(s).replace("_", " ").capitalize() for s in overall["stage"].to_list()]
    shares = overall["conversion_from_first"].to_list()
    fig = w.figure()
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
