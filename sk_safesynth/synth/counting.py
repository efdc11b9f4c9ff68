"""One counting interface over the private rows of a fit: in memory (pandas) or in partitions (dask).

What ``method="marginals"`` and the DP domain measurement read from the private rows
is a sum over rows: class histograms, value and magnitude histograms, missing counts,
count tables of codes. :class:`Rows` offers exactly that: :meth:`Rows.map` transforms
rows one by one (parsing, encoding), :meth:`Rows.total` sums the small arrays a
function computes from each piece of the table. :class:`PandasRows` holds one piece,
:class:`DaskRows` the partitions of a ``dask.dataframe.DataFrame``: each partition is
counted on a worker, and only the sums, arrays of a few thousand counts, reach the
process that called ``fit``, which noises them with the same code, the same ledger and
the same random stream as in memory. Sums do not depend on how rows are split, so a
table gives the same counts, and with a fixed seed the same release, in either form.

dask is imported only when a dask collection is given (it is an optional extra).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sk_safesynth.privacy import release_generator
from sk_safesynth.synth.measurement import counts

# Partial sums combined in one task of the tree reduction.
_SPLIT_EVERY = 8


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a dask collection (dask's collection protocol, without importing dask)."""
    return callable(getattr(type(obj), "__dask_graph__", None))


def combine(a, b, op: Callable = np.add):
    """``op`` of two partial results: arrays and numbers, value counts (Series, aligned on their values)
    and dicts of them."""
    if isinstance(a, dict):
        return {key: combine(a[key], b[key], op) for key in a}
    if isinstance(a, pd.Series):
        return a.add(b, fill_value=0)
    return op(a, b)


class Rows:
    """The private rows of one fit, read through row-wise maps and sums only.

    ``meta`` is an empty frame with the columns and dtypes (public facts, like a pandas
    dtype); ``len`` is the number of records.
    """

    meta: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.meta.columns]

    def __len__(self) -> int:
        raise NotImplementedError

    def map(self, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Rows:
        """The rows transformed by ``fn``, a row-wise function of a frame (it keeps every row)."""
        raise NotImplementedError

    def total(self, fn: Callable[[pd.DataFrame], Any], op: Callable = np.add):
        """``fn`` of every piece of the table, combined by ``op`` (:func:`combine`; a sum by default)."""
        raise NotImplementedError

    def generator(self, random_state) -> np.random.Generator:
        """The noise generator of a fit on these rows (:func:`~sk_safesynth.privacy.release_generator`)."""
        raise NotImplementedError


class PandasRows(Rows):
    """Rows held in one pandas DataFrame (the in-memory fit)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.meta = frame.iloc[:0]

    def __len__(self) -> int:
        return len(self.frame)

    def map(self, fn):
        return PandasRows(fn(self.frame))

    def total(self, fn, op=np.add):
        return fn(self.frame)

    def generator(self, random_state):
        return release_generator(random_state, self.frame)


class DaskRows(Rows):
    """Rows in the partitions of a ``dask.dataframe.DataFrame``; every pass reads them again.

    ``n_records`` is the number of rows when known (a map keeps it).
    """

    def __init__(self, frame, n_records: int | None = None):
        self.frame = frame
        self.meta = frame._meta
        self._n = n_records

    def __len__(self) -> int:
        if self._n is None:
            self._n = int(self.total(len))
        return self._n

    def map(self, fn):
        return DaskRows(self.frame.map_partitions(fn, meta=fn(self.meta)), self._n)

    def total(self, fn, op=np.add):
        import dask

        parts = [dask.delayed(fn)(part) for part in self.frame.to_delayed()]
        while len(parts) > 1:  # a tree of partial sums: no task holds more than a few of them
            parts = [dask.delayed(_reduce)(parts[i:i + _SPLIT_EVERY], op) for i in range(0, len(parts), _SPLIT_EVERY)]
        return dask.compute(parts[0])[0]

    def generator(self, random_state):
        return release_generator(random_state, self.frame, digest=self.digest)

    def digest(self) -> int:
        """:func:`~sk_safesynth.privacy.random.data_digest` of the rows in partition order (seed material only).

        The per-row hashes are computed on the workers and fed to the hash a few
        partitions at a time, so the driver never holds more than those.
        """
        import dask

        hasher = hashlib.blake2b(digest_size=16)
        hasher.update(repr(self.columns).encode())
        parts = self.frame.map_partitions(_row_hashes, meta=np.zeros(0, dtype=np.uint64)).to_delayed()
        for start in range(0, len(parts), _SPLIT_EVERY):
            for hashes in dask.compute(*parts[start:start + _SPLIT_EVERY]):
                hasher.update(hashes.tobytes())
        return int.from_bytes(hasher.digest(), "little")


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _reduce(parts: list, op):
    out = parts[0]
    for part in parts[1:]:
        out = combine(out, part, op)
    return out


def as_rows(data) -> Rows:
    """``data`` (a pandas or dask DataFrame, or :class:`Rows`) as :class:`Rows`."""
    if isinstance(data, Rows):
        return data
    if is_dask_collection(data):
        return DaskRows(data)
    return PandasRows(data)


@dataclass(frozen=True)
class Axis:
    """One axis of a count table: the code of ``column`` mapped to a level by ``levels``.

    ``levels=None`` counts the code itself; ``column=None`` is a constant axis of one
    level (the anchor of a table without a target). A negative code is left out.
    """

    column: int | None
    levels: np.ndarray | None = None

    def of(self, codes: np.ndarray) -> np.ndarray:
        if self.column is None:
            return np.zeros(len(codes), dtype=np.int64)
        code = codes[:, self.column]
        if self.levels is None:
            return code
        return np.where(code >= 0, self.levels[np.clip(code, 0, None)], -1)


def count_tables(coded: Rows, tables: dict) -> dict:
    """Exact count tables of rows of codes, summed over partitions.

    Parameters
    ----------
    coded : Rows
        One column of codes per encoded column (``-1`` outside the domain).
    tables : dict
        ``key -> (axes, shape)``: a tuple of :class:`Axis` and the table's shape.
    """
    def count(frame: pd.DataFrame) -> dict:
        codes = frame.to_numpy(dtype=np.int64)
        return {key: counts(np.column_stack([axis.of(codes) for axis in axes]), shape)
                for key, (axes, shape) in tables.items()}

    return coded.total(count) if tables else {}
