"""LLM layer: one litellm-based client for every provider, and an embedded offline model.

``import sk_safesynth.llm`` does not import litellm (about 2 s). The client imports it on
first use and registers the embedded model's provider; to call litellm directly with
:data:`DEFAULT_MODEL`, call :func:`register_local_provider` first (it returns litellm).
"""

from sk_safesynth.llm.backend import register_local_provider
from sk_safesynth.llm.capture import capture_prompts
from sk_safesynth.llm.client import GenerationResult, GenerationTask, LLMClient
from sk_safesynth.llm.local_model import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "GenerationResult", "GenerationTask", "LLMClient", "capture_prompts",
           "register_local_provider"]
