"""``search_privacy`` composes the fits' ledger events with dp-accounting (issue 26)."""

import warnings

import dp_accounting
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit, cross_validate

from sk_safesynth import TrainOnSynthetic, search_privacy
from sk_safesynth.privacy import PrivacyLedger, gaussian_event
from sk_safesynth.privacy.ledger import LedgerEntry, PrivacyParametersDpEvent, compose_entries
from sk_safesynth.privacy.search import PrivacyRecorder


class GaussianStub(BaseEstimator):
    """A sampler that spends its (epsilon, delta) on one Gaussian mechanism and returns its rows."""

    def __init__(self, epsilon=1.0, delta=1e-5, tag=0):
        self.epsilon = epsilon
        self.delta = delta
        self.tag = tag

    def fit_resample(self, X, y):
        ledger = PrivacyLedger(self.epsilon, self.delta)
        ledger.spend(gaussian_event(_sigma(self.epsilon, self.delta), 1.0), "stub")
        self.ledger_, self.privacy_spent_ = ledger, ledger.spent
        return X, y


def _sigma(epsilon, delta):
    return PrivacyLedger(epsilon, delta).calibrate(lambda t: gaussian_event(t, 1.0))


def _xy(n=80):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X, (X["a"] > 0).astype(int)


def _seven_fit_search(scoring, **params):
    # 2 candidates x 3 of the 4 training folds per record + the refit: 7 fits at (1, 1e-5)
    model = TrainOnSynthetic(GaussianStub(), LogisticRegression())
    return GridSearchCV(model, {"sampler__tag": [0, 1]}, cv=KFold(4), scoring=scoring, refit="accuracy",
                        **params).fit(*_xy())


def _dp_accounting_gaussians(n_fits, delta):
    accountant = dp_accounting.pld.PLDAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(_sigma(1.0, 1e-5)), n_fits)
    return accountant.get_epsilon(delta)


def test_seven_gaussian_fits_compose_to_2_6_not_7():
    recorder = PrivacyRecorder()
    search = _seven_fit_search({"accuracy": "accuracy", "privacy": recorder})
    total = search_privacy(search, warn=False)
    assert len(recorder.records) == 8
    assert total.delta == pytest.approx(7e-5)
    assert total.epsilon == pytest.approx(2.609, abs=1e-3)
    # dp-accounting's own accountant on the same seven events
    assert total.epsilon == pytest.approx(_dp_accounting_gaussians(7, 7e-5), rel=1e-6)
    assert total.mu == pytest.approx(np.sqrt(7) / _sigma(1.0, 1e-5), rel=1e-9)
    assert search.cv_results_["mean_test_privacy"] == pytest.approx([1.0, 1.0])


def test_without_a_recorder_the_folds_count_at_their_budget():
    search = _seven_fit_search({"accuracy": "accuracy"})
    with pytest.warns(UserWarning, match=r"basic composition: epsilon=7\) \(a PrivacyRecorder among"):
        total = search_privacy(search)
    # the six fold fits are known by their (epsilon, delta) only: composing those pairs gains little
    # (what it gains comes from the refit's Gaussian event, known from best_estimator_)
    assert 6.8 < total.epsilon < 7.0
    assert total.delta == pytest.approx(7e-5)


def test_recorded_train_and_test_scores_count_each_fit_once():
    recorder = PrivacyRecorder()
    search = _seven_fit_search({"accuracy": "accuracy", "privacy": recorder}, return_train_score=True)
    assert len(recorder.records) == 16
    assert search_privacy(search, warn=False).epsilon == pytest.approx(_dp_accounting_gaussians(7, 7e-5), rel=1e-6)


def test_one_fit_spends_what_the_fit_spent():
    X, y = _xy()
    cv = ShuffleSplit(1, test_size=0.25, random_state=0)
    result = cross_validate(TrainOnSynthetic(GaussianStub(), LogisticRegression()), X, y, cv=cv, return_estimator=True)
    total = search_privacy(result, X, y, cv=cv, warn=False)
    assert total == result["estimator"][0].privacy_spent_
    assert total.epsilon == pytest.approx(1.0, rel=1e-9)


