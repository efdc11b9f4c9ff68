"""Tables in partitions: the marginals fit on a dask DataFrame, and releases written as parquet files.

The same table as one pandas frame and as a dask DataFrame of several partitions must
give the same exact counts (before noise), the same ledger and, with the same seed, the
same release: the noise is drawn by the same code in the same order from the same
stream. Fast tests run dask's synchronous scheduler; one test runs a real LocalCluster.
"""

import logging
import subprocess
import sys
import warnings
from functools import partial

import joblib
import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
import dask  # noqa: E402

from sk_safesynth import DPSyntheticSampler  # noqa: E402
from sk_safesynth.partitions import open_partitioned  # noqa: E402
from sk_safesynth.privacy import domain as dp  # noqa: E402
from sk_safesynth.privacy.random import data_digest  # noqa: E402
from sk_safesynth.synth import measurement, methods_supporting  # noqa: E402
from sk_safesynth.synth.counting import Axis, DaskRows, PandasRows, count_tables  # noqa: E402
from sk_safesynth.synth.marginals import Marginals  # noqa: E402


def _table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Mixed kinds with missing values; a label that depends on the columns."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    city = rng.choice(np.array(["Paris", "Lyon", "Nice", "Brest", None], dtype=object), n, p=[.4, .3, .15, .1, .05])
    income = np.round(rng.lognormal(10, 1, n), 2)
    income[rng.random(n) < 0.1] = np.nan
    joined = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    grade = rng.choice(["1", "2", "3", "4"], n).astype(object)  # numbers written as strings: a kind by DP
    label = np.where((age > 45) ^ (rng.random(n) < 0.2), "yes", "no")
    return pd.DataFrame({"age": age, "city": city, "income": income, "joined": joined, "grade": grade,
                         "label": label})


@pytest.fixture(scope="module")
def tables():
    """The same rows as a dask DataFrame of 4 partitions and as one pandas frame of the same dtypes."""
    partitioned = dd.from_pandas(_table(), npartitions=4)
    return partitioned, partitioned.compute()


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="sync"):
        yield


