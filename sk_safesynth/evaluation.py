"""Train-on-synthetic, test-on-real (TSTR) utility and the privacy/utility report.

:func:`privacy_utility_report` is a study, not a private tuning procedure: each
epsilon is a separate fit that spends its own budget on the same training rows.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import get_scorer

from sk_safesynth.mia import MIAScorer
from sk_safesynth.mia.scorer import TARGET_COLUMN


@dataclass
class Release:
    """One epsilon of :func:`privacy_utility_report`: the fitted sampler, its rows and scores."""

    epsilon: float
    sampler: Any
    X: pd.DataFrame
    y: pd.Series
    row: dict
    mia: Any


def _synthesize(
    sampler: Any, X: pd.DataFrame, y: pd.Series, n_samples: int | None
) -> tuple[pd.DataFrame, pd.Series]:
    """Fit ``sampler`` (in place) and return synthetic ``(X, y)``.

    With ``n_samples`` the sampler is fitted on ``X`` with ``y`` and asked for
    ``n_samples`` rows; the target is read back from the column named like ``y``.
    """
    if n_samples is None:
        X_syn, y_syn = sampler.fit_resample(X, y)
        return pd.DataFrame(X_syn), pd.Series(np.asarray(y_syn), name=y.name)
    sampler.fit(X, y)
    rows = pd.DataFrame(sampler.sample(n_samples))
    if y.name not in rows.columns:
        raise ValueError(
            f"the sampler's sample() output has no target column {y.name!r}; "
            "use n_samples=None to get the target from fit_resample()."
        )
    return rows.drop(columns=[y.name]), rows[y.name].rename(y.name)


def _as_xy(X: Any, y: Any) -> tuple[pd.DataFrame, pd.Series]:
    X = pd.DataFrame(X).reset_index(drop=True)
    y = pd.Series(np.asarray(y), name=getattr(y, "name", None) or "target")
    return X, y


def tstr_score(
    sampler: Any,
    estimator: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    scoring: str | Any = "roc_auc",
    n_samples: int | None = None,
) -> float:
    """Train on synthetic, test on real: utility of one synthetic release.

    Parameters
    ----------
    sampler : DPSyntheticSampler-like
        Cloned, then fitted on the training rows (``fit_resample``).
    estimator : estimator
        Cloned, then fitted on the synthetic rows.
    X_train, y_train : DataFrame, array-like
        Private training rows.
    X_test, y_test : DataFrame, array-like
        Real held-out rows the estimator is scored on.
    scoring : str or callable, default="roc_auc"
        A scikit-learn scorer name or ``scorer(estimator, X, y)``.
    n_samples : int, optional
        Synthetic rows to train on; None takes what ``fit_resample`` returns.

    Returns
    -------
    float
    """
    X_train, y_train = _as_xy(X_train, y_train)
    X_syn, y_syn = _synthesize(clone(sampler), X_train, y_train, n_samples)
    model = clone(estimator).fit(X_syn, y_syn)
    return float(get_scorer(scoring)(model, X_test, y_test))


def privacy_utility_report(
    sampler: Any,
    estimator: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    epsilons: Sequence[float],
    *,
    scoring: str | Any = "roc_auc",
    mia: MIAScorer | None = None,
    n_samples: int | None = None,
    real_baseline: bool = True,
    random_state: int | None = None,
    on_release: Callable[[Release], None] | None = None,
) -> pd.DataFrame:
    """Utility and membership-inference risk of the sampler for each epsilon.

    For each epsilon: ``clone(sampler).set_params(epsilon=e)``, synthesize from the
    training rows, train a clone of ``estimator`` on the synthetic rows and score it on
    the test rows, then attack with ``mia``: members are the training rows,
    non-members the test rows, the target is one more column.

    Parameters
    ----------
    sampler : DPSyntheticSampler-like
        Needs ``set_params(epsilon=...)``, ``fit_resample`` and, after fit,
        ``privacy_spent_``.
    estimator : estimator
        Model trained on the synthetic rows.
    X_train, y_train : DataFrame, array-like
        Private training rows (the MIA members).
    X_test, y_test : DataFrame, array-like
        Real held-out rows (utility test set and MIA non-members).
    epsilons : sequence of float
        Privacy budgets to try.
    scoring : str or callable, default="roc_auc"
        Utility metric (a scikit-learn scorer).
    mia : MIAScorer, optional
        Attack configuration; defaults to ``MIAScorer("dcr")``.
    n_samples : int, optional
        Synthetic rows per fit; None takes what ``fit_resample`` returns.
    real_baseline : bool, default=True
        Add a row ``setting="real"`` with the estimator trained on the real rows
        (utility only; its MIA columns are NaN).
    random_state : int, optional
        Seeds the attacks (overrides ``mia.random_state`` when given); the sampler and
        the estimator keep their own ``random_state``.
    on_release : callable, optional
        Called with a :class:`Release` after each epsilon (to save the synthetic rows,
        the ledger or the attack's ROC, or to report progress).

    Returns
    -------
    DataFrame
        One row per epsilon (``setting="synthetic"``), plus the baseline: ``epsilon``,
        ``epsilon_spent``, ``delta_spent``, ``mu_spent``, ``utility``, ``scoring`` (the
        metric of ``utility``), ``n_synthetic``,
        ``fit_seconds``, ``mia_seconds`` and the columns of :meth:`MIAResult.to_dict`
        (``mia_auc``, ``mia_auc_low``, ``mia_auc_high``, ``mia_advantage``,
        ``tpr_at_fpr_0.01``, ``bound_tpr_at_fpr_0.01``, ``bound_auc``, ...).
    """
    mia = MIAScorer("dcr") if mia is None else clone(mia)
    if random_state is not None:
        mia.set_params(random_state=random_state)
    X_train, y_train = _as_xy(X_train, y_train)
    X_test, y_test = _as_xy(X_test, y_test)
    y_test = y_test.rename(y_train.name)

    rows = [real_row(estimator, X_train, y_train, X_test, y_test, scoring=scoring)] if real_baseline else []
    for epsilon in epsilons:
        fitted = clone(sampler).set_params(epsilon=epsilon)
        start = time.perf_counter()
        X_syn, y_syn = _synthesize(fitted, X_train, y_train, n_samples)
        fit_seconds = time.perf_counter() - start
        row, result = evaluate_release(X_syn, y_syn, X_train, y_train, X_test, y_test, estimator=estimator,
                                       scoring=scoring, mia=mia, privacy=fitted.privacy_spent_)
        rows.append({**row, "epsilon": float(epsilon), "fit_seconds": fit_seconds})
        if on_release is not None:
            on_release(Release(float(epsilon), fitted, X_syn, y_syn, rows[-1], result))
    # the metric travels with the numbers: plots and reports name it
    return pd.DataFrame(rows).assign(scoring=scoring if isinstance(scoring, str) else getattr(
        scoring, "__name__", type(scoring).__name__))


def default_scoring(y) -> str:
    """ROC AUC for a binary target, accuracy for a multiclass one, R² for a continuous one."""
    from sklearn.utils.multiclass import type_of_target

    return {"binary": "roc_auc", "continuous": "r2"}.get(type_of_target(y), "accuracy")


def default_estimator(kind: str = "logreg", scoring: str = "roc_auc"):
    """A TSTR model for a mixed table: one-hot categories and scaled numbers, then ``kind``.

    ``"logreg"`` (logistic or ridge regression) is stable on a few dozen rows; ``"hgb"``
    (histogram gradient boosting) is stronger on thousands. ``scoring="r2"`` picks the
    regressor.
    """
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    regression = scoring == "r2"
    models = {
        ("logreg", False): LogisticRegression(max_iter=2000), ("logreg", True): Ridge(),
        ("hgb", False): HistGradientBoostingClassifier(random_state=0),
        ("hgb", True): HistGradientBoostingRegressor(random_state=0),
    }
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), make_column_selector(dtype_exclude="number")),
        (StandardScaler(), make_column_selector(dtype_include="number")),
    )
    return make_pipeline(features, models[kind, regression])


def fit_and_score(estimator: Any, X_fit: Any, y_fit: Any, X_test: Any, y_test: Any, scoring: str | Any) -> float:
    """Score on the real test rows of a clone of ``estimator`` fitted on ``(X_fit, y_fit)``.

    A training set with a single class (a small noisy release can hold one) cannot fit
    a classifier: the model is then a constant, scored as such, with a warning.
    """
    from sklearn.dummy import DummyClassifier

    y_fit = pd.Series(np.asarray(y_fit))
    if y_fit.nunique() < 2 and scoring != "r2":
        warnings.warn(f"the training rows hold a single class ({y_fit.iloc[0]!r}): the model is a constant and "
                      "its utility is chance", UserWarning, stacklevel=2)
        if isinstance(scoring, str) and scoring.startswith("roc_auc"):
            return 0.5  # all scores tie
        estimator = DummyClassifier(strategy="most_frequent")
    model = clone(estimator).fit(X_fit, y_fit)
    return float(get_scorer(scoring)(model, X_test, y_test))


def real_row(estimator: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any, *,
             scoring: str | Any = "roc_auc") -> dict:
    """The report row of the estimator trained on the real rows (the ceiling of TSTR)."""
    start = time.perf_counter()
    utility = fit_and_score(estimator, X_train, y_train, X_test, y_test, scoring)
    return {"setting": "real", "epsilon": math.inf, "epsilon_spent": math.inf, "delta_spent": math.nan,
            "mu_spent": math.nan, "utility": utility, "n_synthetic": 0,
            "model_seconds": time.perf_counter() - start}


def evaluate_release(X_syn: Any, y_syn: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any, *,
                     estimator: Any, scoring: str | Any = "roc_auc", mia: MIAScorer | None = None,
                     privacy: Any = None) -> tuple[dict, Any]:
    """TSTR utility and membership attack of one synthetic release.

    The estimator is trained on ``(X_syn, y_syn)`` and scored on the real test rows;
    ``mia`` (default ``MIAScorer("dcr")``) attacks the release with the training rows as
    members and the test rows as non-members, the target being one more column.

    Returns
    -------
    row : dict
        The report row (``setting="synthetic"``, spent budget, ``utility``,
        ``n_synthetic``, timings and :meth:`MIAResult.to_dict`'s columns).
    result : MIAResult
    """
    mia = MIAScorer("dcr") if mia is None else mia
    start = time.perf_counter()
    utility = fit_and_score(estimator, X_syn, y_syn, X_test, y_test, scoring)
    model_seconds = time.perf_counter() - start

    def frame(X, y):
        return pd.DataFrame(X).reset_index(drop=True).assign(**{TARGET_COLUMN: np.asarray(y)})

    start = time.perf_counter()
    result = mia.evaluate(frame(X_train, y_train), frame(X_syn, y_syn), frame(X_test, y_test), privacy=privacy)
    epsilon = float(privacy.epsilon) if privacy is not None else math.nan
    mu = getattr(privacy, "mu", None)
    row = {
        "setting": "synthetic", "epsilon": epsilon, "epsilon_spent": epsilon,
        "delta_spent": float(privacy.delta) if privacy is not None else math.nan,
        "mu_spent": math.nan if mu is None else float(mu), "utility": utility, "n_synthetic": len(X_syn),
        "model_seconds": model_seconds, "mia_seconds": time.perf_counter() - start, **result.to_dict(),
    }
    return row, result


def plot_privacy_utility(df: pd.DataFrame, ax: Any = None) -> Any:
    """Epsilon (log scale) against utility and membership-attack AUC.

    Utility is on the left axis; the attack AUC with its confidence band and the DP
    bound on the AUC are on a twin right axis. The ``real`` baseline, when present,
    is a horizontal line.

    Parameters
    ----------
    df : DataFrame
        Output of :func:`privacy_utility_report`.
    ax : matplotlib Axes, optional
        Axes for the utility; a new figure is made when None.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt  # slow to import; only when plotting

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    syn = df[df["setting"] == "synthetic"].sort_values("epsilon")
    metric = str(df["scoring"].iloc[0]) if "scoring" in df and len(df) else "utility"
    ax.plot(syn["epsilon"], syn["utility"], "o-", color="C0", label=f"{metric}, trained on synthetic")
    real = df[df["setting"] == "real"]
    if len(real):
        ax.axhline(real["utility"].iloc[0], color="C0", ls=":", label=f"{metric}, trained on real")
    ax.set_xscale("log")
    # label the epsilons that were run, not log-scale minor ticks that overlap
    ax.set_xticks(syn["epsilon"].to_numpy(), [f"{e:g}" for e in syn["epsilon"]])
    ax.minorticks_off()
    ax.set_xlabel("epsilon")
    ax.set_ylabel(f"{metric} on real test rows", color="C0")

    risk = ax.twinx()
    risk.plot(syn["epsilon"], syn["mia_auc"], "s-", color="C3", label="attack AUC")
    risk.fill_between(syn["epsilon"], syn["mia_auc_low"], syn["mia_auc_high"], color="C3", alpha=0.2)
    if syn["bound_auc"].notna().any():
        risk.plot(syn["epsilon"], syn["bound_auc"], "--", color="C3", alpha=0.6, label="DP bound on AUC")
    risk.axhline(0.5, color="grey", ls=":", lw=1)
    risk.set_ylim(0.4, 1.02)
    risk.set_ylabel("membership attack AUC", color="C3")

    handles = ax.get_legend_handles_labels()
    more = risk.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="best", fontsize="small")
    return ax.figure
