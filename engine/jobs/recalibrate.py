"""Quarterly recalibration: move a plan's bounded numbers to optimise a simulated metric.

The search space is the plan's *bounded parameters* (``{value, min, max}``) and the weights
of its scorecards (metric weights written as numbers, kept summing to 1 and within
``weight_change`` of where they are). Every candidate is written into the plan's own text
(:mod:`engine.plan.rewrite`), re-loaded and validated like a hand-written plan, and
simulated on the same scenario with the same seed: *common random numbers*, so that two
candidates see the same reps, noise and quit draws and the objective is a deterministic,
much smoother function of the numbers than independent Monte Carlo estimates would be.

The optimiser works in the unit cube (each number scaled to its range; a scorecard's
weights mapped onto the bounded simplex by a projection), screens it with a Latin
hypercube, then refines the best point with scipy's COBYLA (or COBYQA), with the
``--subject-to`` constraints as native inequality constraints, all within an explicit
budget of simulations. The best feasible candidate wins; when none is feasible, the least
infeasible one is returned and reported as such. See ``docs/recalibration.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from engine.core.errors import EngineError, PlanError, PlanErrors
from engine.core.text import figure
from engine.plan import expr as ex
from engine.plan.rewrite import (
    NumberSite,
    decimals_for,
    decimals_of,
    format_number,
    number_sites,
    rewrite_plan,
)
from engine.plan.validate import CheckedPlan
from engine.sim.executor import Executor, SimTask, chunks_of, progress_bar, simulation_for
from engine.sim.scenario import Scenario, default_scenario

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MARGIN",
    "Constraint",
    "ConstraintRow",
    "MetricDef",
    "Recalibration",
    "RecalibrationSpec",
    "decompose_targets",
    "metric_catalogue",
    "parse_constraint",
    "recalibrate",
    "write_targets",
]

DEFAULT_MARGIN = 0.30
"""Contribution margin on revenue before sales compensation, when the scenario has none."""

DEFAULT_BUDGET = 40
"""Simulations the search may run (the baseline included)."""

DEFAULT_WEIGHT_CHANGE = 0.10
DEFAULT_MIN_WEIGHT = 0.05


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricDef:
    """A figure of the simulation that can be optimised or constrained.

    Attributes:
        name: its name on the command line.
        label: how tables show it.
        kind: ``money``, ``pct`` or ``num`` (formatting).
        value: the figure from the simulation document and per-run arrays.
        per_run: per-run values for paired differences (None where there are none).
    """

    name: str
    label: str
    kind: str
    value: Callable[[dict, dict], float | None]
    per_run: Callable[[dict], np.ndarray] | None = None


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def metric_catalogue(scenario: Scenario | None = None) -> dict[str, MetricDef]:
    """Every metric name ``--maximize``, ``--minimize`` and ``--subject-to`` accept.

    ``profit`` is revenue x margin - incentive cost - replacement cost of leavers, with the
    margin rate given (default :data:`DEFAULT_MARGIN`), or the simulated total of the
    scenario's ``margin`` output when it produces one. ``measures.COLUMN`` is the mean
    annual total of an actuals column the scenario produces.
    """
    d: list[MetricDef] = [
        MetricDef("cost", "cost (mean)", "money", lambda doc, pr: doc["cost"]["mean"], lambda pr: pr["cost"]),
        MetricDef("cost_p90", "cost P90", "money", lambda doc, pr: doc["cost"]["p90"]),
        MetricDef("revenue", "revenue (mean)", "money", lambda doc, pr: doc["revenue"]["mean"],
                  lambda pr: pr["revenue"]),
        MetricDef("profit", "profit (mean)", "money", lambda doc, pr: float(np.mean(pr["profit"])),
                  lambda pr: pr["profit"]),
        MetricDef("cost_of_sales", "cost of sales", "pct", lambda doc, pr: doc["cost_of_sales"],
                  lambda pr: _ratio(pr["cost"], pr["revenue"])),
        MetricDef("share_at_or_above_target", "at or above target", "pct",
                  lambda doc, pr: doc["attainment"]["share_at_or_above_target"],
                  lambda pr: _ratio(pr["at_or_above"], pr["reps"])),
        MetricDef("attainment_p10", "attainment P10", "pct", lambda doc, pr: doc["attainment"]["p10"]),
        MetricDef("attainment_p50", "attainment P50", "pct", lambda doc, pr: doc["attainment"]["p50"],
                  lambda pr: pr["attainment_p50"]),
        MetricDef("attainment_p90", "attainment P90", "pct", lambda doc, pr: doc["attainment"]["p90"]),
        MetricDef("attainment_gini", "attainment Gini", "num", lambda doc, pr: doc["attainment"]["gini"],
                  lambda pr: pr["gini"]),
        MetricDef("payout_per_rep_p50", "payout per rep P50", "money", lambda doc, pr: doc["payout_per_rep"]["p50"]),
        MetricDef("payout_per_rep_p90", "payout per rep P90", "money", lambda doc, pr: doc["payout_per_rep"]["p90"]),
        MetricDef("attrition_rate", "attrition", "pct", lambda doc, pr: doc["morale"]["attrition_rate"],
                  lambda pr: _ratio(pr["leavers"], pr["headcount"])),
        MetricDef("regretted_attrition_rate", "regretted attrition", "pct",
                  lambda doc, pr: doc["morale"]["regretted_attrition_rate"],
                  lambda pr: _ratio(pr["regretted"], pr["headcount"])),
        MetricDef("share_disengaged", "disengaged", "pct", lambda doc, pr: doc["morale"]["share_disengaged"],
                  lambda pr: _ratio(pr["disengaged_months"], pr["active_months"])),
        MetricDef("replacement_cost", "replacement cost", "money", lambda doc, pr: doc["morale"]["replacement_cost"],
                  lambda pr: pr["replacement_cost"]),
        MetricDef("last_month_share", "last-month share", "pct", lambda doc, pr: doc["timing"]["last_month_share"],
                  lambda pr: _ratio(pr["last_month_primary"], pr["revenue"])),
        MetricDef("effort", "effort vs baseline", "num", lambda doc, pr: doc["effort"]["mean"],
                  lambda pr: _ratio(pr["effort_sum"], pr["active_months"])),
    ]
    out = {m.name: m for m in d}
    columns = scenario.actual_columns if scenario is not None else default_scenario().actual_columns
    outputs = scenario.outputs if scenario is not None else default_scenario().outputs
    money = {o.name for o in outputs if o.kind in ("amount", "share_of")}
    for col in columns:
        name = f"measures.{col}"
        out[name] = MetricDef(name, f"{col} (mean total)", "money" if col in money else "num",
                              _measure_of_doc(col), _measure_of_runs(col))
    return out


def _measure_of_doc(col: str) -> Callable:
    """The mean total of measure ``col`` in a simulation document."""
    return lambda doc, pr: doc["measures"].get(col)


def _measure_of_runs(col: str) -> Callable:
    """The per-run totals of measure ``col``."""
    return lambda pr: pr[f"measures.{col}"]


# --------------------------------------------------------------------------- constraints

_OPS = {"<=": "<=", "=<": "<=", "<": "<=", ">=": ">=", "=>": ">=", ">": ">="}
_CONSTRAINT = re.compile(r"^\s*([^\s<>=]+)\s*(<=|>=|=<|=>|<|>)\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[+-]?(\d[\d_,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")
_BASELINE = re.compile(r"^baseline(?:\s*([+\-*])\s*(\S+))?$")


def _number(text: str) -> float | None:
    t = text.strip()
    if not _NUMBER.match(t):
        return None
    pct = t.endswith("%")
    v = float(t.rstrip("%").replace("_", "").replace(",", ""))
    return v / 100.0 if pct else v


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``; the bound may be relative to the baseline.

    Attributes:
        text: as written.
        metric: a name of :func:`metric_catalogue`.
        op: ``<=`` or ``>=``.
        value: the bound, or the number of a relative bound.
        relative: None, or ``=`` (``baseline``), ``+``, ``-``, ``*`` (``baseline * 1.05``).
    """

    text: str
    metric: str
    op: str
    value: float
    relative: str | None = None

    def bound(self, baseline: float | None) -> float:
        """The bound, given the current plan's value of the metric (for relative bounds)."""
        if self.relative is None:
            return self.value
        b = float("nan") if baseline is None else baseline
        return {"=": b, "+": b + self.value, "-": b - self.value, "*": b * self.value}[self.relative]


