"""Mixed-type encoding and chunked nearest-neighbour search for the attacks.

The encoder is fitted on data the attacker may use (synthetic and reference rows),
never on members. Numerics are centred on the median and divided by a robust scale
(IQR / 1.349, falling back to the standard deviation, then to 1). Each categorical
becomes a one-hot block scaled by 1/sqrt(2), so two records that differ in a category
are at squared distance 1 and equal ones at 0: squared Euclidean distance is then
sum(scaled numeric gaps^2) + number of mismatched categoricals, a Gower-like mix.
Categories never seen at fit time share one extra slot, so they mismatch every
fitted category by the same amount.

Missing values are their own value: a missing category is one more category, and a
numeric column with missing values in the fit data gets an indicator (missing vs
present costs 1, like a category mismatch) with the missing number put at the centre.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from sk_safesynth.mia.frames import column_kind

# Rows per distance block are chosen so that one block stays near this size.
_BLOCK_BYTES = 128 * 2**20


class MixedTypeEncoder:
    """Scale numerics robustly and one-hot categoricals into a float32 matrix.

    Parameters
    ----------
    max_categories : int, default=200
        Per column, only the most frequent categories get their own slot; the rest
        share the "unseen" slot (keeps the matrix small for ID-like columns).
    """

    def __init__(self, max_categories: int = 200) -> None:
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame) -> MixedTypeEncoder:
        """Learn centres, scales and categories from ``X`` (never the members)."""
        self.numeric_ = [c for c in X.columns if column_kind(X[c]) == "numeric"]
        self.categorical_ = {
            c: _labels(X[c]).value_counts().index[: self.max_categories]
            for c in X.columns
            if c not in self.numeric_
        }
        values = X[self.numeric_].to_numpy(dtype=float, na_value=np.nan).reshape(len(X), -1)
        self.nullable_ = [c for c, absent in zip(self.numeric_, np.isnan(values).any(axis=0)) if absent]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: centre 0, scale 1
            q25, q50, q75 = np.nanpercentile(values, [25, 50, 75], axis=0).reshape(3, -1)
            scale = np.where(q75 > q25, (q75 - q25) / 1.349, np.nanstd(values, axis=0))
        self.center_ = np.nan_to_num(q50)
        self.scale_ = np.where(np.nan_to_num(scale) > 0, np.nan_to_num(scale), 1.0)
        return self

    def codes(self, X: pd.DataFrame) -> np.ndarray:
        """Integer category codes, one column per categorical (the unseen slot last)."""
        out = np.empty((len(X), len(self.categorical_)), dtype=np.int64)
        for j, (col, cats) in enumerate(self.categorical_.items()):
            codes = cats.get_indexer(_labels(X[col]))
            out[:, j] = np.where(codes < 0, len(cats), codes)
        return out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode ``X`` into the float32 distance space (numerics first)."""
        numeric = (X[self.numeric_].to_numpy(dtype=float, na_value=np.nan) - self.center_) / self.scale_
        blocks = [np.nan_to_num(numeric).astype(np.float32)]
        if self.nullable_:
            blocks.append(X[self.nullable_].isna().to_numpy(dtype=np.float32))
        for col, codes in zip(self.categorical_, self.codes(X).T):
            onehot = np.zeros((len(X), len(self.categorical_[col]) + 1), dtype=np.float32)
            onehot[np.arange(len(X)), codes] = np.sqrt(0.5)
            blocks.append(onehot)
        return np.hstack(blocks)


def _labels(series: pd.Series) -> pd.Series:
    """Category labels as strings, every kind of missing value (NaN, None, NaT) as one label."""
    return series.astype(object).where(series.notna(), "<missing>").astype(str)


def _brute(queries: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    """Exact k smallest distances by blocked float32 products, refined in float64."""
    p_sq = np.einsum("ij,ij->i", points, points)
    rows = max(1, _BLOCK_BYTES // (4 * max(1, len(points))))
    out = np.empty((len(queries), k))
    for start in range(0, len(queries), rows):
        q = queries[start : start + rows]
        d2 = p_sq[None, :] - 2.0 * (q @ points.T)  # |q|^2 is constant per row
        if k == 1:
            idx = np.argmin(d2, axis=1)[:, None]
        else:
            idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        # Recompute the winners in float64 so exact copies come out as 0, not noise.
        diff = q[:, None, :].astype(np.float64) - points[idx].astype(np.float64)
        out[start : start + rows] = np.sort(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), axis=1)
    return out


def nearest_distances(
    encoder: MixedTypeEncoder, queries: pd.DataFrame, points: pd.DataFrame, k: int = 1
) -> np.ndarray:
    """Mixed-type distances from each query row to its ``k`` nearest point rows.

    Exact, in two passes. Two rows whose categoricals differ are at squared distance
    at least 1, so a query whose k-th nearest point with the *same categorical
    profile* is closer than 1 is already answered by a search over numerics inside
    its profile group (cheap: few columns, small groups). Only the other queries go
    through the blocked brute-force search over the full encoding, whose memory per
    block stays near 128 MiB.

    Parameters
    ----------
    encoder : MixedTypeEncoder
        Fitted encoder.
    queries, points : DataFrame
    k : int, default=1

    Returns
    -------
    ndarray of shape (n_queries, k)
        Sorted increasing along axis 1.
    """
    k = min(k, len(points))
    q_codes, p_codes = encoder.codes(queries), encoder.codes(points)
    _, profile = np.unique(np.vstack([q_codes, p_codes]), axis=0, return_inverse=True)
    profile = profile.ravel()
    gq, gp = profile[: len(queries)], profile[len(queries) :]
    n_num = len(encoder.numeric_)
    q_enc, p_enc = encoder.transform(queries), encoder.transform(points)

    out = np.full((len(queries), k), np.inf)
    p_order = np.argsort(gp, kind="stable")
    p_sorted = gp[p_order]
    q_order = np.argsort(gq, kind="stable")
    q_groups, q_starts = np.unique(gq[q_order], return_index=True)
    lo = np.searchsorted(p_sorted, q_groups, "left")
    hi = np.searchsorted(p_sorted, q_groups, "right")
    q_bounds = np.r_[q_starts, len(queries)]
    for g in np.flatnonzero(hi - lo >= k):
        rows = q_order[q_bounds[g] : q_bounds[g + 1]]
        members = p_order[lo[g] : hi[g]]
        out[rows] = _brute(q_enc[rows, :n_num], p_enc[members, :n_num], k)
    todo = np.flatnonzero(~(out[:, -1] < 1.0))
    if len(todo):
        out[todo] = _brute(q_enc[todo], p_enc, k)
    return out
