"""What ``method="marginals"`` measures, chosen from public facts so each measured cell carries signal.

A noisy count table is only worth its budget while its cells hold more records than
noise. The plan reads nothing private: the number of records ``n`` (public under
replace-one neighbours, where both tables have the same size; under add/remove a noisy
count from a small share of the budget), the number of target
classes, how many columns there are and of which kind, and the Gaussian budget ``μ``.
From them it decides, before any count is taken:

- the *shares* of ``μ²`` of the three steps: the (target, column) tables, the pair
  selection and the (target, column, column) clique tables. Cliques are measured only
  when a clique of 2 × 2 groups per target class would hold at least :data:`SIGNAL`
  noise standard deviations per cell; otherwise the whole budget goes to the
  (target, column) tables, and the model is the naive Bayes one (columns independent
  given the target), which small tables estimate far better than a tree they cannot
  afford;
- the *bins* of numeric columns in the (target, column) tables: as many as keep a cell
  of a class at :data:`SIGNAL` noise standard deviations on average, between 2 and
  ``max_bins``;
- whether numeric columns are also measured on their *fine grid* (point masses such as
  a spike at zero, and the spread inside bins): only when a point mass holding a tenth
  of a class would stand above the noise of a large table; otherwise values are drawn
  uniformly inside their bin;
- the most *groups* per column in a clique table (:attr:`Plan.clique_groups`):
  categories and adjacent numeric bins are grouped (post-processing of the noisy
  (target, column) tables) so that a clique cell holds :data:`SIGNAL` noise standard
  deviations on average.

The same rules serve 300 rows and a million: at Adult's size (32,561 rows) they measure
what a fixed plan of 16 bins and fine grids does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Least expected count of a measured cell, in noise standard deviations.
SIGNAL = 2.0
# A fine grid is measured when a point mass holding this share of a class clears the noise of the
# largest fine table (its detection threshold, sigma * sqrt(2 ln cells)).
_POINT_MASS_SHARE = 0.1
# Cliques are measured when each column can keep at least this many groups in them: coarser
# cliques add less than they take from the (target, column) tables (measured on Adult subsamples).
MIN_GROUPS = 8


@dataclass(frozen=True)
class Plan:
    """The measurements of one fit (public: a function of public facts only).

    Attributes
    ----------
    shares : dict
        Share of ``μ²`` of each step: ``"one_way"``, and ``"selection"``, ``"cliques"``
        when cliques are measured.
    bins : int
        Bins of a numeric column in the (target, column) tables.
    fine : bool
        Whether numeric columns are also measured on their fine grid.
    clique_groups : int
        Most groups of one column in a clique table (0 without cliques).
    """

    shares: dict
    bins: int
    fine: bool
    clique_groups: int


def plan_measurements(n_records: float, n_anchor: int, n_features: int, n_numeric: int, mu: float, *,
                      max_bins: int, fine_cells: int, one_way_share: float, selection_share: float,
                      moves: int = 2) -> Plan:
    """The plan for ``n_records`` records, ``n_anchor`` target classes (1 without a target),
    ``n_features`` other columns of which ``n_numeric`` numeric, and a Gaussian budget ``mu``.

    ``max_bins`` caps the bins of a numeric column, ``fine_cells`` is the size of the
    largest fine grid, and ``one_way_share`` / ``selection_share`` split ``μ²`` when
    cliques are measured (the rest goes to the cliques). ``moves`` is 2 under replace-one
    neighbours (a record leaves one cell and enters another), 1 under add/remove; under
    add/remove ``n_records`` is a noisy count.
    """
    n = max(float(n_records), 1.0)
    shares = {"one_way": one_way_share}
    if n_features >= 3:
        shares["selection"] = selection_share
    if n_features >= 2:
        shares["cliques"] = 1.0 - sum(shares.values())
    total = sum(shares.values())
    shares = {step: share / total for step, share in shares.items()}
    groups = 0
    if "cliques" in shares:
        sigma3 = math.sqrt(moves * (n_features - 1)) / (mu * math.sqrt(shares["cliques"]))
        groups = int(math.sqrt(n / (n_anchor * SIGNAL * sigma3)))
        if groups < MIN_GROUPS:  # too few groups per class above the noise: naive Bayes
            shares, groups = {"one_way": 1.0}, 0
    mu1 = mu * math.sqrt(shares["one_way"])
    per_class = n / n_anchor
    fine = False
    if n_numeric:
        sigma_fine = math.sqrt(moves * (n_features + n_numeric)) / mu1
        fine = _POINT_MASS_SHARE * per_class > sigma_fine * math.sqrt(2 * math.log(max(n_anchor * fine_cells, 2)))
    sigma1 = math.sqrt(moves * max(n_features + (n_numeric if fine else 0), 1)) / mu1  # no feature: one table's noise
    bins = int(min(max(per_class / (SIGNAL * sigma1), 2), max_bins))
    return Plan(shares=shares, bins=bins, fine=fine, clique_groups=groups)
