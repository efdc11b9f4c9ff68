"""DPSyntheticSampler and TrainOnSynthetic on the fake LLM: API, schema, privacy, search."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_safesynth import DPSyntheticSampler, PrivacyLeakWarning, TrainOnSynthetic, search_privacy
from sk_safesynth.llm import capture_prompts
from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider
from sk_safesynth.privacy.ledger import compose_entries
from sk_safesynth.privacy.search import PrivacyRecorder
from sk_safesynth.synth.pool import clear_pool_cache
from sk_safesynth.synth import Marginals

from conftest import method as make_method, text_method

METHODS = ["marginals", "noisy_icl", "private_evolution"]
CANARY_TEXT = "CANARY-QX7-ZEBRA"
CANARY_NUMBER = 77777.125


# every test: the fake LLM installed, and no candidate pool memoised by another test
pytestmark = pytest.mark.usefixtures("fresh_fake_llm")


def _table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    X = pd.DataFrame(
        {
            "age": age,
            "income": np.round(rng.gamma(2.0, 20_000, n), 2),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.5, 0.3, 0.2]).astype(object),
            "member": rng.random(n) < 0.3,
        }
    )
    y = pd.Series(np.where(age + rng.normal(0, 10, n) > 50, "high", "low"), name="risk")
    return X, y


BOUNDS = {"age": (18, 80), "income": (0, 200_000)}
CATEGORIES = {"city": ["Paris", "Lyon", "Nice"], "risk": ["high", "low"]}


def _sampler(method, **params):
    sizes = dict(pool_size=30, n_independent=2000, population_size=20)
    method_params = {k: params.pop(k) for k in [*sizes, "mechanism", "n_shots", "rows_per_call"] if k in params}
    defaults = dict(llm=FAKE_MODEL, epsilon=1.0, bounds=BOUNDS, categories=CATEGORIES, random_state=0)
    return DPSyntheticSampler(method=make_method(method, **{**sizes, **method_params}), **{**defaults, **params})


@pytest.mark.parametrize("method", METHODS)
def test_fit_sample_follows_schema(method):
    X, y = _table()
    sampler = _sampler(method).fit(X, y)
    out = sampler.sample(57)
    assert list(out.columns) == [*X.columns, "risk"]
    assert len(out) == 57
    assert out["age"].dtype == X["age"].dtype and out["member"].dtype == bool
    assert out["age"].between(18, 80).all() and out["income"].between(0, 200_000).all()
    assert set(out["city"]) <= set(CATEGORIES["city"]) and set(out["risk"]) <= {"high", "low"}
    assert sampler.n_features_in_ == 4 and list(sampler.feature_names_in_) == list(X.columns)
    assert sampler.privacy_spent_.epsilon <= 1.0 * (1 + 1e-9) and sampler.privacy_spent_.delta <= 1e-5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("epsilon", [0.1, 3.0])
def test_privacy_spent_never_exceeds_budget(method, epsilon):
    X, y = _table()
    # at epsilon 3 the city categories are found by DP selection; at 0.1 they must be declared
    categories = {"risk": ["high", "low"]} if epsilon > 1 else CATEGORIES
    sampler = _sampler(method, epsilon=epsilon, categories=categories).fit(X, y)
    spent = sampler.privacy_spent_
    assert 0 < spent.epsilon <= epsilon * (1 + 1e-9)
    assert spent.delta <= 1e-5
    if epsilon > 1:
        assert "DP domain" in sampler.ledger_.entries[0].label
        # selection keeps only values frequent enough to pass the noisy threshold; the rest are "other"
        assert "Paris" in sampler.schema_["city"].categories
        assert set(sampler.schema_["city"].categories) <= {"Paris", "Lyon", "Nice", "other"}


def test_fit_resample_shapes_and_n_samples():
    X, y = _table()
    X_syn, y_syn = _sampler("marginals").fit_resample(X, y)
    assert X_syn.shape == X.shape and len(y_syn) == len(y) and y_syn.name == "risk"
    X_syn, y_syn = _sampler("marginals", n_samples=25).fit_resample(X, y)
    assert len(X_syn) == 25
    X_arr, y_arr = _sampler("marginals", categories={"target": [0, 1]},
                            bounds={"x0": (18, 80), "x1": (0, 2e5)}).fit_resample(
        X[["age", "income"]].to_numpy(), (y == "high").astype(int).to_numpy())
    assert isinstance(X_arr, np.ndarray) and X_arr.shape == (len(X), 2)


def test_target_name_default_and_unlabelled():
    X, y = _table()
    out = _sampler("marginals", categories={"city": CATEGORIES["city"], "target": ["high", "low"]}).fit(
        X, y.to_numpy()).sample(5)
    assert "target" in out.columns
    out = _sampler("marginals", categories={"city": CATEGORIES["city"]}).fit(X).sample(5)
    assert list(out.columns) == list(X.columns)


def test_params_not_mutated_and_clone():
    from sklearn.base import clone

    sampler = _sampler("marginals")
    method = sampler.method
    before = {k: (v.copy() if isinstance(v, dict) else v) for k, v in sampler.get_params().items()}
    sampler.fit(*_table())
    assert sampler.get_params() == before  # the method object included, by identity
    assert sampler.method is method and not hasattr(method, "marginals_")  # the fit used a clone
    cloned = clone(sampler).get_params()
    assert cloned.pop("method") is not method
    assert cloned == {k: v for k, v in before.items() if k != "method"}


def test_method_parameters_reach_grid_search():
    from sk_safesynth import Marginals, NoisyICL

    sampler = DPSyntheticSampler(FAKE_MODEL, method=NoisyICL(n_shots=5))
    assert sampler.get_params()["method__n_shots"] == 5
    sampler.set_params(method__n_shots=2)
    assert sampler.method.n_shots == 2
    X, y = _table()
    model = TrainOnSynthetic(_sampler("marginals", n_samples=100, categories={"risk": ["high", "low"]}),
                             LogisticRegression())
    search = GridSearchCV(model, {"sampler__method__n_bins": [4, 32]}, cv=2).fit(X[["age", "income"]], y)
    fitted = [params["sampler__method__n_bins"] for params in search.cv_results_["params"]]
    assert fitted == [4, 32]
    method = search.best_estimator_.sampler_.method_
    assert method.marginals_[(method.anchor_, method.discretizer_.names.index("income"))].shape[-1] in (4, 32)
    with pytest.raises(ValueError, match="n_bins"):
        DPSyntheticSampler(FAKE_MODEL, method=Marginals(n_bins=1)).fit(X, y)


def _canary_table():
    X, y = _table(300)
    X.loc[0, ["city", "income", "age"]] = [CANARY_TEXT, CANARY_NUMBER, 79]
    return X, y


@pytest.mark.parametrize("method", METHODS)
def test_no_raw_value_reaches_a_prompt(method):
    X, y = _canary_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        with capture_prompts() as prompts:
            sampler = _sampler(method, epsilon=4.0, domain_budget=0.5, categories={"risk": ["high", "low"]}).fit(X, y)
            sampler.sample(30)
    assert prompts, "the method made no LLM call"
    text = "\n".join(prompts)
    assert CANARY_TEXT not in text
    assert "77777.125" not in text and "77777" not in text
    if method != "noisy_icl":
        # no private value at all: only schema words and model-written rows
        for value in X["income"].head(50):
            assert f"{value:.2f}" not in text or f"{value:.2f}" in {"0.00"}


def test_noisy_icl_demonstrations_are_noised():
    X, y = _table(300)
    sampler = _sampler("noisy_icl").fit(X, y)
    demos = sampler.method_.demonstrations_
    private_rows = set(map(tuple, X[["age", "income"]].to_numpy()))
    shown = set(map(tuple, demos[["age", "income"]].to_numpy()))
    assert len(shown & private_rows) == 0


@pytest.mark.parametrize("method", METHODS)
def test_pickle_holds_no_raw_rows(method):
    X, y = _canary_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        sampler = _sampler(method, epsilon=4.0, domain_budget=0.5, categories={"risk": ["high", "low"]}).fit(X, y)
    blob = pickle.dumps(sampler)
    assert CANARY_TEXT.encode() not in blob
    assert np.float64(CANARY_NUMBER).tobytes() not in blob
    assert b"77777.125" not in blob
    restored = pickle.loads(blob)
    assert len(restored.sample(5)) == 5


@pytest.mark.slow  # 15 fits up to epsilon=30 (calibration takes dp-accounting seconds at large budgets)
def test_grid_search_over_epsilon_reuses_the_llm_pool():
    X, y = _table(300)
    y01 = (y == "high").astype(int)
    # kinds and missing=False declared: the schema is public, the same for every fold and epsilon (so
    # is the pool), and a fully declared table spends its whole budget on the marginals
    declared = dict(categories={"risk": [0, 1]}, missing=False, kinds={"age": "integer", "income": "numeric"})
    with capture_prompts() as one_fit:
        TrainOnSynthetic(_sampler("marginals", **declared), LogisticRegression()).fit(X[["age", "income"]], y01)
    clear_pool_cache()
    model = TrainOnSynthetic(_sampler("marginals", **declared), LogisticRegression())
    with capture_prompts() as search_prompts, warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        search = GridSearchCV(model, {"sampler__epsilon": [0.3, 1.0, 3.0, 10.0, 30.0]}, cv=3, scoring="roc_auc")
        search.fit(X[["age", "income"]], y01)
    assert len(one_fit) > 0
    assert len(search_prompts) <= 1.2 * len(one_fit)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    with pytest.warns(UserWarning, match="not differentially private"):
        total = search_privacy(search)
    # each candidate fits on 2 of the 3 folds per record, plus the refit of the best one: with no
    # PrivacyRecorder the folds are known by their budgets only, composed as (epsilon, delta)-DP
    # mechanisms (dp-accounting's PLD of privacy parameters), the refit by its ledger
    from sk_safesynth.privacy.search import budget_record, compose_fits, fit_record

    grid, delta = [0.3, 1.0, 3.0, 10.0, 30.0], search.best_estimator_.sampler.delta
    basic = sum(grid) * 2 + search.best_params_["sampler__epsilon"]
    fits = [budget_record(e, delta) for e in grid for _ in range(2)] + [fit_record(search.best_estimator_)]
    assert total.delta == pytest.approx(11 * delta, rel=1e-9)
    composed = compose_fits([fits], total.delta).epsilon
    assert total.epsilon == pytest.approx(min(composed, basic), rel=1e-6) and total.epsilon <= basic


def test_train_on_synthetic_in_pipeline_grid_search():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = _table(300)
    pre = ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "member"])])
    model = TrainOnSynthetic(_sampler("marginals", missing=False), Pipeline([("pre", pre), ("clf", LogisticRegression())]))
    recorder = PrivacyRecorder()
    search = GridSearchCV(Pipeline([("tstr", model)]), {"tstr__sampler__epsilon": [0.5, 5.0]}, cv=3,
                          scoring={"accuracy": "accuracy", "privacy": recorder}, refit="accuracy")
    search.fit(X, y)
    assert set(search.best_estimator_.predict(X)) <= {"high", "low"}
    assert search.best_estimator_.named_steps["tstr"].classes_.tolist() == ["high", "low"]
    with pytest.warns(UserWarning):
        total = search_privacy(search)
    # each record is in 2 of the 3 training folds of each candidate, plus the refit of the best one
    refit = search.best_params_["tstr__sampler__epsilon"]
    assert total.delta == pytest.approx(5e-5)
    assert total.epsilon < 0.6 * ((0.5 + 5.0) * 2 + refit)
    # the folds' plans are public (equal fold sizes, declared domain): the same events in every fold
    assert len(recorder.records) == 6
    folds = {eps: [r.entries for r in recorder.records if r.params["tstr__sampler__epsilon"] == eps] for eps in (0.5, 5.0)}
    assert all(len(entries) == 3 and entries.count(entries[0]) == 3 for entries in folds.values())
    events = [e for entries in folds.values() for e in entries[0] * 2]
    events += search.best_estimator_.named_steps["tstr"].sampler_.ledger_.entries
    assert total.epsilon == pytest.approx(compose_entries(events, 5e-5).epsilon, rel=1e-9)
    assert search.cv_results_["mean_test_privacy"] == pytest.approx([0.5, 5.0])


def test_audit_sample_kept_in_memory_only():
    X, y = _canary_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        model = TrainOnSynthetic(_sampler("marginals", categories={"risk": ["high", "low"]}),
                                 LogisticRegression(), keep_audit_sample=True).fit(X[["age", "income"]], y)
    assert model.audit_X_.shape == (300, 2)
    blob = pickle.dumps(model)
    assert np.float64(CANARY_NUMBER).tobytes() not in blob
    assert not hasattr(pickle.loads(blob), "audit_X_")


NEWS_TOPICS = {
    "business": "shares profit bank market investor growth economy firm sales deal",
    "entertainment": "film music star award show actor album festival singer comedy",
    "politics": "minister election party vote government labour policy campaign bill leader",
    "sport": "match team goal league coach season striker cup final injury",
    "tech": "software phone internet users computer games network mobile digital online",
}


def _news(n_per=20, seed=0):
    """Five topics of twenty distinct articles (sixty words of the topic's and common words)."""
    rng = np.random.default_rng(seed)
    common = "the a of to in and said it was for on with year new".split()
    rows = [{"text": " ".join(rng.choice(words.split() + common, 60)).capitalize() + ".", "label": label}
            for label, words in NEWS_TOPICS.items() for _ in range(n_per)]
    return pd.DataFrame(rows)


@pytest.fixture(params=["synthetic", pytest.param("bbc", marks=pytest.mark.slow)])
def news(request):
    """A small news table: generated (fast), or BBC News from ../shared/data (slow; skips without it)."""
    if request.param == "synthetic":
        return _news()
    shared_data = request.getfixturevalue("shared_data")
    return pd.read_csv(shared_data / "bbc_news.csv").groupby("label").head(20).reset_index(drop=True)


def test_text_column_end_to_end_on_news(news):
    X, y = news[["text"]], news["label"]
    labels = sorted(y.unique())
    for name in METHODS:
        method = text_method(name, pool_size=20, n_independent=200, population_size=10)
        sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, method=method, categories={"label": labels},
                                     kinds={"text": "text"}, random_state=0)
        with capture_prompts() as prompts:
            X_syn, y_syn = sampler.fit_resample(X, y)
        assert len(X_syn) == len(X) and set(y_syn) <= set(labels)
        assert X_syn["text"].str.len().gt(0).all()
        joined = "\n".join(prompts)
        assert not any(article[:60] in joined for article in X["text"])


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"epsilon": 0}, None, "epsilon"),
        ({"epsilon": float("nan")}, None, "epsilon"),
        ({"delta": 1.0}, None, "delta"),
        ({"method": "magic"}, None, "method"),
        ({"bounds": {"nope": (0, 1)}}, None, "unknown"),
        ({"bounds": {"age": (5, 5)}}, None, "low < high"),
        ({}, pd.DataFrame({"a": []}, dtype=float), "0 sample|0 rows"),
        ({}, pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate|unique"),
    ],
)
def test_bad_input_is_a_clear_error(params, X, match):
    data = X if X is not None else _table()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        with pytest.raises((ValueError, TypeError), match=match):
            _sampler("marginals", **{"bounds": None, "categories": None, **params}).fit(data)


