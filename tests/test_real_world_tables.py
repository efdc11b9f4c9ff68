"""Real-world tables: missing values, undeclared domains, IDs, dates, the schema workflow (fake LLM)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from sk_safesynth import DPSyntheticSampler, MIAScorer, PrivacyLeakWarning, TrainOnSynthetic, infer_schema
from sk_safesynth.cli import main
from sk_safesynth.llm.testing import FAKE_MODEL
from sk_safesynth.schema import infer_kind
from sk_safesynth.synth import Marginals
from sk_safesynth.synth.domain import DomainError

from conftest import ADULT_CSV
from conftest import method as make_method

pytestmark = pytest.mark.usefixtures("fresh_fake_llm")
METHODS = ["marginals", "noisy_icl", "private_evolution"]


def _messy(n=3000, seed=0):
    """Every column kind with missing values at known rates, an ID, a target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "user_id": np.arange(n),
        "x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(50, 10, n)),
        "k": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 20, n)), dtype="Int64"),
        "city": np.where(rng.random(n) < 0.3, None, rng.choice(["Paris", "Lyon", "Nice"], n)).astype(object),
        "flag": pd.array(np.where(rng.random(n) < 0.15, None, rng.random(n) < 0.5), dtype="boolean"),
        "day": pd.to_datetime(np.where(rng.random(n) < 0.25, None,
                                       pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"))),
    })
    y = pd.Series(rng.choice(["a", "b"], n), name="y")
    return frame, y


BOUNDS = {"x": (0, 100), "k": (0, 19), "day": ("2020-01-01", "2021-01-01")}
CATEGORIES = {"city": ["Paris", "Lyon", "Nice"], "y": ["a", "b"]}


def _fit(method="marginals", X=None, y=None, **params):
    X, y = (X, y) if X is not None else _messy()
    sizes = dict(pool_size=20, n_independent=5000, population_size=20)
    defaults = dict(llm=FAKE_MODEL, epsilon=5.0, bounds=BOUNDS, categories=CATEGORIES, random_state=0)
    sampler = DPSyntheticSampler(method=make_method(method, **sizes), **{**defaults, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return sampler.fit(X, y)


# ---------------------------------------------------------------- missing values as data

# noisy_icl is slow here: 2,000 of 3,000 rows are subsampled, and calibrating the amplified
# noise takes dp-accounting half a minute
@pytest.mark.parametrize("method", ["marginals", pytest.param("noisy_icl", marks=pytest.mark.slow), "private_evolution"])
def test_missing_values_of_every_kind_are_reproduced_at_the_dp_rate(method):
    X, y = _messy()
    sampler = _fit(method, X, y)
    assert "user_id" not in sampler.schema_.names  # an identifier by name: never read
    out = sampler.sample(4000)
    assert out["user_id"].is_unique  # ... and regenerated as fresh identifiers
    for column in ["x", "k", "city", "flag", "day"]:
        real, synthetic = X[column].isna().mean(), out[column].isna().mean()
        # DP share (sigma of a few records on 3000 rows) plus the sampling error of 4000 rows
        assert abs(real - synthetic) < 0.04, (column, real, synthetic)
        assert sampler.schema_[column].missing == pytest.approx(real, abs=0.03)
    assert out["x"].dropna().between(0, 100).all() and set(out["city"].dropna()) <= {"Paris", "Lyon", "Nice"}
    assert sampler.privacy_spent_.epsilon <= 5.0 * (1 + 1e-9)
    assert any("DP domain" in entry.label for entry in sampler.ledger_.entries)


def test_complete_columns_stay_complete():
    X, y = _messy()
    X = X.assign(x=X["x"].fillna(50.0))
    out = _fit("marginals", X, y).sample(3000)
    assert out["x"].notna().all() and out["y"].notna().all()


def test_missing_values_in_a_column_declared_complete_are_read_as_its_lower_bound():
    """No error that one record could switch on: a blank where none is declared is a value like any other."""
    X, y = _messy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no message either
        sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=5.0, bounds=BOUNDS, categories=CATEGORIES,
                                     missing={"x": False, "k": True, "city": True, "flag": True, "day": True},
                                     kinds={"flag": "boolean", "user_id": "numeric"},
                                     method=Marginals(n_independent=2000), random_state=0).fit(X, y)
    assert sampler.domain_.missing["x"] == 0.0 and "x" not in sampler.domain_.nullable
    assert sampler.sample(500)["x"].notna().all()


def test_all_missing_column_comes_out_missing_with_a_warning():
    X, y = _messy()
    X["empty"] = np.nan
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=5.0, bounds=BOUNDS, categories=CATEGORIES,
                                 method=Marginals(pool_size=0, n_independent=2000), random_state=0)
    with pytest.warns(UserWarning, match=r"\['empty'\]: DP can release no bounds or values.*missing values"):
        sampler.fit(X, y)
    out = sampler.sample(10)
    assert list(out.columns) == [*X.columns, "y"] and out["empty"].isna().all()


