"""``method="marginals"``: select, measure, estimate, sample — a tree of noisy 3-way marginals.

Structure
---------
The target column (the *anchor*; a constant without a target) is in every measured
table, and the other columns are joined by a spanning tree chosen with DP, so the
released model is ``P(target) P(root | target) Π P(child | target, parent)`` — a
tree-augmented naive Bayes shape (Friedman, Geiger & Goldszmidt 1997) fitted the
way MST fits its tree (McKenna, Miklau & Sheldon 2021), with the target added to
every clique. It keeps the (target, feature) tables that TSTR needs and the feature
pairs that carry the structure between columns (education ↔ education-num).

Privacy
-------
Three Gaussian mechanisms (:mod:`sk_safesynth.synth.measurement`), one ledger,
replace-one neighbours, sensitivities from what one record touches. What is measured
is planned first from public facts only — the record count, the number of classes and
columns, the budget (:mod:`sk_safesynth.synth.plan`):

1. the (target, column) tables of every column, on the full domain; a numeric column
   in as many equal-width bins as the budget resolves (at most ``n_bins``) and, where
   the plan can afford it, on its fine grid (one cell per value for integers,
   ``fine_bins`` cells otherwise);
2. when the plan measures cliques: the noisy L1 distance, for every column pair,
   between its (target, i, j) table and what step 1 predicts without the pair; the
   maximum spanning tree over them is post-processing;
3. the (target, child, parent) table of every tree edge, with levels that step 1 shows
   to be rarer than three noise standard deviations merged into one (post-processing
   of step 1, as MST compresses domains).

A table too small for cliques at its budget spends everything on step 1 and is
released as naive Bayes (every column a root given the target). The exact counts of
every step come from one pass over the encoded rows
(:func:`~sk_safesynth.synth.counting.count_tables`, in one piece or partition by
partition on dask, docs/large-tables.md: the same sums either way): the pair tables are
counted on the plan's cells beside step 1's tables and summed to merged levels for steps
2 and 3.
The three compose exactly into one Gaussian mechanism with ``μ² = μ₁² + μ₂² + μ₃²``;
the shares of ``μ²`` are parameters and the whole ``(ε, δ)`` is spent. Estimation and
sampling (:mod:`sk_safesynth.synth.tree_model`) and the optional LLM candidate pool
(reweighted to the fitted marginals by iterative proportional fitting, as PMW-Pub,
Liu et al. 2021, reweights public data) are post-processing; a sampled range is
decoded to a fine cell by step 1's fine table: its point masses above the noise and
an even spread elsewhere (:func:`~sk_safesynth.synth.tree_model.fine_density`). Text
columns are written
afterwards, each a document under its row's values
(:func:`~sk_safesynth.synth.documents.write_text`).
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
from itertools import combinations
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from sk_safesynth.privacy import gaussian_event
from sk_safesynth.schema import TableSchema
from sk_safesynth.synth import pgm
from sk_safesynth.synth.base import FitContext, GenerationMethod
from sk_safesynth.synth.documents import write_text
from sk_safesynth.synth.encoding import Discretizer
from sk_safesynth.synth.counting import Axis, as_rows, count_tables
from sk_safesynth.synth.measurement import measure_tables, select_tree
from sk_safesynth.synth.pool import llm_pool
from sk_safesynth.synth.plan import plan_measurements
from sk_safesynth.synth.tree_model import (
    detection_threshold,
    fine_density,
    fit_tree_model,
    pooled_marginals,
    project_simplex,
)

_IPF_ITERATIONS = 40
# Reweighting stops early when a sweep lowers the largest clique TVD by less than this: candidates
# cannot reach some cells, so the TVD levels off above zero (on Adult at eps=1, after about 8 sweeps).
_IPF_TOLERANCE = 1e-4
# Share of mu^2 that releases the record count under add/remove neighbours (the plan's input).
_COUNT_SHARE = 0.01
# A level is merged for the clique tables when step 1 estimates it below this many
# standard deviations of the clique noise.
_MERGE_THRESHOLD = 3.0
# extra_pairs="auto": pairs are added while a clique cell's noise std stays below n / this
_NOISE_PER_RECORD = 1000.0
# extra_pairs="auto": at most this many extra pairs per column (bounds the time of reweighting)
_EXTRA_PER_COLUMN = 3
# Rows resampled from one pool of model draws (and LLM candidates) at a time.
_CHUNK_ROWS = 100_000
# Cells of the pair tables counted on the plan's cells in step 1's pass: up to this many, one
# pass over the rows serves every step (a partitioned table is read again by each pass)
_ONE_PASS_CELLS = 4_000_000


class Marginals(GenerationMethod):
    """DP-selected tree of (target, column, column) marginals, estimated jointly and sampled.

    Parameters
    ----------
    n_bins : int, default=16
        Most equal-width bins per numeric column over its public bounds in the measured
        tables; the plan uses fewer where its cells would hold less signal than noise
        (:attr:`plan_`). Integer columns with at most twice as many values as bins get one
        bin per value.
    fine_bins : int, default=131072
        Cells per numeric column of the fine grid on which it is also measured and
        decoded: integer columns with at most this many values get one cell per value,
        others this many equal-width cells over their public bounds.
    one_way_share : float, default=0.2
        Share of the budget (of ``μ²``) for the (target, column) tables.
    selection_share : float, default=0.1
        Share for the noisy pair scores that choose the tree.
    extra_pairs : int or "auto", default="auto"
        Pairs outside the tree, the best by noisy score, also measured as (target, i, j)
        tables. Then synthetic rows are drawn from a pool of model draws reweighted to
        every measured table. ``"auto"`` measures as many pairs as keep the noise
        standard deviation of a table cell at most 1/1000 of the (noisy) number of
        records, up to three per column: the tree alone at small budgets.
    pool_size : int, default=0
        LLM-written candidate rows from the public schema (privacy-free, cached), added
        to the pool; off by default because the benchmark shows no gain from it
        (docs/benchmarks.md).
    n_independent : int, default=20000
        Least number of model draws in the pool (at least twice the rows asked for).
    rows_per_call : int, default=10
        Rows asked for in one LLM call.
    inference : {"auto", "pgm", "closed_form"}, default="auto"
        How one distribution is estimated from the noisy tables: ``"pgm"`` fits a
        graphical model to all of them at once with Private-PGM (the ``pgm`` extra,
        ``mbi``); ``"closed_form"`` reconciles them table by table
        (:mod:`sk_safesynth.synth.tree_model`, no extra dependency). ``"auto"`` is
        ``"pgm"`` when ``mbi`` is installed. The graphical model holds the tree and the
        best extra pairs while its junction tree stays under 2 MB (as AIM bounds its
        model); the other extra pairs are fitted to it in closed form.

    Attributes
    ----------
    plan_ : Plan
        What was measured, chosen from public facts only
        (:func:`~sk_safesynth.synth.plan.plan_measurements`): the budget shares, the bins
        of numeric columns, whether fine grids and cliques are measured.
    sigmas_ : dict
        Noise standard deviation of each step measured: ``"one_way"``, ``"selection"``,
        ``"cliques"``.
    marginals_ : dict
        Noisy count tables keyed by column-index tuples (DP outputs); clique tables on
        merged levels.
    fine_marginals_ : dict
        Noisy count tables of numeric columns on their fine grid, keyed as in
        ``marginals_`` (DP outputs).
    selection_scores_ : dict
        Noisy pair scores ``(i, j) -> score`` (DP outputs).
    n_extra_pairs_ : int
        Pairs measured outside the tree.
    edges_ : list of (child, parent)
        The tree, breadth-first from its root (column indices of ``discretizer_.names``);
        empty when the plan measures no cliques (naive Bayes).
    model_ : TreeModel
        The fitted distribution (post-processing).
    inference_ : str
        The engine that estimated it: ``"pgm"`` or ``"closed_form"``.
    discretizer_ : Discretizer
        Public bins and categories of every non-text column.
    """

    name = "marginals"
    supports_partitioned = True  # counts partition by partition (synth/counting.py)
    supports_add_remove = True  # releases a noisy record count first
    _parameter_constraints: dict = {
        "n_bins": [Interval(Integral, 2, None, closed="left")],
        "fine_bins": [Interval(Integral, 2, None, closed="left")],
        "one_way_share": [Interval(Real, 0, 1, closed="neither")],
        "selection_share": [Interval(Real, 0, 1, closed="neither")],
        "extra_pairs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "pool_size": [Interval(Integral, 0, None, closed="left")],
        "n_independent": [Interval(Integral, 0, None, closed="left")],
        "rows_per_call": [Interval(Integral, 1, None, closed="left")],
        "inference": [StrOptions({"auto", "pgm", "closed_form"})],
    }

    def __init__(self, n_bins=16, fine_bins=131072, one_way_share=0.2, selection_share=0.1, extra_pairs="auto",
                 pool_size=0, n_independent=20000, rows_per_call=10, inference="auto"):
        self.n_bins = n_bins
        self.fine_bins = fine_bins
        self.one_way_share = one_way_share
        self.selection_share = selection_share
        self.extra_pairs = extra_pairs
        self.pool_size = pool_size
        self.n_independent = n_independent
        self.rows_per_call = rows_per_call
        self.inference = inference

    def check_schema(self, schema) -> None:
        if all(c.kind == "text" for c in schema):
            raise ValueError("method='marginals' needs at least one non-text column")

    def needs_llm(self, schema: TableSchema) -> bool:
        return self.pool_size > 0 or any(c.kind == "text" for c in schema)

    def _engine(self) -> str:
        if self.inference == "auto":
            return "pgm" if pgm.available() else "closed_form"
        if self.inference == "pgm" and not pgm.available():
            raise ImportError('inference="pgm" needs the pgm extra (mbi): pip install "sk-safesynth[pgm]"')
        return self.inference

    def _fit(self, context: FitContext) -> None:
        if self.one_way_share + self.selection_share >= 1:
            raise ValueError(f"one_way_share + selection_share must be < 1, got "
                             f"{self.one_way_share} + {self.selection_share}")
        self.inference_ = self._engine()
        self.discretizer_ = Discretizer(context.schema, self.fine_bins, max_exact=self.fine_bins)
        self.public_seed_ = context.public_seed
        names = self.discretizer_.names
        # rows of codes, counted in one piece or partition by partition (synth/counting.py)
        coded = as_rows(context.frame).map(partial(_codes, encode=self.discretizer_.encode))
        t = names.index(context.target) if context.target in names else None
        self.anchor_ = t
        features = [j for j in range(len(names)) if j != t]
        ledger, rng = context.ledger, context.rng
        # the plan: public facts only (the record count is public under replace-one neighbours;
        # under add/remove it is released first, with a small share of the budget)
        mu = 1.0 / ledger.calibrate(lambda sigma: gaussian_event(sigma, 1.0))
        moves = 2 if context.neighbours == "replace-one" else 1
        self.n_records_ = float(len(coded))
        if moves == 1:
            count, _ = measure_tables(ledger, {"n": np.array([len(coded)])}, mu * math.sqrt(_COUNT_SHARE), rng,
                                      "Gaussian record count", moves=1)
            self.n_records_ = max(float(count["n"][0]), 1.0)
            mu *= math.sqrt(1 - _COUNT_SHARE)
        numeric = [f for f in features if names[f] in self.discretizer_.edges]
        n_anchor = 1 if t is None else self.discretizer_.n_levels(names[t])
        if t is not None and names[t] in self.discretizer_.edges:  # a numeric target: at most n_bins bins
            n_anchor = min(n_anchor, self.n_bins)
        self.plan_ = plan_measurements(self.n_records_, n_anchor, len(features), len(numeric), mu,
                                       max_bins=self.n_bins, fine_cells=self.fine_bins,
                                       one_way_share=self.one_way_share, selection_share=self.selection_share,
                                       moves=moves)
        # public grid of the tables: numeric columns in the plan's bins of their fine grid
        self.cell_of_ = {j: self._grid(names[j], self.plan_.bins) for j in range(len(names))}
        fine = [f for f in numeric if self.plan_.fine and len(self.cell_of_[f]) > int(self.cell_of_[f].max()) + 1]
        n_anchor = int(self.cell_of_[t].max()) + 1 if t is not None else 1
        anchor = Axis(t, self.cell_of_[t]) if t is not None else Axis(None)
        levels = {f: int(self.cell_of_[f].max()) + 1 for f in features}
        shares = self.plan_.shares
        # the steps compose to one Gaussian of parameter mu (all the ledger has left); the last
        # table step then calibrates against the exact discrete accounting
        mus = {step: mu * math.sqrt(share) for step, share in shares.items()}
        last_is_cliques = "cliques" in shares

        # pairs counted on the plan's cells in step 1's pass and merged later by sums (the
        # exact counts a separate pass on merged levels would give), unless they would be too large
        pair_cells = {(i, j): ((anchor, Axis(i, self.cell_of_[i]), Axis(j, self.cell_of_[j])),
                               (n_anchor, levels[i], levels[j]))
                      for i, j in combinations(features, 2)} if "cliques" in shares else {}
        if sum(math.prod(shape) for _, shape in pair_cells.values()) > _ONE_PASS_CELLS:
            pair_cells = {}

        # 1. (anchor, column) tables on the full domain, numeric columns also on their fine grid
        if features:
            wanted: dict = {f: ((anchor, Axis(f, self.cell_of_[f])), (n_anchor, levels[f])) for f in features}
            wanted.update({("fine", f): ((anchor, Axis(f)), (n_anchor, len(self.cell_of_[f]))) for f in fine})
            exact = count_tables(coded, {**wanted, **{("cells", *pair): table for pair, table in pair_cells.items()}})
            cells = {pair: exact.pop(("cells", *pair)) for pair in pair_cells}
            tables, sigma1 = measure_tables(ledger, exact, mus["one_way"] if last_is_cliques else None, rng,
                                            "Gaussian (target, column) tables", moves=moves)
            one_way = {f: tables[f] for f in features}
            fine_tables = {f: tables[("fine", f)] for f in fine}
            anchor_only = None
        else:
            tables, sigma1 = measure_tables(ledger, count_tables(coded, {t: ((anchor,), (n_anchor,))}), None, rng,
                                            "Gaussian target counts", moves=moves)
            one_way, fine_tables, anchor_only = {}, {}, tables[t]
        self.sigmas_ = {"one_way": sigma1}
        self.marginals_ = {self._key(f): self._released(table) for f, table in one_way.items()}
        self.fine_marginals_ = {self._key(f): self._released(table) for f, table in fine_tables.items()}
        if anchor_only is not None and t is not None:
            self.marginals_[(t,)] = anchor_only

        # merge levels the clique noise would drown (post-processing of step 1)
        n_extra = self._n_extra(features, one_way, mus.get("cliques"), moves)
        n_pairs = len(features) - 1 + n_extra
        sigma3 = math.sqrt(moves * n_pairs) / mus["cliques"] if "cliques" in mus else None
        merge = {f: self._merge(table, sigma3) for f, table in one_way.items()}
        # merged level of each code, and the (anchor, i, j) table of a pair on merged levels
        self.merge_ = {f: merge[f][self.cell_of_[f]] for f in features}
        n_merged = {f: int(merge[f].max()) + 1 for f in features}
        pair_table = lambda i, j: ((anchor, Axis(i, self.merge_[i]), Axis(j, self.merge_[j])),
                                   (n_anchor, n_merged[i], n_merged[j]))
        exact_pairs: dict = {}  # (anchor, i, j) counts on merged levels, counted once for steps 2 and 3

        def pair_counts(pairs: list) -> dict:
            new = [pair for pair in pairs if pair not in exact_pairs]
            if new and pair_cells:
                exact_pairs.update({(i, j): _merged(cells[(i, j)] if (i, j) in cells else
                                                    cells[(j, i)].transpose(0, 2, 1), merge[i], merge[j])
                                    for i, j in new})
            elif new:
                exact_pairs.update(count_tables(coded, {pair: pair_table(*pair) for pair in new}))
            return {pair: exact_pairs[pair] for pair in pairs}

        # 2. the tree
        self.selection_scores_ = {}
        if "selection" in mus:
            anchor_counts, estimates = pooled_marginals(one_way, sigma1**2, merge, {}, 1.0)
            tables = pair_counts(list(combinations(features, 2)))
            predicted = {(i, j): estimates[i][:, :, None] * estimates[j][:, None, :] / anchor_counts[:, None, None]
                         for i, j in tables}
            undirected, scores, self.sigmas_["selection"] = select_tree(ledger, tables, predicted, mus["selection"],
                                                                        rng, moves=moves)
            self.selection_scores_ = dict(zip(tables, scores))
        elif len(features) == 2 and "cliques" in mus:
            undirected = [tuple(features)]
        else:
            undirected = []
        self.edges_ = _orient(undirected, features[0] if features else None)
        tree = {frozenset(e) for e in self.edges_}
        ranked = sorted((p for p in self.selection_scores_ if frozenset(p) not in tree),
                        key=lambda p: self.selection_scores_[p], reverse=True)
        self.n_extra_pairs_ = min(n_extra, len(ranked))
        pairs = self.edges_ + ranked[:self.n_extra_pairs_]

        # 3. (anchor, i, j) tables of the tree edges and the extra pairs, on merged levels
        cliques: dict = {}
        if pairs:
            cliques, sigma3 = measure_tables(ledger, pair_counts(pairs), None, rng,
                                             "Gaussian (target, column, column) tables", moves=moves)
            self.sigmas_["cliques"] = sigma3
            self.marginals_.update({self._key(i, j): self._released(table) for (i, j), table in cliques.items()})
        # masses on the fine grid (post-processing)
        # inside a group, levels in proportion to the (target, column) table made non-negative by projection
        # (noise invents no mass in empty cells: clipping would, and spread the column)
        densities = {f: project_simplex(one_way[f], np.clip(one_way[f].sum(axis=1), 1.0, None)) for f in features}
        for f in features:  # on the fine grid: point masses where measured, else even inside each cell
            cell_of = self.cell_of_[f]
            if f in fine_tables:
                densities[f] = fine_density(densities[f], fine_tables[f], cell_of,
                                            detection_threshold(sigma1, len(cell_of)))
            elif len(cell_of) > densities[f].shape[1]:
                densities[f] = densities[f][:, cell_of] / np.bincount(cell_of)[cell_of]
        if not cliques:  # naive Bayes: the closed form is exact, there is nothing for Private-PGM to reconcile
            self.inference_ = "closed_form"
        if self.inference_ == "pgm" and cliques and sigma3 is not None:
            self.model_ = pgm.fit_pgm_model(one_way, sigma1**2, merge, cliques, sigma3**2, self.edges_, densities,
                                            self.merge_)
        else:
            self.model_ = fit_tree_model(one_way, sigma1**2, merge, cliques, (sigma3 or 1.0) ** 2, self.edges_,
                                         densities, self.merge_, anchor_only)

    def _grid(self, name: str, bins: int) -> np.ndarray:
        """Cell of each level of a column in the measured tables (a missing level is a cell of its own)."""
        n_levels = self.discretizer_.n_levels(name)
        if name not in self.discretizer_.edges:
            return np.arange(n_levels)
        cells = _cells(self.discretizer_.n_values(name), bins)
        return np.append(cells, cells.max() + 1) if n_levels > len(cells) else cells

    def _n_extra(self, features: list, one_way: dict, mu: float | None, moves: int) -> int:
        """Pairs measured beyond the tree: ``extra_pairs``, or by noise when ``"auto"`` (post-processing).

        ``"auto"``: the most pairs ``P`` (tree included) with clique noise
        ``σ = sqrt(moves P) / μ`` at most ``n̂ / 1000``, ``n̂`` the median noisy total of the
        step-1 tables, and at most three extra pairs per column.
        """
        n_candidates = len(features) * (len(features) - 1) // 2
        n_tree = max(len(features) - 1, 0)
        if mu is None:
            return 0
        if self.extra_pairs != "auto":
            return min(int(self.extra_pairs), n_candidates - n_tree)
        n_records = max(float(np.median([table.sum() for table in one_way.values()])), 0.0)
        affordable = int((mu * n_records / _NOISE_PER_RECORD) ** 2 / moves)
        return int(np.clip(affordable - n_tree, 0, min(n_candidates - n_tree, _EXTRA_PER_COLUMN * len(features))))

    def _key(self, *columns: int) -> tuple[int, ...]:
        return ((self.anchor_,) if self.anchor_ is not None else ()) + columns

    def _released(self, table: np.ndarray) -> np.ndarray:
        """A noisy table as keyed in ``marginals_``: without a target, no constant anchor axis."""
        return table if self.anchor_ is not None else table[0]

    @staticmethod
    def _merge(table: np.ndarray, sigma: float | None) -> np.ndarray:
        """Merged level of each level: those estimated below ``3 σ`` share one (post-processing)."""
        n_levels = table.shape[1]
        if sigma is None:
            return np.arange(n_levels)
        keep = table.sum(axis=0) >= _MERGE_THRESHOLD * sigma
        out = np.empty(n_levels, dtype=np.int64)
        out[keep] = np.arange(keep.sum())
        out[~keep] = keep.sum()
        return out

    # ------------------------------------------------------------------ sampling
    def _model_codes(self, n: int, rng) -> np.ndarray:
        anchor, levels = self.model_.sample(n, rng)
        codes = np.zeros((n, len(self.discretizer_.names)), dtype=np.int64)
        if self.anchor_ is not None:  # a numeric target: a fine cell uniformly within its coarse cell
            cell_of = self.cell_of_[self.anchor_]
            sizes = np.bincount(cell_of)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            codes[:, self.anchor_] = starts[anchor] + np.floor(rng.random(n) * sizes[anchor]).astype(np.int64)
        for column, values in levels.items():
            codes[:, column] = values
        return codes

    def candidate_codes(self, client, n_draws: int, rng) -> np.ndarray:
        """Codes of ``n_draws`` draws of the model and of the LLM-written candidates (public schema only,
        if ``pool_size``) that lie inside the domain."""
        codes = self._model_codes(n_draws, rng)
        if self.pool_size:
            structured = TableSchema(tuple(c for c in self.schema_ if c.kind != "text"))
            written = llm_pool(client, structured, self.pool_size, rows_per_call=self.rows_per_call,
                               target=self.target_, seed=self.public_seed_)
            written_codes = self.discretizer_.encode(structured.coerce(written[structured.names]))
            codes = np.vstack([codes, written_codes[(written_codes >= 0).all(axis=1)]])
        return codes

    def weights(self, codes: np.ndarray) -> np.ndarray:
        """Iterative proportional fitting of weights of candidate ``codes`` to the model's clique marginals."""
        anchor = (self.cell_of_[self.anchor_][codes[:, self.anchor_]] if self.anchor_ is not None
                  else np.zeros(len(codes), dtype=np.int64))
        merged = {f: self.merge_[f][codes[:, f]] for f in self.merge_}
        cells = {key: np.ravel_multi_index(tuple([anchor] + [merged[c] for c in key]), target.shape)
                 for key, target in self.model_.cliques.items()}
        uniform = np.full(len(codes), 1.0 / len(codes))
        w = uniform
        previous = np.inf
        for _ in range(_IPF_ITERATIONS):
            worst = 0.0  # largest TVD between a clique's target and the weighted candidates in this sweep
            for key, target in self.model_.cliques.items():
                current = np.bincount(cells[key], weights=w, minlength=target.size)
                worst = max(worst, 0.5 * float(np.abs(current - target.ravel()).sum()))
                ratio = np.divide(target.ravel(), current, out=np.zeros_like(current), where=current > 0)
                w = w * ratio[cells[key]]
                total = w.sum()
                w = w / total if total > 0 else uniform
            if previous - worst < _IPF_TOLERANCE:
                break
            previous = worst
        return w

    def _sample(self, n: int, client, rng) -> pd.DataFrame:
        if self.pool_size or self.n_extra_pairs_:
            # chunks of at most _CHUNK_ROWS rows, each resampled from its own pool: bounded memory
            parts = []
            for start in range(0, n, _CHUNK_ROWS):
                size = min(_CHUNK_ROWS, n - start)
                pool = self.candidate_codes(client, max(self.n_independent, 2 * size), rng)
                parts.append(pool[_systematic(self.weights(pool), size, rng)])
            codes = np.vstack(parts) if parts else self._model_codes(0, rng)
        else:
            codes = self._model_codes(n, rng)
        rows = self.discretizer_.decode(codes, rng)
        return write_text(client, self.schema_, rows, seed=int(rng.integers(0, 2**31 - 1)))


