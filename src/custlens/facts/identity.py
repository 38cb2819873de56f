"""Identity resolution: ``customer_identity`` (record → customer) and ``dim_customers``.

Customer records arrive from several source systems (``source_system`` of
``customers``: billing, crm, support, …) under different ids. Two records are
the same customer when they share a match key, and sameness is transitive
(a–b share an email, b–c a phone → a, b and c are one customer): the
customers are the connected components of the graph of records and keys.

Match keys, each normalised so that formatting does not hide a match:

- ``email``: lower-cased and trimmed; the whole address must be equal.
- ``phone``: digits only; the last 10 digits are compared, so a country code
  written in one system and left out in another still matches
  (``+1 (555) 123-4567`` = ``5551234567``); fewer than 7 digits is no phone.
- ``domain``: the ``domain`` column, lower-cased and trimmed, a leading
  ``www.`` dropped; and the domain part of the email. A free-mail domain
  (``analytics.identity.free_mail_domains``: gmail.com, yahoo.com, …) is never
  a key: two people with gmail addresses are not one company.

Components are found in the engine by min-label propagation over the
(record, key) edges, so they run on Spark as on DuckDB: each record starts
with its own label, each round gives every key the smallest label of its
records and every record the smallest label of its keys, until a round
changes nothing. Only keys shared by two or more records take part (a key of
one record links nothing), so the rounds run over a small table. The rounds
are unrolled into Ibis expressions; after rounds 1, 2, 4, 8, … a scalar
query asks whether the last round changed any label, and the labels so far
are cached in the engine (``Table.cache``) so the next rounds start there.
This is the one fact that reads a value back while it is being built (to
know when to stop); it stops with an error naming
``analytics.identity.max_iterations`` if the cap is reached first.

The resolved id of a customer is the id of its record in the primary system
(``analytics.identity.primary_system``, default ``billing``): subscription
lines, transactions and the revenue facts are keyed by billing ids, so they
need no re-keying. With several primary records (or none) it is the
smallest id among them (or among all the records). Labels are
``<0 primary | 1 other><id>`` strings, so "smallest label" implements that rule.

Revenue: only billing records carry subscription lines and payments in the
data custlens expects (a CRM or support record is a view of the same
company, not a second account), so ``customer_mrr``, ``mrr_movements`` and
``growth_summary`` stay keyed by the source id. The facts about customers
(``segment_summary``, ``churn_features``, ``health_scores``,
``journey_funnel``, the profile) map every source id through
``customer_identity`` with :func:`resolve_ids` and so count a customer once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from custlens.errors import PipelineError
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir

ATTRIBUTES = (
    "name",
    "segment",
    "industry",
    "region",
    "plan",
    "acquisition_channel",
    "email",
    "phone",
    "domain",
)
"""Customer attributes taken from the most recent record that has them."""

MIN_PHONE_DIGITS = 7
PHONE_DIGITS = 10


def column(table: ir.Table, name: str, type_: str = "string") -> ir.Value:
    """``table[name]``, or a typed null when the source left the column out."""
    return table[name] if name in table.columns else ibis.null(type_)


def normalised_email(email: ir.StringValue) -> ir.StringValue:
    """Lower-cased, trimmed; null when empty or without an ``@``."""
    e = email.strip().lower()
    return ibis.ifelse(e.contains("@"), e, ibis.null("string"))


def normalised_phone(phone: ir.StringValue) -> ir.StringValue:
    """Digits only, the last 10 of them; null with fewer than 7 digits."""
    return _phone_key(phone.re_replace(r"[^0-9]", ""))


def _phone_key(digits: ir.StringValue) -> ir.StringValue:
    enough = digits.length() >= MIN_PHONE_DIGITS
    return ibis.ifelse(enough, digits.right(PHONE_DIGITS), ibis.null("string"))


def normalised_domain(domain: ir.StringValue) -> ir.StringValue:
    """Lower-cased, trimmed, without a leading ``www.``; null when empty."""
    d = domain.strip().lower()
    d = ibis.ifelse(d.startswith("www."), d.substr(4), d)
    return d.nullif("")


def match_keys(ctx: FactContext, customers: ir.Table) -> ir.Table:
    """(customer_id, key) for every non-null match key of every record.

    Keys carry their kind as a prefix (``e:``, ``p:``, ``d:``) so that an email
    never equals a domain by accident.
    """
    free = ctx.config.analytics.identity.free_mail_domains
    # Normalise once in a projection; the keys below read its columns.
    norm = customers.select(
        "customer_id",
        email=normalised_email(column(customers, "email")),
        digits=column(customers, "phone").re_replace(r"[^0-9]", ""),
        domain=normalised_domain(column(customers, "domain")),
    )
    email, phone, domain = norm.email, _phone_key(norm.digits), norm.domain
    email_domain = normalised_domain(email.split("@")[1])
    customers = norm

    def keyed(prefix: str, value: ir.StringValue) -> ir.Table:
        t = customers.select("customer_id", value=value)
        t = t.filter(t.value.notnull())
        if prefix == "d:" and free:
            t = t.filter(~t.value.isin(free))
        return t.select("customer_id", key=ibis.literal(prefix) + t.value)

    return ibis.union(
        keyed("e:", email),
        keyed("p:", phone),
        keyed("d:", domain),
        keyed("d:", email_domain),
        distinct=True,
    )


def _round(edges: ir.Table) -> ir.Table:
    """One propagation round over (customer_id, key, label); adds ``changed``."""
    by_key = edges.mutate(previous=edges.label, key_label=edges.label.min().over(group_by="key"))
    return by_key.select(
        "customer_id",
        "key",
        label=by_key.key_label.min().over(group_by="customer_id"),
        changed=by_key.key_label.min().over(group_by="customer_id") != by_key.previous,
    )


def components(ctx: FactContext, customers: ir.Table, label: ir.StringValue) -> ir.Table:
    """(customer_id, component): the smallest ``label`` of each record's connected component.

    Records with no shared key are left out (each is a component of its own).

    Raises:
        PipelineError: labels still change after ``analytics.identity.max_iterations`` rounds.
    """
    cap = ctx.config.analytics.identity.max_iterations
    keys = match_keys(ctx, customers)
    shared = keys.group_by("key").aggregate(records=keys.customer_id.nunique())
    shared = shared.filter(shared.records > 1).select("key")
    labelled = customers.select("customer_id", label=label)
    edges = keys.semi_join(shared, "key").join(labelled, "customer_id")
    # Cached (a temporary table of the engine, dropped when the expression is released):
    # each convergence check then resumes from the last checkpoint instead of
    # recomputing the keys and every earlier round.
    edges = edges.select("customer_id", "key", "label").cache()
    check, rounds = 1, 0
    while True:
        edges = _round(edges)
        rounds += 1
        if rounds in (check, cap):
            changed = edges.changed.any().fill_null(False).name("changed").as_table()
            if not ctx.materialise(changed).item():
                break
            if rounds == cap:
                raise PipelineError(
                    f"identity resolution did not settle within {cap} rounds; raise "
                    "analytics.identity.max_iterations"
                )
            check *= 2
            edges = edges.drop("changed").cache()
            continue
        edges = edges.drop("changed")
    return edges.group_by("customer_id").aggregate(component=edges.label.min())


@fact("customer_identity", requires=("src_customers",))
def build_identity(ctx: FactContext) -> ir.Table:
    """Every source customer record and the resolved customer it belongs to.

    Columns: source_customer_id, source_system, customer_id (the resolved id),
    is_primary (this record's id is the resolved id), records (records of the
    resolved customer). One row per ``src_customers`` record.
    """
    customers = ctx["src_customers"]
    primary = ctx.config.analytics.identity.primary_system
    system = column(customers, "source_system")
    own = ibis.ifelse(system.fill_null("") == primary, "0", "1") + customers.customer_id
    found = components(ctx, customers, own)
    records = customers.select("customer_id", source_system=system, own=own)
    joined = records.left_join(found, "customer_id")
    label = joined.component.fill_null(joined.own)
    mapped = joined.select(
        source_customer_id=joined.customer_id,
        source_system=joined.source_system,
        customer_id=label.substr(1),
    )
    return mapped.mutate(
        is_primary=mapped.source_customer_id == mapped.customer_id,
        records=mapped.count().over(group_by="customer_id").cast("int64"),
    )


def resolve_ids(ctx: FactContext, table: ir.Table) -> ir.Table:
    """``table`` with each ``customer_id`` replaced by its resolved customer's id.

    Ids that are not customer records (or any id, before ``customer_identity``
    exists) are kept as they are. Rows are not merged: aggregate afterwards.
    """
    if not ctx.has("customer_identity"):
        return table
    identity = ctx["customer_identity"].select(
        _source_id="source_customer_id", _resolved="customer_id"
    )
    joined = table.left_join(identity, table.customer_id == identity._source_id)
    return joined.mutate(customer_id=joined._resolved.fill_null(joined.customer_id)).drop(
        "_source_id", "_resolved"
    )


def _when_known(value: ir.Value, key: ir.IntegerValue) -> ir.IntegerValue:
    """``key`` where ``value`` is not null: arg_min then skips records without a value."""
    return ibis.ifelse(value.notnull(), key, ibis.null("int64"))


@fact("dim_customers", requires=("src_customers", "customer_identity"))
def build_dim(ctx: FactContext) -> ir.Table:
    """One row per resolved customer with its merged attributes.

    - customer_id: the resolved id (see the module docstring).
    - name, segment, industry, region, plan, acquisition_channel, email,
      phone, domain: from the most recent record that has a value for it
      ("most recent": latest signup_date; on a tie the primary-system record,
      then the smaller source id). A record that leaves a field empty does
      not erase what an older record knows.
    - signup_date: the earliest of the records (the customer existed since then).
    - source_systems: the distinct source systems, sorted, joined by ", ";
      source_records: how many records were merged.
    """
    customers = ctx["src_customers"]
    identity = ctx["customer_identity"]
    records = customers.select(
        source_customer_id=customers.customer_id,
        signup_date=column(customers, "signup_date", "date"),
        **{a: column(customers, a).cast("string") for a in ATTRIBUTES},
    ).join(identity, "source_customer_id")
    recency = ibis.window(
        group_by="customer_id",
        order_by=[
            records.signup_date.fill_null(ibis.date(1, 1, 1)).desc(),
            records.is_primary.desc(),
            records.source_customer_id,
        ],
    )
    ranked = records.mutate(recency=ibis.row_number().over(recency))
    systems = ranked.source_system.fill_null("unknown")
    merged = ranked.group_by("customer_id").aggregate(
        **{a: ranked[a].argmin(_when_known(ranked[a], ranked.recency)) for a in ATTRIBUTES},
        signup_date=ranked.signup_date.min(),
        source_systems=systems.collect(distinct=True).sort().join(", "),
        source_records=ranked.count().cast("int64"),
    )
    return merged.select(
        "customer_id",
        *ATTRIBUTES[:6],
        "signup_date",
        *ATTRIBUTES[6:],
        "source_systems",
        "source_records",
    )
