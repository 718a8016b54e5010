"""Back-test ``incentive forecast`` on plan years the simulator did not generate (issue 12, item 5).

For each of K held-back years (default 100) a team's three years come from the out-of-model
generator (tests/jobs/outofmodel.py: lumpy deals, quits and backfills, no behavioural
response, a market that moves everybody together); the plan year is forecast from its first
6 months with ``engine.jobs.forecast.forecast``, without history (the default scenario) and/or
with history (the scenario calibrated first on the two prior years, as ``incentive forecast
--history`` does), and compared with the realized annual payout of the plan year, computed
by the payout engine on the full-year roster and actuals as ``incentive payout`` does.

``--process`` picks where the years come from (:data:`PROCESSES`); ``--process all`` runs
every process, the out-of-model one without and with history, and then pools them.

Printed: years, the share of years whose realized payout is above the forecast P90 (should be
about 10%) and above P50 (about 50%), each with a Wilson 95% interval, the seconds taken, and
the command line that reproduces the run; with several back-tests, the pooled shares. With
``--history --trust`` each year is also forecast without history (as ``incentive forecast
--history`` does) and the report scores which of the two the forecast says to trust.

Run: ``.venv/bin/python benchmarks/backtest_out_of_model.py`` (100 years, 200 runs, both
modes: several minutes on a 2-core machine), or ``--quick`` for a smoke run; ``make backtest``
is the short version of every process (few years: wide intervals, a first look, not a verdict).
The years run one after another in one process, or spread over ``--workers`` forked processes
(each year from its own seeds: the same figures either way); the plan is loaded once and each
process compiles it once (the executor's cache), so the time goes to simulating runs. With
history, each year's calibration simulates the history plan about 5 times
(:func:`engine.jobs.history.calibrate_under_plan`: level, noise and skill spread by simulated
moments; ``--level-only`` the level alone, as before stop 35). Not part of the test
suite; tests/jobs/test_outofmodel.py runs :func:`backtest` on 3 years.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLAN = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"
CLOSED_MONTHS = 6
PROCESSES = {
    "outofmodel": "tests/jobs/outofmodel.py: lumpy deals, quits, a market, no response to the plan",
    "drift0": "the simulator, morale drains off (a team that responds to its plan but does not fade)",
    "drift2": "the simulator, morale drains doubled (a team that fades twice as fast)",
    "default": "the simulator with the forecast's own scenario (in-model)",
}
"""The processes the held-back years can come from (``--process``)."""
DRIFT = {"drift0": 0.0, "drift2": 2.0, "default": 1.0}


@dataclass(frozen=True)
class Backtest:
    """The outcome of one back-test.

    Attributes:
        history: whether the scenario was calibrated on the two prior years first.
        years: held-back years.
        over_p90, over_p50: years whose realized annual payout was above the forecast P90 / P50.
        seconds: wall time.
        realized, p50, p90: per year, the realized annual payout and the forecast's P50 / P90.
        trust: with ``--trust``, per year the forecast :func:`engine.jobs.with_history.check_history`
            says to trust (``with history``, ``without history`` or ``either``); else empty.
        disagree: with ``--trust``, per year whether the two forecasts disagree.
        p50_without, p90_without: with ``--trust``, the forecast without history's P50 / P90.
        nearer_with: with ``--trust``, per year whether the calibrated scenario expected the
            actuals so far at least as well as the base (the check's rule, applied every year).
    """

    history: bool
    process: str
    years: int
    over_p90: int
    over_p50: int
    seconds: float
    realized: tuple[float, ...]
    p50: tuple[float, ...]
    p90: tuple[float, ...]
    trust: tuple[str, ...] = ()
    disagree: tuple[bool, ...] = ()
    p50_without: tuple[float, ...] = ()
    p90_without: tuple[float, ...] = ()
    nearer_with: tuple[bool, ...] = ()

    @property
    def share_over_p90(self) -> float:
        return self.over_p90 / self.years

    @property
    def share_over_p50(self) -> float:
        return self.over_p50 / self.years


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a binomial proportion ``k / n``."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def backtest(years: int = 100, runs: int = 200, reps: int = 100, seed: int = 2027, history: bool = False,
             workers: int = 1, progress: bool = False, process: str = "outofmodel",
             fixed_behaviour: bool = False, prior=None, history_runs: int | None = None,
             trust: bool = False, first: int = 0, carry: tuple[float, float] | None | str = "default",
             timing: float | None | str = "default", level_only: bool = False) -> Backtest:
    """Forecast ``years`` out-of-model plan years from their first half and count the misses.

    Args:
        years: held-back years; year ``k`` is the world ``generate(seed + k)``.
        runs: simulated completions of the year per forecast.
        reps: seats in the generated team.
        seed: first world seed; forecast ``k`` uses seed ``10_000 + k``.
        history: calibrate the scenario on the world's two prior years first (as
            ``incentive forecast --history``); otherwise use the default scenario.
        workers: processes the years are spread over (each year's calibration and forecast
            run in one of them, from its own seeds: the results do not depend on it).
        progress: print one line per year on stderr.
        process: where the years come from (:data:`PROCESSES`). The simulator's processes
            draw one team of ``reps`` seats per year from the default scenario with its
            morale drains multiplied by :data:`DRIFT` (``history`` needs ``outofmodel``).
        fixed_behaviour: the forecast before issue 27: the scenario's behaviour known
            (``behaviour=None``), leavers' seats empty and the scenario's quit hazard
            (``in_post=False``).
        prior: the forecast's :class:`~engine.sim.uncertain.BehaviourPrior` (default: the
            forecast's default).
        history_runs: with ``history``, runs per simulation of the history plan when the level
            is read under it (default: ``incentive forecast --history``'s,
            :data:`engine.jobs.history.DEFAULT_RUNS`).
        trust: with ``history``, also forecast each year without it (same runs and seed) and
            record which of the two ``incentive forecast --history`` says to trust.
        first: the first year's index ``k`` (years ``first .. first + years - 1``): a long
            back-test split over several commands gives the same years as in one.
        carry: the forecast's ``carry`` (the range of the share of the model's timing carry-in
            each run carries across the as-of period end; None: none); ``"default"``: the
            forecast's default.
        timing: the forecast's ``timing`` (the prior probability that the team moves business
            across period ends as the model's reps do; None: the model's timing, known);
            ``"default"``: the forecast's default.
        level_only: with ``history``, calibrate as before stop 35: only the level is read under
            the history plan (noise and skill spread as fitted; ``calibrate_under_plan(moments=False)``).

    Returns:
        The :class:`Backtest`.
    """
    from engine.plan import load_plan

    if process not in PROCESSES:
        raise ValueError(f"unknown process '{process}' (known: {', '.join(PROCESSES)})")
    if history and process != "outofmodel":
        raise ValueError("--history needs the out-of-model process (the simulator's have no history years)")
    checked = load_plan(PLAN)  # compiled once per process (engine.sim.executor caches the programs)
    kwargs = {"behaviour": None, "in_post": False} if fixed_behaviour else \
        ({} if prior is None else {"behaviour": prior})
    if carry != "default":
        kwargs = {**kwargs, "carry": carry}
    if timing != "default":
        kwargs = {**kwargs, "timing": timing}
    sim_truth = None
    if process != "outofmodel":
        from dataclasses import replace

        from engine.sim.scenario import default_scenario
        from engine.sim.simulate import Simulation

        base = default_scenario().with_overrides(reps=reps, teams=max(1, min(reps, reps // 10)))
        mp = dict(base.morale)
        for key in ("pay_gap", "outside_gap", "hopeless", "unfair"):
            mp[key] = mp[key] * DRIFT[process]
        gen = Simulation(checked, replace(base, morale=tuple(mp.items())), seed)
        sim_truth = (gen, gen.run_chunk(np.arange(first + years), keep=True))
    if trust and not history:
        raise ValueError("--trust compares the forecasts with and without history: give --history")
    calibration = ({} if history_runs is None else {"runs": history_runs}) | ({"moments": False} if level_only else {})
    job = _Years(checked, reps, seed, runs, history, calibration, kwargs, sim_truth, trust)
    t0 = time.perf_counter()
    rows = []
    for k, row in enumerate(_each_year(job, range(first, first + years), workers), start=first):
        rows.append(row)
        if progress:
            print(f"  year {k + 1}/{first + years}: realized {row.truth:,.0f}, P50 {row.p50:,.0f}, P90 {row.p90:,.0f}"
                  + (f"; without history P50 {row.p50_without:,.0f}, trust {row.trust}" if trust else ""),
                  file=sys.stderr, flush=True)
    over90 = sum(r.truth > r.p90 for r in rows)
    over50 = sum(r.truth > r.p50 for r in rows)
    return Backtest(history=history, process=process, years=years, over_p90=over90, over_p50=over50,
                    seconds=time.perf_counter() - t0, realized=tuple(r.truth for r in rows),
                    p50=tuple(r.p50 for r in rows), p90=tuple(r.p90 for r in rows),
                    trust=tuple(r.trust for r in rows if trust), disagree=tuple(r.disagree for r in rows if trust),
                    p50_without=tuple(r.p50_without for r in rows if trust),
                    p90_without=tuple(r.p90_without for r in rows if trust),
                    nearer_with=tuple(r.nearer_with for r in rows if trust))


@dataclass(frozen=True)
class _Year:
    """One held-back year: the realized payout, the forecast's P50 and P90, and with ``trust``
    the forecast without history's and the check's answer."""

    truth: float
    p50: float
    p90: float
    p50_without: float = math.nan
    p90_without: float = math.nan
    trust: str = ""
    disagree: bool = False
    nearer_with: bool = False


@dataclass(frozen=True)
class _Years:
    """What every held-back year of one back-test shares (built once, inherited by forked workers)."""

    checked: object
    reps: int
    seed: int
    runs: int
    history: bool
    calibration: dict
    forecast: dict
    sim_truth: tuple | None
    trust: bool = False


_JOB: _Years | None = None  # the back-test the forked workers run years of


def _each_year(job: _Years, years: range, workers: int):
    """``(realized, P50, P90)`` of each year in order: here, or spread over ``workers`` forked
    processes, one year at a time (each year draws from its own seeds, so the figures are the
    same either way)."""
    global _JOB
    _JOB = job
    if workers <= 1 or len(years) <= 1:
        yield from map(_one_year, years)
        return
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(min(workers, len(years))) as pool:
        yield from pool.imap(_one_year, years)


def _one_year(k: int) -> _Year:
    """Year ``k`` of :data:`_JOB`: its realized annual payout and the forecast's P50 and P90."""
    from engine.data.statements import statements
    from engine.jobs.forecast import forecast
    from engine.jobs.history import calibrate_under_plan
    from engine.sim.simulate import simulated_year_tables
    from tests.jobs.outofmodel import OutOfModel, generate

    job = _JOB
    assert job is not None
    if job.sim_truth is None:
        world = generate(job.seed + k, OutOfModel(reps=job.reps, teams=max(1, min(job.reps, job.reps // 10))))
        roster, actuals = world.as_of(CLOSED_MONTHS)
        truth = float(statements(job.checked, world.roster, world.actuals)["total"].sum())
    else:
        roster, actuals = simulated_year_tables(job.sim_truth[0], job.sim_truth[1], k, until=CLOSED_MONTHS)
        truth = float(job.sim_truth[1].cost[k])
    # As `incentive forecast --history`: the history read under the plan that paid it (the same plan).
    scenario, cal, fit = calibrate_under_plan(world.history, job.checked, seed=10_000 + k, **job.calibration) \
        if job.history else (None, None, None)
    fc = forecast(job.checked, roster, actuals, scenario=scenario, runs=job.runs, seed=10_000 + k,
                  decompose=False, **job.forecast)
    year = _Year(truth, float(fc.summary["p50"]), float(fc.summary["p90"]))
    if not job.trust:
        return year
    # As `incentive forecast --history` does next: the same forecast without the history, and the check.
    from dataclasses import replace

    from engine.jobs.with_history import check_history
    from engine.sim.scenario import default_scenario

    base = default_scenario()
    without = forecast(job.checked, roster, actuals, scenario=base, runs=job.runs, seed=10_000 + k,
                       decompose=False, **job.forecast)
    check = check_history(fc, scenario, without, base, cal, fit)
    return replace(year, p50_without=float(without.summary["p50"]), p90_without=float(without.summary["p90"]),
                   trust=check.trust, disagree=check.disagree,
                   nearer_with=abs(check.surprise_with) <= abs(check.surprise_without))


def report(bt: Backtest) -> str:
    """One back-test as readable lines."""
    lo90, hi90 = wilson(bt.over_p90, bt.years)
    lo50, hi50 = wilson(bt.over_p50, bt.years)
    mode = "with history (calibrated on the 2 prior years)" if bt.history else "without history (default scenario)"
    ratio = np.array(bt.realized) / np.array(bt.p50)
    return (f"process {bt.process}, {mode}: {bt.years} years\n"
            f"  realized > P90: {bt.share_over_p90:6.1%}  (95% CI {lo90:.1%}-{hi90:.1%}; should be ~10%)\n"
            f"  realized > P50: {bt.share_over_p50:6.1%}  (95% CI {lo50:.1%}-{hi50:.1%}; should be ~50%)\n"
            f"  realized / P50: mean {ratio.mean():.3f} (sd {ratio.std():.3f}); P90 / P50: mean "
            f"{np.mean(np.array(bt.p90) / np.array(bt.p50)):.3f}\n"
            f"  {bt.seconds:.1f} s\n")


def trust_report(bt: Backtest) -> str:
    """How the check's answer did: in the years the two forecasts disagreed, how often the one it
    said to trust had its P50 nearer the realized payout (on the log scale); and the forecast
    without history's own shares over the same years."""
    if not bt.trust:
        return ""
    real = np.array(bt.realized)
    err_with = np.abs(np.log(real / np.array(bt.p50)))
    err_without = np.abs(np.log(real / np.array(bt.p50_without)))
    dis = np.array(bt.disagree)
    picked_with = np.array([t == "with history" for t in bt.trust])
    right = np.where(picked_with, err_with < err_without, err_without < err_with)[dis]
    n = int(dis.sum())
    lo, hi = wilson(int(right.sum()), n)
    over90 = int((real > np.array(bt.p90_without)).sum())
    over50 = int((real > np.array(bt.p50_without)).sum())
    lines = [(f"  without history, same years: realized > P90 {over90 / bt.years:.1%} "
             f"(95% CI {wilson(over90, bt.years)[0]:.1%}-{wilson(over90, bt.years)[1]:.1%}), > P50 "
             f"{over50 / bt.years:.1%} (95% CI {wilson(over50, bt.years)[0]:.1%}-{wilson(over50, bt.years)[1]:.1%}); "
             f"realized / P50 mean {np.mean(real / np.array(bt.p50_without)):.3f}"),
             (f"  P50 nearer the realized payout: with history in {int((err_with < err_without).sum())} of "
             f"{bt.years} years; median |log error| with {np.median(err_with):.3f}, without "
             f"{np.median(err_without):.3f}"),
             (f"  they disagree in {n} of {bt.years} years; the check trusts with history in "
             f"{int((picked_with & dis).sum())}, without in {int((~picked_with & dis).sum())}")]
    if n:
        lines.append(f"  where they disagree, the one trusted was nearer in {int(right.sum())} of {n} "
                     f"({right.mean():.1%}, 95% CI {lo:.1%}-{hi:.1%}; picking at random: 50%)")
    near = np.array(bt.nearer_with)
    rule = np.where(near, err_with < err_without, err_without < err_with)
    lo, hi = wilson(int(rule.sum()), bt.years)
    lines.append(f"  the rule in every year (the forecast whose scenario expected the actuals better): nearer in "
                 f"{int(rule.sum())} of {bt.years} ({rule.mean():.1%}, 95% CI {lo:.1%}-{hi:.1%}); it picks with "
                 f"history in {int(near.sum())}")
    return "\n".join(lines) + "\n"


def pooled(bts: list[Backtest]) -> str:
    """The shares over every back-test together (each year one trial), with Wilson 95% intervals."""
    years = sum(bt.years for bt in bts)
    over90 = sum(bt.over_p90 for bt in bts)
    over50 = sum(bt.over_p50 for bt in bts)
    lo90, hi90 = wilson(over90, years)
    lo50, hi50 = wilson(over50, years)
    return (f"pooled over {len(bts)} back-tests: {years} years\n"
            f"  realized > P90: {over90 / years:6.1%}  (95% CI {lo90:.1%}-{hi90:.1%}; should be ~10%)\n"
            f"  realized > P50: {over50 / years:6.1%}  (95% CI {lo50:.1%}-{hi50:.1%}; should be ~50%)\n")


def plan_of_runs(process: str, history: bool | None) -> list[tuple[str, bool]]:
    """The ``(process, with history)`` back-tests ``--process`` and ``--history`` ask for:
    ``all`` is every process, the out-of-model one without and with history (the simulator's
    processes have no history years, so only without)."""
    processes = sorted(PROCESSES) if process == "all" else [process]
    out = []
    for p in processes:
        modes = [False, True] if history is None else [history]
        out += [(p, h) for h in modes if not h or p == "outofmodel"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=None, help="held-back years (default 100; --quick 20)")
    parser.add_argument("--runs", type=int, default=None, help="runs per forecast (default 200; --quick 20)")
    parser.add_argument("--reps", type=int, default=100, help="seats in the generated team (default 100)")
    parser.add_argument("--seed", type=int, default=2027, help="first world seed (default 2027)")
    parser.add_argument("--first", type=int, default=0,
                        help="index of the first year (default 0): years FIRST..FIRST+YEARS-1, the same years "
                             "as in one longer run")
    parser.add_argument("--history", action=argparse.BooleanOptionalAction, default=None,
                        help="only with (--history) or only without (--no-history) calibration; default both")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes the years are spread over (default 1; the figures do not depend on it)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 years, 20 runs")
    parser.add_argument("--history-runs", type=int, default=None,
                        help="with history: runs per simulation of the history plan (default: "
                             "`incentive forecast --history`'s, engine.jobs.history.DEFAULT_RUNS)")
    parser.add_argument("--level-only", action="store_true",
                        help="with history: read only the level under the history plan (the calibration before "
                             "stop 35: noise and skill spread as fitted, not calibrated by simulation)")
    parser.add_argument("--progress", action="store_true", help="one line per year on stderr")
    parser.add_argument("--trust", action="store_true",
                        help="with --history: also forecast without history and score which of the two "
                             "`incentive forecast --history` says to trust")
    parser.add_argument("--process", default="outofmodel", choices=[*sorted(PROCESSES), "all"],
                        help="where the held-back years come from (default outofmodel; all: every process, "
                             "each with and without history where it has history, and the pooled shares)")
    parser.add_argument("--fixed-behaviour", action="store_true",
                        help="forecast with the scenario's behaviour known (the forecast before issue 27)")
    parser.add_argument("--prior", default=None, metavar="D0,D1,K0,K1,R0,R1",
                        help="the forecast's behaviour prior: drain, effort-cost and reset ranges "
                             "(default: the forecast's, 0,2,0.5,2,0,1)")
    parser.add_argument("--carry", default=None, metavar="LO,HI|none",
                        help="the forecast's timing carry-in across the as-of period end: the range of the "
                             "share of the model's carry-in drawn per run, or none (default: the forecast's)")
    parser.add_argument("--timing", default=None, metavar="P|none",
                        help="the forecast's prior probability that the team moves business across period ends "
                             "as the model's reps do, or none (the model's timing, known; default: the forecast's)")
    args = parser.parse_args(argv)
    timing: float | None | str = "default"
    if args.timing is not None:
        try:
            timing = None if args.timing == "none" else float(args.timing)
        except ValueError:
            parser.error(f"--timing is a probability or none (got {args.timing})")
    carry: tuple[float, float] | None | str = "default"
    if args.carry is not None:
        try:
            carry = None if args.carry == "none" else tuple(float(x) for x in args.carry.split(","))  # type: ignore[assignment]
        except ValueError:
            parser.error(f"--carry is LO,HI or none (got {args.carry})")
        if carry is not None and len(carry) != 2:
            parser.error(f"--carry is LO,HI or none (got {args.carry})")
    prior = None
    if args.prior:
        from engine.sim.uncertain import BehaviourPrior

        v = [float(x) for x in args.prior.split(",")]
        prior = BehaviourPrior(drain=(v[0], v[1]), effort_cost=(v[2], v[3]), reset=(v[4], v[5]))
    years = args.years if args.years is not None else (20 if args.quick else 100)
    runs = args.runs if args.runs is not None else (20 if args.quick else 200)
    if args.trust and args.history is False:
        parser.error("--trust compares the forecasts with and without history: drop --no-history")
    if args.first < 0:
        parser.error(f"--first is a year index, 0 or more (got {args.first})")
    tests = plan_of_runs(args.process, args.history)
    if not tests:
        parser.error(f"--history needs the out-of-model process (process {args.process} has no history years)")
    command = [".venv/bin/python", "benchmarks/backtest_out_of_model.py", "--years", str(years), "--runs", str(runs),
               "--reps", str(args.reps), "--seed", str(args.seed), "--workers", str(args.workers)]
    if args.first:
        command += ["--first", str(args.first)]
    if args.history is not None:
        command.append("--history" if args.history else "--no-history")
    command += ["--process", args.process] + (["--fixed-behaviour"] if args.fixed_behaviour else []) \
        + (["--prior", args.prior] if args.prior else []) \
        + (["--history-runs", str(args.history_runs)] if args.history_runs is not None else []) \
        + (["--trust"] if args.trust else []) + (["--carry", args.carry] if args.carry else []) \
        + (["--level-only"] if args.level_only else []) \
        + (["--timing", args.timing] if args.timing else [])
    print(f"Out-of-model back-test of {PLAN.relative_to(ROOT)}: forecast from the first {CLOSED_MONTHS} months, "
          f"{years} years, {runs} runs per forecast, {args.reps} seats, seeds {args.seed + args.first}-{args.seed + args.first + years - 1}")
    print(f"reproduce: {shlex.join(command)}\n", flush=True)
    total = time.perf_counter()
    done = []
    for process, history in tests:
        bt = backtest(years=years, runs=runs, reps=args.reps, seed=args.seed, history=history,
                      workers=args.workers, progress=args.progress, process=process,
                      fixed_behaviour=args.fixed_behaviour, prior=prior, history_runs=args.history_runs,
                      trust=args.trust and history, first=args.first, carry=carry,
                      timing=timing, level_only=args.level_only)
        done.append(bt)
        print(report(bt) + trust_report(bt), flush=True)
    if len(done) > 1:
        print(pooled(done))
    print(f"total {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
