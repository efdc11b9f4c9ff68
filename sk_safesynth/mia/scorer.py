"""`MIAScorer`: run membership attacks on a synthetic release, as an evaluator and a scorer.

Protocol (unbiased)
-------------------
The attacked members and non-members (balanced) are split at random into a
*selection* half and an *evaluation* half. Attacks fit nothing on attacked records
(only on the synthetic rows and the held-out reference rows), so every attack scores
both halves once. On the selection half the scorer chooses the attack (largest AUC, for
``attack="all"``), the threshold of the advantage (largest ``TPR - FPR``) and the
threshold of each reported TPR-at-FPR; on the evaluation half it measures them. Chosen
and measured on different records, the estimates are unbiased and their intervals
(DeLong for the AUC, Wald for a fixed threshold's advantage, Clopper-Pearson for a
fixed threshold's TPR) cover the truth — zero advantage, AUC 0.5 when the release is
independent of the members — at their nominal rate. A bound violation is flagged only
when the interval lies entirely above the DP bound.

Native threads (OpenMP, BLAS) are capped with threadpoolctl while the attacks run, so
an audit inside a parallel search does not oversubscribe shared cores; ``n_jobs``
runs attacks in parallel threads instead.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from sk_safesynth.mia.attacks import ATTACKS
from sk_safesynth.mia.bounds import PrivacyBound
from sk_safesynth.mia.frames import check_frames, check_populations
from sk_safesynth.mia.metrics import (
    advantage_at_threshold,
    auc_delong,
    best_threshold,
    clopper_pearson,
    roc,
    threshold_at_fpr,
)
from sk_safesynth.mia.result import MIAResult

# Column that carries the target when the scorer form joins X and y.
TARGET_COLUMN = "__target__"


class MIAInsufficientDataWarning(UserWarning):
    """Too few non-members to measure the TPR at a requested false-positive rate."""


class MIAScorer(BaseEstimator):
    """Membership inference attacks against a synthetic data release.

    Use :meth:`evaluate` for a full :class:`MIAResult`, or the object itself as a
    scikit-learn scorer (``scoring={"privacy": MIAScorer()}``) on a fitted
    ``TrainOnSynthetic`` for a higher-is-better protection value per fold.

    Parameters
    ----------
    attack : {"dcr", "density", "classifier", "all"} or attack object, default="dcr"
        ``"dcr"``: distance to closest record; ``"density"``: DOMIAS-style density
        ratio; ``"classifier"``: synthetic-vs-reference classifier; ``"all"``: every
        one of them, reporting the one with the largest AUC on the selection half,
        measured on the evaluation half (each in ``result.per_attack``).
        An object with ``name``, ``needs_reference`` and
        ``score(X, synthetic, reference, *, random_state, cache)`` is accepted too
        (see :mod:`sk_safesynth.mia.attacks`).
    n_attacks : int, optional
        Attack at most this many members and as many non-members (a random subset,
        then split in a selection and an evaluation half); None attacks as many as
        balancing allows.
    reference_size : float, default=0.5
        Share of the non-members held out as the reference set (the attacker's sample
        of the population) when an attack needs one; they are not attacked.
    fpr_levels : tuple of float, default=(0.01, 0.001)
        FPRs at which the TPR is reported.
    confidence_level : float, default=0.95
        Level of every confidence interval.
    n_jobs : int or None, default=None
        Attacks run in parallel threads (``"all"`` runs three); each attack's native
        code uses one thread, so ``n_jobs`` is the number of cores the audit takes.
    protection : {"advantage", "auc"}, default="advantage"
        What the scorer form returns: ``1 - advantage`` or ``1 - 2 * |AUC - 0.5|``;
        both are 1 for a useless attack and 0 for a perfect one.
    on_insufficient : {"warn", "raise"}, default="warn"
        When there are fewer than ``1 / fpr`` attacked non-members for a level in
        ``fpr_levels``: report NaN for that level with a
        :class:`MIAInsufficientDataWarning`, or raise ``ValueError``.
    random_state : int, numpy Generator or None, default=None
        Seeds the held-out split, the balancing subsample, the selection/evaluation
        split and the classifier attack.
    """

    def __init__(
        self,
        attack: str | Any = "dcr",
        *,
        n_attacks: int | None = None,
        reference_size: float = 0.5,
        fpr_levels: tuple[float, ...] = (0.01, 0.001),
        confidence_level: float = 0.95,
        n_jobs: int | None = None,
        protection: str = "advantage",
        on_insufficient: str = "warn",
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.attack = attack
        self.n_attacks = n_attacks
        self.reference_size = reference_size
        self.fpr_levels = fpr_levels
        self.confidence_level = confidence_level
        self.n_jobs = n_jobs
        self.protection = protection
        self.on_insufficient = on_insufficient
        self.random_state = random_state

    def _attacks(self) -> list[Any]:
        if isinstance(self.attack, str):
            if self.attack == "all":
                return [cls() for cls in ATTACKS.values()]
            if self.attack not in ATTACKS:
                raise ValueError(
                    f"unknown attack {self.attack!r}; choose one of "
                    f"{sorted(ATTACKS) + ['all']} or pass an attack object."
                )
            return [ATTACKS[self.attack]()]
        if not callable(getattr(self.attack, "score", None)):
            raise TypeError(f"attack must be a name or have a score() method, got {self.attack!r}.")
        return [self.attack]

    def _check_params(self) -> None:
        if self.protection not in ("advantage", "auc"):
            raise ValueError(f"protection must be 'advantage' or 'auc', got {self.protection!r}.")
        if self.on_insufficient not in ("warn", "raise"):
            raise ValueError(
                f"on_insufficient must be 'warn' or 'raise', got {self.on_insufficient!r}."
            )
        if not 0 < self.reference_size < 1:
            raise ValueError(f"reference_size must be in (0, 1), got {self.reference_size!r}.")
        if not 0 < self.confidence_level < 1:
            raise ValueError(
                f"confidence_level must be in (0, 1), got {self.confidence_level!r}."
            )
        if any(not 0 < f < 1 for f in self.fpr_levels):
            raise ValueError(f"fpr_levels must lie in (0, 1), got {self.fpr_levels!r}.")
        if self.n_jobs is not None and (not isinstance(self.n_jobs, int) or self.n_jobs == 0):
            raise ValueError(f"n_jobs must be None or a non-zero int, got {self.n_jobs!r}.")
        if self.n_attacks is not None and self.n_attacks < 4:
            raise ValueError(f"n_attacks must be at least 4 or None, got {self.n_attacks!r}.")

    def evaluate(
        self,
        X_members: Any,
        X_synthetic: Any,
        X_non_members: Any,
        privacy: Any = None,
    ) -> MIAResult:
        """Attack the members and non-members using the synthetic rows.

        Parameters
        ----------
        X_members : DataFrame
            Records the synthesizer was trained on (include the target as a column).
        X_synthetic : DataFrame
            The synthetic release, same columns.
        X_non_members : DataFrame
            Records from the same population that were not used; part of them becomes
            the reference set when an attack needs one (``reference_size``).
        privacy : object or tuple, optional
            The sampler's ``privacy_spent_`` (``.epsilon``, ``.delta``, ``.mu``) or an
            ``(epsilon, delta)`` tuple; adds the DP bound to the result.

        Returns
        -------
        MIAResult
            For ``attack="all"``, the strongest attack's result with every attack's
            result in ``per_attack``.
        """
        self._check_params()
        attacks = self._attacks()
        frames = check_frames(
            X_members=X_members, X_synthetic=X_synthetic, X_non_members=X_non_members
        )
        members, synthetic, non_members = frames.values()
        check_populations(members, non_members)
        bound = None if privacy is None else PrivacyBound.from_privacy(privacy)
        rng = np.random.default_rng(self.random_state)

        reference, n_ref = None, 0
        non_members = non_members.iloc[rng.permutation(len(non_members))]
        if any(a.needs_reference for a in attacks):
            n_ref = int(round(self.reference_size * len(non_members)))
            reference, non_members = non_members.iloc[:n_ref], non_members.iloc[n_ref:]
            if n_ref < 1:
                raise ValueError(
                    f"X_non_members has {len(X_non_members)} rows: too few to hold out a "
                    "reference set for this attack."
                )
        # Balanced classes: the larger side is subsampled, so AUC and TPR/FPR weigh both
        # sides equally and n_attacks caps each side.
        n = int(min(len(members), len(non_members), self.n_attacks or math.inf))
        if n < 4:
            raise ValueError(
                f"too few records to attack: {len(members)} members and {len(non_members)} "
                "non-members (after holding out the reference set); need at least 4 of each "
                "(two for choosing the attack, two for measuring it)."
            )
        members = members.iloc[rng.choice(len(members), n, replace=False)]
        non_members = non_members.iloc[:n]
        attacked = pd.concat([members, non_members], ignore_index=True)
        labels = np.r_[np.ones(n, dtype=int), np.zeros(n, dtype=int)]
        # Selection half: the first n // 2 of each side (both already in random order).
        select = np.r_[np.arange(n) < n // 2, np.arange(n) < n // 2]
        levels = self._feasible_levels(int((~select[n:]).sum()))

        seeds = [int(rng.integers(2**31 - 1)) for _ in attacks]
        cache: dict = {}

        def run(attack, seed):
            with threadpool_limits(limits=1):
                return np.asarray(attack.score(attacked, synthetic, reference, random_state=seed, cache=cache))

        all_scores = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(run)(attack, seed) for attack, seed in zip(attacks, seeds)
        )
        results: dict = {}
        selection_auc: dict = {}
        for attack, scores in zip(attacks, all_scores):
            self._check_scores(attack.name, labels, scores)
            selection_auc[attack.name] = auc_delong(labels[select], scores[select])[0]
            results[attack.name] = self._result(attack.name, labels, scores, select, levels, bound, n_reference=n_ref)
        best = results[max(selection_auc, key=lambda name: selection_auc[name])]
        return replace(best, per_attack=results) if len(results) > 1 else best

    def _feasible_levels(self, n_non_members: int) -> dict[float, bool]:
        """Map each FPR level to whether enough evaluation non-members back it (1 / fpr of them)."""
        levels = {}
        for level in self.fpr_levels:
            needed = math.ceil(1.0 / level - 1e-9)
            levels[level] = n_non_members >= needed
            if not levels[level]:
                msg = (
                    f"TPR at FPR {level:g} needs at least {needed} non-members in each half, "
                    f"got {n_non_members}"
                )
                if self.on_insufficient == "raise":
                    raise ValueError(msg + ".")
                warnings.warn(msg + "; reporting NaN.", MIAInsufficientDataWarning, stacklevel=3)
        return levels

    @staticmethod
    def _check_scores(name: str, labels: np.ndarray, scores: np.ndarray) -> None:
        if scores.shape != labels.shape or not np.isfinite(scores).all():
            raise ValueError(f"attack {name!r} returned scores of wrong shape or non-finite values.")

    def _result(
        self,
        name: str,
        labels: np.ndarray,
        scores: np.ndarray,
        select: np.ndarray,
        levels: dict[float, bool],
        bound: PrivacyBound | None,
        *,
        n_reference: int,
    ) -> MIAResult:
        """Thresholds fitted on the selection half, everything measured on the evaluation half."""
        fit_labels, fit_scores = labels[select], scores[select]
        eval_labels, eval_scores = labels[~select], scores[~select]
        n = int(eval_labels.sum())
        fpr, tpr, _ = roc(eval_labels, eval_scores)
        auc, auc_ci = auc_delong(eval_labels, eval_scores, self.confidence_level)
        adv, adv_ci = advantage_at_threshold(
            eval_labels, eval_scores, best_threshold(fit_labels, fit_scores), self.confidence_level
        )
        tprs, cis = {}, {}
        members = eval_scores[eval_labels.astype(bool)]
        for level, ok in levels.items():
            if ok:
                threshold = threshold_at_fpr(fit_labels, fit_scores, level)
                k = int((members >= threshold).sum())
                tprs[level], cis[level] = k / n, clopper_pearson(k, n, self.confidence_level)
            else:
                tprs[level], cis[level] = math.nan, (math.nan, math.nan)
        return MIAResult(
            attack=name, auc=auc, auc_ci=auc_ci, advantage=adv, advantage_ci=adv_ci,
            tpr_at_fpr=tprs, tpr_at_fpr_ci=cis, n_members=n, n_non_members=len(eval_labels) - n,
            n_reference=n_reference, fpr=fpr, tpr=tpr, confidence_level=self.confidence_level,
            n_selection=int(select.sum()),
            bound=bound,
            bound_auc=math.nan if bound is None else bound.auc,
            bound_advantage=math.nan if bound is None else bound.advantage,
            bound_tpr_at_fpr={} if bound is None else {
                level: float(bound.tpr(level)) for level in levels
            },
        )

    def __call__(self, estimator: Any, X: Any, y: Any = None) -> float:
        """Protection value of a fitted ``TrainOnSynthetic`` (or a Pipeline ending in one).

        Members are the estimator's in-memory audit sample (``audit_X_``,
        ``audit_y_``, kept only with ``keep_audit_sample=True`` and never pickled), the
        synthetic rows are ``synthetic_X_``/``synthetic_y_``, and the non-members are
        the scoring fold ``X``, ``y``. The target is attacked as one more column.

        Parameters
        ----------
        estimator : TrainOnSynthetic or Pipeline
            Fitted; a Pipeline's earlier steps transform ``X`` first.
        X : DataFrame
            Held-out rows (non-members).
        y : array-like, optional
            Their target.

        Returns
        -------
        float
            ``1 - advantage`` or ``1 - 2 * |AUC - 0.5|`` (see ``protection``): higher is
            more private.
        """
        final, X = _unwrap(estimator, X)
        try:
            audit_X, audit_y = final.audit_X_, final.audit_y_
        except AttributeError:
            raise ValueError(
                f"{type(final).__name__} has no audit sample (audit_X_/audit_y_), so the "
                "members are unknown: fit it with keep_audit_sample=True. The audit sample "
                "is kept in memory only, so an unpickled estimator has none."
            ) from None
        columns = audit_X.columns if isinstance(audit_X, pd.DataFrame) else None
        with_y = y is not None
        result = self.evaluate(
            _join(audit_X, audit_y if with_y else None, columns),
            _join(final.synthetic_X_, final.synthetic_y_ if with_y else None, columns),
            _join(X, y, columns),
            privacy=getattr(getattr(final, "sampler_", None), "privacy_spent_", None),
        )
        if self.protection == "auc":
            return float(1.0 - 2.0 * abs(result.auc - 0.5))
        return float(1.0 - result.advantage)


def _unwrap(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The final ``TrainOnSynthetic`` and ``X`` passed through any Pipeline steps before it."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return estimator, X
    final = steps[-1][1]
    if len(steps) > 1:
        X = estimator[:-1].transform(X)
    return _unwrap(final, X)


def _join(X: Any, y: Any, columns: Any) -> pd.DataFrame:
    """``X`` as a DataFrame (named like the audit sample) with the target as a column."""
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=columns)
    X = X.reset_index(drop=True)
    if y is None:
        return X
    return X.assign(**{TARGET_COLUMN: np.asarray(y)})
