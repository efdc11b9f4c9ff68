"""Griffe extension for the API reference: Sphinx roles in docstrings become inline code.

The docstrings are numpydoc and cross-reference with Sphinx roles (``:class:`~a.B```), which
mkdocstrings would print verbatim. ``~`` keeps the last name, as Sphinx does. Loaded by
mkdocs.yml (``extensions``).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj):`(~?)([^`<]+?)(?:\s*<[^>]*>)?`")


def _code(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRoles(Extension):
    """Rewrite the Sphinx roles of every docstring griffe loads."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code, obj.docstring.value)
