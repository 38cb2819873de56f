"""The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013; Colombo & Jiang 1999).

A customer's transaction values are Gamma(p, ν) around their mean; ν ~
Gamma(q, γ) across customers (``v`` here, as lifetimes names it). Only
customers with repeat purchases and a positive mean repeat spend enter the
fit; the model assumes spend is independent of purchase frequency.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, psi

from custlens.errors import ModelFitError
from custlens.predict.mle import Array, Fit, compress, dot, log_starts, maximise

NAMES = ("p", "q", "v")


def log_likelihood(params: tuple[float, ...], x: Array, m: Array) -> Array:
    """Each customer's log-likelihood of their mean spend m over x repeat transactions."""
    p, q, v = params
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def _objective(x: Array, m: Array, w: Array) -> object:
    total = w.sum()
    log_m = np.log(m)
    # The special functions depend on x alone: once per distinct x, weighted.
    ux, at = np.unique(x, return_inverse=True)
    wx = np.bincount(at.reshape(-1), weights=w)
    log_ux = np.log(ux)

    def negll(logp: Array) -> tuple[float, Array]:
        p, q, v = np.exp(logp)
        pux = p * ux
        head = gammaln(pux + q) - gammaln(pux) - gammaln(q) + pux * log_ux
        head_p = ux * (psi(pux + q) - psi(pux) + log_ux)
        head_q = psi(pux + q) - psi(q)
        px = p * x
        log_xmv = np.log(x * m + v)
        rows = q * np.log(v) + (px - 1) * log_m - (px + q) * log_xmv
        d_p = dot(wx, head_p) + dot(w, x * (log_m - log_xmv))
        d_q = dot(wx, head_q) + dot(w, np.log(v) - log_xmv)
        d_v = dot(w, q / v - (px + q) / (x * m + v))
        value = float(-(dot(wx, head) + dot(w, rows)) / total)
        if not np.isfinite(value):
            return np.inf, np.zeros(3)
        grad = np.array([p * d_p, q * d_q, v * d_v])
        return value, -grad / total

    return negll


def eligible(frequency: Array, monetary_value: Array) -> Array:
    """Customers who enter the fit: a repeat purchase and a positive mean repeat spend."""
    return np.asarray((np.asarray(frequency) > 0) & (np.asarray(monetary_value) > 0))


def fit(frequency: Array, monetary_value: Array, starts: int = 4, penalizer: float = 0.0) -> Fit:
    """Fit p, q, v by maximum likelihood on the eligible customers.

    Raises:
        ModelFitError: fewer than two eligible customers, or no start converged.
    """
    frequency = np.asarray(frequency, dtype=np.float64)
    monetary_value = np.asarray(monetary_value, dtype=np.float64)
    keep = eligible(frequency, monetary_value)
    customers = int(keep.sum())
    if customers < 2:
        raise ModelFitError(
            f"the Gamma-Gamma spend fit needs customers with repeat purchases of positive "
            f"value; found {customers}"
        )
    (x, m), w = compress(frequency[keep], monetary_value[keep])
    scale = float(np.mean(monetary_value[keep]))
    return maximise(
        "gamma_gamma",
        NAMES,
        _objective(x, m, w),  # type: ignore[arg-type]
        log_starts([1.0, 1.0, scale], starts),
        customers,
        total_weight=float(w.sum()),
        penalizer=penalizer,
    )


def expected_average_value(
    params: tuple[float, ...], frequency: Array, monetary_value: Array
) -> Array:
    """E[spend per transaction | x, m̄]: a weighted mean of the population's and the customer's.

    A customer without repeat purchases gets the population mean p·v / (q − 1)
    (infinite when q ≤ 1; then it is NaN here).
    """
    p, q, v = params
    x = np.asarray(frequency, dtype=np.float64)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=np.float64), 0.0)
    if q <= 1:
        return np.where(x > 0, (p * (v + x * m)) / np.maximum(p * x + q - 1, 1e-300), np.nan)
    return np.asarray(p * (v + x * m) / (p * x + q - 1))
