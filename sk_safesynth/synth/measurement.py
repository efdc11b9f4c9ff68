"""The private steps of ``method="marginals"``: noisy count tables and a DP tree of column pairs.

Every function here reads private codes and returns only noised values, after
recording the Gaussian mechanism in the ledger (the one call site,
:func:`gaussian_release`). Neighbouring relation: replace one record (``moves=2``:
a record leaves one cell and enters another), or add/remove one record (``moves=1``:
one cell of each table changes by one, each pair score by at most ``1 + γ``).

Privacy of each step
--------------------
- :func:`measure_tables`: ``M`` count tables, each record adds one to one cell of
  each; replacing a record moves each table by one count out of one cell and into
  another, so the concatenated counts move by at most ``sqrt(2 M)`` in L2 norm.
  Discrete Gaussian noise of std ``σ`` is the Gaussian mechanism with that
  sensitivity.
- :func:`select_tree`: for every candidate pair, the L1 distance between its true
  count table and a fixed estimate (built from earlier DP outputs only). Replacing a
  record changes two counts by one, so each distance by at most 2 (plus the lattice
  rounding ``γ``); the ``P`` distances move by at most ``(2 + γ) sqrt(P)`` in L2. The
  noisy distances are released (lattice Gaussian noise) and the maximum spanning tree
  over them is post-processing — the "report noisy scores" form of MST's selection
  (McKenna, Miklau & Sheldon 2021) that composes as one more Gaussian mechanism.

Accounting: count tables get *discrete* Gaussian noise and are accounted as discrete
Gaussians (dp-accounting's PLD over the ``2 M`` counts a record moves), the lattice-noised
scores as a continuous Gaussian. A fit plans its steps by splitting ``μ²`` of its budget
(Gaussian mechanisms compose to one with ``μ² = Σ μ_i²``, Dong, Roth & Su 2019), and the
last table step calibrates its σ against what the ledger has left under that exact
accounting, so the fit spends exactly its ``(ε, δ)``.
"""

from __future__ import annotations

import math

import numpy as np

from sk_safesynth.privacy import discrete_gaussian, discrete_gaussian_event, gaussian_event, lattice_noise
from sk_safesynth.privacy.samplers import LATTICE_BITS


def gaussian_release(ledger, values: np.ndarray, sigma: float, l2_sensitivity: float, label: str, rng,
                     *, integer: bool = True) -> np.ndarray:
    """Record a Gaussian mechanism in ``ledger``, then return ``values`` plus its noise.

    Integer ``values`` (counts) get discrete Gaussian noise; real ``values`` are
    rounded to a lattice finer than the noise and noised there
    (:func:`~sk_safesynth.privacy.lattice_noise`); ``l2_sensitivity`` must already
    include the rounding.
    """
    if integer:  # each of the l2_sensitivity**2 counts a record moves changes by one
        ledger.spend(discrete_gaussian_event(sigma, round(l2_sensitivity**2)), label)
        return (values + discrete_gaussian(sigma, values.shape, rng)).astype(float)
    ledger.spend(gaussian_event(sigma, l2_sensitivity), label)
    return lattice_noise(values, sigma, "gaussian", rng)


def counts(codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Count table of the rows of ``codes`` (one column per axis); rows with a ``-1`` are left out."""
    valid = (codes >= 0).all(axis=1)
    flat = np.ravel_multi_index(tuple(codes[valid].T), shape)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)


def measure_tables(ledger, exact: dict, mu: float | None, rng, label: str, *, moves: int = 2) -> tuple[dict, float]:
    """Noisy copies of the count tables ``exact`` (each record in one cell of each), one mechanism.

    Returns the tables and the noise std: ``σ = sqrt(moves M) / μ`` (the planned
    ``μ``-Gaussian share), or with ``mu=None`` the smallest σ whose exact discrete
    Gaussian accounting fits in what ``ledger`` has left (the fit's last step).
    ``moves`` is the number of counts of one table a neighbour changes by one: 2 under
    replace-one, 1 under add/remove.
    """
    sensitivity = math.sqrt(moves * len(exact))
    if mu is None:
        sigma = ledger.calibrate(lambda s: discrete_gaussian_event(s, moves * len(exact)), start=sensitivity)
    else:
        sigma = sensitivity / mu
    flat = np.concatenate([table.ravel() for table in exact.values()])
    noisy = gaussian_release(ledger, flat, sigma, sensitivity, f"{label} ({len(exact)} tables)", rng)
    out, start = {}, 0
    for key, table in exact.items():
        out[key] = noisy[start:start + table.size].reshape(table.shape)
        start += table.size
    return out, sigma


def selection_sensitivity(n_pairs: int, moves: int = 2) -> float:
    """L2 sensitivity of the released pair scores, lattice rounding included.

    The lattice step is at most ``2**-LATTICE_BITS`` whatever the noise scale, and
    rounding moves a score by at most half a step, so one score moves by ``moves + γ``
    (a neighbour changes ``moves`` counts of a table by one).
    """
    return (moves + 2.0 ** -LATTICE_BITS) * math.sqrt(n_pairs)


def select_tree(ledger, tables: dict, estimates: dict, mu: float, rng, *, moves: int = 2
                ) -> tuple[list, np.ndarray, float]:
    """Maximum spanning tree over noisy L1 distances between true tables and estimates.

    Parameters
    ----------
    tables : dict
        ``(i, j) -> exact count table`` of every candidate pair (private).
    estimates : dict
        ``(i, j) -> the same table predicted without the edge`` (earlier DP outputs only).
    mu : float
        Gaussian-DP parameter of this release.
    moves : int
        Counts of one table a neighbour changes: 2 (replace-one) or 1 (add/remove).

    Returns
    -------
    edges : list of (i, j)
        The edges of a spanning tree over every column of ``tables`` (post-processing
        of the noisy scores).
    scores : ndarray
        The released noisy scores, in the order of ``tables``.
    sigma : float
        Their noise standard deviation.
    """
    pairs = list(tables)
    exact = np.array([np.abs(tables[p] - estimates[p]).sum() for p in pairs])
    sensitivity = selection_sensitivity(len(pairs), moves)
    sigma = sensitivity / mu
    scores = gaussian_release(ledger, exact, sigma, sensitivity, f"Gaussian pair selection ({len(pairs)} scores)",
                              rng, integer=False)
    return maximum_spanning_tree(pairs, scores), scores, sigma


def maximum_spanning_tree(pairs: list, scores: np.ndarray) -> list:
    """Kruskal's algorithm: the spanning tree of largest total score over the nodes of ``pairs``."""
    parent = {node: node for pair in pairs for node in pair}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges = []
    for k in np.argsort(-scores, kind="stable"):
        i, j = pairs[k]
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            edges.append((i, j))
    return edges
