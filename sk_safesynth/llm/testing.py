"""A fast, deterministic fake litellm provider for tests and benchmarks.

>>> from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider
>>> fake = install_fake_provider(latency=0.5)          # doctest: +SKIP
>>> LLMClient(FAKE_MODEL, n_jobs=16).generate(...)      # doctest: +SKIP

The fake reads the JSON schema of ``response_format`` and answers with random values
that satisfy it (enums, min/max, lengths), seeded by the request's ``seed`` and its
messages. ``fault_rate`` and ``faults`` inject provider failures for robustness tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid

import numpy as np
import pandas as pd

from sk_safesynth.llm.backend import get_litellm, replace_provider
from sk_safesynth.schema import ColumnSpec, TableSchema

FAKE_PROVIDER = "sksafesynth-fake"
FAKE_MODEL = f"{FAKE_PROVIDER}/rows"

#: Fault kinds: transport errors raised as litellm exceptions, or answers that are bad:
#: ``malformed`` (invalid JSON), ``out_of_range`` (a number below its minimum),
#: ``wrong_type`` (a value of the wrong JSON type in every row), ``unknown_category``
#: (a value outside a categorical column's enum), ``refusal`` (prose, no rows) and
#: ``truncated`` (cut short, as at ``max_tokens``, with ``finish_reason="length"``).
FAULTS = ("timeout", "rate_limit", "server_error", "malformed", "out_of_range", "wrong_type",
          "unknown_category", "refusal", "truncated")
#: Value written by the ``unknown_category`` fault.
UNKNOWN_CATEGORY = "UNSEEN-CATEGORY-XQ"

#: A small Adult-like schema and public demonstration rows, shared by the real-model
#: tests and the LLM bench.
ADULT_LIKE_SCHEMA = TableSchema((
    ColumnSpec("age", "integer", 17, 90, dtype="int64"),
    ColumnSpec("workclass", "categorical", categories=("Private", "Self-emp", "Federal-gov", "Local-gov", "State-gov")),
    ColumnSpec("education", "categorical", categories=("Bachelors", "HS-grad", "Masters", "Some-college", "Doctorate")),
    ColumnSpec("hours_per_week", "integer", 1, 99, dtype="int64"),
    ColumnSpec("income", "categorical", categories=("<=50K", ">50K")),
))
ADULT_LIKE_EXAMPLES = pd.DataFrame(
    [[39, "State-gov", "Bachelors", 40, "<=50K"], [50, "Self-emp", "Bachelors", 13, "<=50K"],
     [38, "Private", "HS-grad", 40, "<=50K"], [52, "Self-emp", "HS-grad", 45, ">50K"],
     [31, "Private", "Masters", 50, ">50K"], [42, "Federal-gov", "Doctorate", 60, ">50K"]],
    columns=ADULT_LIKE_SCHEMA.names,
)

_current: FakeProvider | None = None


class FakeProvider:
    """Configuration and call counter of the fake provider.

    Parameters
    ----------
    latency : float, default=0
        Seconds each call sleeps (releasing the GIL, like network I/O).
    fault_rate : float, default=0
        Probability that a call fails with one of ``faults`` (drawn from the seed).
    faults : tuple of str, default=FAULTS
        Fault kinds to draw from; see :data:`FAULTS`.
    cost_per_token : float, default=0
        USD per prompt or completion token, registered with ``litellm.register_model``
        so that ``litellm.completion_cost`` prices the fake model.
    keep_requests : bool, default=True
        Keep every request in ``requests``; turn off for long runs (benchmarks), whose
        memory would otherwise grow with the number of calls.
    """

    def __init__(self, latency: float = 0.0, fault_rate: float = 0.0, faults: tuple[str, ...] = FAULTS,
                 cost_per_token: float = 0.0, keep_requests: bool = True):
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; expected some of {FAULTS}")
        self.latency = latency
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.cost_per_token = cost_per_token
        self.keep_requests = keep_requests
        self.n_calls = 0
        self.in_flight = 0
        self.max_in_flight = 0  # most calls answered at once (with latency > 0): parallelism
        self.requests: list[dict] = []
        self._seen: dict = {}
        self._lock = threading.Lock()

    def __getstate__(self):
        # Picklable (locks are not) so that ``dask.distributed.Client.run(install_fake_provider)``
        # can return each worker's fake with its call counts.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def answer(self, messages: list[dict], params: dict) -> tuple[list[str], int, int, str]:
        """Texts of the ``n`` choices, prompt and completion tokens, finish reason (or raise a fault).

        With a JSON schema the answer is a random value satisfying it; values of
        demonstration rows found in the prompt (JSON arrays of the right length) are
        copied with probability 1/2 per value, as a model follows its examples, and a
        hint "In every row, <column> is <value>" is obeyed when the value is allowed. Without
        a schema the answer is text made of the prompt's words, so what a prompt shows
        is what the text is about.
        """
        seed = _seed(messages, params)
        with self._lock:
            self.n_calls += 1
            if self.keep_requests:
                self.requests.append({"messages": messages, "params": params})
            # Faults depend on how often this very request was seen, so a retry can succeed.
            repeat = 0
            if self.fault_rate:
                repeat = self._seen[seed] = self._seen.get(seed, -1) + 1
        if self.latency:
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            time.sleep(self.latency)
            with self._lock:
                self.in_flight -= 1
        rng = np.random.default_rng(seed)
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        prompt_tokens = len(prompt) // 4
        fault = self._draw_fault(np.random.default_rng(None if seed is None else [seed, repeat]))
        if fault in ("timeout", "rate_limit", "server_error"):
            _raise(fault)
        schema = _schema_of(params.get("response_format"))
        if fault == "refusal":
            texts = ["I'm sorry, but I can't help with that."]
        elif schema is None:
            texts = [_words_of(prompt, rng) for _ in range(int(params.get("n") or 1))]
        else:
            texts = []
            examples = _example_rows(prompt, schema)
            hints = _hints(prompt, schema)
            for _ in range(int(params.get("n") or 1)):
                value = _dates_within(random_value(schema, rng), schema, _date_ranges(messages), rng)
                value = _obey(_follow(value, examples, rng), hints)
                if fault == "out_of_range":
                    value = _break_a_bound(value, schema)
                elif fault in ("wrong_type", "unknown_category"):
                    value = _break_a_value(value, schema, fault)
                texts.append(json.dumps(value))
            if fault == "malformed":
                texts = [text[: len(text) // 2] for text in texts]
            elif fault == "truncated":
                cut = [text[: max(1, len(text) * 3 // 4)] for text in texts]
                return cut, prompt_tokens, max(1, sum(map(len, cut)) // 4), "length"
        return texts, prompt_tokens, max(1, sum(map(len, texts)) // 4), "stop"

    def _draw_fault(self, rng: np.random.Generator) -> str | None:
        if self.fault_rate and self.faults and rng.random() < self.fault_rate:
            return self.faults[rng.integers(len(self.faults))]
        return None


def install_fake_provider(latency: float = 0.0, fault_rate: float = 0.0, faults: tuple[str, ...] = FAULTS,
                          cost_per_token: float = 0.0, keep_requests: bool = True) -> FakeProvider:
    """Register a new :class:`FakeProvider` as ``litellm`` provider ``sksafesynth-fake``.

    Replaces any earlier fake; returns it so tests can read ``n_calls``/``requests``.
    """
    litellm = get_litellm()
    from litellm import CustomLLM
    from litellm.types.utils import Choices, Message, Usage

    fake = FakeProvider(latency, fault_rate, faults, cost_per_token, keep_requests)

    class _Handler(CustomLLM):
        def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose,
                       encoding, api_key, logging_obj, optional_params, acompletion=None, litellm_params=None,
                       logger_fn=None, headers=None, timeout=None, client=None):
            texts, prompt_tokens, completion_tokens, finish = fake.answer(messages, dict(optional_params))
            model_response.id = f"chatcmpl-{uuid.uuid4().hex}"
            model_response.model = model
            model_response.choices = [Choices(index=i, finish_reason=finish,
                                              message=Message(role="assistant", content=text))
                                      for i, text in enumerate(texts)]
            model_response.usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                                         total_tokens=prompt_tokens + completion_tokens)
            return model_response

    global _current
    _current = fake
    replace_provider(FAKE_PROVIDER, _Handler())
    litellm.register_model({
        FAKE_MODEL: {
            "litellm_provider": FAKE_PROVIDER,
            "mode": "chat",
            "input_cost_per_token": cost_per_token,
            "output_cost_per_token": cost_per_token,
        }
    })
    return fake


def current_fake() -> FakeProvider | None:
    """The fake installed last in this process (e.g. to read a dask worker's call count)."""
    return _current


def random_value(schema: dict, rng: np.random.Generator):
    """A random JSON value satisfying ``schema`` (the subset our prompts use)."""
    if "enum" in schema:
        return schema["enum"][rng.integers(len(schema["enum"]))]
    kind = schema.get("type")
    if kind == "object":
        return {name: random_value(sub, rng) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        if "prefixItems" in schema:
            return [random_value(sub, rng) for sub in schema["prefixItems"]]
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", max(low, 3))
        return [random_value(schema.get("items", {}), rng) for _ in range(int(rng.integers(low, high + 1)))]
    if kind == "integer":
        return int(rng.integers(int(schema.get("minimum", 0)), int(schema.get("maximum", 100)) + 1))
    if kind == "number":
        return round(float(rng.uniform(schema.get("minimum", 0.0), schema.get("maximum", 100.0))), 3)
    if kind == "boolean":
        return bool(rng.integers(2))
    if schema.get("format") == "date-time":
        return str(np.datetime64("2000-01-01") + np.timedelta64(int(rng.integers(0, 9000)), "D")) + "T00:00:00"
    words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "maple"]
    text = " ".join(words[i] for i in rng.integers(len(words), size=int(rng.integers(1, 6))))
    return text[: schema.get("maxLength", len(text))]


def _words_of(prompt: str, rng: np.random.Generator, n_words: int = 30) -> str:
    """A text of ``n_words`` words drawn from the prompt's own words."""
    words = re.findall(r"[A-Za-z][A-Za-z-]+", prompt) or ["text"]
    return " " + " ".join(words[i] for i in rng.integers(len(words), size=n_words))


def _row_items(schema: dict) -> list[dict] | None:
    """Column schemas of one row: of a row array, or of the rows of ``{"rows": [...]}``."""
    if "prefixItems" in schema:
        return schema["prefixItems"]
    return schema.get("properties", {}).get("rows", {}).get("items", {}).get("prefixItems")


def _example_rows(prompt: str, schema: dict) -> list[list]:
    """Demonstration rows in the prompt: JSON arrays with one value per column."""
    items = _row_items(schema)
    if not items:
        return []
    rows = []
    for match in re.finditer(r"\[[^\[\]\n]*\]", prompt):
        try:
            row = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(row, list) and len(row) == len(items) and not all(isinstance(v, str) for v in row):
            rows.append(row)
    return rows


def _hints(prompt: str, schema: dict) -> dict[int, object]:
    """``{position: value}`` of the prompt's "In every row, <column> is <value>" hints."""
    items = _row_items(schema)
    order = re.search(r"order: (\[[^\n]*\])", prompt)
    hint = re.search(r"In every row, ([^\n]*?)\.\s*$", prompt, re.MULTILINE)
    if not items or not order or not hint:
        return {}
    names = json.loads(order.group(1))
    out = {}
    for name, value in re.findall(r"(\S+) is ([^,]+)", hint.group(1)):
        if name in names:
            allowed = items[names.index(name)].get("enum")
            matches = [v for v in allowed or [] if str(v) == value.strip()]
            if matches:
                out[names.index(name)] = matches[0]
    return out


def _obey(value, hints: dict[int, object]):
    rows = value.get("rows") if isinstance(value, dict) else [value]
    for row in rows or []:
        for position, hinted in hints.items():
            row[position] = hinted
    return value


def _follow(value, examples: list[list], rng: np.random.Generator):
    """Copy each value from a random demonstration row with probability 1/2."""
    if not examples:
        return value
    rows = value.get("rows") if isinstance(value, dict) else [value]
    for row in rows or []:
        for position in range(len(row)):
            if rng.random() < 0.5:
                row[position] = examples[int(rng.integers(len(examples)))][position]
    return value


def _break_a_bound(value, schema: dict):
    """Put one value outside its column's minimum (the out-of-range fault)."""
    rows = value.get("rows") if isinstance(value, dict) else [value] if isinstance(value, list) else None
    items = _row_items(schema) or []
    for position, column in enumerate(items):
        if rows and "minimum" in column:
            rows[0][position] = column["minimum"] - 1000
            break
    return value


def _date_ranges(messages: list[dict]) -> list[tuple[str, str] | None]:
    """Bounds of each datetime column, in column order, read from the prompt like a model would.

    JSON schema cannot bound a date-time string; the prompt says "name: date between A and B".
    """
    text = "\n".join(str(m.get("content", "")) for m in messages)
    return [(low, high) if low else None
            for low, high in re.findall(r"^(?:- |#\s+)[^\n]*?: date(?: between (\S+) and (\S+))?$", text, re.MULTILINE)]


def _dates_within(value, schema: dict, ranges: list, rng: np.random.Generator):
    """Redraw every date of ``value`` inside the bounds the prompt gave for its column."""
    rows = value.get("rows") if isinstance(value, dict) else [value] if isinstance(value, list) else None
    items = _row_items(schema) or []
    positions = [p for p, column in enumerate(items) if column.get("format") == "date-time"]
    if not rows or len(positions) != len(ranges):
        return value
    for row in rows:
        for position, bounds in zip(positions, ranges):
            if bounds is not None:
                low, high = (np.datetime64(day, "D") for day in bounds)
                span = int((high - low) // np.timedelta64(1, "D"))
                day = low + int(rng.integers(0, max(1, span)))
                row[position] = f"{day}T00:00:00"
    return value


def _break_a_value(value, schema: dict, fault: str):
    """Put a value of the wrong JSON type in every row, or an unknown category in the first."""
    rows = value.get("rows") if isinstance(value, dict) else [value] if isinstance(value, list) else None
    items = _row_items(schema) or []
    if not rows:
        return value
    enums = [p for p, column in enumerate(items) if "enum" in column]
    if fault == "unknown_category" and enums:
        rows[0][enums[0]] = UNKNOWN_CATEGORY
        return value
    for row in rows:
        for position, column in enumerate(items):
            row[position] = _wrong_type(column)
            if column.get("type") != "string" or "format" in column:
                break  # one wrong non-text value is enough; text accepts any scalar, so go on
    return value


def _wrong_type(column: dict):
    if "enum" in column:
        return {"value": column["enum"][0]}  # an object where a label is expected
    if column.get("type") in ("number", "integer"):
        return "many"
    if column.get("type") == "boolean":
        return "perhaps"
    if column.get("format") == "date-time":
        return "someday"
    return None  # text: null is the only JSON value that is not text


def _schema_of(response_format) -> dict | None:
    if not response_format or response_format.get("type") != "json_schema":
        return None
    return response_format.get("json_schema", {}).get("schema")


def _seed(messages: list[dict], params: dict) -> int | None:
    if params.get("seed") is None:
        return None
    digest = hashlib.sha256(json.dumps([messages, params["seed"]], sort_keys=True, default=str).encode())
    return int.from_bytes(digest.digest()[:8], "little")


def _raise(fault: str):
    litellm = get_litellm()
    message = f"injected {fault}"
    if fault == "timeout":
        raise litellm.Timeout(message, model=FAKE_MODEL, llm_provider=FAKE_PROVIDER)
    if fault == "rate_limit":
        raise litellm.RateLimitError(message, llm_provider=FAKE_PROVIDER, model=FAKE_MODEL)
    raise litellm.InternalServerError(message, llm_provider=FAKE_PROVIDER, model=FAKE_MODEL)
