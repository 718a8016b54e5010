"""Simulator throughput and peak memory, against a one-object-per-rep Python loop.

Run: ``make bench-sim`` (or ``python benchmarks/bench_simulate.py [--reps N] [--runs R]``).

Simulates the seeds plan (base + floating + excess, quarterly, with a complaints penalty)
on the default scenario scaled to ``--reps`` reps (default 10,000) for ``--runs`` runs
(default 1,000) of 12 months, streaming runs in chunks, and reports rep-months per second
and the process's peak resident memory. In the same run it times the equivalent
one-object-per-rep Python loop (``benchmarks/loop_baseline.py``: the same model, each rep
an object that evaluates the plan for itself with the scalar evaluator) on a small team,
and prints the ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engine.plan import load_plan
from engine.sim.metrics import Accumulator
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation

PLAN = HERE.parent / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1_000)
    ap.add_argument("--loop-reps", type=int, default=10, help="team size for the per-rep loop baseline")
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args()

    checked = load_plan(PLAN)
    base = default_scenario()
    sc = dataclasses.replace(base, reps=args.reps, teams=min(12, args.reps))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; plan {checked.plan.name}; scenario {base.name} scaled to {args.reps:,} reps")

    # Baseline: the same model, one object per rep, on a small team.
    from loop_baseline import run_loop

    small = dataclasses.replace(base, reps=args.loop_reps, teams=min(12, args.loop_reps))
    loop = run_loop(checked, small, args.loop_reps, args.seed)
    loop_rate = loop["rep_months"] / loop["seconds"]
    sim_small = Simulation(checked, small, args.seed)
    t0 = time.perf_counter()
    small_res = sim_small.run_chunk(np.arange(20))
    small_rate = small_res.active_months.sum() / (time.perf_counter() - t0)
    print(f"per-rep Python loop : {loop['rep_months']:>13,} rep-months in {loop['seconds']:8.2f} s = "
          f"{loop_rate:12,.0f} rep-months/s ({args.loop_reps} reps)")
    print(f"vectorized, same small team x 20 runs:                    {small_rate:12,.0f} rep-months/s")

    # The large run, streamed in chunks of runs.
    sim = Simulation(checked, sc, args.seed)
    size = sim.chunk_size()
    acc = Accumulator(args.runs, sc.actual_columns)
    t0 = time.perf_counter()
    done = 0
    for lo in range(0, args.runs, size):
        idx = np.arange(lo, min(lo + size, args.runs))
        acc.add(sim.run_chunk(idx))
        done += len(idx)
        el = time.perf_counter() - t0
        print(f"  {done:>6,}/{args.runs:,} runs, {el:7.1f} s, peak {peak_rss_mib():,.0f} MiB", flush=True)
    seconds = time.perf_counter() - t0
    doc = acc.document(checked.plan.name, sc.name, sim.seats, sim.P, args.seed)
    # Rep-months actually simulated (reps in the role), counted as the loop counts them.
    rep_months = int(acc.per_run["active_months"].sum())
    rate = rep_months / seconds
    print(f"vectorized engine   : {rep_months:>13,} rep-months in {seconds:8.1f} s = {rate:12,.0f} rep-months/s "
          f"({args.reps:,} seats x {args.runs:,} runs x {sim.months} months, chunks of {size} runs)")
    print(f"peak memory: {peak_rss_mib():,.0f} MiB")
    print(f"speed-up over the per-rep loop (same run): {rate / loop_rate:,.0f}x")
    print(f"sanity: cost mean {doc['cost']['mean']:,.0f}, attainment P50 {doc['attainment']['p50']:.3f}, "
          f"attrition {doc['morale']['attrition_rate']:.3f}")


if __name__ == "__main__":
    main()
