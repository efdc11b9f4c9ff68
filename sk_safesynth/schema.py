"""Table schema: column kinds, declared domains, and row validation.

The schema is the *public* description of a table: column names, kinds and the
domains (bounds, categories) that the user declared or that were obtained through a
DP mechanism. It is the only description of the data that may appear in a prompt
without noise, and every row an LLM returns is validated against it.

Kinds are inferred from dtypes only (:func:`infer_kind`); domains read from the data
itself are a privacy leak and are the sampler's business (DP selection) or the
user's (declaration). :func:`~sk_safesynth.schema_template.infer_schema` reads a
*template* of kinds, bounds, categories and missingness from a table, for the user to
review and declare public.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, cast
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

KINDS = ("numeric", "integer", "boolean", "categorical", "datetime", "text")

# Shortest text the LLM may write in a text column (JSON-schema minLength).
_TEXT_MIN_LENGTH = 80


#: Name of the level that holds the values DP selection could not release.
OTHER = "other"
#: Column names that say "identifier" (``id``, ``user_id``, ``Sample ID``, ``uuid``).
ID_NAME = re.compile(r"(^|[\s_\-.])(id|uuid|guid|identifier)$|^(id|uuid|guid)([\s_\-.]|$)", re.IGNORECASE)


class RowValidationError(ValueError):
    """A generated row does not satisfy the schema."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table schema.

    Parameters
    ----------
    name : str
        Column name.
    kind : {"numeric", "integer", "boolean", "categorical", "datetime", "text"}
        Column kind.
    low, high : float, optional
        Declared (or DP-derived) bounds of a numeric, integer or datetime column.
        Datetime bounds are POSIX seconds.
    categories : tuple, optional
        Allowed values of a categorical column.
    max_length : int, optional
        Maximum length in characters of a text column.
    dtype : str, optional
        pandas dtype to restore on output.
    missing : float, optional
        Share of missing values (a DP estimate); None or 0 when the column is complete.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    categories: tuple | None = None
    max_length: int | None = None
    dtype: str | None = None
    missing: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r}; expected one of {KINDS}")
        if self.missing is not None and not 0 <= self.missing <= 1:
            raise ValueError(f"column {self.name!r}: missing share must lie in [0, 1], got {self.missing}")
        if self.low is not None and self.high is not None:
            if not (math.isfinite(self.low) and math.isfinite(self.high)):
                raise ValueError(f"column {self.name!r}: bounds must be finite, got ({self.low}, {self.high})")
            if self.low > self.high:
                raise ValueError(f"column {self.name!r}: low {self.low} > high {self.high}")

    @property
    def other_level(self):
        """The ``"other"`` category that holds unreleased values, or None."""
        if self.kind == "categorical" and self.categories:
            last = self.categories[-1]
            if isinstance(last, str) and last.rstrip("_") == OTHER and last not in self.categories[:-1]:
                return last
        return None

    @property
    def is_bounded(self) -> bool:
        return self.low is not None and self.high is not None

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this column's Python type, or raise."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise RowValidationError(f"{self.name}: missing value")
        if self.kind in ("numeric", "integer"):
            if isinstance(value, bool):
                raise RowValidationError(f"{self.name}: boolean where a number is expected")
            try:
                number = float(str(value).strip()) if isinstance(value, str) else float(value)
            except (TypeError, ValueError):
                raise RowValidationError(f"{self.name}: {value!r} is not a number") from None
            if not math.isfinite(number):
                raise RowValidationError(f"{self.name}: {value!r} is not finite")
            if self.kind == "integer":
                if number != round(number):
                    raise RowValidationError(f"{self.name}: {value!r} is not an integer")
                number = int(round(number))
            if self.low is not None and number < self.low:
                raise RowValidationError(f"{self.name}: {number} below {self.low}")
            if self.high is not None and number > self.high:
                raise RowValidationError(f"{self.name}: {number} above {self.high}")
            return number
        if self.kind == "boolean":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            text = str(value).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise RowValidationError(f"{self.name}: {value!r} is not a boolean")
        if self.kind == "categorical":
            if self.categories is None:
                return value
            if value in self.categories:
                return value
            text = str(value).strip()
            for category in self.categories:
                if str(category) == text:
                    return category
            raise RowValidationError(f"{self.name}: {value!r} is not one of the allowed categories")
        if self.kind == "datetime":
            try:
                stamp = pd.Timestamp(value)
            except (TypeError, ValueError):
                raise RowValidationError(f"{self.name}: {value!r} is not a date") from None
            if stamp is pd.NaT:
                raise RowValidationError(f"{self.name}: {value!r} is not a date")
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert(None)
            seconds = stamp.timestamp()
            if self.low is not None and seconds < self.low:
                raise RowValidationError(f"{self.name}: {stamp} before the lower bound")
            if self.high is not None and seconds > self.high:
                raise RowValidationError(f"{self.name}: {stamp} after the upper bound")
            return stamp
        # text
        text = str(value).strip()
        if not text:
            raise RowValidationError(f"{self.name}: empty text")
        if self.max_length is not None and len(text) > self.max_length:
            text = text[: self.max_length]
        return text

    def json_schema(self) -> dict:
        """JSON-schema fragment for one value of this column."""
        if self.kind in ("numeric", "integer"):
            out: dict = {"type": "number" if self.kind == "numeric" else "integer"}
            if self.low is not None:
                out["minimum"] = int(math.ceil(self.low)) if self.kind == "integer" else self.low
            if self.high is not None:
                out["maximum"] = int(math.floor(self.high)) if self.kind == "integer" else self.high
            return out
        if self.kind == "boolean":
            return {"type": "boolean"}
        if self.kind == "categorical" and self.categories is not None:
            return {"enum": [jsonable(c) for c in self.categories]}
        if self.kind == "datetime":
            return {"type": "string", "format": "date-time"}
        out = {"type": "string"}
        if self.kind == "text":
            # a floor on length keeps small models from answering a passage with one word
            limit = int(self.max_length) if self.max_length is not None else None
            out["minLength"] = min(_TEXT_MIN_LENGTH, limit) if limit else _TEXT_MIN_LENGTH
            if limit is not None:
                out["maxLength"] = limit
        return out

    def describe(self) -> str:
        """One-line, public description used in prompts."""
        if self.kind in ("numeric", "integer"):
            word = "integer" if self.kind == "integer" else "number"
            if self.is_bounded:
                return f"{self.name}: {word} between {_fmt(cast(float, self.low))} and {_fmt(cast(float, self.high))}"
            return f"{self.name}: {word}"
        if self.kind == "boolean":
            return f"{self.name}: true or false"
        if self.kind == "categorical" and self.categories is not None:
            return f"{self.name}: one of " + ", ".join(str(c) for c in self.categories)
        if self.kind == "datetime":
            if self.is_bounded:
                lo = pd.Timestamp(self.low, unit="s").date()
                hi = pd.Timestamp(self.high, unit="s").date()
                return f"{self.name}: date between {lo} and {hi}"
            return f"{self.name}: date"
        if self.max_length is not None:
            return f"{self.name}: free text, a realistic passage of several sentences (at most {self.max_length} characters)"
        return f"{self.name}: free text, a realistic passage of several sentences"


