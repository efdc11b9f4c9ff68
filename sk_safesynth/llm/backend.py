"""Lazy access to litellm and registration of sk-safesynth's litellm providers.

litellm takes about 2 s to import, so nothing here imports it eagerly. Instead,
:func:`install_import_hook` (run by ``import sk_safesynth.llm``) arranges for the
embedded model's provider to be registered the moment anyone imports litellm, so
``import sk_safesynth.llm; import litellm; litellm.completion(model=DEFAULT_MODEL)``
works while ``import sk_safesynth.llm`` itself stays cheap.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import threading
from types import ModuleType
from typing import Any

DEFAULT_MODEL = "sksafesynth/gemma3-270m"
LOCAL_PROVIDER = DEFAULT_MODEL.split("/", 1)[0]

_register_lock = threading.RLock()


def _prepare_environment() -> None:
    # Never fetch the cost map from the network (offline use, no surprise egress).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def get_litellm() -> ModuleType:
    """Import litellm (once) and make sure our providers are registered."""
    _prepare_environment()
    import litellm

    register_provider(LOCAL_PROVIDER, _local_handler)
    return litellm


def _local_handler():
    module = sys.modules.get("sk_safesynth.llm.local_provider")
    if module is not None and not hasattr(module, "LocalModelProvider"):
        # litellm is being imported by local_provider itself, which registers at its end.
        return None
    from sk_safesynth.llm.local_provider import LocalModelProvider

    return LocalModelProvider()


def register_provider(name: str, handler_factory) -> None:
    """Put a ``litellm.CustomLLM`` in ``litellm.custom_provider_map`` under ``name``.

    ``handler_factory`` is called only when ``name`` is not registered yet, so
    registering is idempotent and cheap; it may return None to skip registering. Use :func:`replace_provider` to swap a
    handler (e.g. a reconfigured fake provider).
    """
    _prepare_environment()
    import litellm

    with _register_lock:
        if any(item["provider"] == name for item in litellm.custom_provider_map):
            return
        handler = handler_factory()
        if handler is not None:
            _install(litellm, name, handler)


def replace_provider(name: str, handler) -> None:
    """Register ``handler`` under ``name``, replacing any earlier handler."""
    _prepare_environment()
    import litellm

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


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Meta-path finder that registers our provider right after litellm is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "litellm":
            return None
        sys.meta_path.remove(self)  # one shot; also avoids recursing into ourselves
        from importlib.util import find_spec

        spec = find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_provider(LOCAL_PROVIDER, _local_handler)

        loader.exec_module = exec_then_register
        return spec


def install_import_hook() -> None:
    """Register our provider now if litellm is loaded, else as soon as it is imported."""
    _prepare_environment()
    if "litellm" in sys.modules:
        register_provider(LOCAL_PROVIDER, _local_handler)
        return
    if not any(isinstance(finder, _RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