def _unknown_metric(name: str, names: Sequence[str], what: str) -> PlanError:
    from engine.plan.parse import suggest

    hint = suggest(name, list(names))
    listing = "valid metrics: " + ", ".join(names)
    return PlanError("unknown-metric", f"unknown metric '{name}' in {what}", None,
                     f"{hint} {listing}" if hint else listing)


def parse_constraint(text: str, metrics: dict[str, MetricDef] | None = None) -> Constraint:
    """Read ``"cost_of_sales <= 0.12"``, ``"share_at_or_above_target >= 60%"``,
    ``"attrition_rate <= baseline"`` or ``"cost <= baseline * 1.05"``.

    Raises:
        PlanErrors: a malformed constraint (code ``bad-constraint``) or an unknown metric
            (``unknown-metric``, listing the valid names).
    """
    metrics = metric_catalogue() if metrics is None else metrics
    example = ('write METRIC <= VALUE or METRIC >= VALUE, e.g. --subject-to "cost_of_sales <= 0.12", '
               '"share_at_or_above_target >= 60%" or "attrition_rate <= baseline"')
    m = _CONSTRAINT.match(text or "")
    if not m or not m.group(3):
        raise PlanErrors([PlanError("bad-constraint", f"cannot read constraint '{text}'", None, example)])
    name, op, rhs = m.group(1), _OPS[m.group(2)], m.group(3)
    if name not in metrics:
        raise PlanErrors([_unknown_metric(name, list(metrics), f"constraint '{text}'")])
    v = _number(rhs)
    if v is not None:
        return Constraint(text, name, op, v)
    b = _BASELINE.match(rhs.strip())
    if b:
        if b.group(1) is None:
            return Constraint(text, name, op, 0.0, "=")
        v = _number(b.group(2))
        if v is not None:
            return Constraint(text, name, op, v, b.group(1))
    raise PlanErrors([PlanError("bad-constraint", f"cannot read the bound '{rhs}' of constraint '{text}'", None,
                                "the bound is a number (0.12, 12%, 7_000_000) or 'baseline' "
                                "(optionally + - * a number)")])


# --------------------------------------------------------------------------- evaluation


@dataclass
class RepArrays:
    """Per-rep results of one evaluation (runs x slots), for quartiles and targets."""

    attainment: np.ndarray
    payout: np.ndarray
    skill: np.ndarray
    effort: np.ndarray
    rep_mask: np.ndarray


@dataclass
class Evaluation:
    """One candidate simulated: its metrics, per-run values and (optionally) per-rep arrays."""

    values: dict[str, float | None]
    per_run: dict[str, np.ndarray]
    document: dict
    reps: RepArrays | None = None


class _BudgetExhausted(Exception):
    pass


