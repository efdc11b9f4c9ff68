"""The best membership-inference ROC that a differentially private release allows.

For an (epsilon, delta)-DP mechanism every membership test with false-positive rate
``a`` has true-positive rate at most
``min(1, e^eps * a + delta, 1 - e^-eps * (1 - delta - a))`` (Kairouz, Oh and Viswanath
2015, the hypothesis-testing view of DP). For a mechanism that is mu-Gaussian-DP (Dong,
Roth and Su 2022) the exact trade-off is ``Phi(Phi^-1(a) + mu)``; it is tighter than
any (epsilon, delta) pair derived from mu, so it is used whenever mu is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class PrivacyBound:
    """Upper bound on any membership attack's ROC curve for a spent privacy budget.

    Parameters
    ----------
    epsilon : float
        Spent epsilon (``>= 0``, may be ``inf``).
    delta : float
        Spent delta in ``[0, 1]``.
    mu : float or None
        Gaussian-DP parameter when every mechanism was Gaussian; when given, the
        Gaussian trade-off curve is used instead of the (epsilon, delta) one.
    """

    epsilon: float
    delta: float
    mu: float | None = None

    def __post_init__(self) -> None:
        if not (self.epsilon >= 0):  # also rejects NaN
            raise ValueError(f"privacy epsilon must be >= 0, got {self.epsilon!r}.")
        if not (0 <= self.delta <= 1):
            raise ValueError(f"privacy delta must be in [0, 1], got {self.delta!r}.")
        if self.mu is not None and not (self.mu >= 0):
            raise ValueError(f"privacy mu must be >= 0 or None, got {self.mu!r}.")

    @classmethod
    def from_privacy(cls, privacy: Any) -> PrivacyBound:
        """Build from a ``privacy_spent_``-like object or an ``(epsilon, delta)`` tuple.

        Parameters
        ----------
        privacy : object or tuple
            Either an object with ``epsilon``, ``delta`` and optionally ``mu``
            attributes (the sampler's ``privacy_spent_``), a ``(epsilon, delta)``
            pair, or a :class:`PrivacyBound`.

        Returns
        -------
        PrivacyBound
        """
        if isinstance(privacy, PrivacyBound):
            return privacy
        if isinstance(privacy, (tuple, list)):
            if len(privacy) != 2:
                raise ValueError(
                    "privacy given as a tuple must be (epsilon, delta); "
                    f"got {len(privacy)} values."
                )
            return cls(float(privacy[0]), float(privacy[1]), None)
        if hasattr(privacy, "epsilon") and hasattr(privacy, "delta"):
            mu = getattr(privacy, "mu", None)
            return cls(
                float(privacy.epsilon),
                float(privacy.delta),
                None if mu is None else float(mu),
            )
        raise TypeError(
            "privacy must be an object with .epsilon and .delta (e.g. a sampler's "
            f"privacy_spent_) or an (epsilon, delta) tuple; got {type(privacy).__name__}."
        )

    def tpr(self, fpr: float | np.ndarray) -> np.ndarray:
        """Largest true-positive rate any attack can reach at the given FPR.

        Parameters
        ----------
        fpr : float or array-like
            False-positive rates in ``[0, 1]``.

        Returns
        -------
        ndarray
            Bound on the true-positive rate, same shape as ``fpr``.
        """
        a = np.clip(np.asarray(fpr, dtype=float), 0.0, 1.0)
        if self.mu is not None:
            return norm.cdf(norm.ppf(a) + self.mu)
        if math.isinf(self.epsilon):
            return np.where(a > 0, 1.0, min(1.0, self.delta))
        e = math.exp(self.epsilon)
        upper = np.minimum(e * a + self.delta, 1.0 - (1.0 - self.delta - a) / e)
        return np.clip(upper, 0.0, 1.0)

    def roc(self, n_points: int = 512, log_spaced: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Bound ROC curve as ``(fpr, tpr)`` arrays, for plotting.

        Parameters
        ----------
        n_points : int, default=512
            Number of FPR values.
        log_spaced : bool, default=False
            Space the FPR values logarithmically from 1e-5 (for log-axis plots).

        Returns
        -------
        fpr, tpr : ndarray
        """
        if log_spaced:
            fpr = np.concatenate([[0.0], np.logspace(-5, 0, n_points - 1)])
        else:
            fpr = np.linspace(0.0, 1.0, n_points)
        return fpr, self.tpr(fpr)

    @property
    def auc(self) -> float:
        """Largest ROC AUC any attack can reach."""
        if self.mu is not None:
            return float(norm.cdf(self.mu / math.sqrt(2.0)))
        if math.isinf(self.epsilon):
            return 1.0
        # The (epsilon, delta) curve is piecewise linear with kinks at these FPRs,
        # so the trapezoid rule over them is exact.
        e = math.exp(self.epsilon)
        knots = np.array([0.0, (1.0 - self.delta) / (1.0 + e), 1.0 - self.delta, 1.0])
        tpr = self.tpr(knots)
        return float(np.sum(np.diff(knots) * (tpr[1:] + tpr[:-1]) / 2.0))

    @property
    def advantage(self) -> float:
        """Largest membership advantage ``max(TPR - FPR)`` any attack can reach."""
        if self.mu is not None:
            return float(2.0 * norm.cdf(self.mu / 2.0) - 1.0)
        if math.isinf(self.epsilon):
            return 1.0
        e = math.exp(self.epsilon)
        return float(min(1.0, (e - 1.0 + 2.0 * self.delta) / (e + 1.0)))
