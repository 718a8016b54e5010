"""The statement pack in a real browser: every page loads offline with no console error,
its charts draw, and a Chinese plan's text renders in a CJK font (not as empty boxes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data.load import read_table
from engine.data.statements import load_for_plan
from engine.jobs.pack import build_pack
from engine.plan import load_plan
from engine.report.pack import write_pack
from tests.browser import browser_page, non_blank

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scenarios" / "data"
PLANS = ROOT / "scenarios" / "plans"


def _write(tmp: Path, plan: Path, roster: Path, actuals: Path, pdf: bool = False) -> Path:
    checked = load_plan(plan)
    pack = build_pack(checked, load_for_plan(checked, roster, actuals), read_table(roster, "roster"))
    write_pack(pack, tmp / "pack", pdf=pdf)
    return tmp / "pack"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("seeds"), PLANS / "seeds_base_float_excess.yaml",
                  DATA / "seeds_roster.csv", DATA / "seeds_actuals.csv")


@pytest.fixture(scope="module")
def chinese(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("cn"), PLANS / "seeds_cn_deals.yaml", DATA / "seeds_cn_roster.csv",
                  DATA / "seeds_cn_deals.csv", pdf=True)


@pytest.mark.browser
@pytest.mark.parametrize("which", ["seeds", "chinese"])
def test_every_page_loads_offline_and_its_charts_draw(which, request):
    """Each page (index, teams, reps) opens from file:// with no console error and no
    request leaving the folder, and every chart is an SVG with marks, drawn non-blank."""
    folder: Path = request.getfixturevalue(which)
    pages = sorted(folder.glob("*.html"))
    assert (folder / "index.html") in pages and len([p for p in pages if p.name.startswith("rep-")]) >= 3
    blocked: list[str] = []
    requested: list[str] = []
    with browser_page(width=1200, height=900) as (page, errors):
        page.route(re.compile(r"^(?!file:)"), lambda route: (blocked.append(route.request.url), route.abort()))
        page.on("request", lambda r: requested.append(r.url))
        for path in pages:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            charts = page.evaluate("""() => [...document.querySelectorAll('svg.chart')].map(svg => {
                const box = svg.getBoundingClientRect();
                return {cls: svg.getAttribute('class'), width: box.width, height: box.height,
                        marks: svg.querySelectorAll('rect, polyline, circle').length};
            })""")
            assert len(charts) >= (6 if path.name.startswith("rep-") else 1), path.name
            for i, chart in enumerate(charts):
                assert chart["width"] > 0 and chart["height"] > 0, (path.name, i)
                assert chart["marks"] >= 1 or "spark" in chart["cls"], (path.name, i)
            big = page.locator("svg.chart:not(.spark):not(.versus)")
            for i in range(big.count()):
                assert non_blank(big.nth(i).screenshot(), min_colours=3), (path.name, i)
    assert errors == []
    assert blocked == []
    assert requested and all(u.startswith("file://") for u in requested)


@pytest.mark.browser
def test_chinese_text_renders_in_a_cjk_font(chinese):
    """The Chinese plan's labels are drawn with glyphs of a CJK font (Noto Sans CJK), which
    the page's CSS lists first, and look different from boxes of characters no font has."""
    with browser_page(width=1200, height=900) as (page, errors):
        page.goto((chinese / "rep-R01.html").as_uri())
        page.wait_for_load_state("load")
        assert "浮动奖金" in page.locator("#statement").inner_text()
        family = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert family.startswith('"Noto Sans CJK SC"')
        assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '浮动奖金')")
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert any("CJK" in f["familyName"] and f["glyphCount"] >= 4 for f in fonts), fonts
        # The label against boxes: private-use characters, which no font draws.
        page.evaluate("""() => {
            for (const [id, text] of [['cjk', '浮动奖金'], ['tofu', '\\ue000\\ue001\\ue002\\ue003']]) {
                const s = document.createElement('span'); s.id = id; s.textContent = text;
                s.style.fontSize = '32px'; s.style.display = 'inline-block'; document.body.prepend(s);
            }}""")
        cjk, tofu = page.locator("#cjk").screenshot(), page.locator("#tofu").screenshot()
        assert page.locator("#cjk").bounding_box()["width"] > 60
        assert non_blank(cjk, min_colours=3) and cjk != tofu
    assert errors == []


@pytest.mark.browser
def test_pdf_of_every_rep_page(chinese):
    """--pdf prints each rep's page: a PDF with the CJK font embedded."""
    pdfs = sorted(chinese.glob("rep-*.pdf"))
    assert [p.stem for p in pdfs] == [p.stem for p in sorted(chinese.glob("rep-*.html"))]
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and b"NotoSansCJK" in data
