"""Mixed-type encoding and chunked nearest-neighbour search for the attacks.

The encoder is fitted on data the attacker may use (synthetic and reference rows),
never on members. Numerics are centred on the median and divided by a robust scale
(IQR / 1.349, falling back to the standard deviation, then to 1). Each categorical
becomes a one-hot block scaled by 1/sqrt(2), so two records that differ in a category
are at squared distance 1 and equal ones at 0: squared Euclidean distance is then
sum(scaled numeric gaps^2) + number of mismatched categoricals, a Gower-like mix.
Categories never seen at fit time share one extra slot, so they mismatch every
fitted category by the same amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sk_safesynth.mia.frames import column_kind

# Rows per distance block are chosen so that one block stays near this size.
_BLOCK_BYTES = 128 * 2**20


@dataclass
class MixedTypeEncoder:
    """Scale numerics robustly and one-hot categoricals into a float32 matrix.

    Parameters
    ----------
    max_categories : int, default=200
        Per column, only the most frequent categories get their own slot; the rest
        share the "unseen" slot (keeps the matrix small for ID-like columns).
    """

    max_categories: int = 200
    numeric_: list[str] = field(default_factory=list, init=False, repr=False)
    categorical_: dict[str, pd.Index] = field(default_factory=dict, init=False, repr=False)
    center_: np.ndarray = field(default=None, init=False, repr=False)
    scale_: np.ndarray = field(default=None, init=False, repr=False)

    def fit(self, X: pd.DataFrame) -> MixedTypeEncoder:
        """Learn centres, scales and categories from ``X`` (never the members)."""
        self.numeric_ = [c for c in X.columns if column_kind(X[c]) == "numeric"]
        self.categorical_ = {
            c: X[c].astype(str).value_counts().index[: self.max_categories]
            for c in X.columns
            if c not in self.numeric_
        }
        values = X[self.numeric_].to_numpy(dtype=float)
        self.center_ = np.median(values, axis=0) if self.numeric_ else np.zeros(0)
        q75, q25 = (np.percentile(values, [75, 25], axis=0) if self.numeric_ else (0, 0))
        scale = (q75 - q25) / 1.349
        std = values.std(axis=0) if self.numeric_ else np.zeros(0)
        scale = np.where(scale > 0, scale, std)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode ``X`` into the float32 distance space."""
        blocks = [((X[self.numeric_].to_numpy(dtype=float) - self.center_) / self.scale_)]
        for col, cats in self.categorical_.items():
            codes = cats.get_indexer(X[col].astype(str))
            codes[codes < 0] = len(cats)  # the shared "unseen" slot
            onehot = np.zeros((len(X), len(cats) + 1), dtype=np.float32)
            onehot[np.arange(len(X)), codes] = np.sqrt(0.5)
            blocks.append(onehot)
        return np.hstack(blocks).astype(np.float32, copy=False)


def nearest_distances(queries: np.ndarray, points: np.ndarray, k: int = 1) -> np.ndarray:
    """Euclidean distances from each query to its ``k`` nearest points, chunked.

    Candidates are found with float32 matrix products in blocks of bounded memory,
    then the distances to the chosen neighbours are recomputed in float64 so that
    exact copies come out as 0 rather than as rounding noise.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
    points : ndarray of shape (n_points, n_features)
    k : int, default=1

    Returns
    -------
    ndarray of shape (n_queries, k)
        Sorted increasing along axis 1.
    """
    k = min(k, len(points))
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
        diff = q[:, None, :].astype(np.float64) - points[idx].astype(np.float64)
        out[start : start + rows] = np.sort(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)), axis=1)
    return out
