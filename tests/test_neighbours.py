"""Neighbouring tables look alike: one record changes nothing but noisy numbers.

Each pair of tables differs in one record (a missing value, a float-looking number, a
value out of bounds, an unparsable string, inf, a rare category, a blank boolean). A
fit on either must give the same kinds, output dtypes, columns, ledger (events, σ,
labels) and set of warnings and exceptions; only noisy numbers may differ. The same
holds through the CLI, which reads the private CSV as strings.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler, PrivacyLeakWarning
from sk_safesynth.cli import main
from sk_safesynth.synth import Marginals

N = 300


def _base(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 80, N),
        "income": np.round(rng.lognormal(10, 0.5, N), 2),
        "city": rng.choice(["north", "south"], N, p=[0.6, 0.4]),  # no value near the DP threshold
        "code": [str(v) for v in rng.integers(1, 4, N)],
        # a bool column that may be missing has the nullable dtype (public); the CLI test reads strings
        "member": pd.array(rng.random(N) < 0.4, dtype="boolean"),
        "label": rng.choice(["yes", "no"], N),
    })


def _changed(column: str, value, base: pd.DataFrame | None = None) -> pd.DataFrame:
    """``base`` with record 7 of ``column`` replaced, built as a user would: pandas infers the dtypes."""
    base = _base() if base is None else base
    columns = {name: list(values) for name, values in base.items()}
    columns[column][7] = value
    frame = pd.DataFrame(columns)
    return frame.astype({"member": "boolean"})


# (name, column, value, declarations): the neighbour of _base() with record 7 changed
PAIRS = [
    ("missing number", "age", None, {}),
    ("missing with bounds and missing declared", "age", None, {"bounds": {"age": (0, 100)}, "missing": {"age": True}}),
    ("float-looking", "age", 54.5, {}),
    ("out of bounds", "age", 150, {"bounds": {"age": (0, 100)}}),
    ("unparsable", "code", "abc", {}),
    ("inf", "income", np.inf, {}),
    ("rare category", "city", "atlantis", {}),
    ("blank boolean", "member", None, {}),
    ("missing in a column declared complete", "city", None, {"missing": {"city": False}}),
]


def _fit(frame: pd.DataFrame, declarations: dict, seed: int):
    X, y = frame.drop(columns="label"), frame["label"]
    sampler = DPSyntheticSampler(epsilon=4.0, method=Marginals(inference="closed_form"), random_state=seed,
                                 **declarations)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sampler.fit(X, y)
            error = None
        except Exception as exc:  # noqa: BLE001 - the type and message are what is compared
            error = (type(exc).__name__, str(exc))
    messages = sorted({(w.category.__name__, str(w.message)) for w in caught})
    if error is not None:
        return {"error": error, "warnings": messages}
    synthetic = sampler.sample(50)
    return {
        "error": None,
        "warnings": messages,
        "kinds": sampler.domain_.kinds,
        "columns": list(synthetic.columns),
        "dtypes": {c: str(t) for c, t in synthetic.dtypes.items()},
        "ledger": sampler.ledger_.summary(),
    }


@pytest.mark.parametrize("name, column, value, declarations", PAIRS, ids=[p[0] for p in PAIRS])
def test_neighbouring_tables_give_the_same_plan(name, column, value, declarations):
    for seed in range(3):
        one = _fit(_base(), declarations, seed)
        other = _fit(_changed(column, value), declarations, seed)
        assert one["error"] is None and other["error"] is None, (one["error"], other["error"])
        assert one == other, name


def test_integer_column_with_a_missing_value_keeps_kind_and_dtype():
    """The issue's case: 54 vs None in age, bounds and missing declared: same kind, Int64 both ways."""
    declarations = {"bounds": {"age": (0, 100)}, "missing": {"age": True}}
    one = _fit(_base(), declarations, 0)
    other = _fit(_changed("age", None), declarations, 0)
    assert one["kinds"]["age"] == other["kinds"]["age"] == "integer"
    assert one["dtypes"]["age"] == other["dtypes"]["age"] == "Int64"


def test_default_fit_is_dp_and_its_ledger_has_the_bounds_step():
    X = pd.concat([_base(seed) for seed in range(7)], ignore_index=True).drop(columns="label")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrivacyLeakWarning)
        sampler = DPSyntheticSampler(epsilon=1.0, method=Marginals(inference="closed_form"), random_state=0).fit(X)
    labels = " ".join(entry["label"] for entry in sampler.ledger_.summary())
    assert "DP domain" in labels and "bounds" in labels
    assert np.isfinite(sampler.privacy_spent_.epsilon) and sampler.privacy_spent_.epsilon <= 1.0 + 1e-9
    low, high = sampler.domain_.bounds["age"]
    # DP bounds cover the bulk of the data (18..79) without reading its min or max
    assert 0 < low <= 25 and 70 <= high <= 128


