"""The ``sk-safesynth`` command line: generate, evaluate, demo and one-line errors.

Fast tests run ``main([...])`` in-process with the fake model (the CLI registers it
when asked for ``sksafesynth-fake/...``); the slow test runs the real console script
on the embedded model.
"""

import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import __version__
from sk_safesynth.cli import main
from sk_safesynth.datasets import ADULT_BOUNDS, ADULT_CATEGORIES, load_adult
from sk_safesynth.llm.testing import FAKE_MODEL

# The fake LLM is registered in this process, where main() runs.
pytestmark = pytest.mark.usefixtures("fresh_fake_llm")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Real train/test CSVs of Adult and its public bounds/categories as JSON files."""
    root = tmp_path_factory.mktemp("cli")
    load_adult(n_rows=200, random_state=1).to_csv(root / "train.csv", index=False)
    load_adult("test", n_rows=300, random_state=1).to_csv(root / "test.csv", index=False)
    (root / "bounds.json").write_text(json.dumps(ADULT_BOUNDS))
    (root / "categories.json").write_text(json.dumps(ADULT_CATEGORIES))
    return root


def generate(files, out, *extra):
    return main(["generate", str(files / "train.csv"), "--rows", "150", "--out", str(out), "--target", "income",
                 "--llm", FAKE_MODEL, "--bounds", str(files / "bounds.json"),
                 "--categories", str(files / "categories.json"), "--seed", "0", *extra])


def finite_numbers(value):
    """Every number in a parsed JSON document (nulls mark "not measured")."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in finite_numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in finite_numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_generate_writes_rows_and_privacy_record(files, tmp_path, capsys):
    out = tmp_path / "sub" / "synth.csv"
    assert generate(files, out, "--epsilon", "0.5") == 0
    synthetic = pd.read_csv(out)
    real = pd.read_csv(files / "train.csv")
    assert list(synthetic.columns) == list(real.columns) and len(synthetic) == 150
    assert set(synthetic["income"]) <= set(ADULT_CATEGORIES["income"])
    record = json.loads((tmp_path / "sub" / "synth.csv.privacy.json").read_text())
    assert record["privacy_spent"]["epsilon"] <= 0.5 + 1e-9
    assert record["budget"] == {"epsilon": 0.5, "delta": 1e-5}
    assert record["method"] == "marginals" and record["model"] == FAKE_MODEL
    assert record["n_rows_input"] == 200 and record["n_rows_output"] == 150
    assert record["ledger"] and record["secure_noise"] is False
    assert [c["name"] for c in record["schema"]["columns"]] == list(real.columns)
    assert "wrote 150 synthetic rows" in capsys.readouterr().out


