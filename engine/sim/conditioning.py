"""What a simulation is conditioned on: nothing (a plan study) or a real team's year so far.

The simulator (engine/sim/simulate.py) runs the same monthly steps in both cases and asks
its conditioner, at fixed points of the month, to adjust the state: which roster it seats,
the horizon, the starting traits, who is in the role each month, which roster columns come
from the file, the real actuals of the closed months, and what to record for the caller.
:class:`NoConditioning` does nothing at every point; :class:`Conditioning` (forecasts)
seats the real roster and replays its actuals so far. A new kind of conditioning is a new
class with the methods of :class:`Conditioner`, not a branch in the simulator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.sim.population import Roster, build_roster
from engine.sim.scenario import Scenario
from engine.sim.uncertain import BehaviourPrior, EffortModel, morale_params, settled

if TYPE_CHECKING:  # pragma: no cover - types only
    from engine.sim.simulate import ChunkResult, MonthState, Simulation

__all__ = ["Conditioner", "Conditioning", "NoConditioning"]


class Conditioner(Protocol):
    """The points where a simulation can be conditioned on real data."""

    @property
    def closed_months(self) -> int:
        """Months (from the start) whose actuals are real: nobody decides or quits in them
        (0 without conditioning). Read-only: a frozen dataclass field or a class attribute."""
        ...

    @property
    def redraw(self) -> frozenset[str]:
        """Random purposes (rows of ``STREAMS``) that run ``r`` draws from run
        ``r + REDRAW_OFFSET`` instead (engine/sim/streams.py): a forecast's variance
        decomposition. Empty without conditioning."""
        ...

    def seats(self, scenario: Scenario) -> Roster:
        """The roster whose seats the simulation fills."""
        ...

    def horizon(self, start: dt.date, months: int) -> tuple[dt.date, int]:
        """The simulated months: ``(first day, number of months)``, given the plan's default."""
        ...

    def begin(self, sim: Simulation, state: MonthState) -> None:
        """Adjust the chunk's starting state (traits, who is seated, what to record)."""
        ...

    def seat(self, sim: Simulation, state: MonthState, t: int) -> None:
        """Month ``t`` after the backfills: who is in the role and for how many days."""
        ...

    def roster_columns(self, sim: Simulation, state: MonthState) -> None:
        """Month ``t``: roster columns the plan sees that come from real data."""
        ...

    def realized(self, sim: Simulation, state: MonthState, t: int, real: dict[str, np.ndarray]) -> None:
        """Month ``t``'s realized outputs (``real``, edited in place) before they are recorded."""
        ...

    def observe(self, sim: Simulation, state: MonthState, t: int, expected: dict[str, np.ndarray],
                effort: np.ndarray) -> None:
        """Month ``t``'s expected outputs at the effective ``effort``, for what the caller records."""
        ...

    def finish(self, sim: Simulation, state: MonthState, result: ChunkResult) -> None:
        """Add what the caller records to the chunk's result."""
        ...


class NoConditioning:
    """No conditioning: the scenario's team, from the start of the plan year."""

    closed_months = 0
    redraw: frozenset[str] = frozenset()

    def seats(self, scenario: Scenario) -> Roster:
        return build_roster(scenario)

    def horizon(self, start: dt.date, months: int) -> tuple[dt.date, int]:
        return start, months

    def begin(self, sim: Simulation, state: MonthState) -> None:
        return None

    def seat(self, sim: Simulation, state: MonthState, t: int) -> None:
        return None

    def roster_columns(self, sim: Simulation, state: MonthState) -> None:
        return None

    def realized(self, sim: Simulation, state: MonthState, t: int, real: dict[str, np.ndarray]) -> None:
        return None

    def observe(self, sim: Simulation, state: MonthState, t: int, expected: dict[str, np.ndarray],
                effort: np.ndarray) -> None:
        return None

    def finish(self, sim: Simulation, state: MonthState, result: ChunkResult) -> None:
        return None


