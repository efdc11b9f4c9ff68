"""Provider secrets in ``llm_kwargs``: never shown, never pickled, resolvable in any process.

A secret is an option whose name holds one of :data:`SECRET_WORDS` (``api_key``,
``Authorization`` in ``extra_headers``, ...). Reprs show it as ``"***"``. A pickle (a
process worker of ``GridSearchCV(n_jobs=...)``, joblib's loky backend, a dask cluster)
never holds its value: it holds :data:`LEFT_OUT` instead, and a client built from it
fails at its first call with a message saying why, instead of an authentication error
from the provider. A secret given as a reference to an environment variable,
``"env:NAME"``, is no secret itself: it is pickled as is and resolved when a client is
built, in whichever process that is.
"""

from __future__ import annotations

import os

SECRET_WORDS = ("key", "token", "secret", "password", "authorization", "credential")
#: Prefix of a reference to an environment variable (``"env:OPENAI_API_KEY"``).
ENV_PREFIX = "env:"
#: What a pickle holds in place of a secret value.
LEFT_OUT = "<secret left out of the pickle>"


def _is_secret(name, value) -> bool:
    return value is not None and any(word in str(name).lower() for word in SECRET_WORDS)


def _is_reference(value) -> bool:
    return isinstance(value, str) and value.startswith(ENV_PREFIX)


def redact(options):
    """``options`` (a dict of provider options) with secret values replaced by ``"***"``."""
    if not isinstance(options, dict):
        return options
    return {name: redact(value) if isinstance(value, dict) else ("***" if _is_secret(name, value) else value)
            for name, value in options.items()}


def without_secrets(options):
    """``options`` for a pickle: secret values replaced by :data:`LEFT_OUT`, references kept."""
    if not isinstance(options, dict):
        return options
    return {name: without_secrets(value) if isinstance(value, dict)
            else (LEFT_OUT if _is_secret(name, value) and not _is_reference(value) else value)
            for name, value in options.items()}


def resolve_secrets(options, path: str = "llm_kwargs") -> tuple[dict, list[str]]:
    """``options`` with ``"env:NAME"`` references replaced by the variables' values.

    Returns the options and the problems that make them unusable (secrets left out of
    a pickle, references to unset variables), each a sentence; the options are then
    incomplete and a client built from them must not call the provider.
    """
    resolved: dict = {}
    problems: list[str] = []
    for name, value in (options or {}).items():
        where = f"{path}[{name!r}]"
        if isinstance(value, dict):
            inner, more = resolve_secrets(value, where)
            resolved[name] = inner
            problems += more
        elif value == LEFT_OUT:
            problems.append(f"{where} was left out when this sampler was pickled (secrets never enter a pickle: "
                            f"a process worker, joblib's loky backend or a dask cluster gets a pickled copy)")
        elif _is_reference(value):
            variable = value[len(ENV_PREFIX):]
            if variable in os.environ:
                resolved[name] = os.environ[variable]
            else:
                problems.append(f"{where} refers to the environment variable {variable}, which is not set in "
                                f"this process (pid {os.getpid()})")
        else:
            resolved[name] = value
    return resolved, problems


def secrets_error(problems: list[str]) -> RuntimeError:
    """The error a client raises at its first call when its secrets are unusable."""
    return RuntimeError("the LLM provider's credentials are not available: " + "; ".join(problems)
                        + f". Give secrets as references to environment variables set in every worker, e.g. "
                        f"llm_kwargs={{'api_key': '{ENV_PREFIX}OPENAI_API_KEY'}}, or set them again after loading")
