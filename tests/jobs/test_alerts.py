"""Early warnings: falling attainment, gave up, attrition risk, grade streaks."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.core.errors import DataErrors, EvaluationError
from engine.jobs.alerts import ALERT_CODES, COLUMNS, SEVERITIES, alerts, write_alerts
from engine.plan import load_plan
from engine.report.text import ALERT_TITLES, alerts_text
from engine.sim.scenario import default_scenario, parse_scenario

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"

MONTH_TARGET = 100_000.0  # classic_ae: quota 1,200,000 / 12
QUARTER_TARGET = 250_000.0  # seeds: quota 1,000,000 / 4


@pytest.fixture(scope="module")
def classic():
    return load_plan(PLANS / "classic_ae.yaml")


@pytest.fixture(scope="module")
def seeds():
    return load_plan(PLANS / "seeds_base_float_excess.yaml")


def monthly(reps: dict[str, list[float]], year: int = 2027, months=None):
    """classic_ae roster and per-month actuals from each rep's attainment per month."""
    roster = pd.DataFrame({"rep_id": list(reps), "quota": 1_200_000.0, "ti": 60_000.0})
    rows = []
    for rep, atts in reps.items():
        labels = months or [f"{year}-{m:02d}" for m in range(1, len(atts) + 1)]
        rows += [{"rep_id": rep, "period": lab, "revenue": a * MONTH_TARGET} for lab, a in zip(labels, atts)]
    return roster, pd.DataFrame(rows)


def quarterly(reps: dict[str, list[float]]):
    """seeds roster and per-quarter actuals from each rep's attainment per quarter."""
    roster = pd.DataFrame({"rep_id": list(reps), "team": "North", "quota": 1_000_000.0, "ti": 20_000.0})
    rows = [{"rep_id": rep, "period": f"2027-Q{q}", "revenue": a * QUARTER_TARGET, "complaints": 0}
            for rep, atts in reps.items() for q, a in enumerate(atts, start=1)]
    return roster, pd.DataFrame(rows)


def of(df: pd.DataFrame, code: str) -> pd.DataFrame:
    return df[df["alert"] == code].set_index("rep_id")


# --------------------------------------------------------------------------- shape

def test_columns_codes_and_order(classic):
    """The table has the documented columns, stable codes and severities, most severe first."""
    roster, actuals = monthly({"ok": [1.0] * 9, "low": [0.1] * 9, "fall": [1.3, 1.2, 1.1, 1.05, 1.0, 0.99,
                                                                        0.98, 0.97, 0.96]})
    df = alerts(classic, roster, actuals)
    assert tuple(df.columns) == COLUMNS
    assert set(df["alert"]) <= set(ALERT_CODES) and set(df["severity"]) <= set(SEVERITIES)
    ranks = df["severity"].map(SEVERITIES.index).tolist()
    assert ranks == sorted(ranks)
    assert set(df["period"]) == {"2027-09"}


def test_no_alerts_is_an_empty_table_with_the_columns(classic):
    """A team on target all along raises nothing; the empty table still has every column."""
    roster, actuals = monthly({f"r{i}": [1.0 + 0.01 * i] * 6 for i in range(5)})
    df = alerts(classic, roster, actuals)
    assert df.empty and tuple(df.columns) == COLUMNS
    assert alerts_text(df) == "no alerts"


# --------------------------------------------------------------------------- falling attainment

