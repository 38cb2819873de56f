"""The ``custlens`` commands: each parses its options, asks the :class:`custlens.Workspace`
and hands the answer to :mod:`custlens.cli.render`."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from custlens.cli.render import (
    OutputFormat,
    calibration_table,
    churn_coefficient_table,
    clv_parameter_table,
    console,
    emit,
    err_console,
    holdout_table,
    kpi_table,
    period_labels,
    print_profile,
    print_run,
    profile_card,
    profile_json,
)
from custlens.errors import CustlensError


class _Commands(TyperGroup):
    """Turns a custlens error into ``error: …`` and exit code 1 (a traceback with --debug)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_metavars(super().get_params(ctx))

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Click's own errors (an unknown option, a bad value) in custlens's words and
        # shape, `error: …` like every other error, rather than Typer's boxed panel.
        from typer._click.exceptions import ClickException, UsageError

        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except UsageError as exc:
            if not exc.format_message().strip():  # no arguments: the help was shown
                raise SystemExit(exc.exit_code) from None
            hint = ""
            if exc.ctx is not None:
                hint = f"\nTry '{exc.ctx.command_path} --help' for help."
            err_console.print(f"[red]error:[/] {escape(exc.format_message())}{hint}",
                              soft_wrap=True)  # fmt: skip
            raise SystemExit(exc.exit_code) from None
        except ClickException as exc:
            err_console.print(f"[red]error:[/] {escape(exc.format_message())}", soft_wrap=True)
            raise SystemExit(exc.exit_code) from None
        # Outside standalone mode Click returns an Exit's code instead of exiting;
        # the commands themselves return None.
        raise SystemExit(code or 0)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _optional_values(args))  # type: ignore[no-any-return]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CustlensError as exc:
            if state.debug:
                raise
            # soft_wrap: a long path must stay on one line, copyable.
            err_console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_metavars(super().get_params(ctx))


