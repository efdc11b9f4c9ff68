"""The scikit-learn tags shared by the estimators that read private tables."""

from __future__ import annotations


class TableEstimatorMixin:
    """Tags of an estimator that takes mixed-type tables and draws random noise.

    Strings and categorical columns are accepted, missing values are not, and two fits
    on the same data differ (fresh noise), so sklearn's determinism checks are skipped.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = False
        return tags