def _fit(frame, **params):
    sampler = DPSyntheticSampler(**{"epsilon": 1.0, "random_state": 0, "method": "marginals", **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sampler.fit(frame.drop(columns="label"), frame["label"])


def _recorded(monkeypatch) -> list:
    """Every exact count a fit hands to a mechanism, in order (the noise functions wrapped, not replaced)."""
    seen: list = []
    release, kinds, measure = measurement.gaussian_release, dp.kind_counts, dp.measure

    def gaussian_release(ledger, values, *args, **kwargs):
        seen.append(np.array(values, copy=True))
        return release(ledger, values, *args, **kwargs)

    def kind_counts(exact, *args, **kwargs):
        seen.append({k: np.array(v) for k, v in exact.items()})
        return kinds(exact, *args, **kwargs)

    def measure_domain(queries, exact, *args, **kwargs):
        seen.append({k: v.sort_index().to_dict() if isinstance(v, pd.Series) else np.asarray(v).tolist()
                     for k, v in exact.items()})
        return measure(queries, exact, *args, **kwargs)

    monkeypatch.setattr(measurement, "gaussian_release", gaussian_release)
    monkeypatch.setattr(dp, "kind_counts", kind_counts)
    monkeypatch.setattr(dp, "measure", measure_domain)
    return seen


def _assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_same(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


def test_import_does_not_import_dask():
    code = "import sys, sk_safesynth; sys.exit(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_partition_counts_equal_in_memory_counts(tables):
    partitioned, frame = tables
    rows, parts = PandasRows(frame), DaskRows(partitioned)
    assert len(parts) == len(rows) == len(frame)
    assert parts.digest() == data_digest(frame)  # a fixed seed keys the same noise stream
    _assert_same(parts.total(partial(dp.class_histograms, columns=["city", "grade", "label"])),
                 rows.total(partial(dp.class_histograms, columns=["city", "grade", "label"])))
    queries = [dp.Query("city", "values"), dp.Query("income", "magnitudes"), dp.Query("age", "missing"),
               dp.Query("income", "fraction")]
    numbers = lambda name, series: series.to_numpy(dtype=float, na_value=np.nan)
    exact, summed = (r.total(partial(dp.exact_answers, queries=queries, numbers=numbers)) for r in (rows, parts))
    assert exact["city", "values"].sort_index().to_dict() == summed["city", "values"].sort_index().to_dict()
    _assert_same({k: v for k, v in exact.items() if k != ("city", "values")},
                 {k: v for k, v in summed.items() if k != ("city", "values")})
    codes = lambda part: pd.DataFrame({"a": part["age"] // 10, "g": part["grade"].astype(int) - 1})
    wanted = {"a": ((Axis(0),), (9,)), "ag": ((Axis(0, np.arange(9) // 3), Axis(1)), (3, 4)),
              "1": ((Axis(None), Axis(1)), (1, 4))}
    _assert_same(count_tables(parts.map(codes), wanted), count_tables(rows.map(codes), wanted))


@pytest.mark.parametrize("params", [
    {},  # nothing declared: DP kinds, categories, bounds, missing shares; naive Bayes at this size
    pytest.param({"epsilon": 4.0, "method": Marginals(extra_pairs=0, inference="closed_form"),
                  "bounds": {"age": (18, 90), "income": (0, 5e5)}, "categories": {"city": ["Paris", "Lyon"]}},
                 marks=pytest.mark.slow),
    pytest.param({"bounds": "data"}, marks=pytest.mark.slow),
], ids=["undeclared", "declared-cliques", "bounds-data"])
def test_same_counts_ledger_and_release(tables, monkeypatch, params):
    partitioned, frame = tables
    seen = _recorded(monkeypatch)
    in_memory = _fit(frame, **params)
    counted_in_memory = list(seen)
    seen.clear()
    in_partitions = _fit(partitioned, **params)
    assert len(seen) == len(counted_in_memory) > 0
    for a, b in zip(counted_in_memory, seen):  # the same exact counts before noise
        _assert_same(a, b)
    assert in_partitions.ledger_.entries == in_memory.ledger_.entries
    assert in_partitions.privacy_spent_ == in_memory.privacy_spent_
    assert in_partitions.domain_ == in_memory.domain_
    assert in_partitions.columns_out_ == in_memory.columns_out_
    assert list(in_partitions.feature_names_in_) == list(in_memory.feature_names_in_)
    a, b = in_memory.method_, in_partitions.method_
    assert a.edges_ == b.edges_
    _assert_same(a.marginals_, b.marginals_)
    if "categories" in params:
        assert a.edges_  # the plan measured cliques
    pd.testing.assert_frame_equal(in_partitions.sample(500), in_memory.sample(500))


def test_one_counting_pass_serves_every_step_of_the_fit(tables, monkeypatch):
    # the pair tables are counted on the plan's cells beside step 1's tables and merged afterwards:
    # the same exact counts, ledger and release as a pass per step, two passes fewer over the rows
    from sk_safesynth.synth import marginals

    partitioned, _ = tables
    params = {"epsilon": 4.0, "method": Marginals(extra_pairs=1, inference="closed_form"),
              "bounds": {"age": (18, 90), "income": (0, 5e5)}, "categories": {"city": ["Paris", "Lyon"]}}
    passes: list = []
    total = DaskRows.total
    monkeypatch.setattr(DaskRows, "total", lambda self, *a, **k: passes.append(1) or total(self, *a, **k))
    seen = _recorded(monkeypatch)
    one_pass = _fit(partitioned, **params)
    counted, n_passes = list(seen), len(passes)
    seen.clear()
    passes.clear()
    monkeypatch.setattr(marginals, "_ONE_PASS_CELLS", 0)  # pair tables too large: a pass per step
    per_step = _fit(partitioned, **params)
    assert len(per_step.method_.edges_) == 4 and per_step.method_.n_extra_pairs_ == 1  # (child, parent) both ways
    assert len(passes) == n_passes + 2
    assert len(seen) == len(counted)
    for a, b in zip(counted, seen):
        _assert_same(a, b)
    assert one_pass.ledger_.entries == per_step.ledger_.entries
    assert one_pass.method_.edges_ == per_step.method_.edges_
    _assert_same(one_pass.method_.marginals_, per_step.method_.marginals_)


def test_methods_that_read_records_refuse_partitions(tables):
    partitioned, _ = tables
    for method in ("noisy_icl", "private_evolution"):
        with pytest.raises(ValueError, match=r"cannot fit a dask DataFrame.*'marginals'"):
            DPSyntheticSampler(method=method).fit(partitioned.drop(columns="label"), partitioned["label"])
    with pytest.raises(ValueError, match="y must be a dask Series"):
        DPSyntheticSampler().fit(partitioned.drop(columns="label"), np.zeros(len(partitioned)))


def test_fit_resample_needs_an_in_memory_table(tables):
    # it would hold every synthetic row in memory: refused before any spend, naming the partitioned path
    partitioned, _ = tables
    sampler = DPSyntheticSampler(random_state=0)
    for y in (partitioned["label"], partitioned["label"].compute()):
        with pytest.raises(TypeError, match=r"in-memory table.*fit\(X, y\) then sample_to_parquet"):
            sampler.fit_resample(partitioned.drop(columns="label"), y)
    with pytest.raises(TypeError, match="in-memory table"):
        sampler.fit_resample(partitioned.drop(columns="label").compute(), partitioned["label"])
    assert not hasattr(sampler, "last_fit_ledger_")


class _RecordReader(Marginals):
    supports_partitioned = False  # as a method that reads individual records says of itself


def test_partitioned_fits_follow_the_method_flag(tables):
    # the capability flag decides, not the name; the message names the registered methods that can
    partitioned, _ = tables
    assert methods_supporting("supports_partitioned") == ["marginals"]
    sampler = DPSyntheticSampler(method=_RecordReader(), random_state=0)
    with pytest.raises(ValueError, match=r"method='marginals' cannot fit a dask DataFrame.*: 'marginals'"):
        sampler.fit(partitioned.drop(columns="label"), partitioned["label"])
    assert not hasattr(sampler, "last_fit_ledger_")  # refused before any spend


def test_sample_to_parquet_keeps_dtypes(tables, tmp_path):
    _, frame = tables
    sampler, twin = _fit(frame), _fit(frame)
    with joblib.parallel_config(backend="threading", n_jobs=2):
        written = sampler.sample_to_parquet(2500, tmp_path / "out", rows_per_file=1000)
    assert [p.name for p in written] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    back = pd.read_parquet(tmp_path / "out")
    assert len(back) == 2500 and list(back.columns) == sampler.columns_out_
    for name, dtype in sampler.sample(10).dtypes.items():  # object columns (strings) read back as strings
        assert back[name].dtype == dtype or (dtype_is_text(dtype) and dtype_is_text(back[name].dtype))
    assert open_partitioned(tmp_path / "out").npartitions == 3
    # a fixed seed reproduces the files (each from its own stream), and the next call draws new rows
    twin.sample_to_parquet(2500, tmp_path / "twin", rows_per_file=1000)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "twin"), back)
    sampler.sample_to_parquet(1000, tmp_path / "next")
    assert not pd.read_parquet(tmp_path / "next").equals(back.iloc[:1000])
    with pytest.raises(FileExistsError):
        sampler.sample_to_parquet(10, tmp_path / "out")


def test_object_columns_are_written_as_text_whatever_the_first_rows_hold(tmp_path):
    # the types come from the dtypes, not from the values of the first rows: an object column
    # empty there, or holding numbers, is text in every row group
    from sk_safesynth.partitions import ROW_GROUP, write_file

    def sample(size):
        first = not sample.calls
        sample.calls += 1
        values = [None] * size if first else [1.5, "b"] * (size // 2)
        return pd.DataFrame({"x": np.arange(size), "s": pd.Series(values, dtype=object)})

    sample.calls = 0
    schema = write_file(sample, ROW_GROUP + 4, tmp_path / "f.parquet")
    back = pd.read_parquet(tmp_path / "f.parquet")
    assert len(back) == ROW_GROUP + 4 and str(schema.field("s").type) == "string"
    assert back["s"].iloc[ROW_GROUP:].tolist() == ["1.5", "b"] * 2 and back["s"].iloc[:ROW_GROUP].isna().all()


def test_open_partitioned_reads_csv_as_text(tables, tmp_path):
    _, frame = tables
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_csv(tmp_path / f"part-{i}.csv", index=False)
    table = open_partitioned(tmp_path / "part-*.csv")
    assert table.npartitions == 3 and len(table) == len(frame)
    assert all(dtype_is_text(dtype) for dtype in table.dtypes)
    with pytest.raises(ValueError, match="neither a parquet"):
        open_partitioned(tmp_path / "table.json")


def dtype_is_text(dtype) -> bool:
    return pd.api.types.is_string_dtype(dtype)


@pytest.mark.slow
def test_fit_on_a_local_cluster(tables, tmp_path, monkeypatch):
    """A real LocalCluster (threads, loopback tcp: tasks are pickled as for remote workers)."""
    from sk_safesynth import partitions

    distributed = pytest.importorskip("distributed")
    partitioned, frame = tables
    monkeypatch.setattr(partitions, "ROW_GROUP", 40)  # the first file continues from its first row group
    with dask.config.set(scheduler=None), distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1", protocol="tcp",
            dashboard_address=None, silence_logs=logging.ERROR) as cluster, distributed.Client(cluster):
        on_cluster = _fit(partitioned, method=Marginals(inference="closed_form"))
        with joblib.parallel_config(backend="dask"):  # files written by the cluster's worker
            on_cluster.sample_to_parquet(300, tmp_path / "out", rows_per_file=100)
    in_memory = _fit(frame, method=Marginals(inference="closed_form"))
    assert on_cluster.ledger_.entries == in_memory.ledger_.entries
    in_memory.sample_to_parquet(300, tmp_path / "in-memory", rows_per_file=100)
    written = pd.read_parquet(tmp_path / "out")
    pd.testing.assert_frame_equal(written, pd.read_parquet(tmp_path / "in-memory"))
    # the row that fixes the types is drawn from a copy of the first file's stream: no rows repeated
    assert not written.iloc[:40].reset_index(drop=True).equals(written.iloc[40:80].reset_index(drop=True))
