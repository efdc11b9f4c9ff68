"""Privacy audits of the full sampler: empirical epsilon, canaries, secure noise.

Empirical epsilon (Jagielski et al. 2020; Nasr et al. 2021): fit ``DPSyntheticSampler``
many times on neighbouring tables D and D' that differ in one canary record, apply a
fixed distinguishing test to the released DP state (everything ``sample`` and the
prompts are computed from), and turn its false- and true-positive counts into
one-sided 95% Clopper-Pearson bounds. For an (ε, δ)-DP release
``TPR <= exp(ε) FPR + δ``, so ``ln((TPR_low - δ) / FPR_high)`` is a lower bound on the
true ε with about 90% confidence; it must not exceed the ε the sampler claims. Tests
and thresholds are fixed in advance from the mechanism's public parameters, never
tuned on the runs. Seeds are fixed, so the measured bounds are reproducible
(they are listed in docs/hardening.md).

The runs go through the whole ``fit`` (validation, domains, ledger, method) with
``random_state=None``; two things are swapped for speed and reproducibility only:
the secure generator gets a seeded stream, and the ledger's composition (a pure
function of the events, ~0.4 s per call) is memoised.
"""

import itertools
import math
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from sk_safesynth import DPSyntheticSampler, GaussianNoiser, LaplaceNoiser, PrivacyLeakWarning
from sk_safesynth.llm import capture_prompts
from sk_safesynth.llm.testing import FAKE_MODEL, install_fake_provider
from sk_safesynth.privacy import analytic_gaussian_sigma, ledger as ledger_module, make_generator
from sk_safesynth.privacy import random as random_module
from sk_safesynth.synth import Marginals, NoisyICL, PrivateEvolution

from conftest import method as make_method

METHODS = ["marginals", "noisy_icl", "private_evolution"]
DELTA = 1e-5
CANARY_TEXT = "CANARY-7QX-OKAPI-HARPSICHORD"
CANARY_NUMBER = 61234.5625


# every test: the fake LLM installed, and no candidate pool memoised by another test
pytestmark = pytest.mark.usefixtures("fresh_fake_llm")


@pytest.fixture
def audit_mode(monkeypatch):
    """Seeded 'secure' generator and memoised accounting (see the module docstring)."""
    seeds = itertools.count(10_000)
    monkeypatch.setattr(random_module, "secure_generator", lambda: np.random.default_rng(next(seeds)))
    compose, cache = ledger_module.PrivacyLedger._compose, {}

    def memoised(ledger, entries):
        key = (ledger.epsilon, ledger.delta, tuple((entry.event, entry.extra_delta) for entry in entries))
        if key not in cache:
            cache[key] = compose(ledger, entries)
        return cache[key]

    monkeypatch.setattr(ledger_module.PrivacyLedger, "_compose", memoised)


def epsilon_lower_bound(false_positives, n_negative, true_positives, n_positive, delta, alpha=0.05):
    """Clopper-Pearson lower bound on ε from a distinguishing test's counts."""
    fpr_high = beta.ppf(1 - alpha, false_positives + 1, n_negative - false_positives) \
        if false_positives < n_negative else 1.0
    tpr_low = beta.ppf(alpha, true_positives, n_positive - true_positives + 1) if true_positives > 0 else 0.0
    if tpr_low - delta <= 0:
        return 0.0
    return max(0.0, math.log((tpr_low - delta) / fpr_high))


def _audit(fit, D, D_prime, statistic, threshold, n_runs):
    """Fit on D and D' ``n_runs`` times each; the test says "D'" when statistic >= threshold."""
    negatives = sum(statistic(fit(D)) >= threshold for _ in range(n_runs))
    positives = sum(statistic(fit(D_prime)) >= threshold for _ in range(n_runs))
    return negatives, positives


def _report(method, claimed, negatives, positives, n_runs, delta):
    bound = epsilon_lower_bound(negatives, n_runs, positives, n_runs, delta)
    print(f"\n[audit] {method}: claimed epsilon={claimed:g}, FPR={negatives / n_runs:.4f}, "
          f"TPR={positives / n_runs:.4f}, epsilon lower bound={bound:.3f} ({n_runs} runs per dataset)")
    return bound


# ---------------------------------------------------------------- empirical epsilon


