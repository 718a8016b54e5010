"""The ``incentive`` command line: arguments in, public API, exit code out.

Every error a user can cause is an :class:`~engine.core.errors.EngineError`: it is printed
without a traceback and the exit status is 2. Output files are written atomically, so a
failed run leaves no partial file.
"""

from __future__ import annotations

import os
import sys

import click

from engine.core.errors import DataError, EngineError, PlanError, PlanErrors

__all__ = ["main"]


def _fail(exc: EngineError) -> None:
    click.echo(exc.render(), err=True)
    sys.exit(2)


def _check_outputs(tables: dict[str, str | None] | None = None, **others: str | None) -> None:
    """Fail now, before any work, if an output path cannot be written.

    ``tables`` maps an option to a table output (whose suffix must name a table format);
    ``others`` maps option names (``json``) to any other output. ``-`` (stdout) and unset
    options are skipped.
    """
    from engine.core.atomic import TABLE_FORMATS, check_writable

    for option, path in (tables or {}).items():
        if path and path != "-":
            check_writable(path, option, formats=TABLE_FORMATS)
    for name, path in others.items():
        if path and path != "-":
            check_writable(path, "--" + name.replace("_", "-"))


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
def check(plan: str, roster: str | None, scenario_path: str | None) -> None:
    """Validate PLAN, summarize it, show what it pays at 50-150% of target, and lint its design."""
    from engine.data.load import read_table
    from engine.data.summary import summarize
    from engine.jobs.check import design_hazards
    from engine.plan import load_plan
    from engine.plan.lint import format_findings
    from engine.sim.scenario import default_scenario
    from engine.sim.shape import describe, shape_scenario

    try:
        checked = load_plan(plan)
        table = read_table(roster, "roster") if roster else None
        click.echo(summarize(checked, table))
        scenario = _load_scenario(scenario_path) if scenario_path else None
        findings = design_hazards(checked, scenario, roster=table)
        base = scenario or default_scenario()
        mapped = describe(shape_scenario(checked, base)[1])
    except EngineError as exc:
        _fail(exc)
    if mapped:
        click.echo("")
        click.echo(f"Simulated team ({base.name}) in the plan's own columns (a scenario's 'columns:' and 'deals:' "
                   "sections override each):")
        click.echo("\n".join(mapped))
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
@click.option("--sheet", default=None, metavar="NAME",
              help="Excel inputs: the sheet to read, by name or number (0 first; default the first sheet).")
@click.option("--lines", "lines_out", default=None, type=click.Path(dir_okay=False),
              help="Also write one row per transaction (.csv, .xlsx or .parquet): its period, attributes, "
                   "row-level measures and the commission allocated to it.")
@click.option("--ledger", default=None, metavar="LEDGER",
              help="Record the run in this ledger (an SQLite file, created if missing, or a URL such as "
                   "postgresql://user@host/db); closed periods keep their statements and corrections are paid "
                   "in the first open period (prior_periods).")
def payout(plan: str, roster: str, actuals: str, out: str, sheet: str | None, lines_out: str | None,
           ledger: str | None) -> None:
    """Compute payout statements for every rep and period."""
    from engine.core.atomic import AtomicGroup, write_table_atomic
    from engine.data.lines import line_table, pending, pending_text
    from engine.data.load import outside_employment_text
    from engine.data.statements import (
        evaluated_statements,
        load_for_plan,
        negative_totals_text,
        statement_table,
        write_statements,
    )
    from engine.plan import compile_plan, load_plan

    try:
        _check_outputs({"--out": out, **({"--lines": lines_out} if lines_out else {})})
        checked = load_plan(plan)
        given = _input_files(roster, actuals) if ledger else None  # the bytes the run is computed from
        inputs = load_for_plan(checked, roster, actuals, sheet=sheet)
        program = compile_plan(checked)
        detail = bool(lines_out or ledger)  # a ledger stores the line detail with the run
        if detail:
            result, values, pays = program.lines(inputs)
            df = statement_table(checked.plan, inputs, result)
            table = line_table(checked, inputs, df, values, pays)
        else:  # statements only: the evaluation is let go as soon as the amounts are rounded
            df, table = evaluated_statements(checked.plan, inputs, program), None
        if ledger is None:
            with AtomicGroup() as group:  # the statements and the lines are written all or nothing
                write_statements(df, checked.plan, out, group=group)
                if table is not None and lines_out:
                    write_table_atomic(table, lines_out, group=group)
        else:
            run = _record(ledger, checked, given, (roster, actuals), sheet, out, df, table, lines_out)
            df = run.statements
    except EngineError as exc:
        _fail(exc)
    reps = df["rep_id"].nunique()
    click.echo(f"wrote {len(df)} statements for {reps} reps over {df['period'].nunique()} periods to {out} "
               f"(total {df['total'].sum():,.{checked.plan.minor_unit}f} {checked.plan.currency})")
    if table is not None and lines_out:
        click.echo(f"wrote {len(table)} transaction lines to {lines_out}")
    note = pending_text(pending(checked, inputs), checked.plan.placing_date, checked.plan.currency)
    if note:
        click.echo(note)
    for warning in (negative_totals_text(df, checked.plan), outside_employment_text(inputs)):
        if warning:
            click.echo(warning, err=True)
    if ledger is not None:
        _report_run(run, checked.plan.minor_unit)


