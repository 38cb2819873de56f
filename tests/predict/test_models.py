"""The BG/NBD, Pareto/NBD and Gamma-Gamma fits against published estimates and simulations.

Published figures for the CDNOW sample (2,357 customers, 39 weeks of
calibration to 1997-09-30; Fader, Hardie & Lee 2005 and Fader & Hardie's notes):

- BG/NBD: r 0.243, α 4.414, a 0.793, b 2.426, log-likelihood −9582.4;
- Pareto/NBD: r 0.553, α 10.578, s 0.606, β 11.669, log-likelihood −9595.0;
- Gamma-Gamma: p 6.25, q 3.74, γ 15.44 (the lifetimes docs print v 15.45, fitted to the
  rounded zbar column of its summary file; on unrounded spend it is 15.44).
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest

from custlens.errors import ModelFitError, PipelineError
from custlens.facts.clv_summary import summary
from custlens.predict import bgnbd, clv, gammagamma, paretonbd
from tests.predict import simulate


def cdnow_transactions() -> pl.DataFrame:
    """The CDNOW sample shipped in the lifetimes wheel, as a ``transactions`` source."""
    resources = pytest.importorskip(
        "lifetimes.datasets", reason="lifetimes (the dev extra) holds the CDNOW sample"
    )
    from importlib.resources import files

    text = files(resources).joinpath("CDNOW_sample.txt").read_text()
    # Columns: master id, sample id, date (YYYYMMDD), CDs bought, dollar value.
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return pl.DataFrame(
        {
            "transaction_id": [str(i) for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "created_at": [datetime.strptime(r[2], "%Y%m%d") for r in rows],
            "amount": [float(r[4]) for r in rows],
            "type": ["payment"] * len(rows),
            "status": ["processed"] * len(rows),
        }
    )


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    import ibis

    con = ibis.duckdb.connect()
    table = con.create_table("src_transactions", cdnow_transactions())
    return con.to_polars(summary(table, date(1997, 9, 30), unit="weeks")).sort("customer_id")


def arrays(frame: pl.DataFrame, *names: str) -> list[np.ndarray]:
    return [frame[n].cast(pl.Float64).to_numpy() for n in names]


def test_cdnow_summary_matches_the_published_one(cdnow):
    # 2,357 customers; customer 00004 bought on 01-01, 01-18 and 08-02 (29.33, 29.73, 14.96):
    # x 2, t_x = 213 / 7 = 30.43, T = 272 / 7 = 38.86, zbar = (29.73 + 14.96) / 2 = 22.345.
    assert cdnow.height == 2357
    row = cdnow.row(0, named=True)
    assert row["customer_id"] == "00004"
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx(213 / 7)
    assert row["T"] == pytest.approx(272 / 7)
    assert row["monetary_value"] == pytest.approx(22.345)
    # The published calibration totals: 1,431 customers without a repeat purchase.
    assert (cdnow["frequency"] == 0).sum() == 1411


def test_cdnow_bgnbd_matches_the_published_estimates(cdnow):
    fitted = bgnbd.fit(*arrays(cdnow, "frequency", "recency", "T"))
    assert [round(v, 2) for v in fitted.values()] == [0.24, 4.41, 0.79, 2.43]
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_cdnow_pareto_matches_the_published_estimates(cdnow):
    fitted = paretonbd.fit(*arrays(cdnow, "frequency", "recency", "T"))
    assert [round(v, 2) for v in fitted.values()] == [0.55, 10.58, 0.61, 11.67]
    assert fitted.log_likelihood == pytest.approx(-9595.0, abs=0.05)


def test_cdnow_gamma_gamma_matches_the_published_estimates(cdnow):
    frequency, spend = arrays(cdnow, "frequency", "monetary_value")
    fitted = gammagamma.fit(frequency, spend)
    assert [round(v, 2) for v in fitted.values()] == [6.25, 3.74, 15.44]
    assert fitted.customers == 946  # customers with a repeat purchase
    # lifetimes' own likelihood at its optimum on the same 946 customers: 4.28745 × 946.
    assert fitted.log_likelihood == pytest.approx(-4055.92, abs=0.05)


def test_bgnbd_gives_back_the_parameters_it_was_simulated_with():
    truth = (0.5, 6.0, 0.8, 2.5)
    fitted = bgnbd.fit(*simulate.bgnbd(20_000, *truth, seed=1))
    assert fitted.values() == pytest.approx(truth, rel=0.15)


def test_pareto_gives_back_the_parameters_it_was_simulated_with():
    truth = (0.6, 8.0, 0.8, 12.0)
    fitted = paretonbd.fit(*simulate.pareto(20_000, *truth, seed=2))
    # The dropout pair (s, β) is the weakly identified one: across seeds at this size
    # β lands between 9.5 and 11.9, so it gets the wider tolerance.
    assert fitted.values()[:2] == pytest.approx(truth[:2], rel=0.1)
    assert fitted.values()[2:] == pytest.approx(truth[2:], rel=0.25)


def test_pareto_on_a_sample_first_reaches_the_same_maximum():
    # The starts compared on 2,000 of the distinct rows, then one refinement on all of them.
    data = simulate.pareto(8_000, 0.6, 8.0, 0.8, 12.0, seed=6)
    direct = paretonbd.fit(*data)
    sampled = paretonbd.fit(*data, sample_rows=2_000)
    assert sampled.values() == pytest.approx(direct.values(), rel=1e-3)
    assert sampled.log_likelihood == pytest.approx(direct.log_likelihood, abs=1e-3)


def test_gamma_gamma_gives_back_the_parameters_it_was_simulated_with():
    truth = (6.0, 4.0, 15.0)
    fitted = gammagamma.fit(*simulate.gamma_gamma(100_000, *truth, seed=3))
    assert fitted.values() == pytest.approx(truth, rel=0.1)


def test_likelihood_gradient_matches_finite_differences():
    x, t_x, T = simulate.bgnbd(500, 0.5, 6.0, 0.8, 2.5, seed=4)
    objective = bgnbd._objective(x, t_x, T, np.ones_like(x))
    point = np.log([0.4, 5.0, 0.9, 2.0])
    _, grad = objective(point)
    numeric = [(objective(point + e)[0] - objective(point - e)[0]) / 2e-6 for e in np.eye(4) * 1e-6]
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-7)
    xs, m = simulate.gamma_gamma(500, 6.0, 4.0, 15.0, seed=5)
    objective = gammagamma._objective(xs, m, np.ones_like(xs))
    point = np.log([5.0, 3.0, 10.0])
    _, grad = objective(point)
    numeric = [(objective(point + e)[0] - objective(point - e)[0]) / 2e-6 for e in np.eye(3) * 1e-6]
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_predictions_follow_the_textbook_formulas():
    # BG/NBD with the CDNOW parameters, customer x 2, t_x 30.43, T 38.86 (FHL 2005 table):
    # p_alive = 1 / (1 + a / (b + x − 1) × ((α + T) / (α + t_x))^(r + x))
    #         = 1 / (1 + 0.793 / 3.426 × (43.274 / 34.844)^2.243) = 0.6548 (≈ 0.65).
    params = (0.243, 4.414, 0.793, 2.426)
    x, t_x, T = np.array([2.0]), np.array([30.43]), np.array([38.86])
    ratio = (4.414 + 38.86) / (4.414 + 30.43)
    expected_alive = 1 / (1 + 0.793 / 3.426 * ratio**2.243)
    assert bgnbd.p_alive(params, x, t_x, T)[0] == pytest.approx(expected_alive, rel=1e-9)
    # Without repeat purchases a BG/NBD customer is alive for sure.
    assert bgnbd.p_alive(params, np.array([0.0]), np.array([0.0]), T)[0] == 1.0
    # FHL 2005 report E[X(39) | x 2, t_x 30.43, T 38.86] = 1.226.
    assert bgnbd.expected_purchases(params, 39, x, t_x, T)[0] == pytest.approx(1.226, abs=0.002)
    # Gamma-Gamma: E[Z | x, m] = p (v + x m) / (p x + q − 1); x 2, m 22.345:
    # 6.25 × (15.44 + 44.69) / (12.5 + 2.74) = 375.81 / 15.24 = 24.66.
    gg = (6.25, 3.74, 15.44)
    assert gammagamma.expected_average_value(gg, [2.0], [22.345])[0] == pytest.approx(
        6.25 * (15.44 + 44.69) / 15.24
    )
    # No repeat purchase: the population mean p v / (q − 1) = 96.5 / 2.74 = 35.22.
    assert gammagamma.expected_average_value(gg, [0.0], [0.0])[0] == pytest.approx(96.5 / 2.74)


def test_clv_discounts_each_month_of_expected_purchases():
    # An independent month-by-month sum: E[value] × Σ (N(i) − N(i−1)) / 1.01^i, month = 30.4375 / 7
    # weeks, over 3 months.
    fitted = clv.Fitted(
        purchases=_fit("bgnbd", r=0.243, alpha=4.414, a=0.793, b=2.426),
        spend=_fit("gamma_gamma", p=6.25, q=3.74, v=15.44),
    )
    x, t_x, T, m = (np.array([v]) for v in (2.0, 30.43, 38.86, 22.345))
    out = clv.predict(fitted, x, t_x, T, m, unit="weeks", horizon_months=3, discount=0.01)
    month = 365.25 / 12 / 7
    params = fitted.purchases.values()
    n = [0.0] + [bgnbd.expected_purchases(params, i * month, x, t_x, T)[0] for i in (1, 2, 3)]
    value = 6.25 * (15.44 + 2 * 22.345) / (6.25 * 2 + 3.74 - 1)
    expected = value * sum((n[i] - n[i - 1]) / 1.01**i for i in (1, 2, 3))
    assert out["clv"][0] == pytest.approx(expected, rel=1e-12)
    assert out["expected_purchases"][0] == pytest.approx(n[3], rel=1e-12)


def _fit(model: str, **params: float) -> clv.Fit:
    return clv.Fit(model=model, params=params, log_likelihood=0.0, customers=1)


def test_a_fit_without_repeat_purchases_says_why():
    with pytest.raises(ModelFitError, match="repeat purchases") as caught:
        bgnbd.fit([0, 0, 0], [0, 0, 0], [10, 20, 30])
    assert isinstance(caught.value, PipelineError)
    with pytest.raises(ModelFitError, match="found 1"):
        gammagamma.fit([0, 2, 0], [0, 5.0, 0])


def test_a_fit_that_does_not_converge_names_the_reason():
    # Every customer bought in every one of 1,000 periods: the purchase rate and the
    # dropout run off to their limits and no start settles.
    with pytest.raises(ModelFitError, match="did not converge from any of 2 starts"):
        bgnbd.fit([1000.0] * 5, [1000.0] * 5, [1000.0] * 5, starts=2)


def test_the_penalizer_is_lifetimes_penalizer_coef(cdnow):
    lifetimes = pytest.importorskip("lifetimes", reason="lifetimes is the reference")
    frequency, recency, T, spend = arrays(cdnow, "frequency", "recency", "T", "monetary_value")
    theirs = lifetimes.BetaGeoFitter(penalizer_coef=0.05).fit(frequency, recency, T)
    ours = bgnbd.fit(frequency, recency, T, penalizer=0.05)
    assert ours.values() == pytest.approx(tuple(theirs.params_[list(bgnbd.NAMES)]), rel=1e-4)
    # The reported log-likelihood is the data's, without the penalty.
    assert ours.log_likelihood == pytest.approx(
        bgnbd.log_likelihood(ours.values(), frequency, recency, T).sum()
    )
    repeat = (frequency > 0) & (spend > 0)
    theirs_gg = lifetimes.GammaGammaFitter(penalizer_coef=0.05).fit(
        frequency[repeat], spend[repeat]
    )
    ours_gg = gammagamma.fit(frequency, spend, penalizer=0.05)
    assert ours_gg.values() == pytest.approx(
        tuple(theirs_gg.params_[list(gammagamma.NAMES)]), rel=1e-4
    )
