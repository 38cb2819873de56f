"""The workspace as one role may see it: its customers' rows only, PII masked.

A role's row filter (``roles.<name>.filters`` in ``custlens.yml``) names the
customers it may see, through the semantic layer (``customers.customer_id``
under the filter). :class:`RoleView` reads the latest facts through that
filter, for the dashboard a role is served:

- a table keyed by customer (it has ``customer_id``) keeps the rows of those
  customers — by any of their ids, resolved or source-system;
- a fact that aggregates over customers (``growth_summary``,
  ``customer_count``, ``cohort_retention``…) is computed again, in the
  warehouse, from the filtered tables with its own definition — never shown
  for the whole company;
- every other table (company-wide marketing spend, rollups) is left out, so
  a fact that needs it is absent, as it would be in a workspace without it.

Scores computed against the whole population (RFM quintiles, health bands,
model fits) keep the values the run gave them: a customer's score does not
change with who looks at it.

For a role that is not privileged, every column that the semantic model marks
``meta.pii`` is masked as in query answers (a salted SHA-256 digest).
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from custlens.config import Config
from custlens.errors import NotFoundError
from custlens.sources.contract import SOURCE_PREFIX

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from custlens.facts.registry import FactContext
    from custlens.semantic.access import Role
    from custlens.semantic.model import SemanticModel
    from custlens.views import AtRiskBy
    from custlens.warehouse import Warehouse
    from custlens.workspace import Workspace


def pii_columns(model: SemanticModel) -> frozenset[str]:
    """The columns that hold a dimension marked ``meta.pii`` in any cube."""
    return frozenset(
        d.expression
        for cube in model.cubes.values()
        for d in cube.dimensions
        if d.meta.pii and d.expression.isidentifier()
    )


class RoleView:
    """Read-only access to a workspace's latest tables under a role (see the module).

    It answers what the dashboard asks of a workspace: :meth:`tables`,
    :meth:`table`, :meth:`runs`, ``path`` and ``config``.
    """

    def __init__(self, ws: Workspace, role: Role) -> None:
        self.path: Path = ws.path
        self.config: Config = ws.config
        self.role = role
        self._ws = ws
        self._mask = frozenset() if role.privileged else pii_columns(ws.semantic_model)

    @cached_property
    def _tables(self) -> dict[str, ir.Table]:
        from custlens.facts.registry import FactContext, ordered

        if self._ws.last_run_as_of() is None:
            return {}  # nothing run yet: every section says which fact it needs
        context = self._ws.context()
        stored = {n: t for n, t in context.tables.items() if not n.startswith("_")}
        if not self.role.filters:
            return stored
        ids = self._customer_ids(stored)
        scoped = {
            name: table.filter(table.customer_id.isin(ids))
            for name, table in stored.items()
            if "customer_id" in table.columns
        }
        # Aggregates over customers, in dependency order so one can read another.
        for fact in ordered():
            if fact.name not in stored or fact.name in scoped or fact.missing(scoped):
                continue
            inputs = {n: scoped[n] for n in fact.inputs if n in scoped}
            scoped[fact.name] = fact.build(FactContext(inputs, context.as_of, self.config))
        return scoped

    def _customer_ids(self, stored: dict[str, ir.Table]) -> ir.Column:
        """Every id of a visible customer: its resolved id and its source-system ids."""
        visible = self._ws.visible_customers(self.role)
        identity = stored.get("customer_identity")
        if identity is None:
            return visible.customer_id
        records = identity.filter(identity.customer_id.isin(visible.customer_id))
        return records.select(customer_id=records.source_customer_id).union(visible).customer_id

    def currency(self) -> str:
        """The workspace's reporting currency (:meth:`Workspace.currency`)."""
        return self._ws.currency()

    def tables(self) -> list[str]:
        """The tables this role may read (facts and ``src_…`` sources)."""
        return sorted(self._tables)

    def table(self, name: str) -> pl.DataFrame:
        """A table's rows as this role may see them (by its name or its contract name).

        Raises:
            NotFoundError: the table is absent, or has no rows a role could be shown.
        """
        for candidate in (name, SOURCE_PREFIX + name):
            if candidate in self._tables:
                frame = self._ws.warehouse.to_polars(self._tables[candidate])
                break
        else:
            raise NotFoundError(f"no table {name!r} for role {self.role.name!r}")
        sort = [c for c in ("month", "value_type_id", "customer_id") if c in frame.columns]
        frame = frame.sort(sort) if sort else frame
        masked = [c for c in frame.columns if c in self._mask]
        if masked:
            from custlens.semantic.access import mask_frame

            frame = mask_frame(frame, masked, self.role.salt)
        return frame

    @property
    def warehouse(self) -> Warehouse:
        return self._ws.warehouse

    def run_as_of(self) -> date:
        return self._ws.run_as_of()

    def context(self) -> FactContext:
        """The role's tables as the input of an ad hoc fact (a segment breakdown)."""
        from custlens.facts.registry import FactContext

        return FactContext(
            self._tables, self._ws.run_as_of(), self.config, collect=self._ws.warehouse.to_polars
        )

    def at_risk(self, by: AtRiskBy = "overdue", top: int = 10) -> pl.DataFrame:
        """The top at-risk customers this role may see (:func:`custlens.views.at_risk`)."""
        from custlens import views

        return views.at_risk(self, by=by, top=top)

    def runs(self) -> pl.DataFrame:
        """The run log's dates and ids (its notes and row counts describe the whole
        company, so they are left out)."""
        runs = self._ws.runs()
        keep = [c for c in ("run_id", "status", "as_of", "started_at", "finished_at")]
        return runs.select(c for c in keep if c in runs.columns)


def as_role(ws: Workspace, role: Role | None) -> Workspace | RoleView:
    """``ws`` itself when ``role`` may see everything (None, or privileged with no row
    filter), else the :class:`RoleView` of it."""
    if role is None or (role.privileged and not role.filters):
        return ws
    return RoleView(ws, role)


def profile_as(
    ws: Workspace, found: dict[str, Any], customer_id: str, role: Role
) -> dict[str, Any]:
    """The Customer 360 ``found`` for ``customer_id`` as ``role`` may see it: not found
    when the row filter hides the customer (not "forbidden", which would tell that it
    exists), and PII masked unless the role is privileged.

    Raises:
        NotFoundError: not a customer the role may see.
    """
    from custlens.profile import mask_pii
    from custlens.semantic.access import mask

    if role.filters:
        visible = ws.run_query(
            {
                "dimensions": ["customers.customer_id"],
                "filters": [
                    {
                        "member": "customers.customer_id",
                        "operator": "equals",
                        "value": found["customer_id"],
                    }
                ],
            },
            role=role,
        )
        if not visible.data:
            raise NotFoundError(f"no customer {customer_id!r}")
    if role.privileged:
        return found
    return mask_pii(found, lambda value: mask(value, role.salt) or "")