def _input_files(roster: str, actuals: str):
    """The roster and actuals files' bytes, as a ledger stores them."""
    from engine.data.ledger import InputFile

    return InputFile.read(roster, "roster"), InputFile.read(actuals, "actuals")


def _record(ledger: str, checked, inputs, paths: tuple[str, str], sheet: str | None, out: str, df, lines,
            lines_out: str | None):
    """Record the run (its statements ``df`` and line detail ``lines``) in the ledger and
    write what it issued, and the lines, all or nothing. The inputs stored are the bytes the
    statements were computed from: a file that changed while the run was computed is refused."""
    from engine.core.atomic import AtomicGroup, write_table_atomic
    from engine.data.ledger import open_ledger, record_run
    from engine.data.ledger.runs import write_issued

    for given, now, role, path in zip(inputs, _input_files(*paths), ("roster", "actuals"), paths, strict=True):
        if now != given:
            raise DataError("input-changed", f"the {role} {path} changed while the run was computed",
                            file=path, hint="run the payout again once the file is final")
    with AtomicGroup() as group, open_ledger(ledger) as book:
        target = group.path(out)
        if lines is not None and lines_out:
            write_table_atomic(lines, lines_out, group=group)
        return record_run(book, checked, checked.source, inputs[0], inputs[1], df, sheet=sheet, lines=lines,
                          before_commit=lambda issued: write_issued(issued, checked.plan.minor_unit, target))


def _report_run(run, minor_unit: int) -> None:
    """What a recorded run did about closed periods."""
    adj = run.adjustments
    closed = f"; closed periods kept as they were: {', '.join(run.closed)}" if run.closed else ""
    click.echo(f"recorded run {run.run_id} of plan {run.plan_name} in {run.ledger}{closed}")
    for rec in adj.itertuples(index=False):
        where = f"paid in {rec.paid_in}" if isinstance(rec.paid_in, str) else "PENDING: the rep has no open period"
        click.echo(f"  prior_periods {rec.rep_id}: {rec.corrects_period} {rec.column} was {rec.was:,.{minor_unit}f} "
                   f"now {rec.now:,.{minor_unit}f}: {rec.delta:+,.{minor_unit}f} {where}")
    if len(run.pending):
        click.echo(f"{run.pending['rep_id'].nunique()} rep(s) have corrections pending: they are paid in the first "
                   "run that gives them an open period", err=True)


@cli.command()
@click.argument("ledger")
@click.option("--plan", "plan_name", required=True, metavar="NAME", help="The plan's name (its `plan:` line).")
@click.option("--period", required=True, metavar="PERIOD", help="The period to close (2027-Q1).")
def close(ledger: str, plan_name: str, period: str) -> None:
    """Close PERIOD of a plan in LEDGER: its statements stay as the latest run issued them.

    Later runs that change the period pay the difference in the first open period.
    """
    from engine.data.ledger import close_period, open_ledger

    try:
        with open_ledger(ledger, create=False) as book:
            done = close_period(book, plan_name, period)
    except EngineError as exc:
        _fail(exc)
    if done.already:
        click.echo(f"{plan_name} {period} was already closed (by {done.closed_by} at {done.closed_at}, "
                   f"statements of run {done.frozen_run}); nothing changed")
    else:
        click.echo(f"closed {plan_name} {period}: its statements are those of run {done.frozen_run} "
                   f"(by {done.closed_by} at {done.closed_at})")


@cli.command()
@click.argument("ledger")
@click.option("--rep", "rep_id", required=True, metavar="ID", help="The rep id.")
def history(ledger: str, rep_id: str) -> None:
    """List every run, statement version and prior-period adjustment of a rep in LEDGER."""
    from engine.data.ledger import history as rep_history
    from engine.data.ledger import open_ledger

    try:
        with open_ledger(ledger, create=False) as book:
            found = rep_history(book, rep_id)
    except EngineError as exc:
        _fail(exc)
    click.echo(found.text(), nl=False)


@cli.command()
@click.argument("ledger")
@click.option("--run", "run_id", default=None, type=click.IntRange(1, None),
              help="The run to verify (default: every run).")
