"""Public encodings of table rows: discrete codes for marginals, vectors for distances.

Both encoders are built from the schema alone (declared or DP domains), never from
private values, so they hold no information about the training records.

Missing values: a column the schema marks as possibly missing (``ColumnSpec.missing``,
declared or DP-decided) gets one more level, the last, for "missing"; any method built
on the :class:`Discretizer` measures and reproduces missingness with the column's other
levels. A column marked complete has no such level, and a missing value in it is left
out of every count like any value outside the domain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_safesynth.schema import ColumnSpec, TableSchema

# Integer columns with at most this many values get one bin per value.
MAX_EXACT_INTEGER_BINS = 32


def _as_number(series: pd.Series, column: ColumnSpec) -> np.ndarray:
    """Numbers (datetimes as POSIX seconds) with NaN for missing values."""
    if column.kind == "datetime":
        stamps = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
        seconds = stamps.view("int64").astype(float) / 1e9
        seconds[np.isnat(stamps)] = np.nan
        return seconds
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


class Discretizer:
    """Map each non-text column to codes ``0..n_levels-1`` (bins or categories).

    Numeric columns get ``n_bins`` equal-width bins over their bounds (integers with
    at most ``max_exact`` values get one bin per value). Values outside the domain (a category not
    selected, say) get code ``-1`` and are left out of every count, unless the column
    has an ``"other"`` level, which then holds them. A column that may be missing has a
    last level for missing values (decoded as NaN / NaT).
    """

    def __init__(self, schema: TableSchema, n_bins: int = 16, max_exact: int = MAX_EXACT_INTEGER_BINS):
        self.schema = schema
        self.columns = [c for c in schema if c.kind != "text"]
        self.edges: dict[str, np.ndarray] = {}
        for column in self.columns:
            if column.kind in ("numeric", "integer", "datetime"):
                if column.kind == "integer" and column.high - column.low + 1 <= max_exact:
                    self.edges[column.name] = np.arange(np.ceil(column.low), np.floor(column.high) + 2) - 0.5
                else:
                    self.edges[column.name] = np.linspace(column.low, column.high, n_bins + 1)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def n_values(self, name: str) -> int:
        """Levels of the column's values (bins or categories), the missing level left out."""
        if name in self.edges:
            return len(self.edges[name]) - 1
        return len(self.schema[name].categories or ())

    def n_levels(self, name: str) -> int:
        """Levels of the column, the missing level (the last one) included when it has one."""
        return self.n_values(name) + (1 if self.schema[name].missing else 0)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Codes of shape (n_rows, n_columns), ``-1`` for values outside the domain."""
        codes = np.empty((len(frame), len(self.columns)), dtype=np.int64)
        for j, column in enumerate(self.columns):
            series = frame[column.name]
            if column.name in self.edges:
                edges = self.edges[column.name]
                raw = _as_number(series, column)
                values = np.clip(np.nan_to_num(raw, nan=edges[0]), edges[0], edges[-1])
                codes[:, j] = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
                absent = np.isnan(raw)
            else:
                lookup = {c: i for i, c in enumerate(column.categories)}
                lookup.update({str(c): i for i, c in enumerate(column.categories)})
                outside = lookup[column.other_level] if column.other_level is not None else -1
                absent = series.isna().to_numpy()
                codes[:, j] = [lookup.get(v, lookup.get(str(v), outside)) for v in series]
            codes[absent, j] = self.n_values(column.name) if column.missing else -1
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Rows from codes: categories as they are, numbers uniform inside their bin, missing as NaN."""
        data = {}
        for j, column in enumerate(self.columns):
            absent = codes[:, j] == self.n_values(column.name) if column.missing else np.zeros(len(codes), bool)
            code = np.where(absent, 0, codes[:, j])
            if column.name in self.edges:
                edges = self.edges[column.name]
                low = np.maximum(edges[code], column.low)
                high = np.minimum(edges[code + 1], column.high)
                u = rng.random(len(code))
                values = low + u * (high - low)
                if column.kind == "integer":
                    values = self._integers_in_bin(u, values, code, edges, column)
                values = np.where(absent, np.nan, values)
                if column.kind == "datetime":
                    values = pd.to_datetime(values, unit="s")
                data[column.name] = values
            else:
                values = np.asarray(column.categories, dtype=object)[code]
                values[absent] = np.nan
                data[column.name] = values
        return pd.DataFrame(data)

    @staticmethod
    def _integers_in_bin(u: np.ndarray, values: np.ndarray, code: np.ndarray, edges: np.ndarray,
                         column: ColumnSpec) -> np.ndarray:
        """The integer at uniform position ``u`` among those that encode to each bin (``values`` rounded
        where no integer does)."""
        lowest, highest = np.ceil(float(column.low)), np.floor(float(column.high))  # type: ignore[arg-type]
        first = np.maximum(np.ceil(edges[code]), lowest)
        # a bin is [edge, next edge); the last one also holds its upper edge
        last = np.where(code == len(edges) - 2, np.floor(edges[-1]), np.ceil(edges[code + 1]) - 1)
        last = np.minimum(last, highest)
        count = last - first + 1
        inside = first + np.floor(u * np.maximum(count, 1))
        rounded = np.clip(np.rint(values), lowest, highest)
        return np.where(count >= 1, np.minimum(inside, last), rounded)


class VectorEncoder:
    """Rows as vectors for nearest-neighbour votes: numbers scaled to [0, 1] by their
    bounds, categories one-hot scaled by 1/sqrt(2) (a mismatch then costs 1, like a
    full-range numeric difference), text by an embedding function.

    A missing number sits at the middle of its range, a missing category matches no
    category and a missing text is embedded as an empty one: missing values vote by
    the columns that are present."""

    def __init__(self, schema: TableSchema, embed=None):
        self.schema = schema
        self.embed = embed

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for column in self.schema:
            if column.kind in ("numeric", "integer", "datetime"):
                values = _as_number(frame[column.name], column)
                values = np.nan_to_num(values, nan=(column.low + column.high) / 2)
                parts.append(((np.clip(values, column.low, column.high) - column.low) / (column.high - column.low))[:, None])
            elif column.kind in ("categorical", "boolean"):
                lookup = {c: i for i, c in enumerate(column.categories)}
                onehot = np.zeros((len(frame), len(column.categories)))
                for i, v in enumerate(frame[column.name]):
                    k = lookup.get(v)
                    if k is not None:
                        onehot[i, k] = 1.0 / np.sqrt(2.0)
                parts.append(onehot)
            elif self.embed is not None:
                texts = ["" if pd.isna(v) else str(v) for v in frame[column.name]]
                parts.append(np.asarray(self.embed(texts), dtype=float))
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))
