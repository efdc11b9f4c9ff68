"""DP text methods, document-style prompts and noisy_icl amplification, on the fake LLM."""

from __future__ import annotations

import json
import math
import pickle
import re

import dp_accounting
import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler, NoisyICL, TextNoisyICL, TextPrivateEvolution
from sk_safesynth.llm import GenerationTask, LLMClient, capture_prompts
from sk_safesynth.llm.testing import FAKE_MODEL, current_fake
from sk_safesynth.privacy import PrivacyLedger, make_generator
from sk_safesynth.privacy.ledger import SampledRowsDpEvent
from sk_safesynth.schema import ColumnSpec, TableSchema
from sk_safesynth.synth import Marginals, PrivateEvolution, resolve_method
from sk_safesynth.synth.text_methods import _joined
from sk_safesynth.synth.documents import (
    clear_document_cache,
    dp_keywords,
    header,
    opening,
    public_vocabulary,
    stop_sequences,
)
from sk_safesynth.synth.noisy_icl import amplified_budget

pytestmark = pytest.mark.usefixtures("fresh_fake_llm")

CANARY = "ZEBRACANARY"
TOPICS = {
    "sport": "match team goal league coach season striker",
    "money": "shares profit bank market investor growth economy",
}
TEMPLATE = "Daily News > {label}\n\nHeadline:"


@pytest.fixture(autouse=True)
def _no_memoised_documents():
    clear_document_cache()
    yield
    clear_document_cache()


