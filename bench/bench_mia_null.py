"""MIA calibration under the null, and a copy of the members, on Adult.

Null: the "synthetic" rows are fresh real rows, independent of the members
(500 members, 500 released, 500 non-members per seed). An honest audit's 95%
advantage interval contains 0 in about 95% of the seeds and the mean advantage is
about 0; a release that copies the members is caught (AUC near 1).

    OMP_NUM_THREADS=1 python bench/bench_mia_null.py --seeds 50
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sk_safesynth.mia import MIAScorer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult_train.csv"


def null_frames(adult: pd.DataFrame, seed: int, n: int = 500):
    rows = adult.sample(3 * n, random_state=seed).reset_index(drop=True)
    return rows.iloc[:n], rows.iloc[n : 2 * n], rows.iloc[2 * n :]


def load_adult() -> pd.DataFrame:
    adult = pd.read_csv(DATA, skipinitialspace=True)
    categorical = adult.select_dtypes(exclude="number").columns
    adult[categorical] = adult[categorical].fillna("?")  # the attacks refuse NaN
    return adult


def run(seeds: int, attack: str = "all") -> dict:
    adult = load_adult()
    covered, advantages, aucs, seconds = 0, [], [], []
    for seed in range(seeds):
        members, released, non_members = null_frames(adult, seed)
        start = time.perf_counter()
        result = MIAScorer(attack, fpr_levels=(0.01,), random_state=seed).evaluate(members, released, non_members)
        seconds.append(time.perf_counter() - start)
        covered += result.advantage_ci[0] <= 0 <= result.advantage_ci[1]
        advantages.append(result.advantage)
        aucs.append(result.auc)
    members, _, non_members = null_frames(adult, 0)
    copy = MIAScorer(attack, fpr_levels=(0.01,), random_state=0).evaluate(members, members, non_members)
    return {"seeds": seeds, "coverage": covered / seeds, "mean_advantage": float(np.mean(advantages)),
            "max_auc": float(np.max(aucs)), "copy_auc": copy.auc, "mean_seconds": float(np.mean(seconds))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--attack", default="all")
    print(run(**vars(parser.parse_args())))
