"""Shared helpers for the benchmarks: table printing, JSON results and timed DP text runs."""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def print_table(rows: list[dict], title: str) -> None:
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(v.ljust(w) for v, w in zip(row, widths)))


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str))
    print(f"\nwrote {path}")
    return path


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def append_record(path: Path, records: list, record: dict) -> None:
    """Print ``record``, add it to ``records`` and rewrite ``path`` with them (a resumable bench's JSON)."""
    print(json.dumps(record), flush=True)
    records.append(record)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"records": records}, indent=2))


def timed_text_release(sampler, X, y) -> tuple:
    """``sampler.fit_resample(X, y)`` timed, with what a text benchmark records of the run."""
    import numpy as np

    from sk_safesynth import __version__

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X_syn, y_syn = sampler.fit_resample(X, y)
    seconds = time.perf_counter() - start
    usage = sampler.llm_usage_
    stats = {"seconds": round(seconds, 1), "texts": usage["texts"], "cached": usage["n_cached"],
             "tokens_per_s": round(usage["completion_tokens"] / seconds, 1),
             "spent_epsilon": round(sampler.privacy_spent_.epsilon, 6), "version": __version__,
             "class_shares": {str(k): int(v) for k, v in zip(*np.unique(y_syn, return_counts=True))},
             "template": sampler.method_.template_, "example": str(X_syn["text"].iloc[0])[:200]}
    return X_syn, y_syn, stats
