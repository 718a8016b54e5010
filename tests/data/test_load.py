"""Reading rosters and actuals and binding them to a plan's periods."""

from __future__ import annotations

import datetime as dt
import itertools
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.errors import DataError, DataErrors
from engine.data import Inputs, load_inputs, read_table
from engine.data.load import MAX_ERRORS

ROSTER = """
    rep_id,quota,team
    R1,100,east
    R2,200,west
"""
ACTUALS = """
    rep_id,period,revenue
    R1,2027-Q1,10
    R2,2027-Q1,20
"""
PLAN = {
    "period": "quarter",
    "roster_columns": ["quota", "team"],
    "actual_columns": {"revenue": "sum"},
}


def write(folder: Path, name: str, text: str) -> Path:
    """Write a small table given as indented text (the first line is the header)."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, roster: str = ROSTER, actuals: str = ACTUALS, **plan) -> Inputs:
    """Load ``roster.csv`` and ``actuals.csv`` written from text, with PLAN's settings."""
    roster_path = write(folder, "roster.csv", roster)
    actuals_path = write(folder, "actuals.csv", actuals)
    return load_inputs(roster_path, actuals_path, **{**PLAN, **plan})


def described(error: DataError) -> tuple:
    """An error as (file name, row, column, rep, code, message, hint)."""
    file = Path(error.file).name if error.file else None
    return (file, error.row, error.column, error.rep, error.code, error.message, error.hint)


def assert_same_inputs(a: Inputs, b: Inputs) -> None:
    """Two Inputs hold the same values with the same dtypes (sources aside)."""
    np.testing.assert_array_equal(a.rep_ids, b.rep_ids)
    assert a.periods == b.periods
    for mine, theirs in [(a.roster, b.roster), (a.actuals, b.actuals), (a.counts, b.counts)]:
        assert mine.keys() == theirs.keys()
        for name in mine:
            assert mine[name].dtype == theirs[name].dtype, name
            np.testing.assert_array_equal(mine[name], theirs[name])
    np.testing.assert_array_equal(a.active, b.active)
    np.testing.assert_array_equal(a.proration, b.proration)


# --- every problem, where it is and what it says ------------------------------------------