def test_falling_attainment_needs_n_strict_falls_ending_now(classic):
    """N strict falls in a row ending in the latest period (N+1 periods) fire; a tie, a shorter
    run, or a rise in the latest period do not."""
    reps = {
        "falls3": [1.3, 1.2, 1.0, 0.8, 0.6],
        "tie": [1.3, 1.2, 1.0, 1.0, 0.8],
        "falls2": [1.3, 1.0, 1.2, 1.0, 0.8],
        "recovered": [1.3, 1.2, 1.0, 0.8, 0.9],
        "steep": [1.3, 1.2, 0.9, 0.6, 0.3],
        "high": [2.0, 1.9, 1.8, 1.7, 1.6],
    }
    df = of(alerts(classic, *monthly(reps)), "falling-attainment")
    assert set(df.index) == {"falls3", "steep", "high"}
    assert df.loc["falls3", "period"] == "2027-05"
    assert df.loc["falls3", "attainment"] == pytest.approx(0.6)
    assert df.loc["falls3", "severity"] == "medium"  # below 100%, above the 50% threshold
    assert df.loc["steep", "severity"] == "high"  # below the threshold
    assert df.loc["high", "severity"] == "low"  # still above target
    assert "fell 4 months in a row" in df.loc["steep", "detail"]
    two = of(alerts(classic, *monthly(reps), falling_periods=2), "falling-attainment")
    assert set(two.index) == {"falls3", "steep", "high", "falls2"}


def test_falling_attainment_is_broken_by_a_gap_in_the_periods(classic):
    """Falls must be between calendar-adjacent periods: a month missing from the run breaks the streak."""
    months = ["2027-01", "2027-02", "2027-04", "2027-05"]
    roster, actuals = monthly({"gap": [1.3, 1.1, 0.9, 0.7]}, months=months)
    assert of(alerts(classic, roster, actuals, falling_periods=2), "falling-attainment").empty
    assert list(of(alerts(classic, roster, actuals, falling_periods=1), "falling-attainment").index) == ["gap"]


# --------------------------------------------------------------------------- gave up

GAVE_UP = {
    "flat": [0.2] * 9,                                         # far below, flat: gave up
    "rising": [0.1] * 6 + [0.2, 0.4, 0.6],                     # far below but climbing
    "one_big_month": [0.1] * 7 + [1.4, 0.1],                   # its best month's pace still reaches 50%
    "on_target": [1.0] * 9,
}


def test_gave_up_fires_only_when_unreachable_and_flat(classic):
    """Gave up: YTD below the threshold, the best month's pace for the rest of the year cannot
    reach it, and the trend is flat or falling."""
    df = of(alerts(classic, *monthly(GAVE_UP)), "gave-up")
    assert list(df.index) == ["flat"]
    row = df.loc["flat"]
    assert row["severity"] == "high" and row["ytd_attainment"] == pytest.approx(0.2)
    assert "3 of 12 months left" in row["detail"] and "50% threshold of 'quota_bonus'" in row["detail"]


@pytest.mark.parametrize("months,fires", [(6, False), (8, True), (11, True), (12, False)])
def test_gave_up_only_in_the_last_third_of_the_year(classic, months, fires):
    """With more than a third of the year left it is too early; with no time left the year is over."""
    df = of(alerts(classic, *monthly({"flat": [0.2] * months, "ok": [1.0] * months})), "gave-up")
    assert ("flat" in df.index) is fires


def test_gave_up_threshold_comes_from_the_plan_or_the_option(classic, seeds):
    """The threshold is the main component's (curve's first x, step's first at) unless overridden."""
    assert of(alerts(classic, *monthly(GAVE_UP), gave_up_below=0.15), "gave-up").empty
    assert "flat" in of(alerts(classic, *monthly(GAVE_UP), gave_up_below=0.3), "gave-up").index
    # seeds: base bonus at 80% -> 60% all year is hopeless with one quarter left.
    df = of(alerts(seeds, *quarterly({"q": [0.6, 0.6, 0.6], "ok": [1.0, 1.0, 1.0]})), "gave-up")
    assert list(df.index) == ["q"] and "80% threshold of 'base_and_float'" in df.loc["q", "detail"]


# --------------------------------------------------------------------------- attrition risk

