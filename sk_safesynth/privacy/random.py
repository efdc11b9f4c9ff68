"""Random sources for noise: cryptographically secure by default.

``random_state=None`` gives a NumPy ``Generator`` driven by AES in counter mode
(:class:`randomgen.AESCounter`) keyed with 256 bits from the operating system's
CSPRNG (:func:`os.urandom`). Outputs of AES-CTR under a secret key are
computationally indistinguishable from uniform bits, so an attacker who sees
released values cannot predict or reconstruct the noise (which a Mersenne Twister
or PCG state would allow).

A fixed ``random_state`` (an int of any width, a ``Generator`` or a ``RandomState``)
gives PCG64 streams: reproducible, for research and tests, and **not secure** — anyone
who knows the seed can subtract the noise. :func:`release_generator` keeps a fixed seed
from ever reusing noise between two releases: the stream of a release is derived
(:class:`numpy.random.SeedSequence`) from the seed *and* a digest of the private data it
noises *and* a release counter, so refitting on the same rows reproduces a fit, while
two folds of a search (clones with the same seed on different rows) or two successive
``transform``/``sample`` calls draw unrelated noise. Differencing two releases then
cancels nothing. The digest is only ever used inside the process, as seed material;
it is never stored or released.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval


#: ``_parameter_constraints`` entry of a ``random_state`` parameter: None, an int of any
#: width (scikit-learn's own "random_state" stops at 2**32 - 1), a RandomState or a Generator.
RANDOM_STATE_CONSTRAINT: list = [
    None, Interval(Integral, 0, None, closed="left"), np.random.RandomState, np.random.Generator,
]


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


def seed_entropy(random_state) -> int:
    """Entropy of a fixed ``random_state``: the int itself (any width), or 256 bits drawn
    from a ``Generator``/``RandomState`` (which advances it)."""
    if isinstance(random_state, np.random.Generator):
        words = random_state.integers(0, 2**64, size=4, dtype=np.uint64)
    elif isinstance(random_state, np.random.RandomState):
        words = random_state.randint(0, 2**32, size=8, dtype=np.uint64)
    elif isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    else:
        raise TypeError(
            f"random_state must be None, an int, a numpy Generator or RandomState; got {type(random_state).__name__}"
        )
    return int.from_bytes(np.asarray(words, dtype=np.uint64).tobytes(), "little")


def data_digest(frame) -> int:
    """128-bit digest of a table's values and column names (seed material only; never stored)."""
    table = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(np.asarray(frame))
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(repr([str(c) for c in table.columns]).encode())
    hasher.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return int.from_bytes(hasher.digest(), "little")


def release_generator(random_state, data, release: int = 0, *,
                      digest: Callable[[], int] | None = None) -> np.random.Generator:
    """Noise generator of one release of ``data``.

    ``None`` gives a fresh :func:`secure_generator`. A fixed ``random_state`` gives a
    PCG64 stream keyed by the seed, a digest of ``data`` and the ``release`` counter
    (module docstring): the same fit reproduces, no two releases share noise.
    ``digest``, when given, computes that digest in place of :func:`data_digest` (a
    partitioned table hashes its rows on the workers); it is called only for a fixed seed.
    """
    if random_state is None:
        return secure_generator()
    entropy = seed_entropy(random_state)
    key = data_digest(data) if digest is None else digest()
    sequence = np.random.SeedSequence(entropy, spawn_key=(key, int(release)))
    return np.random.Generator(np.random.PCG64(sequence))
