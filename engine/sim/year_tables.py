"""A simulated year as a company would hold it: roster and actuals tables, for synthetic
history and back-tests (:func:`simulated_year_tables`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.sim.simulate import ChunkResult, Simulation

__all__ = ["simulated_year_tables"]


def simulated_year_tables(sim: Simulation, result: ChunkResult, i: int, until: int | None = None):
    """The roster and actuals of one simulated year as a company would hold them.

    For synthetic history and back-tests: run ``i`` (position in ``result``, a chunk run
    with ``keep=True``) as real files, seen at the end of month ``until`` (default: the
    year): every rep who held a seat by then (``start_date`` for those hired during the
    year, ``end_date`` for those who left before then) and one transaction per rep and
    active month (dated the 1st) with every output of the scenario. ``tenure_months`` is
    the rep's tenure at the start of the year (0 for hires) and ``status`` the simulator's
    status at the end of month ``until``.

    Returns:
        ``(roster, actuals)`` DataFrames, in the formats ``incentive payout`` reads.
    """
    import pandas as pd

    if result.detail is None:
        raise ValueError("run the chunk with keep=True")
    d = result.detail
    M = sim.months if until is None else int(until)
    active = d["active"][i, :, :M]
    seat = d["seat"][i]
    slots = np.nonzero(active.any(axis=1))[0]
    ids = sim._rep_ids()
    starts = [dt.date(sim.start.year + (sim.start.month - 1 + m) // 12, (sim.start.month - 1 + m) % 12 + 1, 1)
              for m in range(sim.months + 1)]
    first = np.argmax(active, axis=1)
    last = M - 1 - np.argmax(active[:, ::-1], axis=1)
    rows = []
    for s in slots:
        row: dict[str, object] = {"rep_id": str(ids[s])}
        for name, col in sim.roster.columns.items():
            v = np.asarray(col)[seat[s]]
            row[name] = v.item() if hasattr(v, "item") else v
        hired = bool(d["hired"][i, s])
        tenure0 = 0.0 if hired else float(d["tenure0"][i, s])
        row["tenure_months"] = round(tenure0, 2)
        at_end = tenure0 + active[s].sum()  # months in role by the end of month `until`
        row["status"] = "new_hire" if hired or at_end < sim.scenario.ramp_months else "tenured"
        row["start_date"] = starts[first[s]].isoformat() if hired else ""
        gone = bool(d["left"][i, s]) and last[s] < M - 1
        row["end_date"] = (starts[last[s] + 1] - dt.timedelta(days=1)).isoformat() if gone else ""
        rows.append(row)
    roster = pd.DataFrame(rows)
    ss, mm = np.nonzero(active[slots])
    acts = {"rep_id": [str(ids[slots[s]]) for s in ss], "date": [starts[m].isoformat() for m in mm]}
    for col, arr in d["actual"].items():
        acts[col] = arr[i][slots[ss], mm]
    return roster, pd.DataFrame(acts)
