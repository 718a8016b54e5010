"""The what-if page, end to end in headless chromium: load, move a slider, see cost change."""

from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
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
    assert _figures(fresh.result.document) == _figures(a.result.document)
    # A lower bar for the base bonus pays more, on the same simulated reps.
    lower = st.evaluate("seeds", {"base_threshold": 0.6})
    assert lower.kpis["cost_p50"] > a.kpis["cost_p50"]


def _figures(doc: dict) -> dict:
    """A simulation document without its ``backend`` entry (which says what compiling cost)."""
    return {k: v for k, v in doc.items() if k != "backend"}


def test_what_ifs_run_on_the_plans_compiled_kernel_with_numpys_figures():
    """The studio prices a move on the plan's numba kernel (compiled on the first what-if,
    its numbers the kernel's arguments), and every figure is the numpy evaluator's."""
    pytest.importorskip("numba")
    compiled = Studio({"seeds": SEEDS}, runs=4, seed=3, backend="numba")
    plain = Studio({"seeds": SEEDS}, runs=4, seed=3, backend="numpy")
    for move in ({}, {"base_threshold": 0.7}):
        a, b = compiled.evaluate("seeds", move), plain.evaluate("seeds", move)
        assert a.result.document["backend"]["ran"] == "numba"
        assert b.result.document["backend"] == {"requested": "numpy", "ran": "numpy"}
        assert _figures(a.result.document) == _figures(b.result.document)


def test_a_what_if_spread_over_two_processes_has_the_same_figures():
    """With two worker processes a move's runs are split between them on one pool that serves
    every move; every figure is the one process's."""
    one = Studio({"seeds": SEEDS}, runs=5, seed=4)
    two = Studio({"seeds": SEEDS}, runs=5, seed=4, workers=2)
    try:
        two.start()  # as `incentive studio` does before serving: every worker forked now
        assert two._executor is not None and two._executor._pool is not None
        workers = set(two._executor._pool._processes)
        assert len(workers) == 2
        for move in ({}, {"base_threshold": 0.7}):
            a, b = one.evaluate("seeds", move), two.evaluate("seeds", move)
            assert _figures(a.result.document) == _figures(b.result.document)
            assert a.result.detail is not None and b.result.detail is not None
            assert (a.result.detail.quartile_attainment == b.result.detail.quartile_attainment).all()
        pool = two._executor
        assert pool is not None and pool._pool is not None  # one pool, kept between moves
        two.evaluate("seeds", {"base_threshold": 0.65})
        assert two._executor is pool and set(pool._pool._processes) == workers  # no fork after the start
    finally:
        two.close()
    assert two._executor is None


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


