"""Numbers formatted for a person: currency, percentages, counts, ratios."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from custlens.currency import DEFAULT, minor_units, symbol

if TYPE_CHECKING:
    import polars as pl


def round_money(frame: pl.DataFrame, columns: list[str], code: str = DEFAULT) -> pl.DataFrame:
    """``frame`` with its float ``columns`` rounded to the minor unit of currency ``code``
    (the cent; the yen).

    Rounded to 9 places first: two plans of one query (a rollup, the cube) may sum in
    another order and differ in the last bits, and 551.575 must not become 551.57 one
    way and 551.58 the other.
    """
    import polars as pl

    floats = [c for c in columns if c in frame.columns and frame.schema[c].is_float()]
    if not floats:
        return frame
    return frame.with_columns(pl.col(floats).round(9).round(minor_units(code)))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def money(value: float | None, code: str = DEFAULT, *, whole: bool | None = None) -> str:
    """$1,234,567, €1,234.50, ¥1,235 in currency ``code``: whole units from 100 up, the
    minor unit below (``whole`` decides instead, so a column reads one way; a currency
    without a minor unit is always whole); — for a missing value."""
    if _missing(value):
        return "—"
    assert value is not None
    amount = abs(value)
    if whole is None:
        whole = amount >= 100
    digits = 0 if whole else minor_units(code)
    # Halves away from zero, as a person (and the engines' round) rounds money, from
    # the float's shortest decimal: 2.675 is $2.68 and ¥12.5 is ¥13, where Python's
    # own formatting gives $2.67 (the binary 2.67499…) and ¥12 (halves to even).
    rounded = Decimal(repr(amount)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    sign = "-" if value < 0 and rounded else ""  # never -$0.00
    return f"{sign}{currency_prefix(code)}{rounded:,.{digits}f}"


def currency_prefix(code: str) -> str:
    """The currency's sign before an amount: ``$``, ``€``; a code such as CHF with a space."""
    sign = symbol(code)
    return f"{sign} " if sign.isalpha() else sign


def whole_money(values: list[float | None]) -> bool:
    """Whether a column of amounts reads in whole units: when any reaches 100, all do
    ($0 beside $300, never $0.00 beside $300)."""
    return any(not _missing(v) and abs(v) >= 100 for v in values)  # type: ignore[arg-type]


def money_short(value: float | None, code: str = DEFAULT) -> str:
    """$143.2k, €1.5M, $2.0B where a column is short of space; as :func:`money` under
    1,000; — for a missing value."""
    if _missing(value):
        return "—"
    assert value is not None
    amount = abs(value)
    if amount < 1000:
        return money(value, code)
    sign = "-" if value < 0 else ""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= scale * 0.99995:  # $999,999 is $1.0M, not $1000.0k
            return f"{sign}{currency_prefix(code)}{amount / scale:,.1f}{suffix}"
    raise AssertionError("unreachable")  # pragma: no cover


def percent(value: float | None, digits: int = 1) -> str:
    """0.9634 → 96.3 %; — for a missing value."""
    if _missing(value):
        return "—"
    assert value is not None
    return f"{value * 100:.{digits}f} %"


def number(value: float | None) -> str:
    """1234 → 1,234; — for a missing value."""
    if _missing(value):
        return "—"
    assert value is not None
    return f"{value:,.0f}"


def ratio(value: float | None) -> str:
    """2.456 → 2.46×; — for a missing value."""
    if _missing(value):
        return "—"
    assert value is not None
    return f"{value:.2f}×"


def decimal_mark(locale: str) -> str:
    """The decimal mark a locale writes amounts with: ``de_DE`` → ``,``, ``en-US`` → ``.``.

    Raises:
        ValueError: not a locale, or one whose mark is neither ``.`` nor ``,``.
    """
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_decimal_symbol

    try:
        parsed = Locale.parse(locale.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{locale!r} is not a locale; e.g. en_US, de_DE, fr_FR, pt_BR") from None
    mark = str(get_decimal_symbol(parsed))
    if mark not in (".", ","):
        raise ValueError(f"{locale} writes decimals with {mark!r}; custlens reads '.' or ','")
    return mark
