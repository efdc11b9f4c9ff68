"""LaplaceNoiser / GaussianNoiser: sklearn conformance, noise law, privacy and bad input."""

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_safesynth import GaussianNoiser, LaplaceNoiser, PrivacyLeakWarning
from sk_safesynth.privacy import analytic_gaussian_sigma

# The sklearn checks fit on unbounded random data, so every fit warns that bounds are
# read from the data; that warning is the documented behaviour, not a failure.
pytestmark = pytest.mark.filterwarnings("ignore::sk_safesynth.exceptions.PrivacyLeakWarning")


@parametrize_with_checks([LaplaceNoiser(), GaussianNoiser(), LaplaceNoiser(apply="fit")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.uniform(0, 1e5, n),
            "sex": rng.choice(["F", "M"], n),
            "job": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c", "d"]),
        }
    )


BOUNDS = {"age": (18, 90), "income": (0, 1e5)}


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 4.0])
def test_laplace_noise_law(epsilon):
    X = np.full((30_000, 2), 0.5)
    noiser = LaplaceNoiser(epsilon, bounds=(0, 1), random_state=1)
    noise = noiser.fit_transform(X) - X
    # two unit columns, L1 sensitivity 2: scale 2/epsilon on each column
    assert noiser.scale_ == pytest.approx([2 / epsilon] * 2)
    for j in range(2):
        assert stats.kstest(noise[:, j], stats.laplace(scale=2 / epsilon).cdf).pvalue > 0.001
    assert noiser.privacy_spent_.epsilon == pytest.approx(epsilon)


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 4.0])
def test_gaussian_noise_law(epsilon):
    X = np.full((30_000, 3), 5.0)
    noiser = GaussianNoiser(epsilon, delta=1e-6, bounds=(0, 10), random_state=2)
    noise = noiser.fit_transform(X) - X
    sigma = 10 * analytic_gaussian_sigma(epsilon, 1e-6, l2_sensitivity=math.sqrt(3))
    assert noiser.scale_ == pytest.approx([sigma] * 3)
    for j in range(3):
        assert stats.kstest(noise[:, j], stats.norm(scale=sigma).cdf).pvalue > 0.001
    assert noiser.privacy_spent_.epsilon <= epsilon * (1 + 1e-9)
    assert noiser.privacy_spent_.mu is not None


def test_clipping_to_bounds_happens_before_noise():
    X = np.full((20_000, 1), 1e6)
    out = LaplaceNoiser(1.0, bounds=(0, 1), random_state=0).fit_transform(X)
    assert abs(np.median(out) - 1.0) < 0.05


def test_mixed_frame_budget_split_and_dtypes():
    X = _frame()
    noiser = GaussianNoiser(2.0, bounds=BOUNDS, categories={"sex": ["F", "M"]}, random_state=0)
    out = noiser.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(X.columns)
    assert out["age"].dtype == X["age"].dtype
    assert isinstance(out["job"].dtype, pd.CategoricalDtype)
    assert set(out["sex"]) <= {"F", "M"}
    assert noiser.privacy_spent_.epsilon <= 2.0 * (1 + 1e-9)
    assert set(noiser.keep_probability_) == {"sex", "job"}
    assert np.isnan(noiser.scale_[2]) and np.isnan(noiser.scale_[3])


def test_randomized_response_rate():
    X = pd.DataFrame({"c": pd.Categorical(["a"] * 40_000, categories=["a", "b", "c"])})
    noiser = LaplaceNoiser(1.0, random_state=0)
    out = noiser.fit_transform(X)
    e = math.e
    expected_keep = e / (e + 2)  # P(output = true value) for 3-ary RR at epsilon 1
    observed = (out["c"] == "a").mean()
    assert abs(observed - expected_keep) < 4 * math.sqrt(expected_keep * (1 - expected_keep) / 40_000)


