"""``DPSyntheticSampler``: differentially private synthetic data from an LLM."""

from __future__ import annotations

import copy
import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_safesynth._tags import TableEstimatorMixin
from sk_safesynth.llm import DEFAULT_MODEL, LLMClient
from sk_safesynth.llm.secrets import redact, resolve_secrets, secrets_error, without_secrets
from sk_safesynth.privacy import PrivacyLedger, PrivacySpent, secure_generator
from sk_safesynth.privacy.calibration import check_delta, check_epsilon
from sk_safesynth.privacy.random import RANDOM_STATE_CONSTRAINT
from sk_safesynth.synth import METHODS, FitContext, GenerationMethod, methods_supporting, resolve_method
from sk_safesynth.synth.domain import (
    Declarations,
    build_schema,
    discover_domain,
    needs_measurement,
    other_values,
    unmodelled_columns,
)
from sk_safesynth.partitions import write_parquet
from sk_safesynth.synth.counting import DaskRows, PandasRows, is_dask_collection
from sk_safesynth.synth.parsing import prepare_table

_USAGE_FIELDS = ("n_calls", "n_cached", "prompt_tokens", "completion_tokens", "cost", "n_invalid")


class _MeteredClient:
    """An LLMClient that adds every run's accounting to a usage dict.

    ``problems`` (unusable secrets, :func:`~sk_safesynth.llm.secrets.resolve_secrets`)
    make every call fail at once with the reason, before anything reaches the provider.
    """

    _CALLS = ("generate", "iter_generate", "write", "embed")

    def __init__(self, client: LLMClient, usage: dict, problems: list[str]):
        self._client = client
        self._usage = usage
        self.problems = problems

    def generate(self, *args, **kwargs):
        self._check()
        result = self._client.generate(*args, **kwargs)
        self._add(result)
        self._usage["rows"] += len(result.rows)
        return result

    def write(self, *args, **kwargs):
        self._check()
        result = self._client.write(*args, **kwargs)
        self._add(result)
        self._usage["texts"] += sum(map(len, result.texts))
        return result

    def _add(self, result) -> None:
        for name in _USAGE_FIELDS:
            self._usage[name] += getattr(result, name)

    def _check(self) -> None:
        if self.problems:
            raise secrets_error(self.problems)

    def __getattr__(self, name):
        if name in self._CALLS:
            self._check()
        return getattr(self._client, name)


# Attributes of a fit, removed when a new fit starts (a failed fit leaves none of an earlier one).
_FITTED = ("schema_", "ledger_", "privacy_spent_", "method_", "target_name_", "domain_", "columns_out_",
           "_sample_stream")


