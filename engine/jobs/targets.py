"""New targets from a recalibration: each rep's annual target in proportion to expected
output, summing to the company target (:func:`decompose_targets`), written as an
effective-dated roster the plan reads as it is (:func:`target_roster`, :func:`write_targets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.core.errors import PlanError, PlanErrors
from engine.plan import expr as ex

if TYPE_CHECKING:
    from engine.jobs.candidates import Evaluator, RepArrays
    from engine.jobs.recalibration import Recalibration

__all__ = ["add_targets", "decompose_targets", "target_roster", "write_targets"]


def decompose_targets(expected: np.ndarray, relative: np.ndarray, company_target: float, share_goal: float
                      ) -> tuple[np.ndarray, float, float, float]:
    """Annual targets proportional to expected output, summing to the company target.

    Args:
        expected: ``(reps,)`` expected annual output of each rep.
        relative: pooled samples of output / expected output (the spread around expectation).
        company_target: what the targets must add up to.
        share_goal: the share of reps that should reach target.

    Returns:
        ``(targets, stretch, expected share reaching target, company target matching the goal)``:
        every rep's target is ``stretch`` x their expected output, so every rep reaches it
        with the same probability, ``P(relative >= stretch)``.
    """
    total = float(expected.sum())
    if total <= 0:
        raise PlanErrors([PlanError("bad-targets", "the reps' expected output is zero: cannot share out a target")])
    stretch = company_target / total
    share = float((relative >= stretch).mean()) if relative.size else float("nan")
    goal_target = float(np.quantile(relative, 1.0 - share_goal)) * total if relative.size else float("nan")
    return expected * stretch, stretch, share, goal_target


def _largest_remainder(amounts: np.ndarray, total_units: int) -> np.ndarray:
    """Integer units proportional to ``amounts`` summing exactly to ``total_units``."""
    amounts = np.maximum(np.asarray(amounts, dtype=float), 0.0)
    s = amounts.sum()
    exact = amounts / s * total_units if s > 0 else np.full(amounts.shape, total_units / max(amounts.size, 1))
    base = np.floor(exact).astype(np.int64)
    rest = int(total_units - base.sum())
    if rest > 0:
        order = np.argsort(-(exact - base), kind="stable")[:rest]
        base[order] += 1
    return base


def add_targets(rec: Recalibration, ev: Evaluator, company_target: float | None,
                 potential_column: str | None, share_goal: float) -> None:
    from engine.core.periods import period_for_date

    sim = ev.sim
    roster = sim.roster
    seats = sim.seats
    plan = rec.checked.plan
    base, new = rec.baseline.reps, rec.result.reps
    # The search keeps the baseline's and the winner's per-rep arrays (keep_reps).
    assert base is not None and new is not None, "the recalibration has no per-rep results"
    quota = np.asarray(roster.quota, dtype=float)
    # Seat means of attainment, shrunk toward the team mean (empirical Bayes).
    def seat_means(r: RepArrays) -> tuple[np.ndarray, np.ndarray]:
        att = np.where(r.rep_mask[:, :seats], r.attainment[:, :seats], np.nan)
        n = np.maximum(np.isfinite(att).sum(axis=0), 1)
        mean = np.nanmean(att, axis=0)
        var = np.nanvar(att, axis=0, ddof=1) if att.shape[0] > 1 else np.zeros(seats)
        within = float(np.nanmean(var / n))
        between = max(float(np.nanvar(mean)) - within, 0.0)
        w = between / (between + var / n) if between > 0 else np.zeros(seats)
        w = np.nan_to_num(w)
        shrunk = w * mean + (1 - w) * float(np.nanmean(mean))
        return shrunk, att
    a_base, _ = seat_means(base)
    a_new, att_new = seat_means(new)
    if potential_column:
        if potential_column not in roster.columns:
            raise PlanErrors([PlanError("unknown-column", f"the roster has no column '{potential_column}'", None,
                                        "roster columns: " + ", ".join(roster.columns))])
        potential = np.asarray(roster.columns[potential_column], dtype=float)
        source = f"roster column '{potential_column}'"
    else:
        potential = quota * a_base
        source = "simulated output of the rep's seat under the current plan (quota x mean attainment)"
    expected = potential * np.where(a_base > 0, a_new / np.where(a_base > 0, a_base, 1.0), 1.0)
    relative = (att_new / np.where(a_new > 0, a_new, np.nan)[None, :]).ravel()
    relative = relative[np.isfinite(relative)]
    unit = 10 ** plan.minor_unit
    company = float(quota.sum()) if company_target is None else float(company_target)
    if company <= 0:
        raise PlanErrors([PlanError("bad-option", f"--company-target must be positive (got {company:g})")])
    annual, stretch, share, goal_target = decompose_targets(expected, relative, company, share_goal)
    annual_units = _largest_remainder(annual, round(company * unit))
    # Monthly split by the scenario's seasonality over the plan year, quarters from months.
    fys = plan.fiscal_year_start
    year = sim.start.year
    months = [(year + (fys - 1 + i) // 12, (fys - 1 + i) % 12 + 1) for i in range(12)]
    season = np.array([ev.scenario.seasonality[m - 1] for _, m in months])
    import datetime as dt

    labels_m = [period_for_date(dt.date(y, m, 1), "month", fys).label for y, m in months]
    labels_q = [period_for_date(dt.date(y, m, 1), "quarter", fys).label for y, m in months]
    label_y = period_for_date(dt.date(*months[0], 1), "year", fys).label
    rows = []
    for i, rep in enumerate(roster.rep_ids):
        mu = _largest_remainder(season, int(annual_units[i]))
        rows.append((str(rep), label_y, annual_units[i]))
        for q in dict.fromkeys(labels_q):
            rows.append((str(rep), q, int(sum(u for u, lq in zip(mu, labels_q) if lq == q))))
        for lm, u in zip(labels_m, mu):
            rows.append((str(rep), lm, int(u)))
    tdf = pd.DataFrame(rows, columns=["rep_id", "period", "target"])
    tdf["target"] = tdf["target"] / unit if unit > 1 else tdf["target"].astype(np.int64)
    rec.targets = tdf
    rec.target_summary = pd.DataFrame({
        "rep_id": [str(r) for r in roster.rep_ids], "quota": quota, "potential": potential,
        "expected_output": expected, "annual_target": annual_units / unit,
        "target_vs_quota": annual_units / unit / np.where(quota > 0, quota, np.nan),
    })
    rec.target_info = {"company_target": company, "potential": source, "stretch": stretch,
                       "expected_share_reaching": share, "share_goal": share_goal,
                       "company_target_for_goal": goal_target, "year": label_y,
                       "seasonality": [float(s) for s in season]}
    if share < share_goal - 0.1:
        rec.notes.append(f"the company target is a stretch beyond the goal: about {share:.0%} of reps are expected "
                         f"to reach their target (goal {share_goal:.0%}); a company target of {goal_target:,.0f} "
                         "would match the goal")
    elif share > share_goal + 0.1:
        rec.notes.append(f"the company target is easy: about {share:.0%} of reps are expected to reach their "
                         f"target (goal {share_goal:.0%}); a company target of {goal_target:,.0f} would match it")


def target_roster(rec: Recalibration, ev: Evaluator, closed: Sequence[str] = ()) -> pd.DataFrame | None:
    """The new targets as an effective-dated roster the plan reads as it is.

    Every column of the input roster (the scenario's roster file, or the simulated team's),
    one row per rep and plan period, ``effective_from``/``effective_to`` the period's days
    within the rep's employment (``start_date``/``end_date``; no row outside it). The roster
    column the plan's primary target reads holds, in each row, the value that makes the
    plan's own target expression give that period's new target (solved on the expression, so
    ``roster.quota / 4`` gets four times the quarter's target); in ``closed`` periods (those
    with actuals) it keeps its value: targets already measured are not moved.
    """
    import datetime as dt

    from engine.core.periods import period_for_date

    if rec.targets is None:
        return None
    sim = ev.sim
    checked = rec.checked
    plan = checked.plan
    scenario = sim.scenario
    if scenario.roster is not None:
        from engine.data.load import read_table

        table = read_table(scenario.roster, "roster").reset_index(drop=True)
    else:
        table = pd.DataFrame({"rep_id": [str(r) for r in sim.roster.rep_ids],
                              **{k: np.asarray(v) for k, v in sim.roster.columns.items()}})
    column = _target_column(checked, scenario)
    if column is None or column not in table.columns:
        return None
    slope, intercept = _target_line(checked, table, column)
    fys = plan.fiscal_year_start
    year = sim.start.year
    first = period_for_date(dt.date(year, fys, 1), plan.period, fys)
    periods = [first]
    while len(periods) < {"month": 12, "quarter": 4, "half": 2, "year": 1}[plan.period]:
        periods.append(period_for_date(periods[-1].end + dt.timedelta(days=1), plan.period, fys))
    long = rec.targets
    rows = []
    start = pd.to_datetime(table["start_date"], errors="coerce") if "start_date" in table.columns else None
    end = pd.to_datetime(table["end_date"], errors="coerce") if "end_date" in table.columns else None
    for i in range(len(table)):
        rep = str(table["rep_id"].iloc[i])
        mine = long[long["rep_id"] == rep].set_index("period")["target"]
        for p in periods:
            lo, hi = p.start, p.end
            if start is not None and pd.notna(start.iloc[i]):
                lo = max(lo, start.iloc[i].date())
            if end is not None and pd.notna(end.iloc[i]):
                hi = min(hi, end.iloc[i].date())
            if hi < lo:
                continue  # no row outside the rep's employment
            row = table.iloc[i].to_dict()
            if p.label not in closed and p.label in mine.index:
                row[column] = (float(mine[p.label]) - intercept[i]) / slope[i] if slope[i] else row[column]
            row["effective_from"] = lo.isoformat()
            row["effective_to"] = hi.isoformat()
            row["target_period"] = p.label
            rows.append(row)
    out = pd.DataFrame(rows)
    return out[[c for c in out.columns if c != "target_period"] + ["target_period"]]


def _target_column(checked, scenario) -> str | None:
    """The roster column the plan's primary target reads: the scenario's primary target, or a
    plan column mapped onto it; else the one roster column of the plan's only target."""
    reads = {t.name: {n.name for n in ex.walk(t.code.tree) if isinstance(n, ex.Name) and n.prefix == "roster"}
             for t in checked.plan.targets}
    names = set().union(*reads.values()) if reads else set()
    if scenario.primary_target in names:
        return scenario.primary_target
    for name, source, _ in scenario.derived_columns:
        if source == scenario.primary_target and name in names:
            return name
    if len(names) == 1:
        return next(iter(names))
    return None


