"""Load benchmark: 100,000 rows through the fake provider (0.2 s latency, n_jobs=32).

Two ways to consume the rows:

- ``stream``: :meth:`LLMClient.iter_generate` over a lazy task iterator; each chunk of
  rows is reduced (counted and checksummed) and dropped. Memory must stay flat: the
  client keeps one chunk of calls (``chunk_calls=512``) in flight, never all prompts.
- ``collect``: :meth:`LLMClient.generate`, which returns all 100,000 rows as one
  DataFrame; memory then grows with the result (the rows themselves), not with prompts.

Resident memory (RSS) is sampled every 0.25 s by a thread. Run
``python bench/bench_load.py [--rows N] [--modes stream,collect]``; prints a table and
writes ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

from _common import print_table, write_json
from sk_safesynth.llm import GenerationTask, LLMClient
from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider
from sk_safesynth.schema import ColumnSpec, TableSchema

SCHEMA = TableSchema((
    ColumnSpec("age", "integer", 17, 90, dtype="int64"),
    ColumnSpec("workclass", "categorical", categories=("Private", "Self-emp", "Federal-gov", "Local-gov", "State-gov")),
    ColumnSpec("hours_per_week", "numeric", 1, 99),
    ColumnSpec("married", "boolean"),
    ColumnSpec("income", "categorical", categories=("<=50K", ">50K")),
))
ROWS_PER_CALL = 20


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{os.getpid()}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RSSSampler(threading.Thread):
    """Samples RSS every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop_event = threading.Event()
        self._start_time = time.perf_counter()

    def run(self):
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter() - self._start_time, rss_mib()))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[tuple[float, float]]:
        self._stop_event.set()
        self.join()
        return self.samples


def tasks(n_rows: int):
    """A lazy task stream: nothing is built before the client asks for it."""
    for start in range(0, n_rows, ROWS_PER_CALL):
        yield GenerationTask(None, min(ROWS_PER_CALL, n_rows - start), hint=f"batch {start // ROWS_PER_CALL}")


def run(mode: str, n_rows: int, n_jobs: int, latency: float) -> dict:
    install_fake_provider(latency=latency, keep_requests=False)
    client = LLMClient(FAKE_MODEL, n_jobs=n_jobs, max_rows_per_call=ROWS_PER_CALL, backoff=0.0)
    baseline = rss_mib()
    sampler = RSSSampler()
    sampler.start()
    start = time.perf_counter()
    n_calls = rows = 0
    checksum = 0.0
    if mode == "stream":
        for part in client.iter_generate(SCHEMA, tasks(n_rows), seed=0):
            rows += len(part.rows)
            n_calls += part.n_calls
            checksum += float(part.rows["hours_per_week"].sum())
    else:
        result = client.generate(SCHEMA, tasks(n_rows), seed=0)
        rows, n_calls, checksum = len(result.rows), result.n_calls, float(result.rows["hours_per_week"].sum())
    seconds = time.perf_counter() - start
    samples = sampler.stop()
    assert rows == n_rows, (rows, n_rows)
    rss = np.array([value for _, value in samples])
    # "Flat": growth over the second half of the run, when the pipeline is in steady state.
    half = rss[len(rss) // 2:]
    return {
        "mode": mode,
        "rows": rows,
        "calls": n_calls,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds, 1),
        "ideal_rows_per_s": round(n_jobs * ROWS_PER_CALL / latency, 1),
        "rss_start_mib": round(baseline, 1),
        "rss_peak_mib": round(float(rss.max()), 1),
        "rss_growth_2nd_half_mib": round(float(half.max() - half[0]), 1),
        "checksum": round(checksum, 3),
        "rss_trace_mib": [round(float(v), 1) for v in rss[:: max(1, len(rss) // 20)]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--n-jobs", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--modes", default="stream,collect")
    args = parser.parse_args()
    results = [run(mode, args.rows, args.n_jobs, args.latency) for mode in args.modes.split(",")]
    print_table([{k: v for k, v in r.items() if k != "rss_trace_mib"} for r in results],
                f"Load: {args.rows} rows, fake provider with {args.latency} s latency, n_jobs={args.n_jobs}")
    write_json("load", {"settings": vars(args), "results": results})


if __name__ == "__main__":
    main()
