"""The rest of the year simulated for the real team (:func:`simulate_rest`), the runs
weighted by the likelihood of the closed months, the spread decomposed by source
(:func:`decompose_variance`), and the self-check against the closed periods' statements."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.jobs.forecast_carry import timing_redrawn, timing_runs, without_timing
from engine.jobs.forecast_read import Reading, behaviour_weights, conditioning_for
from engine.jobs.forecast_team import Paid, Setup, Team, closed_blocks
from engine.jobs.rest_of_year import RunRecords
from engine.plan.validate import CheckedPlan
from engine.sim.executor import Executor, SimTask, simulation_for
from engine.sim.scenario import Scenario
from engine.sim.streams import STREAMS, RunStreams
from engine.sim.uncertain import (
    BehaviourPrior,
)

SOURCES = {"skill": ("skill",), "noise": ("output_uniform", "output_normal"), "market": ("market",),
           "attrition": ("quits",), "behaviour": ("behaviour",)}
"""The sources of the forecast's spread its variance decomposition measures, and their random streams."""


DECOMPOSE_RUNS = 400  # runs per source of the decomposition (the first runs of the forecast, same streams)


CLOSED_GAP_PER_REP = 0.005
"""The most the simulation may pay the closed periods away from the statements, per roster rep
(rounding to the cent): more is a mismatch between the simulator's evaluation and the
statements', reported as a warning (:attr:`Forecast.warnings`)."""


def decompose_variance(annual: np.ndarray, shared: dict[str, np.ndarray]) -> pd.DataFrame:
    """How much of the annual payout's variance each source explains on its own.

    ``shared[source]`` is the annual payout of the same runs redone keeping only that
    source's random numbers (every other source redrawn): ``Cov(annual, shared) / Var(annual)``
    is the share of the variance explained by that source alone, its first-order Sobol index
    (the pick-freeze estimator; Saltelli et al. 2010, "Variance based sensitivity analysis of
    model output"), with a standard error from the delta method over runs. What the shares
    leave (``other``) is what the sources do only together (interactions: pay is not additive
    in them) and the remaining randomness (reps' other traits).
    """
    y = np.asarray(annual, dtype=float)
    n = len(y)
    var = float(np.var(y))
    rows = []
    for source, x in shared.items():
        cy, cx = y - y.mean(), np.asarray(x, dtype=float) - float(np.mean(x))
        share = float(np.mean(cy * cx)) / var if var > 0 else 0.0
        terms = (cy * cx - share * cy * cy) / var if var > 0 else np.zeros(n)
        se = float(np.std(terms) / math.sqrt(n)) if n > 1 else float("nan")
        rows.append((source, share, se, math.sqrt(max(share, 0.0) * var)))
    rest = 1.0 - sum(r[1] for r in rows)
    rows.append(("other (interactions, other traits)", rest, float("nan"), math.sqrt(max(rest, 0.0) * var)))
    return pd.DataFrame(rows, columns=["source", "share", "se", "sd"])


@dataclass(frozen=True)
class Runs:
    """The rest of the year simulated (:func:`simulate_rest`).

    Attributes:
        period_runs: ``(runs, P)`` team payout per period.
        seat_pay: ``(runs, R, P)`` each roster seat's payout per period.
        quit_seat: ``(runs, R)`` whether the seat's rep quit.
        annual: ``(runs,)`` the year's team payout (paid to date + the open periods).
        open_periods: positions of the periods not closed.
        weights: importance weights of the runs (None: equal).
        ess: effective runs.
        theta_post: the behaviour's posterior mean (None: not read).
        decomposition: :func:`decompose_variance`'s table, or None.
        closed_gap: the largest gap between the simulated and the paid closed periods.
        records: what the runs recorded for :func:`~engine.jobs.rest_of_year.against_so_far`
            (None when every month is closed).
    """

    period_runs: np.ndarray
    seat_pay: np.ndarray
    quit_seat: np.ndarray
    annual: np.ndarray
    open_periods: list[int]
    weights: np.ndarray | None
    ess: float
    theta_post: np.ndarray | None
    decomposition: pd.DataFrame | None
    closed_gap: float
    records: RunRecords | None = None


