"""The statement pack's computation: the team comparison, strengths and items to improve,
grade consequences, year-to-date progress and the estimator (hand-checked on the seeds)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from engine.core.errors import DataError
from engine.data.load import read_table
from engine.data.statements import load_for_plan, statements
from engine.jobs.pack import (
    Metric,
    build_pack,
    grade_consequence,
    has_cjk,
    highlights,
    lower_is_better,
    team_column,
)
from engine.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"
SEEDS_ROSTER = ROOT / "scenarios" / "data" / "seeds_roster.csv"
SEEDS_ACTUALS = ROOT / "scenarios" / "data" / "seeds_actuals.csv"
CN = ROOT / "scenarios" / "plans" / "seeds_cn_deals.yaml"
CN_ROSTER = ROOT / "scenarios" / "data" / "seeds_cn_roster.csv"
CN_DEALS = ROOT / "scenarios" / "data" / "seeds_cn_deals.csv"


def _metric(key: str, value: float, median: float, rank: int, size: int, higher: bool = True,
            kind: str = "measure") -> Metric:
    return Metric(key, key, kind, False, higher, value, median, rank, size, (value,))


def _pack(plan=SEEDS, roster=SEEDS_ROSTER, actuals=SEEDS_ACTUALS, **kw):
    checked = load_plan(plan)
    return build_pack(checked, load_for_plan(checked, roster, actuals), read_table(roster, "roster"), **kw)


def _page(pack, rep: str):
    return next(p for p in pack.reps if p.rep_id == rep)


def test_strengths_and_improvements_on_a_hand_made_team():
    """First in the team and top quarter are strengths (firsts first); worse than the
    median is an item to improve, the furthest first; lower is better where it says so."""
    metrics = [
        _metric("revenue", 120, 100, 1, 8),            # first
        _metric("attainment", 1.1, 1.0, 2, 8),         # top quarter of 8 (rank <= 2)
        _metric("conversion", 0.10, 0.20, 7, 8),       # half the median: improve
        _metric("collections", 0.90, 0.95, 5, 8),      # a little below: improve, listed second
        _metric("complaints", 1, 3, 1, 8, higher=False),  # fewest complaints: first
        _metric("margin", 0.3, 0.3, 4, 8),             # at the median: neither
    ]
    strengths, improvements = highlights(metrics)
    assert [(h.key, h.kind) for h in strengths] == [("revenue", "first"), ("complaints", "first"),
                                                   ("attainment", "top-quarter")]
    assert [(h.key, h.kind) for h in improvements] == [("conversion", "below-median"),
                                                      ("collections", "below-median")]


def test_no_highlight_alone_or_tied():
    """A team of one, or a value equal to everyone's, says nothing."""
    assert highlights([_metric("revenue", 5, 5, 1, 1)]) == ((), ())
    assert highlights([_metric("revenue", 5, 5, 1, 3)]) == ((), ())


def test_lower_is_better_from_names_and_labels():
    assert lower_is_better("complaints")
    assert lower_is_better("x", "客户投诉次数")
    assert not lower_is_better("revenue", "Revenue booked")


def test_cjk_detection():
    assert has_cjk(["plan", "浮动奖金"])
    assert not has_cjk(["plan", None, "Revenue"])


@pytest.mark.parametrize(("grades", "expected"), [
    (["A", "A"], "promotion-candidate"),
    (["B", "A", "A"], "promotion-candidate"),
    (["C", "D"], "improvement-plan"),
    (["D", "D"], "improvement-plan"),
    (["A", "B"], None),
    (["C", "B"], None),
    ([None, "A"], None),
    (["A"], None),
])
def test_grade_consequences(grades, expected):
    """Two A's in a row make a promotion candidate; C or D twice an improvement plan."""
    assert grade_consequence(grades) == expected