def test_cross_validate_composes_each_records_folds():
    X, y = _xy()
    result = cross_validate(TrainOnSynthetic(GaussianStub(), LogisticRegression()), X, y, cv=KFold(4),
                            return_estimator=True)
    total = search_privacy(result, X, y, cv=KFold(4), warn=False)
    ledgers = [est.sampler_.ledger_ for est in result["estimator"]]
    assert total.epsilon == pytest.approx(compose_entries([e for ledger in ledgers[1:] for e in ledger.entries],
                                                          3e-5).epsilon, rel=1e-12)
    assert total.epsilon == pytest.approx(_dp_accounting_gaussians(3, 3e-5), rel=1e-6)
    assert total.epsilon < 3.0


@pytest.mark.slow  # starts loky workers (about 4 s)
def test_events_come_back_from_process_workers():
    recorder = PrivacyRecorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loky's resource warnings on slow machines
        search = _seven_fit_search({"accuracy": "accuracy", "privacy": recorder}, n_jobs=2)
    assert len(recorder.records) == 8
    assert search_privacy(search, warn=False).epsilon == pytest.approx(_dp_accounting_gaussians(7, 7e-5), rel=1e-6)


class SplitByRowsStub(GaussianStub):
    """Spends its budget on one Gaussian event, or on two when it reads an odd number of rows:
    folds of one candidate then spend different events."""

    def fit_resample(self, X, y):
        ledger = PrivacyLedger(self.epsilon, self.delta)
        parts = 2 if len(X) % 2 else 1
        sigma = ledger.calibrate(lambda t: dp_accounting.SelfComposedDpEvent(gaussian_event(t, 1.0), parts))
        for _ in range(parts):
            ledger.spend(gaussian_event(sigma, 1.0), "stub")
        self.ledger_, self.privacy_spent_ = ledger, ledger.spent
        return X, y


def test_folds_that_spent_different_events_all_count():
    # KFold(3) on 80 rows: training folds of 53, 53 and 54 rows spend different events
    recorder = PrivacyRecorder()
    model = TrainOnSynthetic(SplitByRowsStub(), LogisticRegression())
    search = GridSearchCV(model, {"sampler__tag": [0]}, cv=KFold(3), scoring={"accuracy": "accuracy",
                          "privacy": recorder}, refit=False).fit(*_xy())
    assert sorted(len(r.entries) for r in recorder.records) == [1, 2, 2]
    total = search_privacy(search, warn=False)
    # no record is in all three training folds, but the recorder cannot tell which two: all three count,
    # at the delta of two fits
    events = [e for r in recorder.records for e in r.entries]
    assert total.delta == pytest.approx(2e-5)
    assert total.epsilon == pytest.approx(compose_entries(events, 2e-5).epsilon, rel=1e-12)
    assert total.epsilon < 2.0


class FailingStub(GaussianStub):
    """Fails on a training split of ``fail_rows`` rows."""

    def __init__(self, epsilon=1.0, delta=1e-5, tag=0, fail_rows=-1):
        super().__init__(epsilon, delta, tag)
        self.fail_rows = fail_rows

    def fit_resample(self, X, y):
        if len(X) == self.fail_rows:
            raise ValueError("this fold fails")
        return super().fit_resample(X, y)


def test_a_failed_fit_counts_its_candidate_at_its_budget():
    recorder = PrivacyRecorder()
    model = TrainOnSynthetic(FailingStub(), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the failed fit and its nan score
        search = GridSearchCV(model, {"sampler__fail_rows": [-1, 60]}, cv=KFold(4), error_score=np.nan,
                              scoring={"accuracy": "accuracy", "privacy": recorder}, refit=False).fit(*_xy(81))
    assert len(recorder.records) == 4 + 3  # KFold(4) on 81 rows: one training split of 60 rows fails
    total = search_privacy(search, warn=False)
    # the first candidate's folds (one event each) are known; the second counts at (1, 1e-5) per fold
    known = next(r for r in recorder.records if r.params["sampler__fail_rows"] == -1)
    budget = LedgerEntry("budget", PrivacyParametersDpEvent(1.0, 1e-5))
    expected = compose_entries([*known.entries * 3, budget, budget, budget], 6e-5)
    assert total.epsilon == pytest.approx(expected.epsilon, rel=1e-12)
    assert total.epsilon < 6.0
