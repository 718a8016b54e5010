"""The monthly simulation of a team under one plan, vectorized over reps and runs.

:meth:`Simulation.run_chunk` runs a chunk of runs month by month, as named steps over a
:class:`MonthState`:

1. ``_backfill``: backfills whose vacancy is over start (new slots, ramping from tenure 0);
2. ``_seat``: who is in the role, the roster as the plan sees it, ramp and morale multiplier;
3. ``_decide``: every active rep chooses effort per activity (coordinate-wise over the
   scenario's effort grid) to maximise the certainty equivalent of the pay the plan would
   give on the projected actuals, minus the cost of effort;
4. ``_produce``: outputs are realized from the run's output streams;
4b. ``_settle_timing``: at a plan period's close, knowing its business, each rep chooses
   whether to pull business forward from next month, push some into it, or neither;
5. ``_close_period``: at a period close the plan pays on the realized actuals and morale
   responds to pay against expectation, fairness and awards;
6. ``_morale``: every month morale responds to outside offers, hopeless targets and recovery;
7. ``_quits``: reps quit with a hazard that rises as morale falls.

The behaviour formulas live in engine/sim/behaviour.py. What the runs are conditioned on
(nothing, or a real team's year so far) is a :class:`~engine.sim.conditioning.Conditioner`
passed in. Randomness: run ``i`` draws each purpose from its own stream
(engine/sim/streams.py), so results do not depend on how runs are split into chunks, plans
compared on the same seed share every random number (common random numbers), and a new
draw changes no other. The plan is seen only through its
:class:`~engine.plan.compile.PayoutProgram`, the same function that pays real statements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from engine.core.errors import DataError
from engine.core.inputs import Inputs, PeriodInfo
from engine.core.periods import MONTHS_PER_PERIOD
from engine.core.sums import sum_last_axis
from engine.plan import expr as ex
from engine.plan.compile import PayoutProgram, compile_plan
from engine.plan.kinds import kind_of
from engine.plan.validate import CheckedPlan
from engine.sim.behaviour import (
    Production,
    effort_multiplier,
    morale_after_month,
    morale_after_pay,
    nodes_sum,
    outside_gap,
    quadrature,
    quit_hazard,
    ramp_factor,
)
from engine.sim.cells import (
    Cells,
    aggregate,
    by_period,
    effort_rows,
    first_best,
    labels,
    percentile_rank,
)
from engine.sim.conditioning import Conditioner, Conditioning, NoConditioning
from engine.sim.kernels import effort_utility, poisson_ppf
from engine.sim.market import MarketPath, team_index
from engine.sim.payment import Placement, placement_for
from engine.sim.population import Roster, draw_traits, hire_capacity
from engine.sim.results import ChunkResult, by_year, chunk_result
from engine.sim.scenario import Scenario
from engine.sim.shape import mix_columns, mix_for, shape_scenario
from engine.sim.streams import RunStreams
from engine.sim.year_tables import simulated_year_tables  # callers import it from here

__all__ = ["ChunkResult", "Conditioner", "Conditioning", "MonthState", "NoConditioning", "Reps", "Simulation",
           "month_days", "plan_periods", "simulated_year_tables", "uses_cross_rep"]

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
    from engine.core.periods import period_for_date

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


def uses_cross_rep(checked: CheckedPlan) -> bool:
    """Whether a rep's pay can depend on other reps (rank, group functions, rank components)."""
    return bool(_calls(checked) & {"rank", "group_sum", "group_mean"}) or \
        any(kind_of(c.kind).contest for c in checked.plan.components)


def _period_reach(checked: CheckedPlan) -> int | None:
    """How many periods away a period's actuals can change pay: None for the whole year
    (year-to-date true-up), else the number of ``previous()`` calls (a bound on their nesting)."""
    if checked.plan.accumulate == "year":
        return None
    return sum(1 for code in checked.plan.codes() for node in ex.walk(code.tree)
               if isinstance(node, ex.Call) and node.func == "previous")


@dataclass
class MonthState:
    """What a chunk of runs carries from one month to the next.

    Per-slot arrays have shape ``(runs, slots)``, monthly records ``(runs, slots, months)``,
    ``choice`` ``(activities, runs, slots)``. The steps of :meth:`Simulation.run_chunk`
    read and update it in place.
    """

    streams: RunStreams
    # Traits (per run and slot); skill and tenure may be adjusted by the conditioner.
    skill: np.ndarray
    kappa: np.ndarray
    rho: np.ndarray
    outside: np.ndarray
    morale0: np.ndarray
    tenure: np.ndarray
    morale: np.ndarray
    # Who holds which slot.
    seat: np.ndarray  # the roster seat a slot fills (-1: never used)
    present: np.ndarray  # in the role this month
    ever: np.ndarray  # in the role at some point
    hired: np.ndarray  # hired during the horizon
    next_slot: np.ndarray  # (runs,) first unused backfill slot
    refill: np.ndarray  # (runs, seats) month a vacant seat is refilled (-1: not vacant)
    left: np.ndarray
    regretted: np.ndarray
    # The plan's view of the slots (set from the seats, status and tenure monthly).
    roster_cols: dict[str, np.ndarray]
    quota: np.ndarray
    ti: np.ndarray
    ote: np.ndarray
    # Decisions and their inputs this month.
    choice: np.ndarray
    ramp: np.ndarray
    mm: np.ndarray  # the morale multiplier of effort
    outside_gap: np.ndarray
    # Records.
    actual: dict[str, np.ndarray]
    active_m: np.ndarray
    effort_m: np.ndarray
    morale_m: np.ndarray
    carry: np.ndarray  # primary business moved into the next month (signed)
    pay_to_date: np.ndarray
    ti_to_date: np.ndarray
    expected_period_pay: np.ndarray
    # Per run: rep period-ends at which business could move, and those that pulled / pushed it.
    timing_moves: np.ndarray
    market: MarketPath | None = None  # the runs' market (None: the scenario has none)
    outlook: np.ndarray | None = None  # (runs, slots, months left) expected market multiplier this month
    outlook_var: np.ndarray | None = None  # (months left,) variance of the log factor of each
    days_m: np.ndarray | None = None  # conditioned runs: active days per slot and month
    record: dict[str, np.ndarray] = field(default_factory=dict)  # what the conditioner records
    morale_params: dict | None = None  # per-run morale parameters ((runs, 1) arrays) set by the conditioner
    # Several plan years: the production scale of each slot (its seat's first-year quota,
    # which the quota policy does not change), each seat's quota this year (None in the first
    # year) and the roster as the plan saw it at the end of each closed plan year.
    scale: np.ndarray | None = None
    seat_quota: np.ndarray | None = None
    year_roster: list = field(default_factory=list)
    # Payment delays: each column riding on deals, ``(runs, slots, depth)`` business the
    # starting team closed in the months before the horizon (oldest first), still being paid.
    before: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Reps:
    """The reps a what-if evaluation of the plan is for (their cells, see :class:`Cells`).

    Attributes:
        skill, quota, ti, tenure, kappa, rho: traits and targets.
        actual: actuals column -> monthly values so far.
        active_m: months each rep was in the role.
        present: in the role this month.
        roster_cols: roster columns as the plan sees them.
        carry: primary business carried into this month.
        days_m: conditioned runs: active days per month (else None: whole months).
        outlook: ``(..., months left)`` the market multiplier the reps expect from this
            month on (None: no market); ``outlook_var`` the variance of its log per month.
    """

    skill: np.ndarray
    quota: np.ndarray
    ti: np.ndarray
    tenure: np.ndarray
    kappa: np.ndarray
    rho: np.ndarray
    actual: dict[str, np.ndarray]
    active_m: np.ndarray
    present: np.ndarray
    roster_cols: dict[str, np.ndarray]
    carry: np.ndarray
    days_m: np.ndarray | None = None
    outlook: np.ndarray | None = None
    outlook_var: np.ndarray | None = None
    scale: np.ndarray | None = None  # production scale (None: the quota)
    before: dict[str, np.ndarray] | None = None  # business closed before the horizon (payment delays)


