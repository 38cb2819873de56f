"""Read source tables, check them against the data contract, load them into the warehouse.

Three steps, each usable on its own::

    frame, origin = read_source("data/customers.csv", "customers")  # raw: CSV cells are text
    typed = validate("customers", frame, origin)                      # typed, or ContractError
    load_sources(warehouse, {"customers": "data/customers.csv"})      # all tables or none

Every check is a Polars expression over a whole column; only the first failing
row of each check is then looked up to name it. A source with problems is
rejected whole with one :class:`~custlens.errors.ContractError`. Its message
names the source, the row (for CSV also the file line), the column, the
offending value and what was expected::

    lines.csv, row 2 (line 3), column 'amount': negative value -10.0; expected >= 0

When several checks fail, one error lists each on its own line::

    lines.csv: 2 problems
      row 1 (line 2), column 'amount': negative value -5.0; expected >= 0
      row 2 (line 3), column 'kind': 'monthly' is not one of 'recurring', 'one_time', 'usage'

CSV cells are read as text and stripped of surrounding whitespace; an empty
cell is null, and a row whose cells are all empty (a blank line) is skipped.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import polars as pl
import pyarrow as pa

from custlens.errors import ContractError, ContractWarning
from custlens.sources import contract
from custlens.sources.contract import Column, ColumnType, Table

if TYPE_CHECKING:
    import pandas

__all__ = ["POLARS_TYPES", "find_sources", "load_sources", "read_source", "validate"]

FILE_SUFFIXES = (".csv", ".parquet")
"""File types :func:`read_source` and :func:`find_sources` understand."""

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")

POLARS_TYPES: dict[ColumnType, pl.DataType] = {
    # The Polars type each contract type is loaded as.
    "string": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "date": pl.Date(),
    "month": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "bool": pl.Boolean(),
}

_EXPECTED: dict[ColumnType, tuple[str, str]] = {
    # type: (what a value must be, the accepted spellings)
    "string": ("text", ""),
    "int": ("a whole number", ""),
    "float": ("a number", ""),
    "date": ("a date", "YYYY-MM-DD"),
    "month": ("a month", "YYYY-MM or a date YYYY-MM-DD"),
    "timestamp": ("a timestamp", "YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][+HH:MM] or a date"),
    "bool": ("a boolean", "true/false, yes/no or 1/0"),
}


def _expected(type_: ColumnType) -> str:
    noun, spelling = _EXPECTED[type_]
    return f"{noun}; expected {spelling}" if spelling else noun


_BOOLEANS = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}

# An internal column name; the prefix keeps it clear of any user column.
_LINE = "__custlens_line"


class TableWriter(Protocol):
    """What :func:`load_sources` needs of a warehouse (``custlens.warehouse.Warehouse``)."""

    def write_tables(self, tables: dict[str, pl.DataFrame], /) -> None: ...


# -- origins: a label that also knows how to name a row ----------------------


class _Origin(str):
    """An origin label (a plain ``str`` to callers) that knows how to name a row."""

    def row_label(self, row: int) -> str:
        return f"row {row}"


class _CsvOrigin(_Origin):
    """A CSV file: rows are also named by their line in the file."""

    lines: pl.Series

    def __new__(cls, path: str, lines: pl.Series) -> _CsvOrigin:
        origin = super().__new__(cls, path)
        origin.lines = lines
        return origin

    def row_label(self, row: int) -> str:
        if 1 <= row <= len(self.lines):
            return f"row {row} (line {self.lines[row - 1]})"
        return f"row {row}"


class _QueryOrigin(_Origin):
    """A database table: rows are numbered in the order the query returned them."""

    def row_label(self, row: int) -> str:
        return f"row {row} of the query result"


def _row_label(origin: str, row: int) -> str:
    return origin.row_label(row) if isinstance(origin, _Origin) else f"row {row}"


# -- problems and the error that reports them -------------------------------


@dataclass(frozen=True)
class _Problem:
    message: str
    row: int | None = None
    column: str | None = None
    value: object = None


def _where(origin: str, problem: _Problem) -> str:
    parts = []
    if problem.row is not None:
        parts.append(_row_label(origin, problem.row))
    if problem.column is not None:
        parts.append(f"column {problem.column!r}")
    return ", ".join(parts)


def _error(origin: str, problems: list[_Problem]) -> ContractError:
    """One ContractError for all problems; its row/column/value are the first problem's."""
    first = problems[0]
    if len(problems) == 1:
        where = ", ".join(p for p in (str(origin), _where(origin, first)) if p)
        message = f"{where}: {first.message}"
    else:
        lines = [f"{origin}: {len(problems)} problems"]
        for problem in problems:
            where = _where(origin, problem)
            lines.append(f"  {where}: {problem.message}" if where else f"  {problem.message}")
        message = "\n".join(lines)
    # The message is composed here because a CSV row is named with its line too,
    # which ContractError's own "row N" prefix cannot say.
    error = ContractError(message)
    error.origin = str(origin)
    error.row = first.row
    error.column = first.column
    error.value = first.value
    return error