def verify(ledger: str, run_id: int | None) -> None:
    """Recompute recorded runs from their stored plan and data; confirm identical statements.

    Exit status 0 when every run is identical to the cent, 1 when one differs, 2 on bad input.
    """
    from engine.data.ledger import open_ledger
    from engine.data.ledger import verify as verify_runs

    try:
        with open_ledger(ledger, create=False) as book:
            found = verify_runs(book, run_id)
    except EngineError as exc:
        _fail(exc)
    for v in found:
        click.echo(v.text())
    if not all(v.identical for v in found):
        sys.exit(1)


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", required=True, type=click.Path(dir_okay=False))
@click.option("--actuals", required=True, type=click.Path(dir_okay=False))
@click.option("--rep", required=True, help="The rep id to explain.")
@click.option("--period", default=None, help="One period label (default: every period of the rep).")
@click.option("--sheet", default=None, metavar="NAME",
              help="Excel inputs: the sheet to read, by name or number (0 first; default the first sheet).")
def explain(plan: str, roster: str, actuals: str, rep: str, period: str | None, sheet: str | None) -> None:
    """Show step by step how one rep's statement was calculated."""
    from engine.data.explain import explain as explain_text
    from engine.data.statements import load_for_plan, statement_table
    from engine.plan import compile_plan, load_plan

    try:
        checked = load_plan(plan)
        inputs = load_for_plan(checked, roster, actuals, sheet=sheet)
        table = statement_table(checked.plan, inputs, compile_plan(checked).evaluate(inputs))
        click.echo(explain_text(checked, inputs, table, rep, period))
    except EngineError as exc:
        _fail(exc)


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", required=True, type=click.Path(dir_okay=False), help="Roster: CSV, Excel or Parquet.")
@click.option("--actuals", required=True, type=click.Path(dir_okay=False),
              help="Actuals per rep and period, or transactions with a date (CSV, Excel or Parquet).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the pages into (replaced if it holds an earlier pack).")
@click.option("--period", default=None, metavar="PERIOD", help="The statements' period (default: the latest).")
@click.option("--team-column", default=None, metavar="COLUMN",
              help="Roster column grouping reps into teams (default: manager, else team, else one index).")
@click.option("--sheet", default=None, metavar="NAME",
              help="Excel inputs: the sheet to read, by name or number (0 first; default the first sheet).")
@click.option("--pdf", is_flag=True, help="Also print each rep's page to PDF (with headless chromium).")
@click.option("--lang", default="auto", show_default=True, type=click.Choice(["auto", "en", "zh"]),
              help="Language of the pages' words (auto: Chinese where the plan is written in Chinese).")
def statements(plan: str, roster: str, actuals: str, out: str, period: str | None, team_column: str | None,
               sheet: str | None, pdf: bool, lang: str) -> None:
    """Write the statement pack: a self-contained page per rep, an index per team."""
    from engine.data.load import read_table
    from engine.data.statements import load_for_plan
    from engine.jobs.pack import build_pack
    from engine.plan import load_plan
    from engine.report.pack import check_pack_target, find_chromium, write_pack

    try:
        check_pack_target(out)
        if pdf:
            find_chromium()
        checked = load_plan(plan)
        inputs = load_for_plan(checked, roster, actuals, sheet=sheet)
        table = read_table(roster, "roster", sheet=sheet)
        pack = build_pack(checked, inputs, table, period=period, team=team_column, language=lang)
        pages = write_pack(pack, out, pdf=pdf)
    except EngineError as exc:
        _fail(exc)
    teams = len(pack.teams) if pack.team_column else 0
    click.echo(f"wrote {len(pages)} statement pages for {pack.period}"
               + (f" in {teams} team{'s' if teams != 1 else ''} (by {pack.team_column})" if teams else "")
               + (" with their PDFs" if pdf else "") + f" to {out}")
    click.echo(f"open {os.path.join(out, 'index.html')}")


def _write_json(doc: dict, target: str) -> None:
    """Write a JSON document to stdout ('-') or atomically to a file."""
    import json

    from engine.core.atomic import write_text_atomic

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


def _load_scenario(path: str | None):
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
    click.option("--backend", default=None, type=click.Choice(["numpy", "numba"]),
                 help="How plans are evaluated: a kernel compiled for each plan with numba (the default, or "
                      "INCENTIVE_BACKEND; numpy where numba is missing or the plan needs it; the JSON's 'backend' "
                      "says which ran), or the numpy evaluator (the same numbers to 1e-9)."),
]


def _sim_options(fn):
    for opt in reversed(_SIM_OPTIONS):
        fn = opt(fn)
    return fn


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@_sim_options
def simulate(plan: str, scenario_path: str | None, runs: int, seed: int | None, json_out: str | None,
             chunk_runs: int | None, workers: int | None, scheduler: str | None, backend: str | None) -> None:
    """Simulate how the team responds to PLAN: cost, attainment, morale and attrition."""
    from engine.jobs.compare import Comparison
    from engine.plan import load_plan
    from engine.report.text import comparison_table
    from engine.sim.run import progress_enabled
    from engine.sim.run import simulate as run_simulation

    try:
        _check_outputs(json=json_out)
        checked = load_plan(plan)
        scenario = _load_scenario(scenario_path)
        result = run_simulation(checked, scenario, runs, seed, chunk_runs=chunk_runs,
                                progress=progress_enabled(json_out == "-"), workers=workers or _cores(),
                                scheduler=scheduler, backend=backend)
        if json_out is not None:
            _write_json(result.document, json_out)
    except EngineError as exc:
        _fail(exc)
    if json_out != "-":
        click.echo(comparison_table(Comparison([result], []), checked.plan.currency))


