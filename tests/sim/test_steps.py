"""The simulator's month as named steps: conditioning is a strategy passed in, behaviour
formulas live in engine/sim/behaviour.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.plan import load_plan
from engine.sim import behaviour
from engine.sim.conditioning import NoConditioning
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "kpi_scorecard.yaml"


def test_without_conditioning_the_default_strategy_is_used():
    """A Simulation built without a conditioner runs the no-conditioning strategy, and
    passing that strategy explicitly gives the same results."""
    checked, sc = load_plan(PLAN), default_scenario()
    sim = Simulation(checked, sc, 2)
    assert isinstance(sim.condition, NoConditioning)
    runs = np.arange(2)
    a = sim.run_chunk(runs)
    b = Simulation(checked, sc, 2, condition=NoConditioning()).run_chunk(runs)
    np.testing.assert_array_equal(a.payout, b.payout)


class Watching(NoConditioning):
    """A conditioner that only records when it is asked (a stand-in for a new kind)."""

    def __init__(self):
        self.calls: list[tuple[str, int]] = []

    def seat(self, sim, state, t):
        self.calls.append(("seat", t))

    def observe(self, sim, state, t, expected, effort):
        self.calls.append(("observe", t))
        state.record.setdefault("primary", []).append(expected[sim.scenario.primary_measure].sum())

    def finish(self, sim, state, result):
        result.primary_expected = np.array(state.record["primary"])


def test_a_new_conditioner_plugs_in_without_changing_the_simulator():
    """A conditioner is called at its points once a month and can add to the result; one
    that conditions on nothing leaves the simulation unchanged."""
    checked, sc = load_plan(PLAN), default_scenario()
    watch = Watching()
    sim = Simulation(checked, sc, 2, condition=watch)
    res = sim.run_chunk(np.arange(2), until=5)
    assert watch.calls == [(step, t) for t in range(5) for step in ("seat", "observe")]
    assert res.primary_expected.shape == (5,) and (res.primary_expected > 0).all()
    plain = Simulation(checked, sc, 2).run_chunk(np.arange(2), until=5)
    np.testing.assert_array_equal(res.payout, plain.payout)


def test_effort_utility_is_pay_less_risk_premium_less_cost_of_effort():
    """At baseline effort there is no cost; risk lowers the value of pay to its CARA certainty
    equivalent (about rho*var/2 in monthly target incentives for small risks); effort above
    baseline costs kappa*ti_m*months*share*(e-1)^2/2."""
    shares = np.array([1.0])
    one = np.ones((1, 1, 1))
    ti = np.array([[1200.0]])
    w = np.array([0.5, 0.5])
    sure = np.full((2, 1, 1), 500.0)
    assert behaviour.effort_utility(sure, w, 0.0, 1.0, ti, 3, shares, one)[0, 0] == 500.0
    risky = np.array([[[490.0]], [[510.0]]])  # mean 500, variance 100, s = 100
    exact = -100.0 / 0.2 * np.log(0.5 * np.exp(-0.2 * 4.9) + 0.5 * np.exp(-0.2 * 5.1))
    u = behaviour.effort_utility(risky, w, 0.2, 0.0, ti, 3, shares, one)[0, 0]
    assert u == pytest.approx(exact, rel=1e-14)
    assert u == pytest.approx(500.0 - 0.5 * 0.2 * 100.0 / 100.0, abs=1e-3)
    two = np.full((1, 1, 1), 2.0)
    assert behaviour.effort_utility(sure, w, 0.0, 2.0, ti, 3, shares, two)[0, 0] == 500.0 - 2.0 * 100.0 * 3 * 0.5


def test_morale_multiplier_and_outside_gap():
    """Effort is scaled from effort_floor (morale 0) to 1 (morale 1); an outside offer counts
    only where it exceeds expected pay, which moves from on-target to paid-so-far over the year."""
    mp = {"effort_floor": 0.6}
    np.testing.assert_allclose(behaviour.effort_multiplier(np.array([0.0, 0.5, 1.0]), mp), [0.6, 0.8, 1.0])
    base, ti, ote = np.array([80.0]), np.array([20.0]), np.array([100.0])
    # Nothing paid yet: expected pay is OTE, an offer of 1.1 x OTE is a gap of 0.1.
    np.testing.assert_allclose(behaviour.outside_gap(1.1, base, ti, ote, np.zeros(1), np.zeros(1), 0.0), [0.1])
    # Half the year seen, paid nothing against target: expected pay 90.
    np.testing.assert_allclose(behaviour.outside_gap(1.0, base, ti, ote, np.zeros(1), np.array([10.0]), 0.5),
                               [0.1])
    assert behaviour.outside_gap(0.5, base, ti, ote, np.zeros(1), np.zeros(1), 0.0)[0] == 0.0
