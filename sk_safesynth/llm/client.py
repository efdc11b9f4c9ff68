"""The LLM client: schema-valid rows from any litellm model, in parallel, with retries,
budgets and a response cache."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from sk_safesynth.exceptions import LLMBudgetExceeded, LLMGenerationError
from sk_safesynth.llm.backend import DEFAULT_MODEL, LOCAL_PROVIDER, get_litellm
from sk_safesynth.llm.cache import ResponseCache
from sk_safesynth.llm.capture import record_prompt
from sk_safesynth.llm.secrets import redact
from sk_safesynth.llm.prompts import (
    DOCUMENT_INSTRUCTION,
    build_document,
    build_messages,
    parse_rows,
    prompt_text,
    response_format,
    row_response_format,
    summarize_errors,
)
from sk_safesynth.schema import TableSchema

# Providers of this package: they always get a response_format.
_OWN_PROVIDERS = (LOCAL_PROVIDER, "sksafesynth-fake")
_MAX_BACKOFF = 30.0
_EMBEDDING_FEATURES = 2**12
# Calls per chunk of a run: enough to keep 32+ parallel calls busy, few enough that a
# chunk's prompts and rows are small.
_CHUNK_CALLS = 512
PROMPT_STYLES = ("auto", "chat", "document")


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


@dataclass(kw_only=True)
class Usage:
    """Accounting of one LLM run.

    Attributes
    ----------
    n_calls : int
        Completion calls made (cache hits included).
    n_cached : int
        Calls answered by the response cache.
    prompt_tokens, completion_tokens : int
        Tokens reported by the provider (cache hits excluded).
    cost : float
        USD spent according to ``litellm.completion_cost`` (0 when unknown).
    n_invalid : int
        Answers that failed validation (rows) or were too short (texts) and were
        asked for again.
    """

    n_calls: int = 0
    n_cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    n_invalid: int = 0


@dataclass
class GenerationResult(Usage):
    """Rows generated for a list of tasks, with the run's :class:`Usage`.

    Attributes
    ----------
    rows : DataFrame
        Exactly ``sum(task.n_rows)`` valid rows, in schema column order and dtypes,
        tasks in order.
    task_index : ndarray of int
        For each row, the index of the task it came from.
    """

    rows: pd.DataFrame
    task_index: np.ndarray


@dataclass
class TextResult(Usage):
    """Texts written for a list of document prompts, with the run's :class:`Usage`.

    Attributes
    ----------
    texts : list of list of str
        For each prompt, exactly the number of continuations asked for.
    """

    texts: list[list[str]]


@dataclass
class _Spend:
    """Accounting of one ``generate`` run, enforcing its budgets.

    Only the calling process updates it (workers return their usage), so it works
    with every joblib backend; the lock is for joblib's dispatch threads, which read it.
    """

    token_budget: int | None
    cost_cap: float | None
    deadline: float | None = None
    n_calls: int = 0
    n_cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self) -> str | None:
        """Why no further call may be made, or None."""
        with self.lock:
            tokens = self.prompt_tokens + self.completion_tokens
            if self.token_budget is not None and tokens >= self.token_budget:
                return f"token budget of {self.token_budget} reached ({tokens} tokens used)"
            if self.cost_cap is not None and self.cost >= self.cost_cap:
                return f"cost cap of ${self.cost_cap:g} reached (${self.cost:.4f} spent)"
        return None

    def check(self, client: LLMClient) -> None:
        problem = self.problem()
        if problem is not None:
            raise LLMBudgetExceeded(problem)
        if _past(self.deadline):
            raise LLMGenerationError(
                f"{client.model}: time_limit of {client.time_limit:g} s reached after {self.n_calls} calls"
            )

    def add(self, usage: dict, cached: bool) -> None:
        with self.lock:
            self.n_calls += 1
            if cached:
                self.n_cached += 1
                return
            self.prompt_tokens += usage["prompt_tokens"]
            self.completion_tokens += usage["completion_tokens"]
            self.cost += usage["cost"]

    def snapshot(self) -> dict:
        with self.lock:
            return {name: getattr(self, name) for name in _COUNTERS}


_COUNTERS = ("n_calls", "n_cached", "prompt_tokens", "completion_tokens", "cost")


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
        Directory of the response cache (:class:`~sk_safesynth.llm.cache.ResponseCache`:
        one JSON file per call, keyed by model, request and parameters; it survives
        upgrades of this package); None disables caching.
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
        0 is silent; otherwise progress on stderr: a bar on a terminal, a line at every
        tenth of the work elsewhere (logs, CI).
    embedding_model : str, optional
        litellm embedding model for :meth:`embed`; None uses a local, data-independent
        hashing vectorizer.
    allow_remote_embedding : bool, default=False
        Whether a method may send **private** text to ``embedding_model`` (tabular
        ``private_evolution`` embeds the private texts to count their votes). Any
        ``embedding_model`` runs outside this process, so that is a release outside the DP
        guarantee: without this opt-in such a fit raises ``ValueError`` before its votes
        spend anything or any text is sent; with it, it warns with
        :class:`~sk_safesynth.PrivacyLeakWarning`.
        Public text (candidates, synthetic rows) may always be embedded. Pass it through
        ``DPSyntheticSampler(llm_kwargs={"embedding_model": ..., "allow_remote_embedding": True})``.
    max_rows_per_call : int, default=20
        Larger tasks are split into calls of at most this many rows.
    structured : {"auto", True, False}, default="auto"
        Whether to send a JSON-schema ``response_format``. "auto" sends it to the
        embedded and fake models and to models litellm says support it.
    backoff : float, default=0.5
        First backoff delay in seconds; doubles on each retry (at most 30 s).
    time_limit : float, optional
        Maximum wall-clock seconds of one ``generate`` run, retries and backoff
        included; None means no limit beyond ``max_retries`` and ``timeout``.
    prompt_style : {"auto", "chat", "document"}, default="auto"
        How prompts are written. ``"document"`` (base and completion models) writes
        a document that the model continues: rows as JSON lines after a header and
        the demonstrations, one row per completion choice, cut at the line's end;
        texts as documents under a header. ``"chat"`` sends instructions and the
        same material as messages and asks for a JSON answer. ``"auto"`` picks
        ``"document"`` for the embedded model and for models litellm lists as
        text-completion models, ``"chat"`` otherwise.
    **provider_options
        Anything litellm accepts per call, passed to every completion and embedding
        call: ``api_base``, ``api_key``, ``api_version``, ``extra_headers``,
        ``organization``, ``num_retries``, ... (e.g. a self-hosted OpenAI-compatible
        server: ``LLMClient("openai/my-model", api_base="http://host:8000/v1",
        api_key="...")``). Secret values never appear in the client's repr, and
        ``DPSyntheticSampler`` keeps them out of its repr and pickles.

    Notes
    -----
    Calls run through joblib, so ``joblib.parallel_config(backend="dask")`` sends them
    to a dask cluster (see ``docs/hardening.md``). Prompts are built, recorded for
    :func:`~sk_safesynth.llm.capture_prompts` and accounted in the calling process;
    workers only call the provider and validate its answer.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, temperature: float = 1.0, max_tokens: int | None = None,
                 n_jobs: int | None = None, cache_dir=None, max_retries: int = 4, token_budget: int | None = None,
                 cost_cap: float | None = None, timeout: float = 120, verbose: int = 0,
                 embedding_model: str | None = None, max_rows_per_call: int = 20, structured="auto",
                 backoff: float = 0.5, time_limit: float | None = None, prompt_style: str = "auto",
                 allow_remote_embedding: bool = False, **provider_options):
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
        self.allow_remote_embedding = allow_remote_embedding
        self.max_rows_per_call = max_rows_per_call
        self.structured = structured
        self.backoff = backoff
        self.time_limit = time_limit
        self.prompt_style = prompt_style
        self.provider_options = provider_options
        if prompt_style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {prompt_style!r}")

    def __repr__(self) -> str:
        options = f", provider_options={redact(self.provider_options)!r}" if self.provider_options else ""
        return f"LLMClient(model={self.model!r}{options})"

    # -- rows -------------------------------------------------------------------------

    def generate(self, schema: TableSchema, tasks: Iterable[GenerationTask],
                 seed: int | None = None) -> GenerationResult:
        """Generate exactly ``task.n_rows`` valid rows for each task.

        Parameters
        ----------
        schema : TableSchema
            Public schema; every row is validated against it.
        tasks : iterable of GenerationTask
            What to generate; the result keeps their order.
        seed : int, optional
            Makes the run reproducible with seeded providers (the embedded and fake
            models): call ``k`` of task ``i`` in retry round ``r`` gets a seed derived
            from ``(seed, i, k, r)``, so a response cache answers a re-run, whatever
            the joblib backend and chunking.

        Returns
        -------
        GenerationResult

        Raises
        ------
        LLMGenerationError
            When too few valid rows were obtained after ``max_retries`` rounds, or
            ``time_limit`` was reached.
        LLMBudgetExceeded
            When the token budget or cost cap is reached.
        """
        parts = list(self.iter_generate(schema, tasks, seed))
        if not parts:
            return GenerationResult(rows=schema.to_frame([]), task_index=np.empty(0, dtype=int))
        return GenerationResult(
            rows=pd.concat([part.rows for part in parts], ignore_index=True),
            task_index=np.concatenate([part.task_index for part in parts]),
            **{name: sum(getattr(part, name) for part in parts) for name in (*_COUNTERS, "n_invalid")},
        )

    def iter_generate(self, schema: TableSchema, tasks: Iterable[GenerationTask], seed: int | None = None, *,
                      chunk_calls: int = _CHUNK_CALLS) -> Iterator[GenerationResult]:
        """Like :meth:`generate`, but yield results chunk by chunk, in task order.

        Tasks are read lazily and processed ``chunk_calls`` calls at a time (retries
        included), so memory stays flat however many rows are asked for: neither the
        prompts nor the rows of earlier chunks are kept. Budgets and ``time_limit``
        apply to the whole run. Each result carries the counts of its own chunk and
        global task indices; a task may span two chunks.
        """
        if chunk_calls < 1:
            raise ValueError(f"chunk_calls must be >= 1, got {chunk_calls}")
        litellm = get_litellm()
        deadline = None if self.time_limit is None else time.time() + self.time_limit
        spend = _Spend(self.token_budget, self.cost_cap, deadline)
        use_schema = self._use_response_format(litellm)
        total = sum(int(task.n_rows) for task in tasks) if isinstance(tasks, Sized) else None
        jobs = _jobs(tasks, self.max_rows_per_call)
        progress = {"asked": 0, "valid": 0}
        with _progress(total, self.verbose) as bar, \
                Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator_unordered") as parallel:
            while chunk := list(islice(jobs, chunk_calls)):
                yield self._run_chunk(parallel, schema, chunk, seed, use_schema, spend, bar, progress)

    def _run_chunk(self, parallel, schema, chunk, seed, use_schema, spend: _Spend, bar, progress) -> GenerationResult:
        """All rows of one chunk of calls, with rounds of retries for the shortfall."""
        tasks = {job: task for job, _, task in chunk}
        needed = {job: n for job, n, _ in chunk}
        progress["asked"] += sum(needed.values())
        rows: dict[tuple[int, int], list[dict]] = defaultdict(list)
        errors: list[str] = []
        before = spend.snapshot()
        for round_ in range(self.max_retries + 1):
            pending = [(job, n) for job, n in needed.items() if n > 0]
            if not pending:
                break
            spend.check(self)
            results = parallel(self._calls(schema, tasks, pending, seed, round_, use_schema, spend))
            try:
                for job, valid, invalid, usage, cached in results:
                    spend.add(usage, cached)
                    valid = valid[: needed[job]]
                    rows[job].extend(valid)
                    needed[job] -= len(valid)
                    progress["valid"] += len(valid)
                    errors.extend(invalid)
                    bar.update(len(valid))
                    spend.check(self)
            finally:
                with warnings.catch_warnings():
                    # On an error, joblib warns that calls in flight were dropped: that is the point.
                    warnings.filterwarnings("ignore", category=UserWarning,
                                            message=r"\d+ tasks (have been successfully executed|which were still)")
                    results.close()
        if any(needed.values()):
            raise LLMGenerationError(
                f"{self.model} gave {progress['valid']} of {progress['asked']} valid rows after "
                f"{self.max_retries + 1} rounds ({spend.n_calls} calls, {len(errors)} invalid rows in the last "
                f"chunk); most common problems: {summarize_errors(errors)}"
            )
        ordered = sorted(rows)
        after = spend.snapshot()
        return GenerationResult(
            rows=schema.to_frame([row for job in ordered for row in rows[job]]),
            task_index=np.array([job[0] for job in ordered for _ in rows[job]], dtype=int),
            n_invalid=len(errors),
            **{name: after[name] - before[name] for name in _COUNTERS},
        )

    def _calls(self, schema, tasks, pending, seed, round_, use_schema, spend: _Spend):
        """joblib calls for ``pending``; stops issuing them once a budget or the time limit is reached."""
        for job, n_rows in pending:
            if spend.problem() is not None or _past(spend.deadline):
                return
            task = tasks[job]
            params: dict[str, object] = {"temperature": self.temperature}
            call_seed = _call_seed(seed, job, round_)
            if call_seed is not None:
                params["seed"] = call_seed
            if self.style() == "document":
                # One row per choice: the model writes the next line of the document.
                prompt = build_document(schema, task.examples, task.hint)
                params.update(n=n_rows, stop=["\n"], max_tokens=self.max_tokens or _max_tokens(schema, 1))
                if use_schema:
                    params["response_format"] = row_response_format(schema)
                request, text = {"prompt": prompt}, prompt  # type: dict[str, object], str
            else:
                messages = build_messages(schema, task.examples, n_rows, task.hint)
                params["max_tokens"] = self.max_tokens or _max_tokens(schema, n_rows)
                if use_schema:
                    params["response_format"] = response_format(schema, n_rows)
                request, text = {"messages": messages}, prompt_text(messages)
            # Recorded here, in the calling process, so audits see prompts sent by remote workers too.
            record_prompt(text)
            yield delayed(_call_rows)(self, schema, request, params, job, spend.deadline)

    def style(self) -> str:
        """The prompt style in use: ``"document"`` or ``"chat"`` (see ``prompt_style``)."""
        if self.prompt_style != "auto":
            return self.prompt_style
        if self.model.split("/", 1)[0] == LOCAL_PROVIDER:
            return "document"  # a base model: it continues documents
        if self.model.split("/", 1)[0] in _OWN_PROVIDERS:
            return "chat"
        try:
            mode = get_litellm().get_model_info(self.model).get("mode")
        except Exception:  # unknown to litellm's model map
            mode = None
        return "document" if mode == "completion" else "chat"

    def _use_response_format(self, litellm) -> bool:
        if self.structured != "auto":
            return bool(self.structured)
        if self.model.split("/", 1)[0] in _OWN_PROVIDERS:
            return True
        try:
            return bool(litellm.supports_response_schema(model=self.model))
        except Exception:  # unknown model: litellm raises instead of answering
            return False

    # -- documents --------------------------------------------------------------------

    def write(self, prompts: Sequence[str], *, max_tokens: int, n: int = 1, seed: int | None = None,
              stop: Sequence[str] | None = None, min_chars: int = 1, temperature: float | None = None) -> TextResult:
        """Continue each document prompt ``n`` times.

        Parameters
        ----------
        prompts : sequence of str
            Documents to continue (public or DP-protected text only: they are sent
            as they are). In ``"document"`` style the model continues each prompt
            verbatim; in ``"chat"`` style it gets :data:`DOCUMENT_INSTRUCTION` as the
            system message and the prompt as the user message.
        max_tokens : int
            Completion tokens per continuation.
        n : int, default=1
            Continuations per prompt (completion choices).
        seed : int, optional
            Reproducible runs with seeded providers, as in :meth:`generate`.
        stop : sequence of str, optional
            Stop sequences (e.g. the start of the next document).
        min_chars : int, default=1
            Continuations shorter than this (after stripping) are asked for again, at
            most ``max_retries`` times.
        temperature : float, optional
            Sampling temperature of these calls (default: the client's ``temperature``).

        Returns
        -------
        TextResult

        Raises
        ------
        LLMGenerationError, LLMBudgetExceeded
            As :meth:`generate`.
        """
        litellm = get_litellm()
        deadline = None if self.time_limit is None else time.time() + self.time_limit
        spend = _Spend(self.token_budget, self.cost_cap, deadline)
        texts: list[list[str]] = [[] for _ in prompts]
        needed = {i: int(n) for i in range(len(prompts)) if n > 0}
        n_short = 0
        with _progress(len(prompts) * n, self.verbose, unit="text") as bar, \
                Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator_unordered") as parallel:
            for round_ in range(self.max_retries + 1):
                pending = [(i, k) for i, k in needed.items() if k > 0]
                if not pending:
                    break
                spend.check(self)
                calls = self._text_calls(litellm, prompts, pending, max_tokens, seed, stop, round_, min_chars, spend,
                                         self.temperature if temperature is None else temperature)
                for i, good, short, usage, cached in parallel(calls):
                    spend.add(usage, cached)
                    good = good[: needed[i]]
                    texts[i].extend(good)
                    needed[i] -= len(good)
                    n_short += len(short)
                    bar.update(len(good))
                    spend.check(self)
        if any(needed.values()):
            raise LLMGenerationError(
                f"{self.model} wrote {sum(map(len, texts))} of {len(prompts) * n} texts of at least {min_chars} "
                f"characters after {self.max_retries + 1} rounds ({n_short} too short)"
            )
        return TextResult(texts=texts, n_invalid=n_short, **spend.snapshot())

    def _text_calls(self, litellm, prompts, pending, max_tokens, seed, stop, round_, min_chars, spend: _Spend,
                    temperature: float):
        for i, n in pending:
            if spend.problem() is not None or _past(spend.deadline):
                return
            params = {"temperature": temperature, "max_tokens": int(max_tokens), "n": n}
            call_seed = _call_seed(seed, (i, 0), round_)
            if call_seed is not None:
                params["seed"] = call_seed
            if stop:
                params["stop"] = list(stop)
            if self.style() == "document":
                request, text = {"prompt": prompts[i]}, prompts[i]
            else:
                messages = [{"role": "system", "content": DOCUMENT_INSTRUCTION},
                            {"role": "user", "content": prompts[i]}]
                request, text = {"messages": messages}, prompt_text(messages)
            record_prompt(text)
            yield delayed(_call_text)(self, request, params, i, spend.deadline, min_chars)

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
        deadline = None if self.time_limit is None else time.time() + self.time_limit
        response = _with_backoff(
            litellm, self, lambda: litellm.embedding(model=self.embedding_model, input=texts, timeout=self.timeout,
                                      **self.provider_options),
            deadline,
        )
        vectors = np.array([item["embedding"] for item in response.data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def _call_rows(client: LLMClient, schema: TableSchema, request: dict, params: dict, job, deadline):
    """One completion, parsed and validated (runs in a joblib worker, possibly remote)."""
    record, cached = _cached_completion(client, request, params, deadline)
    valid, invalid = [], []
    for text in record["texts"]:
        rows, errors = parse_rows(text, schema)
        valid.extend(rows)
        invalid.extend(errors)
    usage = {key: record[key] for key in ("prompt_tokens", "completion_tokens", "cost")}
    return job, valid, invalid, usage, cached


def _call_text(client: LLMClient, request: dict, params: dict, job, deadline, min_chars: int):
    """One document completion: the continuations of at least ``min_chars`` characters."""
    record, cached = _cached_completion(client, request, params, deadline)
    texts = [text.strip() for text in record["texts"]]
    usage = {key: record[key] for key in ("prompt_tokens", "completion_tokens", "cost")}
    return job, [t for t in texts if len(t) >= min_chars], [t for t in texts if len(t) < min_chars], usage, cached


def _cached_completion(client: LLMClient, request: dict, params: dict, deadline) -> tuple[dict, bool]:
    """A completion record, from the response cache when it holds one."""
    litellm = get_litellm()  # registers the embedded provider in a fresh worker process
    cache = None if client.cache_dir is None else ResponseCache(client.cache_dir)
    if cache is not None:
        key = cache.key(client.model, request, params)
        record = cache.get(key)
        if record is not None:
            return record, True
    record = _completion_record(client.model, request, params, client=client, litellm=litellm, deadline=deadline)
    if cache is not None:
        cache.put(key, record)
    return record, False


def _completion_record(model: str, request: dict, params: dict, *, client: LLMClient, litellm,
                       deadline: float | None = None) -> dict:
    """One completion as a plain, cacheable dict (texts of the choices, tokens, cost).

    ``request`` holds chat ``messages`` or a document ``prompt``. A document goes to
    text completion; the embedded and fake providers take it as one user message,
    which they continue verbatim.
    """
    options = {"timeout": client.timeout, **client.provider_options, **params}
    if "messages" in request:
        call = lambda: litellm.completion(model=model, messages=request["messages"], **options)
    elif model.split("/", 1)[0] in _OWN_PROVIDERS:
        messages = [{"role": "user", "content": request["prompt"]}]
        call = lambda: litellm.completion(model=model, messages=messages, **options)
    else:
        call = lambda: litellm.text_completion(model=model, prompt=request["prompt"], **options)
    response = _with_backoff(litellm, client, call, deadline)
    usage = getattr(response, "usage", None)
    return {
        "texts": [_choice_text(choice) for choice in response.choices],
        "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
        "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        "cost": 0.0 if model.startswith(LOCAL_PROVIDER + "/") else _cost(litellm, response, client),
    }


def _with_backoff(litellm, client: LLMClient, call, deadline: float | None = None):
    """Run ``call``, retrying transient provider errors with exponential backoff (never past ``deadline``)."""
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
            error = exc
        except (litellm.APIError, *_provider_errors()) as exc:
            # authentication, bad request, not found ... : retrying cannot help
            if (getattr(exc, "status_code", None) or 0) < 500 or attempt == client.max_retries:
                raise LLMGenerationError(f"{client.model}: {type(exc).__name__}: {exc}") from exc
            error = exc
        delay = min(_MAX_BACKOFF, client.backoff * 2**attempt)
        delay = max(delay, retry_after(error) or 0.0)  # the provider's word, when it gives one
        if _past(deadline, delay):
            raise LLMGenerationError(
                f"{client.model}: time limit reached while retrying {type(error).__name__}: {error}"
            ) from error
        time.sleep(delay)
        attempt += 1


def _choice_text(choice) -> str:
    message = getattr(choice, "message", None)
    if message is not None:
        return message.content or ""
    return getattr(choice, "text", None) or ""


def _provider_errors() -> tuple[type, ...]:
    """The OpenAI SDK's error base class, which litellm's provider errors derive from."""
    try:
        import openai
    except ImportError:  # litellm without the OpenAI SDK
        return ()
    return (openai.APIError,)


def retry_after(error) -> float | None:
    """Seconds a provider asked to wait (``Retry-After`` / ``retry-after-ms`` headers), capped at 120."""
    headers = getattr(error, "litellm_response_headers", None)
    response = getattr(error, "response", None)
    if headers is None and response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    headers = {str(k).lower(): v for k, v in dict(headers).items()}
    try:
        if "retry-after-ms" in headers:
            return min(120.0, max(0.0, float(headers["retry-after-ms"]) / 1000))
        if "retry-after" in headers:
            value = str(headers["retry-after"]).strip()
            if value.replace(".", "", 1).isdigit():
                return min(120.0, float(value))
            from email.utils import parsedate_to_datetime

            return min(120.0, max(0.0, parsedate_to_datetime(value).timestamp() - time.time()))
    except (TypeError, ValueError):
        return None
    return None


def _cost(litellm, response, client: LLMClient) -> float:
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # model missing from litellm's price map
        if client.cost_cap is not None:
            warnings.warn(f"litellm knows no price for {client.model}; cost_cap cannot be enforced",
                          RuntimeWarning, stacklevel=2)
        return 0.0


def _past(deadline: float | None, margin: float = 0.0) -> bool:
    # Wall-clock (not monotonic) time: the deadline travels to worker processes.
    return deadline is not None and time.time() + margin >= deadline


def _jobs(tasks: Iterable[GenerationTask],
          max_rows_per_call: int) -> Iterator[tuple[tuple[int, int], int, GenerationTask]]:
    """``((task index, call index), rows, task)`` for each call-sized part of each task, lazily."""
    for i, task in enumerate(tasks):
        for k, start in enumerate(range(0, int(task.n_rows), max_rows_per_call)):
            yield (i, k), min(max_rows_per_call, int(task.n_rows) - start), task


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
    """Progress over rows or texts when ``verbose``: a tqdm bar on a terminal, otherwise
    (logs, CI, pipes) a plain line on stderr at every tenth of the work."""

    def __init__(self, total: int | None, verbose: int, unit: str = "row"):
        self.total, self.verbose, self.unit = total, verbose, unit
        self.bar = None
        self.done = self.next_line = 0

    def __enter__(self):
        if self.verbose and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, desc=f"LLM {self.unit}s")
        return self

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)
            return
        self.done += n
        if self.verbose and self.total and (self.done >= self.next_line or self.done >= self.total):
            print(f"LLM {self.unit}s: {min(self.done, self.total)}/{self.total}", file=sys.stderr, flush=True)
            self.next_line = self.done + max(1, self.total // 10)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