ERRORS = [
    pytest.param(
        "rep_id,Quota,team\nR1,100,east\n",
        ACTUALS,
        {},
        [("roster.csv", None, "quota", None, "missing-column",
          "no column 'quota' in the roster", "did you mean 'Quota'?")],
        id="missing-roster-column",
    ),
    pytest.param(
        "id,quota,team\nR1,100,east\n",
        ACTUALS,
        {},
        [("roster.csv", None, "rep_id", None, "missing-column",
          "no column 'rep_id' in the roster", "its columns are 'id', 'quota', 'team'")],
        id="missing-rep-id-column",
    ),
    pytest.param(
        "rep_id,quota,team\nR1,100,east\nR2,200,west\n,150,north\n",
        ACTUALS,
        {},
        [("roster.csv", 4, "rep_id", None, "missing-value", "'rep_id' is empty", None)],
        id="empty-rep-id",
    ),
    pytest.param(
        "rep_id,quota,team\nR1,100,east\nR2,200,west\nR1,300,north\n",
        ACTUALS,
        {},
        [("roster.csv", 4, "rep_id", "R1", "duplicate-rep",
          "rep_id 'R1' is in rows 2 and 4", "each rep has one roster row (or give the rows effective_from/effective_to dates)")],
        id="duplicate-rep",
    ),
    pytest.param(
        "rep_id,quota,team\nR1,100,east\nR2,,west\n",
        ACTUALS,
        {},
        [("roster.csv", 3, "quota", "R2", "missing-value", "'quota' is empty", None)],
        id="empty-numeric-roster-cell",
    ),
    pytest.param(
        "rep_id,quota,team\nR1,100,east\nR2,inf,west\n",
        ACTUALS,
        {},
        [("roster.csv", 3, "quota", "R2", "not-a-number",
          "'quota' must be a finite number (got 'inf')", None)],
        id="infinite-roster-number",
    ),
    pytest.param(
        "rep_id,quota,team,start_date\nR1,100,east,2027-02-30\nR2,200,west,\n",
        ACTUALS,
        {},
        [("roster.csv", 2, "start_date", "R1", "bad-date",
          "'start_date' must be a date like 2027-02-15 (got '2027-02-30')", None)],
        id="bad-start-date",
    ),
    pytest.param(
        "rep_id,quota,team,start_date,end_date\nR1,100,east,2027-02-01,2027-01-31\n"
        "R2,200,west,,\n",
        "rep_id,period,revenue\nR2,2027-Q1,20\n",
        {},
        [("roster.csv", 2, "end_date", "R1", "bad-date",
          "'end_date' 2027-01-31 is before 'start_date' 2027-02-01", None)],
        id="end-before-start",
    ),
    pytest.param(
        ROSTER,
        "rep_id,when,revenue\nR1,2027-Q1,10\n",
        {},
        [("actuals.csv", None, None, None, "missing-column",
          ("the actuals need a 'period' column (one row per rep and period) "
           "or a 'date' column (one row per transaction)"),
          "its columns are 'rep_id', 'when', 'revenue'")],
        id="neither-period-nor-date",
    ),
    pytest.param(
        ROSTER,
        "rep_id,period,date,revenue\nR1,2027-Q1,2027-01-05,10\n",
        {},
        [("actuals.csv", None, None, None, "ambiguous-actuals",
          "the actuals have both a 'period' and a 'date' column",
          "keep 'period' for one row per rep and period, or 'date' for one row per transaction")],
        id="period-and-date",
    ),
    pytest.param(
        ROSTER,
        "rep_id,period,revenu\nR1,2027-Q1,10\n",
        {},
        [("actuals.csv", None, "revenue", None, "missing-column",
          "no column 'revenue' in the actuals", "did you mean 'revenu'?")],
        id="missing-actual-column",
    ),
    pytest.param(
        ROSTER,
        "rep_id,period,revenue\nR1,2027-Q1,10\nR2,2027-01,20\n",
        {},
        [("actuals.csv", 3, "period", "R2", "bad-period",
          "expected a quarter label like 2027-Q1 (got '2027-01')", None)],
        id="bad-period",
    ),
    pytest.param(
        ROSTER,
        "rep_id,period,revenue\nR1,2027-Q1,10\nR2,2027-Q1,20\nR1, 2027-Q1 ,30\n",
        {},
        [("actuals.csv", 4, "period", "R1", "duplicate-row",
          "rep 'R1' has rows 2 and 4 for period 2027-Q1", "keep one row per rep and period")],
        id="duplicate-row",
    ),
    pytest.param(
        ROSTER,
        'rep_id,period,revenue\nR1,2027-Q1,"1,234.5"\nR2,2027-Q1,20\n',
        {},
        [("actuals.csv", 2, "revenue", "R1", "not-a-number",
          "'revenue' must be a finite number (got '1,234.5')", None)],
        id="formatted-number",
    ),
    pytest.param(
        ROSTER,
        "rep_id,period,revenue\nR1,2027-Q1,10\nR2,2027-Q1,\n",
        {},
        [("actuals.csv", 3, "revenue", "R2", "missing-value", "'revenue' is empty", None)],
        id="empty-actual",
    ),
    pytest.param(
        ROSTER,
        "rep_id,period,revenue\nR1,2027-Q1,10\nR01,2027-Q1,20\n",
        {},
        [("actuals.csv", 3, "rep_id", "R01", "unknown-rep",
          "rep_id 'R01' is not in the roster", "did you mean 'R1'?")],
        id="unknown-rep",
    ),
    pytest.param(
        "rep_id,quota,team,end_date\nR1,100,east,\nR2,200,west,2027-03-31\n",
        "rep_id,period,revenue\nR1,2027-Q1,10\nR2,2027-Q1,20\nR2,2027-Q2,5\n",
        {},
        [("actuals.csv", 4, None, "R2", "inactive-rep",
          "rep 'R2' has actuals in 2027-Q2 but is not active in it (end_date 2027-03-31)",
          "check the rep's start_date/end_date in the roster, or this row's period")],
        id="inactive-rep",
    ),
    pytest.param(
        ROSTER,
        "rep_id,date,revenue\nR1,2027-01-05,10\nR2,05/01/2027,20\nR2,,30\n",
        {},
        [("actuals.csv", 3, "date", "R2", "bad-date",
          "'date' must be a date like 2027-02-15 (got '05/01/2027')", None),
         ("actuals.csv", 4, "date", "R2", "missing-value", "'date' is empty", None)],
        id="bad-transaction-date",
    ),
    pytest.param(
        ROSTER,
        "rep_id,date,revenue,split\nR1,2027-01-05,10,1.5\nR2,2027-01-05,20,half\n"
        "R2,2027-01-06,20,-0.1\n",
        {},
        [("actuals.csv", 2, "split", "R1", "bad-split",
          "'split' must be a number between 0 and 1 (got '1.5')", None),
         ("actuals.csv", 3, "split", "R2", "bad-split",
          "'split' must be a number between 0 and 1 (got 'half')", None),
         ("actuals.csv", 4, "split", "R2", "bad-split",
          "'split' must be a number between 0 and 1 (got '-0.1')", None)],
        id="bad-split",
    ),
    pytest.param(
        "rep_id,quota,team\nR1,100,east\nR1,,west\n",
        "rep_id,period,revenue\nR1,2027-Q1,ten\nR9,2027-Q5,\n",
        {},
        [("roster.csv", 3, "rep_id", "R1", "duplicate-rep",
          "rep_id 'R1' is in rows 2 and 3", "each rep has one roster row (or give the rows effective_from/effective_to dates)"),
         ("roster.csv", 3, "quota", "R1", "missing-value", "'quota' is empty", None),
         ("actuals.csv", 2, "revenue", "R1", "not-a-number",
          "'revenue' must be a finite number (got 'ten')", None),
         ("actuals.csv", 3, "rep_id", "R9", "unknown-rep",
          "rep_id 'R9' is not in the roster", None),
         ("actuals.csv", 3, "period", "R9", "bad-period",
          "expected a quarter label like 2027-Q1 (got '2027-Q5')", None),
         ("actuals.csv", 3, "revenue", "R9", "missing-value", "'revenue' is empty", None)],
        id="all-problems-at-once-by-file-and-row",
    ),
]


