"""One consistent distribution from noisy tables on a tree of cliques, and sampling from it.

Post-processing only: everything here reads DP outputs (noisy count tables) and no
private row. The model is decomposable: an *anchor* ``a`` (the target column, or a
constant when there is none) is in every clique, and the other columns form a tree,
so the cliques are ``(a, child, parent)`` for every tree edge and the joint is

    P(a) · P(root | a) · Π P(child | a, parent).

Estimation (in the spirit of Private-PGM, McKenna, Sheldon & Miklau 2019, which for a
decomposable model needs no iterative inference):

1. every noisy table votes for the marginals it contains; the votes for ``P(a)`` and
   for each ``(a, column)`` marginal are pooled by inverse variance (a sum of ``k``
   noisy cells has variance ``k σ²``);
2. each pooled marginal is projected (Euclidean) onto the non-negative tables with the
   pooled total — least squares under non-negativity, which sets the cells the noise
   invented to zero instead of keeping them as clipped positive mass;
3. each clique table is projected the same way, shrunk towards the fit of the same
   table without a three-way interaction (:func:`no_interaction`), and then fitted by
   iterative proportional fitting to the pooled marginals of its two columns, so all
   cliques agree on every separator and the tree model reproduces each of them exactly.

Columns whose rare levels were merged for the clique measurements (see
:class:`TreeModel`) are expanded back to their levels with the noisy ``(a, column)``
table, which was measured on the full domain, and numeric bins to the cells of their
fine grid with a noisy fine table (:func:`fine_density`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_IPF_ITERATIONS = 50
ANCHOR_PSEUDO_COUNT = 1.0  # least pseudo-count per anchor level (target class)
_SUPPORT_FLOOR = 1e-3  # mass spread over a clique before IPF so every margin is reachable
# Weight of the no-three-way-interaction fit in each clique estimate (shrinkage of the noisy
# interaction between the target and a pair; chosen on the Adult benchmark, docs/benchmarks.md).
_INTERACTION_SHRINKAGE = 0.3


def project_simplex(values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``values`` onto ``{x >= 0, sum(x) = total}``.

    The sort-based algorithm (Held, Wolfe & Crowder 1974; Duchi et al. 2008).
    ``totals`` must be positive.
    """
    v = np.asarray(values, dtype=float)
    flat = v.reshape(len(v), -1)
    u = -np.sort(-flat, axis=1)
    excess = np.cumsum(u, axis=1) - np.asarray(totals, dtype=float)[:, None]
    k = np.arange(1, flat.shape[1] + 1)
    active = (u - excess / k > 0).sum(axis=1)
    theta = excess[np.arange(len(flat)), active - 1] / active
    return np.maximum(flat - theta[:, None], 0.0).reshape(v.shape)


