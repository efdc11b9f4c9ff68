"""Privacy-free candidate rows: the LLM writes rows from the public schema only.

Nothing private enters these prompts (column names, kinds and declared or DP
domains only), so generating them costs no privacy budget and the result can be
cached and shared across folds, epsilons and methods. Tasks cycle through the
target's classes so every class is covered.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from sk_safesynth.llm import GenerationTask, LLMClient
from sk_safesynth.llm.cache import PublicMemo
from sk_safesynth.schema import TableSchema

_POOLS = PublicMemo("candidate pools")


def _pool_key(client: LLMClient, schema: TableSchema, size: int, rows_per_call: int, target: str | None,
              seed: int) -> str:
    return json.dumps([client.provider_identity(), client.temperature, schema.to_dict(), size, rows_per_call, target,
                       seed], sort_keys=True, default=str)


def schema_tasks(schema: TableSchema, size: int, rows_per_call: int, target: str | None) -> list[GenerationTask]:
    """Tasks asking for ``size`` rows from the schema, cycling through target classes."""
    classes: list = list(schema[target].categories or ()) if target else [None]
    classes = classes or [None]
    tasks = []
    for i in range(math.ceil(size / rows_per_call)):
        n = min(rows_per_call, size - i * rows_per_call)
        label = classes[i % len(classes)]
        hint = "Write realistic, diverse rows."
        if label is not None:
            hint += f" In every row, {target} is {label}."
        tasks.append(GenerationTask(examples=None, n_rows=n, hint=hint))
    return tasks


def llm_pool(client: LLMClient, schema: TableSchema, size: int, *, rows_per_call: int, target: str | None,
             seed: int) -> pd.DataFrame:
    """``size`` schema-valid candidate rows from the LLM, memoised in-process (a bounded memo)."""
    key = _pool_key(client, schema, size, rows_per_call, target, seed)
    rows = _POOLS.get(key)
    if rows is None:
        rows = client.generate(schema, schema_tasks(schema, size, rows_per_call, target), seed=seed).rows
        rows = rows.reset_index(drop=True)
        _POOLS.put(key, rows)
    return rows.copy()


clear_pool_cache = _POOLS.clear
