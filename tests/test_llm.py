"""LLM client tests against the fake provider (fast, no model)."""

from __future__ import annotations

import glob
import importlib.metadata
import json
import os
import site
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sk_safesynth.exceptions import LLMBudgetExceeded, LLMGenerationError
from sk_safesynth.llm import GenerationTask, LLMClient, capture_prompts
from sk_safesynth.llm.cache import ResponseCache
from sk_safesynth.llm.prompts import parse_rows
from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider
from sk_safesynth.schema import ColumnSpec, TableSchema

SCHEMA = TableSchema((
    ColumnSpec("age", "integer", 17, 90, dtype="int64"),
    ColumnSpec("workclass", "categorical", categories=("Private", "State-gov", "Self-emp")),
    ColumnSpec("hours", "numeric", 1, 99),
    ColumnSpec("married", "boolean"),
    ColumnSpec("since", "datetime"),
    ColumnSpec("note", "text", max_length=40),
))
EXAMPLES = pd.DataFrame({
    "age": [39, 50], "workclass": ["State-gov", "Self-emp"], "hours": [40.0, 13.5], "married": [False, True],
    "since": pd.to_datetime(["2020-01-01", "2021-06-30"]), "note": ["likes chess", "two kids"],
})


@pytest.fixture
def fake():
    return install_fake_provider()


def client(**kwargs):
    kwargs.setdefault("backoff", 0.0)
    return LLMClient(FAKE_MODEL, **kwargs)


def test_exact_rows_valid_and_in_task_order(fake):
    tasks = [GenerationTask(EXAMPLES, 13), GenerationTask(None, 0), GenerationTask(EXAMPLES, 5, hint="be brief")]
    result = client(max_rows_per_call=4).generate(SCHEMA, tasks, seed=0)
    assert len(result.rows) == 18
    assert list(result.rows.columns) == SCHEMA.names
    assert result.rows["age"].dtype == np.int64
    assert result.rows["age"].between(17, 90).all()
    assert set(result.rows["workclass"]) <= {"Private", "State-gov", "Self-emp"}
    np.testing.assert_array_equal(result.task_index, [0] * 13 + [2] * 5)
    assert result.n_calls == fake.n_calls == 4 + 2
    for _, row in result.rows.iterrows():
        SCHEMA.validate_row(row.to_dict())


def test_deterministic_for_a_seed(fake):
    tasks = [GenerationTask(EXAMPLES, 6)]
    first = client().generate(SCHEMA, tasks, seed=3).rows
    pd.testing.assert_frame_equal(first, client().generate(SCHEMA, tasks, seed=3).rows)
    assert not first.equals(client().generate(SCHEMA, tasks, seed=4).rows)


def test_invalid_rows_are_retried_for_the_shortfall_only():
    fake = install_fake_provider(fault_rate=0.5, faults=("out_of_range", "malformed", "refusal"))
    result = client(max_retries=8).generate(SCHEMA, [GenerationTask(EXAMPLES, 5) for _ in range(6)], seed=1)
    assert len(result.rows) == 30
    assert result.n_invalid > 0
    asked = [request["params"]["response_format"]["json_schema"]["schema"]["properties"]["rows"]["minItems"]
             for request in fake.requests]
    assert any(n < 5 for n in asked)  # an out-of-range answer leaves a shortfall of 1 row


def test_transient_errors_are_retried():
    fake = install_fake_provider(fault_rate=0.5, faults=("timeout", "rate_limit", "server_error"))
    result = client(max_retries=8).generate(SCHEMA, [GenerationTask(EXAMPLES, 3) for _ in range(6)], seed=2)
    assert len(result.rows) == 18
    assert fake.n_calls > result.n_calls


def test_impossible_request_raises_with_counts_and_reasons():
    install_fake_provider(fault_rate=1.0, faults=("out_of_range",))
    with pytest.raises(LLMGenerationError, match=r"gave 2 of 3 valid rows.*age: N below N"):
        client(max_retries=1).generate(SCHEMA, [GenerationTask(EXAMPLES, 3)], seed=0)


def test_cache_makes_a_rerun_free(fake, tmp_path):
    tasks = [GenerationTask(EXAMPLES, 4), GenerationTask(None, 3)]
    first = client(cache_dir=tmp_path).generate(SCHEMA, tasks, seed=7)
    calls = fake.n_calls
    again = client(cache_dir=tmp_path).generate(SCHEMA, tasks, seed=7)
    assert fake.n_calls == calls
    assert again.n_cached == again.n_calls == 2
    assert again.prompt_tokens == again.completion_tokens == 0
    pd.testing.assert_frame_equal(first.rows, again.rows)


