"""Text as documents: headers, public candidate documents, DP keywords and votes.

A base model writes good text when it continues a document, not when it answers a
request. Each synthetic text is therefore the continuation of a *header*: a public
template filled with the row's categorical values (declared or DP-released, e.g. the
label), optionally with DP-released keywords. ``"BBC News > {label}\\n\\nHeadline:"``
is such a template. A text method given none chooses one of :data:`DOCUMENT_KINDS`, public
kinds of document, by a DP vote of the private texts; :func:`default_template` writes
``"label: sports"`` lines for the rows of ``method="marginals"``, which reads no text.

Nothing private enters a header: the template is the user's public declaration, the
values are DP outputs or public categories, and the keywords come from the noisy
histogram of :func:`dp_keywords`.
"""

from __future__ import annotations

import math
import re
import string

import numpy as np
import pandas as pd
from scipy.sparse import diags, issparse
from scipy.stats import norm

from sk_safesynth.llm.cache import PublicMemo
from sk_safesynth.privacy import PrivacyLedger, discrete_gaussian, gaussian_event
from sk_safesynth.schema import TableSchema

# Continuations shorter than this are asked for again: a short tweet or review ("Loved
# every minute of it!") is a text, an empty quote or a stray word is not.
MIN_TEXT_CHARS = 20
_DOCUMENTS = PublicMemo("public documents")
# A header ending with one of these asks for one quoted text.
OPENING_QUOTES = ('"', "\u201c")
_WORD = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
# Chance that any word with no private count becomes a keyword (family-wise, see dp_keywords).
_KEYWORD_FALSE_POSITIVES = 0.05


def text_columns(schema: TableSchema) -> list[str]:
    return [c.name for c in schema if c.kind == "text"]


def condition_columns(schema: TableSchema) -> list[str]:
    """Columns whose values a header may show: categorical and boolean ones."""
    return [c.name for c in schema if c.kind in ("categorical", "boolean")]


#: Public kinds of document a text method without a template chooses among by a DP vote
#: (:class:`~sk_safesynth.synth.text_methods.TextPrivateEvolution`): common sources of text
#: data sets, each a header whose ``{values}`` stand for the row's condition values. A base
#: model continues a header that names a source in that source's voice; a bare
#: ``"label: sports"`` line names none, and the model writes lists and web-page debris.
DOCUMENT_KINDS = (
    "BBC News > {values}\n\nHeadline:",
    "Reuters > {values}\n\nHeadline:",
    "arXiv > {values}\n\nTitle:",
    "Forum > {values}\n\nPost:",
    "Blog > {values}\n\n",
    "Email ({values})\n\nSubject:",
    'A {values} tweet: "',
    'A {values} product review: "',
    'A {values} film review: "',
    'A {values} restaurant review: "',
)


def kind_template(kind: str, schema: TableSchema) -> str:
    """The header template of a :data:`DOCUMENT_KINDS` entry for ``schema``: ``{values}``
    becomes the condition columns' placeholders (``"{label}"``, ``"{topic} / {sentiment}"``),
    or nothing, with the punctuation that framed it, when the table has none."""
    values = " / ".join(f"{{{name}}}" for name in condition_columns(schema))
    if values:
        return kind.replace("{values}", values)
    return re.sub(r" (> |\()?\{values\}\)?", "", kind)


def default_template(schema: TableSchema, text_column: str) -> str:
    """``"Column: {column}"`` lines for the condition columns, then a blank line: the
    model continues with the text itself. Declare a template that names the kind of
    document (``"BBC News > {label}\n\nHeadline:"``) for much better text."""
    lines = [f"{name[:1].upper()}{name[1:]}: {{{name}}}" for name in condition_columns(schema)]
    return "\n".join(lines) + "\n\n" if lines else ""


def check_template(template: str, schema: TableSchema) -> list[str]:
    """Placeholders of ``template``; raise when one is not a condition column or ``keywords``."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not a valid format string: {exc}") from None
    allowed = {*condition_columns(schema), "keywords"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"template placeholders {unknown} are not categorical or boolean columns "
                         f"(allowed: {sorted(allowed)})")
    return fields


def header(template: str, values: dict, keywords: list[str] | None = None) -> str:
    """The document header for one row's condition ``values`` (and keywords)."""
    fields = {**{k: str(v) for k, v in values.items()}, "keywords": ", ".join(keywords or [])}
    text = template.format_map(fields)
    if keywords and "{keywords}" not in template:
        text = f"Keywords: {fields['keywords']}\n{text}"
    return text


