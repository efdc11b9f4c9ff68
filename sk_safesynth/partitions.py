"""Tables larger than memory: private input as a dask DataFrame, synthetic output as parquet files.

:func:`open_partitioned` opens a parquet file or directory, or one or more CSV files (a
glob), as a ``dask.dataframe.DataFrame`` that
:meth:`~sk_safesynth.DPSyntheticSampler.fit` counts partition by partition;
:func:`write_parquet` writes rows a file at a time. Both need the ``dask`` extra
(``pip install "sk-safesynth[dask]"``: dask, distributed, pyarrow), imported only here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

_EXTRA = 'pip install "sk-safesynth[dask]"'


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
    if Path(text).is_dir() or text.endswith((".parquet", ".pq")):
        return dd.read_parquet(text, **read_kwargs)
    if ".csv" not in text:
        raise ValueError(f"{text!r} is neither a parquet file or directory nor CSV files (*.csv, *.csv.gz)")
    if text.endswith((".gz", ".bz2", ".xz", ".zip")):
        read_kwargs.setdefault("blocksize", None)  # a compressed file is one partition: it cannot be split
    return dd.read_csv(text, dtype=str if as_text else None, encoding="utf-8", **read_kwargs)


def write_parquet(sample: Callable[[int], pd.DataFrame], n_rows: int, path, *, rows_per_file: int) -> list[Path]:
    """Write ``n_rows`` rows drawn by ``sample(size)`` to ``path``, ``rows_per_file`` rows per file.

    Every file gets the Arrow schema of the first one, so a directory reads back with
    one dtype per column. ``path`` is created; it must not hold files already.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(f"writing parquet needs pyarrow: {_EXTRA}") from exc
    directory = Path(path)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(f"{directory} exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    schema = None
    for start in range(0, n_rows, rows_per_file):
        rows = sample(min(rows_per_file, n_rows - start))
        table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)
        schema = table.schema
        written.append(directory / f"part-{len(written):05d}.parquet")
        pq.write_table(table, written[-1])
    return written
