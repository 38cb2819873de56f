"""What ``custlens clv`` does, on a :class:`~custlens.workspace.Workspace`: fit, write, backtest."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from custlens.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    import polars as pl

    from custlens.config import Config
    from custlens.pipeline import RunResult
    from custlens.workspace import Workspace

FACT = "clv_predictions"


def with_settings(config: Config, **overrides: Any) -> Config:
    """The config with ``analytics.clv`` settings replaced (None keeps the configured one).

    Raises:
        ConfigError: a value out of range (a negative discount, say).
    """
    from pydantic import ValidationError

    from custlens.config import Clv

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        clv = Clv.model_validate({**config.analytics.clv.model_dump(), **given})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"clv settings: {problems}") from None
    analytics = config.analytics.model_copy(update={"clv": clv})
    return config.model_copy(update={"analytics": analytics})


def fit_and_write(
    ws: Workspace, as_of: date | None = None, **overrides: Any
) -> tuple[RunResult, dict[str, Any]]:
    """Run ``clv_predictions`` with these settings; return the run and the fitted models.

    Raises:
        ModelFitError: a model could not be fitted; nothing was written.
        NotFoundError: no transactions are loaded.
    """
    config = with_settings(ws.config, **overrides)
    # Every fact of a workspace is at one as-of date: the latest run's, unless asked.
    result = ws.run(as_of=ws.as_of_month(as_of), only=[FACT], config=config)
    if FACT in result.skipped:
        raise NotFoundError(f"clv_predictions was not computed: it {result.skipped[FACT]}")
    return result, result.notes[FACT]


def check_holdout(holdout_from: date, as_of: date) -> None:
    """Raises ConfigError when the holdout from that day to the as-of date would be empty."""
    if holdout_from > as_of:
        raise ConfigError(
            f"--holdout-from {holdout_from} is after the as-of date {as_of}: the holdout is empty"
        )


def backtest(
    ws: Workspace, holdout_from: date, as_of: date | None = None, *, config: Config | None = None
) -> pl.DataFrame:
    """Fit on the purchases before ``holdout_from``, predict the holdout up to the as-of date.

    Uses ``analytics.clv`` of ``config`` (default: the workspace's) and the as-of date of the
    latest successful run (or ``as_of``, the last day of a month).

    Returns:
        Predicted vs actual holdout purchases by calibration frequency (see
        :func:`custlens.predict.clv.holdout_table`).

    Raises:
        ConfigError: the holdout does not start after the first purchase or
            before the as-of date.
        ModelFitError: the calibration data cannot support the model.
    """
    from custlens.facts.clv_summary import summary
    from custlens.predict import clv

    end = as_of or ws.context().as_of
    if not ws.warehouse.has("src_transactions"):
        raise NotFoundError("no transactions loaded: `custlens load transactions FILE` first")
    check_holdout(holdout_from, end)
    settings = (config or ws.config).analytics.clv
    table = summary(
        ws.warehouse.table("src_transactions"),
        end,
        unit=settings.unit,
        period=settings.period,
        calibration_end=holdout_from - timedelta(days=1),
    )
    frame = ws.warehouse.to_polars(table)
    if frame.height == 0:
        raise ConfigError(f"no customer bought before --holdout-from {holdout_from}")
    x, t_x, age, spend = (
        frame[c].cast(float).to_numpy() for c in ("frequency", "recency", "T", "monetary_value")
    )
    fitted = clv.fit(
        x,
        t_x,
        age,
        spend,
        model=settings.model,
        starts=settings.starts,
        penalizer=settings.penalizer,
    )
    return clv.holdout_table(fitted, frame)