@pytest.mark.parametrize("roster, actuals, plan, expected", ERRORS)
def test_data_errors(tmp_path, roster, actuals, plan, expected):
    """Each problem in the data is one error with a stable code that names the file, the
    row as a spreadsheet shows it, the column and the rep; all are raised together,
    roster first, then by row."""
    with pytest.raises(DataErrors) as caught:
        load(tmp_path, roster, actuals, **plan)
    assert [described(e) for e in caught.value.errors] == expected


def test_too_many_errors_are_cut_short(tmp_path):
    """At most MAX_ERRORS problems are listed; one more error says how many were left out."""
    lines = "".join(f"R1,{2000 + i}-Q1,x\n" for i in range(MAX_ERRORS + 50))
    with pytest.raises(DataErrors) as caught:
        load(tmp_path, actuals="rep_id,period,revenue\n" + lines)
    errors = caught.value.errors
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1].code == "too-many-errors"
    assert errors[-1].message == "50 more problems are not listed (at most 200 are reported)"


def test_render_names_row_column_and_rep(tmp_path):
    """The rendered error shows where the problem is before what it is."""
    with pytest.raises(DataErrors) as caught:
        load(tmp_path, actuals="rep_id,period,revenue\nR1,2027-Q1,abc\n")
    assert caught.value.render().splitlines()[0] == (
        f"{tmp_path / 'actuals.csv'}, row 2, column 'revenue', rep 'R1': "
        "error[not-a-number]: 'revenue' must be a finite number (got 'abc')"
    )


def test_excel_date_in_period_column_gets_a_hint():
    """A period cell that Excel turned into a date is a bad label, with a hint to store
    the labels as text."""
    roster = pd.DataFrame({"rep_id": ["R1"]})
    actuals = pd.DataFrame({"rep_id": ["R1"], "period": [dt.datetime(2027, 1, 1)], "x": [1.0]})
    with pytest.raises(DataErrors) as caught:
        load_inputs(roster, actuals, period="month", actual_columns={"x": "sum"})
    assert [described(e) for e in caught.value.errors] == [
        ("actuals", 2, "period", "R1", "bad-period",
         "expected a month label like 2027-01 (got '2027-01-01')",
         "the cell holds a date, not a label: format the column as text")
    ]


@pytest.mark.parametrize(
    "settings_, message",
    [
        ({"period": "week"}, "period kind must be one of month, quarter, half, year (got 'week')"),
        ({"fiscal_year_start": 0}, "fiscal_year_start must be a month number 1-12 (got 0)"),
        (
            {"actual_columns": {"revenue": "median"}},
            "aggregation of 'revenue' must be one of sum, mean, last, min, max (got 'median')",
        ),
    ],
)
def test_invalid_plan_settings_are_value_errors(tmp_path, settings_, message):
    """Settings a validated plan cannot have are programming errors (ValueError)."""
    with pytest.raises(ValueError) as caught:
        load(tmp_path, **settings_)
    assert str(caught.value) == message