def _reference_risk(pay_ratio_months: int, m0: float) -> float:
    """The morale model written out by hand (docs/model.md §4-5) for a rep paid nothing each
    month, always last in pay and attainment (no unfairness), hopeless every month, with the
    default scenario's parameters and base salary implied by a 50/50 pay mix."""
    m = m0
    g = 0.0
    for month in range(1, pay_ratio_months + 1):
        m = m + 0.10 * -1.0                                  # pay gap: paid 0 vs target pay
        phi = month / 12
        comp = (1.0 + 1.0 * (phi * 0.0 + 1.0 - phi)) / 2.0   # base = ti; paid/target so far = 0
        g = max(1.0 - comp, 0.0)                             # median outside offer 1.0
        hopeless = 1.0 if month < 12 else 0.0
        m = min(max(m - 0.15 * g - 0.05 * hopeless + 0.30 * (m0 - m), 0.0), 1.0)
    base_h = 1 - (1 - 0.11) ** (1 / 12)
    h = base_h * math.exp(2.0 * (1 - m) + 2.0 * g)
    return 1 - (1 - h) ** 12


def test_attrition_risk_follows_the_morale_model(classic):
    """The risk column is 1 - (1 - h)^12 with h from the simulator's morale and hazard equations."""
    reps = {"zero": [0.0] * 3, **{f"ok{i}": [1.0] * 3 for i in range(9)}}
    df = of(alerts(classic, *monthly(reps)), "attrition-risk")
    assert list(df.index) == ["zero"]
    m0 = default_scenario().initial_morale.mean()
    assert df.loc["zero", "risk"] == pytest.approx(_reference_risk(3, m0), rel=1e-12)
    assert "paid 0% of target incentive" in df.loc["zero", "detail"]


def test_attrition_risk_states_model_estimates_as_estimates(classic):
    """The outside market and the quit probability are the model's estimates, not facts about
    the rep: the detail says so ("the model puts the outside market ...") and never states an
    outside offer as if one had been made."""
    reps = {"zero": [0.0] * 3, **{f"ok{i}": [1.0] * 3 for i in range(9)}}
    detail = of(alerts(classic, *monthly(reps)), "attrition-risk").loc["zero", "detail"]
    assert detail.startswith("the model estimates a 12-month quit probability of ")
    assert "the model puts the outside market (the scenario's median outside offer, not an offer anyone made) " \
           "about" in detail and "of OTE above this rep's expected pay" in detail
    assert not re.search(r"\ban outside offer", detail)


def test_attrition_risk_flags_the_outlier_not_a_content_team(classic):
    """Only reps whose hazard is in the team's top decile and 1.5x a content rep's are flagged:
    a team on target has no one at risk, however the ranks fall."""
    team = {f"r{i:02d}": [0.95 + 0.02 * (i % 7)] * 9 for i in range(19)}
    assert of(alerts(classic, *monthly(team)), "attrition-risk").empty
    df = of(alerts(classic, *monthly({**team, "low": [0.1] * 9})), "attrition-risk")
    assert list(df.index) == ["low"]
    assert df.loc["low", "severity"] == "high" and df.loc["low", "risk"] > 0.4


def test_attrition_risk_uses_the_scenario(classic):
    """With no sensitivity to morale or offers, the hazard is the base rate for everyone: no alert."""
    calm = parse_scenario("scenario: calm\nattrition: {morale_sensitivity: 0, outside_sensitivity: 0}\n")
    reps = {"low": [0.1] * 9, **{f"ok{i}": [1.0] * 9 for i in range(9)}}
    assert of(alerts(classic, *monthly(reps), scenario=calm), "attrition-risk").empty


def test_attrition_risk_reads_base_salary_from_the_roster(classic):
    """A large base salary makes a missed bonus a small share of pay: lower outside gap, lower risk."""
    reps = {"low": [0.1] * 9, **{f"ok{i}": [1.0] * 9 for i in range(9)}}
    roster, actuals = monthly(reps)
    implied = of(alerts(classic, roster, actuals), "attrition-risk").loc["low", "risk"]
    rich = of(alerts(classic, roster.assign(base_salary=600_000.0), actuals), "attrition-risk").loc["low", "risk"]
    assert rich < implied


# --------------------------------------------------------------------------- grade streaks

