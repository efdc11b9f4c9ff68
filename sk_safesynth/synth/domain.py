"""From a private table to a public schema: input checks and DP domain discovery.

What is public: the column names, the number of rows (the neighbouring relation is
*replace one record*), dtypes, and what the user declares (kinds, bounds, categories,
missingness). Everything else about a column is read through one DP measurement,
:func:`discover_domain`, or, for numeric bounds that are not declared, from the data
with a :class:`PrivacyLeakWarning`.

DP domain measurement (one Gaussian mechanism per fit)
------------------------------------------------------
For every undeclared categorical column, count every observed value and the missing
values; for a string column whose kind is not declared, also count the values of at
least ``_TEXT_MIN_MEAN_LENGTH`` characters; for every other column whose missingness
is not declared, count its missing values. Replacing one record changes at most two
cells of a column's value histogram by one, and each other count by at most one, so the
whole vector moves in at most ``2 n_hist + n_counts`` coordinates, each by one. Discrete
Gaussian noise ``Z`` (integer, see :mod:`sk_safesynth.privacy.samplers`) is added to
every cell, recorded as one :class:`~sk_safesynth.privacy.ledger.DiscreteGaussianDpEvent`
over those coordinates and accounted exactly with dp-accounting's discrete Gaussian PLD
(σ calibrated against it). The missing cells and the other counts sit at fixed
positions: on them the release is that mechanism. A value cell is released only when
its noisy count exceeds the integer τ: on values present in both neighbouring datasets
this is again that mechanism; a value present in only one dataset has count 1 there and
is released with probability ``P(1 + Z > τ) = P(Z >= τ)``, computed exactly for the
discrete Gaussian, and at most two such values per column exist, which is charged as an
additive ``δ_τ = 2 n_hist P(Z >= τ)`` with τ the smallest integer keeping it within
half the measurement's δ (the stability-based histogram, Korolova et al. 2009; Wilson
et al. 2020).

Every decision taken from the noisy counts is post-processing: which categories are
kept, whether an ``"other"`` level holds the rest, whether a column may be missing and
its missing share, whether a string column is free text, and whether a column is
dropped because nothing in it can be released (ID-like, or all missing). Messages name
columns and DP estimates only, never exact counts of the private data.
"""

from __future__ import annotations

import math
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field

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
from sk_safesynth.schema import (
    _TEXT_MIN_MEAN_LENGTH,
    ID_NAME,
    KINDS,
    OTHER,
    ColumnSpec,
    TableSchema,
    check_bounds,
    infer_kind,
    parse_dates,
    parse_numbers,
)
from sk_safesynth.table import as_table

#: Which interface is in use ("python" or "cli"): messages name its options.
INTERFACE: ContextVar[str] = ContextVar("sk_safesynth_interface", default="python")

#: Kind a user declares for a column that must never be synthesised or released.
ID_KIND = "id"
# A noisy count below this many standard deviations is read as zero (post-processing).
_ZERO_SIGMAS = 4.0
# A string column whose values are mostly (this share, by DP count) long is free text.
_TEXT_SHARE = 0.5
# A target whose declared or read bounds hold at most this many integers is categorical.
_MAX_TARGET_CLASSES = 10


class DomainError(ValueError):
    """The table cannot be released as it is; ``problems`` maps each column to why."""

    def __init__(self, message: str, problems: dict[str, str]):
        super().__init__(message)
        self.problems = problems


