"""Referential checks across sources: every subscription line and transaction names a
customer that ``customers`` holds.

Checked when a load brings lines or transactions and customers are known — loaded
in the same call, or loaded before. A workspace that has never loaded customers
(MRR from lines alone) is not checked: there is nothing to check against.

A line or transaction naming an unknown customer is an error naming the file, the
row and the id, with how many rows name unknown customers; with
``create_missing_customers`` the unknown ids are added to ``customers`` with no
attribute but their id, and a warning counts them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import polars as pl

from custlens.errors import ContractError, ContractWarning
from custlens.sources.problems import Problem, contract_error, shown

REFERENCING = ("subscription_lines", "transactions")
"""The tables whose customer_id must be in customers."""


def check_customers(
    typed: dict[str, pl.DataFrame],
    origins: dict[str, str],
    existing: Callable[[], pl.DataFrame | None],
    *,
    create_missing: bool = False,
) -> list[ContractError]:
    """Errors for rows of ``typed`` naming customers not in customers (none when
    ``create_missing``: ``typed["customers"]`` then gains the missing ids).

    Args:
        typed: the validated frames of this load, by table; updated in place.
        origins: how errors name each table's source.
        existing: the customers loaded before (None if none), read only when needed.
    """
    referencing = [t for t in REFERENCING if t in typed]
    if not referencing:
        return []
    customers = typed.get("customers")
    if customers is None:
        customers = existing()
        if customers is None:
            return []
    known = customers.get_column("customer_id").unique().implode()
    errors: list[ContractError] = []
    missing_ids: list[pl.Series] = []
    for table in referencing:
        ids = typed[table].get_column("customer_id")
        unknown = ~ids.is_in(known)
        count = int(unknown.sum())
        if count == 0:
            continue
        missing_ids.append(ids.filter(unknown))
        if create_missing:
            continue
        row = int(unknown.arg_true()[0])
        distinct = ids.filter(unknown).n_unique()
        errors.append(
            contract_error(
                origins[table],
                [
                    Problem(
                        f"customer {shown(ids[row])} is not in customers ({count:,} "
                        f"row{'s' if count > 1 else ''} name {distinct:,} unknown "
                        f"customer{'s' if distinct > 1 else ''}); load them in customers, "
                        "or load with --create-missing-customers",
                        row=row + 1,
                        column="customer_id",
                        value=ids[row],
                    )
                ],
            )
        )
    if create_missing and missing_ids:
        new = pl.concat(missing_ids).unique(maintain_order=True)
        rows = pl.DataFrame({"customer_id": new}).join(
            customers.clear(), on="customer_id", how="left"
        )
        typed["customers"] = pl.concat([customers, rows.select(customers.columns)])
        warnings.warn(
            f"{new.len():,} customer id{'s' if new.len() > 1 else ''} of "
            f"{' and '.join(t for t in referencing)} {'are' if new.len() > 1 else 'is'} not in "
            "customers: added to customers with no attribute but the id",
            ContractWarning,
            stacklevel=3,
        )
    return errors
