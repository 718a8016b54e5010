"""Forecast the plan year's payout from the actuals so far (finance's journey).

Given the real roster and the actuals to date, the closed periods are paid exactly as
``incentive payout`` pays them (the compiled plan on the same inputs, rounded into
statements), and the rest of the year is simulated for the real team
(:class:`~engine.sim.simulate.Conditioning`): months up to the as-of point keep the real
actuals; from then on reps choose effort under the plan seeing their real year to date, may
quit and are backfilled. Each roster rep's skill is drawn from its posterior given the
production to date (:func:`~engine.sim.population.skill_posterior`), so the spread of the
forecast reflects what the actuals do not yet tell.

The result (:class:`Forecast`) gives, per plan period and for the year, what was paid and
the P50/P90/P95 of the team's payout, the probability of exceeding a budget, and the
accrual to book now:

* **Plans paid per period** (no ``accumulate: year``): each period's pay is earned by that
  period's work, so the cost recognised to date is what the closed periods paid plus, for a
  period in progress, its expected pay times the share of its days elapsed.
* **Year-to-date plans** (``accumulate: year``): the payout is an annual bonus earned over
  the whole year, so its expected cost is recognised ratably (ASC 270 / IAS 34 reading:
  accrue the expected annual cost over the service period): expected annual payout x
  share of the year's days elapsed, never less than what has been paid (payments are
  final; no receivable is booked for later recovery).

The accrued liability is the cost recognised to date minus what has been paid. Expected
values are means over the runs.

Public: :func:`forecast`, :class:`Forecast`; what ``incentive forecast`` prints is
:func:`engine.report.text.forecast_text`, the workbook for finance
:func:`engine.report.forecast_book.write_forecast_xlsx`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.jobs.forecast_read import at_the_team_rates, read_closed_months
from engine.jobs.forecast_runs import DECOMPOSE_RUNS, self_check, simulate_rest
from engine.jobs.forecast_tables import (
    accrued,
    assumption_rows,
    market_document,
    period_table,
    rep_table,
    rest_of_year_parts,
)
from engine.jobs.forecast_team import month_end, paid_so_far, real_team, setup_year
from engine.jobs.pack import plan_language
from engine.plan.validate import CheckedPlan
from engine.sim.scenario import Scenario, default_scenario
from engine.sim.shape import shape_scenario
from engine.sim.uncertain import BehaviourPrior

__all__ = ["Forecast", "forecast"]

DEFAULT_BEHAVIOUR = BehaviourPrior()
"""The behaviour prior a forecast uses unless told otherwise (docs/model.md §9)."""
DEFAULT_CARRY: tuple[float, float] | None = (1.0, 1.0)
"""The default range of the share of the model's timing carry-in a forecast run that moves
business carries (docs/model.md §9; ``forecast(carry=...)``)."""
DEFAULT_TIMING: float | None = None
"""By default the team moves business across period ends as the scenario's reps do (None).
The read of whether it does at all (``forecast(timing=TIMING_PRIOR)``, a prior probability
the team's month profile updates; engine/jobs/forecast_carry.py) is opt-in: after
``timing.max_push`` it moved the out-of-model back-test by 0.3 points (1.024 -> 1.021
realized/P50, 20 years) while it lowered the in-model YTD true-up's share of years above P50
from 42.0% to 38.5% (200 years, 60 runs, seed 31), below its 40-60% band (docs/notes/issue27.md,
"Stop 34")."""


@dataclass
class Forecast:
    """A payout forecast for the rest of the plan year.

    Attributes:
        plan, scenario: names.
        plan_label: the plan's ``label`` (its name in words, in the plan's language), or "".
        language: ``zh`` when the plan is written in Chinese (its workbook then speaks
            Chinese), else ``en``.
        currency: the plan's currency; ``minor_unit`` its decimals.
        as_of: label of the last closed period (or month); ``as_of_date`` its last day.
        closed_months: months of the plan year with real actuals.
        runs, seed: the simulation.
        budget: the annual budget tested, or None.
        method: accrual method, ``by period`` or ``ratable`` (``accumulate: year``).
        by_period: one row per plan period plus a ``year`` row: ``period``, ``status``
            (``closed``, ``in progress``, ``forecast``), ``paid``, ``mean``, ``p50``,
            ``p90``, ``p95`` (team totals; closed periods: the statements' totals).
        reps: one row per roster rep (and a last ``(new hires)`` row for backfills):
            ``rep_id``, ``paid_to_date``, ``expected_remaining``, ``expected_year``,
            ``p50_year``, ``p90_year``, ``quit_probability``, ``attainment_to_date``,
            ``skill_median``, ``skill_sd`` (posterior of log skill).
        annual: ``(runs,)`` simulated annual team payout of each run.
        summary: the headline figures (see :attr:`document`).
        assumptions: ``(item, value)`` pairs for the record.
        variance: where the annual spread comes from (:func:`decompose_variance`): ``source``,
            ``share_of_variance``, ``sd``, ``sd_without``; None when not measured.
        warnings: what the forecast found wrong with itself (the simulation not paying the
            closed periods as the statements do).
        rest_of_year: the open months against the closed ones, per month: pay, the primary
            output and its parts, pay per unit of output
            (:func:`engine.jobs.rest_of_year.against_so_far`); None when not measured.
        market: the market read off the actuals so far: ``months`` (``(month label,
            multiplier, sd of its log)`` of the closed months, company or first team),
            ``level`` and ``level_sd`` (the year's level shock, log), ``last`` and
            ``last_sd`` (the persistent part at the as-of month), ``model`` (the scenario's
            parameters); None without a market.
    """

    plan: str
    scenario: str
    currency: str
    minor_unit: int
    as_of: str
    as_of_date: dt.date
    closed_months: int
    runs: int
    seed: int
    budget: float | None
    method: str
    by_period: pd.DataFrame
    reps: pd.DataFrame
    annual: np.ndarray
    summary: dict
    assumptions: list = field(default_factory=list)
    variance: pd.DataFrame | None = None
    variance_runs: int = 0
    market: dict | None = None
    plan_label: str = ""
    language: str = "en"
    rest_of_year: dict | None = None
    warnings: tuple[str, ...] = ()

    @property
    def document(self) -> dict:
        """The JSON document of ``incentive forecast --json``."""
        def num(x):
            return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 2)

        periods = []
        for row in self.by_period.itertuples(index=False):
            if row.period == "year":
                continue
            periods.append({"period": row.period, "status": row.status, "paid": num(row.paid),
                            "mean": num(row.mean), "p50": num(row.p50), "p90": num(row.p90), "p95": num(row.p95)})
        s = self.summary
        return {
            "plan": self.plan, "scenario": self.scenario, "currency": self.currency,
            "as_of": self.as_of, "as_of_date": self.as_of_date.isoformat(), "closed_months": self.closed_months,
            "runs": self.runs, "seed": self.seed, "reps": int(s["reps"]),
            "periods": periods,
            "year": {"paid_to_date": num(s["paid_to_date"]), "mean": num(s["mean"]), "p05": num(s["p05"]),
                     "p50": num(s["p50"]), "p90": num(s["p90"]), "p95": num(s["p95"]),
                     "expected_remaining": num(s["expected_remaining"])},
            "budget": None if self.budget is None else {
                "amount": num(self.budget), "probability_exceeded": round(float(s["probability_over_budget"]), 4)},
            "accrual": {"method": self.method, "share_of_year_elapsed": round(float(s["share_of_year_elapsed"]), 6),
                        "earned_to_date": num(s["earned_to_date"]), "paid_to_date": num(s["paid_to_date"]),
                        "liability": num(s["accrued_liability"])},
            "variance": None if self.variance is None else {
                "runs": self.variance_runs, "method": "first-order (pick-freeze) share of the annual payout's variance",
                "sources": [{"source": r["source"], "share": round(float(r["share"]), 4),
                             "se": _rounded(_cell(r["se"]), 4), "sd": num(r["sd"])}
                            for r in self.variance.to_dict("records")]},
            "market": self.market,
            "rest_of_year": self.rest_of_year,
            "warnings": list(self.warnings),
            "reps_detail": [
                {"rep_id": r.rep_id, "paid_to_date": num(r.paid_to_date), "expected_remaining": num(r.expected_remaining),
                 "expected_year": num(r.expected_year), "p90_year": num(r.p90_year),
                 "quit_probability": _rounded(_cell(r.quit_probability), 4)}
                for r in self.reps.itertuples(index=False)],
        }


def forecast(checked: CheckedPlan, roster, actuals, scenario: Scenario | None = None, runs: int = 200,
             seed: int | None = None, budget: float | None = None, as_of: str | None = None,
             workers: int = 1, chunk_runs: int | None = None, params: dict | None = None,
             scheduler=None, progress: bool = False, decompose: bool = True,
             ledger_paid: pd.DataFrame | None = None,
             behaviour: BehaviourPrior | None = DEFAULT_BEHAVIOUR, in_post: bool = True,
             carry: tuple[float, float] | None = DEFAULT_CARRY,
             timing: float | None = DEFAULT_TIMING) -> Forecast:
    """Forecast the plan year's payout for the real team from the actuals so far.

    The steps, each a named function in its own module: the year and the real data
    (:func:`~engine.jobs.forecast_team.setup_year`), what the closed periods paid
    (:func:`~engine.jobs.forecast_team.paid_so_far`), the real team in the scenario's terms
    (:func:`~engine.jobs.forecast_team.real_team`); what the closed months say about its
    skill, effort, market, rates and the business moved across the as-of period end
    (:func:`~engine.jobs.forecast_read.read_closed_months`,
    engine/jobs/forecast_carry.py); the rest of the year simulated
    (:func:`~engine.jobs.forecast_runs.simulate_rest`); then the tables
    (engine/jobs/forecast_tables.py): per period (:func:`period_table`), the accrual
    (:func:`accrued`), per rep (:func:`rep_table`), the rest of the year against the closed
    months (:func:`rest_of_year_parts`), the market read (:func:`market_document`) and the
    assumptions (:func:`assumption_rows`).

    Args:
        checked: the validated plan.
        roster: roster (path or DataFrame), as for ``incentive payout``; it needs the
            scenario's primary target (``quota``) and ``ti``; ``base_salary`` defaults to
            what the scenario's pay mix implies.
        actuals: actuals so far (per period, or transactions with a date).
        scenario: behaviour, noise and attrition model (default: the built-in scenario).
        runs: simulated completions of the year.
        seed: master seed (default: the scenario's); run ``i`` draws from
            its own streams (engine/sim/streams.py) whatever ``chunk_runs`` and ``workers`` are.
        budget: annual team payout to test (probability of exceeding it).
        as_of: last closed period (plan period label or fiscal month label); default the
            last period in the actuals. Actuals after it are ignored.
        workers: processes on this machine.
        chunk_runs: runs simulated together (results do not depend on it).
        params: plan parameter overrides.
        scheduler: address of a ``dask.distributed`` scheduler (or a ``distributed.Client``):
            the year's runs then run on its workers (results do not depend on it).
        progress: progress bar of the runs on stderr.
        decompose: also measure how much of the annual spread each source contributes
            (skill, noise, market, attrition): one more simulation of up to
            :data:`DECOMPOSE_RUNS` runs per source.
        ledger_paid: what each rep was paid per period (``rep_id``, ``period``, ``total``), as a
            ledger recorded it (:func:`engine.data.ledger.paid_statements`); default: the
            closed periods' statements computed from the actuals.
        behaviour: the prior of the behaviour the model assumes (morale drains, cost of
            effort; engine/sim/uncertain.py): drawn per run, the team in post settled below
            its baseline morale, runs weighted by the likelihood of the closed months
            (docs/model.md §9). None: the scenario's behaviour, known (the forecast before
            issue 27).
        in_post: the team as it runs: seats of roster leavers without a hire are refilled
            after the scenario's vacancy, and the quit hazard is scaled to the team's quit
            rate so far (False: leavers' seats stay empty, the scenario's hazard).
        carry: the range of the share of the model's timing carry-in each run that moves
            business carries into the first open month (business the reps moved across the
            as-of period end, which the closed months' actuals do not show; docs/model.md §9),
            drawn uniformly per run; None: nothing is carried (the forecast before issue 27's
            stop 33).
        timing: the prior probability that the team moves business across period ends as the
            scenario's reps do; its month profile updates it (with dated actuals), and that
            share of the runs moves business, the others none
            (engine/jobs/forecast_carry.py; opt-in, e.g. ``TIMING_PRIOR``). None (the default):
            the scenario's timing, known.

    Returns:
        The :class:`Forecast`.

    Raises:
        DataError, DataErrors: problems in the roster or actuals (naming row, rep, column).
    """
    scenario = scenario or default_scenario()
    seed = scenario.seed if seed is None else int(seed)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    plan = checked.plan
    setup = setup_year(checked, roster, actuals, as_of)
    paid = paid_so_far(checked, setup, params, ledger_paid)
    team = real_team(checked, setup, shape_scenario(checked, scenario)[0], in_post)  # the team in the plan's own columns
    read = read_closed_months(checked, setup, team, seed, params, behaviour, in_post, carry, timing)
    scenario = at_the_team_rates(team.scenario, read)
    sims = simulate_rest(checked, setup, team, read, scenario, paid, runs, seed, params, behaviour, carry,
                          workers=workers, chunk_runs=chunk_runs, scheduler=scheduler, progress=progress,
                          decompose=decompose)
    by_period, in_progress, quantiles = period_table(setup, paid, sims)
    annual_mean = float(np.average(sims.annual, weights=sims.weights))
    earned, method, share_year = accrued(checked, setup, team, paid, sims, in_progress, annual_mean)
    prob = None if budget is None else float(np.average(sims.annual > budget, weights=sims.weights))
    reps = rep_table(setup, team, paid, read, sims)
    rest = rest_of_year_parts(setup, team, read, scenario, paid, sims)

    M = team.closed_months
    as_of_date = month_end(setup.start, M - 1)
    summary = {
        "reps": team.n_reps, "paid_to_date": paid.to_date, "mean": annual_mean, "p05": float(quantiles[0]),
        "p50": float(quantiles[1]), "p90": float(quantiles[2]), "p95": float(quantiles[3]),
        "expected_remaining": annual_mean - paid.to_date,
        "budget": budget, "probability_over_budget": prob, "share_of_year_elapsed": share_year,
        "earned_to_date": earned, "accrued_liability": earned - paid.to_date, "accrual_method": method,
        "closed_period_gap": sims.closed_gap,
    }
    assumptions = assumption_rows(checked, setup, team, read, sims, scenario, runs, seed, behaviour, method,
                               as_of_date, carry)
    return Forecast(plan=plan.name, plan_label=plan.label or "", language=plan_language(checked),
                    scenario=scenario.name, currency=plan.currency, minor_unit=plan.minor_unit,
                    as_of=setup.as_of, as_of_date=as_of_date, closed_months=M, runs=runs, seed=seed, budget=budget,
                    method=method, by_period=by_period, reps=reps, annual=sims.annual, summary=summary,
                    assumptions=assumptions, variance=sims.decomposition,
                    market=market_document(setup, read.market, scenario, M),
                    variance_runs=0 if sims.decomposition is None else min(runs, DECOMPOSE_RUNS),
                    rest_of_year=rest, warnings=self_check(sims.closed_gap, team.n_reps, plan.currency))


def _cell(x: object) -> float | None:
    """A numeric table cell (as ``itertuples`` gives it) as a float; None when it is not a number."""
    if isinstance(x, (int, float, np.integer, np.floating)):
        return float(x)
    return None


def _rounded(x: float | None, digits: int) -> float | None:
    """``x`` rounded to ``digits`` places, or None when it is missing (None or NaN)."""
    return None if x is None or math.isnan(x) else round(x, digits)
