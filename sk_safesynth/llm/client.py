"""The LLM client: schema-valid rows and document continuations from any litellm model,
in parallel, with budgets, a response cache and one loop that re-asks for what is missing."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from itertools import islice

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from sk_safesynth.exceptions import LLMGenerationError
from sk_safesynth.llm import transport
from sk_safesynth.llm.backend import get_litellm
from sk_safesynth.llm.budget import COUNTERS, RunBudget
from sk_safesynth.llm.cache import DEFAULT_MAX_BYTES
from sk_safesynth.llm.capture import record_prompt
from sk_safesynth.llm.local_model import DEFAULT_MODEL, LOCAL_PROVIDER
from sk_safesynth.llm.progress import Progress
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
from sk_safesynth.llm.results import GenerationResult, GenerationTask, TextResult
from sk_safesynth.llm.secrets import redact
from sk_safesynth.schema import TableSchema

_EMBEDDING_FEATURES = 2**12
# Calls per chunk of a run: enough to keep 32+ parallel calls busy, few enough that a
# chunk's prompts and rows are small.
_CHUNK_CALLS = 512
PROMPT_STYLES = ("auto", "chat", "document")
# Provider options that say which server answers (so they key the response cache); secrets never do.
_ENDPOINT_OPTIONS = ("api_base", "base_url", "api_version", "organization", "custom_llm_provider", "deployment_id",
                     "region_name", "aws_region_name", "vertex_project", "vertex_location")

__all__ = ["GenerationResult", "GenerationTask", "LLMClient", "PROMPT_STYLES", "TextResult"]


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
        one JSON file per call, keyed by the provider's identity — model and endpoint
        options such as ``api_base`` —, the request and its parameters; it survives
        upgrades of this package); None disables caching.
    cache_max_bytes : int, default=2**30 (1 GiB)
        Size bound of the response cache: past it, the least recently used records
        are removed. ``sk-safesynth cache info|clear`` inspects and clears it.
    max_retries : int, default=4
        Retries of a call on timeouts, rate limits and server errors (with exponential
        backoff; the only retry layer: litellm's and the OpenAI SDK's are switched
        off unless set in ``provider_options``), and rounds of re-asking for rows that
        were missing or invalid.
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
                 allow_remote_embedding: bool = False, cache_max_bytes: int = DEFAULT_MAX_BYTES, **provider_options):
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.cache_max_bytes = cache_max_bytes
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

    def provider_identity(self) -> dict:
        """Which model on which server answers: the model string and the endpoint options
        (``api_base``, ``api_version``, ...), never secrets. It keys the response cache."""
        return {"model": self.model, **{name: self.provider_options[name] for name in _ENDPOINT_OPTIONS
                                        if self.provider_options.get(name) is not None}}

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
            **{name: sum(getattr(part, name) for part in parts) for name in (*COUNTERS, "n_invalid")},
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
        budget = self._budget()
        use_schema = self._use_response_format()
        total = sum(int(task.n_rows) for task in tasks) if isinstance(tasks, Sized) else None
        jobs = _jobs(tasks, self.max_rows_per_call)
        asked = valid = 0
        bound = None if total is None else total * (self.max_tokens or _max_tokens(schema, 1))
        with Progress(total, self.verbose, max_tokens=bound, pace_key=self.model) as bar, self._parallel() as parallel:
            while chunk := list(islice(jobs, chunk_calls)):
                tasks_of = {job: task for job, _, task in chunk}
                needed = {job: n for job, n, _ in chunk}
                asked += sum(needed.values())
                before = budget.snapshot()

                def calls(pending, round_, tasks_of=tasks_of):
                    return self._row_calls(schema, tasks_of, pending, seed, round_, use_schema, budget)

                rows, errors = self._ask(parallel, needed, calls, budget, bar)
                valid += sum(map(len, rows.values()))
                if any(needed.values()):
                    raise LLMGenerationError(
                        f"{self.model} gave {valid} of {asked} valid rows after {self.max_retries + 1} rounds "
                        f"({budget.n_calls} calls, {len(errors)} invalid rows in the last chunk); most common "
                        f"problems: {summarize_errors(errors)}")
                ordered = sorted(rows)
                after = budget.snapshot()
                yield GenerationResult(
                    rows=schema.to_frame([row for job in ordered for row in rows[job]]),
                    task_index=np.array([job[0] for job in ordered for _ in rows[job]], dtype=int),
                    n_invalid=len(errors),
                    **{name: after[name] - before[name] for name in COUNTERS},
                )

    def _row_calls(self, schema, tasks, pending, seed, round_, use_schema, budget: RunBudget):
        """joblib calls for ``pending`` ``(job, rows)``; stops issuing them once a budget is spent."""
        style = self.style()
        for job, n_rows in pending:
            if budget.problem() is not None:
                return
            task = tasks[job]
            params: dict[str, object] = {"temperature": self.temperature, **_seed_param(seed, job, round_)}
            if style == "document":
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
            yield delayed(_call_rows)(self, schema, request, params, job, budget.deadline)

    def style(self) -> str:
        """The prompt style in use: ``"document"`` or ``"chat"`` (see ``prompt_style``)."""
        if self.prompt_style != "auto":
            return self.prompt_style
        provider = self.model.split("/", 1)[0]
        if provider == LOCAL_PROVIDER:
            return "document"  # a base model: it continues documents
        if provider in transport.OWN_PROVIDERS:
            return "chat"
        try:
            mode = get_litellm().get_model_info(self.model).get("mode")
        except Exception:  # unknown to litellm's model map
            mode = None
        return "document" if mode == "completion" else "chat"

    def _use_response_format(self) -> bool:
        if self.structured != "auto":
            return bool(self.structured)
        if self.model.split("/", 1)[0] in transport.OWN_PROVIDERS:
            return True
        try:
            return bool(get_litellm().supports_response_schema(model=self.model))
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
        budget = self._budget()
        needed = {(i, 0): int(n) for i in range(len(prompts)) if n > 0}
        params = {"temperature": self.temperature if temperature is None else temperature,
                  "max_tokens": int(max_tokens), **({"stop": list(stop)} if stop else {})}

        style = self.style()

        def calls(pending, round_):
            for job, k in pending:
                if budget.problem() is not None:
                    return
                prompt = prompts[job[0]]
                if style == "document":
                    request, text = {"prompt": prompt}, prompt
                else:
                    messages = [{"role": "system", "content": DOCUMENT_INSTRUCTION},
                                {"role": "user", "content": prompt}]
                    request, text = {"messages": messages}, prompt_text(messages)
                record_prompt(text)
                yield delayed(_call_text)(self, request, {**params, "n": k, **_seed_param(seed, job, round_)}, job,
                                          budget.deadline, min_chars)

        with Progress(len(prompts) * n, self.verbose, unit="text", max_tokens=len(prompts) * n * int(max_tokens),
                      pace_key=self.model) as bar, self._parallel() as parallel:
            texts, short = self._ask(parallel, needed, calls, budget, bar)
        if any(needed.values()):
            raise LLMGenerationError(
                f"{self.model} wrote {sum(map(len, texts.values()))} of {len(prompts) * n} texts of at least "
                f"{min_chars} characters after {self.max_retries + 1} rounds ({len(short)} too short)")
        return TextResult(texts=[texts.get((i, 0), []) for i in range(len(prompts))], n_invalid=len(short),
                          **budget.snapshot())

    # -- the one loop -----------------------------------------------------------------

    def _budget(self) -> RunBudget:
        get_litellm()  # import litellm and register the providers before any call is dispatched
        return RunBudget(self.model, self.token_budget, self.cost_cap, self.time_limit)

    def _parallel(self) -> Parallel:
        return Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator_unordered")

    def _ask(self, parallel: Parallel, needed: dict, calls: Callable, budget: RunBudget,
             bar: Progress) -> tuple[dict, list]:
        """Ask until every job has what it ``needed``, in at most ``max_retries + 1`` rounds.

        ``calls(pending, round_)`` yields one joblib call per ``(job, count)`` still
        pending; each returns ``(job, good, bad, usage, cached)``. ``needed`` is
        updated in place (what is still missing). Returns the good answers per job and
        every bad one.
        """
        good: dict = defaultdict(list)
        bad: list = []
        for round_ in range(self.max_retries + 1):
            pending = [(job, k) for job, k in needed.items() if k > 0]
            if not pending:
                break
            budget.check()
            results = parallel(calls(pending, round_))
            try:
                for job, answers, rejected, usage, cached in results:
                    budget.add(usage, cached)
                    answers = answers[: needed[job]]
                    good[job].extend(answers)
                    needed[job] -= len(answers)
                    bad.extend(rejected)
                    bar.update(len(answers))
                    budget.check()
            finally:
                with warnings.catch_warnings():
                    # On an error, joblib warns that calls in flight were dropped: that is the point.
                    warnings.filterwarnings("ignore", category=UserWarning,
                                            message=r"\d+ tasks (have been successfully executed|which were still)")
                    results.close()
        return good, bad

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
        for text in texts:
            record_prompt(text)
        response = transport.embedding(self, texts)
        vectors = np.array([item["embedding"] for item in response.data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def _call_rows(client: LLMClient, schema: TableSchema, request: dict, params: dict, job, deadline):
    """One completion, parsed and validated (runs in a joblib worker, possibly remote)."""
    record, cached = transport.completion(client, request, params, deadline)
    valid, invalid = [], []
    for text in record["texts"]:
        rows, errors = parse_rows(text, schema)
        valid.extend(rows)
        invalid.extend(errors)
    return job, valid, invalid, _usage(record), cached


def _call_text(client: LLMClient, request: dict, params: dict, job, deadline, min_chars: int):
    """One document completion: the continuations of at least ``min_chars`` characters."""
    record, cached = transport.completion(client, request, params, deadline)
    texts = [text.strip() for text in record["texts"]]
    good, short = [t for t in texts if len(t) >= min_chars], [t for t in texts if len(t) < min_chars]
    return job, good, short, _usage(record), cached


def _usage(record: dict) -> dict:
    return {key: record[key] for key in ("prompt_tokens", "completion_tokens", "cost")}


def _jobs(tasks: Iterable[GenerationTask],
          max_rows_per_call: int) -> Iterator[tuple[tuple[int, int], int, GenerationTask]]:
    """``((task index, call index), rows, task)`` for each call-sized part of each task, lazily."""
    for i, task in enumerate(tasks):
        for k, start in enumerate(range(0, int(task.n_rows), max_rows_per_call)):
            yield (i, k), min(max_rows_per_call, int(task.n_rows) - start), task


def _seed_param(seed: int | None, job: tuple[int, int], round_: int) -> dict:
    """``{"seed": s}`` for call ``job`` in round ``round_`` of a seeded run, else ``{}``."""
    if seed is None:
        return {}
    state = np.random.SeedSequence([int(seed), job[0], job[1], round_]).generate_state(1)[0]
    return {"seed": int(state >> 1)}  # 31 bits: every provider accepts it


def _max_tokens(schema: TableSchema, n_rows: int) -> int:
    """A generous completion-token cap for ``n_rows`` rows (about 3x the measured need)."""
    per_row = 4 + sum(
        (min(column.max_length or 300, 1000) // 2 if column.kind == "text" else 10) for column in schema
    )
    return 32 + n_rows * per_row
