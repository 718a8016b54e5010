"""The HTML report in a real browser: every chart renders, offline, without errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.jobs.compare import compare_plans, report_inputs
from engine.plan import load_plan
from engine.report.html import write_report
from engine.sim.scenario import default_scenario
from tests.browser import browser_page, non_blank

ROOT = Path(__file__).resolve().parents[2]
PLANS = [ROOT / "scenarios" / "plans" / f"{name}.yaml"
         for name in ("seeds_base_float_excess", "classic_ae", "kpi_scorecard")]
# payout curves (all plans + one per plan), attainment, payout, cost, cost of sales, morale, winners
EXPECTED_CHARTS = 1 + len(PLANS) + 6


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    plans = [load_plan(p) for p in PLANS]
    scenario = default_scenario()
    cmp = compare_plans(plans, scenario, runs=8, seed=11, workers=1, keep_reps=True)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, report_inputs(cmp, plans, scenario))
    return path


@pytest.mark.browser
def test_report_renders_every_chart_offline(report, tmp_path):
    """Opened from file://, the report loads nothing from the network, logs no error, and
    every plotly chart draws a non-blank SVG."""
    requests: list[str] = []
    with browser_page(width=1280, height=900) as (page, errors):
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {EXPECTED_CHARTS}", timeout=30_000)
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == EXPECTED_CHARTS
        for i in range(EXPECTED_CHARTS):
            plot = plots.nth(i)
            assert plot.locator("svg.main-svg").count() >= 1
            assert plot.locator(".gtitle").count() == 1, f"chart {i + 1} has no title"
            plot.scroll_into_view_if_needed()
            assert non_blank(plot.screenshot()), f"chart {i + 1} is blank"
        shot = page.screenshot(full_page=True)
        assert non_blank(shot)
        (tmp_path / "report.png").write_bytes(shot)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            target = ROOT / "docs" / "images" / "report.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "report.png", target)
    assert errors == []
    assert requests and all(u.startswith("file://") for u in requests), \
        [u for u in requests if not u.startswith("file://")]


@pytest.mark.browser
def test_report_sections_are_reachable(report):
    """The header's links lead to sections that exist, each with a heading."""
    with browser_page() as (page, errors):
        page.goto(report.as_uri())
        hrefs = page.locator("nav a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert len(hrefs) == 9
        for href in hrefs:
            assert page.locator(f"section{href} h2").count() == 1
    assert errors == []


@pytest.mark.browser
def test_the_plan_year_chart_renders(tmp_path):
    """Over two plan years the report's extra chart (plan year by plan year) draws, titled,
    non-blank, with the other charts, and the page logs no error."""
    from dataclasses import replace

    from engine.sim.scenario import QuotaPolicy

    plans = [load_plan(p) for p in PLANS[:2]]
    scenario = replace(default_scenario(), reps=24, teams=2, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0))
    cmp = compare_plans(plans, scenario, runs=3, seed=11, workers=1, keep_reps=True)
    path = tmp_path / "years.html"
    write_report(path, report_inputs(cmp, plans, scenario))
    charts = 1 + len(plans) + 6 + 1
    with browser_page(width=1280, height=900) as (page, errors):
        page.goto(path.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
                               timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == charts
        plot = page.locator("#years .js-plotly-plot")
        assert plot.count() == 1 and plot.locator(".gtitle").text_content() == "Plan year by plan year"
        assert plot.locator("g.xtick, g.x2tick, g.x3tick, g.x4tick").count() == 8  # 2027 and 2028 under each of the four panels
        plot.scroll_into_view_if_needed()
        assert non_blank(plot.screenshot())
        assert page.locator('nav a[href="#years"]').count() == 1
    assert errors == []
