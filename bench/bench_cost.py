"""LLM cost of each method with the embedded model, and of a grid search over epsilon.

Run: python bench/bench_cost.py [--rows 60] [--pool 40]

1. Calls, tokens and wall time per 1,000 synthetic rows written by the embedded model
   (Gemma 3 270M on 2 cores), per method, measured on ``--rows`` rows and scaled.
   For ``marginals`` the LLM writes only the privacy-free candidate pool, whatever
   the number of rows sampled; its cost is given per pool row.
2. LLM calls of ``GridSearchCV(TrainOnSynthetic(...), 5 epsilons, cv=3)`` relative to
   one fit, for each method (target <= 1.2x for ``marginals``).
"""

from __future__ import annotations

import argparse
import time
import warnings

from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier

from _common import print_table, write_json
from sk_safesynth import DPSyntheticSampler, TrainOnSynthetic
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, load_adult
from sk_safesynth.llm import capture_prompts
from sk_safesynth.synth.pool import clear_pool_cache

NUMERIC = list(ADULT_BOUNDS)


def sampler(method: str, pool: int, **params) -> DPSyntheticSampler:
    defaults = dict(method=method, bounds=ADULT_BOUNDS, categories=ADULT_CATEGORIES, pool_size=pool,
                    population_size=pool, n_rounds=2, random_state=0)
    return DPSyntheticSampler(**{**defaults, **params})


def per_thousand_rows(method: str, rows: int, pool: int, X, y) -> dict:
    clear_pool_cache()
    start = time.perf_counter()
    fitted = sampler(method, pool).fit(X, y)
    fitted.sample(rows)
    seconds = time.perf_counter() - start
    usage = fitted.llm_usage_
    written = usage["rows"]
    scale = 1000 / written
    return {"method": method, "llm_rows_written": written, "calls_per_1k": usage["n_calls"] * scale,
            "prompt_tokens_per_1k": usage["prompt_tokens"] * scale,
            "completion_tokens_per_1k": usage["completion_tokens"] * scale,
            "invalid_rows_per_1k": usage["n_invalid"] * scale, "seconds_per_1k": seconds * scale}


def search_ratio(method: str, pool: int, X, y) -> dict:
    y01 = (y == ">50K").astype(int).rename("income")
    categories = {"income": [0, 1]}  # the numeric columns only: a fast downstream model
    model = TrainOnSynthetic(sampler(method, pool, categories=categories, n_samples=20),
                             DecisionTreeClassifier(max_depth=3))  # copes with one-class releases
    clear_pool_cache()
    with capture_prompts() as one:
        model.fit(X[NUMERIC], y01)
    clear_pool_cache()
    with capture_prompts() as search:
        GridSearchCV(model, {"sampler__epsilon": [0.3, 1, 3, 10, 30]}, cv=3, scoring="roc_auc").fit(X[NUMERIC], y01)
    return {"method": method, "calls_one_fit": len(one), "calls_search_5x3": len(search),
            "ratio": len(search) / max(len(one), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--pool", type=int, default=40)
    parser.add_argument("--methods", default="marginals,noisy_icl,private_evolution")
    args = parser.parse_args()
    X, y = load_adult(n_rows=600, return_X_y=True)
    cost, ratios = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in args.methods.split(","):
            cost.append(per_thousand_rows(method, args.rows, args.pool, X, y))
            print(cost[-1], flush=True)
            ratios.append(search_ratio(method, args.pool // 2, X, y))
            print(ratios[-1], flush=True)
    print_table(cost, "Embedded-model cost per 1,000 LLM-written rows (marginals: per pool row)")
    print_table(ratios, "LLM calls: GridSearchCV over 5 epsilons x 3 folds vs one fit")
    write_json("cost", {"per_thousand_rows": cost, "grid_search": ratios, "rows": args.rows, "pool": args.pool})


if __name__ == "__main__":
    main()
