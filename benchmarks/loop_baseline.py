"""Baseline for the simulator benchmark: the same rep model written one object per rep.

The vectorized simulator (:mod:`engine.sim.simulate`) must beat "an equivalent
one-object-per-rep Python loop" by at least 100x. This module is that loop: the model of
``docs/model.md`` written the way a straightforward object-oriented agent-based model
(mesa-style) would be written. A :class:`Rep` holds its own state in plain Python floats and
lists (skill, cost of effort, risk aversion, outside offer, morale, tenure, effort choices,
monthly actuals) and draws its own random numbers with :mod:`random`; a :class:`Team` (with
the run's :class:`Market`, a demand factor per team and month) steps month by month and,
each month, loops ``for rep in reps:`` to

1. choose effort per relevant activity, coordinate-wise over the scenario's effort grid: for
   every candidate level, project the rest of the pay window (seasonality times the market
   the rep expects from the plan year's months so far), and for each Gauss-Hermite noise
   node build a one-rep :class:`~engine.core.inputs.Inputs` and pay it with the plan's
   scalar :class:`~engine.plan.ReferenceEvaluator`; the CARA certainty equivalent over the
   nodes minus the cost of effort (and, under a ratchet quota policy, what the year's
   output costs in next year's pay), ties to the lower effort;
2. realize its outputs with its own draws (deal counts by Poisson inversion, lognormal
   sizes, shares, scores, incidents), times the month's market factor;
3. at a period's close inside a plan year, knowing the month's business, choose to pull
   business forward from next month (up to ``timing.max_shift`` of the period's expected
   business), push some of the month's into it (up to ``timing.max_push``) or neither, in
   thirds, valued like effort from next month;
4. at a period close, get paid and update morale (pay against expectation, fairness as a
   plain sort over the reps, contest awards); every month the outside-offer,
   hopeless-target and recovery terms; then a quit draw, and a backfill with a new ``Rep``
   after the vacancy;
5. after a plan year's last month, the quota policy sets each seat's next quota; each plan
   year is paid with the roster as at its end.

Same formulas, grid, window rule, quadrature, morale and attrition equations as the
vectorized code; only the random streams differ (so results agree in distribution, not
number for number). ``check_against_engine`` feeds the loop the engine's own random numbers
of a run (engine/sim/streams.py: traits, output noise, quits and market, each from its
own stream) and compares rep by rep: the two agree to round-off (about 4e-16), with or
without backfills, on the shipped plans the loop supports (tests/benchmarks/test_loop_baseline.py).
What differs:

* Plans whose pay depends on other reps (``rank``, group functions): each rep's what-if
  evaluates the whole team with this rep at the candidate and the others at their current
  choices (a best response, as the engine does); the engine also freezes the others'
  eligibility (``when``) and values at those choices, here they are re-evaluated, so a
  rep's candidate can change another's eligibility. A second-order difference in one
  what-if, but once it flips a choice the runs part: ``team_contest``, whose
  ``most_improved`` award is closed to ``gold_seller`` winners, agrees to round-off in some
  runs and differs by up to 60% in a rep's payout in others (6 reps, 3 runs); with that
  gate removed it agrees to round-off (tested), as does ``roster_changes`` (``group_sum``).
* Not in the loop (its constructor refuses such plans): payment delays and cancellations
  (``deals.payment``), and row-level measures that see the kinds of deal inside a period
  (deal attributes, deal sizes: ``seeds_cn_deals``, ``product_rates_on_payment``); the loop
  prices period totals, which is exact for row-level measures of levels every deal carries
  at the period's value (``kpi_scorecard``'s averaged ``csat``). Forecast conditioning is
  the engine's alone.

Run: ``python benchmarks/loop_baseline.py [--reps 10] [--months 12] [--loop-runs 10]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from engine.core.inputs import Inputs
from engine.core.periods import MONTHS_PER_PERIOD
from engine.plan import ReferenceEvaluator, load_plan
from engine.plan import expr as ex
from engine.plan.kinds import kind_of
from engine.plan.validate import CheckedPlan
from engine.sim.behaviour import RHO_NEGLIGIBLE, Production, quadrature
from engine.sim.market import MarketModel, team_index
from engine.sim.payment import placement_for
from engine.sim.population import build_roster, draw_traits, hire_capacity
from engine.sim.scenario import Dist, Scenario, default_scenario
from engine.sim.shape import mix_columns, mix_for, shape_scenario
from engine.sim.simulate import (
    TIMING_STEPS,
    _period_reach,
    month_days,
    plan_periods,
    uses_cross_rep,
)
from engine.sim.streams import RunStreams

__all__ = ["Rep", "Team", "compare_averages", "run_loop", "run_vectorized"]

ROOT = Path(__file__).resolve().parents[1]
SEEDS_PLAN = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"
_NORMAL = statistics.NormalDist()


# --------------------------------------------------------------------------- scalar helpers

def sample(dist: Dist, rng: random.Random) -> float:
    """One draw of a scenario distribution, in plain Python."""
    p = dict(dist.params)
    if dist.kind == "constant":
        return float(p["value"])
    if dist.kind == "uniform":
        return rng.uniform(p["low"], p["high"])
    if dist.kind == "beta":
        lo, hi = p.get("low", 0.0), p.get("high", 1.0)
        return lo + (hi - lo) * rng.betavariate(p["a"], p["b"])
    if dist.kind == "empirical":
        return float(rng.choice(p["values"]))
    if dist.kind == "normal":
        x = rng.gauss(p["mean"], p["sd"])
    elif dist.kind == "lognormal":
        x = p["median"] * math.exp(rng.gauss(0.0, p["sigma"]))
    else:  # pragma: no cover - validated
        raise ValueError(dist.kind)
    if p.get("low") is not None:
        x = max(x, p["low"])
    if p.get("high") is not None:
        x = min(x, p["high"])
    return x


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _pow(x: float, a: float) -> float:
    if x == 0.0 and a < 0:
        return math.inf
    return x ** a


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else min(x, hi)


def poisson_ppf(u: float, lam: float) -> float:
    """Poisson draw by inversion of a uniform (sequential CDF search; normal beyond a mean of 50)."""
    if not lam > 0:
        return 0.0
    if lam > 50.0:
        z = _NORMAL.inv_cdf(_clip(u, 1e-300, 1 - 1e-16))
        return max(math.floor(lam + math.sqrt(lam) * z + 0.5), 0.0)
    p = math.exp(-lam)
    cdf = p
    k = 0
    out = 0.0
    while k < 400 and u > cdf:
        k += 1
        out += 1.0
        p = p * lam / k
        cdf += p
        if p < 1e-17 * cdf:  # round-off: the CDF stopped growing
            break
    return out


def aggregate(values: list[float], actives: list[bool], agg: str) -> float:
    """Monthly values gathered into a plan period with the column's aggregation."""
    if not values:
        return 0.0
    if agg == "sum":
        total = 0.0
        for v in values:
            total += v
        return total
    seen = [v for v, a in zip(values, actives) if a]
    if not seen:
        return 0.0
    if agg == "mean":
        return sum(seen) / len(seen)
    if agg == "last":
        return seen[-1]
    return min(seen) if agg == "min" else max(seen)


def percentile_ranks(values: list[float]) -> list[float]:
    """Position of each value in a stable sort, over (count - 1): 0 for the lowest."""
    n = len(values)
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    for pos, i in enumerate(order):
        ranks[i] = float(pos)
    count = max(n - 1, 1)
    return [r / count for r in ranks]


