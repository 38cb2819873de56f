"""``churn_propensity``: each paying customer's probability of churning within the horizon.

A logistic model (:mod:`custlens.predict.churn`) trained on
``churn_features`` computed at past month ends, each labelled from
``customer_mrr`` by whether the customer's MRR fell to 0 within
``analytics.churn_model.horizon_months`` after it. The training set is
aggregated in the engine and read through the pipeline's
:meth:`~custlens.facts.registry.FactContext.materialise` hook (DESIGN.md §1);
the coefficients, the training dates and the out-of-time backtest (ROC AUC,
calibration by decile) go into the run record (``_custlens_runs.notes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis

from custlens.facts.churn_features import _PARTS
from custlens.facts.registry import FactContext, fact

if TYPE_CHECKING:
    import ibis.expr.types as ir


@fact(
    "churn_propensity",
    requires=("src_customers", "customer_mrr", "churn_features"),
    optional=(*_PARTS, "customer_identity", "dim_customers"),
)
def build(ctx: FactContext) -> ir.Table:
    """Per customer paying at the as-of date: the modelled probability of churn within the horizon.

    Columns: customer_id, churn_probability (0 … 1), model (``logistic``),
    trained_through (the latest training date; its labels run to the as-of
    date).

    Raises:
        ModelFitError: too little history for a training set, or only one class.
    """
    import polars as pl

    from custlens.errors import ModelFitError
    from custlens.predict import churn

    settings = ctx.config.analytics.churn_model
    dates = churn.training_dates(ctx.as_of, settings.horizon_months, settings.training_months)
    frame = ctx.materialise(churn.training_set(ctx, dates, settings.horizon_months))
    frame = frame.sort("as_of", "customer_id")
    fitted = churn.fit(frame, settings.model)
    current = ctx.materialise(churn.prediction_set(ctx)).sort("customer_id")
    notes: dict[str, Any] = {
        "model": settings.model,
        "horizon_months": settings.horizon_months,
        "training_dates": [dates[0].isoformat(), dates[-1].isoformat()],
        "training_rows": fitted.rows,
        "churn_rate": round(fitted.churn_rate, 6),
        "features": fitted.features,
        "coefficients": fitted.coefficients(),
    }
    try:
        notes["backtest"] = churn.backtest(
            frame, settings.horizon_months, settings.test_months, settings.model
        ).record()
    except ModelFitError as exc:
        notes["backtest"] = {"skipped": str(exc)}
    ctx.notes.update(notes)
    out = pl.DataFrame(
        {
            "customer_id": current["customer_id"],
            "churn_probability": fitted.predict(current) if current.height else [],
        },
        schema={"customer_id": pl.String, "churn_probability": pl.Float64},
    ).with_columns(
        model=pl.lit(settings.model, pl.String), trained_through=pl.lit(dates[-1], pl.Date)
    )
    return ibis.memtable(out)