def test_capture_prompts_records_every_prompt(fake):
    with capture_prompts() as prompts:
        client().generate(SCHEMA, [GenerationTask(EXAMPLES, 2), GenerationTask(None, 2)], seed=0)
    assert len(prompts) == 2
    assert "likes chess" in prompts[0] and "likes chess" not in prompts[1]
    assert "age: integer between 17 and 90" in prompts[1]
    sent = ["\n\n".join(m["content"] for m in request["messages"]) for request in fake.requests]
    assert sent == prompts


def test_token_budget_and_cost_cap():
    install_fake_provider(cost_per_token=0.01)
    tasks = [GenerationTask(EXAMPLES, 2) for _ in range(5)]
    with pytest.raises(LLMBudgetExceeded, match="token budget"):
        client(token_budget=100).generate(SCHEMA, tasks, seed=0)
    with pytest.raises(LLMBudgetExceeded, match="cost cap"):
        client(cost_cap=1.0).generate(SCHEMA, tasks, seed=0)
    result = client(cost_cap=1000.0).generate(SCHEMA, tasks, seed=0)
    assert result.cost == pytest.approx(0.01 * (result.prompt_tokens + result.completion_tokens))


def test_parallel_calls_hide_latency():
    """Calls overlap (the speed-up itself is measured in bench/bench_llm.py)."""
    fake = install_fake_provider(latency=0.2)
    tasks = [GenerationTask(None, 1) for _ in range(8)]
    client(n_jobs=8).generate(SCHEMA, tasks, seed=0)
    assert fake.max_in_flight >= 4
    sequential = install_fake_provider(latency=0.05)
    client(n_jobs=1).generate(SCHEMA, tasks[:3], seed=0)
    assert sequential.max_in_flight == 1


def test_parse_rows_accepts_common_shapes():
    schema = TableSchema((ColumnSpec("a", "integer", 0, 9), ColumnSpec("b", "categorical", categories=("x", "y"))))
    for text in ['{"rows": [[1, "x"], [2, "y"]]}', '```json\n[[1, "x"], {"a": 2, "b": "y"}]\n```',
                 '[1, "x"]\n[2, "y"]', "a,b\n1,x\n2,y"]:
        rows, errors = parse_rows(text, schema)
        assert rows == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], text
        assert errors == []
    rows, errors = parse_rows('{"rows": [[1, "z"], [12, "x"], [3]]}', schema)
    assert rows == [] and len(errors) == 3
    assert parse_rows("Sorry, I can't.", schema)[0] == []


