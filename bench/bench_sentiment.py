"""DP synthetic tweets with a sentiment label (VADER's rated tweets) on the embedded model.

Run: python bench/bench_sentiment.py --baseline                       # majority, real 100/300/600, zero-privacy
     python bench/bench_sentiment.py --methods pe,pe_model --seeds 0,1,2 --eps 4
     python bench/tables.py --update

The corpus, its split and the real-text rows are those of ``bench_sentiment_baselines.py``
(vaderSentiment 3.3.2 sdist, MIT; tweets with |mean rating| >= 0.5; a fixed stratified test
set of 1,000 texts). Each DP run fits on 600 private tweets (seed s's draw from the training
pool) and writes 500; utility is TSTR: TF-IDF + LogisticRegression on the synthetic tweets,
accuracy on the 1,000 real test tweets. Every method but ``auto`` uses the public header
template ``TEMPLATE``; ``auto`` is a user's default fit (no template: the fit chooses a kind
of document by DP vote; no response cache, so its minutes are a first run's). The
zero-privacy row writes as many tweets under the label header alone, half per class
(without private data the class shares are unknown).
Results go to bench/results/<--out>.json after every run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

from sklearn.metrics import accuracy_score

from _common import RESULTS, print_table, timed_text_release, write_json
from bench_sentiment_baselines import SIZES, draw, load_sentiment, split, tfidf_lr
from sk_safesynth import DPSyntheticSampler
from sk_safesynth.llm import DEFAULT_MODEL, LLMClient
from sk_safesynth.synth import TextNoisyICL, TextPrivateEvolution
from sk_safesynth.synth.documents import public_documents

TEMPLATE = 'A {label} tweet: "'
LABELS = ["negative", "positive"]
MAX_TOKENS = 40
MAX_LENGTH = 280
CACHE = Path(tempfile.gettempdir()) / "sksafesynth-bench-sentiment-cache"


def methods(population: int) -> dict:
    common = dict(population_size=population, template=TEMPLATE, max_tokens=MAX_TOKENS)
    return {
        "auto": "auto",  # a user's default fit: no template (the fit chooses a kind of document)
        "pe": TextPrivateEvolution(**common),
        "pe_model": TextPrivateEvolution(embedding="model", **common),
        "pe_model_kw": TextPrivateEvolution(embedding="model", keywords=4, **common),
        "icl_model": TextNoisyICL(embedding="model", **common),
    }


def accuracy(texts, labels, test) -> float:
    return float(accuracy_score(test["label"], tfidf_lr().fit(list(texts), list(labels)).predict(test["text"])))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eps", default="4")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="pe,pe_model")
    parser.add_argument("--n", type=int, default=500, help="synthetic tweets per run")
    parser.add_argument("--private", type=int, default=600, help="private tweets per run")
    parser.add_argument("--population", type=int, default=400)
    parser.add_argument("--baseline", action="store_true", help="add the majority, real and zero-privacy rows")
    parser.add_argument("--out", default="sentiment")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    pool, test = split(load_sentiment("tweets"))
    path = RESULTS / f"{args.out}.json"
    results = json.loads(path.read_text())["results"] if path.exists() else []
    done = {(r["method"], str(r["epsilon"]), str(r["seed"]), r["n_train"]) for r in results}

    def record(row: dict) -> None:
        results.append(row)
        print({k: v for k, v in row.items() if k != "example"}, flush=True)
        write_json(args.out, {"results": results, "template": TEMPLATE, "max_tokens": MAX_TOKENS,
                              "population": args.population, "private": args.private, "test": len(test)})

    if args.baseline and ("majority", "inf", "-", len(pool)) not in done:
        majority = pool["label"].value_counts().idxmax()
        record({"method": "majority", "epsilon": "inf", "seed": "-", "n_train": len(pool),
                "accuracy": float((test["label"] == majority).mean())})
        for seed in map(int, args.seeds.split(",")):
            for n in SIZES:
                train = draw(pool, n, seed)
                record({"method": "real", "epsilon": "inf", "seed": seed, "n_train": n,
                        "accuracy": accuracy(train["text"], train["label"], test)})
    for seed in map(int, args.seeds.split(",")) if args.baseline else ():
        if ("zero-privacy", "inf", str(seed), args.n) in done:
            continue
        client = LLMClient(DEFAULT_MODEL, cache_dir=str(CACHE))
        start = time.perf_counter()
        # seed 1000 + s: calls of its own, apart from the DP runs' public populations
        texts = public_documents(client, TEMPLATE, [{"label": label} for label in LABELS], -(-args.n // 2),
                                 max_tokens=MAX_TOKENS, seed=1000 + seed, max_length=MAX_LENGTH)
        record({"method": "zero-privacy", "epsilon": "inf", "seed": seed, "n_train": sum(map(len, texts)),
                "accuracy": accuracy([t for group in texts for t in group],
                                     [label for label, group in zip(LABELS, texts) for _ in group], test),
                "seconds": round(time.perf_counter() - start, 1), "example": texts[1][0][:200]})
    for name in filter(None, args.methods.split(",")):
        for epsilon in map(float, args.eps.split(",")):
            for seed in map(int, args.seeds.split(",")):
                if (name, str(epsilon), str(seed), args.n) in done:
                    continue
                private = draw(pool, args.private, seed)
                sampler = DPSyntheticSampler(epsilon=epsilon, method=methods(args.population)[name],
                                             categories={"label": LABELS}, kinds={"text": "text"}, missing=False,
                                             n_samples=args.n, random_state=seed,
                                             cache_dir=None if name == "auto" else str(CACHE))
                X_syn, y_syn, stats = timed_text_release(sampler, private[["text"]], private["label"])
                record({"method": name, "epsilon": epsilon, "seed": seed, "n_train": len(X_syn),
                        "accuracy": accuracy(X_syn["text"], y_syn, test), **stats})
    print_table([{k: v for k, v in r.items() if k not in ("example", "class_shares")} for r in results],
                "Sentiment (tweets): TSTR accuracy of TF-IDF + LogisticRegression on 1,000 real test tweets")


if __name__ == "__main__":
    main()
