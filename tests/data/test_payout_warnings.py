"""``incentive payout`` says what it pays without a word otherwise: a negative total (a
penalty larger than what was earned) and a transaction dated outside its rep's employment
are counted as written, and named in a warning (neither is an error)."""

from __future__ import annotations

from pathlib import Path

from tests.cli import incentive

PENALTY_PLAN = """\
plan: penalty_plan
currency: USD
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
  complaints: actuals.complaints
components:
  - name: commission
    kind: rate
    base: revenue
    rate: 0.01
  - name: complaint_penalty
    kind: rate
    base: complaints
    rate: -250
"""

DEALS_PLAN = """\
plan: deals_plan
currency: USD
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.amount
components:
  - name: commission
    kind: rate
    base: revenue
    rate: 0.05
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_payout_names_statements_with_a_negative_total(tmp_path):
    """A penalty with no floor that exceeds what was earned gives a negative total: payout
    still writes it, and warns with the count and the reps, periods and amounts."""
    plan = _write(tmp_path, "plan.yaml", PENALTY_PLAN)
    roster = _write(tmp_path, "roster.csv", "rep_id,ti\nR001,40000\nR002,40000\nR003,40000\n")
    actuals = _write(tmp_path, "actuals.csv", "rep_id,period,revenue,complaints\nR001,2027-Q1,100000,0\n"
                                              "R002,2027-Q1,100000,1\nR003,2027-Q1,0,2\n")
    done = incentive("payout", plan, "--roster", roster, "--actuals", actuals, "--out", tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert "1 statement has a negative total (a deduction larger than what was earned): " \
           "rep R003 2027-Q1 -500.00 (USD)" in done.stderr
    assert "R002" not in done.stderr


def test_payout_is_quiet_when_no_total_is_negative(tmp_path):
    """No negative total and no transaction outside employment: no warning."""
    plan = _write(tmp_path, "plan.yaml", PENALTY_PLAN)
    roster = _write(tmp_path, "roster.csv", "rep_id,ti\nR001,40000\n")
    actuals = _write(tmp_path, "actuals.csv", "rep_id,period,revenue,complaints\nR001,2027-Q1,100000,1\n")
    done = incentive("payout", plan, "--roster", roster, "--actuals", actuals, "--out", tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr


def test_payout_names_transactions_dated_outside_employment(tmp_path):
    """A deal dated after its rep's end_date (or before the start_date), in a quarter where
    the rep is otherwise active, is counted and named: the count, then rows, reps and dates."""
    plan = _write(tmp_path, "plan.yaml", DEALS_PLAN)
    roster = _write(tmp_path, "roster.csv", "rep_id,ti,start_date,end_date\nR001,40000,,2027-02-15\n"
                                            "R002,40000,2027-02-01,\nR003,40000,,\n")
    actuals = _write(tmp_path, "deals.csv", "rep_id,date,amount\n"
                                            "R001,2027-01-10,1000\n"
                                            "R001,2027-03-20,2000\n"
                                            "R002,2027-01-05,3000\n"
                                            "R002,2027-02-05,4000\n"
                                            "R003,2027-03-31,5000\n")
    out = tmp_path / "out.csv"
    done = incentive("payout", plan, "--roster", roster, "--actuals", actuals, "--out", out)
    assert done.returncode == 0, done.stderr
    assert ("2 transactions are dated outside the rep's employment (before start_date or after end_date) "
            "and counted in the period of their date: row 3 rep R001 dated 2027-03-20; "
            "row 4 rep R002 dated 2027-01-05") in done.stderr
    text = out.read_text()
    assert "R001,2027-Q1,USD,150.00" in text  # counted: (1000 + 2000) x 5%


def test_missing_columns_in_a_workbook_point_to_its_other_sheet(tmp_path):
    """Excel data on the second sheet (the first holds notes): every missing-column error
    carries the hint that the data may be on another sheet, named, with ``--sheet NAME``;
    reading that sheet works."""
    import openpyxl

    def book(path: Path, rows: list[list[object]]) -> Path:
        wb = openpyxl.Workbook()
        notes = wb.active
        notes.title = "Notes"
        notes.append(["Exported from the CRM"])
        notes.append(["on 2027-04-02, by sales ops"])
        data = wb.create_sheet("Sheet2")
        for row in rows:
            data.append(row)
        wb.save(path)
        return path

    plan = _write(tmp_path, "plan.yaml", PENALTY_PLAN)
    roster = book(tmp_path / "roster.xlsx", [["rep_id", "ti"], ["R001", 40000]])
    actuals = book(tmp_path / "actuals.xlsx", [["rep_id", "period", "revenue", "complaints"],
                                               ["R001", "2027-Q1", 100000, 0]])
    out = tmp_path / "out.csv"
    done = incentive("payout", plan, "--roster", roster, "--actuals", actuals, "--out", out)
    assert done.returncode != 0
    hint = "the data may be on another sheet ('Sheet2'): choose it with --sheet NAME"
    errors = [ln for ln in done.stderr.splitlines() if "missing-column" in ln]
    assert len(errors) >= 2, done.stderr
    assert done.stderr.count(hint) >= len(errors), done.stderr
    # a first sheet with a header and no rows says the same
    only_title = tmp_path / "title.xlsx"
    wb = openpyxl.load_workbook(roster)
    wb["Notes"].delete_rows(2)
    wb.save(only_title)
    done = incentive("payout", plan, "--roster", only_title, "--actuals", actuals, "--out", out)
    assert "no-rows" in done.stderr and hint in done.stderr, done.stderr
    done = incentive("payout", plan, "--roster", roster, "--actuals", actuals, "--out", out, "--sheet", "Sheet2")
    assert done.returncode == 0, done.stderr
