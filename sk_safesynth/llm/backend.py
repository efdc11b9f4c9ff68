"""Access to litellm, with sk-safesynth's providers registered explicitly.

litellm takes about 2 s to import, so nothing imports it at ``import sk_safesynth``.
:func:`get_litellm` imports it on first use and registers the embedded model's
provider (``litellm.custom_provider_map``); a user who calls litellm directly with
:data:`~sk_safesynth.llm.DEFAULT_MODEL` calls :func:`register_local_provider` first.
No import hook, no process-wide setting: when this module imports litellm itself, it
asks litellm for its bundled price map (no network fetch at import) for the duration
of that import only, and leaves the environment as it found it.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType
from typing import Any

from sk_safesynth.llm.local_model import LOCAL_PROVIDER

_register_lock = threading.RLock()
_OFFLINE_PRICE_MAP = "LITELLM_LOCAL_MODEL_COST_MAP"


def _import_litellm() -> Any:
    if "litellm" in sys.modules:
        return sys.modules["litellm"]
    before = os.environ.get(_OFFLINE_PRICE_MAP)
    os.environ.setdefault(_OFFLINE_PRICE_MAP, "True")  # litellm reads it only while it is imported
    try:
        import litellm
    finally:
        if before is None:
            os.environ.pop(_OFFLINE_PRICE_MAP, None)
    return litellm


def get_litellm() -> ModuleType:
    """litellm, imported once, with the embedded model's provider registered."""
    return register_local_provider()


def register_local_provider() -> ModuleType:
    """Register the embedded model under ``"sksafesynth/..."`` in litellm; return litellm.

    Idempotent and cheap after the first call. Needed only to call litellm directly
    with :data:`~sk_safesynth.llm.DEFAULT_MODEL`: every client of this package calls it.
    """

    def handler():
        from sk_safesynth.llm.local_provider import LocalModelProvider

        return LocalModelProvider()

    return register_provider(LOCAL_PROVIDER, handler)


def register_provider(name: str, handler_factory) -> ModuleType:
    """Put a ``litellm.CustomLLM`` in ``litellm.custom_provider_map`` under ``name``; return litellm.

    ``handler_factory`` is called only when ``name`` is not registered yet, so
    registering is idempotent. Use :func:`replace_provider` to swap a handler (e.g. a
    reconfigured fake provider).
    """
    litellm = _import_litellm()
    with _register_lock:
        if not any(item["provider"] == name for item in litellm.custom_provider_map):
            _install(litellm, name, handler_factory())
    return litellm


def replace_provider(name: str, handler) -> None:
    """Register ``handler`` under ``name``, replacing any earlier handler."""
    litellm = _import_litellm()
    with _register_lock:
        litellm.custom_provider_map = [
            item for item in litellm.custom_provider_map if item["provider"] != name
        ]
        _install(litellm, name, handler)


def _install(litellm: Any, name: str, handler) -> None:
    # Rebind rather than mutate: litellm reads the list at call time.
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": name, "custom_handler": handler},
    ]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
