"""Floating-point-safe noise: discrete Laplace and discrete Gaussian on a lattice.

Adding floating-point Laplace or Gaussian noise to a float leaks the input through
the low-order bits of the result (Mironov, CCS 2012). We never do that. Instead
(Canonne, Kamath & Steinke, NeurIPS 2020, "The Discrete Gaussian for Differential
Privacy"):

1. values are mapped (by public bounds) to the unit interval and rounded to a
   lattice ``gamma * Z`` with ``gamma = 2**-k``, so a record is a vector of integers;
2. integer noise is drawn from the discrete Laplace or discrete Gaussian
   distribution and added in exact integer arithmetic;
3. the noisy integers are the released DP output; converting them back to floats is
   post-processing and cannot weaken the guarantee.

The samplers are vectorised NumPy versions of CKS Algorithms 1-3: a discrete Laplace
draw is sign x geometric with the (negative, zero) pair rejected, and a discrete
Gaussian draw is a discrete Laplace proposal accepted with probability
``exp(-(|y| - sigma**2/t)**2 / (2 sigma**2))``, tested as ``E > cost`` with ``E`` a
standard exponential. Geometric variables come from ``floor`` of exponential
variables, so probabilities are exact up to double rounding (relative error ~1e-16), far
below anything a privacy analysis at the epsilons used here can see.
"""

from __future__ import annotations

import math

import numpy as np

# The lattice is 2**LATTICE_BITS times finer than the noise scale: discretisation
# then changes the noise distribution by less than one part in a million.
LATTICE_BITS = 20
_MAX_EXPONENT = 52  # keeps unit-interval lattice indices far inside int64


def lattice_exponent(scale: float) -> int:
    """Exponent ``k`` of the lattice ``2**-k`` for noise of the given scale (unit-interval units)."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"noise scale must be positive and finite, got {scale}")
    k = math.ceil(-math.log2(scale)) + LATTICE_BITS
    return int(min(max(k, LATTICE_BITS), _MAX_EXPONENT))


def discrete_laplace(t: float, size, rng: np.random.Generator) -> np.ndarray:
    """Draw from the discrete Laplace distribution ``P(z) ∝ exp(-|z|/t)`` on the integers."""
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"discrete Laplace scale must be positive and finite, got {t}")
    n = int(np.prod(size))
    out = np.empty(n, dtype=np.int64)
    filled = 0
    while filled < n:
        m = n - filled
        magnitude = np.floor(rng.standard_exponential(m) * t).astype(np.int64)
        negative = rng.integers(0, 2, size=m, dtype=np.int8).astype(bool)
        # (negative, 0) would count zero twice: reject it, as in CKS Algorithm 2.
        keep = ~(negative & (magnitude == 0))
        values = np.where(negative, -magnitude, magnitude)[keep]
        out[filled : filled + len(values)] = values
        filled += len(values)
    return out.reshape(size)


def discrete_gaussian(sigma: float, size, rng: np.random.Generator) -> np.ndarray:
    """Draw from the discrete Gaussian ``P(z) ∝ exp(-z**2 / (2 sigma**2))`` on the integers."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"discrete Gaussian sigma must be positive and finite, got {sigma}")
    n = int(np.prod(size))
    t = math.floor(sigma) + 1
    sigma2 = sigma * sigma
    out = np.empty(n, dtype=np.int64)
    filled = 0
    while filled < n:
        # Acceptance is about 0.7-0.8 for sigma >= 1; overdraw to need ~1 extra round.
        m = int((n - filled) * 1.4) + 16
        y = discrete_laplace(t, m, rng)
        # accept with probability exp(-c), c = (|y| - sigma^2/t)^2 / (2 sigma^2):
        # P(E > c) = exp(-c) for a standard exponential E (ziggurat: no log needed)
        cost = (np.abs(y) - sigma2 / t) ** 2 / (2.0 * sigma2)
        accepted = y[rng.standard_exponential(m) > cost]
        take = min(len(accepted), n - filled)
        out[filled : filled + take] = accepted[:take]
        filled += take
    return out.reshape(size)


def lattice_noise(unit_values: np.ndarray, scale: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Noise values in [0, 1] on a lattice and return noisy floats (unit-interval units).

    Parameters
    ----------
    unit_values : ndarray of float in [0, 1]
        Clipped values already mapped to the unit interval by public bounds.
    scale : float
        Laplace scale ``b`` or Gaussian ``sigma`` in unit-interval units.
    kind : {"laplace", "gaussian"}
    rng : numpy Generator

    Returns
    -------
    ndarray of float
        ``(index + noise) * 2**-k``: the DP output, exactly representable.
    """
    k = lattice_exponent(scale)
    resolution = float(2**k)
    index = np.rint(unit_values * resolution).astype(np.int64)
    noise_scale = scale * resolution
    if kind == "laplace":
        noise = discrete_laplace(noise_scale, index.shape, rng)
    elif kind == "gaussian":
        noise = discrete_gaussian(noise_scale, index.shape, rng)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return (index + noise).astype(np.float64) / resolution


def randomized_response(codes: np.ndarray, n_categories: int, keep_probability: float,
                        rng: np.random.Generator) -> np.ndarray:
    """k-ary randomized response on integer category codes in ``[0, n_categories)``.

    Each code is kept with probability ``keep_probability`` and otherwise replaced by
    a uniform draw from all ``n_categories`` codes (dp-accounting's
    ``RandomizedResponseDpEvent`` with ``noise_parameter = 1 - keep_probability``).
    Codes equal to ``-1`` (unknown values) are always replaced by a uniform draw.
    """
    codes = np.asarray(codes, dtype=np.int64)
    replace = rng.random(codes.shape) >= keep_probability
    replace |= codes < 0
    uniform = rng.integers(0, n_categories, size=codes.shape, dtype=np.int64)
    return np.where(replace, uniform, codes)
