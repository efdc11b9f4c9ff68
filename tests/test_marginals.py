"""method="marginals": DP tree selection, consistent estimation, sampling, and the fidelity metrics."""

import math

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler
from sk_safesynth.fidelity import fidelity_summary, functional_agreement, workload, workload_tvd
from sk_safesynth.llm.testing import FAKE_MODEL
from sk_safesynth.privacy import PrivacyLedger, gaussian_event
from sk_safesynth.synth import Marginals
from sk_safesynth.synth.measurement import counts, maximum_spanning_tree, select_tree, selection_sensitivity
from sk_safesynth.synth.tree_model import (
    Expansion,
    draw,
    detection_threshold,
    fine_density,
    floor_anchor,
    no_interaction,
    project_simplex,
)

pytestmark = pytest.mark.usefixtures("fresh_fake_llm")

LEVELS = [f"l{i}" for i in range(6)]
CATEGORIES = {"a": LEVELS, "b": LEVELS, "c": LEVELS, "d": ["x", "y"], "label": ["no", "yes"]}


def _chain(n=6000, seed=0):
    """b is a function of a, c and d are noise, the label depends on a."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, n)
    frame = pd.DataFrame({
        "a": np.asarray(LEVELS, dtype=object)[a],
        "b": np.asarray(LEVELS, dtype=object)[(a + 1) % 6],
        "c": np.asarray(LEVELS, dtype=object)[rng.integers(0, 6, n)],
        "d": rng.choice(["x", "y"], n).astype(object),
    })
    label = pd.Series(np.where(rng.random(n) < 0.2 + 0.12 * a, "yes", "no"), name="label")
    return frame, label


def _fit(epsilon=4.0, **params):
    X, y = _chain()
    return DPSyntheticSampler(FAKE_MODEL, epsilon=epsilon, categories=CATEGORIES, method=Marginals(**params),
                              missing=False, random_state=0).fit(X, y), X, y


def test_fit_spends_the_whole_budget_in_three_gaussian_steps():
    sampler, _, _ = _fit(epsilon=1.0)
    assert sampler.privacy_spent_.epsilon == pytest.approx(1.0, abs=1e-6)
    labels = [entry["label"] for entry in sampler.ledger_.summary()]
    assert len(labels) == 3 and "selection" in labels[1]
    method = sampler.method_
    # count tables are accounted as discrete Gaussians over the 2 M counts a record moves,
    # the lattice-noised scores as a continuous Gaussian
    n_pairs = len(method.edges_) + method.n_extra_pairs_
    events = [entry.event for entry in sampler.ledger_.entries]
    assert [type(e).__name__ for e in events] == ["DiscreteGaussianDpEvent", "GaussianDpEvent",
                                                  "DiscreteGaussianDpEvent"]
    assert (events[0].n_coordinates, events[2].n_coordinates) == (2 * 4, 2 * n_pairs)
    assert events[0].sigma == method.sigmas_["one_way"] and events[2].sigma == method.sigmas_["cliques"]
    # at sigmas of tens of counts the discrete and continuous Gaussians nearly agree: the
    # three steps' continuous mu is that of the budget to within a fraction of a percent
    mu = math.sqrt(sum(math.sqrt(2 * m) ** 2 / s**2 for m, s in [(4, method.sigmas_["one_way"]),
                                                                    (n_pairs, method.sigmas_["cliques"])])
                   + selection_sensitivity(6) ** 2 / method.sigmas_["selection"] ** 2)
    budget_mu = 1 / PrivacyLedger(1.0, 1e-5).calibrate(lambda sigma: gaussian_event(sigma, 1.0))
    assert mu == pytest.approx(budget_mu, rel=5e-3)


def test_the_tree_joins_a_functional_pair_and_samples_keep_it():
    sampler, X, y = _fit(epsilon=2.0, extra_pairs=0)
    names = sampler.method_.discretizer_.names
    edges = {frozenset((names[c], names[p])) for c, p in sampler.method_.edges_}
    assert frozenset(("a", "b")) in edges
    synthetic = sampler.sample(4000)
    assert functional_agreement(synthetic, "a", "b", X) > 0.9
    # without the edge (every column independent given the label) agreement is near 1/6
    shuffled = synthetic.assign(b=synthetic["b"].sample(frac=1, random_state=0).to_numpy())
    assert functional_agreement(shuffled, "a", "b", X) < 0.3


def test_samples_are_close_to_the_data_on_every_pair():
    sampler, X, y = _fit(epsilon=4.0)
    real = X.assign(label=y.to_numpy())
    synthetic = sampler.sample(6000)
    pairs = workload(list(real.columns), 2)
    errors = [workload_tvd(real, synthetic, [p], bounds={}, categories=CATEGORIES) for p in pairs]
    rng = np.random.default_rng(1)
    independent = synthetic.apply(lambda s: rng.permutation(s.to_numpy()))
    baseline = workload_tvd(real, independent, [("a", "b"), ("a", "label")], bounds={}, categories=CATEGORIES)
    assert max(errors) < 0.05 < 0.3 < baseline


def test_extra_pairs_are_measured_and_reweighted_to():
    sampler, _, _ = _fit(epsilon=4.0, extra_pairs=2)
    method = sampler.method_
    assert len(method.model_.cliques) == len(method.edges_) + 2 + 1  # edges, extra pairs, root
    assert len(sampler.sample(500)) == 500


def test_reweighting_stops_once_a_sweep_no_longer_improves_the_fit(monkeypatch):
    # IPF ends when a sweep lowers the largest clique TVD by less than the tolerance: fewer
    # sweeps than the cap, and a fit as close to every clique as the full 40 sweeps give
    from sk_safesynth.synth import marginals

    method = _fit(epsilon=4.0, extra_pairs=2, inference="closed_form")[0].method_
    codes = method._model_codes(20_000, np.random.default_rng(0))

    def fitted(tolerance):
        monkeypatch.setattr(marginals, "_IPF_TOLERANCE", tolerance)
        sweeps = []
        bincount = np.bincount
        monkeypatch.setattr(np, "bincount", lambda *a, **k: sweeps.append(1) or bincount(*a, **k))
        w = method.weights(codes)
        monkeypatch.setattr(np, "bincount", bincount)
        anchor = method.cell_of_[method.anchor_][codes[:, method.anchor_]]
        tvd = max(0.5 * np.abs(bincount(np.ravel_multi_index(
            (anchor, *(method.merge_[c][codes[:, c]] for c in key)), target.shape), weights=w,
            minlength=target.size) - target.ravel()).sum() for key, target in method.model_.cliques.items())
        return len(sweeps) // len(method.model_.cliques), tvd

    early, full = fitted(marginals._IPF_TOLERANCE), fitted(-1.0)
    assert full[0] == marginals._IPF_ITERATIONS and early[0] < full[0] / 2
    assert early[1] <= full[1] + 1e-3


@pytest.mark.slow
def test_auto_extra_pairs_follow_the_noise():
    # the tree alone when the budget is small, every pair when it is large
    assert _fit(epsilon=0.05)[0].method_.n_extra_pairs_ == 0
    sampler = _fit(epsilon=50.0)[0]
    assert sampler.method_.n_extra_pairs_ == 6 - len(sampler.method_.edges_)
    assert _fit(epsilon=50.0, extra_pairs=1)[0].method_.n_extra_pairs_ == 1


@pytest.mark.parametrize("inference", ["pgm", "closed_form"])
def test_both_engines_give_one_consistent_model_that_keeps_the_structure(inference):
    if inference == "pgm":
        pytest.importorskip("mbi")
    sampler, X, y = _fit(epsilon=4.0, extra_pairs=2, inference=inference)
    method = sampler.method_
    assert method.inference_ == inference and method.n_extra_pairs_ == 2
    # every fitted clique (tree edges and extra pairs) has the same (label, column) margins
    by_column: dict = {}
    for key, table in method.model_.cliques.items():
        if len(key) == 2:
            by_column.setdefault(key[0], []).append(table.sum(axis=2))
            by_column.setdefault(key[1], []).append(table.sum(axis=1))
    assert len(by_column) == 4
    for margins in by_column.values():
        for other in margins[1:]:
            np.testing.assert_allclose(other, margins[0], atol=2e-3)
    assert functional_agreement(sampler.sample(3000), "a", "b", X) > 0.9


@pytest.mark.pgm
def test_auto_inference_is_pgm_when_installed_and_closed_form_otherwise(monkeypatch):
    from sk_safesynth.synth import pgm

    monkeypatch.setattr(pgm, "available", lambda: False)
    assert _fit(epsilon=2.0)[0].method_.inference_ == "closed_form"
    with pytest.raises(ImportError, match="pgm extra"):
        _fit(epsilon=2.0, inference="pgm")
    monkeypatch.setattr(pgm, "available", lambda: True)
    pytest.importorskip("mbi")
    assert _fit(epsilon=2.0)[0].method_.inference_ == "pgm"


@pytest.mark.slow
def test_pgm_holds_the_pairs_that_keep_the_model_small_and_fits_the_rest_to_it(monkeypatch):
    pytest.importorskip("mbi")
    from sk_safesynth.synth import pgm

    levels = {0: 6, 1: 6, 2: 6, 3: 2}
    tree = [(1, 0), (2, 0), (3, 0)]
    assert pgm.model_size_mb(2, levels, tree) * 2**20 / 8 == 2 * (36 + 36 + 12)  # cells of the three cliques
    assert pgm.model_size_mb(2, levels, tree) < pgm.model_size_mb(2, levels, [*tree, (1, 2), (2, 3)])
    closed_form: list = []
    real_fit_cliques = pgm.fit_cliques
    monkeypatch.setattr(pgm, "fit_cliques", lambda cliques, *a: closed_form.append(set(cliques)) or
                        real_fit_cliques(cliques, *a))
    method = _fit(epsilon=50.0, inference="pgm")[0].method_
    assert method.n_extra_pairs_ == 3 and closed_form == [set()]  # every pair in the model
    monkeypatch.setattr(pgm, "MAX_MODEL_MB", 0.0)  # the tree only
    closed_form.clear()
    sampler, X, _ = _fit(epsilon=50.0, inference="pgm")
    method = sampler.method_
    extra = {pair for pair in method.model_.cliques if len(pair) == 2} - {tuple(e) for e in method.edges_}
    assert method.n_extra_pairs_ == 3 and closed_form == [extra] and len(extra) == 3
    assert functional_agreement(sampler.sample(3000), "a", "b", X) > 0.9


def test_floor_anchor_keeps_every_class_and_the_tables_consistent():
    anchor = np.array([90.0, 0.0])
    marginal = np.array([[60.0, 30.0], [0.0, 0.0]])
    clique = np.array([[[40.0, 20.0], [20.0, 10.0]], [[0.0, 0.0], [0.0, 0.0]]])
    floored, marginals, cliques = floor_anchor(anchor, {0: marginal, 1: marginal}, {(0, 1): clique}, 4.0)
    np.testing.assert_allclose(floored, [90.0, 4.0])
    np.testing.assert_allclose(marginals[0], [[60.0, 30.0], [2.0, 2.0]])
    np.testing.assert_allclose(cliques[(0, 1)].sum(axis=2), marginals[0])  # still consistent
    np.testing.assert_allclose(cliques[(0, 1)].sum(axis=(1, 2)), floored)


def test_pgm_keeps_a_rare_class_at_a_small_epsilon():
    pytest.importorskip("mbi")
    X, _ = _chain(n=20000, seed=3)
    y = pd.Series(np.where(np.arange(20000) < 40, "yes", "no"), name="label")  # 0.2% "yes"
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=0.3, categories=CATEGORIES, random_state=2, missing=False,
                                 method=Marginals(inference="pgm")).fit(X, y)
    assert "cliques" in sampler.method_.plan_.shares and sampler.method_.inference_ == "pgm"
    assert set(sampler.sample(2000)["label"]) == {"no", "yes"}


def test_small_tables_are_released_as_naive_bayes_with_the_whole_budget_on_the_one_way_tables():
    X, y = _chain(n=300)
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=1.0, categories=CATEGORIES, random_state=0, missing=False,
                                 method=Marginals(inference="pgm")).fit(X, y)
    method = sampler.method_
    assert method.plan_.shares == {"one_way": 1.0} and method.plan_.clique_groups == 0
    assert method.edges_ == [] and set(method.model_.roots) == {0, 1, 2, 3}
    assert method.inference_ == "closed_form"  # exact for naive Bayes: nothing for Private-PGM to do
    assert len(sampler.ledger_.entries) == 1 and list(method.sigmas_) == ["one_way"]
    assert sampler.privacy_spent_.epsilon == pytest.approx(1.0, abs=1e-6)
    rows = sampler.sample(3000)
    assert list(rows.columns) == ["a", "b", "c", "d", "label"]
    # the label still depends on a (measured in the (label, a) table), b no longer follows a
    by_a = rows.groupby("a")["label"].apply(lambda s: (s == "yes").mean())
    assert by_a["l5"] - by_a["l0"] > 0.3
    assert (rows["b"] == rows["a"].map({f"l{i}": f"l{(i + 1) % 6}" for i in range(6)})).mean() < 0.4


def _skewed(n=8000, seed=0):
    """A gain column that is exactly 0 in 90% of rows and 7688 in most others; a wide age."""
    rng = np.random.default_rng(seed)
    label = rng.random(n) < 0.3
    gain = np.where(rng.random(n) < np.where(label, 0.7, 0.98), 0, 7688)
    scattered = rng.random(n) < 0.02
    gain[scattered] = rng.integers(1, 99_999, scattered.sum())
    X = pd.DataFrame({"gain": gain, "age": rng.integers(17, 91, n)})
    return X, pd.Series(np.where(label, "yes", "no"), name="label")


def test_numbers_are_decoded_to_point_masses_on_the_fine_grid():
    X, y = _skewed()
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, bounds={"gain": (0, 99_999), "age": (17, 90)},
                                 categories={"label": ["no", "yes"]}, method=Marginals(), random_state=0).fit(X, y)
    method = sampler.method_
    assert method.discretizer_.n_levels("gain") == 100_000  # one fine cell per value
    assert method.marginals_[(2, 0)].shape == (2, 16) and method.fine_marginals_[(2, 0)].shape == (2, 100_000)
    synthetic = sampler.sample(6000)
    share = (X["gain"] == 0).mean()
    # 16 equal-width bins decoded uniformly would put almost no row at exactly 0 or 7688
    assert abs((synthetic["gain"] == 0).mean() - share) < 0.03
    assert abs((synthetic["gain"] == 7688).mean() - (X["gain"] == 7688).mean()) < 0.03
    rich = synthetic.loc[synthetic["label"] == "yes", "gain"]
    assert (rich == 7688).mean() > 0.2 > (synthetic.loc[synthetic["label"] == "no", "gain"] == 7688).mean()
    assert set(np.unique(synthetic["age"])) <= set(range(17, 91))


def test_missing_numbers_keep_their_share_beside_the_fine_grid():
    X, y = _skewed()
    X["gain"] = X["gain"].astype(float).where(np.random.default_rng(1).random(len(X)) > 0.2)
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, bounds={"gain": (0, 99_999), "age": (17, 90)},
                                 categories={"label": ["no", "yes"]}, missing={"gain": True, "age": False, "label": False},
                                 method=Marginals(), random_state=0).fit(X, y)
    method = sampler.method_
    gain = method.discretizer_.names.index("gain")
    assert method.cell_of_[gain][-1] == 16  # the missing level is a bin of its own
    synthetic = sampler.sample(6000)
    assert abs(synthetic["gain"].isna().mean() - 0.2) < 0.03
    present = synthetic["gain"].dropna()  # a float column now: fine cells 0.76 wide
    assert abs((present < 1).mean() - (X["gain"].dropna() == 0).mean()) < 0.03


def test_decoded_integers_stay_in_their_bin():
    from sk_safesynth.schema import ColumnSpec, TableSchema
    from sk_safesynth.synth.encoding import Discretizer

    discretizer = Discretizer(TableSchema((ColumnSpec("age", "integer", 17, 90),)), 16)  # bins 4.56 wide
    codes = np.repeat(np.arange(16), 500)[:, None]
    decoded = discretizer.decode(codes, np.random.default_rng(0))
    assert (discretizer.encode(decoded) == codes).all()
    assert set(decoded["age"][codes[:, 0] == 0]) == {17, 18, 19, 20, 21}


def test_fine_density_keeps_point_masses_and_spreads_the_rest():
    coarse = np.array([[100.0, 50.0], [30.0, 0.0]])
    cell_of = np.array([0, 0, 0, 0, 1, 1])
    fine = np.array([[80.0, 2.0, -3.0, 1.0, 0.5, -1.0], [-1.0, 60.0, 0.0, 0.0, 0.0, 0.0]])
    assert detection_threshold(1.0, 6) == pytest.approx(math.sqrt(2 * math.log(6)))
    out = fine_density(coarse, fine, cell_of, detection_threshold(1.0, 6))  # sqrt(2 ln 6) = 1.9
    assert np.allclose(out[0], [80, 2, 9, 9, 25, 25])  # 80 and 2 are point masses, 18 spread over 2 cells
    assert np.allclose(out[1], [0, 30, 0, 0, 0, 0])  # a point mass larger than its cell is cut to it
    assert np.allclose([out[:, cell_of == c].sum(axis=1) for c in (0, 1)], coarse.T)


def test_expansion_draws_levels_within_their_group():
    density = np.array([[0.0, 3.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    merge = np.array([1, 0, 0, 1])  # group 0 = levels 1, 2; group 1 = levels 0, 3
    expansion = Expansion.fit(density, merge)
    rng = np.random.default_rng(0)
    anchor = np.repeat([0, 0, 1], 20000)
    groups = np.repeat([0, 1, 0], 20000)
    drawn = expansion.draw(anchor, groups, rng)
    first, second, third = drawn[:20000], drawn[20000:40000], drawn[40000:]
    assert set(first) == {1, 2} and abs((first == 1).mean() - 0.75) < 0.015
    assert set(second) == {0, 3} and abs((second == 0).mean() - 0.5) < 0.015  # no mass: uniform
    assert set(third) == {1}


def test_no_interaction_fit_has_the_margins_and_equal_odds_ratios():
    rng = np.random.default_rng(0)
    noisy = rng.integers(5, 60, (2, 3, 4)).astype(float)
    child, parent = noisy.sum(axis=2), noisy.sum(axis=1)
    fit = no_interaction(noisy, child, parent)
    assert np.allclose(fit.sum(axis=2), child, rtol=1e-6) and np.allclose(fit.sum(axis=1), parent, rtol=1e-6)
    assert np.allclose(fit.sum(axis=0), noisy.sum(axis=0), rtol=1e-3)
    odds = np.log(fit[:, 1:, 1:] * fit[:, :1, :1] / (fit[:, 1:, :1] * fit[:, :1, 1:]))
    assert np.allclose(odds[0], odds[1], atol=1e-3)


def test_large_samples_are_resampled_in_chunks(monkeypatch):
    from sk_safesynth.synth import marginals

    sampler, X, y = _fit(epsilon=4.0, extra_pairs=2)
    monkeypatch.setattr(marginals, "_CHUNK_ROWS", 700)
    pools = []
    original = Marginals.candidate_codes
    monkeypatch.setattr(Marginals, "candidate_codes",
                        lambda self, client, n_draws, rng: pools.append(n_draws) or original(self, client, n_draws, rng))
    synthetic = sampler.sample(2000)
    assert len(synthetic) == 2000 and len(pools) == 3  # 700 + 700 + 600 rows, each from its own pool
    assert functional_agreement(synthetic, "a", "b", X) > 0.9


def test_selection_scores_and_tree():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (3000, 3))
    codes[:, 1] = codes[:, 0]  # 0 -- 1 strongly dependent, 2 independent of both
    tables, predicted = {}, {}
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        tables[(i, j)] = counts(codes[:, [i, j]], (4, 4))
        predicted[(i, j)] = np.full((4, 4), 3000 / 16)
    ledger = PrivacyLedger(10.0, 1e-5)
    edges, scores, sigma = select_tree(ledger, tables, predicted, mu=0.5, rng=rng)
    assert frozenset((0, 1)) in {frozenset(e) for e in edges} and len(edges) == 2
    assert sigma == pytest.approx(selection_sensitivity(3) / 0.5)
    assert ledger.spent.mu == pytest.approx(0.5, rel=1e-9)
    assert scores[0] > scores[1] + 3 * sigma


def test_maximum_spanning_tree_takes_the_heaviest_acyclic_edges():
    pairs = [(0, 1), (1, 2), (0, 2), (2, 3)]
    assert maximum_spanning_tree(pairs, np.array([5.0, 4.0, 3.0, 1.0])) == [(0, 1), (1, 2), (2, 3)]


def test_project_simplex_is_the_least_squares_nonnegative_table():
    rng = np.random.default_rng(1)
    noisy = rng.normal(0, 5, (3, 12)) + np.array([40, 30, 20] + [0] * 9)
    totals = np.array([90.0, 80.0, 100.0])
    projected = project_simplex(noisy, totals)
    assert (projected >= 0).all() and np.allclose(projected.sum(axis=1), totals)
    # KKT: the projection is noisy - theta on its support, and support cells exceed the others
    for row, out in zip(noisy, projected):
        support = out > 0
        theta = (row - out)[support]
        assert np.allclose(theta, theta[0]) and (row[~support] <= theta[0] + 1e-9).all()


def test_draw_follows_each_row_distribution():
    probabilities = np.array([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0]])
    rows = np.repeat([0, 1], 20000)
    drawn = draw(probabilities, rows, np.random.default_rng(0))
    assert abs((drawn[:20000] == 0).mean() - 0.7) < 0.015 and (drawn[:20000] != 2).all()
    assert (drawn[20000:] == 2).all()


def test_llm_pool_is_optional_and_used_when_asked():
    from sk_safesynth.llm import capture_prompts

    with capture_prompts() as prompts:
        _fit(epsilon=2.0)[0].sample(100)
    assert not prompts
    with capture_prompts() as prompts:
        assert len(_fit(epsilon=2.0, pool_size=20, n_independent=200)[0].sample(100)) == 100
    assert prompts


def test_shares_must_leave_room_for_the_cliques():
    X, y = _chain(200)
    with pytest.raises(ValueError, match="must be < 1"):
        DPSyntheticSampler(FAKE_MODEL, categories=CATEGORIES, method=Marginals(one_way_share=0.6, selection_share=0.5),
                           random_state=0).fit(X, y)


def test_workload_tvd_and_agreement_on_known_tables():
    real = pd.DataFrame({"x": [0.0, 0.0, 10.0, 10.0], "k": ["p", "q", "p", "q"]})
    assert workload_tvd(real, real, [("x", "k")], bounds={"x": (0, 10)}, categories={"k": ["p", "q"]}) == 0.0
    other = pd.DataFrame({"x": [0.0, 0.0, 0.0, 0.0], "k": ["p", "q", "p", "q"]})
    assert workload_tvd(real, other, [("x", "k")], bounds={"x": (0, 10)}, categories={"k": ["p", "q"]}) == 0.5
    assert workload(["t", "u", "v"], 2, target="t") == [("u", "v")]
    assert workload(["t", "u", "v"], 2, target="t", with_target=True) == [("t", "u"), ("t", "v")]
    pairs = pd.DataFrame({"e": ["a", "a", "b"], "n": [1, 1, 2]})
    assert functional_agreement(pairs, "e", "n", pairs) == 1.0
    assert functional_agreement(pairs.assign(n=[1, 2, 1]), "e", "n", pairs) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="neither bounds nor categories"):
        workload_tvd(real, real, [("x",)], bounds={}, categories={})


def test_fidelity_summary_is_the_benchmark_columns():
    real = pd.DataFrame({"x": [0.0, 0.0, 10.0, 10.0], "k": ["p", "q", "p", "q"], "t": ["y", "n", "y", "n"]})
    other = real.assign(x=0.0, k=["p", "p", "q", "q"])
    domains = dict(bounds={"x": (0, 10)}, categories={"k": ["p", "q"], "t": ["y", "n"]})
    summary = fidelity_summary(real, other, target="t", functional={"k_from_t": ("t", "k")}, **domains)
    assert summary["tvd_features"] == workload_tvd(real, other, [("x", "k")], **domains) == 0.5
    assert summary["tvd_all"] == workload_tvd(real, other, workload(["x", "k", "t"], 2), **domains)
    assert summary["tvd_3way_target"] == workload_tvd(real, other, [("x", "k", "t")], **domains)
    assert summary["k_from_t"] == functional_agreement(other, "t", "k", real) == 0.5