def test_marginals_audit(audit_mode):
    """Canary cell of the 1-way marginal: one record moves from "a" to "z"."""
    epsilon, k, n_runs = 4.0, 10, 800
    D = pd.DataFrame({"c": ["a"] * k + ["b"] * k})
    D_prime = D.assign(c=["z"] + ["a"] * (k - 1) + ["b"] * k)
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=epsilon, delta=DELTA, method=Marginals(pool_size=0, n_independent=10),
                                 categories={"c": ["a", "b", "z"]}, missing=False)
    # One 1-way query: replacing a record moves (count_a, count_z) by (-1, +1), L2 norm sqrt(2).
    sigma = analytic_gaussian_sigma(epsilon, DELTA, l2_sensitivity=math.sqrt(2))

    def statistic(fitted):
        counts = fitted.method_.marginals_[(0,)]
        return counts[2] - counts[0]  # z minus a: mean -k on D, -k + 2 on D'

    threshold = -k + 2 * math.sqrt(2) * sigma  # two noise standard deviations above D's mean
    negatives, positives = _audit(lambda X: sampler.fit(X), D, D_prime, statistic, threshold, n_runs)
    assert sampler.privacy_spent_.epsilon <= epsilon * (1 + 1e-9)
    bound = _report("marginals", epsilon, negatives, positives, n_runs, DELTA)
    assert bound <= sampler.privacy_spent_.epsilon
    assert bound > 0.8, "the audit should detect the canary (a non-trivial lower bound)"


@pytest.mark.slow  # 600 fits of NoisyICL; the marginals audit runs on every commit
def test_noisy_icl_audit(audit_mode):
    """The demonstration of a one-record table: x = 0 (D) or x = 1 (D'), Laplace noise.

    With bounds (0, 1) the noised value is clipped back into [0, 1]; "the demonstration
    shows 1" has probability e^-ε/2 on D and 1/2 on D': the test is tight.
    """
    epsilon, n_runs = 2.0, 600
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=epsilon, method=NoisyICL(mechanism="laplace"),
                                 bounds={"x": (0.0, 1.0)}, kinds={"x": "numeric"}, missing=False)
    negatives, positives = _audit(lambda X: sampler.fit(X), pd.DataFrame({"x": [0.0]}), pd.DataFrame({"x": [1.0]}),
                                  lambda fitted: fitted.method_.demonstrations_["x"].iloc[0], 1.0, n_runs)
    assert sampler.privacy_spent_.epsilon == pytest.approx(epsilon)
    bound = _report("noisy_icl (laplace)", epsilon, negatives, positives, n_runs, 0.0)
    assert bound <= epsilon
    assert bound > 1.2


def test_private_evolution_audit(audit_mode):
    """Votes between two public candidates: the canary moves one vote from c1 to c0."""
    epsilon, k, n_runs = 4.0, 20, 800
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=epsilon, delta=DELTA, method=PrivateEvolution(population_size=2, n_rounds=1),
                                 bounds={"x": (0.0, 1.0)}, missing=False)
    # The candidates come from the schema only (memoised, identical in every run).
    candidates = sampler.fit(pd.DataFrame({"x": [0.5]})).method_.population_["x"].to_numpy()
    assert len(set(candidates)) == 2
    D = pd.DataFrame({"x": [candidates[1]] * k + [candidates[0]] * k})
    D_prime = D.assign(x=[candidates[0]] + [candidates[1]] * (k - 1) + [candidates[0]] * k)
    sigma = analytic_gaussian_sigma(epsilon, DELTA, l2_sensitivity=math.sqrt(2))
    # weight of c0 = v0 / (v0 + v1) with noisy votes v ~ k + N(0, sigma^2): about 1/2 + (v0 - v1) / 4k
    threshold = 0.5 + 2 * math.sqrt(2) * sigma / (4 * k)
    negatives, positives = _audit(lambda X: sampler.fit(X), D, D_prime,
                                  lambda fitted: fitted.method_.weights_[0], threshold, n_runs)
    bound = _report("private_evolution", epsilon, negatives, positives, n_runs, DELTA)
    assert bound <= sampler.privacy_spent_.epsilon
    assert bound > 0.8


def test_clopper_pearson_bound_is_conservative():
    # A perfect test over 100 runs proves only ln(0.97 / 0.03) ~ 3.5, never infinity.
    assert 3.0 < epsilon_lower_bound(0, 100, 100, 100, 0.0) < 4.0
    assert epsilon_lower_bound(50, 100, 50, 100, 0.0) == 0.0
    assert epsilon_lower_bound(0, 100, 0, 100, 0.0) == 0.0


# ---------------------------------------------------------------- canaries: prompts and pickles


def _canary_table(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.round(rng.uniform(0, 100_000, n), 2),
        "city": rng.choice(["Paris", "Lyon", "Nice"], n).astype(object),
        "since": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D"),
        "note": [f"customer note number {i}, ordinary content about the account" for i in range(n)],
    })
    X.loc[0, ["note", "income", "since"]] = [f"my secret is {CANARY_TEXT}", CANARY_NUMBER, pd.Timestamp("2019-07-13")]
    y = pd.Series(rng.choice(["no", "yes"], n), name="label")
    return X, y


