"""Behaviour drawn per run and weighted by the team's data (engine/sim/uncertain.py, issue 27)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.sim.streams import STREAMS, RunStreams
from engine.sim.uncertain import (
    BehaviourPrior,
    fit_effort,
    importance_weights,
    morale_params,
    settled,
    weighted_quantile,
)


def test_behaviour_has_its_own_stream():
    """The behaviour draws come from a new stream id, so no other seeded result changes."""
    ids = list(STREAMS.values())
    assert STREAMS["behaviour"] not in ids[: list(STREAMS).index("behaviour")]
    assert len(set(ids)) == len(ids)


def test_draws_are_per_run_whatever_the_chunks():
    """Run i's behaviour depends on the seed and i only: chunks of runs give the same draws."""
    prior = BehaviourPrior()
    whole = prior.draw(RunStreams(7, range(10)))
    parts = np.concatenate([prior.draw(RunStreams(7, range(3))), prior.draw(RunStreams(7, range(3, 10)))])
    assert np.array_equal(whole, parts)
    assert not np.array_equal(whole, prior.draw(RunStreams(8, range(10))))


def test_draws_cover_the_documented_ranges():
    """drain ~ U(0, 2), the cost-of-effort multiplier ~ log-U(0.5, 2), reset ~ U(0, 1):
    ranges, means, independence."""
    theta = BehaviourPrior().draw(RunStreams(1, range(4000)))
    assert theta[:, 0].min() >= 0 and theta[:, 0].max() <= 2
    assert theta[:, 1].min() >= 0.5 and theta[:, 1].max() <= 2
    assert theta[:, 2].min() >= 0 and theta[:, 2].max() <= 1
    assert theta[:, 0].mean() == pytest.approx(1.0, abs=0.05)
    assert np.log(theta[:, 1]).mean() == pytest.approx(0.0, abs=0.05)
    assert theta[:, 2].mean() == pytest.approx(0.5, abs=0.03)
    assert np.abs(np.corrcoef(theta.T)[np.triu_indices(3, 1)]).max() < 0.05
    assert BehaviourPrior().mean() == pytest.approx([1.0, 1.5 / np.log(4), 0.5])
    with pytest.raises(ValueError, match="'drain' must be a range"):
        BehaviourPrior(drain=(1.0, 0.5))


def test_morale_params_scale_only_the_drains():
    """The drains become (runs, 1) arrays times each run's draw; recovery and the floor stay."""
    base = {"pay_gap": 0.1, "outside_gap": 0.15, "hopeless": 0.05, "unfair": 0.05, "wins": 0.05,
            "recovery": 0.1, "effort_floor": 0.6}
    mp = morale_params(base, np.array([[0.0, 1.0, 0.5], [2.0, 1.0, 0.5]]))
    assert mp["outside_gap"].shape == (2, 1) and mp["outside_gap"][:, 0].tolist() == [0.0, 0.3]
    assert mp["recovery"] == 0.1 and mp["wins"] == 0.05 and mp["effort_floor"] == 0.6


def test_settled_share_grows_with_tenure():
    """A new hire starts at their baseline; a rep long in post has reached the stationary gap."""
    s = settled(np.array([0.0, 1.0, 12.0, 120.0, np.nan]), 0.1)
    assert s[0] == 0.0 and s[1] == pytest.approx(0.1) and s[2] == pytest.approx(1 - 0.9 ** 12)
    assert s[3] > 0.9999 and s[4] == 0.0


def test_fit_effort_recovers_a_known_relation():
    """Least squares per month recovers ln F = a_t + b_t drain + c_t ln cost + d_t reset +
    e_t drain x reset from noiseless runs."""
    theta = BehaviourPrior().draw(RunStreams(3, range(40)))
    coef = np.array([[0.10, -0.02, -0.05, 0.01, 0.02], [0.08, -0.04, -0.05, 0.0, -0.01],
                     [0.05, -0.06, -0.04, -0.02, -0.03]])
    x = np.stack([np.ones(40), theta[:, 0], np.log(theta[:, 1]), theta[:, 2], theta[:, 0] * theta[:, 2]], axis=1)
    model = fit_effort(theta, np.exp(x @ coef.T), np.ones(3))
    assert model.coef == pytest.approx(coef, abs=1e-9)
    assert model.factor(theta) == pytest.approx(np.exp(x @ coef.T))
    # The skill shift is higher where the run puts more effort behind the closed months.
    shift = model.skill_shift(theta)
    assert np.corrcoef(shift, (x @ coef.T).mean(axis=1))[0, 1] > 0.99


def test_importance_weights_favour_the_behaviour_that_predicts_the_data():
    """The run whose prediction matches the observation gets the largest weight; runs that
    predict alike share the weight equally (effective sample size = runs)."""
    cov = np.array([[0.01, 0.005], [0.005, 0.01]])
    pred = np.array([[0.0, 0.0], [0.1, -0.1], [0.0, -0.2]])
    w, ess, _ = importance_weights(pred, np.array([0.1, -0.1]), cov)
    assert np.argmax(w) == 1 and w.sum() == pytest.approx(1.0) and 1.0 < ess < 3.0
    w, ess, _ = importance_weights(np.zeros((4, 2)), np.array([0.1, -0.1]), cov)
    assert w == pytest.approx(np.full(4, 0.25)) and ess == pytest.approx(4.0)


def test_weighted_quantile():
    """Equal weights give the Hazen quantile; weight on one value moves the median to it."""
    x = np.arange(1.0, 11.0)
    assert weighted_quantile(x, np.ones(10), 0.5) == pytest.approx(5.5)
    assert weighted_quantile(x, None, [0.5, 0.9]) == pytest.approx(np.quantile(x, [0.5, 0.9]))
    w = np.ones(10)
    w[8] = 100.0
    assert 8.5 < weighted_quantile(x, w, 0.5) < 9.5
    two = np.stack([x, 2 * x], axis=1)
    assert weighted_quantile(two, np.ones(10), 0.5, axis=0) == pytest.approx([5.5, 11.0])
