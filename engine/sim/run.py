"""Running a simulation: chunks of runs, progress, and the result document."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from engine.errors import DataError
from engine.plan.validate import CheckedPlan
from engine.sim.metrics import Accumulator, RepDetail
from engine.sim.scenario import Scenario, default_scenario
from engine.sim.simulate import Simulation

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

    def table(self):
        """The key figures as a one-column pandas DataFrame (metric -> value, unformatted)."""
        from engine.jobs.compare import key_figures

        return key_figures([self])

    def _repr_html_(self) -> str:
        from engine.report.html import key_figures_html

        return key_figures_html([self])


def progress_enabled(json_to_stdout: bool) -> bool:
    """Progress bars only on an interactive terminal, never when stdout carries JSON."""
    return not json_to_stdout and sys.stderr.isatty()


def _stderr_columns() -> int:
    """Width of the terminal on stderr (80 where it reports none, as a fresh pty does)."""
    import os

    try:
        cols = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        cols = 0
    return cols if cols > 0 else 80


_SIMULATIONS: dict = {}  # per process: the Simulation of each (plan, scenario, seed) sent here
BYTES_PER_CELL = 3_000  # measured: about 1.2 GiB peak for 400,000 (run x slot) cells
MAX_CELLS = 400_000  # larger chunks do not run faster


def available_memory() -> int:
    """Bytes of memory available now (Linux), or 4 GiB where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 1024 ** 3


def chunk_runs_for(slots: int, runs: int, workers: int, memory: int | None = None) -> int:
    """Runs per chunk: within half the available memory shared by the workers, at most
    :data:`MAX_CELLS` cells, and small enough to give every worker several chunks."""
    budget = (available_memory() if memory is None else memory) // 2 // max(workers, 1)
    cells = max(min(MAX_CELLS, budget // BYTES_PER_CELL), slots)
    size = max(1, cells // max(slots, 1))
    if workers > 1:
        size = min(size, max(1, -(-runs // (4 * workers))))
    return size


def _run_chunk(checked: CheckedPlan, scenario: Scenario, seed: int, params, runs: np.ndarray):
    """Simulate some runs; the Simulation is built once per process and reused."""
    key = (checked.source, checked.overrides, scenario, seed, tuple(sorted((params or {}).items())))
    sim = _SIMULATIONS.get(key)
    if sim is None:
        _SIMULATIONS.clear()
        sim = _SIMULATIONS[key] = Simulation(checked, scenario, seed, params)
    return sim.run_chunk(runs)


def simulate(checked: CheckedPlan, scenario: Scenario | None = None, runs: int = 200, seed: int | None = None,
             chunk_runs: int | None = None, progress: bool = False, params: dict | None = None,
             label: str | None = None, workers: int = 1, scheduler: str | None = None,
             keep_reps: bool = False) -> SimResult:
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
    """
    scenario = scenario or default_scenario()
    seed = scenario.seed if seed is None else int(seed)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    workers = max(1, int(workers))
    sim = Simulation(checked, scenario, seed, params)
    size = chunk_runs or chunk_runs_for(sim.slots, runs, workers)
    acc = Accumulator(runs, scenario.actual_columns)
    detail = RepDetail(runs, sim.slots, sim.seats) if keep_reps else None
    chunks = [np.arange(lo, min(lo + size, runs)) for lo in range(0, runs, size)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=runs, desc=label or checked.plan.name, unit="run", file=sys.stderr, leave=False,
                   ncols=_stderr_columns())
    try:
        if scheduler is not None:
            for result, n in _run_on_dask(scheduler, checked, scenario, seed, params, chunks):
                acc.add(result)
                if detail is not None:
                    detail.add(result)
                if bar is not None:
                    bar.update(n)
        elif workers == 1 or len(chunks) == 1:
            for idx in chunks:
                chunk = sim.run_chunk(idx)
                acc.add(chunk)
                if detail is not None:
                    detail.add(chunk)
                if bar is not None:
                    bar.update(len(idx))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=ctx) as pool:
                futures = {pool.submit(_run_chunk, checked, scenario, seed, params, idx): idx for idx in chunks}
                for fut in as_completed(futures):
                    chunk = fut.result()
                    acc.add(chunk)  # the accumulator does not depend on arrival order
                    if detail is not None:
                        detail.add(chunk)  # nor does the detail (filled by run index)
                    if bar is not None:
                        bar.update(len(futures[fut]))
    finally:
        if bar is not None:
            bar.close()
    doc = acc.document(checked.plan.name, scenario.name, sim.seats, sim.P, seed)
    return SimResult(doc, acc.per_run_metrics(), detail, checked.plan.currency)


def _run_on_dask(scheduler, checked, scenario, seed, params, chunks):
    """Yield (chunk result, runs) as a Dask cluster completes the chunks.

    Each chunk is a pure function of (plan, scenario, seed, run indices), so Dask may run it
    on any worker and re-run it after a worker failure without changing the result.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - depends on the installation
        raise DataError("dask-missing", "--scheduler needs dask.distributed",
                        hint="pip install 'incentive-engine[dask]'") from None
    try:
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler, timeout=30)
    except OSError as exc:
        raise DataError("no-scheduler", f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                        hint="check the address (tcp://HOST:8786) or unset DASK_SCHEDULER_ADDRESS") from None
    try:
        futures = [client.submit(_run_chunk, checked, scenario, seed, params, idx, pure=False, retries=3)
                   for idx in chunks]
        sizes = {f.key: len(idx) for f, idx in zip(futures, chunks)}
        for fut in as_completed(futures):
            yield fut.result(), sizes[fut.key]
    finally:
        if client is not scheduler:
            client.close()