class _Evaluator:
    """Simulates candidates on common random numbers, with a cache and a budget."""

    def __init__(self, checked: CheckedPlan, scenario: Scenario, seed: int, runs: int, workers: int,
                 margin: float, metrics: dict[str, MetricDef], budget: int, progress=None, scheduler=None,
                 backend: str = "numpy"):
        self.checked = checked
        self.backend = backend
        self.scenario = scenario
        self.seed = seed
        self.runs = runs
        self.margin = margin
        self.metrics = metrics
        self.budget = budget
        self.used = 0
        self.extra = 0
        self.progress = progress
        self.sites = number_sites(checked)
        # For seats, periods and the roster; built here, so forked workers have it too.
        self.sim = simulation_for(SimTask(checked, scenario, seed, backend=backend))
        self.executor = Executor(workers, scheduler)  # one pool (or cluster) for the whole search
        self.cache: dict[tuple, tuple[Evaluation | None, str | None]] = {}
        self.margin_column = "margin" if "margin" in scenario.actual_columns else None

    def close(self) -> None:
        self.executor.close()

    def plan_for(self, values: dict[str, float]) -> tuple[str, CheckedPlan]:
        changed = {k: v for k, v in values.items() if v != self._site(k).value}
        if not changed:
            return self.checked.source, self.checked
        return rewrite_plan(self.checked, changed, self.sites)

    def _site(self, key: str) -> NumberSite:
        for s in self.sites:
            if s.key == key:
                return s
        raise KeyError(key)

    def evaluate_many(self, candidates: list[dict[str, float]], keep_reps: bool = False
                      ) -> list[tuple[Evaluation | None, str | None]]:
        """Evaluate candidates (cached ones are free); ``(evaluation, None)`` or ``(None, why invalid)``."""
        out: list = [None] * len(candidates)
        todo: list[tuple[int, tuple, CheckedPlan]] = []
        seen: dict[tuple, int] = {}
        for i, values in enumerate(candidates):
            key = tuple(sorted(values.items()))
            hit = self.cache.get(key)
            if hit is not None and (not keep_reps or hit[0] is None or hit[0].reps is not None):
                out[i] = hit
                continue
            if key in seen:
                continue
            try:
                _, plan = self.plan_for(values)
            except PlanErrors as exc:
                self.cache[key] = out[i] = (None, "; ".join(e.message for e in exc.errors))
                continue
            if key in self.cache:
                self.extra += 1  # simulated again only for its per-rep arrays
            elif self.used >= self.budget:
                raise _BudgetExhausted()
            else:
                self.used += 1
            seen[key] = i
            todo.append((i, key, plan))
        if todo:
            results = self._simulate([p for _, _, p in todo])
            for (i, key, _), res in zip(todo, results):
                self.cache[key] = (res[0] and _strip(res[0]), res[1])  # per-rep arrays: only to the caller
                out[i] = res
                if self.progress is not None:
                    self.progress(1)
        for i, values in enumerate(candidates):
            if out[i] is None:
                key = tuple(sorted(values.items()))
                if key in self.cache:
                    out[i] = self.cache[key]
                else:
                    raise _BudgetExhausted()
        return out

    def _simulate(self, plans: list[CheckedPlan]) -> list[tuple[Evaluation | None, str | None]]:
        from engine.sim.metrics import Accumulator

        # One chunk per candidate when there are enough candidates to keep the workers busy,
        # else each candidate's runs split over them (the one chunk-size rule).
        size = self.executor.chunk_size(self.sim.slots, self.runs, tasks=len(plans))
        tasks = [SimTask(p, self.scenario, self.seed, backend=self.backend) for p in plans]
        jobs = [(j, idx) for j in range(len(plans)) for idx in chunks_of(self.runs, size)]
        results: dict[int, list] = {j: [] for j in range(len(plans))}
        failed: dict[int, tuple[int, EngineError]] = {}
        for n, res in self.executor.imap([(tasks[j], idx) for j, idx in jobs], errors="return"):
            j, idx = jobs[n]
            if isinstance(res, EngineError):
                if j not in failed or idx[0] < failed[j][0]:
                    failed[j] = (int(idx[0]), res)  # the first failing chunk, however they are run
            else:
                results[j].append(res)
        out: list[tuple[Evaluation | None, str | None]] = []
        for j in range(len(plans)):
            if j in failed:
                out.append((None, failed[j][1].render()))
                continue
            chunks = sorted(results[j], key=lambda r: int(r.run_index[0]))
            acc = Accumulator(self.runs, self.scenario.actual_columns)
            for r in chunks:
                acc.add(r)
            doc = acc.document(self.checked.plan.name, self.scenario.name, self.sim.seats, self.sim.P, self.seed)
            pr = {k: np.asarray(v, dtype=float) for k, v in acc.per_run.items()}
            for col, totals in acc.measures.items():
                pr[f"measures.{col}"] = np.asarray(totals, dtype=float)
            gross = pr[f"measures.{self.margin_column}"] if self.margin_column else pr["revenue"] * self.margin
            pr["profit"] = gross - pr["cost"] - pr["replacement_cost"]
            values: dict[str, float | None] = {}
            for name, m in self.metrics.items():
                try:
                    v = m.value(doc, pr)
                except (KeyError, TypeError):
                    v = None
                values[name] = None if v is None or not math.isfinite(v) else float(v)
            per_run = {}
            for name, m in self.metrics.items():
                if m.per_run is not None:
                    try:
                        per_run[name] = np.asarray(m.per_run(pr), dtype=float)
                    except KeyError:
                        pass
            reps = RepArrays(*(np.concatenate([getattr(r, a) for r in chunks]) for a in
                                   ("attainment", "payout", "skill", "effort", "rep_mask")))
            doc = {**doc, "profit": {"mean": values.get("profit"),
                                     "margin": None if self.margin_column else self.margin}}
            out.append((Evaluation(values, per_run, doc, reps), None))
        return out


def _strip(e: Evaluation) -> Evaluation:
    return Evaluation(e.values, e.per_run, e.document, None)


# --------------------------------------------------------------------------- search space


