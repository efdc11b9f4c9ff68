"""litellm provider for the embedded model (imports litellm; registered by ``register_local_provider``).

Maps OpenAI chat parameters onto llama.cpp's completion API:

- chat messages are rendered as one plain prompt (the model is a base model, with no
  chat template: it continues text, so the prompt is the conversation's text); a lone
  user message is a document (document-style prompts, ``litellm.text_completion``)
  and is continued verbatim;
- ``response_format`` (``json_schema`` or ``json_object``) becomes a llama.cpp JSON
  schema, compiled to a grammar (llguidance), so enums and numeric min/max are
  enforced; the JSON is compact (no free whitespace);
- ``temperature``, ``top_p``, ``seed``, ``max_tokens``, ``stop``, ``n``,
  ``logprobs``/``top_logprobs`` are passed through.
"""

from __future__ import annotations

import time
import uuid

from litellm import CustomLLM
from litellm.llms.custom_llm import CustomLLMError
from litellm.types.utils import ChoiceLogprobs, Choices, Message, ModelResponse, Usage

from sk_safesynth.llm.local_model import DEFAULT_MAX_TOKENS, N_PARALLEL, get_local_model


def render_prompt(messages: list[dict]) -> str:
    """Chat messages as a plain completion prompt for a base model.

    Turns are separated by blank lines, without role labels: our prompts put the
    instructions, the schema and the examples in order, so the text already reads as a
    document whose natural continuation is the answer. A lone user message is a
    document and is returned as it is: its last characters (``"Headline:"``, a
    newline after JSON lines) say where the continuation starts.
    """
    contents = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        contents.append(content)
    if len(messages) == 1 and messages[0].get("role", "user") == "user":
        return contents[0]
    return "\n\n".join(part.strip() for part in contents) + "\n\n"


def llama_request(prompt: str, params: dict) -> dict:
    """llama.cpp ``/completion`` request body for OpenAI-style ``params``."""
    request: dict = {"prompt": prompt, "cache_prompt": True}
    max_tokens = params.get("max_tokens") or params.get("max_completion_tokens")
    request["n_predict"] = int(max_tokens) if max_tokens else DEFAULT_MAX_TOKENS
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed")):
        if params.get(ours) is not None:
            request[theirs] = params[ours]
    if params.get("stop"):
        stop = params["stop"]
        request["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("logprobs"):
        request["n_probs"] = max(1, int(params.get("top_logprobs") or 0))
    schema = json_schema_of(params.get("response_format"))
    if schema is not None:
        # Compact JSON: with flexible whitespace the base model pads the end with
        # newlines until max_tokens, and spends tokens on indentation.
        request["json_schema"] = {"x-guidance": {"whitespace_flexible": False}, **schema}
    return request


def json_schema_of(response_format) -> dict | None:
    """The JSON schema that an OpenAI ``response_format`` asks for, or None for free text."""
    if not response_format:
        return None
    if hasattr(response_format, "model_json_schema"):  # a pydantic model class
        return response_format.model_json_schema()
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        return spec.get("schema", {"type": "object"})
    if kind == "json_object":
        return {"type": "object"}
    return None


class LocalModelProvider(CustomLLM):
    """``litellm.CustomLLM`` serving :data:`sk_safesynth.llm.DEFAULT_MODEL`."""

    def completion(self, model, messages, api_base, custom_prompt_dict, model_response,
                   print_verbose, encoding, api_key, logging_obj, optional_params,
                   acompletion=None, litellm_params=None, logger_fn=None, headers=None,
                   timeout=None, client=None) -> ModelResponse:
        params = dict(optional_params)
        prompt = render_prompt(messages)
        n = int(params.get("n") or 1)
        top_logprobs = int(params.get("top_logprobs") or 0)
        seed = params.get("seed")
        choices: list[Choices] = []
        prompt_tokens = completion_tokens = 0
        # llama.cpp serves at most N_PARALLEL choices per request; larger n is chunked,
        # with the seed shifted per chunk so the choices differ.
        for start in range(0, n, N_PARALLEL):
            request = llama_request(prompt, params)
            request["n"] = min(N_PARALLEL, n - start)
            if seed is not None:
                request["seed"] = int(seed) + start
            reply = get_local_model().complete(request)
            if "error" in reply:
                error = reply["error"]
                raise CustomLLMError(status_code=error.get("code", 500), message=error.get("message", str(error)))
            for choice in reply["choices"]:
                choices.append(_choice(len(choices), choice, bool(params.get("logprobs")), top_logprobs))
            usage = reply.get("usage", {})
            prompt_tokens = usage.get("prompt_tokens", prompt_tokens)
            completion_tokens += _completion_tokens(reply)
        model_response.id = f"chatcmpl-{uuid.uuid4().hex}"
        model_response.created = int(time.time())
        model_response.model = model
        model_response.choices = choices
        model_response.usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        return model_response

    async def acompletion(self, *args, **kwargs) -> ModelResponse:
        import asyncio

        return await asyncio.to_thread(self.completion, *args, **kwargs)


def _completion_tokens(reply: dict) -> int:
    # llama.cpp's usage counts one choice; per-choice token lists are exact when present.
    counted = [len((c.get("logprobs") or {}).get("content") or []) for c in reply["choices"]]
    if len(reply["choices"]) > 1 and all(counted):
        return sum(counted)
    return int(reply.get("usage", {}).get("completion_tokens", 0)) * len(reply["choices"])


def _choice(index: int, choice: dict, logprobs: bool, top_logprobs: int) -> Choices:
    finish = choice.get("finish_reason") or "stop"
    out = Choices(
        index=index,
        finish_reason="length" if finish == "length" else "stop",
        message=Message(role="assistant", content=choice.get("text", "")),
    )
    content = (choice.get("logprobs") or {}).get("content")
    if logprobs and content is not None:
        tokens = []
        for token in content:
            tokens.append({
                "token": token["token"],
                "logprob": token["logprob"],
                "bytes": token.get("bytes"),
                "top_logprobs": [
                    {"token": t["token"], "logprob": t["logprob"], "bytes": t.get("bytes")}
                    for t in token.get("top_logprobs", [])[:top_logprobs]
                ],
            })
        out.logprobs = ChoiceLogprobs(content=tokens)  # type: ignore[arg-type]  # litellm validates the dicts
    return out