def test_train_on_synthetic_and_mia_with_missing_values():
    X, y = _messy(1500)
    X = X.drop(columns=["user_id", "day"])
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=5.0, bounds=BOUNDS, categories=CATEGORIES,
                                 method=Marginals(pool_size=0, n_independent=3000), random_state=0)
    numeric = X.assign(city=X["city"].map({"Paris": 0, "Lyon": 1, "Nice": 2}), flag=X["flag"].astype(float))
    model = TrainOnSynthetic(sampler.set_params(categories={"y": ["a", "b"]}, bounds={"x": (0, 100), "k": (0, 19),
                                                                                      "city": (0, 2)}),
                             HistGradientBoostingClassifier(max_iter=20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(numeric.astype(float), y)
    assert set(model.predict(numeric.astype(float))) <= {"a", "b"}
    # missing is its own value for the attacks: a copy of the members is caught, and NaN is accepted
    result = MIAScorer("dcr", random_state=0).evaluate(X.iloc[:500], X.iloc[:500], X.iloc[500:1000])
    assert result.auc > 0.9


def test_noisers_replace_missing_values_before_noise():
    from sk_safesynth import GaussianNoiser

    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "c": ["u", None, "v", "u"]})
    out = GaussianNoiser(1.0, bounds={"a": (0, 4)}, categories={"c": ["u", "v"]}, random_state=0).fit_transform(X)
    assert out["a"].notna().all() and out["c"].isin(["u", "v"]).all()


def test_raw_adult_missing_shares_within_two_points():
    adult = pd.read_csv(ADULT_CSV["train"])
    assert adult[["workclass", "occupation", "native-country"]].isna().any().all()  # the raw '?' as NaN
    X, y = adult.drop(columns="income"), adult["income"]
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=1.0, method=Marginals(pool_size=0), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = sampler.fit(X, y).sample(20000)
    for column in adult.columns:
        assert abs(out[column].isna().mean() - adult[column].isna().mean()) < 0.02, column


# ---------------------------------------------------------------- undeclared domains degrade loudly

def test_unreleased_values_go_to_other_with_a_named_warning():
    rng = np.random.default_rng(1)
    n = 4000
    city = rng.choice(["Paris", "Lyon"], n).astype(object)
    city[:400] = [f"village-{i}" for i in range(400)]
    X = pd.DataFrame({"city": city, "a": rng.normal(0, 1, n)})
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, bounds={"a": (-4, 4)}, missing=False,
                                 method=Marginals(pool_size=0, n_independent=3000), random_state=0)
    with pytest.warns(UserWarning, match=r"keeps only the values held by more than \d+ records of 4000 rows: "
                                         r"'city' keeps 2 values \(about \d+% of rows become 'other'\).*categories=\{'city'"):
        sampler.fit(X)
    assert sampler.schema_["city"].categories == ("Lyon", "Paris", "other")
    share = (sampler.sample(4000)["city"] == "other").mean()
    assert 0.06 < share < 0.14


def test_too_small_table_names_every_column_and_what_to_declare():
    X = pd.DataFrame({"a": ["x", "y"] * 50, "b": ["u", "v"] * 50, "n": np.arange(100.0)})
    with pytest.raises(DomainError, match=r"100 rows, fewer than the \d+ records.*\['a', 'b'\].*categories="
                                          r"\{'a': \[\.\.\.\], 'b': \[\.\.\.\]\}") as info:
        DPSyntheticSampler(FAKE_MODEL, bounds={"n": (0, 100)}).fit(X)
    assert set(info.value.problems) == {"a", "b"}
    assert info.value.privacy_spent.epsilon > 0  # the kinds were measured before: the failure reports it


