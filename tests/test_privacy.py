"""Secure samplers, calibration and the ledger, checked against theory and dp-accounting."""

import math

import dp_accounting
import numpy as np
import pytest
from dp_accounting import pld
from scipy import stats

from sk_safesynth import PrivacyBudgetExceeded, PrivacyLedger
from sk_safesynth.privacy import (
    analytic_gaussian_sigma,
    discrete_gaussian,
    discrete_laplace,
    gaussian_delta,
    gaussian_event,
    laplace_event,
    lattice_noise,
    make_generator,
    randomized_response,
    randomized_response_event,
    rr_epsilon,
    rr_keep_probability,
    secure_generator,
)
from sk_safesynth.privacy.random import secure_generator as _secure

N = 40_000


@pytest.mark.parametrize("scale", [0.05, 0.5, 3.0])
def test_lattice_laplace_matches_continuous_laplace(scale):
    rng = make_generator(11)
    noisy = lattice_noise(np.full(N, 0.5), scale, "laplace", rng)
    result = stats.kstest(noisy - 0.5, stats.laplace(scale=scale).cdf)
    assert result.pvalue > 0.001, result


@pytest.mark.parametrize("sigma", [0.05, 0.5, 3.0])
def test_lattice_gaussian_matches_normal(sigma):
    rng = make_generator(12)
    noisy = lattice_noise(np.full(N, 0.25), sigma, "gaussian", rng)
    result = stats.kstest(noisy - 0.25, stats.norm(scale=sigma).cdf)
    assert result.pvalue > 0.001, result


def test_discrete_laplace_pmf_small_scale():
    # P(z) = (1-q)/(1+q) q^|z| with q = exp(-1/t): check exact frequencies by chi-square.
    t = 1.5
    z = discrete_laplace(t, N, make_generator(3))
    q = math.exp(-1 / t)
    support = np.arange(-8, 9)
    pmf = (1 - q) / (1 + q) * q ** np.abs(support)
    observed = np.array([(z == k).sum() for k in support])
    expected = pmf * N
    tail_obs, tail_exp = N - observed.sum(), N - expected.sum()
    chi = stats.chisquare(np.append(observed, tail_obs), np.append(expected, tail_exp))
    assert chi.pvalue > 0.001


def test_discrete_gaussian_pmf_small_sigma():
    sigma = 1.3
    z = discrete_gaussian(sigma, N, make_generator(4))
    support = np.arange(-30, 31)
    weights = np.exp(-(support**2) / (2 * sigma**2))
    pmf = weights / weights.sum()
    keep = pmf * N > 5
    observed = np.array([(z == k).sum() for k in support[keep]])
    expected = pmf[keep] * N
    chi = stats.chisquare(np.append(observed, N - observed.sum()), np.append(expected, N - expected.sum()))
    assert chi.pvalue > 0.001


def test_output_lies_on_lattice():
    noisy = lattice_noise(np.array([0.1, 0.2, 0.3]), 1.0, "laplace", make_generator(0))
    # 2**-k lattice: multiplying by 2**k gives integers exactly.
    k = 20
    assert np.all(noisy * 2.0**k == np.rint(noisy * 2.0**k))


def test_secure_generator_is_not_reproducible_and_seed_is():
    assert not np.array_equal(secure_generator().random(8), _secure().random(8))
    assert np.array_equal(make_generator(5).random(8), make_generator(5).random(8))
    with pytest.raises(TypeError):
        make_generator("seed")
    with pytest.raises(ValueError):
        make_generator(-1)


@pytest.mark.parametrize("epsilon", [0.01, 0.3, 1.0, 5.0, 30.0, 800.0])
def test_analytic_gaussian_is_tight(epsilon):
    delta = 1e-5
    sigma = analytic_gaussian_sigma(epsilon, delta)
    assert gaussian_delta(sigma, epsilon) <= delta
    assert gaussian_delta(sigma * (1 - 1e-6), epsilon) > delta * (1 - 1e-3)
    if epsilon < 100:
        # dp-accounting's own Gaussian calibration agrees
        assert sigma == pytest.approx(dp_accounting.get_sigma_gaussian(epsilon, delta), rel=1e-6)


