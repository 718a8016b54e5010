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

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.core.errors import DataError, DataErrors
from engine.core.inputs import Inputs, PeriodInfo
from engine.core.periods import parse_period_label, period_for_date
from engine.jobs.pack import plan_language
from engine.jobs.rest_of_year import RunRecords, against_so_far
from engine.plan.validate import CheckedPlan
from engine.sim.executor import Executor, SimTask, chunks_of, simulation_for
from engine.sim.market import MarketModel, team_index
from engine.sim.population import Roster, complete_columns, log_skill_prior, skill_posterior
from engine.sim.scenario import Scenario, default_scenario
from engine.sim.shape import shape_scenario
from engine.sim.simulate import Conditioning, month_days, plan_periods
from engine.sim.streams import STREAMS, RunStreams
from engine.sim.uncertain import (
    BehaviourPrior,
    EffortModel,
    fit_effort,
    importance_weights,
    weighted_quantile,
)

__all__ = ["Forecast", "forecast"]

PILOT_REP_RUNS = 1_000  # rep-runs of the pilot that measures the effort behind the actuals so far
PILOT_RUN_BASE = 1_000_000_000  # pilot run i draws from the streams of run PILOT_RUN_BASE + i
QUANTILES = (0.5, 0.9, 0.95)
SOURCES = {"skill": ("skill",), "noise": ("output_uniform", "output_normal"), "market": ("market",),
           "attrition": ("quits",), "behaviour": ("behaviour",)}
"""The sources of the forecast's spread its variance decomposition measures, and their random streams."""
DECOMPOSE_RUNS = 400  # runs per source of the decomposition (the first runs of the forecast, same streams)
DEFAULT_BEHAVIOUR = BehaviourPrior()
"""The behaviour prior a forecast uses unless told otherwise (docs/model.md §9)."""
CLOSED_GAP_PER_REP = 0.005
"""The most the simulation may pay the closed periods away from the statements, per roster rep
(rounding to the cent): more is a mismatch between the simulator's evaluation and the
statements', reported as a warning (:attr:`Forecast.warnings`)."""
DEFAULT_CARRY: tuple[float, float] | None = (0.0, 2.0)
"""The default range of the share of the model's timing carry-in a forecast run carries
(docs/model.md §9; ``forecast(carry=...)``)."""
BEHAVIOUR_PILOT_REP_RUNS = 2_000  # rep-runs of the pilot that fits the effort behind the actuals to the behaviour
BEHAVIOUR_PILOT_BASE = 1_500_000_000  # its run i draws from the streams of run BEHAVIOUR_PILOT_BASE + i


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
        variance: where the annual spread comes from (:func:`_decompose`): ``source``,
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


# -- the year, the as-of point and the real data ---------------------------------------------