def stop_sequences(template: str) -> list[str]:
    """Where a continuation has left its document.

    It has run into the next document when a line starts with one of the header's fixed
    line openings (``"Sentiment:"``, ``"Tweet:"``; four characters or more). A header that
    ends with an opening quote (``'A {label} tweet: "'``) asks for one quoted text, so
    its closing quote ends it: a base model then writes one short text in the header's
    voice instead of drifting into a web page.
    """
    stops = ["\n\n\n", "\n---"]
    for line in template.splitlines():
        fixed = line.split("{", 1)[0].strip()
        if len(fixed) >= 4 and "\n" + fixed not in stops:
            stops.append("\n" + fixed)
    if template.rstrip(" ").endswith(OPENING_QUOTES):
        stops += ['"', "\u201d"]
    return stops


def tidy(text: str, max_length: int | None) -> str:
    """A continuation as a text value: stripped, cut at ``max_length`` on a word boundary."""
    text = text.strip()
    if max_length is not None and len(text) > max_length:
        cut = text[:max_length]
        text = cut[: cut.rfind(" ")] if " " in cut else cut
    return text


def write_documents(client, prompts: list[str], *, max_tokens: int, seed: int, stop: list[str],
                    max_length: int | None, temperature: float | None = None,
                    openings: list[str] | None = None) -> list[str]:
    """One tidy text per prompt (at ``temperature``; None: the client's).

    With ``openings``, each prompt ends with its text's opening words and the text is the
    opening and its continuation; the continuation then need only bring the text to
    ``MIN_TEXT_CHARS`` (a continuation that closes a quote at once still makes a text).
    """
    starts = openings or [""] * len(prompts)
    min_chars = max(1, MIN_TEXT_CHARS - min((len(s) + 1 if s else 0 for s in starts), default=0))
    result = client.write(prompts, max_tokens=max_tokens, seed=seed, stop=stop, min_chars=min_chars,
                          temperature=temperature)
    return [tidy(f"{start} {texts[0].strip()}" if start else texts[0], max_length)
            for start, texts in zip(starts, result.texts)]


def public_documents(client, template: str, groups: list[dict], per_group: int, *, max_tokens: int, seed: int,
                     max_length: int | None, temperature: float | None = None) -> list[list[str]]:
    """``per_group`` documents written under each group's public header (no privacy cost).

    Memoised in-process (a bounded memo) by provider identity, temperature, template, groups and seed: folds and
    epsilons share it.
    """
    used = client.temperature if temperature is None else temperature
    key = repr((client.provider_identity(), used, client.style(), template, groups, per_group, max_tokens, seed))
    known = _DOCUMENTS.get(key)
    if known is not None:
        return [list(texts) for texts in known]
    # Round-robin order: the first k per group of a larger pool are the same calls (same
    # seeds) as a pool of k per group, so the response cache answers them.
    prompts = [header(template, values) for _ in range(per_group) for values in groups]
    texts = write_documents(client, prompts, max_tokens=max_tokens, seed=seed, stop=stop_sequences(template),
                            max_length=max_length, temperature=temperature)
    per_group_texts = [texts[g :: len(groups)] for g in range(len(groups))]
    _DOCUMENTS.put(key, per_group_texts)
    return [list(group) for group in per_group_texts]


def kind_documents(client, templates: list[str], groups: list[dict], *, max_tokens: int, seed: int,
                   max_length: int | None, temperature: float | None = None) -> list[list[str]]:
    """One public document per group under each of ``templates`` (``[template][group]``).

    Written as two batches, the headers that end with an opening quote and the others, each
    stopping at the union of its templates' stops: a model serving several requests at once
    then has them all at hand (ten kinds of five groups in ten calls left slots idle).
    Memoised like :func:`public_documents`.
    """
    used = client.temperature if temperature is None else temperature
    key = repr((client.provider_identity(), used, client.style(), templates, groups, max_tokens, seed, "kinds"))
    known = _DOCUMENTS.get(key)
    if known is not None:
        return [list(texts) for texts in known]
    out: list[list[str]] = [[] for _ in templates]
    quoted = [t.rstrip(" ").endswith(OPENING_QUOTES) for t in templates]
    for batch in (False, True):
        chosen = [k for k, q in enumerate(quoted) if q == batch]
        if not chosen:
            continue
        stops = list(dict.fromkeys(stop for k in chosen for stop in stop_sequences(templates[k])))
        prompts = [header(templates[k], values) for k in chosen for values in groups]
        texts = write_documents(client, prompts, max_tokens=max_tokens, seed=seed + batch, stop=stops,
                                max_length=max_length, temperature=temperature)
        for i, k in enumerate(chosen):
            out[k] = texts[i * len(groups):(i + 1) * len(groups)]
    _DOCUMENTS.put(key, out)
    return [list(texts) for texts in out]


