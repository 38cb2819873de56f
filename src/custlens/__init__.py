"""custlens: customer and revenue analytics, written once in Ibis, run on DuckDB or Spark.

The public API::

    from custlens import Workspace
    ws = Workspace("acme")
    ws.run()
    ws.table("growth_summary")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custlens.errors import (
    AccessError,
    ConfigError,
    ContractError,
    CustlensError,
    NotFoundError,
    PipelineError,
    QueryError,
    QueryTimeout,
    ServerUnreachable,
    WarehouseError,
)
from custlens.version import __version__

if TYPE_CHECKING:
    from custlens.client import Client
    from custlens.workspace import Workspace


__all__ = [
    "AccessError",
    "Client",
    "ConfigError",
    "ContractError",
    "CustlensError",
    "NotFoundError",
    "PipelineError",
    "QueryError",
    "QueryTimeout",
    "ServerUnreachable",
    "WarehouseError",
    "Workspace",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # Workspace pulls in Ibis and Polars; importing it lazily keeps
    # `custlens --help` fast.
    if name == "Workspace":
        from custlens.workspace import Workspace

        return Workspace
    if name == "Client":
        from custlens.client import Client

        return Client
    raise AttributeError(f"module 'custlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy names too, so `dir(custlens)` and completion show Workspace and Client.
    return sorted({*globals(), *__all__})
