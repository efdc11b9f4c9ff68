"""``NoisyICL``: SafeSynthDP (arXiv 2412.20641) — noised records as in-context demonstrations.

Privacy
-------
A uniformly random subset of ``m = min(max_demos, n)`` of the ``n`` records is drawn
(without replacement, kept secret) and privatized row by row with
:class:`~sk_safesynth.LaplaceNoiser` or :class:`~sk_safesynth.GaussianNoiser`: numbers
clipped to their bounds, then discrete Laplace/Gaussian noise; categories by k-ary
randomized response. Rows are disjoint, so the noised subset is ``(ε₀, δ₀)``-DP for
replacing one record (parallel composition), where ``(ε₀, δ₀)`` is what dp-accounting
composes for one row's events.

**Amplification by subsampling.** A record is in the subset with probability
``q = m / n``. For sampling without replacement and the replace-one relation,
``(ε₀, δ₀)`` becomes ``(log(1 + q (e^ε₀ - 1)), q δ₀)`` (Balle, Barthe & Gaboardi 2018,
Theorem 10). The noisers get ``δ₀ = δ / q`` and the row epsilon ``ε₀`` at which the fit's ledger,
with this release, spends its whole budget (``log(1 + (e^ε - 1) / q)`` when nothing
else was spent), and the release enters the ledger as
dp-accounting's ``SampledWithoutReplacementDpEvent(n, m, row events)`` (wrapped with the
rows' delta as :class:`~sk_safesynth.privacy.ledger.SampledRowsDpEvent`), which the ledger
converts with that theorem. On Adult (n = 32,561, m = 2,000) at ε = 1 the rows
get ε₀ = 3.37: about 3.4× less noise than without amplification.

The noised rows are split into disjoint groups of ``n_shots``: each private record
appears, noised, in at most one group. Text columns are **suppressed**: no private
text is ever shown; text is written by :func:`~sk_safesynth.synth.documents.write_text`
conditioned on the noised categorical fields (post-processing). Clipping noised values
back into the schema's bounds is post-processing too, and so is showing the same groups
again when more rows are sampled.

Missing values in the private records are not shown: the noisers replace them before
noise (their docstring), and :class:`~sk_safesynth.DPSyntheticSampler` blanks the
synthetic values of a possibly-missing column at its DP missing share.

Messages
--------
The noiser is fitted on a public template built from the schema (column names, kinds,
bounds, categories), never on a private record, and then applied to the subsample:
values outside the bounds or categories are clipped or replaced silently (that is the
mechanism), numbers that do not parse are missing values. So no warning or error of
the fit depends on a private value.
"""

from __future__ import annotations

import math
from numbers import Integral

import dp_accounting
import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from sk_safesynth.llm import GenerationTask
from sk_safesynth.noisers import GaussianNoiser, LaplaceNoiser
from sk_safesynth.privacy import PrivacyLedger
from sk_safesynth.privacy.ledger import SampledRowsDpEvent
from sk_safesynth.schema import TableSchema
from sk_safesynth.synth.base import FitContext, GenerationMethod
from sk_safesynth.synth.documents import write_text


def amplified_budget(epsilon: float, delta: float, sampling_rate: float) -> tuple[float, float]:
    """Per-row ``(ε₀, δ₀)`` that subsampling at ``sampling_rate`` amplifies to ``(ε, δ)``."""
    if sampling_rate >= 1.0:
        return epsilon, delta
    epsilon_0 = math.log1p(math.expm1(epsilon) / sampling_rate)
    return epsilon_0, min(delta / sampling_rate, 0.5)


def _calibrate(noiser_for, release, template: pd.DataFrame, start: float, ledger: PrivacyLedger):
    """The noiser whose release spends all that ``ledger`` has left (to about 1e-9, never above).

    A noiser splits its row budget between columns and dp-accounting composes the
    parts (and the fit's earlier events) more tightly than a split assumes, so the row
    epsilon is found against the ledger's own accounting of the (amplified) release;
    ``start`` (the closed-form ε₀) is the first guess. Fitting a noiser only
    calibrates: ``template`` (:func:`public_template`, no private value) gives its
    columns and dtypes.
    """
    inverse = ledger.calibrate(lambda t: release(noiser_for(1.0 / t).fit(template)), start=1.0 / start)
    return noiser_for(1.0 / inverse).fit(template)


def public_template(schema: TableSchema) -> pd.DataFrame:
    """One row built from ``schema`` alone: numbers (datetimes as seconds) as missing floats,
    categories and booleans as missing labels (object dtype).

    The noisers read a fitted frame's columns and dtypes only (bounds and categories are
    declared), so fitting them on this row makes their fit a function of public facts.
    """
    columns = {}
    for column in schema:
        if column.kind in ("numeric", "integer", "datetime"):
            columns[column.name] = pd.Series([np.nan], dtype=float)
        else:
            columns[column.name] = pd.Series([None], dtype=object)
    return pd.DataFrame(columns)


