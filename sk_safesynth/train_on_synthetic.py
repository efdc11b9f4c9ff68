"""``TrainOnSynthetic``: train on DP synthetic rows, predict on real ones (TSTR)."""

from __future__ import annotations

import secrets
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from sk_safesynth.exceptions import PrivacyLeakWarning
from sk_safesynth.privacy import PrivacySpent
from sk_safesynth.privacy.search import (FitRecord, PrivacyRecorder, budget_record, compose_fits, fit_record,
                                         maximal_patterns, param_key)

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
    fit_id_ : str
        A random id of this fit: :class:`~sk_safesynth.privacy.search.PrivacyRecorder`
        counts its test and train scores as one fit.
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
        self.fit_id_ = secrets.token_hex(16)
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


def _recorded_fits(search, candidates: list[dict], n_splits: int) -> list[list[FitRecord]]:
    """Each candidate's fits: the ones a PrivacyRecorder saw, or its budget for every split."""
    scoring = getattr(search, "scoring", None)
    recorders = [s for s in scoring.values() if isinstance(s, PrivacyRecorder)] if isinstance(scoring, dict) else []
    records = {r.fit_id: r for recorder in recorders for r in list(recorder.records)}  # train and test scores
    out = []
    for params in candidates:
        sampler = _find_sampler(clone(search.estimator).set_params(**params)).get_params()
        budget = budget_record(float(sampler["epsilon"]), float(sampler.get("delta", 0.0)))
        wanted = {key: param_key(value) for key, value in params.items()}
        matched = [r for r in records.values()
                   if None not in wanted.values() and all(r.params.get(k) == v for k, v in wanted.items())]
        # exactly one record per split, or the candidate counts at its budget (sound, no gain)
        out.append(matched if len(matched) == n_splits else [budget] * n_splits)
    return out


