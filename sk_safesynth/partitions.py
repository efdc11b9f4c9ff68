"""Tables larger than memory: private input as a dask DataFrame, synthetic output as parquet files.

:func:`open_partitioned` opens a parquet file or directory, or one or more CSV files (a
glob), as a ``dask.dataframe.DataFrame`` that
:meth:`~sk_safesynth.DPSyntheticSampler.fit` counts partition by partition;
:func:`write_file` writes synthetic rows to a parquet file a row group at a time (the
files of :meth:`~sk_safesynth.DPSyntheticSampler.sample_to_parquet`). Both need the ``dask`` extra
(``pip install "sk-safesynth[dask]"``: dask, distributed, pyarrow), imported only here.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

_EXTRA = 'pip install "sk-safesynth[dask]"'
#: Rows drawn and written at a time by :func:`write_file` (one parquet row group).
ROW_GROUP = 100_000


def is_parquet(path) -> bool:
    """Whether ``path`` names parquet: a directory of files, or a ``.parquet`` / ``.pq`` file."""
    text = os.fspath(path)
    return Path(text).is_dir() or text.endswith((".parquet", ".pq"))


def is_partitioned(path) -> bool:
    """Whether ``path`` names a partitioned table (parquet, or a glob of CSV files), not one CSV file."""
    return is_parquet(path) or any(c in os.fspath(path) for c in "*?[")


def open_partitioned(path, *, as_text: bool = True, **read_kwargs):
    """A parquet file or directory, or CSV files, as a ``dask.dataframe.DataFrame``.

    Parameters
    ----------
    path : str or Path
        A parquet file (``.parquet``, ``.pq``) or a directory of them, or a CSV file or
        glob of CSV files (``"data/part-*.csv"``, gzip allowed).
    as_text : bool, default=True
        Read CSV values as strings, so that kinds come from declarations or DP, never
        from a dtype pandas guessed from the values (as the CLI reads a private CSV).
        A parquet file's own column types are kept: they are written by whoever wrote
        the file, like a pandas dtype (docs/privacy.md).
    **read_kwargs
        Passed to ``dask.dataframe.read_parquet`` or ``read_csv`` (``blocksize``,
        ``columns``, ``storage_options``, ...).

    Returns
    -------
    dask.dataframe.DataFrame
    """
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise ImportError(f"reading a partitioned table needs dask: {_EXTRA}") from exc
    text = os.fspath(path)
    if is_parquet(text):
        return dd.read_parquet(text, **read_kwargs)
    if ".csv" not in text:
        raise ValueError(f"{text!r} is neither a parquet file or directory nor CSV files (*.csv, *.csv.gz)")
    if text.endswith((".gz", ".bz2", ".xz", ".zip")):
        read_kwargs.setdefault("blocksize", None)  # a compressed file is one partition: it cannot be split
    return dd.read_csv(text, dtype=str if as_text else None, encoding="utf-8", **read_kwargs)


def write_parquet(sampler, n_rows: int, path, *, rows_per_file: int, stream: np.random.Generator | None,
                  n_jobs: int | None) -> list[Path]:
    """Write ``n_rows`` rows of the fitted ``sampler`` to files of ``rows_per_file`` rows in ``path``.

    One row, drawn here from a copy of the first file's stream, fixes the Arrow types of
    every file (:func:`arrow_schema`); then all files are written at once by
    ``joblib.Parallel(n_jobs)`` (on a cluster's workers under joblib's dask backend).
    With a seeded sample ``stream``, each file draws from its own stream seeded from it;
    without one, each file's rows come from a fresh secure generator.
    """
    directory = Path(path)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(f"{directory} exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    sizes = [min(rows_per_file, n_rows - start) for start in range(0, n_rows, rows_per_file)]
    files = [directory / f"part-{i:05d}.parquet" for i in range(len(sizes))]
    samplers = [_streamed(sampler, None if stream is None else int(stream.integers(2**63))) for _ in sizes]
    probe = copy.copy(samplers[0])
    probe._sample_stream = copy.deepcopy(getattr(probe, "_sample_stream", None))
    schema = arrow_schema(probe.sample(1))
    Parallel(n_jobs=n_jobs)(delayed(write_file)(part.sample, size, file, schema)
                            for part, size, file in zip(samplers, sizes, files))
    return files


def arrow_schema(rows: pd.DataFrame):
    """The Arrow types of synthetic ``rows``: those of their dtypes, object columns as strings.

    (From values, Arrow would type an object column by the values it sees — ``null`` when
    all are missing — and rows with other values could not be written under that type.)
    """
    pa, _ = _pyarrow()
    schema = pa.Schema.from_pandas(rows, preserve_index=False)
    for i, field in enumerate(schema):
        if rows[field.name].dtype == object:
            schema = schema.set(i, field.with_type(pa.string()))
    return schema


def _pyarrow():
    """``pyarrow`` and ``pyarrow.parquet``, or an ImportError naming the extra that installs them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(f"writing parquet needs pyarrow: {_EXTRA}") from exc
    return pa, pq


def _streamed(sampler, seed: int | None):
    """``sampler`` drawing from its own stream seeded by ``seed`` (a copy: files may be written in threads)."""
    if seed is None:
        return sampler
    sampler = copy.copy(sampler)
    sampler._sample_stream = np.random.default_rng(seed)
    return sampler


def write_file(sample: Callable[[int], pd.DataFrame], n_rows: int, path, schema=None):
    """Write ``n_rows`` rows drawn by ``sample(size)`` to the parquet file ``path``, a row group at a time.

    Memory holds one row group (:data:`ROW_GROUP` rows). ``schema`` (a ``pyarrow.Schema``)
    fixes the file's column types; by default :func:`arrow_schema` of the first row group.
    Values of object columns are written as text. Returns the schema written.
    """
    pa, pq = _pyarrow()
    writer = None
    try:
        for start in range(0, n_rows, ROW_GROUP):
            rows = sample(min(ROW_GROUP, n_rows - start))
            if writer is None:
                schema = arrow_schema(rows) if schema is None else schema
                writer = pq.ParquetWriter(path, schema)
            text = {name: rows[name].astype("string") for name in rows.columns
                    if rows[name].dtype == object and schema.field(name).type == pa.string()}
            writer.write_table(pa.Table.from_pandas(rows.assign(**text), schema=schema, preserve_index=False))
    finally:
        if writer is not None:
            writer.close()
    return schema
