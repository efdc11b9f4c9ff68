"""What each fit of a search spent: records of ledger events, and their composition.

``GridSearchCV`` keeps scores, not its candidate/fold estimators; a
:class:`PrivacyRecorder` among its scorers records each fit's ledger events, which
:func:`sk_safesynth.search_privacy` composes with dp-accounting.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import weakref
from dataclasses import dataclass
from numbers import Number

import numpy as np
from sklearn.base import BaseEstimator

from sk_safesynth.exceptions import PrivacyBudgetExceeded
from sk_safesynth.privacy.ledger import LedgerEntry, PrivacyParametersDpEvent, PrivacySpent, compose_entries


def find_fitted(estimator):
    """The fitted step that holds a sampler (``sampler_``): the estimator or a Pipeline step."""
    if hasattr(estimator, "sampler_"):
        return estimator
    for _, step in getattr(estimator, "steps", []):
        if hasattr(step, "sampler_"):
            return step
    raise TypeError("no fitted TrainOnSynthetic found")


@dataclass(frozen=True)
class FitRecord:
    """What one fit spent: its ledger entries (or its ``(epsilon, delta)`` as one event)."""

    fit_id: str
    params: dict
    entries: tuple
    spent: PrivacySpent


# Live recorders of this process, by token: scores unpickled here find their recorder.
_RECORDERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def param_key(value):
    """A value comparable across clones and processes, or None for values not compared."""
    if value is None or isinstance(value, (Number, str)):
        return value
    if isinstance(value, BaseEstimator):
        return repr(value)
    return None  # dicts may hold secrets (llm_kwargs); a candidate with such values falls back to its budget


def fit_record(estimator) -> FitRecord:
    """The record of a fitted TrainOnSynthetic (or a Pipeline holding one)."""
    fitted = find_fitted(estimator)
    spent = fitted.privacy_spent_
    ledger = getattr(fitted.sampler_, "ledger_", None)
    if ledger is not None and math.isfinite(spent.epsilon):
        entries = tuple(ledger.entries)
    else:  # a sampler without a ledger is composed as any (epsilon, delta)-DP mechanism
        entries = (LedgerEntry("privacy_spent_", PrivacyParametersDpEvent(spent.epsilon, spent.delta)),)
    # The fit's id tells its test and train scores apart from other fits (a fresh one: never deduplicated).
    fit_id = getattr(fitted, "fit_id_", None) or secrets.token_hex(16)
    params = {key: param_key(value) for key, value in estimator.get_params(deep=True).items()}
    return FitRecord(fit_id, params, entries, PrivacySpent(spent.epsilon, spent.delta, spent.mu))


def budget_record(epsilon: float, delta: float) -> FitRecord:
    """A fit known only by its budget (not recorded, or failed: it spent at most its budget)."""
    return FitRecord("", {}, (LedgerEntry("budget", PrivacyParametersDpEvent(epsilon, delta)),),
                      PrivacySpent(epsilon, delta, None))


class _RecordedScore(float):
    """A score that carries its fit's record back from a worker process to the recorder."""

    def __new__(cls, value, token, record):
        score = super().__new__(cls, value)
        score.token, score.record = token, record
        return score

    def __reduce__(self):
        return _deliver, (float(self), self.token, self.record)


def _deliver(value: float, token: str, record: FitRecord) -> float:
    """Unpickling a recorded score in the recorder's process records its fit."""
    recorder = _RECORDERS.get(token)
    if recorder is not None and recorder._pid == os.getpid():
        recorder._add(record)
    return value


class PrivacyRecorder:
    """Scorer that records what each fit of a search spent, for :func:`search_privacy`.

    ``GridSearchCV`` keeps scores, not the estimators of its candidate/fold fits. Put a
    recorder among the search's scorers and it records, for each fitted candidate and
    fold, the ledger events of its sampler (``sampler_.ledger_``); its score is the
    epsilon that fit spent (``cv_results_["split0_test_privacy"]``...). Fits run in
    worker processes (loky, dask) send their events back inside that score: they are
    recorded when the recorder's process unpickles the results. A fit whose events
    never arrive (a failed fit, a result unpickled elsewhere) counts at its budget.

    Use one recorder per search fit; it holds no private rows, only events and the
    candidates' parameters (dict-valued parameters are not kept, so candidates that
    differ by one count at their budget).

    Attributes
    ----------
    records : list
        One record per fit seen (fit id, candidate parameters, ledger entries, spent).

    Examples
    --------
    >>> from sk_safesynth.privacy.search import PrivacyRecorder
    >>> scoring = {"roc_auc": "roc_auc", "privacy": PrivacyRecorder()}
    >>> # GridSearchCV(model, grid, scoring=scoring, refit="roc_auc").fit(X, y)
    >>> # search_privacy(search, X, y) then composes the recorded events
    """

    def __init__(self):
        self._token = secrets.token_hex(16)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.records: list[FitRecord] = []
        _RECORDERS[self._token] = self

    def __call__(self, estimator, X=None, y=None, **kwargs):
        """Record the fitted ``estimator``'s events; return the epsilon it spent."""
        record = fit_record(estimator)
        owner = _RECORDERS.get(self._token) if os.getpid() == self._pid else None
        if owner is not None:  # same process (sequential or threads): record now
            owner._add(record)
            return record.spent.epsilon
        return _RecordedScore(record.spent.epsilon, self._token, record)

    def _add(self, record: FitRecord) -> None:
        with self._lock:
            self.records.append(record)

    def __getstate__(self):
        # Records stay with the recorder that collected them; copies send theirs back.
        return {"_token": self._token, "_pid": self._pid}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self.records = []

    def __repr__(self):
        return f"PrivacyRecorder(<{len(self.records)} fits>)"


def compose_fits(fit_sets: list[list[FitRecord]], delta: float) -> PrivacySpent | None:
    """The largest composition over ``fit_sets`` at ``delta``, or None when none is finite."""
    worst = None
    for fits in fit_sets:
        if any(not math.isfinite(f.spent.epsilon) for f in fits):
            return PrivacySpent(math.inf, delta, None)
        try:
            spent = compose_entries([e for f in fits for e in f.entries], delta)
        except PrivacyBudgetExceeded:
            return None
        if worst is None or spent.epsilon > worst.epsilon:
            worst = spent
    return worst


def maximal_patterns(splits: np.ndarray) -> list[np.ndarray]:
    """Distinct rows of the record x split matrix not contained in another row."""
    rows = np.unique(splits.astype(bool), axis=0)
    return [r for r in rows if not any((o >= r).all() and (o != r).any() for o in rows)]
