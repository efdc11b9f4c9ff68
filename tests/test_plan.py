"""The measurement plan of method="marginals": public facts in, measurements that carry signal out."""

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler
from sk_safesynth.llm.testing import FAKE_MODEL
from sk_safesynth.synth import Marginals
from sk_safesynth.synth.plan import MIN_GROUPS, SIGNAL, plan_measurements

pytestmark = pytest.mark.usefixtures("fresh_fake_llm")

SHARES = dict(one_way_share=0.2, selection_share=0.1)


def _plan(n, mu, n_anchor=2, n_features=10, n_numeric=5):
    return plan_measurements(n, n_anchor, n_features, n_numeric, mu, max_bins=16, fine_cells=131072, **SHARES)


def test_a_large_table_measures_cliques_fine_grids_and_the_most_bins():
    plan = _plan(32561, mu=0.5)
    assert set(plan.shares) == {"one_way", "selection", "cliques"}
    assert plan.shares["one_way"] == pytest.approx(0.2) and plan.shares["selection"] == pytest.approx(0.1)
    assert plan.bins == 16 and plan.fine and plan.clique_groups >= MIN_GROUPS


def test_a_small_table_spends_everything_on_the_one_way_tables_in_fewer_bins():
    plan = _plan(300, mu=0.2)
    assert plan.shares == {"one_way": 1.0} and plan.clique_groups == 0 and not plan.fine
    # each bin of a class keeps SIGNAL noise standard deviations on average (at least 2 bins)
    sigma1 = np.sqrt(2 * 10) / 0.2
    assert plan.bins == max(2, int(150 / (SIGNAL * sigma1)))


@pytest.mark.parametrize("n", [300, 3000, 30000, 1_000_000])
def test_more_budget_or_records_never_measure_less(n):
    plans = [_plan(n, mu) for mu in (0.05, 0.2, 0.5, 2.0, 10.0)]
    assert [p.bins for p in plans] == sorted(p.bins for p in plans)
    assert [p.clique_groups for p in plans] == sorted(p.clique_groups for p in plans)
    assert [p.fine for p in plans] == sorted(p.fine for p in plans)
    bigger = _plan(10 * n, 0.5)
    assert (bigger.bins, bigger.clique_groups) >= (_plan(n, 0.5).bins, _plan(n, 0.5).clique_groups)


def test_no_features_no_division():
    plan = plan_measurements(100, 2, 0, 0, 1.0, max_bins=16, fine_cells=64, **SHARES)
    assert plan.shares == {"one_way": 1.0} and plan.bins >= 2


def _table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n).round(1)
    return pd.DataFrame({"x": x, "k": rng.integers(0, 5, n), "c": rng.choice(["u", "v", "w"], n)}), \
        pd.Series(np.where(x + rng.normal(0, 5, n) > 50, "yes", "no"), name="label")


def test_neighbouring_tables_get_the_same_plan_ledger_and_schema():
    """Replace one record by an extreme one: nothing released may depend on which table it was."""
    X, y = _table()
    other_X, other_y = X.copy(), y.copy()
    other_X.loc[0] = [0.0, 4, "w"]
    other_y.loc[0] = "no" if y.loc[0] == "yes" else "yes"
    declared = dict(bounds={"x": (0.0, 100.0), "k": (0, 4)}, categories={"c": ["u", "v", "w"], "label": ["no", "yes"]},
                    kinds={"x": "numeric", "k": "integer"}, missing=False)
    fits = [DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, method=Marginals(), random_state=1, **declared).fit(a, b)
            for a, b in ((X, y), (other_X, other_y))]
    first, second = (f.method_ for f in fits)
    assert first.plan_ == second.plan_
    assert fits[0].ledger_.summary() == fits[1].ledger_.summary()
    assert fits[0].privacy_spent_ == fits[1].privacy_spent_
    assert first.sigmas_ == second.sigmas_
    assert dict(fits[0].sample(50).dtypes) == dict(fits[1].sample(50).dtypes)


def test_add_remove_neighbours_release_the_count_and_halve_the_sensitivity():
    X, y = _table(n=3000)
    declared = dict(bounds={"x": (0.0, 100.0), "k": (0, 4)}, categories={"c": ["u", "v", "w"], "label": ["no", "yes"]},
                    kinds={"x": "numeric", "k": "integer"}, missing=False)
    fits = {relation: DPSyntheticSampler(FAKE_MODEL, epsilon=1.0, method=Marginals(), random_state=0,
                                         neighbours=relation, **declared).fit(X, y)
            for relation in ("replace-one", "add/remove")}
    replace, add_remove = fits["replace-one"], fits["add/remove"]
    labels = [entry["label"] for entry in add_remove.ledger_.summary()]
    assert labels[0].startswith("Gaussian record count")
    assert add_remove.privacy_spent_.epsilon == pytest.approx(1.0, abs=1e-6)
    # the (target, column) tables: each of the M tables moves by one count, not two
    m = X.shape[1] + len(replace.method_.fine_marginals_)  # one per feature, one per fine grid
    assert replace.ledger_.entries[0].event.n_coordinates == 2 * m
    assert add_remove.ledger_.entries[1].event.n_coordinates == m
    # the noisy count is near the true one, and fit_resample returns that many rows
    assert abs(add_remove.method_.n_records_ - 3000) < 200 and add_remove.method_.n_records_ != 3000
    assert replace.method_.n_records_ == 3000
    X_syn, _ = DPSyntheticSampler(FAKE_MODEL, epsilon=1.0, method=Marginals(), random_state=0,
                                  neighbours="add/remove", **declared).fit_resample(X, y)
    assert len(X_syn) == round(add_remove.method_.n_records_)


def test_add_remove_needs_a_declared_domain_and_the_marginals_method():
    X, y = _table()
    with pytest.raises(ValueError, match="declared domain"):
        DPSyntheticSampler(FAKE_MODEL, neighbours="add/remove").fit(X, y)
    declared = dict(bounds={"x": (0.0, 100.0), "k": (0, 4)}, categories={"c": ["u", "v", "w"], "label": ["no", "yes"]},
                    kinds={"x": "numeric", "k": "integer"}, missing=False)
    with pytest.raises(ValueError, match="method='marginals' only"):
        DPSyntheticSampler(FAKE_MODEL, neighbours="add/remove", method="noisy_icl", **declared).fit(X, y)
    # the method's flag decides, not its name: a marginals variant that does not support it is refused
    variant = type("ReplaceOneMarginals", (Marginals,), {"supports_add_remove": False})()
    with pytest.raises(ValueError, match="method='marginals' only, not 'marginals'"):
        DPSyntheticSampler(FAKE_MODEL, neighbours="add/remove", method=variant, **declared).fit(X, y)
    with pytest.raises(ValueError, match="neighbours"):
        DPSyntheticSampler(FAKE_MODEL, neighbours="swap").fit(X, y)
