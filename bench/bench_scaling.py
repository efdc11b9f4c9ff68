"""How fit + sample cost grows with data: wall time and peak memory of the marginals method.

Run: python bench/bench_scaling.py [--rows 10000,100000,1000000] [--cols 15,50] [--eps 1] [--out scaling]

Each configuration runs in a fresh subprocess so peak RSS (ru_maxrss) is its own.
The default method (``Marginals()``, no LLM candidate pool) fits and samples as many
rows as it was fitted on. Tables larger than Adult's 32,561 training rows are drawn
from them with replacement; 50-column tables repeat Adult's columns with suffixes
(declared domains repeated too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import print_table, write_json

SNIPPET = r"""
import json, resource, sys, time, warnings
import numpy as np
import pandas as pd
from sk_safesynth import DPSyntheticSampler
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, load_adult
rows, cols, epsilon = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
X, y = load_adult(return_X_y=True)
index = np.random.default_rng(0).choice(len(X), rows, replace=rows > len(X))
X = X.iloc[index].reset_index(drop=True); y = y.iloc[index].reset_index(drop=True)
bounds, cats, parts = dict(ADULT_BOUNDS), dict(ADULT_CATEGORIES), [X]
copy = 1
while sum(p.shape[1] for p in parts) < cols:
    extra = X.add_suffix(f"_{copy}")
    parts.append(extra)
    bounds.update({f"{k}_{copy}": v for k, v in ADULT_BOUNDS.items()})
    cats.update({f"{k}_{copy}": v for k, v in ADULT_CATEGORIES.items() if k != "income"})
    copy += 1
X = pd.concat(parts, axis=1).iloc[:, :cols]
bounds = {k: v for k, v in bounds.items() if k in X.columns}
cats = {k: v for k, v in cats.items() if k in X.columns or k == "income"}
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sampler = DPSyntheticSampler(epsilon=epsilon, method="marginals", bounds=bounds,
                                 categories=cats, random_state=0).fit(X, y)
    fit_s = time.perf_counter() - start
    out = sampler.sample(rows)
total = time.perf_counter() - start
print(json.dumps({"rows": rows, "cols": X.shape[1], "epsilon": epsilon, "fit_s": fit_s, "fit_sample_s": total,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--cols", default="15,50")
    parser.add_argument("--eps", default="1")
    parser.add_argument("--out", default="scaling", help="name of the JSON in bench/results")
    args = parser.parse_args()
    results = []
    for cols in map(int, args.cols.split(",")):
        for rows in map(int, args.rows.split(",")):
            for epsilon in args.eps.split(","):
                out = subprocess.run([sys.executable, "-c", SNIPPET, str(rows), str(cols - 1), epsilon],
                                     capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
                record = json.loads(out.stdout.strip().splitlines()[-1])
                record["cols"] += 1  # the target column
                results.append(record)
                print(json.dumps(record), flush=True)
    print_table(results, "Scaling of DPSyntheticSampler(method='marginals'): fit + sample as many rows")
    write_json(args.out, {"results": results})


if __name__ == "__main__":
    main()