def test_leak_warnings():
    X = _frame()
    with pytest.warns(PrivacyLeakWarning, match="bounds"):
        LaplaceNoiser(categories={"sex": ["F", "M"]}).fit(X)
    with pytest.warns(PrivacyLeakWarning, match="categories"):
        LaplaceNoiser(bounds=BOUNDS).fit(X)
    with pytest.warns(PrivacyLeakWarning, match="passthrough"):
        out = LaplaceNoiser(bounds=BOUNDS, categorical="passthrough", random_state=0).fit_transform(X)
    assert (out["sex"] == X["sex"]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LaplaceNoiser(bounds=BOUNDS, categories={"sex": ["F", "M"]}).fit(X)


def test_apply_fit_leaves_transform_untouched():
    X = np.random.default_rng(0).uniform(0, 1, (50, 2))
    noiser = LaplaceNoiser(bounds=(0, 1), apply="fit", random_state=0)
    assert not np.allclose(noiser.fit_transform(X), X)
    np.testing.assert_array_equal(noiser.transform(X), X)
    always = LaplaceNoiser(bounds=(0, 1), random_state=0).fit(X)
    assert not np.allclose(always.transform(X), X)


def test_seed_reproducible_and_none_is_random():
    X = np.random.default_rng(0).uniform(0, 1, (50, 2))
    a = LaplaceNoiser(bounds=(0, 1), random_state=3).fit_transform(X)
    b = LaplaceNoiser(bounds=(0, 1), random_state=3).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    c = LaplaceNoiser(bounds=(0, 1)).fit_transform(X)
    d = LaplaceNoiser(bounds=(0, 1)).fit_transform(X)
    assert not np.array_equal(c, d)


def test_set_output_pandas_keeps_names_and_int_dtype():
    X = _frame()[["age", "income"]]
    out = LaplaceNoiser(bounds=BOUNDS, random_state=0).set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["age", "income"]
    assert out["age"].dtype == X["age"].dtype
    default = LaplaceNoiser(bounds=BOUNDS, random_state=0).fit_transform(X)
    assert isinstance(default, np.ndarray)


def test_bounds_forms_agree():
    X = np.random.default_rng(0).uniform(0, 1, (10, 2))
    pair = LaplaceNoiser(bounds=(0, 2)).fit(X).bounds_
    array = LaplaceNoiser(bounds=np.array([[0, 2], [0, 2]])).fit(X).bounds_
    frame = pd.DataFrame(X, columns=["a", "b"])
    mapping = LaplaceNoiser(bounds={"a": (0, 2), "b": (0, 2)}).fit(frame).bounds_
    np.testing.assert_array_equal(pair, array)
    np.testing.assert_array_equal(pair, mapping)


def test_fitted_noiser_pickle_holds_no_rows():
    X = pd.DataFrame({"secret": [123456.789, 2.0], "tag": ["canary-XYZZY", "b"]})
    noiser = LaplaceNoiser(bounds=(0, 1e6), categories={"tag": ["canary-XYZZY", "b"]}).fit(X)
    blob = pickle.dumps(noiser)
    assert b"123456.789" not in blob and np.float64(123456.789).tobytes() not in blob


@pytest.mark.parametrize(
    "params, match",
    [
        ({"epsilon": 0}, "epsilon"),
        ({"epsilon": -1}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"epsilon": float("inf")}, "epsilon"),
        ({"epsilon": "one"}, "epsilon"),
        ({"bounds": (1, 1)}, "low < high"),
        ({"bounds": (2, 1)}, "low < high"),
        ({"bounds": (0, float("nan"))}, "finite"),
        ({"bounds": np.zeros((3, 2))}, "shape"),
        ({"bounds": (0, 1, 2)}, "shape"),
        ({"bounds": {"zz": (0, 1)}}, "unknown"),
    ],
)
def test_bad_parameters(params, match):
    X = np.random.default_rng(0).uniform(0, 1, (10, 2))
    with pytest.raises((ValueError, TypeError), match=match):
        LaplaceNoiser(**{"bounds": (0, 1), **params}).fit(X)


@pytest.mark.parametrize("delta", [0, 1, -0.5, 2, float("nan")])
def test_bad_delta(delta):
    with pytest.raises(ValueError, match="delta"):
        GaussianNoiser(delta=delta, bounds=(0, 1)).fit(np.zeros((3, 1)))


@pytest.mark.parametrize(
    "X, match",
    [
        (np.empty((0, 2)), "0 sample"),
        (pd.DataFrame({"a": pd.to_datetime(["2020-01-01"])}), "datetime"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate"),
        (np.array([["a", "b"]], dtype=object), "convert|could not"),
    ],
)
def test_bad_input(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LaplaceNoiser(bounds=(0, 1)).fit(X)


@pytest.mark.parametrize("X", [np.array([[np.inf, -np.inf]]), pd.DataFrame({"a": [np.inf], "b": [-np.inf]})])
def test_infinite_values_are_clipped_silently(X):
    # +-inf is a value outside the bounds like any other: clipped to them, no error or
    # warning that one record could switch on (docs/privacy.md, "Messages and errors").
    noiser = LaplaceNoiser(epsilon=1e6, bounds=(0, 1), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = np.asarray(noiser.fit_transform(X), dtype=float)
    assert np.isfinite(out).all()
    assert out[0] == pytest.approx([1.0, 0.0], abs=1e-3)


def test_unseen_category_replaced_silently():
    X = pd.DataFrame({"c": ["a", "b", "a"]})
    noiser = LaplaceNoiser(categories={"c": ["a", "b"]}, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning that one value would switch on
        out = noiser.transform(pd.DataFrame({"c": ["zzz"] * 2000}))
    # replaced like a missing value: uniform over the declared categories, then randomized response
    assert set(out["c"]) == {"a", "b"}
    assert abs((out["c"] == "a").mean() - 0.5) < 0.05


def test_pipeline_grid_search_over_epsilon():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (300, 3))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    pipe = Pipeline([("noiser", LaplaceNoiser(bounds=(0, 1), apply="fit", random_state=0)),
                     ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"noiser__epsilon": [0.1, 100.0]}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]  # less noise, better model
    assert search.best_params_ == {"noiser__epsilon": 100.0}
