"""``incentive alerts``: early warnings from a roster and its actuals.

The plan is evaluated on the data exactly as for statements (:func:`load_for_plan`, then the
compiled evaluator), and every rep active in the latest period of the run is checked for
five kinds of alert, each with a stable code:

``attrition-risk``
    The simulator's morale model (``docs/model.md`` §4 and §5) replayed on the rep's own
    history gives a quit hazard well above the team's (see :func:`alerts`).
``gave-up``
    Year-to-date attainment far below the threshold of the plan's main component, with
    little of the plan year left and a flat or falling trend: even at their best period's
    pace for the rest of the year they cannot reach the threshold.
``improvement-plan``
    C or D grades in consecutive periods (plans with ``grades`` only).
``falling-attainment``
    Primary attainment strictly fell for N consecutive periods.
``promotion-candidate``
    A grades in consecutive periods (plans with ``grades`` only).

Every alert describes the rep's *current* state: streaks and trends end in the latest
period of the run, and reps who are not active in that period (leavers) get none.

*Primary attainment* is ``actual / target`` for the actuals column and target the plan
measures against each other (``revenue / targets.revenue``), found with
:func:`engine.plan.reference_rep.reference_profile`; where several pairs exist, the one read by the
first component that uses one wins. Attainment is taken per period (targets prorated as
in statements; with ``accumulate: year`` the per-period values are recovered from the
year-to-date ones) and year to date (sums restarting at each fiscal year).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.core.inputs import Inputs
from engine.core.periods import MONTHS_PER_PERIOD, PERIOD_PLURAL
from engine.core.text import percent
from engine.data.statements import load_for_plan
from engine.plan import expr as ex
from engine.plan.compile import PayoutArrays, compile_plan
from engine.plan.kinds import kind_of
from engine.plan.reference_rep import Dependencies, reference_profile
from engine.plan.validate import CheckedPlan, const_value
from engine.sim.behaviour import morale_after_month, morale_after_pay, quit_hazard
from engine.sim.scenario import Dist, Scenario, default_scenario

__all__ = [
    "ALERT_CODES",
    "COLUMNS",
    "DEFAULT_THRESHOLD",
    "GAVE_UP_TIME_LEFT",
    "HIGH_RISK_RATIO",
    "HOPELESS_SHARE",
    "RISK_QUANTILE",
    "RISK_RATIO",
    "SEVERITIES",
    "TREND_PERIODS",
    "TREND_TOLERANCE",
    "alerts",
    "write_alerts",
]

ALERT_CODES: tuple[str, ...] = (
    "attrition-risk", "gave-up", "improvement-plan", "falling-attainment", "promotion-candidate",
)
"""Every alert code, in the order reports list them at equal severity."""

SEVERITIES: tuple[str, ...] = ("high", "medium", "low", "info")
"""Severity levels, most severe first (``info``: good news, e.g. a promotion candidate)."""

COLUMNS: tuple[str, ...] = (
    "rep_id", "alert", "severity", "period", "attainment", "ytd_attainment", "risk", "detail",
)
"""Columns of the table :func:`alerts` returns."""

DEFAULT_THRESHOLD = 0.5
"""Threshold used for ``gave-up`` when the main component has none (domain: thresholds sit at
50-80% of quota)."""

GAVE_UP_TIME_LEFT = 1 / 3
"""``gave-up`` only fires with at most this share of the plan year left (the last third)."""

TREND_PERIODS = 3
"""Periods (of the current plan year) over which the recent trend is measured."""

TREND_TOLERANCE = 0.02
"""A least-squares slope of at most +2 points of attainment per period counts as flat."""

HOPELESS_SHARE = 0.8
"""The morale model's hopeless term: 80% of the target out of reach (docs/model.md §4)."""

RISK_QUANTILE = 0.9
"""``attrition-risk``: the hazard must be in the team's top decile..."""

RISK_RATIO = 1.5
"""...and at least this multiple of the hazard of a rep at normal morale."""

