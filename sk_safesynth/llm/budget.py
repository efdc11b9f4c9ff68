"""The budgets of one client run: tokens, cost and wall-clock time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sk_safesynth.exceptions import LLMBudgetExceeded, LLMGenerationError

#: The counters of a run, as in :class:`~sk_safesynth.llm.results.Usage`.
COUNTERS = ("n_calls", "n_cached", "prompt_tokens", "completion_tokens", "cost")


def past(deadline: float | None, margin: float = 0.0) -> bool:
    """Whether ``deadline`` (wall-clock seconds) falls within ``margin`` seconds from now."""
    # Wall-clock (not monotonic) time: the deadline travels to worker processes.
    return deadline is not None and time.time() + margin >= deadline


def deadline_after(seconds: float | None) -> float | None:
    """The wall-clock deadline ``seconds`` from now (None: no limit)."""
    return None if seconds is None else time.time() + seconds


@dataclass
class RunBudget:
    """Accounting of one run, enforcing its token budget, cost cap and deadline.

    Only the calling process updates it (workers return their usage), so it works
    with every joblib backend; the lock is for joblib's dispatch threads, which read it.
    """

    model: str
    token_budget: int | None
    cost_cap: float | None
    time_limit: float | None = None
    deadline: float | None = field(init=False)
    n_calls: int = 0
    n_cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.deadline = deadline_after(self.time_limit)

    def _overspent(self) -> str | None:
        with self.lock:
            tokens = self.prompt_tokens + self.completion_tokens
            if self.token_budget is not None and tokens >= self.token_budget:
                return f"token budget of {self.token_budget} reached ({tokens} tokens used)"
            if self.cost_cap is not None and self.cost >= self.cost_cap:
                return f"cost cap of ${self.cost_cap:g} reached (${self.cost:.4f} spent)"
        return None

    def _out_of_time(self) -> str | None:
        if past(self.deadline):
            return f"time_limit of {self.time_limit:g} s reached after {self.n_calls} calls"
        return None

    def problem(self) -> str | None:
        """Why no further call may be made, or None."""
        return self._overspent() or self._out_of_time()

    def check(self) -> None:
        """Raise when a budget is spent: :class:`LLMBudgetExceeded` for tokens and cost,
        :class:`LLMGenerationError` for the time limit."""
        overspent = self._overspent()
        if overspent is not None:
            raise LLMBudgetExceeded(overspent)
        out_of_time = self._out_of_time()
        if out_of_time is not None:
            raise LLMGenerationError(f"{self.model}: {out_of_time}")

    def add(self, usage: dict, cached: bool) -> None:
        """Count one call's ``usage`` (prompt and completion tokens, cost)."""
        with self.lock:
            self.n_calls += 1
            if cached:
                self.n_cached += 1
                return
            self.prompt_tokens += usage["prompt_tokens"]
            self.completion_tokens += usage["completion_tokens"]
            self.cost += usage["cost"]

    def snapshot(self) -> dict:
        """The counters so far."""
        with self.lock:
            return {name: getattr(self, name) for name in COUNTERS}