def simulate_rest(checked: CheckedPlan, setup: Setup, team: Team, read: Reading, scenario: Scenario,
                   paid: Paid, runs: int, seed: int, params: dict | None, behaviour: BehaviourPrior | None,
                   carry: tuple[float, float] | None, *,
                   workers: int, chunk_runs: int | None, scheduler, progress: bool, decompose: bool) -> Runs:
    """The open months simulated ``runs`` times for the real team, the runs weighted by how
    likely each run's behaviour makes the closed months, and the spread decomposed."""
    R, M, P = team.n_reps, team.closed_months, len(setup.periods)
    open_periods = list(range(setup.closed_periods, P))
    weights: np.ndarray | None = None
    ess = float(runs)
    theta_post = None
    decomposition = None
    if M >= 12:
        annual = np.full(runs, paid.to_date)
        period_runs = np.zeros((runs, P))
        seat_pay = np.zeros((runs, R, P))
        quit_seat = np.zeros((runs, R), dtype=bool)
        return Runs(period_runs, seat_pay, quit_seat, annual, open_periods, weights, ess, theta_post,
                     decomposition, 0.0)
    # The runs that move business across period ends as the model's reps do, and the others
    # (the scenario without timing, nothing carried across the as-of period end): a share
    # read.p_on of the runs, by run index (engine/jobs/forecast_carry.py).
    moving = timing_runs(runs, read.p_on)
    models = [(True, scenario, read.carry_in), (False, without_timing(scenario), None)]
    with Executor(workers, scheduler) as ex:
        def run(n: int, redraw: frozenset[str] = frozenset(), desc: str | None = None,
                which: np.ndarray = moving) -> _InRunOrder:
            jobs = []
            for moves, model, carry_in in models:
                idx = np.nonzero(which[:n] == moves)[0]
                if not len(idx):
                    continue
                condition = conditioning_for(setup, team, M, read.skill_mean, read.skill_sd, behaviour=behaviour,
                                             redraw=redraw, settle_gap=read.settle_gap,
                                             effort_model=read.effort_model, market=read.market,
                                             carry_in=carry_in, carry=carry)
                task = SimTask(checked, model, seed, params, condition=condition)
                sim = simulation_for(task)  # built here once; forked workers inherit it
                size = max(1, int(chunk_runs or ex.chunk_size(sim.slots, len(idx))))
                jobs += [(task, idx[lo: lo + size]) for lo in range(0, len(idx), size)]
            return _InRunOrder(ex.map(jobs, progress=progress and desc is not None, desc=desc))

        res = run(runs, desc=f"forecast {checked.plan.name}")
        period_runs = res.field("period_cost")
        seat_pay = res.field("period_payout")
        quit_seat = res.field("quit_seat")
        annual = paid.to_date + period_runs[:, open_periods].sum(axis=1)
        records = RunRecords(open_pay=period_runs[:, open_periods].sum(axis=1), output=res.field("revenue"),
                             expected=res.field("primary_expected"), capacity=res.field("primary_baseline"),
                             headcount=res.field("headcount"))
        if behaviour is not None and read.effort_model is not None and read.blocks is not None:
            theta = behaviour.draw(RunStreams(seed, range(runs)))
            weights, ess, theta_post = behaviour_weights(
                theta, read.effort_model, read.blocks, team.real[team.primary] if read.seen is None else read.seen,
                closed_blocks(setup), team.prior_mean,
                team.prior_sd, scenario.market)
        elif behaviour is not None:
            theta = behaviour.draw(RunStreams(seed, range(runs)))
            theta_post = theta.mean(axis=0)
        if decompose:
            # First-order (pick-freeze) indices: run i again keeping only one source's random
            # numbers and redrawing every other; the covariance with run i is the spread
            # that source alone explains (Saltelli et al. 2010).
            n = min(runs, DECOMPOSE_RUNS)
            shared = {}
            # Which runs move business is redrawn too (its share of the spread goes to "other").
            redrawn = timing_redrawn(seed, n, read.p_on)
            for source, purposes in SOURCES.items():
                if source == "market" and not scenario.market.active:
                    continue
                got = run(n, frozenset(STREAMS) - set(purposes), which=redrawn)
                shared[source] = paid.to_date + got.field("period_cost")[:, open_periods].sum(axis=1)
            decomposition = decompose_variance(annual[:n], shared)
    # Self-check: the simulation pays the closed periods as the statements do (up to rounding).
    closed_gap = float(np.abs(period_runs[:, : setup.closed_periods]
                              - paid.by_period[None, : setup.closed_periods]).max()) if setup.closed_periods else 0.0
    return Runs(period_runs, seat_pay, quit_seat, annual, open_periods, weights, ess, theta_post, decomposition,
                 closed_gap, records)


class _InRunOrder:
    """Chunk results of runs simulated under several models, read back in run order."""

    def __init__(self, results: list) -> None:
        self.results = results
        self.order = np.argsort(np.concatenate([r.run_index for r in results]), kind="stable")

    def field(self, name: str) -> np.ndarray:
        """The per-run array ``name`` of every chunk, concatenated in run order."""
        return np.concatenate([getattr(r, name) for r in self.results])[self.order]


def self_check(gap: float, reps: int, currency: str) -> tuple[str, ...]:
    """Warnings when the simulation did not pay the closed periods as the statements do."""
    if gap <= CLOSED_GAP_PER_REP * max(reps, 1) + 1e-9:
        return ()
    message = (f"the simulation paid a closed period up to {gap:,.2f} {currency} away from its statements (more "
               f"than rounding): the simulator does not evaluate the plan on these actuals as `incentive payout` "
               f"does, so the forecast of the open periods is suspect; please report it with the plan")
    return (message,)
