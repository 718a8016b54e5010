"""What a chunk of runs produced (:class:`ChunkResult`), from the pay the plan gave and the
month-by-month state: per-run figures, per-rep values and, over several plan years, per-year
figures. :class:`~engine.sim.simulate.Simulation` evaluates the plan; this is the arithmetic
after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.sim.cells import percentile_rank, run_totals
from engine.sim.scenario import Scenario

if TYPE_CHECKING:
    from engine.sim.simulate import MonthState

__all__ = ["ChunkResult", "SimCalendar", "by_year", "chunk_result"]


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
    base_pay_cost: np.ndarray | None = None  # (runs,) the plan's base_pay paid, all reps (plans with base_pay)
    period_payout: np.ndarray | None = None  # (runs, seats, P) conditioned runs: each roster rep's pay
    quit_seat: np.ndarray | None = None  # (runs, seats) conditioned runs: the roster rep quit in the year
    primary_expected: np.ndarray | None = None  # (runs, months) conditioned: sum of expected primary
    primary_baseline: np.ndarray | None = None  # (runs, months) conditioned: the same at effective effort 1
    expected_counts: dict | None = None  # conditioned: count/incidents column -> (runs, months) expected, roster reps
    morale_drain: np.ndarray | None = None  # conditioned: (runs, 2) summed monthly morale drain and its rep-months
    carry_out: np.ndarray | None = None  # conditioned: (runs, seats) primary business moved past the last month run
    detail: dict | None = None  # with keep=True: monthly actuals, activity and seats per slot
    by_year: dict | None = None  # several plan years: per-year figures (see Simulation._by_year)
    timing_moves: np.ndarray | None = None  # (runs, 3): rep period-ends that could move business, pulled, pushed


class SimCalendar(Protocol):
    """What the results read of a simulation: its scenario, seats and calendar."""

    scenario: Scenario
    seats: int
    months: int
    days: np.ndarray
    years: tuple[str, ...]
    Y: int
    year_of_month: np.ndarray
    year_first_month: list[int]
    year_end_month: list[int]
    year_first_period: list[int]
    year_end_period: list[int]
    last_month_of_period: np.ndarray


def by_year(sim: SimCalendar, state: MonthState, total: np.ndarray, targets: np.ndarray, rep_mask: np.ndarray
            ) -> dict:
    """Per plan year: ``(runs, years)`` figures as at the top level, and ``(runs, slots,
    years)`` attainment with its mask. A leaver counts in the year of their last month."""
    Y, sc = sim.Y, sim.scenario
    prim, active_m = state.actual[sc.primary_measure], state.active_m
    last = sim.months - 1 - np.argmax(active_m[:, :, ::-1], axis=2)
    year_left = sim.year_of_month[last]
    mp = dict(sc.morale)
    disengaged = (state.morale_m < mp["disengaged_below"]) & active_m
    out: dict = {"labels": sim.years}
    keys = ("cost", "revenue", "leavers", "regretted", "headcount", "replacement_cost", "disengaged_months",
            "active_months", "effort_sum")
    for key in keys:
        out[key] = np.zeros((len(prim), Y))
    out["attainment"] = np.zeros(targets.shape)
    out["mask"] = np.zeros(targets.shape, dtype=bool)
    rc = dict(sc.attrition)["replacement_cost"]
    for y in range(Y):
        ms = slice(sim.year_first_month[y], sim.year_end_month[y])
        ps = slice(sim.year_first_period[y], sim.year_end_period[y])
        out["cost"][:, y] = np.where(rep_mask, total[..., ps].sum(axis=-1), 0.0).sum(axis=1)
        out["revenue"][:, y] = run_totals(prim[:, :, ms])
        gone = state.left & (year_left == y)
        out["leavers"][:, y] = gone.sum(axis=1)
        out["regretted"][:, y] = (state.regretted & gone).sum(axis=1)
        out["headcount"][:, y] = active_m[:, :, ms].sum(axis=1).mean(axis=1)
        out["replacement_cost"][:, y] = np.where(gone, state.ote, 0.0).sum(axis=1) * rc
        out["disengaged_months"][:, y] = run_totals(disengaged[:, :, ms])
        out["active_months"][:, y] = run_totals(active_m[:, :, ms])
        out["effort_sum"][:, y] = run_totals(state.effort_m[:, :, ms])
        target = targets[..., y]
        out["mask"][..., y] = state.ever & (target > 0)
        out["attainment"][..., y] = np.where(target > 0, prim[:, :, ms].sum(axis=2) / np.maximum(target, 1e-9),
                                             0.0)
    return out

def chunk_result(sim: SimCalendar, state: MonthState, runs: np.ndarray, total: np.ndarray, base_pay,
                 target: np.ndarray) -> ChunkResult:
    """The chunk's figures from the pay per period (``total``) and each rep's target."""
    actual, active_m, effort_m, morale_m = state.actual, state.active_m, state.effort_m, state.morale_m
    ote, left, regretted = state.ote, state.left, state.regretted
    ever, skill, days_m = state.ever, state.skill, state.days_m
    sc = sim.scenario
    payout = total.sum(axis=-1)
    prim = actual[sc.primary_measure]
    days_active = (active_m * sim.days).sum(axis=2)
    attainment = np.where(target > 0, prim.sum(axis=2) / np.maximum(target, 1e-9), 0.0)
    rep_mask = ever & (days_active > 0)
    top = (percentile_rank(attainment, rep_mask) >= 0.75) & rep_mask
    last_idx = [m for m in range(sim.months) if sim.last_month_of_period[m]]
    mp = dict(sc.morale)
    disengaged = run_totals((morale_m < mp["disengaged_below"]) & active_m).astype(float)
    return ChunkResult(
        run_index=np.asarray(runs),
        cost=np.where(rep_mask, payout, 0.0).sum(axis=1),
        revenue=run_totals(prim),
        measures={col: run_totals(actual[col]) for col in sc.actual_columns},
        leavers=left.sum(axis=1).astype(float),
        regretted=regretted.sum(axis=1).astype(float),
        headcount=active_m.sum(axis=1).mean(axis=1).astype(float),
        replacement_cost=np.where(left, ote, 0.0).sum(axis=1) * dict(sc.attrition)["replacement_cost"],
        disengaged_months=disengaged,
        active_months=run_totals(active_m).astype(float),
        effort_sum=run_totals(effort_m),
        last_month_primary=run_totals(prim[:, :, last_idx]), timing_moves=state.timing_moves.copy(),
        attainment=attainment, payout=payout, rep_mask=rep_mask, top_quartile=top,
        effort=effort_m.sum(axis=2) / np.maximum(active_m.sum(axis=2), 1), primary=prim.sum(axis=2), skill=skill,
        period_cost=np.where(rep_mask[..., None], total, 0.0).sum(axis=1),
        base_pay_cost=None if base_pay is None else
        np.where(rep_mask, np.asarray(base_pay).sum(axis=-1), 0.0).sum(axis=1),
        period_payout=None if days_m is None else np.asarray(total)[:, : sim.seats, :].copy(),
    )
