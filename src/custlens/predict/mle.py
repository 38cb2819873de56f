"""Maximum-likelihood fitting shared by the customer-value models.

Every model is fitted the same way: the negative mean log-likelihood of the
customers is minimised over the logarithms of its (positive) parameters with
L-BFGS-B, from several starting points, and the best converged start wins
(the search stops early once two starts reach the same maximum).
Customers with the same sufficient statistics are fitted once, with a weight
(a million customers measured in whole days have far fewer distinct
(frequency, recency, T) triples), which changes nothing in the likelihood.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from custlens.errors import ModelFitError

Array = NDArray[np.float64]
LABELS = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}
Objective = Callable[[Array], tuple[float, Array | None]]
"""log-parameters → (negative mean log-likelihood, its gradient or None)."""


@dataclass(frozen=True)
class Fit:
    """A fitted model: its parameters, log-likelihood and how the optimiser got there."""

    model: str
    params: dict[str, float]
    log_likelihood: float
    """Summed over the customers that entered the fit."""
    customers: int
    starts: int = 0
    converged_starts: int = 0
    iterations: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def values(self) -> tuple[float, ...]:
        return tuple(self.params.values())

    def record(self) -> dict[str, object]:
        """The fit as JSON-ready values, for the run record."""
        return {
            "model": self.model,
            "params": {k: float(v) for k, v in self.params.items()},
            "log_likelihood": float(self.log_likelihood),
            "customers": int(self.customers),
            "starts": self.starts,
            "converged_starts": self.converged_starts,
            "iterations": self.iterations,
            **self.extra,
        }


def dot(weights: NDArray[Any], values: NDArray[Any]) -> float:
    """Σ weights × values without BLAS.

    A BLAS dot product starts its thread pool for every call; on a busy machine that
    made one likelihood evaluation a hundred times slower than the arithmetic.
    """
    return float(np.multiply(weights, values).sum())


def distinct(*columns: Array) -> tuple[list[Array], Array]:
    """Distinct rows of the given columns, and each row's index among them.

    A hash group-by (Polars): ``np.unique(axis=0)`` sorts a million rows of three
    floats in seconds.
    """
    import polars as pl

    names = [f"c{i}" for i in range(len(columns))]
    frame = pl.DataFrame(
        {n: np.asarray(c, dtype=np.float64) for n, c in zip(names, columns, strict=True)}
    )
    unique = frame.unique(maintain_order=True).with_row_index("at")
    at = frame.join(unique, on=names, how="left", maintain_order="left")["at"]
    return [unique[n].to_numpy() for n in names], at.to_numpy().astype(np.int64)


def compress(*columns: Array) -> tuple[list[Array], Array]:
    """Distinct rows of the given columns and how many customers share each."""
    unique, at = distinct(*columns)
    return unique, np.bincount(at, minlength=len(unique[0])).astype(np.float64)


@dataclass(frozen=True)
class RepeatSummary:
    """A purchase-count model's input, ready to fit: distinct (x, t_x, T) rows with the
    number of customers sharing each, the customer count, and the time scale of the
    starting points (the mean age)."""

    x: Array
    t_x: Array
    age: Array
    weights: Array
    customers: int
    scale: float


def repeat_summary(model: str, frequency: Array, recency: Array, T: Array) -> RepeatSummary:
    """The input of a BG/NBD or Pareto/NBD fit.

    Raises:
        ModelFitError: no customer has a repeat purchase (nothing to learn a rate from).
    """
    frequency, recency, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    customers = len(frequency)
    if customers == 0 or not np.any(frequency > 0):
        raise ModelFitError(
            f"the {model} fit needs customers with repeat purchases; {customers:,} "
            "customers, none with a purchase after their first period"
        )
    (x, t_x, age), w = compress(frequency, recency, T)
    return RepeatSummary(x, t_x, age, w, customers, float(np.mean(T)) or 1.0)


def maximise(
    model: str,
    names: Sequence[str],
    objective: Objective,
    starts: Sequence[Sequence[float]],
    customers: int,
    *,
    total_weight: float,
    penalizer: float = 0.0,
    penalty_scale: Sequence[float] | None = None,
    max_iterations: int = 2000,
) -> Fit:
    """Minimise ``objective`` over log-parameters from each start; return the best fit.

    ``objective`` returns the negative log-likelihood divided by
    ``total_weight`` (a mean keeps the gradient's scale independent of the
    number of customers); the fit's log-likelihood is the sum, without penalty.

    ``penalizer`` adds lifetimes' L2 penalty, penalizer × Σ (θ × scale)², to the
    mean: ``penalty_scale`` holds lifetimes' time scaling (1 / max T for the rate
    parameters α and β, which lifetimes fits on ages scaled to at most 1).

    Raises:
        ModelFitError: no start converged; the message gives the optimiser's
            reason and the parameter values where it stopped.
    """
    from scipy.optimize import minimize

    scale = np.ones(len(names)) if penalty_scale is None else np.asarray(penalty_scale, float)
    if penalizer > 0:
        plain = objective

        def objective(logp: Array) -> tuple[float, Array | None]:
            value, grad = plain(logp)
            scaled = np.exp(logp) * scale
            extra = penalizer * float(np.multiply(scaled, scaled).sum())
            assert grad is not None
            return value + extra, grad + 2 * penalizer * scaled * scaled

    best = None
    failures: list[str] = []
    converged = 0
    iterations = 0
    tried = 0
    for start in starts:
        tried += 1
        with np.errstate(all="ignore"):
            result = minimize(
                objective,
                np.asarray(start, dtype=np.float64),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": max_iterations, "gtol": 1e-9, "ftol": 1e-14},
            )
        iterations += int(result.nit)
        params = np.exp(result.x)
        usable = bool(np.isfinite(result.fun)) and bool(np.all(np.isfinite(params)))
        # A parameter at 1e-8 or 1e8 has run off to a boundary of the model: no maximum.
        usable = usable and bool(np.all(params > 1e-8)) and bool(np.all(params < 1e8))
        if result.success and usable:
            converged += 1
            agrees = best is not None and np.allclose(result.x, best.x, rtol=0, atol=1e-4)
            if best is None or result.fun < best.fun:
                best = result
            if agrees:
                # Two starts found the same maximum: the others would too.
                break
        else:
            shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, params, strict=True))
            if not result.success:
                why = result.message
            elif not np.isfinite(result.fun):
                why = "the likelihood is not finite"
            else:
                why = "parameters ran off to 0 or infinity"
            failures.append(f"{str(why).strip(' :').lower()} at {shown}")
    if best is None:
        raise ModelFitError(
            f"the {LABELS.get(model, model)} fit did not converge from any of {len(starts)} "
            f"starts on {customers:,} customers (the last: {failures[-1]}). Too few repeat "
            "purchases, or customers who never seem to leave, leave the parameters without "
            "a finite maximum; a small analytics.clv.penalizer (lifetimes' penalizer_coef, "
            "say 0.001) keeps them finite."
        )
    values = np.exp(best.x)
    scaled = values * scale
    penalty = penalizer * float(np.multiply(scaled, scaled).sum())
    return Fit(
        model=model,
        params={n: float(v) for n, v in zip(names, values, strict=True)},
        log_likelihood=float(-(best.fun - penalty) * total_weight),
        customers=customers,
        starts=tried,
        converged_starts=converged,
        iterations=iterations,
    )


def log_starts(scales: Sequence[float], count: int, seed: int = 0) -> list[list[float]]:
    """Starting points on the log scale: the given scales, then seeded jitters of them."""
    base = np.log(np.asarray(scales, dtype=np.float64))
    rng = np.random.default_rng(seed)
    out = [base.tolist()]
    for _ in range(count - 1):
        out.append((base + rng.normal(0.0, 1.0, size=base.shape)).tolist())
    return out
