"""DP text: Private Evolution for text (Aug-PE) and SafeSynthDP's demonstrations for text.

Both methods synthesise tables of categorical columns (the *groups*, e.g. a label)
and one text column, and share one fit:

0. **Kind of document (DP, only without a template).** The LLM writes one public
   document per group under each header of :data:`~sk_safesynth.synth.documents.
   DOCUMENT_KINDS` (news, abstracts, forum posts, tweets, reviews, ...); every private
   text votes for the nearest of its group's, and the kind with the most noisy votes
   becomes the fit's template (share ``_KIND_SHARE`` of the budget). Its documents start
   the population.
1. **Public population (free).** The LLM writes ``population_size`` documents, an
   equal share per group, each the continuation of the group's public header
   (:mod:`sk_safesynth.synth.documents`). Nothing private is involved, so the
   population is cached across folds, epsilons and methods.
2. **Keywords (optional, DP).** With ``keywords > 0`` a share ``keyword_share`` of the
   budget buys the noisy (group × word) histogram of :func:`~sk_safesynth.synth.
   documents.dp_keywords` over the public population's most topical words; headers then carry
   keywords drawn from each group's DP keyword list.
3. **Votes (DP).** Every private text votes for its nearest candidate of its own group
   in a data-independent embedding (hashed words, or the embedded model's sentence
   vectors with ``embedding="model"``); the histogram gets discrete Gaussian noise
   (:mod:`sk_safesynth.synth.votes`).
4. **Group counts (DP, with two groups or more).** The number of private texts per group,
   with discrete Gaussian noise: the groups' shares of every sample.

Every DP step moves a record's contribution by at most ``sqrt(2)`` in L2 norm
(replace-one). The keyword histogram (noise on a 2**-16 lattice) is accounted as a
Gaussian; the kind vote, the group counts and the votes are discrete Gaussian noise on two
moved counts per round, accounted exactly. One σ sets them all, in shares of ``μ²`` (the
currency that composes): the kind vote gets ``σ / sqrt(k)`` with ``k = _KIND_SHARE`` (0
with a template), the counts ``σ / sqrt(c)`` with ``c = _COUNT_SHARE`` (0 with one group),
the keywords ``σ / sqrt((1 - k - c) keyword_share)`` and each of the ``n_rounds`` votes
``σ * sqrt(n_rounds / ((1 - k - c) (1 - keyword_share)))``; σ is calibrated against the
ledger so the fit spends the budget it has left. Raw private text never
enters a prompt, an embedding call to a provider, or the fitted object.

:class:`TextPrivateEvolution` evolves the population: the winners of each round are
kept and varied (the LLM continues a winner's opening words under its header), and
``sample`` writes new variations of the final winners. :class:`TextNoisyICL` is the
seed paper's method on text: its noised demonstrations are DP-selected documents (the
winners of one vote), shown as in-context examples above a fresh header.
"""

from __future__ import annotations

import itertools
import math
import warnings
from numbers import Integral, Real

import dp_accounting
import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from sk_safesynth.privacy import gaussian_event
from sk_safesynth.synth.base import FitContext, GenerationMethod
from sk_safesynth.synth.documents import (
    check_template,
    condition_columns,
    DOCUMENT_KINDS,
    dp_keywords,
    EMBEDDINGS,
    embed_documents,
    header,
    kind_documents,
    kind_template,
    nearest_documents,
    opening,
    OPENING_QUOTES,
    public_documents,
    public_vocabulary,
    stop_sequences,
    text_columns,
    write_documents,
)
from sk_safesynth.synth.votes import VOTE_SENSITIVITY, as_probabilities, noisy_votes, vote_event

