"""Noisy nearest-candidate votes: the DP step shared by the Private Evolution methods.

Each private record casts one vote, for its nearest candidate. Replacing a record
moves one vote from one candidate to another: two counts change by one, whatever the
number of candidates. The counts get discrete Gaussian noise, so each round is a
:class:`~sk_safesynth.privacy.ledger.DiscreteGaussianDpEvent` with two coordinates,
accounted exactly by dp-accounting's discrete Gaussian PLD; ``T`` rounds are ``2 T``
coordinates. σ is calibrated against the fit's ledger so that the rounds spend all of
the budget still left (:meth:`~sk_safesynth.privacy.PrivacyLedger.calibrate`); the
ledger records each round before its votes are released.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from sk_safesynth.exceptions import PrivacyLeakWarning
from sk_safesynth.privacy import PrivacyLedger, discrete_gaussian, discrete_gaussian_event

_CHUNK = 4096
VOTE_SENSITIVITY = math.sqrt(2.0)  # L2 norm of one replaced vote


def nearest(private: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the nearest candidate (L2) for each private vector, in memory-bounded chunks."""
    c_sq = (candidates**2).sum(axis=1)
    out = np.empty(len(private), dtype=np.int64)
    for start in range(0, len(private), _CHUNK):
        block = private[start : start + _CHUNK]
        d = c_sq[None, :] - 2.0 * block @ candidates.T
        out[start : start + _CHUNK] = d.argmin(axis=1)
    return out


def vote_event(sigma: float, n_rounds: int = 1):
    """Event of ``n_rounds`` vote histograms with discrete Gaussian noise ``sigma``."""
    return discrete_gaussian_event(sigma, n_coordinates=2 * n_rounds)


def vote_sigma(ledger: PrivacyLedger, n_rounds: int) -> float:
    """Noise of each of ``n_rounds`` vote histograms so that together they spend what ``ledger`` has left."""
    return ledger.calibrate(lambda sigma: vote_event(sigma, n_rounds))


def noisy_votes(votes: np.ndarray, sigma: float, threshold: float, ledger: PrivacyLedger, round_: int,
                rng: np.random.Generator, what: str = "Private Evolution vote") -> np.ndarray:
    """Record one round in ``ledger`` (as ``what``, round ``round_ + 1``), then release ``votes``
    + discrete Gaussian noise.

    Returns the scores: noisy votes less ``threshold * sigma``, clipped at zero.
    """
    ledger.spend(vote_event(sigma), f"{what}, round {round_ + 1}")
    noisy = (votes + discrete_gaussian(sigma, len(votes), rng)).astype(float)
    return np.clip(noisy - threshold * sigma, 0, None)


def as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Scores normalised to sum to one (uniform when every score is zero)."""
    total = scores.sum()
    return scores / total if total > 0 else np.full(len(scores), 1.0 / len(scores))


def check_remote_embedding(client, schema) -> bool:
    """Refuse to send private text to an embedding model outside this process, unless opted in.

    Private text is embedded only when the (public) schema has a text column and the
    client has an ``embedding_model`` (None is the local hashing vectorizer). That is a
    release outside the DP guarantee: a ``ValueError`` unless the client was built with
    ``allow_remote_embedding=True``, then a :class:`PrivacyLeakWarning`. Call it before
    anything is spent; it depends on the schema and the client only. Returns whether
    private text will be sent.
    """
    texts = [c.name for c in schema if c.kind == "text"]
    if client.embedding_model is None or not texts:
        return False
    if not getattr(client, "allow_remote_embedding", False):
        raise ValueError(
            f"embedding_model={client.embedding_model!r} would receive the private text of {texts} to compute "
            "votes: a release outside the DP guarantee. Leave embedding_model=None (a local hashing vectorizer "
            "that sends nothing), or opt in by name with llm_kwargs={'embedding_model': ..., "
            "'allow_remote_embedding': True} (LLMClient(allow_remote_embedding=True))"
        )
    warnings.warn(
        f"private text of {texts} is sent to the embedding model {client.embedding_model!r} to compute votes "
        "(allow_remote_embedding=True): that is a release outside the DP guarantee, so the fit reports "
        "privacy_spent_.epsilon as inf (its ledger still holds what the mechanisms spent)",
        PrivacyLeakWarning,
        stacklevel=5,
    )
    return True