def test_team_column_defaults_and_errors():
    assert team_column(pd.DataFrame({"rep_id": ["a"], "team": ["N"], "manager": ["M"]}), None) == "manager"
    assert team_column(pd.DataFrame({"rep_id": ["a"], "team": ["N"]}), None) == "team"
    assert team_column(pd.DataFrame({"rep_id": ["a"]}), None) is None
    with pytest.raises(DataError, match="no column 'teem'") as err:
        team_column(pd.DataFrame({"rep_id": ["a"], "team": ["N"]}), "teem")
    assert err.value.hint == "did you mean 'team'?"


def test_seeds_pack_dashboard_and_year_to_date():
    """The seeds in 2027-Q2: R001 leads North (R002, R005) on revenue; YTD sums the year."""
    pack = _pack()
    assert pack.period == "2027-Q2" and pack.language == "en" and pack.team_column == "team"
    assert pack.teams == {"North": ("R001", "R002", "R005"), "South": ("R003", "R004", "R006")}
    r1 = _page(pack, "R001")
    revenue = next(m for m in r1.metrics if m.key == "revenue")
    assert (revenue.value, revenue.median, revenue.rank, revenue.team_size) == (262500, 249999, 1, 3)
    assert revenue.trend == (190000, 262500)
    assert ("revenue", "first") in [(h.key, h.kind) for h in r1.strengths]
    complaints = next(m for m in r1.metrics if m.key == "complaints")
    assert complaints.kind == "actual" and not complaints.higher_is_better
    assert [h.key for h in r1.improvements] == ["complaints"]  # 2 complaints against a median of 0
    assert r1.ytd is not None
    assert r1.ytd.actual == (190000, 452500) and r1.ytd.target == (250000, 500000)
    assert r1.ytd.paid == (0, 5500) and r1.ytd.target_incentive == (5000, 10000)
    assert math.isclose(r1.ytd.attainment, 0.905)
    assert r1.statement["total"] == 5500 and r1.statement["grade"] == "B"
    assert "Statement of rep R001, period 2027-Q2" in r1.explanation


def test_seeds_grade_history_and_consequences():
    """R002 (C, C) and R005 (C, D) are due an improvement plan; nobody has two A's yet."""
    pack = _pack()
    assert {p.rep_id: p.consequence for p in pack.reps} == {
        "R001": None, "R002": "improvement-plan", "R003": None, "R004": None, "R005": "improvement-plan",
        "R006": None}
    assert _page(pack, "R002").grades == (("2027-Q1", "C"), ("2027-Q2", "C"))


def test_promotion_candidate_after_two_a_grades():
    actuals = pd.DataFrame({"rep_id": ["R1", "R1", "R2", "R2"], "period": ["2027-Q1", "2027-Q2"] * 2,
                            "revenue": [300000, 310000, 100000, 120000], "complaints": [0, 0, 0, 0]})
    roster = pd.DataFrame({"rep_id": ["R1", "R2"], "quota": [1_000_000] * 2, "ti": [20000] * 2})
    pack = _pack(roster=roster, actuals=actuals)
    assert _page(pack, "R1").consequence == "promotion-candidate"
    assert _page(pack, "R2").consequence == "improvement-plan"
    assert pack.team_column is None and pack.teams == {"": ("R1", "R2")}


def test_seeds_estimator_hand_checked():
    """Quarterly target 250,000 and TI 5,000: 80% pays 2,000, 100% another 3,000, 120% adds
    4% of the 50,000 above target (2,000); more than 3 complaints pays 80% of it all."""
    pack = _pack()
    r2 = _page(pack, "R002")  # 249,999 (99.9996%), base bonus only: 2,000
    assert [(e.component, e.what, e.needed, e.pay_now, e.pay_then, e.grade_then) for e in r2.estimates] == [
        ("base_and_float", "step", 250000, 2000, 5000, "B"),
        ("excess_commission", "tier", 300000, 2000, 7000, "A")]
    first = r2.estimates[0]
    assert first.extra == 1 and first.more_pay == 3000 and first.attainment == 1.0 and first.ratio
    r3 = _page(pack, "R003")  # 180,000 and 6 complaints: everything at 80%
    assert [(e.needed, e.pay_then) for e in r3.estimates] == [(200000, 1600), (250000, 4000), (300000, 5600)]
    r5 = _page(pack, "R005")  # no actuals row in Q2: zero
    assert [(e.needed, e.pay_then) for e in r5.estimates] == [(200000, 2000), (250000, 5000), (300000, 7000)]
    assert _page(pack, "R006").estimates == ()  # 150%: every threshold reached


