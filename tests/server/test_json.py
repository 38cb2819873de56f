"""The query route encodes its answer itself: the JSON must be what FastAPI would send."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from fastapi.encoders import jsonable_encoder

from custlens.server.app import json_bytes


def test_the_answer_encodes_as_fastapi_would():
    body = {
        "data": [
            {"m": date(2024, 1, 1), "at": datetime(2024, 1, 2, 3, 4, 5), "v": 1.5, "n": None},
            {"m": date(2024, 2, 1), "at": datetime(2024, 2, 1), "v": Decimal("2.25"), "s": "é"},
        ],
        "truncated": False,
    }
    assert json.loads(json_bytes(body)) == jsonable_encoder(body)


def test_nan_is_refused_not_sent():
    with pytest.raises(ValueError):
        json_bytes({"v": float("nan")})
