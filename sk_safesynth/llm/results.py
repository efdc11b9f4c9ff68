"""What the client is asked for and what it returns: tasks, results and their usage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GenerationTask:
    """One request for rows.

    Parameters
    ----------
    examples : DataFrame or None
        Rows shown to the model as demonstrations. The caller guarantees they are
        DP-protected or public: they are sent to the provider as they are.
    n_rows : int
        Number of valid rows wanted.
    hint : str, default=""
        Extra public instruction text (e.g. "write variations of these rows").
    """

    examples: pd.DataFrame | None
    n_rows: int
    hint: str = ""

    def __post_init__(self):
        if int(self.n_rows) < 0:
            raise ValueError(f"n_rows must be >= 0, got {self.n_rows}")


@dataclass(kw_only=True)
class Usage:
    """Accounting of one LLM run.

    Attributes
    ----------
    n_calls : int
        Completion calls made (cache hits included).
    n_cached : int
        Calls answered by the response cache.
    prompt_tokens, completion_tokens : int
        Tokens reported by the provider (cache hits excluded).
    cost : float
        USD spent according to ``litellm.completion_cost`` (0 when unknown).
    n_invalid : int
        Answers that failed validation (rows) or were too short (texts) and were
        asked for again.
    """

    n_calls: int = 0
    n_cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    n_invalid: int = 0


@dataclass
class GenerationResult(Usage):
    """Rows generated for a list of tasks, with the run's :class:`Usage`.

    Attributes
    ----------
    rows : DataFrame
        Exactly ``sum(task.n_rows)`` valid rows, in schema column order and dtypes,
        tasks in order.
    task_index : ndarray of int
        For each row, the index of the task it came from.
    """

    rows: pd.DataFrame
    task_index: np.ndarray


@dataclass
class TextResult(Usage):
    """Texts written for a list of document prompts, with the run's :class:`Usage`.

    Attributes
    ----------
    texts : list of list of str
        For each prompt, exactly the number of continuations asked for.
    """

    texts: list[list[str]]