def _news(n_per=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for label, words in TOPICS.items():
        vocabulary = words.split()
        for _ in range(n_per):
            rows.append({"text": " ".join(rng.choice(vocabulary, 25)) + " plain common words here", "label": label})
    frame = pd.DataFrame(rows)
    frame.loc[0, "text"] = f"{CANARY} secret patient record {CANARY} " + frame.loc[0, "text"]
    return frame[["text"]], frame["label"]


def _text_sampler(method, **params):
    return DPSyntheticSampler(FAKE_MODEL, epsilon=params.pop("epsilon", 2.0), method=method,
                              categories={"label": sorted(TOPICS)}, random_state=0,
                              **{"kinds": {"text": "text"}, "missing": False, **params})


@pytest.mark.parametrize("method", [TextPrivateEvolution(population_size=8, keywords=3, template=TEMPLATE),
                                    TextNoisyICL(population_size=8, n_shots=2, keywords=3, template=TEMPLATE),
                                    TextPrivateEvolution(population_size=6, n_rounds=3)])
def test_text_methods_spend_the_budget_and_never_show_private_text(method):
    X, y = _news()
    sampler = _text_sampler(method)
    with capture_prompts() as prompts:
        X_syn, y_syn = sampler.set_params(n_samples=30).fit_resample(X, y)
    assert len(X_syn) == 30 and set(y_syn) <= set(TOPICS)
    assert 2.0 - 1e-6 <= sampler.privacy_spent_.epsilon <= 2.0  # the whole budget, never more
    assert sampler.privacy_spent_.mu is None  # discrete Gaussian votes: accounted by their exact PLD
    n_rounds = getattr(method, "n_rounds", 1)
    labels = [entry.label for entry in sampler.ledger_.entries]
    assert sum(label.startswith("Private Evolution vote") for label in labels) == n_rounds
    assert sum(label.startswith("document kind vote") for label in labels) == (method.template is None)
    assert sum(label.startswith("group counts") for label in labels) == 1  # two topics: the sample's shares
    assert sum("keyword" in label for label in labels) == (1 if method.keywords else 0)
    everything = "\n".join(prompts) + X_syn["text"].str.cat(sep="\n")
    assert CANARY not in everything and "secret patient record" not in everything
    assert CANARY.encode() not in pickle.dumps(sampler)
    if method.template:
        assert all("Headline:" in p for p in prompts)


def test_keywords_and_shares_carry_the_private_signal():
    """At a large epsilon the DP keywords are each group's own words, and shares follow the data."""
    X, y = _news(n_per=80)
    y = pd.Series(np.where(np.arange(len(y)) < 40, y, "money"), name="label")  # 40 sport, 120 money
    vocabulary = sorted({w for words in TOPICS.values() for w in words.split()} | {"plain", "common", "words"})
    ledger = PrivacyLedger(100.0, 1e-5)
    codes = (y == "sport").to_numpy().astype(int)  # 0: money, 1: sport
    words = dp_keywords(X["text"], codes, 2, vocabulary, ledger, sigma=0.5, rng=make_generator(0))
    assert set(words[1][0][:5]) <= set(TOPICS["sport"].split())
    assert set(words[0][0][:5]) <= set(TOPICS["money"].split())
    for group_words, weights in words:  # words common to both groups rank after every topic word
        if "plain" in group_words:
            assert weights[group_words.index("plain")] < weights[:7].min()
    assert words[1][1].sum() == pytest.approx(1.0)
    sampler = _text_sampler(TextPrivateEvolution(population_size=8, template=TEMPLATE), epsilon=20.0)
    sampler.fit(X, y)
    shares = dict(zip([g["label"] for g in sampler.method_.groups_], sampler.method_.group_shares_))
    assert shares["money"] == pytest.approx(0.75, abs=0.05)


def test_public_vocabulary_prefers_each_groups_own_words():
    """Words every group uses ("said") carry no topic and are left out; a group's own words rank first."""
    groups = [["Goal for the team, he said", "A late goal wins the match, he said", "The team said"],
              ["Bank profit rises, she said", "The bank said profit fell", "Markets said"]]
    words = public_vocabulary(groups, 4, exclude="Daily News")
    assert set(words) == {"goal", "team", "bank", "profit"}
    assert "said" not in public_vocabulary(groups, 100)
    assert public_vocabulary([["said said", "said it", "a match"]], 1) == ["said"]  # one group: frequency
    assert public_vocabulary([[], ["!!"]], 10) == []
    ledger = PrivacyLedger(100.0, 1e-5)  # no vocabulary: no keywords, and the planned spend is still recorded
    words = dp_keywords(pd.Series(["a b"]), np.zeros(1, dtype=int), 2, [], ledger, 1.0, make_generator(0))
    assert [w for w, _ in words] == [[], []] and len(ledger.entries) == 1


def test_keywords_of_pure_noise_are_rare():
    """No private text has any vocabulary word: the family-wise gate lets no noise word through
    in 95% of releases (a fixed 3-sigma gate would pass about 1.35 words per 1,000 cells)."""
    texts = pd.Series(["zz qq"] * 200)
    vocabulary = [f"word{i}" for i in range(1000)]
    empty = 0
    for seed in range(40):
        ledger = PrivacyLedger(1e6, 1e-5)
        words = dp_keywords(texts, np.arange(200) % 5, 5, vocabulary, ledger, sigma=1.0, rng=make_generator(seed))
        empty += all(len(group_words) == 0 for group_words, _ in words)
    # P(all empty) >= 0.95 per release; 40 releases: at least 34 with probability > 0.99
    assert empty >= 34


def test_noisy_icl_text_shows_dp_selected_documents_of_the_same_group():
    X, y = _news()
    method = TextNoisyICL(population_size=8, n_shots=2, template=TEMPLATE, reuse_population=False)
    sampler = _text_sampler(method, epsilon=30.0).fit(X, y)
    population = dict(zip([g["label"] for g in sampler.method_.groups_], sampler.method_.population_))
    with capture_prompts() as prompts:
        out = sampler.sample(10)
    assert len(prompts) == 10
    for prompt in prompts:
        label = prompt.rsplit("Daily News > ", 1)[1].split("\n", 1)[0]
        shown = [text for texts in population.values() for text in texts if text in prompt]
        assert len(shown) == 2 and all(text in population[label] for text in shown)
        assert prompt.count("---") == 2
    assert set(out["label"]) <= set(TOPICS)


def test_sample_starts_with_the_final_population_and_writes_only_the_rest():
    X, y = _news()
    method = TextPrivateEvolution(population_size=10, template=TEMPLATE)
    sampler = _text_sampler(method, epsilon=30.0).fit(X, y)
    fitted = sampler.method_
    population = {g["label"]: texts for g, texts in zip(fitted.groups_, fitted.population_)}
    with capture_prompts() as prompts:
        out = sampler.sample(25)
    reused = [(label, text) for label, text in zip(out["label"], out["text"]) if text in population[label]]
    assert len(reused) == 10  # the whole population (2 per group), each under its own label
    assert len(prompts) == 15  # only the other rows were written
    with capture_prompts() as prompts:
        few = sampler.sample(5)
    assert prompts == []  # the population covers a small sample
    for g, group in enumerate(fitted.groups_):  # each group's k best-voted documents
        texts = list(few["text"][few["label"] == group["label"]])
        best = np.argsort(-fitted.weights_[g], kind="stable")[: len(texts)]
        assert sorted(texts) == sorted(fitted.population_[g][i] for i in best)
    with capture_prompts() as prompts:
        sampler.set_params(method__reuse_population=False).fit(X, y).sample(5)
    assert sum("Headline:" in p for p in prompts) >= 5


def test_text_methods_write_at_their_temperature():
    X, y = _news()
    for temperature, client_temperature, sent in [(0.6, 1.0, 0.6), (None, 0.4, 0.4)]:
        fake = current_fake()
        fake.requests.clear()
        _text_sampler(TextPrivateEvolution(population_size=6, template=TEMPLATE, temperature=temperature),
                      llm_kwargs={"temperature": client_temperature}).fit(X, y).sample(12)
        assert fake.requests and {r["params"]["temperature"] for r in fake.requests} == {sent}
    with pytest.raises(ValueError, match="temperature"):
        _text_sampler(TextPrivateEvolution(temperature="hot")).fit(X, y)


def test_text_methods_refuse_tables_they_cannot_write():
    X, y = _news(10)
    X = X.assign(age=np.arange(len(X)))
    with pytest.raises(ValueError, match="one text column with categorical"):
        _text_sampler(TextPrivateEvolution(), bounds={"age": (0, 200)}).fit(X, y)
    with pytest.raises(ValueError, match="placeholders"):
        _text_sampler(TextPrivateEvolution(template="News about {topic}")).fit(*_news(10))


def test_names_resolve_to_text_methods_on_text_tables():
    text = TableSchema((ColumnSpec("label", "categorical"), ColumnSpec("text", "text")))
    table = TableSchema((ColumnSpec("age", "integer", 0, 99), ColumnSpec("text", "text")))
    assert isinstance(resolve_method("private_evolution", text), TextPrivateEvolution)
    assert isinstance(resolve_method("noisy_icl", text), TextNoisyICL)
    assert isinstance(resolve_method("auto", text), TextPrivateEvolution)
    assert isinstance(resolve_method("auto", table), Marginals)
    assert isinstance(resolve_method("private_evolution", table), PrivateEvolution)
    mine = TextNoisyICL(n_shots=4)
    resolved = resolve_method(mine, text)
    assert resolved is not mine and resolved.get_params() == mine.get_params()


def test_headers_and_openings():
    assert header(TEMPLATE, {"label": "sport"}) == "Daily News > sport\n\nHeadline:"
    assert header(TEMPLATE, {"label": "sport"}, ["goal", "coach"]).startswith("Keywords: goal, coach\n")
    assert header("{label} | {keywords}:", {"label": "x"}, ["a"]) == "x | a:"
    assert "\nDaily News >" in stop_sequences(TEMPLATE)
    lines = stop_sequences("Sentiment: {label}\nTweet:")
    assert "\nSentiment:" in lines and "\nTweet:" in lines and '"' not in lines
    assert {'"', "\u201d"} <= set(stop_sequences('A {label} tweet: "'))
    assert _joined('A positive tweet: "', "I love") == 'A positive tweet: "I love'
    assert _joined("Daily News > sport\n\nHeadline:", "Cup final") == "Daily News > sport\n\nHeadline: Cup final"
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen"
    start = opening(text, np.random.default_rng(0), low=6, high=6)
    assert start == "one two three four five six"


def test_document_style_rows_follow_the_demonstrations():
    schema = TableSchema((ColumnSpec("age", "integer", 0, 99), ColumnSpec("city", "categorical",
                                                                          categories=("Paris", "Lyon", "Nice"))))
    examples = pd.DataFrame({"age": [77, 77, 77], "city": ["Nice", "Nice", "Nice"]})
    client = LLMClient(FAKE_MODEL, prompt_style="document")
    with capture_prompts() as prompts:
        rows = client.generate(schema, [GenerationTask(examples, 40)], seed=0).rows
    assert len(rows) == 40
    assert prompts[0].endswith('[77,"Nice"]\n') and prompts[0].startswith("# Data table")
    # The fake copies each value from a demonstration with probability 1/2.
    assert 0.3 < (rows["age"] == 77).mean() < 0.8 and 0.4 < (rows["city"] == "Nice").mean() < 0.9
    chat = LLMClient(FAKE_MODEL).generate(schema, [GenerationTask(None, 40)], seed=0).rows
    assert (chat["age"] == 77).mean() < 0.1


def test_client_writes_documents_and_retries_short_ones(monkeypatch):
    client = LLMClient(FAKE_MODEL, prompt_style="document")
    result = client.write(["Daily News > sport\n\nHeadline:"] * 3, max_tokens=40, n=2, seed=1, min_chars=10)
    assert [len(texts) for texts in result.texts] == [2, 2, 2]
    assert all(len(t) >= 10 for texts in result.texts for t in texts)
    assert result.n_calls == 3
    with pytest.raises(Exception, match="characters"):
        LLMClient(FAKE_MODEL, max_retries=1).write(["x"], max_tokens=5, min_chars=10_000)


def test_amplification_by_subsampling_is_accounted_exactly():
    eps, delta, q = 1.0, 1e-5, 2000 / 32561
    eps0, delta0 = amplified_budget(eps, delta, q)
    assert eps0 == pytest.approx(3.3667, abs=1e-3) and delta0 == pytest.approx(delta / q)
    assert math.log1p(q * math.expm1(eps0)) == pytest.approx(eps)
    laplace_row = dp_accounting.LaplaceDpEvent(1.0 / eps0)
    event = SampledRowsDpEvent(dp_accounting.SampledWithoutReplacementDpEvent(32561, 2000, laplace_row), 0.0)
    assert PrivacyLedger(eps, 0.0).spend(event, "demos").epsilon == pytest.approx(eps)
    with pytest.raises(Exception, match="beyond the budget"):
        PrivacyLedger(0.99, 0.0).spend(event, "demos")
    # no subsampling: the row events themselves
    assert amplified_budget(eps, delta, 1.0) == (eps, delta)


@pytest.mark.parametrize("mechanism, delta", [("laplace", 0.0), ("gaussian", 1e-5)])
def test_noisy_icl_gets_less_noise_from_a_small_subset(mechanism, delta):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.random(4000), "c": rng.choice(["a", "b"], 4000)})
    params = dict(bounds={"x": (0.0, 1.0)}, categories={"c": ["a", "b"]}, kinds={"x": "numeric"}, missing=False,
                  random_state=0, epsilon=1.0, delta=delta)
    small = DPSyntheticSampler(FAKE_MODEL, method=NoisyICL(mechanism=mechanism, max_demos=200), **params).fit(X)
    full = DPSyntheticSampler(FAKE_MODEL, method=NoisyICL(mechanism=mechanism, max_demos=4000), **params).fit(X)
    assert small.method_.sampling_rate_ == pytest.approx(0.05) and full.method_.sampling_rate_ == 1.0
    assert small.method_.row_epsilon_ > 3.5 * full.method_.row_epsilon_
    for sampler in (small, full):
        # the row epsilon is calibrated against the ledger: the whole budget, never more
        assert 1.0 * (1 - 1e-3) <= sampler.privacy_spent_.epsilon <= 1.0 * (1 + 1e-9)
        assert sampler.privacy_spent_.delta <= delta * (1 + 1e-9)
    assert len(small.method_.demonstrations_) == 200 and len(full.method_.demonstrations_) == 4000
    assert small.ledger_.entries[-1].event.sampling_rate == pytest.approx(0.05)