@cli.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_sim_options
@click.option("--report", "report_out", default=None, metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report (tables and charts; opens offline) to PATH.")
def compare(plans: tuple[str, ...], scenario_path: str | None, runs: int, seed: int | None,
            json_out: str | None, chunk_runs: int | None, workers: int | None,
            scheduler: str | None, backend: str | None = None, report_out: str | None = None) -> None:
    """Compare PLANS on the same simulated team and random numbers, side by side."""
    from engine.jobs.compare import compare_plans
    from engine.plan import load_plan
    from engine.report.text import comparison_table
    from engine.sim.run import progress_enabled

    try:
        _check_outputs(json=json_out, report=report_out)
        checked = [load_plan(p) for p in plans]
        scenario = _load_scenario(scenario_path)
        result = compare_plans(checked, scenario, runs, seed, progress=progress_enabled(json_out == "-"),
                               chunk_runs=chunk_runs, workers=workers or _cores(), scheduler=scheduler,
                               keep_reps=report_out is not None, backend=backend)
        if report_out is not None:
            from engine.jobs.compare import report_inputs
            from engine.report.html import write_report

            write_report(report_out, report_inputs(result, checked, scenario))
        if json_out is not None:
            _write_json(result.document, json_out)
    except EngineError as exc:
        _fail(exc)
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
@click.option("--plan", "plan_path", default=None, type=click.Path(dir_okay=False),
              help="The plan the history was paid under: the level is set so that simulating it reproduces the "
                   "history's mean attainment (without it the level includes that plan's effort).")
@click.option("--runs", default=None, type=click.IntRange(1, None),
              help="With --plan: runs per simulation of the plan (default: 40, the market as a control variate).")
@click.option("--seed", default=None, type=click.IntRange(0, None), help="With --plan: random seed (default: the scenario's).")
@click.option("--workers", default=None, type=click.IntRange(1, None),
              help="With --plan: processes on this machine (default: all cores; results do not depend on it).")
def calibrate(history: str, out: str, base: str | None, name: str | None, fiscal_year_start: int,
              plan_path: str | None, runs: int | None, seed: int | None, workers: int | None) -> None:
    """Fit skill dispersion, noise and seasonality to a team's history; write a scenario."""
    from engine.jobs.calibrate import calibrate as run
    from engine.jobs.history import DEFAULT_RUNS
    from engine.plan import load_plan
    from engine.report.calibrate import calibration_report
    from engine.report.text import history_fit_report

    if plan_path is None and (runs, seed, workers) != (None, None, None):
        raise click.UsageError("--runs, --seed and --workers simulate the plan given with --plan")
    try:
        _check_outputs(out=out)
        paid_under = load_plan(plan_path) if plan_path is not None else None
        done = run(history, out, base=base, name=name, fiscal_year_start=fiscal_year_start, paid_under=paid_under,
                   runs=runs or DEFAULT_RUNS, seed=seed, workers=workers or _cores())
    except EngineError as exc:
        _fail(exc)
    cal, fit, path = done.calibration, done.fit, done.path
    click.echo(calibration_report(cal), nl=False)
    if fit is not None:
        click.echo("")
        click.echo(history_fit_report(fit), nl=False)
    else:
        click.echo("note: the level includes the effort reps gave under the plan the history was paid under; "
                   "give --plan PLAN to take it out")
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
def alerts(plan: str, roster: str, actuals: str, scenario_path: str | None, falling_periods: int,
           gave_up_below: float | None, grade_streak: int, out: str | None) -> None:
    """Early warnings from actuals: falling attainment, reps who gave up, attrition risk, grade streaks."""
    from engine.jobs.alerts import alerts as find_alerts
    from engine.jobs.alerts import write_alerts
    from engine.plan import load_plan
    from engine.report.text import alerts_text

    try:
        _check_outputs({"--out": out})
        checked = load_plan(plan)
        scenario = _load_scenario(scenario_path) if scenario_path else None
        df = find_alerts(checked, roster, actuals, scenario=scenario, falling_periods=falling_periods,
                         gave_up_below=gave_up_below, grade_streak=grade_streak)
        if out:
            write_alerts(df, out)
    except EngineError as exc:
        _fail(exc)
    text = alerts_text(df)
    click.echo(text, nl=not text.endswith("\n"))
    if out:
        click.echo(f"wrote {len(df)} alert{'s' if len(df) != 1 else ''} to {out}")


@cli.command()
@click.argument("plans", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
              help="Scenario YAML (default: the built-in field sales team).")
@click.option("--runs", default=40, show_default=True, type=click.IntRange(1, None),
              help="Simulated plan years per what-if (fewer: faster updates, wider bands).")
@click.option("--seed", default=None, type=click.IntRange(0, None), help="Random seed (default: the scenario's).")
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--workers", default=None, type=click.IntRange(1, None),
              help="Processes a what-if's runs are spread over (default: all cores; figures do not depend on it).")