def _fmt(value: object) -> str:
    """A value as a person would recognise it in their data."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _fmt_bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _known_tables() -> str:
    return ", ".join(sorted(contract.TABLES))


def _table(name: str, origin: str | None = None) -> Table:
    spec = contract.TABLES.get(name)
    if spec is None:
        raise ContractError(
            f"unknown table {name!r}; known tables: {_known_tables()}", origin=origin
        )
    return spec


# -- reading -----------------------------------------------------------------


def read_source(location: str | Path, table: str) -> tuple[pl.DataFrame, str]:
    """Read one source table, raw: a CSV file, a Parquet file, or a Postgres table.

    CSV cells are all read as text (so that :func:`validate` can point at the
    cell that does not parse), stripped of surrounding whitespace, with empty
    cells as null and blank lines skipped. Parquet and database columns keep
    their types.

    Args:
        location: a ``.csv`` or ``.parquet`` path, or a URL
            ``postgresql://user@host:port/db?table=schema.name`` (``postgres://``
            too; without ``table=`` the contract name ``table`` is read from the
            search path). Other query parameters are passed to the driver.
        table: the contract table this source is meant to be (``"customers"``).

    Returns:
        ``(frame, origin)``: origin labels the source in errors, e.g. the file
        path or ``"postgresql://host:5432/db table schema.name"``.

    Raises:
        ContractError: unknown table, file not found, unsupported extension,
            a file that is empty (no header) or not valid CSV/Parquet, or a
            database table that cannot be read.
    """
    spec = _table(table)
    if isinstance(location, str) and location.lower().startswith(_POSTGRES_SCHEMES):
        return _read_postgres(location, spec)
    path = Path(location)
    origin = str(location)
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ContractError(
            f"unsupported file type {path.suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(FILE_SUFFIXES)} or a postgresql:// URL",
            origin=origin,
        )
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "file not found"
        raise ContractError(reason, origin=origin)
    if suffix == ".parquet":
        try:
            return pl.read_parquet(path), _Origin(origin)
        except Exception as exc:  # Polars/Arrow raise several types for a bad file
            raise ContractError(f"cannot read as Parquet: {exc}", origin=origin) from exc
    return _read_csv(path, origin, spec)


def _read_csv(path: Path, origin: str, spec: Table) -> tuple[pl.DataFrame, str]:
    try:
        raw = pl.read_csv(path, infer_schema=False, raise_if_empty=True)
    except pl.exceptions.NoDataError:
        raise ContractError(
            "the file is empty; expected a header line naming the columns "
            f"({', '.join(c.name for c in spec.columns)})",
            origin=origin,
        ) from None
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            raise _ragged_row_error(path, origin) from None
        if "utf-8" in str(exc).lower():
            raise ContractError(
                f"the file is not UTF-8 text: {_first_non_utf8(path)}; save it as UTF-8 "
                "(Excel: CSV UTF-8)",
                origin=origin,
            ) from None
        raise ContractError(f"cannot read as CSV: {exc}", origin=origin) from None

    # Header names are stripped like cells; Polars renames a repeated name to
    # <name>_duplicated_<n>, which would hide the mistake.
    names = [re.sub(r"_duplicated_\d+$", "", c).strip() for c in raw.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ContractError(
            f"the header names a column twice: {', '.join(map(repr, repeated))}", origin=origin
        )
    raw.columns = names

    lines = _file_lines(raw, first_line=2 + sum(c.count("\n") for c in raw.columns))
    if raw.width > 1 and raw.get_column(raw.columns[-1]).null_count():
        # Polars fills a row that stops short with nulls, as if its last cells were
        # empty: a cut-off or shifted line would load as missing values.
        short = _short_row(path, raw.columns, lines)
        if short is not None:
            raise _error(_CsvOrigin(origin, lines), [short])
    frame = raw.with_columns(_text(pl.all()))
    # A trailing comma in the header makes a nameless column; harmless if it is empty.
    nameless = [c for c in frame.columns if c == ""]
    if nameless and frame.get_column("").null_count() == frame.height:
        frame = frame.drop("")
    elif nameless:
        position = raw.columns.index("") + 1
        raise ContractError(f"column {position} of the header has no name", origin=origin)

    if frame.width == 0:
        return frame, _CsvOrigin(origin, lines)
    blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    return frame.filter(~blank), _CsvOrigin(origin, lines.filter(~blank))


def _first_non_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 lies: its value, offset and line."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}) is not UTF-8"
    return "a byte that is not UTF-8"


def _file_lines(raw: pl.DataFrame, first_line: int) -> pl.Series:
    """The file line where each row of a just-read CSV frame starts.

    Polars yields one row per physical line (a blank line is a row of nulls),
    except that a quoted cell may span lines; those embedded newlines shift
    every later row.
    """
    if raw.width == 0:
        return pl.Series(_LINE, [], dtype=pl.Int64)
    embedded = pl.sum_horizontal(pl.all().str.count_matches("\n").fill_null(0)).cast(pl.Int64)
    start = first_line + pl.int_range(pl.len(), dtype=pl.Int64) + embedded.cum_sum() - embedded
    return raw.select(start.alias(_LINE)).to_series()


def _short_row(path: Path, header: list[str], lines: pl.Series) -> _Problem | None:
    """The first row with fewer fields than the header, or None.

    Fields are counted on the raw lines, quoted cells taken out first; a row whose
    quoted cell spans lines is not counted (Polars has already read it whole).
    """
    raw = pl.read_csv(
        path,
        has_header=False,
        new_columns=["text"],
        separator="\x00",
        quote_char=None,
        schema={"text": pl.String},
    )
    text = pl.col("text")
    short = (
        raw.with_row_index("line", offset=1)
        .with_columns(
            fields=text.str.replace_all(r'"[^"]*"', "").str.count_matches(",") + 1,
            balanced=text.str.count_matches('"') % 2 == 0,
        )
        .filter(
            (pl.col("line") > 1)
            & text.is_not_null()
            & pl.col("balanced")
            & (pl.col("fields") < len(header))
        )
    )
    for line, count in short.select("line", "fields").iter_rows():
        rows = (lines == line).arg_true()
        if rows.len():
            return _Problem(
                f"{count} fields where the header has {len(header)} ({', '.join(header)})",
                row=int(rows[0]) + 1,
            )
    return None


def _ragged_row_error(path: Path, origin: str) -> ContractError:
    """Find the first row with more fields than the header (Polars does not say which)."""
    header = pl.read_csv(path, infer_schema=False, n_rows=0).columns
    width = len(header)
    expected = f"the header has {width} ({', '.join(header)})"
    # Read again, header included, with one column more than the header: the
    # first row that fills the extra column is the culprit.
    probe = pl.read_csv(
        path,
        has_header=False,
        schema={f"c{i}": pl.String for i in range(width + 1)},
        truncate_ragged_lines=True,
        missing_columns="insert",
    )
    bad = probe.get_column(f"c{width}").is_not_null().arg_true()
    if bad.len() == 0:
        # Only empty extra fields (a trailing comma); Polars cannot tell them from
        # missing ones, so the row is not named.
        return ContractError(
            f"a row has more fields than the header (a trailing comma?); {expected}",
            origin=origin,
        )
    row = int(bad[0])  # row 0 is the header
    lines = _file_lines(probe, first_line=1).slice(1)
    problem = _Problem(f"more fields than the header; {expected}", row=row)
    return _error(_CsvOrigin(origin, lines), [problem])


def _read_postgres(url: str, spec: Table) -> tuple[pl.DataFrame, str]:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    qualified = params.pop("table", spec.name)
    schema, _, name = qualified.rpartition(".")
    host = parts.hostname or "localhost"
    database = unquote(parts.path.lstrip("/"))
    # The origin never carries the password.
    netloc = host + (f":{parts.port}" if parts.port else "")
    origin = _QueryOrigin(f"postgresql://{netloc}/{database} table {qualified}")
    from ibis.common.exceptions import TableNotFound

    from custlens.warehouse.postgres import connect_database

    try:
        con = connect_database(
            host=host,
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=database or None,
            **params,
        )
    except ImportError as exc:
        raise ContractError(
            f"reading Postgres needs an extra: pip install 'custlens[postgres]' ({exc})",
            origin=origin,
        ) from None
    except Exception as exc:
        raise ContractError(f"cannot connect: {exc}", origin=origin) from exc
    try:
        try:
            source = con.table(name, database=schema or None)
        except TableNotFound:
            raise ContractError("table not found", origin=origin) from None
        except Exception as exc:
            raise ContractError(f"cannot open the table: {exc}", origin=origin) from exc
        # No ORDER BY: rows are numbered in the order the database returns them.
        try:
            frame = source.to_polars()
        except Exception as exc:
            raise ContractError(f"cannot read the table: {exc}", origin=origin) from exc
    finally:
        con.disconnect()
    return frame, origin


# -- validating --------------------------------------------------------------


def validate(
    table: str,
    frame: pl.DataFrame | pa.Table | pandas.DataFrame,
    origin: str = "<frame>",
) -> pl.DataFrame:
    """Check a frame against the contract of ``table`` and return it typed.

    Contract columns are cast to their types (string → String, int → Int64,
    float → Float64, date → Date, month → Date on the first of the month,
    timestamp → Datetime("us") naive UTC, bool → Boolean); text is stripped
    and an empty string is null. Absent optional columns are added, and null
    optional values take the column's default where one is declared. The
    result has the contract columns in contract order, then any extra
    columns unchanged.

    Args:
        table: a contract table name (``contract.TABLES``).
        frame: the rows, as Polars, Arrow or pandas.
        origin: how errors name the source (``read_source`` returns it).

    Raises:
        ContractError: unknown table, missing required columns, or values
            that break the contract; one error lists every failing check,
            each with its first failing row.
    """
    spec = _table(table, origin)
    df = _to_polars(frame, origin)
    _check_columns(spec, df, origin)

    present = [c for c in spec.columns if c.name in df.columns]
    work = df.select(
        _clean(pl.col(c.name), c.type) if _is_text(df.schema[c.name]) else pl.col(c.name)
        for c in present
    )
    converted: list[pl.Expr] = []
    problems: list[_Problem] = []
    unsupported: set[str] = set()
    for col in present:
        conversion = _conversion(work.schema[col.name], col.type)
        if conversion is None:
            unsupported.add(col.name)
            problems.append(
                _Problem(
                    f"has type {df.schema[col.name]}, which cannot hold {_EXPECTED[col.type][0]}",
                    column=col.name,
                    value=str(df.schema[col.name]),
                )
            )
            continue
        value, bad = conversion(pl.col(col.name))
        converted += [value.cast(POLARS_TYPES[col.type]).alias(col.name), bad.alias(_bad(col.name))]
    parsed = work.select(converted)

    failed = set(unsupported)
    for col in present:
        if col.name in unsupported:
            continue
        row = _first_true(parsed.get_column(_bad(col.name)))
        if row is not None:
            failed.add(col.name)
            raw = df.get_column(col.name)[row]
            problems.append(
                _Problem(
                    f"{_fmt(raw)} is not {_expected(col.type)}",
                    row=row + 1,
                    column=col.name,
                    value=raw,
                )
            )

    columns: dict[str, pl.Series] = {}
    for col in spec.columns:
        if col.name in failed:
            continue
        if col.name in df.columns:
            series = parsed.get_column(col.name)
            if col.default is not None:
                series = series.fill_null(col.default)
        else:
            default = cast(Any, col.default)  # contract defaults are plain scalars
            series = pl.repeat(default, df.height, dtype=POLARS_TYPES[col.type], eager=True)
        columns[col.name] = series.alias(col.name)
        if col.name in df.columns:
            problems += _check_values(col, series)

    typed = pl.DataFrame(list(columns.values()), height=df.height)
    for name in spec.intervals:
        if name not in failed:
            normalised, problem = _billing_intervals(typed.get_column(name))
            typed = typed.with_columns(normalised)
            if problem is not None:
                problems.append(problem)
                failed.add(name)
    for name, other in spec.required_unless:
        if name in failed or other in failed:
            continue
        row = _first_true(typed.get_column(name).is_null() & typed.get_column(other).is_null())
        if row is not None:
            problems.append(
                _Problem(
                    f"missing value; {name} is required unless {other} says how long each "
                    "period is",
                    row=row + 1,
                    column=name,
                )
            )
    extras = [c for c in df.columns if spec.column(c) is None]
    # An all-null extra column (pandas None, an empty CSV column) has no type a
    # database can store; text is the honest guess.
    extra = df.select(
        pl.col(c).cast(pl.String) if df.schema[c] == pl.Null else pl.col(c) for c in extras
    )
    whole = pl.concat([typed, extra], how="horizontal") if extras else typed
    problems += _check_ordered(spec, typed, failed)
    problems += _check_unique(spec, typed, failed, origin)
    if spec.distinct_rows and not failed:
        problems += _check_distinct(whole, origin)
    if problems:
        raise _error(origin, problems)
    return whole


def _to_polars(frame: object, origin: str) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, (pa.Table, pa.RecordBatch)):
        result = pl.from_arrow(frame)
        assert isinstance(result, pl.DataFrame)
        return result
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is optional
        pandas = None
    if pandas is not None and isinstance(frame, pandas.DataFrame):
        try:
            return pl.from_pandas(frame)
        except Exception as exc:
            raise ContractError(f"cannot convert the pandas frame: {exc}", origin=origin) from exc
    raise TypeError(
        f"expected a Polars, Arrow or pandas frame, got {type(frame).__name__} ({origin})"
    )


def _check_columns(spec: Table, df: pl.DataFrame, origin: str) -> None:
    missing = [c for c in spec.required if c not in df.columns]
    if not missing:
        return
    noun = "column" if len(missing) == 1 else "columns"
    found = ", ".join(map(repr, df.columns)) or "none"
    message = f"missing required {noun} {', '.join(map(repr, missing))}; found columns: {found}"
    lowered = {c.lower(): c for c in df.columns}
    near = [f"{lowered[m.lower()]!r} for {m!r}" for m in missing if m.lower() in lowered]
    if near:
        message += f" (column names are case-sensitive: found {', '.join(near)})"
    elif any(";" in c or "\t" in c for c in df.columns):
        message += " (the file seems to use ';' or tabs; custlens reads comma-separated files)"
    elif isinstance(origin, _CsvOrigin) and not any(spec.column(c) for c in df.columns):
        message += (
            f" (the first line does not look like a header; a CSV file must start with "
            f"a line naming its columns, e.g. {','.join(spec.required)})"
        )
    raise ContractError(message, origin=origin)


def _bad(name: str) -> str:
    return f"__custlens_bad_{name}"


def _first_true(mask: pl.Series) -> int | None:
    """0-based index of the first True (null counts as False)."""
    hits = mask.fill_null(False).arg_true()
    return int(hits[0]) if hits.len() else None


# -- conversions: (source dtype, contract type) → (typed value, bad mask) ----

_Conversion = Callable[[pl.Expr], tuple[pl.Expr, pl.Expr]]


def _text(e: pl.Expr) -> pl.Expr:
    stripped = e.str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype in (pl.Categorical, pl.Enum)


def _clean(e: pl.Expr, target: ColumnType) -> pl.Expr:
    """Text as the parsers want it: stripped, blank as null, ISO 'T' and 'Z' made plain.

    Done once per column before parsing, because each parser tries several
    formats on the same text and Polars would redo the cleaning for each.
    """
    text = _text(e.cast(pl.String))
    if target in ("date", "timestamp"):
        # 2024-03-01T10:00:00Z → 2024-03-01 10:00:00 (naive timestamps are UTC).
        text = text.str.replace("T", " ", literal=True, n=1).str.strip_suffix("Z")
    return text


def _failed(source: pl.Expr, value: pl.Expr) -> pl.Expr:
    """Bad where there was a value and the conversion lost it."""
    return source.is_not_null() & value.is_null()


def _parse_datetime(t: pl.Expr) -> pl.Expr:
    """Parse ISO-like timestamps (normalised by :func:`_clean`), with an optional offset."""
    naive = [
        t.str.to_datetime(fmt, time_unit="us", strict=False)
        for fmt in ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M")
    ]
    aware = [
        t.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False).dt.replace_time_zone(
            None
        )
        for fmt in ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z")
    ]
    day = t.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
    return pl.coalesce(*naive, *aware, day)


def _parse_date(t: pl.Expr) -> pl.Expr:
    """A date, or a timestamp at midnight (some exports write dates that way)."""
    stamp = _parse_datetime(t)
    midnight = pl.when(stamp.dt.time() == dt.time(0)).then(stamp.dt.date())
    return pl.coalesce(t.str.to_date("%Y-%m-%d", strict=False), midnight)


def _whole(f: pl.Expr) -> pl.Expr:
    """Float to Int64 where that is lossless, else null."""
    return pl.when(f.is_finite() & (f == f.floor())).then(f.cast(pl.Int64, strict=False))


def _naive_utc(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        e = e.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return e.cast(pl.Datetime("us"))


def _exact(convert: Callable[[pl.Expr], pl.Expr]) -> _Conversion:
    """A conversion that cannot fail."""
    return lambda e: (convert(e), pl.lit(False))


def _checked(convert: Callable[[pl.Expr], pl.Expr]) -> _Conversion:
    """A conversion that yields null where it would lose the value."""

    def conversion(e: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        value = convert(e)
        return value, _failed(e, value)

    return conversion


def _parsed(parse: Callable[[pl.Expr], pl.Expr]) -> _Conversion:
    """Parse cleaned text (see :func:`_clean`): a blank cell is already null, not a failure."""
    return _checked(parse)


def _to_month(t: pl.Expr) -> pl.Expr:
    padded = pl.when(t.str.contains(r"^\d{4}-\d{1,2}$")).then(t + "-01").otherwise(t)
    return _parse_date(padded).dt.month_start()


def _finite(f: pl.Expr) -> pl.Expr:
    return pl.when(f.is_finite()).then(f)


def _conversion(dtype: pl.DataType, target: ColumnType) -> _Conversion | None:
    """How to bring a column of ``dtype`` to ``target`` losslessly; None if it cannot be."""
    if dtype == pl.Null:
        return _exact(lambda e: e.cast(POLARS_TYPES[target]))
    text, numeric = dtype == pl.String, dtype.is_numeric()
    if target == "string":
        if text:
            return _exact(lambda e: e)
        if dtype.is_float():
            # A float id (pandas makes an int column with gaps float) reads "7", not "7.0".
            return _exact(lambda e: pl.coalesce(_whole(e).cast(pl.String), e.cast(pl.String)))
        if numeric or dtype.is_temporal() or dtype == pl.Boolean:
            return _exact(lambda e: e.cast(pl.String))
    elif target == "int":
        if text:
            return _parsed(
                lambda t: pl.coalesce(
                    t.str.to_integer(strict=False), _whole(t.cast(pl.Float64, strict=False))
                )
            )
        if dtype.is_integer():
            return _checked(lambda e: e.cast(pl.Int64, strict=False))
        if numeric:
            return _checked(lambda e: _whole(e.cast(pl.Float64)))
    elif target == "float":
        if text:
            return _parsed(lambda t: _finite(t.cast(pl.Float64, strict=False)))
        if numeric:
            return _checked(lambda e: _finite(e.cast(pl.Float64, strict=False)))
    elif target == "date":
        if text:
            return _parsed(_parse_date)
        if dtype == pl.Date:
            return _exact(lambda e: e)
        if isinstance(dtype, pl.Datetime):
            # A date column must not silently drop a time of day.
            return _checked(lambda e: pl.when(e.dt.time() == dt.time(0)).then(e.dt.date()))
    elif target == "month":
        if text:
            return _parsed(_to_month)
        if dtype == pl.Date:
            return _exact(lambda e: e.dt.month_start())
        if isinstance(dtype, pl.Datetime):
            return _exact(lambda e: e.dt.date().dt.month_start())
    elif target == "timestamp":
        if text:
            return _parsed(_parse_datetime)
        if dtype == pl.Date:
            return _exact(lambda e: e.cast(pl.Datetime("us")))
        if isinstance(dtype, pl.Datetime):
            return _exact(lambda e: _naive_utc(e, dtype))
    elif target == "bool":
        if text:
            return _parsed(
                lambda t: t.str.to_lowercase().replace_strict(
                    _BOOLEANS, default=None, return_dtype=pl.Boolean
                )
            )
        if dtype == pl.Boolean:
            return _exact(lambda e: e)
        if dtype.is_integer():
            return _checked(lambda e: pl.when(e == 1).then(True).when(e == 0).then(False))
    return None


# -- value rules -------------------------------------------------------------


def _check_values(col: Column, series: pl.Series) -> list[_Problem]:
    """Required, range and choice rules of one typed column: first failing row of each."""
    problems = []
    if col.required:
        row = _first_true(series.is_null())
        if row is not None:
            problems.append(
                _Problem(
                    f"missing value; {col.name} is required in every row",
                    row=row + 1,
                    column=col.name,
                )
            )
    if col.min is not None or col.max is not None:
        value_expr = pl.col(col.name)
        outside = pl.lit(False)
        if col.min is not None:
            outside = outside | (value_expr < col.min)
        if col.max is not None:
            outside = outside | (value_expr > col.max)
        row = _first_true(series.to_frame().select(outside).to_series())
        if row is not None:
            value = series[row]
            if col.min is not None and col.max is not None:
                expected = f"between {_fmt_bound(col.min)} and {_fmt_bound(col.max)}"
            elif col.min is not None:
                expected = f">= {_fmt_bound(col.min)}"
            else:
                expected = f"<= {_fmt_bound(col.max)}"  # type: ignore[arg-type]
            what = "negative value" if col.min == 0 and value < 0 else "out-of-range value"
            problems.append(
                _Problem(f"{what} {_fmt(value)}; expected {expected}", row + 1, col.name, value)
            )
    if col.type in ("date", "month", "timestamp"):
        problems += _check_plausible_date(col, series)
    if col.choices is not None:
        allowed = pl.Series(list(col.choices), dtype=POLARS_TYPES[col.type]).implode()
        row = _first_true(series.is_not_null() & ~series.is_in(allowed))
        if row is not None:
            value = series[row]
            choices = ", ".join(_fmt(c) for c in col.choices)
            problems.append(
                _Problem(f"{_fmt(value)} is not one of {choices}", row + 1, col.name, value)
            )
    return problems


EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
"""Dates outside these are placeholders (0001-01-01, 9999-12-31), not billing history."""


def _check_plausible_date(col: Column, series: pl.Series) -> list[_Problem]:
    day = series.dt.date() if series.dtype == pl.Datetime else series
    outside = day.is_not_null() & ((day < EARLIEST) | (day > LATEST))
    row = _first_true(outside)
    if row is None:
        return []
    value = series[row]
    hint = " (leave it empty for an open end)" if col.name.endswith("_end") else ""
    return [
        _Problem(
            f"date {value} is outside {EARLIEST} … {LATEST}, a placeholder rather than a "
            f"date{hint}",
            row + 1,
            col.name,
            value,
        )
    ]


def _check_ordered(spec: Table, typed: pl.DataFrame, failed: set[str]) -> list[_Problem]:
    """Pairs (earlier, later): later must be strictly after earlier where both are set."""
    problems = []
    for earlier, later in spec.ordered:
        if earlier in failed or later in failed:
            continue
        a, b = typed.get_column(earlier), typed.get_column(later)
        row = _first_true(a.is_not_null() & b.is_not_null() & (b <= a))
        if row is not None:
            kind = "an empty" if a[row] == b[row] else "a negative"
            problems.append(
                _Problem(
                    f"{later} {_fmt(b[row])} is not after {earlier} {_fmt(a[row])} "
                    f"({kind} period); expected {later} > {earlier}",
                    row=row + 1,
                    column=later,
                    value=b[row],
                )
            )
    return problems


def _check_unique(
    spec: Table, typed: pl.DataFrame, failed: set[str], origin: str
) -> list[_Problem]:
    """The unique key: the first row that repeats an earlier row's key, and that earlier row."""
    keys = list(spec.unique)
    if not keys or failed.intersection(keys) or typed.height == 0:
        return []
    key = pl.struct(keys) if len(keys) > 1 else pl.col(keys[0])
    complete = pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
    row_index = _first_true(typed.select(complete & ~key.is_first_distinct()).to_series())
    if row_index is None:
        return []
    hit = typed.row(row_index, named=True)
    same = pl.all_horizontal(pl.col(k) == hit[k] for k in keys)
    first_index = _first_true(typed.select(same).to_series())
    assert first_index is not None  # the repeated key was seen before
    row, first = row_index + 1, first_index + 1
    seen = _row_label(origin, first)
    if len(keys) == 1:
        value = hit[keys[0]]
        message = f"duplicate {keys[0]} {_fmt(value)}, first seen in {seen}; it must be unique"
        return [_Problem(message, row=row, column=keys[0], value=value)]
    value = tuple(hit[k] for k in keys)
    pairs = ", ".join(f"{k} {_fmt(hit[k])}" for k in keys)
    note = (
        " (months are compared by calendar month)"
        if any(spec.column(k) and spec.column(k).type == "month" for k in keys)  # type: ignore[union-attr]
        else ""
    )
    message = (
        f"duplicate key {pairs}, first seen in {seen}; ({', '.join(keys)}) must be unique{note}"
    )
    return [_Problem(message, row=row, value=value)]


