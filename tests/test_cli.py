"""The command line: clean errors (exit 2, no traceback, no partial file) and the three commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"
SEEDS = SCEN / "plans" / "seeds_base_float_excess.yaml"
ROSTER = SCEN / "data" / "seeds_roster.csv"
ACTUALS = SCEN / "data" / "seeds_actuals.csv"


def assert_clean_failure(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for f in fragments:
        assert f in proc.stderr, proc.stderr


def test_check_valid_plan():
    """`check` exits 0 and prints components and what they pay at 50..150% of target."""
    proc = incentive("check", SEEDS)
    assert proc.returncode == 0, proc.stderr
    for word in ("base_and_float", "excess_commission", "50%", "80%", "100%", "120%", "150%"):
        assert word in proc.stdout
    # At 100% of target the seeds plan pays base + floating bonus = the quarterly TI (5,000).
    line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith("total"))
    assert line.split()[3] == "5,000.00"


def test_check_bad_plan_points_at_line_and_column(tmp_path):
    """A bad plan prints FILE:LINE:COL: error[CODE] and exits 2 without a traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEEDS.read_text().replace("input: attainment", "input: attainmnet"))
    proc = incentive("check", bad)
    assert_clean_failure(proc, f"{bad}:", "error[unknown-name]: unknown name 'attainmnet'",
                         "did you mean 'attainment'?")


def test_missing_plan_file(tmp_path):
    """A plan path that does not exist is a clean error."""
    proc = incentive("check", tmp_path / "nope.yaml")
    assert_clean_failure(proc, "cannot read")


def test_payout_writes_statements(tmp_path):
    """`payout` writes one row per rep and period with component, adjustment, total and grade columns."""
    out = tmp_path / "st.csv"
    proc = incentive("payout", SEEDS, "--roster", ROSTER, "--actuals", ACTUALS, "--out", out)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == ["rep_id", "period", "currency", "base_and_float", "excess_commission",
                                "adjustment", "total", "grade"]


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_payout_reads_excel_and_parquet(tmp_path, fmt):
    """Rosters and actuals may be Excel or Parquet; results equal the CSV run."""
    roster = tmp_path / f"roster.{fmt}"
    actuals = tmp_path / f"actuals.{fmt}"
    for src, dst in ((ROSTER, roster), (ACTUALS, actuals)):
        df = pd.read_csv(src, dtype={"rep_id": str})
        df.to_excel(dst, index=False) if fmt == "xlsx" else df.to_parquet(dst, index=False)
    out_a, out_b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert incentive("payout", SEEDS, "--roster", ROSTER, "--actuals", ACTUALS, "--out", out_a).returncode == 0
    proc = incentive("payout", SEEDS, "--roster", roster, "--actuals", actuals, "--out", out_b)
    assert proc.returncode == 0, proc.stderr
    assert out_a.read_text() == out_b.read_text()


def _bad_data_case(tmp_path, roster_edit=None, actuals_edit=None):
    roster = pd.read_csv(ROSTER, dtype=str, keep_default_na=False)
    actuals = pd.read_csv(ACTUALS, dtype=str, keep_default_na=False)
    if roster_edit:
        roster = roster_edit(roster)
    if actuals_edit:
        actuals = actuals_edit(actuals)
    rp, ap = tmp_path / "roster.csv", tmp_path / "actuals.csv"
    roster.to_csv(rp, index=False)
    actuals.to_csv(ap, index=False)
    out = tmp_path / "out.csv"
    out_existing = tmp_path / "existing.csv"
    out_existing.write_text("keep me\n")
    return rp, ap, out, out_existing


def _set(df, row, col, value):
    df = df.copy()
    df.loc[row, col] = value
    return df


BAD_DATA = [
    ("missing actuals column", None, lambda a: a.drop(columns=["complaints"]),
     ["error[missing-column]", "complaints"]),
    ("non-numeric actuals", None, lambda a: _set(a, 2, "revenue", "12k"),
     ["row 4", "column 'revenue'", "error[not-a-number]"]),
    ("duplicate rep in roster", lambda r: pd.concat([r, r.iloc[[1]]]), None,
     ["error[duplicate-rep]", "R002"]),
    ("actuals for an unknown rep", None, lambda a: _set(a, 0, "rep_id", "R999"),
     ["error[unknown-rep]", "R999", "row 2"]),
    ("bad period label", None, lambda a: _set(a, 1, "period", "2027-Q5"),
     ["error[bad-period]", "row 3", "2027-Q5"]),
    ("non-numeric roster quota", lambda r: _set(r, 0, "quota", "lots"), None,
     ["quota", "R001"]),
    ("bad start date", lambda r: r.assign(start_date=["2027-02-30"] + [""] * (len(r) - 1)), None,
     ["error[bad-date]", "start_date", "R001"]),
]


