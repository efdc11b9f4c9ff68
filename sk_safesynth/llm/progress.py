"""Progress of a client run on stderr: what it will cost up front, then done, elapsed and time left."""

from __future__ import annotations

import sys
import time


class Progress:
    """Progress over rows or texts when ``verbose``.

    First a line with the work and its token bound (``max_tokens``: completion tokens
    at most, before any call), then a tqdm bar on a terminal, otherwise (logs, CI,
    pipes) a plain line at every tenth of the work with the time elapsed and an
    estimate of the time left (from the rate so far). With ``pace_key`` (the model), the
    first line also estimates the minutes from the pace of that model's earlier runs in
    this process (seconds per bound token; runs under 5 s, mostly cached, do not count).
    """

    _pace: dict[str, float] = {}

    def __init__(self, total: int | None, verbose: int, unit: str = "row", max_tokens: int | None = None,
                 pace_key: str | None = None):
        self.total, self.verbose, self.unit, self.max_tokens = total, verbose, unit, max_tokens
        self.pace_key = pace_key
        self.bar = None
        self.done = self.next_line = 0
        self.start = time.perf_counter()

    def __enter__(self):
        if not self.verbose:
            return self
        if self.total:
            bound = f", at most {self.max_tokens:,} completion tokens before re-asks" if self.max_tokens else ""
            pace = self._pace.get(self.pace_key) if self.pace_key and self.max_tokens else None
            if pace:
                bound += f"; about {_duration(pace * self.max_tokens)} at this model's pace so far"
            print(f"LLM {self.unit}s: {self.total} to write{bound}", file=sys.stderr, flush=True)
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, desc=f"LLM {self.unit}s")
        self.start = time.perf_counter()
        return self

    def update(self, n: int) -> None:
        """Count ``n`` more rows or texts done."""
        if self.bar is not None:
            self.bar.update(n)
            return
        self.done += n
        if self.verbose and self.total and (self.done >= self.next_line or self.done >= self.total):
            done = min(self.done, self.total)
            elapsed = time.perf_counter() - self.start
            timing = (f"in {_duration(elapsed)}" if done == self.total else
                      f"{_duration(elapsed)} elapsed, about {_duration(elapsed * (self.total - done) / done)} left")
            print(f"LLM {self.unit}s: {done}/{self.total} ({timing})", file=sys.stderr, flush=True)
            self.next_line = self.done + max(1, self.total // 10)

    def __exit__(self, exc_type, *exc):
        if self.bar is not None:
            self.bar.close()
        elapsed = time.perf_counter() - self.start
        if exc_type is None and self.pace_key and self.max_tokens and elapsed >= 5:
            self._pace[self.pace_key] = elapsed / self.max_tokens


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
