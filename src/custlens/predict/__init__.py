"""Predictive customer value: BG/NBD, Pareto/NBD and Gamma-Gamma, fitted in NumPy/SciPy.

The models read the per-customer repeat-purchase summary that
:mod:`custlens.facts.clv_summary` computes in the engine; fitting happens on
that small table (DESIGN.md §1).

- :mod:`custlens.predict.bgnbd`: BG/NBD (Fader, Hardie & Lee 2005).
- :mod:`custlens.predict.paretonbd`: Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
- :mod:`custlens.predict.gammagamma`: Gamma-Gamma spend (Fader & Hardie).
- :mod:`custlens.predict.clv`: fit both, predict p_alive, purchases, value and CLV.
- :mod:`custlens.predict.mle`: the shared maximum-likelihood machinery.
- :mod:`custlens.predict.churn`: churn propensity, a logistic model on
  point-in-time ``churn_features`` (the ``churn_propensity`` fact).
- :mod:`custlens.predict.logistic`: the churn model's estimator (imputation,
  scaling, L2 logistic regression), scikit-learn's pipeline fitted with SciPy.
"""

from __future__ import annotations
