"""The report's structure: one self-contained file with every section, and the CLI option."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.jobs.compare import compare_plans, report_inputs
from engine.plan import load_plan
from engine.report.charts import FONT_FAMILY
from engine.report.html import SECTIONS, compare_report, write_report
from engine.sim.scenario import default_scenario
from tests.cli import incentive

ROOT = Path(__file__).resolve().parents[2]
PLANS = [ROOT / "scenarios" / "plans" / f"{n}.yaml" for n in ("seeds_base_float_excess", "team_contest")]


@pytest.fixture(scope="module")
def setup():
    plans = [load_plan(p) for p in PLANS]
    scenario = default_scenario()
    cmp = compare_plans(plans, scenario, runs=3, seed=2, workers=1, keep_reps=True)
    return cmp, plans, scenario


def test_every_section_once_and_nothing_external(setup):
    """All sections are present; plotly.js is inlined once; no script, style or font is
    loaded from a URL."""
    cmp, plans, scenario = setup
    page = compare_report(report_inputs(cmp, plans, scenario))
    for key, title in SECTIONS:
        if key == "years":  # one plan year: no years section, no link to it
            assert '<section id="years">' not in page and 'href="#years"' not in page and title not in page
            continue
        assert page.count(f'<section id="{key}">') == 1, key
        assert f"<h2>{title}</h2>" in page
    assert page.count('class="plotly-graph-div"') == 1 + len(plans) + 6
    assert len(re.findall(r"<script[^>]*\bsrc=", page)) == 0
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    assert page.count("* plotly.js v") == 1  # the bundle's banner, once
    assert "seeds_base_float_excess" in page and "team_contest" in page
    assert "seed 2" in page and "3 simulated years per plan" in page
    # Lint findings with component, range and message.
    assert "base_and_float" in page and "80%" in page


def test_report_fonts_cover_chinese_and_no_unsourced_benchmark(setup):
    """The page and its charts name CJK fonts before the generic sans-serif (Chinese names
    render as text, not boxes, where the default font lacks them), and the cost-of-sales
    section states what it shows without the unsourced "about 10% of revenue" benchmark."""
    cmp, plans, scenario = setup
    page = compare_report(report_inputs(cmp, plans, scenario))
    stack = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif')
    assert f"font-family: {FONT_FAMILY};" in page and stack in FONT_FAMILY
    assert "Noto Sans CJK SC" in page.split("</style>")[0]
    assert "10% of revenue" not in page and "commonly costs" not in page
    assert "Incentive pay as a share of the revenue the simulated team booked" in page


def test_report_needs_detail_and_matching_plans(setup):
    """A comparison without per-rep detail, or plans in another order, is refused."""
    cmp, plans, scenario = setup
    with pytest.raises(ValueError, match="same order"):
        report_inputs(cmp, plans[::-1], scenario)
    plain = compare_plans(plans, scenario, runs=2, seed=2, workers=1)
    with pytest.raises(ValueError, match="keep_reps"):
        report_inputs(plain, plans, scenario)


def test_write_report_is_atomic(setup, tmp_path):
    """The file appears whole, with no temporary file left beside it."""
    cmp, plans, scenario = setup
    target = tmp_path / "out" / "report.html"
    write_report(target, report_inputs(cmp, plans, scenario))
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_cli_report_with_json_on_stdout(tmp_path):
    """`compare --report PATH --json -` writes the report and prints only the JSON, which is
    byte-identical to a run without --report."""
    args = ["compare", *PLANS, "--runs", "2", "--seed", "4", "--workers", "1", "--json", "-"]
    report = tmp_path / "r.html"
    with_report = incentive(*args, "--report", report)
    without = incentive(*args)
    assert with_report.returncode == 0, with_report.stderr
    assert with_report.stdout == without.stdout
    assert json.loads(with_report.stdout)["plans"][1]["plan"] == "team_contest"
    assert report.exists() and "<section id=\"winners\">" in report.read_text(encoding="utf-8")


def test_report_for_a_2000_rep_team_through_the_cli(tmp_path):
    """A realistic team size end to end: a 2,000-rep scenario, two plans, the report written."""
    text = (ROOT / "scenarios" / "field_sales_default.yaml").read_text()
    assert "  reps: 120" in text
    scenario = tmp_path / "big_team.yaml"
    scenario.write_text(text.replace("  reps: 120", "  reps: 2000"))
    report = tmp_path / "report.html"
    out = incentive("compare", PLANS[0], ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml", "--scenario", scenario,
                    "--runs", "2", "--workers", "1", "--report", report)
    assert out.returncode == 0, out.stderr
    page = report.read_text()
    assert "2000 seats" in page or "2,000 seats" in page
    for key, _ in SECTIONS:
        assert (f'<section id="{key}">' in page) == (key != "years")


@pytest.fixture(scope="module")
def years_setup():
    """Two plans over two plan years under a full ratchet (a small team, few runs)."""
    from dataclasses import replace

    from engine.sim.scenario import QuotaPolicy

    plans = [load_plan(p) for p in (PLANS[0], ROOT / "scenarios" / "plans" / "classic_ae.yaml")]
    scenario = replace(default_scenario(), reps=24, teams=2, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0))
    cmp = compare_plans(plans, scenario, runs=3, seed=2, workers=1, keep_reps=True)
    return cmp, plans, scenario


def test_several_plan_years_add_the_years_section(years_setup):
    """Over two plan years the page gains a 'Plan year by plan year' section right after the
    side-by-side table (linked from the header): one more chart, and a table of each plan's
    incentive cost, revenue, cost of sales, share at or above target and attrition per plan
    year, as in the document's by_year; the header counts horizons of plan years."""
    cmp, plans, scenario = years_setup
    page = compare_report(report_inputs(cmp, plans, scenario))
    assert page.count('<section id="years">') == 1 and '<a href="#years">Plan year by plan year</a>' in page
    assert page.index('<section id="summary">') < page.index('<section id="years">') < page.index(
        '<section id="payout-curves">')
    assert page.count('class="plotly-graph-div"') == 1 + len(plans) + 6 + 1
    years = page.split('<section id="years">')[1].split("</section>")[0]
    assert "Plan year by plan year" in years and "Incentive cost (mean, 95% CI)" in years
    for r in cmp.results:
        by_year = r.document["by_year"]
        assert [e["year"] for e in by_year] == ["2027", "2028"]
        for e in by_year:
            row = (f'<td class="">{r.plan}</td><td class="">{e["year"]}</td>'
                   f'<td class="num">{e["cost"]["mean"]:,.0f}</td><td class="num">{e["revenue"]["mean"]:,.0f}</td>')
            assert row in years, row
    assert "3 simulated horizons of 2 plan years (2027, 2028) per plan" in page


def test_a_plan_with_base_pay_reports_its_incentive_cost():
    """With base pay the report's side-by-side table and cost table call the cost incentive
    cost, beside base pay and total pay cost; without it they say cost (the test above)."""
    from dataclasses import replace

    cn = load_plan(ROOT / "scenarios" / "plans" / "seeds_cn_deals.yaml")
    scenario = replace(default_scenario(), reps=24, teams=2)
    cmp = compare_plans([cn], scenario, runs=2, seed=2, workers=1, keep_reps=True)
    page = compare_report(report_inputs(cmp, [cn], scenario))
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    for label in ("incentive cost (mean) (CNY)", "incentive cost P90 (CNY)", "incentive cost of sales",
                  "base pay (mean) (CNY)", "total pay cost (mean) (CNY)"):
        assert f">{label}</td>" in summary, label
    assert ">cost (mean)" not in summary and ">cost of sales<" not in summary
    cost = page.split('<section id="cost">')[1].split("</section>")[0]
    assert ">incentive cost mean (CNY)</th>" in cost and ">incentive cost P95 (CNY)</th>" in cost