# --------------------------------------------------------------------------- the model (shared, read-only)

def certainty_equivalent(values: list[float], weights: list[float], rho: float, scale: float) -> float:
    """CARA certainty equivalent of pay known at the quadrature nodes (docs/model.md §3), for
    one rep: ``-(s/rho) ln sum_j w_j exp(-rho V_j / s)``, computed as the model computes it
    (around the mean where ``rho`` times the spread below it is at most ``s``, else around the
    worst outcome; below ``RHO_NEGLIGIBLE`` its limit ``mean - rho/2 var / s``)."""
    mean = weights[0] * values[0]
    for w, v in zip(weights[1:], values[1:]):
        mean = mean + w * v
    if not rho > RHO_NEGLIGIBLE:
        acc = 0.0
        for j, (w, v) in enumerate(zip(weights, values)):
            x = (v - mean) / scale
            acc = w * (x * x) if j == 0 else acc + w * (x * x)
        return mean + scale * (-0.5 * rho * acc)
    lowest = min(values)
    if rho * (mean - lowest) / scale <= 1.0:
        acc = 0.0
        for j, (w, v) in enumerate(zip(weights, values)):
            term = w * math.expm1(min(-rho * ((v - mean) / scale), 1.0))
            acc = term if j == 0 else acc + term
        return mean + scale * (-math.log1p(acc) / rho)
    acc = 0.0
    for j, (w, v) in enumerate(zip(weights, values)):
        term = w * math.exp(-rho * (v - lowest) / scale)
        acc = term if j == 0 else acc + term
    return lowest - scale / rho * math.log(acc)


