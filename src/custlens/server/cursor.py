"""Cursors for long answers: the next page of a query, from the same run's facts.

A query with a ``limit`` is a page; when more rows follow, the answer carries
``next_cursor``, and the same query sent again with ``"cursor": …`` answers the next
page. Answers are in a total order (the query's ``order_by``, then time, then every
key: custlens.semantic), and facts change only with a run, so a page is an offset
into one run's answer. The cursor names the query (a digest), the offset and the run;
asked after another run, or with another query, it is refused instead of answering
rows that skip or repeat. It is not a secret: a role can only page through what it
may query anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from custlens.errors import QueryError


class StaleCursor(QueryError):
    """A cursor from before the latest run: its pages would skip or repeat rows."""

    status = 409


@dataclass(frozen=True)
class Cursor:
    query: str
    """Digest of the query, its ``offset`` and ``cursor`` left out."""
    offset: int
    run_id: str

    def encode(self) -> str:
        text = json.dumps({"q": self.query, "o": self.offset, "r": self.run_id})
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def digest(spec: dict[str, Any]) -> str:
    """The query ``spec`` (a JSON query) without its ``offset`` and ``cursor``, digested."""
    rest = {k: v for k, v in spec.items() if k not in ("offset", "cursor")}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:24]


def decode(text: object, spec: dict[str, Any]) -> Cursor:
    """The cursor ``text`` sent with the query ``spec``.

    Raises:
        QueryError: not a cursor this server made, or made for another query.
    """
    try:
        if not isinstance(text, str):
            raise ValueError
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        cursor = Cursor(str(raw["q"]), int(raw["o"]), str(raw["r"]))
        if cursor.offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise QueryError(
            "cursor: not a cursor from this server (send back next_cursor as it came)"
        ) from None
    if cursor.query != digest(spec):
        raise QueryError(
            "cursor: it was made for another query; send it with the query it came with"
        )
    return cursor