@dataclass(frozen=True)
class Conditioning:
    """A simulation that starts from a real team and its actuals so far (forecasts).

    The seats are the real roster's reps. Months before ``closed_months`` take the real
    actuals (no decisions, no quits; morale evolves on the real pay); from then on the
    year is simulated as usual. Skill of the roster's reps is drawn from its posterior
    given the actuals so far: ``log skill = skill_mean + skill_sd * z``, with ``z`` the
    standardized prior draw (``(log prior skill - prior_mean) / prior_sd``), so that runs
    keep their random streams and ``closed_months = 0`` with the prior's moments reproduces
    the prior.

    Attributes:
        roster: the real roster (seats).
        start: first day of the plan year.
        closed_months: months (from the start) whose actuals are real.
        actuals: actuals column -> ``(seats, closed_months)`` real monthly values.
        active_days: ``(seats, 12)`` active days of each roster rep per month (roster dates).
        skill_mean, skill_sd: ``(seats,)`` posterior mean and sd of log skill.
        prior_mean, prior_sd: the prior's mean and sd of log skill.
        tenure: ``(seats,)`` months in role at the start of the year, NaN where unknown
            (then drawn from the scenario).
        hired: ``(seats,)`` reps hired during the plan year (status ``new_hire``).
        fixed: roster columns taken from the file for the roster's reps rather than set by the
            simulation (``status``, ``tenure_months`` when the roster has them), seat-indexed.
        market_seen: ``(teams, closed_months)`` the market's log factor in the closed months
            as read off the actuals (what the reps saw), or None (no market).
        market_mean, market_cov: posterior of ``(L, m[closed_months - 1])`` per team
            (``(teams, 2)``, ``(teams, 2, 2)``): run ``i`` draws its state from it with its own
            market stream and continues the monthly component from there.
        redraw: random purposes drawn from another run's streams (see
            :attr:`Conditioner.redraw`): the forecast's variance decomposition.
        behaviour: the prior of the behaviour the model assumes (engine/sim/uncertain.py):
            each run draws its morale drains and cost of effort from its own ``behaviour``
            stream, and the roster's reps start the year settled below their baseline
            morale by ``(1 - reset) x drain x settle_gap x settled(tenure)``; None: the scenario's
            behaviour, every rep at their baseline (as a plan study).
        settle_gap: the stationary morale gap of the scenario's drains (a team in post).
        effort_model: the effort behind the closed months as a function of the run's
            behaviour: each run's roster skills are lowered by its
            :meth:`~engine.sim.uncertain.EffortModel.skill_shift`; None: no shift.
        refill: ``(seats,)`` the month a roster leaver's seat is refilled by a backfill (a new
            slot at tenure 0, from the seat's roster values), -1 where it is not; None: none.
        carry_in: ``(seats,)`` primary business each roster rep moved across the as-of period
            end into the first open month (pushed out, net of what was pulled in), at the
            model's rate; run ``i`` carries ``u_i x carry_in`` with ``u_i`` uniform on
            ``carry_range`` from its ``behaviour`` stream (after the behaviour's draws), so
            that what a real team moved, which its actuals do not show, is uncertain in the
            forecast. None: nothing is carried (the closed months' actuals end the business).
        carry_range: the range of the multiplier ``u`` of ``carry_in``.
        carry_normal: ``(centre, sd)``: ``u`` is that normal truncated to ``carry_range``
            (what the team's month profile says, engine/jobs/forecast_carry.py ``CarryRead``),
            drawn by inverting its CDF at the run's uniform; None: uniform on the range.
    """

    roster: Roster
    start: dt.date
    closed_months: int
    actuals: dict
    active_days: np.ndarray
    skill_mean: np.ndarray
    skill_sd: np.ndarray
    prior_mean: float
    prior_sd: float
    tenure: np.ndarray
    hired: np.ndarray
    fixed_columns: dict
    market_seen: np.ndarray | None = None
    market_mean: np.ndarray | None = None
    market_cov: np.ndarray | None = None
    redraw: frozenset[str] = frozenset()
    behaviour: BehaviourPrior | None = None
    settle_gap: float = 0.0
    effort_model: EffortModel | None = None
    refill: np.ndarray | None = None
    carry_in: np.ndarray | None = None
    carry_range: tuple[float, float] = (1.0, 1.0)
    carry_normal: tuple[float, float] | None = None

    def seats(self, scenario: Scenario) -> Roster:
        return self.roster

    def horizon(self, start: dt.date, months: int) -> tuple[dt.date, int]:
        return self.start, 12  # a forecast covers the real plan year

    def begin(self, sim: Simulation, state: MonthState) -> None:
        seats = sim.seats
        # The roster's reps: skill from its posterior given the actuals so far (the prior
        # draw standardized and rescaled), tenure where the roster says it.
        z = (np.log(state.skill[:, :seats]) - self.prior_mean) / max(self.prior_sd, 1e-12)
        state.skill[:, :seats] = np.exp(self.skill_mean + self.skill_sd * z)
        if state.market is not None and self.market_seen is not None:
            self._market(sim, state)
        state.tenure[:, :seats] = np.where(np.isnan(self.tenure), state.tenure[:, :seats], self.tenure)
        if self.behaviour is not None:
            self._behaviour(sim, state)
        if self.carry_in is not None and 0 < self.closed_months < sim.months:
            lo, hi = self.carry_range
            u = state.streams.random("behaviour", (1,))[:, 0] if state.streams.runs else np.zeros(0)
            if self.carry_normal is None or hi <= lo:
                state.record["carry_multiplier"] = lo + (hi - lo) * u
            else:
                from scipy import stats

                c, sd = self.carry_normal
                a, b = (lo - c) / sd, (hi - c) / sd
                state.record["carry_multiplier"] = np.clip(stats.truncnorm.ppf(u, a, b, loc=c, scale=sd), lo, hi)
        state.present[:, :seats] = False  # the roster's dates say who is in the role each month
        state.ever[:, :seats] = False
        state.hired[:, :seats] = self.hired
        if self.refill is not None:  # roster leavers' seats still open: backfilled after the vacancy
            state.refill[:, :seats] = self.refill[None, :]
        c, n = state.present.shape
        state.days_m = np.zeros((c, n, sim.months))
        state.record["primary_expected"] = np.zeros((c, sim.months))
        state.record["primary_baseline"] = np.zeros((c, sim.months))
        for o in sim.scenario.outputs:
            if o.kind in ("count", "incidents"):
                state.record["expected:" + o.name] = np.zeros((c, sim.months))

    def _behaviour(self, sim: Simulation, state: MonthState) -> None:
        """Each run's behaviour from the prior: morale drains, cost of effort, the team's
        settled morale and the skill the actuals imply under that behaviour."""
        assert self.behaviour is not None
        seats = sim.seats
        theta = self.behaviour.draw(state.streams)  # (runs, 3)
        base = sim.morale_params
        state.morale_params = morale_params(base, theta)
        state.kappa = state.kappa * theta[:, 1:2]
        gap = (1.0 - theta[:, 2:3]) * theta[:, :1] * self.settle_gap * settled(state.tenure[:, :seats],
                                                                               base["recovery"])
        state.morale[:, :seats] = np.clip(state.morale0[:, :seats] - gap, 0.0, 1.0)
        if self.effort_model is not None:
            state.skill[:, :seats] = state.skill[:, :seats] * np.exp(-self.effort_model.skill_shift(theta))[:, None]

    def _market(self, sim: Simulation, state: MonthState) -> None:
        """The runs' market: the closed months as seen; the rest from the posterior state."""
        market = state.market
        assert market is not None and market.z is not None and self.market_mean is not None
        assert self.market_cov is not None and self.market_seen is not None
        M, closed = sim.months, self.closed_months
        years = (M + 11) // 12
        teams = market.x.shape[1]
        # Each team's own normals where teams have their own market, else the company's for all.
        z = market.z[:, 1:1 + teams] if market.model.team_share > 0 else \
            np.repeat(market.z[:, :1], teams, axis=1)
        chol = np.linalg.cholesky(self.market_cov + 1e-15 * np.eye(2))  # (teams, 2, 2)
        draw = np.stack([z[..., 0], z[..., years]], axis=-1)  # (runs, teams, 2)
        innovations = z[..., years + 1: years + 1 + M - closed]
        start = self.market_mean[None] + np.einsum("rtj,tkj->rtk", draw, chol)
        market.x = market.x.copy()
        market.x[:, :, :closed] = self.market_seen[None]
        if closed < M:
            market.x[:, :, closed:] = market.model.continue_from(start, innovations, M - closed)

    def seat(self, sim: Simulation, state: MonthState, t: int) -> None:
        # Roster reps are in the role where their dates say so, unless they quit.
        seats = sim.seats
        in_role = (self.active_days[:, t] > 0)[None, :] & ~state.left[:, :seats]
        joined = in_role & ~state.ever[:, :seats]
        if t > 0 and joined.any():
            state.morale[:, :seats] = np.where(joined, state.morale0[:, :seats], state.morale[:, :seats])
        state.present[:, :seats] = in_role
        state.ever[:, :seats] |= in_role
        assert state.days_m is not None
        state.days_m[:, :, t] = np.where(state.present, sim.days[t], 0.0)
        state.days_m[:, :seats, t] = np.where(state.present[:, :seats], self.active_days[:, t], 0.0)

    def roster_columns(self, sim: Simulation, state: MonthState) -> None:
        real_slot = np.broadcast_to(np.arange(sim.slots) < sim.seats, state.seat.shape)
        for name, col in self.fixed_columns.items():  # the file's values for the roster's reps
            state.roster_cols[name] = np.where(real_slot, np.asarray(col)[np.maximum(state.seat, 0)],
                                               state.roster_cols[name])

    def realized(self, sim: Simulation, state: MonthState, t: int, real: dict[str, np.ndarray]) -> None:
        if t >= self.closed_months:
            return
        # Closed month: the roster's reps have their real actuals (columns the actuals do not
        # have keep the model's values at baseline effort); nothing is carried over.
        for col in self.actuals:
            if col in real:
                vals = np.array(real[col], dtype=float, copy=True)
                vals[:, : sim.seats] = self.actuals[col][None, :, t]
                real[col] = vals
        state.carry = np.zeros(state.present.shape)
        u = state.record.get("carry_multiplier")
        if t == self.closed_months - 1 and u is not None and self.carry_in is not None:
            # The as-of month: what the team moved into the first open month (uncertain).
            state.carry[:, : sim.seats] = u[:, None] * self.carry_in[None, :]

    def observe(self, sim: Simulation, state: MonthState, t: int, expected: dict[str, np.ndarray],
                effort: np.ndarray) -> None:
        # Expected primary output at the chosen effort and at effective effort 1 (the effort
        # factor behind the skill posterior).
        primary = sim.scenario.primary_measure
        elasticity = sim.scenario.output(primary).get("elasticity", 1.0)
        unit = expected[primary] / np.power(np.maximum(effort[sim.prod.primary_activity], 1e-12), elasticity)
        state.record["primary_expected"][:, t] = np.where(state.present, expected[primary], 0.0).sum(axis=1)
        state.record["primary_baseline"][:, t] = np.where(state.present, unit, 0.0).sum(axis=1)
        seats = sim.seats
        for key, rec in state.record.items():  # counts expected of the roster's reps
            if key.startswith("expected:"):
                col = key.split(":", 1)[1]
                rec[:, t] = np.where(state.present[:, :seats], expected[col][:, :seats], 0.0).sum(axis=1)

    def finish(self, sim: Simulation, state: MonthState, result: ChunkResult) -> None:
        result.quit_seat = state.left[:, : sim.seats].copy()
        result.primary_expected = state.record["primary_expected"]
        result.primary_baseline = state.record["primary_baseline"]
        result.expected_counts = {k.split(":", 1)[1]: v for k, v in state.record.items() if k.startswith("expected:")}
        result.morale_drain = morale_drain(state, (state.morale_params or sim.morale_params)["recovery"])
        result.carry_out = state.carry[:, : sim.seats].copy()


def morale_drain(state: MonthState, recovery: float) -> np.ndarray:
    """``(runs, 2)``: each run's summed monthly morale drain and the rep-months it covers.

    A month's drain is what pulled a rep's morale down net of recovery, ``m_t - m_{t+1} +
    recovery (m0 - m_t)`` (pay below expectation, outside offers, a hopeless target,
    unfairness, less awards), over reps in the role in both months. A team in post sits where
    recovery balances it: ``drain / recovery`` below its baseline (engine/sim/uncertain.py).
    """
    both = state.active_m[:, :, :-1] & state.active_m[:, :, 1:]
    m = state.morale_m
    drain = m[:, :, :-1] - m[:, :, 1:] + recovery * (state.morale0[:, :, None] - m[:, :, :-1])
    return np.stack([np.where(both, drain, 0.0).sum(axis=(1, 2)), both.sum(axis=(1, 2)).astype(float)], axis=1)