def _month_start(start: dt.date, m: int) -> dt.date:
    k = start.month - 1 + m
    return dt.date(start.year + k // 12, k % 12 + 1, 1)


def _month_end(start: dt.date, m: int) -> dt.date:
    d = _month_start(start, m)
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


@dataclass
class _Setup:
    inputs: Inputs  # real inputs, closed periods only
    start: dt.date
    periods: tuple  # the plan year's periods
    period_of_month: np.ndarray
    closed_months: int
    closed_periods: int  # periods entirely closed
    as_of: str
    monthly: Inputs | None  # month-resolved actuals (transactions), for a period in progress
    table: pd.DataFrame  # the roster as read
    ignored_later: bool
    by_month: Inputs | None = None  # the actuals month by month (dated rows), for the month profile; None: not dated


def _setup(checked: CheckedPlan, roster, actuals, as_of: str | None) -> _Setup:
    from engine.data.load import read_table
    from engine.data.statements import load_for_plan

    plan = checked.plan
    fys = plan.fiscal_year_start
    inputs = load_for_plan(checked, roster, actuals)
    src = inputs.sources.get("actuals", "actuals")
    years = sorted({p.fiscal_year for p in inputs.periods})
    if not years:
        raise DataError("no-actuals", "the actuals have no rows: nothing to forecast from", file=src,
                        hint="give the actuals of the plan year so far")
    as_period: PeriodInfo | None = None
    if as_of is not None:
        try:
            as_period = parse_period_label(as_of, plan.period, fys)
        except ValueError:
            try:
                as_period = parse_period_label(as_of, "month", fys)
            except ValueError:
                raise DataError("bad-period", f"--as-of must be a {plan.period} or month label like "
                                f"{years[0]}-{'Q2' if plan.period == 'quarter' else '06'} (got '{as_of}')",
                                column="as_of") from None
        year = as_period.fiscal_year
    else:
        year = years[-1]
        as_period = [p for p in inputs.periods if p.fiscal_year == year][-1]
    if years[0] != year or (as_of is None and len(years) > 1):
        raise DataError("several-years", f"the actuals cover fiscal years {', '.join(map(str, years))}; a forecast "
                        f"covers one plan year ({year})", file=src,
                        hint="give only the actuals of the plan year being forecast")
    start = dt.date(year, fys, 1)
    periods, period_of_month = plan_periods(plan.period, fys, start, 12)
    closed_months = (as_period.end.year * 12 + as_period.end.month) - (start.year * 12 + start.month) + 1
    if not 1 <= closed_months <= 12:  # pragma: no cover - the label is in the year
        raise DataError("bad-period", f"--as-of {as_of} is not in fiscal year {year}", column="as_of")
    ends = [i for i in range(12) if i == 11 or period_of_month[i + 1] != period_of_month[i]]
    closed_periods = sum(1 for i in ends if i < closed_months)
    labels = [p.label for p in inputs.periods]
    want = [p.label for p in periods[:closed_periods]]
    missing = [w for w in want if w not in labels]
    if missing:
        raise DataError("missing-period", f"the actuals have no rows for {missing[0]}, up to the as-of point "
                        f"{as_period.label}", file=src, column="period",
                        hint="a forecast needs the actuals of every period from the start of the plan year")
    keep = [labels.index(w) for w in want]
    ignored_later = any(lb not in want for lb in labels)
    monthly = None
    if closed_months not in [i + 1 for i in ends]:  # as-of inside a period: monthly actuals needed
        try:
            monthly = load_for_plan(checked, roster, actuals, period="month")
        except (DataError, DataErrors):
            raise DataError("bad-period", f"--as-of {as_of} falls inside a {plan.period}: that needs actuals with "
                            f"a 'date' column (transactions), not one row per {plan.period}", column="as_of",
                            hint=f"give a {plan.period} label, or transactions") from None
        ignored_later = True
    sliced = slice_periods(inputs, keep)
    by_month = monthly
    if by_month is None and plan.period != "month":
        try:  # dated rows say how each period's business fell into its months (the carry's read)
            by_month = load_for_plan(checked, roster, actuals, period="month")
        except (DataError, DataErrors):
            by_month = None
    table = _one_row_per_rep(read_table(roster, "roster"), inputs.rep_ids.astype(str),
                             _month_end(start, max(closed_months, 1) - 1))
    label = as_period.label
    return _Setup(sliced, start, periods, period_of_month, closed_months, closed_periods, label, monthly, table,
                  ignored_later, by_month)


def _one_row_per_rep(table: pd.DataFrame, ids: np.ndarray, as_of: dt.date) -> pd.DataFrame:
    """The roster as one row per rep, in the order of ``ids``: an effective-dated roster's row
    in effect on the as-of date (else the last one that started by then, else the first), with
    the rep's employment over all their rows (the earliest ``start_date``, the latest
    ``end_date``, empty when any row's is). A roster of one row per rep is returned as it is."""
    ids_col = table["rep_id"].astype(str).str.strip()
    if not ids_col.duplicated().any() and len(table) == len(ids):
        return table
    frame = table.assign(_rep=ids_col.to_numpy(), _row=np.arange(len(table)))
    day = pd.Timestamp(as_of)
    start = pd.to_datetime(frame["effective_from"], errors="coerce") if "effective_from" in frame else \
        pd.Series(pd.NaT, index=frame.index)
    end = pd.to_datetime(frame["effective_to"], errors="coerce") if "effective_to" in frame else \
        pd.Series(pd.NaT, index=frame.index)
    began = start.isna() | (start <= day)
    rank = np.where(began & (end.isna() | (end >= day)), 2, np.where(began, 1, 0))  # in effect, started, later
    since = start.to_numpy(dtype="datetime64[D]").astype(np.int64)  # day numbers; NaT is the smallest
    frame = frame.assign(_rank=rank, _from=since)
    best = frame.sort_values(["_rep", "_rank", "_from", "_row"]).groupby("_rep", sort=False).tail(1)
    out = best.set_index("_rep").reindex(ids)
    for col, pick in (("start_date", "min"), ("end_date", "max")):
        if col in frame:
            dates = pd.to_datetime(frame[col], errors="coerce")
            agg = dates.groupby(frame["_rep"]).agg(pick)
            if col == "end_date":  # any open-ended row: employed without an end
                agg[dates.isna().groupby(frame["_rep"]).any()] = pd.NaT
            out[col] = agg.reindex(ids).dt.strftime("%Y-%m-%d").to_numpy()
    out = out.drop(columns=["rep_id", "_row", "_rank", "_from"])
    return out.reset_index(names="rep_id")


def slice_periods(inputs: Inputs, keep: list[int]) -> Inputs:
    """The inputs of the periods ``keep`` (positions, in order): transaction rows of the
    other periods become pending (they belong to no kept period)."""
    from dataclasses import replace as _replace

    rows = inputs.rows
    if rows is not None:
        where = np.full(len(inputs.periods) + 1, -1, dtype=np.int64)
        where[keep] = np.arange(len(keep))
        rows = _replace(rows, period=np.where(rows.period >= 0, where[rows.period], -1))
    return _replace(
        inputs, periods=tuple(inputs.periods[i] for i in keep),
        actuals={k: v[:, keep] for k, v in inputs.actuals.items()}, active=inputs.active[:, keep],
        proration=inputs.proration[:, keep], counts={k: v[:, keep] for k, v in inputs.counts.items()},
        rows=rows, row_counts=None if inputs.row_counts is None else inputs.row_counts[:, keep],
        layers=tuple(_replace(layer, proration=layer.proration[:, keep]) for layer in inputs.layers),
        roster_at={k: v[:, keep] for k, v in inputs.roster_at.items()},
        tenure=None if inputs.tenure is None else inputs.tenure[:, keep])


def _add_primary(real: dict[str, np.ndarray], scenario: Scenario) -> None:
    """The scenario's primary amount from the plan's own columns when the plan does not read
    it by name: the columns mapped as its shares (engine/sim/shape.py), added back up."""
    primary = scenario.primary_measure
    if primary in real:
        return
    parts = [(o.name, float(o.get("base", 1.0))) for o in scenario.outputs
             if o.kind == "share_of" and o.get("of") == primary and o.name in real]
    group = [(c, sh) for c, sh in parts if sh < 1.0]
    if group and abs(sum(sh for _, sh in group) - 1.0) < 1e-9:
        real[primary] = sum(real[c] for c, _ in group)  # type: ignore[assignment]
    elif parts:
        col, share = parts[0]
        real[primary] = real[col] / max(share, 1e-12)


def _run_rate(setup: _Setup, checked: CheckedPlan, scenario: Scenario) -> np.ndarray | None:
    """Each rep's annual primary amount at their pace so far, for a plan with no target (a
    pure commission): the closed months' primary amount per active day, over the season of
    those days, times a year; reps with nothing yet at the team's median. None before any
    month is closed or where the plan reads no primary amount."""
    M = setup.closed_months
    if M == 0:
        return None
    active = _active_days(setup)
    real = _monthly_actuals(setup, checked, active)
    _add_primary(real, scenario)
    prim = real.get(scenario.primary_measure)
    if prim is None:
        return None
    season = np.array([scenario.seasonality[(setup.start.month - 1 + m) % 12] for m in range(M)])
    seasoned_days = (active[:, :M] * season).sum(axis=1)
    rate = np.where(seasoned_days > 0, prim[:, :M].sum(axis=1) / np.maximum(seasoned_days, 1e-9) * 365.25, np.nan)
    good = np.isfinite(rate) & (rate > 0)
    if not good.any():
        return None
    return np.where(good, rate, float(np.median(rate[good])))


def _roster(setup: _Setup, scenario: Scenario, checked: CheckedPlan | None = None
            ) -> tuple[Roster, dict, np.ndarray, np.ndarray]:
    """The real roster as the simulator's seats, the file's fixed columns, tenure and hires.

    A plan with no target (a pure commission) and a roster without the team's quota column:
    each rep's production scale is their run rate so far (:func:`_run_rate`)."""
    table, inputs = setup.table, setup.inputs
    src = inputs.sources.get("roster", "roster")
    ids = inputs.rep_ids.astype(str)
    n = len(ids)
    columns: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in inputs.roster.items() if k != "rep_id"}

    def numbers(col: str) -> np.ndarray:
        num = pd.to_numeric(table[col], errors="coerce")
        bad = np.nonzero(num.isna().to_numpy())[0]
        if bad.size:
            i = int(bad[0])
            raise DataError("not-a-number", f"'{col}' must be a number (got {table[col].iloc[i]!r})", file=src,
                            row=i + 2, column=col, rep=str(table["rep_id"].iloc[i]))
        return num.to_numpy(dtype=float)

    for name, source, factor in scenario.derived_columns:  # the team's amounts from the plan's own columns
        if source not in table.columns and name in table.columns and source not in columns and factor > 0:
            columns[source] = numbers(name) / factor
    for col in (scenario.primary_target, "ti"):
        if col in columns and col not in table.columns:
            continue
        if col not in table.columns and col == scenario.primary_target and checked is not None \
                and not checked.plan.targets and (pace := _run_rate(setup, checked, scenario)) is not None:
            columns[col] = pace
            continue
        if col not in table.columns:
            raise DataError("missing-column", f"the roster needs a '{col}' column to simulate the rest of the year "
                            f"(the annual {'primary target' if col != 'ti' else 'target incentive'})", file=src,
                            column=col)
        columns[col] = numbers(col)
    if "base_salary" in table.columns:
        columns["base_salary"] = numbers("base_salary")
    elif "base_salary" in columns:
        pass
    else:  # the scenario's pay mix: TI / OTE
        columns["base_salary"] = columns["ti"] * (1.0 - scenario.pay_mix) / max(scenario.pay_mix, 1e-9)
    if "team" not in columns and "team" in table.columns:
        columns["team"] = table["team"].fillna("").astype(str).to_numpy(dtype=object)
    complete_columns(columns, scenario, n)
    fixed = {k: columns[k] for k in ("status", "tenure_months") if k in inputs.roster}
    tenure = np.full(n, np.nan)
    if "tenure_months" in table.columns:
        tm = pd.to_numeric(table["tenure_months"], errors="coerce").to_numpy(dtype=float)
        tenure = np.where(np.isfinite(tm), np.maximum(tm, 0.0), np.nan)
    hired = np.zeros(n, dtype=bool)
    if "start_date" in table.columns:
        sd = pd.to_datetime(table["start_date"], errors="coerce")
        y0 = setup.start
        months = ((sd.dt.year - y0.year) * 12 + (sd.dt.month - y0.month)).to_numpy(dtype=float)
        known = ~np.isnan(months)
        hired = known & (months >= 0)
        tenure = np.where(hired, 0.0, np.where(known & np.isnan(tenure), -months, tenure))
    roster = Roster(ids.astype(object), columns, columns[scenario.primary_target], columns["ti"],
                    columns["base_salary"])
    return roster, fixed, tenure, hired


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()  # datetime64 day numbers -> date ordinals