def test_estimator_on_transactions_matches_a_payout_of_the_scaled_deals(tmp_path):
    """The Chinese plan's deals are scaled in proportion: paying the scaled file gives the
    estimate's pay, and the pages are in Chinese."""
    pack = _pack(CN, CN_ROSTER, CN_DEALS)
    assert pack.language == "zh"
    r1 = _page(pack, "R01")
    est = r1.estimates[0]
    assert est.what == "step" and est.needed == 300000 and est.grade_then == "B"
    deals = pd.read_csv(CN_DEALS)
    mine = (deals["rep_id"] == "R01") & (deals["date"] >= "2027-04-01") & (deals["date"] <= "2027-06-30")
    deals.loc[mine, "金额"] *= est.needed / est.current
    path = tmp_path / "deals.csv"
    deals.to_csv(path, index=False)
    st = statements(load_plan(CN), CN_ROSTER, path)
    row = st[(st["rep_id"] == "R01") & (st["period"] == "2027-Q2")].iloc[0]
    assert row["total"] == pytest.approx(est.pay_then, abs=0.011)


def test_unknown_period_and_language():
    with pytest.raises(DataError, match="period '2027-Q3' is not in the actuals"):
        _pack(period="2027-Q3")
    with pytest.raises(DataError, match="language 'fr'"):
        _pack(language="fr")
    assert _pack(period="2027-Q1", language="zh").language == "zh"


def test_estimator_on_a_scorecard_hand_checked():
    """K003 in 2027-Q2: no revenue, 40,000 collected, CSAT 4.0, no new customer; target
    250,000, TI 5,000. The score is 0.4 x revenue attainment (at most 1.5) + 0.2 x
    collections (0 once collected / revenue < 0.7) + 0.2 x 0.5 (CSAT): 0.6 (payout 0.5) at
    125% of target, 0.7 (grade C, payout 0.625) at 150%."""
    data = ROOT / "scenarios" / "data"
    pack = _pack(ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml", data / "kpi_scorecard_roster.csv",
                 data / "kpi_scorecard_actuals.csv")
    k3 = _page(pack, "K003")
    assert [(e.what, e.quantity, e.level, e.needed, e.attainment, e.pay_then, e.grade_then) for e in k3.estimates] == [
        ("payout", "kpi.score", 0.6, 312500, 1.25, 2500, "D"), ("grade", "kpi.score", 0.7, 375000, 1.5, 3125, "C")]
    assert _page(pack, "K002").consequence == "promotion-candidate"  # A, A
    kpis = [m for m in k3.metrics if m.kind == "kpi"]
    assert [m.label for m in kpis] == ["Revenue attainment", "Collections (collected / revenue)",
                                       "Customer satisfaction", "New customers vs target"]
    assert all(m.ratio for m in kpis)


def test_estimator_with_year_to_date_accumulation():
    """With ``accumulate: year`` the attainment reached is of the year to date: Y002 has
    625,000 of a 1,000,000 year before Q4, so 375,000 in Q4 reaches 100%."""
    data = ROOT / "scenarios" / "data"
    pack = _pack(ROOT / "scenarios" / "plans" / "annual_quarterly_trueup.yaml",
                 data / "annual_quarterly_trueup_roster.csv", data / "annual_quarterly_trueup_actuals.csv")
    y2 = _page(pack, "Y002")
    first = y2.estimates[0]
    assert (first.current, first.needed, first.attainment) == (325000, 375000, 1.0)
    assert y2.ytd is not None and y2.ytd.actual[-1] == 950000 and y2.ytd.target[-1] == 1_000_000