def search_privacy(search, X=None, y=None, *, groups=None, cv=None, warn: bool = True,
                   allow_non_private_steps: bool = False) -> PrivacySpent:
    """Total privacy that a search or a cross-validation spent on its worst-off record.

    Each fit of a :class:`TrainOnSynthetic` reads the private training rows of its
    split and releases what its sampler produced; a record is exposed by every fit
    whose training split holds it, and the release is everything all those fits
    produced. The number of such fits is counted from the splitter's actual indices
    (``cv.split(X, y, groups)``), so splitters that are not partitions
    (``ShuffleSplit``, ``TimeSeriesSplit``, repeated or overlapping splits) are counted
    exactly. A refit on all rows adds one fit for every record.

    The total is the composition, with dp-accounting, of those fits' mechanisms: the
    Gaussian, discrete Gaussian, Laplace and randomized-response events of their
    ledgers, composed as one ledger would compose them (privacy loss distributions;
    Gaussians merge exactly), at delta = the sum of the fits' deltas. Composing the
    events, not the fits' ``(epsilon, delta)`` pairs, is what gains: seven Gaussian
    fits at (1, 1e-5) are (2.61, 7e-5)-DP, not (7, 7e-5). It is sound because adaptive
    composition covers any sequence of mechanisms on the same rows, whatever each
    chose from earlier outputs. The events come from ``cross_validate(...,
    return_estimator=True)``'s estimators, from a search's ``best_estimator_`` (the
    refit) and, for the candidate/fold fits that a search does not keep, from a
    :class:`~sk_safesynth.privacy.search.PrivacyRecorder` among its scorers. A fit whose events are unknown (no
    recorder, a failed fit, a sampler without a ledger) counts as any mechanism with
    its ``(epsilon, delta)``. Where a candidate's folds spent different events and the
    recorder cannot tell which split each fit belongs to, all its folds are counted
    for every record.

    The basic composition (sum of epsilons and of deltas) is an upper bound that holds
    for any mechanisms; the smaller of the two is returned (both hold at that delta).
    A search is a utility/privacy study: choosing the best epsilon on real folds is
    itself not private, and the warning says so.

    Parameters
    ----------
    search : fitted GridSearchCV/RandomizedSearchCV, or dict
        A search over a :class:`TrainOnSynthetic` (or a Pipeline holding one), or the
        dict returned by ``cross_validate(..., return_estimator=True)`` (then ``cv`` and
        ``X`` are required).
    X, y, groups : array-like, optional
        The data and groups given to ``fit``/``cross_validate``, to replay the splits.
        Without ``X`` only an integer ``cv`` or an unshuffled K-fold family splitter
        (each record in ``n_splits - 1`` training splits) is accepted.
    cv : int, splitter or iterable, optional
        The splitter of a ``cross_validate`` result (a search's own ``cv`` is used
        otherwise).
    warn : bool, default=True
        Warn that the search spent this much and that selection is not private.
    allow_non_private_steps : bool, default=False
        Pipeline steps before the :class:`TrainOnSynthetic` step are fitted on the real
        training rows, outside the DP sampler (a ``StandardScaler``'s mean is not DP), and
        even a stateless transformer may mix rows before the sampler sees them, so by
        default any such step other than ``"passthrough"``/``None`` or a column selection
        (a ``ColumnTransformer`` of ``"passthrough"``/``"drop"`` only, its columns named or
        chosen by ``make_column_selector``) is refused with a ``ValueError``. ``True``
        returns the sampler's total anyway, with a :class:`PrivacyLeakWarning`: it does
        not cover those steps.

    Returns
    -------
    PrivacySpent
        ``(epsilon, delta)`` of the worst-off record (``mu`` when every composed event
        is Gaussian).

    Raises
    ------
    ValueError
        When steps before :class:`TrainOnSynthetic` learn from the real rows (see
        ``allow_non_private_steps``); move them into its ``estimator`` so that they are
        fitted on synthetic rows.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sk_safesynth import search_privacy
    >>> from sk_safesynth.privacy.search import PrivacyRecorder
    >>> scoring = {"roc_auc": "roc_auc", "privacy": PrivacyRecorder()}
    >>> # search = GridSearchCV(model, {"sampler__epsilon": [0.5, 1, 2]}, scoring=scoring,
    >>> #                       refit="roc_auc").fit(X, y)
    >>> # search_privacy(search, X, y)  # composed over 3 candidates x 4 of 5 folds + refit
    """
    if isinstance(search, dict):
        if "estimator" not in search or cv is None or X is None:
            raise ValueError("for a cross_validate result, pass return_estimator=True to cross_validate and give "
                             "search_privacy the same cv and X (and y, groups)")
        _check_steps_before(search["estimator"][0], allow_non_private_steps)
        fits = [fit_record(est) for est in search["estimator"]]
        splits = _split_counts(cv, X, y, groups, classifier=is_classifier(search["estimator"][0]),
                               n_splits=len(fits))
        # split i spends fits[i]; a record pays for the splits whose training rows hold it
        eps = splits @ np.array([f.spent.epsilon for f in fits])
        dlt = splits @ np.array([f.spent.delta for f in fits])
        fit_sets = [[f for f, used in zip(fits, pattern) if used] for pattern in maximal_patterns(splits)]
        refit, what, hint = None, f"{len(fits)} splits", ""
    else:
        check_is_fitted(search, "cv_results_")
        _check_steps_before(search.estimator, allow_non_private_steps)
        per_candidate = _recorded_fits(search, search.cv_results_["params"], search.n_splits_)
        splits = _split_counts(search.cv, X, y, groups, classifier=is_classifier(search.estimator),
                               n_splits=search.n_splits_)
        # every candidate runs every split: a record in k training splits pays k times each candidate
        k = splits.sum(axis=1)
        eps = k * sum(max(f.spent.epsilon for f in fits) for fits in per_candidate)
        dlt = k * sum(max(f.spent.delta for f in fits) for fits in per_candidate)
        k_max = int(k.max())
        # folds that spent the same events cost k_max of them; otherwise all folds count
        fit_sets = [[f for fits in per_candidate
                     for f in (fits[:1] * k_max if all(f.entries == fits[0].entries for f in fits) else fits)]]
        best = getattr(search, "best_estimator_", None) if getattr(search, "refit", False) else None
        refit = None if best is None else fit_record(best)
        what = f"{len(per_candidate)} candidates x {search.n_splits_} splits"
        recorded = any(f.fit_id for fits in per_candidate for f in fits)
        hint = "" if recorded else (" (a PrivacyRecorder among the search's scorers lets the folds' mechanisms "
                                    "compose, not their budgets)")
    basic_epsilon, basic_delta = float(eps.max()), float(dlt.max())
    if refit is not None:
        basic_epsilon += refit.spent.epsilon
        basic_delta += refit.spent.delta
        fit_sets = [[*fits, refit] for fits in fit_sets]
        what += " + refit"
    basic_delta = min(basic_delta, 1.0)
    composed = compose_fits(fit_sets, basic_delta)
    if composed is not None and composed.epsilon <= basic_epsilon:
        total = PrivacySpent(composed.epsilon, basic_delta, composed.mu)
    else:
        total = PrivacySpent(basic_epsilon, basic_delta, None)
    if warn:
        warnings.warn(
            f"this search spent up to epsilon={total.epsilon:.3g}, delta={total.delta:.3g} on its most exposed "
            f"record ({what}; basic composition: epsilon={basic_epsilon:.3g}){hint}; selecting the best candidate "
            "on real folds is itself not differentially private",
            UserWarning,
            stacklevel=2,
        )
    return total