@dataclass(frozen=True)
class _Space:
    """The unit cube the optimiser sees, mapped to plan numbers.

    Each bounded parameter is one coordinate (scaled to its range); each scorecard's
    weights are one coordinate per metric, scaled to [lo, hi] and then projected onto
    ``sum = 1`` within those bounds. Values are rounded to what the plan will say.
    """

    params: tuple[NumberSite, ...]
    groups: tuple[tuple[tuple[NumberSite, ...], np.ndarray, np.ndarray], ...]  # (sites, lo, hi)
    fixed: dict

    @property
    def dim(self) -> int:
        return len(self.params) + sum(len(g[0]) for g in self.groups)

    def start(self) -> np.ndarray:
        z: list[float] = []
        for s in self.params:
            low, high = _bounds(s)
            z.append((s.value - low) / (high - low))
        for sites, lo, hi in self.groups:
            w0 = np.array([s.value for s in sites])
            z += list(np.where(hi > lo, (w0 - lo) / np.where(hi > lo, hi - lo, 1.0), 0.5))
        return np.clip(np.array(z, dtype=float), 0.0, 1.0)

    def values(self, z: np.ndarray) -> dict[str, float]:
        z = np.clip(np.asarray(z, dtype=float), 0.0, 1.0)
        out = dict(self.fixed)
        for s, zi in zip(self.params, z):
            low, high = _bounds(s)
            v = low + zi * (high - low)
            d = decimals_for(s)
            v = float(np.clip(round(v, d), low, high))
            out[s.key] = float(round(v)) if s.integer else v
        i = len(self.params)
        for sites, lo, hi in self.groups:
            k = len(sites)
            w = lo + z[i:i + k] * (hi - lo)
            i += k
            w = _project_box_simplex(w, lo, hi)
            d = max(decimals_for(s) for s in sites)
            for s, v in zip(sites, _round_simplex(w, lo, hi, d)):
                out[s.key] = v
        return out


def _bounds(s: NumberSite) -> tuple[float, float]:
    """``(min, max)`` of a parameter of the search space (only bounded ones are searched)."""
    assert s.min is not None and s.max is not None, f"'{s.key}' has no bounds"
    return s.min, s.max