def test_analytic_gaussian_beats_classical_bound():
    epsilon, delta = 0.5, 1e-5
    classical = math.sqrt(2 * math.log(1.25 / delta)) / epsilon
    assert analytic_gaussian_sigma(epsilon, delta) < classical


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_calibration_rejects_bad_epsilon(bad):
    with pytest.raises(ValueError, match="epsilon"):
        analytic_gaussian_sigma(bad, 1e-5)


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan")])
def test_calibration_rejects_bad_delta(bad):
    with pytest.raises(ValueError, match="delta"):
        analytic_gaussian_sigma(1.0, bad)


def test_rr_keep_probability_round_trip():
    for k in (2, 5, 40):
        for eps in (0.1, 1.0, 6.0):
            assert rr_epsilon(rr_keep_probability(eps, k), k) == pytest.approx(eps)


def _accountant_epsilon(events, relation, delta):
    accountant = pld.PLDAccountant(relation)
    for event in events:
        accountant.compose(event)
    return accountant.get_epsilon(delta)


def test_ledger_matches_dp_accounting_gaussian_laplace():
    events = [gaussian_event(3.0, 1.0), laplace_event(2.0, 1.0)]
    ledger = PrivacyLedger(10.0, 1e-6)
    for event in events:
        ledger.spend(event)
    expected = _accountant_epsilon(events, dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE, 1e-6)
    assert ledger.spent.epsilon == pytest.approx(expected, rel=1e-9)
    assert ledger.spent.delta == 1e-6


def test_ledger_matches_dp_accounting_randomized_response():
    events = [randomized_response_event(0.6, 4), randomized_response_event(0.3, 7)]
    ledger = PrivacyLedger(10.0, 1e-6)
    ledger.spend(gaussian_event(100.0, 1.0))  # forces the PLD path
    for event in events:
        ledger.spend(event)
    expected = _accountant_epsilon(
        [*events, gaussian_event(100.0, 1.0)], dp_accounting.NeighboringRelation.REPLACE_ONE, 1e-6
    )
    # dp-accounting's REPLACE_ONE Gaussian is the two-sided (sensitivity 2) one, so our unit
    # Gaussian can only be cheaper.
    assert ledger.spent.epsilon <= expected + 1e-9


def test_ledger_merges_gaussians_exactly():
    # Two Gaussians with multipliers 3 and 4 are one Gaussian with multiplier 12/5.
    ledger = PrivacyLedger(10.0, 1e-6)
    ledger.spend(gaussian_event(3.0, 1.0))
    ledger.spend(gaussian_event(4.0, 1.0))
    single = _accountant_epsilon([gaussian_event(2.4, 1.0)], dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE, 1e-6)
    separate = _accountant_epsilon([gaussian_event(3.0, 1.0), gaussian_event(4.0, 1.0)],
                                   dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE, 1e-6)
    # dp-accounting's PLD agrees to its discretisation; the ledger's value is the exact curve
    assert ledger.spent.epsilon == pytest.approx(single, rel=1e-6)
    assert ledger.spent.epsilon <= separate + 1e-9
    assert gaussian_delta(2.4, ledger.spent.epsilon) == pytest.approx(1e-6, rel=1e-6)
    assert gaussian_delta(2.4, ledger.spent.epsilon) <= 1e-6


def test_ledger_pure_composition_is_exact_sum():
    ledger = PrivacyLedger(2.0)
    ledger.spend(laplace_event(2.0, 1.0))  # 0.5
    ledger.spend(randomized_response_event(rr_keep_probability(0.7, 3), 3))  # 0.7
    assert ledger.spent.epsilon == pytest.approx(1.2)
    assert ledger.spent.delta == 0.0


def test_ledger_gaussian_mu():
    ledger = PrivacyLedger(50.0, 1e-5)
    ledger.spend(gaussian_event(2.0, 1.0))
    ledger.spend(gaussian_event(2.0, 1.0))
    assert ledger.spent.mu == pytest.approx(math.sqrt(0.5))


def test_ledger_refuses_overspend_and_records_nothing():
    ledger = PrivacyLedger(1.0)
    ledger.spend(laplace_event(1.25, 1.0))  # 0.8
    with pytest.raises(PrivacyBudgetExceeded, match="beyond the budget"):
        ledger.spend(laplace_event(2.0, 1.0))  # +0.5
    assert len(ledger.entries) == 1
    assert ledger.spent.epsilon == pytest.approx(0.8)
    assert not ledger.can_spend(laplace_event(2.0, 1.0))
    assert ledger.can_spend(laplace_event(10.0, 1.0))