def _text_sampler(method, **params):
    return DPSyntheticSampler(
        FAKE_MODEL, epsilon=4.0, method=make_method(method, pool_size=20, population_size=10, rows_per_call=5),
        kinds={"note": "text"},
        bounds={"age": (18, 80), "income": (0, 100_000), "since": ("2015-01-01", "2024-01-01")},
        categories={"city": ["Paris", "Lyon", "Nice"], "label": ["no", "yes"]}, random_state=0, **params)


@pytest.mark.parametrize("method", METHODS)
def test_text_canary_never_reaches_a_prompt_or_a_pickle(method):
    X, y = _canary_table()
    with capture_prompts() as prompts:
        sampler = _text_sampler(method).fit(X, y)
        out = sampler.sample(25)
        X_syn, _ = _text_sampler(method).fit_resample(X, y)
    assert prompts and len(out) == 25 and len(X_syn) == len(X)
    text = "\n".join(prompts)
    assert CANARY_TEXT not in text and "secret" not in text
    assert "61234" not in text and "2019-07-13" not in text
    assert not any(note in text for note in X["note"])  # no private note, canary or not
    blob = pickle.dumps(sampler)
    assert CANARY_TEXT.encode() not in blob and b"customer note number" not in blob
    assert np.float64(CANARY_NUMBER).tobytes() not in blob
    assert CANARY_TEXT not in "".join(out["note"])


@pytest.mark.parametrize("method", METHODS)
def test_canary_stays_out_of_prompts_under_faults_and_retries(method):
    X, y = _canary_table()
    install_fake_provider(fault_rate=0.3)
    with capture_prompts() as prompts:
        _text_sampler(method, llm_kwargs={"max_retries": 8, "backoff": 0.001}).fit(X, y).sample(20)
    text = "\n".join(prompts)
    assert prompts and CANARY_TEXT not in text and "61234" not in text


def test_noisers_pickle_no_training_rows():
    X = pd.DataFrame({"income": [CANARY_NUMBER, 10.0, 20.0], "city": ["Paris", "Lyon", "Nice"]})
    domain = {"bounds": {"income": (0, 100_000)}, "categories": {"city": ["Paris", "Lyon", "Nice"]}}
    for noiser in (LaplaceNoiser(1.0, **domain), GaussianNoiser(1.0, **domain)):
        blob = pickle.dumps(noiser.fit(X))
        assert np.float64(CANARY_NUMBER).tobytes() not in blob and b"61234" not in blob


# ---------------------------------------------------------------- secure noise


def test_default_noise_comes_from_aes_ctr_keyed_by_the_os():
    from randomgen import AESCounter

    generator = make_generator(None)
    assert isinstance(generator.bit_generator, AESCounter)
    assert generator.integers(0, 2**63) != make_generator(None).integers(0, 2**63)


def test_secure_generator_key_comes_from_os_urandom(monkeypatch):
    monkeypatch.setattr(os, "urandom", lambda n: b"\x07" * n)
    first, second = random_module.secure_generator(), random_module.secure_generator()
    assert first.random() == second.random()  # same key, same stream: the key is os.urandom's


@pytest.mark.parametrize("method", METHODS)
def test_random_state_none_gives_fresh_noise_per_fit(method, monkeypatch):
    calls = []
    secure = random_module.secure_generator
    monkeypatch.setattr(random_module, "secure_generator", lambda: calls.append(1) or secure())
    X, y = _canary_table(60)
    X = X.drop(columns=["note", "since"])
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=1.0,
                                 method=make_method(method, pool_size=20, n_independent=200, population_size=10),
                                 bounds={"age": (18, 80), "income": (0, 1e5)},
                                 categories={"city": ["Paris", "Lyon", "Nice"], "label": ["no", "yes"]},
                                 random_state=None)
    states = [pickle.dumps(_released(sampler.fit(X, y))) for _ in range(2)]
    assert states[0] != states[1]
    assert len(calls) >= 2  # one secure generator per fit at least


def _released(sampler):
    method = sampler.method_
    if method.name == "marginals":
        return method.marginals_
    if method.name == "noisy_icl":
        return method.demonstrations_
    return method.weights_


def test_fixed_random_state_is_reproducible_and_documented():
    for estimator in (DPSyntheticSampler, LaplaceNoiser):  # GaussianNoiser's docstring points to LaplaceNoiser's
        assert "not secure" in " ".join(estimator.__doc__.split())
    noiser = LaplaceNoiser(1.0, bounds=(0, 1), random_state=3)
    X = np.array([[0.2], [0.7]])
    np.testing.assert_array_equal(noiser.fit_transform(X), noiser.fit_transform(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrivacyLeakWarning)  # declared bounds: no leak warning
        LaplaceNoiser(1.0, bounds=(0, 1)).fit_transform(X)