def declare_hint(what: str, columns) -> str:
    """How to declare ``what`` ("categories", "kinds", "bounds" or "schema") for ``columns``.

    In the language of the interface in use (:data:`INTERFACE`).
    """
    names = list(columns)
    if INTERFACE.get() == "cli":
        if what == "kinds":
            listed = ",".join(f"{n}=text" for n in names[:2])
            return (f"declare them in a schema file (sk-safesynth schema DATA.csv --out schema.json, review it, "
                    f"then generate --schema schema.json) or give their kinds, e.g. --kinds '{listed}'")
        if what == "missing":
            return ('declare "missing": {"COL": true} in a schema file (sk-safesynth schema) for those that '
                    "may be missing")
        return ("declare their " + ("bounds" if what == "bounds" else "categories") + " in a schema file: "
                "sk-safesynth schema DATA.csv --target COL --out schema.json, review it as public, then "
                "sk-safesynth generate DATA.csv --schema schema.json ...")
    example = ", ".join(f"{n!r}: [...]" for n in names[:3]) + (", ..." if len(names) > 3 else "")
    if what == "missing":
        example = ", ".join(f"{n!r}: True" for n in names[:3])
        return f"declare missing={{{example}}} for those that may be missing"
    if what == "kinds":
        example = ", ".join(f"{n!r}: 'text'" for n in names[:3])
        return f"declare kinds={{{example}}}, or write a schema with infer_schema(X) and review it"
    if what == "bounds":
        example = ", ".join(f"{n!r}: (low, high)" for n in names[:3])
        return f"declare bounds={{{example}}}"
    return (f"declare categories={{{example}}}, or write a schema with sk_safesynth.infer_schema(X), review "
            "it as public and pass DPSyntheticSampler(**schema)")


@dataclass
class PrivateTable:
    """The private data of one fit; lives only inside ``fit`` and is never stored."""

    frame: pd.DataFrame
    target: str | None
    feature_names: list[str]


@dataclass
class Domain:
    """What :func:`discover_domain` releases (DP outputs and declarations only)."""

    kinds: dict[str, str]
    categories: dict[str, tuple] = field(default_factory=dict)
    missing: dict[str, float] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def prepare_table(X, y=None, *, target_name: str | None = None) -> PrivateTable:
    """Validate ``X`` (and ``y``) and join them into one DataFrame; missing values are data."""
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
    infinite = []
    for name in frame.columns:
        series = frame[name]
        values = series.dropna()
        if series.dtype == object and len(values) and all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values
        ):
            frame[name] = series = pd.to_numeric(series)  # numbers stored as objects
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            numbers = series.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(numbers).any():
                infinite.append(name)
    if infinite:
        names = ", ".join(map(repr, infinite))
        verb = "contains" if len(infinite) == 1 else "contain"
        raise ValueError(f"column{'s' if len(infinite) > 1 else ''} {names} {verb} infinite values; replace them "
                         "(NaN is read as a missing value)")
    return PrivateTable(frame, target, features)


def column_kinds(table: PrivateTable, declared: dict | None, categories: dict | None = None,
                 bounds: dict | None = None) -> dict[str, str]:
    """Kind of each column from declarations and dtypes only (never from the values).

    A declared kind wins; then declared categories make a column categorical and
    declared bounds on a string column make it numeric (or datetime when the bounds
    are dates); then the dtype. A column declared ``"id"``, or an undeclared number
    column named like an identifier (``id``, ``user_id``, ``Sample ID``), gets the kind
    ``"id"``: it is dropped with a warning, never synthesised nor released. String
    columns whose kind was declared numeric, integer or datetime are parsed in place
    (thousands separators, ISO dates); values that do not parse become missing.
    """
    declared = {str(k): v for k, v in (declared or {}).items()}
    unknown = set(declared) - set(table.frame.columns)
    if unknown:
        raise ValueError(f"kinds given for unknown columns: {sorted(unknown)}")
    bad = {k: v for k, v in declared.items() if v not in (*KINDS, ID_KIND)}
    if bad:
        raise ValueError(f"unknown kinds {bad}; expected one of {(*KINDS, ID_KIND)}")
    with_categories = {str(k) for k in (categories or {})}
    with_bounds = {str(k): v for k, v in (bounds or {}).items()}
    kinds: dict[str, str] = {}
    for name in table.frame.columns:
        series = table.frame[name]
        kind = declared.get(name) or infer_kind(series)
        if name not in declared:
            if name in with_categories and kind in ("integer", "numeric", "boolean", "text"):
                kind = "categorical"
            elif name in with_bounds and kind in ("categorical", "text") and not isinstance(
                    series.dtype, pd.CategoricalDtype):
                kind = "datetime" if _looks_like_dates(with_bounds[name]) else "numeric"
            elif kind in ("integer", "numeric") and ID_NAME.search(name) and name != table.target:
                kind = ID_KIND
        if kind in ("numeric", "integer") and not pd.api.types.is_numeric_dtype(series.dtype):
            table.frame[name] = _parsed(series, parse_numbers, name, "numbers")
        elif kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(series.dtype):
            table.frame[name] = _parsed(series, parse_dates, name, "dates")
        kinds[name] = kind
    ids = [n for n, k in kinds.items() if k == ID_KIND]
    if ids:
        warnings.warn(f"columns {ids} are identifiers (by declaration or by name): they are dropped, never "
                      "synthesised nor released", UserWarning, stacklevel=3)
    return kinds


