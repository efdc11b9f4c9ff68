"""Attack behaviour at the extremes and input validation of MIAScorer.evaluate."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sk_safesynth.mia import MIAInsufficientDataWarning, MIAResult, MIAScorer


def population(rng, n):
    """Mixed-type rows: two numerics on different scales, two categoricals, a target."""
    a = rng.normal(0, 1, n)
    return pd.DataFrame({
        "age": np.round(40 + 12 * a),
        "income": rng.lognormal(10, 1, n),
        "job": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "city": pd.Categorical(rng.choice(["x", "y"], n)),
        "label": (a + rng.normal(0, 1, n) > 0).astype(int),
    })


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    return population(rng, 600), population(rng, 600), population(rng, 1200)


def test_copied_members_are_found_by_dcr(frames):
    members, _, non_members = frames
    result = MIAScorer("dcr", fpr_levels=(0.01,), random_state=0).evaluate(
        members, members, non_members
    )
    assert result.auc >= 0.95
    assert result.advantage >= 0.9
    assert result.tpr_at_fpr[0.01] >= 0.9


@pytest.mark.parametrize("attack", ["dcr", "density", "classifier"])
def test_independent_synthetic_gives_chance(frames, attack):
    members, synthetic, non_members = frames
    result = MIAScorer(attack, fpr_levels=(0.01,), random_state=0).evaluate(
        members, synthetic, non_members
    )
    assert result.auc_ci[0] <= 0.5 <= result.auc_ci[1]
    assert result.n_members == result.n_non_members


def test_all_reports_strongest_and_keeps_each(frames):
    members, _, non_members = frames
    result = MIAScorer("all", fpr_levels=(0.01,), random_state=0).evaluate(
        members, members, non_members
    )
    assert set(result.per_attack) == {"dcr", "density", "classifier"}
    assert result.per_attack[result.attack].auc == result.auc
    # The reference set is half the non-members, held out from the attacked ones; the
    # attacked ones are split in a selection half and an evaluation half.
    assert result.n_reference == 600 and result.n_non_members == 300 and result.n_selection == 600


def test_balancing_n_attacks_and_bound(frames):
    members, synthetic, non_members = frames
    scorer = MIAScorer("dcr", n_attacks=100, fpr_levels=(0.01,), random_state=1)
    result = scorer.evaluate(members, synthetic, non_members, privacy=(1.0, 1e-5))
    assert isinstance(result, MIAResult)
    assert result.n_members == result.n_non_members == 50  # the evaluation half of 100
    assert result.bound_auc == pytest.approx(result.bound.auc)
    assert result.bound_tpr_at_fpr[0.01] == pytest.approx(np.e * 0.01 + 1e-5)
    again = scorer.evaluate(members, synthetic, non_members, privacy=(1.0, 1e-5))
    assert again == result  # fixed random_state: identical results


def test_too_few_non_members_for_fpr_warns_nan_or_raises(frames):
    members, synthetic, non_members = frames
    with pytest.warns(MIAInsufficientDataWarning, match="0.001 needs at least 1000"):
        result = MIAScorer("dcr", random_state=0).evaluate(members, synthetic, non_members)
    assert np.isnan(result.tpr_at_fpr[0.001]) and not np.isnan(result.tpr_at_fpr[0.01])
    with pytest.raises(ValueError, match="needs at least 1000"):
        MIAScorer("dcr", on_insufficient="raise").evaluate(members, synthetic, non_members)


def test_column_order_may_differ(frames):
    members, synthetic, non_members = frames
    scorer = MIAScorer("dcr", fpr_levels=(0.01,), random_state=0)
    shuffled = synthetic[synthetic.columns[::-1]]
    assert scorer.evaluate(members, shuffled, non_members) == scorer.evaluate(
        members, synthetic, non_members
    )


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda s: s.drop(columns="job"), r"missing \['job'\]"),
        (lambda s: s.assign(extra=1), r"unexpected \['extra'\]"),
        (lambda s: s.assign(age=s["age"].astype(str)), "'age': numeric in X_members but categorical"),
        (lambda s: s.iloc[:0], "X_synthetic is empty"),
        (lambda s: s.assign(income=np.inf), "infinite"),
    ],
)
def test_bad_synthetic_frames_raise(frames, mutate, match):
    members, synthetic, non_members = frames
    with pytest.raises(ValueError, match=match):
        MIAScorer().evaluate(members, mutate(synthetic), non_members)


def test_bad_parameters_raise(frames):
    members, synthetic, non_members = frames
    with pytest.raises(ValueError, match="unknown attack 'knn'"):
        MIAScorer("knn").evaluate(members, synthetic, non_members)
    with pytest.raises(ValueError, match="too few records to attack"):
        MIAScorer().evaluate(members.iloc[:1], synthetic, non_members)
    with pytest.raises(ValueError, match="fpr_levels"):
        MIAScorer(fpr_levels=(0.0,)).evaluate(members, synthetic, non_members)
    with pytest.raises(TypeError, match="convert datetimes"):
        dated = members.assign(age=pd.Timestamp("2020-01-01"))
        MIAScorer().evaluate(dated, synthetic, non_members)


def test_plot_roc_draws_measured_bound_and_chance(frames):
    import matplotlib

    matplotlib.use("Agg")
    members, synthetic, non_members = frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIAInsufficientDataWarning)
        result = MIAScorer("all", random_state=0).evaluate(
            members, synthetic, non_members, privacy=(1.0, 1e-5)
        )
    ax = result.plot_roc(log=True)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(lbl.startswith("DP bound") for lbl in labels) and "chance" in labels
    assert sum(lbl.startswith(("dcr", "density", "classifier")) for lbl in labels) == 3
    assert ax.get_xscale() == "log"
