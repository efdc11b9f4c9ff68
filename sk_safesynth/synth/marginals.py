"""``method="marginals"``: noisy marginals + a reweighted, privacy-free candidate pool.

Privacy
-------
With a target column the measured queries are the 2-way marginals (target, f) for
every other non-text column f; without one, every 1-way marginal and the 2-way
marginals of neighbouring columns. Each record adds one to one cell of each of the
``M`` marginals, so replacing a record moves at most ``2 M`` counts, each by one. The
counts get discrete Gaussian noise, recorded as one
:class:`~sk_safesynth.privacy.ledger.DiscreteGaussianDpEvent` with ``2 M`` coordinates
and accounted exactly with dp-accounting's discrete Gaussian PLD; σ is calibrated
against the fit's ledger so the measurement spends all the budget left.

Everything after the measurement is post-processing: the candidate pool (the LLM,
schema only, plus rows drawn independently from the noisy 1-way marginals) is
reweighted by iterative proportional fitting to the noisy marginals (as PMW-Pub,
Liu et al. 2021, reweights public data), and synthetic rows are drawn by weight.
The LLM step is privacy-free, so it is cached and shared across folds and epsilons.
Text columns are written afterwards, each text a document under its row's
categorical values (:func:`~sk_safesynth.synth.documents.write_text`).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from sk_safesynth.privacy import discrete_gaussian, discrete_gaussian_event
from sk_safesynth.schema import TableSchema
from sk_safesynth.synth.base import FitContext, GenerationMethod
from sk_safesynth.synth.documents import write_text
from sk_safesynth.synth.encoding import Discretizer
from sk_safesynth.synth.pool import llm_pool

_IPF_ITERATIONS = 40
_PSEUDO_COUNT = 1.0


def _normalise(table: np.ndarray) -> np.ndarray:
    return table / table.sum()


class Marginals(GenerationMethod):
    """Noisy marginals, and a candidate pool reweighted to them (the default for tables).

    Parameters
    ----------
    n_bins : int, default=16
        Equal-width bins per numeric column over its public bounds.
    pool_size : int, default=200
        LLM-written candidate rows from the public schema (privacy-free, cached).
    n_independent : int, default=20000
        Candidates drawn from the noisy 1-way marginals.
    rows_per_call : int, default=10
        Rows asked for in one LLM call.

    Attributes
    ----------
    sigma_ : float
        Standard deviation of the discrete Gaussian noise on every count.
    marginals_ : dict
        Noisy count tables keyed by column-index tuples (DP outputs).
    discretizer_ : Discretizer
        Public bins and categories of every non-text column.
    """

    name = "marginals"
    _parameter_constraints: dict = {
        "n_bins": [Interval(Integral, 2, None, closed="left")],
        "pool_size": [Interval(Integral, 0, None, closed="left")],
        "n_independent": [Interval(Integral, 0, None, closed="left")],
        "rows_per_call": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_bins=16, pool_size=200, n_independent=20000, rows_per_call=10):
        self.n_bins = n_bins
        self.pool_size = pool_size
        self.n_independent = n_independent
        self.rows_per_call = rows_per_call

    def check_schema(self, schema) -> None:
        if all(c.kind == "text" for c in schema):
            raise ValueError("method='marginals' needs at least one non-text column")

    def _fit(self, context: FitContext) -> None:
        target = context.target
        self.discretizer_ = Discretizer(context.schema, self.n_bins)
        self.public_seed_ = context.public_seed
        names = self.discretizer_.names
        if target is not None and target in names:
            t = names.index(target)
            queries: list[tuple[int, ...]] = [(t, j) for j in range(len(names)) if j != t] or [(t,)]
        else:
            queries = [(j,) for j in range(len(names))] + [(j, j + 1) for j in range(len(names) - 1)]
        moved = 2 * len(queries)  # counts one replaced record moves
        sigma = context.ledger.calibrate(lambda s: discrete_gaussian_event(s, moved))
        context.ledger.spend(discrete_gaussian_event(sigma, moved), f"Gaussian marginals ({len(queries)} queries)")
        codes = self.discretizer_.encode(context.frame)
        self.sigma_ = sigma
        self.marginals_ = {}
        for query in queries:
            counts = self._counts(codes, query, np.ones(len(codes)))
            noisy = counts + discrete_gaussian(sigma, counts.shape, context.rng)
            self.marginals_[query] = noisy.astype(float)

    def _shape(self, query) -> tuple[int, ...]:
        return tuple(self.discretizer_.n_levels(self.discretizer_.names[j]) for j in query)

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
        if self.target_ is None or self.target_ not in self.discretizer_.names:
            return {q: _normalise(np.clip(t, 0, None) + _PSEUDO_COUNT) for q, t in self.marginals_.items()}
        t = self.discretizer_.names.index(self.target_)
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
        codes = np.empty((n, len(self.discretizer_.names)), dtype=np.int64)
        for j in range(len(self.discretizer_.names)):
            p = self._one_way(j, tables)
            codes[:, j] = rng.choice(len(p), size=n, p=p / p.sum())
        return self.discretizer_.decode(codes, rng)

    def candidate_pool(self, client, tables: dict, rng) -> pd.DataFrame:
        """LLM-written candidates (public schema only) and draws from the noisy 1-way marginals."""
        structured = TableSchema(tuple(c for c in self.schema_ if c.kind != "text"))
        parts = []
        if self.pool_size:
            parts.append(llm_pool(client, structured, self.pool_size, rows_per_call=self.rows_per_call,
                                  target=self.target_, seed=self.public_seed_))
        if self.n_independent:
            parts.append(self._independent_candidates(self.n_independent, tables, rng))
        if not parts:
            raise ValueError("the candidate pool is empty: set pool_size > 0 or n_independent > 0")
        pool = pd.concat(parts, ignore_index=True)
        return structured.coerce(pool[structured.names])

    def weights(self, pool: pd.DataFrame, targets: dict) -> np.ndarray:
        """Iterative proportional fitting of pool weights to the estimated tables."""
        codes = self.discretizer_.encode(pool)
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

    def _sample(self, n: int, client, rng) -> pd.DataFrame:
        tables = self.distributions()
        pool = self.candidate_pool(client, tables, rng)
        w = self.weights(pool, tables)
        index = rng.choice(len(pool), size=n, replace=True, p=w)
        rows = pool.iloc[index].reset_index(drop=True)
        return write_text(client, self.schema_, rows, seed=int(rng.integers(0, 2**31 - 1)))