def studio(plans: tuple[str, ...], scenario_path: str | None, runs: int, seed: int | None, port: int,
           host: str, workers: int | None) -> None:
    """Serve the what-if page: move a plan's bounded parameters, see cost and risk update.

    PLANS default to the shipped plans under scenarios/plans.
    """
    from pathlib import Path

    from engine.app.studio import Studio, serve, shipped_plans
    from engine.plan import load_plan

    try:
        if plans:
            named = {Path(p).stem: Path(p) for p in plans}
            for p in named.values():
                load_plan(p)  # a bad plan fails here, with its position, before the server starts
        else:
            named = shipped_plans()
            if not named:
                raise click.UsageError("no plans given and no shipped plans found: pass plan files")
        st = Studio(named, _load_scenario(scenario_path), runs=runs, seed=seed, workers=workers or _cores())
    except EngineError as exc:
        _fail(exc)
    click.echo(f"Incentive studio on http://{host}:{port}/  (Ctrl+C to stop)")
    st.start()  # the pool's workers forked before the server's threads exist
    try:
        serve(st, port=port, host=host)
    finally:
        st.close()


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
              help="Scenario YAML (default: the built-in field sales team).")
@click.option("--maximize", default=None, metavar="METRIC", help="Metric to maximize (revenue, profit, ...).")
@click.option("--minimize", default=None, metavar="METRIC", help="Metric to minimize (cost, attrition_rate, ...).")
@click.option("--subject-to", "subject_to", multiple=True, metavar='"METRIC <= VALUE"',
              help='Constraint, repeatable: "cost_of_sales <= 0.12", "share_at_or_above_target >= 60%", '
                   '"attrition_rate <= baseline".')
@click.option("--margin", default=None, type=float,
              help="Contribution margin on revenue for profit (default 0.30, or the scenario's margin output).")
@click.option("--vary", multiple=True, metavar="NAME", help="Only move these parameters / scorecards (repeatable).")
@click.option("--freeze", multiple=True, metavar="NAME", help="Never move these parameters / scorecards (repeatable).")
@click.option("--no-weights", is_flag=True, help="Keep scorecard metric weights as they are.")
@click.option("--weight-change", default=0.10, show_default=True, type=click.FloatRange(0, 1),
              help="How far each scorecard weight may move (absolute).")
@click.option("--runs", default=100, show_default=True, type=click.IntRange(2, None),
              help="Monte Carlo runs per candidate (the same runs for every candidate).")
@click.option("--seed", default=None, type=click.IntRange(0, None), help="Random seed (default: the scenario's).")
@click.option("--budget-evals", "budget", default=40, show_default=True, type=click.IntRange(1, None),
              help="Simulations the search may run, the current plan included.")
@click.option("--method", default="cobyla", show_default=True, type=click.Choice(["cobyla", "cobyqa", "screen"]),
              help="Local search after the Latin-hypercube screen (screen: none).")
@click.option("--workers", default=None, type=click.IntRange(1, None), help="Processes (default: all cores).")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS", metavar="ADDRESS",
              help="dask.distributed scheduler to run on (or DASK_SCHEDULER_ADDRESS); needs the [dask] extra.")
@click.option("--targets", "with_targets", is_flag=True,
              help="Also decompose the company target into per-rep annual, quarterly and monthly targets.")
