"""News topics (BBC, 5 classes; the AGNews stand-in): TSTR accuracy of TF-IDF + LogisticRegression.

Run: python bench/bench_news.py [--eps 1,4,1e6] [--rows-per-class 5] [--seeds 0]

Data: ../shared/data/bbc_news.csv (research use; not redistributed in the package),
split 70/30 stratified. ``epsilon=1e6`` stands for "no privacy" (noise negligible).
The embedded 270M model writes every synthetic article (at most ``--max-chars``
characters); it is slow at long text on 2 cores, so few rows per class are
generated and the table says how many.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from _common import print_table, write_json
from sk_safesynth import DPSyntheticSampler

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc_news.csv"


def tfidf_lr():
    return make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=1), LogisticRegression(max_iter=2000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eps", default="1,4,1e6")
    parser.add_argument("--methods", default="noisy_icl,private_evolution")
    parser.add_argument("--rows-per-class", type=int, default=5)
    parser.add_argument("--max-chars", type=int, default=400)
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    news = pd.read_csv(DATA)
    train, test = train_test_split(news, test_size=0.3, stratify=news["label"], random_state=0)
    labels = sorted(news["label"].unique())
    results = []
    model = tfidf_lr().fit(train["text"], train["label"])
    results.append({"method": "real", "epsilon": "inf", "seed": "-", "n_train": len(train),
                    "accuracy": accuracy_score(test["label"], model.predict(test["text"])), "seconds": 0.0})
    print(results[-1], flush=True)
    n_rows = args.rows_per_class * len(labels)
    for method in args.methods.split(","):
        for epsilon in map(float, args.eps.split(",")):
            for seed in map(int, args.seeds.split(",")):
                start = time.perf_counter()
                sampler = DPSyntheticSampler(
                    epsilon=epsilon, method=method, categories={"label": labels}, kinds={"text": "text"},
                    n_samples=n_rows, population_size=n_rows, n_rounds=2, pool_size=n_rows, max_text_length=args.max_chars,
                    llm_kwargs={"max_rows_per_call": 2}, random_state=seed,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    X_syn, y_syn = sampler.fit_resample(train[["text"]], train["label"])
                accuracy = float("nan")
                if y_syn.nunique() > 1:
                    accuracy = accuracy_score(test["label"], tfidf_lr().fit(X_syn["text"], y_syn).predict(test["text"]))
                results.append({"method": method, "epsilon": "inf (1e6)" if epsilon >= 1e6 else epsilon,
                                "seed": seed, "n_train": len(X_syn), "accuracy": accuracy,
                                "seconds": round(time.perf_counter() - start, 1)})
                print(results[-1], flush=True)
    print_table(results, "BBC news topics: TSTR accuracy of TF-IDF + LogisticRegression on the real test split")
    write_json("news", {"results": results, "rows_per_class": args.rows_per_class})


if __name__ == "__main__":
    main()