def _looks_like_dates(pair) -> bool:
    return any(isinstance(v, (str, pd.Timestamp)) for v in pair)


def _parsed(series: pd.Series, parse, name: str, what: str) -> pd.Series:
    parsed = parse(series)
    if (parsed.isna() & series.notna()).any():
        warnings.warn(f"some values of column {name!r} are not {what}; they are read as missing",
                      UserWarning, stacklevel=4)
    return parsed


def target_as_categorical(table: PrivateTable, kinds: dict, bounds: dict, categories: dict | None) -> None:
    """A numeric target of few values (by its declared or read bounds) becomes categorical in place.

    The classes are the integers between the bounds, so no value is read from the data
    beyond the bounds themselves (declared, or read with a PrivacyLeakWarning).
    """
    target = table.target
    if target is None or kinds.get(target) != "integer" or target not in bounds:
        return
    low, high = bounds[target]
    if math.floor(high) - math.ceil(low) + 1 > _MAX_TARGET_CLASSES:
        return
    kinds[target] = "categorical"
    bounds.pop(target)
    if categories is not None and target not in categories:
        categories[target] = tuple(range(int(math.ceil(low)), int(math.floor(high)) + 1))


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
        values = values[~np.isnan(values)]
        if name in declared:
            low, high = check_bounds(name, declared[name], datetime=kind == "datetime")
        elif not len(values):
            continue  # every value missing: the column is dropped by the domain step
        else:
            low, high = float(values.min()), float(values.max())
            if low == high:
                low, high = low - 1.0, high + 1.0
            derived.append(name)
        if len(values) and ((values < low).all() or (values > high).all()):
            warnings.warn(
                f"bounds ({low}, {high}) of column {name!r} exclude every value; all values are clipped",
                UserWarning,
                stacklevel=3,
            )
        bounds[name] = (low, high)
    if derived:
        warnings.warn(
            f"bounds of {derived} are read from the data's min and max, which leaks the extreme records. "
            f"For the stated DP guarantee, {declare_hint('bounds', derived)}.",
            PrivacyLeakWarning,
            stacklevel=3,
        )
    return bounds


def declared_missing(missing, columns) -> dict[str, bool]:
    """``{column: bool}`` from the ``missing`` parameter (None, a bool, or a dict)."""
    if missing is None:
        return {}
    if isinstance(missing, bool):
        return dict.fromkeys(columns, missing)
    out = {str(k): v for k, v in missing.items()}
    unknown = set(out) - set(columns)
    if unknown:
        raise ValueError(f"missing given for unknown columns: {sorted(unknown)}")
    bad = [k for k, v in out.items() if not isinstance(v, (bool, np.bool_))]
    if bad:
        raise ValueError(f"missing must map columns to True or False; got {[(k, out[k]) for k in bad]}")
    return {k: bool(v) for k, v in out.items()}


def needs_measurement(table: PrivateTable, kinds: dict, categories: dict | None, missing: dict,
                      declared_kinds: dict | None) -> bool:
    """Whether :func:`discover_domain` spends budget (decided from declarations and dtypes only)."""
    plan = _plan(table, kinds, categories, missing, declared_kinds)
    return bool(plan["histogram"] or plan["missing"])


