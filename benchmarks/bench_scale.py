"""Scale benchmarks: the simulator against a numpy floor, 1 vs 2 workers, statements from Parquet.

Run: ``python benchmarks/bench_scale.py [--part floor|workers|parquet|all]`` (default all;
about a minute on a 2-core machine, half of it the Parquet part, which needs about 4.5 GiB
of memory), or
``python benchmarks/bench_scale.py --memory-reps 50000 --memory-runs 40`` for the memory
profile of a long simulation (about 3 minutes). Not part of the test suite.

Parts, each printing figures and ratios measured in the same run:

* ``floor``: the simulator (``Simulation.run_chunk``, seeds plan, default scenario scaled to
  ``--reps`` reps, ``--runs`` runs in one chunk) against ``benchmarks/numpy_floor.py``, a
  minimal hand-written numpy kernel of the same arithmetic for this one plan, at the same
  size: rep-months per second and engine time / floor time. Also checks that the floor
  prices every effort and timing candidate as the engine does (to round-off), and splits
  the engine's time into what-if pricing (compiled plan, building projected actuals) and
  the rest of the month.
* ``workers``: ``engine.sim.run.simulate(..., workers=1)`` against ``workers=2`` on the same
  runs (seeds plan, default scenario, ``--worker-runs`` runs): wall seconds, speed-up, and
  whether the two JSON documents are identical. ``workers=1`` is timed twice: with its own
  chunks (all runs at once) and with the chunks the 2 workers get.
* ``parquet``: a roster of ``--parquet-reps`` reps and a monthly actuals table
  (``rep_id, period, revenue, complaints``, reps x 12 rows) generated with numpy and written
  to Parquet in a temporary directory (not timed); then, in a fresh Python process so that
  its peak memory is its own, ``engine.data.statements.statements`` for a monthly version of the
  seeds plan (load, evaluate + round) and ``write_statements`` to Parquet: seconds per
  phase, rows per second, and the process's peak resident memory (``ru_maxrss``).
* ``memory`` (``--memory-reps N --memory-runs R``): ``simulate()`` of N reps for R runs in
  one process, printing peak and resident memory after each chunk (resident also after
  ``malloc_trim``, which hands the heap malloc keeps for reuse back to the system): the peak
  stays flat as runs grow because each chunk's arrays are freed once accumulated.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engine.plan import load_plan
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation
from engine.sim.streams import RunStreams

PLAN = HERE.parent / "scenarios" / "plans" / "seeds_base_float_excess.yaml"
PARTS = ("floor", "workers", "parquet")

# The seeds plan paid monthly: the same components on monthly targets and TI.
MONTHLY_PLAN = """\
plan: seeds_monthly
currency: USD
period: month
parameters:
  base_threshold:     {value: 0.8, min: 0.6, max: 0.9}
  floating_threshold: {value: 1.0, min: 0.9, max: 1.1}
  base_share:         {value: 0.4, min: 0.2, max: 0.6}
  floating_share:     {value: 0.6, min: 0.4, max: 0.8}
  excess_rate:        {value: 0.04, min: 0.02, max: 0.06}
  super_excess_rate:  {value: 0.06, min: 0.04, max: 0.10}
  complaint_limit:    {value: 3, min: 1, max: 10}
target_incentive: roster.ti / 12
measures:
  revenue: actuals.revenue
  attainment: revenue / targets.revenue
  excess: max(revenue - targets.revenue, 0)
targets:
  revenue: roster.quota / 12
components:
  - name: base_and_float
    kind: step
    input: attainment
    steps:
      - {at: base_threshold, pay: base_share * target_incentive}
      - {at: floating_threshold, pay: floating_share * target_incentive}
  - name: excess_commission
    kind: rate
    base: excess
    tiers:
      - {upto: 0.2 * targets.revenue, rate: excess_rate}
      - {rate: super_excess_rate}
    cap: target_incentive
modifiers:
  - name: complaints_penalty
    when: actuals.complaints > complaint_limit
    multiply: 0.8
grades:
  input: attainment
  bands:
    - {min: 1.2, grade: A}
    - {min: 1.0, grade: B}
    - {min: 0.8, grade: C}
    - {grade: D}
"""


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mib() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def malloc_trim() -> bool:
    """Return the C heap's free memory to the system (glibc), so that resident memory shows
    what is live rather than what malloc keeps for reuse. False where unavailable."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def machine_line() -> str:
    import pandas as pd
    import pyarrow as pa

    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}")


