"""imbalanced-learn's sampler checks for ``DPSyntheticSampler`` (issue 26).

imbalanced-learn 0.14.2 imports and runs with scikit-learn 1.9.1, but its checks read
imbalanced-learn's own tags (``input_tags.dataframe``, ``sampler_tags``), which scikit-learn's
tags lack: ``_ImblearnTagged`` declares them for the sampler (a DataFrame-accepting sampler
without ``sample_indices_``). The checks that do not apply to a DP synthesizer are listed in
``NOT_APPLICABLE`` with the reason (also in docs/api.md); what they check that does
apply is tested below them. A fit of the checks' tables takes 1-8 s (the ledger calibrates
each mechanism), so the checks run with the slow tests; one fast test covers the y containers.
"""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

pytest.importorskip("imblearn")

from imblearn.pipeline import make_pipeline  # noqa: E402
from imblearn.utils._tags import InputTags, SamplerTags, Tags  # noqa: E402
from imblearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sk_safesynth import DPSyntheticSampler, PrivacyLeakWarning  # noqa: E402
from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider  # noqa: E402
from sk_safesynth.synth import Marginals  # noqa: E402

pytestmark = pytest.mark.usefixtures("fresh_fake_llm")


class _ImblearnTagged(DPSyntheticSampler):
    """``DPSyntheticSampler`` with its tags in imbalanced-learn's classes (same values)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        fields = {f.name: getattr(tags, f.name) for f in dataclasses.fields(tags)}
        inputs = {f.name: getattr(tags.input_tags, f.name) for f in dataclasses.fields(tags.input_tags)}
        fields["input_tags"] = InputTags(**inputs, dataframe=True)
        return Tags(**fields, sampler_tags=SamplerTags(sample_indices=False))


def _sampler(**params):
    # A seed: whether NaN or a category comes out of a small table is a noisy release.
    defaults = dict(llm=FAKE_MODEL, epsilon=10.0, bounds="data", method=Marginals(pool_size=0, n_independent=200),
                    random_state=0)
    return _ImblearnTagged(**{**defaults, **params})


NOT_APPLICABLE = {
    "check_target_type": "a continuous target is a numeric column to synthesize (regression tables are in scope), "
                         "not an error",
    "check_samplers_one_label": "nothing is balanced: a one-class target is a table like any other",
    "check_samplers_fit": "no sampling_strategy_: the sampler does not rebalance classes; class counts are DP "
                          "releases (noisy marginals), never exact",
    "check_samplers_pandas": "asserts that fits on the same rows return the same rows: each fit is a fresh DP "
                             "release (no noise is reused); the containers and names it checks are tested below",
    "check_samplers_list": "asserts that two fits return the same rows (fresh DP noise); lists come back as arrays",
    "check_samplers_multiclass_ova": "a one-hot (n, 3) y is a multioutput target (y must be 1-D), and it compares "
                                     "two fits",
    "check_samplers_string": "30 rows with undeclared categories: DP category selection releases none ('other'); "
                             "passes with the categories declared (test below)",
    "check_samplers_pandas_sparse": "sparse input is not accepted (input_tags.sparse=False): a mixed-type table "
                                    "is dense",
    "check_samplers_preserve_dtype": "not done: dtypes follow the synthesized kinds (float64 numbers), not the "
                                     "input array's float32",
    "check_sampler_get_feature_names_out": "not done: DPSyntheticSampler has no get_feature_names_out yet",
    "check_sampler_get_feature_names_out_pandas": "not done: DPSyntheticSampler has no get_feature_names_out yet",
}


# imbalanced-learn passes its checks to pytest as a generator, which pytest >= 9.2 warns about
# (the warning line would be counted as a test by .ci/run): the same parametrization, as a list.
_CHECKS = parametrize_with_checks([_sampler()], expected_failed_checks=lambda estimator: NOT_APPLICABLE)


@pytest.mark.slow  # about 60 s: 1,000 x 20 tables, several fits per check
@pytest.mark.parametrize(_CHECKS.args[0], list(_CHECKS.args[1]), **_CHECKS.kwargs)
def test_imblearn_sampler_checks(estimator, check):
    install_fake_provider()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)  # bounds="data" (not DP): the checks' tables are anonymous
        check(estimator)


@pytest.mark.slow  # about 5 s
def test_string_columns_with_declared_categories():
    """check_samplers_string, with the categories public as a DP release needs them."""
    from imblearn.utils.estimator_checks import check_samplers_string

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        check_samplers_string("DPSyntheticSampler", _sampler(categories={"x0": ["A", "B", "C"], "target": [0, 1]}))


@pytest.mark.parametrize("y_kind", ["series", "frame", "column", "array"])
def test_fit_resample_returns_y_in_its_container(y_kind):
    """What check_samplers_pandas and check_samplers_2d_target check, one fit each."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"0": rng.normal(size=120), "1": rng.normal(size=120)})
    labels = (X["0"] > 0).astype(int).to_numpy()
    y = {"series": pd.Series(labels, name="class"), "frame": pd.DataFrame(labels),  # column 0, like X's "0"
         "column": labels.reshape(-1, 1), "array": labels}[y_kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrivacyLeakWarning)
        X_res, y_res = _sampler(epsilon=0.5).fit_resample(X, y)  # a small budget calibrates fast
    assert isinstance(X_res, pd.DataFrame) and X_res.columns.tolist() == ["0", "1"]
    if y_kind == "series":
        assert isinstance(y_res, pd.Series) and y_res.name == "class"
    elif y_kind == "frame":
        assert isinstance(y_res, pd.DataFrame) and y_res.columns.tolist() == [0]
    else:
        assert isinstance(y_res, np.ndarray) and y_res.shape == (120,)
    assert set(np.asarray(y_res).ravel()) <= {0, 1} and len(y_res) == len(X_res) == 120


@pytest.mark.slow  # about 4 s
def test_imblearn_pipeline_trains_on_synthetic_rows():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = pd.Series((X["a"] > 0).astype(int), name="y")
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=5.0, bounds={"a": (-3, 3), "b": (-3, 3)},
                                 categories={"y": [0, 1]}, missing=False, method=Marginals(pool_size=0))
    model = make_pipeline(sampler, LogisticRegression()).fit(X, y)
    assert model.named_steps["dpsyntheticsampler"].privacy_spent_.epsilon <= 5.0
    assert model.score(X, y) > 0.7  # the classifier saw DP rows, predicts real ones