def test_ledger_gaussian_needs_delta():
    with pytest.raises(PrivacyBudgetExceeded, match="delta"):
        PrivacyLedger(1.0).spend(gaussian_event(10.0, 1.0))


def test_ledger_accepts_exactly_calibrated_gaussian():
    sigma = analytic_gaussian_sigma(1.0, 1e-5)
    spent = PrivacyLedger(1.0, 1e-5).spend(gaussian_event(sigma, 1.0))
    assert spent.epsilon <= 1.0 * (1 + 1e-9)


def _clopper_pearson(k, n, alpha=1e-4):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    return ci.low, ci.high


def _epsilon_lower_bound(hits_far, hits_near, n, delta=0.0):
    p_far_low, _ = _clopper_pearson(hits_far, n)
    _, p_near_high = _clopper_pearson(hits_near, n)
    return math.log(max(p_far_low - delta, 1e-300) / p_near_high)


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_empirical_dp_audit(mechanism):
    """Neighbouring inputs 0 and 1 (unit bounds): distinguishing by 'output > 1'."""
    epsilon, delta, n = 1.0, 1e-5, 200_000
    scale = 1.0 / epsilon if mechanism == "laplace" else analytic_gaussian_sigma(epsilon, delta)
    rng = make_generator(2024)
    out_low = lattice_noise(np.zeros(n), scale, mechanism, rng)
    out_high = lattice_noise(np.ones(n), scale, mechanism, rng)
    # for the Gaussian the most distinguishing event lies further out
    threshold = 1.0 if mechanism == "laplace" else 1.0 + 2.0 * scale
    lb = _epsilon_lower_bound(int((out_high > threshold).sum()), int((out_low > threshold).sum()), n,
                              delta if mechanism == "gaussian" else 0.0)
    assert lb <= epsilon
    # the audit has power: it gets close to the claim (Laplace is tight on this event)
    assert lb >= (0.85 if mechanism == "laplace" else 0.3) * epsilon


def test_empirical_rr_audit():
    epsilon, k, n = 1.0, 4, 200_000
    p = rr_keep_probability(epsilon, k)
    rng = make_generator(99)
    out_a = randomized_response(np.zeros(n, dtype=int), k, p, rng)
    out_b = randomized_response(np.ones(n, dtype=int), k, p, rng)
    lb = _epsilon_lower_bound(int((out_a == 0).sum()), int((out_b == 0).sum()), n)
    assert 0.85 * epsilon <= lb <= epsilon


def test_self_composed_events_count_as_repeats():
    """A SelfComposedDpEvent of k events spends what k separate events spend (exactly)."""
    event = dp_accounting.GaussianDpEvent(noise_multiplier=3.0)
    repeated = PrivacyLedger(100.0, 1e-5)
    for _ in range(4):
        repeated.spend(event, "one")
    composed = PrivacyLedger(100.0, 1e-5)
    composed.spend(dp_accounting.SelfComposedDpEvent(event, 4), "four")
    assert composed.spent.epsilon == pytest.approx(repeated.spent.epsilon, rel=1e-12)
    assert composed.spent.mu == pytest.approx(2 / 3.0)  # sqrt(4) / 3
    laplace = PrivacyLedger(100.0).spend(dp_accounting.SelfComposedDpEvent(dp_accounting.LaplaceDpEvent(0.5), 3))
    assert laplace.epsilon == pytest.approx(6.0)


def test_gaussian_needs_delta_left_after_reservations():
    ledger = PrivacyLedger(10.0, 1e-5)
    ledger.spend_delta(1e-5, "threshold")  # the whole delta budget, reserved
    with pytest.raises(PrivacyBudgetExceeded, match="needs delta > 0"):
        ledger.spend(dp_accounting.GaussianDpEvent(1.0), "gaussian")


def test_zero_sensitivity_is_refused():
    with pytest.raises(ValueError):
        analytic_gaussian_sigma(1.0, 1e-5, l2_sensitivity=0.0)


# ------------------------------------------------------------------ discrete Gaussian, exact
from dp_accounting.pld import privacy_loss_distribution as _pld  # noqa: E402

