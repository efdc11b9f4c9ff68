"""MIAScorer as a scikit-learn scorer on TrainOnSynthetic (with a noisy-copy sampler)."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sk_safesynth import TrainOnSynthetic
from sk_safesynth.mia import MIAScorer


class Spent:
    def __init__(self, epsilon, delta, mu=None):
        self.epsilon, self.delta, self.mu = epsilon, delta, mu


class NoisyCopySampler(BaseEstimator):
    """Stand-in sampler: copies the training rows with Gaussian noise of sd 1/epsilon."""

    def __init__(self, epsilon=1.0, random_state=0):
        self.epsilon = epsilon
        self.random_state = random_state

    def fit_resample(self, X, y):
        rng = np.random.default_rng(self.random_state)
        self.privacy_spent_ = Spent(self.epsilon, 1e-5, mu=None)
        X_syn = X + rng.normal(0, 1 / self.epsilon, X.shape)
        return X_syn.reset_index(drop=True), pd.Series(np.asarray(y), name=y.name)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] + rng.normal(0, 1, 600) > 0).astype(int), name="y")
    return X, y


def test_grid_search_reports_privacy_per_epsilon(data):
    X, y = data
    model = TrainOnSynthetic(NoisyCopySampler(), LogisticRegression(), keep_audit_sample=True)
    search = GridSearchCV(
        model,
        {"sampler__epsilon": [0.2, 100.0]},
        scoring={"tstr": "roc_auc", "privacy": MIAScorer(fpr_levels=(0.01,), random_state=0)},
        refit="tstr",
        cv=3,
        error_score="raise",
    )
    search.fit(X, y)
    privacy = search.cv_results_["mean_test_privacy"]
    # Near-copies (epsilon=100) are easy to find; heavy noise protects.
    assert privacy[0] > 0.7 and privacy[1] < 0.2


def test_scorer_in_pipeline_transforms_held_out_rows(data):
    X, y = data
    pipe = make_pipeline(
        FunctionTransformer(lambda Z: Z * 2.0, feature_names_out="one-to-one"),
        TrainOnSynthetic(NoisyCopySampler(epsilon=100.0), LogisticRegression(), keep_audit_sample=True),
    ).fit(X.iloc[:300], y.iloc[:300])
    scorer = MIAScorer(fpr_levels=(0.01,), random_state=0)
    # Without the transform the held-out rows would sit far from everything and look
    # like obvious non-members; with it the attack is as strong as on near-copies.
    assert scorer(pipe, X.iloc[300:], y.iloc[300:]) < 0.2


def test_protection_auc_form(data):
    X, y = data
    model = TrainOnSynthetic(NoisyCopySampler(epsilon=0.2), LogisticRegression(), keep_audit_sample=True)
    model.fit(X.iloc[:300], y.iloc[:300])
    value = MIAScorer(protection="auc", fpr_levels=(0.01,), random_state=0)(
        model, X.iloc[300:], y.iloc[300:]
    )
    assert 0.7 < value <= 1.0


def test_missing_audit_sample_says_how_to_fix(data):
    X, y = data
    model = TrainOnSynthetic(NoisyCopySampler(), LogisticRegression(), keep_audit_sample=True)
    model.fit(X.iloc[:300], y.iloc[:300])
    restored = pickle.loads(pickle.dumps(model))
    with pytest.raises(ValueError, match="keep_audit_sample=True"):
        MIAScorer()(restored, X.iloc[300:], y.iloc[300:])
    plain = TrainOnSynthetic(NoisyCopySampler(), LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="keep_audit_sample=True"):
        MIAScorer()(plain, X, y)