def _active_days(setup: _Setup) -> np.ndarray:
    """``(reps, 12)`` active days per month of the plan year from the roster's dates."""
    table, start = setup.table, setup.start
    n = len(table)
    first = np.array([_month_start(start, m).toordinal() for m in range(12)])
    last = np.array([_month_end(start, m).toordinal() for m in range(12)])
    lo = np.full(n, -(10 ** 9))
    hi = np.full(n, 10 ** 9)
    for col, arr in (("start_date", lo), ("end_date", hi)):
        if col in table.columns:
            d = pd.to_datetime(table[col], errors="coerce")
            known = d.notna().to_numpy()
            days = d[known].to_numpy().astype("datetime64[D]").astype(np.int64)
            arr[known] = days + _EPOCH_ORDINAL
    a = np.maximum(lo[:, None], first[None, :])
    b = np.minimum(hi[:, None], last[None, :])
    return np.maximum(b - a + 1, 0).astype(float)


def _monthly_actuals(setup: _Setup, checked: CheckedPlan, active_days: np.ndarray) -> dict[str, np.ndarray]:
    """Real actuals per rep and closed month, so that the plan periods aggregate back exactly.

    A closed period's sum goes into the rep's last active month of the period (0 in the
    others); other aggregations (mean, last, min, max) repeat the period's value in every
    month. Months of a period in progress come from month-level transactions.
    """
    inputs, pom = setup.inputs, setup.period_of_month
    R, M = len(inputs.rep_ids), setup.closed_months
    out = {}
    for col, agg in checked.actual_columns.items():
        if col in checked.text_actual_columns:
            continue  # an attribute of each transaction: the simulation draws them (deals)
        vals = np.zeros((R, M))
        for k in range(setup.closed_periods):
            ms = [m for m in range(M) if pom[m] == k]
            x = inputs.actuals[col][:, k]
            if agg == "sum":
                act = active_days[:, ms] > 0
                last = np.where(act.any(axis=1), len(ms) - 1 - np.argmax(act[:, ::-1], axis=1), len(ms) - 1)
                for j, m in enumerate(ms):
                    vals[:, m] = np.where(last == j, x, 0.0)
            else:
                for m in ms:
                    vals[:, m] = x
        if setup.monthly is not None:
            mi = setup.monthly
            lab = {p.label: i for i, p in enumerate(mi.periods)}
            for m in range(M):
                if pom[m] >= setup.closed_periods:
                    p = period_for_date(_month_start(setup.start, m), "month", checked.plan.fiscal_year_start)
                    if p.label in lab:
                        vals[:, m] = mi.actuals[col][:, lab[p.label]]
        out[col] = vals
    return out


# -- the market so far, and where the spread comes from ----------------------------------------


@dataclass(frozen=True)
class _MarketRead:
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
                 ) -> _MarketRead:
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
    return _MarketRead(seen, mean, cov, multiplier, sd_seen)


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


def _blocks(setup: _Setup) -> list[list[int]]:
    """The groups of closed months the actuals resolve: each closed plan period, then each
    month of a period in progress (transactions)."""
    pom, M = setup.period_of_month, setup.closed_months
    out = [[m for m in range(M) if pom[m] == k] for k in range(setup.closed_periods)]
    return out + [[m] for m in range(M) if pom[m] >= setup.closed_periods]


def _decompose(annual: np.ndarray, shared: dict[str, np.ndarray]) -> pd.DataFrame:
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


# -- the forecast -------------------------------------------------------------------------------


