"""The privacy ledger: every epsilon spent in a fit, composed by dp-accounting.

One :class:`PrivacyLedger` belongs to one fit. Mechanisms record a
:class:`dp_accounting.DpEvent` *before* they release anything; the ledger composes
the privacy loss distributions (PLDs) of all events with Google's ``dp-accounting``
and refuses (:class:`PrivacyBudgetExceeded`) an event that would take the total
beyond the budget.

Neighbouring relation: datasets differ by **replacing one record** (a row changes
arbitrarily). Callers compute sensitivities for that relation and record events
normalised to sensitivity one:

- ``LaplaceDpEvent(b / Δ1)`` and ``GaussianDpEvent(σ / Δ2)``: the PLD of a unit-
  sensitivity query is the worst case over every pair of neighbours whose values
  differ by at most the sensitivity, whatever the relation;
- ``RandomizedResponseDpEvent(1 - p_keep, k)``: randomized response needs the
  replace-one PLD (any input value may change into any other);
- :class:`DiscreteGaussianDpEvent`: integer counts with discrete Gaussian noise, of
  which replacing one record moves at most ``n_coordinates`` coordinates, each by at
  most the integer ``sensitivity``. The PLD is dp-accounting's discrete Gaussian PLD
  (Canonne, Kamath & Steinke 2020), self-composed ``n_coordinates`` times: the noise is
  independent per coordinate, so the privacy loss is the sum of the coordinates'
  losses, and a coordinate that moves less than ``sensitivity`` (or not at all) is
  dominated (the discrete Gaussian family has a monotone likelihood ratio). This is
  exact for the noise actually sampled, not the continuous Gaussian it approximates.

dp-accounting's ``PLDAccountant`` fixes one relation for all events (and refuses
Laplace under replace-one), so the ledger composes dp-accounting's PLD objects
directly, each built for the semantics above.

Reported spend: with only pure-DP events (Laplace, randomized response) the
exact basic composition ``(Σ ε_i, 0)`` — tight for pure DP and always finite (a
PLD's ε at δ=0 is infinite for Laplace because of tail truncation); with only
Gaussian events the exact ε(δ) of their composition (one Gaussian); otherwise the
composed PLD's ε at the budget's δ. Reported as ``(ε(δ), δ)``.

PLDs are built with dp-accounting's pessimistic estimates (an upper bound on the true
privacy loss) and, where dp-accounting offers it, the connect-the-dots algorithm
(Doroshenko et al. 2022), whose ε(δ) is continuous in the noise: that is what lets
:meth:`PrivacyLedger.calibrate` find a noise that spends the budget to 1e-9.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field

import attr
from scipy.optimize import brentq
import dp_accounting
from dp_accounting.pld.common import DifferentialPrivacyParameters
from dp_accounting.pld import privacy_loss_distribution as pld_lib

from sk_safesynth.exceptions import PrivacyBudgetExceeded
from sk_safesynth.privacy.calibration import check_delta, check_epsilon, gaussian_epsilon, rr_epsilon

_DISCRETIZATION = 1e-4
# Budgets are compared with a relative slack of 1e-9 so that a mechanism calibrated
# exactly to the budget (up to floating-point rounding) is accepted.
_RELATIVE_SLACK = 1e-9


@dataclass(frozen=True)
class PrivacySpent:
    """Privacy actually spent: ``(epsilon, delta)``-DP and, when every event was
    Gaussian, ``mu``-Gaussian DP (Dong, Roth & Su 2019)."""

    epsilon: float
    delta: float
    mu: float | None = None

    def __iter__(self):
        return iter((self.epsilon, self.delta))

    def as_dict(self) -> dict:
        return {"epsilon": self.epsilon, "delta": self.delta, "mu": self.mu}


@dataclass
class LedgerEntry:
    label: str
    event: dp_accounting.DpEvent
    # An additive delta outside the PLD (e.g. the failure probability of a
    # thresholded release); composed by basic composition.
    extra_delta: float = 0.0


def laplace_event(scale: float, l1_sensitivity: float) -> dp_accounting.LaplaceDpEvent:
    """Event of a Laplace mechanism with scale ``b`` for a query of L1 sensitivity Δ1."""
    return dp_accounting.LaplaceDpEvent(noise_multiplier=scale / l1_sensitivity)


def gaussian_event(sigma: float, l2_sensitivity: float) -> dp_accounting.GaussianDpEvent:
    """Event of a Gaussian mechanism with std ``σ`` for a query of L2 sensitivity Δ2."""
    return dp_accounting.GaussianDpEvent(noise_multiplier=sigma / l2_sensitivity)


@attr.s(frozen=True, slots=True, auto_attribs=True)
class DiscreteGaussianDpEvent(dp_accounting.DpEvent):
    """Discrete Gaussian noise of parameter ``sigma`` on integer counts.

    Replacing one record moves at most ``n_coordinates`` of the counts, each by at most
    ``sensitivity`` (an integer). See the module docstring for the PLD.
    """

    sigma: float
    n_coordinates: int = 1
    sensitivity: int = 1


def discrete_gaussian_event(sigma: float, n_coordinates: int, sensitivity: int = 1) -> DiscreteGaussianDpEvent:
    """Event of discrete Gaussian noise ``sigma`` on integer counts of which one record moves
    at most ``n_coordinates``, each by at most the integer ``sensitivity``.

    A histogram under replace-one has ``n_coordinates=2`` (one count down, one up); ``M``
    marginal tables have ``2 M``.
    """
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be positive and finite, got {sigma}")
    if int(n_coordinates) != n_coordinates or n_coordinates < 1:
        raise ValueError(f"n_coordinates must be a positive integer, got {n_coordinates}")
    if int(sensitivity) != sensitivity or sensitivity < 1:
        raise ValueError(f"sensitivity must be a positive integer, got {sensitivity}")
    return DiscreteGaussianDpEvent(float(sigma), int(n_coordinates), int(sensitivity))


def randomized_response_event(keep_probability: float, n_categories: int) -> dp_accounting.RandomizedResponseDpEvent:
    """Event of k-ary randomized response keeping the true value with ``keep_probability``."""
    return dp_accounting.RandomizedResponseDpEvent(
        noise_parameter=1.0 - keep_probability, num_buckets=int(n_categories)
    )


@attr.s(frozen=True, slots=True, auto_attribs=True)
class SampledRowsDpEvent(dp_accounting.DpEvent):
    """Rows privatized one by one, of which a secret uniform subset is released.

    ``sampled`` is dp-accounting's ``SampledWithoutReplacementDpEvent(n, m, row_event)``:
    ``m`` of the ``n`` records drawn without replacement, each privatized by
    ``row_event`` (the events of one row, composed). ``row_delta`` is the delta at which
    ``row_event`` is evaluated. Under the replace-one relation a row mechanism that is
    ``(ε₀, δ₀)``-DP becomes ``(log(1 + q (e^ε₀ - 1)), q δ₀)``-DP with ``q = m / n``
    (Balle, Barthe & Gaboardi 2018, Theorem 10); the ledger composes that guarantee
    through dp-accounting's PLD of ``(ε, δ)`` parameters.
    """

    sampled: dp_accounting.SampledWithoutReplacementDpEvent
    row_delta: float = 0.0

    @property
    def sampling_rate(self) -> float:
        return self.sampled.sample_size / self.sampled.source_dataset_size

    def privacy(self) -> tuple[float, float]:
        """Amplified ``(ε, δ)`` of the release."""
        row = PrivacyLedger(1e12, self.row_delta)  # a budget no row event reaches: only read the total
        row.entries = [LedgerEntry("row", self.sampled.event)]
        epsilon_0 = row.spent.epsilon
        q = self.sampling_rate
        return math.log1p(q * math.expm1(epsilon_0)), q * self.row_delta


@attr.s(frozen=True, slots=True, auto_attribs=True)
class PrivacyParametersDpEvent(dp_accounting.DpEvent):
    """A mechanism known only by its ``(epsilon, delta)`` guarantee.

    Its PLD is dp-accounting's ``from_privacy_parameters``, the worst case over every
    ``(epsilon, delta)``-DP mechanism: it stands for a fit whose events are not known
    (a failed fit, a sampler without a ledger) when fits are composed.
    """

    epsilon: float
    delta: float = 0.0

    def privacy(self) -> tuple[float, float]:
        """The ``(epsilon, delta)`` guarantee."""
        return self.epsilon, self.delta


def _flatten(event: dp_accounting.DpEvent, count: int = 1):
    if isinstance(event, dp_accounting.ComposedDpEvent):
        for sub in event.events:
            yield from _flatten(sub, count)
    elif isinstance(event, dp_accounting.SelfComposedDpEvent):
        yield from _flatten(event.event, count * event.count)
    elif isinstance(event, dp_accounting.NoOpDpEvent):
        return
    elif isinstance(event, (dp_accounting.LaplaceDpEvent, dp_accounting.GaussianDpEvent,
                            dp_accounting.RandomizedResponseDpEvent, SampledRowsDpEvent, DiscreteGaussianDpEvent,
                            PrivacyParametersDpEvent)):
        yield event, count
    else:
        raise TypeError(f"the ledger does not account {type(event).__name__}")


def _round_up(x: float, bits: int = 40) -> float:
    """``x`` rounded up to ``bits`` bits of mantissa (relative step about 1e-12).

    The same Gaussian composition split into different events (a calibration's single
    event, then the mechanism's parts) sums to μ values that differ in the last bits;
    rounding up to a coarser grid makes them one value, and only ever claims more loss.
    """
    if x <= 0 or not math.isfinite(x):
        return x
    mantissa, exponent = math.frexp(x)
    return math.ldexp(math.ceil(mantissa * 2**bits) / 2**bits, exponent)


def _canonical(flat) -> list:
    """Equal events merged into one count, and discrete Gaussians of one noise into one
    event over all their coordinates: the same composition always builds the same PLDs,
    however the mechanisms were split into calls."""
    counts: dict = {}
    for event, count in flat:
        if isinstance(event, DiscreteGaussianDpEvent):
            event, count = attr.evolve(event, n_coordinates=1), count * event.n_coordinates
        counts[event] = counts.get(event, 0) + count
    out = []
    for event, count in counts.items():
        if isinstance(event, DiscreteGaussianDpEvent):
            out.append((attr.evolve(event, n_coordinates=count), 1))
        else:
            out.append((event, count))
    return out


def _pure_epsilon(event, count: int) -> float | None:
    """Exact ε of a pure-DP event, or None for an approximate-DP event."""
    if isinstance(event, dp_accounting.LaplaceDpEvent):
        return count / event.noise_multiplier
    if isinstance(event, dp_accounting.RandomizedResponseDpEvent):
        if event.num_buckets < 2:
            return 0.0
        return count * rr_epsilon(1.0 - event.noise_parameter, event.num_buckets)
    if isinstance(event, (SampledRowsDpEvent, PrivacyParametersDpEvent)):
        epsilon, delta = event.privacy()
        return count * epsilon if delta == 0 else None
    return None


@functools.lru_cache(maxsize=1024)
def _pld_epsilon(others: tuple, gaussian_mu: float, delta: float) -> float:
    """epsilon(delta) of the composed PLDs (memoised: fits and grid searches repeat them)."""
    plds = [event_pld(e, c) for e, c in others]
    if gaussian_mu > 0:
        plds.append(event_pld(dp_accounting.GaussianDpEvent(1.0 / gaussian_mu)))
    composed = plds[0]
    for other in plds[1:]:
        composed = composed.compose(other)
    return float(composed.get_epsilon_for_delta(delta))


@functools.lru_cache(maxsize=64)
def event_pld(event, count: int = 1) -> pld_lib.PrivacyLossDistribution:
    """dp-accounting PLD of one unit-sensitivity event (see module docstring)."""
    if isinstance(event, DiscreteGaussianDpEvent):
        return pld_lib.from_discrete_gaussian_mechanism(
            event.sigma, sensitivity=event.sensitivity, value_discretization_interval=_DISCRETIZATION,
            use_connect_dots=True,
        ).self_compose(event.n_coordinates * count)
    if isinstance(event, dp_accounting.GaussianDpEvent):
        return pld_lib.from_gaussian_mechanism(
            standard_deviation=event.noise_multiplier / math.sqrt(count),
            value_discretization_interval=_DISCRETIZATION,
        )
    if isinstance(event, dp_accounting.LaplaceDpEvent):
        return pld_lib.from_laplace_mechanism(
            parameter=event.noise_multiplier, value_discretization_interval=_DISCRETIZATION
        ).self_compose(count)
    if isinstance(event, dp_accounting.RandomizedResponseDpEvent):
        return pld_lib.from_randomized_response(
            noise_parameter=event.noise_parameter,
            num_buckets=event.num_buckets,
            value_discretization_interval=_DISCRETIZATION,
            neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE,
        ).self_compose(count)
    if isinstance(event, (SampledRowsDpEvent, PrivacyParametersDpEvent)):
        epsilon, delta = event.privacy()
        return pld_lib.from_privacy_parameters(
            DifferentialPrivacyParameters(epsilon, delta), value_discretization_interval=_DISCRETIZATION
        ).self_compose(count)
    raise TypeError(f"the ledger does not account {type(event).__name__}")


def compose_entries(entries, delta: float) -> PrivacySpent:
    """Compose ledger entries (of one fit or of many) at ``delta``.

    The same composition as :attr:`PrivacyLedger.spent`: pure-DP events alone add up
    exactly, Gaussian events merge into one Gaussian, the rest compose through their
    PLDs evaluated at ``delta`` less the entries' additive deltas.

    Parameters
    ----------
    entries : iterable of LedgerEntry
        The events, with their additive deltas.
    delta : float
        The total delta of the composition.

    Returns
    -------
    PrivacySpent
        ``(epsilon, delta)`` of the composition (``mu`` when every event is Gaussian).

    Raises
    ------
    PrivacyBudgetExceeded
        If approximate-DP events leave no delta after the additive ones.
    """
    entries = list(entries)
    extra = sum(e.extra_delta for e in entries)
    flat = _canonical(item for e in entries for item in _flatten(e.event))
    if not flat:
        return PrivacySpent(0.0, extra, 0.0 if not extra else None)
    pure = [_pure_epsilon(e, c) for e, c in flat]
    if all(p is not None for p in pure):
        return PrivacySpent(float(sum(p for p in pure if p is not None)), extra, None)
    pld_delta = delta - extra
    if pld_delta <= 0:
        raise PrivacyBudgetExceeded(
            f"a Gaussian mechanism needs delta > 0, but only {pld_delta:.3g} of the delta budget "
            f"{delta:.3g} is left"
        )
    # Gaussian mechanisms compose exactly into one Gaussian with mu^2 = sum(mu_i^2)
    # (Dong, Roth & Su 2019). Alone, its epsilon(delta) is the analytic Gaussian
    # curve (Balle & Wang 2018), exact; with other events, their PLDs are composed.
    gaussian_mu = _round_up(math.sqrt(sum(c / e.noise_multiplier**2 for e, c in flat
                                          if isinstance(e, dp_accounting.GaussianDpEvent))))
    others = tuple((e, c) for e, c in flat if not isinstance(e, dp_accounting.GaussianDpEvent))
    if not others:
        mu = gaussian_mu if not extra else None
        return PrivacySpent(gaussian_epsilon(gaussian_mu, pld_delta), delta, mu)
    return PrivacySpent(_pld_epsilon(others, gaussian_mu, pld_delta), delta, None)


@dataclass
class PrivacyLedger:
    """Budget and record of the privacy spent by one fit.

    Parameters
    ----------
    epsilon : float
        Total epsilon budget (> 0).
    delta : float, default=0.0
        Total delta budget in [0, 1). Gaussian events need ``delta > 0``.

    Examples
    --------
    >>> from sk_safesynth.privacy import PrivacyLedger, laplace_event
    >>> ledger = PrivacyLedger(epsilon=1.0)
    >>> ledger.spend(laplace_event(scale=2.0, l1_sensitivity=1.0), "counts").epsilon
    0.5
    """

    epsilon: float
    delta: float = 0.0
    entries: list[LedgerEntry] = field(default_factory=list)

    def __post_init__(self):
        self.epsilon = check_epsilon(self.epsilon)
        self.delta = check_delta(self.delta, allow_zero=True)
        self._lock = threading.Lock()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ spending
    def spend(self, event: dp_accounting.DpEvent, label: str = "", *, extra_delta: float = 0.0) -> PrivacySpent:
        """Record ``event`` if the budget allows it; return the new total.

        Raises
        ------
        PrivacyBudgetExceeded
            If the composition with ``event`` would exceed ``(epsilon, delta)``.
            Nothing is recorded then.
        """
        with self._lock:
            candidate = self.entries + [LedgerEntry(label, event, extra_delta)]
            spent = self._compose(candidate)
            if spent.epsilon > self.epsilon * (1 + _RELATIVE_SLACK) or spent.delta > self.delta * (1 + _RELATIVE_SLACK):
                raise PrivacyBudgetExceeded(
                    f"spending {label or type(event).__name__} would use (epsilon={spent.epsilon:.6g}, "
                    f"delta={spent.delta:.3g}), beyond the budget (epsilon={self.epsilon:.6g}, "
                    f"delta={self.delta:.3g})"
                )
            self.entries = candidate
            return spent

    def spend_delta(self, delta: float, label: str = "") -> PrivacySpent:
        """Reserve an additive ``delta`` (a failure probability outside any PLD event).

        The PLD events are then evaluated at the remaining delta (basic composition).
        """
        return self.spend(dp_accounting.NoOpDpEvent(), label, extra_delta=delta)

    def can_spend(self, event: dp_accounting.DpEvent) -> bool:
        """Whether ``event`` fits in the remaining budget (records nothing)."""
        spent = self._compose(self.entries + [LedgerEntry("", event)])
        return spent.epsilon <= self.epsilon * (1 + _RELATIVE_SLACK) and spent.delta <= self.delta * (1 + _RELATIVE_SLACK)

    def calibrate(self, make_event, *, start: float = 1.0) -> float:
        """Smallest noise parameter ``t`` such that ``make_event(t)`` fits in what is left.

        ``make_event`` maps a noise parameter (larger is more private) to an event. The
        boundary is bracketed by doubling, then found by Brent's method on ``log t``
        and stepped to the safe side, so the returned ``t`` spends the rest of the
        budget (to about 1e-9 in ε) and never more. Nothing is recorded: spend
        ``make_event(t)`` (or its parts) afterwards.

        Raises
        ------
        PrivacyBudgetExceeded
            If no noise fits (the delta budget is already used up).
        """

        def excess(log_t: float) -> float:
            try:
                spent = self._compose(self.entries + [LedgerEntry("", make_event(math.exp(log_t)))])
            except PrivacyBudgetExceeded:
                return math.inf
            if spent.delta > self.delta * (1 + _RELATIVE_SLACK):
                return math.inf
            return spent.epsilon - self.epsilon

        high = low = math.log(start)
        for _ in range(200):
            if excess(high) <= 0:
                break
            low, high = high, high + math.log(2.0)
        else:
            raise PrivacyBudgetExceeded("no noise level fits in the remaining budget")
        if low == high:
            for _ in range(200):
                low = high - math.log(2.0)
                if excess(low) > 0:
                    break
                high = low
        if math.isinf(excess(low)):  # Brent needs finite values: tighten the bracket first
            for _ in range(60):
                middle = (low + high) / 2
                if excess(middle) <= 0:
                    high = middle
                elif math.isinf(excess(middle)):
                    low = middle
                else:
                    low = middle
                    break
        log_t = brentq(excess, low, high, xtol=1e-13, rtol=1e-13)
        while excess(log_t) > 0:  # Brent returns a point within tolerance of the root
            log_t += 1e-12 * max(1.0, abs(log_t))
        return math.exp(log_t)

    @property
    def spent(self) -> PrivacySpent:
        """Total ``(epsilon, delta)`` spent so far (and ``mu`` if all events are Gaussian)."""
        return self._compose(self.entries)

    def _compose(self, entries) -> PrivacySpent:
        return compose_entries(entries, self.delta)

    def summary(self) -> list[dict]:
        """One dict per recorded event: label and event parameters."""
        return [{"label": e.label, "event": repr(e.event), "extra_delta": e.extra_delta} for e in self.entries]
