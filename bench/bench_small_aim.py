"""smartnoise-synth's MST and AIM on the small tables (bench/small_tables.py), same splits and score.

smartnoise-synth pins its own dependency versions, so it runs from a separate
environment (never a dependency of sk-safesynth):

    python3 -m venv /tmp/snenv && /tmp/snenv/bin/pip install smartnoise-synth scikit-learn statsmodels
    /tmp/snenv/bin/python bench/bench_small_aim.py --synth mst,aim --eps 1,4 --seeds 0,1,2

As in bench_smartnoise.py: the fitted model is sampled i.i.d. (mbi's
``synthetic_data(method="sample")``), numeric columns are cut into ``--bins`` (20)
equal-width bins over the same public bounds our rows declare (no budget spent on
preprocessing), every column is passed as categorical, and a sampled bin is decoded
uniformly inside it (integers rounded). Their neighbouring relation is add/remove-one.
Results go to bench/results/small_tables_aim.json; bench_small_tables.py puts them
beside ours.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _common import append_record
from small_tables import JUDGES, TUNED, available, load, public_domain, score, split

RESULTS = Path(__file__).resolve().parent / "results" / "small_tables_aim.json"


class IIDSampling:
    """The fitted mbi model, sampled i.i.d. when smartnoise asks it for synthetic data."""

    def __init__(self, model):
        self.model = model

    def synthetic_data(self, rows=None):
        return self.model.synthetic_data(rows=rows, method="sample")


def encode(frame: pd.DataFrame, bounds: dict, bins: int) -> pd.DataFrame:
    out = frame.astype(str)
    for column, (low, high) in bounds.items():
        edges = np.linspace(low, high, bins + 1)
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        codes = np.clip(np.searchsorted(edges, np.nan_to_num(values, nan=low), side="right") - 1, 0, bins - 1)
        out[column] = np.where(np.isnan(values), "nan", codes.astype(str))
    return out


def decode(frame: pd.DataFrame, bounds: dict, integers: set, bins: int, rng) -> pd.DataFrame:
    out = frame.copy()
    for column, (low, high) in bounds.items():
        edges = np.linspace(low, high, bins + 1)
        codes = frame[column].astype(str)
        missing = codes == "nan"
        b = np.where(missing, 0, pd.to_numeric(codes, errors="coerce").fillna(0)).astype(int)
        values = edges[b] + rng.random(len(b)) * (edges[1] - edges[0])
        if column in integers:
            values = np.rint(values)
        out[column] = np.where(missing, np.nan, values)
    return out


def main() -> None:
    from snsynth import Synthesizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--synth", default="mst,aim")
    parser.add_argument("--eps", default="1,4")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--bins", type=int, default=20)
    parser.add_argument("--tables", default=",".join(TUNED + JUDGES))
    args = parser.parse_args()
    records = json.loads(RESULTS.read_text())["records"] if RESULTS.exists() else []
    done = {(r["table"], r["method"], r["epsilon"], r["seed"]) for r in records}
    for name in available(args.tables.split(",")):
        X, y = load(name)
        for method in args.synth.split(","):
            for epsilon in map(float, args.eps.split(",")):
                for seed in map(int, args.seeds.split(",")):
                    if (name, method, epsilon, seed) in done:
                        continue
                    X_train, X_test, y_train, y_test = split(X, y, seed)
                    bounds, _ = public_domain(X_train, y_train)
                    integers = {c for c in bounds if np.allclose(X_train[c].dropna() % 1, 0)}
                    train = X_train.assign(**{y.name: y_train.astype(str).to_numpy()})
                    encoded = encode(train, bounds, args.bins)
                    np.random.seed(seed)
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        synth = Synthesizer.create(method, epsilon=epsilon, delta=1e-5)
                        synth.fit(encoded, categorical_columns=list(encoded.columns), preprocessor_eps=0.0)
                        synth.synthesizer = IIDSampling(synth.synthesizer)
                        sample = decode(pd.DataFrame(synth.sample(len(train))), bounds, integers, args.bins,
                                        np.random.default_rng(seed))
                    seconds = time.perf_counter() - start
                    auc = score(sample.drop(columns=[y.name]), sample[y.name], X_test, y_test, seed)
                    record = {"table": name, "rows": len(X_train), "method": method, "epsilon": epsilon,
                              "seed": seed, "gb_auc": auc, "seconds": seconds, "bins": args.bins,
                              "neighbours": "add/remove"}
                    append_record(RESULTS, records, record)


if __name__ == "__main__":
    main()
