"""Fault injection: the sampler under a misbehaving LLM provider (fake, fast, seeded).

Every fault kind of :data:`sk_safesynth.llm.testing.FAULTS` is injected: transport
errors (timeouts, 429s, 500s) and bad answers (malformed or truncated JSON, wrong
types, out-of-range values, unknown categories, refusals). The draws are seeded by
the request, so these tests are deterministic.
"""


import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler, LLMGenerationError
from sk_safesynth.llm import GenerationTask, LLMClient
from sk_safesynth.llm import transport
from sk_safesynth.llm.prompts import parse_rows
from sk_safesynth.llm.testing import FAKE_MODEL, FAULTS, UNKNOWN_CATEGORY, install_fake_provider
from sk_safesynth.schema import ColumnSpec, TableSchema
from sk_safesynth.synth.pool import clear_pool_cache

from conftest import method as make_method

METHODS = ["marginals", "noisy_icl", "private_evolution"]
BOUNDS = {"age": (18, 80), "income": (0, 100_000)}
CATEGORIES = {"city": ["Paris", "Lyon", "Nice"], "label": ["no", "yes"]}
# Enough retries that a 30% fault rate is survived; tiny backoff keeps the tests fast.
ROBUST = {"max_retries": 8, "backoff": 0.001}


@pytest.fixture(autouse=True)
def fresh_pool():
    clear_pool_cache()
    yield
    install_fake_provider()
    clear_pool_cache()


def _table(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.uniform(0, 100_000, n), 2),
        "city": rng.choice(CATEGORIES["city"], n).astype(object),
        "member": rng.random(n) < 0.4,
    })
    y = pd.Series(rng.choice(CATEGORIES["label"], n), name="label")
    return X, y


def _fitted(method, **llm_kwargs):
    """A sampler fitted with a healthy provider: faults are then injected at sampling time."""
    install_fake_provider()
    method = make_method(method, pool_size=40, n_independent=300, population_size=20, rows_per_call=5)
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, method=method, bounds=BOUNDS, categories=CATEGORIES,
                                 random_state=0, n_jobs=2, llm_kwargs=llm_kwargs)
    return sampler.fit(*_table())


def _ledger_state(sampler):
    return sampler.privacy_spent_, [(entry.label, entry.event) for entry in sampler.ledger_.entries]


def _assert_schema_valid(sampler, out):
    for row in out.to_dict("records"):
        sampler.schema_.validate_row(row)  # raises RowValidationError on any invalid value


@pytest.mark.parametrize("method", METHODS)
def test_thirty_percent_faults_still_give_exactly_n_valid_rows(method):
    sampler = _fitted(method, **ROBUST)
    before = _ledger_state(sampler)
    fake = install_fake_provider(fault_rate=0.3)
    clear_pool_cache()  # the candidate pool must be regenerated through the faulty provider
    out = sampler.sample(73)
    assert len(out) == 73
    assert list(out.columns) == ["age", "income", "city", "member", "label"]
    _assert_schema_valid(sampler, out)
    assert _ledger_state(sampler) == before  # sampling is post-processing
    if method != "private_evolution":  # PE samples from its DP population without calling the LLM
        assert fake.n_calls > 0


def test_thirty_percent_faults_during_fit():
    """Private Evolution calls the LLM inside fit; faults there must not change the accounting."""
    clean = _fitted("private_evolution", **ROBUST)
    install_fake_provider(fault_rate=0.3)
    clear_pool_cache()
    faulty = DPSyntheticSampler(**clean.get_params(deep=False)).fit(*_table())
    assert _ledger_state(faulty) == _ledger_state(clean)
    assert len(faulty.sample(40)) == 40


