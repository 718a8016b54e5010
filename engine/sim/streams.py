"""Random streams: one independent stream per run and per purpose.

Run ``i`` of a simulation with master seed ``seed`` draws what it needs for one purpose
(a trait, the output noise, the quit decisions, ...) from
``np.random.default_rng(np.random.SeedSequence([seed, i, STREAMS[purpose]]))`` and from
nothing else. So:

* a run's numbers do not depend on which other runs share its chunk, process or machine;
* plans compared on the same seed share every random number (common random numbers);
* a new behaviour adds a row to :data:`STREAMS` and draws from its own stream: every
  other seeded result stays bit-identical.

The roster (the company's seats, shared by every run) is drawn once per scenario from
``SeedSequence([scenario.seed, ROSTER_STREAM])``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["REDRAW_OFFSET", "ROSTER_STREAM", "STREAMS", "RunStreams", "roster_rng", "stream"]

STREAMS: dict[str, int] = {
    # Traits of the people in the slots (engine/sim/population.py), one stream each.
    "tenure": 1,
    "skill": 2,
    "effort_cost": 3,
    "risk_aversion": 4,
    "outside_offer": 5,
    "initial_morale": 6,
    # Month by month (engine/sim/simulate.py).
    "output_uniform": 10,  # U(0,1) per output, slot and month (counts, deals)
    "output_normal": 11,  # N(0,1) per output, slot and month (sizes, rates, scores)
    "quits": 12,  # U(0,1) per slot and month against the quit hazard
    "market": 13,  # N(0,1): the market's level shocks, start and monthly innovations (engine/sim/market.py)
    # Per run (forecasts): the behaviour the model assumes, drawn from its prior (engine/sim/uncertain.py).
    "behaviour": 14,
}
"""Purpose -> stream id. Add a row for a new behaviour; never renumber a row."""

REDRAW_OFFSET = 1 << 40
"""Run ``r``'s redrawn purposes come from run ``r + REDRAW_OFFSET`` (no real run is that far)."""

ROSTER_STREAM = 0x5EA7
"""The stream id of the scenario's roster (seats, quotas, extra columns)."""


def stream(seed: int, run: int, purpose: str) -> np.random.Generator:
    """The generator of one run for one purpose.

    Raises:
        KeyError: ``purpose`` is not a row of :data:`STREAMS` (the message lists them).
    """
    if purpose not in STREAMS:
        raise KeyError(f"unknown random stream '{purpose}' (known: {', '.join(STREAMS)})")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(run), STREAMS[purpose]]))


def roster_rng(scenario_seed: int) -> np.random.Generator:
    """The generator of a scenario's roster (the same for every run)."""
    return np.random.default_rng(np.random.SeedSequence([int(scenario_seed), ROSTER_STREAM]))


class RunStreams:
    """The streams of a chunk of runs, created on first use, one generator per run.

    Args:
        seed: master seed.
        runs: run indices of the chunk.
        redraw: purposes drawn from another run's streams (run ``r + REDRAW_OFFSET``):
            a run that shares only some of run ``r``'s randomness, for a variance
            decomposition (engine/jobs/forecast_runs.py).
    """

    def __init__(self, seed: int, runs: Iterable[int], redraw: frozenset[str] = frozenset()):
        self.seed = int(seed)
        self.runs = [int(r) for r in runs]
        self.redraw = redraw
        self._gens: dict[str, list[np.random.Generator]] = {}

    def __getitem__(self, purpose: str) -> list[np.random.Generator]:
        """Each run's generator for ``purpose`` (from run ``r + REDRAW_OFFSET`` for the
        purposes in ``redraw``)."""
        if purpose not in self._gens:
            shift = REDRAW_OFFSET if purpose in self.redraw else 0
            self._gens[purpose] = [stream(self.seed, r + shift, purpose) for r in self.runs]
        return self._gens[purpose]

    def random(self, purpose: str, shape: tuple[int, ...]) -> np.ndarray:
        """``(runs, *shape)`` U(0,1) draws, each run's block from its own stream."""
        return np.stack([g.random(shape) for g in self[purpose]])

    def standard_normal(self, purpose: str, shape: tuple[int, ...]) -> np.ndarray:
        """``(runs, *shape)`` N(0,1) draws, each run's block from its own stream."""
        return np.stack([g.standard_normal(shape) for g in self[purpose]])

    def sample(self, purpose: str, dist, shape: tuple[int, ...]) -> np.ndarray:
        """``(runs, *shape)`` draws of a scenario distribution (``dist.sample(rng, shape)``)."""
        return np.stack([np.asarray(dist.sample(g, shape), dtype=float) for g in self[purpose]])