# --- reading files --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, code, message",
    [
        ("roster.txt", b"rep_id\nR1\n", "unknown-format",
         "cannot read the roster '{path}': unknown file type '.txt'"),
        ("roster.xlsx", b"not a zip file", "unreadable-file",
         "cannot read the roster '{path}' as Excel: File is not a zip file"),
        ("roster.csv", "rep_id,team\nR1,Zürich\n".encode("latin-1"), "unreadable-file",
         "cannot read the roster '{path}' as CSV: it is not UTF-8 text"),
        ("roster.csv", b"", "unreadable-file",
         "cannot read the roster '{path}' as CSV: the file is empty"),
        ("roster.parquet", b"PAR1garbage", "unreadable-file", None),
    ],
)
def test_unreadable_files(tmp_path, name, content, code, message):
    """A file of unknown type or that cannot be parsed is one error naming the file and
    the accepted formats."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_table(path, "roster")
    error = caught.value
    assert (error.code, error.file) == (code, str(path))
    if message is not None:
        assert error.message == message.format(path=path)
    assert "CSV (.csv, .tsv), Excel (.xlsx, .xlsm, .xls) or Parquet (.parquet, .pq)" in error.hint


def test_missing_file(tmp_path):
    """A path that does not exist is an unreadable-file error naming it."""
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError) as caught:
        read_table(path, "actuals")
    assert caught.value.code == "unreadable-file"
    assert caught.value.message == f"the actuals file '{path}' does not exist"


def test_load_collects_both_unreadable_files(tmp_path):
    """load_inputs reports a bad roster and a bad actuals file together."""
    with pytest.raises(DataErrors) as caught:
        load_inputs(tmp_path / "r.csv", tmp_path / "a.json", period="month")
    assert caught.value.codes == ["unreadable-file", "unknown-format"]


def test_duplicate_column_after_stripping(tmp_path):
    """Two columns whose names differ only by surrounding spaces are an error."""
    path = write(tmp_path, "roster.csv", "rep_id,quota, quota\nR1,1,2\n")
    with pytest.raises(DataError) as caught:
        read_table(path, "roster")
    assert (caught.value.code, caught.value.column) == ("duplicate-column", "quota")


def test_read_table_keeps_text_and_row_numbers(tmp_path):
    """Column names are stripped, a UTF-8 BOM is ignored, NA is text, only empty cells are
    missing, and blank lines are dropped without renumbering the rows after them."""
    path = tmp_path / "roster.csv"
    path.write_bytes("\ufeff rep_id , team ,quota\n007,NA,1\n\n 8 ,,2\n".encode("utf-8"))
    frame = read_table(path, "roster")
    assert list(frame.columns) == ["rep_id", "team", "quota"]
    assert list(frame.index) == [2, 4]
    assert frame.index.name == "row"
    assert list(frame["rep_id"]) == ["007", "8"]
    assert frame["team"].iloc[0] == "NA"
    assert pd.isna(frame["team"].iloc[1])


def test_row_numbers_skip_blank_lines_in_errors(tmp_path):
    """An error after a blank line names the row the file shows."""
    with pytest.raises(DataErrors) as caught:
        load(tmp_path, actuals="rep_id,period,revenue\nR1,2027-Q1,1\n\nR2,2027-Q1,x\n")
    assert [e.row for e in caught.value.errors] == [4]


def test_tsv_and_dataframe_inputs(tmp_path):
    """A .tsv file and an in-memory DataFrame are read like a CSV; the DataFrame given is
    not modified."""
    tsv = write(tmp_path, "roster.tsv", "rep_id\tquota\nR1\t5\n")
    given_frame = pd.DataFrame({" rep_id": [17], "quota": [5.0]})
    from_frame = read_table(given_frame, "roster")
    assert list(read_table(tsv, "roster")["rep_id"]) == ["R1"]
    assert list(from_frame["rep_id"]) == ["17"]
    assert list(given_frame.columns) == [" rep_id", "quota"]
    assert list(from_frame.index) == [2]


def both_forms() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """A roster and, per form, actuals that exercise text ids, dates and empty cells."""
    roster = pd.DataFrame(
        {
            "rep_id": ["007", "17", "A-1"],
            "quota": [100.0, 250.5, 80.0],
            "team": ["east", "NA", "7"],
            "start_date": [pd.NaT, pd.Timestamp("2027-02-15"), pd.NaT],
            "end_date": [pd.NaT, pd.NaT, pd.Timestamp("2027-05-31")],
        }
    )
    periods = pd.DataFrame(
        {
            "rep_id": ["A-1", "007", "17", "007"],
            "period": ["2027-Q2", "2027-Q1", "2027-Q1", "2027-Q2"],
            "revenue": [5.0, 10.25, 3.0, 7.5],
        }
    )
    transactions = pd.DataFrame(
        {
            "rep_id": ["007", "17", "007", "A-1", "007"],
            "date": pd.to_datetime(
                ["2027-01-05", "2027-03-01", "2027-02-01", "2027-04-30", "2027-01-05"]
            ),
            "revenue": [10.0, 4.0, 2.5, 1.0, 3.0],
            "split": [1.0, 0.5, np.nan, 1.0, 0.25],
        }
    )
    return {"periods": (roster, periods), "transactions": (roster, transactions)}


def save(frame: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame as CSV (dates as ISO text), Excel or Parquet, by extension."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("form", ["periods", "transactions"])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_formats_load_identically(tmp_path, form, suffix):
    """CSV, Excel and Parquet files of the same tables load to the same Inputs as the
    DataFrames themselves: text ids such as '007' stay text, dates may be text or date
    cells."""
    roster, actuals = both_forms()[form]
    plan = {
        "period": "quarter",
        "roster_columns": ["quota", "team", "start_date"],
        "actual_columns": {"revenue": "mean" if form == "transactions" else "sum"},
    }
    expected = load_inputs(roster, actuals, **plan)
    roster_path = save(roster, tmp_path / f"roster{suffix}")
    actuals_path = save(actuals, tmp_path / f"actuals{suffix}")
    loaded = load_inputs(roster_path, actuals_path, **plan)
    assert_same_inputs(loaded, expected)
    assert list(loaded.rep_ids) == ["007", "17", "A-1"]
    assert list(loaded.roster["team"]) == ["east", "NA", "7"]
    assert list(loaded.roster["start_date"]) == ["", "2027-02-15", ""]
    assert loaded.sources == {
        "roster": str(roster_path),
        "actuals": str(actuals_path),
    }
    assert expected.sources == {"roster": "roster", "actuals": "actuals"}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_numeric_rep_ids_become_text(tmp_path, suffix):
    """Rep ids stored as numbers (17) are the text '17', and '007' keeps its zeros where
    the file stores text."""
    roster = save(pd.DataFrame({"rep_id": [17, 18]}), tmp_path / f"roster{suffix}")
    actuals = save(
        pd.DataFrame({"rep_id": [18], "period": ["2027-01"], "x": [1.0]}),
        tmp_path / f"actuals{suffix}",
    )
    inputs = load_inputs(roster, actuals, period="month", actual_columns={"x": "sum"})
    assert inputs.rep_ids.dtype == object
    assert list(inputs.rep_ids) == ["17", "18"]
    np.testing.assert_array_equal(inputs.actuals["x"], [[0.0], [1.0]])
    csv = write(tmp_path, "ids.csv", "rep_id\n007\n0.5e1\n")
    assert list(read_table(csv, "roster")["rep_id"]) == ["007", "0.5e1"]


# --- roster columns -------------------------------------------------------------------


def test_roster_column_types(tmp_path):
    """A named roster column is float64 when every cell is a number, text (object, ''
    for an empty cell) otherwise; rep_id is always there; dates only when named."""
    inputs = load(
        tmp_path,
        roster="rep_id,quota,team,region,start_date\nR1,100,east,1,\nR2,2.5e2,,x,2027-01-01\n",
        roster_columns=["quota", "team", "region"],
    )
    assert set(inputs.roster) == {"rep_id", "quota", "team", "region"}
    assert inputs.roster["quota"].dtype == np.float64
    np.testing.assert_array_equal(inputs.roster["quota"], [100.0, 250.0])
    assert inputs.roster["team"].dtype == object
    assert list(inputs.roster["team"]) == ["east", ""]
    assert list(inputs.roster["region"]) == ["1", "x"]
    assert list(inputs.roster["rep_id"]) == ["R1", "R2"]


# --- periods, activity and proration --------------------------------------------------


def test_periods_are_those_present_in_chronological_order(tmp_path):
    """The run's periods are the distinct labels in the actuals sorted by time (not as
    text, not filled in), and each row lands in its rep's row and its period's column."""
    inputs = load(
        tmp_path,
        actuals="rep_id,period,revenue\nR2,2028-Q1,1\nR1,2027-Q4,2\nR1,2027-Q1,3\nR2,2027-Q4,4\n",
        fiscal_year_start=10,
    )
    assert inputs.period_labels == ["2027-Q1", "2027-Q4", "2028-Q1"]
    assert [p.start for p in inputs.periods] == [
        dt.date(2027, 10, 1),
        dt.date(2028, 7, 1),
        dt.date(2028, 10, 1),
    ]
    np.testing.assert_array_equal(inputs.actuals["revenue"], [[3, 2, 0], [0, 4, 1]])
    assert inputs.actuals["revenue"].dtype == np.float64
    assert inputs.counts == {}
    assert inputs.active.all()
    assert (inputs.proration == 1.0).all()


def test_year_labels_read_as_numbers():
    """Year labels that pandas reads as ints (Excel, Parquet) name those years."""
    inputs = load_inputs(
        pd.DataFrame({"rep_id": ["R1"]}),
        pd.DataFrame({"rep_id": ["R1", "R1"], "period": [2028, 2027], "x": [1, 2]}),
        period="year",
        actual_columns={"x": "sum"},
    )
    assert inputs.period_labels == ["2027", "2028"]
    np.testing.assert_array_equal(inputs.actuals["x"], [[2.0, 1.0]])


def test_proration_and_inactive_periods(tmp_path):
    """Proration is active days / calendar days, dates inclusive and empty meaning
    unbounded; a rep with no active day in a period is inactive there (proration 0), and
    an active rep without a row has zeros."""
    inputs = load(
        tmp_path,
        roster="""
            rep_id,start_date,end_date
            R1,2027-02-15,
            R2,,2027-05-15
            R3,2027-07-01,
            R4,,
            R5,2027-04-01,2027-04-01
        """,
        actuals="""
            rep_id,period,revenue
            R1,2027-Q1,10
            R2,2027-Q2,20
            R4,2027-Q1,30
            R5,2027-Q2,40
        """,
        roster_columns=[],
    )
    assert inputs.period_labels == ["2027-Q1", "2027-Q2"]
    np.testing.assert_array_equal(
        inputs.active, [[True, True], [True, True], [False, False], [True, True], [False, True]]
    )
    # R1: 2027-02-15..2027-03-31 is 45 of Q1's 90 days; R2: 2027-04-01..2027-05-15 is 45 of 91.
    np.testing.assert_allclose(
        inputs.proration,
        [[0.5, 1.0], [1.0, 45 / 91], [0.0, 0.0], [1.0, 1.0], [0.0, 1 / 91]],
        rtol=0,
        atol=0,
    )
    np.testing.assert_array_equal(
        inputs.actuals["revenue"], [[10, 0], [0, 20], [0, 0], [30, 0], [0, 40]]
    )
    assert set(inputs.roster) == {"rep_id"}


# --- transactions ---------------------------------------------------------------------

TRANSACTIONS = """
    rep_id,date,amount,split
    R1,2027-01-05,100,
    R1,2027-02-10,50,0.5
    R1,2027-04-01,10,1
    R2,2027-03-31,30,
    R2,2027-03-31,40,0.25
    R2,2027-01-01,99,
