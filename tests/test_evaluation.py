"""TSTR score and the privacy/utility report, with a stand-in sampler."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from sk_safesynth.evaluation import plot_privacy_utility, privacy_utility_report, tstr_score
from sk_safesynth.mia import MIAScorer

matplotlib.use("Agg")


class Spent:
    def __init__(self, epsilon, delta, mu):
        self.epsilon, self.delta, self.mu = epsilon, delta, mu


class GaussianCopySampler(BaseEstimator):
    """Stand-in DP-ish sampler: noisy copies of the rows (sd 1/epsilon), labels kept."""

    def __init__(self, epsilon=1.0, random_state=0):
        self.epsilon = epsilon
        self.random_state = random_state

    def fit(self, X, y=None):
        self.X_, self.y_ = X.reset_index(drop=True), y
        self.privacy_spent_ = Spent(self.epsilon, 1e-5, mu=self.epsilon / 4)
        return self

    def sample(self, n_samples):
        rng = np.random.default_rng(self.random_state)
        idx = rng.integers(0, len(self.X_), n_samples)
        rows = self.X_.iloc[idx].reset_index(drop=True)
        rows = rows + rng.normal(0, 1 / self.epsilon, rows.shape)
        return rows.assign(**{self.y_.name: np.asarray(self.y_)[idx]})

    def fit_resample(self, X, y):
        self.fit(X, y)
        rows = self.sample(len(X))
        return rows.drop(columns=y.name), rows[y.name]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(1000, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] - X["b"] + rng.normal(0, 1, 1000) > 0).astype(int), name="y")
    return X.iloc[:500], y.iloc[:500], X.iloc[500:], y.iloc[500:]


def test_tstr_score_tracks_noise(data):
    sampler = GaussianCopySampler()
    clean = tstr_score(sampler.set_params(epsilon=100.0), LogisticRegression(), *data)
    noisy = tstr_score(sampler.set_params(epsilon=0.05), LogisticRegression(), *data)
    assert clean > 0.8 and noisy < clean
    sized = tstr_score(GaussianCopySampler(epsilon=100.0), LogisticRegression(), *data, n_samples=200)
    assert sized > 0.8


def test_report_has_one_row_per_epsilon_and_baseline(data):
    df = privacy_utility_report(
        GaussianCopySampler(), LogisticRegression(), *data, [0.1, 1.0, 100.0],
        mia=MIAScorer("dcr", fpr_levels=(0.01,)), random_state=0,
    )
    assert list(df["setting"]) == ["real", "synthetic", "synthetic", "synthetic"]
    syn = df[df["setting"] == "synthetic"]
    assert list(syn["epsilon_spent"]) == [0.1, 1.0, 100.0]
    assert list(syn["mu_spent"]) == [0.025, 0.25, 25.0]
    for column in ["utility", "mia_auc", "mia_auc_low", "mia_auc_high", "mia_advantage",
                   "tpr_at_fpr_0.01", "bound_tpr_at_fpr_0.01", "bound_auc", "fit_seconds"]:
        assert syn[column].notna().all(), column
    # Near-copies at epsilon=100 are found, heavy noise at 0.1 hides the members.
    assert syn["mia_auc"].iloc[-1] > 0.7  # bootstrap resampling leaves ~37% uncopied
    assert syn["mia_auc_low"].iloc[0] <= 0.5 + 0.05
    # Gaussian bound: AUC <= Phi(mu / sqrt 2), increasing with epsilon.
    assert syn["bound_auc"].is_monotonic_increasing
    assert math.isnan(df["mia_auc"].iloc[0])
    fig = plot_privacy_utility(df)
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"
    assert set(df["scoring"]) == {"roc_auc"} and "roc_auc" in fig.axes[0].get_ylabel()


def test_report_plots_leave_the_backend_and_pyplot_alone(data, tmp_path):
    import matplotlib.pyplot as plt

    from sk_safesynth.report import save_privacy_utility_plot, save_roc_plot

    df = privacy_utility_report(GaussianCopySampler(), LogisticRegression(), *data, [1.0, 10.0],
                                mia=MIAScorer("dcr", fpr_levels=(0.01,)), random_state=0)
    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    matplotlib.use("svg")  # a notebook's inline backend stands for any user's choice
    try:
        save_privacy_utility_plot(df, tmp_path / "pu.png")
        result = MIAScorer("dcr", random_state=0).evaluate(*[d.assign(y=0) for d in (data[0], data[0], data[2])])
        save_roc_plot({"epsilon = 1": result}, tmp_path / "roc.png")
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == open_figures
    finally:
        matplotlib.use(backend)
    assert (tmp_path / "pu.png").stat().st_size > 1000 and (tmp_path / "roc.png").stat().st_size > 1000
