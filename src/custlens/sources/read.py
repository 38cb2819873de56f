"""Reading a source as it is: a CSV file (every cell as text), a Parquet file, a table
of a Postgres database (through the warehouse package) or a data frame."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import polars as pl

from custlens.errors import ContractError
from custlens.sources.contract import Table

if TYPE_CHECKING:
    pass
from custlens.sources.convert import as_text
from custlens.sources.problems import (
    LINE,
    CsvOrigin,
    Origin,
    Problem,
    QueryOrigin,
    contract_error,
    contract_table,
)

FILE_SUFFIXES = (".csv", ".parquet")
"""File types :func:`read_source` and :func:`find_sources` understand."""

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def read_source(
    location: str | Path,
    table: str,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> tuple[pl.DataFrame, str]:
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
        delimiter: a CSV file's field separator; default: sniffed from the header
            (a comma, else the one of ``;``, tab or ``|`` it holds).
        encoding: a CSV file's text encoding (a Python codec name, ``cp1252``);
            default: UTF-8, or UTF-16 when the file starts with its byte-order mark.

    Returns:
        ``(frame, origin)``: origin labels the source in errors, e.g. the file
        path or ``"postgresql://host:5432/db table schema.name"``.

    Raises:
        ContractError: unknown table, file not found, unsupported extension,
            a file that is empty (no header) or not valid CSV/Parquet, or a
            database table that cannot be read.
    """
    spec = contract_table(table)
    if isinstance(location, str) and location.lower().startswith(POSTGRES_SCHEMES):
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
            return pl.read_parquet(path), Origin(origin)
        except Exception as exc:  # Polars/Arrow raise several types for a bad file
            raise ContractError(f"cannot read as Parquet: {exc}", origin=origin) from exc
    encoding = encoding or _sniffed_encoding(path)
    if encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig"):
        return _read_csv(path, origin, spec, delimiter or _sniffed_delimiter(path, origin))
    with tempfile.TemporaryDirectory(prefix="custlens-") as folder:
        utf8 = _transcoded(path, Path(folder) / path.name, encoding, origin)
        frame, csv_origin = _read_csv(
            utf8, origin, spec, delimiter or _sniffed_delimiter(utf8, origin)
        )
        return frame, csv_origin


def _sniffed_encoding(path: Path) -> str:
    """UTF-16 when the file starts with its byte-order mark (Excel's "Unicode Text"),
    else UTF-8 (which a file in another encoding is refused for, with how to say it)."""
    with path.open("rb") as file:
        start = file.read(2)
    return "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "utf-8"


def _transcoded(path: Path, out: Path, encoding: str, origin: str) -> Path:
    """``path`` rewritten as UTF-8 at ``out``, read in ``encoding``."""
    try:
        with (
            path.open(encoding=encoding, newline="") as source,
            out.open("w", encoding="utf-8", newline="") as target,
        ):
            while chunk := source.read(1 << 20):
                target.write(chunk)
    except LookupError:
        raise ContractError(f"unknown encoding {encoding!r}", origin=origin) from None
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"the file is not {encoding} text: byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start} cannot be read as {encoding}",
            origin=origin,
        ) from None
    return out


DELIMITERS = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}


def _sniffed_delimiter(path: Path, origin: str) -> str:
    """The separator of a CSV file, from its header line: a comma if it has one, else
    the one other separator it holds (``;`` as Excel writes in many locales, a tab,
    ``|``); a header with two of those is ambiguous, and an error says so."""
    with path.open("rb") as file:
        header = file.readline().decode("utf-8", errors="replace")
    header = re.sub(r'"[^"]*"', "", header)  # a quoted name may hold anything
    if "," in header:
        return ","
    found = [d for d in (";", "\t", "|") if d in header]
    if len(found) > 1:
        named = " and ".join(DELIMITERS[d] for d in found)
        raise ContractError(
            f"cannot tell the delimiter: the header holds {named}; say which with "
            "--delimiter (e.g. --delimiter ';')",
            origin=origin,
        )
    return found[0] if found else ","


def _read_csv(path: Path, origin: str, spec: Table, sep: str = ",") -> tuple[pl.DataFrame, str]:
    try:
        raw = pl.read_csv(path, infer_schema=False, raise_if_empty=True, separator=sep)
    except pl.exceptions.NoDataError:
        raise ContractError(
            "the file is empty; expected a header line naming the columns "
            f"({', '.join(c.name for c in spec.columns)})",
            origin=origin,
        ) from None
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            raise _ragged_row_error(path, origin, sep) from None
        if "utf-8" in str(exc).lower():
            raise ContractError(
                f"the file is not UTF-8 text: {_first_non_utf8(path)}; save it as UTF-8 "
                "(Excel: CSV UTF-8), or say its encoding with --encoding (cp1252: Windows, "
                "Western Europe)",
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
        short = _short_row(path, raw.columns, lines, sep)
        if short is not None:
            raise contract_error(CsvOrigin(origin, lines), [short])
    frame = raw.with_columns(as_text(pl.all()))
    # A trailing comma in the header makes a nameless column; harmless if it is empty.
    nameless = [c for c in frame.columns if c == ""]
    if nameless and frame.get_column("").null_count() == frame.height:
        frame = frame.drop("")
    elif nameless:
        position = raw.columns.index("") + 1
        raise ContractError(f"column {position} of the header has no name", origin=origin)

    if frame.width == 0:
        return frame, CsvOrigin(origin, lines)
    blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    return frame.filter(~blank), CsvOrigin(origin, lines.filter(~blank))


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
        return pl.Series(LINE, [], dtype=pl.Int64)
    embedded = pl.sum_horizontal(pl.all().str.count_matches("\n").fill_null(0)).cast(pl.Int64)
    start = first_line + pl.int_range(pl.len(), dtype=pl.Int64) + embedded.cum_sum() - embedded
    return raw.select(start.alias(LINE)).to_series()


def _short_row(path: Path, header: list[str], lines: pl.Series, sep: str = ",") -> Problem | None:
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
            fields=text.str.replace_all(r'"[^"]*"', "").str.count_matches(re.escape(sep)) + 1,
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
            return Problem(
                f"{count} fields where the header has {len(header)} ({', '.join(header)})",
                row=int(rows[0]) + 1,
            )
    return None


def _ragged_row_error(path: Path, origin: str, sep: str = ",") -> ContractError:
    """Find the first row with more fields than the header (Polars does not say which)."""
    header = pl.read_csv(path, infer_schema=False, n_rows=0, separator=sep).columns
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
        separator=sep,
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
    problem = Problem(f"more fields than the header; {expected}", row=row)
    return contract_error(CsvOrigin(origin, lines), [problem])


def _read_postgres(url: str, spec: Table) -> tuple[pl.DataFrame, str]:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    qualified = params.pop("table", spec.name)
    schema, _, name = qualified.rpartition(".")
    host = parts.hostname or "localhost"
    database = unquote(parts.path.lstrip("/"))
    # The origin never carries the password.
    netloc = host + (f":{parts.port}" if parts.port else "")
    origin = QueryOrigin(f"postgresql://{netloc}/{database} table {qualified}")
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
