"""The forecast's inputs: the plan year, the as-of point, the real team and what it was paid.

Steps of :func:`engine.jobs.forecast.forecast`: :func:`setup_year` (the year, the closed
months and periods, the real actuals as read), :func:`paid_so_far` (the closed periods'
statements) and :func:`real_team` (the roster as the simulator's seats, the actuals per
month, the skill prior, the seats refilled). Used by the ``engine/jobs/forecast*.py``
modules only.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.errors import DataError, DataErrors
from engine.core.inputs import Inputs, PeriodInfo
from engine.core.periods import parse_period_label, period_for_date
from engine.plan.validate import CheckedPlan
from engine.sim.population import Roster, complete_columns, log_skill_prior
from engine.sim.scenario import Scenario
from engine.sim.simulate import month_days, plan_periods


def month_start(start: dt.date, m: int) -> dt.date:
    k = start.month - 1 + m
    return dt.date(start.year + k // 12, k % 12 + 1, 1)


def month_end(start: dt.date, m: int) -> dt.date:
    d = month_start(start, m)
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


@dataclass
class Setup:
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


def setup_year(checked: CheckedPlan, roster, actuals, as_of: str | None) -> Setup:
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
    table = one_row_per_rep(read_table(roster, "roster"), inputs.rep_ids.astype(str),
                             month_end(start, max(closed_months, 1) - 1))
    label = as_period.label
    return Setup(sliced, start, periods, period_of_month, closed_months, closed_periods, label, monthly, table,
                  ignored_later, by_month)


def one_row_per_rep(table: pd.DataFrame, ids: np.ndarray, as_of: dt.date) -> pd.DataFrame:
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


def _run_rate(setup: Setup, checked: CheckedPlan, scenario: Scenario) -> np.ndarray | None:
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


def _roster(setup: Setup, scenario: Scenario, checked: CheckedPlan | None = None
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


def _active_days(setup: Setup) -> np.ndarray:
    """``(reps, 12)`` active days per month of the plan year from the roster's dates."""
    table, start = setup.table, setup.start
    n = len(table)
    first = np.array([month_start(start, m).toordinal() for m in range(12)])
    last = np.array([month_end(start, m).toordinal() for m in range(12)])
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


def _monthly_actuals(setup: Setup, checked: CheckedPlan, active_days: np.ndarray) -> dict[str, np.ndarray]:
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
                    p = period_for_date(month_start(setup.start, m), "month", checked.plan.fiscal_year_start)
                    if p.label in lab:
                        vals[:, m] = mi.actuals[col][:, lab[p.label]]
        out[col] = vals
    return out


def closed_blocks(setup: Setup) -> list[list[int]]:
    """The groups of closed months the actuals resolve: each closed plan period, then each
    month of a period in progress (transactions)."""
    pom, M = setup.period_of_month, setup.closed_months
    out = [[m for m in range(M) if pom[m] == k] for k in range(setup.closed_periods)]
    return out + [[m] for m in range(M) if pom[m] >= setup.closed_periods]


@dataclass(frozen=True)
class Paid:
    """What the closed periods paid: ``by_period`` ``(P,)`` team totals (NaN for open periods),
    ``to_date`` their sum, ``rep`` ``(R,)`` each roster rep's, in the roster's order."""

    by_period: np.ndarray
    to_date: float
    rep: np.ndarray


def paid_so_far(checked: CheckedPlan, setup: Setup, params: dict | None,
                 ledger_paid: pd.DataFrame | None) -> Paid:
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
    return Paid(paid, paid_to_date, paid_rep.reindex(ids, fill_value=0.0).to_numpy(dtype=float))


@dataclass(frozen=True)
class Team:
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


def real_team(checked: CheckedPlan, setup: Setup, scenario: Scenario, in_post: bool) -> Team:
    """The roster, the actuals per month and the skill prior, in the shaped scenario's terms."""
    roster_s, fixed, tenure, hired = _roster(setup, scenario, checked)
    active_days = _active_days(setup)
    real = _monthly_actuals(setup, checked, active_days)
    M = setup.closed_months
    prior_mean, prior_sd = log_skill_prior(scenario.skill)
    _add_primary(real, scenario)
    refill = _open_seats(setup, active_days, hired, M, int(dict(scenario.attrition)["vacancy_months"])) \
        if in_post else None
    return Team(scenario, setup.inputs.rep_ids.astype(str), roster_s, fixed, tenure, hired, active_days, real, M,
                 prior_mean, prior_sd, month_days(setup.start, 12), refill)


def dated_months(setup: Setup, col: str, M: int) -> np.ndarray | None:
    """``(R, M)`` the actuals column per closed month from dated rows, or None (no dated rows,
    the column not in them, or a closed month missing)."""
    mi = setup.by_month
    if mi is None or col not in mi.actuals:
        return None
    lab = {p.label: i for i, p in enumerate(mi.periods)}
    fys = setup.start.month  # the plan year starts in its fiscal year's first month
    idx = [lab.get(period_for_date(month_start(setup.start, m), "month", fys).label, -1) for m in range(M)]
    if min(idx, default=0) < 0:
        return None
    return np.asarray(mi.actuals[col], dtype=float)[:, np.asarray(idx, dtype=np.int64)]


def plan_season(setup: Setup, scenario: Scenario) -> np.ndarray:
    """``(12,)`` the scenario's demand factor of each month of the plan year."""
    return np.array([scenario.seasonality[(setup.start.month - 1 + i) % 12] for i in range(12)], dtype=float)


def leavers_so_far(setup: Setup, active_days: np.ndarray, M: int) -> int:
    """Roster reps who were in the role in the closed months and left before their end: the
    roster's ``end_date`` before the last closed day."""
    if "end_date" not in setup.table.columns:
        return 0
    end = pd.to_datetime(setup.table["end_date"], errors="coerce")
    last = pd.Timestamp(month_end(setup.start, M - 1))
    left = (end.notna() & (end < last)).to_numpy()
    return int((left & (active_days[:, :M].sum(axis=1) > 0)).sum())


def _open_seats(setup: Setup, active_days: np.ndarray, hired: np.ndarray, M: int, vacancy: int) -> np.ndarray:
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
    last = pd.Timestamp(month_end(setup.start, 11))
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


def join_month(active_days: np.ndarray) -> np.ndarray:
    act = active_days > 0
    return np.where(act.any(axis=1), np.argmax(act, axis=1), 12)