def _plan(table, kinds, categories, missing, declared_kinds) -> dict[str, list[str]]:
    declared_cats = {str(k) for k in (categories or {})}
    declared_kinds = {str(k) for k in (declared_kinds or {})}
    histogram = [n for n, k in kinds.items() if k == "categorical" and n not in declared_cats]
    long_count = [n for n in histogram if n not in declared_kinds and n != table.target
                  and not isinstance(table.frame[n].dtype, pd.CategoricalDtype)
                  and not pd.api.types.is_numeric_dtype(table.frame[n].dtype)]
    # histogram columns count their missing values in the histogram; every other column
    # gets a missing count unless declared complete
    counted = [n for n, k in kinds.items() if k != ID_KIND and n not in histogram and missing.get(n, True)
               and _can_hold_missing(table.frame[n])]
    return {"histogram": histogram, "long": long_count, "missing": counted}


def _can_hold_missing(series: pd.Series) -> bool:
    """Whether the dtype can hold a missing value (numpy integers and booleans cannot)."""
    return not (isinstance(series.dtype, np.dtype) and series.dtype.kind in "iub")


def discover_domain(
    table: PrivateTable,
    kinds: dict,
    categories: dict | None,
    missing: dict[str, bool],
    declared_kinds: dict | None,
    ledger: PrivacyLedger,
    epsilon: float,
    delta: float,
    rng: np.random.Generator,
) -> Domain:
    """Categories, missing shares and final kinds, from declarations and one DP measurement.

    See the module docstring for the mechanism and its guarantee; it spends
    ``(epsilon, delta)`` in ``ledger`` when anything is left to measure.
    """
    declared = {str(k): tuple(v) for k, v in (categories or {}).items()}
    unknown = set(declared) - set(table.frame.columns)
    if unknown:
        raise ValueError(f"categories given for unknown columns: {sorted(unknown)}")
    empty = [k for k, v in declared.items() if not v]
    if empty:
        raise ValueError(f"categories declared for {', '.join(map(repr, empty))} are empty; list at least one value")
    kinds = dict(kinds)
    domain = Domain(kinds=kinds)
    domain.dropped = [n for n, k in kinds.items() if k == ID_KIND]
    if table.target in domain.dropped:
        raise ValueError(f"the target {table.target!r} cannot be an identifier column")
    for name, kind in kinds.items():
        if kind == "boolean":
            domain.categories[name] = (False, True)
        elif kind == "categorical" and name in declared:
            domain.categories[name] = declared[name]
    for name, may_be_missing in missing.items():
        if kinds.get(name) == ID_KIND:
            continue
        if not may_be_missing and table.frame[name].isna().any():
            raise ValueError(f"column {name!r} is declared complete (missing={{{name!r}: False}}) but has "
                             "missing values; declare it True")
    plan = _plan(table, kinds, categories, missing, declared_kinds)
    categorical_dtypes = [n for n in plan["histogram"] if isinstance(table.frame[n].dtype, pd.CategoricalDtype)]
    if categorical_dtypes:
        warnings.warn(
            f"the pandas Categorical categories of {categorical_dtypes} were built from the data and are not "
            f"public: they are selected with DP like undeclared categories. If they are public, "
            f"{declare_hint('categories', categorical_dtypes)}.",
            PrivacyLeakWarning, stacklevel=3)
    if not (plan["histogram"] or plan["missing"]):
        return domain
    n = len(table.frame)
    n_hist = len(plan["histogram"])
    squared = 2 * n_hist + len(plan["long"]) + len(plan["missing"])
    sigma, tau, threshold_delta = _selection_noise(epsilon, delta, squared, n_hist)
    if n_hist and tau > n:  # nothing can be released (nor told apart from text): fail before spending
        _too_small(n, tau, plan["histogram"])
    ledger.spend(discrete_gaussian_event(sigma, squared), "DP domain: categories, missing values, text "
                 f"on {plan['histogram'] + plan['missing']}")
    if threshold_delta:
        ledger.spend_delta(threshold_delta, "category selection threshold")
    zero = _ZERO_SIGMAS * sigma
    for name in plan["missing"]:
        noisy = float(table.frame[name].isna().sum() + discrete_gaussian(sigma, 1, rng)[0])
        forced = missing.get(name, False)
        domain.missing[name] = _share(noisy, n) if (forced or noisy > zero) else 0.0
    for name in plan["histogram"]:
        _select(table.frame[name], name, name in plan["long"], missing.get(name, True), domain, sigma, tau,
                zero, rng)
    if zero >= n:
        undeclared = [c for c in plan["missing"] + plan["histogram"] if c not in missing]
        if undeclared:
            warnings.warn(f"the table is too small to measure missing values with DP at this budget ({n} rows, "
                          f"noise of about {sigma:.0f} records): {undeclared} are generated without missing values; "
                          f"{declare_hint('missing', undeclared)}", UserWarning, stacklevel=3)
    # all missing: a DP count of present values that is credibly zero
    all_missing = [c for c, share in domain.missing.items() if share > 0 and zero < n and n * (1.0 - share) <= zero
                   and c not in missing]
    if all_missing:
        warnings.warn(f"columns {all_missing} are missing in (nearly) every row by their DP count: they are "
                      "dropped", UserWarning, stacklevel=3)
        domain.dropped += [c for c in all_missing if c not in domain.dropped]
    constant = [c for c in plan["histogram"] if len(domain.categories.get(c, ())) == 1
                and c not in domain.dropped and not domain.missing.get(c)]
    if constant:
        warnings.warn(f"columns {constant} keep a single level after DP category selection and are constant "
                      f"in the output; {declare_hint('categories', constant)}", UserWarning, stacklevel=3)
    return domain


