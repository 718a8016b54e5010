"""`incentive payout` end to end on a large Parquet roster and actuals, against a baseline.

Run: ``python benchmarks/bench_payout_parquet.py`` (``make bench-payout``; about 2 minutes
on a 2-core machine, less with ``--baseline none``). Not part of the test suite.

A roster of ``--reps`` reps and monthly actuals (``rep_id, period, revenue, complaints``,
reps x 12 rows) are generated with numpy into a temporary folder once (not timed; the
generator is ``bench_scale.generate_parquet``, the plan is the monthly seeds plan of
``bench_scale.py``: a step, a tiered commission with a cap, a complaints modifier, grades).
With ``--shuffle`` the actuals rows are shuffled (the
loader then matches each row's rep by hashing rather than by the roster's order).
Then the whole ``incentive payout PLAN --roster R.parquet --actuals A.parquet --out
S.parquet`` command runs, each time in a fresh Python process so that its peak memory is
its own (``ru_maxrss`` of the child, from ``os.wait4``), alternately with this checkout's
``engine`` and with the ``engine`` of ``--baseline`` (a git ref, default ``main``, exported
with ``git archive`` into the temporary folder), ``--rounds`` times each; the fastest round
of each is reported. Inside the child the command is timed in phases by wrapping the
functions it calls: reading the plan, ``load_for_plan`` (read Parquet, check, bind to
periods), compiling, the compiled plan's ``evaluate``, rounding into statements (from the
evaluation's end to ``write_statements``), and ``write_statements``; the rest is the
command's summary line and warnings. The two
outputs are compared byte for byte (``--csv`` also writes CSV, then with the CSV writer).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ("plan", "load", "compile", "evaluate", "statements", "write", "rest")
LABELS = {"plan": "read and check the plan", "load": "load (read Parquet, check, bind)",
          "compile": "compile the plan", "evaluate": "evaluate", "statements": "statements (round, build the table)",
          "write": "write the output", "rest": "summary line and warnings"}


def child(root: Path, folder: Path, out: Path) -> None:
    """One ``incentive payout`` run with the engine found in ``root``; prints one JSON line."""
    t_start = time.perf_counter()
    sys.path.insert(0, str(root))
    import engine.data.statements as st
    import engine.plan as plan_mod
    from engine.app import cli

    assert Path(cli.__file__).resolve().is_relative_to(root.resolve()), cli.__file__
    t_imported = time.perf_counter()
    marks: dict[str, float] = {}
    peaks: dict[str, float] = {}

    def timed(module, name: str, before: str, after: str) -> None:
        fn = getattr(module, name)

        def wrapper(*a, **kw):
            marks[before] = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                marks[after] = time.perf_counter()
                peaks[after] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

        setattr(module, name, wrapper)

    timed(plan_mod, "load_plan", "plan0", "plan1")
    timed(st, "load_for_plan", "load0", "load1")
    timed(st, "write_statements", "write0", "write1")
    compile_plan = plan_mod.compile_plan

    def compile_timed(*a, **kw):
        program = compile_plan(*a, **kw)
        evaluate = program.evaluate

        def evaluate_timed(*a, **kw):
            marks["eval0"] = time.perf_counter()
            out = evaluate(*a, **kw)
            marks["eval1"] = time.perf_counter()
            peaks["eval1"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            return out

        program.evaluate = evaluate_timed  # this instance only
        return program

    plan_mod.compile_plan = compile_timed
    args = ["payout", str(folder / "seeds_monthly.yaml"), "--roster", str(folder / "roster.parquet"),
            "--actuals", str(folder / "actuals.parquet"), "--out", str(out)]
    t0 = time.perf_counter()
    cli.cli.main(args=args, prog_name="incentive", standalone_mode=False)
    t1 = time.perf_counter()
    phases = {"plan": marks["plan1"] - t0, "load": marks["load1"] - marks["load0"],
              "compile": marks["eval0"] - marks["load1"], "evaluate": marks["eval1"] - marks["eval0"],
              "statements": marks["write0"] - marks["eval1"], "write": marks["write1"] - marks["write0"]}
    phases["rest"] = (t1 - t0) - sum(phases.values())
    peak = {"load": peaks["load1"], "evaluate": peaks["eval1"], "write": peaks["write1"]}
    print(json.dumps({"imports": t_imported - t_start, "command": t1 - t0, "phases": phases, "peak_by": peak}))


def run_child(root: Path, folder: Path, out: Path) -> dict:
    """Run :func:`child` in a fresh interpreter; add its wall time and peak memory."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(root), str(folder), str(out)],
                            stdout=subprocess.PIPE, text=True, cwd=str(folder))
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"the payout run with {root} failed (exit {proc.returncode}):\n{stdout}")
    lines = stdout.strip().splitlines()
    out_doc = json.loads(lines[-1])
    out_doc.update(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mib=usage.ru_maxrss / 1024.0,
                   said=lines[0] if len(lines) > 1 else "")
    return out_doc


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export(ref: str, into: Path) -> Path:
    """The ``engine`` package of git ``ref``, extracted under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "engine"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1_000_000, help="reps (x 12 months of actuals)")
    ap.add_argument("--baseline", default="main", help="git ref to compare with, or 'none' (default main)")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each engine, alternating (default 2)")
    ap.add_argument("--csv", action="store_true", help="write CSV statements instead of Parquet")
    ap.add_argument("--shuffle", action="store_true",
                    help="shuffle the actuals rows (the loader then cannot match them to the roster by its order)")
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--child", nargs=3, type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from bench_scale import generate_parquet, machine_line

    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_payout_parquet_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        generate_parquet(folder, args.reps, 12, args.seed)
        if args.shuffle:
            import numpy as np
            import pyarrow.parquet as pq

            actuals = pq.read_table(folder / "actuals.parquet")
            order = np.random.default_rng(args.seed).permutation(actuals.num_rows)
            pq.write_table(actuals.take(order), folder / "actuals.parquet")
            del actuals
        print(f"generated (not timed, {time.perf_counter() - t0:.1f} s): roster {args.reps:,} rows "
              f"({(folder / 'roster.parquet').stat().st_size / 2 ** 20:.0f} MiB), actuals {args.reps * 12:,} rows "
              f"({(folder / 'actuals.parquet').stat().st_size / 2 ** 20:.0f} MiB"
              f"{', rows shuffled' if args.shuffle else ', each month the roster in order'})", flush=True)
        engines = {"this checkout": ROOT}
        if args.baseline != "none":
            commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline], check=True,
                                    capture_output=True, text=True).stdout.strip()
            engines = {f"baseline {args.baseline} ({commit})": export(args.baseline, folder / "baseline"), **engines}
        suffix = "csv" if args.csv else "parquet"
        runs: dict[str, list[dict]] = {name: [] for name in engines}
        for r in range(args.rounds):
            for i, (name, root) in enumerate(engines.items()):
                doc = run_child(root, folder, folder / f"statements_{i}.{suffix}")
                runs[name].append(doc)
                by = ", ".join(f"{k} {v:,.0f}" for k, v in doc["peak_by"].items())
                print(f"round {r + 1}, {name}: {doc['command']:.2f} s in the command, {doc['wall']:.2f} s wall "
                      f"with interpreter start and imports ({doc['cpu']:.2f} s CPU), peak {doc['peak_mib']:,.0f} MiB "
                      f"(by the end of: {by} MiB)", flush=True)
        print(f"\n{runs[next(iter(runs))][-1]['said']}")
        best = {name: min(docs, key=lambda d: d["command"]) for name, docs in runs.items()}
        names = list(best)
        head = "".join(f"{n:>28s}" for n in names) + ("        ratio" if len(names) == 2 else "")
        print(f"\nphase (fastest of {args.rounds} rounds){'':17s}{head}")

        def row(label: str, values: list[float], unit: str = "s") -> None:
            ratio = f"{values[0] / values[1]:12.2f}x" if len(values) == 2 and values[1] else ""
            fmt = "{:>26.2f} s" if unit == "s" else "{:>24,.0f} MiB"
            print(f"{label:45s}" + "".join(fmt.format(v) for v in values) + ratio)

        for p in PHASES:
            row(LABELS[p], [best[n]["phases"][p] for n in names])
        row("the command (sum of the above)", [best[n]["command"] for n in names])
        row("wall, with interpreter start and imports", [best[n]["wall"] for n in names])
        row("CPU (user + system) of that process", [best[n]["cpu"] for n in names])
        row("peak resident memory (ru_maxrss)", [max(d["peak_mib"] for d in runs[n]) for n in names], unit="MiB")
        if len(names) == 2:
            same = sha256(folder / f"statements_0.{suffix}") == sha256(folder / f"statements_1.{suffix}")
            print(f"\noutputs identical byte for byte: {same}")
            if not same:
                raise SystemExit("the outputs differ")


if __name__ == "__main__":
    main()
