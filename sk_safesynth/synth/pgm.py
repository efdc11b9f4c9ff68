"""Private-PGM inference for ``method="marginals"``: one graphical model fitted to every noisy table.

The ``pgm`` extra installs ``mbi`` (Private-PGM, McKenna, Sheldon & Miklau 2019), the
engine behind MST and AIM. Given the noisy ``(a, column)`` and ``(a, i, j)`` tables
of :class:`~sk_safesynth.synth.marginals.Marginals`, it finds the Markov random field
whose marginals best fit all of them at once (least squares, each table weighted by
its noise, by mirror descent over the marginal polytope), so the tables of the tree
and of the extra pairs outside it agree with one another by construction. The closed
form of :mod:`sk_safesynth.synth.tree_model` reconciles them table by table instead.
Both are post-processing of DP outputs; the benchmark (docs/benchmarks.md) says what
each gives.

An ``(a, column)`` table is measured on the column's full domain and the clique tables
on merged levels, so the model's domain is the merged one: a one-way table enters as
its sums over each merged level, divided by the square root of the number of levels
summed, which makes every entry's noise standard deviation the table's ``σ``.
"""

from __future__ import annotations

import warnings

import numpy as np

from sk_safesynth.synth.tree_model import (
    ANCHOR_PSEUDO_COUNT,
    TreeModel,
    assemble_tree_model,
    fit_cliques,
    floor_anchor,
    group_sum,
)

# Mirror-descent iterations: on Adult, 1,000 leave the fit at epsilon=10 short of convergence (TVD
# 0.020 against 0.017 at 2,000); at epsilon=1 more fit the noise (docs/benchmarks.md).
ITERATIONS = 2000
# Largest junction tree (MB of float64 cells) handed to the engine (AIM bounds its model the same
# way, at 80 MB; this bound keeps a fit of Adult within seconds, docs/benchmarks.md).
MAX_MODEL_MB = 2.0


def available() -> bool:
    """Whether the ``pgm`` extra (``mbi``) is installed."""
    try:
        _mbi()
    except ImportError:
        return False
    return True


def _mbi():
    with warnings.catch_warnings():  # import-time advice about JAX settings, which we set per call
        warnings.simplefilter("ignore")
        import mbi
    return mbi


def _name(column: int) -> str:
    return f"c{column}"


def model_size_mb(n_anchor: int, levels: dict[int, int], pairs: list[tuple[int, int]]) -> float:
    """Size of the junction tree of the cliques ``(a, i, j)`` for ``pairs`` (``levels``: merged levels per column)."""
    mbi = _mbi()
    from mbi.junction_tree import hypothetical_model_size

    domain = mbi.Domain(["a", *map(_name, levels)], [n_anchor, *levels.values()])
    cliques: list[tuple[str, ...]] = [("a", _name(i), _name(j)) for i, j in pairs] or [("a",)]
    return float(hypothetical_model_size(domain, cliques))


def fit_pgm_model(one_way: dict, one_way_var: float, merge: dict, cliques: dict, clique_var: float, edges: list,
                  densities: dict, fine_merge: dict, iterations: int = ITERATIONS) -> TreeModel:
    """Estimate a :class:`TreeModel` with Private-PGM (arguments as
    :func:`~sk_safesynth.synth.tree_model.fit_tree_model`; ``cliques`` must not be empty).

    The graphical model holds the tree edges and then the other pairs in the order of
    ``cliques`` while its junction tree stays under :data:`MAX_MODEL_MB`; each pair
    left out is still used: fitted in closed form to the model's marginals
    (:func:`~sk_safesynth.synth.tree_model.fit_cliques`), for a candidate pool to be
    reweighted to.
    """
    import jax

    mbi = _mbi()
    from mbi.estimation import MirrorDescent

    columns = sorted(one_way)
    n_anchor = next(iter(one_way.values())).shape[0]
    levels = {c: int(merge[c].max()) + 1 for c in columns}
    inside = [tuple(edge) for edge in edges]
    for pair in cliques:
        if pair not in inside and model_size_mb(n_anchor, levels, [*inside, pair]) <= MAX_MODEL_MB:
            inside.append(pair)
    domain = mbi.Domain(["a", *map(_name, columns)], [n_anchor, *levels.values()])
    measurements = []
    for column in columns:
        scale = 1.0 / np.sqrt(np.bincount(merge[column]))
        measurements.append(mbi.LinearMeasurement(
            (group_sum(one_way[column], merge[column]) * scale).ravel(), ("a", _name(column)),
            stddev=float(np.sqrt(one_way_var)), query=mbi.WeightedQuery(np.tile(scale, n_anchor))))
    for i, j in inside:
        measurements.append(mbi.LinearMeasurement(cliques[(i, j)].ravel(), ("a", _name(i), _name(j)),
                                                  stddev=float(np.sqrt(clique_var))))
    # float64: in float32 the estimate can stall on large tables; scoped so no other JAX user is affected
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MirrorDescent().estimate(domain, measurements, iters=iterations)

        def table(*names: str) -> np.ndarray:
            return np.clip(np.asarray(model.project(names).datavector(flatten=False), dtype=float), 0.0, None)

        anchor = table("a")
        marginals = {c: table("a", _name(c)) for c in columns}
        fitted = {(i, j): table("a", _name(i), _name(j)) for i, j in inside}
    # as the closed form does: every target class keeps about the noise of its pooled count
    floor = max(ANCHOR_PSEUDO_COUNT, float(np.sqrt(one_way_var / len(columns))))
    anchor, marginals, fitted = floor_anchor(anchor, marginals, fitted, floor)
    fitted.update(fit_cliques({pair: t for pair, t in cliques.items() if pair not in fitted}, anchor, marginals))
    return assemble_tree_model(anchor, marginals, fitted, edges, densities, fine_merge)