@dataclass(frozen=True)
class TableSchema:
    """An ordered collection of :class:`ColumnSpec`."""

    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    def __post_init__(self):
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate column names: {duplicated}")
        if not self.columns:
            raise ValueError("a schema needs at least one column")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def replace_column(self, name: str, **changes) -> TableSchema:
        return TableSchema(tuple(replace(c, **changes) if c.name == name else c for c in self.columns))

    def validate_row(self, row: Mapping[str, Any]) -> dict:
        """Validate one row given as a mapping; return the converted row or raise."""
        missing = [n for n in self.names if n not in row]
        if missing:
            raise RowValidationError(f"missing columns {missing}")
        return {c.name: c.validate(row[c.name]) for c in self.columns}

    def to_frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Build a DataFrame with the schema's column order and dtypes from validated rows."""
        frame = pd.DataFrame(list(rows), columns=self.names)
        return self.coerce(frame)

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Cast the columns of ``frame`` to the schema's dtypes."""
        frame = frame.copy()
        for column in self.columns:
            if column.dtype is None:
                continue
            try:
                frame[column.name] = frame[column.name].astype(column.dtype)
            except (TypeError, ValueError):
                # e.g. an integer dtype for a column that holds rounded floats
                if column.kind == "integer":
                    frame[column.name] = np.round(frame[column.name].astype(float)).astype(column.dtype)
                else:
                    raise
        return frame

    def json_schema(self, n_rows: int | None = None) -> dict:
        """JSON schema of ``{"rows": [row, ...]}`` (used for constrained decoding)."""
        row = {
            "type": "object",
            "properties": {c.name: c.json_schema() for c in self.columns},
            "required": self.names,
            "additionalProperties": False,
        }
        rows: dict = {"type": "array", "items": row}
        if n_rows is not None:
            rows["minItems"] = n_rows
            rows["maxItems"] = n_rows
        return {
            "type": "object",
            "properties": {"rows": rows},
            "required": ["rows"],
            "additionalProperties": False,
        }

    def to_dict(self) -> dict:
        """JSON-serialisable description (public information only)."""
        return {
            "columns": [
                {
                    k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in vars(c).items()
                    if v is not None
                }
                for c in self.columns
            ]
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> TableSchema:
        columns = []
        for entry in data["columns"]:
            entry = dict(entry)
            if "categories" in entry:
                entry["categories"] = tuple(entry["categories"])
            columns.append(ColumnSpec(**entry))
        return cls(tuple(columns))


def dtype_kind(series: pd.Series) -> str | None:
    """The kind a public dtype fixes whatever the values hold, or None for strings/objects.

    ``"number"`` stands for integer or numeric, decided with DP (a column of integers
    with one missing value is float64 in pandas, so the dtype cannot say it). A bool
    dtype is public (``bool`` or the nullable ``boolean``); a column of booleans with a
    blank that pandas made ``object`` is a string/object column (its kind by DP).
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return None


def infer_kind(series: pd.Series) -> str:
    """Column kind from the dtype alone: strings are categorical (text is declared or found with DP).

    The values are looked at only to refuse a column that mixes strings with other
    types, never to choose a kind, so one record cannot change which mechanism runs.
    """
    kind = dtype_kind(series)
    if kind == "number":
        return "integer" if pd.api.types.is_integer_dtype(series.dtype) else "numeric"
    if kind is not None:
        return kind
    values = series.dropna()
    if len(values) and not all(isinstance(v, str) for v in values):
        raise TypeError(
            f"column {series.name!r} mixes strings and other types; convert it to one type "
            "(str for categories or text, a number dtype for numbers)"
        )
    return "categorical"


def value_kind(series: pd.Series) -> str:
    """How noise and distances see a column: ``"numeric"``, ``"categorical"`` or ``"datetime"``.

    The coarse view of :func:`infer_kind`: numbers (numeric, integer) are numeric;
    booleans, categories, text and columns mixing strings with numbers are labels.
    """
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return "datetime"
    try:
        kind = infer_kind(series)
    except TypeError:  # mixed strings and numbers: compared as labels
        return "categorical"
    if kind == "datetime":
        return "datetime"
    return "numeric" if kind in ("numeric", "integer") else "categorical"


def parse_numbers(series: pd.Series) -> pd.Series:
    """Strings such as ``"1,000"``, ``" 12.5 "`` or ``"-3"`` as floats; what does not parse is NaN."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    text = series.astype(object).where(series.notna()).map(
        lambda v: v.strip().replace(",", "").replace("_", "") if isinstance(v, str) else v)
    return pd.to_numeric(text, errors="coerce").astype(float)


