"""The calendar's Python helpers, against dates worked out on a wall calendar."""

from __future__ import annotations

from datetime import date

import pytest

from custlens.calendar import as_of_month, index_of, month_end, month_end_of, period_start, shift


def test_month_ends() -> None:
    assert month_end(date(2024, 2, 10)) == date(2024, 2, 29)  # leap year
    assert month_end(date(2023, 2, 1)) == date(2023, 2, 28)
    assert month_end(date(2024, 12, 31)) == date(2024, 12, 31)
    assert month_end_of(index_of(date(2025, 11, 3))) == date(2025, 11, 30)


@pytest.mark.parametrize(
    ("day", "unit", "count", "expected"),
    [
        (date(2024, 1, 31), "month", 1, date(2024, 2, 29)),  # clamped to the month's end
        (date(2024, 3, 31), "quarter", -1, date(2023, 12, 31)),
        (date(2024, 2, 29), "year", 1, date(2025, 2, 28)),
        (date(2024, 12, 15), "month", 1, date(2025, 1, 15)),
        (date(2024, 1, 1), "week", -1, date(2023, 12, 25)),
        (date(2024, 3, 1), "day", -1, date(2024, 2, 29)),
    ],
)
def test_shift(day: date, unit: str, count: int, expected: date) -> None:
    assert shift(day, unit, count) == expected


def test_period_starts() -> None:
    day = date(2024, 5, 15)  # a Wednesday
    assert [period_start(day, u) for u in ("day", "week", "month", "quarter", "year")] == [
        day,
        date(2024, 5, 13),
        date(2024, 5, 1),
        date(2024, 4, 1),
        date(2024, 1, 1),
    ]


def test_the_as_of_rule_takes_the_first_given_and_asks_the_data_last() -> None:
    asked: list[bool] = []

    def data() -> date:
        asked.append(True)
        return date(2023, 7, 19)

    run, configured = date(2024, 5, 31), date(2024, 1, 1)
    assert as_of_month(date(2024, 9, 30), run, configured, data) == date(2024, 9, 1)
    assert as_of_month(None, run, configured, data) == date(2024, 5, 1)
    assert as_of_month(None, None, configured, data) == date(2024, 1, 1)
    assert asked == []
    assert as_of_month(None, None, None, data) == date(2023, 7, 1)
    assert as_of_month() is None
