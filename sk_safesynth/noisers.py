"""Row-level DP transformers: :class:`LaplaceNoiser` and :class:`GaussianNoiser`.

Guarantee
---------
Each output row is (ε[, δ])-DP with respect to its input row: replacing the input
row by *any* other row inside the declared bounds and categories changes the
distribution of that output row by at most the stated (ε, δ). Rows are noised
independently, so releasing a whole noised table is (ε[, δ])-DP for the
replace-one-record relation (parallel composition). Each ``transform`` call that
adds noise is a fresh release with that guarantee: it draws new noise, also with a
fixed ``random_state`` (see :func:`~sk_safesynth.privacy.release_generator`).

How the budget is spent per row
-------------------------------
Let ``d`` be the number of protected columns (numeric plus randomized-response
categoricals). Numeric columns are clipped to their bounds and mapped to the unit
interval by those (public) bounds. Each categorical column gets k-ary randomized
response with ``ε/d``; the numeric block gets the rest of the row budget:

- ``LaplaceNoiser``: the unit-scaled numeric vector has L1 sensitivity ``n_num``,
  so Laplace noise of scale ``d/ε`` (unit units) makes it ``ε·n_num/d``-DP; pure DP
  composes by addition, so the row spends exactly ε.
- ``GaussianNoiser``: L2 sensitivity ``sqrt(n_num)``; σ is calibrated against the
  ledger (dp-accounting's PLD composition of the Gaussian with the randomized
  responses) so that the row spends exactly (ε, δ), not the less that a split of ε
  into parts would spend.

The ledger composes the events with dp-accounting and ``privacy_spent_`` reports
the result (never more than the budget). Noise is drawn on a lattice from the
discrete Laplace / discrete Gaussian (see :mod:`sk_safesynth.privacy.samplers`); the
lattice is 2**20 times finer than the noise, and the numeric block is accounted as
the continuous mechanism it approximates (docs/privacy.md, "What is exact").

Missing values
--------------
The noisers do not release which values were missing: a missing number is replaced
by the middle of its bounds before clipping and noise, and a missing category is a
value outside the categories, replaced by a uniformly random category before
randomized response (categories read from the data leave missing values out). The
output has no missing values and the guarantee above holds unchanged, since the
replacement is a fixed function of the input row. A table's missing *shares* are
released by :class:`~sk_safesynth.DPSyntheticSampler`, which measures them with DP.

Values outside the domain
-------------------------
Numbers outside the bounds (``±inf`` included) are clipped to them, and a value outside
a column's categories is treated like a missing one (a uniformly random category, then
randomized response): silently, since clipping and that replacement are the mechanism.
No warning or error depends on the values, only on shapes, dtypes and parameters
(bounds not declared, categories read from the data, ``categorical="passthrough"``: a
:class:`PrivacyLeakWarning` each), so two tables that differ in one record give the
same warnings and errors.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_safesynth._tags import TableEstimatorMixin
from sk_safesynth.schema import value_kind
from sk_safesynth.table import as_table
from sk_safesynth.exceptions import PrivacyLeakWarning
from sk_safesynth.privacy import (
    PrivacyLedger,
    gaussian_event,
    laplace_event,
    lattice_noise,
    release_generator,
    secure_generator,
    randomized_response,
    randomized_response_event,
    rr_keep_probability,
)
from sk_safesynth.privacy.calibration import check_delta, check_epsilon
from sk_safesynth.privacy.random import RANDOM_STATE_CONSTRAINT
from sk_safesynth.schema import check_bounds


def _code(lookup: dict, value) -> int:
    """Index of ``value`` among the categories; -1 outside them (unhashable values included)."""
    try:
        return lookup.get(value, -1)
    except TypeError:
        return -1


def _output_is_pandas(estimator) -> bool:
    config = getattr(estimator, "_sklearn_output_config", {})
    return config.get("transform") == "pandas"


class _BaseNoiser(TableEstimatorMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of the row-level noisers; subclasses set the numeric mechanism."""

    _mechanism: str = ""

    _parameter_constraints: dict = {
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "bounds": [None, tuple, list, dict, np.ndarray],
        "categorical": [StrOptions({"randomized_response", "passthrough"})],
        "categories": [None, dict],
        "apply": [StrOptions({"always", "fit"})],
        "random_state": RANDOM_STATE_CONSTRAINT,
    }

    # ---------------------------------------------------------------- fitting
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are replaced before noise (module docstring)
        return tags

    def fit(self, X, y=None):
        """Resolve bounds and categories and calibrate the noise.

        Reads the values only for bounds or categories that were not declared
        (with a :class:`PrivacyLeakWarning`); otherwise only the columns' names and
        dtypes. No warning or error depends on the values (module docstring).
        """
        self._validate_params()
        self._check_privacy_params()
        frame = self._validate_input(X, reset=True)
        self._resolve_columns(frame)
        self._resolve_bounds(frame)
        self._resolve_categories(frame)
        self._calibrate()
        # A fixed seed keys one stream per fit (seed + digest of the fitted rows); every
        # release advances it, so no two releases share noise. None: a fresh CSPRNG per
        # release, and no generator state is kept (a pickle could replay its noise).
        self._release_rng = None if self.random_state is None else release_generator(self.random_state, frame)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then noise ``X`` (training data is always noised, whatever ``apply``)."""
        return self.fit(X, y).__noise(X)

    def transform(self, X):
        """Noise ``X`` when ``apply="always"``; return it unchanged when ``apply="fit"``.

        With ``apply="fit"`` a Pipeline noises its training data only: rows passed at
        predict time are the user's own queries and are not released.
        """
        check_is_fitted(self, "scale_")
        if self.apply == "fit":
            frame = self._validate_input(X, reset=False)
            return self._to_output(frame, X)
        return self.__noise(X)

    # ---------------------------------------------------------------- details
    def _check_privacy_params(self):
        check_epsilon(self.epsilon)

    def _validate_input(self, X, *, reset: bool) -> pd.DataFrame:
        """Validate ``X`` (sklearn bookkeeping included) and return it as a DataFrame."""
        if isinstance(X, pd.DataFrame):
            frame = as_table(X).set_axis(X.index)
            validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
            for name in frame.columns:
                series = frame[name]
                if pd.api.types.is_datetime64_any_dtype(series.dtype):
                    raise TypeError(
                        f"column {name!r} is a datetime; convert it to numbers (e.g. days since a date) "
                        "and declare its bounds"
                    )
            return frame
        # ±inf is a value outside the bounds like any other: clipped, never an error (one
        # record must not switch an exception on).
        array = validate_data(self, X, reset=reset, dtype="numeric", ensure_all_finite=False)
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])], copy=False)

    def _resolve_columns(self, frame: pd.DataFrame):
        numeric: list[str] = []
        categorical: list[str] = []
        for name in frame.columns:  # datetimes were refused by _validate_input
            (numeric if value_kind(frame[name]) == "numeric" else categorical).append(name)
        self.columns_ = list(frame.columns)
        self.numeric_columns_ = numeric
        self.categorical_columns_ = categorical
        if categorical and self.categorical == "passthrough":
            warnings.warn(
                f"categorical columns {categorical} are passed through WITHOUT noise (categorical='passthrough'); "
                "they are not protected",
                PrivacyLeakWarning,
                stacklevel=3,
            )

    def _resolve_bounds(self, frame: pd.DataFrame):
        numeric = self.numeric_columns_
        bounds = self.bounds
        if not numeric:
            self.bounds_ = np.empty((0, 2))
            return
        if bounds is None:
            warnings.warn(
                "bounds=None: bounds are taken from the data's min and max, which leaks information "
                "about the extreme records. Declare bounds to get the stated DP guarantee.",
                PrivacyLeakWarning,
                stacklevel=3,
            )
            values = frame[numeric].to_numpy(dtype=float, na_value=np.nan, copy=True)
            values[~np.isfinite(values)] = np.nan
            # A column with no finite value gets (-0.5, 0.5), like a constant 0, rather
            # than an error that one record could switch on or off.
            values[:, np.isnan(values).all(axis=0)] = 0.0
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            constant = high <= low
            low = np.where(constant, low - 0.5, low)
            high = np.where(constant, high + 0.5, high)
            self.bounds_ = np.column_stack([low, high])
            return
        if isinstance(bounds, dict):
            unknown = set(map(str, bounds)) - set(self.columns_)
            if unknown:
                raise ValueError(f"bounds given for unknown columns: {sorted(unknown)}")
            missing = [c for c in numeric if c not in {str(k) for k in bounds}]
            if missing:
                raise ValueError(f"bounds missing for numeric columns {missing}")
            by_name = {str(k): v for k, v in bounds.items()}
            pairs = [by_name[c] for c in numeric]
        else:
            array = np.asarray(bounds, dtype=object)
            if array.shape == (2,):
                pairs = [tuple(bounds)] * len(numeric)
            elif array.ndim == 2 and array.shape[1] == 2 and array.shape[0] in (len(numeric), len(self.columns_)):
                rows = list(array)
                if array.shape[0] != len(numeric):
                    rows = [rows[self.columns_.index(c)] for c in numeric]
                pairs = [tuple(r) for r in rows]
            else:
                raise ValueError(
                    "bounds must be a (low, high) pair, a dict column -> (low, high), or an array of shape "
                    f"(n_features, 2); got shape {array.shape} for {len(numeric)} numeric column(s)"
                )
        # Declared bounds are public: the values are not read (those outside are clipped).
        self.bounds_ = np.array([check_bounds(name, pair) for name, pair in zip(numeric, pairs)], dtype=float)

    def _resolve_categories(self, frame: pd.DataFrame):
        self.categories_ = {}
        if self.categorical == "passthrough":
            return
        declared = self.categories or {}
        unknown = set(map(str, declared)) - set(self.categorical_columns_)
        if unknown:
            raise ValueError(f"categories given for columns that are not categorical: {sorted(unknown)}")
        derived = []
        for name in self.categorical_columns_:
            series = frame[name]
            if name in declared:
                cats = list(declared[name])
            elif isinstance(series.dtype, pd.CategoricalDtype):
                cats = list(series.dtype.categories)
            elif pd.api.types.is_bool_dtype(series.dtype):
                cats = [False, True]
            else:
                cats = sorted(series.dropna().unique(), key=str)
                derived.append(name)
            if len(set(cats)) != len(cats):
                raise ValueError(f"categories for column {name!r} contain duplicates")
            if name in declared and not cats:
                raise ValueError(f"categories for column {name!r} are empty; declare at least one")
            self.categories_[name] = cats
        if derived:
            warnings.warn(
                f"categories of {derived} are read from the data, which leaks rare values. "
                "Declare them with categories={column: [...]} (or a pandas Categorical dtype).",
                PrivacyLeakWarning,
                stacklevel=3,
            )

    def _calibrate(self):
        n_num = len(self.numeric_columns_)
        rr_columns = [c for c, cats in self.categories_.items() if len(cats) >= 2]
        d = n_num + len(rr_columns)
        ledger = PrivacyLedger(self.epsilon, getattr(self, "delta", 0.0))
        self.keep_probability_ = {}
        for name in self.categories_:
            k = len(self.categories_[name])
            p = rr_keep_probability(self.epsilon / d, k) if k >= 2 else 1.0
            self.keep_probability_[name] = p
            if k >= 2:
                ledger.spend(randomized_response_event(p, k), f"randomized response on {name!r}")
        unit_scale = 0.0
        if n_num:
            unit_scale = self._unit_scale(ledger, n_num, d)
            ledger.spend(self._numeric_event(unit_scale, n_num), f"{self._mechanism} on {n_num} numeric column(s)")
        widths = self.bounds_[:, 1] - self.bounds_[:, 0] if n_num else np.empty(0)
        scale = np.full(len(self.columns_), np.nan)
        for width, name in zip(widths, self.numeric_columns_):
            scale[self.columns_.index(name)] = unit_scale * width
        self.unit_scale_ = unit_scale
        self.scale_ = scale
        self.ledger_ = ledger
        self.privacy_spent_ = ledger.spent

    def __noise(self, X):
        check_is_fitted(self, "scale_")
        frame = self._validate_input(X, reset=False)
        rng = secure_generator() if self._release_rng is None else self._release_rng
        released = self._noise_numeric(frame[self.numeric_columns_].to_numpy(dtype=float, na_value=np.nan), rng)
        if not isinstance(X, pd.DataFrame):
            return released  # all-numeric array in, array out: skip the DataFrame round trip
        out = frame.copy()
        for j, name in enumerate(self.numeric_columns_):
            if pd.api.types.is_integer_dtype(frame[name].dtype):
                out[name] = pd.Series(np.rint(released[:, j]), index=frame.index).astype(frame[name].dtype)
            else:
                out[name] = released[:, j]
        for name, cats in self.categories_.items():
            # A value outside the categories, like a missing one, is code -1, which
            # randomized response replaces by a uniform category: silently (module docstring).
            lookup = {c: i for i, c in enumerate(cats)}
            codes = np.array([_code(lookup, v) for v in frame[name]], dtype=np.int64)
            if len(cats) >= 2:
                codes = randomized_response(codes, len(cats), self.keep_probability_[name], rng)
            else:
                codes = np.zeros_like(codes)
            # No category at all (read from a column without values): the output is missing.
            values = np.asarray(cats, dtype=object)[codes] if cats else np.full(len(codes), None, dtype=object)
            if isinstance(frame[name].dtype, pd.CategoricalDtype):
                out[name] = pd.Categorical(values, categories=cats)
            else:
                out[name] = pd.Series(values, index=frame.index).astype(frame[name].dtype)
        return self._to_output(out, X)

    def _noise_numeric(self, values: np.ndarray, rng) -> np.ndarray:
        """Clip to bounds, map to the unit interval, add lattice noise, map back."""
        if values.shape[1] == 0:
            return values
        low, high = self.bounds_[:, 0], self.bounds_[:, 1]
        width = high - low
        unit = np.clip(np.where(np.isnan(values), (low + high) / 2, values), low, high)
        unit -= low
        unit /= width
        released = lattice_noise(unit, self.unit_scale_, self._mechanism, rng)
        released *= width
        released += low
        return released

    def _to_output(self, frame: pd.DataFrame, X):
        if not isinstance(X, pd.DataFrame):
            return frame.to_numpy(dtype=float)
        frame.columns = list(X.columns)
        frame.index = X.index
        if self.categorical_columns_ or _output_is_pandas(self):
            return frame
        return frame.to_numpy(dtype=float)


class LaplaceNoiser(_BaseNoiser):
    """Clip each row to bounds and add discrete Laplace noise: ε-DP per row.

    Parameters
    ----------
    epsilon : float, default=1.0
        Privacy budget of each released row (> 0).
    bounds : tuple, dict, array of shape (n_features, 2) or None, default=None
        Public bounds of the numeric columns: one ``(low, high)`` pair for all, a
        dict column -> pair, or one pair per feature. ``None`` reads min and max from
        the data and warns with :class:`PrivacyLeakWarning`.
    categorical : {"randomized_response", "passthrough"}, default="randomized_response"
        How non-numeric columns are treated. ``"passthrough"`` leaves them
        un-noised (and warns that they are not protected).
    categories : dict or None, default=None
        Declared categories per categorical column; undeclared ones are read from the
        data with a :class:`PrivacyLeakWarning` (pandas Categorical dtypes and booleans
        count as declared).
    apply : {"always", "fit"}, default="always"
        ``"fit"`` noises only in ``fit_transform`` (training data); ``transform``
        then returns its input unchanged, so a Pipeline does not noise test rows.
    random_state : None, int, Generator or RandomState, default=None
        ``None`` draws noise from a cryptographically secure generator. A fixed seed
        (an int of any width, or a Generator) reproduces ``fit_transform`` on the same
        rows, but every release draws new noise: successive ``transform`` calls, and
        clones fitted on other rows (the folds of a search), never reuse it. It is
        **not secure**: whoever knows the seed and the rows can recompute the noise;
        use it for research and tests only.

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,)
        Laplace scale per column in data units (NaN for categorical columns).
    bounds_ : ndarray of shape (n_numeric, 2)
        Bounds used for the numeric columns.
    keep_probability_ : dict
        Randomized-response probability of keeping each categorical value.
    privacy_spent_ : PrivacySpent
        ``(epsilon, delta)`` of each released row.
    ledger_ : PrivacyLedger
        The events behind ``privacy_spent_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_safesynth import LaplaceNoiser
    >>> X = np.array([[20.0, 1.0], [40.0, 0.0]])
    >>> noiser = LaplaceNoiser(epsilon=1.0, bounds=[(0, 100), (0, 1)], random_state=0)
    >>> noiser.fit_transform(X).shape
    (2, 2)
    """

    _mechanism = "laplace"

    def __init__(self, epsilon=1.0, bounds=None, *, categorical="randomized_response", categories=None,
                 apply="always", random_state=None):
        self.epsilon = epsilon
        self.bounds = bounds
        self.categorical = categorical
        self.categories = categories
        self.apply = apply
        self.random_state = random_state

    def _unit_scale(self, ledger, n_num: int, d: int) -> float:
        # L1 sensitivity of n_num unit-interval coordinates is n_num; the numeric block
        # gets epsilon * n_num / d, and pure-DP parts add up to exactly epsilon.
        return n_num / (self.epsilon * n_num / d)

    @staticmethod
    def _numeric_event(unit_scale: float, n_num: int):
        return laplace_event(unit_scale, l1_sensitivity=n_num)


class GaussianNoiser(_BaseNoiser):
    """Clip each row to bounds and add discrete Gaussian noise: (ε, δ)-DP per row.

    σ is the smallest that keeps the row (Gaussian numeric block composed with the
    randomized responses, by dp-accounting) within ``(epsilon, delta)``: the row spends
    its whole budget. With numeric columns only this is the analytic Gaussian mechanism
    (Balle & Wang 2018) for the L2 sensitivity of the unit-scaled row.

    Parameters
    ----------
    epsilon : float, default=1.0
        Privacy budget of each released row (> 0).
    delta : float, default=1e-5
        δ of each released row, in (0, 1).
    bounds, categorical, categories, apply, random_state
        As in :class:`LaplaceNoiser`.

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,)
        Gaussian σ per column in data units (NaN for categorical columns).
    bounds_, keep_probability_, privacy_spent_, ledger_
        As in :class:`LaplaceNoiser`; ``privacy_spent_.mu`` is the Gaussian-DP
        parameter when no randomized response was needed.
    """

    _mechanism = "gaussian"

    _parameter_constraints: dict = {
        **_BaseNoiser._parameter_constraints,
        "delta": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, epsilon=1.0, delta=1e-5, bounds=None, *, categorical="randomized_response",
                 categories=None, apply="always", random_state=None):
        self.epsilon = epsilon
        self.delta = delta
        self.bounds = bounds
        self.categorical = categorical
        self.categories = categories
        self.apply = apply
        self.random_state = random_state

    def _check_privacy_params(self):
        check_epsilon(self.epsilon)
        check_delta(self.delta)

    def _unit_scale(self, ledger, n_num: int, d: int) -> float:
        return ledger.calibrate(lambda sigma: self._numeric_event(sigma, n_num))

    @staticmethod
    def _numeric_event(unit_scale: float, n_num: int):
        return gaussian_event(unit_scale, l2_sensitivity=math.sqrt(n_num))
