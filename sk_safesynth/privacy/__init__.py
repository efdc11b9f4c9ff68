"""Differential privacy primitives: secure noise, calibration and the privacy ledger."""

from sk_safesynth.privacy.calibration import (
    analytic_gaussian_sigma,
    gaussian_delta,
    gaussian_epsilon,
    laplace_scale,
    rr_epsilon,
    rr_keep_probability,
)
from sk_safesynth.privacy.ledger import (
    PrivacyLedger,
    PrivacySpent,
    gaussian_event,
    laplace_event,
    randomized_response_event,
)
from sk_safesynth.privacy.random import make_generator, secure_generator
from sk_safesynth.privacy.samplers import (
    discrete_gaussian,
    discrete_laplace,
    lattice_noise,
    randomized_response,
)

__all__ = [
    "PrivacyLedger",
    "PrivacySpent",
    "analytic_gaussian_sigma",
    "discrete_gaussian",
    "discrete_laplace",
    "gaussian_delta",
    "gaussian_epsilon",
    "gaussian_event",
    "laplace_event",
    "laplace_scale",
    "lattice_noise",
    "make_generator",
    "randomized_response",
    "randomized_response_event",
    "rr_epsilon",
    "rr_keep_probability",
    "secure_generator",
]