def forecast(checked: CheckedPlan, roster, actuals, scenario: Scenario | None = None, runs: int = 200,
             seed: int | None = None, budget: float | None = None, as_of: str | None = None,
             workers: int = 1, chunk_runs: int | None = None, params: dict | None = None,
             scheduler=None, progress: bool = False, decompose: bool = True,
             ledger_paid: pd.DataFrame | None = None,
             behaviour: BehaviourPrior | None = DEFAULT_BEHAVIOUR, in_post: bool = True,
             carry: tuple[float, float] | None = DEFAULT_CARRY) -> Forecast:
    """Forecast the plan year's payout for the real team from the actuals so far.

    The steps, each a function below: what the closed periods paid (:func:`_paid_so_far`);
    the real team in the scenario's terms (:func:`_team`); what the closed months say about
    its skill, effort, market and rates (:func:`_read_closed_months`); the rest of the year
    simulated (:func:`_simulate_rest`); then the tables: per period (:func:`_by_period`),
    the accrual (:func:`_accrual`), per rep (:func:`_per_rep`), the market read
    (:func:`_market_document`) and the assumptions (:func:`_assumptions`).

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
        carry: the range of the share of the model's timing carry-in each run carries into the
            first open month (business the reps moved across the as-of period end, which the
            closed months' actuals do not show; docs/model.md §9), drawn uniformly per run;
            None: nothing is carried (the forecast before issue 27's stop 33).

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
    setup = _setup(checked, roster, actuals, as_of)
    paid = _paid_so_far(checked, setup, params, ledger_paid)
    team = _team(checked, setup, shape_scenario(checked, scenario)[0], in_post)  # the team in the plan's own columns
    read = _read_closed_months(checked, setup, team, seed, params, behaviour, in_post, carry)
    scenario = _at_the_team_rates(team.scenario, read)
    sims = _simulate_rest(checked, setup, team, read, scenario, paid, runs, seed, params, behaviour, carry,
                          workers=workers, chunk_runs=chunk_runs, scheduler=scheduler, progress=progress,
                          decompose=decompose)
    by_period, in_progress, quantiles = _by_period(setup, paid, sims)
    annual_mean = float(np.average(sims.annual, weights=sims.weights))
    earned, method, share_year = _accrual(checked, setup, team, paid, sims, in_progress, annual_mean)
    prob = None if budget is None else float(np.average(sims.annual > budget, weights=sims.weights))
    reps = _per_rep(setup, team, paid, read, sims)
    rest = _rest_of_year(setup, team, read, scenario, paid, sims)

    M = team.closed_months
    as_of_date = _month_end(setup.start, M - 1)
    summary = {
        "reps": team.n_reps, "paid_to_date": paid.to_date, "mean": annual_mean, "p05": float(quantiles[0]),
        "p50": float(quantiles[1]), "p90": float(quantiles[2]), "p95": float(quantiles[3]),
        "expected_remaining": annual_mean - paid.to_date,
        "budget": budget, "probability_over_budget": prob, "share_of_year_elapsed": share_year,
        "earned_to_date": earned, "accrued_liability": earned - paid.to_date, "accrual_method": method,
        "closed_period_gap": sims.closed_gap,
    }
    assumptions = _assumptions(checked, setup, team, read, sims, scenario, runs, seed, behaviour, method,
                               as_of_date, carry)
    return Forecast(plan=plan.name, plan_label=plan.label or "", language=plan_language(checked),
                    scenario=scenario.name, currency=plan.currency, minor_unit=plan.minor_unit,
                    as_of=setup.as_of, as_of_date=as_of_date, closed_months=M, runs=runs, seed=seed, budget=budget,
                    method=method, by_period=by_period, reps=reps, annual=sims.annual, summary=summary,
                    assumptions=assumptions, variance=sims.decomposition,
                    market=_market_document(setup, read.market, scenario, M),
                    variance_runs=0 if sims.decomposition is None else min(runs, DECOMPOSE_RUNS),
                    rest_of_year=rest, warnings=_self_check(sims.closed_gap, team.n_reps, plan.currency))


# -- the steps of the forecast ------------------------------------------------------------------


@dataclass(frozen=True)
class _Paid:
    """What the closed periods paid: ``by_period`` ``(P,)`` team totals (NaN for open periods),
    ``to_date`` their sum, ``rep`` ``(R,)`` each roster rep's, in the roster's order."""

    by_period: np.ndarray
    to_date: float
    rep: np.ndarray


def _paid_so_far(checked: CheckedPlan, setup: _Setup, params: dict | None,
                 ledger_paid: pd.DataFrame | None) -> _Paid:
    """Paid to date: the statements of the closed periods, exactly as ``incentive payout``
    computes them (or as a ledger recorded them)."""
    from engine.data.statements import statement_table
    from engine.plan.compile import compile_plan

    plan = checked.plan
    inputs = setup.inputs
    stmts = statement_table(plan, inputs, compile_plan(checked, params).evaluate(inputs))
    if ledger_paid is not None:  # paid to date as the ledger recorded it (prior-period corrections included)
        stmts = ledger_paid[ledger_paid["period"].isin({p.label for p in setup.periods[: setup.closed_periods]})]
    # Sums of amounts already rounded to the minor unit, rounded again so that float noise
    # (43096.899999...) never shows.
    dec = plan.minor_unit
    paid_by_period = stmts.groupby("period")["total"].sum().round(dec)
    paid_rep = stmts.groupby("rep_id")["total"].sum().round(dec)
    labels = [p.label for p in setup.periods]
    paid = np.array([float(paid_by_period.get(lb, 0.0)) if k < setup.closed_periods else np.nan
                     for k, lb in enumerate(labels)])
    paid_to_date = round(float(np.nansum(paid)), dec) if setup.closed_periods else 0.0
    ids = inputs.rep_ids.astype(str)
    return _Paid(paid, paid_to_date, paid_rep.reindex(ids, fill_value=0.0).to_numpy(dtype=float))


@dataclass(frozen=True)
class _Team:
    """The real team in the scenario's terms.

    Attributes:
        scenario: the scenario shaped to the plan's columns (before the team's rates).
        ids: roster rep ids, as text.
        roster, fixed, tenure, hired: the roster as the simulator takes it (:func:`_roster`).
        active_days: ``(R, 12)`` days each rep was in the role per month.
        real: the real actuals per month, by output (the primary included).
        closed_months: months with real actuals (``M``).
        prior_mean, prior_sd: the scenario's prior of log skill.
        days: days of each month of the plan year.
        refill: the month each roster leaver's seat is refilled (-1: not); None without ``in_post``.
    """

    scenario: Scenario
    ids: np.ndarray
    roster: Roster
    fixed: dict
    tenure: np.ndarray
    hired: np.ndarray
    active_days: np.ndarray
    real: dict[str, np.ndarray]
    closed_months: int
    prior_mean: float
    prior_sd: float
    days: np.ndarray
    refill: np.ndarray | None

    @property
    def n_reps(self) -> int:
        return len(self.ids)

    @property
    def primary(self) -> str:
        return self.scenario.primary_measure


def _team(checked: CheckedPlan, setup: _Setup, scenario: Scenario, in_post: bool) -> _Team:
    """The roster, the actuals per month and the skill prior, in the shaped scenario's terms."""
    roster_s, fixed, tenure, hired = _roster(setup, scenario, checked)
    active_days = _active_days(setup)
    real = _monthly_actuals(setup, checked, active_days)
    M = setup.closed_months
    prior_mean, prior_sd = log_skill_prior(scenario.skill)
    _add_primary(real, scenario)
    refill = _open_seats(setup, active_days, hired, M, int(dict(scenario.attrition)["vacancy_months"])) \
        if in_post else None
    return _Team(scenario, setup.inputs.rep_ids.astype(str), roster_s, fixed, tenure, hired, active_days, real, M,
                 prior_mean, prior_sd, month_days(setup.start, 12), refill)


@dataclass(frozen=True)
class _Reading:
    """What the closed months say (:func:`_read_closed_months`); the prior where they say nothing.

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
            model's rate (:func:`_carry_in`), or None.
        carry_share: the model's carry-in as a share of a month's business of the last closed
            period (the pilot's), or None.
        seen: ``(R, M)`` the primary output the reads saw (:func:`_unmoved`), or None.
        carry_read: how much of the model's carry-in the team's month profile says it moved.
    """

    skill_mean: np.ndarray
    skill_sd: np.ndarray
    effort_factor: np.ndarray
    count_scale: dict[str, float] = field(default_factory=dict)
    quit_scale: float = 1.0
    settle_gap: float = 0.0
    effort_model: EffortModel | None = None
    market: _MarketRead | None = None
    blocks: tuple | None = None
    carry_in: np.ndarray | None = None
    carry_share: float | None = None
    seen: np.ndarray | None = None
    carry_read: CarryRead | None = None


def _conditioning(setup: _Setup, team: _Team, closed: int, mean, sd, *, behaviour: BehaviourPrior | None,
                  redraw: frozenset[str] = frozenset(), settle_gap: float = 0.0,
                  effort_model: EffortModel | None = None, market: _MarketRead | None = None,
                  carry_in: np.ndarray | None = None, carry: tuple[float, float] | None = None,
                  carry_read: CarryRead | None = None) -> Conditioning:
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
                        carry_range=carry if carry is not None else (1.0, 1.0),
                        carry_normal=None if carry_read is None or carry_read.center is None or carry_read.sd is None
                        else (carry_read.center, carry_read.sd))


