"""One check of the shape of a table, shared by the sampler, the noisers and the attacks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_table(X: Any, name: str = "X") -> pd.DataFrame:
    """``X`` as a DataFrame with at least one row and one column and unique string names.

    Arrays become columns ``x0, x1, ...``; a Series becomes one column. The result is
    a copy, with a fresh ``RangeIndex``.

    Raises
    ------
    ValueError
        When ``X`` is not 2-dimensional, is empty, or repeats a column name.
    """
    if isinstance(X, pd.DataFrame):
        frame = X.copy()
    elif isinstance(X, pd.Series):
        frame = X.to_frame()
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got an array of shape {array.shape}")
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if frame.columns.duplicated().any():
        duplicated = sorted(map(str, frame.columns[frame.columns.duplicated()].unique()))
        raise ValueError(f"{name} has duplicate column names: {duplicated}")
    if frame.shape[0] == 0:
        raise ValueError(f"{name} is empty: 0 rows; at least 1 is required")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has 0 columns; at least 1 is required")
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():  # e.g. 1 and "1"
        raise ValueError(f"{name} has column names that are equal as strings: {list(frame.columns)}")
    return frame.reset_index(drop=True)
