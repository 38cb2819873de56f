"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); after each
purchase they drop out with probability p ~ Beta(a, b). A customer is
described by x (repeat purchases), t_x (age at the last one) and T (age at
the end of observation), all in one time unit.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1, psi

from custlens.predict.mle import Array, Fit, dot, log_starts, maximise, repeat_summary

NAMES = ("r", "alpha", "a", "b")


def log_likelihood(params: tuple[float, ...], x: Array, t_x: Array, T: Array) -> Array:
    """Each customer's log-likelihood (FHL 2005, eq. 6), computed in log space."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _objective(x: Array, t_x: Array, T: Array, w: Array) -> object:
    total = w.sum()
    repeat = x > 0
    xr = np.where(repeat, x, 1.0)
    # The special functions depend on x alone, and x takes few values: evaluate them
    # once per distinct x, weighted by the customers who have it.
    ux, at = np.unique(x, return_inverse=True)
    wx = np.bincount(at.reshape(-1), weights=w)

    def negll(logp: Array) -> tuple[float, Array]:
        r, alpha, a, b = np.exp(logp)
        # Per distinct x: A1 + A2 of FHL 2005, eq. 6, and their derivatives.
        head = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b)
        head_r = psi(r + ux) - psi(r) + np.log(alpha)
        head_a = psi(a + b) - psi(a + b + ux)
        head_b = psi(a + b) + psi(b + ux) - psi(b) - psi(a + b + ux)
        # Per customer: the log of the two ways to have made no purchase since t_x.
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + xr - 1) - (r + x) * np.log(alpha + t_x)
        a4 = np.where(repeat, a4, -np.inf)
        tail = np.logaddexp(a3, a4)
        w3 = w * np.exp(a3 - tail)
        w4 = w * np.exp(a4 - tail)
        d_r = dot(wx, head_r) - dot(w3, np.log(alpha + T)) - dot(w4, np.log(alpha + t_x))
        d_alpha = total * r / alpha - dot(w3, (r + x) / (alpha + T))
        d_alpha -= dot(w4, (r + x) / (alpha + t_x))
        d_a = dot(wx, head_a) + w4.sum() / a
        d_b = dot(wx, head_b) - dot(w4, 1 / (b + xr - 1))
        value = float(-(dot(wx, head) + dot(w, tail)) / total)
        if not np.isfinite(value):
            return np.inf, np.zeros(4)
        grad = np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
        return value, -grad / total

    return negll


def fit(frequency: Array, recency: Array, T: Array, starts: int = 4, penalizer: float = 0.0) -> Fit:
    """Fit r, α, a, b by maximum likelihood.

    Raises:
        ModelFitError: no customer has a repeat purchase, or no start converged.
    """
    data = repeat_summary("BG/NBD", frequency, recency, T)
    x, t_x, age, w = data.x, data.t_x, data.age, data.weights
    customers, scale = data.customers, data.scale
    fitted = maximise(
        "bgnbd",
        NAMES,
        _objective(x, t_x, age, w),  # type: ignore[arg-type]
        log_starts([1.0, scale, 1.0, 1.0], starts),
        customers,
        total_weight=float(w.sum()),
        penalizer=penalizer,
        penalty_scale=[1.0, 1 / float(data.age.max()), 1.0, 1.0],
    )
    return fitted


def p_alive(params: tuple[float, ...], x: Array, t_x: Array, T: Array) -> Array:
    """P(alive at T | x, t_x, T); 1 for a customer without repeat purchases (eq. 12)."""
    r, alpha, a, b = params
    log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + np.maximum(x, 1) - 1))
    return np.where(x == 0, 1.0, expit(-log_div))


def expected_purchases(
    params: tuple[float, ...], t: float, x: Array, t_x: Array, T: Array
) -> Array:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10)."""
    r, alpha, a, b = params
    if t <= 0:
        return np.zeros_like(np.asarray(x, dtype=np.float64))
    ha, hb, hc = r + x, b + x, a + b + x - 1
    z = t / (alpha + T + t)
    ha, hb, hc, z = np.broadcast_arrays(ha, hb, hc, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_hyp = np.log(hyp2f1(ha, hb, hc, z))
        # Euler's transformation where the series overflows.
        bad = ~np.isfinite(ln_hyp)
        if bad.any():
            a_, b_, c_, z_ = ha[bad], hb[bad], hc[bad], z[bad]
            ln_hyp[bad] = np.log(hyp2f1(c_ - a_, c_ - b_, c_, z_)) + (c_ - a_ - b_) * np.log1p(-z_)
    first = (a + b + x - 1) / (a - 1)
    second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + T) / (alpha + t + T)))
    denominator = 1 + (x > 0) * (a / (b + np.maximum(x, 1) - 1)) * (
        (alpha + T) / (alpha + t_x)
    ) ** (r + x)
    return np.asarray(first * second / denominator)