def test_id_like_strings_come_out_as_other_loudly_never_released():
    n = 3000
    X = pd.DataFrame({"name": [f"person-{i}" for i in range(n)], "a": np.linspace(0, 1, n)})
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, bounds={"a": (0, 1)}, missing=False,
                                 method=Marginals(pool_size=0, n_independent=1000), random_state=0)
    with pytest.warns(UserWarning, match=r"columns \['name'\] look like identifiers.*level 'other'"):
        sampler.fit(X)
    assert sampler.schema_["name"].categories == ("other",) and "person-" not in json.dumps(sampler.schema_.to_dict())
    out = sampler.sample(100)
    assert list(out.columns) == ["name", "a"] and set(out["name"]) == {"other"}


def test_free_text_is_found_with_dp_not_from_one_value():
    rng = np.random.default_rng(0)
    n = 3000
    labels = rng.choice(["red", "blue"], n).astype(object)
    labels[0] = "x" * 100_000  # one huge value: the old mean-length rule made this column text
    assert infer_kind(pd.Series(labels)) == "categorical"
    texts = np.array([f"a long enough free text number {i} with several words in it" for i in range(n)], object)
    X = pd.DataFrame({"label": labels, "note": texts})
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, missing=False, random_state=0,
                                 method=Marginals(pool_size=0, n_independent=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sampler.fit(X)
    assert sampler.schema_["label"].kind == "categorical" and sampler.schema_["note"].kind == "text"


def test_categorical_dtype_built_from_data_is_not_trusted():
    n = 2000
    values = ["common"] * (n - 1) + ["RARE-DISEASE-patient-42"]
    X = pd.DataFrame({"diagnosis": pd.Categorical(values), "a": np.linspace(0, 1, n)})
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=1.0, bounds={"a": (0, 1)}, missing=False,
                                 method=Marginals(pool_size=0, n_independent=1000), random_state=0)
    with pytest.warns(PrivacyLeakWarning, match=r"Categorical categories of \['diagnosis'\].*not public"):
        sampler.fit(X)
    assert "RARE-DISEASE-patient-42" not in sampler.schema_["diagnosis"].categories
    declared = sampler.set_params(categories={"diagnosis": ["common", "RARE-DISEASE-patient-42"]}).fit(X)
    assert declared.schema_["diagnosis"].categories == ("common", "RARE-DISEASE-patient-42")


def test_messages_carry_no_exact_counts_of_the_data():
    X = pd.DataFrame({"city": ["Paris"] * 1500 + [f"v{i}" for i in range(137)], "a": np.linspace(0, 1, 1637)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DPSyntheticSampler(FAKE_MODEL, epsilon=3.0, bounds={"a": (0, 1)}, missing=False, random_state=0,
                           method=Marginals(pool_size=0, n_independent=500)).fit(X)
    text = " ".join(str(w.message) for w in caught)
    assert "city" in text and "138" not in text and "137" not in text and "1500" not in text


# ---------------------------------------------------------------- kinds and the schema workflow

def test_infer_schema_kinds_and_sampler_round_trip():
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "when": [str(pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(d))).split(" ")[0]
                 for d in rng.integers(0, 300, n)],
        "amount": [f"{v:,}" for v in rng.integers(500, 50_000, n)],
        "group": rng.choice(["g1", "g2", None], n),
        "label": rng.integers(0, 2, n),
    })
    schema = infer_schema(frame, target="label")
    assert schema["kinds"] == {"id": "id", "when": "datetime", "amount": "integer", "group": "categorical",
                               "label": "categorical"}
    assert schema["missing"]["group"] is True and schema["missing"]["amount"] is False
    assert schema["categories"]["label"] == [0, 1] and schema["bounds"]["when"][0].startswith("2021-01-01")
    json.dumps(schema)  # a file the user can review
    X, y = frame.drop(columns="label"), frame["label"]
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=3.0, random_state=0, method=Marginals(pool_size=0), **schema)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrivacyLeakWarning)  # everything declared: nothing read from the data
        warnings.filterwarnings("ignore", message=".*identifiers", category=UserWarning)
        sampler.fit(X, y)
    out = sampler.sample(300)
    assert out["id"].is_unique and not set(out["id"]) & set(frame["id"])  # fresh identifiers, none of the data's
    assert pd.api.types.is_datetime64_any_dtype(out["when"])
    assert out["amount"].between(500, 50_000).all() and set(out["label"]) <= {0, 1}


