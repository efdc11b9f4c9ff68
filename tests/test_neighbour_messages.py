"""No data-dependent messages (issue 24): what one record can and cannot switch on.

Two tables that differ in one record must give the same warnings and exceptions; only
noisy numbers may differ. Covered here: the standalone noisers, NoisyICL's noiser (fitted
on the public schema), ``search_privacy``'s refusal of steps fitted on real rows before
``TrainOnSynthetic``, and the opt-in that remote embeddings of private text need.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sk_safesynth import GaussianNoiser, LaplaceNoiser, PrivacyLeakWarning, TrainOnSynthetic, search_privacy
from sk_safesynth.llm import LLMClient, capture_prompts
from sk_safesynth.llm.testing import FAKE_MODEL
from sk_safesynth.privacy import PrivacyLedger, PrivacySpent
from sk_safesynth.schema import ColumnSpec, TableSchema
from sk_safesynth.synth import NoisyICL, PrivateEvolution
from sk_safesynth.synth.base import FitContext

SEEDS = range(40)


def _messages(call):
    """``call()``'s warnings as a set of (category, message), and its exception as (type, message)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = call(), None
        except Exception as exc:  # noqa: BLE001 - the type and message are what is compared
            result, error = None, (type(exc).__name__, str(exc))
    return {(w.category.__name__, str(w.message)) for w in caught}, error, result


# ---------------------------------------------------------------- standalone noisers

CITIES = ["north", "south"]


def _table(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.uniform(0, 100, n), "city": rng.choice(CITIES, n).astype(object)})


def _neighbour(frame, column, value, row=7):
    """``frame`` with record ``row`` of ``column`` replaced (pandas infers the dtype, as for a user's table)."""
    values = list(frame[column])
    values[row] = value
    return frame.assign(**{column: pd.Series(values, dtype=object if isinstance(value, (str, list)) else None)})


def _all_at(value, n=30):
    """A table whose ages are all ``value`` (every one outside bounds (0, 100) for 150)."""
    return _table(n).assign(age=float(value))


NOISER_PAIRS = [
    # (name, table, its neighbour, noiser parameters)
    ("out of bounds", _neighbour(_table(), "age", 50.0), _neighbour(_table(), "age", 150.0), {}),
    ("+inf", _neighbour(_table(), "age", 50.0), _neighbour(_table(), "age", np.inf), {}),
    ("-inf", _neighbour(_table(), "age", 50.0), _neighbour(_table(), "age", -np.inf), {}),
    ("missing", _neighbour(_table(), "age", 50.0), _neighbour(_table(), "age", np.nan), {}),
    # the one record inside the bounds: the old "bounds exclude every value" warning switched on and off
    ("all but one out of bounds", _neighbour(_all_at(150), "age", 50.0), _all_at(150), {}),
    ("undeclared category", _neighbour(_table(), "city", "north"), _neighbour(_table(), "city", "atlantis"), {}),
    # bounds read from the data (a PrivacyLeakWarning that depends on the parameters only)
    ("bounds from data, +inf", _neighbour(_table(), "age", 50.0), _neighbour(_table(), "age", np.inf),
     {"bounds": None}),
    ("bounds from data, only one value", _all_at(np.nan).assign(age=lambda f: f["age"].where(f.index != 7, 5.0)),
     _all_at(np.nan), {"bounds": None}),
]


def _noiser_view(cls, frame, params, seed):
    noiser = cls(2.0, **{"bounds": {"age": (0, 100)}, "categories": {"city": CITIES}, "random_state": seed,
                         **params})
    messages, error, out = _messages(lambda: noiser.fit_transform(frame))
    view = {"warnings": messages, "error": error}
    if error is None:
        view.update(dtypes=out.dtypes.astype(str).to_dict(), columns=list(out.columns),
                    ledger=noiser.ledger_.summary(), finite=bool(np.isfinite(out["age"]).all()),
                    cities=set(out["city"]) <= set(CITIES), scale=noiser.scale_[0])
    return view


@pytest.mark.parametrize("cls", [LaplaceNoiser, GaussianNoiser])
@pytest.mark.parametrize("name, left, right, params", NOISER_PAIRS, ids=[p[0] for p in NOISER_PAIRS])
def test_noiser_neighbours_give_the_same_messages(cls, name, left, right, params):
    for seed in range(10):
        a, b = _noiser_view(cls, left, params, seed), _noiser_view(cls, right, params, seed)
        if "bounds" not in params:  # declared domains: no message at all, and the same scale
            assert a == b
            assert a["warnings"] == set() and a["error"] is None
        else:  # bounds from the data: the same leak warning; the scale itself is read from the data
            a.pop("scale"), b.pop("scale")
            assert a == b
            assert a["error"] is None and {category for category, _ in a["warnings"]} == {"PrivacyLeakWarning"}
        assert a["finite"] and a["cities"]


