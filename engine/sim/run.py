"""Simulating a plan: the runs on :mod:`engine.sim.executor`, and the result document."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from engine.plan.compile import default_backend
from engine.plan.validate import CheckedPlan
from engine.sim.executor import Executor, SimTask, chunks_of, progress_enabled, simulation_for
from engine.sim.metrics import Accumulator, RepDetail
from engine.sim.scenario import Scenario, default_scenario

__all__ = ["CROSS_REP_WEIGHT", "SimResult", "progress_enabled", "simulate", "simulate_plans"]


@dataclass
class SimResult:
    """One plan simulated on one scenario.

    Attributes:
        document: the JSON document of ``incentive simulate`` (a dict).
        per_run: per-run values of the compared figures (for paired differences).
        detail: per-rep values for charts (a :class:`~engine.sim.metrics.RepDetail`), when
            simulated with ``keep_reps=True``; never part of the document.
        currency: the plan's currency (for labels).
    """

    document: dict
    per_run: dict[str, np.ndarray]
    detail: RepDetail | None = None
    currency: str = ""

    @property
    def plan(self) -> str:
        return self.document["plan"]


def simulate(checked: CheckedPlan, scenario: Scenario | None = None, runs: int = 200, seed: int | None = None,
             chunk_runs: int | None = None, progress: bool = False, params: dict | None = None,
             label: str | None = None, workers: int = 1, scheduler: str | None = None,
             keep_reps: bool = False, executor: Executor | None = None, backend: str | None = None) -> SimResult:
    """Simulate ``runs`` plan years of the scenario's team under the plan.

    Args:
        checked: the validated plan.
        scenario: the scenario (default: the built-in default scenario).
        runs: number of Monte Carlo runs.
        seed: master seed (default: the scenario's). Same seed, same result, whatever
            ``chunk_runs`` and ``workers`` are: run ``i`` depends only on ``(seed, i)``.
        chunk_runs: runs simulated together (default: from available memory).
        progress: show a progress bar on stderr.
        params: plan parameter overrides.
        label: text for the progress bar.
        workers: processes to use on this machine (1: this process only).
        scheduler: address of a ``dask.distributed`` scheduler (or a ``distributed.Client``);
            chunks then run on its workers, retried by Dask if a worker dies.
        keep_reps: also keep per-rep values for charts (``SimResult.detail``: a bounded
            sample of runs and per-run skill-quartile means); the document is unchanged.
        executor: an open :class:`~engine.sim.executor.Executor` to run on (its pool or
            cluster is kept for the caller's next plan); default: one for ``workers`` and
            ``scheduler``, closed on return.
        backend: the payout-program backend (a row of
            :data:`~engine.plan.compile.BACKENDS`; default
            :func:`~engine.plan.compile.default_backend`); the document's ``backend`` says which
            one the plan runs on (``numba`` falls back to ``numpy`` for a plan its kernel
            does not compute, and says why) and the kernel's compile time in this process.
    """
    return simulate_plans([checked], scenario, runs, seed, chunk_runs=chunk_runs, progress=progress, params=params,
                          label=label, workers=workers, scheduler=scheduler, keep_reps=keep_reps, executor=executor,
                          backend=backend)[0]


#: How much more a run of a plan with cross-rep terms costs than one without (each rep's
#: best response priced against the team): its chunks are sent first, so that they do not
#: finish last on one worker while the other has nothing left.
CROSS_REP_WEIGHT = 25


def simulate_plans(plans: Sequence[CheckedPlan], scenario: Scenario | None = None, runs: int = 200,
                   seed: int | None = None, chunk_runs: int | None = None, progress: bool = False,
                   params: dict | None = None, label: str | None = None, workers: int = 1,
                   scheduler: str | None = None, keep_reps: bool = False, executor: Executor | None = None,
                   backend: str | None = None) -> list[SimResult]:
    """:func:`simulate` of several plans on the same scenario, seed and runs, as one batch.

    Every plan's chunks go to the executor together (the costliest plans' first), so the
    workers never wait for one plan to finish before the next starts; each result is the
    one :func:`simulate` gives that plan alone (a run depends only on the seed and its
    index, and the accumulators not on the order chunks arrive in). Arguments as
    :func:`simulate`'s; ``label`` names the batch on the progress bar.
    """
    scenario = scenario or default_scenario()
    seed = scenario.seed if seed is None else int(seed)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    backend = backend or default_backend()
    tasks = [SimTask(checked, scenario, seed, params, backend=backend) for checked in plans]
    sims = [simulation_for(task) for task in tasks]  # built here once; forked workers inherit them
    with (Executor(workers, scheduler) if executor is None else nullcontext(executor)) as ex:
        jobs = [(j, idx) for j, sim in enumerate(sims)
                for idx in chunks_of(runs, chunk_runs or ex.chunk_size(sim.slots, runs))]
        jobs.sort(key=lambda job: -(CROSS_REP_WEIGHT if sims[job[0]].cross_rep else 1))  # stable: runs in order
        accs = [Accumulator(runs, sim.scenario.actual_columns) for sim in sims]  # the team as shaped to the plan
        details = [RepDetail(runs, sim.slots, sim.seats) if keep_reps else None for sim in sims]
        desc = label or (plans[0].plan.name if len(plans) == 1 else f"{len(plans)} plans")
        for n, chunk in ex.imap([(tasks[j], idx) for j, idx in jobs], progress=progress, desc=desc):
            j = jobs[n][0]
            accs[j].add(chunk)  # the accumulator does not depend on arrival order
            detail = details[j]
            if detail is not None:
                detail.add(chunk)  # nor does the detail (filled by run index)
    out = []
    for checked, sim, acc, detail in zip(plans, sims, accs, details, strict=True):
        doc = acc.document(checked.plan.name, scenario.name, sim.seats, sim.P, seed)
        describe = getattr(sim.prog, "describe", None)
        doc["backend"] = describe() if describe is not None else {"requested": backend, "ran": backend}
        out.append(SimResult(doc, acc.per_run_metrics(), detail, checked.plan.currency))
    return out