HIGH_RISK_RATIO = 3.0
"""``attrition-risk`` is ``high`` severity from this multiple on (``medium`` below)."""


# --------------------------------------------------------------------------- public API

def alerts(
    checked: CheckedPlan,
    roster: Any,
    actuals: Any,
    *,
    scenario: Scenario | None = None,
    falling_periods: int = 3,
    gave_up_below: float | None = None,
    grade_streak: int = 2,
) -> pd.DataFrame:
    """Early warnings for every rep active in the latest period of the actuals.

    **falling-attainment**: per-period primary attainment strictly fell (``<``) in each of
    the last ``falling_periods`` periods (so ``falling_periods + 1`` consecutive periods of
    data, calendar-adjacent, the rep active in each). Severity ``high`` when the latest
    attainment is below the threshold (below), ``medium`` below 100%, else ``low``.

    **gave-up**: with between one period and :data:`GAVE_UP_TIME_LEFT` of the plan year left
    after the latest period, (a) year-to-date attainment is below the threshold, (b) even at
    the pace of their best period of the year so far for every remaining period, the year
    ends below it::

        projected = (YTD actual + best attainment x periods left x full-period target)
                    / (YTD target + periods left x full-period target)  <  threshold

    and (c) the least-squares slope of per-period attainment over the last
    :data:`TREND_PERIODS` periods of the year is at most :data:`TREND_TOLERANCE`. The
    threshold is ``gave_up_below`` when given, else that of the plan's main component (the
    first component whose input is the primary attainment): a curve's first point x or a
    step's first ``at``, else :data:`DEFAULT_THRESHOLD`. Severity ``high``.

    **attrition-risk**: the morale model of ``docs/model.md`` §4 replayed month by month
    over each rep's own history, with the scenario's parameters (``mp``: ``morale``, ``ap``:
    ``attrition``; the default scenario when ``scenario`` is None). Morale starts at the mean
    of ``reps.initial_morale`` (``m0``; a rep who joins later starts there too). At each plan
    period close (§4, second update)::

        m <- m + pay_gap x clip((pay - TI) / TI, -1, 1) - unfair x |pct(pay) - pct(att)|
               + wins x awards

    where ``pay`` is the statement total of the period, ``TI`` the period's (prorated)
    ``target_incentive`` (the simulator compares with the pay the rep projected, which
    history does not record, so the target pay stands in), ``pct`` the percentile among the
    reps active in the period (pay, and year-to-date primary attainment) and ``awards`` the
    number of ``rank`` components that paid the rep. Then every month (§4, first update),
    with ``phi`` the share of the plan year elapsed::

        g = max(0, o - (base + ti x (phi x paid/TI so far + 1 - phi)) / (base + ti))
        m <- clip(m - outside_gap x g - hopeless x H + recovery x (m0 - m), 0, 1)

    ``o`` is the median of ``reps.outside_offer``; ``ti`` the rep's annual target incentive
    (full-period ``target_incentive`` x periods per year); ``base`` the roster's
    ``base_salary`` column where it holds a number, else ``ti x (1 - pay_mix) / pay_mix``
    from the scenario; "paid/TI so far" is year to date (1 before the first close). ``H``
    is 1 when even the pace of the rep's best period of the year so far, kept for the rest
    of the year, leaves them under :data:`HOPELESS_SHARE` of their year's target (the
    projection above), using the periods closed so far; 0 in the year's last month. In a
    plan with periods longer than a month, the close update comes in the period's last
    month and the monthly update runs once per month. Finally (§5), the monthly hazard in
    the rep's latest month and the 12-month quit probability if it stays there (the ``risk``
    column)::

        h = (1 - (1 - annual_base_rate)^(1/12)) x exp(morale_sensitivity x (1 - m)
                                                      + outside_sensitivity x g)
        risk = 1 - (1 - h)^12

    A rep is flagged when ``h`` is at least the team's :data:`RISK_QUANTILE` quantile and
    at least :data:`RISK_RATIO` times ``h_ref``, the hazard of a rep at normal morale
    (``m = m0``, ``g = 0``) -- a literal "1.5x the base rate" would flag almost everyone,
    since morale at its mean already gives 1.55x. Severity ``high`` from
    :data:`HIGH_RISK_RATIO` x ``h_ref``, else ``medium``.

    **promotion-candidate** / **improvement-plan** (plans with ``grades``): grade ``A`` in
    each of the last ``grade_streak`` consecutive periods, or ``C``/``D`` in each of them
    (the domain gives C and D an improvement plan, not automatic dismissal). Severities
    ``info``, and ``medium`` (``high`` when every grade of the streak is D).

    Without a primary attainment (no actuals column measured against a target), the
    attainment-based alerts are skipped and the hopeless and unfairness terms are 0.

    Args:
        checked: a validated plan (:func:`engine.plan.load_plan`).
        roster: roster table (path to CSV/Excel/Parquet, or a DataFrame).
        actuals: per-period actuals or transactions (path or DataFrame).
        scenario: morale and attrition parameters (default: the built-in scenario).
        falling_periods: consecutive falls that make ``falling-attainment`` (at least 1).
        gave_up_below: threshold for ``gave-up`` (attainment, e.g. 0.5), overriding the
            plan's.
        grade_streak: consecutive A (or C/D) grades that make a promotion candidate
            (improvement plan); at least 1.

    Returns:
        One row per alert with :data:`COLUMNS`: ``rep_id``, ``alert`` (a code of
        :data:`ALERT_CODES`), ``severity`` (:data:`SEVERITIES`), ``period`` (the latest
        period the alert is based on), ``attainment`` and ``ytd_attainment`` (the rep's
        primary attainment in that period and year to date; NaN without one),
        ``risk`` (12-month quit probability; ``attrition-risk`` only, else NaN) and
        ``detail`` (one sentence with the numbers). Sorted by severity, then alert code
        in :data:`ALERT_CODES` order, then the most extreme first, then rep id.

    Raises:
        DataErrors: the roster or actuals do not fit the plan (as :func:`load_for_plan`).
        EvaluationError: a plan value is not finite for some rep and period.
        ValueError: ``falling_periods``, ``grade_streak`` or ``gave_up_below`` is invalid.
    """
    _check_options(falling_periods, gave_up_below, grade_streak)
    inputs = load_for_plan(checked, roster, actuals)
    result = compile_plan(checked).evaluate(inputs)
    if not inputs.periods or not len(inputs.rep_ids):
        return _frame([])
    scenario = scenario if scenario is not None else default_scenario()
    h = _History(checked, inputs, result)
    threshold, source = (gave_up_below, f"the {percent(gave_up_below, 0)} gave-up level") \
        if gave_up_below is not None else (h.threshold, h.threshold_source)
    rows: list[dict] = []
    if h.primary is not None:
        rows += _falling(h, falling_periods, threshold)
        rows += _gave_up(h, threshold, source)
    rows += _attrition(h, scenario, roster)
    if result.grades is not None:
        rows += _grade_streaks(h, np.asarray(result.grades, dtype=object), grade_streak)
    return _frame(rows)