class NoisyICL(GenerationMethod):
    """SafeSynthDP: the LLM writes rows from noised records shown as demonstrations.

    Parameters
    ----------
    mechanism : {"gaussian", "laplace"}, default="gaussian"
        Noise of the demonstrations (Laplace gives pure ε-DP and works with delta=0).
    n_shots : int, default=5
        Noised demonstrations per prompt.
    max_demos : int, default=2000
        Records (a random subset) that are noised as demonstrations; a smaller subset
        gets less noise per record (amplification by subsampling).
    rows_per_call : int, default=10
        Rows asked for in one LLM call.

    Attributes
    ----------
    demonstrations_ : DataFrame
        The noised demonstrations (DP outputs; text columns left out).
    sampling_rate_ : float
        Share of the records that were noised (``q``).
    row_epsilon_ : float
        Per-row epsilon given to the noiser, calibrated so that the (amplified)
        release spends the whole budget.
    n_groups_ : int
        Disjoint demonstration groups.
    """

    name = "noisy_icl"
    _parameter_constraints: dict = {
        "mechanism": [StrOptions({"gaussian", "laplace"})],
        "n_shots": [Interval(Integral, 1, None, closed="left")],
        "max_demos": [Interval(Integral, 1, None, closed="left")],
        "rows_per_call": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, mechanism="gaussian", n_shots=5, max_demos=2000, rows_per_call=10):
        self.mechanism = mechanism
        self.n_shots = n_shots
        self.max_demos = max_demos
        self.rows_per_call = rows_per_call

    def needs_delta(self) -> bool:
        return self.mechanism == "gaussian"

    def check_schema(self, schema) -> None:
        if all(c.kind == "text" for c in schema):
            raise ValueError("method='noisy_icl' needs at least one non-text column to demonstrate")

    def _fit(self, context: FitContext) -> None:
        schema = context.schema
        structured = [c for c in schema if c.kind != "text"]
        self.structured_schema_ = TableSchema(tuple(structured))
        names = [c.name for c in structured]
        n = len(context.frame)
        m = min(self.max_demos, n)
        chosen = context.rng.permutation(n)[:m]
        private = context.frame.iloc[chosen][names].reset_index(drop=True)
        numeric = [c for c in structured if c.kind in ("numeric", "integer")]
        datetimes = [c.name for c in structured if c.kind == "datetime"]
        for column in numeric:  # floats, as in the template; what does not parse is missing
            private[column.name] = pd.to_numeric(private[column.name], errors="coerce").astype(float)
        for name in datetimes:  # noise datetimes as POSIX seconds; what does not parse is missing
            stamps = pd.to_datetime(private[name], errors="coerce").to_numpy(dtype="datetime64[ns]")
            private[name] = np.where(np.isnat(stamps), np.nan, stamps.view("int64") / 1e9)
        bounds = {c.name: (c.low, c.high) for c in numeric} | {n: (schema[n].low, schema[n].high) for n in datetimes}
        categories = {c.name: list(c.categories) for c in structured if c.kind in ("categorical", "boolean")}
        for name in categories:  # randomized response works on labels; booleans and ints included
            private[name] = private[name].astype(object)
        self.sampling_rate_ = m / n
        epsilon_0, delta_0 = amplified_budget(context.epsilon, context.delta, self.sampling_rate_)
        # A secure fit keeps the noiser on its own CSPRNG: a seed drawn for it from a
        # fixed-seed generator could be brute-forced from the released values. A fixed
        # seed hands the noiser 256 bits of the fit's stream.
        seed = None if context.secure else int.from_bytes(context.rng.bytes(32), "little")

        def noiser_for(row_epsilon: float):
            if self.mechanism == "laplace":
                return LaplaceNoiser(row_epsilon, bounds=bounds or None, categories=categories, random_state=seed)
            return GaussianNoiser(row_epsilon, delta_0, bounds=bounds or None, categories=categories,
                                  random_state=seed)

        def release(noiser):
            row_events = dp_accounting.ComposedDpEvent(tuple(entry.event for entry in noiser.ledger_.entries))
            if m == n:
                return row_events
            row_delta = delta_0 if self.mechanism == "gaussian" else 0.0
            return SampledRowsDpEvent(dp_accounting.SampledWithoutReplacementDpEvent(n, m, row_events), row_delta)

        # Fitted on the public template, never on a private row (module docstring, "Messages").
        noiser = _calibrate(noiser_for, release, public_template(self.structured_schema_), epsilon_0,
                            context.ledger)
        self.row_epsilon_ = noiser.epsilon
        context.ledger.spend(release(noiser), f"noisy demonstrations ({m} of {n} records, {self.mechanism})")
        # Values outside the bounds are clipped and those outside the (declared or DP-selected)
        # categories replaced by uniform draws, silently: the noisers' documented mapping.
        noised = noiser.set_output(transform="pandas").transform(private)
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

    def tasks(self, n: int, rng) -> list[GenerationTask]:
        """One task per call, cycling through the demonstration groups in random order."""
        order = rng.permutation(self.n_groups_)
        tasks = []
        for i in range(math.ceil(n / self.rows_per_call)):
            g = order[i % self.n_groups_]
            group = self.demonstrations_.iloc[g * self.n_shots : (g + 1) * self.n_shots]
            tasks.append(GenerationTask(examples=group, n_rows=min(self.rows_per_call, n - i * self.rows_per_call),
                                        hint="Write new rows like these examples."))
        return tasks

    def _sample(self, n: int, client, rng) -> pd.DataFrame:
        seed = int(rng.integers(0, 2**31 - 1))
        rows = client.generate(self.structured_schema_, self.tasks(n, rng), seed=seed).rows
        return write_text(client, self.schema_, rows, seed=seed)