@contextmanager
def _served(st: Studio):
    """The studio's page served on a free local port: yields its address."""
    from werkzeug.serving import make_server

    port = _free_port()
    server = make_server("127.0.0.1", port, create_app(st).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def served_studio():
    st = Studio({"seeds_base_float_excess": SEEDS, "kpi_scorecard": ROOT / "scenarios/plans/kpi_scorecard.yaml"},
                default_scenario(), runs=20, seed=7)
    with _served(st) as url:
        yield url


@pytest.mark.browser
def test_moving_a_slider_changes_the_cost(served_studio, tmp_path):
    with browser_page(1400, 1000) as (page, errors):
        page.goto(served_studio)
        cost = page.locator("#kpi-cost_p50")
        page.wait_for_function("document.querySelector('#kpi-cost_p50') && "
                               "/[0-9]/.test((document.querySelector('#kpi-cost_p50')?.innerText ?? ''))", timeout=60_000)
        before = cost.inner_text()
        page.wait_for_selector("#curve .main-svg", timeout=30_000)
        page.wait_for_selector("#cost .main-svg", timeout=30_000)
        # Raise the base bonus with the keyboard: focus its slider handle, press End (to its
        # maximum, 60% of the quarterly target incentive), which pays every rep past the base
        # threshold more. (Lowering the threshold is not sure to cost more: reps in the band
        # it frees need less effort and fewer pulls to reach it, docs/model.md §3.)
        handle = page.locator("[id*='base_share'] [role=slider]").first
        handle.focus()
        handle.press("End")
        page.wait_for_function(f"(t => /[0-9]/.test(t) && t !== {before!r})((document.querySelector('#kpi-cost_p50')?.innerText ?? ''))",
                               timeout=60_000)
        after = cost.inner_text()
        shot = page.screenshot(full_page=True)
        (tmp_path / "studio.png").write_bytes(shot)
        print(f"studio screenshot: {tmp_path / 'studio.png'}")
        assert not page.locator("#years").is_visible()  # one plan year: no chart by plan year
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
        page.wait_for_function("(document.querySelector('#upload-error')?.innerText ?? '').includes('revnue')",
                               timeout=30_000)
        message = page.locator("#upload-error").inner_text()
        assert "broken.yaml:" in message and "did you mean 'revenue'" in message
        upload.set_input_files(str(good))
        page.wait_for_function("(document.querySelector('#plan')?.innerText ?? '').includes('my_plan')", timeout=30_000)
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


CN = ROOT / "scenarios" / "plans" / "seeds_cn_deals.yaml"  # pays base_pay (底薪) inside the plan


def test_a_plan_with_base_pay_shows_incentive_base_and_total_pay_cost_apart():
    """A plan with base_pay: the cost cards say incentive cost, and two more cards give the base
    pay cost and the total pay cost (P50 over runs, from the simulation's document); the status
    line adds the means, incentive + base pay = total pay."""
    from engine.app.studio import _pay_text, kpi_cards

    st = Studio({"cn": CN}, runs=4, seed=5)
    w = st.evaluate("cn", {})
    doc = w.result.document
    cards = {c["key"]: c for c in kpi_cards(w, w)}
    assert w.has_base_pay and all(c["shown"] for c in cards.values())
    assert cards["cost_p50"]["label"] == "Incentive cost P50"
    assert cards["cost_p50"]["value"] == f"{doc['cost']['p50']:,.0f} CNY"
    assert cards["base_pay_p50"]["label"] == "Base pay cost P50"
    assert cards["base_pay_p50"]["value"] == f"{doc['base_pay_cost']['p50']:,.0f} CNY"
    assert cards["total_pay_p50"]["label"] == "Total pay cost P50"
    assert cards["total_pay_p50"]["value"] == f"{doc['total_pay_cost']['p50']:,.0f} CNY"
    assert doc["total_pay_cost"]["p50"] > doc["cost"]["p50"] + 0.5 * doc["base_pay_cost"]["p50"]
    text = _pay_text(doc, "CNY")
    incentive, base, total = (doc[k]["mean"] for k in ("cost", "base_pay_cost", "total_pay_cost"))
    assert total == pytest.approx(incentive + base)
    assert (f"incentive {incentive:,.0f} CNY + base pay {base:,.0f} CNY = total pay {total:,.0f} CNY"
            in text)
    # A moved number: the base pay card's change is money against the plan as written.
    moved = st.evaluate("cn", {"新客户提成率": 0.08})
    cards = {c["key"]: c for c in kpi_cards(moved, w)}
    assert cards["cost_p50"]["delta"].endswith("CNY vs as written")
    assert cards["total_pay_p50"]["delta"].endswith("CNY vs as written")


def test_a_plan_without_base_pay_shows_only_its_cost():
    """No base_pay: the cost cards keep their names and the base and total pay cards are hidden."""
    from engine.app.studio import _pay_text, kpi_cards

    w = Studio({"seeds": SEEDS}, runs=3, seed=5).evaluate("seeds", {})
    cards = {c["key"]: c for c in kpi_cards(w, w)}
    assert not w.has_base_pay
    assert [cards[k]["label"] for k in ("cost_p50", "cost_p90", "cost_of_sales")] == [
        "Annual cost P50", "Annual cost P90", "Cost of sales"]
    assert not cards["base_pay_p50"]["shown"] and not cards["total_pay_p50"]["shown"]
    assert cards["base_pay_p50"]["value"] == "—" and cards["total_pay_p50"]["delta"] == ""
    assert all(c["shown"] for k, c in cards.items() if k not in ("base_pay_p50", "total_pay_p50"))
    assert _pay_text(w.result.document, "USD") == ""


@pytest.fixture
def served_cn_studio():
    with _served(Studio({"seeds_cn_deals": CN, "seeds_base_float_excess": SEEDS}, default_scenario(), runs=10,
                        seed=7)) as url:
        yield url


@pytest.mark.browser
def test_the_page_shows_base_and_total_pay_cost_for_a_plan_with_base_pay(served_cn_studio):
    """On the page: a plan with base_pay shows the base pay and total pay cards and the means in
    the status line; switching to a plan without base_pay hides the cards again."""
    with browser_page(1400, 1000) as (page, errors):
        page.goto(served_cn_studio)
        page.wait_for_function("/[0-9]/.test((document.querySelector('#kpi-total_pay_p50')?.innerText ?? ''))",
                               timeout=60_000)
        assert page.locator("#kpi-card-total_pay_p50").is_visible()
        assert page.locator("#kpi-card-base_pay_p50").is_visible()
        assert page.locator("#kpi-label-cost_p50").inner_text() == "Incentive cost P50"
        assert page.locator("#kpi-total_pay_p50").inner_text().endswith("CNY")
        page.wait_for_function("(document.querySelector('#status')?.innerText ?? '').includes('total pay')",
                               timeout=30_000)
        page.locator("#plan").click()
        page.get_by_text("seeds_base_float_excess", exact=True).click()
        page.wait_for_function("(document.querySelector('#kpi-cost_p50')?.innerText ?? '').endsWith('USD')",
                               timeout=60_000)
        assert not page.locator("#kpi-card-total_pay_p50").is_visible()
        assert page.locator("#kpi-label-cost_p50").inner_text() == "Annual cost P50"
        assert "total pay" not in page.locator("#status").inner_text()
        assert errors == []


def _two_years():
    """The default team, small, over two plan years under a full ratchet."""
    from dataclasses import replace

    from engine.sim.scenario import QuotaPolicy

    return replace(default_scenario(), reps=24, teams=2, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0))


