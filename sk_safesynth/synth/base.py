"""The interface every generation method implements, and what a fit hands it.

A method is a small scikit-learn style object: ``__init__`` stores its own
parameters (so ``get_params``, ``set_params``, ``clone`` and ``GridSearchCV`` reach
them as ``sampler__method__<name>``), :meth:`GenerationMethod.fit` reads the private
table once through a :class:`FitContext` and keeps only DP outputs in attributes
ending in ``_``, and :meth:`GenerationMethod.sample` is post-processing.

Adding a method means writing one subclass in one module and listing it in
:data:`sk_safesynth.synth.METHODS`; its capability flags
(:attr:`GenerationMethod.supports_partitioned`, :attr:`GenerationMethod.supports_add_remove`)
say which inputs and neighbouring relations the sampler lets it fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sk_safesynth.privacy import PrivacyLedger
from sk_safesynth.schema import TableSchema


@dataclass
class FitContext:
    """Everything a method's ``fit`` may use; the private ``frame`` lives only here.

    Attributes
    ----------
    frame : DataFrame or DaskRows
        The private rows (target included as a column). Never stored by a method. For a
        method with :attr:`GenerationMethod.supports_partitioned` it may be a partitioned
        table, a :class:`~sk_safesynth.synth.counting.DaskRows` over the partitions of a
        dask DataFrame: the method may then read it only through the counting interface,
        :func:`~sk_safesynth.synth.counting.as_rows` and its ``map``, ``total`` and
        ``len`` (row-wise maps and sums computed partition by partition), never by
        collecting rows. Other methods always get a pandas DataFrame.
    schema : TableSchema
        Public schema: declared or DP domains only.
    target : str or None
        Name of the target column.
    ledger : PrivacyLedger
        Where every mechanism records its event before releasing anything.
    epsilon, delta : float
        The share of the budget this method may spend.
    rng : numpy.random.Generator
        Noise source (a CSPRNG unless the user fixed a seed).
    client : LLMClient
        The LLM, for privacy-free candidates and for DP-protected prompts.
    secure : bool
        Whether noise must come from the CSPRNG (``random_state=None``).
    public_seed : int
        Seed of privacy-free generation (candidate pools), shared across folds and
        epsilons so that the response cache answers repeated work.
    neighbours : str
        ``"replace-one"`` (the record count is public) or ``"add/remove"`` (it is not).
    """

    frame: pd.DataFrame
    schema: TableSchema
    target: str | None
    ledger: PrivacyLedger
    epsilon: float
    delta: float
    rng: np.random.Generator
    client: Any
    secure: bool
    public_seed: int
    neighbours: str = "replace-one"


class GenerationMethod(BaseEstimator):
    """Base class of the generation methods of :class:`~sk_safesynth.DPSyntheticSampler`.

    Subclasses set :attr:`name`, declare ``_parameter_constraints`` and implement
    ``_fit(context)`` and ``_sample(n, client, rng)``.
    """

    #: Name accepted by ``DPSyntheticSampler(method=...)``.
    name: str = ""
    #: Whether the method handles text columns as documents (text methods) or tables.
    for_text: bool = False
    #: Whether ``fit`` accepts a partitioned (dask) ``context.frame``: the method reads the rows
    #: only through the counting interface (:mod:`sk_safesynth.synth.counting`).
    supports_partitioned: bool = False
    #: Whether the method supports ``neighbours="add/remove"`` (the record count is private): it
    #: releases a noisy count as ``n_records_``, which ``fit_resample`` returns rows of.
    supports_add_remove: bool = False

    def needs_delta(self) -> bool:
        """Whether the method's mechanisms need ``delta > 0`` (Gaussian ones do)."""
        return True

    def needs_llm(self, schema: TableSchema) -> bool:
        """Whether fitting or sampling ``schema`` calls the LLM (its credentials must then work)."""
        return True

    def check_schema(self, schema: TableSchema) -> None:
        """Raise ``ValueError`` when the method cannot synthesise ``schema``."""

    def modelled_missing(self) -> list[str]:
        """Columns whose missing values the fitted method reproduces itself.

        Those of its public ``discretizer_`` (which gives a possibly-missing column a
        missing level); the sampler blanks the other possibly-missing columns at their
        DP missing share.
        """
        discretizer = getattr(self, "discretizer_", None)
        return list(discretizer.names) if discretizer is not None else []

    def fit(self, context: FitContext) -> GenerationMethod:
        """Spend ``context.epsilon, context.delta`` on ``context.frame``; keep DP outputs only."""
        self._validate_params()
        self.check_schema(context.schema)
        self.schema_ = context.schema
        self.target_ = context.target
        self._fit(context)
        return self

    def sample(self, n: int, client, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` synthetic rows in schema order (post-processing, no privacy cost)."""
        check_is_fitted(self, "schema_")
        return self._sample(n, client, rng)[self.schema_.names]

    def _fit(self, context: FitContext) -> None:
        raise NotImplementedError

    def _sample(self, n: int, client, rng: np.random.Generator) -> pd.DataFrame:
        raise NotImplementedError
