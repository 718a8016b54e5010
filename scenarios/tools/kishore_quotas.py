"""Kishore et al. (2013) by skill quartile when quotas follow ability: the experiment behind
docs/model.md section 8b.

The model card's pair (``scenarios/validation/lump_sum.yaml`` against ``commission_only.yaml``)
runs on the default scenario, whose quotas are territories: they do not follow a rep's skill,
so the strongest reps make a lump sum's step at baseline effort and coast, and a commission
lifts them most (the card's row does not hold). The paper's firm set quotas from past sales.
This script asks the same question where quotas follow ability: two plan years under a full
ratchet (year two's quota is year one's result), read in year two. For each skill quartile it
prints the commission's lift in revenue over the lump sum's, for every seat (backfills
included) and for the reps who held their seat all 24 months under both plans::

    .venv/bin/python scenarios/tools/kishore_quotas.py [--runs 40] [--seed 2027]

Same arguments, same figures (the simulator is seeded; both plans share the seed, so run
``i`` has the same people and luck under both).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "validation"


def lifts(runs: int, seed: int, ratchet: bool) -> dict[str, np.ndarray]:
    """Per plan year (and ``"all"``) and population (``"every seat"``, ``"stayers"``), the
    commission's relative revenue lift over the lump sum per skill quartile (Q1 lowest)."""
    from engine.plan import load_plan
    from engine.sim.executor import build_simulation
    from engine.sim.metrics import skill_quartiles
    from engine.sim.scenario import QuotaPolicy, default_scenario

    scenario = default_scenario()
    scenario = replace(scenario, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0) if ratchet
                       else QuotaPolicy("fixed"))
    got = {}
    for name in ("lump_sum", "commission_only"):
        sim = build_simulation(load_plan(PLANS / f"{name}.yaml"), scenario, seed, (), None)
        res = sim.run_chunk(np.arange(runs), keep=True)
        assert res.detail is not None
        stayed = res.detail["active"].all(axis=2) & ~np.asarray(res.detail["hired"], dtype=bool)
        got[name] = (res.detail["actual"][scenario.primary_measure], res.skill, stayed, sim.seats)
    (lump, skill, stay_a, seats), (comm, _, stay_b, _) = got["lump_sum"], got["commission_only"]
    quartile = skill_quartiles(skill[:, :seats])
    stayers = stay_a[:, :seats] & stay_b[:, :seats]
    out = {"stayers share": np.array([stayers.mean()])}
    for year, months in (("year 1", slice(0, 12)), ("year 2", slice(12, 24))):
        a, b = lump[:, :seats, months].sum(axis=2), comm[:, :seats, months].sum(axis=2)
        for who, keep in (("every seat", np.ones_like(stayers)), ("stayers", stayers)):
            out[f"{year}, {who}"] = np.array([b[(quartile == k) & keep].sum() / a[(quartile == k) & keep].sum() - 1.0
                                              for k in range(4)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args()
    for ratchet in (False, True):
        quotas = "quotas from year one's results (full ratchet)" if ratchet else "territory quotas (fixed)"
        got = lifts(args.runs, args.seed, ratchet)
        print(f"{quotas}, {args.runs} runs; stayers {got.pop('stayers share')[0]:.0%} of seats")
        for key, v in got.items():
            print(f"  {key:<20} lift Q1..Q4 " + " ".join(f"{x:+6.1%}" for x in v) + f"   gap Q1 - Q4 {v[0] - v[3]:+6.1%}")


if __name__ == "__main__":
    main()
