"""The analyst's journey of issue 25, end to end through the command line: a plan written in
Chinese, with the team's own Chinese column names and no scenario file (base pay, a floating
bonus, an excess commission split by new and existing customers, grades), from `check` to the
studio. Each step must run as the README shows it, in the plan's own words and currency."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[1]
CN = ROOT / "scenarios" / "plans" / "seeds_cn_deals.yaml"
ROSTER = ROOT / "scenarios" / "data" / "seeds_cn_roster.csv"
DEALS = ROOT / "scenarios" / "data" / "seeds_cn_deals.csv"


def ok(*args: object) -> str:
    proc = incentive(*args)
    assert proc.returncode == 0, (args, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_the_chinese_plan_from_check_to_the_studio(tmp_path):
    data = ("--roster", ROSTER, "--actuals", DEALS)
    text = ok("check", CN, "--roster", ROSTER)
    assert "Simulated team" in text and "年度指标" in text
    out = tmp_path / "statements.csv"
    ok("payout", CN, *data, "--out", out, "--lines", tmp_path / "lines.csv")
    stmts = pd.read_csv(out)
    assert {"base_pay", "total_pay", "total"} <= set(stmts.columns)
    assert (stmts["total_pay"] - stmts["base_pay"] - stmts["total"]).abs().max() < 0.005
    rep = str(stmts["rep_id"].iloc[0])
    assert "底薪" in ok("explain", CN, *data, "--rep", rep) or "base_pay" in ok("explain", CN, *data, "--rep", rep)
    doc = json.loads(ok("simulate", CN, "--runs", 2, "--workers", 1, "--json", "-"))
    assert doc["base_pay_cost"]["mean"] > 0 and doc["total_pay_cost"]["mean"] > doc["cost"]["mean"]
    moved = tmp_path / "recalibrated.yaml"
    targets = tmp_path / "targets.csv"
    ok("recalibrate", CN, "--maximize", "profit", "--runs", 2, "--workers", 1, "--out", moved,
       "--targets-out", targets, *data)
    assert pd.read_csv(targets)["effective_from"].notna().any()
    ok("payout", CN, "--roster", targets, "--actuals", DEALS, "--out", tmp_path / "again.csv")  # the plan reads it
    text = ok("compare", CN, moved, "--runs", 2, "--workers", 1)
    assert "CNY" in text
    fc = json.loads(ok("forecast", CN, *data, "--runs", 6, "--workers", 1, "--json", "-"))
    assert fc["plan"] == "新老客户提成方案"
    ok("alerts", CN, *data)
    ok("statements", CN, *data, "--out", tmp_path / "pack")
    assert (tmp_path / "pack" / "index.html").exists()

    from engine.app.studio import Studio, kpi_cards

    st = Studio({"cn": CN}, runs=2, seed=1)
    w = st.evaluate("cn", {})
    labels = [c["label"] for c in kpi_cards(w, w) if c["shown"]]
    assert "Base pay cost P50" in labels and "Total pay cost P50" in labels
