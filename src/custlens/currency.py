"""Currencies: ISO 4217 codes, their minor units and symbols (from Babel's copy of
the Unicode CLDR, so nothing here is typed in by hand).

A code is three letters in capitals (``EUR``); source files often write it in
small letters, which :func:`normalised` accepts. Minor units are the digits a
currency is written with: 2 for USD and EUR, 0 for JPY and KRW, 3 for BHD and KWD.
"""

from __future__ import annotations

from functools import cache

DEFAULT = "USD"
"""The reporting currency of a workspace whose data and settings name none."""


@cache
def codes() -> frozenset[str]:
    """Every ISO 4217 code, current and historic (``DEM`` in old billing data is real)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def normalised(code: str) -> str | None:
    """``code`` in capitals when it is an ISO 4217 code (``eur`` → ``EUR``), else None."""
    upper = code.strip().upper()
    return upper if upper in codes() else None


@cache
def minor_units(code: str) -> int:
    """Digits after the decimal point the currency is written with (JPY 0, EUR 2)."""
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(code))


@cache
def symbol(code: str) -> str:
    """The sign an English reader knows it by: ``$``, ``€``, ``¥``, ``R$``; the code
    itself where there is none (``CHF``)."""
    from babel.numbers import get_currency_symbol

    return str(get_currency_symbol(code, locale="en"))
