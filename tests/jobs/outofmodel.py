"""Plan years from a process that is not the simulator's: the out-of-model back-test's truth.

Issue 12, item 5: the forecast is back-tested on years the simulator generated, so its
coverage is right by construction. This module generates plan years *independently* of
``engine.sim`` (it imports nothing from it and shares none of its code or model) so that
the forecast can be tried on data it was not built from. Only ``engine.data`` is used, and
only by the tests, to check that the tables load.

The process, month by month, for one team over three consecutive years (two history years
and the plan year):

* **Persistent skill.** Each seat's rep has a skill ``s ~ lognormal(0, skill_sigma)`` kept
  for as long as the rep stays; a backfill draws a fresh one.
* **Quotas set from skill, with error.** Each year every rep's annual quota is
  ``quota_median * s**quota_skill_weight * lognormal(0, quota_error_sigma)``, rounded to
  1,000: managers know part of a rep's skill, not all of it.
* **Lumpy deals.** A rep's deals in a month are Poisson with mean
  ``deals_per_month * s * season * market * ramp``; each deal's size is lognormal with
  ``deal_size_sigma`` and a mean that makes a median rep's expected year ``level`` times
  ``quota_median``. Months with no deal book 0.
* **No behavioural response to the plan.** Nothing above depends on the plan, on pay or on
  what was booked earlier in the year.
* **Quits and backfills.** Each active rep quits at the end of a month with a constant
  hazard (``annual_quit_rate`` a year); the seat stays empty ``vacancy_months`` and is then
  filled by a new hire (new ``rep_id``) whose productivity ramps linearly over
  ``ramp_months`` months.
* **Seasonality** by calendar month (``seasonality``, normalised to mean 1).
* **A market that moves everybody together**: a yearly level shock
  ``lognormal(0, market_year_sigma)`` and a monthly factor, AR(1) in logs with ``market_rho``
  and innovation sd ``market_sigma``, continued across the three years; the product
  multiplies every rep's deal rate that month.
* **Complaints** (the seeds plan's penalty reads ``actuals.complaints``): Poisson with mean
  ``complaints_per_month`` per active month, independent of everything else.

Randomness: year ``y`` (0 and 1 the history, 2 the plan year) draws from
``numpy.random.default_rng(SeedSequence([seed, y]))`` only, so a year's draws do not depend
on how many draws another year made. The monthly market factor's state is carried from one
year into the next (that is the persistence, not shared random numbers).

Public: :class:`OutOfModel` (the parameters), :class:`World` and :func:`generate`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["OutOfModel", "World", "generate"]

HISTORY_YEARS = 2
PLAN_YEAR = 2027  # the plan year's calendar year; the history is 2025 and 2026


@dataclass(frozen=True)
class OutOfModel:
    """Parameters of the out-of-model process, with why each default is plausible.

    Sources marked [..] are the ones listed in docs/scenario.md ("Where the defaults come
    from"); everything else is said to be an assumption. The values are deliberately not
    the simulator's defaults where a choice was free.

    Attributes:
        reps: seats in the team. 100: a mid-size field team (assumption; issue 12's test).
        teams: teams the seats are split into (10 seats each). Assumption.
        skill_sigma: log-sd of persistent skill. 0.30: with the deal noise below about half of
            the reps reach quota, as surveys report 44-59% at quota [C1]-[C4]. Assumption
            calibrated to that range (the simulator uses 0.25 with different noise).
        quota_median: annual quota of a median rep. 1,000,000: the seeds roster's quota
            (scenarios/data/seeds_roster.csv); it only sets the money scale.
        quota_skill_weight: elasticity of the quota to skill. 0.6: managers see part of a
            rep's skill when they set territories and quotas. Assumption.
        quota_error_sigma: log-sd of the quota's error. 0.15: uneven territories and
            imperfect quota setting. Assumption.
        ti_per_quota: annual target incentive / quota. 0.10: quota about 5x OTE [S1], [V1]
            with a 50/50 pay mix [X1] gives TI = quota / 10.
        level: expected annual revenue / quota_median of a median-skill, fully ramped rep in
            an average market. 0.97: a median rep just short of quota, so that about half
            of the team makes it [C1]-[C4]. Assumption.
        deals_per_month: expected deals a month of a median rep. 3: a field AE closing a few
            mid-size deals a month; with it about 5% of a median rep's months book nothing
            (more for weak reps and new hires). Assumption.
        deal_size_sigma: log-sd of deal sizes. 1.0: deal sizes in B2B span an order of
            magnitude (90% between 0.2x and 5x the median). Assumption.
        annual_quit_rate: share of reps who quit in a year (constant hazard). 0.25: published
            sales turnover is 27-28% [H1], [D1], 35% [O1], 15% [SP1].
        vacancy_months: months a seat stays empty before its backfill starts. 1: assumption
            (HBR notes positions sit empty while companies recruit [H1]; no figure found).
        ramp_months: months a new hire takes to reach full productivity, linearly
            (1/(ramp+1), 2/(ramp+1), ...). 4: ramp is 3-6 months for half of new hires
            [SB1], just under five for AEs [E1].
        tenure_low, tenure_high: months in role of the starting team (uniform); past the
            ramp. Assumption; HBR reports average tenure under two years in many industries [H1].
        seasonality: demand by calendar month, January first (normalised to mean 1). A B2B
            calendar with quarter-end pushes and a year-end peak. Assumption (no source
            sought), deliberately not the simulator's default.
        market_year_sigma: log-sd of the yearly market level shock. 0.10: year-on-year swings
            of a team's market of about +-10% (one sd). Assumption (issue 12's brief).
        market_rho: monthly AR(1) coefficient of the log market factor. 0.7: a shock halves in
            about two months. Assumption (issue 12's brief).
        market_sigma: innovation sd of the monthly log market factor. 0.05 (stationary sd
            0.07). Assumption (issue 12's brief).
        complaints_per_month: Poisson mean of customer complaints per active month. 0.7:
            under one a month, so the seeds plan's "more than 3 a quarter" penalty bites for
            a few reps (assumption, as the simulator's scenario.md says of its own default).
    """

    reps: int = 100
    teams: int = 10
    skill_sigma: float = 0.30
    quota_median: float = 1_000_000.0
    quota_skill_weight: float = 0.6
    quota_error_sigma: float = 0.15
    ti_per_quota: float = 0.10
    level: float = 0.97
    deals_per_month: float = 3.0
    deal_size_sigma: float = 1.0
    annual_quit_rate: float = 0.25
    vacancy_months: int = 1
    ramp_months: int = 4
    tenure_low: float = 6.0
    tenure_high: float = 48.0
    seasonality: tuple[float, ...] = (0.85, 0.90, 1.15, 0.90, 0.95, 1.15, 0.85, 0.85, 1.15, 0.95, 1.00,
                                      1.30)
    market_year_sigma: float = 0.10
    market_rho: float = 0.7
    market_sigma: float = 0.05
    complaints_per_month: float = 0.7

    def __post_init__(self) -> None:
        if self.reps < 1 or not 1 <= self.teams <= self.reps:
            raise ValueError(f"'reps' must be at least 1 and 'teams' between 1 and reps (got {self.reps}, "
                             f"{self.teams})")
        if len(self.seasonality) != 12 or min(self.seasonality) <= 0:
            raise ValueError(f"'seasonality' must be 12 positive numbers (got {len(self.seasonality)})")
        if not 0 <= self.annual_quit_rate < 1:
            raise ValueError(f"'annual_quit_rate' must be in [0, 1) (got {self.annual_quit_rate})")
        if not -1 < self.market_rho < 1:
            raise ValueError(f"'market_rho' must be in (-1, 1) (got {self.market_rho})")

    def with_overrides(self, **changes) -> OutOfModel:
        """A copy with some parameters changed."""
        return dataclasses.replace(self, **changes)

    @property
    def monthly_quit_hazard(self) -> float:
        """The constant monthly quit probability that gives ``annual_quit_rate`` a year."""
        return 1.0 - (1.0 - self.annual_quit_rate) ** (1.0 / 12.0)


@dataclass(frozen=True)
class World:
    """Three consecutive years of one team, as a company would hold them.

    Attributes:
        seed: the seed the world was generated from.
        history: per-rep, per-month attainment of the two years before the plan year
            (``rep_id``, ``period`` ``2025-01`` ..., ``attainment`` = revenue / (quota / 12)),
            the format ``incentive forecast --history`` reads.
        roster: the plan year's roster at year end: every rep who held a seat during the
            year (``rep_id``, ``team``, ``quota``, ``ti``, ``base_salary``, ``tenure_months``
            at the start of the year or of employment, ``status``, ``start_date`` for hires
            of the year, ``end_date`` for leavers).
        actuals: the plan year's monthly actuals, one row per rep and active month
            (``rep_id``, ``date`` the 1st of the month, ``revenue``, ``complaints``).
        market: the 36 monthly market multipliers (yearly level x monthly factor), history
            first.
        team_revenue: total revenue booked per month over the 36 months.
        monthly: every rep's revenue in every active month of the 36 (``rep_id``, ``month``
            0-35, ``revenue``), for tests of the process itself.
        quits, hires: reps who quit / were hired in each of the three years.
        ramp_months: the ramp of the process (for the roster's `status`).
    """

    seed: int
    history: pd.DataFrame
    roster: pd.DataFrame
    actuals: pd.DataFrame
    market: np.ndarray
    team_revenue: np.ndarray
    monthly: pd.DataFrame
    quits: tuple[int, ...]
    hires: tuple[int, ...]

    ramp_months: int = 4

    def as_of(self, months: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The plan year's roster and actuals as known at the end of month ``months`` (1-12).

        Reps hired later are absent, leavers after that month have no ``end_date`` yet, and
        ``status`` is the status at that date (``new_hire`` while in the ramp).

        Returns:
            ``(roster, actuals)`` DataFrames, in the formats ``incentive payout`` reads.
        """
        if not 1 <= months <= 12:
            raise ValueError(f"'months' must be 1-12 (got {months})")
        after = _month_date(PLAN_YEAR, months).isoformat()  # the 1st of the month after
        month_end = (_month_date(PLAN_YEAR, months) - dt.timedelta(days=1)).isoformat()
        r = self.roster
        roster = r[(r.start_date == "") | (r.start_date < after)].copy()
        roster["end_date"] = roster.end_date.where(roster.end_date <= month_end, "")
        hired_month = [int(d[5:7]) - 1 if d else 0 for d in roster.start_date]
        in_role = np.where(roster.start_date == "", roster.tenure_months, 0.0) + months - np.array(hired_month)
        roster["status"] = np.where(in_role < self.ramp_months, "new_hire", "tenured")
        actuals = self.actuals[self.actuals.date < after]
        return roster.reset_index(drop=True), actuals.reset_index(drop=True)


def _month_date(year: int, month0: int) -> dt.date:
    return dt.date(year + month0 // 12, month0 % 12 + 1, 1)


def generate(seed: int, spec: OutOfModel | None = None) -> World:
    """Generate two history years and the plan year of one team.

    Args:
        seed: the world's seed; year ``y`` draws from ``SeedSequence([seed, y])``.
        spec: the process's parameters (default :class:`OutOfModel`).

    Returns:
        The :class:`World`.
    """
    p = spec or OutOfModel()
    n, years = p.reps, HISTORY_YEARS + 1
    season = np.asarray(p.seasonality, dtype=float)
    season = season / season.mean()
    hazard = p.monthly_quit_hazard
    mean_size = p.level * p.quota_median / 12.0 / p.deals_per_month
    mu_size = np.log(mean_size) - 0.5 * p.deal_size_sigma**2
    first_year = PLAN_YEAR - HISTORY_YEARS

    # Seat state, carried across the years.
    skill = np.zeros(n)
    in_role = np.zeros(n)          # months in role at the start of the current month
    rep_id = np.empty(n, dtype=object)
    vacant_for = np.zeros(n, dtype=int)  # >0: months left before the backfill starts
    active = np.ones(n, dtype=bool)
    start_date = np.array([""] * n, dtype=object)
    hired_count = 0
    log_factor = 0.0

    market = np.zeros(12 * years)
    team_revenue = np.zeros(12 * years)
    history_rows: list[pd.DataFrame] = []
    monthly: list[pd.DataFrame] = []
    quits, hires = [], []
    roster = actuals = pd.DataFrame()
    teams = np.array([f"T{1 + s * p.teams // n:02d}" for s in range(n)], dtype=object)

    for y in range(years):
        rng = np.random.default_rng(np.random.SeedSequence([seed, y]))
        year = first_year + y
        if y == 0:
            skill = rng.lognormal(0.0, p.skill_sigma, n)
            in_role = rng.uniform(p.tenure_low, p.tenure_high, n)
            rep_id[:] = [f"O{s + 1:04d}" for s in range(n)]
            log_factor = rng.normal(0.0, p.market_sigma / np.sqrt(1.0 - p.market_rho**2))
        level_shock = rng.lognormal(0.0, p.market_year_sigma)
        # This year's quotas (seats vacant at the start get theirs when filled).
        quota_error = rng.lognormal(0.0, p.quota_error_sigma, n)
        quota = np.round(p.quota_median * skill**p.quota_skill_weight * quota_error, -3)
        tenure0 = in_role.copy()
        rows: dict[str, list] = {"rep_id": [], "month": [], "revenue": [], "complaints": []}
        info: dict[str, dict] = {}  # rep_id -> roster row of this year
        year_quits = year_hires = 0
        for s in np.nonzero(active)[0]:
            info[rep_id[s]] = {"seat": s, "quota": quota[s], "tenure": tenure0[s], "start": "", "end": ""}
        for m in range(12):
            t = 12 * y + m
            log_factor = p.market_rho * log_factor + rng.normal(0.0, p.market_sigma)
            market[t] = level_shock * np.exp(log_factor)
            # Backfills whose vacancy ends start this month, with a fresh skill and quota.
            starting = ~active & (vacant_for == 1)
            vacant_for[~active & (vacant_for > 0)] -= 1
            for s in np.nonzero(starting)[0]:
                hired_count += 1
                active[s] = True
                skill[s] = rng.lognormal(0.0, p.skill_sigma)
                in_role[s] = 0.0
                rep_id[s] = f"N{hired_count:04d}"
                start_date[s] = _month_date(year, m).isoformat()
                quota[s] = np.round(p.quota_median * skill[s]**p.quota_skill_weight
                                    * rng.lognormal(0.0, p.quota_error_sigma), -3)
                info[rep_id[s]] = {"seat": s, "quota": quota[s], "tenure": 0.0, "start": start_date[s], "end": ""}
                year_hires += 1
            on = np.nonzero(active)[0]
            ramp = np.minimum((in_role[on] + 1.0) / (p.ramp_months + 1.0), 1.0)
            rate = p.deals_per_month * skill[on] * season[m] * market[t] * ramp
            deals = rng.poisson(rate)
            sizes = rng.lognormal(mu_size, p.deal_size_sigma, int(deals.sum()))
            revenue = np.bincount(np.repeat(np.arange(on.size), deals), weights=sizes, minlength=on.size)
            revenue = np.round(revenue, 2)
            complaints = rng.poisson(p.complaints_per_month, on.size)
            team_revenue[t] = revenue.sum()
            rows["rep_id"] += list(rep_id[on])
            rows["month"] += [m] * on.size
            rows["revenue"] += list(revenue)
            rows["complaints"] += list(complaints)
            in_role[on] += 1.0
            # Quits at the end of the month (no behavioural response: a constant hazard).
            leave = on[rng.random(on.size) < hazard]
            for s in leave:
                info[rep_id[s]]["end"] = (_month_date(year, m + 1) - dt.timedelta(days=1)).isoformat()
            active[leave] = False
            vacant_for[leave] = p.vacancy_months + 1
            year_quits += leave.size
        quits.append(year_quits)
        hires.append(year_hires)
        frame = pd.DataFrame(rows)
        monthly.append(frame[["rep_id", "month", "revenue"]].assign(month=frame.month + 12 * y))
        quota_of = {r: v["quota"] for r, v in info.items()}
        if y < HISTORY_YEARS:
            history_rows.append(pd.DataFrame({
                "rep_id": frame.rep_id,
                "period": [f"{year}-{m + 1:02d}" for m in frame.month],
                "attainment": frame.revenue / (frame.rep_id.map(quota_of) / 12.0),
            }))
            continue
        roster = pd.DataFrame([{
            "rep_id": r, "team": teams[v["seat"]], "quota": v["quota"],
            "ti": round(v["quota"] * p.ti_per_quota, 2), "base_salary": round(v["quota"] * p.ti_per_quota, 2),
            "tenure_months": round(float(v["tenure"]), 2),
            "status": "",  # set by World.as_of
            "start_date": v["start"], "end_date": v["end"],
        } for r, v in info.items()])
        actuals = pd.DataFrame({
            "rep_id": frame.rep_id,
            "date": [_month_date(year, m).isoformat() for m in frame.month],
            "revenue": frame.revenue,
            "complaints": frame.complaints,
        })
    world = World(seed=seed, history=pd.concat(history_rows, ignore_index=True), roster=roster,
                  actuals=actuals, market=market, team_revenue=team_revenue,
                  monthly=pd.concat(monthly, ignore_index=True), quits=tuple(quits),
                  hires=tuple(hires), ramp_months=p.ramp_months)
    full, _ = world.as_of(12)
    return dataclasses.replace(world, roster=full)
