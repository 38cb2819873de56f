"""Checking a source against its contract: columns, types, required values, ranges
and choices, plausible dates, period order, unique keys and repeated rows; one rule
kind per function, every problem reported at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from custlens import currency
from custlens.errors import ContractError
from custlens.sources.contract import Column, Table

if TYPE_CHECKING:
    import pandas
    import pyarrow as pa
from custlens.sources.convert import (
    PLAIN,
    POLARS_TYPES,
    Reading,
    cleaned,
    conversion_for,
    is_text,
)
from custlens.sources.problems import (
    EXPECTED,
    LISTED,
    CsvOrigin,
    Problem,
    contract_error,
    contract_table,
    expected_of,
    row_label,
    shown,
    shown_bound,
)


def validate(
    table: str,
    frame: pl.DataFrame | pa.Table | pandas.DataFrame,
    origin: str = "<frame>",
    reading: Reading = PLAIN,
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
        reading: how the source writes dates and amounts, when not as the contract
            does (:class:`custlens.sources.convert.Reading`).

    Raises:
        ContractError: unknown table, missing required columns, or values
            that break the contract; one error lists every failing check with
            its failing rows (the first twenty in all, then how many more; the
            unique key, distinct rows, intervals and required-unless pairs with
            their first failing row).
    """
    spec = contract_table(table, origin)
    df = _to_polars(frame, origin)
    _check_columns(spec, df, origin)

    present = [c for c in spec.columns if c.name in df.columns]
    work = df.select(
        cleaned(pl.col(c.name), c.type) if is_text(df.schema[c.name]) else pl.col(c.name)
        for c in present
    )
    converted: list[pl.Expr] = []
    problems: list[Problem] = []
    unsupported: set[str] = set()
    for col in present:
        conversion = conversion_for(work.schema[col.name], col.type, reading)
        if conversion is None:
            unsupported.add(col.name)
            problems.append(
                Problem(
                    f"has type {df.schema[col.name]}, which cannot hold {EXPECTED[col.type][0]}",
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
        raws = df.get_column(col.name)

        def not_parsed(row: int, col: Column = col, raws: pl.Series = raws) -> Problem:
            raw = raws[row]
            message = f"{shown(raw)} is not {expected_of(col.type)}{_hint(col.type, raw)}"
            return Problem(message, row + 1, col.name, raw)

        found = _per_row(parsed.get_column(_bad(col.name)), not_parsed)
        if found:
            failed.add(col.name)
            problems += found

    columns: dict[str, pl.Series] = {}
    for col in spec.columns:
        if col.name in failed:
            continue
        if col.name in df.columns:
            series = parsed.get_column(col.name)
            if col.choices is not None and col.type == "string":
                series = _spelled_as_choices(series, col.choices)
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
    for name in spec.currencies:
        if name not in failed:
            normalised, found = _currency_codes(typed.get_column(name))
            typed = typed.with_columns(normalised)
            if found:
                problems += found
                failed.add(name)
    for name, other in spec.required_unless:
        if name in failed or other in failed:
            continue
        row = _first_true(typed.get_column(name).is_null() & typed.get_column(other).is_null())
        if row is not None:
            problems.append(
                Problem(
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

    def parsed_column(name: str) -> pl.Series | None:
        if name in typed.columns:
            return typed.get_column(name)
        if name in failed and name not in unsupported:
            return parsed.get_column(name)  # the values that parsed; the rest are null
        return None

    problems += _check_ordered(spec, parsed_column)
    problems += _check_unique(spec, typed, failed, origin)
    if spec.distinct_rows and not failed:
        problems += _check_distinct(whole, origin)
    if problems:
        raise contract_error(origin, problems)
    return whole


def _to_polars(frame: object, origin: str) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    import pyarrow as pa  # only for a frame that is not Polars (0.15 s to import)

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
    close = {m: _closest(m, df.columns) for m in missing}
    maps = " ".join(f"--map '{c}={m}'" for m, c in close.items() if c is not None)
    if near:
        message += (
            f" (column names are case-sensitive: found {', '.join(near)}; rename, or load "
            f"with {maps})"
        )
    elif any(";" in c or "\t" in c for c in df.columns):
        message += (
            " (the header holds ';' or tabs beside commas, read as the delimiter; say which "
            "it is with --delimiter)"
        )
    elif maps:
        found_for = ", ".join(f"{c!r} for {m!r}" for m, c in close.items() if c is not None)
        message += f" (did you mean {found_for}? load with {maps}, or rename it)"
    elif isinstance(origin, CsvOrigin) and not any(spec.column(c) for c in df.columns):
        message += (
            f" (the first line does not look like a header; a CSV file must start with "
            f"a line naming its columns, e.g. {','.join(spec.required)})"
        )
    raise ContractError(message, origin=origin)


def _hint(type_: str, raw: object) -> str:
    """How to load a value written for a person, when it looks like one."""
    if not isinstance(raw, str):
        return ""
    if type_ == "float" and re.search(r"\d", raw) and re.search(r"[$€£¥₹,]|\d \d", raw):
        return " (an amount written for a person: load with --decimal . or --decimal ,)"
    if type_ in ("date", "timestamp") and re.fullmatch(r"\d{1,2}[/.]\d{1,2}[/.]\d{2,4}.*", raw):
        return " (day or month first? load with --date-format '%d/%m/%Y' or '%m/%d/%Y')"
    return ""


def _closest(wanted: str, columns: list[str]) -> str | None:
    """The file's column most like the contract column ``wanted``: the same words in
    other capitals or separators (``Customer ID``), else a near spelling."""
    import difflib

    def words(name: str) -> str:
        return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")

    by_words = {words(c): c for c in columns}
    if wanted in by_words:
        return by_words[wanted]
    near = difflib.get_close_matches(wanted, list(by_words), n=1, cutoff=0.8)
    return by_words[near[0]] if near else None


def _bad(name: str) -> str:
    return f"__custlens_bad_{name}"


def _first_true(mask: pl.Series) -> int | None:
    """0-based index of the first True (null counts as False)."""
    hits = mask.fill_null(False).arg_true()
    return int(hits[0]) if hits.len() else None


def _each_true(mask: pl.Series) -> tuple[list[int], int]:
    """0-based indexes of the first :data:`LISTED` Trues (null counts as False), and how
    many more there are."""
    hits = mask.fill_null(False).arg_true()
    return [int(i) for i in hits[:LISTED]], max(hits.len() - LISTED, 0)


def _per_row(mask: pl.Series, problem: Callable[[int], Problem]) -> list[Problem]:
    """``problem(row)`` for each row ``mask`` marks (the first LISTED; the last listed
    carries the count of the rest)."""
    rows, more = _each_true(mask)
    out = [problem(row) for row in rows]
    if out and more:
        out[-1] = dataclasses.replace(out[-1], more=more)
    return out


def _spelled_as_choices(series: pl.Series, choices: tuple[object, ...]) -> pl.Series:
    """A choice written in other capitals (``Recurring``, ``ONE_TIME``) as the contract
    spells it; anything else is left for the choice rule to name."""
    canonical = {str(c).lower(): str(c) for c in choices}
    lowered = series.str.to_lowercase()
    return (
        pl.select(
            pl.when(lowered.is_in(list(canonical)))
            .then(lowered.replace_strict(canonical, default=None))
            .otherwise(series)
        )
        .to_series()
        .alias(series.name)
    )


def _check_values(col: Column, series: pl.Series) -> list[Problem]:
    """Required, range and choice rules of one typed column: the failing rows of each
    (the first :data:`LISTED`, then a count)."""
    problems: list[Problem] = []
    if col.required:
        problems += _per_row(
            series.is_null(),
            lambda row: Problem(
                f"missing value; {col.name} is required in every row", row + 1, col.name
            ),
        )
    if col.min is not None or col.max is not None:
        value_expr = pl.col(col.name)
        outside = pl.lit(False)
        if col.min is not None:
            outside = outside | (
                (value_expr <= col.min) if col.above_min else (value_expr < col.min)
            )
        if col.max is not None:
            outside = outside | (value_expr > col.max)
        if col.min is not None and col.max is not None:
            expected = f"between {shown_bound(col.min)} and {shown_bound(col.max)}"
        elif col.min is not None:
            expected = f"{'>' if col.above_min else '>='} {shown_bound(col.min)}"
        else:
            expected = f"<= {shown_bound(col.max)}"  # type: ignore[arg-type]

        def outside_range(row: int) -> Problem:
            value = series[row]
            what = "negative value" if col.min == 0 and value < 0 else "out-of-range value"
            return Problem(f"{what} {shown(value)}; expected {expected}", row + 1, col.name, value)

        problems += _per_row(series.to_frame().select(outside).to_series(), outside_range)
    if col.type in ("date", "month", "timestamp"):
        problems += _check_plausible_date(col, series)
    if col.choices is not None:
        allowed = pl.Series(list(col.choices), dtype=POLARS_TYPES[col.type]).implode()
        choices = ", ".join(shown(c) for c in col.choices)
        problems += _per_row(
            series.is_not_null() & ~series.is_in(allowed),
            lambda row: Problem(
                f"{shown(series[row])} is not one of {choices}", row + 1, col.name, series[row]
            ),
        )
    return problems


EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
"""Dates outside these are placeholders (0001-01-01, 9999-12-31), not billing history."""


def _check_plausible_date(col: Column, series: pl.Series) -> list[Problem]:
    day = series.dt.date() if series.dtype == pl.Datetime else series
    outside = day.is_not_null() & ((day < EARLIEST) | (day > LATEST))
    hint = " (leave it empty for an open end)" if col.name.endswith("_end") else ""
    return _per_row(
        outside,
        lambda row: Problem(
            f"date {series[row]} is outside {EARLIEST} … {LATEST}, a placeholder rather than "
            f"a date{hint}",
            row + 1,
            col.name,
            series[row],
        ),
    )


def _check_ordered(spec: Table, columns: Callable[[str], pl.Series | None]) -> list[Problem]:
    """Pairs (earlier, later): later must be strictly after earlier where both are set
    (and parsed: a value that is not a date is its own problem, not this one's)."""
    problems: list[Problem] = []
    for earlier, later in spec.ordered:
        a, b = columns(earlier), columns(later)
        if a is None or b is None:
            continue

        def unordered(
            row: int, a: pl.Series = a, b: pl.Series = b, later: str = later, earlier: str = earlier
        ) -> Problem:
            kind = "an empty" if a[row] == b[row] else "a negative"
            return Problem(
                f"{later} {shown(b[row])} is not after {earlier} {shown(a[row])} "
                f"({kind} period); expected {later} > {earlier}",
                row=row + 1,
                column=later,
                value=b[row],
            )

        problems += _per_row(a.is_not_null() & b.is_not_null() & (b <= a), unordered)
    return problems


def _check_unique(spec: Table, typed: pl.DataFrame, failed: set[str], origin: str) -> list[Problem]:
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
    seen = row_label(origin, first)
    if len(keys) == 1:
        value = hit[keys[0]]
        message = f"duplicate {keys[0]} {shown(value)}, first seen in {seen}; it must be unique"
        return [Problem(message, row=row, column=keys[0], value=value)]
    value = tuple(hit[k] for k in keys)
    pairs = ", ".join(f"{k} {shown(hit[k])}" for k in keys)
    note = (
        " (months are compared by calendar month)"
        if any(spec.column(k) and spec.column(k).type == "month" for k in keys)  # type: ignore[union-attr]
        else ""
    )
    message = (
        f"duplicate key {pairs}, first seen in {seen}; ({', '.join(keys)}) must be unique{note}"
    )
    return [Problem(message, row=row, value=value)]


_INTERVAL = re.compile(r"^\s*(?:(\d+)\s*)?(week|month|quarter|year)(?:s|ly)?\s*$", re.IGNORECASE)


_INTERVAL_WORDS = {"annual": "1 year", "annually": "1 year"}
"""What ``_INTERVAL`` does not read (it reads weekly, monthly, quarterly, yearly)."""


def _billing_intervals(series: pl.Series) -> tuple[pl.Series, Problem | None]:
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
                f"{shown(value)} is not a billing interval; expected month, quarter, year or "
                "week, with an optional count (3 month, 2 week)"
            )
            return series, Problem(message, row=(row or 0) + 1, column=series.name, value=value)
    return series.replace_strict(mapping, default=None, return_dtype=pl.String), None


def _currency_codes(series: pl.Series) -> tuple[pl.Series, list[Problem]]:
    """Each currency code in capitals (``eur`` → ``EUR``), and the rows whose value is
    not an ISO 4217 code. Each distinct text is read once."""
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for value in series.drop_nulls().unique(maintain_order=True).to_list():
        code = currency.normalised(value)
        if code is None:
            unknown.append(value)
        else:
            mapping[value] = code

    def not_a_code(row: int) -> Problem:
        value = series[row]
        message = (
            f"{shown(value)} is not an ISO 4217 currency code; expected three letters "
            "such as USD, EUR or JPY"
        )
        return Problem(message, row + 1, series.name, value)

    problems = _per_row(series.is_in(unknown), not_a_code) if unknown else []
    return series.replace_strict(mapping, default=None, return_dtype=pl.String), problems


def _check_distinct(typed: pl.DataFrame, origin: str) -> list[Problem]:
    """The first row alike in every column to an earlier one, and that earlier row."""
    if typed.height < 2:
        return []
    row_index = _first_true(typed.select(~pl.struct(pl.all()).is_first_distinct()).to_series())
    if row_index is None:
        return []
    hit = typed.slice(row_index, 1)
    rows = typed.with_row_index("_row").join(hit, on=typed.columns, nulls_equal=True)
    first_index = int(rows["_row"].min())  # type: ignore[arg-type]
    seen = row_label(origin, first_index + 1)
    message = (
        f"repeats {seen} exactly; a line loaded twice would count twice "
        "(give two equal charges distinct line_id values)"
    )
    return [Problem(message, row=row_index + 1)]
