"""``incentive statements``: what each rep's page of the statement pack shows.

For one period (the latest by default) and every rep with a statement in it, this module
computes everything the page shows; :mod:`engine.report.pack` only formats it:

* the statement row and the plain-words explanation (:func:`engine.data.explain.explain`);
* year-to-date progress against target on the plan's *primary* attainment (the actuals
  column and the target the plan measures against each other, as the alerts find it with
  :func:`engine.plan.reference_rep.reference_profile`), and the incentive paid to date
  against the target incentive to date;
* the personal dashboard: every measure of the plan, every scorecard metric (KPI) and every
  other numeric actuals column the plan reads, for the rep in each period (their trend) and
  against the median of the team (the reps with a statement in the period who share the
  rep's team column value; everyone when there is no team column), with the rep's rank in
  the team. Higher is better, unless a measure's name or label says it counts something bad
  (:data:`LOWER_IS_BETTER`: complaints, cancellations, costs, days overdue...);
* strengths (first in the team, or in the top quarter of a team of four or more) and items
  to improve (worse than the team median), each at most :data:`MAX_HIGHLIGHTS`;
* the grade history with the seeds' consequences: grade A in two consecutive periods makes
  a promotion candidate, C or D in two consecutive periods an improvement plan;
* an estimator (:mod:`engine.jobs.estimate`): for each threshold the rep has not reached in
  the period, the primary actuals amount that reaches it and what the rep would then be paid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.core.errors import DataError
from engine.core.inputs import Inputs
from engine.core.text import did_you_mean
from engine.jobs.estimate import Estimate, estimates, is_ratio, primary_pair
from engine.plan import expr as ex
from engine.plan.validate import CheckedPlan

__all__ = [
    "LOWER_IS_BETTER",
    "MAX_HIGHLIGHTS",
    "Estimate",
    "Highlight",
    "Metric",
    "Pack",
    "RepPage",
    "YearToDate",
    "build_pack",
    "grade_consequence",
    "has_cjk",
    "highlights",
    "lower_is_better",
    "team_column",
]

#: Words in a measure's name or label that make lower values better (English and Chinese).
LOWER_IS_BETTER = ("complaint", "cancel", "churn", "cost", "discount", "overdue", "late", "defect", "refund",
                   "return", "error", "days", "投诉", "退货", "退款", "成本", "逾期", "折扣", "流失", "差错", "天数")

#: At most this many strengths and this many items to improve per rep.
MAX_HIGHLIGHTS = 3

#: Grades in this many consecutive periods have a consequence (as ``incentive alerts``).
GRADE_STREAK = 2

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_NAME_COLUMNS = ("name", "rep_name", "full_name", "姓名", "名字")


@dataclass(frozen=True)
class Metric:
    """One measure, KPI or actuals column of one rep in the period, against the team.

    Attributes:
        key: the measure, metric or column name.
        label: its label where the plan gives one, else the key.
        kind: ``measure``, ``kpi`` (a scorecard metric's input) or ``actual``.
        ratio: the value is a ratio (shown as a percentage).
        higher_is_better: direction used for ranks, strengths and improvements.
        value: the rep's value in the period (NaN where unknown).
        median: the team's median in the period.
        rank: 1 = best in the team (ties share the best rank); 0 where unknown.
        team_size: reps of the team with a value in the period.
        trend: the rep's value in each period of the run (NaN where the rep has no statement).
    """

    key: str
    label: str
    kind: str
    ratio: bool
    higher_is_better: bool
    value: float
    median: float
    rank: int
    team_size: int
    trend: tuple[float, ...]


@dataclass(frozen=True)
class Highlight:
    """A strength (``first``, ``top-quarter``) or an item to improve (``below-median``)."""

    key: str
    label: str
    kind: str
    rank: int
    team_size: int
    value: float
    median: float
    ratio: bool


@dataclass(frozen=True)
class YearToDate:
    """Progress through the plan year to the statement's period.

    Attributes:
        column, label: the primary actuals column and its label (the measure that reads it).
        periods: the periods of the plan year so far.
        actual, target: cumulative primary actuals and targets at each of those periods.
        paid, target_incentive: cumulative incentive paid and target incentive.
    """

    column: str
    label: str
    periods: tuple[str, ...]
    actual: tuple[float, ...]
    target: tuple[float, ...]
    paid: tuple[float, ...]
    target_incentive: tuple[float, ...]

    @property
    def attainment(self) -> float:
        return self.actual[-1] / self.target[-1] if self.target and self.target[-1] > 0 else math.nan


@dataclass(frozen=True)
class RepPage:
    """Everything one rep's page shows."""

    rep_id: str
    name: str | None
    team: str | None
    period: str
    statement: dict[str, Any]
    history: tuple[dict[str, Any], ...]
    explanation: str
    ytd: YearToDate | None
    metrics: tuple[Metric, ...]
    strengths: tuple[Highlight, ...]
    improvements: tuple[Highlight, ...]
    grades: tuple[tuple[str, str], ...]
    consequence: str | None
    estimates: tuple[Estimate, ...]


@dataclass(frozen=True)
class Pack:
    """The statement pack of one period: a page per rep, grouped by team."""

    plan: str
    plan_label: str | None
    currency: str
    minor_unit: int
    period_kind: str
    period: str
    periods: tuple[str, ...]
    language: str
    team_column: str | None
    money_columns: tuple[str, ...]
    labels: dict[str, str]
    has_grades: bool
    reps: tuple[RepPage, ...]
    teams: dict[str, tuple[str, ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers

def has_cjk(texts: list[str | None]) -> bool:
    """True when any of the texts holds a Chinese, Japanese or Korean character."""
    return any(t and _CJK.search(t) for t in texts)


def plan_language(checked: CheckedPlan) -> str:
    """``zh`` when the plan's names or labels are written in Chinese, else ``en``."""
    plan = checked.plan
    texts: list[str | None] = [plan.name, plan.label]
    texts += [m.name for m in plan.measures] + [m.label for m in plan.measures]
    texts += [c.name for c in plan.components] + [c.label for c in plan.components]
    return "zh" if has_cjk(texts) else "en"


def lower_is_better(name: str, label: str | None = None) -> bool:
    """Whether lower values of a measure are better, from words in its name or label."""
    text = f"{name} {label or ''}".lower()
    return any(w in text for w in LOWER_IS_BETTER)


def team_column(roster: pd.DataFrame, asked: str | None) -> str | None:
    """The roster column that groups reps into teams: ``asked``, else ``manager``, else
    ``team``, else None (one team).

    Raises:
        DataError: ``asked`` is not a roster column.
    """
    if asked is not None:
        if asked not in roster.columns:
            raise DataError("unknown-column", f"the roster has no column '{asked}' (--team-column)", column=asked,
                            hint=did_you_mean(asked, [str(c) for c in roster.columns]))
        return asked
    return next((c for c in ("manager", "team") if c in roster.columns), None)


def grade_consequence(grades: list[str | None], streak: int = GRADE_STREAK) -> str | None:
    """``promotion-candidate`` when the last ``streak`` grades are all A, ``improvement-plan``
    when they are all C or D, else None. ``grades`` are consecutive periods, oldest first,
    ending with the statement's; None where the rep had no statement (it breaks a streak)."""
    last = grades[-streak:]
    if len(last) < streak or any(g is None for g in last):
        return None
    if all(g == "A" for g in last):
        return "promotion-candidate"
    if all(g in ("C", "D") for g in last):
        return "improvement-plan"
    return None


def highlights(metrics: list[Metric] | tuple[Metric, ...]) -> tuple[tuple[Highlight, ...], tuple[Highlight, ...]]:
    """Strengths and items to improve, chosen from a rep's metrics against the team.

    A strength is a metric where the rep is first in the team (someone else doing strictly
    worse) or, in a team of four or more, in the top quarter; firsts come before top quarters,
    measures before KPIs and actuals columns, then plan order. An item to improve is a metric
    strictly worse than the team median, the furthest from it (relative to the median) first.
    At most :data:`MAX_HIGHLIGHTS` of each.
    """
    strong: list[tuple[tuple, Highlight]] = []
    weak: list[tuple[float, int, Highlight]] = []
    order = {"measure": 0, "kpi": 1, "actual": 2}
    for i, m in enumerate(metrics):
        if not math.isfinite(m.value) or m.team_size < 2 or m.rank == 0:
            continue
        better = (m.value > m.median) if m.higher_is_better else (m.value < m.median)
        worse = (m.value < m.median) if m.higher_is_better else (m.value > m.median)
        if m.rank == 1 and better:
            strong.append(((0, order[m.kind], i), Highlight(m.key, m.label, "first", m.rank, m.team_size,
                                                           m.value, m.median, m.ratio)))
        elif m.team_size >= 4 and m.rank <= m.team_size / 4 and better:
            strong.append(((1, order[m.kind], i), Highlight(m.key, m.label, "top-quarter", m.rank, m.team_size,
                                                           m.value, m.median, m.ratio)))
        if worse:
            gap = abs(m.value - m.median) / (abs(m.median) if m.median else 1.0)
            weak.append((-gap, i, Highlight(m.key, m.label, "below-median", m.rank, m.team_size, m.value,
                                            m.median, m.ratio)))
    strong.sort(key=lambda t: t[0])
    weak.sort(key=lambda t: (t[0], t[1]))
    return (tuple(h for _, h in strong[:MAX_HIGHLIGHTS]), tuple(h for _, _, h in weak[:MAX_HIGHLIGHTS]))


def _period_index(inputs: Inputs, period: str | None) -> int:
    labels = inputs.period_labels
    if period is None:
        return len(labels) - 1
    if period in labels:
        return labels.index(period)
    raise DataError("unknown-period", f"period '{period}' is not in the actuals (periods: {', '.join(labels)})",
                    file=inputs.sources.get("actuals"), hint=did_you_mean(period, labels))


def _per_period(x: np.ndarray, inputs: Inputs, accumulated: bool) -> np.ndarray:
    """``(R, P)`` values of one period each (year-to-date values taken apart)."""
    x = np.array(np.broadcast_to(np.asarray(x, dtype=np.float64), inputs.shape))
    if not accumulated:
        return x
    fiscal = inputs.fiscal_years
    out = x.copy()
    for q in range(1, x.shape[1]):
        if fiscal[q] == fiscal[q - 1]:
            out[:, q] = x[:, q] - x[:, q - 1]
    return out


def _team_figures(metric_arrays, team_key: list[str], active: np.ndarray, p: int):
    """Per metric, ``(R,)`` team medians, ranks (1 = best, 0 where unknown) and team sizes in
    period ``p``."""
    groups: dict[str, list[int]] = {}
    for r, key in enumerate(team_key):
        if active[r]:
            groups.setdefault(key, []).append(r)
    medians, ranks, sizes = [], [], []
    R = len(team_key)
    for _key, _label, _kind, _ratio, higher, values in metric_arrays:
        med, rank, size = np.full(R, np.nan), np.zeros(R, dtype=np.int64), np.zeros(R, dtype=np.int64)
        for members in groups.values():
            idx = np.array(members)
            v = values[idx, p]
            ok = np.isfinite(v)
            if not ok.any():
                continue
            score = np.sort(v[ok] if higher else -v[ok])
            mine = np.where(ok, v if higher else -v, np.nan)
            better = len(score) - np.searchsorted(score, mine, side="right")
            rank[idx] = np.where(ok, 1 + better, 0)
            med[idx] = float(np.median(v[ok]))
            size[idx] = int(ok.sum())
        medians.append(med)
        ranks.append(rank)
        sizes.append(size)
    return medians, ranks, sizes


def _metric_arrays(checked: CheckedPlan, inputs: Inputs, result) -> list[tuple[str, str, str, bool, bool, np.ndarray]]:
    """``(key, label, kind, ratio, higher is better, (R, P) values)`` of every measure, scorecard metric and
    other numeric actuals column the plan reads; NaN where the rep has no statement."""
    from engine.plan.reference import ReferenceEvaluator

    plan = checked.plan
    active = np.asarray(inputs.active, dtype=bool)
    R, P = inputs.shape
    out: list[tuple[str, str, str, bool, bool, np.ndarray]] = []
    plain: set[str] = set()
    for m in plan.measures:
        values = np.broadcast_to(np.asarray(result.values[m.name], dtype=np.float64), (R, P))
        out.append((m.name, m.label or m.name, "measure", is_ratio(checked, m.code.tree),
                    not lower_is_better(m.name, m.label), np.where(active, values, np.nan)))
        tree = m.code.tree
        if isinstance(tree, ex.Name) and tree.prefix == "actuals":
            plain.add(tree.name)
    ev = None
    for c in plan.components:
        for metric in c.metrics:
            if ev is None:
                ev = ReferenceEvaluator(checked, inputs)
            values = np.full((R, P), np.nan)
            for r, q in zip(*np.nonzero(active)):
                values[r, q] = float(ev.expr(metric.input, int(r), int(q), f"metric '{metric.name}'"))
            out.append((f"{c.name}.{metric.name}", metric.label or metric.name, "kpi",
                        is_ratio(checked, metric.input.tree), not lower_is_better(metric.name, metric.label), values))
    for col in sorted(checked.numeric_actual_columns):
        if col in plain or col not in inputs.actuals:
            continue
        values = np.asarray(inputs.actuals[col], dtype=np.float64)
        out.append((col, col, "actual", False, not lower_is_better(col), np.where(active, values, np.nan)))
    return out


def _roster_text(roster: pd.DataFrame, column: str | None) -> dict[str, str]:
    """rep id -> the column's text in the rep's last roster row."""
    if column is None or column not in roster.columns or "rep_id" not in roster.columns:
        return {}
    out: dict[str, str] = {}
    for rep, value in zip(roster["rep_id"].astype(str), roster[column]):
        out[rep] = "" if pd.isna(value) else str(value).strip()
    return out


def build_pack(checked: CheckedPlan, inputs: Inputs, roster: pd.DataFrame, *, period: str | None = None,
               team: str | None = None, language: str = "auto") -> Pack:
    """Compute every rep's page of the statement pack for one period.

    Args:
        checked: the validated plan.
        inputs: the roster and actuals loaded for it (:func:`engine.data.statements.load_for_plan`).
        roster: the roster table as read (for the team column and the reps' names).
        period: the statement's period label; default the latest period of the actuals.
        team: the roster column that groups reps (default ``manager``, else ``team``, else
            one group).
        language: ``auto`` (Chinese where the plan's names or labels are), ``en`` or ``zh``.

    Returns:
        The pack: one :class:`RepPage` per rep with a statement in the period, in roster order.

    Raises:
        DataError: an unknown period or team column, or a language other than auto/en/zh.
    """
    from engine.data.explain import explain
    from engine.data.statements import statement_table
    from engine.plan.compile import compile_plan

    if language not in ("auto", "en", "zh"):
        raise DataError("unknown-language", f"language '{language}' is not one of auto, en, zh")
    plan = checked.plan
    p = _period_index(inputs, period)
    label = inputs.period_labels[p]
    column = team_column(roster, team)
    teams_of = _roster_text(roster, column)
    names_of = _roster_text(roster, next((c for c in _NAME_COLUMNS if c in roster.columns), None))
    program = compile_plan(checked)
    record: dict = {}
    result = program.evaluate(inputs, record=record)
    table = statement_table(plan, inputs, result)
    rep_ids = [str(x) for x in inputs.rep_ids]
    active = np.asarray(inputs.active, dtype=bool)
    acc = plan.accumulate == "year"
    primary = primary_pair(checked)
    targets = None
    if primary is not None:
        targets = _per_period(result.values[f"targets.{primary[1]}"], inputs, acc)
    metric_arrays = _metric_arrays(checked, inputs, result)
    found = estimates(checked, inputs, program, record, result, p, primary, targets)
    team_key = [teams_of.get(rep, "") for rep in rep_ids]
    medians, ranks, sizes = _team_figures(metric_arrays, team_key, active[:, p], p)

    by_rep = {rep: part for rep, part in table.groupby("rep_id", sort=False)}
    pages: list[RepPage] = []
    fiscal = inputs.fiscal_years
    follows = inputs.follows_previous
    for r, rep in enumerate(rep_ids):
        if not active[r, p]:
            continue
        metrics = [Metric(key, mlabel, kind, ratio, higher, float(values[r, p]), float(medians[k][r]),
                          int(ranks[k][r]), int(sizes[k][r]), tuple(float(v) for v in values[r]))
                   for k, (key, mlabel, kind, ratio, higher, values) in enumerate(metric_arrays)]
        strengths, improvements = highlights(metrics)
        rows = by_rep[rep]
        history = tuple({str(k): v for k, v in row.items()} for row in rows.to_dict("records"))
        statement = next(h for h in history if h["period"] == label)
        grades: list[tuple[str, str]] = [(str(h["period"]), str(h["grade"])) for h in history] \
            if plan.grades is not None else []
        consequence = None
        if plan.grades is not None:
            chain: list[str | None] = []
            q = p
            while q >= 0 and len(chain) < GRADE_STREAK:
                chain.insert(0, str(result.grades[r, q]) if active[r, q] else None)  # type: ignore[index]
                if q == 0 or not follows[q]:
                    break
                q -= 1
            consequence = grade_consequence(chain)
        ytd = None
        if primary is not None and targets is not None:
            year = [q for q in range(p + 1) if fiscal[q] == fiscal[p]]
            act = np.where(active, np.asarray(inputs.actuals[primary[0]], dtype=np.float64), 0.0)[r, year]
            tgt = np.where(active, targets, 0.0)[r, year]
            paid = np.where(active, np.asarray(result.total, dtype=np.float64), 0.0)[r, year]
            ti = np.where(active, _per_period(result.values["target_incentive"], inputs, acc), 0.0)[r, year]
            measure = next((m for m in plan.measures if isinstance(m.code.tree, ex.Name)
                            and m.code.tree.prefix == "actuals" and m.code.tree.name == primary[0]), None)
            ytd = YearToDate(primary[0], (measure.label or measure.name) if measure else primary[0],
                             tuple(inputs.period_labels[q] for q in year), tuple(np.cumsum(act).tolist()),
                             tuple(np.cumsum(tgt).tolist()), tuple(np.cumsum(paid).tolist()),
                             tuple(np.cumsum(ti).tolist()))
        pages.append(RepPage(
            rep_id=rep, name=names_of.get(rep) or None, team=team_key[r] or None, period=label,
            statement=statement, history=history, explanation=explain(checked, inputs, table, rep, label),
            ytd=ytd, metrics=tuple(metrics), strengths=strengths, improvements=improvements,
            grades=tuple(grades), consequence=consequence, estimates=tuple(found.get(r, []))))

    teams: dict[str, list[str]] = {}
    for page in pages:
        teams.setdefault(page.team or "", []).append(page.rep_id)
    money = [c for c in ["base_pay", *(c.name for c in plan.components), "adjustment", "total", "total_pay"]
             if c in table.columns]
    labels = {c.name: c.label or c.name for c in plan.components}
    labels.update({m.name: m.label or m.name for m in plan.measures})
    lang = plan_language(checked) if language == "auto" else language
    return Pack(plan=plan.name, plan_label=plan.label, currency=plan.currency, minor_unit=plan.minor_unit,
                period_kind=plan.period, period=label, periods=tuple(inputs.period_labels), language=lang,
                team_column=column, money_columns=tuple(money), labels=labels, has_grades=plan.grades is not None,
                reps=tuple(pages), teams={k: tuple(v) for k, v in teams.items()})
