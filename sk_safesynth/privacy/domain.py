"""DP measurement of a table's domain: kinds, categories, missing shares and bounds.

What is public: the column names, the number of rows ``n`` (the neighbouring relation
is *replace one record*), the dtypes that fix a kind whatever the values (bool,
numbers, datetime64, pandas Categorical) and what the user declares. Everything else
about a column is read through the two measurements of this module, both discrete
Gaussian noise on integer counts, recorded in the fit's ledger and accounted exactly
with dp-accounting's discrete Gaussian PLD (:class:`~sk_safesynth.privacy.ledger.DiscreteGaussianDpEvent`).

1. **Kinds** (:func:`kind_counts`), for every string/object column whose kind is not
   declared: a histogram of six value classes (missing, boolean, number, ISO date, long
   string, other string). Each record is in one class, so replacing it moves two counts
   by one. The kind is the class that holds nine in ten of the (noisy) present values,
   text when half of them are long, categorical otherwise (:func:`decide_kind`).
2. **Domain** (:func:`measure`), after the kinds are known, one query per column:
   the histogram of an undeclared categorical column's values and missing values; the
   histogram of an unbounded number's (or date's) *magnitudes* on a fixed grid of
   half-octaves (``±2^(k/2)``, a zero cell and a missing cell; Tumult Analytics' and
   Google's approximate bounds use the same kind of grid); the count of non-integral
   values of a number whose integer kind is not declared; the count of missing values
   of any other column not declared complete. A histogram moves two coordinates when
   one record is replaced, a count one, so the whole vector moves at most
   ``2 H + C`` coordinates by one.

The exact counts are sums over rows (:func:`class_histograms`, :func:`exact_answers`), so a
table in partitions adds up its partitions' counts (:mod:`sk_safesynth.synth.counting`);
:func:`kind_counts` and :func:`measure` noise the sums, in an order that does not depend on
how the rows were split.

Releases from the noisy counts are post-processing, except one: the *values* of a
categorical column are released only when their noisy count exceeds the integer ``τ``
(the stability-based histogram, Korolova et al. 2009; Wilson et al. 2020). A value held
by one record in one table and absent from its neighbour is released with probability
``P(Z >= τ)``; at most two such values exist per column, charged as an additive
``δ_τ = 2 H_cat P(Z >= τ)`` with τ the smallest integer that keeps it within the δ set
aside (:func:`selection_threshold`). Magnitude cells and class cells are public keys:
every one of them is released.

Bounds from the magnitude histogram (:func:`bounds_from_magnitudes`): the zero cell when
its noisy count clears a peak threshold, and, on each sign, the run of adjacent cells
around the largest cell (itself above the peak threshold) whose noisy counts clear
2.5 σ. Values outside the released bounds are clipped by the method that measures the
data afterwards, which is what gives its own measurements their sensitivity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
import numpy as np
import pandas as pd

from sk_safesynth.privacy.exact import discrete_gaussian_tail
from sk_safesynth.privacy.ledger import PrivacyLedger, discrete_gaussian_event
from sk_safesynth.privacy.samplers import discrete_gaussian

#: Value classes of the kind histogram, in the order a value is tested against them.
CLASSES = ("missing", "boolean", "number", "date", "long", "other")
MISSING, BOOLEAN, NUMBER, DATE, LONG, OTHER = range(len(CLASSES))
# Share of the noisy present values a class needs to fix a column's kind.
KIND_SHARE = 0.9
# Margin (in σ) below KIND_SHARE that a class may still fix a kind.
_KIND_MARGIN = 3.0
# Share of long values that makes a string column free text.
TEXT_SHARE = 0.5
#: A string at least this long is a "long" value (free text, not a category).
LONG_STRING = 30
# A noisy count below this many standard deviations is read as zero (post-processing).
ZERO_SIGMAS = 4.0
# Magnitude grid: half-octaves from 2^-20 to 2^60; smaller magnitudes are zero, larger clip.
_LOW_HALF_OCTAVE, _HIGH_HALF_OCTAVE = -40, 120
_N_SIDE = _HIGH_HALF_OCTAVE - _LOW_HALF_OCTAVE
#: Cells of a magnitude histogram: negative half-octaves (ascending values), zero, positive, missing.
N_MAGNITUDE_CELLS = 2 * _N_SIDE + 2
_ZERO_CELL = _N_SIDE
_MISSING_CELL = 2 * _N_SIDE + 1
# Probability that pure noise makes a false peak anywhere in one magnitude histogram.
_FALSE_PEAK = 1e-4
# A cell next to a run joins it when its noisy count is above this many standard deviations.
_RUN_SIGMAS = 2.5
# Dates are measured as days from this public origin (so that recent dates get a fine grid).
DATE_ORIGIN = pd.Timestamp("2000-01-01")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def value_classes(series: pd.Series) -> np.ndarray:
    """Class (index into :data:`CLASSES`) of every value; each value is in exactly one class."""
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        # a string dtype holds strings and missing values only: classify each distinct value once
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        classes = np.array([_value_class(v) for v in uniques] + [MISSING], dtype=np.int8)
        return classes[codes]
    values = series.astype(object).to_numpy()
    out = np.full(len(values), OTHER, dtype=np.int8)
    for i, value in enumerate(values):
        out[i] = _value_class(value)
    return out


def class_histograms(frame: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """Exact class histogram of each of ``columns`` (the counts :func:`kind_counts` noises)."""
    return {name: np.bincount(value_classes(frame[name]), minlength=len(CLASSES)) for name in columns}


def _value_class(value) -> int:
    if value is None or value is pd.NaT or value is pd.NA:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return BOOLEAN
    if isinstance(value, (int, float, np.integer, np.floating)):
        return MISSING if value != value else NUMBER  # NaN
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat"):
        return DATE
    if not isinstance(value, str):
        return OTHER
    text = value.strip()
    if not text:
        return MISSING
    if text.lower() in ("true", "false"):
        return BOOLEAN
    if _parses_as_number(text):
        return NUMBER
    if _ISO_DATE.match(text) and not pd.isna(pd.to_datetime(text, errors="coerce", format="ISO8601")):
        return DATE
    return LONG if len(text) >= LONG_STRING else OTHER


def _parses_as_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return False
    return True


def magnitude_cells(values: np.ndarray) -> np.ndarray:
    """Cell of every value (NaN: the missing cell) on the public half-octave grid."""
    values = np.asarray(values, dtype=float)
    cells = np.full(len(values), _MISSING_CELL, dtype=np.int64)
    present = ~np.isnan(values)
    magnitude = np.abs(values[present])
    with np.errstate(divide="ignore"):
        k = np.floor(2 * np.log2(magnitude)) - _LOW_HALF_OCTAVE
    k = np.clip(np.nan_to_num(k, neginf=-1, posinf=_N_SIDE - 1), -1, _N_SIDE - 1).astype(np.int64)
    sign = np.sign(values[present])
    cell = np.where(sign > 0, _ZERO_CELL + 1 + k, _ZERO_CELL - 1 - k)
    cells[present] = np.where(k < 0, _ZERO_CELL, cell)
    return cells


def _edge(k: int) -> float:
    """Lower edge of half-octave ``k`` of one side (its upper edge is ``_edge(k + 1)``)."""
    return 2.0 ** ((k + _LOW_HALF_OCTAVE) / 2)


def bounds_from_magnitudes(noisy: np.ndarray, sigma: float, *, integer: bool) -> tuple[float, float] | None:
    """Bounds released by a noisy magnitude histogram, or None when no cell clears the peak threshold.

    Post-processing only (see the module docstring). Integer columns get the integers
    inside the released cells.
    """
    peak = selection_threshold(sigma, _FALSE_PEAK, N_MAGNITUDE_CELLS)
    ends: list[float] = []
    if noisy[_ZERO_CELL] > peak:
        ends += [0.0, 0.0]
    # Integer columns: a cell that holds no integer ([1.41, 2), those below 1) cannot break a run.
    holds = np.array([not integer or math.ceil(_edge(k)) < _edge(k + 1) for k in range(_N_SIDE)])
    for sign, side in ((1, noisy[_ZERO_CELL + 1:_MISSING_CELL]), (-1, noisy[_ZERO_CELL - 1::-1])):
        run = _run_around_peak(np.where(holds, side, -np.inf), peak, _RUN_SIGMAS * sigma, holds)
        if run is None:
            continue
        first, last = run
        low, high = _edge(first), _edge(last + 1)
        if integer:
            low, high = float(math.ceil(low)), float(math.ceil(high) - 1)
        ends += [sign * low, sign * high]
    if not ends:
        return None
    low, high = min(ends), max(ends)
    if high <= low:
        high = low + 1.0
    return low, high


def _run_around_peak(counts: np.ndarray, peak: float, join: float, holds: np.ndarray) -> tuple[int, int] | None:
    """The cells around the largest one that clear ``join``, skipping cells that hold no value."""
    top = int(np.argmax(counts))
    if counts[top] <= peak:
        return None
    first = last = top
    for step in (-1, 1):
        k = top + step
        while 0 <= k < len(counts) and (not holds[k] or counts[k] > join):
            if holds[k]:
                first, last = min(first, k), max(last, k)
            k += step
    return first, last


def decide_kind(noisy: np.ndarray, n: int, sigma: float, *, allow_text: bool) -> str:
    """Kind of a string column from its noisy class counts (post-processing).

    ``"number"`` (integer or numeric, decided by the domain measurement), ``"datetime"``,
    ``"boolean"``, ``"text"`` or ``"categorical"``.
    """
    present = n - noisy[MISSING]
    if present <= ZERO_SIGMAS * sigma:
        return "categorical"
    # A margin of a few σ keeps a column of one class from flipping on noise at small n; the class
    # must also be the largest and hold a majority, so noise alone never makes a kind.
    largest = max((BOOLEAN, NUMBER, DATE, LONG, OTHER), key=lambda cls: noisy[cls])
    for cls, kind in ((BOOLEAN, "boolean"), (NUMBER, "number"), (DATE, "datetime")):
        if largest == cls and noisy[cls] >= max(KIND_SHARE * present - _KIND_MARGIN * sigma, present / 2):
            return kind
    if allow_text and noisy[LONG] > TEXT_SHARE * present:
        return "text"
    return "categorical"


@dataclass(frozen=True)
class Query:
    """One column's query in :func:`measure`.

    ``kind`` is ``"values"`` (histogram of the values, released above ``τ``; missing
    values in a cell of their own), ``"magnitudes"`` (histogram on the half-octave
    grid, every cell released), or the name of a count (``"missing"``, ``"fraction"``:
    missing values, values with a fractional part).
    """

    column: str
    kind: str

    @property
    def coordinates(self) -> int:
        return 2 if self.kind in ("values", "magnitudes") else 1


@dataclass
class Measurement:
    """Noisy answers of :func:`measure`, keyed by ``(column, query kind)``."""

    sigma: float
    tau: float
    answers: dict


def kind_counts(exact: dict[str, np.ndarray], ledger: PrivacyLedger, sigma: float, rng) -> dict[str, np.ndarray]:
    """Noisy copies of the class histograms ``exact`` (:func:`class_histograms`; step 1 of the module docstring)."""
    ledger.spend(discrete_gaussian_event(sigma, 2 * len(exact)),
                 f"DP domain: kinds (class histograms) of {list(exact)}")
    return {name: counts + discrete_gaussian(sigma, len(CLASSES), rng).astype(float) for name, counts in exact.items()}


def exact_answers(frame: pd.DataFrame, queries: list[Query], numbers) -> dict:
    """The exact answers of ``queries`` on ``frame``: sums over its rows, so partitions add up.

    Keys are ``(column, kind)``: a value histogram (a Series of counts, missing values
    left out) and its missing count under ``(column, "missing")``, a magnitude
    histogram, or a count. ``numbers(column, series)`` reads a column measured on the magnitude
    grid as floats.
    """
    out: dict = {}
    for query in queries:
        series = frame[query.column]
        if query.kind == "values":
            out[query.column, "values"] = series.value_counts(dropna=True, sort=False)
            out[query.column, "missing"] = int(series.isna().sum())
        elif query.kind == "magnitudes":
            out[query.column, "magnitudes"] = np.bincount(magnitude_cells(numbers(query.column, series)),
                                                          minlength=N_MAGNITUDE_CELLS)
        elif query.kind == "missing":
            out[query.column, "missing"] = int(series.isna().sum())
        else:  # fraction: values with a fractional part
            values = series.to_numpy(dtype=float, na_value=np.nan)
            out[query.column, "fraction"] = int((np.nan_to_num(values % 1, nan=0.0) != 0).sum())
    return out


def measure(queries: list[Query], exact: dict, ledger: PrivacyLedger, sigma: float, tau: float, rng) -> Measurement:
    """Answer every query with discrete Gaussian noise ``sigma`` (step 2 of the module docstring).

    ``exact`` holds the true answers (:func:`exact_answers`, summed over partitions).
    The caller reserved ``δ_τ`` for the value histograms (:func:`selection_threshold`).
    Value histograms return ``(kept values, their noisy counts, noisy missing count)``;
    magnitude histograms every noisy cell; counts one noisy number.
    """
    n_coordinates = sum(q.coordinates for q in queries)
    names = sorted({q.column for q in queries})
    ledger.spend(discrete_gaussian_event(sigma, n_coordinates), f"DP domain: categories, bounds, missing "
                 f"values of {names}")
    answers: dict = {}
    for query in queries:
        if query.kind == "values":
            # one order of the values whatever the partitions (the noise of a value must not depend on it)
            counts = exact[query.column, "values"]
            order = sorted(range(len(counts)), key=lambda i: (str(counts.index[i]), type(counts.index[i]).__name__))
            values, exact_counts = counts.index[order], counts.to_numpy()[order]
            noisy = exact_counts + discrete_gaussian(sigma, len(counts), rng).astype(float)
            keep = noisy > tau
            kept = sorted(zip(values[keep], noisy[keep]), key=lambda item: str(item[0]))
            noisy_missing = float(exact[query.column, "missing"] + discrete_gaussian(sigma, 1, rng)[0])
            answers[query.column, "values"] = (kept, noisy_missing)
        elif query.kind == "magnitudes":
            answers[query.column, "magnitudes"] = exact[query.column, "magnitudes"] + discrete_gaussian(
                sigma, N_MAGNITUDE_CELLS, rng)
        else:
            answers[query.column, query.kind] = float(exact[query.column, query.kind] + discrete_gaussian(sigma, 1, rng)[0])
    return Measurement(sigma, tau, answers)


def noisy_missing(measurement: Measurement, column: str) -> float | None:
    """The noisy missing count of ``column``, from whichever of its queries holds one."""
    answers = measurement.answers
    if (column, "values") in answers:
        return answers[column, "values"][1]
    if (column, "magnitudes") in answers:
        return float(answers[column, "magnitudes"][_MISSING_CELL])
    return answers.get((column, "missing"))


def selection_threshold(sigma: float, threshold_delta: float, n_values: int) -> int:
    """Smallest integer τ with ``n_values * P(Z >= τ) <= threshold_delta`` (Z discrete Gaussian)."""
    tau = max(1, math.ceil(sigma * math.sqrt(2 * math.log(max(n_values / threshold_delta, 2.0)))) - 2)
    while n_values * discrete_gaussian_tail(sigma, tau) > threshold_delta:
        tau += 1
    while tau > 1 and n_values * discrete_gaussian_tail(sigma, tau - 1) <= threshold_delta:
        tau -= 1
    return tau
