"""Validation of the member, synthetic, non-member and reference data frames."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from sk_safesynth.schema import value_kind
from sk_safesynth.table import as_table


def column_kind(series: pd.Series) -> str:
    """``"numeric"`` or ``"categorical"`` (bool, object, string and category columns).

    Parameters
    ----------
    series : Series

    Returns
    -------
    str
    """
    kind = value_kind(series)
    if kind == "datetime":
        raise TypeError(
            f"column {series.name!r} has dtype {series.dtype}; convert datetimes to numbers "
            "(e.g. days since an epoch) before running a membership attack."
        )
    return kind


def _as_frame(X: Any, name: str) -> pd.DataFrame:
    return as_table(X, name)


def check_frames(**frames: Any) -> dict[str, pd.DataFrame]:
    """Check that the frames share columns and column kinds (missing values are allowed).

    The first frame fixes the column order; the others are reordered to it.

    Parameters
    ----------
    **frames : DataFrame or array-like
        Named frames, e.g. ``X_members=..., X_synthetic=..., X_non_members=...``.

    Returns
    -------
    dict of str to DataFrame
        The frames, as DataFrames with a fresh index and the same column order.

    Raises
    ------
    ValueError
        On an empty frame, mismatched columns, mismatched column kinds or inf.
    TypeError
        On datetime columns.
    """
    out = {name: _as_frame(X, name) for name, X in frames.items()}
    first_name, first = next(iter(out.items()))
    columns = list(first.columns)
    kinds = {c: column_kind(first[c]) for c in columns}
    for name, frame in out.items():
        missing = [c for c in columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in kinds]
        if missing or extra:
            raise ValueError(
                f"{name} does not have the columns of {first_name}: "
                f"missing {missing}, unexpected {extra}."
            )
        frame = out[name] = frame[columns]
        wrong = {
            c: (kinds[c], column_kind(frame[c]))
            for c in columns
            if column_kind(frame[c]) != kinds[c]
        }
        if wrong:
            detail = ", ".join(f"{c!r}: {a} in {first_name} but {b}" for c, (a, b) in wrong.items())
            raise ValueError(f"{name} has column types that do not match: {detail}.")
        numeric = [c for c in columns if kinds[c] == "numeric"]
        if numeric and np.isinf(frame[numeric].to_numpy(dtype=float, na_value=np.nan)).any():
            raise ValueError(f"{name} contains infinite values in numeric columns.")
    return out


class MIAPopulationWarning(UserWarning):
    """Members and non-members look drawn from different populations."""


_POPULATION_ALPHA = 1e-3


def check_populations(members: pd.DataFrame, non_members: pd.DataFrame) -> None:
    """Refuse identical member and non-member frames; warn when they look like different populations.

    A membership audit compares records the synthesizer saw with records from the same
    population that it did not. Identical frames make the question meaningless. Frames
    from different populations make any attack look successful: each column is tested
    (Kolmogorov-Smirnov for numbers, chi-square for categories) and a warning names the
    columns whose distributions differ at level 1e-3 (Bonferroni over the columns).
    """
    from scipy.stats import chi2_contingency, ks_2samp

    if len(members) == len(non_members) and members.reset_index(drop=True).equals(non_members.reset_index(drop=True)):
        raise ValueError("X_members and X_non_members are the same rows: non-members must be records the "
                         "synthesizer was not trained on")
    alpha = _POPULATION_ALPHA / max(len(members.columns), 1)
    differing = []
    for name in members.columns:
        a, b = members[name], non_members[name]
        if column_kind(a) == "numeric":
            p = ks_2samp(a.to_numpy(dtype=float), b.to_numpy(dtype=float), method="asymp").pvalue
        else:
            table = pd.crosstab(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a.astype(str), b.astype(str)])
            p = chi2_contingency(table.to_numpy())[1] if table.shape[1] > 1 else 1.0
        if p < alpha:
            differing.append(name)
    if differing:
        warnings.warn(f"members and non-members look like different populations in columns {differing}: an "
                      "attack then measures the difference of populations, not membership", MIAPopulationWarning,
                      stacklevel=3)
