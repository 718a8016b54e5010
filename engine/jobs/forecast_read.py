"""What the closed months say: effort, rates, behaviour, market and skills.

Step :func:`read_closed_months` of :func:`engine.jobs.forecast.forecast`: two pilots of the
real team from the start of the year (the scenario's behaviour, and the behaviour prior),
the market read off the team's results, each rep's skill posterior; the runs' importance
weights by the likelihood of the closed blocks (:func:`behaviour_weights`, docs/model.md §9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from engine.jobs.forecast_carry import (
    TimingRead,
    carry_across,
    moves_business,
    pilot_profiles,
    read_timing,
    team_profile,
    unmoved,
    without_timing,
)
from engine.jobs.forecast_team import Setup, Team, closed_blocks, join_month, leavers_so_far
from engine.plan.validate import CheckedPlan
from engine.sim.executor import SimTask, chunks_of, simulation_for
from engine.sim.market import MarketModel, team_index
from engine.sim.population import skill_posterior
from engine.sim.scenario import Scenario
from engine.sim.simulate import Conditioning
from engine.sim.streams import RunStreams
from engine.sim.uncertain import (
    BehaviourPrior,
    EffortModel,
    fit_effort,
    importance_weights,
)

PILOT_REP_RUNS = 1_000  # rep-runs of the pilot that measures the effort behind the actuals so far


PILOT_RUN_BASE = 1_000_000_000  # pilot run i draws from the streams of run PILOT_RUN_BASE + i


BEHAVIOUR_PILOT_REP_RUNS = 2_000  # rep-runs of the pilot that fits the effort behind the actuals to the behaviour


BEHAVIOUR_PILOT_BASE = 1_500_000_000  # its run i draws from the streams of run BEHAVIOUR_PILOT_BASE + i


@dataclass(frozen=True)
class MarketRead:
    """The market of the closed months as read off the actuals.

    Attributes:
        seen: ``(teams, M)`` posterior mean of the log factor per closed month.
        mean, cov: posterior of ``(L, m[M-1])`` per team: ``(teams, 2)``, ``(teams, 2, 2)``.
        multiplier: ``(teams, M)`` expected demand multiplier per closed month.
        sd_seen: ``(teams, M)`` posterior sd of the log factor per closed month.
    """

    seen: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    multiplier: np.ndarray
    sd_seen: np.ndarray


def _read_market(model: MarketModel, observed: np.ndarray, base: np.ndarray, blocks: list[list[int]],
                 prior_mean: float, prior_sd: float, cv2_month: float, teams: np.ndarray, n_teams: int
                 ) -> MarketRead:
    """The market's log factor in the closed months from the team's results (docs/model.md §9).

    Per team (or for the whole roster when teams share one market), each block of months the
    actuals resolve (a closed plan period, or a month of one in progress) gives a noisy
    reading of the factor: the team's total against what it would produce at the prior's
    mean skill and factor 1, ``y = ln(sum actual / (E[s] sum b)) + v/2 + V/2``, a reading of
    ``sum_t (b_t / sum b) x_t`` with noise ``v = ln(1 + CV^2 E[s^2] sum b^2 / (E[s] sum b)^2)``
    (the reps' deal noise summed); ``V`` is the model's stationary variance (the factor is
    ``exp(x - V/2)``). The team's average skill is unknown too and lasts the year like the
    level shock: its variance is added to the level's prior. The posterior is exact
    (:meth:`MarketModel.read`); blocks with nothing expected carry no information.
    """
    es = math.exp(prior_mean + prior_sd ** 2 / 2)
    es2 = math.exp(2 * prior_mean + 2 * prior_sd ** 2)
    groups = teams if model.team_share > 0 else np.zeros_like(teams)
    G = n_teams if model.team_share > 0 else 1
    M = base.shape[1]
    seen = np.zeros((G, M))
    sd_seen = np.zeros((G, M))
    mean = np.zeros((G, 2))
    cov = np.zeros((G, 2, 2))
    for g in range(G):
        rows = groups == g
        bm = base[rows].sum(axis=0)  # (M,) expected per month
        b = np.array([bm[ms].sum() for ms in blocks])
        q = np.array([(base[rows][:, ms] ** 2).sum() for ms in blocks])  # independent months
        o = np.array([observed[rows][:, ms].sum() for ms in blocks])
        has = b > 0
        safe_b = np.where(has, b, 1.0)
        v = np.where(has, np.log1p(cv2_month * es2 * q / (es * safe_b) ** 2), 1e6)
        y = np.where(has, np.log(np.maximum(o, 1e-9 * safe_b) / (es * safe_b)) + v / 2 + model.var / 2, 0.0)
        weights = np.zeros((len(blocks), M))
        for j, ms in enumerate(blocks):
            weights[j, ms] = bm[ms] / safe_b[j] if has[j] else 1.0 / len(ms)
        team_skill = float(np.log1p((es2 - es * es) * (base[rows].sum(axis=1) ** 2).sum()
                                    / max((es * base[rows].sum()) ** 2, 1e-300)))
        widened = MarketModel(math.sqrt(model.year_sigma ** 2 + team_skill), model.rho, model.month_sigma)
        got = widened.read(y, v, weights)
        mean[g], cov[g], seen[g] = got.state, got.cov, got.months
        sd_seen[g] = np.sqrt(np.maximum(got.months_var, 0.0))
    if G == 1 and n_teams > 1:
        seen, sd_seen = np.repeat(seen, n_teams, axis=0), np.repeat(sd_seen, n_teams, axis=0)
        mean, cov = np.repeat(mean, n_teams, axis=0), np.repeat(cov, n_teams, axis=0)
    multiplier = model.expected_factor(seen, sd_seen ** 2)
    return MarketRead(seen, mean, cov, multiplier, sd_seen)


COUNT_PRIOR_EVENTS = 10.0
"""Pseudo-events of the scenario's rate in a count's rate ratio (shrinks small teams' ratios to 1)."""


def _count_scale(pilot: list, real: dict[str, np.ndarray], M: int, n_pilot: int) -> dict[str, float]:
    """How the roster's count and incident columns so far compare with the scenario's rates.

    Per column the plan reads: ``(observed + k) / (expected + k)`` over the closed months,
    ``expected`` the pilot's mean count for the roster's reps (same team, plan and effort)
    and ``k`` :data:`COUNT_PRIOR_EVENTS` (a gamma prior worth ``k`` events at the scenario's
    rate): the posterior mean of the team's rate relative to the scenario's.
    """
    out = {}
    for col in sorted(real):
        exp = sum(float(r.expected_counts[col][:, :M].sum()) for r in pilot if r.expected_counts and
                  col in r.expected_counts)
        if not any(r.expected_counts and col in r.expected_counts for r in pilot):
            continue
        exp /= max(n_pilot, 1)
        obs = float(real[col][:, :M].sum())
        out[col] = (obs + COUNT_PRIOR_EVENTS) / (exp + COUNT_PRIOR_EVENTS)
    return out


def _scaled_counts(scenario: Scenario, scale: dict[str, float]) -> Scenario:
    """The scenario with each count output's ``mean`` multiplied by its scale."""
    from dataclasses import replace

    outs = []
    for o in scenario.outputs:
        if o.name in scale and o.kind in ("count", "incidents"):
            params = dict(o.params)
            params["mean"] = float(params.get("mean", 1.0)) * scale[o.name]
            o = replace(o, params=tuple(params.items()))
        outs.append(o)
    return replace(scenario, outputs=tuple(outs))


@dataclass(frozen=True)
class Reading:
    """What the closed months say (:func:`read_closed_months`); the prior where they say nothing.

    Attributes:
        skill_mean, skill_sd: ``(R,)`` posterior of each rep's log skill.
        effort_factor: ``(M,)`` the effort behind the actuals so far, per month.
        count_scale: count outputs' rates so far over the scenario's, by output.
        quit_scale: the team's quit rate so far over the scenario's hazard.
        settle_gap: how far below its baseline morale the team in post has settled.
        effort_model: the effort behind the actuals as a function of the behaviour drawn.
        market: the market of the closed months (None: no market, or nothing read).
        blocks: ``(base0, base, cv2_month)`` the behaviour weights read the closed blocks with.
        carry_in: ``(R,)`` each roster rep's business moved into the first open month at the
            model's rate (:func:`carry_across`), or None.
        carry_share: the model's carry-in as a share of a month's business of the last closed
            period (the pilot's), or None.
        seen: ``(R, M)`` the primary output the reads saw (:func:`unmoved`), or None.
        timing: whether the team moves business across period ends as the model's reps do
            (:func:`~engine.jobs.forecast_carry.read_timing`), or None (not read: the
            scenario's timing, known).
    """

    skill_mean: np.ndarray
    skill_sd: np.ndarray
    effort_factor: np.ndarray
    count_scale: dict[str, float] = field(default_factory=dict)
    quit_scale: float = 1.0
    settle_gap: float = 0.0
    effort_model: EffortModel | None = None
    market: MarketRead | None = None
    blocks: tuple | None = None
    carry_in: np.ndarray | None = None
    carry_share: float | None = None
    seen: np.ndarray | None = None
    timing: TimingRead | None = None

    @property
    def p_on(self) -> float:
        """The share of the runs that move business as the model's reps do."""
        return 1.0 if self.timing is None else self.timing.p_on


def conditioning_for(setup: Setup, team: Team, closed: int, mean, sd, *, behaviour: BehaviourPrior | None,
                     redraw: frozenset[str] = frozenset(), settle_gap: float = 0.0,
                     effort_model: EffortModel | None = None, market: MarketRead | None = None,
                     carry_in: np.ndarray | None = None, carry: tuple[float, float] | None = None
                     ) -> Conditioning:
    """The simulation of the real team with its first ``closed`` months as they were."""
    seen = None if market is None or closed == 0 else market
    return Conditioning(roster=team.roster, start=setup.start, closed_months=closed,
                        actuals={k: v[:, :closed] for k, v in team.real.items()}, active_days=team.active_days,
                        skill_mean=mean, skill_sd=sd, prior_mean=team.prior_mean, prior_sd=team.prior_sd,
                        tenure=team.tenure, hired=team.hired, fixed_columns=team.fixed, redraw=redraw,
                        market_seen=None if seen is None else seen.seen,
                        market_mean=None if seen is None else seen.mean,
                        market_cov=None if seen is None else seen.cov,
                        behaviour=behaviour, settle_gap=settle_gap,
                        effort_model=effort_model if closed else None, refill=team.refill if closed else None,
                        carry_in=carry_in if closed and carry is not None else None,
                        carry_range=carry if carry is not None else (1.0, 1.0))


def read_closed_months(checked: CheckedPlan, setup: Setup, team: Team, seed: int, params: dict | None,
                       behaviour: BehaviourPrior | None, in_post: bool,
                       carry: tuple[float, float] | None = None, timing_prior: float | None = None) -> Reading:
    """The effort, rates, behaviour, market and skills the closed months show (the prior when
    the year is over or the actuals hold no primary output), and with ``timing_prior`` whether
    the team moves business across period ends (:func:`_read_timing`)."""
    R, M, primary, scenario = team.n_reps, team.closed_months, team.primary, team.scenario
    prior = (np.full(R, team.prior_mean), np.full(R, team.prior_sd))
    if not (M < 12 and primary in team.real):  # (a skill prior of sd 0 still reads the market and the effort)
        return Reading(*prior, effort_factor=np.ones(M))
    res, pilot, n_pilot = _pilot(checked, setup, team, seed, params)
    effort_factor = _effort_factor(res, M)
    count_scale = _count_scale(res, team.real, M, n_pilot)
    quit_scale = _quit_scale(res, leavers_so_far(setup, team.active_days, M), n_pilot) if in_post else 1.0
    base0 = _expected_at_baseline(setup, team, pilot)
    settle_gap, effort_model = 0.0, None
    if behaviour is not None:
        # The team in post: settled below its baseline morale where recovery balances the
        # drains (the pilot's mean drain at the baseline over recovery); then the effort
        # behind the actuals as a function of each run's behaviour, fitted over a pilot
        # whose runs draw it from the prior (engine/sim/uncertain.py).
        settle_gap = _settle_gap(res, float(dict(scenario.morale)["recovery"]))
        effort_factor, effort_model, res_b = _effort_model(
            checked, scenario, seed, params,
            conditioning_for(setup, team, 0, *prior, behaviour=behaviour, settle_gap=settle_gap),
            behaviour, base0.sum(axis=0), R, M)
        # The team's count and quit rates against the same behaviour the runs simulate (a
        # settled team has lower morale than the fresh pilot, and quits more).
        count_scale = _count_scale(res_b, team.real, M, len(np.concatenate([r.run_index for r in res_b])))
        if in_post:
            quit_scale = _quit_scale(res_b, leavers_so_far(setup, team.active_days, M),
                                     len(np.concatenate([r.run_index for r in res_b])))
    timing = _read_timing(checked, setup, team, seed, params, res, timing_prior)
    carry_share, carry_in = carry_across(setup, team, res if behaviour is None else res_b) \
        if carry is not None else (None, None)
    # What the reads see: the real output, with what the team moved out of the as-of month
    # put back (its expectation: the share of runs that move business x the carry's mean), so
    # that a push across the period end is read neither as a market dip nor as lower skill.
    seen = unmoved(team.real[primary], carry_in,
                   None if carry is None else (1.0 if timing is None else timing.p_on) * 0.5 * sum(carry))
    base = base0 * effort_factor[None, :]
    observed = seen.sum(axis=1)
    cv2_month = pilot.prod.monthly_cv(scenario.output(primary)) ** 2
    market = None
    if scenario.market.active:
        # The market so far, read off the team's results (before the reps' skills, so that a
        # team-wide swing is not read as every rep's skill).
        teams, n_teams = team_index(team.roster.columns, R)
        market = _read_market(scenario.market, seen, base, closed_blocks(setup), team.prior_mean,
                              team.prior_sd, cv2_month, teams, n_teams)
        base = base * market.multiplier[teams]
    expected = base.sum(axis=1)
    cv2 = cv2_month * (base ** 2).sum(axis=1) / np.maximum(expected, 1e-300) ** 2
    skill_mean, skill_sd = skill_posterior(team.prior_mean, team.prior_sd, observed, expected, cv2)
    return Reading(skill_mean, skill_sd, effort_factor, count_scale, quit_scale, settle_gap, effort_model, market,
                   (base0, base, cv2_month), carry_in, carry_share, seen, timing)


def _read_timing(checked: CheckedPlan, setup: Setup, team: Team, seed: int, params: dict | None, res: list,
                 prior: float | None) -> TimingRead | None:
    """Whether the team moves business across period ends as the model's reps do: its month
    profile against the pilot's (``res``, the model's timing) and a pilot's without timing
    (same runs and streams), from ``prior`` (engine/jobs/forecast_carry.py). None without a
    prior, when the scenario moves no business or when the profile cannot be measured
    (no dated rows; every closed month or none touched by timing)."""
    if prior is None or not moves_business(team.scenario):
        return None
    observed = team_profile(setup, team)
    if not math.isfinite(observed):
        return None
    off, _, _ = _pilot(checked, setup, replace(team, scenario=without_timing(team.scenario)), seed, params)
    return read_timing(observed, pilot_profiles(setup, team, res), pilot_profiles(setup, team, off), prior)


def _pilot(checked: CheckedPlan, setup: Setup, team: Team, seed: int, params: dict | None):
    """A short pilot of the same team and plan from the start of the year (prior skills, the
    scenario's behaviour) up to the as-of month. At most 100 runs: one chunk, in this process
    (its sums then never depend on a split). Returns its chunk results, its simulation and
    its runs."""
    R, M = team.n_reps, team.closed_months
    prior = (np.full(R, team.prior_mean), np.full(R, team.prior_sd))
    pilot_task = SimTask(checked, team.scenario, seed, params,
                         condition=conditioning_for(setup, team, 0, *prior, behaviour=None), until=M)
    pilot = simulation_for(pilot_task)
    n_pilot = int(np.clip(math.ceil(PILOT_REP_RUNS / max(R, 1)), 4, 100))
    # One chunk in this process, keeping the monthly detail (the month-of-period profile).
    res = [pilot.run_chunk(idx, until=M, keep=True) for idx in chunks_of(n_pilot, n_pilot, first=PILOT_RUN_BASE)]
    return res, pilot, n_pilot


def _effort_factor(res: list, M: int) -> np.ndarray:
    """The effort behind the actuals so far: the pilot's expected output at the chosen effort
    over that at effective effort 1, month by month."""
    num = den = np.zeros(M)
    for r in res:
        # A conditioned simulation records both (Conditioning.finish).
        assert r.primary_expected is not None and r.primary_baseline is not None
        num = num + r.primary_expected[:, :M].sum(axis=0)
        den = den + r.primary_baseline[:, :M].sum(axis=0)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


def _expected_at_baseline(setup: Setup, team: Team, pilot) -> np.ndarray:
    """``(R, M)`` each rep's expected primary output per closed month at skill 1, effort 1 and
    an average market (level x quota/12 x season x ramp x share of the month in the role)."""
    from engine.sim.behaviour import ramp_factor

    scenario, M = team.scenario, team.closed_months
    out = scenario.output(team.primary)
    ramp_t = np.where(np.isnan(team.tenure), scenario.ramp_months, team.tenure)
    base0 = np.zeros((team.n_reps, M))
    for m in range(M):
        ramp = ramp_factor(np.maximum(ramp_t + m - np.where(team.hired, join_month(team.active_days), 0), 0.0),
                           scenario.ramp_months, scenario.ramp_start)
        base0[:, m] = (out.get("level", 1.0) * team.roster.quota / 12.0 * float(pilot.season[m]) * ramp
                       * team.active_days[:, m] / team.days[m])
    return base0


def at_the_team_rates(scenario: Scenario, read: Reading) -> Scenario:
    """The scenario for the rest of the year: count outputs and quits at the rates the team
    showed so far."""
    if read.count_scale:
        scenario = _scaled_counts(scenario, read.count_scale)
    if read.quit_scale != 1.0:
        scenario = _scaled_attrition(scenario, read.quit_scale)
    return scenario


def _quit_scale(pilot: list, observed: int, n_pilot: int) -> float:
    """The team's quit rate so far against the scenario's: ``(observed + k) / (expected + k)``
    over the closed months, ``expected`` the pilot's mean quits of the roster's reps and ``k``
    :data:`COUNT_PRIOR_EVENTS` (a gamma prior on the hazard's scale worth ``k`` quits at the
    scenario's rate)."""
    expected = sum(float(r.quit_seat.sum()) for r in pilot if r.quit_seat is not None) / max(n_pilot, 1)
    return (observed + COUNT_PRIOR_EVENTS) / (expected + COUNT_PRIOR_EVENTS)


def _scaled_attrition(scenario: Scenario, scale: float) -> Scenario:
    """The scenario with the monthly base quit hazard multiplied by ``scale`` (the hazard's
    other factors, morale and outside offers, multiply it, so every rep's hazard scales)."""
    from dataclasses import replace

    ap = dict(scenario.attrition)
    monthly = 1.0 - (1.0 - ap["annual_base_rate"]) ** (1.0 / 12.0)
    ap["annual_base_rate"] = 1.0 - (1.0 - min(monthly * scale, 0.5)) ** 12
    return replace(scenario, attrition=tuple(ap.items()))


def _settle_gap(pilot: list, recovery: float) -> float:
    """The stationary morale gap of the scenario's drains: the pilot's mean monthly drain
    per rep-month (at the baseline) over ``recovery`` (0 without recovery), at most 1."""
    drain = sum((r.morale_drain.sum(axis=0) for r in pilot if r.morale_drain is not None), np.zeros(2))
    if recovery <= 0 or drain[1] <= 0:
        return 0.0
    return float(np.clip(drain[0] / drain[1] / recovery, 0.0, 1.0))


def _effort_model(checked: CheckedPlan, scenario: Scenario, seed: int, params, condition: Conditioning,
                  behaviour: BehaviourPrior, base: np.ndarray, R: int, M: int
                  ) -> tuple[np.ndarray, EffortModel, list]:
    """The effort behind the closed months under the behaviour prior: a pilot of the first
    ``M`` months whose runs draw their behaviour (one chunk, in this process, from runs
    :data:`BEHAVIOUR_PILOT_BASE` on); its mean effort factor per month, the regression of
    each run's factor on its behaviour (:func:`~engine.sim.uncertain.fit_effort`) and the
    pilot's chunk results."""
    n = int(np.clip(math.ceil(BEHAVIOUR_PILOT_REP_RUNS / max(R, 1)), 12, 100))
    task = SimTask(checked, scenario, seed, params, condition=condition, until=M)
    sim = simulation_for(task)
    res = [sim.run_chunk(idx, until=M, keep=True) for idx in chunks_of(n, n, first=BEHAVIOUR_PILOT_BASE)]
    num = np.concatenate([r.primary_expected[:, :M] for r in res if r.primary_expected is not None])
    den = np.concatenate([r.primary_baseline[:, :M] for r in res if r.primary_baseline is not None])
    factor = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
    tot_n, tot_d = num.sum(axis=0), den.sum(axis=0)
    mean = np.where(tot_d > 0, tot_n / np.where(tot_d > 0, tot_d, 1.0), 1.0)
    theta = behaviour.draw(RunStreams(seed, range(BEHAVIOUR_PILOT_BASE, BEHAVIOUR_PILOT_BASE + n)))
    model = fit_effort(theta, factor, base)
    # The weights are relative to the pilot's mean factor (ratio of sums), not the mean of ratios.
    return mean, EffortModel(model.coef, base / max(float(np.dot(base, mean)), 1e-300)), res


def behaviour_weights(theta: np.ndarray, model: EffortModel, read: tuple, observed: np.ndarray,
                       blocks: list[list[int]], prior_mean: float, prior_sd: float, market: MarketModel
                       ) -> tuple[np.ndarray, float, np.ndarray]:
    """Importance weights of the runs: the likelihood of the team's production in each
    closed block given the effort each run's behaviour puts behind it (docs/model.md §9).

    Block ``b``'s reading ``ln(o_b / (E[s] sum_t B_t F_t(theta))) + v_b/2 + V/2`` is
    Gaussian with mean 0 and covariance ``(year_sigma^2 + team skill var) J + W C W' +
    diag(v)``, ``C`` the monthly component's covariance and ``W`` the blocks' month weights,
    as in :func:`_read_market`. Returns ``(weights, effective runs, weighted mean of theta)``.
    """
    base0, base, cv2_month = read
    es = math.exp(prior_mean + prior_sd ** 2 / 2)
    es2 = math.exp(2 * prior_mean + 2 * prior_sd ** 2)
    team0 = base0.sum(axis=0)  # (M,)
    M = team0.size
    pred_month = model.factor(theta) * team0[None, :]  # (runs, M)
    keep, log_obs, log_pred, v = [], [], [], []
    W = []
    for ms in blocks:
        b = float(base[:, ms].sum())
        o = float(observed[:, ms].sum())
        if b <= 0 or o <= 0:
            continue
        q = float((base[:, ms] ** 2).sum())
        vb = math.log1p(cv2_month * es2 * q / (es * b) ** 2)
        keep.append(ms)
        v.append(vb)
        log_obs.append(math.log(o / es) + vb / 2 + market.var / 2)
        log_pred.append(np.log(np.maximum(pred_month[:, ms].sum(axis=1), 1e-300)))
        w = np.zeros(M)
        w[ms] = base[:, ms].sum(axis=0) / b
        W.append(w)
    if not keep:
        return np.full(len(theta), 1.0 / len(theta)), float(len(theta)), theta.mean(axis=0)
    Wm = np.array(W)
    team_skill = math.log1p((es2 - es * es) * (base.sum(axis=1) ** 2).sum() / max((es * base.sum()) ** 2, 1e-300))
    months = np.arange(M)
    cm = market.month_var * np.power(market.rho, np.abs(months[:, None] - months[None, :])) if market.active \
        else np.zeros((M, M))
    cov = (market.year_sigma ** 2 + team_skill) * np.ones((len(keep), len(keep))) + Wm @ cm @ Wm.T + np.diag(v)
    weights, ess, _ = importance_weights(np.stack(log_pred, axis=1), np.array(log_obs), cov)
    return weights, ess, weights @ theta
