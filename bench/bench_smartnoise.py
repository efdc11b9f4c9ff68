"""smartnoise-synth's MST and AIM on Adult, on the same splits and models as bench_utility.py.

smartnoise-synth pins its own dependency versions, so it runs from a separate
environment (never a dependency of sk-safesynth):

    python3 -m venv /tmp/snenv && /tmp/snenv/bin/pip install smartnoise-synth scikit-learn
    /tmp/snenv/bin/python bench/bench_smartnoise.py --synth mst,aim --eps 0.3,1,3,10 --seeds 0,1,2

The fitted model is sampled i.i.d. (mbi's ``synthetic_data(method="sample")``, pure
post-processing) instead of smartnoise's default ``method="round"``, whose rounding in
mbi 1.1 fills each parent group in row order and makes conditionally independent
columns comonotone: MST and AIM at their best. Their neighbouring relation is
add/remove-one (sensitivity 1 per marginal); ours is replace-one.

Numeric columns are cut into the same 16 equal-width bins over the same public bounds
that our marginals method uses (no budget spent on preprocessing), all columns are
passed as categorical, and sampled bins are decoded uniformly inside the bin.
Results go to bench/results/utility_smartnoise.json; bench_utility.py's table and
docs/benchmarks.md put them side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from _common import append_record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sk_safesynth" / "datasets"))  # the data module only: no package imports
from adult import ADULT_BOUNDS, ADULT_CATEGORIES, ADULT_TARGET  # noqa: E402

sys.path.insert(0, str(ROOT / "sk_safesynth"))  # the fidelity module only (numpy and pandas)
from fidelity import fidelity_summary  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "utility_smartnoise.json"
DATA = ROOT / "sk_safesynth" / "datasets" / "data"
BINS = 16


def load(split):
    frame = pd.read_csv(DATA / f"adult_{split}.csv.gz", dtype={c: object for c in ADULT_CATEGORIES},
                        keep_default_na=False)
    for column in ADULT_CATEGORIES:
        frame[column] = frame[column].replace("", "?")
    return frame


def encode(frame):
    out = frame.copy()
    for column, (low, high) in ADULT_BOUNDS.items():
        edges = np.linspace(low, high, BINS + 1)
        out[column] = np.clip(np.searchsorted(edges, frame[column], side="right") - 1, 0, BINS - 1).astype(str)
    return out.astype(str)


def decode(frame, rng):
    out = frame.copy()
    for column, (low, high) in ADULT_BOUNDS.items():
        edges = np.linspace(low, high, BINS + 1)
        b = frame[column].astype(int).to_numpy()
        out[column] = np.rint(edges[b] + rng.random(len(b)) * (edges[1] - edges[0])).astype(int)
    return out


def tstr(X_syn, y_syn, X_test, y_test):
    numeric = list(ADULT_BOUNDS)
    categorical = [c for c in ADULT_CATEGORIES if c != ADULT_TARGET]

    def cat(X):
        X = X.copy()
        for c in categorical:
            X[c] = pd.Categorical(X[c], categories=ADULT_CATEGORIES[c])
        return X

    models = {
        "gb": HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0),
        "lr": make_pipeline(ColumnTransformer([("num", StandardScaler(), numeric),
                                               ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]),
                            LogisticRegression(max_iter=2000)),
    }
    out = {}
    for name, model in models.items():
        model.fit(cat(X_syn), y_syn)
        proba = model.predict_proba(cat(X_test))[:, list(model.classes_).index(">50K")]
        out[f"{name}_auc"] = roc_auc_score(y_test == ">50K", proba)
        out[f"{name}_acc"] = accuracy_score(y_test, model.predict(cat(X_test)))
    return out


class IIDSampling:
    """The fitted mbi model, sampled i.i.d. when smartnoise asks it for synthetic data."""

    def __init__(self, model):
        self.model = model

    def synthetic_data(self, rows=None):
        return self.model.synthetic_data(rows=rows, method="sample")


def fidelity(synthetic, real):
    """The same workload errors and agreement as bench_utility.py."""
    return fidelity_summary(real, synthetic, target=ADULT_TARGET, bounds=ADULT_BOUNDS, categories=ADULT_CATEGORIES,
                            functional={"edu_agreement": ("education", "education-num")})


def main():
    from snsynth import Synthesizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--synth", default="mst,aim")
    parser.add_argument("--eps", default="0.3,1,3,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--aim-rounds", type=int, default=None, help="AIM rounds (default: 16 x columns)")
    args = parser.parse_args()
    train, test = load("train"), load("test")
    X_test, y_test = test.drop(columns=[ADULT_TARGET]), test[ADULT_TARGET]
    encoded = encode(train)
    records = json.loads(RESULTS.read_text())["records"] if RESULTS.exists() else []
    records = [r for r in records if r.get("sampling") == "iid"]  # runs of smartnoise's rounding are not comparable
    done = {(r["method"], r["epsilon"], r["seed"]) for r in records}
    for name in args.synth.split(","):
        for epsilon in map(float, args.eps.split(",")):
            for seed in map(int, args.seeds.split(",")):
                if (f"smartnoise_{name}", epsilon, seed) in done:
                    continue
                np.random.seed(seed)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    options = {"rounds": args.aim_rounds} if name == "aim" and args.aim_rounds else {}
                    synth = Synthesizer.create(name, epsilon=epsilon, delta=1e-5, **options)
                    synth.fit(encoded, categorical_columns=list(encoded.columns), preprocessor_eps=0.0)
                    fit_seconds = time.perf_counter() - start
                    synth.synthesizer = IIDSampling(synth.synthesizer)
                    sample = decode(pd.DataFrame(synth.sample(len(train))), np.random.default_rng(seed))
                seconds = time.perf_counter() - start
                record = {"method": f"smartnoise_{name}", "epsilon": epsilon, "seed": seed, "sampling": "iid",
                          "n_synthetic": len(sample), "seconds": seconds, "fit_seconds": fit_seconds,
                          **options}
                record.update(tstr(sample.drop(columns=[ADULT_TARGET]), sample[ADULT_TARGET], X_test, y_test))
                record.update(fidelity(sample, train))
                append_record(RESULTS, records, record)


if __name__ == "__main__":
    main()