_PARTITIONS = (KFold, StratifiedKFold, GroupKFold, StratifiedGroupKFold)


def _split_counts(cv, X, y, groups, *, classifier: bool, n_splits: int) -> np.ndarray:
    """Matrix ``(n_records, n_splits)``: 1 where a record is in a split's training rows.

    Without ``X``, a K-fold partition (each record in all training splits but one) is
    returned as one representative record.
    """
    splitter = check_cv(cv, y, classifier=classifier)
    if X is None:
        if isinstance(splitter, _PARTITIONS):
            row = np.ones((1, n_splits))
            row[0, 0] = 0
            return row
        raise ValueError(
            f"{type(splitter).__name__} is not a K-fold partition: pass the X (and y, groups) given to fit so that "
            "search_privacy counts each record's fits from the splitter's indices"
        )
    if getattr(splitter, "random_state", 0) is None and getattr(splitter, "shuffle", True):
        # A shuffling splitter without a seed cannot be replayed: any record may have
        # been in every training split.
        warnings.warn(f"{type(splitter).__name__} shuffles without a random_state, so its splits cannot be replayed; "
                      "counting every split for every record", UserWarning, stacklevel=3)
        return np.ones((_num_samples(X), n_splits))
    splits = list(splitter.split(X, y, groups))
    if len(splits) != n_splits:
        raise ValueError(f"cv gives {len(splits)} splits here but the search ran {n_splits}: pass the same cv, X, "
                         "y and groups as to fit")
    counts = np.zeros((_num_samples(X), n_splits))
    for j, (train, _) in enumerate(splits):
        counts[train, j] = 1
    return counts


def _is_column_selection(step) -> bool:
    """A ``ColumnTransformer`` that only keeps or drops columns, chosen by names, indices, a mask or
    ``make_column_selector`` (dtype or name pattern): a public, row-by-row map.

    Any other callable could choose columns by their values, so it does not count.
    """
    from sklearn.compose import ColumnTransformer, make_column_selector

    if not isinstance(step, ColumnTransformer):
        return False
    for _, transformer, columns in step.transformers:
        if not (isinstance(transformer, str) and transformer in ("passthrough", "drop")):
            return False
        if callable(columns) and not isinstance(columns, make_column_selector):
            return False
    return isinstance(step.remainder, str) and step.remainder in ("passthrough", "drop")


def _check_steps_before(estimator, allow: bool) -> None:
    """Refuse (or, with ``allow``, warn about) pipeline steps fitted on real rows before TrainOnSynthetic."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return
    before = []
    for name, step in steps:
        if isinstance(step, TrainOnSynthetic):
            break
        if step is None or (isinstance(step, str) and step == "passthrough") or _is_column_selection(step):
            continue
        before.append(f"{name!r} ({type(step).__name__})")
    else:
        return  # no TrainOnSynthetic: _find_sampler says so
    if not before:
        return
    listed = ", ".join(before)
    if not allow:
        raise ValueError(
            f"the pipeline steps {listed} come before TrainOnSynthetic, so they are fitted on the real training "
            "rows, outside the DP sampler (a scaler's mean, an encoder's categories or an imputer's statistics "
            "are not differentially private, and even a stateless step may mix rows before the sampler sees "
            "them): the search's (epsilon, delta) would not cover them. Put them inside TrainOnSynthetic's "
            "estimator, e.g. TrainOnSynthetic(sampler, make_pipeline(<those steps>, model)), so that they are "
            "fitted on synthetic rows; or pass allow_non_private_steps=True to get the sampler's total anyway"
        )
    warnings.warn(
        f"the pipeline steps {listed} before TrainOnSynthetic are fitted on the real training rows: the reported "
        "(epsilon, delta) covers the sampler only, not what those steps learn (allow_non_private_steps=True)",
        PrivacyLeakWarning,
        stacklevel=3,
    )


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
