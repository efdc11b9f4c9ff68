"""The privacy record of a release: what was spent, how, on what (a JSON-ready dict), and back.

Written next to every synthetic file of the command line (``OUT.privacy.json``) and
read back by ``evaluate`` for the DP bound of its attacks. It holds public facts only:
the budget, the ledger's events, the declared (public) column names, the released
schema; the input's row count only when the neighbouring relation makes it public
(``replace-one``).
"""

from __future__ import annotations

import math

from sk_safesynth.exceptions import InputError
from sk_safesynth.privacy.ledger import PrivacySpent


def release_record(sampler, *, n_rows_input: int, n_rows_output: int, **context) -> dict:
    """The record of a fitted ``DPSyntheticSampler``'s release of ``n_rows_output`` rows.

    ``n_rows_input`` is kept only under ``neighbours="replace-one"`` (under add/remove the
    record count is private). ``context`` (files, declarations, timings, ...) is added as is.
    """
    spent = sampler.privacy_spent_
    domain = sampler.domain_
    method = sampler.method_
    return {
        **context,
        "n_rows_input": n_rows_input if sampler.neighbours == "replace-one" else None,
        "n_rows_output": n_rows_output, "neighbours": sampler.neighbours, "model": sampler.llm,
        "method": method.name, "method_class": type(method).__name__, "method_params": method.get_params(),
        "budget": {"epsilon": sampler.epsilon, "delta": sampler.delta},
        "privacy_spent": spent.as_dict(), "differentially_private": math.isfinite(spent.epsilon),
        "ledger": sampler.ledger_.summary(),
        "random_state": sampler.random_state, "secure_noise": sampler.random_state is None,
        "identifier_columns": domain.identifiers, "unreleased_columns": domain.unreleased,
        "schema": sampler.schema_.to_dict(),
    }


def privacy_from_record(record: dict, path) -> PrivacySpent:
    """The privacy spent by the release a record (read from ``path``) describes."""
    spent = record.get("privacy_spent")
    if not isinstance(spent, dict) or "epsilon" not in spent or "delta" not in spent:
        raise InputError(f"{path} has no privacy_spent {{epsilon, delta}}: is it a file written by generate?")
    epsilon = math.inf if spent["epsilon"] is None else float(spent["epsilon"])  # null: not DP (bounds="data")
    return PrivacySpent(epsilon, float(spent["delta"]), spent.get("mu"))
