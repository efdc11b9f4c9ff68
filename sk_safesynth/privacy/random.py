"""Random sources for noise: cryptographically secure by default.

``random_state=None`` gives a NumPy ``Generator`` driven by AES in counter mode
(:class:`randomgen.AESCounter`) keyed with 256 bits from the operating system's
CSPRNG (:func:`os.urandom`). Outputs of AES-CTR under a secret key are
computationally indistinguishable from uniform bits, so an attacker who sees
released values cannot predict or reconstruct the noise (which a Mersenne Twister
or PCG state would allow).

A fixed ``random_state`` (an int, a ``Generator`` or a ``RandomState``) gives a
PCG64 stream: reproducible, for research and tests, and **not secure** — anyone
who knows the seed can subtract the noise.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np


def secure_generator() -> np.random.Generator:
    """A NumPy Generator over AES-CTR keyed from ``os.urandom`` (CSPRNG)."""
    from randomgen import AESCounter

    key = int.from_bytes(os.urandom(32), "little")
    return np.random.Generator(AESCounter(seed=key))


def make_generator(random_state) -> np.random.Generator:
    """Turn a ``random_state`` parameter into a Generator.

    ``None`` gives :func:`secure_generator`; an int or a NumPy random object gives a
    reproducible (not secure) PCG64 generator.
    """
    if random_state is None:
        return secure_generator()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1, size=4))
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or RandomState; got {type(random_state).__name__}"
    )
