"""The response cache: completion records on disk, keyed by who was asked what, bounded in size.

A record is stored under the SHA-256 of the provider's identity (model string and the
endpoint options that pick the server, such as ``api_base``: two servers behind one
model name never share answers), the request (messages or document prompt) and the call
parameters (temperature, seed, ``n``, ...), so a re-run with the same seed is answered
from disk. The key depends on nothing else — not on this package's source code, nor on
the process — so an upgrade or an edit of the library keeps a user's cache. ``FORMAT``
changes only when a record's layout does.

Records are JSON files written atomically (a temporary file renamed into place), so
parallel workers and processes can share one directory; an unreadable file is a miss.
A read marks a record as used (its modification time); when the directory grows past
``max_bytes``, the least recently used records are removed. ``sk-safesynth cache info``
and ``sk-safesynth cache clear`` (or :meth:`ResponseCache.info` / :meth:`ResponseCache.clear`)
inspect and empty it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

# Layout of a stored record: {"texts": [...], "prompt_tokens", "completion_tokens", "cost"}.
FORMAT = 1
#: Default size bound of a cache directory.
DEFAULT_MAX_BYTES = 2**30
# Writes between two size checks of a directory (a check lists every record).
_CHECK_EVERY = 64
# A pruned cache keeps this fraction of its bound, so the next writes do not prune at once.
_KEEP = 0.9

_writes: dict[Path, int] = {}
_writes_lock = threading.Lock()


def default_cache_dir() -> Path:
    """The user's cache directory of this package's LLM responses (the CLI's default)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sk-safesynth")) / "llm"


class ResponseCache:
    """Completion records in ``directory/responses-v{FORMAT}/<2 hex>/<key>.json``.

    Parameters
    ----------
    directory : str or path
        Root of the cache (created on the first write; ``~`` is expanded).
    max_bytes : int, default=2**30 (1 GiB)
        Size bound: past it, the least recently used records are removed.
    """

    def __init__(self, directory, *, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
        self.root = Path(directory).expanduser() / f"responses-v{FORMAT}"
        self.max_bytes = max_bytes

    @staticmethod
    def key(identity: dict, request: dict, params: dict) -> str:
        """Hex SHA-256 of the call: the same provider identity, request and parameters give the same key."""
        payload = json.dumps([identity, request, params], sort_keys=True, separators=(",", ":"), default=_plain)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record, or None when there is none (or it cannot be read)."""
        path = self._path(key)
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
            os.utime(path)  # used now: the last to go when the cache is pruned
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and "texts" in record else None

    def put(self, key: str, record: dict) -> None:
        """Store ``record`` under ``key`` (atomic: readers see the old file or the new one)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        with _writes_lock:
            count = _writes.get(self.root, 0)
            _writes[self.root] = count + 1
        if count % _CHECK_EVERY == 0:
            self.prune()

    def _records(self) -> list[tuple[float, int, Path]]:
        out = []
        for path in self.root.glob("*/*.json"):
            try:
                stat = path.stat()
            except OSError:  # removed by another process meanwhile
                continue
            out.append((stat.st_mtime, stat.st_size, path))
        return out

    def prune(self) -> int:
        """Remove the least recently used records while the cache exceeds ``max_bytes``; return how many."""
        records = self._records()
        total = sum(size for _, size, _ in records)
        if total <= self.max_bytes:
            return 0
        removed = 0
        for _, size, path in sorted(records):
            if total <= _KEEP * self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def info(self) -> dict:
        """Where the cache is, how many records it holds and their size in bytes."""
        records = self._records()
        return {"path": str(self.root), "records": len(records), "bytes": sum(size for _, size, _ in records),
                "max_bytes": self.max_bytes}

    def clear(self) -> int:
        """Remove every record; return how many were removed."""
        records = self._records()
        for _, _, path in records:
            path.unlink(missing_ok=True)
        return len(records)


class PublicMemo:
    """An in-process memo of public LLM output (candidate rows, public documents), bounded in entries.

    Keys must hold the provider's identity (``LLMClient.provider_identity()``) so two
    servers behind one model name never share an entry. Least recently used entries
    go first. Every memo is listed in :data:`MEMOS`, so :func:`clear_memos` and
    :func:`memo_info` reach them all.
    """

    def __init__(self, name: str, max_entries: int = 32):
        self.name, self.max_entries = name, max_entries
        self._entries: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        MEMOS.append(self)

    def get(self, key: str):
        """The entry under ``key`` (marked as used), or None."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: str, value) -> None:
        """Store ``value`` under ``key``, dropping the least recently used entries past ``max_entries``."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (they are public: this only frees memory)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: Every in-process memo of public LLM output.
MEMOS: list[PublicMemo] = []


def clear_memos() -> None:
    """Empty every in-process memo of public LLM output."""
    for memo in MEMOS:
        memo.clear()


def memo_info() -> dict[str, dict]:
    """For each in-process memo: its entries and bound."""
    return {memo.name: {"entries": len(memo), "max_entries": memo.max_entries} for memo in MEMOS}


def _plain(value):
    """A numpy scalar as the Python number it holds (``np.int64(3)`` keys as ``3``)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot key a call on a {type(value).__name__}")