def test_cli_generates_a_text_table(tmp_path, capsys):
    from sk_safesynth.cli import main

    X, y = _news(30)
    X.assign(label=y).to_csv(tmp_path / "news.csv", index=False)
    (tmp_path / "categories.json").write_text(json.dumps({"label": sorted(TOPICS)}))
    code = main(["generate", str(tmp_path / "news.csv"), "--target", "label", "--out", str(tmp_path / "s.csv"),
                 "--llm", FAKE_MODEL, "--categories", str(tmp_path / "categories.json"), "--rows", "12",
                 "--template", "Daily News > {label}\\n\\nHeadline:", "--kinds", "text=text", "--seed", "0"])
    assert code == 0
    out = pd.read_csv(tmp_path / "s.csv")
    assert len(out) == 12 and set(out["label"]) <= set(TOPICS) and out["text"].str.len().gt(10).all()
    record = json.loads((tmp_path / "s.csv.privacy.json").read_text())
    assert record["method_class"] == "TextPrivateEvolution"
    assert record["method_params"]["template"] == TEMPLATE
    assert CANARY not in (tmp_path / "s.csv").read_text()


@pytest.mark.parametrize("style", ["chat", "document"])
def test_fake_obeys_hints_so_prompt_construction_is_tested(style):
    """The candidate pool asks for every class in turn: the hint must reach the prompt."""
    from sk_safesynth.synth.pool import schema_tasks

    schema = TableSchema((ColumnSpec("age", "integer", 0, 99),
                          ColumnSpec("income", "categorical", categories=("<=50K", ">50K"))))
    tasks = schema_tasks(schema, 40, 10, "income")
    result = LLMClient(FAKE_MODEL, prompt_style=style).generate(schema, tasks, seed=0)
    wanted = [">50K" if ">50K" in task.hint else "<=50K" for task in tasks for _ in range(task.n_rows)]
    assert result.rows["income"].tolist() == wanted


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(capsys):
    # logs and CI see a line at every tenth of the work, not carriage-return bars
    LLMClient(FAKE_MODEL, verbose=1).write(["Daily News > sport\n\nHeadline:"] * 20, max_tokens=20, seed=1)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("LLM texts:")]
    assert lines[0] == "LLM texts: 20 to write, at most 400 completion tokens before re-asks"  # before any call
    assert re.fullmatch(r"LLM texts: 20/20 \(in \d+ s\)", lines[-1]) and 3 <= len(lines) <= 12
    assert all(re.search(r"elapsed, about \d+ s left\)$", line) for line in lines[1:-1])
    LLMClient(FAKE_MODEL, verbose=0).write(["Daily News > sport\n\nHeadline:"] * 20, max_tokens=20, seed=1)
    assert "LLM texts" not in capsys.readouterr().err


