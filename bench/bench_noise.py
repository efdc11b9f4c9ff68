"""Noise throughput: sk-safesynth's secure lattice noisers vs NumPy's float samplers.

Run: python bench/bench_noise.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _common import print_table, write_json
from sk_safesynth import GaussianNoiser, LaplaceNoiser


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    X = np.random.default_rng(0).uniform(0, 1, (args.rows, args.cols))
    rng = np.random.default_rng(1)
    rows = []
    numpy_laplace = best_of(lambda: X + rng.laplace(scale=1.0, size=X.shape), args.repeat)
    numpy_normal = best_of(lambda: X + rng.normal(scale=1.0, size=X.shape), args.repeat)
    rows.append({"sampler": "numpy rng.laplace (float, not secure)", "seconds": numpy_laplace, "vs_numpy": 1.0})
    rows.append({"sampler": "numpy rng.normal (float, not secure)", "seconds": numpy_normal, "vs_numpy": 1.0})
    for cls, ref in ((LaplaceNoiser, numpy_laplace), (GaussianNoiser, numpy_normal)):
        for seed, label in ((None, "AES-CTR CSPRNG"), (0, "seeded PCG64")):
            noiser = cls(epsilon=1.0, bounds=(0, 1), random_state=seed).fit(X[:10])
            seconds = best_of(lambda noiser=noiser: noiser.transform(X), args.repeat)
            rows.append({"sampler": f"{cls.__name__} ({label})", "seconds": seconds, "vs_numpy": seconds / ref})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from diffprivlib.mechanisms import Laplace

        mech = Laplace(epsilon=1.0, sensitivity=1.0)
        n = 100_000
        seconds = best_of(lambda: [mech.randomise(v) for v in X.ravel()[:n]], 1) * X.size / n
        rows.append({"sampler": "diffprivlib Laplace (per value, extrapolated)", "seconds": seconds,
                     "vs_numpy": seconds / numpy_laplace})
    except Exception as exc:  # diffprivlib does not import under scikit-learn >= 1.9
        rows.append({"sampler": f"diffprivlib: unavailable ({type(exc).__name__})", "seconds": float("nan"),
                     "vs_numpy": float("nan")})
    print_table(rows, f"Noise throughput, {args.rows:,} x {args.cols} float64 (best of {args.repeat})")
    write_json("noise", {"rows": args.rows, "cols": args.cols, "results": rows})


if __name__ == "__main__":
    main()
