"""The ``incentive`` command line: arguments in, public API, exit code out.

Every error a user can cause is an :class:`~engine.errors.EngineError`: it is printed
without a traceback and the exit status is 2. Output files are written atomically, so a
failed run leaves no partial file.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from engine.errors import EngineError

__all__ = ["main"]


def _fail(exc: EngineError) -> None:
    click.echo(exc.render(), err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="incentive-engine")
def cli() -> None:
    """Design, run and explain sales incentive plans."""


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", type=click.Path(exists=True, dir_okay=False),
              help="Roster whose median rep is used for the payout table.")
@click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
              help="Scenario to simulate briefly so design hazards say what share of reps they affect.")
def check(plan: str, roster: Optional[str], scenario_path: Optional[str]) -> None:
    """Validate PLAN, summarize it, show what it pays at 50-150% of target, and lint its design."""
    from engine.data.load import read_table
    from engine.plan import load_plan
    from engine.plan.lint import format_findings, lint_plan
    from engine.summary import summarize

    try:
        checked = load_plan(plan)
        table = read_table(roster, "roster") if roster else None
        click.echo(summarize(checked, table))
        scenario = _load_scenario(scenario_path) if scenario_path else None
        findings = lint_plan(checked, table, scenario=scenario)
    except EngineError as exc:
        _fail(exc)
    click.echo("")
    click.echo("Design hazards")
    click.echo(format_findings(findings, plan))


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", required=True, type=click.Path(dir_okay=False), help="Roster: CSV, Excel or Parquet.")
@click.option("--actuals", required=True, type=click.Path(dir_okay=False),
              help="Actuals per rep and period, or transactions with a date (CSV, Excel or Parquet).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Statements file to write (.csv, .xlsx or .parquet).")
def payout(plan: str, roster: str, actuals: str, out: str) -> None:
    """Compute payout statements for every rep and period."""
    from engine.plan import load_plan
    from engine.statements import statements, write_statements

    try:
        checked = load_plan(plan)
        df = statements(checked, roster, actuals)
        write_statements(df, checked.plan, out)
    except EngineError as exc:
        _fail(exc)
    reps = df["rep_id"].nunique()
    click.echo(f"wrote {len(df)} statements for {reps} reps over {df['period'].nunique()} periods to {out} "
               f"(total {df['total'].sum():,.{checked.plan.minor_unit}f} {checked.plan.currency})")


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", required=True, type=click.Path(dir_okay=False))
@click.option("--actuals", required=True, type=click.Path(dir_okay=False))
@click.option("--rep", required=True, help="The rep id to explain.")
@click.option("--period", default=None, help="One period label (default: every period of the rep).")
def explain(plan: str, roster: str, actuals: str, rep: str, period: Optional[str]) -> None:
    """Show step by step how one rep's statement was calculated."""
    from engine.explain import explain as explain_text
    from engine.plan import compile_plan, load_plan
    from engine.statements import load_for_plan, statement_table

    try:
        checked = load_plan(plan)
        inputs = load_for_plan(checked, roster, actuals)
        table = statement_table(checked.plan, inputs, compile_plan(checked).evaluate(inputs))
        click.echo(explain_text(checked, inputs, table, rep, period))
    except EngineError as exc:
        _fail(exc)


def _write_json(doc: dict, target: str) -> None:
    """Write a JSON document to stdout ('-') or atomically to a file."""
    import json

    from engine.atomic import write_text_atomic

    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_text_atomic(target, text)


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _load_scenario(path: Optional[str]):
    from engine.sim.scenario import load_scenario

    return load_scenario(path)


_SIM_OPTIONS = [
    click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
                 help="Scenario YAML (default: the built-in field sales team)."),
    click.option("--runs", default=200, show_default=True, type=click.IntRange(1, None),
                 help="Monte Carlo runs (simulated plan years)."),
    click.option("--seed", default=None, type=click.IntRange(0, None), help="Random seed (default: the scenario's)."),
    click.option("--json", "json_out", default=None, metavar="PATH|-",
                 help="Write the JSON document to PATH, or to stdout with '-' (then stdout is only JSON)."),
    click.option("--chunk-runs", default=None, type=click.IntRange(1, None),
                 help="Runs simulated together (default: from available memory; results do not depend on it)."),
    click.option("--workers", default=None, type=click.IntRange(1, None),
                 help="Processes on this machine (default: all cores; results do not depend on it)."),
    click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS", metavar="ADDRESS",
                 help="dask.distributed scheduler to run on (or DASK_SCHEDULER_ADDRESS); needs the [dask] extra."),
]


