import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The bundled UCI Adult files (byte for byte the CSVs in ../shared/data): tests read them directly.
ADULT_CSV = {split: Path(__file__).resolve().parents[1] / "sk_safesynth" / "datasets" / "data" / f"adult_{split}.csv.gz"
             for split in ("train", "test")}


@pytest.fixture
def shared_data():
    """The project's offline data sets (../shared/data), or skip where they are absent.

    Only slow tests may use it (a plain clone has no ../shared): Adult is bundled
    (:data:`ADULT_CSV`, :func:`sk_safesynth.datasets.load_adult`).
    """
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _one_native_thread(request):
    """Fast tests run OpenMP and BLAS on one thread: their fits are small, and on a loaded
    machine (CI runners, other jobs) OpenMP's spinning threads made one HistGradientBoosting
    fit of 200 rows take a minute instead of a second. Tests about native threads are marked
    ``native_threads``; slow tests run with the libraries' own defaults."""
    if request.node.get_closest_marker("native_threads") or request.node.get_closest_marker("slow"):
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _closed_form_unless_pgm(request, monkeypatch):
    """Unit tests resolve ``Marginals(inference="auto")`` to the closed form (35-50x faster than
    Private-PGM's mirror descent on small tables). Tests about Private-PGM are marked ``pgm`` (or
    pass ``inference="pgm"``, which is never overridden); slow tests run the installed default."""
    if request.node.get_closest_marker("pgm") or request.node.get_closest_marker("slow"):
        return
    from sk_safesynth.synth.marginals import Marginals

    engine = Marginals._engine  # AttributeError here: update this fixture with Marginals' engine choice
    monkeypatch.setattr(Marginals, "_engine", lambda self: "closed_form" if self.inference == "auto" else engine(self))


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
