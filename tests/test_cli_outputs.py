"""Every output a command writes: each table format read back, paths checked before the work,
several outputs all or nothing, and inputs the commands must refuse (mixed currencies, a
negative budget)."""

from __future__ import annotations

import os
import subprocess
import time
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from tests import cli

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"
SEEDS = PLANS / "seeds_base_float_excess.yaml"
READ = {".csv": pd.read_csv, ".xlsx": pd.read_excel, ".parquet": pd.read_parquet}


incentive = partial(cli.incentive, timeout=300)  # seconds, unless a call passes its own


def clean_failure(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for f in fragments:
        assert f in proc.stderr, proc.stderr


@pytest.mark.parametrize("suffix", list(READ))
def test_payout_writes_every_table_format(tmp_path, suffix):
    out = tmp_path / f"statements{suffix}"
    proc = incentive("payout", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals", DATA / "seeds_actuals.csv",
                     "--out", out)
    assert proc.returncode == 0, proc.stderr
    df = READ[suffix](out)
    assert len(df) == 12 and {"rep_id", "period", "total"} <= set(df.columns)
    assert round(float(df["total"].sum()), 2) == 46_400.75
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left


@pytest.mark.parametrize("suffix", list(READ))
def test_alerts_writes_every_table_format(tmp_path, suffix):
    out = tmp_path / f"alerts{suffix}"
    proc = incentive("alerts", PLANS / "kpi_scorecard.yaml", "--roster", DATA / "field_team_roster.csv",
                     "--actuals", DATA / "field_team_actuals_h1.csv", "--out", out)
    assert proc.returncode == 0, proc.stderr
    df = READ[suffix](out)
    assert len(df) > 0 and "rep_id" in df.columns
    assert f"\nwrote {len(df)} alerts to {out}\n" in proc.stdout


@pytest.mark.parametrize("suffix", list(READ))
def test_recalibrate_writes_every_targets_format(tmp_path, suffix):
    out, targets = tmp_path / "new.yaml", tmp_path / f"targets{suffix}"
    proc = incentive("recalibrate", SEEDS, "--maximize", "revenue", "--runs", "2", "--budget-evals", "1",
                     "--workers", "1", "--targets-out", targets, "--out", out)
    assert proc.returncode == 0, proc.stderr
    df = READ[suffix](targets, **({"dtype": {"target_period": str}} if suffix == ".csv" else {}))
    # an effective-dated roster: the team's columns, then the dates and the period each row targets
    columns = list(df.columns)
    assert columns[0] == "rep_id" and columns[-3:] == ["effective_from", "effective_to", "target_period"]
    assert "quota" in df.columns and len(df) > 0
    assert out.exists()


def _unwritable(tmp_path: Path, name: str) -> Path:
    """A path that cannot be written, even by root: its parent folder is a file."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file")
    return blocker / name


@pytest.mark.parametrize("command, option, name", [
    (["payout", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals", DATA / "seeds_actuals.csv"],
     "--out", "s.csv"),
    (["simulate", SEEDS, "--runs", "100000"], "--json", "s.json"),
    (["compare", SEEDS, SEEDS, "--runs", "100000"], "--report", "r.html"),
    (["compare", SEEDS, "--runs", "100000"], "--json", "c.json"),
    (["forecast", PLANS / "kpi_scorecard.yaml", "--roster", DATA / "field_team_roster.csv", "--actuals",
      DATA / "field_team_actuals_h1.csv", "--runs", "100000"], "--xlsx", "f.xlsx"),
    (["forecast", PLANS / "kpi_scorecard.yaml", "--roster", DATA / "field_team_roster.csv", "--actuals",
      DATA / "field_team_actuals_h1.csv", "--runs", "100000"], "--json", "f.json"),
    (["recalibrate", SEEDS, "--maximize", "revenue", "--runs", "100000"], "--out", "p.yaml"),
    (["alerts", PLANS / "kpi_scorecard.yaml", "--roster", DATA / "field_team_roster.csv", "--actuals",
      DATA / "field_team_actuals_h1.csv"], "--out", "a.csv"),
])
def test_unwritable_output_fails_before_the_work(tmp_path, command, option, name):
    """Checked up front: a clean error in seconds, though the work asked for would take hours."""
    target = _unwritable(tmp_path, name)
    extra = ["--out", tmp_path / "plan.yaml"] if command[0] == "recalibrate" and option != "--out" else []
    t0 = time.perf_counter()
    proc = incentive(*command, option, target, *extra, timeout=60)
    clean_failure(proc, "error[cannot-write]", str(target))
    assert time.perf_counter() - t0 < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_table_output_with_an_unknown_suffix_is_refused(tmp_path):
    proc = incentive("payout", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals",
                     DATA / "seeds_actuals.csv", "--out", tmp_path / "s.json")
    clean_failure(proc, "error[unknown-format]", ".xlsx")
    assert not list(tmp_path.iterdir())


def test_recalibrate_writes_nothing_when_a_later_output_fails(tmp_path):
    """/dev/full passes the up-front check (a device one may write) and fails on writing: the
    plan, written first, must not be left behind."""
    out = tmp_path / "new.yaml"
    proc = incentive("recalibrate", SEEDS, "--maximize", "revenue", "--runs", "2", "--budget-evals", "1",
                     "--workers", "1", "--targets-out", "/dev/full", "--out", out)
    clean_failure(proc, "error[cannot-write]", "/dev/full")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_writing_to_a_device_keeps_the_device(tmp_path):
    proc = incentive("payout", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals",
                     DATA / "seeds_actuals.csv", "--out", "/dev/full")
    clean_failure(proc, "No space left on device")
    assert not os.path.isfile("/dev/full")
    proc = incentive("payout", SEEDS, "--roster", DATA / "seeds_roster.csv", "--actuals",
                     DATA / "seeds_actuals.csv", "--out", "/dev/stdout")
    assert proc.returncode == 0 and proc.stdout.startswith("rep_id,period"), proc.stderr


def test_mixed_currencies_are_refused(tmp_path):
    eur = tmp_path / "classic_eur.yaml"
    eur.write_text((PLANS / "classic_ae.yaml").read_text().replace("currency: USD", "currency: EUR"))
    proc = incentive("compare", PLANS / "classic_ae.yaml", eur, "--runs", "3", "--json", tmp_path / "c.json")
    clean_failure(proc, "error[mixed-currencies]", "USD", "EUR", str(eur))
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("budget", ["-5", "0"])
def test_forecast_budget_must_be_positive(budget):
    proc = incentive("forecast", PLANS / "kpi_scorecard.yaml", "--roster", DATA / "field_team_roster.csv",
                     "--actuals", DATA / "field_team_actuals_h1.csv", "--budget", budget)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--budget" in proc.stderr