def test_declared_bounds_parse_thousands_separators():
    frame = pd.DataFrame({"amount": ["1,000", "2,500", "12,000", "7,250"] * 50})
    sampler = DPSyntheticSampler(FAKE_MODEL, bounds={"amount": (0, 20_000)}, missing=False, random_state=0,
                                 method=Marginals(pool_size=0, n_independent=500)).fit(frame)
    # integer by the DP count of non-integral values, parsed from "1,000"
    assert sampler.schema_["amount"].kind == "integer" and sampler.sample(50)["amount"].between(0, 20_000).all()


def test_small_integer_target_is_categorical():
    X = pd.DataFrame({"a": np.linspace(0, 1, 300)})
    y = pd.Series(np.arange(300) % 2, name="t")
    sampler = DPSyntheticSampler(FAKE_MODEL, bounds={"a": (0, 1), "t": (0, 1)}, missing=False, random_state=0,
                                 method=Marginals(pool_size=0, n_independent=500)).fit(X, y)
    assert sampler.schema_["t"].kind == "categorical" and sampler.schema_["t"].categories == (0, 1)


# ---------------------------------------------------------------- the CLI

def test_cli_schema_then_generate_on_a_messy_csv(tmp_path, capsys):
    X, y = _messy(800)
    data = tmp_path / "data.csv"
    X.assign(y=y, amount=[f"{1000 + 7 * (i % 300):,}" for i in range(800)]).to_csv(data, index=False)
    schema = tmp_path / "schema.json"
    assert main(["schema", str(data), "--target", "y", "--out", str(schema)]) == 0
    declared = json.loads(schema.read_text())
    assert declared["target"] == "y" and declared["kinds"]["user_id"] == "id"
    assert declared["kinds"]["day"] == "datetime" and declared["kinds"]["amount"] == "integer"
    out = tmp_path / "synth.csv"
    assert main(["generate", str(data), "--schema", str(schema), "--out", str(out), "--llm", FAKE_MODEL,
                 "--seed", "0"]) == 0
    synthetic = pd.read_csv(out)
    assert list(synthetic.columns) == [*X.columns, "y", "amount"] and synthetic["x"].isna().any()
    assert not set(synthetic["user_id"]) & set(X["user_id"].astype(str))  # fresh identifiers
    captured = capsys.readouterr()
    assert "user_id" in captured.out and "PrivacyLeakWarning" not in captured.err
    # the on-disk LLM cache is on by default, in the user cache directory
    from sk_safesynth.cli import default_cache_dir

    assert f"LLM cache in {default_cache_dir()}" in captured.err


def test_cli_too_small_table_speaks_cli_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data.csv"
    pd.DataFrame({"a": ["x", "y"] * 30, "b": ["u", "v"] * 30}).to_csv(data, index=False)
    out = tmp_path / "synth.csv"
    assert main(["generate", str(data), "--out", str(out), "--llm", FAKE_MODEL, "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert "60 rows" in err and "['a', 'b']" in err and "--schema" in err and "categories={" not in err
    assert not out.exists()


@pytest.mark.slow  # epsilon=50: calibrating the noise at that budget takes dp-accounting half a minute
def test_cli_kinds_option_and_warnings(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "data.csv"
    pd.DataFrame({"a": rng.random(300), "code": rng.integers(0, 3, 300), "t": ["yes"] * 300}).to_csv(data, index=False)
    out = tmp_path / "s.csv"
    assert main(["generate", str(data), "--out", str(out), "--llm", FAKE_MODEL, "--target", "t", "--no-cache",
                 "--kinds", "code=id", "--epsilon", "50", "--rows", "20"]) == 0
    err = capsys.readouterr().err
    assert "no meaningful privacy guarantee" in err and "single class" in err and "['code']" in err
    synthetic = pd.read_csv(out)
    assert list(synthetic.columns) == ["a", "code", "t"] and synthetic["code"].is_unique  # fresh identifiers
    with pytest.raises(SystemExit) as info:
        main(["generate", str(data), "--out", str(out), "--kinds", "code=magic"])
    assert info.value.code == 2 and "KIND one of" in capsys.readouterr().err