class _App(typer.Typer):
    """Every command is a :class:`_Command`."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


def _plain_metavars(params: list[Any]) -> list[Any]:
    """Help shows what to type, not Python's types: a flag shows nothing (Typer would
    print ``<bool>``), a value its kind (``TEXT``, ``INTEGER`` rather than
    ``<list[str]>``, ``<int range>``); choices keep their list of values."""
    # Typer 0.29 ships its own copy of Click with a type descriptor per parameter;
    # older Typers hand Click's own parameters, with a Click type.
    for param in params:
        if param.param_type_name != "option" or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
            continue
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None:
            if descriptor.is_choice:
                continue
            kind = param.bare_type()
        else:
            if param.type.name == "choice":
                continue
            kind = param.type.name
        kind = kind.removeprefix("list[").removesuffix("]")
        param.metavar = METAVARS.get(kind, kind.upper())
    return params


METAVARS = {
    "str": "TEXT",
    "text": "TEXT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "integer range": "INTEGER",
    "float": "NUMBER",
    "Path": "PATH",
    "path": "PATH",
}


OPTIONAL_VALUES = {"--profile": ("table", ("table", "json"))}
"""Options whose value may be left out (Typer has no such options): option → (default, values)."""


def _optional_values(args: list[str]) -> list[str]:
    """``--profile`` alone means ``--profile table``; ``--profile json`` stays as it is."""
    out = list(args)
    for i, token in enumerate(out):
        if token in OPTIONAL_VALUES:
            default, values = OPTIONAL_VALUES[token]
            if i + 1 == len(out) or out[i + 1] not in values:
                out[i] = f"{token}={default}"
    return out


app = _App(
    cls=_Commands,
    help="Customer and revenue analytics: MRR movements, growth KPIs and customer facts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class State:
    workspace: Path = Path(".")
    debug: bool = False
    role: str | None = None


state = State()


class ProfileFormat(StrEnum):
    table = "table"
    json = "json"


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


WorkspaceOption = Annotated[
    Path,
    typer.Option("-w", "--workspace", help="Workspace folder (holds custlens.yml)."),
]


@app.callback()
def _main(
    workspace: WorkspaceOption = Path("."),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="Read as this role of custlens.yml: its customers only, names, emails "
            "and phones hashed unless privileged (queries, profiles, exports, lists, report).",
        ),
    ] = None,
) -> None:
    state.workspace = workspace
    state.debug = debug
    state.role = role


def _open() -> Any:
    from custlens.workspace import Workspace

    # Each command is a process: query answers are kept on disk for the next one.
    return Workspace(state.workspace, keep_answers=True)


def _role(ws: Any) -> Any:
    """The role named by ``--role`` (None without it)."""
    return None if state.role is None else ws.role(state.role)


def _as_of_note(as_of: date | None) -> None:
    """Say which month the numbers are as of, on stderr (stdout stays CSV or JSON)."""
    when = f"as of {as_of:%Y-%m}" if as_of is not None else "no run yet"
    err_console.print(f"[dim]{when}[/]", highlight=False)


def _month(text: str | None) -> date | None:
    from custlens.config import parse_month

    return parse_month(text) if text else None


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create.")] = Path("."),
    warehouse: Annotated[
        str | None, typer.Option(help="Warehouse URL (default: a DuckDB file in the folder).")
    ] = None,
) -> None:
    """Create a workspace: the folder and a commented custlens.yml."""
    from custlens.workspace import Workspace

    ws = Workspace.init(directory, warehouse=warehouse)
    console.print(f"Workspace ready: [bold]{ws.path}[/] (edit custlens.yml to configure)")


@app.command()
def load(
    table_or_dir: Annotated[str, typer.Argument(help="A contract table name, or a folder.")],
    path: Annotated[
        str | None,
        typer.Argument(help="CSV/Parquet file or postgresql://host/db?table=schema.name"),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Load a header-only file: it empties its table."),
    ] = False,
    create_missing_customers: Annotated[
        bool,
        typer.Option(
            "--create-missing-customers",
            help="Add to customers the ids that lines or transactions name and customers "
            "lacks (else such rows are refused).",
        ),
    ] = False,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="'FILE COLUMN=column'",
            help="A column of the file and the contract column it is, e.g. "
            "--map 'Customer ID=customer_id' (repeat; custlens.yml's mappings: too).",
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            help="CSV field separator, e.g. ';' or tab (default: read from the header).",
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            help="Dates written otherwise than YYYY-MM-DD, as a strftime format: "
            "'%d/%m/%Y' day first, '%m/%d/%Y' month first.",
        ),
    ] = None,
    decimal: Annotated[
        str | None,
        typer.Option(
            help="Read amounts written for a person ($1,200.50 with '.', 1.200,50 € with "
            "','): the decimal mark; currency symbols and thousands separators are dropped.",
        ),
    ] = None,
    locale: Annotated[
        str | None,
        typer.Option(
            help="Read amounts as this locale writes them: de_DE reads 1.200,50 €, en_US "
            "$1,200.50 (its decimal mark, as --decimal).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="The files' text encoding, e.g. cp1252 (default: UTF-8)."),
    ] = None,
) -> None:
    """Load a source table, or every <table>.csv|parquet of a folder (all or nothing)."""
    import warnings

    if locale is not None:
        from custlens.format import decimal_mark

        try:
            mark = decimal_mark(locale)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--locale") from None
        if decimal is not None and decimal != mark:
            raise typer.BadParameter(
                f"{locale} writes decimals with {mark!r}, not {decimal!r}",
                param_hint="--decimal / --locale",
            )
        decimal = mark

    if delimiter is not None:
        delimiter = "\t" if delimiter.lower() in ("tab", "\\t") else delimiter
        if len(delimiter) != 1:
            raise typer.BadParameter(
                f"{delimiter!r} is not one character (say tab for a tab)", param_hint="--delimiter"
            )
    mappings: dict[str, dict[str, str]] = {}
    if map_:
        if path is None:
            raise typer.BadParameter(
                "--map needs TABLE FILE; for a folder, put mappings: in custlens.yml",
                param_hint="--map",
            )
        for pair in map_:
            source, sep, column = pair.partition("=")
            if not sep or not source.strip() or not column.strip():
                raise typer.BadParameter(
                    f"{pair!r} is not 'FILE COLUMN=column'", param_hint="--map"
                )
            mappings.setdefault(table_or_dir, {})[source.strip()] = column.strip()
    # How the files are read and checked, the same for a table and a folder.
    options: dict[str, Any] = {
        "allow_empty": allow_empty,
        "create_missing_customers": create_missing_customers,
        "delimiter": delimiter,
        "date_format": date_format,
        "decimal": decimal,
        "encoding": encoding,
    }
    with _open() as ws, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if path is None:
            counts = ws.load_dir(Path(table_or_dir), **options)
        else:
            counts = ws.load({table_or_dir: path}, mappings=mappings, **options)
    from custlens.errors import ContractWarning

    # custlens's own warnings about the data; a library's deprecation notes are not
    # the user's business.
    for warning in caught:
        if issubclass(warning.category, ContractWarning):
            err_console.print(f"[yellow]warning:[/] {escape(str(warning.message))}", soft_wrap=True)
    table = Table("table", "rows", title="Loaded")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


@app.command()
def generate(
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 1000,
    months: Annotated[int, typer.Option(min=1, help="Months of history.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    start: Annotated[str | None, typer.Option(help="First month, YYYY-MM.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write files here instead of loading them.")
    ] = None,
    format: Annotated[
        FileFormat, typer.Option(help="File format with --out.")
    ] = FileFormat.parquet,
) -> None:
    """Generate a synthetic B2B SaaS data set, and load it (or write it with --out)."""
    if out is not None:
        from custlens.workspace import Workspace

        # Writing files needs no workspace.
        with console.status("Generating…"):
            counts = Workspace.generate_files(
                out, customers, months, seed, _month(start), fmt=format.value
            )
    else:
        with _open() as ws, console.status("Generating…"):
            counts = ws.generate(customers, months, seed, _month(start))
    table = Table("table", "rows", title=f"Written to {out}" if out else "Generated and loaded")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    duplicates = counts.get("customers", customers) - customers
    if duplicates > 0:
        console.print(
            f"customers has {duplicates:,} more rows than --customers {customers:,}: the same "
            "customers as CRM and support records, for identity resolution to merge "
            f"({customers:,} once resolved).",
            highlight=False,
        )


@app.command()
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Compute to the end of this month, YYYY-MM.")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Compute just this fact (and what it reads); repeatable."),
    ] = None,
    profile: Annotated[
        ProfileFormat | None,
        typer.Option(
            "--profile",
            metavar="[table|json]",
            help="Time each step (build, compile, execute + write, rows); "
            "--profile json prints only that, as JSON.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list the rollup tables built.")
    ] = False,
) -> None:
    """Compute every fact whose inputs are loaded, and record the run."""
    with _open() as ws:
        if profile == ProfileFormat.json:
            result = ws.run(as_of=_month(as_of), only=only)
        else:
            result = _run_with_progress(ws, _month(as_of), only)
    if profile == ProfileFormat.json:
        import json
        import sys

        sys.stdout.write(json.dumps(profile_json(result), indent=2) + "\n")
        return
    print_run(result, verbose)
    if profile == ProfileFormat.table:
        print_profile(result)


def _run_with_progress(ws: Any, as_of: date | None, only: list[str] | None = None) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} facts and rollups"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("Running facts", total=ws.steps(only))

        def progress(name: str, event: str) -> None:
            if event == "start":
                bar.update(task, description=f"Computing {name}")
            else:
                bar.advance(task)

        return ws.run(as_of=as_of, progress=progress, only=only)


@app.command()
def rollups() -> None:
    """Rebuild the semantic model's rollups for the latest run (after editing the YAML)."""
    import time

    with _open() as ws:
        started = time.perf_counter()
        built = ws.build_rollups()
    table = Table("rollup table", "rows", "", title="Rollups")
    for name, rows in built.written.items():
        table.add_row(name, f"{rows:,}", "[green]written[/]")
    for name, why in built.skipped.items():
        table.add_row(name, "", f"[yellow]skipped[/]: {escape(why)}")
    console.print(table)
    console.print(f"Finished in {time.perf_counter() - started:.1f} s")