_INTERVAL = re.compile(r"^\s*(?:(\d+)\s*)?(week|month|quarter|year)(?:s|ly)?\s*$", re.IGNORECASE)
_INTERVAL_WORDS = {"annual": "1 year", "annually": "1 year"}
"""What ``_INTERVAL`` does not read (it reads weekly, monthly, quarterly, yearly)."""


def _billing_intervals(series: pl.Series) -> tuple[pl.Series, _Problem | None]:
    """``"<count> <unit>"`` for each billing interval (``Month`` → ``1 month``), and the
    first value that is not one. Each distinct text is read once."""
    mapping: dict[str, str] = {}
    for value in series.drop_nulls().unique(maintain_order=True).to_list():
        text = str(value).strip().lower()
        match = _INTERVAL.match(text)
        if text in _INTERVAL_WORDS:
            mapping[value] = _INTERVAL_WORDS[text]
        elif match and int(match.group(1) or 1) >= 1:
            mapping[value] = f"{int(match.group(1) or 1)} {match.group(2).lower()}"
        else:
            row = _first_true(series == value)
            message = (
                f"{_fmt(value)} is not a billing interval; expected month, quarter, year or "
                "week, with an optional count (3 month, 2 week)"
            )
            return series, _Problem(message, row=(row or 0) + 1, column=series.name, value=value)
    return series.replace_strict(mapping, default=None, return_dtype=pl.String), None


