"""Tables larger than memory: the marginals fit on a dask LocalCluster, synthetic rows written as parquet.

Run: python bench/bench_dask.py [--rows 1000000,5000000,20000000] [--in-memory 1000000] [--workers 2]
                                [--file-rows 500000] [--data DIR] [--out dask]

Adult (bundled, 32,561 rows × 15 columns with the target) is resampled with replacement
to each row count and written as parquet files of ``--file-rows`` rows (reused when
present). Each configuration runs in a fresh process: a ``LocalCluster`` of
``--workers`` single-threaded worker processes fits ``DPSyntheticSampler(epsilon=1,
method="marginals")`` on ``dask.dataframe.read_parquet`` (Adult's public bounds and
categories declared, missing values undeclared: a DP count per column, as
bench_scaling.py), then ``sample_to_parquet`` writes as many synthetic rows in files of
``--file-rows`` rows too (two files per million rows: both workers write), on the workers
(joblib's dask backend). Reported:
fit and write time, total seconds per million rows, the driver's peak RSS and the
largest worker's peak RSS. ``--in-memory`` rows repeat the fit on the same files read
whole with pandas (no cluster) and write every file in that one process: the in-memory
path.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import print_table, write_json

SNIPPET = r"""
import json, resource, shutil, sys, tempfile, time, warnings
from pathlib import Path
from sk_safesynth import DPSyntheticSampler
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, ADULT_TARGET
mode, rows, data, workers, file_rows = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux reports KiB)
out = Path(tempfile.mkdtemp(prefix="synthetic-"))
warnings.simplefilter("ignore")
sampler = DPSyntheticSampler(epsilon=1.0, method="marginals", bounds=ADULT_BOUNDS, categories=ADULT_CATEGORIES)
record = {"path": mode, "rows": rows}
if mode == "dask":
    import logging
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit="4GiB",
                           host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    start = time.perf_counter()
    table = dd.read_parquet(data)
    sampler.fit(table.drop(columns=ADULT_TARGET), table[ADULT_TARGET])
    fit_s = time.perf_counter() - start
    worker_mib = max(client.run(peak).values())
    record["partitions"] = table.npartitions
else:
    import pandas as pd
    start = time.perf_counter()
    table = pd.read_parquet(data)
    sampler.fit(table.drop(columns=ADULT_TARGET), table[ADULT_TARGET])
    del table
    fit_s = time.perf_counter() - start
    worker_mib = None
start = time.perf_counter()
import joblib
with joblib.parallel_config(backend="dask" if mode == "dask" else "sequential"):  # files written by the workers
    files = sampler.sample_to_parquet(rows, out / "rows", rows_per_file=file_rows)
write_s = time.perf_counter() - start
if mode == "dask":
    worker_mib = max(worker_mib, *client.run(peak).values())
shutil.rmtree(out)
record.update({"workers": workers if mode == "dask" else None, "fit_s": fit_s, "write_s": write_s,
               "file_rows": file_rows, "s_per_million": (fit_s + write_s) / (rows / 1e6), "driver_peak_mib": peak(),
               "worker_peak_mib": worker_mib, "plan_bins": sampler.method_.plan_.bins,
               "cliques": len(sampler.method_.edges_) + sampler.method_.n_extra_pairs_})
print(json.dumps(record))
"""


def adult_parquet(rows: int, root: Path, file_rows: int) -> Path:
    """Adult resampled to ``rows`` rows, as parquet files of ``file_rows`` rows (written once)."""
    import numpy as np

    from sk_safesynth.datasets import load_adult

    directory = root / f"adult_{rows}"
    if (directory / "_complete").exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    frame = load_adult()
    for i, start in enumerate(range(0, rows, file_rows)):
        index = np.random.default_rng(i).integers(0, len(frame), min(file_rows, rows - start))
        frame.iloc[index].to_parquet(directory / f"part-{i:05d}.parquet", index=False)
    (directory / "_complete").touch()
    return directory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000,5000000,20000000")
    parser.add_argument("--in-memory", default="1000000", help="row counts also fitted in memory (pandas)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--file-rows", type=int, default=500_000, help="rows per parquet file, in and out")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "sk-safesynth-bench-dask"))
    parser.add_argument("--out", default="dask", help="name of the JSON in bench/results")
    args = parser.parse_args()
    in_memory = {int(r) for r in args.in_memory.split(",") if r}
    results = []
    for rows in map(int, args.rows.split(",")):
        data = adult_parquet(rows, Path(args.data), args.file_rows)
        for mode in (["memory"] if rows in in_memory else []) + ["dask"]:
            argv = [mode, str(rows), str(data), str(args.workers), str(args.file_rows)]
            out = subprocess.run([sys.executable, "-c", SNIPPET, *argv], capture_output=True, text=True,
                                 cwd=Path(__file__).parent)
            if out.returncode:
                raise RuntimeError(f"{mode} at {rows} rows failed:\n{out.stderr[-3000:]}")
            record = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(record)
            print(json.dumps(record), flush=True)
            write_json(args.out, {"results": results})  # after each row: a long run keeps what it measured
    print_table(results, "DPSyntheticSampler(method='marginals') on dask: fit + write as many rows as parquet")


if __name__ == "__main__":
    main()
