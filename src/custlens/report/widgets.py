"""The pieces every section of the dashboard is drawn with: cards, notes, tables and the
shared look of the Plotly charts. Public, so that each group of sections (the main
page, the predicted-value cards) builds on them rather than on each other."""

from __future__ import annotations

import functools
import html as html_lib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import polars as pl

from custlens.currency import DEFAULT
from custlens.format import currency_prefix, money, number, percent, whole_money

CURRENCY: ContextVar[str] = ContextVar("report_currency", default=DEFAULT)
"""The reporting currency of the page being drawn (:func:`drawn_in`, around
``build_report``): every amount, axis and hover of the page is in it."""


def card(
    section_id: str, heading: str, content: str, subtitle: str = "", wide: bool = False
) -> str:
    classes = "card wide" if wide else "card"
    sub = f'<p class="sub">{esc(subtitle)}</p>' if subtitle else ""
    return (
        f'<section class="{classes}" id="{section_id}"><h2>{esc(heading)}</h2>{sub}'
        f"{content}</section>"
    )


def note(text: str) -> str:
    return f'<div class="note">{esc(text)}</div>'


def missing(fact: str, skipped: str | None = None) -> str:
    """Why a section is empty: the latest run's reason for skipping the fact when there
    is one (a model that could not be fitted), else what to load."""
    if skipped:
        return note(f"No {fact} table: the latest run skipped it ({skipped}).")
    return note(
        f"No {fact} table in this workspace: load the sources it needs and run "
        "`custlens run` to see this section."
    )


def latest_run(ws: Any) -> dict[str, Any] | None:
    """The run log's row of the latest successful run, or None before the first."""
    runs = ws.runs()
    done = runs.filter(pl.col("status") == "succeeded") if runs.height else runs
    return done.row(0, named=True) if done.height else None


def skipped_facts(ws: Any) -> dict[str, str]:
    """Fact → why the latest successful run skipped it (``_custlens_runs.skipped``)."""
    import json

    run = latest_run(ws)
    if run is None or not run.get("skipped"):
        return {}
    return dict(json.loads(run["skipped"]))


def esc(value: object) -> str:
    return html_lib.escape(str(value), quote=True)


PLOTLY_CONFIG = {
    "responsive": True,
    "displaylogo": False,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
}


def figure() -> Any:
    """An empty Plotly figure for a section's chart, without Plotly's template.

    Plotly validates and deep-copies a figure's template whenever the figure or its
    layout is made or updated: 40 ms a chart, a third of a report's time. The
    figures are drawn with an empty template, and :func:`div` puts the page's
    template into each figure's JSON as the page is written.
    """
    import plotly.graph_objects as go

    return go.Figure(layout={"template": "none"})


@functools.cache
def _template() -> dict[str, Any]:
    """Plotly's ``plotly_white`` template as JSON (read once; callers do not change it)."""
    import plotly.io as pio

    return dict(pio.templates["plotly_white"].to_plotly_json())


def layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 56, "r": 56, "t": 16, "b": 40},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.14, "x": 0},
        "autosize": True,
        # Plotly's toolbar down the right edge: across the top it covered the cohort
        # chart's Logo/Revenue toggle on a phone.
        "modebar": {"orientation": "v"},
    }
    layout.update(extra)
    return layout


def div(fig: Any, div_id: str, height: int = 360) -> str:
    import plotly.io as pio

    spec = fig.to_plotly_json()
    spec["layout"]["template"] = _template()
    # Plotly sizes a responsive chart to its parent, so the parent carries the height.
    # validate=False: the figure was validated as it was built (the template is Plotly's).
    inner = pio.to_html(
        spec,
        validate=False,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        default_height="100%",
        default_width="100%",
    )
    return f'<div class="chart" style="height:{height}px">{inner}</div>'


def month_axis(months: int | None = None) -> dict[str, Any]:
    """A monthly date axis: one label per month period (every month up to a year of
    them, else every quarter), never a label repeated between two months."""
    axis = {
        "type": "date",
        "tickformat": "%b %Y",
        "hoverformat": "%B %Y",
        "ticklabelmode": "period",
    }
    if months is not None:
        axis["dtick"] = "M1" if months <= 12 else "M3" if months <= 36 else "M12"
    return axis


@contextmanager
def drawn_in(code: str) -> Iterator[None]:
    """Draw every amount inside the block in currency ``code`` (:data:`CURRENCY`)."""
    token = CURRENCY.set(code)
    try:
        yield
    finally:
        CURRENCY.reset(token)


def cash(value: float | None, whole: bool | None = None) -> str:
    """An amount in the page's currency (:func:`custlens.format.money`)."""
    return money(value, CURRENCY.get(), whole=whole)


def cash_hover(number_format: str) -> str:
    """A Plotly hover value in the page's currency: ``%{y:,.0f}`` → ``$%{y:,.0f}``."""
    return currency_prefix(CURRENCY.get()) + number_format


def money_axis(**extra: Any) -> dict[str, Any]:
    # ".3~s": $142k, not $142.549k; hovers show the full amount.
    axis = {
        "tickprefix": currency_prefix(CURRENCY.get()),
        "tickformat": ".3~s",
        "hoverformat": ",.0f",
        "zeroline": True,
    }
    axis.update(extra)
    return axis


MONEY_COLUMNS = {
    "value",
    "current_mrr",
    "monetary",
    "total_revenue",
    "avg_lifetime_value",
}


PERCENT_COLUMNS = {
    "relative_slope",
    "monthly_churn_rate",
    *("signup", "onboarding", "first_value", "paid", "expansion", "advocacy"),
}


def table(frame: pl.DataFrame, columns: dict[str, str], table_id: str) -> str:
    """An HTML table of ``columns`` (name → heading), numbers formatted for a person."""
    head = "".join(f"<th>{esc(title)}</th>" for title in columns.values())
    lines = []
    whole = {
        name: whole_money(frame[name].to_list())
        for name in columns
        if name in MONEY_COLUMNS and name in frame.columns
    }
    for row in frame.iter_rows(named=True):
        cells = []
        for name in columns:
            value = row.get(name)
            if name in MONEY_COLUMNS:
                cells.append(f'<td class="num">{esc(cash(value, whole.get(name)))}</td>')
            elif name in PERCENT_COLUMNS:
                cells.append(f'<td class="num">{esc(percent(value))}</td>')
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f'<td class="num">{esc(number(value))}</td>')
            else:
                text = "—" if value is None else str(value)
                # A sentence (a reason) keeps a readable width beside the numbers.
                attribute = ' class="long"' if len(text) > 40 else ""
                cells.append(f"<td{attribute}>{esc(text)}</td>")
        lines.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="data" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table></div>"
    )