def _too_small(n: int, tau: float, columns: list[str]) -> None:
    if columns:
        raise DomainError(
            f"the table has {n} rows, fewer than the {tau:.0f} records a value needs to be released by DP "
            f"category selection at this budget, so no category of {columns} can be released (nor a free-text "
            f"column told apart with DP); {declare_hint('categories', columns)}; for free text, "
            f"{declare_hint('kinds', columns)}", dict.fromkeys(columns, "too few rows for DP category selection"))


def _selection_noise(epsilon: float, delta: float, n_moved: int, n_hist: int):
    """σ, τ and the threshold's delta of the domain measurement (module docstring)."""
    threshold_delta = delta / 2 if n_hist else 0.0
    sigma = discrete_gaussian_sigma(epsilon, delta - threshold_delta, n_coordinates=n_moved)
    if not n_hist:
        return sigma, math.inf, 0.0
    tau = selection_threshold(sigma, threshold_delta, 2 * n_hist)
    return sigma, tau, 2 * n_hist * discrete_gaussian_tail(sigma, tau)


def selection_threshold(sigma: float, threshold_delta: float, n_values: int) -> int:
    """Smallest integer τ with ``n_values * P(Z >= τ) <= threshold_delta`` (Z discrete Gaussian)."""
    tau = max(1, math.ceil(sigma * math.sqrt(2 * math.log(max(n_values / threshold_delta, 2.0)))) - 2)
    while n_values * discrete_gaussian_tail(sigma, tau) > threshold_delta:
        tau += 1
    while tau > 1 and n_values * discrete_gaussian_tail(sigma, tau - 1) <= threshold_delta:
        tau -= 1
    return tau


def _share(noisy_count: float, n: int) -> float:
    return float(min(max(noisy_count / n, 0.0), 1.0))