def test_grade_streaks(seeds):
    """Two consecutive A quarters: promotion candidate; two consecutive C/D: improvement plan
    (high when both are D). Anything broken by another grade does not fire."""
    reps = {"AA": [1.3, 1.25], "AB": [1.3, 1.1], "CD": [0.9, 0.5], "BC": [1.1, 0.9], "DD": [0.5, 0.4]}
    df = alerts(seeds, *quarterly(reps))
    promo, plan = of(df, "promotion-candidate"), of(df, "improvement-plan")
    assert list(promo.index) == ["AA"] and promo.loc["AA", "severity"] == "info"
    assert set(plan.index) == {"CD", "DD"}
    assert plan.loc["DD", "severity"] == "high" and plan.loc["CD", "severity"] == "medium"
    assert "not automatic dismissal" in plan.loc["CD", "detail"]
    assert "C in 2027-Q1, D in 2027-Q2" in plan.loc["CD", "detail"]
    longer = alerts(seeds, *quarterly(reps), grade_streak=3)
    assert not longer["alert"].isin(["promotion-candidate", "improvement-plan"]).any()


def test_leavers_get_no_alerts(seeds):
    """Alerts describe current reps: one who left before the latest period gets none."""
    roster, actuals = quarterly({"stay": [1.0, 1.0, 1.0], "left": [0.5, 0.4]})
    roster["end_date"] = ["", "2027-06-30"]
    df = alerts(seeds, roster, actuals)
    assert "left" not in set(df["rep_id"])


def test_plans_without_grades_have_no_grade_alerts(classic):
    """classic_ae has no grades: no promotion or improvement-plan alert, whatever the data."""
    df = alerts(classic, *monthly({"a": [2.0] * 6, "d": [0.1] * 6}))
    assert not df["alert"].isin(["promotion-candidate", "improvement-plan"]).any()


# --------------------------------------------------------------------------- bad input

def test_bad_data_raises_the_engines_errors(classic):
    """Data problems are the loader's DataErrors; non-finite values are the evaluator's EvaluationError."""
    roster, actuals = monthly({"a": [1.0, 1.0]})
    with pytest.raises(DataErrors) as e:
        alerts(classic, roster, actuals.rename(columns={"revenue": "revenu"}))
    assert "missing-column" in e.value.codes
    with pytest.raises(DataErrors) as e:
        alerts(classic, roster, pd.concat([actuals, actuals.assign(rep_id="ghost")]))
    assert "unknown-rep" in e.value.codes
    with pytest.raises(EvaluationError):
        alerts(classic, roster.assign(quota=0.0), actuals)


@pytest.mark.parametrize("kw", [{"falling_periods": 0}, {"grade_streak": 1.5}, {"gave_up_below": -0.1},
                                {"gave_up_below": float("nan")}])
def test_bad_options_are_value_errors(classic, kw):
    """Options out of range are programming errors (the command line validates its own)."""
    with pytest.raises(ValueError):
        alerts(classic, *monthly({"a": [1.0]}), **kw)


# --------------------------------------------------------------------------- output

def test_text_groups_by_kind_most_severe_first(classic, seeds):
    """The readable output groups alerts by kind, the group holding the most severe alert first."""
    df = alerts(classic, *monthly({**GAVE_UP, "falls": [1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.25, 1.2, 1.15]}))
    text = alerts_text(df)
    assert text.splitlines()[0].startswith(f"{len(df)} alerts for ")
    assert text.index("[gave-up]") < text.index("[falling-attainment]")
    grades = alerts_text(alerts(seeds, *quarterly({"AA": [1.3, 1.3], "DD": [0.5, 0.5]})))
    assert grades.index("[improvement-plan]") < grades.index("[promotion-candidate]")


