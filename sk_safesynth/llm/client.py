"""The LLM client: schema-valid rows from any litellm model, in parallel, with retries,
budgets and a response cache."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed

from sk_safesynth.exceptions import LLMBudgetExceeded, LLMGenerationError
from sk_safesynth.llm.backend import DEFAULT_MODEL, LOCAL_PROVIDER, get_litellm
from sk_safesynth.llm.capture import record_prompt
from sk_safesynth.llm.prompts import build_messages, parse_rows, prompt_text, response_format, summarize_errors
from sk_safesynth.schema import TableSchema

# Providers of this package: they always get a response_format.
_OWN_PROVIDERS = (LOCAL_PROVIDER, "sksafesynth-fake")
_MAX_BACKOFF = 30.0
_EMBEDDING_FEATURES = 2**12


@dataclass(frozen=True)
class GenerationTask:
    """One request for rows.

    Parameters
    ----------
    examples : DataFrame or None
        Rows shown to the model as demonstrations. The caller guarantees they are
        DP-protected or public: they are sent to the provider as they are.
    n_rows : int
        Number of valid rows wanted.
    hint : str, default=""
        Extra public instruction text (e.g. "write variations of these rows").
    """

    examples: pd.DataFrame | None
    n_rows: int
    hint: str = ""

    def __post_init__(self):
        if int(self.n_rows) < 0:
            raise ValueError(f"n_rows must be >= 0, got {self.n_rows}")


@dataclass
class GenerationResult:
    """Rows generated for a list of tasks, with the run's accounting.

    Attributes
    ----------
    rows : DataFrame
        Exactly ``sum(task.n_rows)`` valid rows, in schema column order and dtypes,
        tasks in order.
    task_index : ndarray of int
        For each row, the index of the task it came from.
    n_calls : int
        Completion calls made (cache hits included).
    n_cached : int
        Calls answered by the response cache.
    prompt_tokens, completion_tokens : int
        Tokens reported by the provider (cache hits excluded).
    cost : float
        USD spent according to ``litellm.completion_cost`` (0 when unknown).
    n_invalid : int
        Rows the model returned that failed validation and were replaced.
    """

    rows: pd.DataFrame
    task_index: np.ndarray
    n_calls: int = 0
    n_cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    n_invalid: int = 0


@dataclass
class _Spend:
    """Thread-safe accounting of one ``generate`` run, enforcing its budgets."""

    token_budget: int | None
    cost_cap: float | None
    n_calls: int = 0
    n_cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        with self.lock:
            tokens = self.prompt_tokens + self.completion_tokens
            if self.token_budget is not None and tokens >= self.token_budget:
                raise LLMBudgetExceeded(f"token budget of {self.token_budget} reached ({tokens} tokens used)")
            if self.cost_cap is not None and self.cost >= self.cost_cap:
                raise LLMBudgetExceeded(f"cost cap of ${self.cost_cap:g} reached (${self.cost:.4f} spent)")

    def add(self, record: dict, cached: bool) -> None:
        with self.lock:
            self.n_calls += 1
            if cached:
                self.n_cached += 1
                return
            self.prompt_tokens += record["prompt_tokens"]
            self.completion_tokens += record["completion_tokens"]
            self.cost += record["cost"]


class LLMClient:
    """Generate schema-valid table rows with any model litellm can reach.

    Parameters
    ----------
    model : str, default=DEFAULT_MODEL
        litellm model string (``"gpt-4o-mini"``, ``"anthropic/claude-3-5-haiku-latest"``,
        ``"ollama/llama3"``, ...). The default is the embedded offline model.
    temperature : float, default=1.0
        Sampling temperature.
    max_tokens : int, optional
        Completion tokens per call; by default estimated from the schema and row count.
    n_jobs : int, optional
        Parallel calls (joblib threads; joblib's convention, None means 1 unless a
        ``joblib.parallel_config`` says otherwise). The embedded model serves one
        call at a time whatever this is.
    cache_dir : str or path, optional
        Directory of a ``joblib.Memory`` response cache keyed by model, messages and
        parameters; None disables caching.
    max_retries : int, default=4
        Retries of a call on timeouts, rate limits and server errors (with exponential
        backoff), and rounds of re-asking for rows that were missing or invalid.
    token_budget : int, optional
        Maximum prompt + completion tokens of one ``generate`` run.
    cost_cap : float, optional
        Maximum USD of one ``generate`` run, from ``litellm.completion_cost``.
    timeout : float, default=120
        Seconds per call.
    verbose : int, default=0
        0 is silent; otherwise a progress bar when stderr is a terminal.
    embedding_model : str, optional
        litellm embedding model for :meth:`embed`; None uses a local, data-independent
        hashing vectorizer.
    max_rows_per_call : int, default=20
        Larger tasks are split into calls of at most this many rows.
    structured : {"auto", True, False}, default="auto"
        Whether to send a JSON-schema ``response_format``. "auto" sends it to the
        embedded and fake models and to models litellm says support it.
    backoff : float, default=0.5
        First backoff delay in seconds; doubles on each retry (at most 30 s).
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, temperature: float = 1.0, max_tokens: int | None = None,
                 n_jobs: int | None = None, cache_dir=None, max_retries: int = 4, token_budget: int | None = None,
                 cost_cap: float | None = None, timeout: float = 120, verbose: int = 0,
                 embedding_model: str | None = None, max_rows_per_call: int = 20, structured="auto",
                 backoff: float = 0.5):
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.max_retries = max_retries
        self.token_budget = token_budget
        self.cost_cap = cost_cap
        self.timeout = timeout
        self.verbose = verbose
        self.embedding_model = embedding_model
        self.max_rows_per_call = max_rows_per_call
        self.structured = structured
        self.backoff = backoff

    def __repr__(self) -> str:
        return f"LLMClient(model={self.model!r})"

    # -- rows -------------------------------------------------------------------------

    def generate(self, schema: TableSchema, tasks: list[GenerationTask], seed: int | None = None) -> GenerationResult:
        """Generate exactly ``task.n_rows`` valid rows for each task.

        Parameters
        ----------
        schema : TableSchema
            Public schema; every row is validated against it.
        tasks : list of GenerationTask
            What to generate; the result keeps their order.
        seed : int, optional
            Makes the run reproducible with seeded providers (the embedded and fake
            models): call ``k`` of task ``i`` in retry round ``r`` gets a seed derived
            from ``(seed, i, k, r)``, so a response cache answers a re-run.

        Returns
        -------
        GenerationResult

        Raises
        ------
        LLMGenerationError
            When too few valid rows were obtained after ``max_retries`` rounds.
        LLMBudgetExceeded
            When the token budget or cost cap is reached.
        """
        litellm = get_litellm()
        spend = _Spend(self.token_budget, self.cost_cap)
        # One job per call-sized chunk of a task: (task index, chunk index) -> rows still needed.
        needed: dict[tuple[int, int], int] = {}
        for i, task in enumerate(tasks):
            for k, start in enumerate(range(0, int(task.n_rows), self.max_rows_per_call)):
                needed[i, k] = min(self.max_rows_per_call, int(task.n_rows) - start)
        rows: dict[tuple[int, int], list[dict]] = defaultdict(list)
        errors: list[str] = []
        use_schema = self._use_response_format(litellm)
        total = sum(needed.values())
        with _progress(total, self.verbose) as bar:
            for round_ in range(self.max_retries + 1):
                pending = [(job, n) for job, n in needed.items() if n > 0]
                if not pending:
                    break
                calls = (
                    delayed(self._generate_rows)(
                        litellm, schema, tasks[job[0]], n, _call_seed(seed, job, round_), use_schema, spend, job
                    )
                    for job, n in pending
                )
                for job, valid, invalid in Parallel(n_jobs=self.n_jobs, prefer="threads",
                                                    return_as="generator_unordered")(calls):
                    valid = valid[: needed[job]]
                    rows[job].extend(valid)
                    needed[job] -= len(valid)
                    errors.extend(invalid)
                    bar.update(len(valid))
        missing = sum(needed.values())
        if missing:
            raise LLMGenerationError(
                f"{self.model} gave {total - missing} of {total} valid rows after {self.max_retries + 1} "
                f"rounds ({spend.n_calls} calls, {len(errors)} invalid rows); most common problems: "
                f"{summarize_errors(errors)}"
            )
        ordered = sorted(rows)
        frame_rows = [row for job in ordered for row in rows[job]]
        task_index = np.array([job[0] for job in ordered for _ in rows[job]], dtype=int)
        return GenerationResult(
            rows=schema.to_frame(frame_rows),
            task_index=task_index,
            n_calls=spend.n_calls,
            n_cached=spend.n_cached,
            prompt_tokens=spend.prompt_tokens,
            completion_tokens=spend.completion_tokens,
            cost=spend.cost,
            n_invalid=len(errors),
        )

    def _generate_rows(self, litellm, schema, task, n_rows, seed, use_schema, spend, job):
        messages = build_messages(schema, task.examples, n_rows, task.hint)
        params = {"temperature": self.temperature, "max_tokens": self.max_tokens or _max_tokens(schema, n_rows)}
        if seed is not None:
            params["seed"] = seed
        if use_schema:
            params["response_format"] = response_format(schema, n_rows)
        record = self._complete(litellm, messages, params, spend)
        valid, invalid = parse_rows(record["text"], schema)
        return job, valid, invalid

    def _complete(self, litellm, messages: list[dict], params: dict, spend: _Spend) -> dict:
        record_prompt(prompt_text(messages))
        spend.check()
        complete, cached = _completion_record, False
        if self.cache_dir is not None:
            complete = Memory(self.cache_dir, verbose=0).cache(_completion_record, ignore=["client", "litellm"])
            cached = complete.check_call_in_cache(self.model, messages, params, client=self, litellm=litellm)
        record = complete(self.model, messages, params, client=self, litellm=litellm)
        spend.add(record, cached)
        spend.check()
        return record

    def _use_response_format(self, litellm) -> bool:
        if self.structured != "auto":
            return bool(self.structured)
        if self.model.split("/", 1)[0] in _OWN_PROVIDERS:
            return True
        try:
            return bool(litellm.supports_response_schema(model=self.model))
        except Exception:  # unknown model: litellm raises instead of answering
            return False

    # -- embeddings -------------------------------------------------------------------

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as rows of an L2-normalised float array.

        With ``embedding_model=None`` a hashing vectorizer (character n-grams, no
        fitted state, nothing learned from ``texts``) is used, so it is safe on private
        text; otherwise ``litellm.embedding`` sends the texts to that model.
        """
        texts = [str(text) for text in texts]
        if self.embedding_model is None:
            from sklearn.feature_extraction.text import HashingVectorizer

            vectorizer = HashingVectorizer(n_features=_EMBEDDING_FEATURES, analyzer="char_wb",
                                           ngram_range=(2, 4), alternate_sign=False, norm="l2")
            return vectorizer.transform(texts).toarray().astype(np.float32)
        litellm = get_litellm()
        for text in texts:
            record_prompt(text)
        response = _with_backoff(
            litellm, self, lambda: litellm.embedding(model=self.embedding_model, input=texts, timeout=self.timeout)
        )
        vectors = np.array([item["embedding"] for item in response.data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def _completion_record(model: str, messages: list[dict], params: dict, *, client: LLMClient, litellm) -> dict:
    """One completion as a plain, cacheable dict (text, tokens, cost)."""
    response = _with_backoff(
        litellm, client,
        lambda: litellm.completion(model=model, messages=messages, timeout=client.timeout, **params),
    )
    usage = getattr(response, "usage", None)
    return {
        "text": response.choices[0].message.content or "",
        "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
        "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        "cost": 0.0 if model.startswith(LOCAL_PROVIDER + "/") else _cost(litellm, response, client),
    }


def _with_backoff(litellm, client: LLMClient, call):
    """Run ``call``, retrying transient provider errors with exponential backoff."""
    transient = (litellm.Timeout, litellm.RateLimitError, litellm.APIConnectionError,
                 litellm.InternalServerError, litellm.ServiceUnavailableError, litellm.BadGatewayError)
    attempt = 0
    while True:
        try:
            return call()
        except transient as exc:
            if attempt == client.max_retries:
                raise LLMGenerationError(
                    f"{client.model}: {type(exc).__name__} after {attempt + 1} attempts: {exc}"
                ) from exc
        except litellm.APIError as exc:
            if (getattr(exc, "status_code", None) or 0) < 500 or attempt == client.max_retries:
                raise LLMGenerationError(f"{client.model}: {type(exc).__name__}: {exc}") from exc
        time.sleep(min(_MAX_BACKOFF, client.backoff * 2**attempt))
        attempt += 1


def _cost(litellm, response, client: LLMClient) -> float:
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # model missing from litellm's price map
        if client.cost_cap is not None:
            warnings.warn(f"litellm knows no price for {client.model}; cost_cap cannot be enforced",
                          RuntimeWarning, stacklevel=2)
        return 0.0


def _call_seed(seed: int | None, job: tuple[int, int], round_: int) -> int | None:
    if seed is None:
        return None
    state = np.random.SeedSequence([int(seed), job[0], job[1], round_]).generate_state(1)[0]
    return int(state >> 1)  # 31 bits: every provider accepts it


def _max_tokens(schema: TableSchema, n_rows: int) -> int:
    """A generous completion-token cap for ``n_rows`` rows (about 3x the measured need)."""
    per_row = 4 + sum(
        (min(column.max_length or 300, 1000) // 2 if column.kind == "text" else 10) for column in schema
    )
    return 32 + n_rows * per_row


class _progress:
    """tqdm bar over rows, shown only when ``verbose`` and stderr is a terminal."""

    def __init__(self, total: int, verbose: int):
        self.total, self.verbose = total, verbose
        self.bar = None

    def __enter__(self):
        if self.verbose and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit="row", desc="LLM rows")
        return self

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