def test_several_plan_years_get_a_chart_by_plan_year():
    """Over two plan years the studio draws, for the plan as written and as moved, each plan
    year's incentive cost and revenue (the means of the documents' by_year), share at or above
    target and attrition; over one plan year there is no such chart."""
    from engine.app.studio import years_chart

    st = Studio({"seeds": SEEDS}, _two_years(), runs=4, seed=5)
    base, w = st.evaluate("seeds", {}), st.evaluate("seeds", {"base_threshold": 0.6})
    fig = years_chart([base.result, w.result], ["as written", "moved"], 4)
    assert fig is not None and fig.layout.title.text == "Plan year by plan year over 4 simulated horizons"
    assert [t.name for t in fig.data if t.showlegend] == ["as written", "moved"]
    for name, r in (("as written", base.result), ("moved", w.result)):
        cost, revenue, *_ = [t for t in fig.data if t.name == name]
        assert list(cost.x) == ["2027", "2028"]
        assert list(cost.y) == pytest.approx([e["cost"]["mean"] for e in r.document["by_year"]])
        assert list(revenue.y) == pytest.approx([e["revenue"]["mean"] for e in r.document["by_year"]])
    assert w.result.document["by_year"][0]["cost"]["mean"] > base.result.document["by_year"][0]["cost"]["mean"]
    one = Studio({"seeds": SEEDS}, runs=3, seed=5).evaluate("seeds", {})
    assert years_chart([one.result], ["seeds"], 3) is None
    # The cards' figures cover the whole horizon: their labels say so (not "annual").
    from engine.app.studio import kpi_cards

    labels = {c["key"]: c["label"] for c in kpi_cards(w, base)}
    assert labels["cost_p50"] == "Cost P50 (2 plan years)" and labels["attrition_rate"] == "Attrition (2 plan years)"
    assert {c["key"]: c["label"] for c in kpi_cards(one, one)}["attrition_rate"] == "Attrition (annual)"


@pytest.mark.browser
def test_the_page_shows_plan_years_for_a_horizon_of_several():
    """On the page, a scenario of two plan years shows the chart by plan year under the other
    charts, drawn with both plan years; moving a slider redraws it with the plan as written
    and as moved."""
    with _served(Studio({"seeds_base_float_excess": SEEDS}, _two_years(), runs=4, seed=7)) as url, \
            browser_page(1400, 1200) as (page, errors):
        page.goto(url)
        page.wait_for_selector("#years .main-svg", timeout=60_000)
        assert page.locator("#years").is_visible()
        assert page.locator("#years .gtitle").text_content().startswith("Plan year by plan year")
        assert page.locator("#years g.xtick").all_text_contents() == ["2027", "2028"]
        assert page.locator("#years .legendtext").all_text_contents() == ["seeds_base_float_excess"]
        handle = page.locator("[id*='base_threshold'] [role=slider]").first
        handle.focus()
        handle.press("Home")
        page.wait_for_function("document.querySelectorAll('#years .legendtext').length == 2", timeout=60_000)
        assert page.locator("#years .legendtext").all_text_contents() == ["as written", "moved"]
        assert non_blank(page.locator("#years").screenshot())
        assert errors == []
