"""The numba backend against the numpy evaluator on the seeds plan, in one run.

Run: ``python benchmarks/bench_numba.py [--reps N] [--repeat K]`` (``make bench-numba``).

Evaluates ``scenarios/plans/seeds_base_float_excess.yaml`` (quarterly: a step at 80% / 100%
of target, a tiered commission on the excess with its cap, a complaints modifier, grades)
with ``compile_plan(..., backend="numpy")`` and ``backend="numba"`` on the same inputs, and
prints rep-months per second and the ratio for three workloads:

* ``statements``: ``--reps`` reps x 4 quarters (one plan year: 12 rep-months per rep),
  grades included, as ``incentive payout`` evaluates;
* ``what-if``: the simulator's pricing shape, ``(3 noise points, 12 effort candidates,
  --reps / 10 reps, 1 quarter)`` with the roster and activity broadcast over the leading
  axes, no grades, as ``Simulation._utility`` evaluates (a cell is one rep-quarter priced:
  3 rep-months);
* ``simulate``: ``Simulation.run_chunk`` of the default scenario scaled to ``--sim-reps``
  reps for ``--sim-runs`` runs, end to end, each backend's program handed to the simulator
  (rep-months simulated per second, best of ``--sim-repeat`` alternated runs; the backends'
  results compared bit for bit).

The kernel's compile time is reported apart, each in a new process: the first compile
(empty kernel cache) and the load from the disk cache. Timings are the best of
``--repeat`` after a warm-up, on one thread.

With ``--baseline DIR`` (a directory holding another version's ``engine`` package, e.g.
``git archive 0a9ce52 engine | tar -x -C DIR``) it also compares this engine with that one
outside the kernel, in the same run (``--skip-evaluate`` leaves out everything above):

* ``step``: ``Simulation.run_chunk`` of the seeds plan on the default scenario, per
  rep-month, for each backend and each chunk shape of ``--step-shapes`` (reps x runs),
  each engine in its own process (fastest of ``--step-repeat`` chunks after a warm-up),
  the two engines alternated for ``--rounds`` rounds, the fastest kept;
* ``cli``: ``incentive simulate PLAN --runs --cli-runs --workers 2`` end to end (wall time
  of the whole command), each backend and engine, alternated for ``--rounds`` rounds; the
  two engines' JSON documents must be identical.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_payout import best_of as _best_of

from engine.core.inputs import Inputs, PeriodInfo
from engine.plan import compile_plan, load_plan

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


def quarters() -> tuple[PeriodInfo, ...]:
    ends = [dt.date(2027, 3, 31), dt.date(2027, 6, 30), dt.date(2027, 9, 30), dt.date(2027, 12, 31)]
    return tuple(PeriodInfo(f"2027-Q{q + 1}", "quarter", 2027, q + 1, dt.date(2027, 3 * q + 1, 1), ends[q])
                 for q in range(4))


def statement_inputs(reps: int, seed: int = 0) -> Inputs:
    """``reps`` reps x 4 quarters of the seeds plan's columns."""
    rng = np.random.default_rng(seed)
    quota = rng.choice([900_000.0, 1_200_000.0, 1_500_000.0], size=reps)
    revenue = quota[:, None] / 4 * rng.lognormal(0.0, 0.35, size=(reps, 4))
    return Inputs(
        rep_ids=np.array([f"R{i:06d}" for i in range(reps)], dtype=object), periods=quarters(),
        roster={"quota": quota, "ti": np.full(reps, 20_000.0)},
        actuals={"revenue": revenue, "complaints": rng.poisson(1.5, size=(reps, 4)).astype(float)},
        active=np.ones((reps, 4), dtype=bool), proration=np.ones((reps, 4)),
    )


def what_if_inputs(reps: int, seed: int = 1) -> Inputs:
    """The simulator's pricing shape: (noise points, candidates, reps, window periods)."""
    rng = np.random.default_rng(seed)
    S, C, W = 3, 12, 1
    quota = rng.choice([900_000.0, 1_200_000.0, 1_500_000.0], size=reps)
    revenue = quota[None, None, :, None] / 4 * rng.lognormal(0.0, 0.35, size=(S, C, reps, W))
    active = np.ones((C, reps, W), dtype=bool)
    return Inputs(
        rep_ids=np.array([f"R{i:06d}" for i in range(reps)], dtype=object), periods=quarters()[:W],
        roster={"quota": np.broadcast_to(quota, (C, reps)), "ti": np.full((C, reps), 20_000.0)},
        actuals={"revenue": revenue, "complaints": np.broadcast_to(rng.poisson(1.5, size=(C, reps, W)) * 1.0,
                                                                  (S, C, reps, W))},
        active=np.broadcast_to(active, (S, C, reps, W)), proration=np.broadcast_to(np.ones((C, reps, W)), (S, C, reps, W)),
    )


def best_of(fn, repeat: int) -> float:
    """The shortest of ``repeat`` timed calls after a warm-up (benchmarks/bench_payout.py)."""
    return _best_of(fn, repeat, warmup=True)