@pytest.mark.parametrize("cls", [LaplaceNoiser, GaussianNoiser])
def test_noiser_transform_of_neighbours_gives_the_same_messages(cls):
    noiser = cls(2.0, bounds=(0, 100), categories={"city": CITIES}, random_state=0).fit(_table())
    for column, value in [("city", "atlantis"), ("age", 150.0), ("age", np.inf), ("city", None)]:
        left, _, _ = _messages(lambda: noiser.transform(_table(seed=1)))
        right, error, out = _messages(lambda c=column, v=value: noiser.transform(_neighbour(_table(seed=1), c, v)))
        assert left == right == set() and error is None
        assert out["city"].isin(CITIES).all() and np.isfinite(out["age"]).all()


def test_noiser_out_of_bounds_value_is_clipped_to_the_bound():
    # clipping is the mechanism: at a huge epsilon the released value is the bound
    out = LaplaceNoiser(1e6, bounds=(0, 100), random_state=0).fit_transform(np.array([[150.0], [-np.inf], [50.0]]))
    assert out[:, 0] == pytest.approx([100.0, 0.0, 50.0], abs=1e-2)


def test_noiser_public_facts_still_warn_and_raise():
    X = _table()
    with pytest.warns(PrivacyLeakWarning, match="bounds=None"):
        LaplaceNoiser(categories={"city": CITIES}).fit(X)
    with pytest.warns(PrivacyLeakWarning, match="read from the data"):
        LaplaceNoiser(bounds=(0, 100)).fit(X)
    with pytest.raises(ValueError, match="categories for column 'city' are empty"):
        LaplaceNoiser(bounds=(0, 100), categories={"city": []}).fit(X)


# ---------------------------------------------------------------- NoisyICL


ICL_SCHEMA = TableSchema((ColumnSpec("age", "integer", 0, 100), ColumnSpec("income", "numeric", 0, 1e5),
                          ColumnSpec("city", "categorical", categories=tuple(CITIES))))


def _icl_frame(n=4):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.integers(20, 80, n), "income": rng.uniform(0, 1e5, n),
                         "city": rng.choice(CITIES, n).astype(object)})


def _icl_view(frame, seed, mechanism):
    ledger = PrivacyLedger(1.0, 1e-5)
    context = FitContext(frame=frame, schema=ICL_SCHEMA, target=None, ledger=ledger, epsilon=1.0, delta=1e-5,
                         rng=np.random.default_rng(seed), client=None, secure=False, public_seed=0)
    method = NoisyICL(mechanism=mechanism, max_demos=3)
    messages, error, _ = _messages(lambda: method.fit(context))
    view = {"warnings": messages, "error": error, "ledger": ledger.summary()}
    if error is None:
        demos = method.demonstrations_
        view.update(row_epsilon=method.row_epsilon_, dtypes=demos.dtypes.astype(str).to_dict(),
                    inside=bool(demos["age"].between(0, 100).all() and demos["city"].isin(CITIES).all()))
    return view


@pytest.mark.parametrize("mechanism", ["gaussian", "laplace"])
@pytest.mark.parametrize("column, inside, outside", [
    ("age", 50, 150),  # out of bounds: the first record of the subsample used to switch a warning on
    ("income", 5e4, np.inf),
    ("city", "north", "atlantis"),  # outside the (declared or DP-selected) categories
    ("age", 50, None),
])
def test_noisy_icl_neighbours_give_the_same_messages(mechanism, column, inside, outside):
    base = _icl_frame()
    left, right = base.copy(), base.copy()
    left[column] = left[column].astype(object)
    right[column] = right[column].astype(object)
    left.loc[1, column], right.loc[1, column] = inside, outside
    if column != "city":
        left[column], right[column] = pd.to_numeric(left[column]), pd.to_numeric(right[column])
    for seed in SEEDS:  # record 1 is the first of the subsample for about a quarter of the seeds
        a, b = _icl_view(left, seed, mechanism), _icl_view(right, seed, mechanism)
        assert a == b
        assert a["warnings"] == set() and a["error"] is None and a["inside"]


# ---------------------------------------------------------------- search_privacy


class _Stub(BaseEstimator):
    """A stand-in sampler (returns its rows): search_privacy only reads epsilon and privacy_spent_."""

    def __init__(self, epsilon=1.0, delta=0.0):
        self.epsilon = epsilon
        self.delta = delta

    def fit_resample(self, X, y):
        self.privacy_spent_ = PrivacySpent(self.epsilon, self.delta, None)
        return X, y


