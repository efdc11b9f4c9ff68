"""Small tables: TSTR ROC-AUC of the default marginals method beside real, independent columns, MST and AIM.

Run (resumable; finished configurations in the JSON are skipped):

    python bench/bench_small_tables.py --eps 1,4 --seeds 0,1,2
    /tmp/snenv/bin/python bench/bench_small_aim.py --synth mst,aim --eps 1,4 --seeds 0,1,2   # MST/AIM rows

Tables, splits, public domains and the score are bench/small_tables.py's: 70/30 split
stratified on the target; HistGradientBoosting trained on as many synthetic rows as
the real training split and scored on the real test split (ROC-AUC; several classes:
macro one-vs-rest). Our rows declare the domain a user reviews (``infer_schema`` of
the training split: bounds, categories, missing shares, ID columns dropped), so the
whole budget goes to the data. ``independent`` shuffles each column of the default
release on its own (post-processing: the same privacy). MST and AIM come from
bench_small_aim.py's JSON (20 equal-width bins over the same bounds, i.i.d. sampling,
add/remove-one neighbours). ``marginals`` is replace-one; ``marginals_addremove`` is
the same method under add/remove-one neighbours, as MST and AIM are (it needs a fully
declared domain: not on penguins, whose missing shares are measured with DP).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from _common import RESULTS, print_table, write_json
from small_tables import JUDGES, TUNED, available, independent, load, score, split
from sk_safesynth import DPSyntheticSampler, Marginals, infer_schema

METHODS = ("real", "independent", "marginals", "marginals_addremove")


def release(X_train, y_train, epsilon: float, seed: int, neighbours: str = "replace-one", **method_params):
    schema = infer_schema(X_train, y_train)
    sampler = DPSyntheticSampler(method=Marginals(**method_params), epsilon=epsilon, random_state=seed,
                                 neighbours=neighbours, **schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler.fit(X_train, y_train)
        rows = sampler.sample(len(X_train))
    return rows.drop(columns=[y_train.name]), rows[y_train.name]


def run_one(name: str, method: str, epsilon: float, seed: int) -> dict:
    X, y = load(name)
    X_train, X_test, y_train, y_test = split(X, y, seed)
    start = time.perf_counter()
    if method == "real":
        X_syn, y_syn = X_train, y_train
    else:
        X_syn, y_syn = release(X_train, y_train, epsilon, seed,
                               "add/remove" if method == "marginals_addremove" else "replace-one")
        if method == "independent":
            frame = independent(X_syn.assign(**{y_train.name: np.asarray(y_syn)}), seed)
            X_syn, y_syn = frame.drop(columns=[y_train.name]), frame[y_train.name]
    seconds = time.perf_counter() - start
    X_syn = X_syn[[c for c in X_test.columns if c in X_syn.columns]]
    auc = score(X_syn, y_syn, X_test[X_syn.columns], y_test, seed)
    return {"table": name, "rows": len(X_train), "method": method, "epsilon": epsilon, "seed": seed,
            "gb_auc": auc, "seconds": seconds}


def summary(records: list[dict]) -> list[dict]:
    rows = []
    tables = list(dict.fromkeys(r["table"] for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    for table in tables:
        for method in methods:
            row = {"table": table, "method": method}
            for epsilon in (1.0, 4.0):
                got = [r for r in records if r["table"] == table and r["method"] == method
                       and (r["epsilon"] == epsilon or method == "real")]
                aucs = [r["gb_auc"] for r in got]
                row[f"eps={epsilon:g}"] = f"{np.mean(aucs):.3f} ± {np.std(aucs):.3f}" if aucs else "-"
                row[f"s (eps={epsilon:g})"] = f"{np.mean([r['seconds'] for r in got]):.1f}" if got else "-"
            if any(row[f"eps={e:g}"] != "-" for e in (1.0, 4.0)):
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--eps", default="1,4")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tables", default=",".join(TUNED + JUDGES))
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    path = RESULTS / "small_tables.json"
    records = [] if args.force or not path.exists() else json.loads(path.read_text())["records"]
    for name in available(args.tables.split(",")):
        for method in args.methods.split(","):
            for epsilon in ([0.0] if method == "real" else map(float, args.eps.split(","))):
                for seed in map(int, args.seeds.split(",")):
                    key = (name, method, epsilon, seed)
                    if any((r["table"], r["method"], r["epsilon"], r["seed"]) == key for r in records):
                        continue
                    try:
                        record = run_one(name, method, epsilon, seed)
                    except ValueError as exc:  # add/remove needs a fully declared domain (penguins has missing values)
                        print(f"{name} {method}: {str(exc).splitlines()[0]}")
                        break
                    print(json.dumps(record), flush=True)
                    records.append(record)
                    write_json("small_tables", {"records": records})
    aim_path = RESULTS / "small_tables_aim.json"
    theirs = json.loads(aim_path.read_text())["records"] if aim_path.exists() else []
    print_table(summary(records + theirs), "Small tables: GB ROC-AUC on real test rows (mean ± sd over seeds)")


if __name__ == "__main__":
    main()
