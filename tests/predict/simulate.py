"""Data sets drawn from the models themselves, to check that a fit gives back their parameters.

Each draw follows the model's story directly (an independent implementation:
nothing here comes from custlens.predict).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, seed: int
) -> tuple[Array, Array, Array]:
    """(x, t_x, T): Poisson purchases at λ ~ Gamma(r, α); after each repeat purchase
    the customer leaves with probability p ~ Beta(a, b). T is uniform on 20–60."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, 60, n)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    repeats_until_leaving = rng.geometric(p)
    in_window = rng.poisson(lam * T)
    x = np.minimum(in_window, repeats_until_leaving)
    # The x-th of N uniform arrival times on (0, T) is T × Beta(x, N − x + 1).
    t_x = np.zeros(n)
    some = x > 0
    t_x[some] = T[some] * rng.beta(x[some], in_window[some] - x[some] + 1)
    return x.astype(float), t_x, T


def pareto(
    n: int, r: float, alpha: float, s: float, beta: float, seed: int
) -> tuple[Array, Array, Array]:
    """(x, t_x, T): Poisson purchases at λ ~ Gamma(r, α) during an exponential lifetime
    with rate μ ~ Gamma(s, β). T is uniform on 20–60.

    Times are in weeks, recorded to the day (t_x rounded down to a seventh), as the
    summary of real data is.
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, 60, n)
    lam = rng.gamma(r, 1 / alpha, n)
    mu = rng.gamma(s, 1 / beta, n)
    window = np.minimum(rng.exponential(1 / mu), T)
    x = rng.poisson(lam * window)
    # The last of N uniform arrival times on (0, w) is w × U^(1/N).
    t_x = np.zeros(n)
    some = x > 0
    t_x[some] = window[some] * rng.uniform(size=some.sum()) ** (1 / x[some])
    T = np.floor(T * 7) / 7
    return x.astype(float), np.minimum(np.floor(t_x * 7) / 7, T), T


def gamma_gamma(n: int, p: float, q: float, v: float, seed: int) -> tuple[Array, Array]:
    """(x, mean spend): x ∈ 1..10 transactions, each Gamma(p, ν) with ν ~ Gamma(q, v)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 11, n)
    nu = rng.gamma(q, 1 / v, n)
    # The sum of x Gamma(p, ν) values is Gamma(p·x, ν).
    total = rng.gamma(p * x, 1 / nu)
    return x.astype(float), total / x