def _read_closed_months(checked: CheckedPlan, setup: _Setup, team: _Team, seed: int, params: dict | None,
                        behaviour: BehaviourPrior | None, in_post: bool,
                        carry: tuple[float, float] | None = None) -> _Reading:
    """The effort, rates, behaviour, market and skills the closed months show (the prior when
    the year is over or the actuals hold no primary output)."""
    R, M, primary, scenario = team.n_reps, team.closed_months, team.primary, team.scenario
    prior = (np.full(R, team.prior_mean), np.full(R, team.prior_sd))
    if not (M < 12 and primary in team.real):  # (a skill prior of sd 0 still reads the market and the effort)
        return _Reading(*prior, effort_factor=np.ones(M))
    res, pilot, n_pilot = _pilot(checked, setup, team, seed, params)
    effort_factor = _effort_factor(res, M)
    count_scale = _count_scale(res, team.real, M, n_pilot)
    quit_scale = _quit_scale(res, _leavers_so_far(setup, team.active_days, M), n_pilot) if in_post else 1.0
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
            _conditioning(setup, team, 0, *prior, behaviour=behaviour, settle_gap=settle_gap),
            behaviour, base0.sum(axis=0), R, M)
        # The team's count and quit rates against the same behaviour the runs simulate (a
        # settled team has lower morale than the fresh pilot, and quits more).
        count_scale = _count_scale(res_b, team.real, M, len(np.concatenate([r.run_index for r in res_b])))
        if in_post:
            quit_scale = _quit_scale(res_b, _leavers_so_far(setup, team.active_days, M),
                                     len(np.concatenate([r.run_index for r in res_b])))
    carry_share, carry_in, carry_read = _carry_in(setup, team, res if behaviour is None else res_b, carry) \
        if carry is not None else (None, None, None)
    # What the reads see: the real output, with what the team moved out of the as-of month
    # put back (at the carry's prior mean), so that a push across the period end is read
    # neither as a market dip nor as lower skill.
    seen = _unmoved(team.real[primary], carry_in, None if carry_read is None else carry_read.mean)
    base = base0 * effort_factor[None, :]
    observed = seen.sum(axis=1)
    cv2_month = pilot.prod.monthly_cv(scenario.output(primary)) ** 2
    market = None
    if scenario.market.active:
        # The market so far, read off the team's results (before the reps' skills, so that a
        # team-wide swing is not read as every rep's skill).
        teams, n_teams = team_index(team.roster.columns, R)
        market = _read_market(scenario.market, seen, base, _blocks(setup), team.prior_mean,
                              team.prior_sd, cv2_month, teams, n_teams)
        base = base * market.multiplier[teams]
    expected = base.sum(axis=1)
    cv2 = cv2_month * (base ** 2).sum(axis=1) / np.maximum(expected, 1e-300) ** 2
    skill_mean, skill_sd = skill_posterior(team.prior_mean, team.prior_sd, observed, expected, cv2)
    return _Reading(skill_mean, skill_sd, effort_factor, count_scale, quit_scale, settle_gap, effort_model, market,
                    (base0, base, cv2_month), carry_in, carry_share, seen, carry_read)


def _unmoved(real: np.ndarray, carry_in: np.ndarray | None, multiplier: float | None) -> np.ndarray:
    """``(R, M)`` the real primary output with the business moved across the as-of period end
    (``carry_in`` at the mean of its multiplier) back in the as-of month."""
    if carry_in is None or multiplier is None or real.shape[1] == 0:
        return real
    out = np.array(real, dtype=float, copy=True)
    out[:, -1] = np.maximum(out[:, -1] + multiplier * carry_in, 0.0)
    return out


COLLAPSED = 0.3
"""A rep's month is *collapsed* below this share of the rep's average month of the closed
months (after the seasonality): what a rep who moved most of a month's business across a
period end shows (:func:`month_profile`)."""