@click.option("--company-target", default=None, type=float, help="Annual company target (default: sum of quotas).")
@click.option("--roster", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The team (rep_id, quota, ti, base_salary, ...) to simulate and set targets for.")
@click.option("--potential-column", default=None, metavar="COLUMN",
              help="Roster column with each rep's potential (default: simulated output of the seat).")
@click.option("--share-goal", default=0.6, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of reps the targets should let reach target (reported against).")
@click.option("--targets-out", default=None, type=click.Path(dir_okay=False),
              help="New targets as an effective-dated roster the plan reads as it is (.csv, .xlsx, .parquet).")
@click.option("--actuals", "actuals_path", default=None, type=click.Path(dir_okay=False),
              help="The year's actuals so far (with --roster): periods with actuals keep their targets.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Recalibrated plan YAML to write.")
@click.option("--json", "json_out", default=None, metavar="PATH|-",
              help="Write the JSON document to PATH, or to stdout with '-' (then stdout is only JSON).")
@click.option("--backend", default=None, type=click.Choice(["numpy", "numba"]),
              help="How candidates are evaluated: the plan's numba kernel, compiled once for every candidate (the "
                   "default, or INCENTIVE_BACKEND), or numpy.")
def recalibrate(plan: str, scenario_path: str | None, maximize: str | None, minimize: str | None,
                subject_to: tuple[str, ...], margin: float | None, vary: tuple[str, ...], freeze: tuple[str, ...],
                no_weights: bool, weight_change: float, runs: int, seed: int | None, budget: int, method: str,
                workers: int | None, scheduler: str | None, with_targets: bool, company_target: float | None,
                roster: str | None, potential_column: str | None, share_goal: float, targets_out: str | None,
                actuals_path: str | None, out: str, json_out: str | None, backend: str | None = None) -> None:
    """Search PLAN's bounded parameters and scorecard weights for the best simulated plan; write it to --out.

    Exit status 1 when no candidate meets every --subject-to (the least infeasible plan is
    still written, and the report says by how much it misses), 2 on bad input.
    """
    from engine.core.atomic import AtomicGroup
    from engine.jobs.recalibrate import RecalibrationSpec, write_targets
    from engine.jobs.recalibrate import recalibrate as run
    from engine.plan import load_plan
    from engine.report.text import recalibration_text
    from engine.sim.run import progress_enabled

    try:
        _check_outputs({"--targets-out": targets_out}, out=out, json=json_out)
        with_targets = with_targets or bool(targets_out) or company_target is not None or bool(potential_column)
        checked = load_plan(plan)
        scenario = _load_scenario(scenario_path)
        if roster:
            from engine.data.load import read_table

            scenario = scenario.with_overrides(roster=roster, reps=len(read_table(roster, "roster")))
        closed: tuple[str, ...] = ()
        if actuals_path:
            if not roster:
                raise PlanErrors([PlanError("bad-option", "--actuals needs --roster (the team the actuals are of)")])
            from engine.data.statements import load_for_plan

            closed = tuple(load_for_plan(checked, roster, actuals_path).period_labels)
        spec = RecalibrationSpec(maximize=maximize, minimize=minimize, subject_to=subject_to, budget=budget,
                                 method=method, margin=margin, vary=vary or None, freeze=freeze,
                                 weights=not no_weights, weight_change=weight_change, targets=with_targets,
                                 company_target=company_target, potential_column=potential_column,
                                 share_goal=share_goal, closed_periods=closed)
        # The objective and the constraints are read against the scenario's metrics before
        # anything is simulated.
        rec = run(checked, spec, scenario, runs=runs, seed=seed, workers=workers or _cores(),
                  progress=progress_enabled(json_out == "-"), scheduler=scheduler, backend=backend)
        # The plan, the targets and the JSON file are written all or nothing.
        with AtomicGroup() as group:
            from pathlib import Path

            Path(group.path(out)).write_text(rec.plan_text, encoding="utf-8")
            if targets_out:
                write_targets(rec, targets_out, group=group)
            if json_out is not None and json_out != "-":
                _write_json(rec.document, group.path(json_out))
    except EngineError as exc:
        _fail(exc)
    if json_out == "-":
        _write_json(rec.document, json_out)
    if json_out != "-":
        click.echo(recalibration_text(rec), nl=False)
        click.echo(f"wrote {out}" + (f" and {targets_out}" if targets_out else ""))
    if not rec.feasible:
        # The least infeasible plan is written for inspection, but a script must not take it
        # for an answer: exit 1 (2 is kept for errors in the input).
        click.echo(f"constraints not met: {out} is the least infeasible plan found, not a recommendation",
                   err=True)
        sys.exit(1)


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--votes", required=True, type=click.Path(dir_okay=False),
              help="The team's votes: an optional 'voter' column and one column per metric (CSV, Excel, Parquet).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Plan YAML to write, with the new weights.")
@click.option("--scorecard", default=None, metavar="NAME", help="The scorecard voted on (when the plan has several).")
@click.option("--method", default="mean", show_default=True, type=click.Choice(["mean", "median"]),
              help="The team's weight of a metric: the mean or the median of the voters' shares.")
@click.option("--weight-change", default=0.10, show_default=True, type=click.FloatRange(0, 1),
              help="How far each weight may move from its current value (absolute).")
@click.option("--sheet", default=None, metavar="NAME", help="Excel votes: the sheet to read (default the first).")
@click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
              help="Scenario YAML to simulate both plans on (default: the built-in field sales team).")
@click.option("--runs", default=200, show_default=True, type=click.IntRange(1, None),
              help="Monte Carlo runs per plan (the same runs for both).")
@click.option("--seed", default=None, type=click.IntRange(0, None), help="Random seed (default: the scenario's).")
@click.option("--workers", default=None, type=click.IntRange(1, None),
              help="Processes on this machine (default: all cores; results do not depend on it).")