def test_progress_estimates_minutes_from_the_models_pace_so_far(capsys, monkeypatch):
    from sk_safesynth.llm import progress

    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(progress.Progress, "_pace", {})
    with progress.Progress(10, 1, unit="text", max_tokens=1000, pace_key="m") as bar:
        now[0] = 300.0  # 1,000 bound tokens in 300 s
        bar.update(10)
    with progress.Progress(10, 1, unit="text", max_tokens=600, pace_key="m"):
        pass
    firsts = [line for line in capsys.readouterr().err.splitlines() if "to write" in line]
    assert firsts == ["LLM texts: 10 to write, at most 1,000 completion tokens before re-asks",
                      "LLM texts: 10 to write, at most 600 completion tokens before re-asks; "
                      "about 3.0 min at this model's pace so far"]


def test_a_text_that_starts_with_an_opening_counts_the_opening_toward_its_length():
    from types import SimpleNamespace

    from sk_safesynth.synth.documents import MIN_TEXT_CHARS, write_documents

    asked = []

    class Client:
        def write(self, prompts, *, min_chars, **kwargs):
            asked.append(min_chars)
            return SimpleNamespace(texts=[[" it!"] for _ in prompts])

    common = dict(max_tokens=8, seed=0, stop=[], max_length=None)
    texts = write_documents(Client(), ["p", "q"], openings=["Loved", "Worst film of the year"], **common)
    assert texts == ["Loved it!", "Worst film of the year it!"]
    assert write_documents(Client(), ["p"], **common) == ["it!"]
    # the shortest opening ("Loved" and a space) leaves MIN_TEXT_CHARS - 6 to the continuation
    assert asked == [MIN_TEXT_CHARS - 6, MIN_TEXT_CHARS]