def _codes(frame: pd.DataFrame, encode) -> pd.DataFrame:
    """The codes of the rows of ``frame`` (``encode``: :meth:`Discretizer.encode`), one column per column."""
    return pd.DataFrame(encode(frame))


def _merged(table: np.ndarray, merge_i: np.ndarray, merge_j: np.ndarray) -> np.ndarray:
    """An ``(anchor, i, j)`` count table summed over the levels of each merged level of ``i`` and ``j``."""
    to_i, to_j = (np.eye(int(merge.max()) + 1, dtype=table.dtype)[merge] for merge in (merge_i, merge_j))
    return np.einsum("aij,ik,jl->akl", table, to_i, to_j)


def _cells(n_levels: int, n_cells: int) -> np.ndarray:
    """Cell of each of ``n_levels`` ordered fine levels: ``n_cells`` runs of about equal width.

    Columns with at most ``2 n_cells`` levels (small integer ranges) keep one cell per level.
    """
    if n_levels <= 2 * n_cells:
        return np.arange(n_levels)
    return np.arange(n_levels) * n_cells // n_levels


def _systematic(weights: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` indices drawn by systematic resampling (each index about ``n * weight`` times), shuffled."""
    cumulative = np.cumsum(weights)
    positions = (rng.random() + np.arange(n)) / n * cumulative[-1]
    return rng.permutation(np.minimum(np.searchsorted(cumulative, positions, side="right"), len(weights) - 1))


def _orient(edges: list, root: int | None) -> list:
    """``(child, parent)`` pairs of an undirected tree, breadth-first from ``root``."""
    if root is None:
        return []
    neighbours: dict[int, list[int]] = {}
    for i, j in edges:
        neighbours.setdefault(i, []).append(j)
        neighbours.setdefault(j, []).append(i)
    out, seen, queue = [], {root}, deque([root])
    while queue:
        node = queue.popleft()
        for other in neighbours.get(node, []):
            if other not in seen:
                seen.add(other)
                out.append((other, node))
                queue.append(other)
    return out