"""


@pytest.mark.parametrize(
    "how, expected",
    [
        ("sum", [[125, 10], [139, 0]]),
        ("mean", [[75, 10], [169 / 3, 0]]),
        ("last", [[50, 10], [40, 0]]),  # R2: two rows on the latest date, the later row wins
        ("min", [[50, 10], [30, 0]]),
        ("max", [[100, 10], [99, 0]]),
    ],
)
def test_transactions_gathered_into_periods(tmp_path, how, expected):
    """Transactions are gathered per rep and period with the column's aggregation; a
    ``sum`` multiplies each row by its split (empty = 1), ``mean``/``last``/``min``/``max``
    take the rows as written (plan language version 2: a split deal does not halve an
    averaged score); counts say how many rows each cell holds."""
    inputs = load(tmp_path, actuals=TRANSACTIONS, actual_columns={"amount": how})
    assert inputs.period_labels == ["2027-Q1", "2027-Q2"]
    np.testing.assert_allclose(inputs.actuals["amount"], expected, rtol=1e-15)
    np.testing.assert_array_equal(inputs.counts["amount"], [[2, 1], [3, 0]])
    assert inputs.counts["amount"].dtype == np.float64


def test_transactions_use_fiscal_periods(tmp_path):
    """A transaction's date is placed in the fiscal period containing it."""
    inputs = load(tmp_path, actuals=TRANSACTIONS, actual_columns={"amount": "sum"},
                  fiscal_year_start=4)
    assert inputs.period_labels == ["2026-Q4", "2027-Q1"]
    np.testing.assert_array_equal(inputs.actuals["amount"], [[125, 10], [139, 0]])