_MAX_GROUPS = 64
# Keyword vocabulary: this many topical public words per group (at least 300, at most 1,000).
_VOCABULARY_PER_GROUP = 60
_DEMO_SEPARATOR = "\n\n---\n\n"
# Share of mu^2 spent on choosing the kind of document when no template is declared: the vote of
# every private text among ten kinds has a wide margin (BBC, three draws of 400 texts, no noise: 85-100
# for the winner against at most 71).
_KIND_SHARE = 0.1
# Share of mu^2 spent on the groups' counts (the shares of the sample). Summing a group's noisy votes
# instead adds the noise of every candidate and a bias from clipping at zero (BBC, 400 texts, 40
# candidates a group: a standard deviation of about 20 on 80); TF-IDF + LogisticRegression trained on
# 100 texts follows those shares (0.507 with 24/16/25/18/17 texts a topic, 0.749 with 20 each).
_COUNT_SHARE = 0.05


class _DocumentMethod(GenerationMethod):
    """The shared fit of the text methods (module docstring, steps 1-3)."""

    for_text = True
    _parameter_constraints: dict = {
        "population_size": [Interval(Integral, 1, None, closed="left")],
        "keywords": [Interval(Integral, 0, None, closed="left")],
        "keyword_share": [Interval(Real, 0, 1, closed="neither")],
        "template": [None, str],
        "max_tokens": [Interval(Integral, 8, None, closed="left")],
        "temperature": [None, Interval(Real, 0, None, closed="left")],
        "reuse_population": ["boolean"],
        "embedding": [StrOptions(set(EMBEDDINGS))],
    }

    @property
    def n_vote_rounds(self) -> int:
        """Vote rounds of the fit (one; Private Evolution has ``n_rounds``)."""
        return 1

    def check_schema(self, schema) -> None:
        texts = text_columns(schema)
        others = [c.name for c in schema if c.kind not in ("text", "categorical", "boolean")]
        if len(texts) != 1 or others:
            raise ValueError(
                f"method={self.name!r} synthesises one text column with categorical or boolean columns; this table "
                f"has text columns {texts} and other columns {others}. Use method='marginals' (its text is written "
                "under the rows' categorical values) or declare kinds"
            )
        if self.template is not None:
            check_template(self.template, schema)

    # -- fit ----------------------------------------------------------------------------

    def _fit(self, context: FitContext) -> None:
        schema = context.schema
        self.text_column_ = text_columns(schema)[0]
        names = condition_columns(schema)
        levels = [list(schema[name].categories or ()) for name in names]
        self.groups_ = [dict(zip(names, combo)) for combo in itertools.product(*levels)]
        if len(self.groups_) > _MAX_GROUPS:
            raise ValueError(f"{len(self.groups_)} combinations of {names} are too many groups for method="
                             f"{self.name!r} (at most {_MAX_GROUPS}); declare fewer categories or drop a column")
        self.max_length_ = schema[self.text_column_].max_length
        codes = _group_codes(context.frame, names, levels)
        sigma_kind, sigma_counts, sigma_keywords, self.vote_sigma_ = self._noise(context.ledger)
        self.group_shares_ = np.ones(1)
        if len(self.groups_) > 1:
            counts = np.bincount(codes[codes >= 0], minlength=len(self.groups_))
            self.group_shares_ = as_probabilities(noisy_votes(counts, sigma_counts, 0.0, context.ledger, 0,
                                                              context.rng, what="group counts"))
        private = embed_documents(context.frame[self.text_column_], self.embedding)
        first: list[list[str]] = [[] for _ in self.groups_]
        self.template_ = self.template
        if self.template is None:
            self.template_, first = self._choose_kind(private, codes, sigma_kind, context)
        self.population_ = self._public_population(context, first)
        self.keywords_: list[tuple[list[str], np.ndarray]] = [([], np.empty(0))] * len(self.groups_)
        if self.keywords:
            size = min(1000, max(300, _VOCABULARY_PER_GROUP * len(self.groups_)))
            vocabulary = public_vocabulary(self.population_, size,
                                           exclude=" ".join(header(self.template_, g) for g in self.groups_))
            self.keywords_ = dp_keywords(context.frame[self.text_column_], codes, len(self.groups_), vocabulary,
                                         context.ledger, sigma_keywords, context.rng)
        for round_ in range(self.n_vote_rounds):
            scores = self._vote(private, codes, context, round_)
            if round_ < self.n_vote_rounds - 1:
                self.population_ = self._evolve(scores, context)
        self.weights_ = [as_probabilities(s) if len(s) else s for s in scores]

    def _choose_kind(self, private, codes: np.ndarray, sigma: float,
                     context: FitContext) -> tuple[str, list[list[str]]]:
        """The template of the :data:`DOCUMENT_KINDS` entry that the private texts vote for (step 0).

        Each private text votes for the nearest of its group's documents, one per kind;
        the (kind) histogram gets discrete Gaussian noise ``sigma``. Returns the winner's
        template and its documents (one per group), which start the population.
        """
        templates = [kind_template(kind, context.schema) for kind in DOCUMENT_KINDS]
        documents = kind_documents(context.client, templates, self.groups_, max_tokens=self.max_tokens,
                                   seed=context.public_seed, max_length=self.max_length_,
                                   temperature=self.temperature)
        votes = np.zeros(len(templates))
        for g in range(len(self.groups_)):
            rows = np.flatnonzero(codes == g)
            if len(rows):
                candidates = embed_documents([texts[g] for texts in documents], self.embedding)
                votes += np.bincount(nearest_documents(private[rows], candidates), minlength=len(templates))
        self.kind_votes_ = noisy_votes(votes, sigma, 0.0, context.ledger, 0, context.rng,
                                       what="document kind vote")
        best = int(np.argmax(self.kind_votes_))
        # Measured (docs/benchmarks.md, BBC news, 400 private, eps=4): a declared template that says
        # what the texts are still writes better text than the best public kind.
        warnings.warn(
            f"method={self.name!r} chose its header among {len(templates)} public kinds of document by a DP vote "
            "(template_, kind_votes_); a declared template that says what the texts are writes better text, "
            "e.g. template='BBC News > {label}\\n\\nHeadline:'",
            UserWarning, stacklevel=5,  # one frame deeper than _fit, which warned at 4: the same place
        )
        return templates[best], [[text] for text in documents[best]]

    def _public_population(self, context: FitContext, first: list[list[str]]) -> list[list[str]]:
        """``population_size`` public documents, an equal share per group, after the ``first`` ones."""
        per_group = max(1, math.ceil(self.population_size / len(self.groups_)))
        more = per_group - min(len(texts) for texts in first)
        if more <= 0:
            return [texts[:per_group] for texts in first]
        written = public_documents(context.client, self.template_, self.groups_, more, max_tokens=self.max_tokens,
                                   seed=context.public_seed + len(first[0]), max_length=self.max_length_,
                                   temperature=self.temperature)
        return [(texts + extra)[:per_group] for texts, extra in zip(first, written)]

    def _noise(self, ledger) -> tuple[float, float, float, float]:
        """Sigma of the kind vote, the group counts, the keyword histogram and each vote round
        (module docstring)."""
        kind = _KIND_SHARE if self.template is None else 0.0
        counts = _COUNT_SHARE if len(self.groups_) > 1 else 0.0
        rest = 1.0 - kind - counts
        keywords = rest * self.keyword_share if self.keywords else 0.0
        votes = rest - keywords

        def parts(sigma: float) -> tuple[float, float, float, float]:
            def of(share: float) -> float:
                return sigma / math.sqrt(share) if share else math.inf

            return of(kind), of(counts), of(keywords), sigma * math.sqrt(self.n_vote_rounds / votes)

        def event(sigma: float):
            sigma_kind, sigma_counts, sigma_keywords, sigma_votes = parts(sigma)
            # in the order the fit spends them: the composition is then the same sum
            events = [vote_event(s) for s, share in ((sigma_counts, counts), (sigma_kind, kind)) if share]
            if keywords:
                events.append(gaussian_event(sigma_keywords, VOTE_SENSITIVITY))
            return dp_accounting.ComposedDpEvent([*events, vote_event(sigma_votes, self.n_vote_rounds)])

        return parts(ledger.calibrate(event))

    def _vote(self, private, codes: np.ndarray, context: FitContext, round_: int) -> list[np.ndarray]:
        """Noisy votes of the private texts for the candidates of their own group."""
        sizes = [len(texts) for texts in self.population_]
        candidates = embed_documents([t for texts in self.population_ for t in texts], self.embedding)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        votes = np.zeros(offsets[-1])
        for g in range(len(self.groups_)):
            rows = np.flatnonzero(codes == g)
            if len(rows) and sizes[g]:
                choice = nearest_documents(private[rows], candidates[offsets[g] : offsets[g + 1]])
                votes[offsets[g] : offsets[g + 1]] = np.bincount(choice, minlength=sizes[g])
        scores = noisy_votes(votes, self.vote_sigma_, 0.0, context.ledger, round_, context.rng)
        return [scores[offsets[g] : offsets[g + 1]] for g in range(len(self.groups_))]

    def _evolve(self, scores: list[np.ndarray], context: FitContext) -> list[list[str]]:
        raise NotImplementedError

    # -- sample -------------------------------------------------------------------------

    def _sample(self, n: int, client, rng) -> pd.DataFrame:
        """``n`` rows: first the fit's final population, then new documents.

        The population is already written and already a DP output (public documents,
        weighted by noisy votes, and their variations), so with ``reuse_population``
        each group's share of the sample starts with its population, best-voted
        first; only the rest costs decoding.
        """
        groups = _allocate(n, self.group_shares_)
        texts: list[str | None] = [None] * n
        if self.reuse_population:
            for g in range(len(self.groups_)):
                rows = np.flatnonzero(groups == g)
                best = np.argsort(-self.weights_[g], kind="stable")[: len(rows)]
                for row, k in zip(rows.tolist(), best.tolist()):
                    texts[row] = self.population_[g][k]
        slots = [i for i in range(n) if texts[i] is None]
        prompts, openings = [], []
        for i in slots:
            prompt, start = self._prompt(int(groups[i]), rng)
            prompts.append(prompt)
            openings.append(start)
        written = write_documents(client, prompts, max_tokens=self.max_tokens, seed=int(rng.integers(0, 2**31 - 1)),
                                  stop=stop_sequences(self.template_), max_length=self.max_length_,
                                  temperature=self.temperature, openings=openings)
        for i, text in zip(slots, written):
            texts[i] = text
        order = rng.permutation(n)
        frame = pd.DataFrame([self.groups_[int(groups[i])] for i in order], index=range(n))
        frame[self.text_column_] = [texts[i] for i in order]
        return frame

    def _header(self, g: int, rng) -> str:
        words, weights = self.keywords_[g]
        chosen = None
        if self.keywords and len(words):
            k = min(self.keywords, len(words))
            chosen = list(rng.choice(np.asarray(words), size=k, replace=False, p=weights))
        return header(self.template_, self.groups_[g], chosen)

    def _winner(self, g: int, rng) -> str:
        """A document drawn by :func:`_tempered` weight, to be varied."""
        texts = self.population_[g]
        return texts[int(rng.choice(len(texts), p=_tempered(self.weights_[g])))]

    def _prompt(self, g: int, rng) -> tuple[str, str]:
        raise NotImplementedError