COMPILE_SNIPPET = """
import json, time
t0 = time.perf_counter()
import numba
t_numba = time.perf_counter() - t0
from engine.plan import compile_plan, load_plan
checked = load_plan({plan!r})
t1 = time.perf_counter()
prog = compile_plan(checked, backend="numba")
print(json.dumps({{"import_numba": t_numba, "compile": time.perf_counter() - t1, **prog.describe()}}))
"""


def compile_in_new_process(cache: str) -> dict:
    env = dict(os.environ, INCENTIVE_KERNEL_CACHE=cache, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET.format(plan=str(PLAN))], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


STEP_SNIPPET = """
import dataclasses, json, sys, time
import numpy as np
from engine.plan import compile_plan, load_plan
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation
plan, backend, reps, runs, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
checked = load_plan(plan)
sc = dataclasses.replace(default_scenario(), reps=reps, teams=min(12, reps))
sim = Simulation(checked, sc, 2027, program=compile_plan(checked, backend=backend))
idx = np.arange(runs)
sim.run_chunk(idx)  # warm-up: kernels compiled or loaded
best, cpu = float("inf"), float("inf")
for _ in range(repeat):
    t0, c0 = time.perf_counter(), time.process_time()
    res = sim.run_chunk(idx)
    best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
import engine
print(json.dumps({"seconds": best, "cpu": cpu, "rep_months": float(res.active_months.sum()),
                  "cost": res.cost.tolist(), "engine": engine.__file__}))
"""


def engine_env(root: Path) -> dict:
    """The environment that makes ``python`` and ``incentive`` import the engine under ``root``
    (``python -c`` puts its working directory first: run it in ``root`` too)."""
    return dict(os.environ, PYTHONPATH=str(root))


def step_in_process(root: Path, backend: str, reps: int, runs: int, repeat: int) -> dict:
    """``run_chunk`` timed in a new process importing the engine under ``root``."""
    out = subprocess.run([sys.executable, "-c", STEP_SNIPPET, str(PLAN), backend, str(reps), str(runs), str(repeat)],
                         env=engine_env(root), check=True, capture_output=True, text=True, cwd=root).stdout
    return json.loads(out.strip().splitlines()[-1])