class Market:
    """The run's demand factor, per team and month, in plain floats (docs/model.md §2): a
    level shock per plan year plus a persistent AR(1) monthly component, ``exp(x - V/2)``."""

    def __init__(self, model: MarketModel, months: int, teams: int, z: list[list[float]]):
        self.model = model
        self.months = months
        years = (months + 11) // 12
        sd0 = math.sqrt(model.month_var)

        def path(zz: list[float]) -> list[float]:
            x, prev = [], 0.0
            for t in range(months):
                prev = sd0 * zz[years] if t == 0 else model.rho * prev + model.month_sigma * zz[years + t]
                x.append(model.year_sigma * zz[t // 12] + prev)
            return x

        company = path(z[0])
        w = model.team_share
        if w <= 0.0:
            self.x = [company] * teams
        else:
            self.x = [[math.sqrt(1.0 - w) * c + math.sqrt(w) * v for c, v in zip(company, path(z[1 + i]))]
                      for i in range(teams)]

    def factor(self, team: int, t: int) -> float:
        """The demand multiplier of month ``t``."""
        return math.exp(self.x[team][t] - self.model.var / 2.0)

    def outlook(self, team: int, t: int) -> tuple[list[float], list[float]]:
        """What a rep deciding in month ``t`` expects of months ``t ..``: expected multipliers
        and variances of the log factor, from the plan year's months seen so far (the
        Gaussian conditional, ``MarketModel.outlook``); a later plan year gets the prior."""
        mdl = self.model
        y0 = (t // 12) * 12
        ahead = self.months - t
        within = min(ahead, y0 + 12 - t)
        mean, var = mdl.outlook(np.array(self.x[team][y0:t]), within)
        f = [float(v) for v in mdl.expected_factor(mean, var)] + [1.0] * (ahead - within)
        return f, [float(v) for v in var] + [mdl.var] * (ahead - within)


def _periods_suffice(checked: CheckedPlan, sc: Scenario) -> bool:
    """Whether the plan's pay on a period's totals is its pay on the deals inside them (the
    engine's :class:`~engine.core.inputs.Mix`): no row-level measures, or only ones that read
    levels every deal carries at the period's value (a survey score averaged over the period)."""
    mix = mix_for(checked, sc)
    if mix is None:
        return True
    if mix.attributes or mix.driven:
        return False
    for m in checked.plan.measures:
        if m.name in checked.row_measures:
            read = {n.name for n in ex.walk(m.code.tree) if isinstance(n, ex.Name) and n.prefix == "actuals"}
            if not read <= set(mix.levels):
                return False
    return True


class Model:
    """Everything the reps share: the scenario's constants, the plan's periods and years, the production model."""

    def __init__(self, checked: CheckedPlan, scenario: Scenario):
        plan = checked.plan
        sc, _ = shape_scenario(checked, scenario)  # the team in the plan's own column names (as the engine)
        self.checked = checked
        self.plan = plan
        self.sc = sc
        columns = sorted(checked.numeric_actual_columns) + mix_columns(sc)
        if placement_for(checked, sc, columns) is not None:
            raise NotImplementedError(f"plan {plan.name}: payment delays are not in the loop baseline")
        if not _periods_suffice(checked, sc):
            raise NotImplementedError(f"plan {plan.name}: the loop prices period totals, and this plan's "
                                      "row-level measures see the kinds of deal inside them")
        self.start = dt.date(sc.start.year, plan.fiscal_year_start, 1)
        self.M = sc.months
        self.days = [float(d) for d in month_days(self.start, self.M)]
        periods, pom = plan_periods(plan.period, plan.fiscal_year_start, self.start, self.M)
        self.periods = periods
        self.P = len(periods)
        self.period_of_month = [int(k) for k in pom]
        self.months_of_period = [[m for m in range(self.M) if self.period_of_month[m] == k] for k in range(self.P)]
        self.last_month = [m == self.M - 1 or self.period_of_month[m + 1] != self.period_of_month[m]
                           for m in range(self.M)]
        # Plan years: year-to-date terms, quotas, the hopeless test and pay to date restart.
        fy = [periods[k].fiscal_year for k in self.period_of_month]
        names = list(dict.fromkeys(fy))
        self.Y = len(names)
        self.year_of_month = [names.index(f) for f in fy]
        self.year_of_period = [names.index(p.fiscal_year) for p in periods]
        self.year_months = [[m for m in range(self.M) if self.year_of_month[m] == y] for y in range(self.Y)]
        self.year_periods = [[k for k in range(self.P) if self.year_of_period[k] == y] for y in range(self.Y)]
        self.season = [float(sc.seasonality[(self.start.month - 1 + i) % 12]) for i in range(self.M)]
        self.reach = _period_reach(checked)
        self.cross_period = self.reach != 0
        self.cross_rep = uses_cross_rep(checked)
        nodes, weights = quadrature(sc.noise_points)
        self.nodes = [float(x) for x in nodes]
        self.weights = [float(w) for w in weights]
        self.grid = [float(g) for g in sc.effort_grid]
        self.A = len(sc.activities)
        self.shares = [a.share for a in sc.activities]
        self.max_effort = [a.max_effort for a in sc.activities]
        self.act_index = {a.name: i for i, a in enumerate(sc.activities)}
        prod = Production(sc)  # only for the order of outputs (share_of after what it is a share of)
        self.outputs = [(o.name, o.kind, self.act_index[o.activity], dict(o.params)) for o in prod.outputs]
        self.primary = sc.primary_measure
        self.primary_activity = self.act_index[sc.output(self.primary).activity]
        self.primary_cv = prod.monthly_cv(sc.output(self.primary))
        self.amount_cols = {o.name for o in sc.outputs if o.kind in ("amount", "share_of")}
        self.plan_cols = {col: checked.actual_columns.get(col, "sum") for col in columns}  # column -> aggregation
        missing = sorted(set(self.plan_cols) - set(sc.actual_columns))
        if missing:
            raise ValueError(f"plan {plan.name} uses actuals.{missing[0]}, which the scenario does not produce")
        self.relevant = self._relevant_activities()
        self.mp = dict(sc.morale)
        self.ap = dict(sc.attrition)
        self.base_hazard = 1.0 - (1.0 - self.ap["annual_base_rate"]) ** (1.0 / 12.0)
        self.policy = sc.quota_policy
        self.ratchet = self.policy.ratchet_weight * self.policy.discount
        self.market = sc.market if sc.market.active else None
        target = sc.primary_target
        self.quota_columns = [target] + [name for name, source, _ in sc.derived_columns
                                         if source == target and name != target]

    def _relevant_activities(self) -> list[int]:
        used = set(self.plan_cols)
        changed = True
        while changed:
            changed = False
            for o in self.sc.outputs:
                if o.name in used and o.kind == "share_of" and o.get("of") not in used:
                    used.add(o.get("of"))
                    changed = True
        acts = set()
        for o in self.sc.outputs:
            if o.name in used:
                acts.add(self.act_index[o.activity])
                if o.kind in ("score", "incidents") and o.get("pressure", 0.0):
                    acts.add(self.primary_activity)
        return sorted(acts)

    def window(self, k: int, timing: bool) -> list[int]:
        """Plan periods whose pay this month's choices can change."""
        if self.reach is None:  # year-to-date terms: the periods of k's plan year
            return list(self.year_periods[self.year_of_period[k]])
        lo = max(k - self.reach, 0)
        hi = min(k + self.reach + (1 if timing else 0), self.P - 1)
        return list(range(lo, hi + 1))

    def pay_window(self, k: int) -> list[int]:
        """The periods evaluated to pay period ``k`` on the realized actuals."""
        if self.reach is None:  # year-to-date terms: from the start of k's plan year
            return [q for q in self.year_periods[self.year_of_period[k]] if q <= k]
        return list(range(k + 1)) if self.cross_period else [k]

    def timing_month(self, t: int) -> bool:
        """Whether business can move across the period end after month ``t`` (inside a plan year)."""
        sc = self.sc
        return (self.last_month[t] and t + 1 < self.M and (sc.timing_max_shift > 0 or sc.timing_max_push > 0)
                and self.year_of_month[t + 1] == self.year_of_month[t] and self.primary in self.plan_cols)

    def ramp(self, tenure: float) -> float:
        T, r0 = self.sc.ramp_months, self.sc.ramp_start
        if T <= 0:
            return 1.0
        return min(1.0, r0 + (1.0 - r0) * tenure / T)

    # -- production, one rep and one month ------------------------------------------------

    def expected(self, eff: list[float], skill: float, quota: float, season: float, ramp: float) -> dict[str, float]:
        """Expected outputs of a month; ``season`` is the demand factor (seasonality times the market)."""
        out: dict[str, float] = {}
        prim = eff[self.primary_activity]
        for name, kind, ai, p in self.outputs:
            e = eff[ai]
            if kind == "amount":
                out[name] = (p.get("level", 1.0) * quota / 12.0 * skill * season * ramp
                             * _pow(e, p.get("elasticity", 1.0)))
            elif kind == "count":
                out[name] = (p.get("mean", 1.0) * _pow(skill, p.get("skill_elasticity", 1.0)) * season * ramp
                             * _pow(e, p.get("elasticity", 1.0)))
            elif kind == "share_of":
                rate = _clip(p.get("base", 0.9) + p.get("gain", 0.0) * _log(e), 0.0, 1.0)
                out[name] = rate * out[p["of"]]
            elif kind == "score":
                out[name] = _clip(p.get("base", 0.0) + p.get("gain", 0.0) * _log(e)
                                  - p.get("pressure", 0.0) * _log(prim), 0.0, p.get("max", 5.0))
            elif kind == "incidents":
                out[name] = (p.get("mean", 1.0) * _pow(e, p.get("elasticity", -1.0))
                             * _pow(prim, p.get("pressure", 0.0)))
        return out

    def realize(self, expected: dict[str, float], eff: list[float], us: list[float],
                zs: list[float]) -> dict[str, float]:
        out: dict[str, float] = {}
        prim = eff[self.primary_activity]
        for i, (name, kind, ai, p) in enumerate(self.outputs):
            mu, u, z = expected[name], us[i], zs[i]
            if kind == "amount":
                noise = p.get("noise", "lognormal")
                if noise == "none":
                    out[name] = mu
                elif noise == "deals":
                    lam = p.get("deals_per_month", 4.0)
                    ssig = p.get("size_sigma", 0.8)
                    n = poisson_ppf(u, lam)
                    if n > 0:
                        s2 = math.log1p(math.expm1(ssig * ssig) / n)
                        out[name] = mu * (n / lam * math.exp(math.sqrt(s2) * z - s2 / 2.0))
                    else:
                        out[name] = 0.0
                else:
                    s = p.get("sigma", 0.35)
                    out[name] = mu * math.exp(s * z - s * s / 2.0)
            elif kind in ("count", "incidents"):
                out[name] = poisson_ppf(u, mu)
            elif kind == "share_of":
                rate = _clip(p.get("base", 0.9) + p.get("gain", 0.0) * _log(eff[ai]) + p.get("sd", 0.0) * z, 0.0, 1.0)
                out[name] = rate * out[p["of"]]
            elif kind == "score":
                out[name] = _clip(p.get("base", 0.0) + p.get("gain", 0.0) * _log(eff[ai])
                                  - p.get("pressure", 0.0) * _log(prim) + p.get("sd", 0.0) * z, 0.0, p.get("max", 5.0))
        return out

    # -- the plan, through the scalar reference evaluator ----------------------------------

    def pay(self, rows: list[Row], window: list[int]):
        """Pay the plan on ``rows`` (one per rep) over the window's periods: the reference evaluator."""
        roster: dict[str, np.ndarray] = {}
        for col in rows[0].roster:
            vals = [r.roster[col] for r in rows]
            roster[col] = np.array(vals, dtype=object if isinstance(vals[0], str) else float)
        inputs = Inputs(
            rep_ids=np.array([r.rep_id for r in rows], dtype=object),
            periods=tuple(self.periods[k] for k in window),
            roster=roster,
            actuals={col: np.array([r.actuals[col] for r in rows], dtype=float) for col in self.plan_cols},
            active=np.array([r.active for r in rows], dtype=bool),
            proration=np.array([r.proration for r in rows], dtype=float),
        )
        return ReferenceEvaluator(self.checked, inputs).run()


@dataclasses.dataclass
class Row:
    """One rep's row of plan inputs over a window of periods."""

    rep_id: str
    roster: dict
    actuals: dict[str, list[float]]
    active: list[bool]
    proration: list[float]


@dataclasses.dataclass
class Outlook:
    """Where a rep stands when it prices a choice: the month it looks from, its tenure then,
    its realized primary output (with any business moved at the period's close), the
    business carried into that month, and the market it expects from it on."""

    t: int
    tenure: float
    carry: float
    primary: list[float]
    market: list[float] | None
    market_var: list[float] | None


# --------------------------------------------------------------------------- the agents

class Rep:
    """One sales rep: traits, morale, tenure, effort choices and monthly actuals, all plain Python."""

    def __init__(self, model: Model, slot: int, seat: int, seat_roster: dict, seed: int, hired: bool):
        self.model = model
        sc = model.sc
        self.slot = slot
        self.seat = seat
        self.rep_id = seat_roster["rep_id"] if not hired else f"H{slot - seat_roster['seats'] + 1:05d}"
        self.first_roster = {k: v for k, v in seat_roster.items() if k not in ("rep_id", "seats")}
        self.cols = dict(self.first_roster)  # the seat's columns this plan year (quotas move with the policy)
        self.scale = float(self.first_roster[sc.primary_target])  # what production scales with
        self.quota = self.scale
        self.ti = float(self.first_roster["ti"])
        self.base_salary = float(self.first_roster["base_salary"])
        self.ote = self.ti + self.base_salary
        self.rng = random.Random(f"{seed}/{slot}")  # the rep's own random numbers
        rng = self.rng
        tenure = max(sample(sc.tenure_months, rng), 0.0)
        self.tenure = 0.0 if hired else tenure
        self.skill = max(sample(sc.skill, rng), 1e-6)
        self.kappa = max(sample(sc.effort_cost, rng), 1e-6)
        self.rho = max(sample(sc.risk_aversion, rng), 0.0)
        self.outside = max(sample(sc.outside_offer, rng), 0.0)
        self.morale0 = _clip(sample(sc.initial_morale, rng), 0.0, 1.0)
        self.morale = self.morale0
        self.hired = hired
        self.present = True
        self.left = False
        self.regretted = False
        self.choice = [1.0] * model.A
        M = model.M
        self.actual = {col: [0.0] * M for col in sc.actual_columns}
        self.active = [False] * M
        self.effort_m = [0.0] * M
        self.morale_m = [0.0] * M
        self.carry = 0.0
        self.pay_to_date = 0.0
        self.ti_to_date = 0.0
        self.expected_period_pay = 0.0
        self.outside_gap = 0.0
        self.quit_u = 1.0
        self.mm = 1.0
        self.seen_tenure = self.tenure
        self.year_roster: list[dict] = []
        self.market: list[float] | None = None  # expected demand multiplier from this month on
        self.market_var: list[float] | None = None

    # -- what the plan sees ------------------------------------------------------------

    def apply_quota(self, seat_quota: float) -> None:
        """The seat's quota this plan year, and the roster columns that are multiples of it."""
        ratio = seat_quota / self.scale if self.scale > 0 else 1.0
        for name in self.model.quota_columns:
            if name in self.first_roster:
                self.cols[name] = float(self.first_roster[name]) * ratio
        self.quota = float(self.cols[self.model.sc.primary_target])

    def roster(self) -> dict:
        """The roster row as the plan sees it this month (status and tenure as at the month's start)."""
        ramping = self.hired or self.seen_tenure < self.model.sc.ramp_months
        return dict(self.cols, status="new_hire" if ramping else "tenured", tenure_months=self.seen_tenure)

    def realized_row(self, window: list[int], upto: int, roster: dict | None = None) -> Row:
        """Realized actuals of the months before ``upto`` gathered into the window's periods."""
        md = self.model
        acts: dict[str, list[float]] = {col: [] for col in md.plan_cols}
        active, prorate = [], []
        for k in window:
            ms = [m for m in md.months_of_period[k] if m < upto]
            for col, agg in md.plan_cols.items():
                acts[col].append(aggregate([self.actual[col][m] for m in ms], [self.active[m] for m in ms], agg))
            got = 0.0
            for m in ms:
                got += md.days[m] if self.active[m] else 0.0
            active.append(got > 0)
            prorate.append(got / md.periods[k].days)
        return Row(self.rep_id, self.roster() if roster is None else roster, acts, active, prorate)

    # -- the decision ------------------------------------------------------------------

    def now(self, t: int) -> Outlook:
        """This month as the rep sees it when choosing effort."""
        return Outlook(t, self.tenure, self.carry, self.actual[self.model.primary], self.market, self.market_var)

    def project(self, view: Outlook, future: list[int], choice: list[float]) -> dict[int, dict[str, float]]:
        """Expected outputs of the months from ``view.t`` on, at the same effort for the rest of the window."""
        md = self.model
        eff = [c * self.mm for c in choice]
        proj = {}
        for m in future:
            season = md.season[m] if view.market is None else md.season[m] * view.market[m - view.t]
            proj[m] = md.expected(eff, self.skill, self.scale, season, md.ramp(view.tenure + (m - view.t)))
        return proj

    def projected_row(self, view: Outlook, window: list[int], proj: dict, factor: float) -> Row:
        """The window's plan inputs: realized months so far, projections (the amounts times a
        noise node) after; business carried into the month is known deals, added after the noise."""
        md = self.model
        t = view.t
        acts: dict[str, list[float]] = {col: [] for col in md.plan_cols}
        active, prorate = [], []
        for k in window:
            ms = md.months_of_period[k]
            act_ms = [self.active[m] if m < t else self.present for m in ms]
            for col, agg in md.plan_cols.items():
                past = view.primary if col == md.primary else self.actual[col]
                vals = []
                for m in ms:
                    if m < t:
                        vals.append(past[m])
                        continue
                    v = factor * proj[m][col] if col in md.amount_cols else proj[m][col]
                    vals.append(v + view.carry if col == md.primary and m == t else v)
                acts[col].append(aggregate(vals, act_ms, agg))
            got = 0.0
            for m, a in zip(ms, act_ms):
                got += md.days[m] if a else 0.0
            active.append(got > 0)
            prorate.append(got / md.periods[k].days if ms else 0.0)
        return Row(self.rep_id, self.roster(), acts, active, prorate)

    def utility(self, view: Outlook, window: list[int], choice: list[float], team: Team,
                views: dict | None = None) -> tuple[float, list[float]]:
        """Certainty equivalent of the window's pay at effort ``choice`` seen from ``view``,
        minus the cost of effort (and, under a ratchet, what the year's output costs in next
        year's pay). ``views``: where the other reps stand (plans whose pay depends on them).

        Returns ``(utility, expected pay per window period)``.
        """
        md = self.model
        t = view.t
        future = [m for k in window for m in md.months_of_period[k] if m >= t]
        n_rem = len(future)
        cv = md.primary_cv / math.sqrt(max(n_rem, 1))
        s2 = math.log1p(cv * cv)
        if view.market_var is not None and future:  # the market's uncertainty over the months left
            s2 = s2 + sum(view.market_var[m - t] for m in future) / len(future)
        s = math.sqrt(s2)
        factors = [math.exp(s * x - s * s / 2.0) for x in md.nodes]
        proj = self.project(view, future, choice)
        if md.cross_rep:  # pay depends on the others: this rep deviates, the others keep their choices
            assert views is not None
            others = [(r, views[r.slot], proj if r is self else r.project(views[r.slot], future, r.choice))
                      for r in team.present_reps()]
            me = [r for r, _, _ in others].index(self)
        vs, pps = [], []
        for f in factors:
            if md.cross_rep:
                res = md.pay([r.projected_row(v, window, p, f) for r, v, p in others], window)
                pp = res.total[me].tolist()
            else:
                res = md.pay([self.projected_row(view, window, proj, f)], window)
                pp = res.total[0].tolist()
            v = pp[0]
            for x in pp[1:]:
                v += x
            vs.append(v)
            pps.append(pp)
        w = md.weights
        ti_m = max(self.ti / 12.0, 1e-9)
        ce = certainty_equivalent(vs, w, self.rho, ti_m)
        cost = 0.0
        for a, (sh, c) in enumerate(zip(md.shares, choice)):
            d = max(c - 1.0, 0.0)
            cost = sh * (d * d) if a == 0 else cost + sh * (d * d)
        u = ce - self.kappa * ti_m * n_rem * 0.5 * cost
        if md.ratchet > 0:  # next year's quota rises with this year's output (docs/model.md §10)
            y = md.year_of_month[t]
            output = 0.0
            for m in future:
                if md.year_of_month[m] == y:
                    output += proj[m][md.primary] + (view.carry if m == t else 0.0)
            u -= self.ratchet_price() * output
        expected_pp = []
        for i in range(len(window)):
            e = w[0] * pps[0][i]
            for j in range(1, len(w)):
                e = e + w[j] * pps[j][i]
            expected_pp.append(e)
        return u, expected_pp

    def ratchet_price(self) -> float:
        """What a unit of this year's primary output costs in next year's pay under a ratchet."""
        return self.model.ratchet * self.ti / max(self.quota, 1e-9)

    def start_month(self, t: int, team: Team) -> None:
        md = self.model
        self.active[t] = True
        self.seen_tenure = self.tenure
        self.mm = md.mp["effort_floor"] + (1.0 - md.mp["effort_floor"]) * self.morale
        if team.market is not None:  # what the rep expects of the market, seeing the months so far
            self.market, self.market_var = team.market.outlook(team.team_of_seat[self.seat], t)

    def best_level(self, t: int, a: int, team: Team) -> tuple[float, list[float]]:
        """The best level of activity ``a`` over the effort grid, the other activities held at
        their current choice; and the expected pay per window period at that level."""
        md = self.model
        window = md.window(md.period_of_month[t], False)
        views = {r.slot: r.now(t) for r in team.present_reps()} if md.cross_rep else None
        view = views[self.slot] if views is not None else self.now(t)
        best_u: float | None = None
        best, best_pp = self.choice[a], None
        for g in md.grid:
            if g > md.max_effort[a] + 1e-12:
                continue
            choice = list(self.choice)
            choice[a] = g
            u, pp = self.utility(view, window, choice, team, views)
            if best_u is None or u > best_u + 1e-9 * abs(best_u):
                best_u, best, best_pp = u, g, pp
        assert best_pp is not None
        return best, best_pp

    def expect_period_pay(self, t: int, pp: list[float] | None) -> None:
        """At a period's first month: what the rep expects from it, for the morale update at its close."""
        md = self.model
        k = md.period_of_month[t]
        window = md.window(k, False)
        if pp is not None and (t == 0 or md.period_of_month[t - 1] != k):
            self.expected_period_pay = pp[window.index(k)]

    # -- the month's outcome -------------------------------------------------------------

    def produce(self, t: int, team: Team, draws: tuple | None = None) -> None:
        """Realize the month's outputs with the rep's own draws (or given ones: see ``engine_run``)."""
        md = self.model
        rng = self.rng
        eff = [c * self.mm for c in self.choice]
        season = md.season[t] if team.market is None else md.season[t] * team.market.factor(
            team.team_of_seat[self.seat], t)
        exp_vals = md.expected(eff, self.skill, self.scale, season, md.ramp(self.tenure))
        n_out = len(md.outputs)
        if draws is None:
            us = [rng.random() for _ in range(n_out)]
            zs = [rng.gauss(0.0, 1.0) for _ in range(n_out)]
            self.quit_u = rng.random()
        else:
            us, zs = draws
        real = md.realize(exp_vals, eff, us, zs)
        # Business moved across the last period end: pushed business arrives, pulled business
        # is missing (where the month brings less than was pulled, the rest from the next).
        prim = real[md.primary] + self.carry
        self.carry = min(prim, 0.0)
        real[md.primary] = prim - self.carry
        for col in self.actual:
            self.actual[col][t] = real[col]
        total = 0.0
        for a, (e, sh) in enumerate(zip(eff, md.shares)):
            total = e * sh if a == 0 else total + e * sh
        self.effort_m[t] = total
        self.morale_m[t] = self.morale

    def timing_moves(self, t: int, team: Team) -> list[tuple[float, float]]:
        """At the period's close, the business the rep could move: for each timing step,
        ``(business added to this month, carry into the next)``. Up to ``max_shift`` of the
        period's expected business (at this month's expected rate) pulled from next month,
        up to ``max_push`` of it, at most what the month brought, pushed into it."""
        md = self.model
        sc = md.sc
        eff = [c * self.mm for c in self.choice]
        season = md.season[t] if self.market is None else md.season[t] * self.market[0]
        rate = MONTHS_PER_PERIOD[md.plan.period] * md.expected(eff, self.skill, self.scale, season,
                                                                md.ramp(self.tenure))[md.primary]
        pull_most, push_most = sc.timing_max_shift * rate, sc.timing_max_push * rate
        month = max(self.actual[md.primary][t], 0.0)
        moves = []
        for d in TIMING_STEPS:
            pulled = max(d, 0.0) * pull_most
            pushed = min(max(-d, 0.0) * push_most, month)
            moves.append((pulled * (1.0 - sc.timing_pull_cost) - pushed,
                          self.carry - pulled + pushed * (1.0 - sc.timing_push_cost)))
        return moves

    def next_month(self, t: int, team: Team, move: tuple[float, float] | None = None) -> Outlook:
        """Next month as the rep sees it at this period's close, after a timing move (default
        none): a month more tenure, the market seen to date."""
        if move is None:
            move = (0.0, self.carry)
        primary = list(self.actual[self.model.primary])
        primary[t] += move[0]
        market, var = (None, None) if team.market is None else team.market.outlook(team.team_of_seat[self.seat], t + 1)
        return Outlook(t + 1, self.tenure + 1.0, move[1], primary, market, var)

    def choose_timing(self, t: int, team: Team) -> tuple[float, float]:
        """Pull forward, push out or neither, by the same utility as effort, valued from next month."""
        md = self.model
        window = md.window(md.period_of_month[t], True)
        views = {r.slot: r.next_month(t, team) for r in team.present_reps()} if md.cross_rep else None
        best_u: float | None = None
        best = (0.0, 0.0)
        for move in self.timing_moves(t, team):
            view = self.next_month(t, team, move)
            if views is not None:
                views = {**views, self.slot: view}
            u, _ = self.utility(view, window, self.choice, team, views)
            if md.ratchet > 0:  # the moved business counts toward next year's quota like the months ahead
                u -= self.ratchet_price() * move[0]
            if best_u is None or u > best_u + 1e-9 * abs(best_u):
                best_u, best = u, move
        return best

    def period_pay(self, k: int, t: int) -> tuple[float, float, float]:
        """Pay, target incentive and awards for period k on the realized actuals."""
        md = self.model
        window = md.pay_window(k)
        res = md.pay([self.realized_row(window, t + 1)], window)
        return _period_figures(md, res, 0, window)

    def primary_year_to_date(self, t: int) -> float:
        md = self.model
        y0 = md.year_months[md.year_of_month[t]][0]
        total = 0.0
        for v in self.actual[md.primary][y0: t + 1]:
            total += v
        return total

    def monthly_morale(self, t: int) -> None:
        """Outside offers, hopeless targets and recovery; then clip."""
        md = self.model
        mp = md.mp
        months = md.year_months[md.year_of_month[t]]
        y0, end = months[0], months[-1] + 1
        pay_ratio = self.pay_to_date / max(self.ti_to_date, 1e-9) if self.ti_to_date > 0 else 1.0
        seen = (t + 1 - y0) / (end - y0)
        comp_ratio = (float(self.cols["base_salary"]) + self.ti * (seen * pay_ratio + 1.0 - seen)) / max(self.ote, 1e-9)
        self.outside_gap = max(self.outside - comp_ratio, 0.0)
        hopeless = 0.0
        if t + 1 < end:  # even the highest effort for the rest of the plan year leaves the rep under 80%
            emax = [md.grid[-1] * self.mm] * md.A
            rest = 0.0
            for m in range(t + 1, end):
                season = md.season[m] if self.market is None else md.season[m] * self.market[m - t]
                rest += md.expected(emax, self.skill, self.scale, season, md.ramp(self.tenure + (m - t)))[md.primary]
            months_in_role = sum(self.active[y0: t + 1]) + (end - t - 1)
            if self.primary_year_to_date(t) + rest < 0.8 * self.quota * months_in_role / 12.0:
                hopeless = 1.0
        updated = (self.morale - mp["outside_gap"] * self.outside_gap - mp["hopeless"] * hopeless
                   + mp["recovery"] * (self.morale0 - self.morale))
        self.morale = _clip(updated, 0.0, 1.0)

    def hazard(self) -> float:
        ap = self.model.ap
        return self.model.base_hazard * math.exp(ap["morale_sensitivity"] * (1.0 - self.morale)
                                                 + ap["outside_sensitivity"] * self.outside_gap)


def _period_figures(md: Model, res, i: int, window: list[int]) -> tuple[float, float, float]:
    pay = float(res.total[i][-1])
    ti_vals = res.values["target_incentive"][i]
    ti_k = float(ti_vals[-1])
    if md.plan.accumulate == "year" and len(window) > 1:
        ti_k -= float(ti_vals[-2])
    awards = 0.0
    for c in md.plan.components:
        if kind_of(c.kind).contest and res.columns[c.name][i][-1] > 0:
            awards += 1.0
    return pay, ti_k, awards


class Team:
    """The team of one run: seats filled by reps, stepped month by month."""

    def __init__(self, model: Model, seed: int, reps: int, engine_run: int | None = None):
        """``engine_run``: for validation only, take traits and every random number from the
        engine's streams of that run (engine/sim/streams.py, same shapes and order) instead
        of the reps' own generators, so the loop can be compared with the engine number for number."""
        self.model = model
        self.seed = seed
        sc = model.sc
        roster = build_roster(sc)  # the company's seats (same in every run, as in the engine)
        self.seats = roster.seats
        assert self.seats == reps
        self.capacity = self.seats + hire_capacity(self.seats, model.M)
        self.seat_rows = []
        for s in range(self.seats):
            row = {name: (col[s] if isinstance(col[s], str) else float(col[s])) for name, col in roster.columns.items()}
            row["rep_id"] = str(roster.rep_ids[s])
            row["seats"] = self.seats
            self.seat_rows.append(row)
        team_of_seat, teams = team_index(roster.columns, self.seats)
        self.team_of_seat = [int(x) for x in team_of_seat]
        self.seat_quota: list[float] | None = None  # each seat's quota after the first plan year
        self.refill: dict[int, int] = {}  # seat -> month its backfill starts
        self.streams: RunStreams | None = None
        years = (model.M + 11) // 12
        z_shape = (1 + teams, years + model.M + 1)
        if engine_run is not None:
            self.streams = RunStreams(seed, [int(engine_run)])
            tr = draw_traits(sc, self.streams, self.capacity, self.seats)
            self.traits = [{name: float(getattr(tr, name)[0, i]) for name in
                            ("skill", "kappa", "rho", "outside", "morale0", "tenure")} for i in range(self.capacity)]
            z = self.streams.standard_normal("market", z_shape)[0].tolist() if model.market is not None else []
        else:
            rng = random.Random(f"{seed}/market")
            z = [[rng.gauss(0.0, 1.0) for _ in range(z_shape[1])] for _ in range(z_shape[0])]
        self.market = Market(model.market, model.M, teams, z) if model.market is not None else None
        self.reps: list[Rep] = [self.new_rep(s, s, hired=False) for s in range(self.seats)]

    def new_rep(self, slot: int, seat: int, hired: bool) -> Rep:
        rep = Rep(self.model, slot, seat, self.seat_rows[seat], self.seed, hired=hired)
        if self.streams is not None:
            for name, v in self.traits[slot].items():
                setattr(rep, name, v)
            rep.morale = rep.morale0
        if self.seat_quota is not None:
            rep.apply_quota(self.seat_quota[seat])
        return rep

    def present_reps(self) -> list[Rep]:
        return [r for r in self.reps if r.present]

    def step(self, t: int) -> None:
        md = self.model
        # 1. Backfills whose vacancy is over.
        for seat in sorted(s for s, when in self.refill.items() if when == t):
            del self.refill[seat]
            if len(self.reps) < self.capacity:
                self.reps.append(self.new_rep(len(self.reps), seat, hired=True))
        present = self.present_reps()
        for rep in present:
            rep.start_month(t, self)
        # 2. Effort, one rep at a time (coordinate search, one relevant activity at a time;
        #    every rep decides against the others' choices so far, then all commit).
        pps: list[list[float] | None] = [None] * len(present)
        for a in md.relevant:
            decided = [rep.best_level(t, a, self) for rep in present]
            for i, (rep, (level, pp)) in enumerate(zip(present, decided)):
                rep.choice[a] = level
                pps[i] = pp
        for rep, expected in zip(present, pps):
            rep.expect_period_pay(t, expected)
        # 3. Outcomes.
        if self.streams is None:
            for rep in present:
                rep.produce(t, self)
        else:
            n_out = len(md.outputs)
            uni = self.streams.random("output_uniform", (n_out, self.capacity))[0]
            nor = self.streams.standard_normal("output_normal", (n_out, self.capacity))[0]
            for rep in present:
                rep.produce(t, self, (uni[:, rep.slot].tolist(), nor[:, rep.slot].tolist()))
        # 3b. At a period's close, knowing its business: pull business forward, push some out, or neither.
        if md.timing_month(t):
            moves = [rep.choose_timing(t, self) for rep in present]
            for rep, (now, carry) in zip(present, moves):
                rep.actual[md.primary][t] += now
                rep.carry = carry
        # 4. Period close: pay and morale's response (fairness: a plain sort over the reps).
        y = md.year_of_month[t]
        y0 = md.year_months[y][0]
        if md.last_month[t]:
            k = md.period_of_month[t]
            if md.cross_rep:
                window = md.pay_window(k)
                everyone = self.reps
                res = md.pay([r.realized_row(window, t + 1) for r in everyone], window)
                figures = {id(r): _period_figures(md, res, i, window) for i, r in enumerate(everyone)}
                paid = [figures[id(r)] for r in present]
            else:
                paid = [rep.period_pay(k, t) for rep in present]
            perf = [rep.primary_year_to_date(t) / max(rep.quota * (t + 1 - y0) / 12.0, 1e-9) for rep in present]
            pay_pct = percentile_ranks([p[0] for p in paid])
            perf_pct = percentile_ranks(perf)
            mp = md.mp
            for i, rep in enumerate(present):
                pay, ti_k, awards = paid[i]
                rep.pay_to_date += pay
                rep.ti_to_date += ti_k
                gap = _clip((pay - rep.expected_period_pay) / max(ti_k, 1e-9), -1.0, 1.0)
                unfair = abs(pay_pct[i] - perf_pct[i])
                rep.morale = rep.morale + mp["pay_gap"] * gap - mp["unfair"] * unfair + mp["wins"] * awards
        # Every month: outside offers, hopeless targets, recovery.
        for rep in present:
            rep.monthly_morale(t)
        # 5. Quits at the end of the month (the horizon's last month too); the seat is refilled after the vacancy.
        if self.streams is not None:
            quit_u = self.streams.random("quits", (self.capacity,))[0]
            for rep in present:
                rep.quit_u = float(quit_u[rep.slot])
        quits = [rep for rep in present if rep.quit_u < rep.hazard()]
        if quits:
            perf = []
            for r in present:
                in_role = sum(r.active[y0: t + 1])
                perf.append(r.primary_year_to_date(t) / max(r.quota * max(in_role, 1) / 12.0, 1e-9))
            top = {id(r): p >= 0.75 for r, p in zip(present, percentile_ranks(perf))}
            start_at = t + 1 + int(md.ap["vacancy_months"])
            for rep in quits:
                rep.regretted = top[id(rep)]
                rep.left = True
                rep.present = False
                rep.carry = 0.0
                if start_at < md.M:
                    self.refill[rep.seat] = start_at
        for rep in self.reps:
            if rep.present:
                rep.tenure += 1.0
        # 6. After a plan year's last month: the quota policy sets next year's quotas.
        if t + 1 < md.M and md.year_of_month[t + 1] != y:
            self.new_year(t)

    def new_year(self, t: int) -> None:
        """Next year's quota of each seat from the year's primary actual of the rep holding it
        (months out of the role at target; a vacant seat on target); pay to date restarts."""
        md = self.model
        y0 = md.year_months[md.year_of_month[t]][0]
        for rep in self.reps:
            rep.year_roster.append(rep.roster())
        if self.seat_quota is None:
            self.seat_quota = [float(row[md.sc.primary_target]) for row in self.seat_rows]
        new = [float(md.policy.next_quota(q, q)) for q in self.seat_quota]
        for rep in self.present_reps():
            annual = rep.primary_year_to_date(t) + rep.quota * max(12 - sum(rep.active[y0: t + 1]), 0) / 12.0
            new[rep.seat] = max(float(md.policy.next_quota(rep.quota, annual)), 0.1 * rep.quota)
        self.seat_quota = new
        for rep in self.reps:
            rep.apply_quota(new[rep.seat])
            rep.pay_to_date = 0.0
            rep.ti_to_date = 0.0

    def finish(self) -> dict:
        """Pay each plan year on its realized actuals (with the roster as at its end) and summarize the run."""
        md = self.model
        reps = [r for r in self.reps if any(r.active)]
        payouts = [0.0] * len(reps)
        targets = [0.0] * len(reps)
        for y in range(md.Y):
            window = md.year_periods[y]
            rosters = [r.year_roster[y] if y < len(r.year_roster) else r.roster() for r in reps]
            if md.cross_rep:
                res = md.pay([r.realized_row(window, md.M, ro) for r, ro in zip(reps, rosters)], window)
                totals = [res.total[i].tolist() for i in range(len(reps))]
            else:
                totals = [md.pay([r.realized_row(window, md.M, ro)], window).total[0].tolist()
                          for r, ro in zip(reps, rosters)]
            ms = md.year_months[y]
            year_days = sum(md.days[m] for m in ms)
            for i, (r, ro) in enumerate(zip(reps, rosters)):
                payouts[i] += sum(totals[i])
                days_active = sum(md.days[m] for m in ms if r.active[m])
                targets[i] += float(ro[md.sc.primary_target]) * days_active / year_days * (len(ms) / 12.0)
        attainment = [sum(r.actual[md.primary]) / max(target, 1e-9) if target > 0 else 0.0
                      for r, target in zip(reps, targets)]
        active_months = sum(sum(r.active) for r in reps)
        effort_sum = sum(sum(r.effort_m) for r in reps)
        return {
            "rep_months": int(active_months),
            "mean_attainment": sum(attainment) / len(attainment),
            "mean_effort": effort_sum / max(active_months, 1),
            "cost": sum(payouts),
            "payout_per_rep": sum(payouts) / len(payouts),
            "revenue": sum(sum(r.actual[md.primary]) for r in reps),
            "reps_ever": len(reps),
            "leavers": sum(r.left for r in reps),
            "per_rep": {r.slot: {"attainment": a, "payout": p, "effort": sum(r.effort_m) / max(sum(r.active), 1),
                                 "left": r.left} for r, a, p in zip(reps, attainment, payouts)},
        }


# --------------------------------------------------------------------------- entry points

def run_loop(checked: CheckedPlan, scenario: Scenario, reps: int, seed: int, months: int | None = None) -> dict:
    """Simulate one run of `reps` reps one object at a time; returns {'rep_months': int, 'seconds': float,
    'mean_attainment': float, 'mean_effort': float, 'cost': float} (plus payout_per_rep, revenue, reps_ever,
    leavers, and ``per_rep``: slot -> attainment, payout, effort, left).

    ``scenario`` is resized to ``reps`` seats (and ``months`` if given); ``rep_months`` counts the
    months reps were in the role (the same as the engine's ``active_months``).
    """
    sc = scenario
    if sc.reps != reps or sc.teams > reps:
        sc = dataclasses.replace(sc, reps=reps, teams=min(sc.teams, reps))
    if months is not None:
        sc = dataclasses.replace(sc, months=int(months))
    t0 = time.perf_counter()
    model = Model(checked, sc)
    team = Team(model, seed, reps)
    for t in range(model.M):
        team.step(t)
    out = team.finish()
    out["seconds"] = time.perf_counter() - t0
    return out


def check_against_engine(checked: CheckedPlan, scenario: Scenario, seed: int, run: int = 0,
                         backfills: bool = False) -> dict:
    """Validation: the loop fed the engine's random numbers of one run, against the engine, rep by rep.

    The loop takes the engine's traits and every random number of run ``run`` (its streams,
    in the engine's shapes and order). With ``backfills=False`` seats stay vacant after a
    quit (``vacancy_months`` = the horizon); with backfills the two agree as well. Returns
    ``reps`` (the loop's reps) and ``same_reps`` (the engine's are the same slots),
    ``leavers`` (loop, engine) and ``max_rel_diff``: the largest relative difference over
    the reps of attainment, payout and effort (absolute where the engine's value is 0).
    """
    from engine.sim.simulate import Simulation

    sc = scenario
    if not backfills:
        sc = dataclasses.replace(sc, attrition=tuple((k, float(sc.months) if k == "vacancy_months" else v)
                                                      for k, v in sc.attrition))
    model = Model(checked, sc)
    team = Team(model, seed, sc.reps, engine_run=run)
    for t in range(model.M):
        team.step(t)
    loop = team.finish()
    res = Simulation(checked, sc, seed).run_chunk(np.array([run]))
    worst = {"attainment": 0.0, "payout": 0.0, "effort": 0.0}
    engine_slots = set(np.nonzero(res.rep_mask[0])[0].tolist())
    for slot, v in loop["per_rep"].items():
        for key, arr in (("attainment", res.attainment), ("payout", res.payout), ("effort", res.effort)):
            b = float(arr[0, slot])
            worst[key] = max(worst[key], abs(v[key] - b) / max(abs(b), 1e-9) if b else abs(v[key]))
    return {"reps": len(loop["per_rep"]), "same_reps": engine_slots == set(loop["per_rep"]),
            "leavers": (loop["leavers"], int(res.leavers[0])), "max_rel_diff": worst}


def run_vectorized(checked: CheckedPlan, scenario: Scenario, seed: int, runs: int) -> dict:
    """The vectorized engine on the same scenario: throughput and the same averages (pooled over runs)."""
    from engine.sim.simulate import Simulation

    sim = Simulation(checked, scenario, seed)
    sim.run_chunk(np.arange(1))  # warm-up (first-call costs are not throughput)
    t0 = time.perf_counter()
    parts = []
    size = sim.chunk_size()
    for lo in range(0, runs, size):
        parts.append(sim.run_chunk(np.arange(lo, min(lo + size, runs))))
    seconds = time.perf_counter() - t0
    att = np.concatenate([r.attainment[r.rep_mask] for r in parts])
    pay = np.concatenate([r.payout[r.rep_mask] for r in parts])
    active = sum(float(r.active_months.sum()) for r in parts)
    effort = sum(float(r.effort_sum.sum()) for r in parts)
    return {
        "runs": runs, "rep_months": int(active), "seconds": seconds, "rep_months_per_s": active / seconds,
        "mean_attainment": float(att.mean()), "mean_effort": effort / active,
        "cost": float(np.mean(np.concatenate([r.cost for r in parts]))), "payout_per_rep": float(pay.mean()),
        "attainment_sd": float(att.std(ddof=1)), "payout_sd": float(pay.std(ddof=1)), "reps": int(att.size),
    }


def pool_loop(results: list[dict]) -> dict:
    """Loop runs pooled like the engine's figures (rep-weighted attainment and payout,
    rep-month-weighted effort), with the standard error of each figure from the spread of
    the per-run values (``se``)."""
    reps = sum(r["reps_ever"] for r in results)
    months = sum(r["rep_months"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    per_run = {"mean_attainment": [r["mean_attainment"] for r in results],
               "mean_effort": [r["mean_effort"] for r in results],
               "payout_per_rep": [r["payout_per_rep"] for r in results]}
    n = len(results)
    se = {k: (statistics.stdev(v) / math.sqrt(n) if n > 1 else math.inf) for k, v in per_run.items()}
    return {
        "runs": n, "rep_months": months, "seconds": seconds, "rep_months_per_s": months / seconds,
        "mean_attainment": sum(r["mean_attainment"] * r["reps_ever"] for r in results) / reps,
        "mean_effort": sum(r["mean_effort"] * r["rep_months"] for r in results) / months,
        "cost": sum(r["cost"] for r in results) / n,
        "payout_per_rep": sum(r["cost"] for r in results) / reps,
        "reps": reps, "se": se,
    }


def compare_averages(loop: dict, vec: dict, rel_tol: float = 0.10) -> dict:
    """Loose check that the loop and the engine simulate the same model.

    ``loop`` is :func:`pool_loop` of a few loop runs, ``vec`` :func:`run_vectorized` of many
    engine runs on the same scenario and plan. Each average (mean attainment, mean effort,
    incentive paid per rep) passes when the loop's value is within ``rel_tol`` of the
    engine's, or within three standard errors of the loop's few runs (its random streams
    differ, so only agreement in distribution is expected). Returns ``{figure: (loop,
    engine, relative difference, tolerance, ok)}`` and ``ok`` overall.
    """
    checks: dict = {}
    for key in ("mean_attainment", "mean_effort", "payout_per_rep"):
        a, b = loop[key], vec[key]
        rel = (a - b) / b if b else math.inf
        tol = max(rel_tol, 3.0 * loop["se"][key] / abs(b)) if b else rel_tol
        checks[key] = (a, b, rel, tol, abs(rel) <= tol)
    checks["ok"] = all(v[-1] for v in checks.values())
    return checks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", default=str(SEEDS_PLAN))
    ap.add_argument("--reps", type=int, default=10, help="team size of the loop run (default 10)")
    ap.add_argument("--months", type=int, default=None, help="months simulated (default: the scenario's, 12)")
    ap.add_argument("--loop-runs", type=int, default=10, help="loop runs (seeds) for the averages (default 10)")
    ap.add_argument("--vec-runs", type=int, default=400, help="engine runs at the small size (default 400)")
    ap.add_argument("--large-reps", type=int, default=1000, help="engine team size for the large point (0: skip)")
    ap.add_argument("--large-runs", type=int, default=10)
    ap.add_argument("--validate-runs", type=int, default=3,
                    help="runs of the number-for-number check on the engine's random numbers (0: skip)")
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args(argv)

    checked = load_plan(args.plan)
    base = default_scenario()
    if args.months is not None:
        base = dataclasses.replace(base, months=args.months)
    small = dataclasses.replace(base, reps=args.reps, teams=min(12, args.reps))

    print(f"plan {checked.plan.name}, scenario {base.name}, {args.reps} reps x {small.months} months")
    results = []
    for i in range(args.loop_runs):
        r = run_loop(checked, small, args.reps, args.seed + i)
        results.append(r)
        print(f"  loop run {i}: {r['rep_months']} rep-months in {r['seconds']:.2f} s "
              f"({r['rep_months'] / r['seconds']:.1f} rep-months/s); attainment {r['mean_attainment']:.3f}, "
              f"effort {r['mean_effort']:.3f}, cost {r['cost']:,.0f}", flush=True)
    loop = pool_loop(results)
    vec_same = run_vectorized(checked, small, args.seed, args.loop_runs)
    vec_small = run_vectorized(checked, small, args.seed, args.vec_runs)

    rows = [("loop (one object per rep)", loop), (f"engine, {args.loop_runs} runs (same work)", vec_same),
            (f"engine, {args.vec_runs} runs", vec_small)]
    if args.large_reps:
        large = dataclasses.replace(base, reps=args.large_reps, teams=min(12, args.large_reps))
        rows.append((f"engine, {args.large_reps} reps x {args.large_runs} runs",
                     run_vectorized(checked, large, args.seed, args.large_runs)))
    print(f"\n{'':42s} {'rep-months':>10s} {'seconds':>8s} {'rep-mo/s':>10s} {'attain':>7s} {'effort':>7s} "
          f"{'pay/rep':>9s}")
    for name, r in rows:
        print(f"{name:42s} {r['rep_months']:>10,d} {r['seconds']:>8.2f} {r['rep_months_per_s']:>10,.0f} "
              f"{r['mean_attainment']:>7.3f} {r['mean_effort']:>7.3f} {r['payout_per_rep']:>9,.0f}")
    print("\nspeed-up over the loop (rep-months per second):")
    for name, r in rows[1:]:
        print(f"  {name}: {r['rep_months_per_s'] / loop['rep_months_per_s']:,.0f}x")
    checks = compare_averages(loop, vec_small)
    print(f"\naverages, loop ({args.loop_runs} runs, own random numbers) vs engine ({args.vec_runs} runs):")
    for key, v in checks.items():
        if key != "ok":
            a, b, rel, tol, ok = v
            print(f"  {key:16s} loop {a:10.4g}  engine {b:10.4g}  diff {rel:+6.1%} (tolerance {tol:.0%}) "
                  f"{'ok' if ok else 'FAIL'}")
    print("  averages in the same ballpark" if checks["ok"] else "  averages DIFFER beyond tolerance")
    if args.validate_runs:
        worst = 0.0
        for run in range(args.validate_runs):
            v = check_against_engine(checked, small, args.seed, run)
            worst = max([worst] + list(v["max_rel_diff"].values()))
        print(f"\nloop fed the engine's random numbers (no backfills), {args.validate_runs} runs: largest relative "
              f"difference per rep (attainment, payout, effort) {worst:.1e}")
    return 0 if checks["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
