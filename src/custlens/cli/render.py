"""How the command line shows things: the consoles, Rich tables of KPIs, facts, fitted
models and the profile card, and ``--format csv|json`` for scripts. Money and
percentages are formatted for a person (:mod:`custlens.format`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from custlens.currency import DEFAULT

console = Console()


if not console.is_terminal:
    # Piped or captured output: wide enough for the KPI tables, never wrapped at 80.
    console.width = 160


err_console = Console(stderr=True)


def profile_json(result: Any) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "as_of": result.as_of.strftime("%Y-%m") if result.as_of else None,
        "seconds": round(result.seconds, 4),
        "steps": [
            {
                "name": step.name,
                "kind": step.kind,
                "build_seconds": round(step.build_seconds, 4),
                "compile_seconds": round(step.compile_seconds, 4),
                "execute_seconds": round(step.execute_seconds, 4),
                "seconds": round(step.seconds, 4),
                "rows": step.rows,
            }
            for step in result.profile
        ],
    }


def print_profile(result: Any) -> None:
    table = Table(title="Where the run's time went")
    table.add_column("step")
    table.add_column("kind")
    for column in ("build", "compile", "execute + write", "total", "rows"):
        table.add_column(column, justify="right")

    def secs(value: float) -> str:
        return f"{value:.3f} s" if value else ""

    for step in result.profile:
        table.add_row(
            step.name,
            step.kind,
            secs(step.build_seconds),
            secs(step.compile_seconds),
            secs(step.execute_seconds),
            f"{step.seconds:.3f} s",
            "" if step.rows is None else f"{step.rows:,}",
        )
    total = sum(step.seconds for step in result.profile)
    table.add_section()
    table.add_row("all steps", "", "", "", "", f"{total:.3f} s", "")
    console.print(table)
    console.print(
        "build: the Ibis expression (a model fact reads its input and fits here); "
        "compile: Ibis to SQL; execute + write: the SQL into a staging table (the facts' "
        "rows are counted together, in 'count rows')."
    )


def print_run(result: Any, verbose: bool = False) -> None:
    """The facts a run wrote or skipped, then one summary line. The rollup tables are
    internal (the semantic layer reads them): counted in the summary, listed only
    when ``verbose``; a skipped rollup is always shown, since queries will be slower."""
    as_of = result.as_of.strftime("%Y-%m") if result.as_of else "—"
    table = Table("fact", "rows", "", title=f"Run {result.run_id} · as of {as_of}")
    for name, rows in result.written.items():
        table.add_row(name, f"{rows:,}", "[green]written[/]")
    if verbose:
        for name, rows in result.rollups.items():
            table.add_row(name, f"{rows:,}", "[green]rollup[/]")
    for name, why in result.skipped.items():
        table.add_row(name, "", f"[yellow]skipped[/]: {escape(why)}")
    for name, why in result.rollups_skipped.items():
        table.add_row(f"rollup {name}", "", f"[yellow]skipped[/]: {escape(why)}")
    console.print(table)
    facts = len(result.written)
    rows = sum(result.written.values())
    parts = [
        f"{facts} fact{'s' if facts != 1 else ''} written ({rows:,} rows)"
        if facts
        else "No fact computed"
    ]
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped")
    if result.rollups:
        parts.append(f"{len(result.rollups)} rollups built")
    parts += [f"as of {as_of}", f"{result.seconds:.1f} s"]
    console.print(" · ".join(parts), highlight=False)
    since = changes_line(result.changes)
    if since:
        console.print(since, highlight=False)


def changes_line(changes: dict[str, Any]) -> str:
    """What changed in the sources since the latest full run, in a line (empty on the
    first run, when every source is new)."""
    changed = [f"{name} ({c.describe()})" for name, c in changes.items() if c.status == "changed"]
    added = [name for name, c in changes.items() if c.status == "new"]
    unknown = [name for name, c in changes.items() if c.status == "not compared"]
    if not changes or len(added) == len(changes):
        return ""
    if not changed and not added and not unknown:
        return "No source changed since the last full run."
    parts = [f"changed: {', '.join(changed)}"] if changed else []
    if added:
        parts.append(f"new: {', '.join(added)}")
    if unknown:
        parts.append(
            f"not compared (no checksums from a load by this version): {', '.join(unknown)}"
        )
    return "Since the last full run, " + "; ".join(parts) + "."


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


MONEY_COLUMNS = {
    "current_mrr", "monetary", "value", "total_revenue", "avg_lifetime_value",
    "total_spend", "slope", "mean_mrr",
}  # fmt: skip


PERCENT_COLUMNS = {"relative_slope", "monthly_churn_rate", "logo_retention", "revenue_retention"}


def emit(
    frame: Any,
    format: OutputFormat,
    title: str,
    formats: dict[str, str | None] | None = None,
    currency: str = DEFAULT,
) -> None:
    """Print a frame as a Rich table (formatted for a person), CSV or JSON (raw values).

    ``formats`` maps a column to currency / percentage / number (the semantic
    layer's formats); other columns are formatted by name and type. Money is shown
    in ``currency`` (the workspace's reporting currency: its sign and minor unit).
    """
    import sys

    from custlens.format import money, number, percent, ratio

    frame = frame.drop("_run_id", strict=False)
    if format == OutputFormat.csv:
        sys.stdout.write(frame.write_csv())
        return
    if format == OutputFormat.json:
        sys.stdout.write(frame.write_json() + "\n")
        return
    kinds: list[Callable[[Any], str]] = []
    for name, dtype in frame.schema.items():
        declared = (formats or {}).get(name)
        if declared == "currency":
            kinds.append(money)
        elif declared == "percentage":
            kinds.append(percent)
        elif declared == "number" and dtype.is_float():
            kinds.append(_decimal)
        elif name in MONEY_COLUMNS:
            kinds.append(money)
        elif name in PERCENT_COLUMNS:
            kinds.append(percent)
        elif dtype.is_float():
            kinds.append(
                ratio if name == "risk_score" else _decimal if name == "r_squared" else number
            )
        elif dtype.is_integer():
            kinds.append(number)
        else:
            kinds.append(_text)
    numeric = [dtype.is_numeric() for dtype in frame.schema.values()]
    console.print(fitted_table(f"{title} ({frame.height:,})", frame, kinds, numeric, currency))


def period_labels(frame: Any, time_columns: list[str]) -> Any:
    """Time columns as a person reads their grain: ``…quarter`` 2024-Q3, ``…month``
    2024-07, ``…year`` 2024 (days and weeks stay dates). For tables only: csv and
    json keep ISO dates for the programs that read them."""
    import polars as pl

    labels = {
        "quarter": lambda c: pl.format("{}-Q{}", c.dt.year(), c.dt.quarter()),
        "month": lambda c: c.dt.strftime("%Y-%m"),
        "year": lambda c: c.dt.year().cast(pl.String),
    }
    columns = []
    for name in time_columns:
        grain = name.rsplit(".", 1)[-1]
        if grain in labels and frame.schema.get(name) in (pl.Date, pl.Datetime):
            columns.append(labels[grain](pl.col(name)).alias(name))
    return frame.with_columns(columns) if columns else frame


TEXT_MIN_WIDTH = 8
"""The narrowest a text column is drawn before it is hidden instead."""

HEADER_MIN_WIDTH = 6
"""The narrowest a number's header folds to when even the numbers barely fit."""


def fitted_table(
    title: str,
    frame: Any,
    kinds: list[Callable[[Any], str]],
    numeric: list[bool],
    currency: str = DEFAULT,
) -> Table:
    """A table that never cuts a number at the console's width.

    Numbers keep their full width and headers break after ``.`` and ``_``; text
    columns share what is left and wrap. When the numbers and a narrow text column
    each still do not fit, money is abbreviated ($143.2k); then text columns are
    hidden from the right (the first column, the row's name, stays), and a caption
    says which — ``--format csv`` or ``json`` gives every column whole.
    """
    from functools import partial

    from custlens.format import money, money_short

    names = list(frame.columns)
    values = list(frame.iter_rows())

    def cells(formatters: list[Callable[[Any], str]]) -> list[list[str]]:
        # money and money_short stand for themselves in ``currency``.
        shown = [partial(f, code=currency) if f in (money, money_short) else f for f in formatters]
        return [[f(v) for f, v in zip(shown, row, strict=True)] for row in values]

    squeeze = False  # True: number headers fold inside the numbers' own width

    def number_width(i: int, shown: list[list[str]]) -> int:
        words = [HEADER_MIN_WIDTH] if squeeze else [len(w) for w in _header_words(names[i])]
        return max([len(r[i]) for r in shown] + words)

    def needed(keep: list[int], shown: list[list[str]]) -> int:
        # Each column costs its content, a border and a space of padding each side;
        # the table one border more.
        return 1 + sum(3 + (number_width(i, shown) if numeric[i] else TEXT_MIN_WIDTH) for i in keep)

    available = console.width
    keep = list(range(len(names)))
    shown = cells(kinds)
    if needed(keep, shown) > available:
        shown = cells([money_short if f is money else f for f in kinds])
    hidden: list[str] = []
    while needed(keep, shown) > available:
        text = [i for i in keep[1:] if not numeric[i]]
        if not text:
            break  # only numbers left: the terminal wraps the line rather than cut one
        keep.remove(text[-1])
        hidden.insert(0, names[text[-1]])
    squeeze = needed(keep, shown) > available
    for name in list(hidden) if squeeze else []:
        # Folded number headers may leave room for a text column again.
        column = names.index(name)
        if needed(sorted([*keep, column]), shown) <= available:
            keep = sorted([*keep, column])
            hidden.remove(name)
    caption = (
        f"{', '.join(hidden)} hidden at this width (--format csv shows every column)"
        if hidden
        else None
    )
    texts = [i for i in keep if not numeric[i]]
    spare = available - needed(keep, shown)
    table = Table(title=title, caption=caption)
    for i in keep:
        if numeric[i]:
            width = number_width(i, shown)
            table.add_column(_header(names[i], width), justify="right", no_wrap=True, width=width)
        else:
            longest = max([len(r[i]) for r in shown] + [len(names[i])])
            width = min(longest, TEXT_MIN_WIDTH + spare // len(texts))
            width = max(width, min(TEXT_MIN_WIDTH, longest))
            table.add_column(_header(names[i], width), overflow="fold", width=width)
    for row in shown:
        table.add_row(*(row[i] for i in keep))
    return table


def _header_words(name: str) -> list[str]:
    """``subscriptions.paying_customers`` → ``subscriptions.``, ``paying_``, ``customers``."""
    return re.findall(r"[^._]+[._]?|[._]", name) or [name]


def _header(name: str, width: int) -> str:
    """The header broken into lines of at most ``width`` at ``.`` and ``_`` (and inside
    a word longer than ``width``)."""
    lines = [""]
    for whole in _header_words(name):
        for start in range(0, len(whole), width):
            word = whole[start : start + width]
            if lines[-1] and len(lines[-1]) + len(word) > width:
                lines.append("")
            lines[-1] += word
    return "\n".join(lines)


def _text(value: object) -> str:
    return "—" if value is None else str(value)


def _decimal(value: float | None) -> str:
    """Counts stay whole; a fractional number keeps two places (a quick ratio of 3.78)."""
    from custlens.format import number

    if value is not None and value == value and value != int(value):
        return f"{value:,.2f}"
    return number(value)


def kpi_table(summary: Any, currency: str = DEFAULT) -> Table:
    """Headline KPIs per month, formatted for a person (money in ``currency``)."""
    from functools import partial

    from custlens.format import money as money_in
    from custlens.format import number, percent, ratio

    money = partial(money_in, code=currency)

    columns: list[tuple[str, str, Callable[[Any], str]]] = [
        ("MRR", "ending_mrr", money),
        ("ARR", "arr", money),
        ("New", "new_mrr", money),
        ("Expansion", "expansion_mrr", money),
        ("Contraction", "contraction_mrr", money),
        ("Churn", "churn_mrr", money),
        ("Reactivation", "reactivation_mrr", money),
        ("Customers", "ending_customers", number),
        ("NRR", "net_revenue_retention", percent),
        ("GRR", "gross_revenue_retention", percent),
        ("Quick ratio", "quick_ratio", ratio),
    ]
    table = Table(title="Growth summary, last 12 months")
    table.add_column("Month")
    for title, _, _ in columns:
        table.add_column(title, justify="right")
    for row in summary.iter_rows(named=True):
        table.add_row(
            row["month"].strftime("%Y-%m"), *(fmt(row[field]) for _, field, fmt in columns)
        )
    return table


_HEALTH_MARKS = {"Excellent": "✓", "Good": "✓", "At Risk": "⚠", "Critical": "✗"}


_RULE = "━" * 62


_SUB = "─" * 62


def profile_card(card: dict[str, Any], currency: str = DEFAULT) -> Any:
    """A profile as seed 002 draws it: sections of label: value lines, events newest
    first; money in ``currency``."""
    from datetime import date as _date
    from functools import partial

    from rich.console import Group
    from rich.text import Text

    from custlens.format import money as money_in
    from custlens.format import number, percent

    money = partial(money_in, code=currency)

    ov, fin, eng = card["overview"], card["financial"], card["engagement"]
    lines: list[Any] = []

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        lines.append(Text(""))
        lines.append(Text(title, style="bold"))
        lines.append(Text(_SUB, style="dim"))
        width = max((len(label) for label, _ in rows), default=0) + 2
        for label, value in rows:
            line = Text(f"{label + ':':<{width}}", style="cyan")
            line.append(value)
            lines.append(line)

    since = ov["customer_since"]
    since_text = _date.fromisoformat(since).strftime("%B %Y") if since else "—"
    score = ov["health_score"]
    health = (
        f"{score:.0f}/100 {_HEALTH_MARKS.get(ov['band'], '')} ({ov['band']})"
        if score is not None
        else "—"
    )
    ids = ", ".join(f"{s['id']} ({s['system'] or '?'})" for s in ov["source_ids"])
    lines.append(Text(f"Customer Profile: {ov['name'] or card['customer_id']}", style="bold"))
    lines.append(Text(_RULE))
    section(
        "Overview",
        [
            ("Customer ID", f"{card['customer_id']} · records {ids}"),
            ("Customer Since", since_text),
            ("Segment", ov["segment"] or "—"),
            ("Industry", ov["industry"] or "—"),
            ("Region", ov["region"] or "—"),
            ("Health Score", health),
            ("Lifecycle", ov["lifecycle_stage"] or "—"),
            *(
                [("Churn Probability", percent(ov["churn_probability"], 1))]
                if ov.get("churn_probability") is not None
                else []
            ),
        ],
    )
    change = fin["change_12_months"]
    trend = ""
    if change is not None:
        trend = f" ({'↑' if change >= 0 else '↓'} {percent(abs(change), 0)} YoY)"
    failed = fin["failed_payments_90d"]
    status = {
        "current": "Current",
        "issues": f"Issues ({failed} failed payment{'s' if failed != 1 else ''} in 90 days)",
    }.get(fin["payment_status"] or "", "—")
    section(
        "Financial Summary",
        [
            ("Lifetime Revenue", money(fin["lifetime_revenue"])),
            ("Current ARR", money(fin["current_arr"])),
            ("Last 12 Months", money(fin["last_12_months"]) + trend),
            ("Payment Status", status),
        ],
    )
    nps = eng["nps_score"]
    days = eng["days_since_last_activity"]
    last_seen = "—" if days is None else "today" if days == 0 else f"{number(days)} days ago"
    hours = eng["avg_resolution_hours"]
    tickets = eng["tickets_90d"]
    section(
        "Engagement",
        [
            ("NPS Score", "—" if nps is None else f"{nps} ({eng['nps_category'].title()})"),
            ("Last Activity", last_seen),
            ("Product Adoption", percent(eng["product_adoption"], 0)),
            ("Support Tickets", "—" if tickets is None else f"{tickets} (last 90 days)"),
            ("Avg Resolution", "—" if hours is None else f"{hours:.0f} hours"),
        ],
    )
    section(
        "Key Contacts",
        [
            (
                (c["role"] or "contact").replace("_", " ").title(),
                f"{c['name']} ({c['title']})" if c["title"] else c["name"],
            )
            for c in card["contacts"]
        ]
        or [("None", "—")],
    )
    lines.append(Text(""))
    lines.append(Text("Recent Events", style="bold"))
    lines.append(Text(_SUB, style="dim"))
    for event in card["recent_events"]:
        day = _date.fromisoformat(event["date"]).strftime("%b %d %Y")
        lines.append(Text(f"{day}  {event['description']}"))
    if not card["recent_events"]:
        lines.append(Text("—"))
    lines.append(Text(_RULE))
    return Group(*lines)


def holdout_table(frame: Any, title: str) -> Table:
    """Predicted vs actual holdout purchases per calibration-frequency bucket."""
    table = Table(title=title)
    table.add_column("repeat purchases (calibration)")
    for name in ("customers", "predicted / customer", "actual / customer", "predicted", "actual"):
        table.add_column(name, justify="right")
    for row in frame.iter_rows(named=True):
        table.add_row(
            row["calibration_frequency"],
            f"{row['customers']:,}",
            f"{row['predicted_per_customer']:.3f}",
            f"{row['actual_per_customer']:.3f}",
            f"{row['predicted']:,.1f}",
            f"{row['actual']:,.0f}",
        )
    return table


def clv_parameter_table(notes: dict[str, Any]) -> Table:
    """The fitted parameters and log-likelihood of both models, formatted for a person."""
    names = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}
    table = Table(
        "model", "parameter", "value", title=f"Fitted models (time unit: {notes['unit']})"
    )
    for key in ("purchases", "spend"):
        fit = notes[key]
        label = names.get(fit["model"], fit["model"])
        for name, value in fit["params"].items():
            table.add_row(label, name, f"{value:,.4f}")
        table.add_row(label, "log-likelihood", f"{fit['log_likelihood']:,.2f}")
        table.add_row(label, "customers", f"{fit['customers']:,}", end_section=True)
    return table


def churn_coefficient_table(notes: dict[str, Any]) -> Table:
    """The model's coefficients on standardised features, and what it was trained on."""
    first, last = notes["training_dates"]
    table = Table(
        "feature",
        "coefficient",
        title=(
            f"Churn model ({notes['model']}): {notes['training_rows']:,} customer-months "
            f"{first} … {last}, churn rate {notes['churn_rate']:.1%}"
        ),
    )
    for name, value in notes["coefficients"].items():
        table.add_row(name, f"{value:,.4f}")
    return table


def calibration_table(rows: list[dict[str, Any]]) -> Table:
    """Backtest calibration: mean predicted vs observed churn rate per decile of prediction."""
    table = Table(title="Calibration by decile of predicted churn probability")
    for name in ("decile", "customers", "mean predicted", "observed rate", "churned"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            str(row["decile"]),
            f"{row['customers']:,}",
            f"{row['mean_predicted']:.1%}",
            f"{row['observed_rate']:.1%}",
            f"{row['churned']:,}",
        )
    return table