def _xy(n=60):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X, (X["a"] > 0).astype(int)


def _search(pre_steps):
    model = Pipeline([*pre_steps, ("tstr", TrainOnSynthetic(_Stub(), LogisticRegression()))])
    return GridSearchCV(model, {"tstr__sampler__epsilon": [0.5, 2.0]}, cv=3).fit(*_xy())


@pytest.mark.parametrize("step", [StandardScaler(), FunctionTransformer(np.tanh)], ids=["scaler", "stateless"])
def test_search_privacy_refuses_steps_fitted_on_real_rows(step):
    search = _search([("keep", "passthrough"), ("prep", step)])
    with pytest.raises(ValueError) as info:
        search_privacy(search, warn=False)
    message = str(info.value)
    assert f"'prep' ({type(step).__name__})" in message and "'keep'" not in message
    assert "fitted on the real training rows" in message
    assert "inside TrainOnSynthetic's estimator" in message and "allow_non_private_steps=True" in message


def test_search_privacy_opt_in_warns_and_counts_the_sampler():
    search = _search([("prep", StandardScaler())])
    with pytest.warns(PrivacyLeakWarning, match=r"'prep' \(StandardScaler\).*covers the sampler only"):
        total = search_privacy(search, warn=False, allow_non_private_steps=True)
    # 2 candidates x 2 of 3 training splits per record, plus the refit of the best
    assert total.epsilon == pytest.approx((0.5 + 2.0) * 2 + search.best_params_["tstr__sampler__epsilon"])


def test_search_privacy_accepts_public_row_wise_steps_and_steps_inside_the_estimator():
    selection = ColumnTransformer([("keep", "passthrough", ["a"]),
                                   ("numbers", "passthrough", make_column_selector(dtype_include="number"))],
                                  remainder="drop")
    for pre in ([], [("none", None), ("skip", "passthrough"), ("select", selection)]):
        messages, error, total = _messages(lambda p=pre: search_privacy(_search(p), warn=False))
        assert error is None and messages == set()
        assert total.epsilon > 0
    # columns chosen by a function of the values are not a public selection
    by_values = ColumnTransformer([("keep", "passthrough", lambda X: [c for c in X if X[c].mean() > 0])])
    with pytest.raises(ValueError, match="'select' \\(ColumnTransformer\\)"):
        search_privacy(_search([("select", by_values)]), warn=False)
    inside = Pipeline([("tstr", TrainOnSynthetic(_Stub(), make_pipeline(StandardScaler(), LogisticRegression())))])
    search = GridSearchCV(inside, {"tstr__sampler__epsilon": [1.0]}, cv=3).fit(*_xy())
    assert search_privacy(search, warn=False).epsilon == pytest.approx(1.0 * 2 + 1.0)


def test_search_privacy_refuses_steps_before_in_a_cross_validate_result():
    X, y = _xy()
    model = make_pipeline(StandardScaler(), TrainOnSynthetic(_Stub(), LogisticRegression()))
    result = cross_validate(model, X, y, cv=3, return_estimator=True)
    with pytest.raises(ValueError, match="'standardscaler' \\(StandardScaler\\)"):
        search_privacy(result, X, y, cv=3, warn=False)
    with pytest.warns(PrivacyLeakWarning):
        total = search_privacy(result, X, y, cv=3, warn=False, allow_non_private_steps=True)
    assert total.epsilon == pytest.approx(2.0)


# ---------------------------------------------------------------- remote embeddings of private text


TEXT_SCHEMA = TableSchema((ColumnSpec("age", "integer", 0, 100), ColumnSpec("note", "text", max_length=200)))


def _text_frame(n=20):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"age": rng.integers(20, 80, n), "note": [f"SECRETNOTE {i} about the weather" for i in range(n)]})


@pytest.fixture
def fake_embedding(monkeypatch):
    """litellm.embedding replaced by a local function that records what it was sent."""
    from sk_safesynth.llm.backend import get_litellm

    litellm = get_litellm()
    sent: list[str] = []

    class _Response:
        def __init__(self, data):
            self.data = data

    def embedding(model, input, **kwargs):
        sent.extend(input)
        return _Response([{"embedding": [float(len(t)), 1.0 + t.count("e")]} for t in input])

    monkeypatch.setattr(litellm, "embedding", embedding)
    return sent


def _pe_context(client, schema=TEXT_SCHEMA, frame=None):
    ledger = PrivacyLedger(1.0, 1e-5)
    return ledger, FitContext(frame=_text_frame() if frame is None else frame, schema=schema, target=None,
                              ledger=ledger, epsilon=1.0, delta=1e-5, rng=np.random.default_rng(0), client=client,
                              secure=False, public_seed=0)


