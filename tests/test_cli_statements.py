"""``incentive statements``: the pack's folder is written whole or not at all, and bad input
is a clean error (exit 2, no traceback, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.report.pack import MARKER
from tests.cli import incentive, invoke

ROOT = Path(__file__).resolve().parents[1]
PLAN = "scenarios/plans/seeds_base_float_excess.yaml"
ROSTER = "scenarios/data/seeds_roster.csv"
ACTUALS = "scenarios/data/seeds_actuals.csv"


def _args(out: Path, *more: object) -> list[object]:
    return ["statements", ROOT / PLAN, "--roster", ROOT / ROSTER, "--actuals", ROOT / ACTUALS, "--out", out, *more]


def test_the_command_writes_a_page_per_rep_and_an_index_per_team(tmp_path):
    """The real entry point: six rep pages, two team pages and the index; where to open it."""
    out = tmp_path / "pack"
    done = incentive(*_args(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"wrote 6 statement pages for 2027-Q2 in 2 teams (by team) to {out}",
                                        f"open {out / 'index.html'}"]
    names = sorted(p.name for p in out.iterdir())
    assert names == [MARKER, "index.html", *(f"rep-R00{i}.html" for i in range(1, 7)),
                     "team-North.html", "team-South.html"]
    assert json.loads((out / MARKER).read_text()) == {"plan": "seeds_base_float_excess", "period": "2027-Q2",
                                                       "reps": 6}
    page = (out / "rep-R002.html").read_text()
    assert "Grade C or D twice in a row: an improvement plan is due." in page
    assert "Reach 100.0% of target (Revenue booked in the quarter +1.00) and you would earn 3,000.00 more" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]  # no temporary folder left


def test_an_earlier_pack_is_replaced(tmp_path):
    out = tmp_path / "pack"
    assert invoke(*_args(out, "--period", "2027-Q1")).exit_code == 0
    assert "2027-Q1" in (out / "index.html").read_text()
    done = invoke(*_args(out, "--team-column", "team", "--lang", "zh"))
    assert done.exit_code == 0, done.output
    assert json.loads((out / MARKER).read_text())["period"] == "2027-Q2"
    assert "个人绩效仪表盘" in (out / "rep-R001.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]


@pytest.mark.parametrize(("more", "message"), [
    (["--period", "2027-Q3"], "error[unknown-period]: period '2027-Q3' is not in the actuals"),
    (["--team-column", "teem"], "error[unknown-column]: the roster has no column 'teem' (--team-column)"),
])
def test_bad_input_writes_nothing(tmp_path, more, message):
    out = tmp_path / "pack"
    done = invoke(*_args(out, *more))
    assert done.exit_code == 2
    assert message in done.output and "Traceback" not in done.output
    assert list(tmp_path.iterdir()) == []


def test_a_bad_plan_is_a_clean_error(tmp_path):
    """Through the real entry point: exit 2, the plan's error, no traceback, no folder."""
    plan = tmp_path / "bad.yaml"
    plan.write_text((ROOT / PLAN).read_text().replace("input: attainment", "input: attainmnet"))
    done = incentive("statements", plan, "--roster", ROOT / ROSTER, "--actuals", ROOT / ACTUALS,
                     "--out", tmp_path / "pack")
    assert done.returncode == 2
    assert "attainmnet" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "pack").exists()


def test_a_foreign_folder_is_not_replaced(tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    done = invoke(*_args(out))
    assert done.exit_code == 2
    assert "error[not-a-pack]" in done.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]


def test_a_file_is_not_a_folder(tmp_path):
    out = tmp_path / "pack.html"
    out.write_text("x")
    done = invoke(*_args(out))
    assert done.exit_code == 2 and "is a file" in done.output and "Traceback" not in done.output
    assert out.read_text() == "x"


def test_pdf_without_chromium_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("INCENTIVE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    done = invoke(*_args(tmp_path / "pack", "--pdf"))
    assert done.exit_code == 2
    assert "error[no-chromium]: --pdf prints with headless chromium, which was not found" in done.output
    assert list(tmp_path.iterdir()) == []
