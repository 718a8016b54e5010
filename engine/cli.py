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
def check(plan: str, roster: Optional[str]) -> None:
    """Validate PLAN and summarize it, with what it pays at 50-150% of target."""
    from engine.data.load import read_table
    from engine.plan import load_plan
    from engine.summary import summarize

    try:
        checked = load_plan(plan)
        table = read_table(roster, "roster") if roster else None
        click.echo(summarize(checked, table))
    except EngineError as exc:
        _fail(exc)


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


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``incentive`` console script."""
    cli.main(args=argv, prog_name="incentive")


if __name__ == "__main__":
    main()
