"""Bad tables a user really has: header-only files, repeated headers, Excel data on another
sheet or behind formulas never calculated, negative amounts, and more problems than listed.
Each is a clear error naming file, row, rep and column; none is paid."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from engine.core.errors import DataError, DataErrors
from engine.data.load import MAX_ERRORS
from engine.data.statements import statements
from engine.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
SEEDS = load_plan(ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml")
CLASSIC = load_plan(ROOT / "scenarios" / "plans" / "classic_ae.yaml")
ROSTER = ROOT / "scenarios" / "data" / "seeds_roster.csv"
ACTUALS = ROOT / "scenarios" / "data" / "seeds_actuals.csv"


def problems(plan, roster, actuals, **kw) -> list[DataError]:
    with pytest.raises(DataErrors) as info:
        statements(plan, roster, actuals, **kw)
    return list(info.value.errors)


def edited_roster(tmp_path: Path, old: str, new: str) -> Path:
    text = ROSTER.read_text()
    assert old in text
    path = tmp_path / "roster.csv"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("which", ["roster", "actuals"])
def test_a_header_only_table_is_an_error(tmp_path, which):
    source = ROSTER if which == "roster" else ACTUALS
    header_only = tmp_path / f"{which}.csv"
    header_only.write_text(source.read_text().splitlines()[0] + "\n")
    args = (header_only, ACTUALS) if which == "roster" else (ROSTER, header_only)
    (error,) = problems(SEEDS, *args)
    assert error.code == "no-rows" and error.file == str(header_only)
    assert "header but no rows" in error.message


@pytest.mark.parametrize("column, old, new", [
    ("ti", "R002,North,1000000,20000", "R002,North,1000000,-20000"),
    ("quota", "R002,North,1000000,20000", "R002,North,-1000000,20000"),
])
def test_a_negative_amount_is_caught_not_paid(tmp_path, column, old, new):
    (error,) = problems(SEEDS, edited_roster(tmp_path, old, new), ACTUALS)
    assert (error.code, error.row, error.rep, error.column) == ("negative-value", 3, "R002", column)


def test_an_infinite_amount_is_caught(tmp_path):
    roster = edited_roster(tmp_path, "R002,North,1000000,20000", "R002,North,inf,20000")
    (error,) = problems(SEEDS, roster, ACTUALS)
    assert (error.code, error.row, error.rep, error.column) == ("not-a-number", 3, "R002", "quota")


def test_nan_text_is_caught_on_its_own_row(tmp_path):
    """'NaN' written in a cell names that cell's row and rep, not the first row of the column."""
    roster = edited_roster(tmp_path, "R004,South,1000000,20000", "R004,South,NaN,20000")
    (error,) = problems(SEEDS, roster, ACTUALS)
    assert (error.code, error.row, error.rep, error.column) == ("not-a-number", 5, "R004", "quota")
    assert "'NaN'" in error.message


def test_a_roster_column_a_target_reads_must_not_be_negative(tmp_path):
    """Any roster column read by a target (here a custom 'plan_quota') is an amount."""
    text = (ROOT / "scenarios" / "plans" / "classic_ae.yaml").read_text()
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(text.replace("revenue: roster.quota / 12", "revenue: roster.plan_quota / 12"))
    plan = load_plan(plan_path)
    roster = pd.read_csv(ROOT / "scenarios" / "data" / "classic_ae_roster.csv", dtype={"rep_id": str})
    roster["plan_quota"] = roster["quota"]
    roster.loc[1, "plan_quota"] = -5
    errors = problems(plan, roster, ROOT / "scenarios" / "data" / "classic_ae_deals.csv")
    assert [(e.code, e.row, e.column, e.rep) for e in errors] == \
        [("negative-value", 3, "plan_quota", roster.loc[1, "rep_id"])]


def test_a_repeated_column_header_is_an_error(tmp_path):
    path = tmp_path / "roster.csv"
    lines = ROSTER.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",quota"] + [ln + ",5" for ln in lines[1:]]) + "\n")
    (error,) = problems(SEEDS, path, ACTUALS)
    assert (error.code, error.column) == ("duplicate-column", "quota")


def _workbook(path: Path, sheets: dict[str, pd.DataFrame | None]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        ws = book.create_sheet(name)
        if frame is not None:
            ws.append(list(frame.columns))
            for row in frame.itertuples(index=False):
                ws.append(list(row))
    book.save(path)
    return path


def test_data_on_a_second_sheet_names_the_sheets_and_the_option(tmp_path):
    roster = _workbook(tmp_path / "r.xlsx", {"Notes": None, "Roster": pd.read_csv(ROSTER)})
    (error,) = problems(SEEDS, roster, ACTUALS)
    assert error.code == "empty-sheet" and "'Notes', 'Roster'" in error.message
    assert "--sheet" in (error.hint or "") and "'Roster'" in (error.hint or "")
    by_name = statements(SEEDS, roster, ACTUALS, sheet="Roster")
    by_number = statements(SEEDS, roster, ACTUALS, sheet=1)
    pd.testing.assert_frame_equal(by_name, statements(SEEDS, ROSTER, ACTUALS))
    pd.testing.assert_frame_equal(by_number, by_name)
    (error,) = problems(SEEDS, roster, ACTUALS, sheet="Sales")
    assert error.code == "unknown-sheet" and "'Notes', 'Roster'" in error.message


def test_a_formula_without_a_saved_value_is_named(tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    frame = pd.read_csv(ROSTER)
    ws.append(list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False)):
        ws.append(list(row)[:3] + (["=C2/50"] if i == 2 else [list(row)[3]]))
    book.save(tmp_path / "r.xlsx")
    (error,) = problems(SEEDS, tmp_path / "r.xlsx", ACTUALS)
    assert (error.code, error.row, error.column) == ("formula-without-value", 4, "ti")
    assert "D4" in error.message and "=C2/50" in error.message


def test_the_count_is_of_every_problem_not_of_those_listed(tmp_path):
    n = MAX_ERRORS + 123
    actuals = tmp_path / "a.csv"
    actuals.write_text("rep_id,period,revenue,complaints\n" + "".join(f"R001,{2000 + i}-Q1,x,0\n" for i in range(n)))
    with pytest.raises(DataErrors) as info:
        statements(SEEDS, ROSTER, actuals)
    assert info.value.total >= n
    text = info.value.render()
    assert text.endswith(f"{info.value.total} data errors found")
    assert f"... and {info.value.total - DataErrors.SHOWN} more" in text


# --- found by the fuzz suite (tests/test_fuzz.py) ---------------------------------------------


def test_a_roster_whose_only_row_has_no_id(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("rep_id,team,quota,ti\n,North,1000000,20000\n")
    codes = {e.code for e in problems(SEEDS, roster, ACTUALS)}
    assert "missing-value" in codes and "unknown-rep" in codes


def test_an_amount_too_large_to_pay_to_the_cent(tmp_path):
    from engine.core.errors import EvaluationError

    roster = edited_roster(tmp_path, "R002,North,1000000,20000", "R002,North,1000000,1e300")
    with pytest.raises(EvaluationError) as info:
        statements(SEEDS, roster, ACTUALS)
    assert info.value.code == "amount-too-large" and info.value.rep == "R002"