def test_sample_rejects_bad_n():
    sampler = _sampler("marginals").fit(*_table())
    for bad in (0, -3, 2.5, "10"):
        with pytest.raises(ValueError, match="n_samples"):
            sampler.sample(bad)


def test_bounds_from_data_warn_and_claim_no_guarantee():
    X, y = _table()
    with pytest.warns(PrivacyLeakWarning, match="bounds='data'.*NOT differentially private"):
        sampler = _sampler("marginals", bounds="data").fit(X, y)
    assert sampler.privacy_spent_.epsilon == np.inf and sampler.ledger_.spent.epsilon <= 1.0 + 1e-9


# The checks' random arrays have no public bounds and a few dozen rows: they test the API, so
# the bounds are read from the data (bounds="data", not DP) and epsilon is large enough for the
# DP kinds of their object arrays.
# Slow: tiny tables need epsilon=10, where each fit's noise calibration takes dp-accounting
# seconds (about a minute for these checks, five for NoisyICL's below); on every commit the
# sampler's scikit-learn API is exercised by the Pipeline, GridSearchCV, clone and pickle tests.
@pytest.mark.slow
@parametrize_with_checks([DPSyntheticSampler(FAKE_MODEL, epsilon=10.0, bounds="data",
                                             method=Marginals(pool_size=0, n_independent=200))])
