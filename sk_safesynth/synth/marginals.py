"""``method="marginals"``: noisy marginals + a reweighted, privacy-free candidate pool.

Privacy
-------
With a target column the measured queries are the 2-way marginals (target, f) for
every other non-text column f; without one, every 1-way marginal and the 2-way
marginals of neighbouring columns. Each record adds one to one cell of each of the
``M`` marginals, so replacing a record moves the concatenated count vector by at most
``sqrt(2 M)`` in L2 norm. Discrete Gaussian noise with σ from the analytic Gaussian
mechanism for that sensitivity makes the whole measurement (ε, δ)-DP (one
``GaussianDpEvent`` in the ledger).

Everything after the measurement is post-processing: the candidate pool (the LLM,
schema only, plus rows drawn independently from the noisy 1-way marginals) is
reweighted by iterative proportional fitting to the noisy marginals (as PMW-Pub,
Liu et al. 2021, reweights public data), and synthetic rows are drawn by weight.
The LLM step is privacy-free, so it is cached and shared across folds and epsilons.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sk_safesynth.privacy import PrivacyLedger, analytic_gaussian_sigma, discrete_gaussian, gaussian_event
from sk_safesynth.synth.encoding import Discretizer
from sk_safesynth.synth.pool import llm_pool

_IPF_ITERATIONS = 40
_PSEUDO_COUNT = 1.0


def _normalise(table: np.ndarray) -> np.ndarray:
    return table / table.sum()


class MarginalsMethod:
    """State of a fitted marginals synthesizer: public discretizer and noisy counts only."""

    def __init__(self, *, n_bins: int, pool_size: int, n_independent: int, rows_per_call: int, pool_seed: int):
        self.n_bins = n_bins
        self.pool_size = pool_size
        self.n_independent = n_independent
        self.rows_per_call = rows_per_call
        self.pool_seed = pool_seed

    def fit(self, frame: pd.DataFrame, schema, target, ledger: PrivacyLedger, epsilon, delta, rng):
        self.schema = schema
        self.target = target
        self.discretizer = Discretizer(schema, self.n_bins)
        names = self.discretizer.names
        if not names:
            raise ValueError("method='marginals' needs at least one non-text column")
        if target is not None and target in names:
            t = names.index(target)
            queries = [(t, j) for j in range(len(names)) if j != t] or [(t,)]
        else:
            queries = [(j,) for j in range(len(names))] + [(j, j + 1) for j in range(len(names) - 1)]
        sensitivity = math.sqrt(2 * len(queries))
        sigma = analytic_gaussian_sigma(epsilon, delta, l2_sensitivity=sensitivity)
        ledger.spend(gaussian_event(sigma, sensitivity), f"Gaussian marginals ({len(queries)} queries)")
        codes = self.discretizer.encode(frame)
        self.sigma_ = sigma
        self.marginals_ = {}
        for query in queries:
            counts = self._counts(codes, query, np.ones(len(codes)))
            noisy = counts + discrete_gaussian(sigma, counts.shape, rng)
            self.marginals_[query] = noisy.astype(float)
        return self

    def _shape(self, query) -> tuple[int, ...]:
        return tuple(self.discretizer.n_levels(self.discretizer.names[j]) for j in query)

    def _counts(self, codes: np.ndarray, query, weights: np.ndarray) -> np.ndarray:
        shape = self._shape(query)
        sub = codes[:, list(query)]
        valid = (sub >= 0).all(axis=1)
        flat = np.ravel_multi_index(tuple(sub[valid].T), shape)
        return np.bincount(flat, weights=weights[valid], minlength=int(np.prod(shape))).reshape(shape)

    def distributions(self) -> dict[tuple, np.ndarray]:
        """Consistent probability tables estimated from the noisy counts (post-processing).

        With a target, every measured table (target, f) implies a noisy target
        marginal; they are pooled by inverse variance (a table over ``k`` levels of f
        sums ``k`` noisy cells), so the class shares use all the measurements, and each
        table becomes ``P(target) * P(f | target)``. All tables then agree on the target
        marginal and no class is lost because one noisy table clipped it to zero.
        Negative counts are clipped and one pseudo-count per cell keeps every cell
        reachable.
        """
        if self.target is None or self.target not in self.discretizer.names:
            return {q: _normalise(np.clip(t, 0, None) + _PSEUDO_COUNT) for q, t in self.marginals_.items()}
        t = self.discretizer.names.index(self.target)
        two_way = [table for table in self.marginals_.values() if table.ndim == 2]  # axis 0 is the target
        if two_way:
            weights = [1.0 / table.shape[1] for table in two_way]
            pooled = sum(w * table.sum(axis=1) for w, table in zip(weights, two_way)) / sum(weights)
        else:
            pooled = self.marginals_[(t,)]
        prior = _normalise(np.clip(pooled, 0, None) + _PSEUDO_COUNT)
        out = {}
        for query, table in self.marginals_.items():
            if table.ndim == 1:
                out[query] = prior
                continue
            conditional = np.clip(table, 0, None) + _PSEUDO_COUNT
            out[query] = prior[:, None] * conditional / conditional.sum(axis=1, keepdims=True)
        return out

    def _one_way(self, j: int, tables: dict) -> np.ndarray:
        """Marginal distribution of column j from the first table that holds it."""
        for query, table in tables.items():
            if j in query:
                return table.sum(axis=tuple(a for a, k in enumerate(query) if k != j))
        raise KeyError(j)

    def _independent_candidates(self, n: int, tables: dict, rng) -> pd.DataFrame:
        codes = np.empty((n, len(self.discretizer.names)), dtype=np.int64)
        for j in range(len(self.discretizer.names)):
            p = self._one_way(j, tables)
            codes[:, j] = rng.choice(len(p), size=n, p=p / p.sum())
        return self.discretizer.decode(codes, rng)

    def candidate_pool(self, client, tables: dict, rng) -> pd.DataFrame:
        has_text = any(c.kind == "text" for c in self.schema)
        parts = []
        if self.pool_size:
            parts.append(llm_pool(client, self.schema, self.pool_size, rows_per_call=self.rows_per_call,
                                  target=self.target, seed=self.pool_seed))
        if not has_text and self.n_independent:
            parts.append(self._independent_candidates(self.n_independent, tables, rng))
        if not parts:
            raise ValueError("the candidate pool is empty: set pool_size > 0 (text columns need LLM candidates)")
        pool = pd.concat(parts, ignore_index=True)
        return self.schema.coerce(pool[self.schema.names])

    def weights(self, pool: pd.DataFrame, targets: dict) -> np.ndarray:
        """Iterative proportional fitting of pool weights to the estimated tables."""
        codes = self.discretizer.encode(pool)
        w = np.full(len(pool), 1.0 / len(pool))
        for _ in range(_IPF_ITERATIONS):
            for query, target in targets.items():
                sub = codes[:, list(query)]
                flat = np.ravel_multi_index(tuple(sub.T), target.shape)
                current = np.bincount(flat, weights=w, minlength=target.size)
                ratio = np.divide(target.ravel(), current, out=np.zeros_like(current), where=current > 0)
                w = w * ratio[flat]
                total = w.sum()
                if total <= 0:  # every candidate fell in zero-count cells: start over uniform
                    w = np.full(len(pool), 1.0 / len(pool))
                else:
                    w /= total
        return w

    def sample(self, n: int, client, rng) -> pd.DataFrame:
        tables = self.distributions()
        pool = self.candidate_pool(client, tables, rng)
        w = self.weights(pool, tables)
        index = rng.choice(len(pool), size=n, replace=True, p=w)
        return pool.iloc[index].reset_index(drop=True)
