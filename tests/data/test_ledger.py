"""The ledger of payout runs (issue 16): recording, closing, prior-period adjustments,
history, verify, and a ledger that survives killed runs, concurrent runs and foreign files.

Every test that takes ``ledger_url`` runs twice: on an SQLite file and on a database of a
real PostgreSQL server (tests/pg.py; no mocks of the database).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.cli import ROOT, incentive, invoke

PLAN = ROOT / "scenarios/plans/annual_quarterly_trueup.yaml"
ROSTER = ROOT / "scenarios/data/annual_quarterly_trueup_roster.csv"
ACTUALS = ROOT / "scenarios/data/annual_quarterly_trueup_actuals.csv"
KPI_PLAN = ROOT / "scenarios/plans/kpi_scorecard.yaml"
KPI_ROSTER = ROOT / "scenarios/data/kpi_scorecard_roster.csv"
KPI_ACTUALS = ROOT / "scenarios/data/kpi_scorecard_actuals.csv"


def actuals_file(path: Path, source: Path, periods: tuple[str, ...], changes: dict | None = None) -> Path:
    """The source actuals restricted to ``periods``, with ``{(rep, period): {column: value}}`` changed."""
    df = pd.read_csv(source, dtype=str)
    df = df[df["period"].isin(periods)].copy()
    for (rep, period), cells in (changes or {}).items():
        for column, value in cells.items():
            df.loc[(df["rep_id"] == rep) & (df["period"] == period), column] = str(value)
    df.to_csv(path, index=False)
    return path


def payout(ledger: str | None, actuals: Path, out: Path, plan: Path = PLAN, roster: Path = ROSTER):
    args = ["payout", plan, "--roster", roster, "--actuals", actuals, "--out", out]
    result = invoke(*args, *(["--ledger", ledger] if ledger else []))
    assert result.exit_code == 0, result.output
    return result


def read(out: Path) -> pd.DataFrame:
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def money(df: pd.DataFrame, rep: str, column: str = "total", periods: tuple[str, ...] | None = None) -> Decimal:
    rows = df[(df["rep_id"] == rep) & (df["period"].isin(periods) if periods else True)]
    return sum((Decimal(v) for v in rows[column]), Decimal(0))


def table(ledger: str, sql: str) -> list[tuple]:
    from engine.data.ledger import open_ledger

    with open_ledger(ledger, create=False) as book, book.transaction() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def dump(ledger: str) -> dict[str, list]:
    """Every row of every ledger table, in a stable order."""
    from engine.data.ledger.schema import metadata

    return {name: sorted(map(str, table(ledger, f"SELECT * FROM {name}"))) for name in metadata.tables}


def assert_rows_add_up(df: pd.DataFrame, parts: list[str]) -> None:
    for row in df.to_dict("records"):
        assert sum(Decimal(row[c]) for c in [*parts, "prior_periods"]) == Decimal(row["total"]), row


# -- recording -------------------------------------------------------------------------------------


def test_a_run_is_recorded_with_its_inputs_and_every_statement(ledger_url, tmp_path):
    """payout --ledger stores the plan text and hash, the roster's and actuals' bytes and hashes,
    the engine version, who and when, and every statement row exactly as written to --out."""
    out = tmp_path / "out.csv"
    result = payout(ledger_url, ACTUALS, out)
    assert "recorded run 1 of plan annual_quarterly_trueup" in result.output
    (run,) = table(ledger_url, "SELECT plan_name, plan_hash, roster_hash, actuals_hash, engine_version, "
                               "recorded_by, recorded_at FROM runs")
    sha = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (PLAN, ROSTER, ACTUALS)}
    assert run[:4] == ("annual_quarterly_trueup", sha[PLAN], sha[ROSTER], sha[ACTUALS])
    assert run[4] and run[5] and run[6].endswith("Z")
    blobs = dict(table(ledger_url, "SELECT sha256, content FROM blobs"))
    assert {k: bytes(v) for k, v in blobs.items()} == {sha[p]: p.read_bytes() for p in (PLAN, ROSTER, ACTUALS)}
    written = read(out)
    assert list(written.columns) == ["rep_id", "period", "currency", "revenue_bonus", "adjustment",
                                     "prior_periods", "total"]
    stored = table(ledger_url, "SELECT rep_id, period, amounts, total_units FROM statements ORDER BY id")
    assert len(stored) == len(written) == 16
    for (rep, period, amounts, units), row in zip(stored, written.to_dict("records"), strict=True):
        amounts = json.loads(amounts) if isinstance(amounts, str) else amounts
        assert {"rep_id": rep, "period": period, **amounts} == row
        assert Decimal(units) / 100 == Decimal(row["total"])


def test_lines_are_stored_with_the_run(tmp_path):
    """record_run keeps a lines table (rep, period and any columns, floats exactly) with the run."""
    from engine.data.ledger import InputFile, open_ledger, record_run
    from engine.data.statements import statements
    from engine.plan import load_plan

    checked = load_plan(PLAN)
    fresh = statements(checked, ROSTER, ACTUALS)
    lines = pd.DataFrame({"rep_id": ["Y001", "Y002"], "period": ["2027-Q1", None], "deal": ["D1", "D2"],
                          "revenue_bonus": [0.1 + 0.2, 12.5]})
    with open_ledger(tmp_path / "l.db") as book:
        record_run(book, checked, PLAN.read_text(), InputFile.read(ROSTER, "roster"),
                   InputFile.read(ACTUALS, "actuals"), fresh, lines=lines)
    rows = table(str(tmp_path / "l.db"), "SELECT rep_id, period, data FROM lines ORDER BY id")
    assert [(r[0], r[1], json.loads(r[2])) for r in rows] == [
        ("Y001", "2027-Q1", {"deal": "D1", "revenue_bonus": repr(0.1 + 0.2)}),
        ("Y002", None, {"deal": "D2", "revenue_bonus": "12.5"})]


def test_a_plan_reading_a_table_file_is_recorded_with_it_and_verifies(tmp_path):
    """A plan whose table reads a file (`file: ../data/region_multiplier.csv`) and pays deal by
    deal: `payout --ledger --lines` keeps the file and the line detail with the run, and
    `verify` recomputes the run identically even after the file on disk changes."""
    scen = ROOT / "scenarios"
    work = tmp_path / "work"
    (work / "plans").mkdir(parents=True)
    (work / "data").mkdir()
    plan = work / "plans" / "p.yaml"
    plan.write_text((scen / "plans" / "product_rates_on_payment.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (work / "data" / "region_multiplier.csv").write_text("key,value\nEAST,1.0\nWEST,1.2\n")
    ledger = tmp_path / "l.db"
    proc = incentive("payout", plan, "--roster", scen / "data" / "product_rates_roster.csv", "--actuals",
                     scen / "data" / "product_rates_invoices.csv", "--out", tmp_path / "st.csv", "--lines",
                     tmp_path / "lines.csv", "--ledger", ledger)
    assert proc.returncode == 0, proc.stderr
    assert len(table(str(ledger), "SELECT id FROM lines")) == 7
    (work / "data" / "region_multiplier.csv").write_text("key,value\nEAST,9.0\nWEST,9.0\n")
    proc = incentive("verify", ledger)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "run 1: identical" in proc.stdout


# -- closing and prior-period adjustments ----------------------------------------------------------


def test_correcting_a_closed_quarter_pays_the_difference_in_the_first_open_one(ledger_url, tmp_path):
    """accumulate: year with a draw: Q1 closed, then Q1 corrected (one rep up, one down). Q1's
    statements stay as they were; Q2 pays the difference in prior_periods; every rep's
    cumulative pay through Q2 equals a correct first run's, to the cent; verify agrees."""
    first = payout(ledger_url, actuals_file(tmp_path / "a1.csv", ACTUALS, ("2027-Q1", "2027-Q2")), tmp_path / "r1.csv")
    assert "closed periods" not in first.output
    closed = invoke("close", ledger_url, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    assert closed.exit_code == 0 and "closed annual_quarterly_trueup 2027-Q1: its statements are those of run 1" \
        in closed.output
    fixed = actuals_file(tmp_path / "a2.csv", ACTUALS, ("2027-Q1", "2027-Q2"),
                         {("Y001", "2027-Q1"): {"revenue": 400000}, ("Y002", "2027-Q1"): {"revenue": 120000}})
    second = payout(ledger_url, fixed, tmp_path / "r2.csv")
    assert "closed periods kept as they were: 2027-Q1" in second.output
    assert "prior_periods Y001: 2027-Q1 revenue_bonus was 0.00 now 11,000.00: +11,000.00 paid in 2027-Q2" \
        in second.output
    payout(None, fixed, tmp_path / "fresh.csv")
    r1, r2, fresh = read(tmp_path / "r1.csv"), read(tmp_path / "r2.csv"), read(tmp_path / "fresh.csv")
    q1 = ("2027-Q1",)
    assert r2[r2["period"] == "2027-Q1"].reset_index(drop=True).equals(r1[r1["period"] == "2027-Q1"].reset_index(drop=True))
    for rep in ("Y001", "Y002", "Y003", "Y004"):
        assert money(r2, rep) == money(fresh, rep), rep  # cumulative through Q2, to the cent
        assert money(r2, rep, "prior_periods") == money(fresh, rep, periods=q1) - money(r1, rep, periods=q1)
    assert money(r2, "Y001", "prior_periods") == Decimal("7000.00")  # 11,000 earned - 4,000 draw paid
    assert money(r2, "Y002", "prior_periods") < 0
    assert money(r2, "Y003", "prior_periods") == 0
    assert_rows_add_up(r2, ["revenue_bonus", "adjustment"])
    verified = invoke("verify", ledger_url)
    assert verified.exit_code == 0, verified.output
    assert "run 1: identical (8 statements" in verified.output
    assert "run 2: identical (8 statements, 3 adjustment lines" in verified.output


def test_a_second_correction_pays_only_what_is_still_owed(ledger_url, tmp_path):
    """Q1 corrected while Q2 is open, Q2 then closed, Q1 corrected again: Q3 pays only the new
    difference (the Q1 correction already paid inside closed Q2 counts as paid), and the
    cumulative pay through Q3 is still a correct first run's."""
    q12, q123 = ("2027-Q1", "2027-Q2"), ("2027-Q1", "2027-Q2", "2027-Q3")
    payout(ledger_url, actuals_file(tmp_path / "a1.csv", ACTUALS, q12), tmp_path / "r1.csv")
    invoke("close", ledger_url, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    payout(ledger_url, actuals_file(tmp_path / "a2.csv", ACTUALS, q12, {("Y002", "2027-Q1"): {"revenue": 400000}}),
           tmp_path / "r2.csv")
    invoke("close", ledger_url, "--plan", "annual_quarterly_trueup", "--period", "2027-Q2")
    third = actuals_file(tmp_path / "a3.csv", ACTUALS, q123, {("Y002", "2027-Q1"): {"revenue": 425000},
                                                             ("Y001", "2027-Q2"): {"revenue": 500000}})
    payout(ledger_url, third, tmp_path / "r3.csv")
    payout(None, third, tmp_path / "fresh.csv")
    r2, r3, fresh = read(tmp_path / "r2.csv"), read(tmp_path / "r3.csv"), read(tmp_path / "fresh.csv")
    assert r3[r3["period"].isin(q12)].reset_index(drop=True).equals(r2.reset_index(drop=True))
    for rep in ("Y001", "Y002", "Y003", "Y004"):
        assert money(r3, rep) == money(fresh, rep), rep
    assert money(r2, "Y002", "prior_periods") != 0 and money(r3, "Y002", "prior_periods", ("2027-Q3",)) != 0
    assert_rows_add_up(r3, ["revenue_bonus", "adjustment"])
    assert invoke("verify", ledger_url).exit_code == 0


def test_a_plain_quarterly_plan(tmp_path):
    """A plan paid quarter by quarter (a scorecard with grades): a closed quarter's correction is
    paid next quarter, the grade of the closed quarter stays as issued."""
    ledger = str(tmp_path / "kpi.db")
    q12 = ("2027-Q1", "2027-Q2")
    payout(ledger, actuals_file(tmp_path / "a1.csv", KPI_ACTUALS, q12), tmp_path / "r1.csv", KPI_PLAN, KPI_ROSTER)
    assert invoke("close", ledger, "--plan", "kpi_scorecard", "--period", "2027-Q1").exit_code == 0
    fixed = actuals_file(tmp_path / "a2.csv", KPI_ACTUALS, q12, {("K001", "2027-Q1"): {"revenue": 400000}})
    payout(ledger, fixed, tmp_path / "r2.csv", KPI_PLAN, KPI_ROSTER)
    payout(None, fixed, tmp_path / "fresh.csv", KPI_PLAN, KPI_ROSTER)
    r1, r2, fresh = read(tmp_path / "r1.csv"), read(tmp_path / "r2.csv"), read(tmp_path / "fresh.csv")
    q1 = r2["period"] == "2027-Q1"
    assert r2[q1].reset_index(drop=True).equals(r1[r1["period"] == "2027-Q1"].reset_index(drop=True))
    for rep in sorted(set(fresh["rep_id"])):
        assert money(r2, rep) == money(fresh, rep), rep
    delta = money(fresh, "K001", periods=("2027-Q1",)) - money(r1, "K001", periods=("2027-Q1",))
    assert delta > 0 and money(r2, "K001", "prior_periods", ("2027-Q2",)) == delta
    assert invoke("verify", ledger).exit_code == 0


def test_a_correction_without_an_open_period_is_pending(tmp_path):
    """Every period of the run closed: the correction is reported pending (not lost) and paid
    by the first run that has an open period."""
    ledger = str(tmp_path / "l.db")
    payout(ledger, actuals_file(tmp_path / "a1.csv", ACTUALS, ("2027-Q1",)), tmp_path / "r1.csv")
    invoke("close", ledger, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    change = {("Y004", "2027-Q1"): {"revenue": 500000}}
    second = payout(ledger, actuals_file(tmp_path / "a2.csv", ACTUALS, ("2027-Q1",), change), tmp_path / "r2.csv")
    assert "PENDING: the rep has no open period" in second.output
    assert "1 rep(s) have corrections pending" in second.output
    assert read(tmp_path / "r2.csv").equals(read(tmp_path / "r1.csv"))
    both = actuals_file(tmp_path / "a3.csv", ACTUALS, ("2027-Q1", "2027-Q2"), change)
    third = payout(ledger, both, tmp_path / "r3.csv")
    assert "prior_periods Y004: 2027-Q1 revenue_bonus" in third.output and "paid in 2027-Q2" in third.output
    payout(None, both, tmp_path / "fresh.csv")
    assert money(read(tmp_path / "r3.csv"), "Y004") == money(read(tmp_path / "fresh.csv"), "Y004")


def test_close_errors_and_idempotence(tmp_path):
    """Closing twice says so and changes nothing; an unknown period or plan, or a missing
    ledger, is a clean error (exit 2) that creates nothing."""
    ledger = str(tmp_path / "l.db")
    payout(ledger, ACTUALS, tmp_path / "r1.csv")
    assert invoke("close", ledger, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1").exit_code == 0
    before = dump(ledger)
    again = invoke("close", ledger, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    assert again.exit_code == 0 and "was already closed (by " in again.output and "nothing changed" in again.output
    assert dump(ledger) == before
    bad = incentive("close", ledger, "--plan", "annual_quarterly_trueup", "--period", "2028-Q1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "error[unknown-period]: no run of plan 'annual_quarterly_trueup' has the period 2028-Q1" in bad.stderr
    plan = invoke("close", ledger, "--plan", "annual_quarterly", "--period", "2027-Q1")
    assert plan.exit_code == 2 and "error[unknown-plan]" in plan.output and "did you mean 'annual_quarterly_trueup'" \
        in plan.output
    missing = incentive("close", tmp_path / "none.db", "--plan", "p", "--period", "2027-Q1")
    assert missing.returncode == 2 and "error[no-ledger]: there is no ledger at" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    assert dump(ledger) == before


# -- history and verify ----------------------------------------------------------------------------


def test_history_lists_runs_statement_versions_and_adjustments(ledger_url, tmp_path):
    """history --rep: every run (who, when, hashes), each period's statement per run (the closed
    one marked as repeating its frozen run) and the adjustments."""
    payout(ledger_url, actuals_file(tmp_path / "a1.csv", ACTUALS, ("2027-Q1", "2027-Q2")), tmp_path / "r1.csv")
    invoke("close", ledger_url, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    payout(ledger_url, actuals_file(tmp_path / "a2.csv", ACTUALS, ("2027-Q1", "2027-Q2"),
                                    {("Y001", "2027-Q1"): {"revenue": 400000}}), tmp_path / "r2.csv")
    shown = invoke("history", ledger_url, "--rep", "Y001")
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert text.startswith("rep Y001: 2 runs")
    sha = hashlib.sha256(PLAN.read_bytes()).hexdigest()[:12]
    assert "run 1 " in text and f"plan annual_quarterly_trueup {sha}" in text
    assert "annual_quarterly_trueup 2027-Q1 (closed by " in text and "frozen at run 1)" in text
    assert "run 2: total 4000.00 USD  = run 1 (closed)" in text
    assert "run 2: total 14000.00 USD  incl. prior_periods 7000.00" in text
    assert "run 2: 2027-Q1 revenue_bonus (closed at run 1) was 0.00 now 11000.00: 11000.00 paid in 2027-Q2" in text
    unknown = invoke("history", ledger_url, "--rep", "Y01")
    assert unknown.exit_code == 2 and "error[unknown-rep]" in unknown.output


def test_verify_finds_a_changed_statement(ledger_url, tmp_path):
    """verify recomputes a run from its stored plan and data: a statement altered in the
    database is reported with its rep, period, column and both amounts (exit 1)."""
    from engine.data.ledger import open_ledger
    from engine.data.ledger.schema import statements

    payout(ledger_url, ACTUALS, tmp_path / "r1.csv")
    assert "run 1: identical (16 statements" in invoke("verify", ledger_url, "--run", "1").output
    with open_ledger(ledger_url) as book, book.transaction() as conn:
        sid, amounts = conn.execute(sa.select(statements.c.id, statements.c.amounts).where(
            statements.c.rep_id == "Y003", statements.c.period == "2027-Q2")).one()
        conn.execute(statements.update().where(statements.c.id == sid).values(
            amounts={**amounts, "revenue_bonus": "5000.01"}))
    found = invoke("verify", ledger_url)
    assert found.exit_code == 1
    assert "run 1: DIFFERENT (1 differences)" in found.output
    assert "rep Y003 2027-Q2 revenue_bonus: recorded 5000.01, recomputed 5000.00" in found.output
    assert invoke("verify", ledger_url, "--run", "9").exit_code == 2


# -- reliability -----------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import json, os, sys, time
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine
    from engine.app.cli import cli
    mode = sys.argv[1]
    times = {}

    @sa.event.listens_for(Engine, "after_execute")
    def _after(conn, clause, *args):
        sql = str(clause)
        if sql.startswith("INSERT INTO runs"):
            times["start"] = time.time()  # inside the run's transaction, holding the lock
            if mode == "slow":
                time.sleep(1.0)
        if sql.startswith("INSERT INTO statements") and mode == "kill":
            os._exit(9)  # killed mid-way: runs row and statements written, nothing committed

    @sa.event.listens_for(Engine, "commit")
    def _commit(conn):
        times["commit"] = time.time()

    cli.main(sys.argv[2:], standalone_mode=False)
    print(json.dumps(times))
""")


def child(tmp_path: Path, mode: str, *args: object) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), mode, *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_run_killed_mid_way_leaves_the_ledger_as_it_was(ledger_url, tmp_path):
    """One transaction per run: a process killed after writing its run and statements (before
    commit) leaves every table as it was; the next run works and verify agrees."""
    payout(ledger_url, ACTUALS, tmp_path / "r1.csv")
    invoke("close", ledger_url, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    before = dump(ledger_url)
    changed = actuals_file(tmp_path / "a2.csv", ACTUALS, ("2027-Q1", "2027-Q2"), {("Y001", "2027-Q1"): {"revenue": 1}})
    proc = child(tmp_path, "kill", "payout", PLAN, "--roster", ROSTER, "--actuals", changed,
                 "--out", tmp_path / "killed.csv", "--ledger", ledger_url)
    proc.communicate(timeout=120)
    assert proc.returncode == 9
    assert dump(ledger_url) == before
    assert not (tmp_path / "killed.csv").exists()
    payout(ledger_url, changed, tmp_path / "r2.csv")
    assert len(table(ledger_url, "SELECT id FROM runs")) == 2  # the killed run left no trace
    assert invoke("verify", ledger_url).exit_code == 0


def test_a_first_run_killed_mid_way_leaves_no_ledger(ledger_url, tmp_path):
    """The schema of a new ledger is made in its first run's transaction: killed mid-way, that
    run leaves no ledger behind (commands then say there is none), and the next run makes it."""
    proc = child(tmp_path, "kill", "payout", PLAN, "--roster", ROSTER, "--actuals", ACTUALS,
                 "--out", tmp_path / "killed.csv", "--ledger", ledger_url)
    proc.communicate(timeout=120)
    assert proc.returncode == 9
    shown = invoke("history", ledger_url, "--rep", "Y001")
    assert shown.exit_code == 2 and "error[no-ledger]" in shown.output
    payout(ledger_url, ACTUALS, tmp_path / "r1.csv")
    assert len(table(ledger_url, "SELECT id FROM runs")) == 1


def test_a_failure_before_commit_writes_nothing(tmp_path):
    """An error inside the run's transaction (here: writing its statements) rolls it back."""
    from engine.data.ledger import InputFile, open_ledger, record_run
    from engine.data.statements import statements
    from engine.plan import load_plan

    ledger = str(tmp_path / "l.db")
    payout(ledger, ACTUALS, tmp_path / "r1.csv")
    before = dump(ledger)
    checked = load_plan(PLAN)

    def fail(_):
        raise OSError("disk full")

    with open_ledger(ledger) as book, pytest.raises(OSError, match="disk full"):
        record_run(book, checked, PLAN.read_text(), InputFile.read(ROSTER, "roster"),
                   InputFile.read(ACTUALS, "actuals"), statements(checked, ROSTER, ACTUALS), before_commit=fail)
    assert dump(ledger) == before


def test_concurrent_runs_do_not_interleave(ledger_url, tmp_path):
    """Two processes record a run in one new ledger at once (the first holding its transaction
    open for a second): both succeed, with distinct run ids; the second's transaction starts
    only after the first commits, and each run's statement rows are complete and contiguous."""
    procs = []
    for i, periods in enumerate((("2027-Q1", "2027-Q2"), ("2027-Q1", "2027-Q2", "2027-Q3"))):
        data = actuals_file(tmp_path / f"a{i}.csv", ACTUALS, periods)
        procs.append(child(tmp_path, "slow", "payout", PLAN, "--roster", ROSTER, "--actuals", data,
                           "--out", tmp_path / f"r{i}.csv", "--ledger", ledger_url))
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    spans = sorted((json.loads(out.strip().splitlines()[-1]) for out, _ in outs), key=lambda s: s["start"])
    assert spans[0]["commit"] <= spans[1]["start"]  # serialized by the ledger's lock
    runs = table(ledger_url, "SELECT run_id, COUNT(*), MIN(id), MAX(id) FROM statements GROUP BY run_id ORDER BY run_id")
    assert [r[0] for r in runs] == [1, 2]
    assert sorted(r[1] for r in runs) == [8, 12]
    assert runs[0][3] < runs[1][2] and all(r[3] - r[2] + 1 == r[1] for r in runs)
    assert invoke("verify", ledger_url).exit_code == 0


def _text(path: Path) -> None:
    path.write_text("rep_id,total\nY001,5\n")


def _random(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def _other_sqlite(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (name TEXT, email TEXT)")
        db.execute("INSERT INTO customers VALUES ('a', 'a@example.com')")


def _newer_ledger(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")
        db.execute("CREATE TABLE runs (id INTEGER)")


def _damaged(path: Path) -> None:
    """A real ledger whose pages after the header were overwritten."""
    from engine.data.ledger import open_ledger

    with open_ledger(path) as book, book.transaction():
        pass  # the first transaction creates the schema
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make, message", [
    (_text, "not an SQLite database"),
    (_random, "not an SQLite database"),
    (_other_sqlite, "it holds other tables (customers) and no ledger schema"),
    (_newer_ledger, "its schema revision ffffffffffff is not one of this engine's"),
    (_damaged, "is not a ledger"),
], ids=["text", "random-bytes", "other-sqlite-db", "newer-revision", "damaged"])
def test_a_foreign_or_damaged_ledger_is_a_clean_error(tmp_path, make, message):
    """A file that is not a ledger: exit 2, a message naming it, no traceback, the file
    untouched and no statements written."""
    ledger = tmp_path / "ledger.db"
    make(ledger)
    before = ledger.read_bytes()
    result = incentive("payout", PLAN, "--roster", ROSTER, "--actuals", ACTUALS, "--out", tmp_path / "out.csv",
                       "--ledger", ledger)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and str(ledger) in result.stderr and message in result.stderr
    assert ledger.read_bytes() == before and not (tmp_path / "out.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.db"]


def test_a_foreign_postgres_database_is_a_clean_error(postgres_server, tmp_path):
    """A PostgreSQL database holding another application's tables is refused, untouched."""
    from tests import pg

    url = pg.create_database(postgres_server, "foreign_app")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER)")
    result = invoke("payout", PLAN, "--roster", ROSTER, "--actuals", ACTUALS, "--out", tmp_path / "o.csv",
                    "--ledger", url)
    assert result.exit_code == 2 and "is not a ledger: it holds other tables (orders)" in result.output
    assert sorted(sa.inspect(engine).get_table_names()) == ["orders"]
    engine.dispose()
    down = invoke("history", url.replace("port=5432", "port=1"), "--rep", "Y001")
    assert down.exit_code == 2 and "error[ledger-failed]" in down.output


def test_the_ledger_keeps_no_more_personal_data_than_the_inputs(tmp_path):
    """The ledger holds the input files as given, the statements and the user name: no path, no
    host name, no column the statements do not have, no rep the roster does not have."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER.read_text().replace("rep_id,status,quota,ti", "rep_id,status,quota,ti,email")
                      .replace("\nY", ",x@example.com\nY").replace("20000\n", "20000,y@example.com\n", 1))
    pd.read_csv(roster)  # a well-formed roster with an extra column the plan never reads
    ledger = tmp_path / "ledger.db"
    payout(str(ledger), ACTUALS, tmp_path / "out.csv", roster=roster)
    raw = ledger.read_bytes()
    assert str(tmp_path).encode() not in raw and socket.gethostname().encode() not in raw
    blobs = {bytes(c) for (c,) in table(str(ledger), "SELECT content FROM blobs")}
    assert blobs == {PLAN.read_bytes(), roster.read_bytes(), ACTUALS.read_bytes()}
    written = read(tmp_path / "out.csv")
    for rep, amounts in table(str(ledger), "SELECT rep_id, amounts FROM statements"):
        amounts = json.loads(amounts) if isinstance(amounts, str) else amounts
        assert rep in set(written["rep_id"]) and set(amounts) == set(written.columns) - {"rep_id", "period"}
    assert raw.count(b"example.com") == roster.read_bytes().count(b"example.com")


def test_the_migrated_schema_matches_the_tables(ledger_url):
    """The Alembic migrations build exactly the tables the code queries (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.data.ledger import open_ledger
    from engine.data.ledger.schema import metadata

    with open_ledger(ledger_url) as book, book.transaction() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_forecast_takes_paid_to_date_from_the_ledger(tmp_path):
    """forecast with the ledger's statements: paid to date per rep is the ledger's (frozen
    statements plus prior_periods), not a recomputation from the actuals."""
    from engine.data.ledger import open_ledger, paid_statements
    from engine.jobs.forecast import forecast
    from engine.plan import load_plan

    ledger = str(tmp_path / "l.db")
    q12 = ("2027-Q1", "2027-Q2")
    payout(ledger, actuals_file(tmp_path / "a1.csv", ACTUALS, q12), tmp_path / "r1.csv")
    invoke("close", ledger, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    fixed = actuals_file(tmp_path / "a2.csv", ACTUALS, q12, {("Y001", "2027-Q1"): {"revenue": 400000}})
    payout(ledger, fixed, tmp_path / "r2.csv")
    with open_ledger(ledger, create=False) as book:
        paid = paid_statements(book, "annual_quarterly_trueup")
    checked = load_plan(PLAN)
    result = forecast(checked, ROSTER, fixed, runs=2, workers=1, decompose=False, ledger_paid=paid)
    by_rep = dict(zip(result.reps["rep_id"], result.reps["paid_to_date"], strict=False))
    issued = read(tmp_path / "r2.csv")
    for rep in ("Y001", "Y002", "Y003", "Y004"):
        assert Decimal(str(round(by_rep[rep], 2))) == money(issued, rep)
    periods = result.by_period.set_index("period")["paid"]
    assert periods["2027-Q1"] == 28500.0 and periods["2027-Q2"] == 26500.0


def test_forecast_command_reads_the_ledger(tmp_path):
    """incentive forecast --ledger: the closed quarters are paid as the ledger issued them; a
    ledger without the plan, or no ledger, is a clean error."""
    ledger = str(tmp_path / "l.db")
    q12 = ("2027-Q1", "2027-Q2")
    payout(ledger, actuals_file(tmp_path / "a1.csv", ACTUALS, q12), tmp_path / "r1.csv")
    invoke("close", ledger, "--plan", "annual_quarterly_trueup", "--period", "2027-Q1")
    fixed = actuals_file(tmp_path / "a2.csv", ACTUALS, q12, {("Y002", "2027-Q1"): {"revenue": 120000}})
    payout(ledger, fixed, tmp_path / "r2.csv")
    args = ("forecast", PLAN, "--roster", ROSTER, "--actuals", fixed, "--runs", 2, "--workers", 1, "--json", "-")
    doc = json.loads(invoke(*args, "--ledger", ledger).output)
    issued = read(tmp_path / "r2.csv")
    assert {r["rep_id"]: Decimal(str(r["paid_to_date"])) for r in doc["reps_detail"] if r["rep_id"] != "(new hires)"} == \
        {rep: money(issued, rep) for rep in ("Y001", "Y002", "Y003", "Y004")}
    assert [p["paid"] for p in doc["periods"][:2]] == [28500.0, 9500.0]  # Q1 frozen, Q2 with -7,000
    other = invoke("forecast", KPI_PLAN, "--roster", KPI_ROSTER, "--actuals", KPI_ACTUALS, "--runs", 2,
                   "--workers", 1, "--ledger", ledger)
    assert other.exit_code == 2 and "error[unknown-plan]: the ledger has no run of plan 'kpi_scorecard'" in other.output
    none = invoke(*args, "--ledger", tmp_path / "none.db")
    assert none.exit_code == 2 and "error[no-ledger]" in none.output


def test_bad_input_writes_nothing_to_the_ledger(tmp_path):
    """payout --ledger with bad actuals: exit 2, the data error as without a ledger, no ledger
    created (or an existing one unchanged), no statements written."""
    bad = tmp_path / "bad.csv"
    bad.write_text("rep_id,period,revenue\nY001,2027-Q1,lots\n")
    ledger = tmp_path / "new.db"
    result = incentive("payout", PLAN, "--roster", ROSTER, "--actuals", bad, "--out", tmp_path / "o.csv",
                       "--ledger", ledger)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "revenue" in result.stderr
    assert not ledger.exists() and not (tmp_path / "o.csv").exists()
    existing = str(tmp_path / "old.db")
    payout(existing, ACTUALS, tmp_path / "r1.csv")
    before = dump(existing)
    again = invoke("payout", PLAN, "--roster", ROSTER, "--actuals", bad, "--out", tmp_path / "o.csv",
                   "--ledger", existing)
    assert again.exit_code == 2 and dump(existing) == before


@pytest.mark.parametrize("seed", range(6))
def test_random_corrections_end_where_a_correct_first_run_would(tmp_path, seed):
    """Property, on random years of the true-up plan: Q1 and then Q2 closed, each run
    correcting every earlier quarter at random; after the last run every rep's cumulative
    pay equals a first run's on the last data, to the cent, and every run verifies."""
    import numpy as np

    from engine.data.ledger import InputFile, close_period, open_ledger, record_run, verify
    from engine.data.statements import statements
    from engine.plan import load_plan

    rng = np.random.default_rng(seed)
    checked = load_plan(PLAN)
    reps, quarters = ["Y001", "Y002", "Y003", "Y004"], ["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]

    def data(n: int) -> Path:
        path = tmp_path / f"a{n}.csv"
        rows = [(r, q, int(rng.integers(0, 80) * 10000)) for q in quarters[: n + 1] for r in reps]
        pd.DataFrame(rows, columns=["rep_id", "period", "revenue"]).to_csv(path, index=False)
        return path

    roster = InputFile.read(ROSTER, "roster")
    with open_ledger(tmp_path / "l.db") as book:
        for n in (1, 2, 3):
            actuals = data(n)
            run = record_run(book, checked, PLAN.read_text(), roster, InputFile.read(actuals, "actuals"),
                             statements(checked, ROSTER, actuals))
            if n < 3:
                close_period(book, "annual_quarterly_trueup", quarters[n - 1])
        fresh = statements(checked, ROSTER, actuals)
        issued = run.statements
        assert set(issued.loc[issued["period"] == "2027-Q1", "prior_periods"]) == {0.0}
        def cents(df: pd.DataFrame, rep: str) -> int:
            return int((df.loc[df["rep_id"] == rep, "total"] * 100).round().astype("int64").sum())

        for rep in reps:
            assert cents(issued, rep) == cents(fresh, rep), rep
        assert all(v.identical for v in verify(book))


def test_excel_inputs_and_their_sheet_are_kept_for_verify(tmp_path):
    """Workbooks are stored as given with the sheet read, so verify reads the same sheet."""
    roster, actuals = tmp_path / "roster.xlsx", tmp_path / "actuals.xlsx"
    for path, source in ((roster, ROSTER), (actuals, ACTUALS)):
        with pd.ExcelWriter(path) as book:
            pd.DataFrame({"note": ["not this sheet"]}).to_excel(book, sheet_name="Notes", index=False)
            pd.read_csv(source, dtype={"rep_id": str}).to_excel(book, sheet_name="Data", index=False)
    ledger = str(tmp_path / "l.db")
    result = invoke("payout", PLAN, "--roster", roster, "--actuals", actuals, "--out", tmp_path / "o.csv",
                    "--sheet", "Data", "--ledger", ledger)
    assert result.exit_code == 0, result.output
    assert table(ledger, "SELECT roster_format, actuals_format, sheet FROM runs") == [("xlsx", "xlsx", "Data")]
    assert "run 1: identical (16 statements" in invoke("verify", ledger).output


def test_adjustment_lines_say_what_they_correct(tmp_path):
    """The adjustments of a run as lines: where paid, which period, run and column they correct,
    adding up to the statement's prior_periods."""
    from engine.data.ledger import InputFile, close_period, open_ledger, record_run
    from engine.data.statements import statements
    from engine.plan import load_plan

    checked = load_plan(PLAN)
    fixed = actuals_file(tmp_path / "a.csv", ACTUALS, ("2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"),
                         {("Y001", "2027-Q1"): {"revenue": 400000}})
    roster = InputFile.read(ROSTER, "roster")
    with open_ledger(tmp_path / "l.db") as book:
        record_run(book, checked, checked.source, roster, InputFile.read(ACTUALS, "actuals"),
                   statements(checked, ROSTER, ACTUALS))
        close_period(book, "annual_quarterly_trueup", "2027-Q1")
        run = record_run(book, checked, checked.source, roster, InputFile.read(fixed, "actuals"),
                         statements(checked, ROSTER, fixed))
    lines = run.adjustment_lines()
    assert lines.to_dict("records") == [
        {"rep_id": "Y001", "period": "2027-Q2", "line": "prior_periods", "corrects_period": "2027-Q1",
         "corrects_run": 1, "corrects_column": "revenue_bonus", "prior_periods": 11000.0},
        {"rep_id": "Y001", "period": "2027-Q2", "line": "prior_periods", "corrects_period": "2027-Q1",
         "corrects_run": 1, "corrects_column": "adjustment", "prior_periods": -4000.0}]
    q2 = run.statements[(run.statements["rep_id"] == "Y001") & (run.statements["period"] == "2027-Q2")]
    assert float(q2["prior_periods"].iloc[0]) == lines["prior_periods"].sum() == 7000.0
