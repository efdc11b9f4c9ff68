"""Where the marginals method loses TSTR ROC-AUC on Adult: noise of each step, and decoding.

DIAGNOSTIC, NOT DP. Each row fits the default ``Marginals()`` at a given ε and then,
for the steps it names, *removes the noise after the ledger has accounted it* (the
released table is the exact one). Rows marked "exact decoding" also decode the
named numeric columns from their exact fine counts (every value that occurs keeps its
count: the support of the column, which DP cannot release); rows "above T records"
keep only the values held by more than T records of a class, as a DP fine table whose
detection threshold is T would (about 250 records at ε = 1 and 33 at ε = 10 for the
default). Nothing here is a private result; it says which step a better method would
have to improve.

Run (about 25 s a row on one core):

    OMP_NUM_THREADS=1 python bench/bench_ablation.py --eps 0.3,1,10 --seeds 0,1,2

Writes bench/results/ablation_adult.json; docs/benchmarks.md has the table.
"""

from __future__ import annotations

import argparse
import json
import warnings
from contextlib import contextmanager
from unittest import mock

from _common import RESULTS, write_json
from bench_utility import fidelity, tstr
from sk_safesynth import DPSyntheticSampler, Marginals
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, load_adult
from sk_safesynth.schema import ColumnSpec, TableSchema
from sk_safesynth.synth import marginals, measurement
from sk_safesynth.synth.encoding import Discretizer
from sk_safesynth.synth.tree_model import fine_density

ONE_WAY = "(target, column) tables"
SELECTION = "pair selection"
CLIQUES = "(target, column, column) tables"
SPARSE = ("capital-gain", "capital-loss")
ALL = (ONE_WAY, SELECTION, CLIQUES)
# name -> (steps released without noise, numeric columns decoded from exact fine counts,
#          least count of a (class, value) cell that is kept as a value)
ROWS = {
    "default (DP)": ((), (), 0),
    "no noise: cliques": ((CLIQUES,), (), 0),
    "no noise: (target, column) tables": ((ONE_WAY,), (), 0),
    "no noise: selection": ((SELECTION,), (), 0),
    "no noise: all steps": (ALL, (), 0),
    **{f"no noise + exact decoding of capital-gain, capital-loss above {t} records": (ALL, SPARSE, t)
       for t in (250, 33, 10)},
    "no noise + exact decoding of capital-gain, capital-loss": (ALL, SPARSE, 0),
    "no noise + exact decoding of every numeric column": (ALL, tuple(ADULT_BOUNDS), 0),
}


@contextmanager
def ablated(noiseless: tuple, exact: tuple, min_records: int = 0):
    """Remove the noise of the ``noiseless`` steps (after accounting) and decode ``exact`` columns exactly.

    Values of an ``exact`` column held by at most ``min_records`` records of a class are
    not kept: their mass is spread over the coarse cell, as below a DP detection threshold.
    """
    release = measurement.gaussian_release

    def gaussian_release(ledger, values, sigma, sensitivity, label, rng, *, integer=True):
        noisy = release(ledger, values, sigma, sensitivity, label, rng, integer=integer)
        return values.astype(float) if any(step in label for step in noiseless) else noisy

    # fine_density knows a column only by the size of its fine grid (distinct among Adult's columns)
    fine_bins = Marginals().fine_bins
    exact_sizes = set()
    if exact:
        grid = Discretizer(TableSchema(tuple(ColumnSpec(name, "integer", *ADULT_BOUNDS[name]) for name in exact)),
                           fine_bins, max_exact=fine_bins)
        exact_sizes = {grid.n_values(name) for name in exact}

    def density(coarse, fine, cell_of, threshold):
        # an exact fine table read with threshold min_records (0: every occurring value)
        return fine_density(coarse, fine, cell_of, min_records if len(cell_of) in exact_sizes else threshold)

    with mock.patch.object(measurement, "gaussian_release", gaussian_release), \
            mock.patch.object(marginals, "fine_density", density):
        yield


def run(name: str, epsilon: float, seed: int, X, y, X_test, y_test) -> dict:
    noiseless, exact, min_records = ROWS[name]
    with ablated(noiseless, exact, min_records), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = DPSyntheticSampler(method=Marginals(), epsilon=epsilon, bounds=ADULT_BOUNDS,
                                     categories=ADULT_CATEGORIES, random_state=seed)
        X_syn, y_syn = sampler.fit_resample(X, y)
    record = {"row": name, "epsilon": epsilon, "seed": seed}
    record.update(tstr(X_syn, y_syn, X_test, y_test))
    record.update(fidelity(X_syn, y_syn, X, y))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eps", default="0.3,1,10")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", default=",".join(str(i) for i in range(len(ROWS))),
                        help="indices of the rows to run (0 = default)")
    args = parser.parse_args()
    path = RESULTS / "ablation_adult.json"
    records = json.loads(path.read_text())["records"] if path.exists() else []
    X, y = load_adult("train", return_X_y=True)
    X_test, y_test = load_adult("test", return_X_y=True)
    names = [list(ROWS)[int(i)] for i in args.rows.split(",")]
    for epsilon in map(float, args.eps.split(",")):
        for name in names:
            for seed in map(int, args.seeds.split(",")):
                record = run(name, epsilon, seed, X, y, X_test, y_test)
                print(json.dumps(record), flush=True)
                key = (name, epsilon, seed)
                records = [r for r in records if (r["row"], r["epsilon"], r["seed"]) != key] + [record]
                write_json("ablation_adult", {"records": records})
    from tables import ablation

    print("\nAdult TSTR and workload TVD when steps lose their noise (NOT DP)\n")
    print(ablation())


if __name__ == "__main__":
    main()
