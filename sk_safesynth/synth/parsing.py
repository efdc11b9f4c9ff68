"""Private input as one table of parsed columns, without any value deciding anything.

:func:`prepare_table` joins ``X`` and ``y`` (in memory, or the partitions of a dask
DataFrame); :func:`parse_column` reads a column as its kind once the kind is known
(declared, fixed by a public dtype, or released with DP).
Parsing is per value and the same rule for every table: a value that is not of the
column's kind (an unparsable string in a number column, ``±inf``, a blank) is a missing
value; no warning or error depends on what the values are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sk_safesynth.schema import parse_dates, parse_numbers
from sk_safesynth.synth.counting import DaskRows, PandasRows, Rows, is_dask_collection
from sk_safesynth.table import as_table


@dataclass
class PrivateTable:
    """The private data of one fit; lives only inside ``fit`` and is never stored.

    ``rows`` is read through counts only (:mod:`sk_safesynth.synth.counting`): one
    pandas frame, or the partitions of a dask DataFrame.
    """

    rows: Rows
    target: str | None
    feature_names: list[str]


def prepare_table(X, y=None, *, target_name: str | None = None) -> PrivateTable:
    """``X`` (and ``y`` as one more column) as rows to count; values are left as they are.

    A dask DataFrame ``X`` stays partitioned; its ``y`` must then be a dask Series
    partitioned like ``X`` (a column of the same frame).
    """
    if is_dask_collection(X):
        return _prepare_partitioned(X, y, target_name)
    frame = as_table(X)
    features = list(frame.columns)
    target = None
    if y is not None:
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(f"y must be 1-dimensional, got a DataFrame of {y.shape[1]} columns")
            y = y.iloc[:, 0]
        values = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]  # an (n, 1) array
        if values.ndim != 1 or len(values) != len(frame):
            raise ValueError(f"y must be 1-dimensional with {len(frame)} entries, got shape {np.shape(y)}")
        target = _target_name(y, frame.columns, target_name)
        frame[target] = values
    return PrivateTable(PandasRows(frame), target, features)


def _target_name(y, columns, target_name: str | None) -> str:
    name = getattr(y, "name", None)
    target = target_name or (str(name) if name is not None else "target")
    if target in columns:
        raise ValueError(f"the target name {target!r} is also a column of X; rename one of them")
    return target


def _prepare_partitioned(X, y, target_name: str | None) -> PrivateTable:
    """A dask DataFrame as :class:`DaskRows` (the checks of :func:`~sk_safesynth.table.as_table`
    that need no pass over the data)."""
    if not hasattr(X, "columns"):
        raise ValueError(f"X must be a dask DataFrame, got {type(X).__name__}")
    as_table(X._meta_nonempty)  # a stand-in of two fake rows: the checks of the column names
    frame = X.rename(columns=str)
    features = list(frame.columns)
    target = None
    if y is not None:
        if not (is_dask_collection(y) and getattr(y, "ndim", None) == 1):
            raise ValueError("with a dask DataFrame X, y must be a dask Series partitioned like X (a column of the "
                             f"same dask DataFrame), got {type(y).__name__}")
        target = _target_name(y, features, target_name)
        frame = frame.assign(**{target: y})
    rows = DaskRows(frame)
    if not len(rows):  # one pass that counts the rows, which the fit needs anyway
        raise ValueError("X is empty: 0 rows; at least 1 is required")
    return PrivateTable(rows, target, features)


def parse_column(series: pd.Series, kind: str) -> pd.Series:
    """``series`` read as ``kind``; values not of that kind become missing (no message)."""
    if kind in ("numeric", "integer"):
        return as_numbers(series)
    if kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series.dt.tz_convert(None) if getattr(series.dt, "tz", None) is not None else series
        return parse_dates(series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v))
    if kind == "boolean":
        return series.astype(object).map(_boolean)
    if kind == "text":
        return series.astype(object).map(lambda v: None if _blank(v) else str(v))
    if kind == "categorical" and not isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype(object).map(lambda v: None if _blank(v) else v)
    return series


def as_numbers(series: pd.Series) -> pd.Series:
    """Floats; booleans, unparsable strings and ``±inf`` are missing."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(np.nan, index=series.index)
    if series.dtype == object:
        series = series.map(lambda v: None if isinstance(v, (bool, np.bool_)) else v)
    numbers = parse_numbers(series)
    return numbers.where(np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan)))


def as_seconds(series: pd.Series) -> np.ndarray:
    """POSIX seconds of a parsed datetime column, NaN for NaT."""
    stamps = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
    seconds = stamps.view("int64").astype(float) / 1e9
    seconds[np.isnat(stamps)] = np.nan
    return seconds


def fill_declared_complete(series: pd.Series, kind: str, low: float | None, categories) -> pd.Series:
    """A column declared complete, its missing values replaced by a public value.

    The value is the lower bound (numbers, dates), the first declared category, or False:
    a fixed rule, so a missing value where none was declared changes one record's value,
    as any other record change does (see docs/privacy.md).
    """
    absent = series.isna()
    if not absent.any():
        return series
    if kind in ("numeric", "integer") and low is not None:
        return series.fillna(low)
    if kind == "datetime" and low is not None:
        return series.fillna(pd.Timestamp(low, unit="s"))
    if kind == "boolean":
        return series.astype(object).where(~absent, False)
    if kind == "categorical" and categories:
        return series.astype(object).where(~absent, categories[0])
    return series


def _blank(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value) or (
        isinstance(value, str) and not value.strip())


def _boolean(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    return None
