"""Progress of a client run on stderr."""

from __future__ import annotations

import sys


class Progress:
    """Progress over rows or texts when ``verbose``: a tqdm bar on a terminal, otherwise
    (logs, CI, pipes) a plain line on stderr at every tenth of the work."""

    def __init__(self, total: int | None, verbose: int, unit: str = "row"):
        self.total, self.verbose, self.unit = total, verbose, unit
        self.bar = None
        self.done = self.next_line = 0

    def __enter__(self):
        if self.verbose and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, desc=f"LLM {self.unit}s")
        return self

    def update(self, n: int) -> None:
        """Count ``n`` more rows or texts done."""
        if self.bar is not None:
            self.bar.update(n)
            return
        self.done += n
        if self.verbose and self.total and (self.done >= self.next_line or self.done >= self.total):
            print(f"LLM {self.unit}s: {min(self.done, self.total)}/{self.total}", file=sys.stderr, flush=True)
            self.next_line = self.done + max(1, self.total // 10)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