def _sim_options(fn):
    for opt in reversed(_SIM_OPTIONS):
        fn = opt(fn)
    return fn


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@_sim_options
def simulate(plan: str, scenario_path: Optional[str], runs: int, seed: Optional[int], json_out: Optional[str],
             chunk_runs: Optional[int], workers: Optional[int], scheduler: Optional[str]) -> None:
    """Simulate how the team responds to PLAN: cost, attainment, morale and attrition."""
    from engine.jobs.compare import Comparison, comparison_table
    from engine.plan import load_plan
    from engine.sim.run import progress_enabled
    from engine.sim.run import simulate as run_simulation

    try:
        checked = load_plan(plan)
        scenario = _load_scenario(scenario_path)
        result = run_simulation(checked, scenario, runs, seed, chunk_runs=chunk_runs,
                                progress=progress_enabled(json_out == "-"), workers=workers or _cores(),
                                scheduler=scheduler)
    except EngineError as exc:
        _fail(exc)
    if json_out is not None:
        _write_json(result.document, json_out)
    if json_out != "-":
        click.echo(comparison_table(Comparison([result], []), checked.plan.currency))


@cli.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_sim_options
def compare(plans: tuple[str, ...], scenario_path: Optional[str], runs: int, seed: Optional[int],
            json_out: Optional[str], chunk_runs: Optional[int], workers: Optional[int],
            scheduler: Optional[str]) -> None:
    """Compare PLANS on the same simulated team and random numbers, side by side."""
    from engine.jobs.compare import compare_plans, comparison_table
    from engine.plan import load_plan
    from engine.sim.run import progress_enabled

    try:
        checked = [load_plan(p) for p in plans]
        scenario = _load_scenario(scenario_path)
        result = compare_plans(checked, scenario, runs, seed, progress=progress_enabled(json_out == "-"),
                               chunk_runs=chunk_runs, workers=workers or _cores(), scheduler=scheduler)
    except EngineError as exc:
        _fail(exc)
    if json_out is not None:
        _write_json(result.document, json_out)
    if json_out != "-":
        currencies = {c.plan.currency for c in checked}
        click.echo(comparison_table(result, currencies.pop() if len(currencies) == 1 else ""))


@cli.command()
@click.option("--history", required=True, type=click.Path(dir_okay=False),
              help="Per-rep, per-period attainment history (rep_id, period, attainment or actual + target).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Scenario YAML to write.")
@click.option("--scenario", "base", default=None, type=click.Path(dir_okay=False),
              help="Scenario to start from (default: the built-in one).")
@click.option("--name", default=None, help="Name of the written scenario.")
@click.option("--fiscal-year-start", default=1, show_default=True, type=click.IntRange(1, 12),
              help="Month in which the history's fiscal years start.")
def calibrate(history: str, out: str, base: Optional[str], name: Optional[str], fiscal_year_start: int) -> None:
    """Fit skill dispersion, noise and seasonality to a team's history; write a scenario."""
    from engine.sim.calibrate import calibration_report, fit_history, load_history, write_calibrated_scenario

    try:
        cal = fit_history(load_history(history, fiscal_year_start=fiscal_year_start))
        path = write_calibrated_scenario(cal, out, base=base, name=name)
    except EngineError as exc:
        _fail(exc)
    click.echo(calibration_report(cal), nl=False)
    click.echo(f"wrote scenario {path}")


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", required=True, type=click.Path(dir_okay=False))
@click.option("--actuals", required=True, type=click.Path(dir_okay=False))
@click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
              help="Scenario whose morale and attrition model rates attrition risk (default: built-in).")
@click.option("--falling-periods", default=3, show_default=True, type=click.IntRange(1, None),
              help="Consecutive falls in attainment that raise an alert.")
@click.option("--gave-up-below", default=None, type=click.FloatRange(0, min_open=True),
              help="Year-to-date attainment under which a rep may have given up (default: the plan's threshold).")
@click.option("--grade-streak", default=2, show_default=True, type=click.IntRange(1, None),
              help="Consecutive A (or C/D) grades for a promotion candidate (or improvement plan).")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Also write the alerts (.csv, .xlsx, .parquet).")
def alerts(plan: str, roster: str, actuals: str, scenario_path: Optional[str], falling_periods: int,
           gave_up_below: Optional[float], grade_streak: int, out: Optional[str]) -> None:
    """Early warnings from actuals: falling attainment, reps who gave up, attrition risk, grade streaks."""
    from engine.jobs.alerts import alerts as find_alerts
    from engine.jobs.alerts import alerts_text, write_alerts
    from engine.plan import load_plan

    try:
        checked = load_plan(plan)
        scenario = _load_scenario(scenario_path) if scenario_path else None
        df = find_alerts(checked, roster, actuals, scenario=scenario, falling_periods=falling_periods,
                         gave_up_below=gave_up_below, grade_streak=grade_streak)
        if out:
            write_alerts(df, out)
    except EngineError as exc:
        _fail(exc)
    click.echo(alerts_text(df), nl=False)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``incentive`` console script."""
    cli.main(args=argv, prog_name="incentive")


if __name__ == "__main__":
    main()