@click.option("--report", "report_out", default=None, metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report (the weights, then the comparison) to PATH.")
def weights(plan: str, votes: str, out: str, scorecard: str | None, method: str, weight_change: float,
            sheet: str | None, scenario_path: str | None, runs: int, seed: int | None, workers: int | None,
            report_out: str | None) -> None:
    """Set PLAN's scorecard weights from the team's votes, within bounds; compare by simulation.

    Each voter's row is normalised to shares; the team's weights are their mean (or median),
    and the plan's are the closest weights that sum to 1 within the current weight
    +- --weight-change. The plan is written to --out with only those weights changed.
    """
    from pathlib import Path

    from engine.core.atomic import AtomicGroup
    from engine.jobs.weights import weights_from_votes
    from engine.plan import load_plan
    from engine.report.weights import weights_report, weights_text
    from engine.sim.run import progress_enabled

    try:
        _check_outputs(out=out, report=report_out)
        checked = load_plan(plan)
        voted = weights_from_votes(checked, votes, scorecard=scorecard, method=method, weight_change=weight_change,
                                   sheet=sheet)
        scenario = _load_scenario(scenario_path)
        compared = voted.compare(scenario, runs, seed, workers=workers or _cores(), progress=progress_enabled(False),
                                 keep_reps=report_out is not None)
        with AtomicGroup() as group:  # the plan and the report are written all or nothing
            Path(group.path(out)).write_text(voted.plan_text, encoding="utf-8")
            if report_out is not None:
                Path(group.path(report_out)).write_text(weights_report(voted, compared), encoding="utf-8")
    except EngineError as exc:
        _fail(exc)
    click.echo(weights_text(voted, compared), nl=False)
    click.echo(f"wrote {out}" + (f" and {report_out}" if report_out else ""))


@cli.command()
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--roster", required=True, type=click.Path(dir_okay=False), help="Roster, as for `incentive payout`.")
@click.option("--actuals", required=True, type=click.Path(dir_okay=False),
              help="Actuals of the plan year so far (per period, or transactions with a date).")
@click.option("--scenario", "scenario_path", default=None, type=click.Path(dir_okay=False),
              help="Behaviour and attrition model (default: the built-in one; with --history, the base calibrated).")
@click.option("--history", default=None, type=click.Path(dir_okay=False),
              help="Attainment history (as for `incentive calibrate`): calibrate the scenario to it first.")
@click.option("--history-plan", default=None, type=click.Path(dir_okay=False),
              help="The plan the --history was paid under (default: PLAN): the level is read under it, so that "
                   "its effort is not counted twice.")
@click.option("--explain-history", is_flag=True,
              help="With --history: also say what each group of the parameters the history moved does alone "
                   "(one more forecast per group).")
@click.option("--runs", default=200, show_default=True, type=click.IntRange(1, None),
              help="Simulated completions of the year.")
@click.option("--seed", default=None, type=click.IntRange(0, None), help="Random seed (default: the scenario's).")
@click.option("--budget", default=None, type=click.FloatRange(0, None, min_open=True),
              help="Annual team payout budget (positive): probability of exceeding it.")
@click.option("--as-of", "as_of", default=None, metavar="PERIOD",
              help="Last closed period (2027-Q2) or month (2027-05, transactions only); default: the last in the "
                   "actuals. Later actuals are ignored.")
@click.option("--xlsx", "xlsx_out", default=None, type=click.Path(dir_okay=False),
              help="Also write an Excel workbook (Summary, By period with a chart, Distribution, Reps, Variance, "
                   "Market, History with --history, Glossary, Inputs, Assumptions).")
@click.option("--json", "json_out", default=None, metavar="PATH|-",
              help="Write the JSON document to PATH, or to stdout with '-' (then stdout is only JSON).")
@click.option("--chunk-runs", default=None, type=click.IntRange(1, None),
              help="Runs simulated together (results do not depend on it).")
@click.option("--workers", default=None, type=click.IntRange(1, None),
              help="Processes on this machine (default: all cores; results do not depend on it).")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS", metavar="ADDRESS",
              help="dask.distributed scheduler to run on (or DASK_SCHEDULER_ADDRESS); needs the [dask] extra.")
@click.option("--ledger", default=None, metavar="LEDGER",
              help="Take what was paid in the closed periods from this ledger (prior-period corrections "
                   "included) instead of recomputing it from the actuals.")