clear_document_cache = _DOCUMENTS.clear


#: Embeddings the votes can use: hashed words, or the embedded model's sentence vectors.
EMBEDDINGS = ("hashing", "model")


def embed_documents(texts, embedding: str = "hashing"):
    """Data-independent embedding of ``texts`` (rows L2-normalised).

    ``"hashing"``: hashed unigrams and bigrams, English stop words out (sparse; fast;
    sees words and so topics). ``"model"``: the embedded model's mean-pooled sentence
    vectors (:mod:`sk_safesynth.llm.local_embedder`; dense; about 5 short texts a
    second here; sees what a text says, e.g. its sentiment). Neither map is fitted, so
    it is the same whatever the private texts are, and both run in-process: safe to
    apply to private text.
    """
    if embedding == "model":
        from sk_safesynth.llm.local_embedder import get_local_embedder

        return get_local_embedder().embed(texts)
    if embedding != "hashing":
        raise ValueError(f"embedding={embedding!r}: expected one of {EMBEDDINGS}")
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(n_features=2**16, stop_words="english", ngram_range=(1, 2), token_pattern=_WORD,
                                   alternate_sign=False, norm="l2", lowercase=True)
    return vectorizer.transform([str(t) for t in texts])


def nearest_documents(private, candidates) -> np.ndarray:
    """Index of each private vector's most similar candidate (cosine; rows are unit vectors)."""
    similarity = private @ candidates.T
    return np.asarray(similarity.toarray() if issparse(similarity) else similarity).argmax(axis=1)


