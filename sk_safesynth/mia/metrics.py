"""ROC metrics of a membership attack and their confidence intervals.

- AUC: Mann-Whitney statistic; CI by DeLong's method (DeLong, DeLong and
  Clarke-Pearson 1988) with midranks, O(n log n).
- Advantage ``TPR - FPR`` of a threshold chosen on other records (the selection
  half): unbiased, with a Wald interval for two independent proportions.
- TPR at a target FPR: the threshold is chosen on the selection half (largest TPR
  whose FPR there is at most the target) and its TPR on the evaluation members gets an
  exact Clopper-Pearson interval: the threshold is fixed, so the interval is valid.
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


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Threshold ``t`` maximising ``TPR - FPR`` of the rule "member when score >= t".

    Fitted on the selection half of the attacked records only (see
    :mod:`sk_safesynth.mia.scorer`); ``inf`` (flag nobody) when no threshold beats chance.
    """
    fpr, tpr, thresholds = roc(labels, scores)
    gain = tpr - fpr
    best = int(np.argmax(gain))
    return float(thresholds[best]) if gain[best] > 0 else np.inf


def advantage_at_threshold(
    labels: np.ndarray, scores: np.ndarray, threshold: float, confidence_level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """``TPR - FPR`` of a threshold fixed in advance, with a Wald interval.

    With the threshold chosen on other records, the flagged members and non-members
    are independent binomials, so the estimate is unbiased and its interval
    ``d ± z sqrt(TPR(1-TPR)/m + FPR(1-FPR)/n)`` covers the true advantage (0 under
    the null) at about the nominal rate; it may be negative.

    Returns
    -------
    advantage : float
    ci : tuple of float
    """
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(scores) >= threshold
    m, n = int(labels.sum()), int((~labels).sum())
    tpr = flagged[labels].mean()
    fpr = flagged[~labels].mean()
    z = norm.ppf(0.5 + confidence_level / 2.0)
    se = np.sqrt(tpr * (1 - tpr) / m + fpr * (1 - fpr) / n)
    # At TPR, FPR in {0, 1} the Wald width vanishes; one pseudo-observation keeps it honest.
    floor = np.sqrt(0.25 / (m + 1) / (m + 1) + 0.25 / (n + 1) / (n + 1))
    se = max(float(se), float(floor))
    advantage = float(tpr - fpr)
    return advantage, (max(-1.0, advantage - z * se), min(1.0, advantage + z * se))


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


def threshold_at_fpr(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    """Threshold with the largest TPR whose FPR on (``labels``, ``scores``) is at most ``target``."""
    fpr, tpr, thresholds = roc(labels, scores)
    allowed = np.flatnonzero(fpr <= target)
    return float(thresholds[allowed[np.argmax(tpr[allowed])]])
