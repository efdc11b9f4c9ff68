"""What privacy by default costs: small tables fitted with nothing declared, a reviewed schema, or bounds="data".

Run:

    python bench/bench_undeclared.py --eps 1,4 --seeds 0,1,2

Rows per table (TSTR: train on 70% real or synthetic rows, test on the real 30%):
``real`` (the real training rows), ``declared`` (the schema ``infer_schema`` reads from
the training rows, passed as a declaration — what a user who reviews it gets; it spends
the whole budget on the rows), ``undeclared`` (nothing declared: kinds, bounds,
categories and missing shares released with DP, the default path) and ``bounds=data``
(nothing declared but bounds read from the data: not DP, the old default's bounds).
Metric: HistGradientBoosting ROC-AUC on the real test split (wine and penguins:
macro one-vs-rest). Also: columns out of ``sample`` (all of the input's, in order?),
fits where DP released nothing to synthesise (a ``DomainError``: every column's bounds and
values below the noise), and seconds per fit + sample. Tables: sklearn's bundled breast cancer and wine, Palmer
penguins (raw, ``../shared/data``; free-text ``Comments`` left out), Adult's first 600
and 2,000 rows (bundled).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

from _common import print_table, write_json
from small_tables import score
from sk_safesynth import DPSyntheticSampler, infer_schema
from sk_safesynth.datasets import load_adult
from sk_safesynth.synth.domain import DomainError

PENGUINS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "penguins_raw.csv"


def tables() -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    out = {}
    for name, loader in (("breast cancer", load_breast_cancer), ("wine", load_wine)):
        X, y = loader(return_X_y=True, as_frame=True)
        out[name] = (X, y.rename("target"))
    if PENGUINS.exists():
        frame = pd.read_csv(PENGUINS).drop(columns=["Comments"])
        out["penguins"] = (frame.drop(columns=["Species"]), frame["Species"])
    for rows in (600, 2000):
        frame = load_adult("train", n_rows=rows)
        out[f"adult-{rows}"] = (frame.drop(columns=["income"]), frame["income"])
    return out


def run(name, X, y, epsilon, seed, mode) -> dict:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed,
                                                        stratify=y if y.nunique() < 20 else None)
    start = time.perf_counter()
    if mode == "real":
        auc, columns_ok = score(X_train, y_train, X_test, y_test, seed), True
    else:
        params = {"bounds": "data"} if mode == "bounds=data" else {}
        if mode == "declared":
            schema = infer_schema(X_train, y_train.reset_index(drop=True), target=y.name)
            params = {k: v for k, v in schema.items() if v}
        sampler = DPSyntheticSampler(epsilon=epsilon, random_state=seed, **params)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                synthetic = sampler.fit(X_train, y_train).sample(len(X_train))
        except DomainError as exc:  # DP released nothing to synthesise: a result, recorded as such
            return {"table": name, "rows": len(X_train), "mode": mode, "epsilon": epsilon, "seed": seed,
                    "gb_auc": float("nan"), "all_columns_out": False, "error": str(exc)[:120],
                    "seconds": time.perf_counter() - start}
        columns_ok = list(synthetic.columns) == [*X.columns, y.name]
        X_syn = synthetic.drop(columns=[y.name])
        auc = score(X_syn, synthetic[y.name], X_test, y_test, seed)
    return {"table": name, "rows": len(X_train), "mode": mode, "epsilon": epsilon if mode != "real" else None,
            "seed": seed, "gb_auc": auc, "all_columns_out": columns_ok, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", default="1,4")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--modes", default="real,declared,undeclared,bounds=data")
    parser.add_argument("--tables", default=None, help="comma-separated table names (default: all)")
    args = parser.parse_args()
    epsilons = [float(e) for e in args.eps.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    modes = args.modes.split(",")
    records = []
    for name, (X, y) in tables().items():
        if args.tables and name not in args.tables.split(","):
            continue
        for mode in modes:
            for epsilon in ([None] if mode == "real" else epsilons):
                for seed in seeds:
                    record = run(name, X, y, epsilon, seed, mode)
                    records.append(record)
                    print(f"{name:14s} {mode:11s} eps={epsilon} seed={seed}: GB ROC-AUC {record['gb_auc']:.3f} "
                          f"({record['seconds']:.1f} s)", flush=True)
    frame = pd.DataFrame(records)
    rows = []
    for (name, mode, epsilon), group in frame.groupby(["table", "mode", "epsilon"], dropna=False, sort=False):
        released = group["gb_auc"].dropna()
        rows.append({"table": name, "train rows": int(group["rows"].iloc[0]), "mode": mode,
                     "ε": "-" if pd.isna(epsilon) else epsilon,
                     "GB ROC-AUC": f"{released.mean():.3f} ± {released.std(ddof=0):.3f}" if len(released) else "n/a",
                     "fits with no release": int(group["gb_auc"].isna().sum()),
                     "all columns out": bool(group["all_columns_out"].all()),
                     "seconds": round(float(group["seconds"].mean()), 1)})
    print_table(rows, "Privacy by default on small tables (GB ROC-AUC, TSTR)")
    write_json("undeclared", {"command": "python bench/bench_undeclared.py " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items() if v is not None), "records": records, "table": rows})


if __name__ == "__main__":
    main()