def test_bounds_from_data_is_an_explicit_opt_in_that_claims_no_guarantee():
    X = _base().drop(columns="label")
    with pytest.warns(PrivacyLeakWarning, match="NOT differentially private"):
        sampler = DPSyntheticSampler(epsilon=1.0, bounds="data", method=Marginals(inference="closed_form"),
                                     random_state=0).fit(X)
    assert sampler.privacy_spent_.epsilon == np.inf
    assert sampler.domain_.bounds["age"] == (X["age"].min(), X["age"].max())


def test_failed_fit_reports_what_it_spent_and_keeps_no_stale_result():
    X = _base().drop(columns="label")
    sampler = DPSyntheticSampler(epsilon=1.0, method=Marginals(inference="closed_form"), random_state=0).fit(X)
    assert hasattr(sampler, "schema_")
    sampler.set_params(method=Marginals(inference="closed_form", one_way_share=0.6, selection_share=0.6))
    with pytest.raises(ValueError, match="one_way_share") as info:
        sampler.fit(X)
    spent = info.value.privacy_spent
    assert spent.epsilon > 0  # the domain measurement ran before the method failed
    assert info.value.ledger is sampler.last_fit_ledger_
    assert any("DP domain" in e["label"] for e in sampler.last_fit_ledger_.summary())
    for name in ("schema_", "ledger_", "privacy_spent_", "method_"):
        assert not hasattr(sampler, name)
    with pytest.raises(Exception, match="not fitted"):
        sampler.sample(5)


def _credit_like(n: int = 700, seed: int = 1) -> tuple[pd.DataFrame, dict]:
    """20 columns of codes and numbers; each code column has levels of >= 20% of the rows."""
    rng = np.random.default_rng(seed)
    columns, common = {}, {}
    for j in range(13):
        levels = [f"A{j}{k}" for k in range(rng.integers(3, 6))]
        p = np.full(len(levels), 0.2 / (len(levels) - 2))
        p[:2] = 0.4  # two common levels (40% each), the others share 20%
        columns[f"c{j}"] = rng.choice(levels, n, p=p)
        common[f"c{j}"] = levels[:2]
    columns["duration"] = rng.integers(4, 72, n)
    columns["amount"] = np.round(rng.lognormal(7.8, 0.7, n)).astype(int)
    columns["rate"] = rng.integers(1, 5, n)
    columns["residence"] = rng.integers(1, 5, n)
    columns["age"] = rng.integers(19, 75, n)
    columns["credits"] = rng.integers(1, 4, n)
    columns["dependents"] = rng.integers(1, 3, n)
    return pd.DataFrame(columns), common


def test_small_table_of_codes_releases_common_values_and_every_column():
    X, common = _credit_like()
    y = pd.Series(np.where(np.random.default_rng(2).random(len(X)) < 0.3, "bad", "good"), name="risk")
    sampler = DPSyntheticSampler(epsilon=4.0, method=Marginals(inference="closed_form"), random_state=0).fit(X, y)
    for column, levels in common.items():
        assert set(levels) <= set(sampler.domain_.categories[column]), column
    synthetic = sampler.sample(100)
    assert list(synthetic.columns) == [*X.columns, "risk"]


def test_cli_neighbouring_csvs_give_the_same_plan(tmp_path, capsys):
    records, errors = [], []
    for i, frame in enumerate((_base(), _changed("age", None), _changed("code", "abc"), _changed("member", None))):
        data = tmp_path / f"data{i}.csv"
        frame.to_csv(data, index=False)
        out = tmp_path / f"synth{i}.csv"
        code = main(["generate", str(data), "--target", "label", "--epsilon", "4", "--rows", "30", "--seed", "0",
                     "--out", str(out), "--no-cache"])
        assert code == 0
        record = json.loads((tmp_path / f"synth{i}.csv.privacy.json").read_text())
        dtypes = pd.read_csv(out).dtypes.astype(str).to_dict()
        lines = [line for line in capsys.readouterr().err.splitlines() if "Warning" in line]
        records.append((record["ledger"], [(c["name"], c["kind"], c.get("dtype")) for c in record["schema"]["columns"]],
                        dtypes))
        errors.append(sorted(set(lines)))
    assert all(r == records[0] for r in records)
    assert all(e == errors[0] for e in errors)
