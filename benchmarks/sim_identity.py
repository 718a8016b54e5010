"""Record, or compare bit for bit, what the simulator returns for every shipped plan.

Run: ``PYTHONPATH=<engine root> python benchmarks/sim_identity.py save|check FILE.npz [CELLS]``

Saves (``save``) or compares with ``np.array_equal`` (``check``, exit status 1 on any
difference) every array of the ChunkResults of: each shipped plan on the default scenario
(40 reps, chunks of runs 0-4 and 5-7 with ``keep=True``, and runs 0-1 until month 5), under
the numpy and the numba backend; the payment-delays plan on ``deals_paid_late.yaml``; the
seeds and YTD true-up plans over two years under a quota ratchet; and the chunks of a
conditioned forecast of the seeds plan. Run ``save`` with the engine before a change
(``git archive <commit> engine | tar -x -C DIR``, ``PYTHONPATH=DIR``) and ``check`` after it:
a change outside the arithmetic must leave every bit in place. ``CELLS`` sets the
simulator's what-if block size (``_WHAT_IF_CELLS``), to check every blocking.
"""
import dataclasses
import sys
from pathlib import Path

import numpy as np

from engine.plan import compile_plan, load_plan
from engine.sim.scenario import QuotaPolicy, default_scenario, load_scenario
from engine.sim.simulate import Simulation

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"


def flatten(prefix, obj, out):
    if obj is None:
        return
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(f"{prefix}.{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(f"{prefix}[{i}]", v, out)
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            flatten(f"{prefix}.{f.name}", getattr(obj, f.name), out)
    elif isinstance(obj, (int, float, bool, str, np.generic)):
        out[prefix] = np.asarray(obj)


def cases():
    small = dataclasses.replace(default_scenario(), reps=40, teams=4)
    paid_late = load_scenario(ROOT / "scenarios" / "deals_paid_late.yaml")
    paid_late = dataclasses.replace(paid_late, reps=30, teams=3)
    years = dataclasses.replace(default_scenario(), reps=20, teams=2, months=24,
                                quota_policy=QuotaPolicy("ratchet", 0.05, 0.6))
    chunks = [np.arange(0, 5), np.arange(5, 8)]
    for plan in ("seeds_base_float_excess", "annual_quarterly_trueup", "team_contest", "classic_ae",
                 "kpi_scorecard", "seeds_cn_deals", "roster_changes"):
        for backend in ("numpy", "numba"):
            yield f"{plan}/{backend}", plan, small, backend, chunks
    for backend in ("numpy", "numba"):
        yield f"product_rates_paid_late/{backend}", "product_rates_on_payment", paid_late, backend, chunks
        yield f"seeds_ratchet_years/{backend}", "seeds_base_float_excess", years, backend, [np.arange(0, 3)]
        yield f"trueup_ratchet_years/{backend}", "annual_quarterly_trueup", years, backend, [np.arange(0, 2)]


def run_all():
    out = {}
    for name, plan, sc, backend, chunks in cases():
        checked = load_plan(PLANS / f"{plan}.yaml")
        sim = Simulation(checked, sc, 11, program=compile_plan(checked, backend=backend))
        for ci, runs in enumerate(chunks):
            res = sim.run_chunk(runs, keep=True)
            flatten(f"{name}/chunk{ci}", res, out)
        # until= partial months
        res = sim.run_chunk(chunks[0][:2], until=5)
        flatten(f"{name}/until5", res, out)
        print(name, flush=True)
    # conditioned (forecast) runs: record every chunk result
    from engine.jobs.forecast import forecast
    recorded = []
    orig = Simulation.run_chunk

    def rec(self, runs, until=None, keep=False):
        r = orig(self, runs, until=until, keep=keep)
        recorded.append(r)
        return r

    Simulation.run_chunk = rec
    try:
        for plan, roster, actuals in (("seeds_base_float_excess", "seeds_roster.csv", "seeds_actuals.csv"),
                                      ("annual_quarterly_trueup", "annual_quarterly_trueup_roster.csv",
                                       "annual_quarterly_trueup_actuals.csv")):
            recorded.clear()
            checked = load_plan(PLANS / f"{plan}.yaml")
            fc = forecast(checked, DATA / roster, DATA / actuals, runs=12, seed=3)
            for i, r in enumerate(recorded):
                flatten(f"forecast_{plan}/rec{i}", r, out)
            out[f"forecast_{plan}/summary"] = np.asarray([float(v) for v in fc.summary.values()
                                                          if isinstance(v, (int, float))])
            print("forecast", plan, len(recorded), flush=True)
    finally:
        Simulation.run_chunk = orig
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:  # force a what-if block size (cells)
        import engine.sim.simulate as S
        S._WHAT_IF_CELLS = int(sys.argv[3])
        print("what-if cells", S._WHAT_IF_CELLS)
    out = run_all()
    if mode == "save":
        np.savez_compressed(path, **{k: (v.astype(str) if v.dtype == object else v) for k, v in out.items()})
        print("saved", len(out), "arrays")
        return
    ref = np.load(path, allow_pickle=False)
    bad = []
    keys = set(ref.files)
    for k, v in out.items():
        v = v.astype(str) if v.dtype == object else v
        if k not in keys:
            bad.append(f"new key {k}")
        elif not np.array_equal(ref[k], v, equal_nan=v.dtype.kind == "f"):
            bad.append(k)
    missing = keys - set(out)
    bad += [f"missing {k}" for k in missing]
    print(f"compared {len(out)} arrays; differing: {len(bad)}")
    for b in bad[:40]:
        print("  DIFF", b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
