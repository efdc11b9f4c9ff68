"""Provider options through llm_kwargs: a self-hosted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import pickle
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler, Marginals, NoisyICL
from sk_safesynth.llm import LLMClient, transport
from sk_safesynth.llm.testing import random_value

API_KEY = "sk-test-SECRET-4242"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.throttle = 0  # answer this many requests with 429 + Retry-After first
        self.failing = 0  # answer this many requests with 500 first


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server: _Server = self.server
        server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
        if server.failing > 0:
            server.failing -= 1
            return self._send(500, {"error": {"message": "down", "type": "server_error"}})
        if server.throttle > 0:
            server.throttle -= 1
            return self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"Retry-After": "2"})
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        rng = np.random.default_rng(len(server.requests))
        content = json.dumps(random_value(schema, rng)) if schema else "A short text."
        self._send(200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })

    def _send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _options(server):
    return {"api_base": f"http://127.0.0.1:{server.server_address[1]}/v1", "api_key": API_KEY,
            "extra_headers": {"X-Team": "privacy"}, "structured": True, "max_retries": 2, "backoff": 0.01}


def _table(n=120):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 80, n), "city": rng.choice(["Paris", "Lyon"], n)})
    return X, pd.Series(rng.choice(["yes", "no"], n), name="label")


def test_self_hosted_server_through_llm_kwargs_alone(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    sampler = DPSyntheticSampler("openai/local-model", method=NoisyICL(rows_per_call=5), bounds={"age": (18, 80)},
                                 categories={"city": ["Paris", "Lyon"], "label": ["yes", "no"]},
                                 llm_kwargs=_options(server), random_state=0)
    out = sampler.fit(*_table()).sample(12)
    assert len(out) == 12 and set(out["city"]) <= {"Paris", "Lyon"} and out["age"].between(18, 80).all()
    assert server.requests and all(r["path"] == "/v1/chat/completions" for r in server.requests)
    assert all(r["headers"].get("x-team") == "privacy" for r in server.requests)
    assert sampler.llm_usage_["completion_tokens"] == 5 * sampler.llm_usage_["n_calls"]


def test_secrets_stay_out_of_reprs_and_pickles(server):
    sampler = DPSyntheticSampler("openai/local-model", method=Marginals(pool_size=0, n_independent=100),
                                 bounds={"age": (18, 80)}, categories={"city": ["Paris", "Lyon"], "label": ["yes", "no"]},
                                 llm_kwargs={**_options(server), "extra_headers": {"Authorization": "Bearer HDR-SECRET"}})
    sampler.fit(*_table())
    text = repr(sampler) + repr(LLMClient("openai/x", **_options(server)))
    assert API_KEY not in text and "HDR-SECRET" not in text and "***" in text
    blob = pickle.dumps(sampler)
    assert API_KEY.encode() not in blob and b"HDR-SECRET" not in blob
    assert pickle.loads(blob).llm_kwargs["api_base"] == _options(server)["api_base"]
    assert sampler.llm_kwargs["api_key"] == API_KEY  # the live object keeps working


def _icl_sampler(server, **options):
    return DPSyntheticSampler("openai/local-model", method=NoisyICL(rows_per_call=5), bounds={"age": (18, 80)},
                              categories={"city": ["Paris", "Lyon"], "label": ["yes", "no"]}, missing=False,
                              llm_kwargs={**_options(server), **options}, random_state=0)


def test_a_pickled_sampler_resolves_secret_references_in_its_process(server, monkeypatch):
    monkeypatch.setenv("SKS_TEST_PROVIDER_KEY", API_KEY)
    blob = pickle.dumps(_icl_sampler(server, api_key="env:SKS_TEST_PROVIDER_KEY"))
    assert API_KEY.encode() not in blob and b"env:SKS_TEST_PROVIDER_KEY" in blob
    out = pickle.loads(blob).fit(*_table()).sample(10)
    assert len(out) == 10 and server.requests
    assert all(r["headers"]["authorization"] == f"Bearer {API_KEY}" for r in server.requests)


def test_a_pickled_sampler_without_its_secret_fails_at_once_saying_why(server, monkeypatch):
    restored = pickle.loads(pickle.dumps(_icl_sampler(server)))
    with pytest.raises(RuntimeError, match=r"llm_kwargs\['api_key'\] was left out when this sampler was pickled"
                                           r".*env:OPENAI_API_KEY"):
        restored.fit(*_table())
    monkeypatch.delenv("SKS_UNSET_VARIABLE", raising=False)
    with pytest.raises(RuntimeError, match="SKS_UNSET_VARIABLE, which is not set"):
        _icl_sampler(server, api_key="env:SKS_UNSET_VARIABLE").fit(*_table())
    assert not server.requests  # nothing reached the provider
    # a method that never calls the LLM does not need the credentials
    marginals = DPSyntheticSampler("openai/local-model", method=Marginals(), bounds={"age": (18, 80)},
                                   categories={"city": ["Paris", "Lyon"], "label": ["yes", "no"]}, missing=False,
                                   llm_kwargs={"api_key": API_KEY}, random_state=0)
    assert len(pickle.loads(pickle.dumps(marginals)).fit(*_table()).sample(5)) == 5


@pytest.mark.slow  # two worker processes import the library
def test_process_parallel_grid_search_against_a_real_endpoint(server, monkeypatch):
    from joblib import parallel_backend
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from sk_safesynth import TrainOnSynthetic

    monkeypatch.setenv("SKS_TEST_PROVIDER_KEY", API_KEY)  # inherited by the freshly spawned workers
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    search = GridSearchCV(TrainOnSynthetic(_icl_sampler(server, api_key="env:SKS_TEST_PROVIDER_KEY"), model),
                          {"sampler__epsilon": [1.0, 4.0]}, cv=2, n_jobs=2, error_score="raise")
    with parallel_backend("loky"):
        search.fit(*_table())
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert server.requests and all(r["headers"]["authorization"] == f"Bearer {API_KEY}" for r in server.requests)


def test_repr_never_touches_the_live_secrets():
    """repr redacts a copy: a fit running in another thread never sees the mask as its key."""
    options = {"api_key": "sk-LIVE-SECRET", "temperature": 0.5}
    sampler = DPSyntheticSampler("openai/x", llm_kwargs=options)
    seen = []
    original = DPSyntheticSampler.get_params

    def spy(self, deep=True):  # what the live object holds while its repr is being built
        seen.append(dict(sampler.llm_kwargs))
        return original(self, deep)

    DPSyntheticSampler.get_params = spy
    try:
        text = repr(sampler)
    finally:
        DPSyntheticSampler.get_params = original
    assert "sk-LIVE-SECRET" not in text and "***" in text
    assert seen and all(kwargs["api_key"] == "sk-LIVE-SECRET" for kwargs in seen)
    assert sampler.llm_kwargs is options


def test_wrong_key_is_a_clear_error_not_a_retry_loop(server):
    from sk_safesynth import LLMGenerationError
    from sk_safesynth.llm import GenerationTask
    from sk_safesynth.schema import ColumnSpec, TableSchema

    schema = TableSchema((ColumnSpec("age", "integer", 18, 80),))
    client = LLMClient("openai/local-model", **{**_options(server), "api_key": "wrong"})
    with pytest.raises(LLMGenerationError, match="AuthenticationError|401"):
        client.generate(schema, [GenerationTask(None, 2)])
    assert len(server.requests) == 1


def test_retries_honour_retry_after(server, monkeypatch):
    from sk_safesynth.llm import GenerationTask
    from sk_safesynth.schema import ColumnSpec, TableSchema

    slept = []
    monkeypatch.setattr(transport.time, "sleep", slept.append)
    server.throttle = 1
    schema = TableSchema((ColumnSpec("age", "integer", 18, 80),))
    result = LLMClient("openai/local-model", **{**_options(server), "num_retries": 0}).generate(
        schema, [GenerationTask(None, 2)])
    assert len(result.rows) == 2
    assert slept == [2.0]  # the server's Retry-After, not the 0.01 s backoff


def test_cli_passes_llm_options(server, tmp_path, capsys):
    from sk_safesynth.cli import main

    X, y = _table(80)
    X.assign(label=y).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "categories.json").write_text(json.dumps({"city": ["Paris", "Lyon"], "label": ["yes", "no"]}))
    (tmp_path / "bounds.json").write_text(json.dumps({"age": [18, 80]}))
    base = _options(server)["api_base"]
    code = main(["generate", str(tmp_path / "data.csv"), "--target", "label", "--out", str(tmp_path / "s.csv"),
                 "--method", "noisy_icl", "--rows", "6", "--llm", "openai/local-model",
                 "--bounds", str(tmp_path / "bounds.json"), "--categories", str(tmp_path / "categories.json"),
                 "--llm-option", f"api_base={base}", "--llm-option", f"api_key={API_KEY}",
                 "--llm-option", "structured=true"])
    assert code == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 6
    record = (tmp_path / "s.csv.privacy.json").read_text()
    out = capsys.readouterr()
    assert API_KEY not in record + out.out + out.err
    assert server.requests


def test_one_retry_layer_gives_exactly_max_retries_retries(server, monkeypatch):
    """Neither litellm nor the OpenAI SDK retries under the client: a failing server sees
    max_retries + 1 attempts of a call, no more."""
    from sk_safesynth import LLMGenerationError
    from sk_safesynth.llm import GenerationTask
    from sk_safesynth.schema import ColumnSpec, TableSchema

    monkeypatch.setattr(transport.time, "sleep", lambda s: None)
    server.failing = 100
    schema = TableSchema((ColumnSpec("age", "integer", 18, 80),))
    with pytest.raises(LLMGenerationError, match="after 3 attempts"):
        LLMClient("openai/local-model", **_options(server)).generate(schema, [GenerationTask(None, 1)])
    assert len(server.requests) == 3
    server.failing, server.requests[:] = 2, []  # two failures, then an answer: three attempts, one result
    result = LLMClient("openai/local-model", **_options(server)).generate(schema, [GenerationTask(None, 1)])
    assert len(result.rows) == 1 and len(server.requests) == 3


def test_two_servers_behind_one_model_name_share_no_cached_answer(server, tmp_path):
    from sk_safesynth.llm import GenerationTask
    from sk_safesynth.schema import ColumnSpec, TableSchema

    other = _Server()
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        schema = TableSchema((ColumnSpec("age", "integer", 18, 80),))
        for srv in (server, server, other):
            result = LLMClient("openai/local-model", cache_dir=tmp_path, **_options(srv)).generate(
                schema, [GenerationTask(None, 2)], seed=0)
            assert len(result.rows) == 2
        assert len(server.requests) == 1  # its second run came from the cache
        assert len(other.requests) == 1  # the same call to another api_base is not answered from it
    finally:
        other.shutdown()
        other.server_close()
