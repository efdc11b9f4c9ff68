"""The examples and the README's Python snippets run (with the fake model, so quickly)."""

import re
import runpy
import warnings
from pathlib import Path

import matplotlib
import pytest

from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.fixture
def fake_llm(monkeypatch, tmp_path):
    install_fake_provider()
    monkeypatch.setenv("SKSAFESYNTH_LLM", FAKE_MODEL)
    monkeypatch.chdir(tmp_path)  # examples write their plots to the working directory


def test_there_are_three_examples():
    assert [p.name[:3] for p in EXAMPLES] == ["01_", "02_", "03_"]


# The grid search (3 epsilons x 3 folds) and the TSTR study (four epsilons, every attack) are
# slow even on the fake model; the drop-in example runs on every commit.
@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.slow) if p.stem != "01_pipeline_dropin" else p for p in EXAMPLES
], ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, fake_llm, capsys):
    runpy.run_path(str(path), run_name="__main__")
    assert "epsilon" in capsys.readouterr().out.lower()


@pytest.mark.slow  # about fifteen fits of 1,000 Adult rows (a grid search, a TSTR study)
def test_readme_snippets_run(fake_llm):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    # The hosted-model snippet needs an API key and the text one a CSV of texts (covered by
    # tests/test_text.py); every other one runs as written on the fake model.
    code = "\n".join(block for block in blocks if 'llm="gpt-4o-mini"' not in block and "news.csv" not in block)
    assert "GridSearchCV" in code and "privacy_utility_report" in code and "MIAScorer" in code
    code = code.replace("DPSyntheticSampler(", "DPSyntheticSampler(llm=FAKE_MODEL, random_state=0, ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # search_privacy's study warning, small-sample MIA warnings
        exec(compile(code, "README.md", "exec"), {"FAKE_MODEL": FAKE_MODEL})  # noqa: S102 (our README)
