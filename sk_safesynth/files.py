"""The files a user gives: CSV tables, JSON declarations (bounds, categories, schema files).

Every problem is an :class:`~sk_safesynth.exceptions.InputError` that names the file
and what is wrong, so a command line or a service can show it as it is. Declared values
are checked with the same rules as the sampler's arguments (:data:`~sk_safesynth.schema.KINDS`,
:func:`~sk_safesynth.schema.check_bounds`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from sk_safesynth.exceptions import InputError
from sk_safesynth.schema import KINDS, check_bounds
from sk_safesynth.synth.domain import ID_KIND

#: Kinds a schema file or ``--kinds`` may declare.
DECLARED_KINDS = (*KINDS, ID_KIND)
#: Keys of a schema file (as written by ``sk-safesynth schema`` / :func:`~sk_safesynth.infer_schema`).
SCHEMA_KEYS = ("kinds", "bounds", "categories", "missing", "target")


def read_csv(path: str | Path, *, as_text: bool = False) -> pd.DataFrame:
    """Read a UTF-8 CSV; string columns as object dtype.

    With ``as_text`` every cell is a string (blanks and ``NA`` are missing): a private
    table whose kinds are declared or released with DP by the sampler, never guessed
    from the values by pandas (one blank would turn int64 into float64).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    try:
        frame = pd.read_csv(path, encoding="utf-8", dtype=str if as_text else None)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (invalid byte at position {exc.start}); "
                         "re-save it as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read {path} as CSV: {first_line(exc)}") from None
    if frame.empty:
        raise InputError(f"{path} has no data rows")
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:  # pandas would silently rename them to "a.1", ...
        raise InputError(f"{path} has duplicate column names: {repeated}")
    # Object dtype for strings: the library infers categories from str values either way,
    # and mixed pandas string dtypes would otherwise count as different column kinds.
    strings = frame.select_dtypes(include=["object", "string"]).columns
    return frame.astype({c: object for c in strings})


def read_json(path: str | Path, what: str) -> dict:
    """A JSON object from ``path``; ``what`` names it in error messages."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{what} file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} file {path} must hold a JSON object {{column: ...}}")
    return data


def read_bounds(path: str | Path) -> dict[str, tuple]:
    """``{"column": [low, high]}`` from a JSON file (numbers, or dates as text)."""
    return _bounds(read_json(path, "bounds"), f"bounds file {path}")


def read_categories(path: str | Path) -> dict[str, list[str]]:
    """``{"column": ["value", ...]}`` from a JSON file; values as strings (CSV cells are text)."""
    return _categories(read_json(path, "categories"), f"categories file {path}")


def read_schema(path: str | Path) -> dict:
    """A schema file (written by ``sk-safesynth schema`` and reviewed): the sampler's domain arguments.

    Returns ``{"kinds", "bounds", "categories", "missing", "target"}``, empty mappings for
    what the file leaves out. Categories are read as strings, like the CSV cells they must match.
    """
    data = read_json(path, "schema")
    where = f"schema file {path}"
    unknown = sorted(set(data) - set(SCHEMA_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown keys {unknown}; expected {sorted(SCHEMA_KEYS)}")
    for key in SCHEMA_KEYS[:-1]:
        if not isinstance(data.get(key) or {}, dict):
            raise InputError(f"{where}: {key!r} must be an object {{column: ...}}")
    kinds = data.get("kinds") or {}
    bad_kinds = {c: k for c, k in kinds.items() if k not in DECLARED_KINDS}
    if bad_kinds:
        raise InputError(f"{where}: unknown kinds {bad_kinds}; expected one of {', '.join(DECLARED_KINDS)}")
    missing = data.get("missing") or {}
    bad_missing = [c for c, v in missing.items() if not isinstance(v, bool)]
    if bad_missing:
        raise InputError(f"{where}: missing of {bad_missing} must be true or false")
    return {"kinds": kinds, "bounds": _bounds(data.get("bounds") or {}, where),
            "categories": _categories(data.get("categories") or {}, where), "missing": missing,
            "target": data.get("target")}


def check_columns(frame: pd.DataFrame, path, names, what: str) -> None:
    """Raise :class:`InputError` naming the ``names`` that are not columns of ``frame`` (read from ``path``)."""
    unknown = [name for name in names if name not in frame.columns]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise InputError(f"{what}{plural} {', '.join(map(repr, unknown))} not in {path} "
                         f"(its columns: {', '.join(map(str, frame.columns))})")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bounds(data: dict, where: str) -> dict[str, tuple]:
    out = {}
    for column, pair in data.items():
        if not isinstance(pair, list) or len(pair) != 2 or not all(
                isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in pair):
            raise InputError(f"{where}: bounds of {column!r} must be [low, high] numbers (or dates as text), "
                             f"got {pair!r}")
        try:  # the sampler's own rule; dates may be given as text
            check_bounds(column, pair, datetime=any(isinstance(v, str) for v in pair))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        out[column] = tuple(pair)
    return out


def _categories(data: dict, where: str) -> dict[str, list[str]]:
    out = {}
    for column, values in data.items():
        if not isinstance(values, list) or not values:
            raise InputError(f"{where}: categories of {column!r} must be a non-empty list, got {values!r}")
        out[column] = [str(v) for v in values]
    return out
