"""Errors raised by custlens.

Every error a user can cause derives from one root, so the CLI and the
server can tell a user's mistake from a bug::

    CustlensError                     anything custlens reports to a person
    ├── ConfigError(ValueError)       custlens.yml is missing, malformed or has a bad key
    ├── ContractError(ValueError)     a source does not meet the data contract
    ├── WarehouseError(RuntimeError)  the warehouse cannot be reached or written
    ├── PipelineError(RuntimeError)   a fact failed while a run was in progress
    │   └── ModelFitError             a customer-value model could not be fitted
    ├── NotFoundError(LookupError)    a table, fact or customer that does not exist
    ├── QueryError(ValueError)        a semantic query names a bad member, operator or value
    │   └── QueryTimeout              the query ran past the configured limit
    └── AccessError(PermissionError)  no valid API key (401), or the role may not (403)

Each carries a ``status`` (an HTTP status code) for the server.

Warnings (``warnings.warn``; the CLI prints ``warning: …``)::

    ContractWarning(UserWarning)      a source loaded, with something worth a look
"""

from __future__ import annotations


class CustlensError(Exception):
    """Root of every error custlens reports to a person."""

    status: int = 400


class ConfigError(CustlensError, ValueError):
    """custlens.yml (or another config file) is missing, malformed or has a bad key."""


class ContractWarning(UserWarning):
    """A source loaded, but with something a person should look at (an extra column)."""


class ContractError(CustlensError, ValueError):
    """A source does not meet the data contract; nothing was loaded.

    The message names the file, the row, the column and the offending value.
    """

    def __init__(
        self,
        message: str,
        *,
        origin: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.origin = origin
        self.row = row
        self.column = column
        self.value = value
        where = ", ".join(
            part
            for part in (
                origin,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class WarehouseError(CustlensError, RuntimeError):
    """The warehouse cannot be reached, read or written."""

    status = 503


class ServerUnreachable(CustlensError, ConnectionError):
    """:class:`custlens.Client` cannot reach the server (refused, unknown host, timeout);
    the message names the URL."""

    status = 503


class PipelineError(CustlensError, RuntimeError):
    """A fact failed during a run; the previous facts are still in place."""

    status = 500


class ModelFitError(PipelineError):
    """A predictive model (BG/NBD, Pareto/NBD, Gamma-Gamma) could not be fitted.

    The message says why: too few customers with repeat purchases, or the
    optimiser's reason and where it stopped.
    """

    status = 422


class NotFoundError(CustlensError, LookupError):
    """A table, fact or customer that does not exist."""

    status = 404


class QueryError(CustlensError, ValueError):
    """A semantic-layer query names a bad member, operator or value.

    The message names the offending field, so a caller can fix the query.
    """


class QueryTimeout(QueryError):
    """A query ran longer than ``server.query_timeout_seconds``."""

    status = 504


class AccessError(CustlensError, PermissionError):
    """No valid API key (401), or the key's role may not do this (403)."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def first_line(exc: BaseException) -> str:
    """An engine's error message without what follows its first line (a Java stack)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
