"""The Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); their
lifetime is exponential with rate μ ~ Gamma(s, β). The likelihood follows
Fader & Hardie's note "Deriving the Pareto/NBD model" (2005), with the
Gaussian hypergeometric function in the form that keeps its argument below 1.
Its gradient would need derivatives of 2F1 in its parameters, so the fit
uses finite differences of the (cheap, compressed) log-likelihood instead.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1, logsumexp

from custlens.predict.mle import Array, Fit, dot, log_starts, maximise, repeat_summary

NAMES = ("r", "alpha", "s", "beta")


def _log_a0(params: tuple[float, ...], x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, s, beta = params
    if alpha >= beta:
        low, high, t = beta, alpha, np.full_like(x, s + 1.0)
    else:
        low, high, t = alpha, beta, r + x
    gap = high - low
    rsx = r + s + x
    q1 = high + t_x
    q2 = high + T
    p1 = hyp2f1(rsx, t, rsx + 1.0, gap / q1)
    p2 = hyp2f1(rsx, t, rsx + 1.0, gap / q2)
    terms = np.stack([np.log(p1) + rsx * np.log(q2), np.log(p2) + rsx * np.log(q1)])
    signs = np.stack([np.ones_like(rsx), -np.ones_like(rsx)])
    out = logsumexp(terms, axis=0, b=signs) - rsx * np.log(q1 * q2)
    # A customer who bought at the very end (t_x = T) had no time to leave unseen: the
    # term is exactly 0, where ₂F₁ of a large x may overflow into inf − inf.
    return np.asarray(np.where(np.broadcast_to(t_x, out.shape) == T, -np.inf, out))


def log_likelihood(params: tuple[float, ...], x: Array, t_x: Array, T: Array) -> Array:
    """Each customer's log-likelihood."""
    r, alpha, s, beta = params
    rsx = r + s + x
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        a2 = np.logaddexp(
            -(r + x) * np.log(alpha + T) - s * np.log(beta + T),
            np.log(s) + _log_a0(params, x, t_x, T) - np.log(rsx),
        )
    return np.asarray(a1 + a2)


def _objective(x: Array, t_x: Array, T: Array, w: Array) -> object:
    total = w.sum()

    def value(logp: Array) -> float:
        with np.errstate(all="ignore"):
            ll = log_likelihood(tuple(np.exp(logp)), x, t_x, T)
        out = float(-(dot(w, ll)) / total)
        return out if np.isfinite(out) else np.inf

    def negll(logp: Array) -> tuple[float, Array]:
        f0 = value(logp)
        grad = np.zeros_like(logp)
        for i in range(len(logp)):
            step = np.zeros_like(logp)
            step[i] = 1e-6
            grad[i] = (value(logp + step) - value(logp - step)) / 2e-6
        if not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(logp)
        return f0, grad

    return negll


SAMPLE_ROWS = 20_000
"""Above this many distinct (x, t_x, T) rows, the starts are searched on a sample."""


def fit(
    frequency: Array,
    recency: Array,
    T: Array,
    starts: int = 4,
    penalizer: float = 0.0,
    sample_rows: int = SAMPLE_ROWS,
) -> Fit:
    """Fit r, α, s, β by maximum likelihood.

    Each evaluation costs two ₂F₁ per distinct customer, and the gradient eight
    more, so on a large summary the starts are compared on a fixed-seed sample of
    ``sample_rows`` distinct rows (with their weights) and only the best is
    carried on to the full data.

    Raises:
        ModelFitError: no customer has a repeat purchase, or no start converged.
    """
    data = repeat_summary("Pareto/NBD", frequency, recency, T)
    x, t_x, age, w = data.x, data.t_x, data.age, data.weights
    customers, scale = data.customers, data.scale
    options = {
        "penalizer": penalizer,
        "penalty_scale": [1.0, 1 / float(data.age.max()), 1.0, 1 / float(data.age.max())],
    }
    candidates = log_starts([1.0, scale, 1.0, scale], starts)
    if len(x) > sample_rows:
        pick = np.random.default_rng(0).choice(len(x), sample_rows, replace=False)
        warm = maximise(
            "pareto",
            NAMES,
            _objective(x[pick], t_x[pick], age[pick], w[pick]),  # type: ignore[arg-type]
            candidates,
            customers,
            total_weight=float(w[pick].sum()),
            **options,  # type: ignore[arg-type]
        )
        candidates = [np.log(warm.values()).tolist()]
    return maximise(
        "pareto",
        NAMES,
        _objective(x, t_x, age, w),  # type: ignore[arg-type]
        candidates,
        customers,
        total_weight=float(w.sum()),
        **options,  # type: ignore[arg-type]
    )


def p_alive(params: tuple[float, ...], x: Array, t_x: Array, T: Array) -> Array:
    """P(alive at T | x, t_x, T)."""
    r, alpha, s, beta = params
    rsx = r + s + x
    log_a0 = _log_a0(params, x, t_x, T)
    return np.asarray(
        1.0
        / (
            1.0
            + np.exp(
                np.log(s)
                - np.log(rsx)
                + (r + x) * np.log(alpha + T)
                + s * np.log(beta + T)
                + log_a0
            )
        )
    )


def expected_purchases(
    params: tuple[float, ...], t: float, x: Array, t_x: Array, T: Array
) -> Array:
    """E[purchases in (T, T + t] | x, t_x, T]."""
    r, alpha, s, beta = params
    if t <= 0:
        return np.zeros_like(np.asarray(x, dtype=np.float64))
    if abs(s - 1.0) < 1e-9:
        growth = np.log((beta + T + t) / (beta + T))
    else:
        growth = (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1)
    return np.asarray((r + x) * (beta + T) / (alpha + T) * growth * p_alive(params, x, t_x, T))
