"""``method="private_evolution"``: Private Evolution (Lin et al. ICLR 2024; Aug-PE,
Xie et al. ICML 2024, for text).

Algorithm
---------
1. The LLM writes an initial population from the public schema only (no cost).
2. For ``n_rounds`` rounds: every private record votes for its nearest candidate
   (numbers scaled by their bounds, categories one-hot, text by embeddings); the vote
   histogram gets discrete Gaussian noise; candidates are resampled by noisy votes
   (above a threshold) and the LLM writes variations of the winners, which are
   DP outputs and may be shown.
3. The final population, weighted by its last noisy votes, is the synthetic data.

Privacy
-------
Each record casts one vote, so replacing a record moves the histogram by at most
``sqrt(2)`` in L2 norm: each round is a Gaussian mechanism with noise multiplier
``σ_round / sqrt(2)``. ``T`` rounds compose to one Gaussian with multiplier
``σ_round / sqrt(2 T)``, so ``σ_round = sqrt(T) * σ(ε, δ, sqrt(2))`` spends exactly
(ε, δ); the ledger records the ``T`` events and checks it. Embeddings of private text
are computed in-process (the default local vectorizer) or, with a remote embedding
model, are a release: use a local ``embedding_model`` for private text.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from sk_safesynth.exceptions import PrivacyLeakWarning
from sk_safesynth.llm import GenerationTask
from sk_safesynth.privacy import analytic_gaussian_sigma, discrete_gaussian, gaussian_event
from sk_safesynth.synth.encoding import VectorEncoder
from sk_safesynth.synth.pool import llm_pool

_CHUNK = 4096


def nearest(private: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the nearest candidate (L2) for each private vector, in memory-bounded chunks."""
    c_sq = (candidates**2).sum(axis=1)
    out = np.empty(len(private), dtype=np.int64)
    for start in range(0, len(private), _CHUNK):
        block = private[start : start + _CHUNK]
        d = c_sq[None, :] - 2.0 * block @ candidates.T
        out[start : start + _CHUNK] = d.argmin(axis=1)
    return out


class PrivateEvolutionMethod:
    def __init__(self, *, population_size: int, n_rounds: int, rows_per_call: int, pool_seed: int,
                 threshold: float = 0.0):
        self.population_size = population_size
        self.n_rounds = n_rounds
        self.rows_per_call = rows_per_call
        self.pool_seed = pool_seed
        self.threshold = threshold

    def fit(self, frame: pd.DataFrame, schema, target, ledger, epsilon, delta, rng, client):
        self.schema = schema
        if client.embedding_model is not None and any(c.kind == "text" for c in schema):
            warnings.warn(
                f"private text is sent to the embedding model {client.embedding_model!r} to compute votes: "
                "that is a release outside the DP guarantee unless the model runs in this process",
                PrivacyLeakWarning,
                stacklevel=4,
            )
        encoder = VectorEncoder(schema, embed=client.embed)
        private = encoder.encode(frame[schema.names])
        sigma = analytic_gaussian_sigma(epsilon, delta, l2_sensitivity=math.sqrt(2)) * math.sqrt(self.n_rounds)
        population = llm_pool(client, schema, self.population_size, rows_per_call=self.rows_per_call,
                              target=target, seed=self.pool_seed)
        for round_ in range(self.n_rounds):
            ledger.spend(gaussian_event(sigma, math.sqrt(2)), f"Private Evolution vote, round {round_ + 1}")
            votes = np.bincount(nearest(private, encoder.encode(population)), minlength=len(population))
            noisy = (votes + discrete_gaussian(sigma, len(votes), rng)).astype(float)
            scores = np.clip(noisy - self.threshold * sigma, 0, None)
            if round_ == self.n_rounds - 1:
                break
            population = self._evolve(population, scores, client, rng)
        self.sigma_ = sigma
        self.population_ = population.reset_index(drop=True)
        self.weights_ = scores / scores.sum() if scores.sum() > 0 else np.full(len(scores), 1.0 / len(scores))
        return self

    def _evolve(self, population: pd.DataFrame, scores: np.ndarray, client, rng) -> pd.DataFrame:
        """Keep the winners by noisy votes and add LLM variations of them."""
        p = scores / scores.sum() if scores.sum() > 0 else np.full(len(scores), 1.0 / len(scores))
        n_keep = max(1, self.population_size // 2)
        winners = population.iloc[rng.choice(len(population), size=n_keep, replace=True, p=p)]
        n_new = self.population_size - n_keep
        shots = max(1, min(5, n_keep))
        tasks = []
        for start in range(0, n_new, self.rows_per_call):
            examples = winners.iloc[rng.choice(n_keep, size=shots, replace=False)]
            tasks.append(GenerationTask(examples=examples, n_rows=min(self.rows_per_call, n_new - start),
                                        hint="Write variations of these rows: similar, but not copies."))
        variations = client.generate(self.schema, tasks, seed=int(rng.integers(0, 2**31 - 1))).rows
        return pd.concat([winners, variations], ignore_index=True)

    def sample(self, n: int, client, rng) -> pd.DataFrame:
        index = rng.choice(len(self.population_), size=n, replace=True, p=self.weights_)
        return self.population_.iloc[index].reset_index(drop=True)
