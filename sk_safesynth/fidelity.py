"""Fidelity of a synthetic table: workload error over marginals and agreement of functional pairs.

TSTR measures one task. These measure what every other use of the data sees:

- :func:`workload_tvd`: the mean total-variation distance between real and synthetic
  k-way marginals over a workload of column sets (all pairs, pairs of features only, or
  triples that contain the target), with numeric columns cut into equal-width bins over
  their public bounds — the workload error that MST and AIM are judged by;
- :func:`functional_agreement`: the share of synthetic rows in which a column that the
  reference data determines from another (education → education-num) takes the
  determined value.

These compare with real rows and are evaluation, not releases.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd


def _binned(frame: pd.DataFrame, bounds: dict, categories: dict, n_bins: int) -> pd.DataFrame:
    out = {}
    for column in frame.columns:
        if column in bounds:
            low, high = bounds[column]
            edges = np.linspace(low, high, n_bins + 1)
            values = np.clip(frame[column].to_numpy(dtype=float), low, high)
            out[column] = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
        elif column in categories:
            lookup = {str(c): i for i, c in enumerate(categories[column])}
            out[column] = frame[column].astype(str).map(lookup).fillna(-1).to_numpy(dtype=np.int64)
        else:
            raise ValueError(f"column {column!r} has neither bounds nor categories")
    return pd.DataFrame(out, index=frame.index)


def workload(columns: list[str], way: int = 2, *, target: str | None = None, with_target: bool = False) -> list[tuple]:
    """Column sets of a workload.

    ``way``-sets of ``columns``; with ``target`` and ``with_target=False`` only sets
    without the target, with ``with_target=True`` only sets that contain it.
    """
    sets = list(combinations(columns, way))
    if target is None:
        return sets
    return [s for s in sets if (target in s) == with_target]


def workload_tvd(real: pd.DataFrame, synthetic: pd.DataFrame, column_sets: list[tuple], *, bounds: dict,
                 categories: dict, n_bins: int = 16) -> float:
    """Mean total-variation distance between real and synthetic marginals over ``column_sets``.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the columns of ``column_sets``.
    column_sets : list of tuple of str
        The workload (see :func:`workload`).
    bounds : dict
        ``column -> (low, high)`` of numeric columns: ``n_bins`` equal-width bins.
    categories : dict
        ``column -> levels`` of categorical columns (other values count as one level).
    n_bins : int, default=16

    Returns
    -------
    float
        ``mean over sets of 0.5 * sum(|p_real - p_synthetic|)``, in [0, 1].
    """
    if not column_sets:
        raise ValueError("the workload is empty")
    columns = sorted({c for s in column_sets for c in s})
    a = _binned(real[columns], bounds, categories, n_bins)
    b = _binned(synthetic[columns], bounds, categories, n_bins)
    distances = []
    for column_set in column_sets:
        p = a.value_counts(list(column_set), normalize=True)
        q = b.value_counts(list(column_set), normalize=True)
        p, q = p.align(q, fill_value=0.0)
        distances.append(0.5 * float(np.abs(p - q).sum()))
    return float(np.mean(distances))


def functional_agreement(synthetic: pd.DataFrame, source: str, determined: str, reference: pd.DataFrame) -> float:
    """Share of synthetic rows whose ``determined`` value is the one ``reference`` maps ``source`` to.

    The map sends each ``source`` value to its most frequent ``determined`` value in
    ``reference`` (education → education-num in Adult is exact). Rows whose ``source``
    value does not occur in ``reference`` count as disagreeing.
    """
    mapping = reference.groupby(source, observed=True)[determined].agg(lambda s: s.value_counts().index[0])
    expected = synthetic[source].map(mapping)
    return float((expected.to_numpy() == synthetic[determined].to_numpy()).mean())


def fidelity_summary(real: pd.DataFrame, synthetic: pd.DataFrame, *, target: str, bounds: dict, categories: dict,
                     functional: dict[str, tuple[str, str]] | None = None) -> dict[str, float]:
    """The benchmark's fidelity columns in one call.

    ``tvd_all`` (all pairs), ``tvd_features`` (pairs without the target),
    ``tvd_3way_target`` (triples with the target) and, for each ``name: (source,
    determined)`` of ``functional``, the agreement rate under ``name``.
    """
    columns = list(real.columns)
    workloads = {"tvd_all": workload(columns, 2), "tvd_features": workload(columns, 2, target=target),
                 "tvd_3way_target": workload(columns, 3, target=target, with_target=True)}
    out = {name: workload_tvd(real, synthetic, sets, bounds=bounds, categories=categories)
           for name, sets in workloads.items()}
    for name, (source, determined) in (functional or {}).items():
        out[name] = functional_agreement(synthetic, source, determined, real)
    return out
