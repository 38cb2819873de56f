"""custlens.__all__ is sorted and every name in it exists."""

from __future__ import annotations

import custlens


def test_all_is_sorted_and_importable():
    assert custlens.__all__ == sorted(custlens.__all__)
    for name in custlens.__all__:
        assert getattr(custlens, name) is not None, name
