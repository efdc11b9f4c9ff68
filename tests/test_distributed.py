"""The same generation code on a dask cluster, through joblib's dask backend.

Needs the optional ``distributed`` package (``pip install sk-safesynth[dask]``); the
module is skipped without it. Clusters listen on loopback only.
"""

import logging
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest

# Slow: each test starts a dask LocalCluster (seconds each, worker processes import litellm).
pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")

from sk_safesynth import DPSyntheticSampler  # noqa: E402
from sk_safesynth.llm import GenerationTask, LLMClient, capture_prompts  # noqa: E402
from sk_safesynth.llm.testing import FAKE_MODEL, current_fake, install_fake_provider  # noqa: E402
from sk_safesynth.schema import ColumnSpec, TableSchema  # noqa: E402
from sk_safesynth.synth.pool import clear_pool_cache  # noqa: E402

from conftest import method as make_method  # noqa: E402

SCHEMA = TableSchema((
    ColumnSpec("age", "integer", 17, 90, dtype="int64"),
    ColumnSpec("city", "categorical", categories=("Paris", "Lyon", "Nice")),
    ColumnSpec("hours", "numeric", 1, 99),
    ColumnSpec("note", "text", max_length=40),
))
TASKS = [GenerationTask(None, 7, hint=f"batch {i}") for i in range(6)]


def _cluster(processes: bool, n_workers: int = 2):
    # tcp even for in-process workers: tasks are then pickled exactly as for a remote cluster.
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=2, processes=processes, host="127.0.0.1",
                                    protocol="tcp", dashboard_address=None, silence_logs=logging.ERROR)


@pytest.fixture(scope="module")
def dask_client():
    with _cluster(processes=False) as cluster, distributed.Client(cluster) as client:
        yield client


def _generate(**fake):
    # A fresh fake per run: its faults depend on how often it saw a request.
    install_fake_provider(**fake)
    return LLMClient(FAKE_MODEL, n_jobs=4, max_rows_per_call=3, max_retries=8, backoff=0.001).generate(
        SCHEMA, TASKS, seed=11)


def test_generation_on_dask_matches_local(dask_client):
    local = _generate(fault_rate=0.3, faults=("malformed", "out_of_range", "unknown_category", "rate_limit"))
    with joblib.parallel_config(backend="dask"), capture_prompts() as prompts, \
            distributed.get_task_stream(dask_client) as stream:
        remote = _generate(fault_rate=0.3, faults=("malformed", "out_of_range", "unknown_category", "rate_limit"))
    assert stream.data, "no task ran on the cluster"
    pd.testing.assert_frame_equal(local.rows, remote.rows)
    np.testing.assert_array_equal(local.task_index, remote.task_index)
    assert (remote.n_calls, remote.n_invalid) == (local.n_calls, local.n_invalid)
    # prompts are recorded by the calling process, whoever sends them
    assert len(prompts) == remote.n_calls


@pytest.mark.parametrize("method", ["marginals", "noisy_icl"])
def test_sampler_on_dask_matches_local(dask_client, method):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(17, 91, 120), "city": rng.choice(["Paris", "Lyon", "Nice"], 120)})
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=1.0, bounds={"age": (17, 90)},
                                 method=make_method(method, pool_size=30, n_independent=100, rows_per_call=5),
                                 categories={"city": ["Paris", "Lyon", "Nice"]}, random_state=3)
    install_fake_provider()
    sampler.fit(X)
    clear_pool_cache()
    local = sampler.sample(40)
    clear_pool_cache()
    sampler.fit(X)  # successive samples differ by design; a refit replays the same one
    clear_pool_cache()
    with joblib.parallel_config(backend="dask"):
        remote = sampler.sample(40)
    clear_pool_cache()
    pd.testing.assert_frame_equal(local, remote)


def test_worker_processes_need_the_provider_registered():
    """A separate worker process: custom providers are registered there with ``Client.run``.

    One worker keeps the test short (each process imports litellm); the two-worker
    cluster above covers the scheduling.
    """
    install_fake_provider()
    local = LLMClient(FAKE_MODEL, n_jobs=2).generate(SCHEMA, TASKS[:2], seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # litellm's cost-map chatter in the workers
        with _cluster(processes=True, n_workers=1) as cluster, distributed.Client(cluster) as client:
            fakes = client.run(install_fake_provider)
            with joblib.parallel_config(backend="dask"):
                remote = LLMClient(FAKE_MODEL, n_jobs=2).generate(SCHEMA, TASKS[:2], seed=5)
            calls = sum(fake.n_calls for fake in client.run(current_fake).values())
    assert len(fakes) == 1
    pd.testing.assert_frame_equal(local.rows, remote.rows)
    assert calls == remote.n_calls  # every call was answered by a worker process