def test_sklearn_estimator_checks(estimator, check):
    install_fake_provider()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        check(estimator)


@pytest.mark.slow
@parametrize_with_checks([DPSyntheticSampler(FAKE_MODEL, epsilon=10.0, bounds="data", method="noisy_icl")])
def test_sklearn_estimator_checks_noisy_icl(estimator, check):
    test_sklearn_estimator_checks(estimator, check)


def test_llm_usage_is_accounted():
    sampler = _sampler("noisy_icl").fit(*_table())
    assert sampler.llm_usage_["n_calls"] == 0
    sampler.sample(25)
    usage = sampler.llm_usage_
    assert usage["n_calls"] >= 3 and usage["rows"] == 25
    assert usage["completion_tokens"] > 0


def test_secure_fit_never_seeds_the_demonstration_noise(monkeypatch):
    """With random_state=None the noiser must draw from its own CSPRNG, not a derived seed."""
    from sk_safesynth import noisers

    seen = []
    original = noisers.GaussianNoiser.fit

    def spy(self, X, y=None):
        seen.append(self.random_state)
        return original(self, X, y)

    monkeypatch.setattr(noisers.GaussianNoiser, "fit", spy)
    _sampler("noisy_icl", random_state=None).fit(*_table())
    secure, seen[:] = list(seen), []
    _sampler("noisy_icl", random_state=3).fit(*_table())
    # the calibration fits the noiser several times: every one of them on the CSPRNG
    assert secure and all(state is None for state in secure)
    assert seen and all(isinstance(state, int) for state in seen)


def test_train_on_synthetic_single_class_release_is_a_clear_error():
    class OneClassSampler(DPSyntheticSampler):
        def fit_resample(self, X, y):
            return X, pd.Series(["high"] * len(X), name=y.name)

    X, y = _table(50)
    with pytest.raises(ValueError, match="single class"):
        TrainOnSynthetic(OneClassSampler(FAKE_MODEL), LogisticRegression()).fit(X[["age", "income"]], y)
