"""ROC metrics of a membership attack and their confidence intervals.

- AUC: Mann-Whitney statistic; CI by DeLong's method (DeLong, DeLong and
  Clarke-Pearson 1988) with midranks, O(n log n).
- Advantage ``max(TPR - FPR)``: stratified bootstrap percentile CI with a fixed seed.
- TPR at a target FPR: the threshold is the one with the largest TPR whose empirical
  FPR is at most the target; its TPR gets an exact Clopper-Pearson interval over the
  members. The interval treats the threshold as fixed (it does not cover the
  randomness of choosing it on the same non-members).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta, norm, rankdata
from sklearn.metrics import roc_curve


def roc(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full empirical ROC curve (no point dropped), members are label 1.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        1 for members, 0 for non-members.
    scores : ndarray of shape (n,)
        Attack scores, higher means "more likely a member".

    Returns
    -------
    fpr, tpr, thresholds : ndarray
    """
    return roc_curve(labels, scores, drop_intermediate=False)


def auc_delong(
    labels: np.ndarray, scores: np.ndarray, confidence_level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """ROC AUC and its DeLong confidence interval (normal approximation, clipped to [0, 1]).

    Parameters
    ----------
    labels : ndarray of shape (n,)
        1 for members, 0 for non-members; both classes need at least two records.
    scores : ndarray of shape (n,)
        Attack scores.
    confidence_level : float, default=0.95

    Returns
    -------
    auc : float
    ci : tuple of float
    """
    labels = np.asarray(labels).astype(bool)
    pos, neg = scores[labels], scores[~labels]
    m, n = len(pos), len(neg)
    rank_all = rankdata(np.concatenate([pos, neg]))
    # Placement values: the share of the other class each record beats (ties count half).
    v10 = (rank_all[:m] - rankdata(pos)) / n
    v01 = 1.0 - (rank_all[m:] - rankdata(neg)) / m
    auc = float(v10.mean())
    se = float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))
    z = norm.ppf(0.5 + confidence_level / 2.0)
    return auc, (float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se)))


def _sorted_groups(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by decreasing score; return the order and the end index of each tie group."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    return order, ends


def advantage_bootstrap(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    n_bootstrap: int = 200,
    confidence_level: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> tuple[float, tuple[float, float]]:
    """Membership advantage ``max(TPR - FPR)`` with a stratified bootstrap percentile CI.

    Members and non-members are resampled separately (so the class sizes stay fixed)
    by drawing resampling counts on the score-sorted records: each replicate costs
    O(n), not a re-sort.

    Parameters
    ----------
    labels, scores : ndarray of shape (n,)
    n_bootstrap : int, default=200
    confidence_level : float, default=0.95
    random_state : int, Generator or None, default=0

    Returns
    -------
    advantage : float
    ci : tuple of float
    """
    labels = np.asarray(labels).astype(bool)
    order, ends = _sorted_groups(labels, scores)
    is_pos = labels[order]
    m, n = int(is_pos.sum()), int((~is_pos).sum())

    def adv(w_pos: np.ndarray, w_neg: np.ndarray) -> np.ndarray:
        tpr = np.cumsum(w_pos, axis=-1)[..., ends] / m
        fpr = np.cumsum(w_neg, axis=-1)[..., ends] / n
        return np.max(np.maximum(tpr - fpr, 0.0), axis=-1)

    point = float(adv(is_pos.astype(float), (~is_pos).astype(float)))
    rng = np.random.default_rng(random_state)
    pos_idx, neg_idx = np.flatnonzero(is_pos), np.flatnonzero(~is_pos)
    stats = np.empty(n_bootstrap)
    w_pos = np.zeros(len(order))
    w_neg = np.zeros(len(order))
    for b in range(n_bootstrap):
        w_pos[pos_idx] = np.bincount(rng.integers(0, m, m), minlength=m)
        w_neg[neg_idx] = np.bincount(rng.integers(0, n, n), minlength=n)
        stats[b] = adv(w_pos, w_neg)
    alpha = 1.0 - confidence_level
    low, high = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return point, (float(low), float(high))


def clopper_pearson(k: int, n: int, confidence_level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion ``k / n``.

    Parameters
    ----------
    k : int
        Successes.
    n : int
        Trials (``> 0``).
    confidence_level : float, default=0.95

    Returns
    -------
    low, high : float
    """
    alpha = 1.0 - confidence_level
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2.0, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1.0 - alpha / 2.0, k + 1, n - k))
    return low, high


def tpr_at_fpr(
    fpr: np.ndarray,
    tpr: np.ndarray,
    target: float,
    n_members: int,
    confidence_level: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """TPR of the best threshold whose empirical FPR is at most ``target``, with its CI.

    Parameters
    ----------
    fpr, tpr : ndarray
        Full ROC curve from :func:`roc`.
    target : float
        Target false-positive rate.
    n_members : int
        Number of members attacked (the binomial trials of the TPR).
    confidence_level : float, default=0.95

    Returns
    -------
    tpr : float
    ci : tuple of float
        Clopper-Pearson interval for that threshold's TPR.
    """
    value = float(np.max(tpr[fpr <= target]))
    k = int(round(value * n_members))
    return value, clopper_pearson(k, n_members, confidence_level)
