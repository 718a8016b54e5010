"""Running a simulation: chunks of runs, progress, and the result document."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

from engine.plan.validate import CheckedPlan
from engine.sim.metrics import Accumulator
from engine.sim.scenario import Scenario, default_scenario
from engine.sim.simulate import Simulation

__all__ = ["SimResult", "simulate", "progress_enabled"]


@dataclass
class SimResult:
    """One plan simulated on one scenario.

    Attributes:
        document: the JSON document of ``incentive simulate`` (a dict).
        per_run: per-run values of the compared figures (for paired differences).
    """

    document: dict
    per_run: dict[str, np.ndarray]


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


def simulate(checked: CheckedPlan, scenario: Optional[Scenario] = None, runs: int = 200, seed: Optional[int] = None,
             chunk_runs: Optional[int] = None, progress: bool = False, params: Optional[dict] = None,
             label: Optional[str] = None) -> SimResult:
    """Simulate ``runs`` plan years of the scenario's team under the plan.

    Args:
        checked: the validated plan.
        scenario: the scenario (default: the built-in default scenario).
        runs: number of Monte Carlo runs.
        seed: master seed (default: the scenario's). Same seed, same result, whatever
            ``chunk_runs`` is.
        chunk_runs: runs simulated together (default: chosen so arrays stay small).
        progress: show a progress bar on stderr.
        params: plan parameter overrides.
        label: text for the progress bar.
    """
    scenario = scenario or default_scenario()
    seed = scenario.seed if seed is None else int(seed)
    if runs < 1:
        raise ValueError("runs must be at least 1")
    sim = Simulation(checked, scenario, seed, params)
    size = chunk_runs or sim.chunk_size()
    acc = Accumulator(runs, scenario.actual_columns)
    starts = list(range(0, runs, size))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=runs, desc=label or checked.plan.name, unit="run", file=sys.stderr, leave=False,
                   ncols=_stderr_columns())
    try:
        for lo in starts:
            idx = np.arange(lo, min(lo + size, runs))
            acc.add(sim.run_chunk(idx))
            if bar is not None:
                bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()
    doc = acc.document(checked.plan.name, scenario.name, sim.seats, sim.P, seed)
    return SimResult(doc, acc.per_run_metrics())
