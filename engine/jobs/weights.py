"""The team sets its KPI weights: votes to weights within bounds, checked by simulation.

Each voter gives every metric of a scorecard a non-negative number (points, percentages,
shares); a voter's row is normalised to shares summing to 1. **The rule**:

1. the team's weight of a metric is the mean of the voters' shares (or, with
   ``method="median"``, their per-metric median, which need not sum to 1);
2. each metric's bounds are its current weight ± ``weight_change`` (default 0.1, as in
   ``recalibrate``), clipped to [0, 1];
3. the plan's weights are the closest weights in least squares to the team's that sum to 1
   and stay within the bounds: ``w_i = clip(t_i + λ, lo_i, hi_i)``, with the one ``λ`` that
   makes them sum to 1 (:func:`project_to_bounds`, solved exactly);
4. they are written with 4 decimals (more if the plan writes more), still summing to
   exactly 1 and within the bounds (largest remainder on the last digit; a tie goes to the
   metric listed first) (:func:`round_weights`).

The new plan is the old plan's text with only those weights changed (the rewrite of
``recalibrate``, :mod:`engine.plan.rewrite`). :meth:`VotedWeights.compare` simulates the
current and the voted plan on the same random numbers (:func:`engine.jobs.compare.compare_plans`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.core.errors import DataError, DataErrors, PlanError, PlanErrors
from engine.core.text import did_you_mean, plan_diff
from engine.jobs.compare import Comparison, compare_plans
from engine.plan import expr as ex
from engine.plan.rewrite import NumberSite, decimals_for, number_sites, rewrite_plan, splice
from engine.plan.source import YMap, YScalar, parse_yaml
from engine.plan.validate import CheckedPlan
from engine.sim.scenario import Scenario, default_scenario

__all__ = [
    "DEFAULT_WEIGHT_CHANGE",
    "METHODS",
    "VoteComparison",
    "VotedWeights",
    "project_to_bounds",
    "read_votes",
    "round_weights",
    "scorecard_measures",
    "weights_from_votes",
]

DEFAULT_WEIGHT_CHANGE = 0.10
"""How far a weight may move from its current value (absolute), as in ``recalibrate``."""

METHODS = ("mean", "median")

VOTER = "voter"
TOLERANCE = 1e-12


# --------------------------------------------------------------------------- the rule


def project_to_bounds(target: Sequence[float] | np.ndarray, lo: Sequence[float] | np.ndarray,
                      hi: Sequence[float] | np.ndarray) -> tuple[np.ndarray, float]:
    """The closest point (least squares) to ``target`` that sums to 1 within ``[lo, hi]``.

    The solution is ``w = clip(target + λ, lo, hi)``, ``λ`` being where the sum, a
    non-decreasing piecewise-linear function of ``λ``, crosses 1. Its breakpoints are
    ``lo - target`` and ``hi - target``; between the two breakpoints around the crossing
    the sum is linear, so ``λ`` is found exactly (no iteration). When a stretch of ``λ``
    gives the same ``w`` (every coordinate at a bound), the middle of the stretch is returned.

    Args:
        target: the point to project (any real numbers).
        lo, hi: the bounds, ``lo <= hi``.

    Returns:
        ``(w, λ)``; ``w`` sums to 1 within 1e-12.

    Raises:
        ValueError: the bounds cannot sum to 1 (``sum(lo) > 1`` or ``sum(hi) < 1``), or
            ``lo > hi`` somewhere.
    """
    t = np.asarray(target, dtype=float)
    low = np.asarray(lo, dtype=float)
    high = np.asarray(hi, dtype=float)
    if np.any(low > high):
        raise ValueError("a lower bound is above its upper bound")
    if low.sum() > 1.0 + TOLERANCE or high.sum() < 1.0 - TOLERANCE:
        raise ValueError(f"bounds sum to [{low.sum():g}, {high.sum():g}], which does not include 1")

    def total(lam: float) -> float:
        return float(np.clip(t + lam, low, high).sum())

    breaks = np.unique(np.concatenate([low - t, high - t]))
    sums = np.array([total(b) for b in breaks])
    j = int(np.searchsorted(sums, 1.0, side="left"))  # the first breakpoint where the sum reaches 1
    if j < len(breaks) and abs(sums[j] - 1.0) <= TOLERANCE:
        # The sum is 1 on a whole stretch [breaks[j], breaks[k]] where no coordinate is free: every
        # λ there gives the same w; the middle one says best which way each bound held.
        k = j
        while k + 1 < len(breaks) and abs(sums[k + 1] - 1.0) <= TOLERANCE:
            k += 1
        lam = float((breaks[j] + breaks[k]) / 2)
    elif j >= len(breaks):
        lam = float(breaks[-1])
    else:
        b0, b1, s0, s1 = breaks[j - 1], breaks[j], sums[j - 1], sums[j]
        lam = float(b0 + (1.0 - s0) * (b1 - b0) / (s1 - s0))  # s1 > s0: s0 < 1 <= s1
    w = np.clip(t + lam, low, high)
    # Rounding may leave the last bit off: move it onto a coordinate strictly inside its bounds.
    rest = 1.0 - float(w.sum())
    if rest:
        free = np.flatnonzero((w + rest >= low) & (w + rest <= high) & (w > low) & (w < high))
        if free.size:
            w[free[0]] += rest
    return w, lam


def round_weights(w: Sequence[float] | np.ndarray, lo: Sequence[float] | np.ndarray,
                  hi: Sequence[float] | np.ndarray, decimals: int = 4) -> np.ndarray:
    """Weights written with ``decimals`` decimals that still sum to exactly 1 within the bounds.

    Each weight is counted in units of ``10**-decimals``: first rounded down (but not below
    its lower bound rounded up), then the units still missing go one each to the largest
    remainders (not above an upper bound rounded down); a tie between equal remainders goes
    to the weight listed first. Too many units (a lower bound pushed some up) come off the
    smallest remainders.

    Raises:
        ValueError: the bounds on that grid cannot sum to 1.
    """
    unit = 10 ** decimals
    a = np.asarray(w, dtype=float) * unit
    lo_u = np.ceil(np.asarray(lo, dtype=float) * unit - 1e-6).astype(np.int64)
    hi_u = np.floor(np.asarray(hi, dtype=float) * unit + 1e-6).astype(np.int64)
    if lo_u.sum() > unit or hi_u.sum() < unit or np.any(lo_u > hi_u):
        raise ValueError(f"no weights with {decimals} decimals sum to 1 within these bounds")
    units = np.clip(np.floor(a + 1e-6).astype(np.int64), lo_u, hi_u)
    frac = np.round(a - units, 9)  # equal remainders compare equal (a tie), whatever the last bits
    rest = unit - int(units.sum())
    for i in np.argsort(-frac, kind="stable"):  # largest remainder first; ties in listed order
        if rest <= 0:
            break
        add = min(rest, int(hi_u[i] - units[i]), 1)
        units[i] += add
        rest -= add
    for i in np.argsort(-frac, kind="stable"):  # still short only when every remainder is used
        if rest <= 0:
            break
        add = min(rest, int(hi_u[i] - units[i]))
        units[i] += add
        rest -= add
    for i in np.argsort(frac, kind="stable"):
        if rest >= 0:
            break
        take = min(-rest, int(units[i] - lo_u[i]))
        units[i] -= take
        rest += take
    return units / unit


# --------------------------------------------------------------------------- the votes


def _cell_number(cell: object) -> float | None:
    """A vote cell as a number: ints and floats as they are, text as a number, ``40%`` as 0.4.

    Returns None for anything else (booleans, dates, words).
    """
    if isinstance(cell, bool | np.bool_):
        return None
    if isinstance(cell, numbers.Real):
        return float(cell)
    if isinstance(cell, str):
        text = cell.strip().replace("_", "")
        scale = 1.0
        if text.endswith("%"):
            text, scale = text[:-1].strip(), 0.01
        try:
            return float(text) * scale
        except ValueError:
            return None
    return None


def _is_blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, float) and math.isnan(cell)) or (isinstance(cell, str)
                                                                               and not cell.strip())


def _voter_name(cell: object) -> str | None:
    if _is_blank(cell):
        return None
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _containing(word: str, names: Sequence[str]) -> str | None:
    """``did you mean 'revenue_attainment'?`` for ``revenue``: the one name that contains the word."""
    found = [n for n in names if word.lower() in n.lower() or n.lower() in word.lower()]
    return f"did you mean '{found[0]}'?" if len(found) == 1 else None


def read_votes(source: str | Path | pd.DataFrame, metrics: Sequence[str], *, scorecard: str = "",
               sheet: str | int | None = None) -> pd.DataFrame:
    """Read a votes table and normalise every voter's row to shares summing to 1.

    The table has one column per metric (its ``name``) and an optional ``voter`` column
    (any case);
    each row is one voter's numbers (points, percentages such as ``40`` or ``40%``, shares).

    Args:
        source: a CSV, Excel or Parquet file, or a DataFrame.
        metrics: the scorecard's metric names, in plan order.
        scorecard: the scorecard's name, for messages.
        sheet: the Excel sheet, by name or 0-based number (default: the first).

    Returns:
        One row per voter, indexed by the row number as a spreadsheet shows it (header row
        1): ``voter`` (the ``voter`` cell, or ``row N`` without one) and each metric's share.

    Raises:
        DataErrors: every problem found, each naming its row, voter or column: a column that
            is no metric of the scorecard (``unknown-column``), a metric with no column
            (``missing-column``), an empty cell (``missing-vote``), a value that is not a
            number (``not-a-number``) or is negative (``negative-vote``), a row of zeros
            (``all-zero-votes``), a voter named twice (``duplicate-voter``), no votes at all
            (``no-votes``). Unreadable files raise :class:`DataError` as every table does.
    """
    from engine.data.load import read_table

    name = "votes" if isinstance(source, pd.DataFrame) else str(source)
    frame = read_table(source, "votes", sheet=sheet)
    what = f"scorecard '{scorecard}'" if scorecard else "the scorecard"
    problems: list[DataError] = []
    columns = [str(c) for c in frame.columns]
    voter_col = next((c for c in columns if c.lower() == VOTER and c not in metrics), None)
    for col in columns:
        if col != voter_col and col not in metrics:
            hint = did_you_mean(col, list(metrics)) or _containing(col, metrics)
            listing = f"the metrics of {what}: {', '.join(metrics)} (and an optional '{VOTER}' column)"
            problems.append(DataError("unknown-column", f"column '{col}' is no metric of {what}", file=name,
                                      column=col, hint=f"{hint} {listing}" if hint else listing))
    for m in metrics:
        if m not in columns:
            problems.append(DataError("missing-column", f"metric '{m}' of {what} has no column in the votes",
                                      file=name, column=m, hint="add a column named after each metric"))
    if problems:
        raise DataErrors(problems)
    if frame.empty:
        raise DataErrors([DataError("no-votes", "the votes table has no votes", file=name,
                                    hint="one row per voter, one column per metric")])
    voters: list[str] = []
    seen: dict[str, int] = {}
    shares = np.zeros((len(frame), len(metrics)))
    for k, (row, record) in enumerate(frame.iterrows()):
        r = int(row)  # type: ignore[call-overload]  # the index is the spreadsheet row number
        voter = _voter_name(record[voter_col]) if voter_col is not None else None
        who = f"voter '{voter}'" if voter is not None else f"the voter of row {r}"
        if voter is not None:
            if voter in seen:
                problems.append(DataError("duplicate-voter", f"voter '{voter}' votes twice (rows {seen[voter]} "
                                          f"and {r})", file=name, row=r, column=voter_col,
                                          hint="keep one row per voter"))
            else:
                seen[voter] = r
        voters.append(voter if voter is not None else f"row {r}")
        values = np.zeros(len(metrics))
        ok = True
        for j, m in enumerate(metrics):
            cell = record[m]
            if _is_blank(cell):
                problems.append(DataError("missing-vote", f"{who} gives no vote for '{m}'", file=name, row=r,
                                          column=m, hint="write 0 for a metric that should not count"))
                ok = False
                continue
            v = _cell_number(cell)
            if v is None or not math.isfinite(v):
                problems.append(DataError("not-a-number", f"{who} votes '{cell}' for '{m}', which is not a number",
                                          file=name, row=r, column=m,
                                          hint="write a number of points, a percentage or a share"))
                ok = False
            elif v < 0:
                problems.append(DataError("negative-vote", f"{who} votes {v:g} for '{m}': votes must not be "
                                          "negative", file=name, row=r, column=m,
                                          hint="write 0 for a metric that should not count"))
                ok = False
            else:
                values[j] = v
        if ok and values.sum() <= 0:
            problems.append(DataError("all-zero-votes", f"{who} votes 0 for every metric: there is nothing to "
                                      "share out", file=name, row=r,
                                      hint="give at least one metric a positive number, or remove the row"))
            ok = False
        if ok:
            shares[k] = values / values.sum()
    if problems:
        raise DataErrors(problems)
    out = pd.DataFrame(shares, columns=list(metrics), index=frame.index)
    out.insert(0, VOTER, voters)
    return out


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class VotedWeights:
    """The weights a team voted for, as the plan will have them.

    Attributes:
        plan: the current plan.
        scorecard: the scorecard component whose weights were voted on.
        method: ``mean`` or ``median``.
        weight_change: how far a weight may move from its current value.
        votes: one row per voter: ``voter`` and each metric's share (rows sum to 1).
        table: one row per metric: ``metric``, ``label``, ``current``, ``team`` (the mean or
            median share), ``lower`` and ``upper`` (the bounds), ``exact`` (the projection),
            ``final`` (as written in the plan), ``bound`` (``lower`` or ``upper`` when that
            bound held the weight, else empty) and the spread of the votes: ``votes_min``,
            ``votes_p25``, ``votes_median``, ``votes_p75``, ``votes_max``, ``votes_sd``.
        plan_text: the new plan: the old text with only the weights changed.
        checked: the new plan, validated.
        source: where the votes came from (a path, or ``votes``).
        measures: the actuals columns the scorecard's metrics read (through the plan's measures).
    """

    plan: CheckedPlan
    scorecard: str
    method: str
    weight_change: float
    votes: pd.DataFrame
    table: pd.DataFrame
    plan_text: str
    checked: CheckedPlan
    source: str = "votes"
    measures: tuple[str, ...] = ()

    @property
    def weights(self) -> dict[str, float]:
        """The new weights, by metric name."""
        return dict(zip(self.table["metric"], self.table["final"].astype(float)))

    @property
    def changed(self) -> bool:
        """Whether any weight moved."""
        return bool((self.table["final"] != self.table["current"]).any())

    def diff(self, context: int = 0) -> list[str]:
        """The new plan against the current one, as a unified diff of the plan text."""
        return plan_diff(self.plan.source, self.plan_text, self.plan.plan.file, context)

    def compare(self, scenario: Scenario | None = None, runs: int = 200, seed: int | None = None, *,
                workers: int = 1, scheduler=None, progress: bool = False, keep_reps: bool = False
                ) -> VoteComparison:
        """Simulate the current and the voted plan on the same team and random numbers.

        The voted plan is simulated under the name ``<plan>_voted`` so that the two can be
        told apart (only the name differs from :attr:`plan_text`).

        Args:
            scenario: the team (default: the built-in scenario).
            runs, seed, workers, scheduler, progress: as for :func:`compare_plans`.
            keep_reps: keep per-rep results (needed for the HTML report).
        """
        scenario = scenario or default_scenario()
        voted = _renamed(self.checked, f"{self.plan.plan.name}_voted")
        cmp = compare_plans([self.plan, voted], scenario, runs, seed, progress=progress, workers=workers,
                            scheduler=scheduler, keep_reps=keep_reps)
        return VoteComparison(cmp, (self.plan, voted), scenario, _measure_rows(cmp, self.measures, scenario))


@dataclass(frozen=True)
class VoteComparison:
    """The current and the voted plan simulated on common random numbers.

    Attributes:
        comparison: the two plans' results and their paired differences (as ``compare``).
        plans: the current plan and the voted one (named ``<plan>_voted``).
        scenario: the scenario simulated.
        measures: one row per measure the scorecard reads: ``measure``, ``current``,
            ``voted`` (mean annual team total per run), ``difference`` and ``relative``
            (the difference over the current value); a column the scenario does not
            produce has no figures.
    """

    comparison: Comparison
    plans: tuple[CheckedPlan, CheckedPlan]
    scenario: Scenario
    measures: pd.DataFrame


def _renamed(checked: CheckedPlan, name: str) -> CheckedPlan:
    """The same plan under another ``plan:`` name (the text otherwise unchanged)."""
    from engine.plan import parse_plan

    root = parse_yaml(checked.source, checked.plan.file)
    scalar = root.get("plan") if isinstance(root, YMap) else None
    if not isinstance(scalar, YScalar):  # a plan always has a name (validated)
        raise PlanErrors([PlanError("cannot-rewrite", "the plan's name is not a plain value")])
    return parse_plan(splice(checked.source, [(scalar, name)]), checked.plan.file)


def _measure_rows(cmp: Comparison, columns: Sequence[str], scenario: Scenario) -> pd.DataFrame:
    rows = []
    produced = set(scenario.actual_columns)
    docs = [r.document for r in cmp.results]
    for col in columns:
        a = docs[0]["measures"].get(col) if col in produced else None
        b = docs[1]["measures"].get(col) if col in produced else None
        diff = None if a is None or b is None else b - a
        rel = None if diff is None or not a else diff / abs(a)
        rows.append({"measure": col, "current": a, "voted": b, "difference": diff, "relative": rel})
    return pd.DataFrame(rows, columns=["measure", "current", "voted", "difference", "relative"])


# --------------------------------------------------------------------------- the job


def scorecard_measures(checked: CheckedPlan, scorecard: str) -> tuple[str, ...]:
    """The actuals columns a scorecard's metrics read, directly or through the plan's measures."""
    plan = checked.plan
    comp = next(c for c in plan.components if c.name == scorecard)
    from engine.plan.kinds import kind_of

    measures = {m.name: m.code for m in plan.measures}
    out: dict[str, None] = {}
    todo = [code.tree for code in kind_of(comp.kind).inputs(comp)]
    seen: set[str] = set()
    while todo:
        tree = todo.pop(0)
        for node in ex.walk(tree):
            if not isinstance(node, ex.Name) or id(node) not in checked.refs:
                continue
            ref = checked.refs[id(node)]
            if ref.kind == "actual":
                out[ref.name] = None
            elif ref.kind == "measure" and ref.name not in seen and ref.name in measures:
                seen.add(ref.name)
                todo.append(measures[ref.name].tree)
    return tuple(out)


def _scorecards(sites: list[NumberSite]) -> dict[str, list[NumberSite]]:
    groups: dict[str, list[NumberSite]] = {}
    for s in sites:
        if s.kind == "weight" and s.group is not None:
            groups.setdefault(s.group, []).append(s)
    return groups


def _pick_scorecard(checked: CheckedPlan, scorecard: str | None) -> list[NumberSite]:
    from engine.plan.kinds import kind_of

    groups = _scorecards(number_sites(checked))
    weighted = [c.name for c in checked.plan.components if len(kind_of(c.kind).weights(c)) >= 2]
    if scorecard is None:
        if len(weighted) == 1 and weighted[0] in groups:
            return groups[weighted[0]]
        if not weighted:
            raise PlanErrors([PlanError("no-scorecard", f"plan {checked.plan.name} has no scorecard with weights "
                                        "to vote on")])
        if len(weighted) > 1:
            raise PlanErrors([PlanError("choose-scorecard", f"plan {checked.plan.name} has several scorecards: "
                                        + ", ".join(weighted), None, "choose one with --scorecard NAME")])
        scorecard = weighted[0]
    if scorecard not in weighted:
        hint = did_you_mean(scorecard, weighted)
        listing = "scorecards: " + (", ".join(weighted) or "none")
        raise PlanErrors([PlanError("unknown-scorecard", f"plan {checked.plan.name} has no scorecard "
                                    f"'{scorecard}'", None, f"{hint} {listing}" if hint else listing)])
    if scorecard not in groups:
        raise PlanErrors([PlanError("cannot-rewrite", f"the weights of scorecard '{scorecard}' are not all written "
                                    "as numbers", None, "write each metric's weight as a number (weight: 0.4)")])
    return groups[scorecard]


def weights_from_votes(plan: CheckedPlan, votes: str | Path | pd.DataFrame, *, scorecard: str | None = None,
                       method: str = "mean", weight_change: float = DEFAULT_WEIGHT_CHANGE,
                       bounds: Mapping[str, tuple[float, float]] | None = None,
                       sheet: str | int | None = None) -> VotedWeights:
    """The scorecard weights the team voted for, kept within bounds, written into the plan.

    See the module docstring for the rule.

    Args:
        plan: the current plan (from :func:`engine.load_plan`, so that it has its text).
        votes: the votes: a CSV, Excel or Parquet file, or a DataFrame (an optional
            ``voter`` column, one column per metric of the scorecard).
        scorecard: the scorecard component (needed when the plan has several).
        method: ``mean`` or ``median`` of the voters' shares.
        weight_change: how far each weight may move from its current value (absolute).
        bounds: per metric, ``(lower, upper)`` set by management instead of the current
            weight ± ``weight_change``.
        sheet: the Excel sheet of the votes.

    Returns:
        The new weights, the table management reviews and the new plan.

    Raises:
        DataErrors: bad votes (see :func:`read_votes`).
        PlanErrors: no such scorecard, a bad option, or bounds that cannot sum to 1
            (``infeasible-bounds``).
    """
    if method not in METHODS:
        raise PlanErrors([PlanError("bad-option", f"unknown method '{method}'", None,
                                    "the method is one of: " + ", ".join(METHODS))])
    if not (0.0 <= weight_change <= 1.0) or not math.isfinite(weight_change):
        raise PlanErrors([PlanError("bad-option", f"the weight change must be between 0 and 1 (got {weight_change:g})")])
    if not getattr(plan, "source", None):
        raise PlanErrors([PlanError("no-source", "the plan has no source text; load it with load_plan()")])
    sites = _pick_scorecard(plan, scorecard)
    name = sites[0].group
    assert name is not None  # weight sites always have their scorecard
    metric_names = [s.key.split(".", 1)[1] for s in sites]
    comp = next(c for c in plan.plan.components if c.name == name)
    labels = {m.name: m.label for m in comp.metrics}

    votes_df = read_votes(votes, metric_names, scorecard=name, sheet=sheet)
    shares = votes_df[metric_names].to_numpy(dtype=float)
    team = np.median(shares, axis=0) if method == "median" else shares.mean(axis=0)

    current = np.array([s.value for s in sites])
    lo = np.clip(current - weight_change, 0.0, 1.0)
    hi = np.clip(current + weight_change, 0.0, 1.0)
    for metric, (low, high) in (bounds or {}).items():
        if metric not in metric_names:
            hint = did_you_mean(metric, metric_names)
            raise PlanErrors([PlanError("unknown-name", f"bounds for '{metric}', which is no metric of scorecard "
                                        f"'{name}'", None, hint or "metrics: " + ", ".join(metric_names))])
        if not (0.0 <= low <= high <= 1.0):
            raise PlanErrors([PlanError("bad-option", f"the bounds of '{metric}' must satisfy 0 <= lower <= upper "
                                        f"<= 1 (got {low:g}, {high:g})")])
        lo[metric_names.index(metric)], hi[metric_names.index(metric)] = low, high
    decimals = max(4, *(decimals_for(s) for s in sites))
    unit = 10 ** decimals
    grid_lo, grid_hi = np.ceil(lo * unit - 1e-6) / unit, np.floor(hi * unit + 1e-6) / unit
    empty = [m for m, a, b in zip(metric_names, grid_lo, grid_hi) if a > b]
    if empty:
        raise PlanErrors([PlanError(
            "infeasible-bounds", f"the bounds of {', '.join(repr(m) for m in empty)} hold no weight with {decimals} "
            "decimals", None, "give each metric bounds at least one unit of the last decimal apart, or equal ones "
            "written with that many decimals")])
    if grid_lo.sum() > 1.0 + 1e-9 or grid_hi.sum() < 1.0 - 1e-9:
        listing = ", ".join(f"{m} [{a:g}, {b:g}]" for m, a, b in zip(metric_names, grid_lo, grid_hi))
        raise PlanErrors([PlanError(
            "infeasible-bounds", f"the bounds of scorecard '{name}' cannot sum to 1: the lower bounds add up to "
            f"{grid_lo.sum():g} and the upper bounds to {grid_hi.sum():g} ({listing})", None,
            "widen the bounds (--weight-change) so that weights summing to 1 fit in them")])
    exact, lam = project_to_bounds(team, grid_lo, grid_hi)
    final = round_weights(exact, grid_lo, grid_hi, decimals)
    shifted = team + lam
    held = np.where(shifted < grid_lo - TOLERANCE, "lower", np.where(shifted > grid_hi + TOLERANCE, "upper", ""))

    rows = []
    for j, m in enumerate(metric_names):
        col = shares[:, j]
        rows.append({"metric": m, "label": labels.get(m) or m, "current": current[j], "team": float(team[j]),
                     "lower": float(grid_lo[j]), "upper": float(grid_hi[j]), "exact": float(exact[j]),
                     "final": float(final[j]), "bound": str(held[j]), "votes_min": float(col.min()),
                     "votes_p25": float(np.quantile(col, 0.25)), "votes_median": float(np.median(col)),
                     "votes_p75": float(np.quantile(col, 0.75)), "votes_max": float(col.max()),
                     "votes_sd": float(col.std(ddof=1)) if len(col) > 1 else 0.0})
    table = pd.DataFrame(rows)
    values = {s.key: float(f) for s, f in zip(sites, final) if float(f) != s.value}
    text, checked = rewrite_plan(plan, values, sites) if values else (plan.source, plan)
    source = "votes" if isinstance(votes, pd.DataFrame) else str(votes)
    return VotedWeights(plan=plan, scorecard=name, method=method, weight_change=float(weight_change),
                        votes=votes_df, table=table, plan_text=text, checked=checked, source=source,
                        measures=scorecard_measures(plan, name))

