"""The response cache: completion records on disk, keyed by what was asked.

A record is stored under the SHA-256 of the model name, the request (messages or
document prompt) and the call parameters (temperature, seed, ``n``, ...), so a
re-run with the same seed is answered from disk. The key depends on nothing else —
not on this package's source code, nor on the process — so an upgrade or an edit of
the library keeps a user's cache. ``FORMAT`` changes only when a record's layout does.

Records are JSON files written atomically (a temporary file renamed into place), so
parallel workers and processes can share one directory; an unreadable file is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

# Layout of a stored record: {"texts": [...], "prompt_tokens", "completion_tokens", "cost"}.
FORMAT = 1


class ResponseCache:
    """Completion records in ``directory/responses-v{FORMAT}/<2 hex>/<key>.json``.

    Parameters
    ----------
    directory : str or path
        Root of the cache (created on the first write; ``~`` is expanded).
    """

    def __init__(self, directory):
        self.root = Path(directory).expanduser() / f"responses-v{FORMAT}"

    @staticmethod
    def key(model: str, request: dict, params: dict) -> str:
        """Hex SHA-256 of the call: the same model, request and parameters give the same key."""
        payload = json.dumps([model, request, params], sort_keys=True, separators=(",", ":"), default=_plain)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record, or None when there is none (or it cannot be read)."""
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                record = json.load(handle)
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


def _plain(value):
    """A numpy scalar as the Python number it holds (``np.int64(3)`` keys as ``3``)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot key a call on a {type(value).__name__}")
