"""The attainment moments shared by a history and its simulation (engine/sim/moments.py, issue 27)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.sim.moments import attainment_moments


def test_moments_by_hand():
    """One year, three reps, two periods. Team means 2 and 1; reps' relative attainments
    (1.5, 1), (0.5, 1), (1, 1): rep means 1.25, 0.75, 1; within-rep CV^2 by hand (sample variance),
    between the sample variance of the log means; mean the rep-years' mean attainments."""
    att = np.array([[[3.0, 1.0], [1.0, 1.0], [2.0, 1.0]]])
    m = attainment_moments(att, np.ones_like(att, dtype=bool))
    assert m.mean == pytest.approx((2.0 + 1.0 + 1.5) / 3)
    cv2 = [0.125 / 1.25**2, 0.125 / 0.75**2, 0.0]  # sample variances (0.25^2 * 2 / 1)
    assert m.within == pytest.approx(np.mean(cv2))
    logs = np.log([1.25, 0.75, 1.0])
    assert m.between == pytest.approx(np.var(logs, ddof=1))
    assert (m.rep_years, m.used) == (3, 3)


def test_cells_out_of_the_role_are_ignored_and_short_rep_years_left_out():
    """Values where ``active`` is False do not count; a rep-year with one period of two is in the
    mean but not in ``within`` or ``between``."""
    att = np.array([[[3.0, 1.0], [1.0, 1.0], [2.0, 1.0], [50.0, 7.0]]])
    active = np.ones_like(att, dtype=bool)
    active[0, 3, 1] = False
    base = attainment_moments(att[:, :3], np.ones((1, 3, 2), dtype=bool))
    m = attainment_moments(att, active)
    assert m.rep_years == 4 and m.used == 3
    assert m.mean == pytest.approx((3 * base.mean + 50.0) / 4)
    # The fourth rep's 50 is in period 0's team mean, so the others' relative values change.
    team0 = (3 + 1 + 2 + 50) / 4
    rel = np.array([[3 / team0, 1.0], [1 / team0, 1.0], [2 / team0, 1.0]])
    means = rel.mean(axis=1)
    assert m.within == pytest.approx(np.mean(rel.var(axis=1, ddof=1) / means**2))


def test_team_wide_factors_divide_out():
    """A factor shared by every rep in a period (season, market) changes neither ``within`` nor
    ``between``; a factor per rep (skill) raises ``between`` and leaves ``within`` about where it
    was (only through the team's mean of each period)."""
    rng = np.random.default_rng(1)
    att = rng.lognormal(0.0, 0.6, (3, 200, 12))
    on = rng.random(att.shape) < 0.95
    m = attainment_moments(att, on)
    season = rng.lognormal(0.0, 0.3, (3, 1, 12))
    s = attainment_moments(att * season, on)
    assert s.within == pytest.approx(m.within, rel=1e-12) and s.between == pytest.approx(m.between, rel=1e-12)
    skill = rng.lognormal(0.0, 0.25, (3, 200, 1))
    k = attainment_moments(att * skill, on)
    assert k.within == pytest.approx(m.within, rel=0.01)
    assert k.between > m.between + 0.03


def test_lognormal_noise_and_skill_read_back():
    """Attainment = skill x lognormal noise over 12 periods: ``within`` follows the noise's CV^2
    (a little below it: a rep's own mean is in the denominator), and ``between`` is about the skill
    variance plus what the noise leaves in a year's mean (its CV^2 / 12, on the log scale)."""
    rng = np.random.default_rng(7)
    skill = rng.lognormal(0.0, 0.3, (20, 500, 1))
    z = rng.standard_normal((20, 500, 12))
    on = np.ones(z.shape, dtype=bool)
    for sigma in (0.3, 0.6):
        m = attainment_moments(skill * np.exp(sigma * z - sigma**2 / 2), on)
        cv2 = math.expm1(sigma**2)
        assert 0.8 * cv2 < m.within <= cv2
        assert m.between == pytest.approx(0.09 + cv2 / 12, rel=0.1)


def test_nothing_qualifies():
    """No rep-year long enough: ``within`` and ``between`` are NaN, the mean is still there."""
    att = np.ones((1, 2, 4))
    active = np.zeros_like(att, dtype=bool)
    active[:, :, 0] = True
    m = attainment_moments(att, active)
    assert m.mean == 1.0 and math.isnan(m.within) and math.isnan(m.between) and m.used == 0
