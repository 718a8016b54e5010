"""How long the three jobs and the studio take for their users: figures for the README.

Run: ``python benchmarks/bench_jobs.py`` (about two minutes on a 2-core machine; not part of
the test suite). Every figure is wall time measured in this one run, with ``workers=2``
where the CLI's default would use every core:

* ``studio``: what-ifs of each shipped plan as the studio runs them (40 runs of the
  default team, or 5 for plans whose pay depends on other reps; in 1 process, then on a
  pool of 2 as ``incentive studio`` uses on a 2-core machine), after a first call that
  compiles the plan's kernel and warms the cache of its text: seconds per slider move, the
  best of three moves of the first slider.
* ``report``: ``compare_plans`` of the five shipped plans (100 runs) without and with the
  per-rep detail the report needs, then building the HTML: the report's overhead as a
  ratio of the plain comparison's time.
* ``forecast``: ``forecast`` of the KPI scorecard plan from the shipped mid-year field-team
  data (125 reps, 6 months closed), 1,000 runs.
* ``recalibrate``: ``recalibrate`` of the seeds plan with the README's objective and
  constraints (40 simulations of 100 runs).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"
NAMES = ("seeds_base_float_excess", "classic_ae", "kpi_scorecard", "team_contest", "annual_quarterly_trueup")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_studio() -> None:
    from engine.app.studio import Studio

    print("studio: seconds per slider move (default team, same seed; the default backend, 1 process and "
          "a pool of 2 as `incentive studio` uses on this machine); the plan's text rewritten and read again "
          "per move, ms (libyaml where it reads the plan as PyYAML does / PyYAML only)")
    for workers in (1, 2):
        st = Studio({n: PLANS / f"{n}.yaml" for n in NAMES}, workers=workers)
        try:
            for name in NAMES:
                sliders = st.sliders(name)
                st.evaluate(name, {})  # the plan as written: the page's first view
                moves = [{s["name"]: s["min"] + (s["max"] - s["min"]) * f} for s in sliders[:1] for f in (0.0, 0.5, 1.0)]
                seconds = min(st.evaluate(name, move).seconds for move in moves or [{}])
                fast, slow = _rewrite_ms(st, name, sliders[0] if sliders else None)
                print(f"  {name:<26} {st.runs_for(name):>3} runs  {workers} process{'es' if workers > 1 else ''}  "
                      f"{seconds:6.2f} s (best of {len(moves) or 1} moves)   rewrite {fast:5.1f} / {slow:5.1f} ms",
                      flush=True)
        finally:
            st.close()


def _rewrite_ms(st, name: str, slider, rounds: int = 10) -> tuple[float, float]:
    """Milliseconds per move: the studio's rewrite (the plan's number sites, the edit, the new
    text read back through libyaml where it reads the plan as PyYAML does, validation) against
    reading the same new text with PyYAML alone (validation included); each round a value,
    and a text, not read before (no cache hits)."""
    from engine.plan import parse_plan
    from engine.plan.rewrite import rewrite_plan

    if slider is None:
        return float("nan"), float("nan")
    plan = st.plan(name)
    fast = slow = 0.0
    lo, hi = slider["min"], slider["max"]
    for i in range(rounds):
        t0 = time.perf_counter()
        values = st.values(name, {slider["name"]: lo + (hi - lo) * (i + 0.5) / (2 * rounds)})  # a group's weights move together
        text, _ = rewrite_plan(plan, values)
        t1 = time.perf_counter()
        parse_plan(text + f"\n# {i}\n", plan.plan.file)  # a text never read before
        t2 = time.perf_counter()
        fast, slow = fast + (t1 - t0), slow + (t2 - t1)
    return 1000 * fast / rounds, 1000 * slow / rounds


def bench_report(workers: int) -> None:
    from engine.jobs.compare import compare_plans, report_inputs
    from engine.plan import load_plan
    from engine.report.html import compare_report
    from engine.sim.scenario import default_scenario

    plans = [load_plan(PLANS / f"{n}.yaml") for n in NAMES]
    sc = default_scenario()
    _, plain = _timed(lambda: compare_plans(plans, sc, runs=100, workers=workers))
    cmp, detail = _timed(lambda: compare_plans(plans, sc, runs=100, workers=workers, keep_reps=True))
    page, build = _timed(lambda: compare_report(report_inputs(cmp, plans, sc)))  # lint included
    print(f"report: compare 5 plans x 100 runs {plain:.1f} s; with per-rep detail {detail:.1f} s, "
          f"building the HTML {build:.1f} s ({len(page) / 1e6:.1f} MB): "
          f"{(detail + build) / plain:.2f}x the plain comparison")


def bench_forecast(workers: int) -> None:
    from engine.jobs.forecast import forecast
    from engine.plan import load_plan

    plan = load_plan(PLANS / "kpi_scorecard.yaml")
    fc, secs = _timed(lambda: forecast(plan, DATA / "field_team_roster.csv", DATA / "field_team_actuals_h1.csv",
                                       runs=1000, seed=2027, budget=7_300_000, workers=workers))
    print(f"forecast: {fc.summary['reps']:.0f} reps, {fc.closed_months} months closed, 1,000 runs: {secs:.1f} s "
          f"(P50 {fc.summary['p50']:,.0f}, P90 {fc.summary['p90']:,.0f})")


def bench_recalibrate(workers: int) -> None:
    from engine.jobs.recalibrate import RecalibrationSpec, recalibrate
    from engine.plan import load_plan

    plan = load_plan(PLANS / "seeds_base_float_excess.yaml")
    spec = RecalibrationSpec(maximize="profit", subject_to=["cost_of_sales <= 0.065",
                                                            "share_at_or_above_target >= 45%",
                                                            "measures.complaints <= baseline"],
                             budget=40, targets=True)
    rec, secs = _timed(lambda: recalibrate(plan, spec, runs=100, workers=workers))
    print(f"recalibrate: {rec.evaluations} simulations of 100 runs: {secs:.1f} s "
          f"({secs / max(rec.evaluations, 1):.2f} s per candidate)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("studio", "report", "forecast", "recalibrate", "all"), default="all")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"{platform.machine()}, Python {platform.python_version()}, workers={args.workers}")
    parts = {"studio": bench_studio, "report": lambda: bench_report(args.workers),
             "forecast": lambda: bench_forecast(args.workers), "recalibrate": lambda: bench_recalibrate(args.workers)}
    for name, fn in parts.items():
        if args.part in (name, "all"):
            fn()


if __name__ == "__main__":
    main()
