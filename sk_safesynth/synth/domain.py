"""From a private table to a public schema: input checks and DP domain discovery.

Column kinds come from dtypes (public). Domains come from declarations or DP:

- numeric bounds: declared, or read from the data with a :class:`PrivacyLeakWarning`;
- categories: declared (argument or pandas Categorical dtype), or selected by the
  thresholded Gaussian histogram below, which is (ε, δ)-DP.

DP category selection (per undeclared categorical column)
---------------------------------------------------------
Count every observed value, add discrete Gaussian noise ``Z`` (integer, see
:mod:`sk_safesynth.privacy.samplers`) to each count and keep the values whose noisy
count exceeds the integer τ. Replacing one record changes at most two counts per column
by one, so on values present in both neighbouring datasets the release is discrete
Gaussian noise on ``2 * n_columns`` moved counts, accounted exactly with
dp-accounting's discrete Gaussian PLD (σ calibrated against it). A value present in
only one of the two datasets (at most one per column and direction) has count 1 there
and is released with probability ``p = P(1 + Z > τ) = P(Z >= τ)``, computed exactly for
the discrete Gaussian. Splitting on the event that none is released gives
``P_D(S) <= e^ε P_D'(S) + δ_counts + n_columns p``, so the ledger charges the additive
``δ_τ = n_columns p`` (the stability-based histogram argument, Korolova et al. 2009;
Wilson et al. 2020), with τ the smallest integer keeping ``δ_τ`` within half the
selection's δ. The noisy counts are DP outputs and are kept as the columns' 1-way
marginals.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sk_safesynth.exceptions import PrivacyLeakWarning
from sk_safesynth.privacy import (
    PrivacyLedger,
    discrete_gaussian,
    discrete_gaussian_event,
    discrete_gaussian_sigma,
    discrete_gaussian_tail,
)
from sk_safesynth.schema import ColumnSpec, TableSchema, check_bounds, infer_kind
from sk_safesynth.table import as_table

@dataclass
class PrivateTable:
    """The private data of one fit; lives only inside ``fit`` and is never stored."""

    frame: pd.DataFrame
    target: str | None
    feature_names: list[str]


def prepare_table(X, y=None, *, target_name: str | None = None) -> PrivateTable:
    """Validate ``X`` (and ``y``) and join them into one DataFrame."""
    if not isinstance(X, pd.DataFrame):
        array = np.asarray(X)
        if array.ndim == 2 and array.dtype.kind in "OUS":
            try:
                X = array.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"X as an array must be numeric ({exc}); pass a DataFrame for mixed types") from None
    frame = as_table(X)
    features = list(frame.columns)
    target = None
    if y is not None:
        y_series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
        if y_series.ndim != 1 or len(y_series) != len(frame):
            raise ValueError(f"y must be 1-dimensional with {len(frame)} entries, got shape {np.shape(y)}")
        target = target_name or (str(y_series.name) if y_series.name is not None else "target")
        if target in frame.columns:
            raise ValueError(f"the target name {target!r} is also a column of X; rename one of them")
        frame[target] = y_series.to_numpy()
    for name in frame.columns:
        series = frame[name]
        if series.dtype == object and len(series) and all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in series
        ):
            frame[name] = series = pd.to_numeric(series)  # numbers stored as objects
        if series.isna().any():
            raise ValueError(f"column {name!r} contains missing values; impute or drop them first")
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            if not np.isfinite(series.to_numpy(dtype=float)).all():
                raise ValueError(f"column {name!r} contains infinite values")
    return PrivateTable(frame, target, features)


def column_kinds(table: PrivateTable, declared: dict | None, categories: dict | None = None) -> dict[str, str]:
    """Kind of each column: declared, categorical when its categories are declared, else from its dtype.

    Integer class labels stay integers (bounded, one bin per value in the marginals)
    unless declared categorical, so they need no DP category selection.
    """
    declared = dict(declared or {})
    unknown = set(declared) - set(table.frame.columns)
    if unknown:
        raise ValueError(f"kinds given for unknown columns: {sorted(unknown)}")
    with_categories = {str(k) for k in (categories or {})}
    kinds = {}
    for name in table.frame.columns:
        kind = declared.get(name) or infer_kind(table.frame[name])
        if name not in declared and name in with_categories and kind in ("integer", "numeric", "boolean"):
            kind = "categorical"
        kinds[name] = kind
    return kinds


def numeric_bounds(table: PrivateTable, kinds: dict, declared: dict | None) -> dict[str, tuple[float, float]]:
    """Bounds per numeric/integer/datetime column: declared, else data min/max with a leak warning."""
    declared = {str(k): v for k, v in (declared or {}).items()}
    unknown = set(declared) - set(table.frame.columns)
    if unknown:
        raise ValueError(f"bounds given for unknown columns: {sorted(unknown)}")
    bounds, derived = {}, []
    for name, kind in kinds.items():
        if kind not in ("numeric", "integer", "datetime"):
            continue
        values = _as_number(table.frame[name], kind)
        if name in declared:
            low, high = check_bounds(name, declared[name], datetime=kind == "datetime")
        else:
            low, high = float(values.min()), float(values.max())
            if low == high:
                low, high = low - 1.0, high + 1.0
            derived.append(name)
        if (values < low).all() or (values > high).all():
            warnings.warn(
                f"bounds ({low}, {high}) of column {name!r} exclude every value; all values are clipped",
                UserWarning,
                stacklevel=3,
            )
        bounds[name] = (low, high)
    if derived:
        warnings.warn(
            f"bounds of {derived} are read from the data's min and max, which leaks the extreme records. "
            "Declare bounds={column: (low, high)} for the stated DP guarantee.",
            PrivacyLeakWarning,
            stacklevel=3,
        )
    return bounds


def select_categories(
    table: PrivateTable,
    kinds: dict,
    declared: dict | None,
    ledger: PrivacyLedger,
    epsilon: float,
    delta: float,
    rng: np.random.Generator,
) -> tuple[dict[str, tuple], dict[str, np.ndarray]]:
    """Categories per categorical/boolean column and the noisy counts of DP-selected ones.

    Declared categories cost nothing. Undeclared ones are selected by the thresholded
    Gaussian histogram of the module docstring with ``(epsilon, delta)``, recorded
    in ``ledger``.
    """
    declared = {str(k): tuple(v) for k, v in (declared or {}).items()}
    unknown = set(declared) - set(table.frame.columns)
    if unknown:
        raise ValueError(f"categories given for unknown columns: {sorted(unknown)}")
    categories, to_select = {}, []
    for name, kind in kinds.items():
        if kind == "boolean":
            categories[name] = (False, True)
        elif kind == "categorical":
            series = table.frame[name]
            if name in declared:
                if not declared[name]:
                    raise ValueError(f"categories declared for column {name!r} are empty; list at least one value")
                categories[name] = declared[name]
            elif isinstance(series.dtype, pd.CategoricalDtype):
                categories[name] = tuple(series.dtype.categories)
            else:
                to_select.append(name)
    noisy_counts: dict[str, np.ndarray] = {}
    if not to_select:
        return categories, noisy_counts
    n_cols = len(to_select)
    sigma = discrete_gaussian_sigma(epsilon, delta / 2, n_coordinates=2 * n_cols)
    tau = selection_threshold(sigma, delta / 2, n_cols)
    ledger.spend(discrete_gaussian_event(sigma, 2 * n_cols), f"DP category selection on {to_select}")
    ledger.spend_delta(n_cols * discrete_gaussian_tail(sigma, tau), "category selection threshold")
    for name in to_select:
        counts = table.frame[name].value_counts()
        noisy = (counts.to_numpy() + discrete_gaussian(sigma, len(counts), rng)).astype(float)
        keep = noisy > tau
        if not keep.any():
            raise ValueError(
                f"no category of column {name!r} is frequent enough to be released at this privacy budget "
                f"(threshold {tau:.0f} records); declare its categories with categories={{{name!r}: [...]}}"
            )
        kept = sorted(zip(counts.index[keep], noisy[keep]), key=lambda item: str(item[0]))
        categories[name] = tuple(_plain(v) for v, _ in kept)
        noisy_counts[name] = np.array([c for _, c in kept])
    return categories, noisy_counts


def selection_threshold(sigma: float, threshold_delta: float, n_columns: int) -> int:
    """Smallest integer τ with ``n_columns * P(Z >= τ) <= threshold_delta`` (Z discrete Gaussian)."""
    tau = max(1, math.ceil(sigma * math.sqrt(2 * math.log(max(n_columns / threshold_delta, 2.0)))) - 2)
    while n_columns * discrete_gaussian_tail(sigma, tau) > threshold_delta:
        tau += 1
    while tau > 1 and n_columns * discrete_gaussian_tail(sigma, tau - 1) <= threshold_delta:
        tau -= 1
    return tau


def build_schema(table: PrivateTable, kinds: dict, bounds: dict, categories: dict, max_text_length: int) -> TableSchema:
    """The public schema: kinds, dtypes and DP/declared domains only."""
    columns = []
    for name in table.frame.columns:
        kind = kinds[name]
        low, high = bounds.get(name, (None, None))
        columns.append(
            ColumnSpec(
                name,
                kind,
                low=low,
                high=high,
                categories=categories.get(name),
                max_length=max_text_length if kind == "text" else None,
                dtype=_output_dtype(table.frame[name], kind),
            )
        )
    return TableSchema(tuple(columns))


def _output_dtype(series: pd.Series, kind: str) -> str:
    if kind == "categorical" and isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    if kind == "categorical" and pd.api.types.is_integer_dtype(series.dtype):
        return str(series.dtype)
    if kind in ("categorical", "text"):
        return "object"
    return str(series.dtype)


def _as_number(series: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        return series.astype("datetime64[ns]").astype("int64").to_numpy() / 1e9
    return series.to_numpy(dtype=float)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
