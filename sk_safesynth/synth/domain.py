"""From a private table to a public domain and schema: what a fit may know before it measures.

A column's kind, bounds, categories and missingness come from, in this order, what the
user declares, the public dtype (bool, numbers, datetime64, pandas Categorical), and the
DP measurements of :mod:`sk_safesynth.privacy.domain`. No raw value decides anything
that is released: two tables that differ in one record get the same plan (kinds,
ledger events, messages) except where a noisy count differs. The budget of those
measurements is a ``share`` of the fit's zero-concentrated budget ``μ²`` (the currency
in which Gaussian mechanisms compose), so the measurement's σ is as small as the split
allows; the method then calibrates against whatever the ledger has left.

Every input column comes out of ``sample``: modelled columns by the method; identifier
columns (declared ``"id"`` or named like one) as fresh synthetic identifiers; columns of
which DP can release nothing (no bounds, all missing) as missing values, with one
warning naming them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from sk_safesynth.exceptions import PrivacyLeakWarning
from sk_safesynth.privacy import PrivacyLedger, gaussian_event
from sk_safesynth.privacy import domain as dp
from sk_safesynth.schema import ID_NAME, KINDS, OTHER, ColumnSpec, TableSchema, check_bounds, dtype_kind
from sk_safesynth.synth.hints import declare_hint, warn_hinted
from sk_safesynth.synth.parsing import PrivateTable, as_seconds, fill_declared_complete, parse_column

#: Kind a user declares for a column that must never be synthesised from the data.
ID_KIND = "id"
# A target whose bounds hold at most this many integers is categorical.
_MAX_TARGET_CLASSES = 10
# Share of the domain budget (of μ²) for the kind histograms, when a column needs one.
_KIND_SHARE = 0.25
# Factor of the domain share when only counts (missing, non-integral values) are measured.
_COUNTS_ONLY = 0.1
# A "number" column is integer when most of its values are integral by their noisy count: the
# midpoint keeps columns of integers (none fractional) and of fractions (nearly all) far from it.
_FRACTION_SHARE = 0.5


class DomainError(ValueError):
    """The table cannot be released as it is; ``problems`` maps each column to why, ``hints``
    say how to declare what would let it through."""

    def __init__(self, message: str, problems: dict[str, str], hints: tuple = ()):
        super().__init__(message)
        self.problems = problems
        self.hints = hints


@dataclass
class Declarations:
    """What the user declares public (validated against the table's columns)."""

    kinds: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)
    bounds_from_data: bool = False

    @classmethod
    def from_params(cls, columns, *, kinds=None, bounds=None, categories=None, missing=None) -> Declarations:
        columns = list(columns)
        from_data = isinstance(bounds, str)
        if from_data and bounds != "data":
            raise ValueError(f"bounds must be a dict or 'data', got {bounds!r}")
        decl = cls(_named(kinds, columns, "kinds"), {} if from_data else _named(bounds, columns, "bounds"),
                   _named(categories, columns, "categories"), _missing(missing, columns), from_data)
        bad = {k: v for k, v in decl.kinds.items() if v not in (*KINDS, ID_KIND)}
        if bad:
            raise ValueError(f"unknown kinds {bad}; expected one of {(*KINDS, ID_KIND)}")
        empty = [k for k, v in decl.categories.items() if not len(v)]
        if empty:
            raise ValueError(f"categories declared for {', '.join(map(repr, empty))} are empty; list at least one value")
        decl.categories = {k: tuple(v) for k, v in decl.categories.items()}
        return decl


def _named(mapping, columns, what: str) -> dict:
    out = {str(k): v for k, v in (mapping or {}).items()}
    unknown = set(out) - set(columns)
    if unknown:
        raise ValueError(f"{what} given for unknown columns: {sorted(unknown)}")
    return out


def _missing(missing, columns) -> dict[str, bool]:
    if missing is None:
        return {}
    if isinstance(missing, (bool, np.bool_)):
        return dict.fromkeys(columns, bool(missing))
    out = _named(missing, columns, "missing")
    bad = [k for k, v in out.items() if not isinstance(v, (bool, np.bool_))]
    if bad:
        raise ValueError(f"missing must map columns to True or False; got {[(k, out[k]) for k in bad]}")
    return {k: bool(v) for k, v in out.items()}


