"""bench/bench_ablation.py: the diagnostic removes noise only after accounting, and decodes the support it is told to."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler, Marginals
from sk_safesynth.synth.measurement import counts

pytestmark = pytest.mark.usefixtures("fresh_fake_llm")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
bench_ablation = pytest.importorskip("bench_ablation")

BOUNDS = {"capital-gain": (0, 99999), "age": (17, 90)}


def _table(seed=0):
    """capital-gain: 0 for most rows, 3103 for 60 (almost all "yes"), 4000 for 6 "no" rows."""
    rng = np.random.default_rng(seed)
    gain = np.concatenate([np.zeros(900, dtype=int), np.full(60, 3103), np.full(6, 4000)])
    label = np.where(gain == 3103, "yes", np.where(rng.random(len(gain)) < 0.2, "yes", "no"))
    label[gain == 4000] = "no"
    X = pd.DataFrame({"capital-gain": gain, "age": rng.integers(17, 91, len(gain))})
    return X, pd.Series(label, name="label")


def _fit(steps, exact=(), min_records=0, epsilon=1.0):
    X, y = _table()
    with bench_ablation.ablated(steps, exact, min_records):
        sampler = DPSyntheticSampler(method=Marginals(inference="closed_form"), epsilon=epsilon, bounds=BOUNDS,
                                     categories={"label": ["no", "yes"]}, random_state=0).fit(X, y)
    return sampler, X, y


def test_noise_is_removed_after_the_ledger_accounted_it():
    dp, X, y = _fit(())
    exact, _, _ = _fit(bench_ablation.ALL)
    method = exact.method_
    codes = method.discretizer_.encode(pd.concat([X, y], axis=1)[list(method.discretizer_.names)])
    t = method.anchor_
    for f in (j for j in range(len(method.discretizer_.names)) if j != t):
        true = counts(np.column_stack([codes[:, t], method.cell_of_[f][codes[:, f]]]), method.marginals_[(t, f)].shape)
        assert np.array_equal(method.marginals_[(t, f)], true)
        assert not np.array_equal(dp.method_.marginals_[(t, f)], true)
    # the full budget is still accounted in both
    assert exact.privacy_spent_.epsilon == pytest.approx(dp.privacy_spent_.epsilon)
    assert dp.privacy_spent_.epsilon == pytest.approx(1.0, rel=1e-3)


def test_exact_decoding_keeps_the_support_above_the_named_count():
    # the first of the 16 coarse cells of capital-gain (0..6249) holds every record; at eps=8 the
    # plan measures the fine grids of these 966 records (at eps=1 it leaves them out)
    everything, _, _ = _fit(bench_ablation.ALL, ("capital-gain",), 0, epsilon=8.0)
    assert everything.method_.plan_.fine and everything.method_.plan_.bins == 16
    gain = everything.sample(3000)["capital-gain"]
    assert set(gain[gain < 6250]) == {0, 3103, 4000}
    above, _, _ = _fit(bench_ablation.ALL, ("capital-gain",), 10, epsilon=8.0)
    gain = above.sample(3000)["capital-gain"]
    # 4000 (6 records) is below the count: its mass is spread over its coarse cell; 3103 (60) is kept
    first = gain[gain < 6250]
    assert (first == 3103).sum() > 100 and (first == 4000).sum() == 0
    assert len(set(first) - {0, 3103}) > 5