def best_of(fn, repeat: int):
    """(fastest seconds, result of the last call)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# --------------------------------------------------------------------------- floor

@contextlib.contextmanager
def timed_engine(sim: Simulation):
    """Time pieces of the engine's month by wrapping methods on this instance only (a few
    hundred calls a chunk, so the wrappers cost nothing measurable): the what-if pricing
    (``_utility``, and the compiled plan inside it), and outside it the outcome draws and
    realization, the period pay, the hopeless-target check, the fairness percentiles and
    the year-end results."""
    spent = {"_utility": 0.0, "plan_in_utility": 0.0}
    inside = [False]
    restore: list = []  # (object, name, the class's own function or None for an instance attribute)

    def wrap(obj, name, key, flag=False):
        fn = getattr(obj, name)
        restore.append((obj, name, fn) if isinstance(obj, type) else (obj, name, None))
        spent.setdefault(key, 0.0)

        def timed(*a, **kw):
            if flag:
                inside[0] = True
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[key] += time.perf_counter() - t0
                if flag:
                    inside[0] = False

        setattr(obj, name, timed)

    wrap(sim, "_utility", "_utility", flag=True)
    evaluate = sim.prog.evaluate

    def evaluate_w(*a, **kw):
        t0 = time.perf_counter()
        try:
            return evaluate(*a, **kw)
        finally:
            if inside[0]:
                spent["plan_in_utility"] += time.perf_counter() - t0

    sim.prog.evaluate = evaluate_w
    restore.append((sim.prog, "evaluate", None))
    # Random draws: each chunk's streams object is made inside run_chunk, so its class's
    # drawing methods are wrapped (and put back afterwards).
    for name in ("random", "standard_normal", "sample"):
        wrap(RunStreams, name, "draws")
    for obj, name, key in ((sim.prod, "realize", "realize"),
                           (sim, "_period_pay", "period_pay"), (sim, "_hopeless", "hopeless"),
                           (sim, "_unfairness", "fairness"), (sim, "_top_quartile", "fairness"),
                           (sim, "_finish", "finish")):
        wrap(obj, name, key)
    try:
        yield spent
    finally:
        for obj, name, original in reversed(restore):
            if original is None:
                delattr(obj, name)
            else:
                setattr(obj, name, original)


def part_floor(args) -> None:
    from numpy_floor import BLOCK, check_against_engine, run_floor

    checked = load_plan(PLAN)
    base = default_scenario()
    sc = dataclasses.replace(base, reps=args.reps, teams=min(base.teams, args.reps))
    print(f"\n== floor: seeds plan, scenario {base.name} scaled to {args.reps:,} reps x {args.runs} runs x "
          f"{sc.months} months")
    chk = check_against_engine()
    print(f"check: floor vs engine utilities on the same state ({chk['candidates_priced']:,} effort/timing "
          f"candidates, months {', '.join(map(str, chk['months']))}): largest difference "
          f"{chk['max_abs_diff_per_ti_month']:.1e} monthly TI, best choice differs for {chk['best_choice_differs']}")

    sim = Simulation(checked, sc, args.seed)
    runs = np.arange(args.runs)
    sim.run_chunk(np.arange(1))  # warm-up: first-call costs are not throughput
    t_eng, res = best_of(lambda: sim.run_chunk(runs), args.repeat)
    eng_months = int(res.active_months.sum())
    run_floor(min(args.reps, 200), 2, args.seed)  # warm-up
    t_floor, fl = best_of(lambda: run_floor(args.reps, args.runs, args.seed, block=BLOCK), 3)
    t_flat, flat = best_of(lambda: run_floor(args.reps, args.runs, args.seed, block=None), 1)
    eng_rate, fl_rate = eng_months / t_eng, fl["rep_months"] / t_floor
    cells = args.reps * args.runs
    rows = [(f"engine, Simulation.run_chunk ({sim.slots:,} slots x {args.runs} runs, one chunk)", eng_months, t_eng),
            (f"numpy floor, blocks of {fl['block']:,} cells", fl["rep_months"], t_floor),
            (f"numpy floor, one block of {cells:,} cells", flat["rep_months"], t_flat)]
    for name, months, secs in rows:
        print(f"{name + ':':66s}{months:>9,} rep-months in {secs:6.3f} s = {months / secs:11,.0f} rep-months/s")
    print(f"engine time / floor time (same run): {t_eng / t_floor:.1f}x "
          f"(per rep-month: floor {fl_rate / eng_rate:.1f}x the engine's throughput; "
          f"{t_eng / t_flat:.1f}x against the unblocked floor)")

    with timed_engine(sim) as spent:
        t0 = time.perf_counter()
        sim.run_chunk(runs)
        total = time.perf_counter() - t0
    u, plan = spent["_utility"], spent["plan_in_utility"]
    named = ("draws", "realize", "period_pay", "hopeless", "fairness", "finish")
    rest = total - u - sum(spent[k] for k in named)
    print(f"engine time split (one instrumented run, {total:.2f} s): what-if pricing {u:.2f} s ({u / total:.0%}: "
          f"compiled plan {plan:.2f} s, projecting actuals and building its inputs {u - plan:.2f} s); "
          f"outside it: random draws {spent['draws']:.2f} s, realizing 5 outputs {spent['realize']:.2f} s, "
          f"period pay {spent['period_pay']:.2f} s, hopeless check {spent['hopeless']:.2f} s, fairness and top-quartile "
          f"ranks {spent['fairness']:.2f} s, year-end results {spent['finish']:.2f} s, the rest (packing cells, morale, "
          f"quits, backfills, bookkeeping) {rest:.2f} s")
    mask = res.rep_mask
    print(f"sanity: engine effort {res.effort_sum.sum() / res.active_months.sum():.3f}, attainment "
          f"{res.attainment[mask].mean():.3f}, at/above target {(res.attainment[mask] >= 1).mean():.1%}; "
          f"floor (morale frozen, no attrition) effort {fl['mean_effort']:.3f}, attainment "
          f"{fl['mean_attainment']:.3f}, at/above target {fl['share_at_or_above_target']:.1%}")


# --------------------------------------------------------------------------- workers

def part_workers(args) -> None:
    from engine.sim.executor import chunk_runs_for
    from engine.sim.run import simulate

    checked = load_plan(PLAN)
    sc = default_scenario()
    n = args.worker_runs
    print(f"\n== workers: seeds plan, scenario {sc.name} ({sc.reps} reps), {n} runs, simulate(..., workers=1|2)")
    simulate(checked, sc, runs=4, seed=args.seed, workers=1)  # warm-up (imports, first calls)
    slots = Simulation(checked, sc, args.seed).slots
    c1, c2 = min(chunk_runs_for(slots, n, 1), n), min(chunk_runs_for(slots, n, 2), n)

    def run(workers, chunk=None):
        t0 = time.perf_counter()
        r = simulate(checked, sc, runs=n, seed=args.seed, workers=workers, chunk_runs=chunk)
        return time.perf_counter() - t0, r

    t1, r1 = run(1)
    t1c, r1c = run(1, c2)
    t2, r2 = run(2)
    docs = [json.dumps(r.document, sort_keys=True) for r in (r1, r1c, r2)]
    same = docs[0] == docs[1] == docs[2] and all(
        np.array_equal(r1.per_run[k], r.per_run[k], equal_nan=True) for r in (r1c, r2) for k in r1.per_run)
    k1, k2 = -(-n // c1), -(-n // c2)
    for name, secs in ((f"workers=1, chunks of {c1} runs ({k1} chunk{'s' if k1 > 1 else ''})", t1),
                       (f"workers=1, chunks of {c2} runs ({k2} chunks, as the 2 workers get)", t1c),
                       (f"workers=2, chunks of {c2} runs ({k2} chunks)", t2)):
        print(f"{name + ':':66s}{secs:7.2f} s wall")
    print(f"speed-up 1 -> 2 workers (same run): {t1 / t2:.2f}x (same chunks: {t1c / t2:.2f}x)")
    print(f"JSON documents identical (workers=1, workers=1 in small chunks, workers=2): {same}")
    if not same:
        raise SystemExit("the documents differ")


# --------------------------------------------------------------------------- parquet

def generate_parquet(folder: Path, reps: int, months: int, seed: int) -> dict:
    """A roster and monthly actuals written to Parquet (one row per rep and month)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ids = pa.array(np.char.mod("R%07d", np.arange(1, reps + 1)))
    quota = rng.choice([900_000.0, 1_200_000.0, 1_500_000.0], size=reps)
    ti = np.round(rng.normal(85_000.0, 10_000.0, reps).clip(50_000.0), -2)
    teams = pa.DictionaryArray.from_arrays(pa.array(np.arange(reps) % 12, type=pa.int32()),
                                           pa.array([f"T{i + 1:02d}" for i in range(12)])).cast(pa.string())
    roster = pa.table({"rep_id": ids, "team": teams, "quota": quota, "ti": ti})
    rep = np.tile(np.arange(reps, dtype=np.int32), months)  # one month's extract after the other
    labels = pa.array([f"2027-{m + 1:02d}" for m in range(months)])
    skill = rng.lognormal(0.0, 0.25, reps)
    actuals = pa.table({
        "rep_id": pa.DictionaryArray.from_arrays(pa.array(rep), ids).cast(pa.string()),
        "period": pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(months, dtype=np.int32), reps)),
                                                 labels).cast(pa.string()),
        "revenue": np.round(quota[rep] / 12.0 * skill[rep] * rng.lognormal(-0.06, 0.35, reps * months), 2),
        "complaints": rng.poisson(0.8, reps * months).astype(np.int64),
    })
    paths = {"roster": folder / "roster.parquet", "actuals": folder / "actuals.parquet",
             "plan": folder / "seeds_monthly.yaml", "out": folder / "statements.parquet"}
    pq.write_table(roster, paths["roster"])
    pq.write_table(actuals, paths["actuals"])
    paths["plan"].write_text(MONTHLY_PLAN)
    return paths


