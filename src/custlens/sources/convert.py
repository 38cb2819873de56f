"""Converting a column to its contract type: (source dtype, contract type) → a Polars
expression for the typed value and a mask of the cells that failed to convert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from custlens.sources.contract import ColumnType

if TYPE_CHECKING:
    pass

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


@dataclass(frozen=True)
class Reading:
    """How a file writes its dates and numbers, when not as the contract does.

    ``date_format``: a strftime format for dates and timestamps written otherwise
    than ISO (``%d/%m/%Y`` day first, ``%m/%d/%Y`` month first); ISO is read too.
    ``decimal``: the decimal mark of amounts written for a person — with ``.``,
    ``$1,200.50``; with ``,``, ``1.200,50 €`` — currency symbols, spaces and the
    thousands separator are then dropped. None reads plain numbers only.
    """

    date_format: str | None = None
    decimal: str | None = None


PLAIN = Reading()

_Conversion = Callable[[pl.Expr], tuple[pl.Expr, pl.Expr]]
"""(source column) → (typed value, mask of the cells that failed to convert)."""


def as_text(e: pl.Expr) -> pl.Expr:
    stripped = e.str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype in (pl.Categorical, pl.Enum)


def cleaned(e: pl.Expr, target: ColumnType) -> pl.Expr:
    """Text as the parsers want it: stripped, blank as null, ISO 'T' and 'Z' made plain.

    Done once per column before parsing, because each parser tries several
    formats on the same text and Polars would redo the cleaning for each.
    """
    text = as_text(e.cast(pl.String))
    if target in ("date", "timestamp"):
        # 2024-03-01T10:00:00Z → 2024-03-01 10:00:00 (naive timestamps are UTC).
        text = text.str.replace("T", " ", literal=True, n=1).str.strip_suffix("Z")
    return text


def _failed(source: pl.Expr, value: pl.Expr) -> pl.Expr:
    """Bad where there was a value and the conversion lost it."""
    return source.is_not_null() & value.is_null()


def _parse_datetime(t: pl.Expr) -> pl.Expr:
    """Parse ISO-like timestamps (normalised by :func:`clean`), with an optional offset."""
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


def _parse_date(t: pl.Expr, date_format: str | None = None) -> pl.Expr:
    """A date, or a timestamp at midnight (some exports write dates that way); in
    ``date_format`` too when one is given."""
    stamp = _parse_datetime(t)
    midnight = pl.when(stamp.dt.time() == dt.time(0)).then(stamp.dt.date())
    given = [t.str.to_date(date_format, strict=False)] if date_format else []
    return pl.coalesce(*given, t.str.to_date("%Y-%m-%d", strict=False), midnight)


def _parse_datetime_as(t: pl.Expr, date_format: str | None) -> pl.Expr:
    """A timestamp, ISO or in ``date_format`` (with or without a time of day)."""
    if not date_format:
        return _parse_datetime(t)
    given = t.str.to_datetime(date_format, time_unit="us", strict=False)
    day = t.str.to_date(date_format, strict=False).cast(pl.Datetime("us"))
    return pl.coalesce(given, day, _parse_datetime(t))


def _amount(t: pl.Expr, decimal: str) -> pl.Expr:
    """An amount written for a person as a float: ``decimal`` is its decimal mark."""
    thousands = "," if decimal == "." else "."
    bare = t.str.replace_all(r"[\s\p{Sc}]", "").str.replace_all(thousands, "", literal=True)
    if decimal == ",":
        bare = bare.str.replace(",", ".", literal=True)
    return bare.cast(pl.Float64, strict=False)


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
    """Parse cleaned text (see :func:`clean`): a blank cell is already null, not a failure."""
    return _checked(parse)


def _to_month(t: pl.Expr) -> pl.Expr:
    padded = pl.when(t.str.contains(r"^\d{4}-\d{1,2}$")).then(t + "-01").otherwise(t)
    return _parse_date(padded).dt.month_start()


def _finite(f: pl.Expr) -> pl.Expr:
    return pl.when(f.is_finite()).then(f)


def conversion_for(
    dtype: pl.DataType, target: ColumnType, reading: Reading = PLAIN
) -> _Conversion | None:
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
        if text and reading.decimal:
            mark = reading.decimal
            return _parsed(lambda t: _finite(_amount(t, mark)))
        if text:
            return _parsed(lambda t: _finite(t.cast(pl.Float64, strict=False)))
        if numeric:
            return _checked(lambda e: _finite(e.cast(pl.Float64, strict=False)))
    elif target == "date":
        if text:
            return _parsed(lambda t: _parse_date(t, reading.date_format))
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
            return _parsed(lambda t: _parse_datetime_as(t, reading.date_format))
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
