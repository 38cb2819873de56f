"""Money as a person reads it (custlens.format): the currency's sign and minor unit,
halves rounded away from zero."""

from __future__ import annotations

import pytest

from custlens.format import money, money_short


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [
        (1234.567, "USD", "$1,235"),  # whole units from 100 up
        (12.345, "EUR", "€12.35"),
        (2.675, "USD", "$2.68"),  # the float is 2.67499…; a person reads 2.675
        (0.125, "USD", "$0.13"),  # a half goes up, not to the even cent
        (-0.005, "USD", "-$0.01"),
        (-0.004, "USD", "$0.00"),  # never minus zero
        (12.5, "JPY", "¥13"),  # no minor unit
        (12.345, "BHD", "BHD 12.345"),  # three places; a code gets a space
        (None, "USD", "—"),
        (float("nan"), "USD", "—"),
    ],
)
def test_money(value: float | None, code: str, shown: str) -> None:
    assert money(value, code) == shown


def test_a_column_reads_one_way() -> None:
    assert money(0.0, "USD", whole=True) == "$0"
    assert money(300.0, "USD", whole=False) == "$300.00"


def test_short_money() -> None:
    assert money_short(143_210.0, "EUR") == "€143.2k"
    assert money_short(999_999.0) == "$1.0M"
    assert money_short(-2_500.0, "CHF") == "-CHF 2.5k"