def part_parquet(args) -> None:
    reps, months = args.parquet_reps, 12
    print(f"\n== parquet: statements for {reps:,} reps x {months} months from Parquet (monthly seeds plan: "
          f"step, tiered commission with cap, complaints modifier, grades)")
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        paths = generate_parquet(folder, reps, months, args.seed)
        size = {k: paths[k].stat().st_size / 2 ** 20 for k in ("roster", "actuals")}
        print(f"generated (not timed, {time.perf_counter() - t0:.1f} s): roster {reps:,} rows "
              f"({size['roster']:.0f} MiB), actuals {reps * months:,} rows ({size['actuals']:.0f} MiB) in {tmp}")
        sys.stdout.flush()
        # A fresh process: its peak resident memory is the statements run's alone.
        proc = subprocess.run([sys.executable, __file__, "--parquet-child", str(folder), "--parquet-reps", str(reps)],
                              check=False)
        if proc.returncode:
            print(f"the statements process failed with exit code {proc.returncode} "
                  f"({'killed, likely out of memory' if proc.returncode < 0 else 'see its error above'})")


def parquet_child(folder: Path, reps: int) -> None:
    """Runs in a fresh process: statements from the Parquet files, timed, with peak memory."""
    import pandas  # noqa: F401 - imports are not the run's memory
    import pyarrow.parquet  # noqa: F401

    import engine.data.statements as st

    checked = load_plan(folder / "seeds_monthly.yaml")
    base = rss_mib()
    marks = {}
    load = st.load_for_plan

    def load_timed(*a, **kw):
        t0 = time.perf_counter()
        out = load(*a, **kw)
        marks["load"] = time.perf_counter() - t0
        marks["load_peak"], marks["load_rss"] = peak_rss_mib(), rss_mib()
        return out

    table = st.statement_table

    def table_timed(*a, **kw):
        marks["eval_peak"], marks["eval_rss"] = peak_rss_mib(), rss_mib()
        t0 = time.perf_counter()
        out = table(*a, **kw)
        marks["round"] = time.perf_counter() - t0
        return out

    st.load_for_plan, st.statement_table = load_timed, table_timed
    t0 = time.perf_counter()
    df = st.statements(checked, folder / "roster.parquet", folder / "actuals.parquet")
    t_statements = time.perf_counter() - t0
    st.load_for_plan, st.statement_table = load, table
    round_peak, round_rss = peak_rss_mib(), rss_mib()
    t0 = time.perf_counter()
    st.write_statements(df, checked.plan, str(folder / "statements.parquet"))
    t_write = time.perf_counter() - t0
    rows = len(df)
    t_eval = t_statements - marks["load"] - marks["round"]
    total = t_statements + t_write
    out_mib = (folder / "statements.parquet").stat().st_size / 2 ** 20
    print(f"statements(): load {marks['load']:6.2f} s ({rows / marks['load']:>10,.0f} rows/s), evaluate "
          f"{t_eval:6.2f} s ({rows / t_eval:>10,.0f} rows/s), round into statements {marks['round']:6.2f} s "
          f"({rows / marks['round']:>10,.0f} rows/s); evaluate + round {t_eval + marks['round']:.2f} s")
    print(f"write_statements() to Parquet: {t_write:6.2f} s ({rows / t_write:,.0f} rows/s, {out_mib:.0f} MiB)")
    print(f"total {total:.2f} s for {rows:,} statement rows = {rows / total:,.0f} rows/s "
          f"({reps:,} reps; {len(df.columns)} columns: {', '.join(df.columns)})")
    print(f"memory (this process): {base:,.0f} MiB after imports; peak {marks['load_peak']:,.0f} MiB by the end of "
          f"the load ({marks['load_rss']:,.0f} MiB resident then), {marks['eval_peak']:,.0f} MiB by the end of the "
          f"evaluation ({marks['eval_rss']:,.0f} resident), {round_peak:,.0f} MiB by the end of rounding "
          f"({round_rss:,.0f} resident); {peak_rss_mib():,.0f} MiB peak overall (ru_maxrss)")
    print(f"sanity: total paid {df['total'].sum():,.2f} USD, grades "
          + ", ".join(f"{g} {n / rows:.1%}" for g, n in sorted(df['grade'].value_counts().items())))


