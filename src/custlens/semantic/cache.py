"""The result cache: answers shared between the compilers of a server's threads,
kept until the next run."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from custlens.semantic.plan import QueryResult

if TYPE_CHECKING:
    pass


class ResultCache:
    """Answers kept per (query, role, as-of date, row limit, run, model), shared between threads.

    Facts change only with a run, so an answer is reused until the next run; an
    answer that read a loaded source is not kept (a load changes it without a run).
    Least recently used answers go first; answers of many rows are not kept.
    """

    def __init__(self, size: int = 512, max_rows: int = 2_000) -> None:
        self.size = size
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[Any, ...], QueryResult] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> QueryResult | None:
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None:
                self._answers.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], result: QueryResult) -> None:
        if len(result.data) > self.max_rows:
            return
        with self._lock:
            self._answers[key] = result
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