def _select(series: pd.Series, name: str, count_long: bool, may_be_missing: bool, domain: Domain, sigma: float,
            tau: float, zero: float, rng) -> None:
    """Release one column's categories, missing share and (for undeclared strings) its kind."""
    n = len(series)
    present = series.dropna()
    counts = present.value_counts()
    noisy = (counts.to_numpy() + discrete_gaussian(sigma, len(counts), rng)).astype(float)
    noisy_missing = float(series.isna().sum() + discrete_gaussian(sigma, 1, rng)[0])
    if count_long:
        lengths = present.astype(str).str.len()
        noisy_long = float((lengths >= _TEXT_MIN_MEAN_LENGTH).sum() + discrete_gaussian(sigma, 1, rng)[0])
    keep = noisy > tau
    kept = sorted(zip(counts.index[keep], noisy[keep]), key=lambda item: str(item[0]))
    share_missing = _share(noisy_missing, n) if (may_be_missing and noisy_missing > zero) else 0.0
    domain.missing[name] = share_missing
    n_present = n * (1.0 - share_missing)
    if share_missing > 0 and n_present <= zero:
        return  # all missing: dropped by the caller
    if count_long and noisy_long > _TEXT_SHARE * n_present:
        domain.kinds[name] = "text"
        return
    if tau > n:
        return  # nothing can be released: the caller raises
    released = sum(c for _, c in kept)
    if not kept:
        domain.dropped.append(name)
        warnings.warn(
            f"column {name!r} looks like an identifier or a free-form label: no value of it is frequent enough "
            f"for DP selection to release (threshold {tau:.0f} records of {n} rows), so it is dropped; to keep "
            f"it, {declare_hint('categories', [name])} (or declare its kind as text)", UserWarning, stacklevel=4)
        return
    values = [_plain(v) for v, _ in kept]
    rest = n_present - released
    if rest > zero * math.sqrt(len(kept) + 1):
        other = OTHER
        while other in {str(v) for v in values}:
            other += "_"
        values.append(other)
        warnings.warn(
            f"column {name!r}: DP selection keeps {len(kept)} value{'s' if len(kept) != 1 else ''} "
            f"(threshold {tau:.0f} records of {n} "
            f"rows); the rest, about {rest / n:.0%} of rows, become the level {other!r}. To keep every "
            f"value, {declare_hint('categories', [name])}", UserWarning, stacklevel=4)
    domain.categories[name] = tuple(values)


def build_schema(table: PrivateTable, domain: Domain, bounds: dict, max_text_length: int) -> TableSchema:
    """The public schema: kinds, dtypes and DP/declared domains only (dropped columns left out)."""
    columns = []
    for name in table.frame.columns:
        if name in domain.dropped:
            continue
        kind = domain.kinds[name]
        low, high = bounds.get(name, (None, None))
        share = domain.missing.get(name) or None
        columns.append(
            ColumnSpec(
                name,
                kind,
                low=low,
                high=high,
                categories=domain.categories.get(name),
                max_length=max_text_length if kind == "text" else None,
                dtype=_output_dtype(table.frame[name], kind, share),
                missing=share,
            )
        )
    if not columns:
        raise DomainError("no column is left to synthesise: every column was dropped (see the warnings)", {})
    return TableSchema(tuple(columns))


def other_values(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """``frame`` with values outside a column's categories mapped to its ``"other"`` level (if it has one)."""
    frame = frame.copy()
    for column in schema:
        last = column.other_level
        if last is None or column.name not in frame:
            continue
        allowed = set(column.categories) | {str(c) for c in column.categories}
        series = frame[column.name]
        inside = [v in allowed or str(v) in allowed for v in series]
        outside = series.notna() & ~pd.Series(inside, index=series.index, dtype=bool)
        frame[column.name] = series.astype(object).where(~outside, last)
    return frame


def _output_dtype(series: pd.Series, kind: str, missing: float | None) -> str:
    if kind == "categorical" and isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    if kind == "categorical" and pd.api.types.is_integer_dtype(series.dtype) and not missing:
        return str(series.dtype)
    if kind in ("categorical", "text"):
        return "object"
    if kind == "integer" and missing:
        return "Int64"
    if kind == "boolean" and missing:
        return "boolean"
    if kind == "datetime":
        return "datetime64[ns]"
    return str(series.dtype)


def _as_number(series: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        stamps = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
        seconds = stamps.view("int64").astype(float) / 1e9
        seconds[np.isnat(stamps)] = np.nan
        return seconds
    return series.to_numpy(dtype=float, na_value=np.nan)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
