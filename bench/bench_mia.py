"""Benchmark: membership attacks on Adult-sized data (50,000 x 15, mixed types).

Members, non-members and synthetic rows are each 50,000 rows resampled from the UCI
Adult training split with small noise on the numerics; the synthetic set is half
noisy copies of members and half fresh resamples, so the attacks have something to
find. Each attack runs in its own subprocess so its peak resident memory
(``ru_maxrss``) is measured alone. Prints a table and writes ``bench/results/mia.json``.

Run: ``python bench/bench_mia.py [--rows 50000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult_train.csv"
RESULTS = Path(__file__).resolve().parent / "results" / "mia.json"
ATTACKS = ["dcr", "density", "classifier", "all"]


def make_frames(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Members, synthetic and non-member frames of ``n_rows`` rows each."""
    rng = np.random.default_rng(seed)
    adult = pd.read_csv(DATA, skipinitialspace=True)
    categorical = adult.select_dtypes(exclude="number").columns
    adult[categorical] = adult[categorical].fillna("?")  # the attacks refuse NaN
    numeric = adult.select_dtypes("number").columns

    def resample(frame: pd.DataFrame, n: int) -> pd.DataFrame:
        out = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
        noise = rng.normal(0.0, 0.05, (n, len(numeric))) * adult[numeric].std().to_numpy()
        out[numeric] = out[numeric].to_numpy(dtype=float) + noise
        return out

    members = resample(adult, n_rows)
    non_members = resample(adult, n_rows)
    half = n_rows // 2
    synthetic = pd.concat(
        [resample(members, half), resample(adult, n_rows - half)], ignore_index=True
    )
    return members, synthetic, non_members


def run_one(attack: str, n_rows: int) -> dict:
    """Time one attack in this process and report its peak memory."""
    from sk_safesynth.mia import MIAScorer

    members, synthetic, non_members = make_frames(n_rows)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = MIAScorer(attack, random_state=0).evaluate(
        members, synthetic, non_members, privacy=(4.0, 1e-5)
    )
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "attack": attack,
        "winner": result.attack,
        "rows": n_rows,
        "columns": members.shape[1],
        "n_members": result.n_members,
        "n_non_members": result.n_non_members,
        "n_reference": result.n_reference,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_before_mib": round(rss_before / 1024, 1),
        "auc": round(result.auc, 4),
        "auc_ci": [round(v, 4) for v in result.auc_ci],
        "advantage": round(result.advantage, 4),
        "tpr_at_fpr_0.001": round(result.tpr_at_fpr[0.001], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--one", choices=ATTACKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rows)))
        return
    rows = []
    for attack in ATTACKS:
        out = subprocess.run(
            [sys.executable, __file__, "--one", attack, "--rows", str(args.rows)],
            check=True, capture_output=True, text=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "results": rows}
    RESULTS.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
