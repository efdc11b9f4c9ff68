"""``method="noisy_icl"``: SafeSynthDP — noised records as in-context demonstrations.

Privacy
-------
A random subset of at most ``max_demos`` records is privatized row by row with
:class:`~sk_safesynth.LaplaceNoiser` or :class:`~sk_safesynth.GaussianNoiser` (numbers
clipped to their bounds, then discrete Laplace/Gaussian noise; categories by k-ary
randomized response), each row with the full (ε, δ). Rows are disjoint, so the set
of noised rows is (ε, δ)-DP for replacing one record (parallel composition; the
noiser's events go into the ledger once). The noised rows are split into disjoint
groups of ``n_shots``: each private record appears, noised, in at most one group.

Text columns are **suppressed**: no private text is ever shown. The model writes
text conditioned on the noised structured fields of the demonstrations, which costs
nothing (post-processing). Clipping noised values back into the schema's bounds,
before they are shown, is post-processing too.

Sampling reuses the noised groups as often as needed: showing the same DP release
again reveals nothing new.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from sk_safesynth.llm import GenerationTask
from sk_safesynth.noisers import GaussianNoiser, LaplaceNoiser
from sk_safesynth.schema import TableSchema
from sk_safesynth.synth.pool import fill_text


class NoisyICLMethod:
    def __init__(self, *, mechanism: str, n_shots: int, max_demos: int, rows_per_call: int, secure: bool):
        self.mechanism = mechanism
        self.secure = secure
        self.n_shots = n_shots
        self.max_demos = max_demos
        self.rows_per_call = rows_per_call

    def fit(self, frame: pd.DataFrame, schema, target, ledger, epsilon, delta, rng):
        self.schema = schema
        structured = [c for c in schema if c.kind != "text"]
        if not structured:
            raise ValueError("method='noisy_icl' needs at least one non-text column to demonstrate")
        self.structured_schema = TableSchema(tuple(structured))
        names = [c.name for c in structured]
        chosen = rng.permutation(len(frame))[: self.max_demos]
        private = frame.iloc[chosen][names].reset_index(drop=True)
        numeric = [c for c in structured if c.kind in ("numeric", "integer")]
        datetimes = [c.name for c in structured if c.kind == "datetime"]
        for name in datetimes:  # noise datetimes as POSIX seconds
            private[name] = pd.to_datetime(private[name]).astype("datetime64[ns]").astype("int64") / 1e9
        bounds = {c.name: (c.low, c.high) for c in numeric} | {n: (schema[n].low, schema[n].high) for n in datetimes}
        categories = {c.name: list(c.categories) for c in structured if c.kind in ("categorical", "boolean")}
        for name in categories:  # randomized response works on labels; booleans and ints included
            private[name] = private[name].astype(object)
        # A secure fit keeps the noiser on its own CSPRNG: a 32-bit seed drawn for it
        # could be brute-forced from the released values and the noise subtracted.
        seed = None if self.secure else int(rng.integers(0, 2**32 - 1))
        if self.mechanism == "laplace":
            noiser = LaplaceNoiser(epsilon, bounds=bounds or None, categories=categories, random_state=seed)
        else:
            noiser = GaussianNoiser(epsilon, delta, bounds=bounds or None, categories=categories, random_state=seed)
        with warnings.catch_warnings():
            # values outside DP-selected categories become uniform draws: documented, expected
            warnings.filterwarnings("ignore", message="values outside the fitted categories")
            noised = noiser.set_output(transform="pandas").fit_transform(private)
        for entry in noiser.ledger_.entries:
            ledger.spend(entry.event, f"noisy demonstrations: {entry.label}")
        # Post-processing: back into the schema's domain so the demonstrations are valid rows.
        for name in bounds:
            noised[name] = np.clip(noised[name].astype(float), *bounds[name])
        for column in numeric:
            if column.kind == "integer":
                noised[column.name] = np.rint(noised[column.name]).astype(np.int64)
        for name in datetimes:
            noised[name] = pd.to_datetime(noised[name], unit="s")
        self.demonstrations_ = noised.reset_index(drop=True)
        self.n_groups_ = max(1, math.ceil(len(noised) / self.n_shots))
        return self

    def tasks(self, n: int, rng) -> list[GenerationTask]:
        order = rng.permutation(self.n_groups_)
        tasks = []
        for i in range(math.ceil(n / self.rows_per_call)):
            g = order[i % self.n_groups_]
            group = self.demonstrations_.iloc[g * self.n_shots : (g + 1) * self.n_shots]
            tasks.append(GenerationTask(examples=group, n_rows=min(self.rows_per_call, n - i * self.rows_per_call),
                                        hint="Write new rows like these examples."))
        return tasks

    def sample(self, n: int, client, rng) -> pd.DataFrame:
        seed = int(rng.integers(0, 2**31 - 1))
        rows = client.generate(self.structured_schema, self.tasks(n, rng), seed=seed).rows
        rows = fill_text(client, self.schema, rows, rows_per_call=self.rows_per_call, seed=seed)
        return rows[self.schema.names]
