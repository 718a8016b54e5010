"""The certainty equivalent reps rank pay with (docs/model.md §3): CARA expected utility over
the quadrature nodes, ``CE = -(s/rho) ln sum_j w_j exp(-rho V_j / s)``.

Sources: constant absolute risk aversion and its second-order risk premium ``rho/2 x var``
(Pratt 1964, "Risk aversion in the small and in the large", Econometrica 32); the
exponential-utility agent of sales-force agency models (Holmstrom & Milgrom 1987,
"Aggregation and linearity in the provision of intertemporal incentives", Econometrica 55).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sim.behaviour import certainty_equivalent, quadrature

NODES, WEIGHTS = quadrature(3)
FIVE = quadrature(5)[1]

pay = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
rhos = st.floats(min_value=0.0, max_value=50.0, allow_nan=False)
scales = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


def ce(values, rho, scale, weights=WEIGHTS) -> float:
    v = np.asarray(values, dtype=float).reshape(len(weights), 1)
    return float(certainty_equivalent(v, weights, np.array([rho]), np.array([scale]))[0])


@settings(max_examples=300, deadline=None)
@given(st.lists(pay, min_size=5, max_size=5), st.integers(0, 4), st.floats(0.0, 1e5), rhos, scales)
def test_raising_any_outcome_never_lowers_the_certainty_equivalent(values, j, raise_by, rho, scale):
    """Dominance: a pay distribution at least as high in every outcome is worth at least as
    much (expected utility is increasing in every outcome). The mean-variance formula it
    replaces fails this: raising the best outcome raises the variance more than the mean."""
    higher = list(values)
    higher[j] += raise_by
    lo, hi = ce(values, rho, scale, FIVE), ce(higher, rho, scale, FIVE)
    # To rounding of the largest amount involved.
    assert hi >= lo - 1e-13 * (max(map(abs, higher)) + scale)


def test_mean_variance_would_rank_a_dominating_distribution_lower():
    """The reason for the change: with rho = 1 per monthly TI, raising the best outcome from
    3 to 6 monthly TIs lowers ``mean - rho/2 var`` but raises the CARA certainty equivalent."""
    low, high = np.array([0.0, 1.0, 3.0]), np.array([0.0, 1.0, 6.0])

    def mean_var(v):
        m = WEIGHTS @ v
        return m - 0.5 * WEIGHTS @ (v - m) ** 2

    assert mean_var(high) < mean_var(low)
    assert ce(high, 1.0, 1.0) > ce(low, 1.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(pay, min_size=3, max_size=3), st.floats(0.0, 1e-13), scales)
def test_risk_neutral_rep_values_pay_at_its_mean(values, rho, scale):
    """rho -> 0 (and rho = 0 exactly): the certainty equivalent tends to the expected pay
    (less the vanishing premium rho/2 var/s), with no division by zero."""
    v = np.asarray(values)
    mean = float(WEIGHTS @ v)
    premium = 0.5 * rho * float(WEIGHTS @ (v - mean) ** 2) / scale
    assert ce(values, rho, scale) == pytest.approx(mean - premium, rel=1e-12, abs=1e-12 * np.abs(v).max())
    assert ce(values, 0.0, scale) == pytest.approx(mean, rel=1e-15, abs=1e-15 * np.abs(v).max())


@pytest.mark.parametrize("rho", [1e-11, 1e-8, 1e-5, 1e-3])
def test_small_risk_aversion_is_continuous_down_to_the_risk_neutral_limit(rho):
    """Just above the risk-neutral cut-off the CARA formula agrees with its limit
    ``mean - rho/2 var/s`` to rounding (no cancellation in ``log1p``/``expm1``)."""
    v = np.array([80.0, 100.0, 130.0])
    m = WEIGHTS @ v
    limit = m - 0.5 * rho * (WEIGHTS @ (v - m) ** 2) / 10.0
    assert ce(v, rho, 10.0) == pytest.approx(limit, rel=1e-13, abs=rho * rho * 1e3)


@pytest.mark.parametrize("spread", [1e-3, 1e-2, 0.05])
def test_small_risks_cost_the_mean_variance_premium(spread):
    """Second order (Pratt 1964): for small spreads the risk premium is ``rho/2 var/s``, so
    the same rho means the same calibration; the error shrinks with the cube of the spread."""
    s, rho = 1000.0, 0.8
    v = s * (1.0 + spread * NODES)
    m = WEIGHTS @ v
    premium = 0.5 * rho * (WEIGHTS @ (v - m) ** 2) / s
    got = m - ce(v, rho, s)
    assert got == pytest.approx(premium, rel=5 * rho * spread + 1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(pay, min_size=3, max_size=3), rhos, scales, st.sampled_from([1e-3, 0.5, 67.0, 1000.0, 2.0 ** 20]))
def test_certainty_equivalent_is_in_the_units_of_pay(values, rho, scale, k):
    """Scale invariance: measuring pay in another currency (all amounts and the monthly
    target incentive times k) multiplies the certainty equivalent by k."""
    base = ce(values, rho, scale)
    scaled = ce(np.asarray(values) * k, rho, scale * k)
    assert scaled == pytest.approx(k * base, rel=1e-9, abs=1e-9 * k * max(scale, abs(base)))


def test_extreme_risk_aversion_neither_overflows_nor_goes_below_the_worst_outcome():
    """Very risk-averse reps value pay near its worst outcome; ``exp`` never overflows
    (the largest exponent is subtracted first)."""
    v = np.array([0.0, 5e5, 1e6])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        got = ce(v, 50.0, 1.0)
    assert 0.0 <= got < 1e-6 * 1e6
    assert ce(v, 0.0, 1.0) == pytest.approx(WEIGHTS @ v)


def test_certainty_equivalent_is_elementwise_over_reps():
    """Each rep's value depends only on its own outcomes, rho and scale (vectorized, no
    per-rep loop): evaluating reps together or one by one gives the same bits."""
    rng = np.random.default_rng(3)
    v = rng.normal(1000.0, 300.0, size=(3, 4, 7))
    rho = rng.uniform(0.0, 2.0, size=(4, 7))
    rho[0, 0] = 0.0
    s = rng.uniform(50.0, 150.0, size=(4, 7))
    together = certainty_equivalent(v, WEIGHTS, rho, s)
    for i in range(4):
        for j in range(7):
            alone = certainty_equivalent(v[:, i:i + 1, j:j + 1], WEIGHTS, rho[i:i + 1, j:j + 1], s[i:i + 1, j:j + 1])
            assert alone[0, 0] == together[i, j]
