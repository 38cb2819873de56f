"""``clv_predictions``: probability alive, expected purchases and lifetime value per customer.

The repeat-purchase summary (:mod:`custlens.facts.clv_summary`) is aggregated
in the engine; the models are fitted on that one-row-per-customer table in
NumPy/SciPy (DESIGN.md §1), through the pipeline's
:meth:`~custlens.facts.registry.FactContext.materialise` hook. The fitted
parameters and log-likelihoods go into the run record (``_custlens_runs.notes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import polars as pl

from custlens.facts.clv_summary import summary
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir


@fact("clv_predictions", requires=("src_transactions",))
def build(ctx: FactContext) -> ir.Table:
    """Per customer: the BG/NBD (or Pareto/NBD) and Gamma-Gamma predictions of future value.

    One row per customer with a processed payment on or before the as-of date:
    frequency, recency, T, monetary_value (the summary, in
    ``analytics.clv.unit``), p_alive (probability the customer is still
    active at the as-of date), expected_purchases (over the next
    ``analytics.clv.horizon_months`` months), expected_avg_value (Gamma-Gamma
    expected spend per purchase) and clv (discounted at
    ``analytics.clv.discount`` a month). See :mod:`custlens.predict.clv`.

    Raises:
        ModelFitError: a model could not be fitted (too few repeat purchases).
    """
    from custlens.predict.clv import predict_frame

    settings = ctx.config.analytics.clv
    per_customer = ctx.materialise(
        summary(ctx["src_transactions"], ctx.as_of, unit=settings.unit, period=settings.period)
    )
    frame, fitted = predict_frame(
        per_customer.sort("customer_id"),
        model=settings.model,
        unit=settings.unit,
        horizon_months=settings.horizon_months,
        discount=settings.discount,
        starts=settings.starts,
        penalizer=settings.penalizer,
    )
    ctx.notes.update(
        fitted.record(
            unit=settings.unit,
            period=settings.period,
            horizon_months=settings.horizon_months,
            discount=settings.discount,
            penalizer=settings.penalizer,
        )
    )
    # A prediction the model cannot make (its series overflow for a customer far out of
    # the fitted range) is unknown: null on every engine, where NaN would pass through
    # one engine's Arrow reader and become null in another's.
    frame = frame.with_columns(pl.col(pl.Float64).fill_nan(None))
    return ibis.memtable(frame)
