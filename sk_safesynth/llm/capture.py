"""Recording of every prompt the LLM client sends, for privacy audits and spy tests."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from collections.abc import Iterator

_lock = threading.Lock()
_active: list[list[str]] = []


@contextmanager
def capture_prompts() -> Iterator[list[str]]:
    """Collect the text of every prompt sent by any :class:`LLMClient` while the block runs.

    Prompts answered from the response cache are recorded too: they were sent when the
    cache entry was made, and an audit must see them either way. Texts given to a remote
    embedding model are recorded as well.

    Examples
    --------
    >>> with capture_prompts() as prompts:  # doctest: +SKIP
    ...     client.generate(schema, tasks)
    >>> assert not any(secret in p for p in prompts)  # doctest: +SKIP
    """
    prompts: list[str] = []
    with _lock:
        _active.append(prompts)
    try:
        yield prompts
    finally:
        with _lock:
            # by identity: two captures holding equal lists are still different captures
            _active[:] = [other for other in _active if other is not prompts]


def record_prompt(text: str) -> None:
    """Append ``text`` to every active capture (called by the client before a call)."""
    with _lock:
        for prompts in _active:
            prompts.append(text)