@dataclass
class Domain:
    """What a fit releases about the table's domain (declarations and DP outputs only)."""

    kinds: dict[str, str]
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    categories: dict[str, tuple] = field(default_factory=dict)
    missing: dict[str, float] = field(default_factory=dict)
    #: Columns of which nothing could be released: all missing in the output.
    unreleased: list[str] = field(default_factory=list)
    #: Columns declared possibly missing or with a DP missing share: a nullable output dtype.
    nullable: set[str] = field(default_factory=set)
    #: Columns with a pandas Categorical dtype (a public dtype: the output keeps it).
    categorical_dtype: set[str] = field(default_factory=set)
    #: Identifier columns whose input dtype is a number (their fresh identifiers are numbers).
    numeric_ids: set[str] = field(default_factory=set)

    @property
    def identifiers(self) -> list[str]:
        return [n for n, k in self.kinds.items() if k == ID_KIND]

    @property
    def modelled(self) -> list[str]:
        return [n for n, k in self.kinds.items() if k != ID_KIND and n not in self.unreleased]


def needs_measurement(table: PrivateTable, decl: Declarations) -> bool:
    """Whether :func:`discover_domain` spends budget (from declarations and dtypes only)."""
    kinds, undetermined = _public_kinds(table, decl)
    return bool(undetermined) or bool(_queries(decl, kinds))


def discover_domain(table: PrivateTable, decl: Declarations, ledger: PrivacyLedger, epsilon: float, delta: float,
                    share: float, rng: np.random.Generator) -> Domain:
    """Kinds, bounds, categories and missing shares from declarations and DP measurements.

    Spends ``share`` of the zero-concentrated budget of ``(epsilon, delta)`` (and
    ``share`` of delta for the category selection threshold) when anything is left to
    measure; replaces ``table.rows`` by the rows parsed as the kinds say. Every count is
    a sum over rows (:mod:`sk_safesynth.synth.counting`), so a partitioned table is
    measured partition by partition.
    """
    meta, n = table.rows.meta, len(table.rows)
    kinds, undetermined = _public_kinds(table, decl)
    if table.target is not None and kinds.get(table.target) == ID_KIND:
        raise ValueError(f"the target {table.target!r} cannot be an identifier column")
    domain = Domain(kinds=kinds)
    domain.categorical_dtype = {n_ for n_ in meta.columns if isinstance(meta[n_].dtype, pd.CategoricalDtype)
                                and n_ not in decl.kinds}
    domain.numeric_ids = {n_ for n_, k in kinds.items() if k == ID_KIND and dtype_kind(meta[n_]) == "number"}
    _warn_public(domain, decl)
    if not needs_measurement(table, decl):
        _finish(table, decl, domain, None)
        return domain
    if not undetermined and all(q.kind in ("missing", "fraction") for q in _queries(decl, kinds)):
        share *= _COUNTS_ONLY  # coarse decisions (shares of n) need little budget
    threshold_delta = delta * share
    mu = 1.0 / PrivacyLedger(epsilon, delta - threshold_delta).calibrate(lambda s: gaussian_event(s, 1.0))
    kind_share = _KIND_SHARE if undetermined else 0.0
    if undetermined:
        sigma = math.sqrt(2 * len(undetermined)) / (mu * math.sqrt(share * kind_share))
        noisy = dp.kind_counts(table.rows.total(partial(dp.class_histograms, columns=undetermined)), ledger, sigma, rng)
        for name in undetermined:
            kinds[name] = dp.decide_kind(noisy[name], n, sigma, allow_text=name != table.target)
    table.rows = table.rows.map(partial(_parsed, kinds=dict(kinds)))
    queries = _queries(decl, kinds)
    measurement = None
    if queries:
        n_coordinates = sum(q.coordinates for q in queries)
        sigma = math.sqrt(n_coordinates) / (mu * math.sqrt(share * (1 - kind_share)))
        selected = [q.column for q in queries if q.kind == "values"]
        tau = dp.selection_threshold(sigma, threshold_delta, 2 * len(selected)) if selected else math.inf
        if selected and tau > n:  # nothing can be released: fail before spending
            _too_small(n, tau, selected)
        exact = table.rows.total(partial(dp.exact_answers, queries=queries, numbers=partial(_measured_numbers, kinds)))
        measurement = dp.measure(queries, exact, ledger, sigma, tau, rng)
        if selected:
            ledger.spend_delta(2 * len(selected) * dp.discrete_gaussian_tail(sigma, int(tau)),
                               "category selection threshold")
    _finish(table, decl, domain, measurement)
    return domain