def dp_keywords(texts: pd.Series, group_codes: np.ndarray, n_groups: int, vocabulary: list[str],
                ledger: PrivacyLedger, sigma: float, rng: np.random.Generator,
                top: int = 100) -> list[tuple[list[str], np.ndarray]]:
    """Per group, the words that most distinguish its private texts, with weights (DP).

    Mechanism: each private text contributes the unit-L2-norm indicator vector of the
    ``vocabulary`` words it contains (weight ``1/sqrt(k)`` on each of its ``k`` words)
    to its group's row of a (group × word) histogram. Replacing one text changes two
    non-negative unit vectors, so the histogram moves by at most ``sqrt(2)`` in L2
    norm: discrete Gaussian noise of standard deviation ``sigma`` makes the histogram a
    Gaussian mechanism with noise multiplier ``sigma / sqrt(2)``, recorded in ``ledger``.
    ``vocabulary`` must be public (e.g. the words of the public documents).

    Post-processing: a word is a keyword of group g when its noisy score exceeds
    ``z σ``, ``z`` the one-sided normal quantile of ``0.05 / (groups × words)``
    (Bonferroni: with probability 0.95 no word without a private count passes; a fixed
    ``3 σ`` let about seven noise words through among 5 × 1,000 at epsilon=1); keywords
    are ranked by how much larger their share of g's (noisy) mass is than their mean
    share in the other groups, and weighted by that margin.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    sensitivity = math.sqrt(2.0)
    ledger.spend(gaussian_event(sigma, sensitivity), f"keyword histogram ({len(vocabulary)} words)")
    if not vocabulary:  # public documents without a usable word: the budget was planned, nothing to show
        return [([], np.empty(0))] * n_groups
    vectorizer = CountVectorizer(vocabulary=vocabulary, binary=True, token_pattern=_WORD, lowercase=True)
    counts = vectorizer.transform([str(t) for t in texts]).tocsr()
    # Integer arithmetic on a 2**-16 lattice: each text adds floor(2**16 / sqrt(k)) to
    # each of its k words, so its vector has norm <= 1 exactly (flooring never rounds
    # up), and discrete Gaussian noise of sigma * 2**16 on the integer table adds noise
    # sigma on the unscaled one.
    scale = 2**16
    per_text = np.maximum(np.diff(counts.indptr), 1)
    weighted = diags(np.floor(scale / np.sqrt(per_text))) @ counts.astype(np.float64)
    table = np.zeros((n_groups, len(vocabulary)))
    for g in range(n_groups):
        rows = group_codes == g
        if rows.any():
            table[g] = np.asarray(weighted[rows].sum(axis=0)).ravel()
    noisy = (table + discrete_gaussian(sigma * scale, table.shape, rng)) / scale
    words = np.asarray(vocabulary)
    # Relative frequencies, so that a large group does not own every common word.
    positive = np.clip(noisy, 0, None)
    relative = positive / np.maximum(positive.sum(axis=1, keepdims=True), 1e-12)
    threshold = float(norm.isf(_KEYWORD_FALSE_POSITIVES / noisy.size)) * sigma
    out = []
    for g in range(n_groups):
        others = (relative.sum(axis=0) - relative[g]) / max(n_groups - 1, 1)
        margin = relative[g] - others
        eligible = np.flatnonzero(noisy[g] > threshold)
        ranked = eligible[np.argsort(-margin[eligible])][:top]
        ranked = ranked[margin[ranked] > 0]
        weights = margin[ranked] / margin[ranked].sum() if len(ranked) else np.empty(0)
        out.append((list(words[ranked]), weights))
    return out


def public_vocabulary(groups: list[list[str]], size: int, exclude: str = "") -> list[str]:
    """Words of public documents, ``groups`` of them (e.g. one list per label), that say most about a group.

    With several groups, a word's score is its document frequency in the group that uses
    it most minus its mean frequency in the others, so that the DP keyword histogram
    spends each private text's unit of weight on topical words rather than on "said"
    or "year"; with one group, its frequency. Stop words and the words of ``exclude``
    (e.g. the headers) are left out. Public input only: this is free.
    """
    from sklearn.feature_extraction.text import CountVectorizer, ENGLISH_STOP_WORDS

    known = set(re.findall(_WORD, exclude.lower()))
    vectorizer = CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | known), binary=True, token_pattern=_WORD)
    documents = [text for texts in groups for text in texts]
    try:
        present = vectorizer.fit_transform(documents).tocsr()
    except ValueError:  # no word at all
        return []
    owner = np.repeat(np.arange(len(groups)), [len(texts) for texts in groups])
    frequency = np.vstack([np.asarray(present[owner == g].mean(axis=0)).ravel() if (owner == g).any()
                           else np.zeros(present.shape[1]) for g in range(len(groups))])
    if len(groups) > 1:
        top = frequency.max(axis=0)
        score = top - (frequency.sum(axis=0) - top) / (len(groups) - 1)
    else:
        score = frequency[0]
    words = vectorizer.get_feature_names_out()
    order = np.lexsort((words, -score))  # ties by word: the same vocabulary on every machine
    return [str(words[i]) for i in order[:size] if score[i] > 0]


def opening(text: str, rng: np.random.Generator, low: int = 3, high: int = 8) -> str:
    """The first few words of ``text`` (a random count in [low, high]): a variation's seed.

    A few words carry the winner's topic; more would copy its headline, and articles
    that share headlines teach a classifier less than distinct ones (docs/benchmarks.md).
    """
    words = re.split(r"(\s+)", text.strip())
    n_words = int(rng.integers(low, high + 1))
    return "".join(words[: 2 * n_words - 1])


def write_text(client, schema: TableSchema, rows: pd.DataFrame, *, seed: int, template: str | None = None,
               max_tokens: int | None = None) -> pd.DataFrame:
    """Add the schema's text columns to ``rows`` (which hold every other column).

    Each text is a document written under the header of its row's categorical
    values. ``rows`` must be DP outputs or public: those values appear in the prompts.
    """
    out = rows.copy()
    conditions = condition_columns(schema)
    for name in text_columns(schema):
        column = schema[name]
        used = template or default_template(schema, name)
        check_template(used, schema)
        values = out[conditions].to_dict("records") if conditions else [{}] * len(out)
        prompts = [header(used, v) for v in values]
        out[name] = write_documents(client, prompts, max_tokens=max_tokens or text_tokens(column.max_length),
                                    seed=seed, stop=stop_sequences(used), max_length=column.max_length)
    return out


def text_tokens(max_length: int | None) -> int:
    """Completion tokens for a text of at most ``max_length`` characters (~4 per token)."""
    return max(16, min(1024, (max_length or 1000) // 4))