@app.command()
def export(
    table: Annotated[str, typer.Argument(help="Fact or source table.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Target .csv or .parquet file.")],
) -> None:
    """Write a table to CSV or Parquet."""
    with _open() as ws:
        path = ws.export(table, out, role=_role(ws))
        as_of = ws.last_run_as_of()
    console.print(f"Wrote {path}")
    _as_of_note(as_of)


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="table for a person; csv or json to hand to a CRM."),
]


class AtRiskSignal(StrEnum):
    overdue = "overdue"
    declining_mrr = "declining-mrr"
    lapsed = "lapsed"


@app.command("at-risk")
def at_risk(
    top: Annotated[int, typer.Option(min=1, help="How many customers.")] = 10,
    by: Annotated[
        AtRiskSignal,
        typer.Option(
            help="overdue: silent well past their own purchase rhythm; declining-mrr: "
            "MRR falling month after month; lapsed: big spenders who stopped buying."
        ),
    ] = AtRiskSignal.overdue,
    format: FormatOption = OutputFormat.table,
) -> None:
    """The top at-risk customers, with the reason for each."""
    with _open() as ws:
        frame = ws.at_risk(by.value, top, role=_role(ws))  # type: ignore[arg-type]
        as_of = ws.last_run_as_of()
        money_in = ws.currency()
    emit(frame, format, f"At-risk customers: {by.value}", currency=money_in)
    _as_of_note(as_of)


