"""DP synthetic news articles (BBC, 5 topics; the AGNews stand-in) on the embedded model.

Run: python bench/bench_news.py [--eps 1,4] [--seeds 0,1,2] [--methods pe_kw,icl_kw] [--n 500] [--max-tokens 100]
     python bench/bench_news.py --throughput          # decode rate vs the raw model

Utility is TSTR: TF-IDF + LogisticRegression trained on the synthetic articles, accuracy
on the real held-out split (70/30 stratified, seed 0). Rows: ``real`` (trained on the
real training split), ``label-only`` (no privacy: articles written under the public
header alone, the zero-privacy prompt baseline) and each DP method. Every method uses
the public header template ``"BBC News > {label}\\n\\nHeadline:"`` and the same cached
public population. Data: ../shared/data/bbc_news.csv (research use; not shipped).
Results go to bench/results/<--out>.json after every run.

``--methods auto --private 400 --n 100`` is a user's default text fit: ``method="auto"``
with no template (the library's ``"Label: {label}"`` header), 400 private articles drawn
from the training split (stratified, the run's seed), 100 written, and no response cache,
so that its minutes are a first run's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from _common import RESULTS, print_table, timed_text_release, write_json
from sk_safesynth import DPSyntheticSampler
from sk_safesynth.llm import DEFAULT_MODEL, LLMClient
from sk_safesynth.synth import TextNoisyICL, TextPrivateEvolution
from sk_safesynth.synth.documents import header, public_documents

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc_news.csv"
TEMPLATE = "BBC News > {label}\n\nHeadline:"
CACHE = Path(tempfile.gettempdir()) / "sksafesynth-bench-news-cache"


def methods(population: int, max_tokens: int, rounds: int = 2, temperature: float | None = None) -> dict:
    common = dict(population_size=population, template=TEMPLATE, max_tokens=max_tokens, temperature=temperature)
    return {
        "auto": "auto",
        "pe": TextPrivateEvolution(n_rounds=rounds, **common),
        "pe_kw": TextPrivateEvolution(n_rounds=rounds, keywords=8, **common),
        "icl": TextNoisyICL(**common),
        "icl_kw": TextNoisyICL(keywords=8, **common),
    }


def tfidf_lr():
    return make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000))


def accuracy(texts, labels, test: pd.DataFrame) -> float:
    return float(accuracy_score(test["label"], tfidf_lr().fit(texts, labels).predict(test["text"])))


def throughput() -> None:
    """Completion tokens/s of ``LLMClient.write`` against llama.cpp decoding the same prompts raw."""
    from sk_safesynth.llm.local_model import get_local_model

    prompts = [TEMPLATE.format(label=label) for label in ("business", "sports", "tech", "politics")] * 5
    model = get_local_model()
    model.complete({"prompt": "warm up", "n_predict": 8})
    start, raw_tokens = time.perf_counter(), 0
    for i, prompt in enumerate(prompts):
        reply = model.complete({"prompt": prompt, "n_predict": 100, "temperature": 1.0, "seed": 10_000 + i})
        raw_tokens += reply["usage"]["completion_tokens"] if "usage" in reply else reply["tokens_predicted"]
    raw_seconds = time.perf_counter() - start
    raw = raw_tokens / raw_seconds
    client = LLMClient(DEFAULT_MODEL)
    start = time.perf_counter()
    result = client.write(prompts, max_tokens=100, seed=1, stop=["\n\n\n"])
    seconds = time.perf_counter() - start
    ours = result.completion_tokens / seconds
    rows = [{"what": "raw llama.cpp decode", "texts": len(prompts), "tokens/s": round(raw, 1),
             "texts/s": round(len(prompts) / raw_seconds, 3), "share of raw": 1.0},
            {"what": "LLMClient.write", "texts": len(prompts), "tokens/s": round(ours, 1),
             "texts/s": round(len(prompts) / seconds, 3), "share of raw": round(ours / raw, 3)}]
    print_table(rows, "Text generation throughput on the embedded model (one process)")
    write_json("news_throughput", {"results": rows})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eps", default="1,4")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="pe_kw,icl_kw")
    parser.add_argument("--n", type=int, default=500, help="synthetic articles per run")
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--private", type=int, default=0, help="private articles per run (0: the training split)")
    parser.add_argument("--max-tokens", type=int, default=100, help="completion tokens per article")
    parser.add_argument("--rounds", type=int, default=2, help="vote rounds of TextPrivateEvolution")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature of the articles")
    parser.add_argument("--baseline", action="store_true", help="add the real and label-only rows")
    parser.add_argument("--out", default="news")
    parser.add_argument("--throughput", action="store_true")
    args = parser.parse_args()
    temperature = LLMClient(DEFAULT_MODEL).temperature if args.temperature is None else args.temperature
    if args.throughput:
        throughput()
        return
    news = pd.read_csv(DATA)
    train, test = train_test_split(news, test_size=0.3, stratify=news["label"], random_state=0)
    labels = sorted(news["label"].unique())
    path = RESULTS / f"{args.out}.json"
    results = json.loads(path.read_text())["results"] if path.exists() else []
    done = {(r["method"], str(r["epsilon"]), str(r["seed"]), r["n_train"]) for r in results}

    def record(row: dict) -> None:
        results.append(row)
        print(row, flush=True)
        write_json(args.out, {"results": results, "n": args.n, "population": args.population,
                              "max_tokens": args.max_tokens, "rounds": args.rounds, "template": TEMPLATE})

    if args.baseline and not any(key[0] == "real" for key in done):
        record({"method": "real", "epsilon": "inf", "seed": "-", "n_train": len(train),
                "accuracy": accuracy(train["text"], train["label"], test), "seconds": 0.0})
    if args.baseline and ("label-only", "inf", "1", args.n) not in done:
        client = LLMClient(DEFAULT_MODEL, cache_dir=str(CACHE))
        per_class = -(-args.n // len(labels))
        start = time.perf_counter()
        # seed 1: its own calls, so that it can run beside a DP run that writes seed 0's population
        pool = public_documents(client, TEMPLATE, [{"label": label} for label in labels], per_class,
                                max_tokens=args.max_tokens, seed=1, max_length=1000, temperature=args.temperature)
        texts = [text for group in pool for text in group]
        y = [label for label, group in zip(labels, pool) for _ in group]
        record({"method": "label-only", "epsilon": "inf", "seed": "1", "n_train": len(texts),
                "accuracy": accuracy(texts, y, test), "seconds": round(time.perf_counter() - start, 1),
                "temperature": temperature,
                "example": header(TEMPLATE, {"label": labels[0]}) + " " + texts[0][:200]})
    for name in filter(None, args.methods.split(",")):
        for epsilon in map(float, args.eps.split(",")):
            for seed in map(int, args.seeds.split(",")):
                if (name, str(epsilon), str(seed), args.n) in done:
                    continue
                method = methods(args.population, args.max_tokens, args.rounds, args.temperature)[name]
                private = train
                if args.private:
                    private = train_test_split(train, train_size=args.private, stratify=train["label"],
                                               random_state=seed)[0]
                sampler = DPSyntheticSampler(epsilon=epsilon, method=method, categories={"label": labels},
                                             kinds={"text": "text"}, missing=False, n_samples=args.n,
                                             cache_dir=None if name == "auto" else str(CACHE), random_state=seed)
                X_syn, y_syn, stats = timed_text_release(sampler, private[["text"]], private["label"])
                record({"method": name, "epsilon": epsilon, "seed": seed, "n_train": len(X_syn),
                        "accuracy": accuracy(X_syn["text"], y_syn, test), **stats, "private": len(private),
                        "reuse_population": sampler.method_.reuse_population, "rounds": args.rounds,
                        "temperature": temperature})
    print_table([{k: v for k, v in r.items() if k not in ("example", "class_shares")} for r in results],
                "BBC news: TSTR accuracy of TF-IDF + LogisticRegression on the real test split")


if __name__ == "__main__":
    main()
