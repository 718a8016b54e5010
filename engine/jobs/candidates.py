"""Candidates of a recalibration simulated on common random numbers: every candidate is the
plan's own text with its numbers rewritten, simulated on the same scenario and seed, with a
cache of what was simulated and a budget of simulations (:class:`Evaluator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.core.errors import EngineError, PlanErrors
from engine.jobs.objectives import MetricDef
from engine.plan.compile import default_backend
from engine.plan.rewrite import NumberSite, number_sites, rewrite_plan
from engine.plan.validate import CheckedPlan
from engine.sim.executor import Executor, SimTask, chunks_of, simulation_for
from engine.sim.scenario import Scenario

__all__ = ["BudgetExhausted", "Evaluation", "Evaluator", "RepArrays", "stripped"]


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


class BudgetExhausted(Exception):
    pass


class Evaluator:
    """Simulates candidates on common random numbers, with a cache and a budget."""

    def __init__(self, checked: CheckedPlan, scenario: Scenario, seed: int, runs: int, workers: int,
                 margin: float, metrics: dict[str, MetricDef], budget: int, progress=None, scheduler=None,
                 backend: str | None = None):
        self.checked = checked
        self.backend = backend or default_backend()
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
        self.sim = simulation_for(SimTask(checked, scenario, seed, backend=self.backend))
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
                raise BudgetExhausted()
            else:
                self.used += 1
            seen[key] = i
            todo.append((i, key, plan))
        if todo:
            results = self._simulate([p for _, _, p in todo])
            for (i, key, _), res in zip(todo, results):
                self.cache[key] = (res[0] and stripped(res[0]), res[1])  # per-rep arrays: only to the caller
                out[i] = res
                if self.progress is not None:
                    self.progress(1)
        for i, values in enumerate(candidates):
            if out[i] is None:
                key = tuple(sorted(values.items()))
                if key in self.cache:
                    out[i] = self.cache[key]
                else:
                    raise BudgetExhausted()
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


def stripped(e: Evaluation) -> Evaluation:
    return Evaluation(e.values, e.per_run, e.document, None)