@app.command()
def segments(
    by: Annotated[
        str, typer.Option(help="segment, industry, region, plan or acquisition_channel.")
    ] = "segment",
    format: FormatOption = OutputFormat.table,
) -> None:
    """Customers, revenue, lifetime value, MRR and churn per segment (or another dimension)."""
    with _open() as ws:
        frame = ws.segments(by, role=_role(ws))
        as_of = ws.last_run_as_of()
        money_in = ws.currency()
    emit(frame, format, f"Customers by {by}", currency=money_in)
    _as_of_note(as_of)


@app.command()
def query(
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metric or cube.measure (repeat).")
    ] = None,
    dimension: Annotated[
        list[str] | None, typer.Option("--dimension", "-d", help="cube.dimension (repeat).")
    ] = None,
    time: Annotated[
        list[str] | None,
        typer.Option(
            "--time",
            "-t",
            help="cube.dimension:granularity[:range], e.g. growth.month:quarter:'last 12 months' "
            "or customers.signup_date:month:2024-01-01..2024-12-31.",
        ),
    ] = None,
    filter: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            help="'member operator value…', e.g. 'customers.region equals EMEA' "
            "or 'customers.plan in Pro,Team' (repeat: all must hold).",
        ),
    ] = None,
    order: Annotated[
        list[str] | None, typer.Option("--order", help="'member \\[asc|desc]' (repeat).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    compare: Annotated[str | None, typer.Option(help="previous_period or previous_year.")] = None,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print the SQL that ran.")] = False,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Ask the semantic layer: metrics by dimensions over time, filtered."""
    from custlens.cli.query_options import parse_filter, parse_time

    spec = {
        "metrics": metric or [],
        "dimensions": dimension or [],
        "time_dimensions": [parse_time(t) for t in time or []],
        "filters": [parse_filter(f) for f in filter or []],
        "order_by": order or [],
        "limit": limit,
        "offset": offset,
        "compare": compare,
    }
    with _open() as ws:
        result = ws.run_query(spec, role=_role(ws))
    frame = result.frame
    if format == OutputFormat.table:
        frame = period_labels(frame, [c.name for c in result.columns if c.kind == "time"])
    emit(frame, format, "Query", {c.name: c.format for c in result.columns}, result.currency)
    _as_of_note(result.as_of)
    if result.truncated:
        err_console.print(f"[yellow]note:[/] cut at {result.frame.height:,} rows (server.max_rows)")
    if show_sql:
        err_console.print(result.sql, soft_wrap=True, highlight=False, markup=False)


@app.command()
def catalog(format: FormatOption = OutputFormat.table) -> None:
    """The metrics catalog: every metric's definition, formula, table, owner and cadence."""
    with _open() as ws:
        frame = ws.catalog()
    if format == OutputFormat.table:  # the terminal gets what fits; csv/json get every field
        frame = frame.select("name", "title", "definition", "formula", "owner", "certified")
    emit(frame, format, "Metrics catalog")


