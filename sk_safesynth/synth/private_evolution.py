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
Each record casts one vote, so replacing a record moves two counts of the histogram
by one: each round is discrete Gaussian noise on two moved counts, ``T`` rounds on
``2 T`` (:mod:`sk_safesynth.synth.votes`), accounted exactly with dp-accounting's
discrete Gaussian PLD; σ is calibrated so the ``T`` rounds spend the budget the fit
has left, and the ledger records each round. Embeddings of private text
are computed in-process (the default ``embedding_model=None``, a local hashing
vectorizer). Any ``embedding_model`` would receive private text, a release outside the
guarantee: ``fit`` refuses it with a ``ValueError`` before the votes spend anything and
before any text is sent, unless the client has ``allow_remote_embedding=True`` (then a
:class:`PrivacyLeakWarning`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from sk_safesynth.llm import GenerationTask
from sk_safesynth.synth.base import FitContext, GenerationMethod
from sk_safesynth.synth.encoding import VectorEncoder
from sk_safesynth.synth.pool import llm_pool
from sk_safesynth.synth.votes import as_probabilities, check_remote_embedding, nearest, noisy_votes, vote_sigma


class PrivateEvolution(GenerationMethod):
    """Private Evolution for tables: the LLM evolves public candidates by noisy votes.

    Parameters
    ----------
    population_size : int, default=60
        Candidates per round.
    n_rounds : int, default=2
        Rounds of voting (each a Gaussian mechanism; they share the budget).
    rows_per_call : int, default=10
        Rows asked for in one LLM call.
    threshold : float, default=0.0
        Noisy votes below ``threshold * sigma_`` count as zero.

    Attributes
    ----------
    sigma_ : float
        Noise standard deviation of each round's vote histogram.
    population_ : DataFrame
        The final candidates (DP outputs).
    weights_ : ndarray
        Their sampling weights, from the last noisy votes.
    """

    name = "private_evolution"
    _parameter_constraints: dict = {
        "population_size": [Interval(Integral, 2, None, closed="left")],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "rows_per_call": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, population_size=60, n_rounds=2, rows_per_call=10, threshold=0.0):
        self.population_size = population_size
        self.n_rounds = n_rounds
        self.rows_per_call = rows_per_call
        self.threshold = threshold

    def _fit(self, context: FitContext) -> None:
        schema, client, rng = context.schema, context.client, context.rng
        # before any spend or embedding call; with the opt-in, the release is not DP (the sampler says so)
        self.sent_private_text_ = check_remote_embedding(client, schema)
        encoder = VectorEncoder(schema, embed=client.embed)
        private = encoder.encode(context.frame[schema.names])
        sigma = vote_sigma(context.ledger, self.n_rounds)
        population = llm_pool(client, schema, self.population_size, rows_per_call=self.rows_per_call,
                              target=context.target, seed=context.public_seed)
        for round_ in range(self.n_rounds):
            votes = np.bincount(nearest(private, encoder.encode(population)), minlength=len(population))
            scores = noisy_votes(votes, sigma, self.threshold, context.ledger, round_, rng)
            if round_ == self.n_rounds - 1:
                break
            population = self._evolve(population, scores, client, rng)
        self.sigma_ = sigma
        self.population_ = population.reset_index(drop=True)
        self.weights_ = as_probabilities(scores)

    def _evolve(self, population: pd.DataFrame, scores: np.ndarray, client, rng) -> pd.DataFrame:
        """Keep the winners by noisy votes and add LLM variations of them."""
        n_keep = max(1, self.population_size // 2)
        winners = population.iloc[rng.choice(len(population), size=n_keep, replace=True, p=as_probabilities(scores))]
        n_new = self.population_size - n_keep
        shots = max(1, min(5, n_keep))
        tasks = []
        for start in range(0, n_new, self.rows_per_call):
            examples = winners.iloc[rng.choice(n_keep, size=shots, replace=False)]
            tasks.append(GenerationTask(examples=examples, n_rows=min(self.rows_per_call, n_new - start),
                                        hint="Write variations of these rows: similar, but not copies."))
        variations = client.generate(self.schema_, tasks, seed=int(rng.integers(0, 2**31 - 1))).rows
        return pd.concat([winners, variations], ignore_index=True)

    def _sample(self, n: int, client, rng) -> pd.DataFrame:
        index = rng.choice(len(self.population_), size=n, replace=True, p=self.weights_)
        return self.population_.iloc[index].reset_index(drop=True)