@pytest.mark.parametrize("method", ["marginals", "noisy_icl"])
def test_total_failure_is_a_clear_bounded_error(method):
    sampler = _fitted(method, max_retries=2, backoff=0.001)
    before = _ledger_state(sampler)
    fake = install_fake_provider(fault_rate=1.0)
    clear_pool_cache()
    with pytest.raises(LLMGenerationError, match=FAKE_MODEL):
        sampler.sample(50)
    # bounded retries: at most (max_retries + 1) rounds x (max_retries + 1) attempts per call
    n_jobs = {"marginals": 40 // 5, "noisy_icl": 50 // 5}[method]
    assert fake.n_calls <= n_jobs * 3 * 3
    assert _ledger_state(sampler) == before


def test_total_failure_in_fit_reports_its_spend_and_keeps_no_stale_result():
    """A refit that fails leaves no result of the earlier fit behind, and says what it spent."""
    sampler = _fitted("private_evolution", max_retries=1, backoff=0.001)
    before = _ledger_state(sampler)
    install_fake_provider(fault_rate=1.0)
    clear_pool_cache()
    with pytest.raises(LLMGenerationError) as info:
        sampler.fit(*_table(seed=1))
    for name in ("schema_", "method_", "ledger_", "privacy_spent_"):
        assert not hasattr(sampler, name)
    assert info.value.ledger is sampler.last_fit_ledger_
    assert info.value.privacy_spent == sampler.last_fit_ledger_.spent
    assert [(e.label, e.event) for e in sampler.last_fit_ledger_.entries] != before[1]  # the failed fit's own ledger


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_kind_alone_is_survived_or_reported(fault):
    """At 100%, each kind fails with a message naming it; at 30%, it is retried away."""
    schema = TableSchema((ColumnSpec("n", "integer", 0, 9, dtype="int64"),
                          ColumnSpec("c", "categorical", categories=("a", "b")),
                          ColumnSpec("t", "text", max_length=50)))
    tasks = [GenerationTask(None, 4) for _ in range(5)]
    install_fake_provider(fault_rate=0.3, faults=(fault,))
    result = LLMClient(FAKE_MODEL, n_jobs=2, **ROBUST).generate(schema, tasks, seed=0)
    assert len(result.rows) == 20 and result.rows["n"].between(0, 9).all()
    assert set(result.rows["c"]) <= {"a", "b"}
    install_fake_provider(fault_rate=1.0, faults=(fault,))
    words = {"timeout": "Timeout", "rate_limit": "RateLimit", "server_error": "InternalServerError",
             "malformed": "not JSON", "truncated": "not JSON", "refusal": "not JSON",
             "out_of_range": "below", "wrong_type": "not a number", "unknown_category": "allowed categories"}
    with pytest.raises(LLMGenerationError, match=words[fault]):
        LLMClient(FAKE_MODEL, max_retries=1, backoff=0.001).generate(schema, tasks[:1], seed=0)


def test_bad_answers_are_rejected_not_repaired():
    schema = TableSchema((ColumnSpec("n", "integer", 0, 9), ColumnSpec("c", "categorical", categories=("a", "b"))))
    for text in (f'{{"rows": [[1, "{UNKNOWN_CATEGORY}"]]}}', '{"rows": [["many", "a"]]}', '{"rows": [[1.5, "a"]]}',
                 '{"rows": [[1, {"value": "a"}]]}', '{"rows": [[true, "a"]]}', '{"rows": [[1, "a"], [2, "b"'):
        rows, errors = parse_rows(text, schema)
        assert rows == [] and errors, text


def test_time_limit_bounds_a_slow_provider():
    fake = install_fake_provider(latency=0.2)
    schema = TableSchema((ColumnSpec("n", "integer", 0, 9),))
    with pytest.raises(LLMGenerationError, match="time_limit of 0.5 s"):
        LLMClient(FAKE_MODEL, n_jobs=2, time_limit=0.5).generate(schema, [GenerationTask(None, 1)] * 40, seed=0)
    # 2 calls in flight, 0.2 s each: about 6 calls fit in 0.5 s (a slower machine makes fewer), not 40
    assert fake.n_calls <= 10


def test_time_limit_stops_backoff_early(monkeypatch):
    install_fake_provider(fault_rate=1.0, faults=("rate_limit",))
    schema = TableSchema((ColumnSpec("n", "integer", 0, 9),))
    slept = []
    monkeypatch.setattr(transport.time, "sleep", slept.append)
    with pytest.raises(LLMGenerationError, match="time limit"):
        LLMClient(FAKE_MODEL, max_retries=10, backoff=1.0, time_limit=0.5).generate(
            schema, [GenerationTask(None, 1)], seed=0)
    assert slept == []  # a 1 s backoff would end past the 0.5 s limit: give up instead of sleeping
