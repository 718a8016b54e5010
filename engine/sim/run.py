"""Simulating a plan: the runs on :mod:`engine.sim.executor`, and the result document."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from engine.plan.validate import CheckedPlan
from engine.sim.executor import Executor, SimTask, chunks_of, progress_enabled, simulation_for
from engine.sim.metrics import Accumulator, RepDetail
from engine.sim.scenario import Scenario, default_scenario

__all__ = ["SimResult", "progress_enabled", "simulate"]


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
             keep_reps: bool = False, executor: Executor | None = None, backend: str = "numpy") -> SimResult:
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
            :data:`~engine.plan.compile.BACKENDS`); the document's ``backend`` says which
            one the plan runs on (``numba`` falls back to ``numpy`` for a plan its kernel
            does not compute, and says why) and the kernel's compile time in this process.
    """
    scenario = scenario or default_scenario()
    seed = scenario.seed if seed is None else int(seed)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    task = SimTask(checked, scenario, seed, params, backend=backend)
    sim = simulation_for(task)  # built here once; forked workers inherit it
    with (Executor(workers, scheduler) if executor is None else nullcontext(executor)) as ex:
        chunks = chunks_of(runs, chunk_runs or ex.chunk_size(sim.slots, runs))
        acc = Accumulator(runs, sim.scenario.actual_columns)  # the team as shaped to the plan
        detail = RepDetail(runs, sim.slots, sim.seats) if keep_reps else None
        for _, chunk in ex.imap([(task, idx) for idx in chunks], progress=progress,
                                desc=label or checked.plan.name):
            acc.add(chunk)  # the accumulator does not depend on arrival order
            if detail is not None:
                detail.add(chunk)  # nor does the detail (filled by run index)
    doc = acc.document(checked.plan.name, scenario.name, sim.seats, sim.P, seed)
    describe = getattr(sim.prog, "describe", None)
    doc["backend"] = describe() if describe is not None else {"requested": backend, "ran": backend}
    return SimResult(doc, acc.per_run_metrics(), detail, checked.plan.currency)