def _public_kinds(table: PrivateTable, decl: Declarations) -> tuple[dict[str, str], list[str]]:
    """Kinds fixed by declarations, names and dtypes; the columns whose kind needs DP."""
    kinds: dict[str, str] = {}
    undetermined = []
    meta = table.rows.meta
    for name in meta.columns:
        public = dtype_kind(meta[name])
        if name in decl.kinds:
            kind = decl.kinds[name]
        elif name in decl.categories:
            kind = "categorical"
        elif name in decl.bounds:
            dates = public == "datetime" or any(isinstance(v, (str, pd.Timestamp)) for v in decl.bounds[name])
            kind = "datetime" if dates else "number"
        elif ID_NAME.search(name) and name != table.target:
            kind = ID_KIND
        elif public is not None:
            kind = public
        else:
            undetermined.append(name)
            continue
        kinds[name] = kind
    return kinds, undetermined


def _queries(decl: Declarations, kinds: dict[str, str]) -> list[dp.Query]:
    """The domain measurement's queries for columns of known kind (see :mod:`sk_safesynth.privacy.domain`).

    Which queries run depends on declarations and kinds only.
    """
    queries = []
    for name, kind in kinds.items():
        if kind == ID_KIND:
            continue
        if kind == "categorical" and name not in decl.categories:
            queries.append(dp.Query(name, "values"))
            continue
        numeric = kind in ("number", "numeric", "integer", "datetime")
        if numeric and name not in decl.bounds and not decl.bounds_from_data:
            queries.append(dp.Query(name, "magnitudes"))
        elif decl.missing.get(name, True):
            queries.append(dp.Query(name, "missing"))
        if kind == "number":
            queries.append(dp.Query(name, "fraction"))
    return queries


def _parsed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """``frame`` with every column read as its kind (:func:`~sk_safesynth.synth.parsing.parse_column`)."""
    out = frame.copy(deep=False)
    for name, kind in kinds.items():
        if kind != ID_KIND:
            out[name] = parse_column(frame[name], "numeric" if kind == "number" else kind)
    return out


def _measured_numbers(kinds: dict[str, str], name: str, series: pd.Series) -> np.ndarray:
    if kinds[name] == "datetime":
        return (as_seconds(series) - dp.DATE_ORIGIN.timestamp()) / 86400.0
    return series.to_numpy(dtype=float, na_value=np.nan)