@app.command()
def report(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default: <workspace>/report.html)."),
    ] = None,
) -> None:
    """Write the dashboard as one self-contained HTML file that opens offline."""

    with _open() as ws, console.status("Drawing the dashboard…"):
        path = ws.report(out, role=_role(ws))
    # The bare path on its own line, so scripts can take it from the output.
    console.print(str(path.resolve()), soft_wrap=True, highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Serve the dashboard at /, the query API at /v1 (docs at /docs and /redoc) and
    /health; one log line per request on stderr."""
    import logging

    import uvicorn

    from custlens.server import create_app

    app_ = create_app(state.workspace)
    with _open() as ws:
        open_api = not ws.config.api_keys
    if open_api:
        err_console.print(
            "[yellow]note:[/] no api_keys in custlens.yml: /v1 answers anyone, as an "
            "unprivileged role (PII hashed)"
        )
    console.print(f"Serving {app_.state.workspace_path} at http://{host}:{port}/ (Ctrl-C stops)")
    # custlens's own request line replaces uvicorn's access log, which would print the
    # query string (and with it a dashboard key given as /?key=…).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    request_log = logging.getLogger("custlens.server")
    request_log.addHandler(handler)
    request_log.setLevel(logging.INFO)
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 2000,
    months: Annotated[int, typer.Option(min=2, help="Months of history.")] = 36,
    directory: Annotated[Path, typer.Option("--dir", help="Demo workspace.")] = Path(
        "custlens-demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate, load and run a demo workspace; show the last 12 months; write the dashboard."""
    from custlens.workspace import Workspace

    # The data ends last month, so the demo reads like this Monday's numbers.
    today = date.today()
    end = today.year * 12 + today.month - 1
    start = date((end - months) // 12, (end - months) % 12 + 1, 1)
    with Workspace.init(directory) as ws:
        with console.status(f"Generating {customers:,} customers × {months} months…"):
            ws.generate(customers=customers, months=months, seed=seed, start=start)
        result = _run_with_progress(ws, None)
        summary = ws.table("growth_summary").tail(12)
        with console.status("Drawing the dashboard…"):
            report_path = ws.report(ws.path / "report.html")
        money_in = ws.currency()
    console.print(kpi_table(summary, money_in))
    console.print(
        f"Workspace [bold]{ws.path}[/] · run {result.run_id} in {result.seconds:.1f} s · "
        f"try: custlens -w {directory} serve"
    )
    console.print(f"Dashboard: {report_path}", soft_wrap=True)


@app.command()
def profile(
    customer_id: Annotated[str, typer.Argument(help="Any source-system id of the customer.")],
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table (a person) or json.")
    ] = OutputFormat.table,
) -> None:
    """The Customer 360 of one customer: overview, money, engagement, contacts, events."""
    import json

    with _open() as ws:
        card = ws.profile(customer_id, role=_role(ws))
        money_in = ws.currency()
    if format == OutputFormat.table:
        console.print(profile_card(card, money_in))
    else:
        console.print_json(json.dumps(card))
    _as_of_note(date.fromisoformat(card["as_of"]))


class HandoffList(StrEnum):
    low_health = "low-health"
    expansion = "expansion"


@app.command("list")
def list_customers(
    kind: Annotated[
        HandoffList,
        typer.Argument(
            help="low-health: paying customers with a health score under 40; expansion: "
            "health 80+ and NPS 8+ (thresholds: analytics.handoff)."
        ),
    ],
    format: FormatOption = OutputFormat.table,
    post: Annotated[
        str | None,
        typer.Option(
            "--post",
            help="Send the list as JSON to this webhook URL (retries; Idempotency-Key header).",
        ),
    ] = None,
) -> None:
    """A hand-off list for the CRM or a marketing tool, printed or posted to a webhook."""
    with _open() as ws:
        if post is None:
            rows = ws.hand_off(kind.value, role=_role(ws))  # type: ignore[arg-type]
        else:
            rows, delivery = ws.post_hand_off(kind.value, post, role=_role(ws))  # type: ignore[arg-type]
        as_of = ws.last_run_as_of()
        money_in = ws.currency()
    _as_of_note(as_of)
    if post is None:
        emit(rows, format, f"{kind.value} customers", currency=money_in)
        return
    console.print(
        f"Posted {rows.height:,} {kind.value} customers to {post}: HTTP {delivery.status} "
        f"after {delivery.attempts} attempt{'s' if delivery.attempts > 1 else ''} "
        f"(Idempotency-Key {delivery.key[:16]}…)",
        soft_wrap=True,
        highlight=False,
    )


class ClvModel(StrEnum):
    bgnbd = "bgnbd"
    pareto = "pareto"


class ClvUnit(StrEnum):
    days = "days"
    weeks = "weeks"


class ClvFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def clv(
    model: Annotated[
        ClvModel | None, typer.Option(help="Purchase model (default: analytics.clv.model).")
    ] = None,
    unit: Annotated[
        ClvUnit | None, typer.Option(help="Time unit of recency and T (default: weeks).")
    ] = None,
    horizon_months: Annotated[
        int | None, typer.Option("--horizon-months", min=1, help="Months of future value.")
    ] = None,
    discount: Annotated[
        float | None, typer.Option(min=0, max=0.99, help="Monthly discount rate.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Compute to the end of this month, YYYY-MM.")
    ] = None,
    holdout_from: Annotated[
        str | None,
        typer.Option(
            "--holdout-from",
            help="YYYY-MM-DD: also fit on the purchases before this day and compare the "
            "predicted purchases from it to the as-of date with the actual ones.",
        ),
    ] = None,
    format: Annotated[
        ClvFormat, typer.Option("--format", help="table for a person; json for a program.")
    ] = ClvFormat.table,
) -> None:
    """Fit BG/NBD (or Pareto/NBD) and Gamma-Gamma, print the parameters, write clv_predictions."""
    import json
    import sys

    from custlens.errors import ConfigError

    start = None
    if holdout_from is not None:
        try:
            start = date.fromisoformat(holdout_from)
        except ValueError:
            raise ConfigError(
                f"--holdout-from: expected a day as YYYY-MM-DD, got {holdout_from!r}"
            ) from None
    with _open() as ws, console.status("Fitting the customer-value models…"):
        result, notes, holdout = ws.fit_clv(
            _month(as_of),
            start,
            model=model.value if model else None,
            unit=unit.value if unit else None,
            horizon_months=horizon_months,
            discount=discount,
        )
    if format == ClvFormat.json:
        out: dict[str, Any] = {"run_id": result.run_id, **notes}
        if holdout is not None:
            out["holdout"] = holdout.to_dicts()
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(clv_parameter_table(notes))
    console.print(
        f"Wrote clv_predictions: {result.written.get('clv_predictions', 0):,} customers · "
        f"{notes['horizon_months']} months at {notes['discount']:.2%} a month · "
        f"as of {result.as_of:%Y-%m} · run {result.run_id}"
    )
    if holdout is not None:
        title = f"Holdout from {start}: predicted vs actual purchases"
        console.print(holdout_table(holdout, title))


@app.command("churn-model")
def churn_model(
    horizon_months: Annotated[
        int | None,
        typer.Option(
            "--horizon-months",
            min=1,
            help="Churned: MRR 0 within this many months (default: analytics.churn_model).",
        ),
    ] = None,
    backtest: Annotated[
        bool,
        typer.Option("--backtest", help="Also print the out-of-time calibration table by decile."),
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Compute to the end of this month, YYYY-MM.")
    ] = None,
    format: Annotated[
        ClvFormat, typer.Option("--format", help="table for a person; json for a program.")
    ] = ClvFormat.table,
) -> None:
    """Train the churn-propensity model on past churn_features, write churn_propensity."""
    import json
    import sys

    with _open() as ws, console.status("Training the churn model on past months…"):
        result, notes = ws.fit_churn_model(_month(as_of), horizon_months)
    if format == ClvFormat.json:
        out = {"run_id": result.run_id, **notes}
        if not backtest and "calibration" in notes["backtest"]:
            out["backtest"] = {k: v for k, v in notes["backtest"].items() if k != "calibration"}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(churn_coefficient_table(notes))
    test = notes["backtest"]
    if "skipped" in test:
        console.print(f"Backtest skipped: {escape(test['skipped'])}")
    else:
        auc = "—" if test["auc"] is None else f"{test['auc']:.3f}"
        console.print(
            f"Backtest: ROC AUC {auc} on {test['test_rows']:,} customer-months "
            f"({test['test_dates'][0]} … {test['test_dates'][-1]}), trained on "
            f"{test['train_rows']:,} ({test['train_dates'][0]} … {test['train_dates'][-1]})"
        )
        if backtest:
            console.print(calibration_table(test["calibration"]))
    console.print(
        f"Wrote churn_propensity: {result.written.get('churn_propensity', 0):,} paying customers · "
        f"churn within {notes['horizon_months']} months · as of {result.as_of:%Y-%m} · "
        f"run {result.run_id}"
    )


def main() -> None:
    """Entry point of the ``custlens`` command."""
    app()