def _target_line(checked, table: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per rep, ``(slope, intercept)`` of the plan's primary target as a function of
    ``column`` (the target expression evaluated at two values of it, other columns as the
    rep has them)."""
    from engine.plan.reference_rep import value_line

    target = next(t for t in checked.plan.targets
                  if any(isinstance(n, ex.Name) and n.prefix == "roster" and n.name == column
                         for n in ex.walk(t.code.tree)))
    n = len(table)
    cols = {}
    for c in checked.roster_columns:
        if c in table.columns:
            num = pd.to_numeric(table[c], errors="coerce")
            cols[c] = num.to_numpy(dtype=float) if num.notna().all() else table[c].astype(str).to_numpy(dtype=object)
        else:
            cols[c] = np.zeros(n)
    return value_line(checked, cols, column, f"targets.{target.name}")


def write_targets(rec: Recalibration, path: str | Path, group=None) -> None:
    """Write the new targets atomically (CSV, .xlsx, .parquet): as an effective-dated roster
    the plan reads as it is (:func:`target_roster`), or, where the plan's target column
    cannot be told, as ``rep_id, period, target``.

    With ``group`` (an :class:`engine.core.atomic.AtomicGroup`), the file is committed with the
    group's other outputs, all or nothing.
    """
    from engine.core.atomic import write_table_atomic

    if rec.targets is None:
        raise PlanErrors([PlanError("no-targets", "no targets were computed (use --targets)")])
    table = rec.target_roster if rec.target_roster is not None else rec.targets
    write_table_atomic(table, path, group=group)