@pytest.mark.parametrize("desc,redit,aedit,fragments", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data_clean_error_and_no_output(tmp_path, desc, redit, aedit, fragments):
    """Bad data names the row, rep or column, exits 2, and writes no (partial) output file."""
    rp, ap, out, existing = _bad_data_case(tmp_path, redit, aedit)
    proc = incentive("payout", SEEDS, "--roster", rp, "--actuals", ap, "--out", out)
    assert_clean_failure(proc, *fragments)
    assert not out.exists()
    proc = incentive("payout", SEEDS, "--roster", rp, "--actuals", ap, "--out", existing)
    assert existing.read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_non_finite_result_names_rep_period_expression(tmp_path):
    """A division by zero names the rep, the period and the expression."""
    rp, ap, out, _ = _bad_data_case(tmp_path, lambda r: _set(r, 1, "quota", "0"))
    proc = incentive("payout", SEEDS, "--roster", rp, "--actuals", ap, "--out", out)
    assert_clean_failure(proc, "error[non-finite]", "rep 'R002'", "period 2027-Q1",
                         "revenue / targets.revenue", "safe_div")
    assert not out.exists()


def test_explain_matches_statement(tmp_path):
    """`explain` walks through every step and ends with the statement `payout` writes."""
    out = tmp_path / "st.csv"
    assert incentive("payout", SEEDS, "--roster", ROSTER, "--actuals", ACTUALS, "--out", out).returncode == 0
    row = pd.read_csv(out, dtype=str).set_index(["rep_id", "period"]).loc[("R003", "2027-Q1")]
    proc = incentive("explain", SEEDS, "--roster", ROSTER, "--actuals", ACTUALS, "--rep", "R003",
                     "--period", "2027-Q1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for fragment in ("actuals.revenue", "targets.revenue", "attainment", "step at 0.8 reached",
                     "tier 1", "tier 2", "complaints_penalty", "grade"):
        assert fragment in text, fragment
    total_line = next(ln for ln in text.splitlines() if ln.strip().startswith("total "))
    assert total_line.split()[1] == row["total"]


def test_explain_unknown_rep(tmp_path):
    """An unknown rep id is a clean error with a suggestion."""
    proc = incentive("explain", SEEDS, "--roster", ROSTER, "--actuals", ACTUALS, "--rep", "R03")
    assert_clean_failure(proc, "error[unknown-rep]", "did you mean")


def test_simulate_json_stdout_is_only_json():
    """`simulate --json -` prints only the JSON document on stdout."""
    import json

    proc = incentive("simulate", SEEDS, "--runs", "2", "--seed", "3", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["plan"] == "seeds_base_float_excess" and doc["runs"] == 2
    assert proc.stderr == ""


def test_simulate_same_seed_same_json(tmp_path):
    """Two runs with the same seed write byte-identical JSON files."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        proc = incentive("simulate", SEEDS, "--runs", "3", "--seed", "9", "--json", out)
        assert proc.returncode == 0, proc.stderr
        assert "cost (mean)" in proc.stdout
    assert a.read_bytes() == b.read_bytes()


def test_compare_json_and_table():
    """`compare` prints the side-by-side table; its JSON is {"plans": [...], ...}."""
    import json

    other = SCEN / "plans" / "classic_ae.yaml"
    proc = incentive("compare", SEEDS, other, "--runs", "2", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [p["plan"] for p in doc["plans"]] == ["seeds_base_float_excess", "classic_ae"]
    proc = incentive("compare", SEEDS, other, "--runs", "2")
    assert "Difference to seeds_base_float_excess" in proc.stdout


def test_simulate_bad_scenario_points_at_line(tmp_path):
    """A bad scenario gets the same file:line:col errors as a bad plan."""
    bad = tmp_path / "s.yaml"
    bad.write_text("scenario: s\nteam:\n  reps: 10\n  teamz: 2\n")
    proc = incentive("simulate", SEEDS, "--scenario", bad, "--runs", "1")
    assert_clean_failure(proc, f"{bad}:4:3: error[unknown-key]", "did you mean 'teams'?")


def test_simulate_plan_reading_a_column_the_team_lacks(tmp_path):
    """A plan that reads an actuals column the scenario does not produce still simulates: the
    team is shaped to the plan, `refunds` modelled like the scenario's complaints (its name
    reads as a count of bad events), and `check` says so."""
    plan = tmp_path / "p.yaml"
    plan.write_text(SEEDS.read_text().replace("actuals.complaints", "actuals.refunds"))
    proc = incentive("simulate", plan, "--runs", "1", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    proc = incentive("check", plan)
    assert "actuals.refunds = like the scenario's complaints (incidents" in proc.stdout


def test_calibrate_writes_a_runnable_scenario(tmp_path):
    """`calibrate` fits a history, prints the fit and writes a scenario `simulate` can run."""
    import numpy as np

    rng = np.random.default_rng(4)
    rows = []
    for i in range(30):
        a = rng.normal(0, 0.3)
        for m in range(1, 13):
            rows.append((f"R{i}", f"2026-{m:02d}", float(np.exp(a + rng.normal(0, 0.2)))))
    hist = tmp_path / "history.csv"
    pd.DataFrame(rows, columns=["rep_id", "period", "attainment"]).to_csv(hist, index=False)
    out = tmp_path / "fitted.yaml"
    proc = incentive("calibrate", "--history", hist, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "sigma_skill" in proc.stdout and "KS" in proc.stdout
    proc = incentive("simulate", SEEDS, "--scenario", out, "--runs", "1", "--json", "-")
    assert proc.returncode == 0, proc.stderr


def test_calibrate_bad_history(tmp_path):
    """A history without an attainment column is a clean data error naming the column."""
    hist = tmp_path / "h.csv"
    hist.write_text("rep_id,period,attainmnt\nR1,2026-01,1.0\n")
    proc = incentive("calibrate", "--history", hist, "--out", tmp_path / "o.yaml")
    assert_clean_failure(proc, "attainment")
    assert not (tmp_path / "o.yaml").exists()


def test_alerts_command(tmp_path):
    """`alerts` prints grouped alerts and writes them as CSV."""
    out = tmp_path / "alerts.csv"
    plan = SCEN / "plans" / "kpi_scorecard.yaml"
    proc = incentive("alerts", plan, "--roster", SCEN / "data" / "kpi_scorecard_roster.csv",
                     "--actuals", SCEN / "data" / "kpi_scorecard_actuals.csv", "--falling-periods", "1",
                     "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "promotion-candidate" in proc.stdout
    df = pd.read_csv(out)
    assert {"rep_id", "alert", "severity", "period", "detail"} <= set(df.columns) and len(df) > 0
