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

Its pieces, along the data flow: :mod:`engine.jobs.objectives` (what can be optimised and
constrained), :mod:`engine.jobs.search_space` (the plan's numbers as a point of the unit
cube), :mod:`engine.jobs.candidates` (a candidate simulated, cached, within the budget),
this module (the search and its result) and :mod:`engine.jobs.targets` (new targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.errors import PlanError, PlanErrors
from engine.core.text import figure
from engine.jobs.candidates import BudgetExhausted, Evaluation, Evaluator, RepArrays
from engine.jobs.objectives import (
    Constraint,
    MetricDef,
    metric_catalogue,
    parse_constraint,
    unknown_metric,
)
from engine.jobs.recalibration import ConstraintRow, Recalibration
from engine.jobs.search_space import SearchSpace, space_of
from engine.jobs.targets import add_targets, decompose_targets, target_roster, write_targets
from engine.plan.rewrite import (
    NumberSite,
    decimals_of,
    format_number,
)
from engine.plan.validate import CheckedPlan
from engine.sim.executor import progress_bar
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
            raise PlanErrors([unknown_metric(self.objective, list(metrics), f"--{self.sense}")])
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
                progress: bool = False, backend: str | None = None) -> Recalibration:
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
            :data:`~engine.plan.compile.BACKENDS`; default
            :func:`~engine.plan.compile.default_backend`); with ``numba`` the candidates, which
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
    ev = Evaluator(checked, scenario, seed, runs, workers, margin_rate, metrics, spec.budget,
                    progress=bar.update if bar is not None else None, scheduler=scheduler, backend=backend)
    try:
        space = space_of(ev.sites, spec.vary, spec.freeze, spec.weights, spec.weight_change, spec.min_weight)
        if space.dim == 0:
            raise PlanErrors([PlanError(
                "nothing-to-recalibrate",
                f"plan {checked.plan.name} has no bounded parameter and no scorecard weights to recalibrate",
                None, "give parameters bounds: name: {value: 0.8, min: 0.6, max: 0.9}")])
        rec = _search(ev, space, spec, constraints, metrics)
        rec.margin = None if ev.margin_column else margin_rate
        if spec.targets:
            add_targets(rec, ev, spec.company_target, spec.potential_column, spec.share_goal)
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


def _search(ev: Evaluator, space: SearchSpace, spec: RecalibrationSpec, constraints: list[Constraint],
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
            except BudgetExhausted:
                pass
    except BudgetExhausted:
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
