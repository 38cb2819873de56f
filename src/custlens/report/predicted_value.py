"""The dashboard's predicted-value sections, drawn from ``clv_predictions``.

Three cards: expected lifetime value by segment, the distribution of the
probability that a customer is still active, and the customers with the
highest predicted value. Kept apart from :mod:`custlens.report.dashboard`,
which calls :func:`predicted_value_sections` once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from custlens.report import widgets as w

if TYPE_CHECKING:
    from custlens.scoped import RoleView
    from custlens.workspace import Workspace

CHART_IDS = ("chart-clv-segments", "chart-clv-p-alive")
TABLE_ID = "table-clv-top"
_TOP = 10


def _segments(ws: Workspace | RoleView, clv: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """clv with a ``segment`` column: the customer's segment, else its RFM segment."""
    present = set(ws.tables())
    if "src_customers" in present:
        customers = ws.table("customers")
        if "segment" in customers.columns:
            extra = ["name"] if "name" in customers.columns else []
            joined = clv.join(
                customers.select("customer_id", "segment", *extra), on="customer_id", how="left"
            )
            return joined.with_columns(pl.col("segment").fill_null("Unknown")), "segment"
    if "rfm" in present:
        rfm = ws.table("rfm").select("customer_id", "segment")
        joined = clv.join(rfm, on="customer_id", how="left")
        return joined.with_columns(pl.col("segment").fill_null("Unknown")), "RFM segment"
    return clv.with_columns(segment=pl.lit("All customers")), "segment"


def predicted_value_sections(ws: Workspace | RoleView, clv: pl.DataFrame | None) -> str:
    """The predicted-value cards as HTML, or a note when ``clv_predictions`` is absent."""
    if clv is None or clv.height == 0:
        why = w.skipped_facts(ws).get("clv_predictions")
        return w.card("section-clv", "Predicted customer value", w.missing("clv_predictions", why))

    horizon = _horizon(ws)
    frame, label = _segments(ws, clv)
    per = (
        frame.group_by("segment")
        .agg(
            customers=pl.len(),
            clv=pl.col("clv").sum(),
            mean_clv=pl.col("clv").mean(),
            p_alive=pl.col("p_alive").mean(),
        )
        .sort("clv")
    )
    bars = w.figure()
    bars.add_bar(
        x=per["clv"].to_list(),
        y=per["segment"].to_list(),
        orientation="h",
        marker_color="#16a34a",
        customdata=list(
            zip(
                per["customers"].to_list(),
                per["mean_clv"].to_list(),
                per["p_alive"].to_list(),
                strict=True,
            )
        ),
        hovertemplate=(
            "%{y}: "
            + w.cash_hover("%{x:,.0f}")
            + " expected<br>%{customdata[0]:,} customers, "
            + w.cash_hover("%{customdata[1]:,.0f}")
            + " each<br>%{customdata[2]:.0%} still active on average"
            "<extra></extra>"
        ),
    )
    bars.update_layout(
        **w.layout(
            margin={"l": 120, "r": 16, "t": 16, "b": 40},
            xaxis=w.money_axis(title={"text": f"Expected value, next {horizon}"}),
            yaxis={"automargin": True},
            showlegend=False,
        )
    )
    histogram = w.figure()
    histogram.add_histogram(
        x=clv["p_alive"].to_list(),
        xbins={"start": 0, "end": 1.0001, "size": 0.05},
        marker_color="#2563eb",
        hovertemplate="%{x}: %{y:,} customers<extra></extra>",
    )
    histogram.update_layout(
        **w.layout(
            xaxis={"title": {"text": "Probability still active"}, "tickformat": ".0%"},
            yaxis={"title": {"text": "Customers"}, "tickformat": ",d"},
            showlegend=False,
            bargap=0.05,
        )
    )
    top = frame.sort("clv", descending=True, nulls_last=True).head(_TOP)
    columns = {"customer_id": "Customer"}
    if "name" in top.columns:
        columns["name"] = "Name"
    columns.update(
        {
            "segment": label.capitalize(),
            "p_alive": "P(active)",
            "expected_purchases": "Expected purchases",
            "clv": "Predicted value",
        }
    )
    top = top.with_columns(
        pl.col("p_alive").map_elements(lambda p: f"{p:.0%}", return_dtype=pl.String),
        pl.col("expected_purchases").round(1),
        pl.col("clv").alias("value"),
    )
    columns = {("value" if k == "clv" else k): v for k, v in columns.items()}
    return "\n".join(
        [
            w.card(
                "section-clv-segments",
                f"Expected value by {label}",
                w.div(bars, CHART_IDS[0]),
                f"Predicted lifetime value over the next {horizon} (BG/NBD or Pareto/NBD "
                "purchases × Gamma-Gamma order value, discounted), summed per segment.",
            ),
            w.card(
                "section-clv-p-alive",
                "Probability still active",
                w.div(histogram, CHART_IDS[1]),
                "How many customers the purchase model thinks are still buying.",
            ),
            w.card(
                "section-clv-top",
                "Top customers by predicted value",
                w.table(top, columns, TABLE_ID),
                f"The {_TOP} customers expected to be worth most over the next {horizon}.",
                wide=True,
            ),
        ]
    )


def _horizon(ws: Workspace | RoleView) -> str:
    months = ws.config.analytics.clv.horizon_months
    return "month" if months == 1 else f"{months} months"
