"""How to declare a domain: the hints that end the domain's warnings and errors.

A message reads in Python terms (``declare categories={...}``); the :class:`Hint` objects
it carries (``warning.hints``, ``DomainError.hints``) let another interface — the
command line — say the same in its own terms (``--schema``, ``--kinds``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """How to declare ``what`` (``"categories"``, ``"kinds"``, ``"bounds"`` or ``"missing"``) of ``columns``."""

    what: str
    columns: tuple

    def __str__(self) -> str:
        names = list(self.columns)
        example = ", ".join(f"{n!r}: [...]" for n in names[:3]) + (", ..." if len(names) > 3 else "")
        if self.what == "missing":
            example = ", ".join(f"{n!r}: True" for n in names[:3])
            return f"declare missing={{{example}}} for those that may be missing"
        if self.what == "kinds":
            example = ", ".join(f"{n!r}: 'text'" for n in names[:3])
            return f"declare kinds={{{example}}}, or write a schema with infer_schema(X) and review it"
        if self.what == "bounds":
            example = ", ".join(f"{n!r}: (low, high)" for n in names[:3])
            return f"declare bounds={{{example}}}"
        return (f"declare categories={{{example}}}, or write a schema with sk_safesynth.infer_schema(X), review "
                "it as public and pass DPSyntheticSampler(**schema)")


def declare_hint(what: str, columns) -> Hint:
    """The :class:`Hint` for declaring ``what`` of ``columns`` (its ``str`` is the Python wording)."""
    return Hint(what, tuple(columns))


def warn_hinted(message: str, *hints: Hint, category: type[Warning] = UserWarning, stacklevel: int = 2) -> None:
    """``warnings.warn(message)`` with the ``hints`` the message holds attached to the warning."""
    warning = category(message)
    warning.hints = hints  # type: ignore[attr-defined]
    warnings.warn(warning, stacklevel=stacklevel + 1)