@pytest.mark.usefixtures("fresh_fake_llm")
def test_remote_embedding_of_private_text_is_refused_before_any_spend(fake_embedding):
    client = LLMClient(FAKE_MODEL, embedding_model="text-embedding-3-small")
    assert "allow_remote_embedding" not in client.provider_options
    ledger, context = _pe_context(client)
    with capture_prompts() as prompts, pytest.raises(ValueError, match="allow_remote_embedding") as info:
        PrivateEvolution(population_size=6, n_rounds=1, rows_per_call=3).fit(context)
    assert "'text-embedding-3-small'" in str(info.value) and "['note']" in str(info.value)
    assert ledger.entries == [] and fake_embedding == [] and prompts == []


@pytest.mark.usefixtures("fresh_fake_llm")
def test_remote_embedding_opt_in_warns_and_sends(fake_embedding):
    client = LLMClient(FAKE_MODEL, embedding_model="text-embedding-3-small", allow_remote_embedding=True)
    ledger, context = _pe_context(client)
    with pytest.warns(PrivacyLeakWarning, match="sent to the embedding model 'text-embedding-3-small'"):
        PrivateEvolution(population_size=6, n_rounds=1, rows_per_call=3).fit(context)
    assert any("SECRETNOTE" in text for text in fake_embedding)  # what the opt-in allows, and warns about
    assert len(ledger.entries) == 1


@pytest.mark.usefixtures("fresh_fake_llm")
def test_local_embedding_and_tables_without_text_need_no_opt_in(fake_embedding):
    # embedding_model=None: the local hashing vectorizer, nothing sent
    ledger, context = _pe_context(LLMClient(FAKE_MODEL))
    messages, error, _ = _messages(lambda: PrivateEvolution(population_size=6, n_rounds=1, rows_per_call=3)
                                   .fit(context))
    assert error is None and not any("embedding" in m for _, m in messages)
    # no text column: no private text to embed, whatever embedding_model is
    schema = TableSchema((ColumnSpec("age", "integer", 0, 100),))
    ledger, context = _pe_context(LLMClient(FAKE_MODEL, embedding_model="x"), schema, _text_frame()[["age"]])
    messages, error, _ = _messages(lambda: PrivateEvolution(population_size=6, n_rounds=1, rows_per_call=3)
                                   .fit(context))
    assert error is None and not any("embedding" in m for _, m in messages)
    assert fake_embedding == []


@pytest.mark.usefixtures("fresh_fake_llm")
def test_opt_in_by_name_through_the_sampler(fake_embedding):
    from sk_safesynth import DPSyntheticSampler

    X = _text_frame(40)
    declared = dict(kinds={"note": "text"}, bounds={"age": (0, 100)}, missing=False, random_state=0,
                    method=PrivateEvolution(population_size=6, n_rounds=1, rows_per_call=3))
    with pytest.raises(ValueError, match="allow_remote_embedding"):
        DPSyntheticSampler(FAKE_MODEL, llm_kwargs={"embedding_model": "e"}, **declared).fit(X)
    assert fake_embedding == []
    sampler = DPSyntheticSampler(FAKE_MODEL, llm_kwargs={"embedding_model": "e", "allow_remote_embedding": True},
                                 **declared)
    with pytest.warns(PrivacyLeakWarning, match="sent to the embedding model 'e'"):
        sampler.fit(X)
    assert any("SECRETNOTE" in text for text in fake_embedding)
    # a release outside the ledger: no (epsilon, delta) reads as a guarantee
    assert sampler.privacy_spent_.epsilon == np.inf and sampler.ledger_.spent.epsilon <= 1.0 + 1e-9


@pytest.mark.usefixtures("fresh_fake_llm")
def test_text_methods_embed_in_process_whatever_embedding_model(fake_embedding):
    from sk_safesynth import DPSyntheticSampler, TextPrivateEvolution

    X = pd.DataFrame({"note": [f"SECRETNOTE {i} about the weather and the match" for i in range(40)]})
    y = pd.Series(["sport", "money"] * 20, name="label")
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, method=TextPrivateEvolution(population_size=6),
                                 kinds={"note": "text"}, categories={"label": ["money", "sport"]}, missing=False,
                                 random_state=0, llm_kwargs={"embedding_model": "e"})
    messages, error, _ = _messages(lambda: sampler.fit(X, y))
    assert error is None and not any("embedding" in m for _, m in messages)
    assert fake_embedding == []  # votes use the local hashing embedding: nothing sent
