"""Throughput of the compiled payout evaluator against the scalar reference evaluator.

Run: ``make bench`` (or ``python benchmarks/bench_payout.py [--rep-periods N]``).

Evaluates ``benchmarks/realistic_plan.yaml`` (curve with accelerator, tiered rate, step
SPIFF, scorecard with a gate, a modifier and a plan cap) on synthetic monthly actuals:
the compiled evaluator on ``N`` rep-periods (default 1,000,000), the reference evaluator on
a small sample, both in the same process, and prints rep-periods per second and the ratio.
Also times rounding the compiled result into statements.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np

from engine.core.inputs import Inputs, PeriodInfo
from engine.data.statements import statement_table
from engine.plan import ReferenceEvaluator, compile_plan, load_plan

HERE = Path(__file__).resolve().parent


def synthetic_inputs(reps: int, periods: int = 12, seed: int = 0) -> Inputs:
    """Synthetic roster and monthly actuals of a field sales team."""
    rng = np.random.default_rng(seed)
    quota = rng.choice([900_000.0, 1_200_000.0, 1_500_000.0], size=reps)
    skill = rng.lognormal(0.0, 0.3, size=(reps, 1))
    revenue = quota[:, None] / 12 * skill * rng.lognormal(0.0, 0.35, size=(reps, periods))
    months = tuple(
        PeriodInfo(f"2027-{m:02d}", "month", 2027, m, dt.date(2027, m, 1),
                   (dt.date(2027, m + 1, 1) if m < 12 else dt.date(2028, 1, 1)) - dt.timedelta(days=1))
        for m in range(1, periods + 1)
    )
    return Inputs(
        rep_ids=np.array([f"R{i:06d}" for i in range(reps)], dtype=object),
        periods=months,
        roster={"quota": quota, "ti": np.full(reps, 24_000.0),
                "new_customer_quota": np.full(reps, 24.0)},
        actuals={
            "revenue": revenue,
            "collected": revenue * rng.uniform(0.6, 1.0, size=revenue.shape),
            "margin": revenue * rng.uniform(0.2, 0.5, size=revenue.shape),
            "csat": rng.uniform(2.5, 5.0, size=revenue.shape),
            "new_customers": rng.poisson(2.0, size=revenue.shape).astype(float),
            "complaints": rng.poisson(1.0, size=revenue.shape).astype(float),
        },
        active=np.ones((reps, periods), dtype=bool),
        proration=np.ones((reps, periods)),
    )


def best_of(fn, repeat: int, warmup: bool = False) -> float:
    """The shortest of ``repeat`` timed calls of ``fn`` (after one untimed call with ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rep-periods", type=int, default=1_000_000)
    ap.add_argument("--reference-reps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    checked = load_plan(HERE / "realistic_plan.yaml")
    prog = compile_plan(checked)
    reps = args.rep_periods // 12
    big = synthetic_inputs(reps)
    n_big = reps * 12
    prog.evaluate(big)  # warm-up
    t_fast = best_of(lambda: prog.evaluate(big), args.repeat)
    result = prog.evaluate(big)
    t_round = best_of(lambda: statement_table(checked.plan, big, result), max(1, args.repeat // 2))

    small = synthetic_inputs(args.reference_reps, seed=1)
    n_small = args.reference_reps * 12
    t_ref = best_of(lambda: ReferenceEvaluator(checked, small).run(), 1)
    # Both paths on the same small inputs agree (the benchmark is not timing a wrong answer).
    a = prog.evaluate(small).total
    b = ReferenceEvaluator(checked, small).run().total
    assert np.allclose(a, b, rtol=1e-9, atol=1e-6)

    fast = n_big / t_fast
    slow = n_small / t_ref
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"plan: {checked.plan.name} ({len(checked.plan.components)} components, 1 modifier, plan cap)")
    print(f"compiled evaluator : {n_big:>10,} rep-periods in {t_fast:8.3f} s = {fast:14,.0f} rep-periods/s")
    print(f"reference evaluator: {n_small:>10,} rep-periods in {t_ref:8.3f} s = {slow:14,.0f} rep-periods/s")
    print(f"speed-up (compiled / reference, same run): {fast / slow:,.0f}x")
    print(f"rounding into statements: {n_big:,} rows in {t_round:.3f} s = {n_big / t_round:,.0f} rows/s")


if __name__ == "__main__":
    main()