class TextPrivateEvolution(_DocumentMethod):
    """Private Evolution for text (Aug-PE, Xie et al. ICML 2024) on a base model.

    Parameters
    ----------
    population_size : int, default=200
        Candidate documents per round (an equal share per group).
    n_rounds : int, default=2
        Vote rounds; between two rounds the top half of each group (by noisy votes)
        is kept and the other half replaced by variations of the winners.
    keywords : int, default=0
        DP keywords shown in each header (0: none, and no budget spent on them).
    keyword_share : float, default=0.5
        Share of the budget (of ``μ²``; of what the kind vote and the group counts
        leave) spent on the keyword histogram when ``keywords > 0``.
    template : str or None, default=None
        Public header template, e.g. ``"BBC News > {label}\\n\\nHeadline:"``, with
        ``{column}`` placeholders for categorical columns (and ``{keywords}``).
        None: the fit chooses one of :data:`~sk_safesynth.synth.documents.DOCUMENT_KINDS`
        by a DP vote of the private texts (a tenth of ``μ²``; module docstring, step 0).
    max_tokens : int, default=100
        Completion tokens per document.
    temperature : float or None, default=None
        Sampling temperature of the documents (None: the client's, ``llm_kwargs``).
    reuse_population : bool, default=True
        Start each sample with the fit's final population (already written and DP),
        best-voted first, so that only the rest of the rows cost decoding. Two calls
        to ``sample`` then share those documents.
    embedding : {"hashing", "model"}, default="hashing"
        Where the private texts vote for their nearest candidate: hashed words (fast;
        sees topics) or the embedded model's sentence vectors (about 5 short texts a
        second here; sees what a text says, e.g. sentiment or stance). Both are fixed,
        in-process maps: nothing private leaves the process.

    Attributes
    ----------
    template_ : str
        The header template used: ``template``, or the kind of document the DP vote chose.
    kind_votes_ : ndarray
        Noisy votes of the kinds of document (only when ``template`` is None).
    population_ : list of list of str
        Final candidates per group (DP outputs).
    weights_ : list of ndarray
        Their noisy-vote weights.
    group_shares_ : ndarray
        DP share of each group, from its noisy count.
    groups_ : list of dict
        The groups' column values (public or DP domains).
    keywords_ : list of (list of str, ndarray)
        DP keywords and weights per group (empty when ``keywords=0``).
    vote_sigma_ : float
        Noise of each vote round.
    """

    name = "private_evolution"
    _parameter_constraints: dict = {
        **_DocumentMethod._parameter_constraints,
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, population_size=200, n_rounds=2, keywords=0, keyword_share=0.5, template=None,
                 max_tokens=100, temperature=None, reuse_population=True, embedding="hashing"):
        self.population_size = population_size
        self.n_rounds = n_rounds
        self.keywords = keywords
        self.keyword_share = keyword_share
        self.template = template
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.reuse_population = reuse_population
        self.embedding = embedding

    @property
    def n_vote_rounds(self) -> int:
        return self.n_rounds

    def _evolve(self, scores: list[np.ndarray], context: FitContext) -> list[list[str]]:
        """Per group: keep the top half by noisy votes; vary winners for the rest."""
        kept, prompts, starts, owners = [], [], [], []
        for g, (texts, score) in enumerate(zip(self.population_, scores)):
            order = np.argsort(-score, kind="stable")
            n_keep = max(1, len(texts) // 2)
            kept.append([texts[i] for i in order[:n_keep]])
            weights = _tempered(score[order[:n_keep]])
            for _ in range(len(texts) - n_keep):
                start = opening(kept[g][int(context.rng.choice(n_keep, p=weights))], context.rng)
                prompts.append(_joined(self._header(g, context.rng), start))
                starts.append(start)
                owners.append(g)
        written = write_documents(context.client, prompts, max_tokens=self.max_tokens,
                                  seed=int(context.rng.integers(0, 2**31 - 1)), stop=stop_sequences(self.template_),
                                  max_length=self.max_length_, temperature=self.temperature, openings=starts)
        for g, text in zip(owners, written):
            kept[g].append(text)
        return kept

    def _prompt(self, g: int, rng) -> tuple[str, str]:
        start = opening(self._winner(g, rng), rng)
        return _joined(self._header(g, rng), start), start


class TextNoisyICL(_DocumentMethod):
    """SafeSynthDP's noisy in-context demonstrations, for text.

    A private text cannot be noised into a readable demonstration, so the
    demonstrations are DP-*selected* documents: the public population, weighted by
    one round of noisy votes of the private texts (a Gaussian mechanism). Each prompt
    shows ``n_shots`` of them, drawn by weight from the group, as documents under
    their headers, then a fresh header that the model continues.

    Parameters
    ----------
    n_shots : int, default=3
        Demonstrations per prompt.
    population_size : int, default=200
        Public candidate documents (an equal share per group).
    keywords : int, default=0
        DP keywords shown in each new header (0: none).
    keyword_share : float, default=0.5
        Share of the budget (of ``μ²``; of what the kind vote and the group counts
        leave) spent on keywords when ``keywords > 0``.
    template : str or None, default=None
        Public header template (see :class:`TextPrivateEvolution`).
    max_tokens : int, default=100
        Completion tokens per document.
    temperature : float or None, default=None
        Sampling temperature of the documents (None: the client's, ``llm_kwargs``).
    reuse_population : bool, default=True
        As in :class:`TextPrivateEvolution` (the population is the public documents).
    embedding : {"hashing", "model"}, default="hashing"
        As in :class:`TextPrivateEvolution`.

    Attributes
    ----------
    template_, kind_votes_, population_, weights_, group_shares_, groups_, keywords_, vote_sigma_
        As in :class:`TextPrivateEvolution`.
    """

    name = "noisy_icl"
    _parameter_constraints: dict = {
        **_DocumentMethod._parameter_constraints,
        "n_shots": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_shots=3, population_size=200, keywords=0, keyword_share=0.5, template=None, max_tokens=100,
                 temperature=None, reuse_population=True, embedding="hashing"):
        self.n_shots = n_shots
        self.population_size = population_size
        self.keywords = keywords
        self.keyword_share = keyword_share
        self.template = template
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.reuse_population = reuse_population
        self.embedding = embedding

    def _prompt(self, g: int, rng) -> tuple[str, str]:
        texts = self.population_[g]
        k = min(self.n_shots, len(texts))
        chosen = rng.choice(len(texts), size=k, replace=False, p=_smoothed(self.weights_[g]))
        demos = [header(self.template_, self.groups_[g]) + " " + texts[i] for i in chosen]
        return _DEMO_SEPARATOR.join([*demos, self._header(g, rng)]), ""


def _joined(head: str, start: str) -> str:
    """A header continued by a winner's opening words (no space after a newline or an opening quote)."""
    return head + start if head.endswith((" ", "\n", *OPENING_QUOTES)) else f"{head} {start}"


def _tempered(scores: np.ndarray) -> np.ndarray:
    """Probabilities proportional to the square root of the noisy votes: variations of more
    distinct winners teach a classifier more than many copies of a few (one document near many
    private texts, a hub of the embedding, would otherwise seed most of a group's variations)."""
    return as_probabilities(np.sqrt(scores))


def _smoothed(weights: np.ndarray) -> np.ndarray:
    """Weights with no exact zeros, so ``choice`` without replacement always has enough items."""
    w = weights + 1e-9
    return w / w.sum()


def _group_codes(frame: pd.DataFrame, names: list[str], levels: list[list]) -> np.ndarray:
    """Index of each private row's group (-1 when a value is outside the public domain)."""
    if not names:
        return np.zeros(len(frame), dtype=np.int64)
    codes = np.zeros(len(frame), dtype=np.int64)
    for name, values in zip(names, levels):
        lookup = {v: i for i, v in enumerate(values)} | {str(v): i for i, v in enumerate(values)}
        column = np.array([lookup.get(v, lookup.get(str(v), -1)) for v in frame[name]])
        codes = np.where((codes < 0) | (column < 0), -1, codes * len(values) + column)
    return codes


def _allocate(n: int, shares: np.ndarray) -> np.ndarray:
    """``n`` group indices in the given shares (largest remainder), in group order."""
    exact = shares * n
    counts = np.floor(exact).astype(int)
    for g in np.argsort(-(exact - counts))[: n - counts.sum()]:
        counts[g] += 1
    return np.repeat(np.arange(len(shares)), counts)