def test_generate_custom_record_path_and_default_rows(files, tmp_path):
    record = tmp_path / "record.json"
    assert main(["generate", str(files / "train.csv"), "--out", str(tmp_path / "s.csv"), "--llm", FAKE_MODEL,
                 "--bounds", str(files / "bounds.json"), "--categories", str(files / "categories.json"),
                 "--report-json", str(record)]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 200
    data = json.loads(record.read_text())
    assert data["target"] is None and data["secure_noise"] is True


def test_generate_add_remove_keeps_the_row_count_private(files, tmp_path):
    out = tmp_path / "ar.csv"
    schema = tmp_path / "schema.json"  # add/remove needs the whole domain declared (the reviewed schema)
    assert main(["schema", str(files / "train.csv"), "--target", "income", "--out", str(schema)]) == 0
    assert main(["generate", str(files / "train.csv"), "--out", str(out), "--target", "income", "--llm", FAKE_MODEL,
                 "--schema", str(schema), "--neighbours", "add/remove", "--seed", "0"]) == 0
    record = json.loads((tmp_path / "ar.csv.privacy.json").read_text())
    assert record["neighbours"] == "add/remove" and record["n_rows_input"] is None
    assert record["ledger"][0]["label"].startswith("Gaussian record count")
    n_rows = len(pd.read_csv(out))  # the noisy count, not the 200 input rows
    assert n_rows == record["n_rows_output"] and n_rows != 200 and abs(n_rows - 200) < 200


@pytest.mark.slow  # epsilon=8 (DP kinds and bounds of 200 rows): seconds of noise calibration
def test_generate_with_undeclared_bounds_is_dp_and_bounds_data_is_an_opt_in(files, tmp_path, capsys):
    # 200 rows: epsilon 8 lets DP tell the number columns (read as strings) and their bounds
    assert main(["generate", str(files / "train.csv"), "--out", str(tmp_path / "s.csv"), "--llm", FAKE_MODEL,
                 "--categories", str(files / "categories.json"), "--rows", "20", "--epsilon", "8"]) == 0
    err = capsys.readouterr().err
    assert "PrivacyLeakWarning" not in err  # DP bounds: nothing read from the data's min and max
    assert all(line.startswith("sk-safesynth: ") for line in err.splitlines() if "Warning:" in line)
    record = json.loads((tmp_path / "s.csv.privacy.json").read_text())
    assert any("bounds" in entry["label"] for entry in record["ledger"])
    assert main(["generate", str(files / "train.csv"), "--out", str(tmp_path / "d.csv"), "--llm", FAKE_MODEL,
                 "--categories", str(files / "categories.json"), "--rows", "20", "--bounds", "data",
                 "--epsilon", "8"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "PrivacyLeakWarning" in line]
    assert len(lines) == 1 and lines[0].startswith("sk-safesynth: PrivacyLeakWarning: ") and "NOT" in lines[0]
    record = json.loads((tmp_path / "d.csv.privacy.json").read_text())
    assert record["differentially_private"] is False and record["privacy_spent"]["epsilon"] in (None, math.inf)


def test_evaluate_writes_report(files, tmp_path, capsys):
    synth = tmp_path / "synth.csv"
    assert generate(files, synth) == 0
    report = tmp_path / "report"
    assert main(["evaluate", str(files / "train.csv"), str(files / "test.csv"), str(synth), "--target", "income",
                 "--out", str(report), "--attack", "dcr"]) == 0
    printed = capsys.readouterr().out
    assert "real" in printed and "synthetic" in printed
    results = json.loads((report / "results.json").read_text())
    real, synthetic = results["results"]
    assert real["setting"] == "real" and 0.5 < real["utility"] <= 1
    assert synthetic["mia_attack"] == "dcr" and 0 <= synthetic["mia_auc"] <= 1
    # The privacy record next to the synthetic CSV gives the DP bound.
    spent = json.loads((tmp_path / "synth.csv.privacy.json").read_text())["privacy_spent"]["epsilon"]
    assert 0 < spent <= 1.0 + 1e-9 and results["privacy_spent"]["epsilon"] == pytest.approx(spent)
    assert 0.5 < synthetic["bound_auc"] < 1
    assert (report / "mia_roc.png").stat().st_size > 1000
    markdown = (report / "report.md").read_text()
    assert "mia_roc.png" in markdown and "| synthetic |" in markdown
    assert "<table>" in (report / "report.html").read_text()


def test_evaluate_without_privacy_record_has_no_bound(files, tmp_path):
    synth = tmp_path / "synth.csv"
    pd.read_csv(files / "test.csv").to_csv(synth, index=False)  # any rows with the right columns
    assert main(["evaluate", str(files / "train.csv"), str(files / "test.csv"), str(synth), "--target", "income",
                 "--out", str(tmp_path / "r"), "--attack", "dcr", "--estimator", "hgb"]) == 0
    synthetic = json.loads((tmp_path / "r" / "results.json").read_text())["results"][1]
    assert synthetic["bound_auc"] is None and math.isfinite(synthetic["utility"])


def test_demo_with_fake_model(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--rows", "40", "--epsilons", "1,3", "--llm", FAKE_MODEL, "--out", str(out)]) == 0
    check_demo_output(out, epsilons=[1, 3])
    err = capsys.readouterr().err
    assert "epsilon = 1: utility" in err and "epsilon = 3: utility" in err
    assert "epsilon = 3 + LLM candidates: utility" in err  # the LLM step, at the middle epsilon
    results = json.loads((out / "results.json").read_text())["results"]
    assert [r["epsilon"] for r in results if r["setting"] == "synthetic + LLM candidates"] == [3]
    assert "LLM step: `sksafesynth-fake/rows` wrote 20 candidate rows" in (out / "report.md").read_text()
    assert main(["demo", "--rows", "40", "--epsilons", "1", "--llm-rows", "0", "--out", str(out / "no-llm")]) == 0
    assert "The LLM step was left out" in (out / "no-llm" / "report.md").read_text()


def test_cache_command_shows_and_clears_the_response_cache(tmp_path, capsys):
    from sk_safesynth.llm.cache import ResponseCache

    cache = ResponseCache(tmp_path)
    for i in range(3):
        cache.put(ResponseCache.key({"model": "m"}, {"prompt": str(i)}, {}), {"texts": ["x"]})
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    assert "3 cached responses" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 3 cached responses" in capsys.readouterr().out
    assert cache.info()["records"] == 0


def check_demo_output(out, epsilons):
    for name in ["report.md", "report.html", "results.json", "real_train.csv", "real_test.csv"]:
        assert (out / name).stat().st_size > 0, name
    for name in ["privacy_utility.png", "mia_roc.png"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert (out / name).stat().st_size > 5000, name
    for epsilon in epsilons:
        assert len(pd.read_csv(out / f"synthetic_eps{epsilon:g}.csv")) > 0
    results = json.loads((out / "results.json").read_text())
    numbers = finite_numbers(results)
    assert numbers and all(math.isfinite(x) for x in numbers)
    synthetic = [r for r in results["results"] if r["setting"] == "synthetic"]
    assert [r["epsilon"] for r in synthetic] == epsilons
    for row in synthetic:
        for key in ("utility", "mia_auc", "bound_auc", "epsilon_spent"):
            assert row[key] is not None and math.isfinite(row[key]), key
        assert row["epsilon_spent"] <= row["epsilon"] + 1e-9
    markdown = (out / "report.md").read_text()
    assert "privacy_utility.png" in markdown and "mia_roc.png" in markdown


@pytest.mark.parametrize("argv, message", [
    (["generate", "missing.csv", "--out", "x.csv"], "file not found: missing.csv"),
    (["generate", "{train}", "--out", "x.csv", "--target", "nope"], "target column 'nope' not in"),
    (["generate", "{train}", "--out", "x.csv", "--bounds", "{bad_json}"], "is not valid JSON"),
    (["generate", "{train}", "--out", "x.csv", "--bounds", "{list_json}"], "must hold a JSON object"),
    (["generate", "{train}", "--out", "x.csv", "--bounds", "{bad_bounds}"], "must be [low, high] numbers"),
    (["generate", "{latin1}", "--out", "x.csv"], "is not UTF-8 text"),
    (["generate", "{bad_csv}", "--out", "x.csv"], "cannot read"),
    (["generate", "{empty}", "--out", "x.csv"], "cannot read"),
    (["evaluate", "{train}", "{train}", "{train}", "--target", "nope"], "target column 'nope' not in"),
    (["evaluate", "{train}", "{train}", "{other}", "--target", "income"], "columns 'age', 'workclass'"),
])
def test_errors_are_one_line(files, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad_bounds.json").write_text('{"age": [1]}')
    (tmp_path / "latin1.csv").write_bytes("name,city\nJos\xe9,K\xf6ln\n".encode("latin-1"))
    (tmp_path / "bad.csv").write_text('a,b\n1,2\n3,"4\n')
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "other.csv").write_text("income,x\n<=50K,1\n")
    paths = {"train": files / "train.csv", "bad_json": tmp_path / "bad.json", "list_json": tmp_path / "list.json",
             "bad_bounds": tmp_path / "bad_bounds.json", "latin1": tmp_path / "latin1.csv",
             "bad_csv": tmp_path / "bad.csv", "empty": tmp_path / "empty.csv", "other": tmp_path / "other.csv"}
    assert main([a.format(**paths) for a in argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sk-safesynth: error: ") and message in err[0], err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("argv, message", [
    (["generate", "d.csv", "--out", "x.csv", "--epsilon", "0"], "must be > 0"),
    (["generate", "d.csv", "--out", "x.csv", "--epsilon", "-1"], "must be > 0"),
    (["generate", "d.csv", "--out", "x.csv", "--epsilon", "nan"], "must be finite"),
    (["generate", "d.csv", "--out", "x.csv", "--delta", "1"], "must be in [0, 1)"),
    (["generate", "d.csv"], "--out"),
    (["demo", "--epsilons", "1,0"], "must be > 0"),
    (["demo", "--rows", "0"], "must be >= 1"),
    (["evaluate", "a.csv", "b.csv", "c.csv"], "--target"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_in_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_library_errors_are_one_line_and_debug_shows_traceback(files, tmp_path, capsys):
    # Undeclared categories at a small budget: the sampler refuses with a ValueError.
    argv = ["generate", str(files / "train.csv"), "--out", str(tmp_path / "s.csv"), "--llm", FAKE_MODEL,
            "--bounds", str(files / "bounds.json"), "--epsilon", "0.1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sk-safesynth: error: ") and "categories" in err[-1]
    assert not any("Traceback" in line for line in err)
    with pytest.raises(ValueError):
        main(argv + ["--debug"])


def test_version_and_no_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"sk-safesynth {__version__}"
    assert main([]) == 2


def test_console_script_is_installed():
    script = shutil.which("sk-safesynth")
    if script is None:
        pytest.skip("console script not on PATH (run pip install -e .)")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and __version__ in done.stdout


@pytest.mark.slow
def test_demo_end_to_end_on_embedded_model(tmp_path):
    """The README's main job as a newcomer runs it: defaults, embedded model, each warning once."""
    pytest.importorskip("xllamacpp")
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "sk_safesynth.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    check_demo_output(out, epsilons=[0.3, 1, 3])
    assert "epsilon = 3: utility" in done.stderr and "report:" in done.stdout
    warned = [line for line in done.stderr.splitlines() if "Warning:" in line]
    assert len(warned) == len(set(warned)), warned
    results = json.loads((out / "results.json").read_text())["results"]
    assert all(r["utility"] >= 0.8 for r in results if r["setting"] == "synthetic"), results
    assert "LLM step: `sksafesynth/gemma3-270m` wrote 20 candidate rows" in (out / "report.md").read_text()


def test_domain_hints_speak_the_cli_in_the_cli_and_python_in_python(tmp_path, capsys):
    """One warning, two wordings: the library's message carries Hint objects that the CLI
    rewrites in its own terms (a schema file), never a Python argument."""
    import warnings as _warnings

    from sk_safesynth import DPSyntheticSampler
    from sk_safesynth.synth.hints import Hint

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"city": rng.choice(["Paris", "Lyon", "Nice"], 300),
                          "code": [f"c{i:04d}" for i in rng.permutation(300)],
                          "label": rng.choice(["yes", "no"], 300)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["generate", str(tmp_path / "d.csv"), "--target", "label", "--out", str(tmp_path / "s.csv"),
                 "--llm", FAKE_MODEL, "--seed", "0"]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "look like identifiers" in line)
    assert "sk-safesynth schema DATA.csv" in line and "categories=" not in line
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        DPSyntheticSampler(FAKE_MODEL, random_state=0).fit(frame.drop(columns="label"), frame["label"])
    warning = next(w.message for w in caught if "look like identifiers" in str(w.message))
    assert "declare categories={'code': [...]}" in str(warning)
    assert warning.hints == (Hint("categories", ("code",)),)


def test_generate_reads_a_parquet_directory_and_writes_parquet_files(tmp_path, capsys):
    """A partitioned table in, parquet files out: counted by dask, written a file at a time."""
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 90, 600).astype(str), "city": rng.choice(["Paris", "Lyon"], 600),
                          "label": rng.choice(["yes", "no"], 600)})
    (tmp_path / "in").mkdir()
    for i in range(3):
        frame.iloc[200 * i: 200 * (i + 1)].to_parquet(tmp_path / "in" / f"part-{i}.parquet")
    (tmp_path / "schema.json").write_text(json.dumps({"bounds": {"age": [18, 90]}, "missing": {},
                                                      "categories": {"city": ["Paris", "Lyon"],
                                                                     "label": ["yes", "no"]},
                                                      "kinds": {"age": "integer"}}))
    out = tmp_path / "out"
    assert main(["generate", str(tmp_path / "in"), "--schema", str(tmp_path / "schema.json"), "--target", "label",
                 "--out", f"{out}/", "--rows-per-file", "250", "--seed", "0", "--method", "marginals"]) == 0
    assert "(3 partitions)" in capsys.readouterr().err
    files = sorted(out.glob("*.parquet"))
    written = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert len(files) == 3 and len(written) == 600
    assert set(written["city"]) <= {"Paris", "Lyon"} and written["age"].between(18, 90).all()
    record = json.loads((tmp_path / "out.privacy.json").read_text())
    assert record["n_rows_input"] == 600 and record["n_rows_output"] == 600