_WHAT_IF_CELLS = 12_000  # cells (candidates x reps) priced in one what-if: a block stays in cache
TIMING_STEPS = (0.0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1.0, -1.0)
"""The timing choices, as shares of the most a rep can move (``> 0`` pulled in, ``< 0``
pushed out): none first and smaller moves before larger, so ties go to moving less."""


@dataclass(frozen=True)
class _MonthView:
    """What every what-if evaluation of one month shares, whatever effort or timing it tries.

    Built once a month (:meth:`Simulation._month_view`) instead of once per candidate.

    Attributes:
        t: the month deciding.
        decided: plan periods whose pay the choice can change; ``window`` those and, under
            payment delays, the later periods their business is paid in.
        months: the months of the window; ``future`` those from ``t`` in the decided
            periods (projected at the candidate's effort), ``later`` the rest from ``t``.
        season, ramp: ``(len(future + later), ...)`` demand factor and ramp of each.
        factors: ``(S,)`` relative noise of the decided months' amounts at the quadrature nodes.
        periods: the window's plan periods.
        active, prorate: ``(c, n, W)`` who is active in each window period and the share of it.
        realized: summed columns not paid later: per window period, the sum of its months
            before ``t`` (None: none) and its months from ``t`` on.
    """

    t: int
    decided: list[int]
    window: list[int]
    months: list[int]
    future: list[int]
    later: list[int]
    season: np.ndarray
    ramp: np.ndarray
    factors: np.ndarray
    periods: tuple
    active: np.ndarray
    prorate: np.ndarray
    realized: dict[str, list]


