"""Row-level measures (plan language version 2): transactions per second.

Run: ``python benchmarks/bench_rows.py [--transactions N] [--reps R] [--repeat K]``.

Generates ``N`` transactions (default 1,000,000) of ``R`` reps over twelve months, each with
an amount, a customer type and a product, loads them once through the real loader
(``engine.data.statements.load_for_plan``) and evaluates, in the same process:

* the **row-level** plan: four measures evaluated on every transaction row (a SPIFF per
  deal above a threshold, revenue from new customers, a product rate looked up in a table
  with a SKU override through ``where(has(...))``, a count of lines), then gathered into
  periods; components on them;
* the **period-level** plan: the same components on plain measures of the period's summed
  columns (the version 1 path).

It prints transactions per second of each evaluation (the median of ``K`` repeats) and
their ratio, and the time of loading the transactions. No per-row Python loop is involved:
the row-level path is numpy over the rows (``CompiledPlan._row_period``).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.statements import load_for_plan
from engine.plan import compile_plan, parse_plan

ROW_PLAN = """
plan: rows
period: month
target_incentive: roster.ti / 12
tables:
  sku_rate: {values: {SKU-7: 15%}}
  product_rate: {default: 3%, values: {DESK: 5%, CHAIR: 4%}}
measures:
  big_deals: {expr: "where(actuals.amount >= 50000, 1, 0)", aggregate: sum}
  new_rev: "where(actuals.customer == 'new', actuals.amount, 0)"
  commissionable: {expr: "actuals.amount * where(has(sku_rate, actuals.sku), lookup(sku_rate, actuals.sku), lookup(product_rate, actuals.product))", aggregate: sum}
  lines: {expr: "1", aggregate: count}
  revenue: actuals.amount
targets:
  revenue: roster.quota / 12
components:
  - {name: spiff, kind: rate, base: big_deals, rate: 500}
  - {name: hunting, kind: rate, base: new_rev, rate: 2%}
  - {name: commission, kind: rate, base: commissionable, rate: 1}
  - {name: bonus, kind: curve, input: revenue / targets.revenue, points: [[0.5, 0.25], [1, 1], [2, 3]]}
"""

PERIOD_PLAN = """
plan: periods
period: month
target_incentive: roster.ti / 12
measures:
  revenue: actuals.amount
  units: actuals.units
targets:
  revenue: roster.quota / 12
components:
  - {name: spiff, kind: rate, base: units, rate: 500}
  - {name: hunting, kind: rate, base: revenue, rate: 2%}
  - {name: commission, kind: rate, base: revenue, rate: 4%}
  - {name: bonus, kind: curve, input: revenue / targets.revenue, points: [[0.5, 0.25], [1, 1], [2, 3]]}
"""


def synthetic(n: int, reps: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Roster and ``n`` transactions over 2027."""
    rng = np.random.default_rng(seed)
    roster = pd.DataFrame({"rep_id": [f"R{i:06d}" for i in range(reps)],
                           "quota": rng.choice([900_000.0, 1_200_000.0], size=reps), "ti": 60_000.0})
    days = rng.integers(0, 365, size=n)
    dates = (np.datetime64("2027-01-01") + days.astype("timedelta64[D]")).astype(str)
    tx = pd.DataFrame({
        "rep_id": roster["rep_id"].to_numpy()[rng.integers(0, reps, size=n)],
        "date": dates,
        "amount": np.round(rng.lognormal(9.5, 1.0, size=n), 2),
        "units": rng.integers(0, 3, size=n).astype(float),
        "customer": rng.choice(np.array(["new", "old"], dtype=object), size=n, p=[0.3, 0.7]),
        "product": rng.choice(np.array(["DESK", "CHAIR", "LAMP"], dtype=object), size=n),
        "sku": rng.choice(np.array(["SKU-1", "SKU-7", "SKU-9"], dtype=object), size=n),
    })
    return roster, tx


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--transactions", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    roster, tx = synthetic(args.transactions, args.reps)
    with tempfile.TemporaryDirectory() as d:
        rpath, apath = Path(d) / "roster.parquet", Path(d) / "tx.parquet"
        roster.to_parquet(rpath)
        tx.to_parquet(apath)
        rows_plan, period_plan = parse_plan(ROW_PLAN, "rows.yaml"), parse_plan(PERIOD_PLAN, "periods.yaml")
        t0 = time.perf_counter()
        rows_in = load_for_plan(rows_plan, rpath, apath)
        load_rows = time.perf_counter() - t0
        t0 = time.perf_counter()
        period_in = load_for_plan(period_plan, rpath, apath)
        load_periods = time.perf_counter() - t0
    row_prog, period_prog = compile_plan(rows_plan), compile_plan(period_plan)
    t_rows = timed(lambda: row_prog.evaluate(rows_in), args.repeat)
    t_periods = timed(lambda: period_prog.evaluate(period_in), args.repeat)
    n = args.transactions
    print(f"{n:,} transactions, {args.reps:,} reps, 12 months; {platform.python_implementation()} "
          f"{platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores")
    print(f"  load (parse, check, place in periods): row-level plan {load_rows:.2f} s, period-level plan "
          f"{load_periods:.2f} s")
    print(f"  evaluate, row-level measures (every row evaluated, then gathered): {t_rows:.3f} s = "
          f"{n / t_rows:,.0f} transactions/s")
    print(f"  evaluate, period-level path (columns summed at load): {t_periods:.3f} s")
    e2e_rows, e2e_periods = load_rows + t_rows, load_periods + t_periods
    print(f"  load + evaluate: row-level {e2e_rows:.2f} s ({n / e2e_rows:,.0f} transactions/s), period-level "
          f"{e2e_periods:.2f} s ({n / e2e_periods:,.0f} transactions/s): ratio {e2e_rows / e2e_periods:.2f}x")


if __name__ == "__main__":
    main()