def forecast(plan: str, roster: str, actuals: str, scenario_path: str | None, history: str | None,
             history_plan: str | None, explain_history: bool, runs: int, seed: int | None, budget: float | None, as_of: str | None,
             xlsx_out: str | None, json_out: str | None, chunk_runs: int | None, workers: int | None, scheduler: str | None,
             ledger: str | None = None) -> None:
    """Forecast the plan year's payout from the actuals so far: paid, P50/P90/P95, budget risk, accrual.

    Closed periods are paid as `incentive payout` pays them; the rest of the year is simulated
    for the real roster, each rep's skill drawn from its posterior given the actuals so far.
    Accrual (cost earned to date): per-period plans, the closed periods' pay plus the earned
    share of a period in progress; `accumulate: year` plans, the expected annual payout times
    the share of the year elapsed (ratable), at least what has been paid. The liability to
    book is that minus what has been paid.
    """
    from engine.jobs.forecast import forecast as run_forecast
    from engine.plan import load_plan
    from engine.report.forecast_book import write_forecast_xlsx
    from engine.report.text import forecast_text
    from engine.sim.run import progress_enabled

    try:
        _check_outputs(xlsx=xlsx_out, json=json_out)
        if xlsx_out and not xlsx_out.lower().endswith((".xlsx", ".xlsm")) and not xlsx_out.startswith("/dev/"):
            raise DataError("unknown-format", f"--xlsx writes an Excel workbook: {xlsx_out} should end in .xlsx",
                            file=xlsx_out, hint=f"use {xlsx_out.rsplit('.', 1)[0]}.xlsx")
        checked = load_plan(plan)
        # What the workbook records on its Inputs sheet.
        recorded: list[tuple[str, object]] = [
            ("Plan file", plan), ("Roster", roster), ("Actuals", actuals),
            ("Scenario file", scenario_path or "none (the built-in scenario)")]
        if history_plan and not history:
            raise click.UsageError("--history-plan is the plan the --history was paid under: give --history too")
        if explain_history and not history:
            raise click.UsageError("--explain-history says what the --history changed: give --history too")
        if history:
            from engine.jobs.history import calibrate_under_plan
            from engine.report.calibrate import calibration_report
            from engine.report.text import history_fit_report

            paid_under = load_plan(history_plan) if history_plan else checked
            scenario, cal, fit = calibrate_under_plan(history, paid_under, base=scenario_path,
                                                      workers=workers or _cores())
            # What was fitted, before the forecast that rests on it (stderr when stdout is JSON).
            click.echo(calibration_report(cal), nl=False, err=json_out == "-")
            click.echo("", err=json_out == "-")
            click.echo(history_fit_report(fit), nl=False, err=json_out == "-")
            click.echo(f"forecasting with the calibrated scenario {scenario.name}\n",
                       err=json_out == "-")
            recorded += [("History file", history), ("History paid under plan", history_plan or plan),
                         ("Scenario", f"{scenario.name}: calibrated to the history file"),
                         ("Fit", (calibration_report(cal) + "\n" + history_fit_report(fit)).strip()[:32000])]
        else:
            scenario = _load_scenario(scenario_path)
        paid = None
        if ledger is not None:
            from engine.data.ledger import open_ledger, paid_statements

            with open_ledger(ledger, create=False) as book:
                paid = paid_statements(book, checked.plan.name)
        result = run_forecast(checked, roster, actuals, scenario=scenario, runs=runs, seed=seed, budget=budget,
                              as_of=as_of, workers=workers or _cores(), chunk_runs=chunk_runs,
                              scheduler=scheduler, progress=progress_enabled(json_out == "-"), ledger_paid=paid)
        check = None
        if history:
            # The same forecast without the history, and which of the two to trust where they disagree.
            from engine.jobs.with_history import check_history

            base = _load_scenario(scenario_path)
            without = run_forecast(checked, roster, actuals, scenario=base, runs=runs, seed=seed, budget=budget,
                                   as_of=as_of, workers=workers or _cores(), chunk_runs=chunk_runs,
                                   scheduler=scheduler, ledger_paid=paid, decompose=False)
            check = check_history(result, scenario, without, base, cal, fit,
                                  other_plan=bool(history_plan) and history_plan != plan)
            if explain_history:
                from dataclasses import replace

                from engine.jobs.with_history import effects_alone

                check = replace(check, alone=effects_alone(
                    checked, roster, actuals, base, scenario, check.moved, runs=runs, seed=seed, budget=budget,
                    as_of=as_of, workers=workers or _cores(), chunk_runs=chunk_runs, scheduler=scheduler,
                    ledger_paid=paid))
            bands = f"P50 {without.summary['p50']:,.0f}, P90 {without.summary['p90']:,.0f} (scenario {base.name})"
            recorded += [("Forecast without history", bands),
                         ("What the history moved", "\n".join(f"{m.name}: {m.change}" for m in check.moved) or "nothing"),
                         ("What that did", check.effect_sentence),
                         ("With or without history", check.verdict)]
        if xlsx_out:
            recorded += [("Ledger (paid in closed periods)", ledger or "none: recomputed from the actuals"),
                         ("Budget", budget if budget is not None else "none")]
            write_forecast_xlsx(result, xlsx_out, inputs=recorded, history=check)
        doc = result.document if check is None else {**result.document, "history_check": check.document}
        if json_out is not None and json_out != "-":
            _write_json(doc, json_out)
    except EngineError as exc:
        _fail(exc)
    if json_out == "-":
        _write_json(doc, "-")
    else:
        click.echo(forecast_text(result), nl=False)
    if check is not None:
        from engine.report.text import history_check_text

        click.echo("", err=json_out == "-")
        click.echo(history_check_text(check, result.currency), nl=False, err=json_out == "-")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``incentive`` console script."""
    cli.main(args=argv, prog_name="incentive")


if __name__ == "__main__":
    main()