def parse_dates(series: pd.Series) -> pd.Series:
    """ISO dates and date-times (``2007-11-11``, ``2007-11-11T10:00``) as datetimes; the rest NaT."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    parsed = pd.to_datetime(series.astype(object).where(series.notna()), errors="coerce", format="ISO8601",
                            utc=True)
    return parsed.dt.tz_convert(None).astype("datetime64[ns]")


def check_bounds(name, pair, *, datetime: bool = False) -> tuple[float, float]:
    """Validate a declared ``(low, high)`` pair: two finite numbers with low < high.

    With ``datetime=True`` the ends may be dates (anything ``pandas.Timestamp``
    accepts) and are returned as POSIX seconds.
    """
    try:
        low, high = pair
    except (TypeError, ValueError):
        raise ValueError(f"bounds for {name!r} must be a (low, high) pair, got {pair!r}") from None
    if datetime:
        low, high = pd.Timestamp(low).timestamp(), pd.Timestamp(high).timestamp()
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise ValueError(f"bounds for {name!r} must be numbers, got {pair!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"bounds for {name!r} must be finite, got {pair!r}")
    if low >= high:
        raise ValueError(f"bounds for {name!r} need low < high, got {pair!r}")
    return low, high


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def jsonable(value):
    """A numpy scalar as the Python value it holds (JSON can write it); anything else as is."""
    if isinstance(value, np.generic):
        return value.item()
    return value
