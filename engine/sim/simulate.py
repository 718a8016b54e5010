"""The monthly simulation of a team under one plan, vectorized over reps and runs.

For each chunk of runs, month by month:

1. backfills whose vacancy is over start (new slots, ramping from tenure 0);
2. every active rep chooses effort per activity (coordinate-wise over the scenario's effort
   grid) to maximise the certainty equivalent of the pay the compiled plan would give on
   the projected actuals, minus the cost of effort; in the last month of a plan period it
   also chooses whether to pull business forward, push it into the next period or neither;
3. outputs are realized from common random numbers;
4. at a period close the plan is evaluated on the realized actuals and morale responds to
   pay against expectation, fairness and awards; every month it responds to outside offers,
   hopeless targets and recovery; reps quit with a hazard that rises as morale falls.

Randomness is per run: run ``i`` draws from ``SeedSequence([seed, i])`` only, so results do not
depend on how runs are split into chunks. Plans compared on the same seed share every
random number (common random numbers). The plan is seen only through
:class:`~engine.plan.compile.CompiledPlan`, the same function that pays real statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.data.inputs import Inputs, PeriodInfo
from engine.errors import DataError
from engine.plan import expr as ex
from engine.plan.compile import CompiledPlan, compile_plan
from engine.plan.validate import CheckedPlan
from engine.sim.behaviour import (
    Production,
    morale_after_month,
    morale_after_pay,
    quadrature,
    quit_hazard,
    ramp_factor,
)
from engine.sim.population import Roster, build_roster, draw_traits, hire_capacity
from engine.sim.scenario import Scenario

__all__ = ["ChunkResult", "Conditioning", "Simulation", "month_days", "plan_periods", "simulated_year_tables"]

_DEFAULT_CELLS = 400_000  # (runs x slots) per chunk: keeps every temporary a few MB


def month_days(start: dt.date, months: int) -> np.ndarray:
    """Calendar days of each simulated month."""
    out = []
    y, m = start.year, start.month
    for _ in range(months):
        ny, nm = (y + (m // 12), m % 12 + 1)
        out.append((dt.date(ny, nm, 1) - dt.date(y, m, 1)).days)
        y, m = ny, nm
    return np.array(out, dtype=np.float64)


def plan_periods(plan_period: str, fiscal_year_start: int, start: dt.date, months: int
                 ) -> tuple[tuple[PeriodInfo, ...], np.ndarray]:
    """The plan periods covering the simulated months, and each month's period index."""
    from engine.data.periods import period_for_date

    periods: list[PeriodInfo] = []
    index = np.zeros(months, dtype=np.int64)
    y, m = start.year, start.month
    for i in range(months):
        p = period_for_date(dt.date(y, m, 1), plan_period, fiscal_year_start)
        if not periods or periods[-1].label != p.label:
            periods.append(p)
        index[i] = len(periods) - 1
        y, m = (y + (m // 12), m % 12 + 1)
    return tuple(periods), index


def _calls(checked: CheckedPlan) -> set[str]:
    return {node.func for code in checked.plan.codes() for node in ex.walk(code.tree) if isinstance(node, ex.Call)}


def _uses_cross_rep(checked: CheckedPlan) -> bool:
    """Whether a rep's pay can depend on other reps (rank, group functions, rank components)."""
    return bool(_calls(checked) & {"rank", "group_sum", "group_mean"}) or \
        any(c.kind == "rank" for c in checked.plan.components)


def _period_reach(checked: CheckedPlan) -> int | None:
    """How many periods away a period's actuals can change pay: None for the whole year
    (year-to-date true-up), else the number of ``previous()`` calls (a bound on their nesting)."""
    if checked.plan.accumulate == "year":
        return None
    return sum(1 for code in checked.plan.codes() for node in ex.walk(code.tree)
               if isinstance(node, ex.Call) and node.func == "previous")


@dataclass
class ChunkResult:
    """What one chunk of runs produced: per-run figures and per-rep values.

    Per-run arrays have shape ``(runs,)``; per-rep arrays ``(runs, slots)`` with ``rep_mask``
    marking the slots that held a rep at some point.
    """

    run_index: np.ndarray
    cost: np.ndarray
    revenue: np.ndarray
    measures: dict[str, np.ndarray]
    leavers: np.ndarray
    regretted: np.ndarray
    headcount: np.ndarray  # average active reps per month
    replacement_cost: np.ndarray
    disengaged_months: np.ndarray
    active_months: np.ndarray
    effort_sum: np.ndarray
    last_month_primary: np.ndarray
    attainment: np.ndarray  # (runs, slots)
    payout: np.ndarray  # (runs, slots)
    rep_mask: np.ndarray  # (runs, slots)
    top_quartile: np.ndarray  # (runs, slots) True for reps in the top attainment quartile of their run
    effort: np.ndarray  # (runs, slots) mean effective effort over the rep's active months
    primary: np.ndarray  # (runs, slots) total primary measure
    skill: np.ndarray  # (runs, slots)
    # Added for forecasts; existing fields are unchanged by them.
    period_cost: np.ndarray | None = None  # (runs, P) incentive paid per plan period, all reps
    period_payout: np.ndarray | None = None  # (runs, seats, P) conditioned runs: each roster rep's pay
    quit_seat: np.ndarray | None = None  # (runs, seats) conditioned runs: the roster rep quit in the year
    primary_expected: np.ndarray | None = None  # (runs, months) conditioned: sum of expected primary
    primary_baseline: np.ndarray | None = None  # (runs, months) conditioned: the same at effective effort 1
    detail: dict | None = None  # with keep=True: monthly actuals, activity and seats per slot


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
    fixed: dict


class Simulation:
    """One plan on one scenario.

    Args:
        checked: the validated plan.
        scenario: the scenario.
        seed: master seed (run ``i`` uses ``SeedSequence([seed, i])``).
        params: plan parameter overrides.
    """

    def __init__(self, checked: CheckedPlan, scenario: Scenario, seed: int, params: dict | None = None,
                 condition: Conditioning | None = None):
        self.checked = checked
        self.plan = checked.plan
        self.scenario = scenario
        self.seed = int(seed)
        self.condition = condition
        self.prog: CompiledPlan = compile_plan(checked, params)
        self.roster: Roster = build_roster(scenario) if condition is None else condition.roster
        self.prod = Production(scenario)
        sc = scenario
        # The simulation covers the plan year: it starts in the plan's first fiscal month.
        self.start = dt.date(sc.start.year, self.plan.fiscal_year_start, 1)
        self.months = sc.months
        if condition is not None:  # a forecast covers the real plan year
            self.start, self.months = condition.start, 12
        self.days = month_days(self.start, self.months)
        self.periods, self.period_of_month = plan_periods(self.plan.period, self.plan.fiscal_year_start,
                                                          self.start, self.months)
        self.P = len(self.periods)
        self.season = np.array([sc.seasonality[(self.start.month - 1 + i) % 12] for i in range(self.months)])
        self.seats = self.roster.seats
        self.slots = self.seats + hire_capacity(self.seats)
        self.reach = _period_reach(checked)
        self.cross_period = self.reach != 0
        self.cross_rep = _uses_cross_rep(checked)
        self.nodes, self.weights = quadrature(sc.noise_points)
        self._check_columns()
        self.relevant = self._relevant_activities()
        self.needed = self.prod.closure(set(checked.actual_columns) | {scenario.primary_measure})
        last = np.zeros(self.months, dtype=bool)
        for i in range(self.months):
            last[i] = i == self.months - 1 or self.period_of_month[i + 1] != self.period_of_month[i]
        self.last_month_of_period = last
        self.grid = np.array(sc.effort_grid)

    # -- checks ------------------------------------------------------------------------

    def _check_columns(self) -> None:
        produced = set(self.scenario.actual_columns)
        missing = sorted(set(self.checked.actual_columns) - produced)
        if missing:
            raise DataError("missing-column",
                            f"plan {self.plan.name} uses actuals.{missing[0]}, which scenario "
                            f"{self.scenario.name} does not produce (it produces {', '.join(sorted(produced))})",
                            column=missing[0], hint="add an output for it to the scenario's 'outputs'")
        have = set(self.roster.columns) | {"status", "tenure_months"}
        missing = sorted(set(self.checked.roster_columns) - have)
        if missing:
            raise DataError("missing-column",
                            f"plan {self.plan.name} uses roster.{missing[0]}, which scenario "
                            f"{self.scenario.name}'s roster does not have (it has {', '.join(sorted(have))})",
                            column=missing[0], hint="add it under team.extra_columns in the scenario")

    def _relevant_activities(self) -> list[int]:
        """Activities whose outputs the plan can see (directly, through share_of or pressure)."""
        used = set(self.checked.actual_columns)
        sc = self.scenario
        changed = True
        while changed:  # a column is relevant if a relevant share_of output is a share of it
            changed = False
            for o in sc.outputs:
                if o.name in used and o.kind == "share_of" and o.get("of") not in used:
                    used.add(o.get("of"))
                    changed = True
        acts = set()
        for o in sc.outputs:
            if o.name in used:
                acts.add(self.prod.activity_index[o.activity])
                if o.kind in ("score", "incidents") and o.get("pressure", 0.0):
                    acts.add(self.prod.primary_activity)
        return sorted(acts)

    # -- randomness ----------------------------------------------------------------------

    def generators(self, runs: np.ndarray) -> list[np.random.Generator]:
        return [np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, int(r)]))) for r in runs]

    @staticmethod
    def _stack(gens, fn: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        return np.stack([fn(g) for g in gens])

    # -- the run ---------------------------------------------------------------------------

    def chunk_size(self) -> int:
        return max(1, _DEFAULT_CELLS // self.slots)

    def run_chunk(self, runs: np.ndarray, until: int | None = None, keep: bool = False) -> ChunkResult:
        """Simulate the runs listed in ``runs`` (their indices) and return their results.

        Args:
            runs: run indices (run ``i`` draws from ``SeedSequence([seed, i])``).
            until: simulate only the first ``until`` months (the rest stay empty).
            keep: also return the monthly actuals, activity and seat of every slot
                (:attr:`ChunkResult.detail`).
        """
        sc, prod = self.scenario, self.prod
        gens = self.generators(runs)
        c, n, M, A = len(runs), self.slots, self.months, len(sc.activities)
        seats = self.seats
        cond = self.condition
        # Traits: a first draw per run so that every run's stream starts the same way.
        traits = [draw_traits(sc, g, 1, n, seats) for g in gens]
        skill = np.concatenate([t.skill for t in traits])
        kappa = np.concatenate([t.kappa for t in traits])
        rho = np.concatenate([t.rho for t in traits])
        outside = np.concatenate([t.outside for t in traits])
        morale0 = np.concatenate([t.morale0 for t in traits])
        tenure = np.concatenate([t.tenure for t in traits])
        if cond is not None:
            # The roster's reps: skill from its posterior given the actuals so far (the prior
            # draw standardized and rescaled), tenure where the roster says it.
            z = (np.log(skill[:, :seats]) - cond.prior_mean) / max(cond.prior_sd, 1e-12)
            skill[:, :seats] = np.exp(cond.skill_mean + cond.skill_sd * z)
            tenure[:, :seats] = np.where(np.isnan(cond.tenure), tenure[:, :seats], cond.tenure)
        morale = morale0.copy()

        seat = np.full((c, n), -1, dtype=np.int64)
        seat[:, :seats] = np.arange(seats)
        present = np.zeros((c, n), dtype=bool)
        present[:, :seats] = True
        ever = present.copy()
        hired_in_horizon = np.zeros((c, n), dtype=bool)
        next_slot = np.full(c, seats, dtype=np.int64)
        refill = np.full((c, seats), -1, dtype=np.int64)
        left = np.zeros((c, n), dtype=bool)
        regretted = np.zeros((c, n), dtype=bool)
        choice = np.ones((A, c, n))
        closed = 0
        if cond is not None:
            closed = cond.closed_months
            present[:, :seats] = False  # the roster's dates say who is in the role each month
            ever[:, :seats] = False
            hired_in_horizon[:, :seats] = cond.hired
            real_slot = np.broadcast_to(np.arange(n) < seats, (c, n))
            days_m = np.zeros((c, n, M))
            prim_out = sc.output(sc.primary_measure)
            prim_expected = np.zeros((c, M))
            prim_baseline = np.zeros((c, M))

        roster_cols = self._slot_roster(seat)
        target_col = sc.primary_target  # the annual primary target (default: quota)
        quota = roster_cols[target_col]
        ti = roster_cols["ti"]
        ote = roster_cols["ti"] + roster_cols["base_salary"]

        actual = {col: np.zeros((c, n, M)) for col in sc.actual_columns}
        active_m = np.zeros((c, n, M), dtype=bool)
        effort_m = np.zeros((c, n, M))
        morale_m = np.zeros((c, n, M))
        carry = np.zeros((c, n))  # primary business moved into the next month (signed)
        pay_to_date = np.zeros((c, n))
        ti_to_date = np.zeros((c, n))
        expected_period_pay = np.zeros((c, n))
        mp = dict(sc.morale)
        ap = dict(sc.attrition)
        base_hazard = 1.0 - (1.0 - ap["annual_base_rate"]) ** (1.0 / 12.0)
        primary = sc.primary_measure
        n_out = len(prod.outputs)

        for t in range(M):
            # 1. Backfills start.
            due = refill == t
            if due.any():
                order = np.cumsum(due, axis=1) - 1
                slot_of = next_slot[:, None] + order
                ok = due & (slot_of < n)
                rr, ss = np.nonzero(ok)
                sl = slot_of[rr, ss]
                seat[rr, sl] = ss
                present[rr, sl] = True
                ever[rr, sl] = True
                hired_in_horizon[rr, sl] = True
                tenure[rr, sl] = 0.0
                morale[rr, sl] = morale0[rr, sl]  # a new hire starts at their own initial morale
                choice[:, rr, sl] = 1.0
                next_slot += ok.sum(axis=1)
                refill[due] = -1
                roster_cols = self._slot_roster(seat)
                quota, ti = roster_cols[target_col], roster_cols["ti"]
                ote = roster_cols["ti"] + roster_cols["base_salary"]
            if cond is not None:
                # Roster reps are in the role where their dates say so, unless they quit.
                in_role = (cond.active_days[:, t] > 0)[None, :] & ~left[:, :seats]
                joined = in_role & ~ever[:, :seats]
                if t > 0 and joined.any():
                    morale[:, :seats] = np.where(joined, morale0[:, :seats], morale[:, :seats])
                present[:, :seats] = in_role
                ever[:, :seats] |= in_role
                days_m[:, :, t] = np.where(present, self.days[t], 0.0)
                days_m[:, :seats, t] = np.where(present[:, :seats], cond.active_days[:, t], 0.0)
            active_m[:, :, t] = present
            # Status and tenure as the plan sees them this month.
            roster_cols["tenure_months"] = tenure.copy()
            roster_cols["status"] = np.where(hired_in_horizon | (tenure < sc.ramp_months), "new_hire",
                                             "tenured").astype(object)
            if cond is not None:
                for name, col in cond.fixed.items():  # the file's values for the roster's reps
                    roster_cols[name] = np.where(real_slot, np.asarray(col)[np.maximum(seat, 0)], roster_cols[name])
            ramp = ramp_factor(tenure, sc.ramp_months, sc.ramp_start)
            mm = mp["effort_floor"] + (1.0 - mp["effort_floor"]) * morale

            # 2. Decisions.
            k = int(self.period_of_month[t])
            timing_now = self.last_month_of_period[t] and t + 1 < M and sc.timing_max_shift > 0 \
                and primary in self.checked.actual_columns
            window = self._window(k, timing_now)
            utilities = None
            # What-if evaluations only for the reps present; without cross-rep terms in the
            # plan they are packed into one row (no empty slots evaluated).
            cells = _Cells(present, pack=not self.cross_rep)
            ctx = {"skill": cells.take(skill), "quota": cells.take(quota), "ti": cells.take(ti),
                       "tenure": cells.take(tenure), "kappa": cells.take(kappa), "rho": cells.take(rho),
                       "actual": {col: cells.take(actual[col]) for col in self.checked.actual_columns},
                       "active_m": cells.take(active_m), "present": cells.take(present),
                       "roster_cols": {k: cells.take(v) for k, v in roster_cols.items()}, "carry": cells.take(carry)}
            if cond is not None:
                ctx["days_m"] = cells.take(days_m)
            mm_c = cells.take(mm)
            if t < closed and (t == 0 or self.period_of_month[t - 1] != k):
                # A closed month: the real actuals stand, nobody decides. What the rep expects
                # from the period (for morale at its close) is the projection at baseline effort.
                window = self._window(k, False)
                _, pp = self._utility(t, window, cells.take(choice), mm_c, shift=None, **ctx)
                expected_period_pay = cells.put(pp[..., window.index(k)])
            for a in (self.relevant if t >= closed else ()):
                levels = self.grid[self.grid <= sc.activities[a].max_effort + 1e-12]
                best_u = None
                base_choice = cells.take(choice)
                best = base_choice[a].copy()
                # Where pay depends on other reps (contests, team terms), each rep weighs its
                # own deviation against the others' current choices (a best response).
                reference = None
                if self.cross_rep:
                    reference = {}
                    self._utility(t, window, base_choice, mm_c, shift=None, record=reference, **ctx)
                for g in levels:
                    trial = base_choice.copy()
                    trial[a] = g
                    u, per_period = self._utility(t, window, trial, mm_c, shift=None, reference=reference, **ctx)
                    if best_u is None:
                        best_u, best_pp = u, per_period
                        best[:] = g
                    else:
                        better = u > best_u + 1e-9 * np.abs(best_u)
                        best_u = np.where(better, u, best_u)
                        best = np.where(better, g, best)
                        best_pp = np.where(better[..., None], per_period, best_pp)
                choice[a] = np.where(present, cells.put(best, 1.0), 1.0)
                utilities = (best_u, best_pp)
            shift = np.zeros((c, n))
            if timing_now and t >= closed:
                phi = sc.timing_max_shift * self._expected_month(t, choice * mm, skill, quota, ramp)[primary]
                phi_c, choice_c = cells.take(phi), cells.take(choice)
                best_u = None
                reference = {} if self.cross_rep else None
                for direction in (0.0, 1.0, -1.0):
                    # The first (no shift) evaluation records the others' reference values.
                    u, _ = self._utility(t, window, choice_c, mm_c, shift=direction * phi_c,
                                         record=reference if direction == 0.0 else None,
                                         reference=reference if direction != 0.0 else None, **ctx)
                    if best_u is None:
                        best_u, best_dir = u, np.zeros_like(u)
                    else:
                        better = u > best_u + 1e-9 * np.abs(best_u)
                        best_u = np.where(better, u, best_u)
                        best_dir = np.where(better, direction, best_dir)
                shift = np.where(present, cells.put(best_dir) * phi, 0.0)
            if utilities is not None and (t == 0 or self.period_of_month[t - 1] != k):
                # What the rep expects from this period, for the morale update at its close.
                expected_period_pay = cells.put(utilities[1][..., window.index(k)])

            # 3. Outcomes (common random numbers: one block of draws per run and month).
            eff = choice * mm
            exp_vals = self._expected_month(t, eff, skill, quota, ramp)
            uni = self._stack(gens, lambda g: g.random((n_out, n)))
            nor = self._stack(gens, lambda g: g.standard_normal((n_out, n)))
            quit_u = self._stack(gens, lambda g: g.random(n))
            real = prod.realize(exp_vals, eff, np.moveaxis(uni, 1, 0), np.moveaxis(nor, 1, 0))
            # Timing: pulled business (shift > 0) arrives now at a discount and is missing next
            # month; pushed business (shift < 0) leaves now and arrives next month, discounted.
            prim = real[primary] + carry
            pulled = np.maximum(shift, 0.0)
            pushed = np.minimum(np.maximum(-shift, 0.0), np.maximum(prim, 0.0))
            prim = prim + pulled * (1.0 - sc.timing_pull_cost) - pushed
            carry = -pulled + pushed * (1.0 - sc.timing_push_cost)
            real[primary] = prim
            if t < closed:
                # Closed month: the roster's reps have their real actuals (columns the actuals
                # do not have keep the model's values at baseline effort).
                for col in cond.actuals:
                    if col in real:
                        vals = np.array(real[col], dtype=float, copy=True)
                        vals[:, :seats] = cond.actuals[col][None, :, t]
                        real[col] = vals
                carry = np.zeros((c, n))
            for col in actual:
                actual[col][:, :, t] = np.where(present, real[col], 0.0)
            carry = np.where(present, carry, 0.0)
            if cond is not None:
                # Expected primary output at the chosen effort and at effective effort 1 (the
                # effort factor behind the skill posterior).
                unit = exp_vals[primary] / np.power(np.maximum(eff[prod.primary_activity], 1e-12),
                                                    prim_out.get("elasticity", 1.0))
                prim_expected[:, t] = np.where(present, exp_vals[primary], 0.0).sum(axis=1)
                prim_baseline[:, t] = np.where(present, unit, 0.0).sum(axis=1)
            effort_m[:, :, t] = np.where(present, (eff * prod.shares[:, None, None]).sum(axis=0), 0.0)
            morale_m[:, :, t] = np.where(present, morale, 0.0)

            # 4. Period close: pay, and morale's response to it.
            if self.last_month_of_period[t]:
                pay, ti_k, awards = self._period_pay(k, t, actual, active_m, roster_cols,
                                                     days_m=days_m if cond is not None else None)
                pay_to_date += pay
                ti_to_date += ti_k
                gap = np.clip((pay - expected_period_pay) / np.maximum(ti_k, 1e-9), -1.0, 1.0)
                unfair = self._unfairness(pay, actual[primary][:, :, : t + 1].sum(axis=2)
                                          / np.maximum(quota * (t + 1) / 12.0, 1e-9), present)
                morale = morale_after_pay(morale, mp, gap, unfair, awards)
            # Every month: outside offers, hopeless targets, recovery.
            # Expected annual pay: on target at the start of the year, then weighted toward
            # what the plan has actually paid so far.
            pay_ratio = np.where(ti_to_date > 0, pay_to_date / np.maximum(ti_to_date, 1e-9), 1.0)
            seen = (t + 1) / M
            comp_ratio = (roster_cols["base_salary"] + ti * (seen * pay_ratio + 1.0 - seen)) / np.maximum(ote, 1e-9)
            outside_gap = np.maximum(outside - comp_ratio, 0.0)
            hopeless = self._hopeless(t, actual[primary], active_m, quota, skill, tenure, mm)
            morale = morale_after_month(morale, mp, outside_gap, hopeless, morale0)

            # 5. Quits at the end of the month; the seat is refilled after the vacancy.
            hazard = quit_hazard(base_hazard, ap, morale, outside_gap)
            quits = present & (quit_u < hazard) & (t + 1 < M) & (t >= closed)
            if quits.any():
                perf = actual[primary][:, :, : t + 1].sum(axis=2) / np.maximum(
                    quota * np.maximum(active_m[:, :, : t + 1].sum(axis=2), 1) / 12.0, 1e-9)
                regretted |= quits & self._top_quartile(perf, present)
                left |= quits
                present = present & ~quits
                rr, ss = np.nonzero(quits)
                start_at = t + 1 + int(ap["vacancy_months"])
                if start_at < M:
                    refill[rr, seat[rr, ss]] = start_at
            tenure = tenure + present
            if until is not None and t + 1 >= until:
                break

        if cond is None:
            result = self._finish(runs, actual, active_m, effort_m, morale_m, roster_cols, quota, ote, left,
                                  regretted, ever, skill)
        else:
            result = self._finish(runs, actual, active_m, effort_m, morale_m, roster_cols, quota, ote, left,
                                  regretted, ever, skill, days_m=days_m)
            result.quit_seat = left[:, :seats].copy()
            result.primary_expected, result.primary_baseline = prim_expected, prim_baseline
        if keep:
            result.detail = {"actual": actual, "active": active_m, "seat": seat,
                             "hired": hired_in_horizon, "left": left,
                             "tenure0": tenure - active_m.sum(axis=2)}
        return result

    # -- pieces of the month ---------------------------------------------------------------

    def _slot_roster(self, seat: np.ndarray) -> dict[str, np.ndarray]:
        """Roster columns per (run, slot): the seat's values (status and tenure are set monthly)."""
        idx = np.maximum(seat, 0)
        return {name: np.asarray(col)[idx] for name, col in self.roster.columns.items()}

    def _expected_month(self, t, effort, skill, quota, ramp) -> dict[str, np.ndarray]:
        return self.prod.expected(effort, skill, quota, float(self.season[t]), ramp)

    def _window(self, k: int, timing: bool) -> list[int]:
        """Plan periods whose pay this month's choices can change (and what they need to see)."""
        if self.reach is None:
            return list(range(self.P))
        lo = max(k - self.reach, 0)
        hi = min(k + self.reach + (1 if timing else 0), self.P - 1)
        return list(range(lo, hi + 1))

    def _utility(self, t, window, choice, mm, *, skill, quota, ti, tenure, kappa, rho, actual, active_m, present,
                 roster_cols, carry, shift, record=None, reference=None, days_m=None) -> tuple[np.ndarray, np.ndarray]:
        """Certainty equivalent of projected pay over the window minus the cost of effort.

        Returns ``(utility (c, n), expected pay per window period (c, n, len(window)))``.
        """
        sc = self.scenario
        eff = choice * mm
        M = self.months
        months = [m for m in range(M) if self.period_of_month[m] in window]
        future = [m for m in months if m >= t]
        # Projected monthly values for the months from t on (same effort for the rest).
        proj = {}
        for m in future:
            ramp_m = ramp_factor(tenure + (m - t), sc.ramp_months, sc.ramp_start)
            proj[m] = self.prod.expected(eff, skill, quota, float(self.season[m]), ramp_m, self.needed)
        primary = sc.primary_measure
        if carry is not None and t in proj:
            proj[t][primary] = proj[t][primary] + carry
        if shift is not None and t in proj:
            pulled = np.maximum(shift, 0.0)
            pushed = np.maximum(-shift, 0.0)
            proj[t][primary] = proj[t][primary] + pulled * (1 - sc.timing_pull_cost) - pushed
            if t + 1 in proj:
                proj[t + 1][primary] = proj[t + 1][primary] - pulled + pushed * (1 - sc.timing_push_cost)
        # Quadrature over the relative noise of the remaining primary-driven amounts.
        out_amount = sc.output(primary)
        cv = self.prod.monthly_cv(out_amount) / np.sqrt(max(len(future), 1))
        s = np.sqrt(np.log1p(cv * cv))
        factors = np.exp(s * self.nodes - s * s / 2.0)
        S = len(factors)
        c, n = present.shape
        W = len(window)
        periods = tuple(self.periods[k] for k in window)
        acts = {}
        amount_cols = {o.name for o in sc.outputs if o.kind in ("amount", "share_of")}
        for col in self.checked.actual_columns:
            agg = self.checked.actual_columns[col]
            per = np.zeros((S, c, n, W))
            for wi, k in enumerate(window):
                ms = [m for m in months if self.period_of_month[m] == k]
                vals = []
                for m in ms:
                    if m < t:
                        v = np.broadcast_to(actual[col][:, :, m], (S, c, n))
                    else:
                        base = np.broadcast_to(proj[m][col], (c, n))
                        v = factors[:, None, None] * base if col in amount_cols else np.broadcast_to(base, (S, c, n))
                    vals.append(v)
                act_ms = [active_m[:, :, m] if m < t else present for m in ms]
                per[..., wi] = _aggregate(vals, act_ms, agg)
            acts[col] = per
        active = np.zeros((c, n, W), dtype=bool)
        prorate = np.zeros((c, n, W))
        for wi, k in enumerate(window):
            ms = [m for m in months if self.period_of_month[m] == k]
            days = sum(self.days[m] for m in ms)
            if days_m is None:
                got = sum(np.where(active_m[:, :, m] if m < t else present, self.days[m], 0.0) for m in ms)
            else:  # conditioned runs: the roster's active days in past months
                got = sum(days_m[:, :, m] if m < t else np.where(present, self.days[m], 0.0) for m in ms)
            active[..., wi] = got > 0
            prorate[..., wi] = got / self.periods[k].days if days else 0.0
        inputs = Inputs(
            rep_ids=self._rep_ids(), periods=periods, roster=roster_cols, actuals=acts,
            active=np.broadcast_to(active, (S, c, n, W)), proration=np.broadcast_to(prorate, (S, c, n, W)),
        )
        res = self.prog.evaluate(inputs, grades=False, record=record, reference=reference)
        per_period = res.total  # (S, c, n, W)
        v = per_period.sum(axis=-1)
        mean = _quadrature(self.weights, v)
        var = _quadrature(self.weights, (v - mean) ** 2)
        ti_m = np.maximum(ti / 12.0, 1e-9)
        ce = mean - 0.5 * rho * var / ti_m
        n_rem = len(future)
        cost = kappa * ti_m * n_rem * 0.5 * (self.prod.shares[:, None, None]
                                              * np.maximum(choice - 1.0, 0.0) ** 2).sum(axis=0)
        expected_pp = _quadrature(self.weights, per_period)
        return np.where(present, ce - cost, 0.0), expected_pp

    def _rep_ids(self) -> np.ndarray:
        if not hasattr(self, "_ids"):
            ids = list(self.roster.rep_ids) + [f"H{i + 1:05d}" for i in range(self.slots - self.seats)]
            self._ids = np.array(ids, dtype=object)
        return self._ids

    def _period_pay(self, k, t, actual, active_m, roster_cols, days_m=None):
        """Pay for period k on the realized actuals (evaluating the plan up to k)."""
        window = list(range(k + 1)) if self.cross_period else [k]
        inputs = self._realized_inputs(window, actual, active_m, roster_cols, upto=t + 1, days_m=days_m)
        res = self.prog.evaluate(inputs)
        pay = res.total[..., -1]
        ti_k = np.asarray(res.values["target_incentive"], dtype=float)[..., -1]
        if self.plan.accumulate == "year" and len(window) > 1:
            ti_k = ti_k - np.asarray(res.values["target_incentive"], dtype=float)[..., -2]
        awards = np.zeros_like(pay)
        for c in self.plan.components:
            if c.kind == "rank":
                awards += res.columns[c.name][..., -1] > 0
        return pay, ti_k, awards

    def _realized_inputs(self, window, actual, active_m, roster_cols, upto=None, days_m=None) -> Inputs:
        M = self.months if upto is None else upto
        c, n = active_m.shape[:2]
        W = len(window)
        acts = {}
        for col in self.checked.actual_columns:
            agg = self.checked.actual_columns[col]
            per = np.zeros((c, n, W))
            for wi, k in enumerate(window):
                ms = [m for m in range(M) if self.period_of_month[m] == k]
                per[..., wi] = _aggregate([actual[col][:, :, m] for m in ms], [active_m[:, :, m] for m in ms], agg)
            acts[col] = per
        active = np.zeros((c, n, W), dtype=bool)
        prorate = np.zeros((c, n, W))
        for wi, k in enumerate(window):
            ms = [m for m in range(M) if self.period_of_month[m] == k]
            if days_m is None:
                got = sum(np.where(active_m[:, :, m], self.days[m], 0.0) for m in ms)
            else:  # conditioned runs: the roster's active days
                got = sum(days_m[:, :, m] for m in ms)
            active[..., wi] = got > 0
            prorate[..., wi] = got / self.periods[k].days
        return Inputs(rep_ids=self._rep_ids(), periods=tuple(self.periods[k] for k in window), roster=roster_cols,
                      actuals=acts, active=active, proration=prorate)

    def _unfairness(self, pay, perf, present) -> np.ndarray:
        """|percentile of pay - percentile of performance| within each run."""
        return np.abs(_percentile_rank(pay, present) - _percentile_rank(perf, present))

    def _top_quartile(self, perf, present) -> np.ndarray:
        return _percentile_rank(perf, present) >= 0.75

    def _hopeless(self, t, prim_actual, active_m, quota, skill, tenure, mm) -> np.ndarray:
        """Even the highest effort for the rest of the year leaves the rep under 80% of target.

        The target is the annual quota prorated to the months the rep is in the role
        (the months so far plus the rest of the horizon).
        """
        M = self.months
        if t + 1 >= M:
            return np.zeros_like(quota)
        sc = self.scenario
        done = prim_actual[:, :, : t + 1].sum(axis=2)
        emax = np.full((len(sc.activities),) + quota.shape, float(self.grid[-1]))
        rest = 0.0
        for m in range(t + 1, M):
            ramp = ramp_factor(tenure + (m - t), sc.ramp_months, sc.ramp_start)
            rest = rest + self.prod.expected(emax * mm, skill, quota, float(self.season[m]), ramp,
                                             self.prod.closure({sc.primary_measure}))[sc.primary_measure]
        months_in_role = active_m[:, :, : t + 1].sum(axis=2) + (M - t - 1)
        return (done + rest < 0.8 * quota * months_in_role / 12.0).astype(float)

    # -- results ---------------------------------------------------------------------------

    def _finish(self, runs, actual, active_m, effort_m, morale_m, roster_cols, quota, ote, left, regretted, ever,
                skill, days_m=None) -> ChunkResult:
        sc = self.scenario
        if days_m is None:
            inputs = self._realized_inputs(list(range(self.P)), actual, active_m, roster_cols)
        else:
            inputs = self._realized_inputs(list(range(self.P)), actual, active_m, roster_cols, days_m=days_m)
        res = self.prog.evaluate(inputs)
        payout = res.total.sum(axis=-1)
        prim = actual[sc.primary_measure]
        days_active = (active_m * self.days).sum(axis=2)
        target = quota * days_active / self.days.sum() * (self.months / 12.0)
        attainment = np.where(target > 0, prim.sum(axis=2) / np.maximum(target, 1e-9), 0.0)
        rep_mask = ever & (days_active > 0)
        top = (_percentile_rank(attainment, rep_mask) >= 0.75) & rep_mask
        last_idx = [m for m in range(self.months) if self.last_month_of_period[m]]
        mp = dict(sc.morale)
        disengaged = _run_totals((morale_m < mp["disengaged_below"]) & active_m).astype(float)
        return ChunkResult(
            run_index=np.asarray(runs),
            cost=np.where(rep_mask, payout, 0.0).sum(axis=1),
            revenue=_run_totals(prim),
            measures={col: _run_totals(actual[col]) for col in sc.actual_columns},
            leavers=left.sum(axis=1).astype(float),
            regretted=regretted.sum(axis=1).astype(float),
            headcount=active_m.sum(axis=1).mean(axis=1).astype(float),
            replacement_cost=np.where(left, ote, 0.0).sum(axis=1) * dict(sc.attrition)["replacement_cost"],
            disengaged_months=disengaged,
            active_months=_run_totals(active_m).astype(float),
            effort_sum=_run_totals(effort_m),
            last_month_primary=_run_totals(prim[:, :, last_idx]),
            attainment=attainment, payout=payout, rep_mask=rep_mask, top_quartile=top,
            effort=effort_m.sum(axis=2) / np.maximum(active_m.sum(axis=2), 1), primary=prim.sum(axis=2), skill=skill,
            period_cost=np.where(rep_mask[..., None], res.total, 0.0).sum(axis=1),
            period_payout=None if days_m is None else np.asarray(res.total)[:, : self.seats, :].copy(),
        )


class _Cells:
    """Selects the (run, slot) cells of present reps, packed into one row, and puts results back.

    With ``pack=False`` (plans whose pay depends on other reps) arrays keep their shape.
    Arrays have the cell axes as ``(..., runs, slots)`` or ``(runs, slots, months)``.
    """

    def __init__(self, present: np.ndarray, pack: bool):
        self.shape = present.shape
        self.pack = pack
        if pack:
            self.ci, self.si = np.nonzero(present)

    def take(self, x: np.ndarray) -> np.ndarray:
        if not self.pack:
            return x
        x = np.asarray(x)
        c, n = self.shape
        if x.shape[-2:] == (c, n):
            return x[..., self.ci, self.si][..., None, :]
        if x.shape[:2] == (c, n):  # (runs, slots, months)
            return x[self.ci, self.si][None]
        raise ValueError(f"cannot select cells of an array of shape {x.shape}")

    def put(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """``(..., 1, cells)`` back to ``(..., runs, slots)``."""
        if not self.pack:
            return x
        out = np.full(x.shape[:-2] + self.shape, fill, dtype=np.result_type(x.dtype, np.float64))
        out[..., self.ci, self.si] = x[..., 0, :]
        return out


def _run_totals(x: np.ndarray) -> np.ndarray:
    """Per-run totals of a ``(runs, ...)`` array, summed in the same order whatever the
    number of runs in the chunk (a multi-axis ``sum`` may traverse a one-run array and a
    many-run array in different orders, and so round differently)."""
    x = np.ascontiguousarray(x)
    return x.reshape(len(x), -1).sum(axis=1)


def _quadrature(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_s weights[s] * x[s]`` over the leading (quadrature) axis, element by element.

    Not ``np.tensordot``: BLAS kernels round an element differently depending on where it
    falls in their vector blocks, so a rep's expected pay would depend in the last bit on
    how many reps share the chunk; elementwise multiplies and adds do not (and use no BLAS
    threads).
    """
    out = weights[0] * x[0]
    for s in range(1, len(weights)):
        out = out + weights[s] * x[s]
    return out


def _aggregate(values: list, actives: list, agg: str):
    """Gather monthly values into a plan period with the column's aggregation."""
    if not values:
        return 0.0
    if agg == "sum":
        out = values[0]
        for v in values[1:]:
            out = out + v
        return out
    stack = np.stack(np.broadcast_arrays(*values), axis=-1)
    act = np.stack(np.broadcast_arrays(*actives), axis=-1)
    act = np.broadcast_to(act, stack.shape)
    if agg == "mean":
        cnt = act.sum(axis=-1)
        return np.where(cnt > 0, np.where(act, stack, 0.0).sum(axis=-1) / np.maximum(cnt, 1), 0.0)
    if agg == "last":
        idx = np.where(act, np.arange(stack.shape[-1]), -1).max(axis=-1)
        got = np.take_along_axis(stack, np.maximum(idx, 0)[..., None], axis=-1)[..., 0]
        return np.where(idx >= 0, got, 0.0)
    fill = np.inf if agg == "min" else -np.inf
    red = np.where(act, stack, fill)
    red = red.min(axis=-1) if agg == "min" else red.max(axis=-1)
    return np.where(np.isfinite(red), red, 0.0)


def _percentile_rank(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of masked reps in the same run strictly below each rep (0 for the lowest)."""
    big = np.where(mask, x, np.inf)
    order = np.argsort(big, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[1])[None, :].repeat(x.shape[0], axis=0), axis=1)
    count = np.maximum(mask.sum(axis=1, keepdims=True) - 1, 1)
    return np.where(mask, ranks / count, 0.0)



def simulated_year_tables(sim: Simulation, result: ChunkResult, i: int, until: int | None = None):
    """The roster and actuals of one simulated year as a company would hold them.

    For synthetic history and back-tests: run ``i`` (position in ``result``, a chunk run
    with ``keep=True``) as real files, seen at the end of month ``until`` (default: the
    year): every rep who held a seat by then (``start_date`` for those hired during the
    year, ``end_date`` for those who left before then) and one transaction per rep and
    active month (dated the 1st) with every output of the scenario. ``tenure_months`` is
    the rep's tenure at the start of the year (0 for hires) and ``status`` the simulator's
    status at the end of month ``until``.

    Returns:
        ``(roster, actuals)`` DataFrames, in the formats ``incentive payout`` reads.
    """
    import pandas as pd

    if result.detail is None:
        raise ValueError("run the chunk with keep=True")
    d = result.detail
    M = sim.months if until is None else int(until)
    active = d["active"][i, :, :M]
    seat = d["seat"][i]
    slots = np.nonzero(active.any(axis=1))[0]
    ids = sim._rep_ids()
    starts = [dt.date(sim.start.year + (sim.start.month - 1 + m) // 12, (sim.start.month - 1 + m) % 12 + 1, 1)
              for m in range(sim.months + 1)]
    first = np.argmax(active, axis=1)
    last = M - 1 - np.argmax(active[:, ::-1], axis=1)
    rows = []
    for s in slots:
        row = {"rep_id": str(ids[s])}
        for name, col in sim.roster.columns.items():
            v = np.asarray(col)[seat[s]]
            row[name] = v.item() if hasattr(v, "item") else v
        hired = bool(d["hired"][i, s])
        tenure0 = 0.0 if hired else float(d["tenure0"][i, s])
        row["tenure_months"] = round(tenure0, 2)
        at_end = tenure0 + active[s].sum()  # months in role by the end of month `until`
        row["status"] = "new_hire" if hired or at_end < sim.scenario.ramp_months else "tenured"
        row["start_date"] = starts[first[s]].isoformat() if hired else ""
        gone = bool(d["left"][i, s]) and last[s] < M - 1
        row["end_date"] = (starts[last[s] + 1] - dt.timedelta(days=1)).isoformat() if gone else ""
        rows.append(row)
    roster = pd.DataFrame(rows)
    ss, mm = np.nonzero(active[slots])
    acts = {"rep_id": [str(ids[slots[s]]) for s in ss], "date": [starts[m].isoformat() for m in mm]}
    for col, arr in d["actual"].items():
        acts[col] = arr[i][slots[ss], mm]
    return roster, pd.DataFrame(acts)
