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
    discrete_gaussian_event,
    gaussian_event,
    laplace_event,
    randomized_response_event,
)
from sk_safesynth.privacy.exact import discrete_gaussian_sigma, discrete_gaussian_tail
from sk_safesynth.privacy.random import make_generator, release_generator, secure_generator
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
    "discrete_gaussian_event",
    "discrete_gaussian_sigma",
    "discrete_gaussian_tail",
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
    "release_generator",
    "rr_epsilon",
    "rr_keep_probability",
    "secure_generator",
]