def month_profile(output: np.ndarray, full, season: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How much more often reps' months collapse at period ends than in other months.

    Args:
        output: ``(..., R, M)`` each rep's primary output per closed month.
        full: ``(..., R)`` reps in the role in every closed month (the others are left out).
        season: ``(M,)`` the months' demand factors.
        ends: ``(M,)`` bool, the months that end a plan period.

    Returns:
        ``(...)`` the share of collapsed rep-months (:data:`COLLAPSED`) in period-end months
        minus that in the other months: a team that moves business across period ends has
        more (its last months low, its first months high); the market and the seasonality move
        every month alike and cancel. NaN where no rep was in the role throughout.
    """
    x = np.asarray(output, dtype=float) / np.asarray(season, dtype=float)
    low = x < COLLAPSED * x.mean(axis=-1, keepdims=True)
    full = np.asarray(full, dtype=bool)
    n = full.astype(float).sum(axis=-1)
    at_end = np.where(full[..., None], low[..., ends], False).sum(axis=(-2, -1)) / np.maximum(n * ends.sum(), 1)
    other = np.where(full[..., None], low[..., ~ends], False).sum(axis=(-2, -1)) / np.maximum(n * (~ends).sum(), 1)
    return np.where(n > 0, at_end - other, np.nan)


@dataclass(frozen=True)
class CarryRead:
    """How much of the model's carry-in the team's month-of-period profile says it moved.

    The multiplier ``u`` of the carry-in (prior uniform on ``carry``) given the team's
    :func:`month_profile` ``d``: the pilot (the model's own team, which moves business at the
    model's rate, ``u = 1``) gives ``d1`` on average with sd ``s`` over its runs; a team that
    moves nothing shows about 0. With ``d ~ N(u d1, s^2)`` the posterior of ``u`` is the
    normal ``N(d / d1, (s / d1)^2)`` truncated to the prior's range (``center``, ``sd``);
    where the pilot's profile does not stand out of its noise (``d1 < 2 s``) or cannot be
    measured, the prior (``center`` None).

    Attributes:
        low, high: the prior's range.
        center, sd: the normal's centre and sd, or None (the prior).
        observed, model, model_sd: ``d``, ``d1``, ``s`` (NaN when not measured).
        mean: the posterior mean of ``u``.
    """

    low: float
    high: float
    center: float | None
    sd: float | None
    observed: float
    model: float
    model_sd: float
    mean: float


def _carry_read(carry: tuple[float, float], observed: float, pilot: np.ndarray) -> CarryRead:
    """The multiplier's posterior (:class:`CarryRead`) from the team's profile and the pilot's."""
    from scipy import stats

    lo, hi = float(carry[0]), float(carry[1])
    pilot = pilot[np.isfinite(pilot)]
    d1 = float(pilot.mean()) if len(pilot) else math.nan
    s = float(pilot.std(ddof=1)) if len(pilot) > 2 else math.nan
    if not (math.isfinite(observed) and math.isfinite(d1) and math.isfinite(s)) or hi <= lo or d1 < 2 * s \
            or s <= 0:
        return CarryRead(lo, hi, None, None, observed, d1, s, 0.5 * (lo + hi))
    center, sd = observed / d1, s / d1
    a, b = (lo - center) / sd, (hi - center) / sd
    return CarryRead(lo, hi, center, sd, observed, d1, s, float(stats.truncnorm.mean(a, b, loc=center, scale=sd)))


def _carry_in(setup: _Setup, team: _Team, pilot: list, carry: tuple[float, float]
              ) -> tuple[float, np.ndarray, CarryRead]:
    """What the team moved across the as-of period end into the first open month, at the
    model's rate: the pilot's net carry (pushed out less pulled in, roster seats) as a share of
    a month's expected business in the last closed period, times each roster rep's real
    business per month in that period (zero when the as-of month is not a period's last:
    nobody moves business then); and how much of it the team's month profile says it moved
    (:class:`CarryRead`)."""
    M, R = team.closed_months, team.n_reps
    last = [m for m in range(M) if setup.period_of_month[m] == setup.period_of_month[M - 1]]
    carried = sum(float(r.carry_out.sum()) for r in pilot if r.carry_out is not None)
    month = sum(float(r.primary_expected[:, last].sum()) for r in pilot if r.primary_expected is not None) / len(last)
    share = carried / month if month > 0 else 0.0
    per_month = team.real[team.primary][:, last].sum(axis=1) / len(last)
    pom = setup.period_of_month
    ends = np.array([m == 11 or pom[m + 1] != pom[m] for m in range(M)])
    season = _season(setup, team.scenario)[:M]
    if ends.all() or not ends.any():
        return share, share * per_month, _carry_read(carry, math.nan, np.array([]))
    months = _by_month(setup, team.primary, M)
    if months is None:
        return share, share * per_month, _carry_read(carry, math.nan, np.array([]))
    full = (team.active_days[:, :M] >= team.days[None, :M]).all(axis=1)
    observed = float(month_profile(months, full, season, ends))
    sims = []
    for r in pilot:
        d = r.detail
        if d is None:
            continue
        sims.append(month_profile(d["actual"][team.primary][:, :R, :M], np.asarray(d["active"][:, :R, :M]).all(axis=2),
                                  season, ends))
    return share, share * per_month, _carry_read(carry, observed, np.concatenate(sims) if sims else np.array([]))


def _by_month(setup: _Setup, col: str, M: int) -> np.ndarray | None:
    """``(R, M)`` the actuals column per closed month from dated rows, or None (no dated rows,
    the column not in them, or a closed month missing)."""
    mi = setup.by_month
    if mi is None or col not in mi.actuals:
        return None
    lab = {p.label: i for i, p in enumerate(mi.periods)}
    fys = setup.start.month  # the plan year starts in its fiscal year's first month
    idx = [lab.get(period_for_date(_month_start(setup.start, m), "month", fys).label, -1) for m in range(M)]
    if min(idx, default=0) < 0:
        return None
    return np.asarray(mi.actuals[col], dtype=float)[:, np.asarray(idx, dtype=np.int64)]


def _season(setup: _Setup, scenario: Scenario) -> np.ndarray:
    """``(12,)`` the scenario's demand factor of each month of the plan year."""
    return np.array([scenario.seasonality[(setup.start.month - 1 + i) % 12] for i in range(12)], dtype=float)


def _pilot(checked: CheckedPlan, setup: _Setup, team: _Team, seed: int, params: dict | None):
    """A short pilot of the same team and plan from the start of the year (prior skills, the
    scenario's behaviour) up to the as-of month. At most 100 runs: one chunk, in this process
    (its sums then never depend on a split). Returns its chunk results, its simulation and
    its runs."""
    R, M = team.n_reps, team.closed_months
    prior = (np.full(R, team.prior_mean), np.full(R, team.prior_sd))
    pilot_task = SimTask(checked, team.scenario, seed, params,
                         condition=_conditioning(setup, team, 0, *prior, behaviour=None), until=M)
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


def _expected_at_baseline(setup: _Setup, team: _Team, pilot) -> np.ndarray:
    """``(R, M)`` each rep's expected primary output per closed month at skill 1, effort 1 and
    an average market (level x quota/12 x season x ramp x share of the month in the role)."""
    from engine.sim.behaviour import ramp_factor

    scenario, M = team.scenario, team.closed_months
    out = scenario.output(team.primary)
    ramp_t = np.where(np.isnan(team.tenure), scenario.ramp_months, team.tenure)
    base0 = np.zeros((team.n_reps, M))
    for m in range(M):
        ramp = ramp_factor(np.maximum(ramp_t + m - np.where(team.hired, _join_month(team.active_days), 0), 0.0),
                           scenario.ramp_months, scenario.ramp_start)
        base0[:, m] = (out.get("level", 1.0) * team.roster.quota / 12.0 * float(pilot.season[m]) * ramp
                       * team.active_days[:, m] / team.days[m])
    return base0


def _at_the_team_rates(scenario: Scenario, read: _Reading) -> Scenario:
    """The scenario for the rest of the year: count outputs and quits at the rates the team
    showed so far."""
    if read.count_scale:
        scenario = _scaled_counts(scenario, read.count_scale)
    if read.quit_scale != 1.0:
        scenario = _scaled_attrition(scenario, read.quit_scale)
    return scenario


@dataclass(frozen=True)
class _Runs:
    """The rest of the year simulated (:func:`_simulate_rest`).

    Attributes:
        period_runs: ``(runs, P)`` team payout per period.
        seat_pay: ``(runs, R, P)`` each roster seat's payout per period.
        quit_seat: ``(runs, R)`` whether the seat's rep quit.
        annual: ``(runs,)`` the year's team payout (paid to date + the open periods).
        open_periods: positions of the periods not closed.
        weights: importance weights of the runs (None: equal).
        ess: effective runs.
        theta_post: the behaviour's posterior mean (None: not read).
        decomposition: :func:`_decompose`'s table, or None.
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


def _simulate_rest(checked: CheckedPlan, setup: _Setup, team: _Team, read: _Reading, scenario: Scenario,
                   paid: _Paid, runs: int, seed: int, params: dict | None, behaviour: BehaviourPrior | None,
                   carry: tuple[float, float] | None, *,
                   workers: int, chunk_runs: int | None, scheduler, progress: bool, decompose: bool) -> _Runs:
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
        return _Runs(period_runs, seat_pay, quit_seat, annual, open_periods, weights, ess, theta_post,
                     decomposition, 0.0)
    with Executor(workers, scheduler) as ex:
        def run(n: int, redraw: frozenset[str] = frozenset(), desc: str | None = None):
            condition = _conditioning(setup, team, M, read.skill_mean, read.skill_sd, behaviour=behaviour,
                                      redraw=redraw, settle_gap=read.settle_gap, effort_model=read.effort_model,
                                      market=read.market, carry_in=read.carry_in, carry=carry,
                                      carry_read=read.carry_read)
            task = SimTask(checked, scenario, seed, params, condition=condition)
            sim = simulation_for(task)  # built here once; forked workers inherit it
            chunks = chunks_of(n, chunk_runs or ex.chunk_size(sim.slots, n))
            return ex.map([(task, idx) for idx in chunks], progress=progress and desc is not None, desc=desc)

        res = run(runs, desc=f"forecast {checked.plan.name}")
        period_runs = np.concatenate([r.period_cost for r in res])
        seat_pay = np.concatenate([r.period_payout for r in res])
        quit_seat = np.concatenate([r.quit_seat for r in res])
        annual = paid.to_date + period_runs[:, open_periods].sum(axis=1)
        records = RunRecords(open_pay=period_runs[:, open_periods].sum(axis=1),
                             output=np.concatenate([r.revenue for r in res]),
                             expected=np.concatenate([r.primary_expected for r in res]),
                             capacity=np.concatenate([r.primary_baseline for r in res]),
                             headcount=np.concatenate([r.headcount for r in res]))
        if behaviour is not None and read.effort_model is not None and read.blocks is not None:
            theta = behaviour.draw(RunStreams(seed, range(runs)))
            weights, ess, theta_post = _behaviour_weights(
                theta, read.effort_model, read.blocks, team.real[team.primary] if read.seen is None else read.seen,
                _blocks(setup), team.prior_mean,
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
            for source, purposes in SOURCES.items():
                if source == "market" and not scenario.market.active:
                    continue
                got = run(n, frozenset(STREAMS) - set(purposes))
                shared[source] = paid.to_date + np.concatenate([r.period_cost for r in got])[:, open_periods].sum(axis=1)
            decomposition = _decompose(annual[:n], shared)
    # Self-check: the simulation pays the closed periods as the statements do (up to rounding).
    closed_gap = float(np.abs(period_runs[:, : setup.closed_periods]
                              - paid.by_period[None, : setup.closed_periods]).max()) if setup.closed_periods else 0.0
    return _Runs(period_runs, seat_pay, quit_seat, annual, open_periods, weights, ess, theta_post, decomposition,
                 closed_gap, records)


def _self_check(gap: float, reps: int, currency: str) -> tuple[str, ...]:
    """Warnings when the simulation did not pay the closed periods as the statements do."""
    if gap <= CLOSED_GAP_PER_REP * max(reps, 1) + 1e-9:
        return ()
    message = (f"the simulation paid a closed period up to {gap:,.2f} {currency} away from its statements (more "
               f"than rounding): the simulator does not evaluate the plan on these actuals as `incentive payout` "
               f"does, so the forecast of the open periods is suspect; please report it with the plan")
    return (message,)


def _rest_of_year(setup: _Setup, team: _Team, read: _Reading, scenario: Scenario, paid: _Paid,
                  sims: _Runs) -> dict | None:
    """Why the open months pay more or less than the closed ones (engine/jobs/rest_of_year.py)."""
    M = team.closed_months
    if sims.records is None or team.primary not in team.real or len(read.effort_factor) != M:
        return None
    season = _season(setup, scenario)
    rest = against_so_far(sims.records, sims.weights, closed_months=M, paid=paid.to_date,
                          closed_output=float(team.real[team.primary][:, :M].sum()),
                          closed_effort=np.asarray(read.effort_factor, dtype=float),
                          closed_present=(team.active_days[:, :M] > 0).sum(axis=0), season=season)
    if rest is not None:
        rest["output"]["measure"] = team.primary
    return rest


def _by_period(setup: _Setup, paid: _Paid, sims: _Runs) -> tuple[pd.DataFrame, set[int], np.ndarray]:
    """The table per period and for the year, the period in progress (if any), and the year's
    P05, P50, P90 and P95."""
    M, P = setup.closed_months, len(setup.periods)
    weights = sims.weights
    rows = []
    in_progress = {int(setup.period_of_month[M - 1])} if M < 12 and setup.closed_periods < P and \
        int(setup.period_of_month[M - 1]) == setup.closed_periods else set()
    for k, lb in enumerate(p.label for p in setup.periods):
        if k < setup.closed_periods:
            v = paid.by_period[k]
            rows.append((lb, "closed", v, v, v, v, v))
        else:
            x = sims.period_runs[:, k]
            q = weighted_quantile(x, weights, QUANTILES)
            rows.append((lb, "in progress" if k in in_progress else "forecast", np.nan,
                         float(np.average(x, weights=weights)), *map(float, q)))
    qy = weighted_quantile(sims.annual, weights, (0.05,) + QUANTILES)
    annual_mean = float(np.average(sims.annual, weights=weights))
    rows.append(("year", "", paid.to_date, annual_mean, float(qy[1]), float(qy[2]), float(qy[3])))
    return pd.DataFrame(rows, columns=["period", "status", "paid", "mean", "p50", "p90", "p95"]), in_progress, qy


def _accrual(checked: CheckedPlan, setup: _Setup, team: _Team, paid: _Paid, sims: _Runs, in_progress: set[int],
             annual_mean: float) -> tuple[float, str, float]:
    """The cost recognised to date, the accrual method and the share of the year elapsed
    (module docstring)."""
    days, M = team.days, team.closed_months
    elapsed_days = float(days[:M].sum())
    share_year = elapsed_days / float(days.sum())
    if checked.plan.accumulate == "year":
        return max(paid.to_date, annual_mean * share_year), "ratable", share_year
    earned = paid.to_date
    for k in in_progress:
        ms = [m for m in range(12) if setup.period_of_month[m] == k]
        f = sum(days[m] for m in ms if m < M) / sum(days[m] for m in ms)
        earned += float(np.average(sims.period_runs[:, k], weights=sims.weights)) * f
    return earned, "by period", share_year


def _per_rep(setup: _Setup, team: _Team, paid: _Paid, read: _Reading, sims: _Runs) -> pd.DataFrame:
    """One row per roster rep, and a last ``(new hires)`` row for the backfills."""
    weights, open_periods, R, M = sims.weights, sims.open_periods, team.n_reps, team.closed_months
    runs = len(sims.annual)
    rem = sims.seat_pay[:, :, open_periods].sum(axis=2) if open_periods else np.zeros((runs, R))
    year_rep = paid.rep[None, :] + rem
    prim_obs = team.real[team.primary].sum(axis=1) if team.primary in team.real else np.full(R, np.nan)
    target_to_date = team.roster.quota * team.active_days[:, :M].sum(axis=1) / float(team.days.sum())
    reps = pd.DataFrame({
        "rep_id": team.ids, "paid_to_date": paid.rep,
        "expected_remaining": np.average(rem, axis=0, weights=weights),
        "expected_year": np.average(year_rep, axis=0, weights=weights),
        "p50_year": weighted_quantile(year_rep, weights, 0.5, axis=0),
        "p90_year": weighted_quantile(year_rep, weights, 0.9, axis=0),
        "quit_probability": np.average(sims.quit_seat, axis=0, weights=weights),
        "attainment_to_date": np.where(target_to_date > 0, prim_obs / np.maximum(target_to_date, 1e-9), np.nan),
        "skill_median": np.exp(read.skill_mean), "skill_sd": read.skill_sd,
    })
    hires_rem = (sims.period_runs[:, open_periods].sum(axis=1) - rem.sum(axis=1)) if open_periods else np.zeros(runs)
    hires_mean = float(np.average(hires_rem, weights=weights))
    reps.loc[len(reps)] = {"rep_id": "(new hires)", "paid_to_date": 0.0, "expected_remaining": hires_mean,
                           "expected_year": hires_mean, "p50_year": float(weighted_quantile(hires_rem, weights, 0.5)),
                           "p90_year": float(weighted_quantile(hires_rem, weights, 0.9)), "quit_probability": np.nan,
                           "attainment_to_date": np.nan, "skill_median": np.nan, "skill_sd": np.nan}
    return reps


def _market_document(setup: _Setup, market: _MarketRead | None, scenario: Scenario, M: int) -> dict | None:
    """The market read off the closed months, for :attr:`Forecast.market` (None: not read)."""
    if market is None:
        return None
    mm = scenario.market
    return {
        "model": {"year_sigma": mm.year_sigma, "rho": mm.rho, "month_sigma": mm.month_sigma,
                  "team_share": mm.team_share},
        "months": [(_month_start(setup.start, m).strftime("%Y-%m"), float(market.multiplier[0, m]),
                    float(market.sd_seen[0, m])) for m in range(M)],
        "level": float(market.mean[0, 0]), "level_sd": float(math.sqrt(market.cov[0, 0, 0])),
        "last": float(market.mean[0, 1]), "last_sd": float(math.sqrt(market.cov[0, 1, 1])),
    }


def _assumptions(checked: CheckedPlan, setup: _Setup, team: _Team, read: _Reading, sims: _Runs,
                 scenario: Scenario, runs: int, seed: int, behaviour: BehaviourPrior | None, method: str,
                 as_of_date: dt.date, carry: tuple[float, float] | None = None) -> list[tuple[str, str]]:
    """``(item, value)`` pairs: what the forecast assumed, for the record."""
    plan, inputs, M = checked.plan, setup.inputs, team.closed_months
    refill = team.refill
    return [
        ("plan", plan.name), ("scenario", scenario.name), ("roster", inputs.sources.get("roster", "roster")),
        ("actuals", inputs.sources.get("actuals", "actuals")),
        ("plan year", f"{setup.start.isoformat()} to {_month_end(setup.start, 11).isoformat()}"),
        ("as of", f"{setup.as_of} (closed through {as_of_date.isoformat()}, {M} of 12 months)"),
        ("actuals after the as-of point", "ignored" if setup.ignored_later else "none"),
        ("runs", str(runs)), ("seed", str(seed)),
        ("paid to date", "the closed periods' statements, as `incentive payout` computes them"),
        ("skill prior (log)",
         f"mean {team.prior_mean:.4f}, sd {team.prior_sd:.4f} ({scenario.skill.describe()})"),
        ("skill posterior", "normal shrinkage of log skill on production to date (see docs/model.md, Forecast)"),
        ("count outputs at the team's rates so far",
         ", ".join(f"{k} x {v:.3f}" for k, v in read.count_scale.items()) or "none read by the plan"),
        ("effort behind the actuals so far", ", ".join(f"{x:.3f}" for x in read.effort_factor) if M < 12 else "n/a"),
        ("quit hazard at the team's rate so far", f"x {read.quit_scale:.3f}"),
        ("seats of leavers so far refilled", "no" if refill is None else
         f"{int((refill >= 0).sum())} after {int(dict(scenario.attrition)['vacancy_months'])} months' vacancy"),
        ("behaviour", "the scenario's, known (every rep at baseline morale on the first day)" if behaviour is None
         else f"uncertain: {behaviour.describe()}; the team in post settled up to {read.settle_gap:.3f} below its "
              f"baseline morale (x drain x tenure's share of the way)"),
        ("behaviour after the actuals so far", "n/a" if behaviour is None or sims.theta_post is None else
         ", ".join(f"{n} {v:.2f} (prior {p:.2f})" for n, v, p in zip(behaviour.names, sims.theta_post,
                                                                    behaviour.mean()))
         + f"; runs weighted by the likelihood of the closed blocks, effective runs {sims.ess:.0f} of {runs}"),
        ("business moved across the as-of period end",
         "none carried" if carry is None or read.carry_in is None or read.carry_share is None else
         f"each run carries U({carry[0]:g}, {carry[1]:g}) x the model's rate into the first open month: "
         f"{read.carry_share:.3f} of a month's business of the last closed period (the pilot's pushes less pulls), "
         f"{float(read.carry_in.sum()):,.0f} of {team.primary} at that rate; "
         + ("the team's month profile measured nothing (the prior)" if read.carry_read is None
            or read.carry_read.center is None else
            f"the team's month profile (collapsed months at period ends less elsewhere {read.carry_read.observed:+.3f}"
            f", the model's {read.carry_read.model:+.3f} sd {read.carry_read.model_sd:.3f}) makes it x "
            f"N({read.carry_read.center:.2f}, {read.carry_read.sd:.2f}) within the range")
         + f", mean x {(read.carry_read.mean if read.carry_read is not None else 0.5 * sum(carry)):.2f}; the skill "
         f"and market reads see the as-of month with that mean put back"),
        ("accrual method", method + (": expected annual payout x share of the year elapsed, at least paid to date"
                                     if method == "ratable" else
                                     ": closed periods as paid + expected pay of a period in progress x its "
                                     "share elapsed")),
        ("base_salary", "from the roster" if "base_salary" in setup.table.columns else
         f"from ti and the scenario's pay mix {scenario.pay_mix:g}"),
        ("production scale", f"the roster's {scenario.primary_target}"
         if scenario.primary_target in setup.table.columns or plan.targets else
         "each rep's run rate so far (the plan has no target; reps with nothing yet at the team's median)"),
        ("tenure", "from the roster" if "tenure_months" in setup.table.columns or "start_date" in setup.table.columns
         else "drawn from the scenario"),
    ]


def _leavers_so_far(setup: _Setup, active_days: np.ndarray, M: int) -> int:
    """Roster reps who were in the role in the closed months and left before their end: the
    roster's ``end_date`` before the last closed day."""
    if "end_date" not in setup.table.columns:
        return 0
    end = pd.to_datetime(setup.table["end_date"], errors="coerce")
    last = pd.Timestamp(_month_end(setup.start, M - 1))
    left = (end.notna() & (end < last)).to_numpy()
    return int((left & (active_days[:, :M].sum(axis=1) > 0)).sum())


def _open_seats(setup: _Setup, active_days: np.ndarray, hired: np.ndarray, M: int, vacancy: int) -> np.ndarray:
    """``(reps,)`` the month each roster leaver's seat is refilled, -1 where it is not.

    The team keeps its headcount, as the simulator assumes of its own quits: a leaver (an
    ``end_date`` in the plan year) not yet matched by a hire of the year (a ``start_date`` in
    it) is backfilled ``vacancy`` months after the month they left, and not before the first
    open month. Hires are matched to the earliest leavers, so the open seats are the latest
    leavers'. A January hire may be the backfill of a leaver of the year before; then one
    leaver of the year counts as refilled a little early, as a company that keeps its
    headcount would count it.
    """
    refill = np.full(len(active_days), -1, dtype=np.int64)
    if "end_date" not in setup.table.columns:
        return refill
    end = pd.to_datetime(setup.table["end_date"], errors="coerce")
    last = pd.Timestamp(_month_end(setup.start, 11))
    left = (end.notna() & (end < last)).to_numpy() & (active_days.sum(axis=1) > 0)
    if not left.any():
        return refill
    month = ((end.dt.year - setup.start.year) * 12 + (end.dt.month - setup.start.month)).to_numpy()
    leavers = np.nonzero(left)[0]
    leavers = leavers[np.argsort(month[leavers], kind="stable")]
    late = leavers[int(hired.sum()):]
    at = np.maximum(month[late] + 1 + int(vacancy), M)
    refill[late] = np.where(at < 12, at, -1)
    return refill


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


def _behaviour_weights(theta: np.ndarray, model: EffortModel, read: tuple, observed: np.ndarray,
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


def _join_month(active_days: np.ndarray) -> np.ndarray:
    act = active_days > 0
    return np.where(act.any(axis=1), np.argmax(act, axis=1), 12)


# -- output ------------------------------------------------------------------------------------


def _cell(x: object) -> float | None:
    """A numeric table cell (as ``itertuples`` gives it) as a float; None when it is not a number."""
    if isinstance(x, (int, float, np.integer, np.floating)):
        return float(x)
    return None


def _rounded(x: float | None, digits: int) -> float | None:
    """``x`` rounded to ``digits`` places, or None when it is missing (None or NaN)."""
    return None if x is None or math.isnan(x) else round(x, digits)