def test_write_alerts_csv(classic, tmp_path):
    """The CSV has the table's columns and rows; ratios are rounded to 4 decimals."""
    df = alerts(classic, *monthly(GAVE_UP))
    out = tmp_path / "alerts.csv"
    write_alerts(df, out)
    back = pd.read_csv(out)
    assert tuple(back.columns) == COLUMNS and len(back) == len(df)
    assert back["attainment"].round(4).equals(back["attainment"])


# --------------------------------------------------------------------------- a realistic team

def _team(R: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:04d}" for i in range(R)])
    quota = np.round(1_200_000 * np.exp(rng.normal(0, 0.1, R)), -3)
    skill = np.exp(rng.normal(0, 0.25, R))
    skill[rng.random(R) < 0.03] = 0.15  # a few who cannot sell
    decline = np.where(rng.random(R) < 0.08, 1.0, 0.0)[:, None] * np.linspace(0.2, -0.6, 12)[None, :]
    season = np.array([0.90, 0.95, 1.05, 0.95, 1.00, 1.05, 0.90, 0.90, 1.05, 1.00, 1.05, 1.20])
    noise = np.exp(rng.normal(0, 0.3, (R, 12)) - 0.045)
    revenue = np.round(quota[:, None] / 12 * skill[:, None] * season * (1 + decline) * noise, 2)
    return ids, quota, revenue, rng


def test_realistic_team_of_2000(classic, seeds):
    """2,000 reps and nine months of monthly actuals: it completes fast, falling-attainment is
    exactly the reps with three strict falls, the other alerts are a plausible minority, and a
    quarterly plan fed the same months as transactions flags exactly the A-A reps."""
    R = 2000
    ids, quota, revenue, rng = _team(R)
    labels = [f"2027-{m:02d}" for m in range(1, 13)]
    roster = pd.DataFrame({"rep_id": ids, "quota": quota, "ti": 60_000.0})
    per_month = pd.DataFrame({"rep_id": np.repeat(ids, 9), "period": np.tile(labels[:9], R),
                              "revenue": revenue[:, :9].ravel()})
    start = time.perf_counter()
    df = alerts(classic, roster, per_month)
    counts = df["alert"].value_counts()
    # Falling: exactly the reps whose attainment fell strictly in each of the last 3 months.
    att = revenue[:, :9] / (quota[:, None] / 12)
    expected = set(ids[(np.diff(att[:, -4:], axis=1) < 0).all(axis=1)])
    assert set(of(df, "falling-attainment").index) == expected and expected
    assert 0 < counts["gave-up"] < 0.1 * R
    assert 0 < counts["attrition-risk"] <= 0.1 * R + 1
    assert counts.get("promotion-candidate", 0) == 0
    assert set(df["period"]) == {"2027-09"} and set(df["rep_id"]) <= set(ids)
    gave_up = of(df, "gave-up")
    assert (gave_up["ytd_attainment"] < 0.5).all()
    assert (of(df, "attrition-risk")["risk"] > 0.15).all()

    # The seeds plan (quarterly, graded) on the same months as dated transactions.
    tx = pd.DataFrame({"rep_id": np.repeat(ids, 9), "date": np.tile([f"{m}-15" for m in labels[:9]], R),
                       "revenue": revenue[:, :9].ravel(), "complaints": rng.poisson(0.5, R * 9)})
    graded = alerts(seeds, roster.assign(ti=20_000.0), tx)
    q_att = revenue[:, :9].reshape(R, 3, 3).sum(axis=2) / (quota[:, None] / 4)
    assert set(of(graded, "promotion-candidate").index) == set(ids[(q_att[:, 1:] >= 1.2).all(axis=1)])
    assert set(of(graded, "improvement-plan").index) == set(ids[(q_att[:, 1:] < 1.0).all(axis=1)])
    assert time.perf_counter() - start < 10
    assert "Attrition risk [attrition-risk]" in alerts_text(df)



def test_every_alert_code_has_a_heading_in_the_text():
    """The printed text (engine/report/text.py) heads each group with a title: every code the
    job can raise has one, and no title is left for a code that no longer exists."""
    assert set(ALERT_TITLES) == set(ALERT_CODES)
