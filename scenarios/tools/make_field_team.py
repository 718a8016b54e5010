"""Write the field team's roster and first-half actuals (scenarios/data/field_team_*.csv).

A realistic mid-year data set for the forecast and alert walk-throughs: the default
scenario's 120-rep team simulated under the KPI scorecard plan, seen at the end of June,
exported as a company would hold it (roster with start/end dates, one transaction per rep
and month). Regenerate with::

    .venv/bin/python scenarios/tools/make_field_team.py [--reps N] [--out-prefix PATH]

Same arguments, same files (the simulator is seeded).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from engine.plan import load_plan
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation, simulated_year_tables

ROOT = Path(__file__).resolve().parents[1]


def simulate_field_team(reps: int, seed: int, years: int = 1):
    """The default scenario's team (``reps`` seats) simulated under the KPI scorecard plan
    for ``years`` runs kept in full: ``(simulation, chunk result)``."""
    plan = load_plan(ROOT / "plans" / "kpi_scorecard.yaml")
    scenario = default_scenario()
    if reps != scenario.reps:
        scenario = dataclasses.replace(scenario, reps=reps)
    sim = Simulation(plan, scenario, seed)
    return sim, sim.run_chunk(np.arange(years), keep=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=120)
    ap.add_argument("--months", type=int, default=6, help="months of actuals to keep (default: 6)")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--out-prefix", default=str(ROOT / "data" / "field_team"))
    args = ap.parse_args()
    sim, result = simulate_field_team(args.reps, args.seed)
    roster, actuals = simulated_year_tables(sim, result, 0, until=args.months)
    money = [c for c in actuals.columns if c not in ("rep_id", "date")]
    actuals[money] = actuals[money].round(2)
    roster.to_csv(f"{args.out_prefix}_roster.csv", index=False)
    actuals.to_csv(f"{args.out_prefix}_actuals_h1.csv" if args.months == 6 else
                   f"{args.out_prefix}_actuals_{args.months}m.csv", index=False)
    print(f"{len(roster)} reps, {len(actuals)} transaction rows -> {args.out_prefix}_*.csv")


if __name__ == "__main__":
    main()
