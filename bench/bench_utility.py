"""Utility and privacy of every method on Adult: TSTR ROC-AUC/accuracy and MIA, per epsilon.

Run (resumable; finished configurations in the JSON are skipped unless --force):

    python bench/bench_utility.py --methods real,independent,marginals,marginals_tree,marginals_pool \
        --eps 0.3,1,3,10 --seeds 0,1,2
    python bench/bench_utility.py --methods noisy_icl --eps 1,4 --seeds 0 --llm-rows 1000

Data: UCI Adult, train 32,561 / test 16,281 (the bundled copy, identical to ../shared/data).
Downstream models: HistGradientBoostingClassifier (native categoricals) and one-hot +
LogisticRegression, trained on synthetic rows and scored on the real test split.
Fidelity (sk_safesynth.fidelity, against the real train split, numeric columns in 16
equal-width bins over the public bounds): mean TVD over all 2-way marginals, over
feature pairs only, over 3-way marginals with the target, and the share of rows whose
education-num is the one education determines.
``marginals`` is the default (``Marginals()``, Private-PGM inference when ``mbi`` is
installed), ``marginals_closed_form`` the same measurements estimated without ``mbi``
(``inference="closed_form"``), ``marginals_tree`` measures the tree
only (``extra_pairs=0``), ``marginals_coarse`` has no fine grid (``fine_bins=16``:
numbers decoded uniformly inside their 16 bins), ``marginals_pool`` adds a 200-row
embedded-LLM candidate pool.
Every LLM output comes from the embedded model (Gemma 3 270M); where it is too slow for
full-size output (noisy_icl, private_evolution), ``--llm-rows`` synthetic rows are
generated and the table says so.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from _common import RESULTS, print_table, write_json
from sk_safesynth import DPSyntheticSampler, Marginals, MIAScorer, NoisyICL, PrivateEvolution
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, ADULT_TARGET, load_adult
from sk_safesynth.fidelity import fidelity_summary
from sk_safesynth.privacy import analytic_gaussian_sigma, discrete_gaussian, make_generator

POSITIVE = ">50K"
NUMERIC = list(ADULT_BOUNDS)
CATEGORICAL = [c for c in ADULT_CATEGORIES if c != ADULT_TARGET]
MIA_RECORDS = 2000


def as_categorical(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for column in CATEGORICAL:
        X[column] = pd.Categorical(X[column], categories=ADULT_CATEGORIES[column])
    return X


def models():
    gb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    lr = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), NUMERIC),
                           ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]),
        LogisticRegression(max_iter=2000),
    )
    return {"gb": gb, "lr": lr}


def tstr(X_syn, y_syn, X_test, y_test) -> dict:
    out = {}
    y_true = (y_test == POSITIVE).to_numpy()
    if pd.Series(y_syn).nunique() < 2:
        return {f"{name}_{m}": float("nan") for name in models() for m in ("auc", "acc")}
    for name, model in models().items():
        model.fit(as_categorical(X_syn), y_syn)
        proba = model.predict_proba(as_categorical(X_test))[:, list(model.classes_).index(POSITIVE)]
        out[f"{name}_auc"] = roc_auc_score(y_true, proba)
        out[f"{name}_acc"] = accuracy_score(y_test, model.predict(as_categorical(X_test)))
    return out


def fidelity(X_syn, y_syn, X, y) -> dict:
    """Workload errors and the education -> education-num agreement against the real train rows."""
    real = X.assign(**{ADULT_TARGET: y.to_numpy()})
    synthetic = X_syn.assign(**{ADULT_TARGET: np.asarray(y_syn)})
    return fidelity_summary(real, synthetic, target=ADULT_TARGET, bounds=ADULT_BOUNDS, categories=ADULT_CATEGORIES,
                            functional={"edu_agreement": ("education", "education-num")})


def independent_marginals(X, y, epsilon, delta, n, seed):
    """Trivial DP baseline: Gaussian-noised 1-way marginals, columns sampled independently."""
    frame = X.assign(**{ADULT_TARGET: y.to_numpy()})
    rng = make_generator(seed)
    columns = list(frame.columns)
    sigma = analytic_gaussian_sigma(epsilon, delta, l2_sensitivity=math.sqrt(2 * len(columns)))
    out = {}
    for column in columns:
        if column in ADULT_BOUNDS:
            low, high = ADULT_BOUNDS[column]
            edges = np.linspace(low, high, 17)
            codes = np.clip(np.searchsorted(edges, frame[column], side="right") - 1, 0, 15)
            counts = np.bincount(codes, minlength=16)
            noisy = np.clip(counts + discrete_gaussian(sigma, 16, rng), 0, None) + 1e-9
            bins = rng.choice(16, size=n, p=noisy / noisy.sum())
            out[column] = np.rint(edges[bins] + rng.random(n) * (edges[1] - edges[0])).astype(int)
        else:
            cats = ADULT_CATEGORIES[column]
            counts = frame[column].map({c: i for i, c in enumerate(cats)}).value_counts().reindex(
                range(len(cats)), fill_value=0).to_numpy()
            noisy = np.clip(counts + discrete_gaussian(sigma, len(cats), rng), 0, None) + 1e-9
            out[column] = np.asarray(cats, dtype=object)[rng.choice(len(cats), size=n, p=noisy / noisy.sum())]
    syn = pd.DataFrame(out)
    return syn.drop(columns=[ADULT_TARGET]), syn[ADULT_TARGET]


def run_one(method, epsilon, seed, X, y, X_test, y_test, llm_rows) -> dict:
    start = time.perf_counter()
    record = {"method": method, "epsilon": epsilon, "seed": seed}
    privacy = None
    if method == "real":
        X_syn, y_syn = X, y
    elif method == "independent":
        X_syn, y_syn = independent_marginals(X, y, epsilon, 1e-5, len(X), seed)
        privacy = (epsilon, 1e-5)
    else:
        params = dict(epsilon=epsilon, bounds=ADULT_BOUNDS, categories=ADULT_CATEGORIES, random_state=seed,
                      cache_dir=str(RESULTS.parent / ".cache" / "llm"))
        if method == "marginals":
            sampler = DPSyntheticSampler(method=Marginals(), **params)
        elif method == "marginals_closed_form":
            sampler = DPSyntheticSampler(method=Marginals(inference="closed_form"), **params)
        elif method == "marginals_tree":
            sampler = DPSyntheticSampler(method=Marginals(extra_pairs=0), **params)
        elif method == "marginals_coarse":
            sampler = DPSyntheticSampler(method=Marginals(fine_bins=16), **params)
        elif method == "marginals_pool":
            sampler = DPSyntheticSampler(method=Marginals(pool_size=200), **params)
        elif method == "noisy_icl":
            sampler = DPSyntheticSampler(method=NoisyICL(), n_samples=llm_rows, **params)
        else:
            sampler = DPSyntheticSampler(method=PrivateEvolution(population_size=40, n_rounds=2),
                                         n_samples=llm_rows, **params)
        X_syn, y_syn = sampler.fit_resample(X, y)
        privacy = sampler.privacy_spent_
        record["epsilon_spent"] = privacy.epsilon
        record.update({f"llm_{k}": v for k, v in sampler.llm_usage_.items()})
    record["n_synthetic"] = len(X_syn)
    record["seconds"] = time.perf_counter() - start
    record.update(tstr(X_syn, y_syn, X_test, y_test))
    record.update(fidelity(X_syn, y_syn, X, y))
    rng = np.random.default_rng(seed)
    members = X.assign(income=y.to_numpy()).iloc[rng.choice(len(X), MIA_RECORDS, replace=False)]
    non_members = X_test.assign(income=y_test.to_numpy()).iloc[rng.choice(len(X_test), MIA_RECORDS, replace=False)]
    synthetic = X_syn.assign(income=np.asarray(y_syn))
    mia = MIAScorer("dcr", random_state=seed).evaluate(members, synthetic, non_members, privacy=privacy)
    record.update({"mia_auc": mia.auc, "mia_auc_low": mia.auc_ci[0], "mia_auc_high": mia.auc_ci[1],
                   "mia_tpr_at_1pct": mia.tpr_at_fpr.get(0.01, float("nan")),
                   "bound_tpr_at_1pct": (mia.bound_tpr_at_fpr or {}).get(0.01, float("nan"))})
    return record


def summarize(records: list[dict]) -> list[dict]:
    frame = pd.DataFrame(records)
    rows = []
    for (method, epsilon), group in frame.groupby(["method", "epsilon"], sort=False):
        row = {"method": method, "epsilon": epsilon, "seeds": len(group), "n_syn": int(group["n_synthetic"].iloc[0])}
        for metric in ("gb_auc", "lr_auc", "gb_acc", "tvd_features", "tvd_all", "tvd_3way_target", "edu_agreement",
                       "mia_auc", "mia_tpr_at_1pct", "bound_tpr_at_1pct", "seconds"):
            values = group[metric].astype(float)
            row[metric] = f"{values.mean():.3f} ± {values.std(ddof=0):.3f}" if metric != "seconds" else round(values.mean(), 1)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="real,independent,marginals,marginals_tree")
    parser.add_argument("--eps", default="0.3,1,3,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--llm-rows", type=int, default=150)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    path = RESULTS / "utility_adult.json"
    records = json.loads(path.read_text())["records"] if path.exists() else []
    done = {(r["method"], r["epsilon"], r["seed"]) for r in records}
    X, y = load_adult("train", return_X_y=True)
    X_test, y_test = load_adult("test", return_X_y=True)
    for method in args.methods.split(","):
        for epsilon in ([float("inf")] if method == "real" else [float(e) for e in args.eps.split(",")]):
            for seed in [int(s) for s in args.seeds.split(",")]:
                key = (method, epsilon, seed)
                if key in done and not args.force:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    record = run_one(method, epsilon, seed, X, y, X_test, y_test, args.llm_rows)
                print(json.dumps(record), flush=True)
                # re-read before writing: several bench processes may share the file
                records = json.loads(path.read_text())["records"] if path.exists() else []
                records = [r for r in records if (r["method"], r["epsilon"], r["seed"]) != key] + [record]
                write_json("utility_adult", {"records": records})
    print_table(summarize(records), "Adult TSTR (mean ± std over seeds) and DCR membership inference")


if __name__ == "__main__":
    main()