def _project_box_simplex(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The point ``clip(w + t, lo, hi)`` that sums to 1 (bisection on ``t``)."""
    a, b = -1.0 - float(w.max()), 1.0 - float(w.min()) + 1.0
    for _ in range(100):
        t = (a + b) / 2
        if np.clip(w + t, lo, hi).sum() > 1.0:
            b = t
        else:
            a = t
    return np.clip(w + (a + b) / 2, lo, hi)


def _round_simplex(w: np.ndarray, lo: np.ndarray, hi: np.ndarray, decimals: int) -> list[float]:
    """Round weights to ``decimals`` keeping the sum exactly 1 and the bounds (largest remainder)."""
    unit = 10 ** decimals
    a = w * unit
    lo_u = np.ceil(lo * unit - 1e-9).astype(int)
    hi_u = np.floor(hi * unit + 1e-9).astype(int)
    f = np.clip(np.floor(a + 1e-9).astype(int), lo_u, hi_u)
    rest = unit - int(f.sum())
    frac = a - f
    order = list(np.argsort(-frac, kind="stable"))
    while rest > 0:
        moved = False
        for i in order:
            if rest > 0 and f[i] < hi_u[i]:
                f[i] += 1
                rest -= 1
                moved = True
        if not moved:
            break
    order = list(np.argsort(frac, kind="stable"))
    while rest < 0:
        moved = False
        for i in order:
            if rest < 0 and f[i] > lo_u[i]:
                f[i] -= 1
                rest += 1
                moved = True
        if not moved:
            break
    return [int(x) / unit for x in f]


def _space(sites: list[NumberSite], vary: Sequence[str] | None, freeze: Sequence[str], weights: bool,
           weight_change: float, min_weight: float) -> _Space:
    keys = {s.key for s in sites}
    groups_all = {s.group for s in sites if s.kind == "weight" and s.group is not None}
    for name in list(vary or []) + list(freeze):
        if name not in keys and name not in groups_all:
            from engine.plan.parse import suggest

            searchable = sorted(keys | groups_all)
            hint = suggest(name, searchable)
            raise PlanErrors([PlanError("unknown-name", f"the plan has no parameter or scorecard weight '{name}'",
                                        None, (hint + " " if hint else "") + "the plan's numbers: "
                                        + ", ".join(searchable))])

    def chosen(s: NumberSite) -> bool:
        names = {s.key} | ({s.group} if s.group else set())
        if names & set(freeze):
            return False
        return vary is None or not vary or bool(names & set(vary))

    params = tuple(s for s in sites if s.kind == "parameter" and s.min is not None and s.max is not None
                   and s.max > s.min and chosen(s))
    fixed = {s.key: s.value for s in sites if s not in params}
    groups = []
    if weights:
        for g in dict.fromkeys(s.group for s in sites if s.kind == "weight"):
            gs = tuple(s for s in sites if s.group == g)
            if not all(chosen(s) for s in gs):
                continue
            d = max(decimals_for(s) for s in gs)
            step = round(weight_change, d)
            w0 = np.array([s.value for s in gs])
            lo = np.maximum(np.minimum(min_weight, w0), np.round(w0 - step, d))
            hi = np.minimum(1.0, np.round(w0 + step, d))
            if np.all(hi - lo <= 0) or len(gs) < 2:
                continue
            groups.append((gs, lo, hi))
            for s in gs:
                fixed.pop(s.key, None)
    return _Space(params, tuple(groups), fixed)


# --------------------------------------------------------------------------- the result


class ConstraintRow(TypedDict):
    """One constraint of a recalibration, before and after (a row of the JSON document)."""

    constraint: str
    metric: str
    op: str
    bound: float
    baseline: float | None
    recalibrated: float | None
    satisfied: bool
    excess: float | None


@dataclass
class Recalibration:
    """What :func:`recalibrate` found.

    Attributes:
        plan_text: the recalibrated plan (the original text with only the changed numbers).
        checked: the recalibrated plan, validated.
        changes: one row per plan number that moved (old -> new, bounds, line).
        effects: one row per metric: baseline, recalibrated, paired difference and 95% CI.
        quartiles: per skill quartile of the starting team: attainment, payout, share at
            target and effort before and after, with paired differences.
        targets: per rep and period targets (``rep_id, period, target``) when requested.
        target_summary: per rep (potential, expected output, annual target, chance to reach).
        history: every evaluation of the search (stage, numbers, objective, violation).
        feasible: whether the returned plan meets every constraint (on the simulation).
        notes: what the user should know (infeasibility, no improvement, target stretch...).
    """

    plan_text: str
    checked: CheckedPlan
    objective: str
    sense: str
    constraints: list[Constraint]
    changes: pd.DataFrame
    effects: pd.DataFrame
    quartiles: pd.DataFrame
    history: pd.DataFrame
    feasible: bool
    baseline: Evaluation
    result: Evaluation
    evaluations: int
    budget: int
    runs: int
    seed: int
    scenario: str
    method: str
    margin: float | None
    notes: list[str] = field(default_factory=list)
    targets: pd.DataFrame | None = None
    target_roster: pd.DataFrame | None = None
    target_summary: pd.DataFrame | None = None
    target_info: dict | None = None
    constraint_rows: list[ConstraintRow] = field(default_factory=list)
    baseline_text: str = ""  # the original plan's text (for the diff)

    @property
    def document(self) -> dict:
        """The JSON document (``--json``)."""
        def records(df: pd.DataFrame | None) -> list | None:
            if df is None:
                return None
            return [{k: _json(v) for k, v in row.items()} for row in df.to_dict(orient="records")]

        return {
            "plan": self.checked.plan.name,
            "scenario": self.scenario,
            "runs": self.runs,
            "seed": self.seed,
            "method": self.method,
            "evaluations": self.evaluations,
            "budget": self.budget,
            "objective": {"metric": self.objective, "sense": self.sense,
                          "baseline": self.baseline.values.get(self.objective),
                          "recalibrated": self.result.values.get(self.objective)},
            "margin": self.margin,
            "constraints": self.constraint_rows,
            "feasible": self.feasible,
            "changes": records(self.changes),
            "effects": records(self.effects),
            "quartiles": records(self.quartiles),
            "targets": None if self.target_info is None else {**self.target_info,
                                                              "reps": records(self.target_summary)},
            "notes": self.notes,
            "history": records(self.history),
            "baseline": self.baseline.document,
            "recalibrated": self.result.document,
        }


def _json(v):
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


# --------------------------------------------------------------------------- the spec


def _names(x: str | Sequence[str]) -> tuple[str, ...]:
    return (x,) if isinstance(x, str) else tuple(x)


@dataclass(frozen=True)
class RecalibrationSpec:
    """What a recalibration optimises, under which constraints, how it searches, what may
    move, and which targets it sets. A frozen value, checked when it is made.

    Attributes:
        maximize: metric to maximise (see :func:`metric_catalogue`); or
        minimize: metric to minimise (exactly one of the two).
        subject_to: constraints, as text (``"cost_of_sales <= 0.12"``) or :class:`Constraint`;
            read against the scenario's metrics by :meth:`constraints_for`.
        budget: simulations the search may run, the baseline included.
        screen: Latin-hypercube points before the local search (default: about a third of
            the budget, at most 4 + 2 x dimensions).
        method: ``cobyla`` (default) or ``cobyqa`` for the local search; ``screen`` for none.
        margin: contribution margin rate for ``profit`` (default :data:`DEFAULT_MARGIN`,
            unless the scenario produces a ``margin`` column).
        vary: only these parameters / scorecards (component names) move (default: all).
        freeze: these never move.
        weights: whether scorecard weights are searched.
        weight_change: how far each weight may move from its current value (absolute).
        min_weight: no weight is moved below this (a weight already below stays put or rises).
        targets: also decompose the company target into per-rep targets.
        company_target: the annual company target (default: the roster's quota total).
        potential_column: roster column with each rep's potential (expected annual output
            under the current plan); default: the simulated output of the rep's seat.
        share_goal: share of reps the targets should let reach target (reported).

    Raises:
        PlanErrors: not exactly one objective (``bad-objective``), or an option out of range
            (``bad-option``: method, budget, margin, share goal, company target).
    """

    maximize: str | None = None
    minimize: str | None = None
    subject_to: Sequence[str | Constraint] = ()
    budget: int = DEFAULT_BUDGET
    screen: int | None = None
    method: str = "cobyla"
    margin: float | None = None
    vary: Sequence[str] | None = None
    freeze: Sequence[str] = ()
    weights: bool = True
    weight_change: float = DEFAULT_WEIGHT_CHANGE
    min_weight: float = DEFAULT_MIN_WEIGHT
    targets: bool = False
    company_target: float | None = None
    potential_column: str | None = None
    share_goal: float = 0.6
    closed_periods: tuple[str, ...] = ()  # periods with actuals: they keep their targets

    def __post_init__(self) -> None:
        # Sequences are kept as tuples, so that the spec is an immutable value.
        subject_to = (self.subject_to,) if isinstance(self.subject_to, str) else tuple(self.subject_to)
        object.__setattr__(self, "subject_to", subject_to)
        object.__setattr__(self, "vary", None if self.vary is None else _names(self.vary))
        object.__setattr__(self, "freeze", _names(self.freeze))
        if (self.maximize is None) == (self.minimize is None):
            raise PlanErrors([PlanError("bad-objective", "give exactly one objective: --maximize METRIC or "
                                        "--minimize METRIC", None, "valid metrics: " + ", ".join(metric_catalogue()))])
        if self.method not in ("cobyla", "cobyqa", "screen"):
            raise PlanErrors([PlanError("bad-option", f"unknown method '{self.method}'", None,
                                        "use cobyla, cobyqa or screen")])
        if self.budget < 1:
            raise PlanErrors([PlanError("bad-option", "--budget-evals must be at least 1")])
        if self.margin is not None and not 0 <= self.margin <= 1:
            raise PlanErrors([PlanError("bad-option",
                                        f"--margin is a share of revenue between 0 and 1 (got {self.margin:g})")])
        if not 0 < self.share_goal < 1:
            raise PlanErrors([PlanError("bad-option",
                                        f"--share-goal must be between 0 and 1 (got {self.share_goal:g})")])
        if self.targets and self.company_target is not None and self.company_target <= 0:
            raise PlanErrors([PlanError("bad-option",
                                        f"--company-target must be positive (got {float(self.company_target):g})")])

    @property
    def objective(self) -> str:
        """The metric optimised."""
        objective = self.maximize if self.maximize is not None else self.minimize
        assert objective is not None  # exactly one is given (checked when made)
        return objective

    @property
    def sense(self) -> str:
        """``maximize`` or ``minimize``."""
        return "maximize" if self.maximize is not None else "minimize"

    @property
    def margin_rate(self) -> float:
        """The margin rate used for ``profit`` when the scenario has no ``margin`` column."""
        return DEFAULT_MARGIN if self.margin is None else float(self.margin)

    def constraints_for(self, metrics: dict[str, MetricDef]) -> list[Constraint]:
        """The checks that need the scenario's metrics: the objective is one of ``metrics``
        and every constraint reads against them. Returns the constraints, parsed.

        Raises:
            PlanErrors: an unknown metric (``unknown-metric``) or a malformed constraint
                (``bad-constraint``).
        """
        if self.objective not in metrics:
            raise PlanErrors([_unknown_metric(self.objective, list(metrics), f"--{self.sense}")])
        return [c if isinstance(c, Constraint) else parse_constraint(c, metrics) for c in self.subject_to]


# --------------------------------------------------------------------------- the search


def _merit(ev: Evaluation | None, objective: str, sign: float, scale: float, constraints: list[Constraint],
           bounds: list[float], cscales: list[float]) -> tuple[float, float, np.ndarray]:
    """(normalised objective to minimise, total violation, constraint values g >= 0)."""
    value = None if ev is None else ev.values.get(objective)
    if ev is None or value is None:
        return math.inf, math.inf, np.full(len(constraints), -1.0)
    f = sign * value / scale
    slack: list[float] = []
    for c, b, s in zip(constraints, bounds, cscales):
        v = ev.values.get(c.metric)
        if v is None:
            slack.append(-1.0)
        else:
            slack.append(((b - v) if c.op == "<=" else (v - b)) / s)
    g = np.array(slack, dtype=float)
    return f, float(np.maximum(-g, 0.0).sum()), g


def _better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Is (objective, violation) ``a`` better than ``b``? Feasible beats infeasible."""
    fa, va = a
    fb, vb = b
    if va <= 0 and vb <= 0:
        return fa < fb
    if va <= 0 or vb <= 0:
        return va <= 0
    return va < vb or (va == vb and fa < fb)


def recalibrate(checked: CheckedPlan, spec: RecalibrationSpec, scenario: Scenario | None = None, *,
                runs: int = 100, seed: int | None = None, workers: int = 1, scheduler=None,
                progress: bool = False, backend: str = "numpy") -> Recalibration:
    """Search the plan's bounded parameters and scorecard weights for the best simulated plan.

    Args:
        checked: the plan (loaded with :func:`engine.plan.load_plan`, so it has its text).
        spec: what to optimise, under which constraints, how, what may move and which
            targets to set (:class:`RecalibrationSpec`).
        scenario: the team (default: the built-in scenario).
        runs: simulated plan years per candidate (the same runs for every candidate).
        seed: master seed (default: the scenario's); same seed, same answer.
        workers: processes (candidates and chunks of runs are spread over them).
        scheduler: address of a ``dask.distributed`` scheduler (or a ``distributed.Client``):
            the candidates' runs then run on its workers (results do not depend on it).
        progress: progress bar on stderr.
        backend: how every candidate is evaluated (a row of
            :data:`~engine.plan.compile.BACKENDS`); with ``numba`` the candidates, which
            differ only in numbers, share the plan's one compiled kernel.

    Raises:
        PlanErrors: unknown metric, malformed constraint, nothing to search, bad options.
    """
    scenario = scenario or default_scenario()
    seed = scenario.seed if seed is None else int(seed)
    metrics = metric_catalogue(scenario)
    constraints = spec.constraints_for(metrics)
    if runs < 2:
        raise PlanErrors([PlanError("bad-option", "recalibration needs at least 2 runs (for confidence intervals)")])
    if not getattr(checked, "source", None):
        raise PlanErrors([PlanError("no-source", "the plan has no source text; load it with load_plan()")])
    margin_rate = spec.margin_rate

    bar = progress_bar(spec.budget + 1, f"recalibrate {checked.plan.name}", unit="sim") if progress else None
    ev = _Evaluator(checked, scenario, seed, runs, workers, margin_rate, metrics, spec.budget,
                    progress=bar.update if bar is not None else None, scheduler=scheduler, backend=backend)
    try:
        space = _space(ev.sites, spec.vary, spec.freeze, spec.weights, spec.weight_change, spec.min_weight)
        if space.dim == 0:
            raise PlanErrors([PlanError(
                "nothing-to-recalibrate",
                f"plan {checked.plan.name} has no bounded parameter and no scorecard weights to recalibrate",
                None, "give parameters bounds: name: {value: 0.8, min: 0.6, max: 0.9}")])
        rec = _search(ev, space, spec, constraints, metrics)
        rec.margin = None if ev.margin_column else margin_rate
        if spec.targets:
            _add_targets(rec, ev, spec.company_target, spec.potential_column, spec.share_goal)
            rec.target_roster = target_roster(rec, ev, spec.closed_periods)
        return rec
    finally:
        ev.close()
        if bar is not None:
            bar.close()


@dataclass
class _Best:
    """The incumbent of the search: its (objective, violation), plan numbers and evaluation."""

    score: tuple[float, float]
    values: dict[str, float]
    eval: Evaluation


def _search(ev: _Evaluator, space: _Space, spec: RecalibrationSpec, constraints: list[Constraint],
            metrics: dict[str, MetricDef]) -> Recalibration:
    from scipy.optimize import NonlinearConstraint, minimize
    from scipy.stats import qmc

    checked, scenario, seed = ev.checked, ev.scenario, ev.seed
    objective, sense, method, screen = spec.objective, spec.sense, spec.method, spec.screen

    sign = -1.0 if sense == "maximize" else 1.0
    z0 = space.start()
    v0 = space.values(z0)
    (base, why), = ev.evaluate_many([v0], keep_reps=True)
    if base is None:
        raise PlanErrors([PlanError("baseline-failed", f"the current plan cannot be simulated: {why}")])
    b_obj = base.values.get(objective)
    if b_obj is None:
        raise PlanErrors([PlanError("undefined-metric", f"'{objective}' is undefined for this plan and scenario")])
    scale = abs(b_obj) if b_obj else 1.0
    bounds = [c.bound(base.values.get(c.metric)) for c in constraints]
    cscales = [max(abs(b) if math.isfinite(b) else 0.0, abs(base.values.get(c.metric) or 0.0), 1e-9)
               for c, b in zip(constraints, bounds)]
    for c, b in zip(constraints, bounds):
        if not math.isfinite(b):
            raise PlanErrors([PlanError("undefined-metric", f"constraint '{c.text}': the baseline value of "
                                        f"'{c.metric}' is undefined")])

    rows: list[dict] = []
    best = _Best(score=(math.inf, math.inf), values=v0, eval=base)
    recorded: dict[tuple, tuple[float, float, np.ndarray]] = {}

    def record(stage: str, values: dict, res) -> tuple[float, float, np.ndarray]:
        key = tuple(sorted(values.items()))
        if key in recorded:  # the same plan again (after rounding): already in the history
            return recorded[key]
        e, why_bad = res
        f, viol, g = _merit(e, objective, sign, scale, constraints, bounds, cscales)
        recorded[key] = (f, viol, g)
        rows.append({"evaluation": len(rows) + 1, "stage": stage, **values,
                     objective: None if e is None else e.values.get(objective),
                     "violation": viol if math.isfinite(viol) else None,
                     "invalid": why_bad})
        if e is not None and _better((f, viol), best.score):
            best.score, best.values, best.eval = (f, viol), values, e
        return f, viol, g

    record("baseline", v0, (base, None))
    d = space.dim
    n_screen = screen if screen is not None else min(max((ev.budget - 1) // 3, 0), 4 + 2 * d)
    if method == "screen" and screen is None:
        n_screen = ev.budget - 1
    n_screen = max(0, min(n_screen, ev.budget - ev.used))
    try:
        if n_screen:
            pts = qmc.LatinHypercube(d=d, seed=np.random.default_rng([seed, 0x5C4EE])).random(n_screen)
            cands = [space.values(z) for z in pts]
            for values, res in zip(cands, ev.evaluate_many(cands), strict=True):
                record("screen", values, res)
        if method != "screen" and ev.used < ev.budget:
            start_values = best.values
            # The point of the unit cube that gives the best values so far.
            z_start = z0
            if start_values is not v0 and n_screen:
                for z, values in zip(pts, cands):
                    if values == start_values:
                        z_start = z
                        break
            def at(z: np.ndarray) -> tuple[float, float, np.ndarray]:
                values = space.values(z)
                key = tuple(sorted(values.items()))
                if key not in recorded:
                    res, = ev.evaluate_many([values])
                    record("local", values, res)
                f, viol, g = recorded[key]
                bigf = 10.0 + 10.0 * abs(best.score[0]) if math.isfinite(best.score[0]) else 10.0
                return (f if math.isfinite(f) else bigf), viol, g

            cons = []
            if constraints:
                cons = [NonlinearConstraint(lambda z: at(z)[2], 0.0, np.inf)]
            try:
                if method == "cobyqa":
                    minimize(lambda z: at(z)[0], np.asarray(z_start), method="COBYQA",
                             bounds=[(0.0, 1.0)] * d, constraints=cons,
                             options={"maxfev": 10 * ev.budget, "initial_tr_radius": 0.25,
                                      "final_tr_radius": 0.01})
                else:
                    minimize(lambda z: at(z)[0], np.asarray(z_start), method="COBYLA",
                             bounds=[(0.0, 1.0)] * d, constraints=cons,
                             options={"maxiter": 10 * ev.budget, "rhobeg": 0.25, "tol": 0.01})
            except _BudgetExhausted:
                pass
    except _BudgetExhausted:
        pass

    # The winner, with per-rep results for the quartiles (free when it is the baseline).
    values = best.values
    result = best.eval
    if result.reps is None:  # not expected: the incumbent keeps its per-rep arrays
        (again, why), = ev.evaluate_many([values], keep_reps=True)
        if again is None:
            raise RuntimeError(why)
        result = again
    text, new_checked = ev.plan_for(values)
    _f, viol, g = _merit(result, objective, sign, scale, constraints, bounds, cscales)
    feasible = viol <= 0

    notes = []
    crow: list[ConstraintRow] = []
    for c, b, gi in zip(constraints, bounds, g):
        bv, nv = base.values.get(c.metric), result.values.get(c.metric)
        ok = bool(gi >= 0)
        crow.append({"constraint": c.text.strip(), "metric": c.metric, "op": c.op, "bound": b, "baseline": bv,
                     "recalibrated": nv, "satisfied": ok,
                     "excess": None if ok or nv is None else (nv - b if c.op == "<=" else b - nv)})
    if constraints and not feasible:
        broken = [r for r in crow if not r["satisfied"]]
        kind = metrics
        parts = [f"{r['constraint']} (got {figure(r['recalibrated'], kind[r['metric']].kind)}, "
                 f"{'over' if r['op'] == '<=' else 'under'} by {figure(r['excess'], kind[r['metric']].kind, True)})"
                 for r in broken]
        notes.append(f"no candidate met every constraint in {ev.used} simulations; this is the least infeasible "
                     "one found: " + "; ".join(parts))
    if values == v0:
        notes.append("no candidate did better than the current plan: the plan is returned unchanged")

    changes = _changes(ev.sites, v0, values)
    effects = _effects(base, result, metrics, objective, constraints, scenario.primary_measure)
    quartiles = _quartiles(base.reps, result.reps, ev.sim.seats)
    history = pd.DataFrame(rows)
    return Recalibration(
        plan_text=text, checked=new_checked, objective=objective, sense=sense, constraints=constraints,
        changes=changes, effects=effects, quartiles=quartiles, history=history, feasible=feasible, baseline=base,
        result=result, evaluations=ev.used, budget=ev.budget, runs=ev.runs, seed=ev.seed, scenario=scenario.name,
        method=method, margin=None, notes=notes, constraint_rows=crow, baseline_text=checked.source)


def _changes(sites: list[NumberSite], old: dict, new: dict) -> pd.DataFrame:
    rows = []
    for s in sites:
        if new.get(s.key, s.value) == old.get(s.key, s.value):
            continue
        rows.append({"name": s.key, "kind": s.kind, "old": old[s.key], "new": new[s.key],
                     "min": s.min if s.kind == "parameter" else None,
                     "max": s.max if s.kind == "parameter" else None, "line": s.line,
                     "old_text": s.scalar.text,
                     "new_text": format_number(new[s.key], s.scalar.text, decimals_of(new[s.key], s))})
    return pd.DataFrame(rows, columns=["name", "kind", "old", "new", "min", "max", "line", "old_text", "new_text"])


def _effects(base: Evaluation, new: Evaluation, metrics: dict[str, MetricDef], objective: str,
             constraints: list[Constraint], primary: str = "revenue") -> pd.DataFrame:
    from engine.jobs.compare import paired_difference

    roles: dict[str, str] = {objective: "objective"}
    for c in constraints:
        roles.setdefault(c.metric, "constraint")
    rows = []
    for name, m in metrics.items():
        b, n = base.values.get(name), new.values.get(name)
        if b is None and n is None:
            continue
        if name == f"measures.{primary}" and name not in roles:
            continue  # the same figure as revenue
        diff = {"mean": None if b is None or n is None else n - b, "ci_low": None, "ci_high": None}
        if name in base.per_run and name in new.per_run:
            pdiff = paired_difference(base.per_run[name], new.per_run[name])
            diff["ci_low"], diff["ci_high"] = pdiff["ci_low"], pdiff["ci_high"]
            if pdiff["ci_low"] is not None and diff["mean"] is not None:
                # Centre the interval on the headline difference (the paired mean of per-run
                # ratios can differ slightly from the difference of ratios of sums).
                half = (pdiff["ci_high"] - pdiff["ci_low"]) / 2
                diff["ci_low"], diff["ci_high"] = diff["mean"] - half, diff["mean"] + half
        rows.append({"metric": name, "label": m.label, "kind": m.kind, "role": roles.get(name, ""),
                     "baseline": b, "recalibrated": n, "difference": diff["mean"],
                     "ci_low": diff["ci_low"], "ci_high": diff["ci_high"]})
    return pd.DataFrame(rows)


def _quartile_mean(r: RepArrays, fig: str, sel: np.ndarray, n: np.ndarray, seats: int) -> np.ndarray:
    """Per run: the mean of a per-rep figure over the selected starting reps."""
    x = {"attainment": r.attainment, "payout": r.payout, "effort": r.effort,
         "at_or_above_target": (r.attainment >= 1.0).astype(float)}[fig][:, :seats]
    return np.where(sel, x, 0.0).sum(axis=1) / n


QUARTILE_FIGURES = (("attainment", "attainment", "pct"), ("payout", "payout", "money"),
                    ("at_or_above_target", "at or above target", "pct"), ("effort", "effort", "num"))


def _quartiles(base: RepArrays | None, new: RepArrays | None, seats: int) -> pd.DataFrame:
    """Per skill quartile of the starting team (the same people under both plans)."""
    from engine.jobs.compare import paired_difference

    cols = ["quartile", "figure", "baseline", "recalibrated", "difference", "ci_low", "ci_high"]
    if base is None or new is None:
        return pd.DataFrame(columns=cols)
    skill = base.skill[:, :seats]
    mask = base.rep_mask[:, :seats] & new.rep_mask[:, :seats]
    ranks = np.argsort(np.argsort(np.where(mask, skill, np.inf), axis=1, kind="stable"), axis=1)
    counts = mask.sum(axis=1, keepdims=True)
    q = np.where(mask, np.minimum((4 * ranks) // np.maximum(counts, 1), 3), -1)
    rows = []
    names = ["Q1 (lowest skill)", "Q2", "Q3", "Q4 (highest skill)"]
    for k in range(4):
        sel = q == k
        n = np.maximum(sel.sum(axis=1), 1)
        for fig, label, kind in QUARTILE_FIGURES:
            a, b = (_quartile_mean(r, fig, sel, n, seats) for r in (base, new))
            d = paired_difference(a, b)
            rows.append({"quartile": names[k], "figure": label, "kind": kind, "baseline": float(a.mean()),
                         "recalibrated": float(b.mean()), "difference": d["mean"], "ci_low": d["ci_low"],
                         "ci_high": d["ci_high"]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- targets


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


def _add_targets(rec: Recalibration, ev: _Evaluator, company_target: float | None,
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


def target_roster(rec: Recalibration, ev: _Evaluator, closed: Sequence[str] = ()) -> pd.DataFrame | None:
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
