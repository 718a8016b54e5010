"""Seconds (wall and CPU) of ``simulate`` for each plan ``compare`` runs, in one process.

Run: ``PYTHONPATH=ENGINE python benchmarks/bench_plans.py [--runs 100] [--profile PLAN]``
with ``ENGINE`` the root of the engine to time (a worktree of another commit, to compare
two engines in one run: call it for each in turn). ``--profile PLAN`` prints that plan's
cProfile (cumulative and own time). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("seeds_base_float_excess", "classic_ae", "kpi_scorecard", "team_contest", "annual_quarterly_trueup")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--profile", default=None, help="a plan to profile")
    args = ap.parse_args()
    from engine.plan import load_plan
    from engine.sim.run import simulate
    from engine.sim.scenario import default_scenario

    sc = default_scenario()
    simulate(load_plan(ROOT / "scenarios" / "plans" / f"{NAMES[0]}.yaml"), sc, runs=2)  # imports, kernels
    for name in NAMES:
        plan = load_plan(ROOT / "scenarios" / "plans" / f"{name}.yaml")
        prof = cProfile.Profile() if name == args.profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        if prof is not None:
            prof.enable()
        simulate(plan, sc, runs=args.runs)
        if prof is not None:
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        print(f"{name:<28} wall {time.perf_counter() - t0:6.2f} s  cpu {time.process_time() - c0:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
