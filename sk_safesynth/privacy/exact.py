"""Calibration of discrete Gaussian noise against the exact accountant.

The counts of this package (marginal tables, category counts, votes) get discrete
Gaussian noise (:func:`~sk_safesynth.privacy.samplers.discrete_gaussian`). Calibrating
it as if it were continuous (the analytic Gaussian mechanism) understates δ at small σ
(one table at ε≈10: δ 2.2e-5 for a claimed 1e-5). Here σ is found by bisection against
the ledger's own accounting of the discrete Gaussian (dp-accounting's discrete
Gaussian PLD), so the claimed (ε, δ) holds for the noise actually drawn.
"""

from __future__ import annotations

import math

import numpy as np

from sk_safesynth.privacy.calibration import check_delta, check_epsilon
from sk_safesynth.privacy.ledger import PrivacyLedger, discrete_gaussian_event

# Terms of the discrete Gaussian pmf beyond this many sigmas are below 1e-340: zero in doubles.
_TAIL_SIGMAS = 40
# Rounding margin so that a computed tail is never below the true one.
_ROUNDING = 1e-12


def discrete_gaussian_sigma(epsilon: float, delta: float, n_coordinates: int, sensitivity: int = 1) -> float:
    """Smallest σ of discrete Gaussian noise on counts that makes them (ε, δ)-DP.

    Replacing one record moves at most ``n_coordinates`` counts, each by at most
    ``sensitivity``; see :class:`~sk_safesynth.privacy.ledger.DiscreteGaussianDpEvent`.

    Examples
    --------
    >>> from sk_safesynth.privacy import discrete_gaussian_sigma
    >>> round(discrete_gaussian_sigma(1.0, 1e-5, n_coordinates=2), 2)
    5.28
    """
    ledger = PrivacyLedger(check_epsilon(epsilon), check_delta(delta))
    return ledger.calibrate(lambda sigma: discrete_gaussian_event(sigma, n_coordinates, sensitivity))


def discrete_gaussian_tail(sigma: float, k: int) -> float:
    """``P(Z >= k)`` for ``Z`` discrete Gaussian with parameter ``sigma`` (exact sum, rounded up)."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be positive and finite, got {sigma}")
    width = int(math.ceil(_TAIL_SIGMAS * sigma)) + 1
    support = np.arange(-width, width + 1, dtype=np.float64)
    weights = np.exp(-(support**2) / (2.0 * sigma * sigma))
    tail = math.fsum(weights[support >= k]) / math.fsum(weights)
    return min(1.0, tail * (1 + _ROUNDING))
