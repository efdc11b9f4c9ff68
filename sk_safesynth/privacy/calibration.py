"""Noise calibration: from (epsilon, delta) and sensitivity to a noise scale.

Each function states the guarantee it calibrates for; the proofs are the cited ones.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import log_ndtr, ndtr


def check_epsilon(epsilon, name: str = "epsilon") -> float:
    """Validate a privacy parameter epsilon > 0 (finite)."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(epsilon).__name__}")
    epsilon = float(epsilon)
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {epsilon}")
    return epsilon


def check_delta(delta, name: str = "delta", allow_zero: bool = False) -> float:
    """Validate delta in (0, 1) (or [0, 1) when ``allow_zero``)."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(delta).__name__}")
    delta = float(delta)
    low_ok = delta >= 0 if allow_zero else delta > 0
    if not (math.isfinite(delta) and low_ok and delta < 1):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {delta}")
    return delta


def laplace_scale(epsilon: float, l1_sensitivity: float) -> float:
    """Laplace scale ``b = Δ1 / ε``: the Laplace mechanism is ε-DP (Dwork et al. 2006)."""
    return l1_sensitivity / check_epsilon(epsilon)


def gaussian_delta(sigma: float, epsilon: float, l2_sensitivity: float = 1.0) -> float:
    """Exact δ(ε) of the Gaussian mechanism (Balle & Wang 2018, Theorem 8).

    ``δ = Φ(Δ/2σ - εσ/Δ) - e^ε Φ(-Δ/2σ - εσ/Δ)``, evaluated in log space so it is
    valid for any ε (no overflow of ``e^ε``).
    """
    a = l2_sensitivity / (2.0 * sigma)
    b = epsilon * sigma / l2_sensitivity
    first = ndtr(a - b)
    second = math.exp(epsilon + log_ndtr(-a - b))
    return max(first - second, 0.0)


def analytic_gaussian_sigma(epsilon: float, delta: float, l2_sensitivity: float = 1.0) -> float:
    """Smallest σ making the Gaussian mechanism (ε, δ)-DP: the analytic Gaussian mechanism.

    Balle & Wang (ICML 2018) show the Gaussian mechanism with L2 sensitivity Δ is
    (ε, δ)-DP iff ``gaussian_delta(σ, ε, Δ) <= δ``; δ decreases in σ, so the
    smallest such σ is found by bisection. Unlike the classical
    ``σ = Δ sqrt(2 ln(1.25/δ)) / ε`` it is tight and holds for every ε > 0, not only ε < 1.
    """
    epsilon = check_epsilon(epsilon)
    delta = check_delta(delta)
    if not (l2_sensitivity > 0 and math.isfinite(l2_sensitivity)):
        raise ValueError(f"sensitivity must be positive and finite, got {l2_sensitivity}")
    f = lambda log_s: gaussian_delta(math.exp(log_s), epsilon, 1.0) - delta  # noqa: E731
    low, high = -20.0, 20.0
    while f(low) < 0:
        low -= 20.0
    log_sigma = brentq(f, low, high, xtol=1e-14, rtol=1e-14)
    # brentq returns a point within tolerance of the root: step to the safe side.
    sigma = math.exp(log_sigma) * (1 + 1e-12)
    while gaussian_delta(sigma, epsilon, 1.0) > delta:
        sigma *= 1 + 1e-12
    return sigma * l2_sensitivity


def gaussian_epsilon(mu: float, delta: float) -> float:
    """Exact ε(δ) of a μ-GDP Gaussian mechanism (noise multiplier ``1/μ``).

    The smallest ε with ``gaussian_delta(1/μ, ε) <= δ`` (Balle & Wang 2018,
    Theorem 8; δ decreases in ε), found by bisection and rounded up.
    """
    if mu <= 0:
        return 0.0
    sigma = 1.0 / mu
    if gaussian_delta(sigma, 0.0) <= delta:
        return 0.0
    high = 1.0
    while gaussian_delta(sigma, high) > delta:
        high *= 2.0
    epsilon = brentq(lambda e: gaussian_delta(sigma, e) - delta, 0.0, high, xtol=1e-14, rtol=1e-14)
    while gaussian_delta(sigma, epsilon) > delta:
        epsilon = math.nextafter(epsilon, math.inf)
    return epsilon


def rr_keep_probability(epsilon: float, n_categories: int) -> float:
    """Probability of keeping the true value in ε-DP k-ary randomized response.

    Keep with probability p, else draw uniformly from all k values: the output
    likelihood ratio is ``(p + (1-p)/k) / ((1-p)/k) = e^ε``, which gives
    ``p = (e^ε - 1) / (e^ε + k - 1)`` (Warner 1965; Kairouz et al. 2016).
    """
    epsilon = check_epsilon(epsilon)
    if n_categories < 2:
        return 1.0
    e = math.expm1(min(epsilon, 700.0))
    p = e / (e + n_categories)
    # Rounding must never spend more than epsilon: step down to a p that is safe
    # (for huge epsilon p stops just below 1, spending less than asked).
    while p >= 1.0 or rr_epsilon(p, n_categories) > epsilon:
        p = math.nextafter(p, 0.0)
    return p


def rr_epsilon(keep_probability: float, n_categories: int) -> float:
    """ε of k-ary randomized response with the given keep probability (inverse of above)."""
    p, k = keep_probability, n_categories
    return math.log1p(k * p / (1 - p))
