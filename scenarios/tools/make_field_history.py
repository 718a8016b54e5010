"""Write a sample attainment history for `incentive calibrate` and `forecast --history`.

Two plan years before the field team's current one (fiscal 2025 and 2026), simulated with
the default scenario under the KPI scorecard plan, one row per rep and quarter: ``rep_id,
period, actual, target`` (revenue credited in the quarter and the quarterly quota). Quarters
rather than months because the shipped actuals carry credit notes, so some reps' monthly
revenue is negative, which an attainment model on the log scale cannot take; a quarter nets
them out. Regenerate with::

    .venv/bin/python scenarios/tools/make_field_history.py [--reps N] [--out PATH]

Same arguments, same file (the simulator is seeded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from engine.sim.simulate import simulated_year_tables

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_field_team import simulate_field_team

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=120)
    ap.add_argument("--seed", type=int, default=4241)
    ap.add_argument("--out", default=str(ROOT / "data" / "field_team_history.csv"))
    args = ap.parse_args()
    sim, result = simulate_field_team(args.reps, args.seed, years=2)
    frames = []
    for i, year in enumerate((2025, 2026)):
        roster, actuals = simulated_year_tables(sim, result, i)
        month = pd.to_datetime(actuals["date"]).dt.month
        actuals["period"] = f"{year}-Q" + ((month - 1) // 3 + 1).astype(str)
        q = actuals.groupby(["rep_id", "period"], as_index=False).agg(actual=("revenue", "sum"),
                                                                     months=("revenue", "size"))
        q = q[q["months"] == 3]  # whole quarters only: a part quarter's target would need proration
        quota = roster.set_index("rep_id")["quota"]
        q["target"] = (q["rep_id"].map(quota) / 4).round(2)
        q["actual"] = q["actual"].clip(lower=0).round(2)
        frames.append(q[["rep_id", "period", "actual", "target"]])
    history = pd.concat(frames, ignore_index=True)
    history.to_csv(args.out, index=False)
    print(f"{history.rep_id.nunique()} reps, {len(history)} rep-quarters -> {args.out}")


if __name__ == "__main__":
    main()