from sk_safesynth.privacy import (  # noqa: E402
    discrete_gaussian_event,
    discrete_gaussian_sigma,
    discrete_gaussian_tail,
)
from sk_safesynth.privacy.domain import selection_threshold  # noqa: E402


@pytest.mark.parametrize("n_tables", [1, 5, 28])
# the finer independent PLD takes seconds per case at epsilon >= 10: those cases are slow
@pytest.mark.parametrize("epsilon", [0.3, 1.0, 3.0, *(pytest.param(e, marks=pytest.mark.slow) for e in (10.0, 30.0))])
def test_marginal_noise_meets_its_claim_under_discrete_gaussian_accounting(n_tables, epsilon):
    # M tables: replacing a record moves 2 M counts by one. An independent dp-accounting
    # computation (finer discretization) of the discrete Gaussian actually sampled.
    delta = 1e-5
    sigma = discrete_gaussian_sigma(epsilon, delta, n_coordinates=2 * n_tables)
    independent = _pld.from_discrete_gaussian_mechanism(
        sigma, 1, use_connect_dots=True, value_discretization_interval=1e-5
    ).self_compose(2 * n_tables)
    assert independent.get_epsilon_for_delta(delta) <= epsilon + 1e-9
    # and the ledger reports the whole budget, never more
    spent = PrivacyLedger(epsilon, delta).spend(discrete_gaussian_event(sigma, 2 * n_tables))
    assert epsilon - 1e-6 <= spent.epsilon <= epsilon


def test_continuous_calibration_understates_discrete_delta():
    # The old calibration (analytic Gaussian) at small sigma: one table at epsilon 10.65.
    sigma = analytic_gaussian_sigma(10.65, 1e-5, l2_sensitivity=math.sqrt(2))
    discrete = _pld.from_discrete_gaussian_mechanism(sigma, 1, use_connect_dots=True).self_compose(2)
    assert discrete.get_delta_for_epsilon(10.65) > 1.5e-5
    assert discrete_gaussian_sigma(10.65, 1e-5, n_coordinates=2) > sigma


def test_single_count_matches_the_closed_form():
    # CKS 2020, Theorem 7: delta(eps) = P[Z > eps s^2 - 1/2] - e^eps P[Z > eps s^2 + 1/2] (sensitivity 1)
    epsilon, delta = 1.0, 1e-5
    sigma = discrete_gaussian_sigma(epsilon, delta, n_coordinates=1)
    a = epsilon * sigma**2
    exact = discrete_gaussian_tail(sigma, math.floor(a - 0.5) + 1) - math.exp(epsilon) * discrete_gaussian_tail(
        sigma, math.floor(a + 0.5) + 1)
    assert exact <= delta * (1 + 1e-6)
    assert exact >= delta * 0.99  # calibrated to the boundary, not far inside it


def test_discrete_gaussian_tail_against_samples():
    sigma = 2.5
    draws = discrete_gaussian(sigma, 200_000, make_generator(9))
    for k in (0, 3, 6):
        p = discrete_gaussian_tail(sigma, k)
        assert abs((draws >= k).mean() - p) < 5 * math.sqrt(p * (1 - p) / len(draws)) + 1e-4


def test_selection_threshold_is_the_smallest_safe_integer():
    sigma, target, n_cols = 7.3, 1e-6, 3
    tau = selection_threshold(sigma, target, n_cols)
    assert n_cols * discrete_gaussian_tail(sigma, tau) <= target < n_cols * discrete_gaussian_tail(sigma, tau - 1)


def test_calibrate_spends_the_rest_of_a_ledger():
    ledger = PrivacyLedger(2.0, 1e-5)
    ledger.spend(randomized_response_event(rr_keep_probability(0.5, 3), 3))
    sigma = ledger.calibrate(lambda s: discrete_gaussian_event(s, 4))
    spent = ledger.spend(discrete_gaussian_event(sigma, 4))
    assert 2.0 - 1e-6 <= spent.epsilon <= 2.0
    # two halves of a split event compose to the same PLD as the whole
    halves = PrivacyLedger(2.0, 1e-5)
    halves.spend(randomized_response_event(rr_keep_probability(0.5, 3), 3))
    halves.spend(discrete_gaussian_event(sigma, 2))
    assert halves.spend(discrete_gaussian_event(sigma, 2)).epsilon == spent.epsilon