def _check_distinct(typed: pl.DataFrame, origin: str) -> list[_Problem]:
    """The first row alike in every column to an earlier one, and that earlier row."""
    if typed.height < 2:
        return []
    row_index = _first_true(typed.select(~pl.struct(pl.all()).is_first_distinct()).to_series())
    if row_index is None:
        return []
    hit = typed.slice(row_index, 1)
    rows = typed.with_row_index("_row").join(hit, on=typed.columns, nulls_equal=True)
    first_index = int(rows["_row"].min())  # type: ignore[arg-type]
    seen = _row_label(origin, first_index + 1)
    message = (
        f"repeats {seen} exactly; a line loaded twice would count twice "
        "(give two equal charges distinct line_id values)"
    )
    return [_Problem(message, row=row_index + 1)]


# -- finding and loading -----------------------------------------------------


def find_sources(directory: Path) -> dict[str, Path]:
    """Every ``<table>.csv`` or ``<table>.parquet`` in a folder, by contract table name.

    Other files (a README, hidden files) are ignored.

    Raises:
        ContractError: the folder does not exist, a CSV/Parquet file's name is
            not a contract table (the error lists the known tables), or two
            files are for one table.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError("source folder not found", origin=str(directory))
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in FILE_SUFFIXES:
            continue
        if not path.is_file():
            continue
        table = path.stem
        if table not in contract.TABLES:
            raise ContractError(
                f"{path.name!r} is not a source table; name a file after its table "
                f"(<table>.csv or <table>.parquet), known tables: {_known_tables()}",
                origin=str(path),
            )
        if table in found:
            raise ContractError(
                f"two files for table {table!r}: {found[table].name} and {path.name}; keep one",
                origin=str(directory),
            )
        found[table] = path
    return dict(sorted(found.items()))


def load_sources(
    warehouse: TableWriter,
    items: Mapping[str, str | Path | pl.DataFrame | pa.Table | pandas.DataFrame],
    *,
    allow_empty: bool = False,
) -> dict[str, int]:
    """Read and validate every source, then write them all in one atomic call.

    Nothing is written unless every item is valid: ``warehouse.write_tables``
    is called once with ``{"src_<table>": typed frame, ...}``.

    Args:
        warehouse: a ``custlens.warehouse.Warehouse`` (anything with ``write_tables``).
        items: contract table name → path or URL (see :func:`read_source`) or a frame.
        allow_empty: load a file that has a header and no rows (it empties the table);
            without it, such a file is an error.

    Returns:
        Rows loaded per table.

    Raises:
        ContractError: an unknown table name (listing the known ones) or any
            invalid source; when several sources are invalid, one error
            reports each of them.
    """
    unknown = [name for name in items if name not in contract.TABLES]
    if unknown:
        raise ContractError(
            f"unknown table{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known tables: {_known_tables()}"
        )
    typed: dict[str, pl.DataFrame] = {}
    errors: list[ContractError] = []
    for table, item in items.items():
        try:
            if isinstance(item, (str, Path)):
                frame, origin = read_source(item, table)
                if frame.height == 0 and not allow_empty:
                    raise ContractError(
                        "the file has a header and no rows; loading it would empty "
                        f"{contract.TABLES[table].warehouse_name} (--allow-empty to mean that)",
                        origin=origin,
                    )
            else:
                frame, origin = item, f"<{table} frame>"
            typed[table] = validate(table, frame, origin)
            extras = [c for c in typed[table].columns if contract.TABLES[table].column(c) is None]
            for name in extras:
                warnings.warn(
                    f"{origin}: extra column {name!r} is kept as it is (not part of the "
                    f"{table} contract; a misspelt column name?)",
                    ContractWarning,
                    stacklevel=2,
                )
        except ContractError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        combined = ContractError(
            f"{len(errors)} sources are invalid; nothing was loaded:\n"
            + "\n".join(str(e) for e in errors)
        )
        combined.origin, combined.row = errors[0].origin, errors[0].row
        combined.column, combined.value = errors[0].column, errors[0].value
        raise combined
    warehouse.write_tables({contract.TABLES[t].warehouse_name: f for t, f in typed.items()})
    return {table: frame.height for table, frame in typed.items()}