def cli_in_process(root: Path, backend: str, runs: int, out: Path) -> float:
    """Wall time of ``incentive simulate`` (2 workers) importing the engine under ``root``."""
    cmd = [str(Path(sys.executable).with_name("incentive")), "simulate", str(PLAN), "--runs", str(runs),
           "--workers", "2", "--backend", backend, "--json", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=engine_env(root), check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def compare_with_baseline(args: argparse.Namespace) -> None:
    """This engine against ``--baseline`` outside the kernel, alternated in one run (module docstring)."""
    engines = {"baseline": Path(args.baseline).resolve(), "this": ROOT}
    print(f"\nOutside the kernel: this engine ({ROOT}) against the baseline ({engines['baseline']}), "
          f"{args.rounds} alternated rounds, fastest kept")
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.step_shapes.split(",")]
    print("(us per rep-month: wall time, and the process's CPU time, steadier on a shared machine)")
    print(f"{'step (run_chunk)':<28}{'baseline us/rm':>16}{'this us/rm':>12}{'ratio':>8}"
          f"{'baseline CPU':>14}{'this CPU':>10}{'ratio':>8}  same numbers")
    for reps, runs in shapes:
        for backend in ("numpy", "numba"):
            best: dict[str, dict] = {}
            for _ in range(args.rounds):
                for name, root in engines.items():
                    got = step_in_process(root, backend, reps, runs, args.step_repeat)
                    assert Path(got["engine"]).is_relative_to(root), f"{name} imported {got['engine']}"
                    if name in best:
                        got["seconds"] = min(got["seconds"], best[name]["seconds"])
                        got["cpu"] = min(got["cpu"], best[name]["cpu"])
                    best[name] = got
            us = {k: v["seconds"] / v["rep_months"] * 1e6 for k, v in best.items()}
            cpu = {k: v["cpu"] / v["rep_months"] * 1e6 for k, v in best.items()}
            same = best["baseline"]["cost"] == best["this"]["cost"]
            print(f"{backend + f' {reps} reps x {runs} runs':<28}{us['baseline']:>16.2f}{us['this']:>12.2f}"
                  f"{us['baseline'] / us['this']:>7.2f}x{cpu['baseline']:>14.2f}{cpu['this']:>10.2f}"
                  f"{cpu['baseline'] / cpu['this']:>7.2f}x  {same}")
    if args.cli_runs <= 0:
        return
    print(f"\n{'incentive simulate':<28}{'baseline s':>16}{'this s':>12}{'ratio':>8}  same JSON"
          f"   ({PLAN.name} --runs {args.cli_runs} --workers 2)")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("numpy", "numba"):
            wall = {name: float("inf") for name in engines}
            for _ in range(args.rounds):
                for name, root in engines.items():
                    wall[name] = min(wall[name], cli_in_process(root, backend, args.cli_runs,
                                                                Path(tmp) / f"{name}.json"))
            docs = [json.loads((Path(tmp) / f"{name}.json").read_text()) for name in engines]
            for doc in docs:  # how long the kernel took to load is not a result
                for key in ("compile_seconds", "from_cache"):
                    doc.get("backend", {}).pop(key, None)
            same = docs[0] == docs[1]
            print(f"{'--backend ' + backend:<28}{wall['baseline']:>16.2f}{wall['this']:>12.2f}"
                  f"{wall['baseline'] / wall['this']:>7.2f}x  {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=250_000, help="reps of the statements workload (x 12 rep-months)")
    ap.add_argument("--sim-reps", type=int, default=1_000)
    ap.add_argument("--sim-runs", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sim-repeat", type=int, default=3)
    ap.add_argument("--baseline", help="directory holding another version's engine package: compare outside the kernel")
    ap.add_argument("--skip-evaluate", action="store_true", help="only the --baseline comparison")
    ap.add_argument("--step-shapes", default="120x40,1000x36", help="run_chunk shapes, reps x runs, comma-separated")
    ap.add_argument("--step-repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cli-runs", type=int, default=2_000, help="runs of the end-to-end CLI comparison (0: none)")
    args = ap.parse_args()
    if not args.skip_evaluate:
        evaluate_and_simulate(args)
    if args.baseline:
        compare_with_baseline(args)


def evaluate_and_simulate(args: argparse.Namespace) -> None:
    """The kernel against numpy: compile time, the evaluate workloads, run_chunk (module docstring)."""
    import numba

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, numba {numba.__version__}; plan {PLAN.name}")

    with tempfile.TemporaryDirectory() as cache:
        first = compile_in_new_process(cache)
        again = compile_in_new_process(cache)
    print(f"compile (new process, empty cache): {first['compile']:.2f} s (ran: {first['ran']}, "
          f"import numba {first['import_numba']:.2f} s apart)")
    print(f"compile (new process, disk cache):  {again['compile']:.2f} s (from cache: {again['from_cache']})")

    checked = load_plan(PLAN)
    numpy_prog = compile_plan(checked, backend="numpy")
    numba_prog = compile_plan(checked, backend="numba")
    assert getattr(numba_prog, "backend", None) == "numba"

    rows = []
    for label, inputs, grades, rep_months in (
        ("statements", statement_inputs(args.reps), True, args.reps * 12),
        ("what-if", what_if_inputs(args.reps // 10), False, 3 * 12 * (args.reps // 10) * 3),
    ):
        a = numpy_prog.evaluate(inputs, grades=grades)
        b = numba_prog.evaluate(inputs, grades=grades)
        err = float(np.max(np.abs(a.total - b.total) / np.maximum(np.abs(a.total), 1.0)))
        t_np = best_of(lambda inputs=inputs, grades=grades: numpy_prog.evaluate(inputs, grades=grades), args.repeat)
        t_nb = best_of(lambda inputs=inputs, grades=grades: numba_prog.evaluate(inputs, grades=grades), args.repeat)
        rows.append((label, rep_months, t_np, t_nb, err))
    print(f"\n{'workload':<12}{'rep-months':>12}{'numpy s':>10}{'numba s':>10}"
          f"{'numpy rm/s':>14}{'numba rm/s':>14}{'ratio':>8}{'max rel diff':>14}")
    for label, n, t_np, t_nb, err in rows:
        print(f"{label:<12}{n:>12,}{t_np:>10.4f}{t_nb:>10.4f}{n / t_np:>14,.0f}{n / t_nb:>14,.0f}"
              f"{t_np / t_nb:>7.1f}x{err:>14.1e}")

    from engine.sim.scenario import default_scenario
    from engine.sim.simulate import Simulation

    base = default_scenario()
    sc = dataclasses.replace(base, reps=args.sim_reps, teams=min(12, args.sim_reps))
    runs = np.arange(args.sim_runs)
    results = {}
    times = {"numpy": np.inf, "numba": np.inf}
    sims = {name: Simulation(checked, sc, 2027, program=prog) for name, prog in (("numpy", numpy_prog),
                                                                              ("numba", numba_prog))}
    for sim in sims.values():
        sim.run_chunk(runs[:1])  # warm-up
    for _ in range(args.sim_repeat):  # alternated, so that both see the same machine
        for name, sim in sims.items():
            t0 = time.perf_counter()
            results[name] = sim.run_chunk(runs)
            times[name] = min(times[name], time.perf_counter() - t0)
    same = all(np.array_equal(getattr(results["numpy"], f), getattr(results["numba"], f))
               for f in ("cost", "revenue", "payout", "leavers"))
    rm = args.sim_reps * args.sim_runs * 12
    print(f"\nsimulate ({args.sim_reps:,} reps x {args.sim_runs} runs x 12 months = {rm:,} rep-months, one chunk): "
          f"numpy {times['numpy']:.2f} s ({rm / times['numpy']:,.0f} rep-months/s), "
          f"numba {times['numba']:.2f} s ({rm / times['numba']:,.0f} rep-months/s), "
          f"ratio {times['numpy'] / times['numba']:.2f}x; results bit-identical across backends: {same}")


if __name__ == "__main__":
    main()