def test_a_text_fit_without_a_template_chooses_a_kind_of_document_by_a_dp_vote():
    import warnings

    from sk_safesynth.synth.documents import DOCUMENT_KINDS, kind_template

    X, y = _news(n_per=10)
    with pytest.warns(UserWarning, match="public kinds of document by a DP vote"):
        sampler = _text_sampler(TextNoisyICL(population_size=5, n_shots=1)).fit(X, y)
    method = sampler.method_
    templates = [kind_template(kind, sampler.schema_) for kind in DOCUMENT_KINDS]
    assert method.template_ == templates[int(np.argmax(method.kind_votes_))]
    assert "{label}" in method.template_
    assert "document kind vote, round 1" in [e.label for e in sampler.ledger_.entries]
    assert sampler.privacy_spent_.epsilon == pytest.approx(2.0, rel=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        declared = _text_sampler(TextNoisyICL(population_size=5, n_shots=1, template=TEMPLATE)).fit(X, y)
    assert not [w for w in caught if "kinds of document" in str(w.message)]
    assert declared.method_.template_ == TEMPLATE and not hasattr(declared.method_, "kind_votes_")
    assert "document kind vote, round 1" not in [e.label for e in declared.ledger_.entries]


def test_kind_templates_fill_the_condition_columns_or_drop_the_frame():
    from sk_safesynth.schema import ColumnSpec, TableSchema
    from sk_safesynth.synth.documents import DOCUMENT_KINDS, kind_template

    text = ColumnSpec("text", "text")
    two = TableSchema((ColumnSpec("topic", "categorical", categories=("a",)),
                       ColumnSpec("mood", "categorical", categories=("b",)), text))
    alone = TableSchema((text,))
    assert kind_template("BBC News > {values}\n\nHeadline:", two) == "BBC News > {topic} / {mood}\n\nHeadline:"
    assert kind_template("BBC News > {values}\n\nHeadline:", alone) == "BBC News\n\nHeadline:"
    assert kind_template('A {values} tweet: "', alone) == 'A tweet: "'
    assert kind_template("Email ({values})\n\nSubject:", alone) == "Email\n\nSubject:"
    assert all("{" not in kind_template(kind, alone) for kind in DOCUMENT_KINDS)


def test_kind_documents_write_one_document_per_kind_and_group_in_two_batches():
    from types import SimpleNamespace

    from sk_safesynth.synth.documents import kind_documents

    calls = []

    class Client:
        temperature = 1.0

        def provider_identity(self):
            return "fake"

        def style(self):
            return "document"

        def write(self, prompts, *, stop, **kwargs):
            calls.append((list(prompts), list(stop)))
            return SimpleNamespace(texts=[[f" text for [{p}] long enough"] for p in prompts])

    templates = ["News > {label}\n\nHeadline:", 'A {label} tweet: "', "Forum > {label}\n\nPost:"]
    groups = [{"label": "a"}, {"label": "b"}]
    docs = kind_documents(Client(), templates, groups, max_tokens=8, seed=0, max_length=None)
    assert [[d.split("[")[1].split("]")[0] for d in texts] for texts in docs] == [
        ["News > a\n\nHeadline:", "News > b\n\nHeadline:"], ['A a tweet: "', 'A b tweet: "'],
        ["Forum > a\n\nPost:", "Forum > b\n\nPost:"]]
    (plain, plain_stops), (quoted, quoted_stops) = calls
    assert len(plain) == 4 and len(quoted) == 2
    assert {"\nHeadline:", "\nPost:"} <= set(plain_stops) and '"' not in plain_stops
    assert '"' in quoted_stops
    assert kind_documents(Client(), templates, groups, max_tokens=8, seed=0, max_length=None) == docs
    assert len(calls) == 2  # memoised
