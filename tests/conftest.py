import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data():
    """The project's offline data sets (../shared/data), or skip where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def fresh_fake_llm():
    """The fake LLM provider installed, with no memoised candidate pool before or after."""
    from sk_safesynth.llm.testing import install_fake_provider
    from sk_safesynth.synth.pool import clear_pool_cache

    install_fake_provider()
    clear_pool_cache()
    yield
    clear_pool_cache()


def method(name: str, **params):
    """The method object ``name`` stands for on a table, given the parameters it accepts
    (tests pass one set of sizes to every method)."""
    from sk_safesynth.synth import METHODS

    cls = METHODS[name][0]
    accepted = cls().get_params()
    return cls(**{key: value for key, value in params.items() if key in accepted})


def text_method(name: str, **params):
    """Like :func:`method`, for the text variant of ``name``."""
    from sk_safesynth.synth import METHODS

    cls = METHODS[name][1]
    accepted = cls().get_params()
    return cls(**{key: value for key, value in params.items() if key in accepted})


@pytest.fixture(autouse=True)
def _user_cache_in_tmp(tmp_path_factory, monkeypatch):
    """The CLI caches LLM responses in the user cache dir by default: keep tests out of the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "user-cache"))
