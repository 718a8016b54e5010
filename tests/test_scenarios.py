"""Every shipped plan reproduces its hand-checked expected statement through the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.app.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"

CASES = {
    "seeds_base_float_excess": ("seeds_roster.csv", "seeds_actuals.csv"),
    "classic_ae": ("classic_ae_roster.csv", "classic_ae_deals.csv"),
    "kpi_scorecard": ("kpi_scorecard_roster.csv", "kpi_scorecard_actuals.csv"),
    "team_contest": ("team_contest_roster.csv", "team_contest_actuals.csv"),
    "annual_quarterly_trueup": ("annual_quarterly_trueup_roster.csv", "annual_quarterly_trueup_actuals.csv"),
    "seeds_cn_deals": ("seeds_cn_roster.csv", "seeds_cn_deals.csv"),
    "product_rates_on_payment": ("product_rates_roster.csv", "product_rates_invoices.csv"),
    "roster_changes": ("roster_changes_roster.csv", "roster_changes_actuals.csv"),
}


def run_cli(args):
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_plan_reproduces_expected_statement(name, tmp_path):
    """`incentive payout` on a shipped plan writes exactly the hand-checked statement (as text)."""
    roster, actuals = CASES[name]
    out = tmp_path / "out.csv"
    code = run_cli(["payout", str(SCEN / "plans" / f"{name}.yaml"), "--roster", str(SCEN / "data" / roster),
                    "--actuals", str(SCEN / "data" / actuals), "--out", str(out)])
    assert code == 0
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    expected = pd.read_csv(SCEN / "expected" / f"{name}.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_plan_reference_agrees(name):
    """The scalar reference evaluator produces the same statements as the compiled one."""
    from engine.data.statements import load_for_plan, statement_table
    from engine.plan import ReferenceEvaluator, compile_plan, load_plan

    roster, actuals = CASES[name]
    checked = load_plan(SCEN / "plans" / f"{name}.yaml")
    inputs = load_for_plan(checked, SCEN / "data" / roster, SCEN / "data" / actuals)
    fast = statement_table(checked.plan, inputs, compile_plan(checked).evaluate(inputs))
    slow = statement_table(checked.plan, inputs, ReferenceEvaluator(checked, inputs).run())
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_plan_checks(name, capsys):
    """`incentive check` accepts every shipped plan and prints the payout table."""
    code = run_cli(["check", str(SCEN / "plans" / f"{name}.yaml")])
    assert code == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "100%" in out and "total" in out


def test_line_detail_of_the_product_plan(tmp_path):
    """`payout --lines` writes the hand-checked line detail of the pay-on-payment plan (the
    pending invoice listed with an empty period) and reports the pending row."""
    import subprocess
    import sys

    out, lines = tmp_path / "st.csv", tmp_path / "lines.csv"
    proc = subprocess.run([sys.executable, "-m", "engine.app.cli", "payout",
                           str(SCEN / "plans" / "product_rates_on_payment.yaml"),
                           "--roster", str(SCEN / "data" / "product_rates_roster.csv"),
                           "--actuals", str(SCEN / "data" / "product_rates_invoices.csv"),
                           "--out", str(out), "--lines", str(lines)], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "1 pending transaction (no paid_date yet" in proc.stdout and "amount 2,500.00" in proc.stdout
    got = pd.read_csv(lines, dtype=str, keep_default_na=False)
    expected = pd.read_csv(SCEN / "expected" / "product_rates_on_payment_lines.csv", dtype=str,
                           keep_default_na=False)
    pd.testing.assert_frame_equal(got, expected)