class Simulation:
    """One plan on one scenario.

    Args:
        checked: the validated plan.
        scenario: the scenario.
        seed: master seed (run ``i`` draws each purpose from its own stream,
            ``SeedSequence([seed, i, STREAMS[purpose]])``, see engine/sim/streams.py).
        params: plan parameter overrides (used only to compile the plan when ``program``
            is not given).
        condition: what the runs are conditioned on (a :class:`Conditioner`, e.g. a
            forecast's :class:`Conditioning`); default none.
        program: the plan's payout program (:func:`~engine.plan.compile.compile_plan` with
            any backend); default the numpy backend's.
    """

    def __init__(self, checked: CheckedPlan, scenario: Scenario, seed: int, params: dict | None = None,
                 condition: Conditioner | None = None, program: PayoutProgram | None = None):
        self.checked = checked
        self.plan = checked.plan
        # The team in the plan's own column names, and its deals (engine/sim/shape.py).
        scenario, self.shaping = shape_scenario(checked, scenario)
        self.mix = mix_for(checked, scenario)
        # What the outputs provide (attributes: the mix), with the outputs carrying deal shares
        # that effort moves.
        self.columns = sorted(checked.numeric_actual_columns) + mix_columns(scenario)
        self.scenario = scenario
        self.seed = int(seed)
        self.condition: Conditioner = NoConditioning() if condition is None else condition
        self.prog: PayoutProgram = compile_plan(checked, params) if program is None else program
        # When closed business reaches the plan: payment delays and cancellations (None: the
        # month it closes), engine/sim/payment.py.
        self.placement: Placement | None = placement_for(checked, scenario, self.columns,
                                                         conditioned=self.condition.closed_months)
        if self.placement is not None:
            self.mix = self.placement.mix(self.mix)
        self.roster: Roster = self.condition.seats(scenario)
        self.prod = Production(scenario)
        sc = scenario
        # The simulation covers the plan year: it starts in the plan's first fiscal month.
        self.start, self.months = self.condition.horizon(dt.date(sc.start.year, self.plan.fiscal_year_start, 1),
                                                         sc.months)
        self.days = month_days(self.start, self.months)
        self.periods, self.period_of_month = plan_periods(self.plan.period, self.plan.fiscal_year_start,
                                                          self.start, self.months)
        self.P = len(self.periods)
        self._plan_years()
        self.policy = sc.quota_policy
        # Reps weigh what this year's output does to next year's quota (docs/model.md §11).
        self.ratchet = self.policy.ratchet_weight * self.policy.discount
        self.season = np.array([sc.seasonality[(self.start.month - 1 + i) % 12] for i in range(self.months)])
        self.seats = self.roster.seats
        self.slots = self.seats + hire_capacity(self.seats, self.months)
        self.team_of_seat, self.teams = team_index(self.roster.columns, self.seats)
        self.market = sc.market if sc.market.active else None
        self.reach = _period_reach(checked)
        self.cross_period = self.reach != 0
        self.cross_rep = uses_cross_rep(checked)
        self.nodes, self.weights = quadrature(sc.noise_points)
        self._check_columns()
        self.relevant = self._relevant_activities()
        self.needed = self.prod.closure(set(self.columns) | {scenario.primary_measure})
        last = np.zeros(self.months, dtype=bool)
        for i in range(self.months):
            last[i] = i == self.months - 1 or self.period_of_month[i + 1] != self.period_of_month[i]
        self.last_month_of_period = last
        self.grid = np.array(sc.effort_grid)
        mp, ap = dict(sc.morale), dict(sc.attrition)
        self.morale_params, self.attrition_params = mp, ap
        self.base_hazard = 1.0 - (1.0 - ap["annual_base_rate"]) ** (1.0 / 12.0)

    def _plan_years(self) -> None:
        """The plan years the months fall in (a year restarts year-to-date terms and quotas)."""
        fy = [self.periods[k].fiscal_year for k in self.period_of_month]
        labels = list(dict.fromkeys(fy))
        self.years = tuple(str(y) for y in labels)
        self.Y = len(labels)
        self.year_of_month = np.array([labels.index(f) for f in fy], dtype=np.int64)
        self.year_of_period = np.array([labels.index(p.fiscal_year) for p in self.periods], dtype=np.int64)
        self.year_first_month = [int(np.argmax(self.year_of_month == y)) for y in range(self.Y)]
        self.year_end_month = [int(self.months - np.argmax(self.year_of_month[::-1] == y)) for y in range(self.Y)]
        self.year_first_period = [int(np.argmax(self.year_of_period == y)) for y in range(self.Y)]
        self.year_end_period = [int(self.P - np.argmax(self.year_of_period[::-1] == y)) for y in range(self.Y)]

    # -- checks ------------------------------------------------------------------------

    def _check_columns(self) -> None:
        produced = set(self.scenario.actual_columns)
        missing = sorted(set(self.columns) - produced)
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
        used = set(self.columns)
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

    # -- the run ---------------------------------------------------------------------------

    def chunk_size(self) -> int:
        return max(1, _DEFAULT_CELLS // self.slots)

    def run_chunk(self, runs: np.ndarray, until: int | None = None, keep: bool = False) -> ChunkResult:
        """Simulate the runs listed in ``runs`` (their indices) and return their results.

        Args:
            runs: run indices (run ``i`` draws only from its own streams, so results do not
                depend on which runs share the chunk).
            until: simulate only the first ``until`` months (the rest stay empty).
            keep: also return the monthly actuals, activity and seat of every slot
                (:attr:`ChunkResult.detail`).
        """
        state = self._begin(runs)
        months = self.months if until is None else max(1, min(int(until), self.months))
        for t in range(months):
            self._backfill(state, t)
            self._seat(state, t)
            self._decide(state, t)
            if t == 0:  # the months before the horizon at the effort the team works at
                self._before_horizon(state, state.choice)
            self._produce(state, t)
            self._settle_timing(state, t)
            self._close_period(state, t)
            self._morale(state, t)
            self._quits(state, t)
            if t + 1 < months and self.year_of_month[t + 1] != self.year_of_month[t]:
                self._new_year(state, t)
        result = self._finish(state, runs)
        self.condition.finish(self, state, result)
        if keep:
            result.detail = {"actual": state.actual, "active": state.active_m, "seat": state.seat,
                             "hired": state.hired, "left": state.left,
                             "tenure0": state.tenure - state.active_m.sum(axis=2)}
        return result

    # -- the steps of a month ----------------------------------------------------------------

    def _begin(self, runs: np.ndarray) -> MonthState:
        """The chunk's state before its first month: traits drawn, the starting team seated."""
        sc = self.scenario
        streams = RunStreams(self.seed, runs, self.condition.redraw)
        c, n, M, A, seats = len(runs), self.slots, self.months, len(sc.activities), self.seats
        traits = draw_traits(sc, streams, n, seats)
        seat = np.full((c, n), -1, dtype=np.int64)
        seat[:, :seats] = np.arange(seats)
        present = np.zeros((c, n), dtype=bool)
        present[:, :seats] = True
        zeros = np.zeros((c, n))
        state = MonthState(
            streams=streams, skill=traits.skill, kappa=traits.kappa, rho=traits.rho, outside=traits.outside,
            morale0=traits.morale0, tenure=traits.tenure, morale=traits.morale0.copy(),
            seat=seat, present=present, ever=present.copy(), hired=np.zeros((c, n), dtype=bool),
            next_slot=np.full(c, seats, dtype=np.int64), refill=np.full((c, seats), -1, dtype=np.int64),
            left=np.zeros((c, n), dtype=bool), regretted=np.zeros((c, n), dtype=bool),
            roster_cols={}, quota=zeros, ti=zeros, ote=zeros,
            choice=np.ones((A, c, n)), ramp=zeros, mm=zeros, outside_gap=zeros,
            actual={col: np.zeros((c, n, M)) for col in sc.actual_columns},
            active_m=np.zeros((c, n, M), dtype=bool), effort_m=np.zeros((c, n, M)), morale_m=np.zeros((c, n, M)),
            carry=zeros.copy(), pay_to_date=zeros.copy(), ti_to_date=zeros.copy(),
            expected_period_pay=zeros.copy(), timing_moves=np.zeros((c, 3)),
        )
        if self.market is not None:
            years = (M + 11) // 12
            z = streams.standard_normal("market", (1 + self.teams, years + M + 1))
            state.market = MarketPath.draw(self.market, z, M, self.team_of_seat[np.maximum(seat, 0)])
        self.condition.begin(self, state)
        self._seat_roster(state)
        self._before_horizon(state)
        return state

    def _before_horizon(self, state: MonthState, choice: np.ndarray | None = None) -> None:
        """Under payment delays, what the starting team closed in the months before the
        horizon and is paid in its first months: each rep's expected business at ``choice``
        (the effort chosen in the first month; baseline effort 1 for that first choice), their
        morale's multiplier, the season and ramp of those months, the market at its mean.
        Hires have nothing before the horizon."""
        pl = self.placement
        if pl is None or pl.depth == 0 or not pl.columns:
            return
        sc = self.scenario
        K = pl.depth
        if choice is None:
            choice = np.ones((len(sc.activities),) + state.present.shape)
        eff = choice * effort_multiplier(state.morale, state.morale_params or self.morale_params)
        cols = self.prod.closure(set(pl.columns))
        state.before = {col: np.zeros(state.present.shape + (K,)) for col in pl.columns}
        for j in range(1, K + 1):  # month -j, stored at K - j
            season = float(sc.seasonality[(self.start.month - 1 - j) % 12])
            ramp = ramp_factor(state.tenure - j, sc.ramp_months, sc.ramp_start)
            scale = state.quota if state.scale is None else state.scale
            exp = self.prod.expected(eff, state.skill, scale, season, ramp, cols)
            for col in pl.columns:
                state.before[col][:, :, K - j] = np.where(state.present & (state.tenure >= j), exp[col], 0.0)

    def _seat_roster(self, state: MonthState) -> None:
        """The roster columns of the slots from their seats (status and tenure are set monthly)."""
        state.roster_cols = self._slot_roster(state.seat)
        state.quota = state.roster_cols[self.scenario.primary_target]  # the annual primary target
        state.scale = state.quota  # the seat's first-year quota: what production scales with
        if state.seat_quota is not None:
            self._apply_quotas(state)
        state.ti = state.roster_cols["ti"]
        state.ote = state.roster_cols["ti"] + state.roster_cols["base_salary"]

    def _quota_columns(self) -> list[str]:
        """The roster columns the quota policy moves: the primary target and its multiples."""
        target = self.scenario.primary_target
        return [target] + [name for name, source, _ in self.scenario.derived_columns
                           if source == target and name != target and name in self.roster.columns]

    def _apply_quotas(self, state: MonthState) -> None:
        """Each slot's quota columns from its seat's quota this year (see :meth:`_new_year`)."""
        assert state.seat_quota is not None and state.scale is not None
        idx = np.maximum(state.seat, 0)
        q = np.take_along_axis(state.seat_quota, idx, axis=1)
        base = np.asarray(state.scale, dtype=float)
        ratio = np.where(base > 0, q / np.where(base > 0, base, 1.0), 1.0)
        for name in self._quota_columns():  # from the seats' first-year values
            state.roster_cols[name] = np.asarray(self.roster.columns[name], dtype=float)[idx] * ratio
        state.quota = state.roster_cols[self.scenario.primary_target]

    def _new_year(self, state: MonthState, t: int) -> None:
        """After a plan year's last month: the quota policy sets next year's quotas.

        Each seat's next quota follows :meth:`~engine.sim.scenario.QuotaPolicy.next_quota`
        from its quota and the year's primary actual of the rep holding it at the year's end,
        the months that rep was not in the role counted at target (a hire of the last four
        months: their actual plus eight months of quota / 12). A seat vacant at the year's
        end is treated as on target (``fixed`` and ``growth`` do not look at actuals). A
        ratchet never sets a quota below a tenth of this year's (so targets stay positive).
        Year-to-date pay (for the outside-offer comparison) restarts.
        """
        y = int(self.year_of_month[t])
        state.year_roster.append(dict(state.roster_cols))
        y0 = self.year_first_month[y]
        prim = state.actual[self.scenario.primary_measure][:, :, y0: t + 1].sum(axis=2)
        in_role = state.active_m[:, :, y0: t + 1].sum(axis=2)
        quota = np.asarray(state.quota, dtype=float)
        annual = prim + quota * np.maximum(12 - in_role, 0) / 12.0
        new = np.maximum(self.policy.next_quota(quota, annual), 0.1 * quota)
        c = len(state.seat)
        if state.seat_quota is None:
            seat_q = np.broadcast_to(np.asarray(self.roster.columns[self.scenario.primary_target], dtype=float),
                                     (c, self.seats))
        else:
            seat_q = state.seat_quota
        seat_new = np.array(self.policy.next_quota(seat_q, seat_q), dtype=float)
        rr, ss = np.nonzero(state.present & (state.seat >= 0))
        seat_new[rr, state.seat[rr, ss]] = new[rr, ss]
        state.seat_quota = seat_new
        self._apply_quotas(state)
        state.pay_to_date = np.zeros_like(state.pay_to_date)
        state.ti_to_date = np.zeros_like(state.ti_to_date)

    def _backfill(self, state: MonthState, t: int) -> None:
        """1. Backfills whose vacancy is over start, in new slots at tenure 0."""
        due = state.refill == t
        if not due.any():
            return
        n = self.slots
        order = np.cumsum(due, axis=1) - 1
        slot_of = state.next_slot[:, None] + order
        ok = due & (slot_of < n)
        rr, ss = np.nonzero(ok)
        sl = slot_of[rr, ss]
        state.seat[rr, sl] = ss
        state.present[rr, sl] = True
        state.ever[rr, sl] = True
        state.hired[rr, sl] = True
        state.tenure[rr, sl] = 0.0
        state.morale[rr, sl] = state.morale0[rr, sl]  # a new hire starts at their own initial morale
        state.choice[:, rr, sl] = 1.0
        state.next_slot += ok.sum(axis=1)
        state.refill[due] = -1
        self._seat_roster(state)
        if state.market is not None:
            state.market.team_of_slot = self.team_of_seat[np.maximum(state.seat, 0)]

    def _seat(self, state: MonthState, t: int) -> None:
        """Who is in the role this month, and the roster, ramp and morale multiplier they work with."""
        sc = self.scenario
        self.condition.seat(self, state, t)
        state.active_m[:, :, t] = state.present
        # Status and tenure as the plan sees them this month.
        state.roster_cols["tenure_months"] = state.tenure.copy()
        state.roster_cols["status"] = labels(state.hired | (state.tenure < sc.ramp_months), "new_hire", "tenured")
        self.condition.roster_columns(self, state)
        state.ramp = ramp_factor(state.tenure, sc.ramp_months, sc.ramp_start)
        state.mm = effort_multiplier(state.morale, state.morale_params or self.morale_params)
        if state.market is not None:  # what the reps expect of the market, seeing the months so far
            state.outlook, state.outlook_var = state.market.outlook(t, self.months)

    def _decide(self, state: MonthState, t: int) -> None:
        """2. Effort per activity that maximises utility.

        In a closed month nobody decides: what the rep expects from the period (for morale
        at its close) is the projection at the current effort.
        """
        k = int(self.period_of_month[t])
        period_starts = t == 0 or self.period_of_month[t - 1] != k
        # What-if evaluations only for the reps present; without cross-rep terms in the
        # plan they are packed into one row (no empty slots evaluated).
        cells = Cells(state.present, pack=not self.cross_rep)
        reps = self._reps(state, cells)
        mm = cells.take(state.mm)
        if t < self.condition.closed_months:
            if period_starts:
                window = self._window(k, False)
                _, pp = self._utility(reps, self._month_view(reps, t, window), cells.take(state.choice), mm)
                state.expected_period_pay = cells.put(pp[..., window.index(k)])
            return
        window = self._window(k, False)
        view = self._month_view(reps, t, window)
        expected = self._choose_effort(state, view, cells, reps, mm)
        if expected is not None and period_starts:
            # What the rep expects from this period, for the morale update at its close.
            state.expected_period_pay = cells.put(expected[..., window.index(k)])

    def _timing_month(self, t: int) -> bool:
        """Whether reps may move business across the period end after month ``t``.

        Only inside a plan year: across a year's end business would leave the horizon after
        its last year and arrive before its first, which no run sees, so every plan year of
        a run, and a 12-month run, are alike (docs/model.md §3)."""
        sc = self.scenario
        return bool(self.last_month_of_period[t]) and t + 1 < self.months \
            and (sc.timing_max_shift > 0 or sc.timing_max_push > 0) \
            and self.year_of_month[t + 1] == self.year_of_month[t] and sc.primary_measure in self.columns

    def _reps(self, state: MonthState, cells: Cells) -> Reps:
        return Reps(skill=cells.take(state.skill), quota=cells.take(state.quota), ti=cells.take(state.ti),
                    tenure=cells.take(state.tenure), kappa=cells.take(state.kappa), rho=cells.take(state.rho),
                    actual={col: cells.take_months(state.actual[col]) for col in self.columns},
                    active_m=cells.take_months(state.active_m), present=cells.take(state.present),
                    roster_cols={k: cells.take(v) for k, v in state.roster_cols.items()},
                    carry=cells.take(state.carry),
                    days_m=None if state.days_m is None else cells.take_months(state.days_m),
                    outlook=None if state.outlook is None else cells.take_months(state.outlook),
                    outlook_var=state.outlook_var,
                    scale=None if state.scale is None or state.scale is state.quota else cells.take(state.scale),
                    before={col: cells.take_months(v) for col, v in state.before.items()} or None)

    def _choose_effort(self, state: MonthState, view: _MonthView, cells: Cells, reps: Reps,
                       mm: np.ndarray) -> np.ndarray | None:
        """Coordinate-wise best effort per relevant activity over the effort grid.

        Returns the expected pay per window period at the chosen effort (None when the plan
        sees no activity).
        """
        sc = self.scenario
        best_pp: np.ndarray | None = None
        for a in self.relevant:
            levels = self.grid[self.grid <= sc.activities[a].max_effort + 1e-12]
            base_choice = cells.take(state.choice)
            # Where pay depends on other reps (contests, team terms), each rep weighs its
            # own deviation against the others' current choices (a best response).
            reference: dict | None = None
            if self.cross_rep:
                reference = {}
                self._utility(reps, view, base_choice, mm, record=reference, held=base_choice)
            best, best_pp = first_best(self._effort_trials(reps, view, base_choice, a, levels, mm, reference))
            state.choice[a] = np.where(state.present, cells.put(best, 1.0), 1.0)
        return best_pp

    def _effort_trials(self, reps: Reps, view: _MonthView, base_choice: np.ndarray, a: int, levels: np.ndarray,
                       mm: np.ndarray, reference: dict | None):
        """Each effort level of activity ``a`` (the other activities at ``base_choice``), in
        order: ``(level, utility, expected pay per window period)``.

        Packed cells (no cross-rep terms) evaluate blocks of levels in one what-if, the
        levels stacked along the (otherwise single) run axis: the plan is priced once per
        block instead of once per level, each cell's arithmetic unchanged. A block holds at
        most :data:`_WHAT_IF_CELLS` cells, so its temporaries stay as small as one level's
        in a large chunk.
        """
        c = base_choice.shape[1]
        block = 1 if self.cross_rep else max(1, _WHAT_IF_CELLS // max(base_choice[0].size, 1))
        for lo in range(0, len(levels), block):
            gs = levels[lo: lo + block]
            trial = effort_rows(list(base_choice))
            trial[a] = np.broadcast_to(np.repeat(gs, c)[:, None], (len(gs) * c,) + base_choice.shape[2:])
            u, pp = self._utility(reps, view, trial, mm, reference=reference, held=base_choice)
            for j, g in enumerate(gs):
                yield g, u[j * c: (j + 1) * c], pp[j * c: (j + 1) * c]

    def _settle_timing(self, state: MonthState, t: int) -> None:
        """3b. At a period's close, knowing the period's business: pull business forward from
        next month, push some of this month's into it, or neither (docs/model.md §3, "Timing").

        The choice is made once the month's business is realized, as a rep decides in the
        period's last days knowing where they stand, in thirds of the most the rep can move
        (:data:`TIMING_STEPS`, a third of the period's expected business by default). Pulled
        business arrives now at a discount and is missing next month; pushed business (at most
        what the month brought) arrives next month, less what customers would not wait for. Each
        candidate is valued as the rep values effort: the pay of the closing period (now known)
        and the certainty equivalent of what follows, projected at the rep's current effort.
        """
        if t < self.condition.closed_months or not self._timing_month(t):
            return
        sc, primary = self.scenario, self.scenario.primary_measure
        k = int(self.period_of_month[t])
        # What the period's months bring at this month's expected rate: up to ``max_shift`` of
        # it can be pulled from next month's pipeline, up to ``max_push`` of it (at most what
        # the month brought) held back from the period's last days.
        rate = MONTHS_PER_PERIOD[self.plan.period] * self._expected_month(
            t, state.choice * state.mm, state.skill, state.scale, state.ramp, self._outlook(state, 0),
            self.prod.closure({primary}))[primary]
        pull_most, push_most = sc.timing_max_shift * rate, sc.timing_max_push * rate
        month = np.maximum(state.actual[primary][:, :, t], 0.0)
        cells = Cells(state.present, pack=not self.cross_rep)
        reps = self._reps(state, cells)
        # The reps as they will decide next month: a month more tenure, the market seen to date.
        outlook, outlook_var = (None, None) if state.market is None else state.market.outlook(t + 1, self.months)
        reps = replace(reps, tenure=reps.tenure + cells.take(state.present.astype(float)),
                       outlook=None if outlook is None else cells.take_months(outlook), outlook_var=outlook_var)
        moves = []
        for d in TIMING_STEPS:
            pulled = max(d, 0.0) * pull_most
            pushed = np.minimum(max(-d, 0.0) * push_most, month)
            moves.append((pulled * (1.0 - sc.timing_pull_cost) - pushed,
                          state.carry - pulled + pushed * (1.0 - sc.timing_push_cost)))
        utilities = self._timing_utilities(reps, t, self._window(k, True), cells.take(state.choice),
                                           cells.take(state.mm), [(cells.take(a), cells.take(b)) for a, b in moves])
        best, _ = first_best((i, u, None) for i, u in enumerate(utilities))
        pick = np.where(state.present, cells.put(best, 0.0), 0.0).astype(np.int64)
        now = np.choose(pick, [m[0] for m in moves])
        state.actual[primary][:, :, t] = np.where(state.present, state.actual[primary][:, :, t] + now, 0.0)
        state.carry = np.where(state.present, np.choose(pick, [m[1] for m in moves]), 0.0)
        direction = np.asarray(TIMING_STEPS)[pick]
        state.timing_moves += np.stack([state.present.sum(axis=1), (state.present & (direction > 0)).sum(axis=1),
                                        (state.present & (direction < 0) & (now < 0)).sum(axis=1)], axis=1)

    def _timing_utilities(self, reps: Reps, t: int, window: list[int], choice: np.ndarray, mm: np.ndarray,
                          moves: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """The utility of each move ``(business added to month t, carry into month t + 1)``,
        seen from the month after ``t``.

        Packed cells evaluate the moves in one what-if, stacked along the run axis, where they
        fit in :data:`_WHAT_IF_CELLS`; otherwise one at a time, and with cross-rep terms the
        first (no move) records the others' reference values.
        """
        primary = self.scenario.primary_measure

        def trial(now: np.ndarray, carry: np.ndarray, stack: int = 1) -> Reps:
            actual = dict(reps.actual)
            actual[primary] = np.repeat(reps.actual[primary], stack, axis=0) if stack > 1 else \
                reps.actual[primary].copy()
            actual[primary][:, :, t] += now
            return replace(reps, actual=actual, carry=carry)

        def ratchet(u: np.ndarray, now: np.ndarray) -> np.ndarray:
            # Under a ratchet the month's business counts toward next year's quota as the
            # months ahead do (:meth:`_ratchet_cost` prices only those): moving it between
            # this month and the next inside the plan year changes the year's output by the
            # discount only, not by what was moved.
            return u - self._ratchet_price(reps) * now if self.ratchet > 0 else u

        if not self.cross_rep and len(moves) * moves[0][0].size <= _WHAT_IF_CELLS:
            now = np.concatenate([m[0] for m in moves])
            stacked = trial(now, np.concatenate([m[1] for m in moves]), len(moves))
            u, _ = self._utility(stacked, self._month_view(stacked, t + 1, window), choice, mm)
            u = ratchet(u, now)
            c = moves[0][0].shape[0]
            return [u[i * c: (i + 1) * c] for i in range(len(moves))]
        reference: dict | None = {} if self.cross_rep else None
        out = []
        for i, (now, carry) in enumerate(moves):
            one = trial(now, carry)
            u, _ = self._utility(one, self._month_view(one, t + 1, window), choice, mm,
                                 record=reference if i == 0 else None, reference=reference if i else None)
            out.append(ratchet(u, now))
        return out

    def _produce(self, state: MonthState, t: int) -> None:
        """3. Outputs realized from the run's output streams, with business moved at the last period end."""
        sc, prod = self.scenario, self.prod
        primary = sc.primary_measure
        n_out, n = len(prod.outputs), self.slots
        eff = state.choice * state.mm
        demand = None if state.market is None else state.market.factor(t)
        exp_vals = self._expected_month(t, eff, state.skill, state.scale, state.ramp, demand)
        uni = state.streams.random("output_uniform", (n_out, n))
        nor = state.streams.standard_normal("output_normal", (n_out, n))
        real = prod.realize(exp_vals, eff, np.moveaxis(uni, 1, 0), np.moveaxis(nor, 1, 0), poisson_ppf)
        # Business moved across the last period end (:meth:`_settle_timing`): pushed business
        # arrives now, pulled business is missing. Where a month brings less than was pulled
        # from it, the rest is missing from the months after (``owed``), so no month's
        # business is negative and none is created.
        prim = real[primary] + state.carry
        state.carry = np.minimum(prim, 0.0)
        real[primary] = prim - state.carry
        self.condition.realized(self, state, t, real)
        for col in state.actual:
            state.actual[col][:, :, t] = np.where(state.present, real[col], 0.0)
        state.carry = np.where(state.present, state.carry, 0.0)
        self.condition.observe(self, state, t, exp_vals, eff)
        state.effort_m[:, :, t] = np.where(state.present, (eff * prod.shares[:, None, None]).sum(axis=0), 0.0)
        state.morale_m[:, :, t] = np.where(state.present, state.morale, 0.0)

    def _close_period(self, state: MonthState, t: int) -> None:
        """4. At a period's close: the plan pays on the realized actuals and morale responds."""
        if not self.last_month_of_period[t]:
            return
        k = int(self.period_of_month[t])
        primary = self.scenario.primary_measure
        pay, ti_k, awards = self._period_pay(k, t, state.actual, state.active_m, state.roster_cols,
                                             days_m=state.days_m, before=state.before)
        state.pay_to_date += pay
        state.ti_to_date += ti_k
        gap = np.clip((pay - state.expected_period_pay) / np.maximum(ti_k, 1e-9), -1.0, 1.0)
        y0 = self.year_first_month[int(self.year_of_month[t])]
        unfair = self._unfairness(pay, state.actual[primary][:, :, y0: t + 1].sum(axis=2)
                                  / np.maximum(state.quota * (t + 1 - y0) / 12.0, 1e-9), state.present)
        state.morale = morale_after_pay(state.morale, state.morale_params or self.morale_params, gap, unfair, awards)

    def _morale(self, state: MonthState, t: int) -> None:
        """Every month: outside offers, hopeless targets and recovery move morale."""
        # Expected annual pay: on target at the start of the year, then weighted toward
        # what the plan has actually paid so far.
        y = int(self.year_of_month[t])
        y0, end = self.year_first_month[y], self.year_end_month[y]
        state.outside_gap = outside_gap(state.outside, state.roster_cols["base_salary"], state.ti, state.ote,
                                        state.pay_to_date, state.ti_to_date, (t + 1 - y0) / (end - y0))
        hopeless = self._hopeless(t, state.actual[self.scenario.primary_measure], state.active_m, state.quota,
                                  state.skill, state.tenure, state.mm, state.outlook, scale=state.scale)
        mp = state.morale_params or self.morale_params
        state.morale = morale_after_month(state.morale, mp, state.outside_gap, hopeless, state.morale0)

    def _quits(self, state: MonthState, t: int) -> None:
        """5. Quits at the month's end (from the run's quit stream); the seat is refilled after the vacancy.

        The horizon's last month has its quits too (no backfill starts inside the horizon):
        a plan year's attrition counts twelve months of hazard whether or not the year is the
        horizon's last, so a 12-month run and each year of a longer one report alike.
        """
        ap = self.attrition_params
        quit_u = state.streams.random("quits", (self.slots,))
        hazard = quit_hazard(self.base_hazard, ap, state.morale, state.outside_gap)
        quits = state.present & (quit_u < hazard) & (t >= self.condition.closed_months)
        if quits.any():
            y0 = self.year_first_month[int(self.year_of_month[t])]
            active = state.active_m[:, :, y0: t + 1]
            perf = state.actual[self.scenario.primary_measure][:, :, y0: t + 1].sum(axis=2) / np.maximum(
                state.quota * np.maximum(active.sum(axis=2), 1) / 12.0, 1e-9)
            state.regretted |= quits & self._top_quartile(perf, state.present)
            state.left |= quits
            state.present = state.present & ~quits
            rr, ss = np.nonzero(quits)
            start_at = t + 1 + int(ap["vacancy_months"])
            if start_at < self.months:
                state.refill[rr, state.seat[rr, ss]] = start_at
        state.tenure = state.tenure + state.present

    # -- pieces of the month ---------------------------------------------------------------

    def _slot_roster(self, seat: np.ndarray) -> dict[str, np.ndarray]:
        """Roster columns per (run, slot): the seat's values (status and tenure are set monthly)."""
        idx = np.maximum(seat, 0)
        return {name: np.asarray(col)[idx] for name, col in self.roster.columns.items()}

    def _expected_month(self, t, effort, skill, quota, ramp, demand=None, only=None) -> dict[str, np.ndarray]:
        """Expected outputs of month ``t`` (or those in ``only``, see Production.expected);
        ``demand`` the month's market multiplier (or None)."""
        season = float(self.season[t]) if demand is None else float(self.season[t]) * demand
        return self.prod.expected(effort, skill, quota, season, ramp, only)

    @staticmethod
    def _outlook(state_or_reps, ahead: int):
        """The expected market multiplier ``ahead`` months from now (None without a market)."""
        o = state_or_reps.outlook
        return None if o is None else o[..., ahead]

    def _window(self, k: int, timing: bool) -> list[int]:
        """Plan periods whose pay this month's choices can change (and what they need to see).

        Under payment delays the choices reach further (:meth:`_paid_window`)."""
        if self.reach is None:  # year-to-date terms: the periods of k's plan year
            y = int(self.year_of_period[k])
            return list(range(self.year_first_period[y], self.year_end_period[y]))
        lo = max(k - self.reach, 0)
        hi = min(k + self.reach + (1 if timing else 0), self.P - 1)
        return list(range(lo, hi + 1))

    def _paid_window(self, window: list[int]) -> list[int]:
        """The window and, under payment delays, the later periods the business closed in its
        months is paid in (up to the horizon's last period)."""
        if self.placement is None or not self.placement.depth:
            return window
        last = max(m for m in range(self.months) if self.period_of_month[m] == window[-1])
        until = int(self.period_of_month[min(last + self.placement.depth, self.months - 1)])
        return window + list(range(window[-1] + 1, until + 1))

    def _month_view(self, reps: Reps, t: int, window: list[int]) -> _MonthView:
        """What every what-if evaluation of month ``t`` over ``window`` shares, whatever effort
        or timing it tries (see :class:`_MonthView`)."""
        sc = self.scenario
        decided = window
        window = self._paid_window(window)
        months = [m for m in range(self.months) if self.period_of_month[m] in window]
        future = [m for m in months if m >= t and self.period_of_month[m] in decided]
        later = [m for m in months if m >= t and self.period_of_month[m] not in decided]
        # Quadrature over the relative noise of the remaining primary-driven amounts.
        cv = self.prod.monthly_cv(sc.output(sc.primary_measure)) / np.sqrt(max(len(future), 1))
        s2 = np.log1p(cv * cv)
        if reps.outlook_var is not None and future:
            # The market's uncertainty over the months left (as if fully correlated: its level dominates).
            s2 = s2 + float(np.mean(reps.outlook_var[[m - t for m in future]]))
        s = np.sqrt(s2)
        active, prorate = self._period_activity(window, months, t, reps.active_m, reps.days_m, reps.present)
        return _MonthView(t=t, decided=decided, window=window, months=months, future=future, later=later,
                          season=self._what_if_season(reps, t, future + later),
                          ramp=np.stack([ramp_factor(reps.tenure + (m - t), sc.ramp_months, sc.ramp_start)
                                         for m in future + later]) if future + later else np.zeros(0),
                          factors=np.exp(s * self.nodes - s * s / 2.0), periods=tuple(self.periods[k] for k in window),
                          active=active, prorate=prorate, realized=self._what_if_realized(reps, t, window, months))

    def _what_if_season(self, reps: Reps, t: int, months: list[int]) -> np.ndarray:
        """``(months, ...)`` the demand factor of each projected month: seasonality, times the
        market the reps expect."""
        if reps.outlook is None:
            return np.array([float(self.season[m]) for m in months]).reshape((-1,) + (1,) * reps.present.ndim)
        if not months:
            return np.zeros(0)
        return np.stack([float(self.season[m]) * reps.outlook[..., m - t] for m in months])

    def _period_activity(self, window: list[int], months, t: int, active_m: np.ndarray,
                         days_m: np.ndarray | None, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(c, n, W)`` who is active in each window period and the share of it they work,
        over ``months``: months before ``t`` as they were (``active_m``, or the roster's
        active days ``days_m`` in conditioned runs), the rest as ``present`` now."""
        shape = active_m.shape[:2]
        active = np.zeros(shape + (len(window),), dtype=bool)
        prorate = np.zeros(shape + (len(window),))
        for wi, k in enumerate(window):
            ms = [m for m in months if self.period_of_month[m] == k]
            days = sum(self.days[m] for m in ms)
            if days_m is None:
                got = sum(np.where(active_m[:, :, m] if m < t else present, self.days[m], 0.0) for m in ms)
            else:
                got = sum(days_m[:, :, m] if m < t else np.where(present, self.days[m], 0.0) for m in ms)
            active[..., wi] = got > 0
            prorate[..., wi] = got / self.periods[k].days if days else 0.0
        return active, prorate

    def _what_if_realized(self, reps: Reps, t: int, window: list[int], months: list[int]) -> dict:
        """Summed columns not paid later: per window period, the sum of its months before
        ``t`` (None: none) and its months from ``t`` on, which the what-ifs project.

        The running sum is the one :func:`aggregate` would compute, month by month in
        order; its realized part is the same for every candidate, so it is added once.
        """
        pl = self.placement
        out: dict[str, list] = {}
        for col in self.columns:
            if self.checked.actual_columns.get(col, "sum") != "sum" or (pl is not None and col in pl.columns):
                continue
            per = []
            for k in window:
                ms = [m for m in months if self.period_of_month[m] == k]
                done = None
                for m in ms:
                    if m < t:
                        done = reps.actual[col][:, :, m] if done is None else done + reps.actual[col][:, :, m]
                per.append((done, [m for m in ms if m >= t]))
            out[col] = per
        return out

    def _project(self, view: _MonthView, eff: np.ndarray, eff_later: np.ndarray, skill: np.ndarray,
                 scale: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
        """Expected outputs of each month from ``t`` on: the decided months at ``eff``, the
        later ones at ``eff_later``.

        One call of the production model per effort, the months stacked on a leading axis
        of the season and ramp: each month's value is the same product as a call per month,
        but the effort terms (powers, logs) are computed once instead of once a month.
        Outputs that do not depend on the month have no month axis.
        """
        proj: dict[int, dict[str, np.ndarray]] = {}
        F = len(view.future)
        for months, effort, lo in ((view.future, eff, 0), (view.later, eff_later, F)):
            if not months:
                continue
            hi = lo + len(months)
            stacked = self.prod.expected(effort, skill, scale, view.season[lo:hi], view.ramp[lo:hi], self.needed)
            for i, m in enumerate(months):
                proj[m] = {col: v[i] if v.ndim > skill.ndim else v for col, v in stacked.items()}
        return proj

    def _utility(self, reps: Reps, view: _MonthView, choice: np.ndarray, mm: np.ndarray,
                 record: dict | None = None,
                 reference: dict | None = None, held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Certainty equivalent of projected pay over the window minus the cost of effort.

        Under payment delays the pay counted runs on into the periods the window's business
        is paid in (:meth:`_paid_window`), whose own months are projected at the effort
        ``held`` (the reps' current choice: their effort is not what is being decided), and
        business paid after the horizon counts in its last month.

        Several candidates can be evaluated at once (packed cells only): ``choice`` then
        stacks them along the run axis, ``(A, candidates, cells)``, and so do the results.

        Args:
            reps: the reps evaluated (their cells).
            view: what the month's what-ifs share (:meth:`_month_view`).
            choice: ``(A, ...)`` chosen effort per activity (an array, or rows of different
                widths as :func:`effort_rows` makes them); ``mm`` the morale multiplier.
            record, reference: cross-rep reference values (see ``PayoutProgram.evaluate``).
            held: ``(A, ...)`` effort in the months after the window (default ``choice``).

        Returns ``(utility (c, n), expected pay per window period (c, n, len(window)))``.
        """
        present, carry = reps.present, reps.carry
        scale = reps.quota if reps.scale is None else reps.scale
        t, window, future = view.t, view.window, view.future
        eff = effort_rows([row * mm for row in choice])
        eff_later = eff if held is None else effort_rows([row * mm for row in held])
        # Projected monthly values for the months from t on (same effort for the rest).
        proj = self._project(view, eff, eff_later, reps.skill, scale)
        # Business moved into this month across the last period end is known deals: it
        # carries none of the month's noise (added after it, :meth:`_what_if_actuals`).
        certain = {t: carry} if carry is not None and t in proj else {}
        cand = np.broadcast_shapes(present.shape, *(np.shape(row) for row in eff),
                                   np.shape(carry) if carry is not None else ())
        shape = (len(view.factors),) + cand
        W = len(window)
        inputs = Inputs(
            rep_ids=self._rep_ids(), periods=view.periods, roster=reps.roster_cols,
            actuals=self._what_if_actuals(reps, view, proj, shape, certain),
            active=np.broadcast_to(view.active, shape + (W,)), proration=np.broadcast_to(view.prorate, shape + (W,)),
            mix=self.mix,
        )
        res = self.prog.evaluate(inputs, grades=False, record=record, reference=reference)
        per_period = res.total  # (S, c, n, W)
        v = sum_last_axis(per_period)
        u = effort_utility(v, self.weights, reps.rho, reps.kappa, reps.ti, len(future), self.prod.shares,
                           np.stack(np.broadcast_arrays(*choice)))
        if self.ratchet > 0:
            u = u - self._ratchet_cost(reps, t, future, proj, certain)
        expected_pp = nodes_sum(self.weights, per_period[..., : len(view.decided)])
        return np.where(present, u, 0.0), expected_pp

    def _what_if_actuals(self, reps: Reps, view: _MonthView, proj: dict, shape: tuple,
                         certain: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
        """Each column's actuals per window period ``(*shape, W)``: realized before ``t``,
        projected from it (the noise priced is the decided months': later months at their
        expected value; ``certain`` adds known primary business to a month after its noise)."""
        sc, t, window, factors = self.scenario, view.t, view.window, view.factors
        amount_cols = {o.name for o in sc.outputs if o.kind in ("amount", "share_of")}
        decided_months = set(view.future)
        before = reps.before or {}
        acts: dict[str, np.ndarray] = {}

        primary = sc.primary_measure

        def projected(m: int, col: str) -> np.ndarray:
            base = proj[m][col]
            v = factors[:, None, None] * base if col in amount_cols and m in decided_months else base
            return v + certain[m] if col == primary and m in certain else v

        for col in self.columns:
            if col in view.realized:
                # Summed month by month in order, as aggregate sums; each array only as
                # large as what it varies with (the plan broadcasts).
                totals: list = []
                for done, ahead in view.realized[col]:
                    total = done
                    for m in ahead:
                        total = projected(m, col) if total is None else total + projected(m, col)
                    totals.append(0.0 if total is None else total)
                acts[col] = by_period(totals)
                continue
            agg = self.checked.actual_columns.get(col, "sum")
            past, prior = reps.actual[col], before.get(col)

            def closed(m: int, past=past, prior=prior, col=col):
                """Business closed in month ``m``: realized before ``t``, projected from it."""
                if m < 0:
                    return 0.0 if prior is None else prior[..., prior.shape[-1] + m]
                if m < t:
                    return past[:, :, m]
                return np.broadcast_to(projected(m, col), shape)

            for suffix, gathered in self._gathered(col, window, view.months, closed,
                                                   lambda m: reps.active_m[:, :, m] if m < t else reps.present,
                                                   agg, shape, fold=True).items():
                acts[col + suffix] = gathered
        return acts

    def _ratchet_cost(self, reps: Reps, t: int, future: list[int], proj: dict, certain: dict) -> np.ndarray:
        """What this year's projected primary output costs the rep in next year's pay (docs/model.md §11).

        Under a ratchet, one more unit of this year's output raises next year's quota by
        ``weight x (1 + growth)``; near target, a unit of quota costs about what a unit of
        output pays on target, ``TI / ((1 + growth) x quota)``; so each unit of this year's
        output costs ``discount x weight x TI / quota`` of next year's pay. Reps see the policy beyond the horizon: the last simulated year is
        weighed too.
        """
        y = int(self.year_of_month[t])
        ahead = [m for m in future if self.year_of_month[m] == y]
        if not ahead:
            return np.zeros(reps.present.shape)
        primary = self.scenario.primary_measure
        output = sum(proj[m][primary] + certain.get(m, 0.0) for m in ahead)
        return self._ratchet_price(reps) * output

    def _ratchet_price(self, reps: Reps) -> np.ndarray:
        """What a unit of this year's primary output costs in next year's pay under the
        ratchet: ``discount x weight x TI / quota`` (:meth:`_ratchet_cost`)."""
        return self.ratchet * reps.ti / np.maximum(reps.quota, 1e-9)

    def _rep_ids(self) -> np.ndarray:
        if not hasattr(self, "_ids"):
            ids = list(self.roster.rep_ids) + [f"H{i + 1:05d}" for i in range(self.slots - self.seats)]
            self._ids = np.array(ids, dtype=object)
        return self._ids

    def _period_pay(self, k, t, actual, active_m, roster_cols, days_m=None, before=None):
        """Pay for period k on the realized actuals (evaluating the plan up to k)."""
        if self.reach is None:  # year-to-date terms: from the start of k's plan year
            window = list(range(self.year_first_period[int(self.year_of_period[k])], k + 1))
        else:
            window = list(range(k + 1)) if self.cross_period else [k]
        inputs = self._realized_inputs(window, actual, active_m, roster_cols, upto=t + 1, days_m=days_m,
                                       before=before)
        res = self.prog.evaluate(inputs)
        pay = res.total[..., -1]
        ti_k = np.asarray(res.values["target_incentive"], dtype=float)[..., -1]
        if self.plan.accumulate == "year" and len(window) > 1:
            ti_k = ti_k - np.asarray(res.values["target_incentive"], dtype=float)[..., -2]
        awards = np.zeros_like(pay)
        for c in self.plan.components:
            if kind_of(c.kind).contest:
                awards += res.columns[c.name][..., -1] > 0
        return pay, ti_k, awards

    def _gathered(self, col: str, window: list[int], months, closed, active, agg: str, shape: tuple,
                  fold: bool = False) -> dict[str, np.ndarray]:
        """The monthly values of a column gathered into each window period ``(*shape, W)``:
        ``{"": values}``, and under payment delays what reaches the plan in each month
        (:meth:`~engine.sim.payment.Placement.months`: ``"~credit"`` for credit notes as rows).

        ``closed(m)`` is the business closed in month ``m`` (negative: before the horizon),
        ``active(m)`` who was in the role, ``months`` the months to gather; ``fold``: business
        paid after the horizon counts in its last month (a rep's view: it will be paid).
        """
        pl = self.placement
        paid = pl is not None and col in pl.columns
        out: dict[str, np.ndarray] = {}
        for wi, k in enumerate(window):
            ms = [m for m in months if self.period_of_month[m] == k]
            vals: dict[str, list] = {"": []}
            for m in ms:
                placed = pl.months(closed, m, fold=fold and m == self.months - 1) if paid else {"": closed(m)}  # type: ignore[union-attr]
                for suffix, v in placed.items():
                    vals.setdefault(suffix, []).append(np.broadcast_to(v, shape))
            act_ms = [active(m) for m in ms]
            for suffix, vs in vals.items():
                per = out.setdefault(suffix, np.zeros(shape + (len(window),)))
                per[..., wi] = aggregate(vs, act_ms, agg if suffix == "" else "sum")
        return out

    def _realized_inputs(self, window, actual, active_m, roster_cols, upto=None, days_m=None,
                         before=None) -> Inputs:
        M = self.months if upto is None else upto
        c, n = active_m.shape[:2]
        acts = {}
        for col in self.columns:
            agg = self.checked.actual_columns.get(col, "sum")
            past, prior = actual[col], (before or {}).get(col)

            def closed(m: int, past=past, prior=prior):
                if m < 0:
                    return 0.0 if prior is None else prior[..., prior.shape[-1] + m]
                return past[:, :, m]

            for suffix, gathered in self._gathered(col, window, range(M), closed, lambda m: active_m[:, :, m],
                                                   agg, (c, n)).items():
                acts[col + suffix] = gathered
        # Every month is before M: the reps present "now" are never read.
        active, prorate = self._period_activity(window, range(M), M, active_m, days_m,
                                                np.zeros(active_m.shape[:2], dtype=bool))
        return Inputs(rep_ids=self._rep_ids(), periods=tuple(self.periods[k] for k in window), roster=roster_cols,
                      actuals=acts, active=active, proration=prorate, mix=self.mix)

    def _unfairness(self, pay, perf, present) -> np.ndarray:
        """|percentile of pay - percentile of performance| within each run."""
        return np.abs(percentile_rank(pay, present) - percentile_rank(perf, present))

    def _top_quartile(self, perf, present) -> np.ndarray:
        return percentile_rank(perf, present) >= 0.75

    def _hopeless(self, t, prim_actual, active_m, quota, skill, tenure, mm, outlook=None, scale=None) -> np.ndarray:
        """Even the highest effort for the rest of the year leaves the rep under 80% of target.

        The target is the annual quota prorated to the months the rep is in the role
        (the months of the plan year so far plus the rest of the plan year in the horizon);
        ``scale`` is what production scales with (default: the quota).
        """
        y = int(self.year_of_month[t])
        y0, M = self.year_first_month[y], self.year_end_month[y]
        if t + 1 >= M:
            return np.zeros_like(quota)
        scale = quota if scale is None else scale
        sc = self.scenario
        done = prim_actual[:, :, y0: t + 1].sum(axis=2)
        emax = np.full((len(sc.activities),) + quota.shape, float(self.grid[-1]))
        rest: np.ndarray | float = 0.0
        for m in range(t + 1, M):
            ramp = ramp_factor(tenure + (m - t), sc.ramp_months, sc.ramp_start)
            season = float(self.season[m]) if outlook is None else float(self.season[m]) * outlook[..., m - t]
            rest = rest + self.prod.expected(emax * mm, skill, scale, season, ramp,
                                             self.prod.closure({sc.primary_measure}))[sc.primary_measure]
        months_in_role = active_m[:, :, y0: t + 1].sum(axis=2) + (M - t - 1)
        return (done + rest < 0.8 * quota * months_in_role / 12.0).astype(float)

    # -- results ---------------------------------------------------------------------------

    def _finish(self, state: MonthState, runs: np.ndarray) -> ChunkResult:
        """The chunk's results: the plan evaluated on the whole year, per-run figures, per-rep values."""
        if self.Y > 1:
            return self._finish_years(state, runs)
        actual, active_m, roster_cols, quota, days_m = (state.actual, state.active_m, state.roster_cols, state.quota,
                                                        state.days_m)
        if days_m is None:
            inputs = self._realized_inputs(list(range(self.P)), actual, active_m, roster_cols, before=state.before)
        else:
            inputs = self._realized_inputs(list(range(self.P)), actual, active_m, roster_cols, days_m=days_m,
                                           before=state.before)
        res = self.prog.evaluate(inputs)
        total, base_pay = res.total, res.base_pay
        days_active = (active_m * self.days).sum(axis=2)
        target = quota * days_active / self.days.sum() * (self.months / 12.0)
        return chunk_result(self, state, runs, total, base_pay, target)

    def _finish_years(self, state: MonthState, runs: np.ndarray) -> ChunkResult:
        """Several plan years: each year evaluated with the roster (quotas) of its end, and
        per-year figures (:attr:`ChunkResult.by_year`)."""
        Y = self.Y
        rosters = list(state.year_roster)[:Y]
        rosters += [state.roster_cols] * (Y - len(rosters))
        totals, bases = [], []
        for y in range(Y):
            window = list(range(self.year_first_period[y], self.year_end_period[y]))
            inputs = self._realized_inputs(window, state.actual, state.active_m, rosters[y], days_m=state.days_m,
                                           before=state.before)
            res = self.prog.evaluate(inputs)
            totals.append(np.asarray(res.total, dtype=float))
            bases.append(None if res.base_pay is None else np.asarray(res.base_pay, dtype=float))
        total = np.concatenate(totals, axis=-1)
        base_pay: np.ndarray | None = None
        if all(b is not None for b in bases):
            base_pay = np.concatenate([b for b in bases if b is not None], axis=-1)
        prim = state.actual[self.scenario.primary_measure]
        targets = np.zeros(prim.shape[:2] + (Y,))
        for y in range(Y):
            ms = slice(self.year_first_month[y], self.year_end_month[y])
            days_active = (state.active_m[:, :, ms] * self.days[ms]).sum(axis=2)
            quota = np.asarray(rosters[y][self.scenario.primary_target], dtype=float)
            targets[..., y] = quota * days_active / self.days[ms].sum() * ((ms.stop - ms.start) / 12.0)
        result = chunk_result(self, state, runs, total, base_pay, targets.sum(axis=2))
        result.by_year = by_year(self, state, total, targets, result.rep_mask)
        return result