class DPSyntheticSampler(TableEstimatorMixin, BaseEstimator):
    """Differentially private synthetic rows written by an LLM.

    ``fit`` reads the private table once, spends the privacy budget through a
    :class:`~sk_safesynth.PrivacyLedger` and keeps only DP outputs (noisy counts,
    noised demonstrations, DP-selected candidates) and the public schema.
    ``sample`` is post-processing: it calls the LLM and costs no privacy.

    Parameters
    ----------
    llm : str, default=DEFAULT_MODEL
        litellm model string (``"gpt-4o-mini"``, ``"ollama/llama3"``, ...); the default
        is the embedded offline model.
    epsilon : float, default=1.0
        Total privacy budget of one fit (> 0).
    delta : float, default=1e-5
        Total delta budget in [0, 1); Gaussian mechanisms need delta > 0.
    method : str or GenerationMethod, default="auto"
        Generation method: an object such as ``Marginals(n_bins=32)``,
        ``NoisyICL(n_shots=5)``, ``PrivateEvolution()``, ``TextPrivateEvolution()`` or
        ``TextNoisyICL()`` (its parameters reach ``get_params`` and ``GridSearchCV`` as
        ``method__<name>``), or a name: ``"marginals"``, ``"noisy_icl"``,
        ``"private_evolution"`` (the text variant on a table of one text column and
        categorical columns), or ``"auto"``, the benchmark winner for the table:
        :class:`~sk_safesynth.synth.Marginals` for tables,
        ``TextPrivateEvolution(keywords=8)`` for text.
    bounds : dict, "data" or None, default=None
        Public ``{column: (low, high)}`` bounds of numeric, integer and datetime
        columns. Undeclared ones are released with DP from a noisy histogram of
        magnitudes (part of the ``domain_budget``, in the ledger); values outside the
        bounds are clipped. ``"data"`` reads every undeclared bound from the data's min
        and max: the release is then **not** DP and ``privacy_spent_.epsilon`` is inf.
        Bounds declared on a string column make it numeric (thousands separators
        such as ``"1,000"`` are parsed), or datetime when the bounds are dates.
    categories : dict or None, default=None
        Public ``{column: [values]}`` of categorical columns (the target included).
        Undeclared ones are selected with DP (part of the ``domain_budget``); values
        that cannot be released go to an ``"other"`` level, with a warning. A pandas
        Categorical dtype built from the data is *not* a declaration (its categories
        are selected with DP, with a warning).
    kinds : dict or None, default=None
        Column kinds (``"numeric"``, ``"integer"``, ``"boolean"``, ``"categorical"``,
        ``"datetime"``, ``"text"``, or ``"id"`` for an identifier column, which comes
        out as fresh synthetic identifiers). Undeclared kinds come from public dtypes
        (bool, numbers, datetime64, Categorical; integer or numeric by a DP count of
        non-integral values) and, for string or object columns, from a DP histogram
        of value classes (numbers, ISO dates, booleans, long text, other strings).
        Values that are not of the column's kind (unparsable, ``inf``) are missing.
    missing : bool, dict or None, default=None
        Public declaration of which columns may have missing values
        (``{column: bool}``, or one bool for all). Undeclared columns, whatever their
        dtype, are measured with DP (their missing counts join the domain
        measurement). A missing value in a column declared complete is read as its
        lower bound, first category or False (docs/privacy.md). Missing values are
        modelled as data: a missing level in the marginals, or the DP missing share
        for the other methods.
    n_samples : int or None, default=None
        Rows returned by ``fit_resample`` (default: as many as X).
    domain_budget : float, default=0.2
        Share of the fit's zero-concentrated budget (``μ²``, the currency in which the
        Gaussian mechanisms compose) and of delta spent on the DP domain measurement
        when anything is undeclared; a tenth of it when only missing and integer counts
        are measured. The method spends what the ledger has left.
    max_text_length : int, default=1000
        Longest text (characters) the LLM may write in a text column.
    neighbours : {"replace-one", "add/remove"}, default="replace-one"
        The neighbouring relation of the guarantee. ``"replace-one"``: tables of the
        same size that differ in one record (the record count is public).
        ``"add/remove"``: one table is the other plus one record (the count is private
        too; what MST and AIM assume, for like-for-like comparisons). Under add/remove
        the marginals method releases a noisy record count first (1% of ``μ²``) and
        each count table has half the sensitivity; it needs the marginals method and a
        declared domain (the DP domain steps are replace-one), and ``fit_resample``
        returns the noisy count of rows unless ``n_samples`` is set.
    n_jobs : int or None, default=None
        Parallel LLM calls (threads).
    cache_dir : str or None, default=None
        Directory of the LLM response cache (:class:`~sk_safesynth.llm.cache.ResponseCache`); None disables it.
    llm_kwargs : dict or None, default=None
        Extra :class:`~sk_safesynth.llm.LLMClient` arguments (``temperature``,
        ``token_budget``, ``cost_cap``, ``embedding_model``, ``prompt_style``, ...) and
        any provider option litellm accepts per call (``api_base``, ``api_key``,
        ``api_version``, ``extra_headers``, ...). Secret values (keys, tokens,
        passwords, authorization headers) are shown as ``"***"`` in the repr and are
        never pickled: a pickled copy (process workers of ``GridSearchCV``, joblib's
        loky backend, dask) fails at its first LLM call saying so. Give them as
        references to environment variables, ``{"api_key": "env:OPENAI_API_KEY"}``,
        which are pickled as is and resolved in the process that calls the provider.
    verbose : int, default=0
        Progress bars when > 0.
    random_state : None, int, Generator or RandomState, default=None
        ``None`` draws noise from a cryptographically secure generator. A fixed seed
        (an int of any width, or a Generator) reproduces a fit on the same rows, but
        never reuses noise: fits on other rows (the folds and candidates of a search)
        and successive ``sample`` calls draw unrelated randomness. It is **not
        secure**: whoever knows the seed and all rows but one can test candidates for
        the last; see docs/privacy.md.

    Attributes
    ----------
    schema_ : TableSchema
        Public schema of the modelled columns (declared or DP domains only).
    domain_ : Domain
        Kinds, bounds, categories and missing shares of every column (declared or DP),
        the identifier columns and the columns DP could release nothing of.
    columns_out_ : list of str
        Columns of ``sample`` output, in input order (the target last).
    privacy_spent_ : PrivacySpent
        ``(epsilon, delta)`` spent by the fit (never above the budget); epsilon is inf
        with ``bounds="data"`` or when private text went to a remote embedding model
        (``allow_remote_embedding=True``): the release is then not DP.
    ledger_ : PrivacyLedger
        The events behind ``privacy_spent_``.
    last_fit_ledger_ : PrivacyLedger
        The ledger of the last fit, also when it failed: a failed fit may have spent
        part of its budget (the exception carries it too, as ``exc.ledger``).
    method_ : GenerationMethod
        The fitted method (a clone of ``method``, or the object a name stands for);
        it holds DP outputs only.
    target_name_ : str or None
        Name of the target column in ``sample`` output.
    llm_usage_ : dict
        LLM accounting of this fit and every ``sample`` since: calls, cache hits,
        prompt and completion tokens, cost (USD, from litellm), invalid rows or short
        texts replaced, rows and texts written.
    n_features_in_, feature_names_in_
        As in scikit-learn.
    """

    _parameter_constraints: dict = {
        "llm": [str],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="left")],
        "method": [StrOptions({"auto", *METHODS}), GenerationMethod],
        "bounds": [None, dict, StrOptions({"data"})],
        "categories": [None, dict],
        "kinds": [None, dict],
        "missing": [None, "boolean", dict],
        "n_samples": [None, Interval(Integral, 1, None, closed="left")],
        "domain_budget": [Interval(Real, 0, 1, closed="neither")],
        "max_text_length": [Interval(Integral, 1, None, closed="left")],
        "neighbours": [StrOptions({"replace-one", "add/remove"})],
        "n_jobs": [None, Integral],
        "cache_dir": [None, str],
        "llm_kwargs": [None, dict],
        "verbose": ["verbose"],
        "random_state": RANDOM_STATE_CONSTRAINT,
    }

    def __init__(self, llm=DEFAULT_MODEL, *, epsilon=1.0, delta=1e-5, method="auto", bounds=None, categories=None,
                 kinds=None, missing=None, n_samples=None, domain_budget=0.2, max_text_length=1000,
                 neighbours="replace-one", n_jobs=None, cache_dir=None, llm_kwargs=None, verbose=0,
                 random_state=None):
        self.llm = llm
        self.epsilon = epsilon
        self.delta = delta
        self.method = method
        self.bounds = bounds
        self.categories = categories
        self.kinds = kinds
        self.missing = missing
        self.n_samples = n_samples
        self.domain_budget = domain_budget
        self.max_text_length = max_text_length
        self.neighbours = neighbours
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.llm_kwargs = llm_kwargs
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Spend the budget on ``X`` (and ``y``) and keep only DP outputs.

        Parameters
        ----------
        X : DataFrame, array of shape (n_samples, n_features) or dask DataFrame
            Private training rows: numeric, integer, boolean, categorical, datetime
            and free-text columns. Missing values (NaN, None, NaT) are data. A
            ``dask.dataframe.DataFrame`` is counted partition by partition where its
            partitions are (a cluster's workers, with a ``distributed.Client``): for
            methods with ``supports_partitioned`` only, ``"marginals"`` (docs/large-tables.md).
        y : array-like of shape (n_samples,), default=None
            Optional target, synthesized as one more column; with a dask ``X``, a dask
            Series partitioned like it (a column of the same frame).
        """
        self._validate_params()
        epsilon = check_epsilon(self.epsilon)
        delta = check_delta(self.delta, allow_zero=True)
        partitioned = is_dask_collection(X)
        if partitioned:
            self._check_partitioned(self.method)
        else:
            validate_data(self, X, reset=True, dtype=None, ensure_all_finite=False, ensure_min_features=1)
        if isinstance(self.method, GenerationMethod):
            clone(self.method)._validate_params()  # bad method parameters fail before any spend
        for name in _FITTED:  # a failed fit leaves no stale result of an earlier one
            self.__dict__.pop(name, None)
        table = prepare_table(X, y)
        if partitioned:  # what validate_data records, from the frame's columns
            self.n_features_in_ = len(table.feature_names)
            self.feature_names_in_ = np.asarray(table.feature_names, dtype=object)
        decl = Declarations.from_params(table.rows.columns, kinds=self.kinds, bounds=self.bounds,
                                        categories=self.categories, missing=self.missing)
        # A fixed seed keys the fit's stream by the seed and a digest of the rows: the same
        # fit reproduces, folds of a search (clones, same seed) draw unrelated noise.
        rng = table.rows.generator(self.random_state)
        ledger = self.last_fit_ledger_ = PrivacyLedger(epsilon, delta)
        self.llm_usage_ = dict.fromkeys((*_USAGE_FIELDS, "rows", "texts"), 0)
        try:
            self._fit(table, decl, ledger, epsilon, delta, rng)
        except Exception as exc:
            # The budget spent before the failure is spent: say so, with the ledger.
            exc.ledger = ledger  # type: ignore[attr-defined]
            exc.privacy_spent = ledger.spent  # type: ignore[attr-defined]
            if hasattr(exc, "add_note"):
                spent = ledger.spent
                exc.add_note(f"sk-safesynth: the failed fit spent epsilon={spent.epsilon:.4g}, delta={spent.delta:.3g} "
                             "of its budget (see last_fit_ledger_)")
            raise
        return self

    def _fit(self, table, decl: Declarations, ledger: PrivacyLedger, epsilon: float, delta: float, rng) -> None:
        # What is measured is decided from declarations and public dtypes only.
        needs_domain = needs_measurement(table, decl)
        if needs_domain and self.neighbours == "add/remove":
            raise ValueError("neighbours='add/remove' needs a declared domain (kinds, bounds, categories and "
                             "missing of every column): the DP domain steps are replace-one only")
        share = self.domain_budget if needs_domain else 0.0
        if needs_domain and delta == 0:
            raise ValueError("DP domain discovery (kinds, bounds, categories, missing values) needs delta > 0: set "
                             "delta, or declare every column's kind, bounds or categories and missing=False")
        domain = discover_domain(table, decl, ledger, epsilon, delta, share, rng)
        schema = build_schema(domain, max_text_length=self.max_text_length)
        method = resolve_method(self.method, schema)
        if isinstance(table.rows, DaskRows):
            self._check_partitioned(method)  # "auto" or a name on a text table: a text method
        method._validate_params()
        if delta == 0 and method.needs_delta():
            raise ValueError(f"delta=0 needs a pure-DP method such as NoisyICL(mechanism='laplace'); {method!r} "
                             "uses the Gaussian mechanism, which needs delta > 0")
        method.check_schema(schema)
        client = self._client()
        if client.problems and method.needs_llm(schema):  # before the method spends anything
            raise secrets_error(client.problems)
        if self.neighbours == "add/remove" and not method.supports_add_remove:
            able = " or ".join(f"method={name!r}" for name in methods_supporting("supports_add_remove"))
            raise ValueError(f"neighbours='add/remove' is supported by {able} only, not {method.name!r}")
        names = schema.names
        rows = table.rows.map(lambda part: other_values(part[names], schema))
        # methods read a DataFrame; partitioned rows reach a method that supports them as they are
        frame = rows.frame if isinstance(rows, PandasRows) else rows
        context = FitContext(frame=frame, schema=schema, target=table.target, ledger=ledger,
                             epsilon=epsilon * (1 - share), delta=delta * (1 - share), rng=rng, client=client,
                             secure=self.random_state is None, public_seed=self._public_seed(),
                             neighbours=self.neighbours)
        self.method_ = method.fit(context)
        # sample() draws from its own stream: a fixed seed reproduces the sequence of
        # samples after a fit, and successive calls never repeat one another.
        self._sample_stream = (None if self.random_state is None
                               else np.random.default_rng(int.from_bytes(rng.bytes(32), "little")))
        self.domain_ = domain
        self.columns_out_ = table.rows.columns
        self.schema_ = schema
        self.ledger_ = ledger
        spent = ledger.spent
        # Bounds read from the data publish the extreme records, private text sent to a remote
        # embedding model is a release outside the ledger: then no (epsilon, delta) holds.
        not_dp = decl.bounds_from_data or getattr(self.method_, "sent_private_text_", False)
        self.privacy_spent_ = PrivacySpent(math.inf, spent.delta) if not_dp else spent
        self.target_name_ = table.target

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "schema_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN and inf are missing values: data, never an error
        return tags

    def sample(self, n_samples: int) -> pd.DataFrame:
        """Draw ``n_samples`` synthetic rows (post-processing: no privacy cost).

        Returns
        -------
        DataFrame
            X's columns with their dtypes, plus the target column when fitted with y.
        """
        check_is_fitted(self, "schema_")
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        rng = self._sample_rng()
        rows = self.method_.sample(int(n_samples), self._client(), rng)
        rows = rows[self.schema_.names].reset_index(drop=True)
        modelled = set(self.method_.modelled_missing())
        for column in self.schema_:
            if column.missing and column.name not in modelled:
                # post-processing: blank values at the column's DP missing share
                blank = rng.random(len(rows)) < column.missing
                rows[column.name] = rows[column.name].astype(object).where(~blank, None)
        rows = self.schema_.coerce(rows)
        for name, values in unmodelled_columns(self.domain_, len(rows), rng).items():
            rows[name] = values.array
        return rows[self.columns_out_]

    def sample_to_parquet(self, n_samples: int, path, *, rows_per_file: int = 1_000_000) -> list:
        """Write ``n_samples`` synthetic rows to parquet files in the directory ``path`` (post-processing).

        Each file holds ``rows_per_file`` rows, drawn and written 100,000 at a time, so
        memory holds a few hundred thousand rows whatever ``n_samples`` is. Every file has
        the columns of :meth:`sample` and the Arrow types of the schema's dtypes (read
        from one row drawn first; object columns as strings, their values written as
        text). Then all files are written at once by
        ``joblib.Parallel(n_jobs=self.n_jobs)`` (as many files as workers keep every
        worker busy): under joblib's dask backend, on the workers of a cluster, which
        must then see ``path`` (docs/large-tables.md). ``path`` must not exist or be
        empty. Needs ``pyarrow`` (the ``dask`` extra).

        Returns
        -------
        list of Path
            The files written, ``part-00000.parquet``, ``part-00001.parquet``, ...
        """
        check_is_fitted(self, "schema_")
        for name, value in (("n_samples", n_samples), ("rows_per_file", rows_per_file)):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        return write_parquet(self, int(n_samples), path, rows_per_file=int(rows_per_file),
                             stream=getattr(self, "_sample_stream", None), n_jobs=self.n_jobs)

    def fit_resample(self, X, y):
        """Fit on ``(X, y)`` and return synthetic ``(X_syn, y_syn)`` (imbalanced-learn API).

        Returns as many rows as ``X`` unless ``n_samples`` is set (under add/remove
        neighbours, where the count is private: the method's noisy count).

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
            Private training rows, in memory: a dask DataFrame is a ``TypeError`` (its path is
            :meth:`fit`, then :meth:`sample_to_parquet`, which hold no table of rows).
        y : Series, one-column DataFrame or array of shape (n_samples,) or (n_samples, 1)
            Target, synthesized as one more column.

        Returns
        -------
        X_syn : DataFrame or ndarray
            A DataFrame with the columns of ``X`` when ``X`` is one, else an array.
        y_syn : Series, DataFrame or ndarray
            In the container of ``y``: a Series of its name, a one-column DataFrame of
            its column, else a 1-D array.
        """
        if y is None:
            raise ValueError("fit_resample needs y; use fit(X).sample(n) for data without a target")
        if is_dask_collection(X) or is_dask_collection(y):  # before any spend: it returns every row in memory
            raise TypeError("fit_resample needs an in-memory table (pandas or numpy), not dask: for a partitioned table, "
                            "fit(X, y) then sample_to_parquet(n, path); or fit_resample(X.compute(), y.compute())")
        # y comes back in its own container: a one-column DataFrame (imbalanced-learn's checks
        # pass one) with its column, a Series with its name. X and y come back apart, so a
        # target named like a column of X (a DataFrame's default 0 and X's "0") is renamed.
        y_frame = isinstance(y, pd.DataFrame) and y.shape[1] == 1
        y_in = y.iloc[:, 0] if y_frame else y
        if (isinstance(y_in, pd.Series) and isinstance(X, pd.DataFrame)
                and str(y_in.name) in {str(column) for column in X.columns}):
            y_in = y_in.rename(None)
        self.fit(X, y_in)
        n_rows = len(X) if self.neighbours == "replace-one" else max(round(self.method_.n_records_), 1)
        synthetic = self.sample(self.n_samples or n_rows)
        X_syn = synthetic.drop(columns=[self.target_name_])
        y_syn = synthetic[self.target_name_]
        if isinstance(X, pd.DataFrame):
            X_syn.columns = X.columns
        else:
            X_syn = X_syn.to_numpy()
        if y_frame:
            return X_syn, y_syn.to_frame().set_axis(y.columns, axis=1)
        if isinstance(y, pd.Series):
            return X_syn, y_syn.rename(y.name)
        return X_syn, y_syn.to_numpy()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_partitioned(method: str | GenerationMethod) -> None:
        # A name passes when one of its classes can ("auto" too): the resolved object is checked again.
        supported = methods_supporting("supports_partitioned")
        name, able = ((method.name, method.supports_partitioned) if isinstance(method, GenerationMethod)
                      else (method, method in ("auto", *supported)))
        if not able:
            raise ValueError(f"method={name!r} cannot fit a dask DataFrame: it reads "
                             "individual records (LLM prompts, votes). Methods that count partition by partition: "
                             f"{', '.join(map(repr, supported))}; or fit in memory on X.compute()")

    def _public_seed(self) -> int:
        # Privacy-free generation (candidate pools) sees no private data, so a fixed
        # seed is safe and lets folds and epsilons share one cached pool.
        return int(self.random_state) % 2**31 if isinstance(self.random_state, Integral) else 0

    def _sample_rng(self) -> np.random.Generator:
        stream = getattr(self, "_sample_stream", None)
        return secure_generator() if stream is None else stream

    def _client(self) -> _MeteredClient:
        options, problems = resolve_secrets(self.llm_kwargs)
        client = LLMClient(self.llm, n_jobs=self.n_jobs, cache_dir=self.cache_dir, verbose=self.verbose, **options)
        return _MeteredClient(client, self.llm_usage_, problems)

    def __repr__(self, N_CHAR_MAX=700):
        # Provider secrets never reach a repr (notebooks, logs, GridSearchCV output); a shallow
        # copy is redacted, so a concurrent fit or sample never sees the mask as its key.
        shown = copy.copy(self)
        shown.llm_kwargs = redact(self.llm_kwargs)
        return BaseEstimator.__repr__(shown, N_CHAR_MAX)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the live object keeps its secrets
        state["llm_kwargs"] = without_secrets(state.get("llm_kwargs"))
        return state