# --------------------------------------------------------------------------- memory

def part_memory(args) -> None:
    import engine.sim.run as run_mod
    from engine.sim.executor import chunk_runs_for
    from engine.sim.run import simulate

    checked = load_plan(PLAN)
    base = default_scenario()
    reps, runs = args.memory_reps, args.memory_runs
    sc = dataclasses.replace(base, reps=reps, teams=min(base.teams, reps))
    print(f"\n== memory: simulate() of {reps:,} reps x {runs} runs (seeds plan, workers=1)")
    slots = Simulation(checked, sc, args.seed).slots
    size = args.memory_chunk or chunk_runs_for(slots, runs, 1)
    print(f"{slots:,} slots per run, chunks of {size} runs; before: {rss_mib():,.0f} MiB resident, "
          f"peak {peak_rss_mib():,.0f} MiB")
    t0 = time.perf_counter()
    done = [0]

    class Reporting(run_mod.Accumulator):
        def add(self, r):
            super().add(r)
            done[0] += len(r.run_index)
            # run_chunk's working arrays are freed by now; only this small result is still held.
            now = rss_mib()
            trimmed = f", {rss_mib():,.0f} MiB once freed heap is returned (malloc_trim)" if malloc_trim() else ""
            print(f"  {done[0]:>5,}/{runs:,} runs, {time.perf_counter() - t0:7.1f} s: peak {peak_rss_mib():7,.0f} MiB; "
                  f"resident {now:7,.0f} MiB{trimmed}", flush=True)

    original = run_mod.Accumulator
    run_mod.Accumulator = Reporting
    try:
        res = simulate(checked, sc, runs=runs, seed=args.seed, chunk_runs=size, workers=1)
    finally:
        run_mod.Accumulator = original
    el = time.perf_counter() - t0
    print(f"done in {el:.1f} s; peak {peak_rss_mib():,.0f} MiB; cost mean {res.document['cost']['mean']:,.0f}, "
          f"attainment P50 {res.document['attainment']['p50']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=PARTS + ("memory", "all"), default=None,
                    help="default: all (floor, workers, parquet), or only memory when --memory-reps is given")
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--reps", type=int, default=2_000, help="floor: reps (default 2,000)")
    ap.add_argument("--runs", type=int, default=20, help="floor: runs (default 20)")
    ap.add_argument("--repeat", type=int, default=2, help="floor: engine timings, the fastest is kept")
    ap.add_argument("--worker-runs", type=int, default=400, help="workers: runs (default 400)")
    ap.add_argument("--parquet-reps", type=int, default=1_000_000, help="parquet: reps (x 12 months)")
    ap.add_argument("--memory-reps", type=int, default=None, help="memory: reps (e.g. 50,000)")
    ap.add_argument("--memory-runs", type=int, default=40, help="memory: runs (default 40)")
    ap.add_argument("--memory-chunk", type=int, default=None, help="memory: runs per chunk (default: simulate's)")
    ap.add_argument("--parquet-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.parquet_child is not None:
        parquet_child(args.parquet_child, args.parquet_reps)
        return
    if args.part is None:
        parts = [] if args.memory_reps else list(PARTS)
    else:
        parts = list(PARTS) if args.part == "all" else [args.part]
    if args.memory_reps and "memory" not in parts:
        parts.append("memory")  # --memory-reps asks for the memory part (alone without --part)
    if "memory" in parts and not args.memory_reps:
        args.memory_reps = 50_000
    print(machine_line(), flush=True)
    for part in parts:
        {"floor": part_floor, "workers": part_workers, "parquet": part_parquet, "memory": part_memory}[part](args)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