def test_split_column_is_optional(tmp_path):
    """Without a split column every transaction counts in full."""
    inputs = load(
        tmp_path,
        actuals="rep_id,date,amount\nR1,2027-01-05,100\nR1,2027-01-06T09:30:00,5\n",
        actual_columns={"amount": "sum"},
    )
    np.testing.assert_array_equal(inputs.actuals["amount"], [[105], [0]])


transaction_rows = st.lists(
    st.tuples(
        st.sampled_from(["R1", "R2", "R3"]),
        st.integers(min_value=0, max_value=400),  # days after 2027-01-01
        st.integers(min_value=-1000, max_value=1000).map(lambda n: n / 4),
        st.sampled_from([None, 0.0, 0.5, 1.0]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(rows=transaction_rows, how=st.sampled_from(["sum", "mean", "last", "min", "max"]))
def test_gathering_matches_plain_python(rows, how):
    """The vectorized gathering gives what a plain loop over the transactions gives (the
    split scales only summed columns: plan language version 2)."""
    start = dt.date(2027, 1, 1)
    actuals = pd.DataFrame(
        {
            "rep_id": [r[0] for r in rows],
            "date": [(start + dt.timedelta(days=r[1])).isoformat() for r in rows],
            "amount": [r[2] for r in rows],
            "split": [np.nan if r[3] is None else r[3] for r in rows],
        }
    )
    inputs = load_inputs(
        pd.DataFrame({"rep_id": ["R1", "R2", "R3"]}),
        actuals,
        period="month",
        actual_columns={"amount": how},
    )
    cells: dict[tuple[str, str], list[tuple[int, int, float]]] = defaultdict(list)
    for position, (rep, days, amount, split) in enumerate(rows):
        label = f"{start + dt.timedelta(days=days):%Y-%m}"
        share = 1.0 if split is None or how != "sum" else split
        cells[rep, label].append((days, position, amount * share))
    for r, rep in enumerate(inputs.rep_ids):
        for p, label in enumerate(inputs.period_labels):
            values = [v for _, _, v in cells.get((rep, label), [])]
            if not values:
                expected = 0.0
            elif how == "last":
                expected = max(cells[rep, label])[2]
            else:
                expected = {"sum": sum, "mean": lambda v: sum(v) / len(v), "min": min, "max": max}[
                    how
                ](values)
            assert inputs.actuals["amount"][r, p] == pytest.approx(expected, abs=1e-9)
            assert inputs.counts["amount"][r, p] == len(values)


# --- speed ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_loads_a_million_rep_periods_in_seconds(tmp_path, suffix):
    """100,000 reps x 10 months of actuals load in a few seconds."""
    reps, months = 100_000, 10
    ids = np.array([f"R{i:06d}" for i in range(reps)], dtype=object)
    rng = np.random.default_rng(0)
    roster = pd.DataFrame({"rep_id": ids, "quota": rng.integers(1, 10**6, reps) / 100})
    actuals = pd.DataFrame(
        {
            "rep_id": np.repeat(ids, months),
            "period": np.tile([f"2027-{m:02d}" for m in range(1, months + 1)], reps),
            "revenue": rng.integers(0, 10**7, reps * months) / 100,
            "deals": rng.integers(0, 30, reps * months),
        }
    )
    roster_path = save(roster, tmp_path / f"roster{suffix}")
    actuals_path = save(actuals, tmp_path / f"actuals{suffix}")
    began = time.perf_counter()
    inputs = load_inputs(
        roster_path,
        actuals_path,
        period="month",
        roster_columns=["quota"],
        actual_columns={"revenue": "sum", "deals": "sum"},
    )
    assert time.perf_counter() - began < 5.0
    assert inputs.shape == (reps, months)
    np.testing.assert_allclose(
        inputs.actuals["revenue"], actuals["revenue"].to_numpy().reshape(reps, months)
    )


def test_text_cells_are_read_at_c_speed_as_python_reads_them():
    """The vectorized text of distinct cells (Arrow's trim for text, numpy's str for
    integers) is what the cell-by-cell reading gives: Arrow's whitespace is exactly
    Python's str.isspace, on every code point."""
    import sys

    from engine.data.cells import _cell_texts, cell_text

    points = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    cells = np.array([f"{c}R{c}" for c in points] + [c for c in points], dtype=object)
    expected = [cell_text(c) for c in cells]
    assert _cell_texts(cells).tolist() == expected
    assert _cell_texts(pd.array(cells.tolist(), dtype="str")).tolist() == expected
    mixed = [np.array([7, -3, 0]), np.array([True, False]), np.array(["R1", 17, 2.5, 3.0, dt.date(2027, 1, 2)],
                                                                          dtype=object)]
    for values in mixed:
        assert _cell_texts(values).tolist() == [cell_text(c) for c in values]


def test_ids_that_read_as_the_same_text_are_one_rep(tmp_path):
    """A roster id and an actuals id that differ only by surrounding spaces, or by being a
    number rather than text, name the same rep."""
    roster = pd.DataFrame({"rep_id": [" R1", 17, "R3"], "quota": [1.0, 2.0, 3.0]})
    actuals = pd.DataFrame({"rep_id": ["R1 ", "17", "R3", "R1"], "period": ["2027-Q1", "2027-Q1", "2027-Q1", "2027-Q2"],
                            "revenue": [1.0, 2.0, 3.0, 4.0]})
    inputs = load_inputs(roster, actuals, period="quarter", roster_columns=["quota"], actual_columns={"revenue": "sum"})
    assert inputs.rep_ids.tolist() == ["R1", "17", "R3"]
    assert inputs.actuals["revenue"].tolist() == [[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]]


def test_parquet_is_read_as_pandas_reads_it(tmp_path):
    """Parquet files are read by Arrow from their path (faster than pandas.read_parquet's
    file object) into the same frame: text, dictionary, nullable, dates, timestamps,
    decimals, a stored index and attrs."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.data.read import _read_parquet

    table = pa.table({
        "s": pa.array(["a", None, " b"]), "ls": pa.array(["x", "y", None], pa.large_string()),
        "d": pa.array(["u", "v", "u"]).dictionary_encode(), "i": pa.array([1, None, 3]), "i2": pa.array([1, 2, 3]),
        "b": pa.array([True, None, False]), "f": pa.array([1.5, None, 2.0]),
        "date": pa.array([dt.date(2027, 1, 1), None, dt.date(2027, 2, 1)]),
        "ts": pa.array([dt.datetime(2027, 1, 1, 5), None, dt.datetime(2027, 1, 2)]),
        "tz": pa.array([dt.datetime(2027, 1, 1, 5), None, dt.datetime(2027, 1, 2)], pa.timestamp("us", tz="UTC")),
        "dec": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal(2)]),
    })
    pq.write_table(table, tmp_path / "types.parquet")
    indexed = pd.DataFrame({"a": [1, 2], "s": ["x", "y"]}, index=pd.Index([5, 6], name="k"))
    indexed.attrs = {"note": "kept"}
    indexed.to_parquet(tmp_path / "indexed.parquet")
    for name in ("types.parquet", "indexed.parquet"):
        expected = pd.read_parquet(tmp_path / name)
        got = _read_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(got, expected)
        assert got.attrs == expected.attrs


@pytest.mark.parametrize("layout", ["by_period", "by_rep"])
def test_actuals_in_roster_order_bind_as_shuffled_ones_do(layout):
    """Actuals that list the roster's reps in its order (period after period, or rep after
    rep) are matched by one comparison instead of hashing: the same inputs as the same rows
    shuffled, spaces around an id included; an id that is not the guessed one still fails."""
    reps = [f"R{i}" for i in range(40)]
    roster = pd.DataFrame({"rep_id": reps, "quota": np.arange(40.0)})
    months = ["2027-01", "2027-02", "2027-03"]
    pairs = [(r, m) for m in months for r in reps] if layout == "by_period" else [(r, m) for r in reps for m in months]
    actuals = pd.DataFrame({"rep_id": pd.array([r for r, _ in pairs], dtype="str"),
                            "period": [m for _, m in pairs], "revenue": np.arange(len(pairs), dtype=float)})
    actuals.loc[5, "rep_id"] = f" {actuals.loc[5, 'rep_id']} "
    shuffled = actuals.sample(frac=1.0, random_state=3).reset_index(drop=True)
    kw = {"period": "month", "roster_columns": ["quota"], "actual_columns": {"revenue": "sum"}}
    ordered, mixed = load_inputs(roster, actuals, **kw), load_inputs(roster, shuffled, **kw)
    assert ordered.rep_ids.tolist() == mixed.rep_ids.tolist() == reps
    np.testing.assert_array_equal(ordered.actuals["revenue"], mixed.actuals["revenue"])
    actuals.loc[7, "rep_id"] = "R999"
    with pytest.raises(DataErrors) as info:
        load_inputs(roster, actuals, **kw)
    assert [(e.code, e.row, e.rep) for e in info.value.errors] == [("unknown-rep", 9, "R999")]


def test_rows_of_a_chunked_column_are_taken_chunk_by_chunk():
    """The sample of an ordered actuals column is taken chunk by chunk (Arrow's own take on a
    chunked array joins the chunks first): the same texts as that take, whatever the chunks
    (empty ones, rows at a chunk's edges, every row, none)."""
    import pyarrow as pa

    from engine.data.actuals import _take_sorted

    texts = [f"R{i}" for i in range(50)]
    rng = np.random.default_rng(5)
    for sizes in ([50], [1] * 50, [0, 20, 0, 30, 0], [7, 13, 29, 1]):
        bounds = np.cumsum([0, *sizes])
        column = pa.chunked_array([pa.array(texts[a:b], type=pa.large_string()) for a, b in itertools.pairwise(bounds)],
                                  type=pa.large_string())
        for rows in (np.arange(50), np.array([], dtype=np.int64), np.array([0, 49]), np.unique(np.clip(np.concatenate([bounds - 1, bounds]), 0, 49)),
                     np.unique(rng.integers(0, 50, 20))):
            got = _take_sorted(column, rows)
            assert got.to_pylist() == column.take(pa.array(rows, type=pa.int64())).to_pylist() == [texts[r] for r in rows]


def test_parquet_actuals_in_many_row_groups_bind_as_one_group_does(tmp_path):
    """A Parquet file of actuals in the roster's order, written in many row groups (its rep_id
    column then arrives in many chunks), binds as the same rows in one group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    reps = [f"R{i}" for i in range(30)]
    roster = pd.DataFrame({"rep_id": reps, "quota": np.arange(30.0)})
    months = ["2027-01", "2027-02", "2027-03", "2027-04"]
    table = pa.table({"rep_id": [r for _ in months for r in reps], "period": [m for m in months for _ in reps],
                      "revenue": np.arange(120.0)})
    pq.write_table(table, tmp_path / "one.parquet")
    pq.write_table(table, tmp_path / "many.parquet", row_group_size=7)
    assert pq.ParquetFile(tmp_path / "many.parquet").num_row_groups > 10
    kw = {"period": "month", "roster_columns": ["quota"], "actual_columns": {"revenue": "sum"}}
    one, many = (load_inputs(roster, tmp_path / f"{n}.parquet", **kw) for n in ("one", "many"))
    assert one.rep_ids.tolist() == many.rep_ids.tolist() == reps
    np.testing.assert_array_equal(one.actuals["revenue"], many.actuals["revenue"])
    np.testing.assert_array_equal(many.actuals["revenue"][:, 1], np.arange(30.0, 60.0))
