"""``TrainOnSynthetic``: train on DP synthetic rows, predict on real ones (TSTR)."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from sk_safesynth.privacy import PrivacySpent

_AUDIT_ATTRIBUTES = ("audit_X_", "audit_y_")


def _estimator_has(name):
    def check(self):
        target = getattr(self, "estimator_", self.estimator)
        return hasattr(target, name)

    return check


class TrainOnSynthetic(MetaEstimatorMixin, BaseEstimator):
    """Fit a sampler on the training rows, then fit an estimator on its synthetic rows.

    Inside ``cross_validate`` or ``GridSearchCV`` every training fold is replaced by
    synthetic rows while the test fold stays real: the scores are TSTR (train on
    synthetic, test on real). Each fit spends the sampler's budget on its fold; see
    :func:`sk_safesynth.search_privacy` for what a search spends in total.

    Parameters
    ----------
    sampler : DPSyntheticSampler
        Any estimator with ``fit_resample(X, y)`` and ``privacy_spent_`` after fit.
    estimator : estimator
        The model trained on the synthetic rows.
    n_samples : int or None, default=None
        Synthetic rows to train on (default: as many as the training rows).
    keep_audit_sample : bool, default=False
        Keep the real training rows **in memory** (``audit_X_``, ``audit_y_``) so that
        :class:`~sk_safesynth.MIAScorer` can attack the fitted model inside a search.
        They are dropped when the object is pickled or cloned.

    Attributes
    ----------
    sampler_ : fitted sampler
    estimator_ : fitted estimator
    synthetic_X_, synthetic_y_ : DataFrame, Series
        The synthetic training rows (DP outputs).
    privacy_spent_ : PrivacySpent
        What the sampler spent on this fit.
    classes_ : ndarray
        Classes of a fitted classifier.
    """

    _parameter_constraints: dict = {
        "sampler": [HasMethods(["fit_resample"])],
        "estimator": [HasMethods(["fit"])],
        "n_samples": [None, Interval(Integral, 1, None, closed="left")],
        "keep_audit_sample": ["boolean"],
    }

    def __init__(self, sampler, estimator, n_samples=None, keep_audit_sample=False):
        self.sampler = sampler
        self.estimator = estimator
        self.n_samples = n_samples
        self.keep_audit_sample = keep_audit_sample

    def fit(self, X, y):
        """Fit a clone of the sampler on (X, y) and a clone of the estimator on its rows."""
        self._validate_params()
        if y is None:
            raise ValueError("TrainOnSynthetic needs y")
        sampler = clone(self.sampler)
        if self.n_samples is not None and "n_samples" in sampler.get_params():
            sampler.set_params(n_samples=self.n_samples)
        X_syn, y_syn = sampler.fit_resample(X, y)
        self.sampler_ = sampler
        try:
            self.estimator_ = clone(self.estimator).fit(X_syn, y_syn)
        except ValueError as exc:
            classes = np.unique(np.asarray(y_syn))
            if not is_classifier(self.estimator) or len(classes) > 1:
                raise
            # Most classifiers refuse one class; say why the release holds only one.
            raise ValueError(
                f"the synthetic training set holds a single class ({classes.tolist()}): at this budget and table "
                "size the DP release lost the other classes; use a larger epsilon, more rows, a larger "
                "n_samples, or an estimator that accepts one class"
            ) from exc
        self.synthetic_X_ = X_syn
        self.synthetic_y_ = y_syn
        self.privacy_spent_ = getattr(sampler, "privacy_spent_", None)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        if hasattr(sampler, "n_features_in_"):
            self.n_features_in_ = sampler.n_features_in_
        if hasattr(sampler, "feature_names_in_"):
            self.feature_names_in_ = sampler.feature_names_in_
        if self.keep_audit_sample:
            self.audit_X_ = X.copy() if hasattr(X, "copy") else np.array(X)
            self.audit_y_ = y.copy() if hasattr(y, "copy") else np.array(y)
        return self

    def __getstate__(self):
        # Real rows never leave the process through a pickle (or a joblib worker copy).
        state = super().__getstate__()
        for name in _AUDIT_ATTRIBUTES:
            state.pop(name, None)
        return state

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        check_is_fitted(self, "estimator_")
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.non_deterministic = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def search_privacy(search, *, warn: bool = True) -> PrivacySpent:
    """Total privacy a fitted ``GridSearchCV``/``RandomizedSearchCV`` over a
    :class:`TrainOnSynthetic` (or a Pipeline ending in one) spent on its data.

    Every candidate fits its sampler on every training fold, and the refit on all
    rows; a record is in ``n_splits - 1`` training folds per candidate, plus the
    refit. Those fits compose; without the individual mechanisms at hand we bound
    the total by basic composition: ``Σ_c ε_c · (n_splits - 1 + refit)`` and the same
    for δ. A search is a utility/privacy study: choosing the best epsilon on real
    folds is itself not private, and the warning says so.
    """
    check_is_fitted(search, "cv_results_")
    params = search.cv_results_["params"]
    n_splits = search.n_splits_
    refit = 1 if getattr(search, "refit", False) else 0
    base = search.estimator
    total_eps = total_delta = 0.0
    for candidate in params:
        est = clone(base).set_params(**candidate)
        sampler = _find_sampler(est)
        per_fit_eps = float(sampler.get_params()["epsilon"])
        per_fit_delta = float(sampler.get_params().get("delta", 0.0))
        total_eps += per_fit_eps * (n_splits - 1)
        total_delta += per_fit_delta * (n_splits - 1)
    best = getattr(search, "best_estimator_", None)
    if refit and best is not None:
        spent = _find_fitted(best).privacy_spent_
        total_eps += spent.epsilon
        total_delta += spent.delta
    total = PrivacySpent(total_eps, min(total_delta, 1.0), None)
    if warn:
        warnings.warn(
            f"this search spent up to epsilon={total.epsilon:.3g}, delta={total.delta:.3g} on the training data "
            f"({len(params)} candidates x {n_splits} folds{' + refit' if refit else ''}); selecting the best "
            "candidate on real folds is itself not differentially private",
            UserWarning,
            stacklevel=2,
        )
    return total


def _find_sampler(estimator):
    if isinstance(estimator, TrainOnSynthetic):
        return estimator.sampler
    for _, step in getattr(estimator, "steps", []):
        if isinstance(step, TrainOnSynthetic):
            return step.sampler
    raise TypeError("the search's estimator is neither a TrainOnSynthetic nor a Pipeline containing one")


def _find_fitted(estimator) -> TrainOnSynthetic:
    if isinstance(estimator, TrainOnSynthetic):
        return estimator
    for _, step in getattr(estimator, "steps", []):
        if isinstance(step, TrainOnSynthetic):
            return step
    raise TypeError("no TrainOnSynthetic found")
