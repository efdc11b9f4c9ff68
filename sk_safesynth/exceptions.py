"""Warnings and errors raised by sk-safesynth."""

from __future__ import annotations


class PrivacyLeakWarning(UserWarning):
    """Something about this call weakens the differential privacy guarantee.

    Raised, for example, when bounds or categories are read from the private data
    instead of being declared, or when a column is passed through un-noised.
    """


class PrivacyBudgetExceeded(RuntimeError):
    """A spend would take the privacy ledger beyond its (epsilon, delta) budget."""


class LLMGenerationError(RuntimeError):
    """The LLM could not produce the requested number of valid rows."""


class LLMBudgetExceeded(LLMGenerationError):
    """The token budget or cost cap of a generation run was reached."""


class InputError(ValueError):
    """A file a user gave cannot be read as what it should be (CSV table, declarations, record)."""