def test_embed_local_is_normalised_and_data_independent():
    vectors = LLMClient().embed(["alpha beta", "alpha beta", "zeta"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[1])
    np.testing.assert_allclose(LLMClient().embed(["zeta"])[0], vectors[2])


def test_import_loads_no_litellm_and_changes_nothing_process_wide():
    """No import hook and no environment change at import; registration is an explicit call,
    and the offline price-map setting lasts only while litellm is imported."""
    code = (
        "import os, sys; import sk_safesynth, sk_safesynth.llm as L; "
        "assert 'litellm' not in sys.modules; "
        "assert not any(type(f).__module__.startswith('sk_safesynth') for f in sys.meta_path), sys.meta_path; "
        "assert 'LITELLM_LOCAL_MODEL_COST_MAP' not in os.environ; "
        "litellm = L.register_local_provider(); "
        "assert any(p['provider'] == L.DEFAULT_MODEL.split('/')[0] for p in litellm.custom_provider_map); "
        "assert 'LITELLM_LOCAL_MODEL_COST_MAP' not in os.environ; "
        "from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info as info; "
        "assert info()['source'] == 'local', info()"
    )
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_no_import_cycle_in_the_package():
    """The modules of sk_safesynth import each other in no cycle, counting imports inside functions."""
    import ast
    import pathlib

    import sk_safesynth

    root = pathlib.Path(sk_safesynth.__file__).parent
    modules = {".".join(("sk_safesynth", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): p
               for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):  # lazy imports too: a dependency all the same
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sk_safesynth"):
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                            for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("sk_safesynth")}
        # a package's __init__ runs before its modules, so importing a submodule imports its parents
        graph[name] = {t for t in targets if t in modules and t != name}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1 and not nxt.startswith(node + ".") and not node.startswith(nxt + "."):
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_no_litellm_init_pth_in_site_packages():
    dirs = set(site.getsitepackages()) | {site.getusersitepackages()} | {p for p in sys.path if "site-packages" in p}
    found = [path for d in dirs for path in glob.glob(os.path.join(d, "litellm_init.pth"))]
    assert not found, f"malicious litellm_init.pth found: {found}"


def test_litellm_version_is_not_a_compromised_release():
    version = importlib.metadata.version("litellm")
    assert version not in ("1.82.7", "1.82.8") and not version.startswith("1.107."), version


def test_cache_key_is_the_call_alone(fake, tmp_path):
    """The key is a pure function of model, request and parameters (no code or process in it),
    one JSON file per call; an unreadable file is a miss that is written again."""
    client(cache_dir=tmp_path).generate(SCHEMA, [GenerationTask(EXAMPLES, 4)], seed=7)
    files = list((tmp_path / "responses-v1").rglob("*.json"))
    assert len(files) == 1
    code = ("from sk_safesynth.llm.cache import ResponseCache; "
            "print(ResponseCache.key('m', {'prompt': 'x'}, {'temperature': 1.0, 'seed': 3}))")
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip() == ResponseCache.key("m", {"prompt": "x"}, {"seed": 3, "temperature": 1.0})
    assert ResponseCache.key("m", {"prompt": "x"}, {"temperature": 1.0, "seed": 4}) != other_process.stdout.strip()
    assert ResponseCache.key("m", {"prompt": "x"}, {"temperature": np.float64(1.0), "seed": np.int64(3)}) == \
        other_process.stdout.strip()
    files[0].write_text("{not json")
    calls = fake.n_calls
    again = client(cache_dir=tmp_path).generate(SCHEMA, [GenerationTask(EXAMPLES, 4)], seed=7)
    assert fake.n_calls == calls + 1 and again.n_cached == 0
    assert json.loads(files[0].read_text())["texts"]


def test_response_cache_is_bounded_and_can_be_inspected_and_cleared(tmp_path):
    from sk_safesynth.llm.cache import ResponseCache

    cache = ResponseCache(tmp_path, max_bytes=4000)
    record = {"texts": ["x" * 300], "prompt_tokens": 1, "completion_tokens": 1, "cost": 0.0}
    keys = [ResponseCache.key({"model": "m"}, {"prompt": str(i)}, {}) for i in range(30)]
    for i, key in enumerate(keys):
        cache.put(key, record)
        os.utime(cache._path(key), (i, i))  # a known order of use
    assert cache.get(keys[0]) is not None  # read last: now the most recently used
    assert cache.prune() > 0
    info = cache.info()
    assert info["bytes"] <= 0.9 * 4000 and 0 < info["records"] < 30
    assert cache.get(keys[0]) is not None and cache.get(keys[1]) is None  # the least recently used went first
    assert cache.clear() == info["records"] and cache.info()["records"] == 0
    with pytest.raises(ValueError, match="max_bytes"):
        ResponseCache(tmp_path, max_bytes=0)


def test_public_memos_are_bounded_and_keyed_by_provider_identity():
    from sk_safesynth.llm.cache import MEMOS, PublicMemo, clear_memos, memo_info

    memo = PublicMemo("test memo", max_entries=2)
    try:
        for key in "abc":
            memo.put(key, key.upper())
        assert memo.get("a") is None and memo.get("c") == "C" and len(memo) == 2
        assert memo_info()["test memo"] == {"entries": 2, "max_entries": 2}
        clear_memos()
        assert len(memo) == 0
    finally:
        MEMOS.remove(memo)
    here = LLMClient("openai/m", api_base="http://a/v1", api_key="sk-1")
    there = LLMClient("openai/m", api_base="http://b/v1", api_key="sk-1")
    assert here.provider_identity() != there.provider_identity()
    assert "sk-1" not in repr(here.provider_identity())


def test_threads_follow_the_load_unless_pinned(monkeypatch):
    from sk_safesynth.llm import local_model

    monkeypatch.delenv(local_model.THREADS_ENV, raising=False)
    monkeypatch.setattr(local_model.os, "cpu_count", lambda: 4)
    for load, threads in [(0.1, 4), (0.6, 3), (1.4, 3), (2.7, 1), (9.0, 1)]:
        monkeypatch.setattr(local_model.os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert local_model.n_threads() == threads
    monkeypatch.setenv(local_model.THREADS_ENV, "2")
    assert local_model.n_threads() == 2
    monkeypatch.setenv(local_model.THREADS_ENV, "two")
    with pytest.raises(ValueError, match="SK_SAFESYNTH_THREADS"):
        local_model.n_threads()


def test_process_wide_builds_once_and_again_after_release():
    from sk_safesynth.llm.local_model import ProcessWide

    built = []
    holder = ProcessWide(lambda: built.append(object()) or built[-1])
    first = holder.get()
    assert holder.get() is first and len(built) == 1
    holder.release()
    assert holder.get() is not first and len(built) == 2
