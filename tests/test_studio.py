"""The what-if page, end to end in headless chromium: load, move a slider, see cost change."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from engine.app.studio import Studio, _step, create_app, shipped_plans
from engine.plan import load_plan
from engine.sim.scenario import default_scenario
from tests.browser import browser_page, non_blank

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


def test_slider_steps_are_round_fractions_of_the_range():
    assert _step(0.3, 0.8) == pytest.approx(0.005)
    assert _step(0.0, 0.5) == pytest.approx(0.005)
    assert _step(0.01, 0.03) == pytest.approx(0.0002)
    assert _step(1.0, 1.0) == 1.0


def test_sliders_are_the_bounded_parameters():
    st = Studio({"seeds": SEEDS}, runs=5)
    specs = {s["name"]: s for s in st.sliders("seeds")}
    declared = {p.name: p for p in load_plan(SEEDS).plan.parameters if p.min is not None and p.max is not None}
    assert set(specs) == set(declared)
    for name, p in declared.items():
        assert (specs[name]["min"], specs[name]["max"], specs[name]["value"]) == (p.min, p.max, p.value)


def test_what_if_uses_common_random_numbers_and_caches():
    st = Studio({"seeds": SEEDS}, runs=6, seed=3)
    a = st.evaluate("seeds", {"base_threshold": 0.8})
    assert st.evaluate("seeds", {"base_threshold": 0.8}) is a  # cached
    fresh = Studio({"seeds": SEEDS}, runs=6, seed=3).evaluate("seeds", {"base_threshold": 0.8})
    assert fresh.result.document == a.result.document
    # A lower bar for the base bonus pays more, on the same simulated reps.
    lower = st.evaluate("seeds", {"base_threshold": 0.6})
    assert lower.kpis["cost_p50"] > a.kpis["cost_p50"]


def test_out_of_bounds_value_is_a_plan_error_not_a_crash():
    from engine.core.errors import PlanErrors

    st = Studio({"seeds": SEEDS}, runs=3)
    with pytest.raises(PlanErrors):
        st.evaluate("seeds", {"base_threshold": 2.0})


def test_shipped_plans_are_found():
    assert "seeds_base_float_excess" in shipped_plans()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_studio():
    from werkzeug.serving import make_server

    st = Studio({"seeds_base_float_excess": SEEDS, "kpi_scorecard": ROOT / "scenarios/plans/kpi_scorecard.yaml"},
                default_scenario(), runs=20, seed=7)
    app = create_app(st)
    port = _free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.mark.browser
def test_moving_a_slider_changes_the_cost(served_studio, tmp_path):
    with browser_page(1400, 1000) as (page, errors):
        page.goto(served_studio)
        cost = page.locator("#kpi-cost_p50")
        page.wait_for_function("document.querySelector('#kpi-cost_p50') && "
                               "/[0-9]/.test(document.querySelector('#kpi-cost_p50').innerText)", timeout=60_000)
        before = cost.inner_text()
        page.wait_for_selector("#curve .main-svg", timeout=30_000)
        page.wait_for_selector("#cost .main-svg", timeout=30_000)
        # Lower the base bonus threshold with the keyboard: focus its slider handle, press Home
        # (to its minimum, 60% attainment), which pays the base bonus to more reps.
        handle = page.locator("[id*='base_threshold'] [role=slider]").first
        handle.focus()
        handle.press("Home")
        page.wait_for_function(f"(t => /[0-9]/.test(t) && t !== {before!r})(document.querySelector('#kpi-cost_p50').innerText)",
                               timeout=60_000)
        after = cost.inner_text()
        shot = page.screenshot(full_page=True)
        (tmp_path / "studio.png").write_bytes(shot)
        print(f"studio screenshot: {tmp_path / 'studio.png'}")
        if os.environ.get("UPDATE_SCREENSHOTS"):
            (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
            (ROOT / "docs" / "images" / "studio.png").write_bytes(shot)
        assert non_blank(shot)
        assert errors == []

    def amount(text: str) -> float:
        return float(text.split()[0].replace(",", ""))

    assert amount(after) > amount(before)


@pytest.mark.browser
def test_opening_a_plan_file_on_the_page(served_studio, tmp_path):
    """A bad plan file shows its error with line and column; a good one becomes the plan shown,
    with its sliders."""
    bad = tmp_path / "broken.yaml"
    bad.write_text(KPI.read_text().replace("input: revenue / targets.revenue", "input: revnue / targets.revenue"))
    good = tmp_path / "my_plan.yaml"
    good.write_text(KPI.read_text())
    with browser_page(1400, 1000) as (page, errors):
        page.goto(served_studio)
        page.wait_for_selector("#curve .main-svg", timeout=60_000)
        upload = page.locator("#upload input[type=file]")
        upload.set_input_files(str(bad))
        page.wait_for_function("document.querySelector('#upload-error').innerText.includes('revnue')",
                               timeout=30_000)
        message = page.locator("#upload-error").inner_text()
        assert "broken.yaml:" in message and "did you mean 'revenue'" in message
        upload.set_input_files(str(good))
        page.wait_for_function("document.querySelector('#plan').innerText.includes('my_plan')", timeout=30_000)
        page.wait_for_selector("text=kpi: weight of satisfaction", timeout=30_000)
        assert page.locator("#upload-error").inner_text() == ""
        assert errors == []


def test_open_text_validates_and_names_the_plan():
    from engine.core.errors import PlanErrors

    st = Studio({"seeds": SEEDS}, runs=3)
    name = st.open_text("my plan.yaml", KPI.read_text())
    assert name == "my plan" and st.names() == ["seeds", "my plan"]
    assert st.open_text("my plan.yaml", KPI.read_text()) == "my plan"  # the same text again: same entry
    assert st.open_text("my plan.yaml", KPI.read_text() + "\n# changed\n") == "my plan (2)"
    assert st.open_text("seeds.yaml", KPI.read_text()) == "seeds (2)"  # never shadows a given plan
    with pytest.raises(PlanErrors) as exc:
        st.open_text("bad.yaml", "plan: x\nperiod: fortnight\n")
    assert "bad.yaml:2:" in exc.value.render()


KPI = ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml"


def test_scorecard_weights_are_sliders_and_are_rescaled_to_sum_to_one():
    st = Studio({"kpi": KPI}, runs=4, seed=2)
    weights = [s for s in st.sliders("kpi") if s["kind"] == "weight"]
    assert len(weights) >= 2
    group = [s["name"] for s in weights if s["group"] == weights[0]["group"]]
    moved = {group[0]: 0.9}
    values = st.values("kpi", moved)
    assert sum(values[k] for k in group) == pytest.approx(1.0, abs=1e-9)
    assert values[group[0]] > next(s["value"] for s in weights if s["name"] == group[0])
    w = st.evaluate("kpi", moved)
    # The moved plan is the original text with only the weights' numbers changed.
    original = load_plan(KPI).source.splitlines()
    changed = [(a, b) for a, b in zip(original, w.text.splitlines()) if a != b]
    assert len(w.text.splitlines()) == len(original) and 1 <= len(changed) <= len(group)
    base = st.evaluate("kpi", {})
    assert base.text == load_plan(KPI).source
    assert w.result.document != base.result.document


def test_contest_plans_get_fewer_runs_so_a_move_stays_quick():
    st = Studio(shipped_plans(), runs=40)
    assert st.runs_for("seeds_base_float_excess") == 40
    assert st.runs_for("team_contest") == 5
