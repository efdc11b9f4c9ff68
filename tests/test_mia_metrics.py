"""Confidence-interval maths and the DP bound of the MIA module."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from sklearn.metrics import roc_auc_score

from sk_safesynth.mia import PrivacyBound
from sk_safesynth.mia.metrics import (
    advantage_at_threshold,
    auc_delong,
    best_threshold,
    clopper_pearson,
    roc,
    threshold_at_fpr,
)


def binormal(rng, n, shift):
    labels = np.r_[np.ones(n, int), np.zeros(n, int)]
    scores = np.r_[rng.normal(shift, 1, n), rng.normal(0, 1, n)]
    return labels, scores


@pytest.mark.parametrize("k,n", [(0, 20), (3, 20), (20, 20), (7, 1000), (500, 1000)])
def test_clopper_pearson_matches_scipy(k, n):
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    low, high = clopper_pearson(k, n, 0.95)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    labels, scores = binormal(rng, 300, 0.7)
    scores = np.round(scores, 1)  # many ties
    auc, (low, high) = auc_delong(labels, scores)
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert low < auc < high


def test_delong_matches_known_binormal_variance():
    # Hanley-McNeil style check: for a binormal model the DeLong SE over many
    # replications should match the spread of the AUC estimates.
    rng = np.random.default_rng(1)
    aucs, ses = [], []
    for _ in range(300):
        labels, scores = binormal(rng, 200, 1.0)
        auc, (low, high) = auc_delong(labels, scores)
        aucs.append(auc)
        ses.append((high - low) / (2 * norm.ppf(0.975)))
    assert np.mean(ses) == pytest.approx(np.std(aucs), rel=0.15)


def test_delong_coverage_on_simulated_case():
    rng = np.random.default_rng(2)
    true_auc = norm.cdf(0.8 / math.sqrt(2))
    hits = 0
    reps = 400
    for _ in range(reps):
        labels, scores = binormal(rng, 150, 0.8)
        _, (low, high) = auc_delong(labels, scores)
        hits += low <= true_auc <= high
    # 95% nominal; binomial sd over 400 reps is ~1.1%.
    assert 0.91 <= hits / reps <= 0.98


def test_threshold_at_fpr_picks_best_threshold_below_target():
    labels = np.r_[np.ones(1000, int), np.zeros(1000, int)]
    rng = np.random.default_rng(3)
    scores = np.r_[rng.normal(2, 1, 1000), rng.normal(0, 1, 1000)]
    threshold = threshold_at_fpr(labels, scores, 0.01)
    # By hand: the 10th highest non-member score is the last one allowed at or above threshold.
    neg = np.sort(scores[1000:])[::-1]
    assert neg[10] < threshold <= neg[9]
    assert np.mean(scores[1000:] >= threshold) <= 0.01


def test_advantage_of_a_threshold_fitted_elsewhere_is_unbiased_and_covers():
    # The old protocol (max over thresholds on the scored records) is biased upwards under
    # the null; a threshold chosen on a selection half and measured on an evaluation half
    # is not, and its interval covers the true advantage (0) at about the nominal rate.
    rng = np.random.default_rng(4)
    covered, estimates, in_sample = 0, [], []
    reps = 400
    for _ in range(reps):
        fit_labels, fit_scores = binormal(rng, 250, 0.0)
        labels, scores = binormal(rng, 250, 0.0)
        adv, (low, high) = advantage_at_threshold(labels, scores, best_threshold(fit_labels, fit_scores))
        covered += low <= 0 <= high
        estimates.append(adv)
        fpr, tpr, _ = roc(labels, scores)
        in_sample.append(np.max(tpr - fpr))
    assert covered / reps >= 0.92
    assert abs(np.mean(estimates)) < 0.01
    assert np.mean(in_sample) > 0.04  # the old in-sample maximum: biased upwards under the null


def test_advantage_at_threshold_finds_a_real_shift():
    rng = np.random.default_rng(5)
    fit_labels, fit_scores = binormal(rng, 2000, 1.0)
    labels, scores = binormal(rng, 2000, 1.0)
    adv, (low, high) = advantage_at_threshold(labels, scores, best_threshold(fit_labels, fit_scores))
    # True best advantage of two unit normals 1 apart: 2 Phi(1/2) - 1 = 0.383.
    assert low <= 2 * norm.cdf(0.5) - 1 <= high + 0.02
    assert low > 0.3


def test_bound_eps_zero_is_diagonal():
    bound = PrivacyBound(0.0, 0.0)
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(bound.tpr(grid), grid)
    assert bound.auc == pytest.approx(0.5)
    assert bound.advantage == pytest.approx(0.0)


def test_bound_eps_delta_by_hand():
    bound = PrivacyBound(1.0, 1e-5)
    e = math.e
    assert bound.tpr(0.01) == pytest.approx(e * 0.01 + 1e-5)
    # Past the kink the symmetric constraint binds: 1 - e^-1 (1 - delta - fpr).
    assert bound.tpr(0.5) == pytest.approx(1 - (1 - 1e-5 - 0.5) / e)
    assert bound.tpr(1.0) == pytest.approx(1.0)
    assert bound.advantage == pytest.approx((e - 1 + 2e-5) / (e + 1))
    grid = np.linspace(0, 1, 200_001)
    assert bound.auc == pytest.approx(np.trapezoid(bound.tpr(grid), grid), abs=1e-8)


def test_bound_gaussian_dp_by_hand():
    bound = PrivacyBound(3.0, 1e-5, mu=1.0)
    assert bound.tpr(0.01) == pytest.approx(norm.cdf(norm.ppf(0.01) + 1.0))
    assert bound.tpr(0.001) == pytest.approx(norm.cdf(-3.090232306 + 1.0), rel=1e-6)
    assert bound.auc == pytest.approx(norm.cdf(1 / math.sqrt(2)))
    assert bound.advantage == pytest.approx(2 * norm.cdf(0.5) - 1)


def test_bound_from_privacy_objects_and_errors():
    class Spent:
        epsilon, delta, mu = 2.0, 1e-6, None

    assert PrivacyBound.from_privacy(Spent()) == PrivacyBound(2.0, 1e-6)
    assert PrivacyBound.from_privacy((2.0, 1e-6)) == PrivacyBound(2.0, 1e-6)
    assert PrivacyBound(math.inf, 0.0).tpr(0.001) == 1.0
    with pytest.raises(ValueError, match="epsilon"):
        PrivacyBound(-1.0, 0.0)
    with pytest.raises(ValueError, match=r"\(epsilon, delta\)"):
        PrivacyBound.from_privacy((1.0, 0.0, 0.5))
    with pytest.raises(TypeError, match="privacy_spent_"):
        PrivacyBound.from_privacy("eps=1")
