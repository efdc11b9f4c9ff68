"""A schema *template* read from a table, for a person to review and declare public.

Everything :func:`infer_schema` returns is read from the private values, so it is not
DP: it is where a reviewer starts, not a release (``sk-safesynth schema`` writes it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_safesynth.schema import ID_NAME, infer_kind, jsonable, parse_dates, parse_numbers

# A string column whose values are mostly this long or longer is free text, not a category.
_TEXT_MIN_MEAN_LENGTH = 30
# A column with more distinct values than this share of its rows is ID-like (strings,
# integers) when it is unique per row or named like an identifier.
_ID_DISTINCT_SHARE = 0.5
# A target with at most this many distinct values is categorical.
_MAX_TARGET_CLASSES = 10


def infer_schema(X, y=None, *, target: str | None = None) -> dict:
    """A *template* schema read from the data, for a person to review and declare public.

    Everything here is read from the private values (bounds are the min and max,
    categories every observed value), so it is **not** DP: review it, widen the
    bounds to what is publicly known, remove rare or identifying categories, and only
    then pass it on as a declaration (``DPSyntheticSampler(**schema)`` or
    ``sk-safesynth generate --schema schema.json``). With the schema declared, a fit
    spends its whole budget on the data and reads no domain from it.

    Parameters
    ----------
    X : DataFrame
        The table (the target may be one of its columns, named by ``target``).
    y : array-like, optional
        The target, when it is not a column of ``X``.
    target : str, optional
        Name of the target column (of ``X``, or of ``y``).

    Returns
    -------
    dict
        ``{"kinds": ..., "bounds": ..., "categories": ..., "missing": ...}``, the
        keyword arguments of :class:`~sk_safesynth.DPSyntheticSampler` that declare
        the domain. ID-like columns (unique per row, or named like an identifier with
        mostly distinct values) get the kind ``"id"`` (dropped). ISO dates and numbers
        written with thousands separators get the kinds ``"datetime"`` and
        ``"numeric"``; a target with at most 10 distinct values is categorical.
        Datetime bounds are ISO strings; every value is JSON-serialisable.
    """
    from sk_safesynth.table import as_table

    frame = as_table(X)
    if y is not None:
        name = target or (str(y.name) if getattr(y, "name", None) is not None else "target")
        frame[name] = np.asarray(y)
        target = name
    if target is not None and target not in frame.columns:
        raise ValueError(f"target {target!r} is not a column; columns: {list(frame.columns)}")
    kinds, bounds, categories, missing = {}, {}, {}, {}
    for name in frame.columns:
        series = frame[name]
        kind = infer_kind(series) if not _mixed(series) else "categorical"
        present = series.dropna()
        if kind == "categorical" and not isinstance(series.dtype, pd.CategoricalDtype) and len(present):
            text = present.astype(str)
            if parse_dates(text).notna().all() and text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
                kind, series = "datetime", parse_dates(series)
            elif parse_numbers(text).notna().all():
                numbers = parse_numbers(series)
                kind = "integer" if (numbers.dropna() % 1 == 0).all() else "numeric"
                series = numbers
            elif text.str.len().mean() >= _TEXT_MIN_MEAN_LENGTH and present.nunique() > 0.5 * len(present):
                kind = "text"
        if kind == "numeric" and len(series.dropna()) and (series.dropna() % 1 == 0).all():
            kind = "integer"  # e.g. integers read as floats because of missing values
        present = series.dropna()
        distinct = present.nunique()
        id_like = len(present) > 1 and kind in ("categorical", "integer", "text") and (
            distinct == len(series) or (_looks_like_id(name) and distinct > _ID_DISTINCT_SHARE * len(present)))
        if name == target:
            id_like = False
            if kind in ("integer", "numeric", "boolean") and distinct <= _MAX_TARGET_CLASSES:
                kind = "categorical"
        if id_like:
            kinds[name] = "id"
            continue
        kinds[name] = kind
        missing[name] = bool(series.isna().any())
        if kind in ("numeric", "integer") and len(present):
            low, high = float(present.min()), float(present.max())
            bounds[name] = [_number(low), _number(high if high > low else low + 1)]
        elif kind == "datetime" and len(present):
            bounds[name] = [present.min().isoformat(), present.max().isoformat()]
        elif kind == "categorical":
            values = series.cat.categories if isinstance(series.dtype, pd.CategoricalDtype) else present.unique()
            categories[name] = sorted((jsonable(v) for v in values), key=str)
    return {"kinds": kinds, "bounds": bounds, "categories": categories, "missing": missing}


def _mixed(series: pd.Series) -> bool:
    try:
        infer_kind(series)
    except TypeError:
        return True
    return False


def _looks_like_id(name: str) -> bool:
    return bool(ID_NAME.search(name))


def _number(x: float):
    return int(x) if float(x).is_integer() else x