def _pool(estimates: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Inverse-variance average of ``(estimate, variance)`` pairs, cell by cell."""
    weights = [1.0 / variance for _, variance in estimates]
    return sum(w * e for (e, _), w in zip(estimates, weights)) / sum(weights)


def _ipf(table: np.ndarray, child: np.ndarray, parent: np.ndarray, iterations: int = _IPF_ITERATIONS) -> np.ndarray:
    """Fit ``table[a, c, p]`` to the margins ``child[a, c]`` and ``parent[a, p]``."""
    for _ in range(iterations):
        current = table.sum(axis=2)
        table = table * np.divide(child, current, out=np.zeros_like(child), where=current > 0)[:, :, None]
        current = table.sum(axis=1)
        table = table * np.divide(parent, current, out=np.zeros_like(parent), where=current > 0)[:, None, :]
    return table


def detection_threshold(sigma: float, n_cells: int) -> float:
    """``σ sqrt(2 ln n)``: the count above which a cell of a noisy ``n``-cell table is taken to hold
    a value (the largest of ``n`` Gaussian noises stays below it with high probability)."""
    return float(sigma * np.sqrt(2.0 * np.log(max(n_cells, 2))))


def fine_density(coarse: np.ndarray, fine: np.ndarray, cell_of: np.ndarray, threshold: float) -> np.ndarray:
    """Masses of fine cells: each coarse cell's mass shared between its point masses and the rest.

    A fine cell whose noisy count exceeds ``threshold`` (for a DP table,
    :func:`detection_threshold` of its noise) is a point mass and keeps its noisy
    count; what the coarse cell holds beyond its point masses is spread evenly over its
    other fine cells. Point masses larger than their coarse cell are scaled down to it.

    Parameters
    ----------
    coarse : ndarray of shape (n_anchor, coarse cells)
        Non-negative masses of the coarse cells.
    fine : ndarray of shape (n_anchor, fine cells)
        Noisy counts of the fine cells.
    cell_of : ndarray of shape (fine cells,)
        Coarse cell of each fine cell.
    threshold : float
        Least count (exclusive) of a point mass.

    Returns
    -------
    ndarray of shape (n_anchor, fine cells)
        Non-negative masses summing, per coarse cell, to ``coarse``.
    """
    n_coarse = coarse.shape[1]
    out = np.empty_like(fine, dtype=float)
    for a in range(len(fine)):
        spikes = np.where(fine[a] > threshold, fine[a], 0.0)
        spiked = np.bincount(cell_of, weights=spikes, minlength=n_coarse)
        others = np.bincount(cell_of, weights=spikes == 0, minlength=n_coarse)
        scale = np.minimum(1.0, np.divide(coarse[a], spiked, out=np.ones(n_coarse), where=spiked > 0))
        rest = np.clip(coarse[a] - spiked, 0.0, None)
        # a coarse cell made only of point masses shares what is left among them
        per_other = np.divide(rest, others, out=np.zeros(n_coarse), where=others > 0)
        per_spike = np.where(others == 0, np.divide(rest, spiked, out=np.zeros(n_coarse), where=spiked > 0), 0.0)
        out[a] = spikes * (scale[cell_of] + per_spike[cell_of]) + (spikes == 0) * per_other[cell_of]
    return out


@dataclass
class Expansion:
    """``P(level | a, group)`` of one column whose levels were grouped: draws levels within groups.

    ``density[a, level]`` is proportional to ``P(level | a)``; a group with no mass
    under an anchor level is drawn uniformly.
    """

    merge: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def fit(cls, density: np.ndarray, merge: np.ndarray) -> Expansion:
        order = np.argsort(merge, kind="stable")
        sizes = np.bincount(merge)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        cumulative = np.concatenate([np.zeros((len(density), 1)), np.cumsum(density[:, order], axis=1)], axis=1)
        return cls(merge=merge, order=order, starts=starts, sizes=sizes, cumulative=cumulative)

    def draw(self, anchor: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A level per row, from ``P(level | anchor, group)``."""
        start, size = self.starts[groups], self.sizes[groups]
        low = self.cumulative[anchor, start]
        high = self.cumulative[anchor, start + size]
        u = rng.random(len(groups))
        position = start + np.floor(u * size).astype(np.int64)  # uniform where the group has no mass
        for a in np.unique(anchor):
            rows = (anchor == a) & (high > low)
            point = low[rows] + u[rows] * (high[rows] - low[rows])
            position[rows] = np.searchsorted(self.cumulative[a, 1:], point, side="right")
        position = np.clip(position, start, start + size - 1)
        return self.order[position]


def _normalise_rows(table: np.ndarray) -> np.ndarray:
    """Rows summing to one along the last axis; an all-zero row becomes uniform."""
    sums = table.sum(axis=-1, keepdims=True)
    uniform = np.full_like(table, 1.0 / table.shape[-1])
    return np.where(sums > 0, table / np.where(sums > 0, sums, 1.0), uniform)


def draw(probabilities: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per entry of ``rows``, from ``probabilities[rows]`` (rows sum to one)."""
    n_rows, k = probabilities.shape
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    offsets = np.arange(n_rows, dtype=float)
    flat = (cumulative + offsets[:, None]).ravel()
    position = np.searchsorted(flat, rows + rng.random(len(rows)), side="right") - rows * k
    return np.clip(position, 0, k - 1)


@dataclass
class TreeModel:
    """A decomposable model: ``P(a) P(root | a) Π P(child | a, parent)`` on merged levels.

    Attributes
    ----------
    prior : ndarray of shape (n_anchor,)
        ``P(a)``.
    roots : dict
        ``column -> P(column | a)`` of shape (n_anchor, levels) for every column that is
        no tree edge's child: the root of the tree, or every column of a forest without
        edges (naive Bayes).
    edges : list of (child, parent)
        Tree edges in breadth-first order from their roots.
    conditionals : dict
        ``child -> P(child | a, parent)`` of shape (n_anchor, parent levels, child levels).
    merge : dict
        ``column -> array`` mapping each level to its merged level.
    expansion : dict
        ``column -> Expansion``: ``P(level | a, merged level)``.
    cliques : dict
        ``(i, j) -> P(a, i, j)`` for every measured pair and ``(root,) -> P(a, root)`` for every root:
        the fitted marginals (merged levels), which a candidate pool is reweighted to.
    """

    prior: np.ndarray
    roots: dict
    edges: list
    conditionals: dict
    merge: dict
    expansion: dict
    cliques: dict

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        """``n`` anchor codes and, per column, its (unmerged) level codes."""
        anchor = rng.choice(len(self.prior), size=n, p=self.prior)
        merged: dict[int, np.ndarray] = {}
        for root, conditional in self.roots.items():
            merged[root] = draw(conditional, anchor, rng)
        for child, parent in self.edges:
            table = self.conditionals[child]
            merged[child] = draw(table.reshape(-1, table.shape[2]), anchor * table.shape[1] + merged[parent], rng)
        levels = {column: self.expansion[column].draw(anchor, codes, rng) for column, codes in merged.items()}
        return anchor, levels


def pooled_marginals(one_way: dict, one_way_var: float, merge: dict, cliques: dict,
                     clique_var: float, anchor_only: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Anchor counts and every ``(a, column)`` marginal on merged levels, consistent and non-negative.

    Parameters
    ----------
    one_way : dict
        ``column -> noisy counts (n_anchor, levels)`` on the full domain.
    one_way_var : float
        Noise variance of each cell of ``one_way``.
    merge : dict
        ``column -> array`` of merged level per level.
    cliques : dict
        ``(child, parent) -> noisy counts (n_anchor, merged child, merged parent)``.
    clique_var : float
        Noise variance of each cell of ``cliques``.
    anchor_only : ndarray, optional
        Noisy anchor counts, when no other column exists.

    Returns
    -------
    anchor : ndarray of shape (n_anchor,)
        Estimated anchor counts (positive).
    marginals : dict
        ``column -> counts (n_anchor, merged levels)`` whose rows sum to ``anchor``.
    """
    votes = [(t.sum(axis=1), one_way_var * t.shape[1]) for t in one_way.values()]
    votes += [(t.sum(axis=(1, 2)), clique_var * t.shape[1] * t.shape[2]) for t in cliques.values()]
    if anchor_only is not None:
        votes.append((anchor_only, one_way_var))
    anchor = _pool(votes)
    # one pseudo-count, or the noise std of the pooled counts when larger: no anchor level
    # (target class) is lost to noise that dwarfs small tables
    pseudo = max(ANCHOR_PSEUDO_COUNT, float(np.sqrt(1.0 / sum(np.max(1.0 / np.atleast_1d(v)) for _, v in votes))))
    total = max(float(np.clip(anchor, 0, None).sum()), 1.0)
    anchor = project_simplex(anchor[None, :], np.array([total]))[0] + pseudo
    marginals = {}
    for column, table in one_way.items():
        merged_votes = [(group_sum(table, merge[column]), one_way_var * np.bincount(merge[column])[None, :])]
        for (child, parent), clique in cliques.items():
            if child == column:
                merged_votes.append((clique.sum(axis=2), clique_var * clique.shape[2]))
            elif parent == column:
                merged_votes.append((clique.sum(axis=1), clique_var * clique.shape[1]))
        marginals[column] = project_simplex(_pool(merged_votes), anchor)
    return anchor, marginals


def floor_anchor(anchor: np.ndarray, marginals: dict, cliques: dict, floor: float) -> tuple[np.ndarray, dict, dict]:
    """Consistent tables in which every anchor level (target class) holds at least ``floor``.

    A level below it gets the missing mass spread uniformly over its cells in every
    table, so the tables still agree on every separator: a class that the noise drowned
    is still sampled, with uninformative conditionals, instead of being lost.
    """
    missing = np.clip(floor - anchor, 0.0, None)
    marginals = {c: t + missing[:, None] / t.shape[1] for c, t in marginals.items()}
    cliques = {k: t + missing[:, None, None] / (t.shape[1] * t.shape[2]) for k, t in cliques.items()}
    return anchor + missing, marginals, cliques


def no_interaction(noisy: np.ndarray, child: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """The table ``[a, c, p]`` with margins ``child[a, c]``, ``parent[a, p]`` and the pair margin of ``noisy``
    (its anchor slices summed, projected to non-negative counts) and no three-way interaction.

    Iterative proportional fitting from a flat table: the maximum-entropy fit of the
    three two-way margins (Bishop, Fienberg & Holland 1975). The pair margin pools the
    anchor slices, so it carries less noise than any one slice.
    """
    pair = project_simplex(noisy.sum(axis=0)[None], np.array([child.sum()]))[0]
    table = np.ones_like(noisy, dtype=float)
    for _ in range(_IPF_ITERATIONS // 2):
        table = _ipf(table, child, parent, iterations=1)
        current = table.sum(axis=0)
        table = table * np.divide(pair, current, out=np.zeros_like(current), where=current > 0)[None]
    return _ipf(table, child, parent)


def group_sum(table: np.ndarray, merge: np.ndarray) -> np.ndarray:
    """``table[a, level]`` summed over the levels of each merged level: shape (n_anchor, merged levels)."""
    n_merged = int(merge.max()) + 1
    return np.stack([np.bincount(merge, weights=row, minlength=n_merged) for row in table])


def fit_tree_model(one_way: dict, one_way_var: float, merge: dict, cliques: dict, clique_var: float,
                   edges: list, densities: dict, fine_merge: dict, anchor_only: np.ndarray | None = None) -> TreeModel:
    """Estimate a :class:`TreeModel` from noisy tables (arguments as :func:`pooled_marginals`).

    ``densities`` maps each column to non-negative ``(n_anchor, fine levels)`` masses
    (post-processing of its noisy tables) and ``fine_merge`` each fine level to its
    merged level: together they expand merged levels back to fine levels.

    ``edges`` lists the tree edges ``(child, parent)`` breadth-first from the root;
    ``cliques`` holds one noisy table per edge, keyed ``(child, parent)``, and may hold
    more (pairs outside the tree): those improve the pooled marginals and are fitted
    too, for a candidate pool to be reweighted to (the tree model samples from the tree
    edges only).
    """
    anchor, marginals = pooled_marginals(one_way, one_way_var, merge, cliques, clique_var, anchor_only)
    return assemble_tree_model(anchor, marginals, fit_cliques(cliques, anchor, marginals), edges, densities,
                               fine_merge)


def fit_cliques(cliques: dict, anchor: np.ndarray, marginals: dict) -> dict:
    """Each noisy ``(a, i, j)`` table made non-negative, shrunk towards no three-way interaction and
    fitted by IPF to the consistent ``marginals`` of its columns (steps 2-3 of the module docstring)."""
    fitted = {}
    for (i, j), noisy in cliques.items():
        clique = ((1.0 - _INTERACTION_SHRINKAGE) * project_simplex(noisy, anchor)
                  + _INTERACTION_SHRINKAGE * no_interaction(noisy, marginals[i], marginals[j]))
        clique += _SUPPORT_FLOOR * marginals[i][:, :, None] * marginals[j][:, None, :] / anchor[:, None, None]
        fitted[(i, j)] = _ipf(clique, marginals[i], marginals[j])
    return fitted


def assemble_tree_model(anchor: np.ndarray, marginals: dict, cliques: dict, edges: list, densities: dict,
                        fine_merge: dict) -> TreeModel:
    """The :class:`TreeModel` of consistent estimates, whichever engine made them.

    ``anchor`` holds the anchor counts, ``marginals`` each column's ``(a, column)``
    counts and ``cliques`` each measured pair's ``(a, i, j)`` counts (merged levels),
    all agreeing with one another; ``densities`` and ``fine_merge`` are as in
    :func:`fit_tree_model`.
    """
    total = anchor.sum()
    fitted = {pair: table / total for pair, table in cliques.items()}
    conditionals = {child: _normalise_rows(np.transpose(fitted[(child, parent)], (0, 2, 1)))
                    for child, parent in edges}
    children = {child for child, _ in edges}
    roots = {column: _normalise_rows(table) for column, table in marginals.items() if column not in children}
    fitted.update({(root,): marginals[root] / total for root in roots})
    expansion = {column: Expansion.fit(densities[column], fine_merge[column]) for column in marginals}
    return TreeModel(prior=anchor / total, roots=roots, edges=list(edges), conditionals=conditionals,
                     merge=dict(fine_merge), expansion=expansion, cliques=fitted)
