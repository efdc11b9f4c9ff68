"""LLM layer: one litellm-based client for every provider, and an embedded offline model.

``import sk_safesynth.llm`` does not import litellm (about 2 s); it registers the
embedded model's litellm provider as soon as litellm is imported by anyone, so
``litellm.completion(model=DEFAULT_MODEL, ...)`` works after ``import litellm``.
"""

from sk_safesynth.llm.backend import DEFAULT_MODEL, install_import_hook
from sk_safesynth.llm.capture import capture_prompts
from sk_safesynth.llm.client import GenerationResult, GenerationTask, LLMClient

install_import_hook()

__all__ = ["DEFAULT_MODEL", "GenerationResult", "GenerationTask", "LLMClient", "capture_prompts"]
