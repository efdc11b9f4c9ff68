"""Validation of the member, synthetic, non-member and reference data frames."""

from __future__ import annotations

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
