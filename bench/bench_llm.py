"""Benchmark of the LLM layer.

1. Embedded model (Gemma 3 270M, xllamacpp, grammar-constrained JSON rows): valid
   rows/s, completion tokens per valid row, raw decoding tokens/s, and efficiency =
   (rows/s) / (tokens/s / tokens per row); target >= 80%.
2. Latency hiding: fake provider with 0.5 s latency, n_jobs=16 vs n_jobs=1; target >= 12x.

Run ``python bench/bench_llm.py``; prints a table and writes ``bench/results/llm.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sk_safesynth.llm import GenerationTask, LLMClient
from sk_safesynth.llm.local_model import get_local_model, n_threads
from sk_safesynth.llm.testing import (
    ADULT_LIKE_EXAMPLES,
    ADULT_LIKE_SCHEMA,
    FAKE_MODEL,
    install_fake_provider,
)

RESULTS = Path(__file__).parent / "results" / "llm.json"
ADULT = ADULT_LIKE_SCHEMA
EXAMPLES = ADULT_LIKE_EXAMPLES


def bench_embedded(n_tasks: int = 4, rows_per_task: int = 20) -> dict:
    client = LLMClient()
    client.generate(ADULT, [GenerationTask(EXAMPLES, 2)], seed=123)  # load model, compile grammar paths
    start = time.perf_counter()
    result = client.generate(ADULT, [GenerationTask(EXAMPLES, rows_per_task)] * n_tasks, seed=0)
    seconds = time.perf_counter() - start
    rows = len(result.rows)
    # Raw decoding speed: unconstrained sampling of a long continuation, llama.cpp's own timer.
    reply = get_local_model().complete({"prompt": "Once upon a time", "n_predict": 256, "seed": 0,
                                        "temperature": 1.0, "ignore_eos": True})
    tokens_per_s = reply["timings"]["predicted_per_second"]
    tokens_per_row = result.completion_tokens / rows
    rows_per_s = rows / seconds
    return {
        "n_threads": n_threads(),
        "rows": rows,
        "calls": result.n_calls,
        "invalid_rows": result.n_invalid,
        "seconds": round(seconds, 2),
        "valid_rows_per_s": round(rows_per_s, 3),
        "completion_tokens_per_valid_row": round(tokens_per_row, 2),
        "prompt_tokens_per_call": round(result.prompt_tokens / result.n_calls, 1),
        "raw_generation_tokens_per_s": round(tokens_per_s, 1),
        "limit_rows_per_s": round(tokens_per_s / tokens_per_row, 3),
        "efficiency": round(rows_per_s / (tokens_per_s / tokens_per_row), 3),
    }


def bench_latency_hiding(latency: float = 0.5, n_tasks: int = 32) -> dict:
    install_fake_provider(latency=latency)
    tasks = [GenerationTask(EXAMPLES, 5)] * n_tasks
    seconds = {}
    for n_jobs in (1, 16):
        start = time.perf_counter()
        LLMClient(FAKE_MODEL, n_jobs=n_jobs).generate(ADULT, tasks, seed=0)
        seconds[n_jobs] = time.perf_counter() - start
    return {
        "latency_s": latency,
        "calls": n_tasks,
        "seconds_n_jobs_1": round(seconds[1], 2),
        "seconds_n_jobs_16": round(seconds[16], 2),
        "speedup": round(seconds[1] / seconds[16], 2),
    }


def main() -> None:
    results = {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "embedded": bench_embedded(),
        "latency_hiding": bench_latency_hiding(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'metric':<40}{'value':>12}")
    for section in ("embedded", "latency_hiding"):
        for key, value in results[section].items():
            print(f"{section + '.' + key:<40}{value:>12}")
    print(f"(load average at start: {results['load_average_at_start']:.2f} on {results['cpu_count']} cores)")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