def _extremes(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    """``(min, -max)`` of each column of ``kinds`` (``inf`` when all missing): combined by ``np.minimum``."""
    out = {}
    for name, kind in kinds.items():
        values = as_seconds(frame[name]) if kind == "datetime" else frame[name].to_numpy(dtype=float, na_value=np.nan)
        values = values[~np.isnan(values)]
        out[name] = np.array([values.min(), -values.max()]) if len(values) else np.array([np.inf, np.inf])
    return out


def _finish(table: PrivateTable, decl: Declarations, domain: Domain, measurement: dp.Measurement | None) -> None:
    """Decisions from the declarations and the noisy answers (post-processing)."""
    n = len(table.rows)
    zero = dp.ZERO_SIGMAS * measurement.sigma if measurement is not None else math.inf
    answers = measurement.answers if measurement is not None else {}
    with_other: dict[str, str] = {}
    nothing: list[str] = []
    numbers = {c: k for c, k in domain.kinds.items() if decl.bounds_from_data and c not in decl.bounds
               and k in ("number", "numeric", "integer", "datetime")}  # bounds="data" reads min and max (not DP)
    extremes = table.rows.total(partial(_extremes, kinds=numbers), np.minimum) if numbers else {}
    for name, kind in list(domain.kinds.items()):
        if kind == ID_KIND:
            continue
        may_be_missing = decl.missing.get(name, True)
        noisy = dp.noisy_missing(measurement, name) if measurement is not None else None
        share = 0.0
        if may_be_missing and noisy is not None and (decl.missing.get(name) or noisy > zero):
            share = float(min(max(noisy / n, 0.0), 1.0))
        domain.missing[name] = share
        if share > 0 or decl.missing.get(name):
            domain.nullable.add(name)
        present = n * (1.0 - share)
        if share > 0 and zero < n and present <= zero and name not in decl.missing:
            if kind == "number":
                domain.kinds[name] = "numeric"
            domain.unreleased.append(name)  # all missing by its DP count
            continue
        if kind == "number":
            fraction = answers[name, "fraction"]
            kind = domain.kinds[name] = "integer" if fraction < _FRACTION_SHARE * present else "numeric"
        if kind in ("numeric", "integer", "datetime"):
            bounds = _bounds(name, kind, decl, extremes, answers, measurement)
            if bounds is None:
                domain.unreleased.append(name)
                continue
            domain.bounds[name] = bounds
        elif kind == "boolean":
            domain.categories[name] = (False, True)
        elif kind == "categorical":
            if name in decl.categories:
                domain.categories[name] = decl.categories[name]
            else:
                kept, _ = answers[name, "values"]
                values = [_plain(v) for v, _ in kept]
                rest = present - sum(c for _, c in kept)
                if not values or rest > zero * math.sqrt(len(kept) + 1):
                    other = OTHER
                    while other in {str(v) for v in values}:
                        other += "_"
                    values.append(other)
                    if kept:
                        with_other[name] = (f"{name!r} keeps {len(kept)} value{'s' if len(kept) > 1 else ''} (about "
                                          f"{min(max(rest / n, 0.0), 1.0):.0%} of rows become {other!r})")
                    else:
                        nothing.append(name)
                domain.categories[name] = tuple(values)
    _target_as_categorical(table, domain)
    complete = [name for name in domain.modelled if not decl.missing.get(name, True)]
    if complete:
        table.rows = table.rows.map(partial(_filled, domain=domain, columns=complete))
    _warn_released(domain, decl, table, measurement, with_other, nothing)


def _filled(frame: pd.DataFrame, domain: Domain, columns: list[str]) -> pd.DataFrame:
    """``frame`` with the missing values of ``columns`` (declared complete) replaced by a public value."""
    out = frame.copy(deep=False)
    for name in columns:
        low = domain.bounds.get(name, (None, None))[0]
        out[name] = fill_declared_complete(frame[name], domain.kinds[name], low, domain.categories.get(name))
    return out


def _bounds(name, kind, decl, extremes, answers, measurement) -> tuple[float, float] | None:
    if name in decl.bounds:
        return check_bounds(name, decl.bounds[name], datetime=kind == "datetime")
    if decl.bounds_from_data:
        low, high = float(extremes[name][0]), -float(extremes[name][1])
        if math.isinf(low):  # all missing
            return None
        return (low, high) if high > low else (low - 1.0, high + 1.0)
    bounds = dp.bounds_from_magnitudes(answers[name, "magnitudes"], measurement.sigma, integer=kind == "integer")
    if bounds is None or kind != "datetime":
        return bounds
    origin = dp.DATE_ORIGIN.timestamp()
    return origin + bounds[0] * 86400.0, origin + bounds[1] * 86400.0


def _target_as_categorical(table: PrivateTable, domain: Domain) -> None:
    """An integer target of few values (by its declared or DP bounds) is categorical: the integers between them."""
    target = table.target
    if target is None or domain.kinds.get(target) != "integer" or target not in domain.bounds:
        return
    low, high = domain.bounds[target]
    if math.floor(high) - math.ceil(low) + 1 > _MAX_TARGET_CLASSES:
        return
    domain.kinds[target] = "categorical"
    domain.bounds.pop(target)
    domain.categories[target] = tuple(range(int(math.ceil(low)), int(math.floor(high)) + 1))
    table.rows = table.rows.map(partial(_as_classes, target=target, low=math.ceil(low), high=math.floor(high)))


def _as_classes(frame: pd.DataFrame, target: str, low: int, high: int) -> pd.DataFrame:
    """``frame`` with the integer ``target`` clipped to ``[low, high]``, as Python ints (None when missing)."""
    out = frame.copy(deep=False)
    values = frame[target]
    out[target] = values.clip(low, high).round().astype("Int64").astype(object).where(values.notna(), None)
    return out


def _warn_public(domain: Domain, decl: Declarations) -> None:
    ids = domain.identifiers
    if ids:
        warnings.warn(f"columns {ids} are identifiers (by declaration or by name): they are not synthesised from "
                      "the data; the output holds fresh synthetic identifiers", UserWarning, stacklevel=4)
    if domain.categorical_dtype - set(decl.categories):
        names = sorted(domain.categorical_dtype - set(decl.categories))
        hint = declare_hint("categories", names)
        warn_hinted(f"the pandas Categorical categories of {names} were built from the data and are not public: "
                    f"they are selected with DP like undeclared categories. If they are public, {hint}.", hint,
                    category=PrivacyLeakWarning, stacklevel=4)
    if decl.bounds_from_data:
        warnings.warn("bounds='data' reads the bounds of numbers and dates from the data's min and max, which "
                      "publishes the extreme records: the release is NOT differentially private "
                      "(privacy_spent_.epsilon is inf)", PrivacyLeakWarning, stacklevel=4)


def _warn_released(domain, decl, table, measurement, with_other, nothing) -> None:
    """One warning per kind of DP outcome, naming columns and DP estimates only."""
    n = len(table.rows)
    if measurement is not None and dp.ZERO_SIGMAS * measurement.sigma >= n:
        undeclared = [c for c in domain.modelled if c not in decl.missing]
        if undeclared:
            hint = declare_hint("missing", undeclared)
            warn_hinted(f"the table is too small to measure missing values with DP at this budget ({n} rows, "
                        f"noise of about {measurement.sigma:.0f} records): {undeclared} are generated without "
                        f"missing values; {hint}", hint, stacklevel=4)
    tau = measurement.tau if measurement is not None else math.inf
    if with_other:
        hint = declare_hint("categories", with_other)
        warn_hinted(f"DP category selection keeps only the values held by more than {tau:.0f} records of {n} rows: "
                    f"{'; '.join(with_other.values())}. To keep every value, {hint}", hint, stacklevel=4)
    if nothing:
        hint = declare_hint("categories", nothing)
        warn_hinted(f"columns {nothing} look like identifiers or free-form labels: no value of them is frequent "
                    f"enough for DP selection to release (threshold {tau:.0f} records of {n} rows), so they come "
                    f"out as the level {OTHER!r}; to keep them, {hint} (or declare their kind as text or id)", hint,
                    stacklevel=4)
    if domain.unreleased:
        hint = declare_hint("bounds", domain.unreleased)
        warn_hinted(f"columns {domain.unreleased}: DP can release no bounds or values of them at this budget "
                    f"(all missing, or no range held by enough records), so they come out as missing values; {hint}",
                    hint, stacklevel=4)
    constant = [c for c, cats in domain.categories.items() if len(cats) == 1 and c not in nothing
                and c not in domain.unreleased and not domain.missing.get(c) and c not in decl.categories]
    if constant:
        hint = declare_hint("categories", constant)
        warn_hinted(f"columns {constant} keep a single level after DP category selection and are constant in the "
                    f"output; {hint}", hint, stacklevel=4)


def _too_small(n: int, tau: float, columns: list[str]) -> None:
    hints = (declare_hint("categories", columns), declare_hint("kinds", columns))
    raise DomainError(
        f"the table has {n} rows, fewer than the {tau:.0f} records a value needs to be released by DP "
        f"category selection at this budget, so no category of {columns} can be released (nor a free-text "
        f"column told apart with DP); {hints[0]}; for free text, {hints[1]}",
        dict.fromkeys(columns, "too few rows for DP category selection"), hints)


def build_schema(domain: Domain, max_text_length: int) -> TableSchema:
    """The public schema of the modelled columns: kinds, dtypes and declared or DP domains only."""
    columns = []
    for name in domain.modelled:
        kind = domain.kinds[name]
        low, high = domain.bounds.get(name, (None, None))
        share = domain.missing.get(name) or None
        categories = domain.categories.get(name)
        columns.append(ColumnSpec(name, kind, low=low, high=high, categories=categories,
                                  max_length=max_text_length if kind == "text" else None,
                                  dtype=output_dtype(kind, name in domain.nullable, name in domain.categorical_dtype,
                                                     categories),
                                  missing=share))
    if not columns:
        raise DomainError("no column is left to synthesise: every column is an identifier or could not be released "
                          "(see the warnings)", {})
    return TableSchema(tuple(columns))


def output_dtype(kind: str, nullable: bool, categorical_dtype: bool = False, categories=None) -> str:
    """The output dtype of a column: from its kind, whether it may be missing (declared or by its DP
    share) and public facts only."""
    if kind == "categorical":
        if categorical_dtype:
            return "category"
        if categories and all(isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_))
                              for c in categories):
            return "Int64" if nullable else "int64"
        return "object"
    if kind == "integer":
        return "Int64" if nullable else "int64"
    if kind == "boolean":
        return "boolean" if nullable else "bool"
    if kind == "datetime":
        return "datetime64[ns]"
    if kind == "numeric":
        return "float64"
    return "object"


def unmodelled_columns(domain: Domain, n: int, rng: np.random.Generator) -> dict[str, pd.Series]:
    """The output of the columns no method models: fresh identifiers, and missing values where nothing was released."""
    out: dict[str, pd.Series] = {}
    for name in domain.identifiers:
        order = rng.permutation(n) + 1
        out[name] = (pd.Series(order, dtype="int64") if name in domain.numeric_ids
                     else pd.Series([f"{name}-{i}" for i in order], dtype=object))
    for name in domain.unreleased:
        kind = domain.kinds[name]
        dtype = output_dtype("numeric" if kind == "number" else kind, True, name in domain.categorical_dtype)
        out[name] = pd.Series([None] * n, dtype=object).astype(dtype)
    return out


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


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