def write_alerts(df: pd.DataFrame, path: str | os.PathLike[str], *, fmt: str | None = None) -> None:
    """Write an alerts table atomically: CSV (default), ``.xlsx`` or ``.parquet`` by suffix.

    In CSV, ``attainment``, ``ytd_attainment`` and ``risk`` are written as ratios rounded
    to 4 decimals (``0.8125``), empty where not applicable.
    """
    from engine.core.atomic import write_table_atomic

    def rounded(table: pd.DataFrame) -> pd.DataFrame:
        out = table.copy()
        for c in ("attainment", "ytd_attainment", "risk"):
            out[c] = out[c].astype(np.float64).round(4)
        return out

    write_table_atomic(df, path, fmt=fmt, prepare_csv=rounded)


# --------------------------------------------------------------------------- the history

@dataclass(frozen=True)
class _Primary:
    actual: str
    target: str


class _History:
    """Per-rep, per-period arrays the rules read, all ``(R, P)`` unless noted."""

    def __init__(self, checked: CheckedPlan, inputs: Inputs, result: PayoutArrays):
        plan = checked.plan
        self.checked, self.inputs, self.result = checked, inputs, result
        R, P = inputs.shape
        self.R, self.P, self.L = R, P, P - 1
        self.rep_ids = np.asarray(inputs.rep_ids, dtype=object)
        self.labels = inputs.period_labels
        self.unit = plan.period
        self.k = MONTHS_PER_PERIOD[plan.period]  # months per period
        self.per_year = 12 // self.k
        self.number = np.array([p.number for p in inputs.periods], dtype=np.int64)
        fiscal = inputs.fiscal_years
        self.year_start = np.ones(P, dtype=bool)
        self.year_start[1:] = fiscal[1:] != fiscal[:-1]
        self.fiscal = fiscal
        self.follows = inputs.follows_previous
        self.active = np.asarray(inputs.active, dtype=bool)
        self.current = self.active[:, self.L]
        proration = np.asarray(inputs.proration, dtype=np.float64)
        acc = plan.accumulate == "year"

        def per_period(x: np.ndarray) -> np.ndarray:
            x = np.broadcast_to(np.asarray(x, dtype=np.float64), (R, P))
            return np.where(self.active, self._decumulate(x) if acc else x, 0.0)

        self.ti = per_period(result.values["target_incentive"])
        self.pay = np.where(self.active, np.asarray(result.total, dtype=np.float64), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.full_ti = np.where(proration > 0, self.ti / proration, np.nan)

        self.primary, main = _find_primary(checked)
        self.threshold, self.threshold_source = _threshold(checked, main)
        nan = np.full((R, P), np.nan)
        self.att, self.ytd_att, self.best = nan, nan, nan
        if self.primary is None:
            return
        act = np.asarray(inputs.actuals[self.primary.actual], dtype=np.float64)
        act = np.where(self.active, act, 0.0)
        tgt = per_period(result.values[f"targets.{self.primary.target}"])
        self.act, self.tgt = act, tgt
        self.ytd_act, self.ytd_tgt = self._ytd(act), self._ytd(tgt)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.att = np.where(self.active & (tgt > 0), act / tgt, np.nan)
            self.ytd_att = np.where(self.active & (self.ytd_tgt > 0),
                                    self.ytd_act / self.ytd_tgt, np.nan)
            self.full_tgt = np.where(proration > 0, tgt / proration, np.nan)
        # Best per-period attainment of the plan year so far.
        best = np.full((R, P), np.nan)
        run = np.full(R, np.nan)
        for p in range(P):
            if self.year_start[p]:
                run = np.full(R, np.nan)
            run = np.fmax(run, self.att[:, p])
            best[:, p] = run
        self.best = best

    # helpers over periods, restarting at each plan year
    def _year_slices(self) -> list[tuple[int, int]]:
        starts = list(np.nonzero(self.year_start)[0]) + [self.P]
        return [(int(a), int(b)) for a, b in itertools.pairwise(starts)]

    def _ytd(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for lo, hi in self._year_slices():
            out[:, lo:hi] = np.cumsum(x[:, lo:hi], axis=1)
        return out

    def _decumulate(self, ytd: np.ndarray) -> np.ndarray:
        out = ytd.copy()
        out[:, 1:] -= ytd[:, :-1]
        out[:, self.year_start] = ytd[:, self.year_start]
        return out

    def projection(self, q: int) -> np.ndarray:
        """``(R,)`` year-end attainment if the best pace of the year so far (through period
        ``q``) holds for every period left in the year; NaN where unknown."""
        left = self.per_year - int(self.number[q])
        rest = left * np.nan_to_num(self.full_tgt[:, q], nan=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            best = np.nan_to_num(self.best[:, q], nan=0.0)
            den = self.ytd_tgt[:, q] + rest
            proj = (self.ytd_act[:, q] + best * rest) / den
            return np.where(self.active[:, q] & (den > 0), proj, np.nan)

    def row(self, i: int | np.integer, alert: str, severity: str, detail: str, key: float,
            risk: float = math.nan) -> dict:
        return {"rep_id": str(self.rep_ids[i]), "alert": alert, "severity": severity,
                "period": self.labels[self.L], "attainment": float(self.att[i, self.L]),
                "ytd_attainment": float(self.ytd_att[i, self.L]), "risk": float(risk),
                "detail": detail, "_key": float(key)}

    def plural(self, n: int) -> str:
        return self.unit if n == 1 else PERIOD_PLURAL[self.unit]


# --------------------------------------------------------------------------- the plan

def _find_primary(checked: CheckedPlan):
    """``(primary pair, main component)``: the linked pair read by the first component that
    reads one, and the first component whose input is exactly that attainment."""
    linked, _ = reference_profile(checked)
    if not linked:
        return None, None
    deps = Dependencies(checked)

    def inputs_of(c) -> list[ex.Expr]:
        return [code.tree for code in kind_of(c.kind).inputs(c)]

    primary = None
    for c in checked.plan.components:
        for tree in inputs_of(c):
            a, t = deps.of(tree)
            hit = next((col for col in sorted(a) if col in linked and linked[col] in t), None)
            if hit is not None:
                primary = _Primary(hit, linked[hit])
                break
        if primary is not None:
            break
    if primary is None:
        col = next(iter(linked))
        primary = _Primary(col, linked[col])
    main = None
    for c in checked.plan.components:
        if kind_of(c.kind).levels and c.input is not None and \
                deps.of(c.input.tree) == ({primary.actual}, {primary.target}):
            main = c
            break
    return primary, main


def _threshold(checked: CheckedPlan, main) -> tuple[float, str]:
    """The main component's threshold on primary attainment and how to describe it."""
    params = checked.plan.parameter_values
    x = None
    levels = kind_of(main.kind).breakpoints(main) if main is not None else []
    if levels:
        x = const_value(levels[0].tree, params, checked.refs)
    if x is not None and math.isfinite(x) and x > 0:
        return float(x), f"the {percent(x, 0)} threshold of '{main.name}'"
    return DEFAULT_THRESHOLD, f"the default {percent(DEFAULT_THRESHOLD, 0)} threshold"


# --------------------------------------------------------------------------- the rules

def _streak(cond: np.ndarray, follows: np.ndarray) -> np.ndarray:
    """``(R, P)`` length of the run of consecutive True ending at each period (a calendar
    gap between periods breaks it)."""
    out = np.zeros(cond.shape, dtype=np.int64)
    if cond.shape[1] == 0:
        return out
    out[:, 0] = cond[:, 0]
    for p in range(1, cond.shape[1]):
        prev = out[:, p - 1] if follows[p] else 0
        out[:, p] = np.where(cond[:, p], prev + 1, 0)
    return out


def _falling(h: _History, n: int, threshold: float) -> list[dict]:
    att = h.att
    fall = np.zeros(att.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        fall[:, 1:] = (att[:, 1:] < att[:, :-1]) & h.follows[None, 1:]
    streak = _streak(fall, h.follows)[:, h.L]
    rows = []
    for i in np.nonzero(h.current & (streak >= n))[0]:
        s = int(streak[i])
        first = h.L - s
        shown = range(max(first, h.L - 6), h.L + 1)
        seq = " -> ".join(f"{percent(att[i, p], 1)} ({h.labels[p]})" for p in shown)
        last = att[i, h.L]
        severity = "high" if last < threshold else "medium" if last < 1.0 else "low"
        lead = f"fell {s} {h.plural(s)} in a row" if s > 1 else f"fell in the latest {h.unit}"
        more = "... -> " if shown.start > first else ""
        rows.append(h.row(i, "falling-attainment", severity, f"attainment {lead}: {more}{seq}.",
                          key=last))
    return rows


def _trend(h: _History) -> tuple[np.ndarray, list[int]]:
    """Least-squares slope of attainment over the last periods of the current plan year."""
    lo = int(np.nonzero(h.year_start[: h.L + 1])[0][-1])
    idx = list(range(max(lo, h.L - TREND_PERIODS + 1), h.L + 1))
    if len(idx) < 2:
        return np.full(h.R, np.nan), idx
    y = h.att[:, idx]
    x = np.arange(len(idx), dtype=np.float64)
    x -= x.mean()
    return (y @ x) / (x @ x), idx  # NaN where any of them is missing


def _gave_up(h: _History, threshold: float, source: str) -> list[dict]:
    left = h.per_year - int(h.number[h.L])
    if not 1 <= left <= h.per_year * GAVE_UP_TIME_LEFT + 1e-9:
        return []
    proj = h.projection(h.L)
    slope, idx = _trend(h)
    ytd = h.ytd_att[:, h.L]
    with np.errstate(invalid="ignore"):
        hit = h.current & (ytd < threshold) & (proj < threshold) & (slope <= TREND_TOLERANCE)
    rows = []
    for i in np.nonzero(hit)[0]:
        seq = " -> ".join(percent(h.att[i, p], 1) for p in idx)
        rows.append(h.row(
            i, "gave-up", "high",
            f"year-to-date attainment {percent(ytd[i], 0)} with {left} of {h.per_year} "
            f"{h.plural(h.per_year)} left; even at the pace of their best {h.unit} this year "
            f"({percent(h.best[i, h.L], 0)}) they would end the year at {percent(proj[i], 0)}, below {source}, "
            f"and their attainment is flat or falling "
            f"(last {len(idx)} {h.plural(len(idx))}: {seq}).",
            key=ytd[i]))
    return rows


def _median(d: Dist) -> float:
    """Median of a scenario distribution (truncation bounds clip it as they clip draws)."""
    p = dict(d.params)
    if d.kind == "constant":
        return float(p["value"])
    if d.kind == "lognormal":
        m = float(p["median"])
    elif d.kind == "normal":
        m = float(p["mean"])
    elif d.kind == "uniform":
        return (float(p["low"]) + float(p["high"])) / 2
    elif d.kind == "beta":
        from scipy import stats

        lo, hi = p.get("low", 0.0), p.get("high", 1.0)
        return float(lo + (hi - lo) * stats.beta.median(p["a"], p["b"]))
    else:
        return float(np.median(np.asarray(p["values"], dtype=float)))
    lo, hi = p.get("low"), p.get("high")
    return float(np.clip(m, -np.inf if lo is None else lo, np.inf if hi is None else hi))


def _percentile(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of masked reps strictly below each one, as the simulator ranks (0 for the lowest)."""
    big = np.where(mask, x, np.inf)
    order = np.argsort(big, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(len(x))
    return np.where(mask, ranks / max(int(mask.sum()) - 1, 1), 0.0)


def _base_salary(h: _History, roster: Any, ti_year: np.ndarray, pay_mix: float) -> np.ndarray:
    """Annual base salary: the roster's ``base_salary`` where it is a number, else implied by
    the scenario's pay mix."""
    from engine.data.load import read_table

    implied = ti_year * (1.0 - pay_mix) / pay_mix
    col = h.inputs.roster.get("base_salary")
    if col is None:
        table = read_table(roster, "roster")
        if "base_salary" not in table.columns or "rep_id" not in table.columns:
            return implied
        by_rep = pd.Series(pd.to_numeric(table["base_salary"], errors="coerce").to_numpy(),
                           index=table["rep_id"].astype(str))
        by_rep = by_rep[~by_rep.index.duplicated()]
        col = by_rep.reindex([str(r) for r in h.rep_ids]).to_numpy(dtype=np.float64)
    numbers = (pd.to_numeric(pd.Series(np.asarray(col, dtype=object)), errors="coerce")
               .to_numpy(dtype=np.float64))
    return np.where(np.isfinite(numbers) & (numbers >= 0), numbers, implied)


def _attrition(h: _History, scenario: Scenario, roster: Any) -> list[dict]:
    mp, ap = dict(scenario.morale), dict(scenario.attrition)
    m0 = float(scenario.initial_morale.mean())
    offer = _median(scenario.outside_offer)
    base_h = 1.0 - (1.0 - ap["annual_base_rate"]) ** (1.0 / 12.0)
    R, k = h.R, h.k
    # Annual TI and OTE from the rep's latest active period.
    last = h.P - 1 - np.argmax(h.active[:, ::-1], axis=1)
    ti_year = np.nan_to_num(h.full_ti[np.arange(R), last], nan=0.0) * h.per_year
    base = _base_salary(h, roster, ti_year, scenario.pay_mix)
    ote = base + ti_year
    rank_components = [c.name for c in h.checked.plan.components if kind_of(c.kind).contest]
    has_primary = h.primary is not None
    hopeless_at = [np.zeros(R, dtype=bool)] * h.P
    if has_primary:
        with np.errstate(invalid="ignore"):
            hopeless_at = [h.projection(q) < HOPELESS_SHARE for q in range(h.P)]

    morale = np.full(R, m0)
    ytd_pay, ytd_ti = np.zeros(R), np.zeros(R)
    g = np.zeros(R)
    hopeless = np.zeros(R)
    hopeless_months = np.zeros(R)
    for p in range(h.L + 1):
        act = h.active[:, p]
        if h.year_start[p]:
            ytd_pay, ytd_ti, hopeless_months = np.zeros(R), np.zeros(R), np.zeros(R)
        for j in range(1, k + 1):
            month = (int(h.number[p]) - 1) * k + j  # month of the plan year, 1-12
            if j == k:  # the period closes: pay against target pay, fairness, awards
                ti_p, pay_p = h.ti[:, p], h.pay[:, p]
                with np.errstate(divide="ignore", invalid="ignore"):
                    gap = np.where(ti_p > 0, np.clip((pay_p - ti_p) / ti_p, -1.0, 1.0), 0.0)
                unfair = np.zeros(R)
                if has_primary:
                    perf_mask = act & np.isfinite(h.ytd_att[:, p])
                    unfair = np.abs(_percentile(pay_p, perf_mask)
                                    - _percentile(np.nan_to_num(h.ytd_att[:, p]), perf_mask))
                awards = np.zeros(R)
                for c in rank_components:
                    awards += np.asarray(h.result.earned[c])[:, p] > 0
                morale = np.where(act, morale_after_pay(morale, mp, gap, unfair, awards), morale)
                ytd_pay = ytd_pay + np.where(act, pay_p, 0.0)
                ytd_ti = ytd_ti + np.where(act, ti_p, 0.0)
            # Every month: outside offer against expected pay, hopeless target, recovery.
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(ytd_ti > 0, ytd_pay / ytd_ti, 1.0)
                phi = month / 12.0
                comp = np.where(ote > 0, (base + ti_year * (phi * ratio + 1.0 - phi)) / ote, 1.0)
            g = np.maximum(offer - comp, 0.0)
            q = p if j == k else p - 1  # the latest closed period of this plan year
            if month < 12 and q >= 0 and not (h.year_start[p] and q < p):
                hopeless = hopeless_at[q].astype(float)
            else:
                hopeless = np.zeros(R)
            hopeless_months = hopeless_months + np.where(act, hopeless, 0.0)
            morale = np.where(act, morale_after_month(morale, mp, g, hopeless, m0), np.clip(morale, 0.0, 1.0))

    hazard = quit_hazard(base_h, ap, morale, g)
    risk = 1.0 - (1.0 - np.minimum(hazard, 1.0)) ** 12
    h_ref = float(quit_hazard(base_h, ap, np.float64(m0), 0.0))
    risk_ref = 1.0 - (1.0 - min(h_ref, 1.0)) ** 12
    cur = h.current
    if not cur.any():
        return []
    cut = max(float(np.quantile(hazard[cur], RISK_QUANTILE)), RISK_RATIO * h_ref)
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_now = np.where(ytd_ti > 0, ytd_pay / ytd_ti, np.nan)
    for i in np.nonzero(cur & (hazard >= cut - 1e-15))[0]:
        mult = hazard[i] / h_ref
        why = []
        if np.isfinite(ratio_now[i]) and ratio_now[i] < 1.0:
            why.append(f"paid {percent(ratio_now[i], 0)} of target incentive this year")
        if hopeless_months[i] > 0:
            n = int(hopeless_months[i])
            why.append(f"{percent(HOPELESS_SHARE, 0)} of the year's target out of reach at their best "
                       f"pace for {n} month{_s(n)}")
        if g[i] > 0:
            why.append(f"the model puts the outside market (the scenario's median outside offer, not an offer "
                       f"anyone made) about {percent(g[i], 0)} of OTE above this rep's expected pay")
        drivers = ("; " + _join(why)) if why else ""
        rows.append(h.row(
            i, "attrition-risk", "high" if mult >= HIGH_RISK_RATIO else "medium",
            f"the model estimates a 12-month quit probability of {percent(risk[i], 0)} (a rep at normal morale: "
            f"{percent(risk_ref, 0)}; hazard {mult:.1f}x) from an estimated morale of {morale[i]:.2f} "
            f"(normal {m0:.2f}){drivers}.",
            key=-hazard[i], risk=risk[i]))
    return rows


def _grade_streaks(h: _History, grades: np.ndarray, n: int) -> list[dict]:
    rows = []
    is_a = (grades == "A") & h.active
    is_cd = ((grades == "C") | (grades == "D")) & h.active
    for cond, alert in ((is_a, "promotion-candidate"), (is_cd, "improvement-plan")):
        streak = _streak(cond, h.follows)[:, h.L]
        for i in np.nonzero(h.current & (streak >= n))[0]:
            s = int(streak[i])
            span = range(h.L - s + 1, h.L + 1)
            seq = ", ".join(f"{grades[i, p]} in {h.labels[p]}" for p in span)
            if alert == "promotion-candidate":
                detail = (f"graded A for {s} consecutive {h.plural(s)} ({seq}): "
                          f"a promotion candidate.")
                severity, key = "info", -np.nan_to_num(h.att[i, h.L])
            else:
                detail = (f"graded C or D for {s} consecutive {h.plural(s)} ({seq}): due an "
                          f"improvement plan (C and D grades lead to an improvement plan, not "
                          f"automatic dismissal).")
                all_d = all(grades[i, p] == "D" for p in span)
                severity, key = ("high" if all_d else "medium"), np.nan_to_num(h.att[i, h.L])
            rows.append(h.row(i, alert, severity, detail, key=key))
    return rows


# --------------------------------------------------------------------------- helpers

def _check_options(falling_periods: int, gave_up_below: float | None, grade_streak: int) -> None:
    for name, v in (("falling_periods", falling_periods), ("grade_streak", grade_streak)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"'{name}' must be a whole number of at least 1 (got {v!r})")
    if gave_up_below is not None and (
            isinstance(gave_up_below, bool)
            or not isinstance(gave_up_below, (int, float, np.number))
            or not math.isfinite(gave_up_below) or gave_up_below <= 0):
        raise ValueError(f"'gave_up_below' must be a positive attainment such as 0.5 "
                         f"(got {gave_up_below!r})")


def _frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        text = ("rep_id", "alert", "severity", "period", "detail")
        return pd.DataFrame({c: pd.Series(dtype=object if c in text else np.float64)
                             for c in COLUMNS})
    df = pd.DataFrame(rows)
    df["_sev"] = df["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    df["_code"] = df["alert"].map({c: i for i, c in enumerate(ALERT_CODES)})
    df = df.sort_values(["_sev", "_code", "_key", "rep_id"], kind="stable", na_position="last")
    return df[list(COLUMNS)].reset_index(drop=True)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _s(n: int) -> str:
    return "" if n == 1 else "s"
