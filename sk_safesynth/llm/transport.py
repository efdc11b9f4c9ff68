"""One completion call: from the response cache or the provider, with the one retry layer.

Retries happen here and only here: every call asks litellm (``num_retries=0``) and the
OpenAI SDK under it (``max_retries=0``) not to retry, so ``LLMClient.max_retries`` is
the number of retries a call gets, and backoff honours the client's ``time_limit`` and
the provider's ``Retry-After``. These functions run in joblib workers, possibly remote
processes: they take the client (picklable) and plain dicts.
"""

from __future__ import annotations

import time
import warnings

from sk_safesynth.exceptions import LLMGenerationError
from sk_safesynth.llm.backend import get_litellm
from sk_safesynth.llm.budget import deadline_after, past
from sk_safesynth.llm.cache import ResponseCache
from sk_safesynth.llm.local_model import LOCAL_PROVIDER

#: Providers of this package (embedded model, test double): they always get a response_format.
OWN_PROVIDERS = (LOCAL_PROVIDER, "sksafesynth-fake")
_MAX_BACKOFF = 30.0
# Lower retry layers, switched off unless a user sets them in provider_options.
_NO_LOWER_RETRIES = {"num_retries": 0, "max_retries": 0}


def completion(client, request: dict, params: dict, deadline: float | None) -> tuple[dict, bool]:
    """A completion record and whether the response cache answered it.

    A record is a plain dict: ``texts`` (one per choice), ``prompt_tokens``,
    ``completion_tokens`` and ``cost``.
    """
    litellm = get_litellm()  # registers the embedded provider in a fresh worker process
    cache = None if client.cache_dir is None else ResponseCache(client.cache_dir, max_bytes=client.cache_max_bytes)
    if cache is not None:
        key = cache.key(client.provider_identity(), request, params)
        record = cache.get(key)
        if record is not None:
            return record, True
    record = _completion_record(client, litellm, request, params, deadline)
    if cache is not None:
        cache.put(key, record)
    return record, False


def _completion_record(client, litellm, request: dict, params: dict, deadline: float | None) -> dict:
    """``request`` holds chat ``messages`` or a document ``prompt``. A document goes to
    text completion; the embedded and fake providers take it as one user message,
    which they continue verbatim."""
    model = client.model
    options = {"timeout": client.timeout, **_NO_LOWER_RETRIES, **client.provider_options, **params}
    if "messages" in request:
        call = lambda: litellm.completion(model=model, messages=request["messages"], **options)
    elif model.split("/", 1)[0] in OWN_PROVIDERS:
        messages = [{"role": "user", "content": request["prompt"]}]
        call = lambda: litellm.completion(model=model, messages=messages, **options)
    else:
        call = lambda: litellm.text_completion(model=model, prompt=request["prompt"], **options)
    response = with_retries(litellm, client, call, deadline)
    usage = getattr(response, "usage", None)
    return {
        "texts": [_choice_text(choice) for choice in response.choices],
        "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
        "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        "cost": 0.0 if model.startswith(LOCAL_PROVIDER + "/") else _cost(litellm, response, client),
    }


def embedding(client, texts: list[str]):
    """``litellm.embedding`` of ``texts`` with ``client.embedding_model``, retried like completions."""
    litellm = get_litellm()
    options = {"timeout": client.timeout, **_NO_LOWER_RETRIES, **client.provider_options}
    return with_retries(litellm, client, lambda: litellm.embedding(model=client.embedding_model, input=texts,
                                                                  **options), deadline_after(client.time_limit))


def with_retries(litellm, client, call, deadline: float | None = None):
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
        if past(deadline, delay):
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


def _cost(litellm, response, client) -> float:
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # model missing from litellm's price map
        if client.cost_cap is not None:
            warnings.warn(f"litellm knows no price for {client.model}; cost_cap cannot be enforced",
                          RuntimeWarning, stacklevel=2)
        return 0.0
