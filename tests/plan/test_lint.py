"""Plan lint: each design hazard on a small plan that has it, clean plans that have none,
and the findings on the shipped plans.

The reference rep has ``roster.ti = 20,000`` and ``roster.quota = 1,000,000`` (the
defaults of ``incentive check``), so with ``target_incentive: roster.ti / 4`` one quarter's
target incentive (TI) is 5,000 and the quarterly target is 250,000.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from engine.jobs.check import scenario_quantiles
from engine.plan import load_plan, parse_plan
from engine.plan.lint import CODES, Finding, format_findings, lint_plan

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"

HEAD = """\
plan: t
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
  attainment: revenue / targets.revenue
targets:
  revenue: roster.quota / 4
components:
"""


def lint(components: str, tail: str = "", **kw) -> list[Finding]:
    return lint_plan(parse_plan(HEAD + components + tail, "t.yaml"), **kw)


def codes(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.code, f.component) for f in findings]


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``HEAD + text`` that contains ``needle``."""
    for i, line in enumerate((HEAD + text).splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


# --------------------------------------------------------------------------- clean plans

LINEAR = """\
  - name: commission
    kind: rate
    base: revenue
    rate: 2%
"""

SMOOTH = """\
  - name: bonus
    kind: curve
    input: attainment
    points: [[0, 0], [1, 1], [1.5, 2]]
"""

TIERED = """\
  - name: commission
    kind: rate
    base: revenue
    tiers:
      - {upto: targets.revenue, rate: 3%}
      - {upto: 2 * targets.revenue, rate: 6%}
      - {rate: 2%}
"""

SMALL_STEPS = """\
  - name: ladder
    kind: curve
    input: attainment
    interpolate: step
    points: [[0, 0], [0.1, 0.05], [0.2, 0.1], [0.3, 0.15], [0.4, 0.2], [0.5, 0.25], [0.6, 0.3],
             [0.7, 0.35], [0.8, 0.4], [0.9, 0.45], [1.0, 0.5], [1.1, 0.55], [1.2, 0.6],
             [1.3, 0.65], [1.4, 0.7], [1.5, 0.75], [1.6, 0.8], [1.7, 0.85], [1.8, 0.9],
             [1.9, 0.95], [2.0, 1.0], [2.1, 1.05], [2.2, 1.1], [2.3, 1.15], [2.4, 1.2],
             [2.5, 1.25], [2.6, 1.3], [2.7, 1.35], [2.8, 1.4], [2.9, 1.45], [3.0, 1.5],
             [3.1, 1.55], [3.2, 1.6], [3.3, 1.65], [3.4, 1.7], [3.5, 1.75], [3.6, 1.8],
             [3.7, 1.85], [3.8, 1.9], [3.9, 1.95], [4.0, 2.0]]
"""


@pytest.mark.parametrize("components", [LINEAR, SMOOTH, TIERED], ids=["linear", "smooth", "tiered"])
def test_clean_plans_have_no_findings(components):
    """A linear commission, a smooth uncapped curve from 0, and marginal tiers (even one
    with a lower rate above: pay still rises) have no design hazards."""
    assert lint(components) == []


def test_small_steps_are_not_cliffs():
    """Steps of 5% of TI each stay below the 10%-of-TI cliff size (only the flat zone past
    the last step, at 400%, is reported)."""
    assert codes(lint(SMALL_STEPS)) == [("zero-incentive-above-cap", "ladder")]


def test_component_without_attainment_is_not_never_pays():
    """A component driven by a count the reference rep does not have (0) is not judged:
    its silence says nothing about the plan."""
    plan = HEAD.replace("  attainment:", "  referrals: actuals.referrals\n  attainment:")
    text = plan + LINEAR + """\
  - name: referral_bonus
    kind: rate
    base: referrals
    rate: 100
"""
    assert lint_plan(parse_plan(text, "t.yaml")) == []


# --------------------------------------------------------------------------- cliffs

STEP = """\
  - name: bonus
    kind: step
    input: attainment
    steps:
      - {at: 0.9, pay: 0.5 * target_incentive}
"""


def test_step_is_a_cliff_at_its_threshold():
    """A lump sum of 50% of TI reached at 90% is a payout cliff located at exactly 90%,
    sized 2,500, pointing at the step; a rep 3 points below gains it all. As the plan's only
    pay, it also leaves nothing to earn below 90% (a threshold above 80%: warning) and above
    it (below 150%: warning)."""
    found = lint(STEP)
    assert codes(found) == [("zero-incentive-below-threshold", "bonus"), ("payout-cliff", "bonus"),
                            ("zero-incentive-above-cap", "bonus")]
    assert [f.severity for f in found] == ["warning"] * 3
    assert found[2].attainment_range == (0.9, math.inf) and "its last step" in found[2].message
    f = found[1]
    assert (f.component, f.attainment_range, f.severity) == ("bonus", (0.9, 0.9), "warning")
    assert "pay jumps by 2,500 (50% of target incentive) at 90% of target" in f.message
    assert "a rep at 87% gains 2,500" in f.why and "a quarter's target" in f.why
    assert f.span.line == line_of(STEP, "at: 0.9")


def test_small_step_is_not_a_cliff():
    """A step worth 5% of TI is below the cliff size."""
    found = lint(STEP.replace("0.5 * target_incentive", "0.05 * target_incentive"))
    assert "payout-cliff" not in [f.code for f in found]


def test_curve_first_point_paying_is_a_cliff():
    """A curve whose first point pays 0.4x target pay jumps from 0 to 2,000 there."""
    text = """\
  - name: bonus
    kind: curve
    input: attainment
    points: [[0.6, 0.4], [1, 1], [2, 3]]
"""
    f = next(f for f in lint(text) if f.code == "payout-cliff")
    assert f.attainment_range == (0.6, 0.6)
    assert "2,000 (40% of target incentive)" in f.message and "first point" in f.message


def test_steep_ramp_within_two_points_is_a_cliff():
    """Pay rising by a full TI between 99% and 100% is a cliff over that range."""
    text = """\
  - name: bonus
    kind: curve
    input: attainment
    points: [[0, 0], [0.99, 0], [1.0, 1.0], [2.0, 2.0]]
"""
    f = next(f for f in lint(text) if f.code == "payout-cliff")
    assert f.attainment_range == pytest.approx((0.99, 1.0))
    assert "between 99% and 100% of target" in f.message


def test_gate_is_a_cliff_and_a_threshold():
    """A gate that opens a curve already paying 60% of target pay is a cliff at the gate,
    pointing at the 'when' line, and the zone below it pays nothing."""
    text = SMOOTH + "    when: attainment >= 0.6\n"
    found = {f.code: f for f in lint(text)}
    assert set(found) == {"payout-cliff", "zero-incentive-below-threshold"}
    cliff = found["payout-cliff"]
    assert cliff.attainment_range == (0.6, 0.6)
    assert "gate 'attainment >= 0.6'" in cliff.message
    assert cliff.span.line == line_of(text, "when:")
    below = found["zero-incentive-below-threshold"]
    assert below.attainment_range == (0.0, 0.6) and below.severity == "info"


def test_component_weight_sets_an_info_cliff():
    """A jump of 10% of a 0.2-weight curve's target pay (2% of TI) is an info cliff."""
    text = """\
  - name: big
    kind: curve
    input: attainment
    weight: 0.8
    points: [[0, 0], [1, 1], [2, 2]]
  - name: small
    kind: curve
    input: attainment
    weight: 0.2
    interpolate: step
    points: [[0, 0], [1.0, 0.25], [3.0, 0.25]]
"""
    f = next(f for f in lint(text) if f.code == "payout-cliff")
    assert (f.component, f.severity, f.attainment_range) == ("small", "info", (1.0, 1.0))
    assert "250 (5% of target incentive, 25% of its target pay)" in f.message


def test_retroactive_tier_raising_the_rate_is_a_cliff():
    """Reaching a retroactive tier re-rates the whole base: 1% -> 4% of 250,000 at 100%
    adds 7,500 at once."""
    text = """\
  - name: commission
    kind: rate
    base: revenue
    retroactive: true
    tiers:
      - {upto: targets.revenue, rate: 1%}
      - {rate: 4%}
"""
    found = lint(text)
    assert codes(found) == [("payout-cliff", "commission")]
    f = found[0]
    assert f.attainment_range == (1.0, 1.0) and "7,500" in f.message
    assert "re-rates the whole base" in f.message
    assert f.span.line == line_of(text, "{rate: 4%}")


def test_modifier_kicker_is_a_plan_level_cliff():
    """A multiplier switched on at 110% makes the total jump: reported for the plan,
    naming the modifier and pointing at it."""
    tail = """\
modifiers:
  - name: kicker
    when: attainment >= 1.1
    multiply: 1.5
"""
    found = lint(LINEAR, tail)
    assert codes(found) == [("payout-cliff", None)]
    f = found[0]
    assert f.attainment_range == (1.1, 1.1)
    assert "2,750" in f.message and "modifier 'kicker'" in f.message
    assert f.span.line == line_of(LINEAR + tail, "- name: kicker")


# --------------------------------------------------------------------------- zero-incentive zones

def test_cap_is_a_zero_incentive_zone_above_it():
    """A commission capped at one TI stops rising at 100% (5,000 = 2% of 250,000): above
    that, no incentive; it starts below 150%, so it warns, and points at the cap."""
    text = LINEAR + "    cap: target_incentive\n"
    found = lint(text)
    assert codes(found) == [("zero-incentive-above-cap", "commission")]
    f = found[0]
    assert f.attainment_range == (1.0, math.inf) and f.severity == "warning"
    assert "its cap 'target_incentive'" in f.message
    assert f.span.line == line_of(text, "cap:")


def test_flat_curve_far_out_is_info():
    """beyond: flat at 250% is a zero-incentive zone few reps reach: info."""
    text = SMOOTH.replace("[1.5, 2]]", "[2.5, 4]]") + "    beyond: flat\n"
    found = lint(text)
    assert codes(found) == [("zero-incentive-above-cap", "bonus")]
    assert found[0].attainment_range == (2.5, math.inf) and found[0].severity == "info"


def test_plan_cap_is_reported_for_the_plan():
    """The plan cap flattening the total is a plan-level finding pointing at the cap."""
    tail = "cap: 2 * target_incentive\n"
    found = lint(SMOOTH, tail)
    assert codes(found) == [("zero-incentive-above-cap", None)]
    f = found[0]
    # The curve pays 2x target pay at its last point, 150%.
    assert f.attainment_range == (1.5, math.inf)
    assert "the plan cap" in f.message
    assert f.span.line == line_of(SMOOTH + tail, "cap: 2")


@pytest.mark.parametrize("threshold,severity", [(0.9, "warning"), (0.6, "info"), (0.05, None)])
def test_threshold_rated_by_its_level(threshold, severity):
    """Without a scenario, a threshold above 80% warns, a lower one is info, and one below
    10% of target is not worth a finding."""
    text = f"""\
  - name: bonus
    kind: curve
    input: attainment
    points: [[{threshold}, 0], [1, 1], [2, 2]]
"""
    found = [f for f in lint(text) if f.code == "zero-incentive-below-threshold"]
    if severity is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].attainment_range == (0.0, threshold)
        assert found[0].severity == severity


def test_threshold_rated_by_share_of_reps():
    """With attainment quantiles, the share of reps below the threshold decides: at 80%
    with p10/p50/p90 = 50%/95%/140% about 37% of reps are below it (warning); with p10 at
    85%, fewer than 10% are (info)."""
    text = STEP.replace("0.9", "0.8")
    many = lint(text, attainment_quantiles=((0.1, 0.5), (0.5, 0.95), (0.9, 1.4)))
    f = next(f for f in many if f.code == "zero-incentive-below-threshold")
    assert f.severity == "warning" and "about 37% of reps sit below it" in f.message
    few = lint(text, attainment_quantiles={0.1: 0.85, 0.5: 1.0, 0.9: 1.3})
    f = next(f for f in few if f.code == "zero-incentive-below-threshold")
    assert f.severity == "info" and "fewer than 10% of reps" in f.message


def test_threshold_behind_another_paying_component_is_not_a_zone():
    """A threshold on one component is no zero-incentive zone while another pays from 0."""
    found = lint(LINEAR + STEP)
    assert "zero-incentive-below-threshold" not in [f.code for f in found]


# --------------------------------------------------------------------------- decelerators

DECEL = """\
  - name: bonus
    kind: curve
    input: attainment
    points: [[0, 0], [1.2, 1.2], [1.5, 0.9], [2, 1.5]]
"""


def test_falling_curve_is_a_decelerator():
    """Pay falling from 120% to 150% is a decelerator; it regains its 120% level (6,000)
    at 175%, so the range is 120%..175%."""
    found = lint(DECEL)
    assert codes(found) == [("decelerator", "bonus")]
    f = found[0]
    assert f.attainment_range == (1.2, 1.75) and f.severity == "warning"
    assert "pay falls by 1,500 (30% of target incentive) from 120% to 150% of target" in f.message


def test_decelerator_made_up_for_by_another_component_is_info():
    """When another component more than makes up for the fall, the total still rises: info."""
    text = DECEL + """\
  - name: booster
    kind: curve
    input: attainment
    points: [[0, 0], [1, 2]]
"""
    found = lint(text)
    assert codes(found) == [("decelerator", "bonus")]
    assert found[0].severity == "info" and "make up for it" in found[0].message


def test_negative_marginal_tier_is_a_decelerator():
    """A marginal tier with a negative rate makes pay fall from its boundary on, for good."""
    text = TIERED.replace("{rate: 2%}", "{rate: -1%}")
    found = lint(text)
    assert codes(found) == [("decelerator", "commission")]
    assert found[0].attainment_range == (2.0, math.inf)
    assert found[0].span.line == line_of(text, "{rate: -1%}")


def test_penalty_on_overachievement_is_a_plan_level_decelerator():
    """A modifier cutting pay above 150% makes the total fall there."""
    tail = """\
modifiers:
  - name: windfall_cut
    when: attainment > 1.5
    multiply: 0.5
"""
    found = lint(LINEAR, tail)
    assert codes(found) == [("decelerator", None)]
    assert found[0].attainment_range == (1.5, 3.0)
    assert "modifier 'windfall_cut'" in found[0].message


# --------------------------------------------------------------------------- never pays

def test_gate_never_true_never_pays():
    """A gate that is false over the whole plausible range (0..200%) means the component
    never pays; the finding points at the gate."""
    text = SMOOTH + "    when: attainment > 5\n"
    found = lint(text)
    assert codes(found) == [("never-pays", "bonus")]
    f = found[0]
    assert f.attainment_range == (0.0, 2.0)
    assert "gate 'attainment > 5'" in f.message
    assert f.span.line == line_of(text, "when:")


def test_threshold_out_of_reach_never_pays():
    """A step at 250% never pays within 0..200%; its cliff out there is not reported again
    for the plan."""
    text = LINEAR + STEP.replace("0.9", "2.5")
    found = lint(text)
    assert codes(found) == [("never-pays", "bonus")]
    assert "it first pays at 250%" in found[0].message


def test_scenario_widens_the_plausible_range():
    """When the scenario's top quantile is beyond 200%, a step at 250% is within reach: a
    cliff and a threshold most reps do not reach, not never-pays."""
    quantiles = ((0.1, 1.0), (0.5, 1.8), (0.9, 2.8))
    found = lint(STEP.replace("0.9", "2.5"), attainment_quantiles=quantiles)
    assert sorted(f.code for f in found) == ["payout-cliff", "zero-incentive-above-cap",
                                             "zero-incentive-below-threshold"]
    below = next(f for f in found if f.code == "zero-incentive-below-threshold")
    assert below.severity == "warning"


def test_rank_with_impossible_eligibility_never_pays():
    """Rank components are contests (not scanned), but one nobody is eligible for never pays."""
    text = LINEAR + """\
  - name: contest
    kind: rank
    by: revenue
    awards: [1000]
    when: attainment > 4
"""
    assert codes(lint(text)) == [("never-pays", "contest")]


# --------------------------------------------------------------------------- retroactive tiers

RETRO = """\
  - name: commission
    kind: rate
    base: revenue
    retroactive: true
    tiers:
      - {upto: targets.revenue, rate: 3%}
      - {upto: 2 * targets.revenue, rate: 2%}
      - {rate: 4%}
"""


def test_retroactive_lower_tier_is_a_negative_marginal_rate():
    """Crossing 100% re-rates the whole base from 3% down to 2%: pay falls by 2,500 at 100%
    and is back to 7,500 only at 150%; the tier at 200% going up to 4% is a cliff."""
    found = lint(RETRO)
    assert codes(found) == [("retroactive-negative-marginal", "commission"),
                            ("payout-cliff", "commission")]
    neg, cliff = found
    assert neg.attainment_range == (1.0, 1.5) and neg.severity == "warning"
    assert "pay falls by 2,500" in neg.message and "from 3% down to 2%" in neg.message
    assert neg.span.line == line_of(RETRO, "rate: 2%")
    assert cliff.attainment_range == (2.0, 2.0)


def test_retroactive_lower_tier_read_from_the_plan_when_not_on_the_scan():
    """When the base does not move with attainment, the falling rate is still reported from
    the tiers' constant rates, without an attainment range."""
    text = HEAD.replace("  attainment:", "  units: actuals.units\n  attainment:") + LINEAR + """\
  - name: unit_bonus
    kind: rate
    base: units
    retroactive: true
    tiers:
      - {upto: 100, rate: 5}
      - {rate: 3}
"""
    found = lint_plan(parse_plan(text, "t.yaml"))
    assert codes(found) == [("retroactive-negative-marginal", "unit_bonus")]
    assert found[0].attainment_range is None


# --------------------------------------------------------------------------- robustness

def test_ratio_undefined_at_zero_attainment_is_scanned_from_the_first_step():
    """A plain division by revenue cannot be evaluated at 0%: the scan starts one step up."""
    plan = HEAD.replace("  attainment:", "  collected: actuals.collected\n  attainment:")
    text = plan + LINEAR + """\
  - name: collections
    kind: curve
    input: collected / revenue
    points: [[0, 0], [1, 1]]
"""
    assert lint_plan(parse_plan(text, "t.yaml")) == []


def test_roster_sets_the_reference_rep():
    """Amounts are for the reference rep: a roster with a median TI of 40,000 doubles them."""
    roster = pd.DataFrame({"rep_id": ["a", "b", "c"], "ti": [30_000, 40_000, 50_000],
                           "quota": [1e6, 1e6, 1e6]})
    f = next(f for f in lint(STEP, roster=roster) if f.code == "payout-cliff")
    assert "pay jumps by 5,000 (50% of target incentive)" in f.message


def test_findings_are_frozen_with_stable_codes():
    """Findings are immutable values and their codes come from the documented list."""
    found = lint(RETRO) + lint(DECEL) + lint(STEP)
    assert {f.code for f in found} <= set(CODES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].code = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- deductions

DEDUCTION = LINEAR + """\
  - name: deduction
    kind: rate
    base: actuals.complaints
    rate: -500
"""

BOUNDED_DEDUCTION = LINEAR + """\
  - name: deduction
    kind: rate
    base: min(500 * actuals.complaints, commission)
    rate: -1
"""

CAPPED_DEDUCTION = LINEAR + """\
  - name: deduction
    kind: rate
    base: min(actuals.complaints, 4)
    rate: -500
"""

NEGATIVE_CURVE = """\
  - name: bonus
    kind: curve
    input: attainment
    points: [[0, -0.5], [1, 1]]
"""


def with_top(top: str, components: str) -> str:
    """The test plan with top-level keys added under ``period``."""
    return HEAD.replace("period: quarter\n", "period: quarter\n" + top) + components


def negative(text: str) -> list[Finding]:
    return [f for f in lint_plan(parse_plan(text, "t.yaml")) if f.code == "negative-total"]


def test_deduction_per_complaint_can_make_the_total_negative():
    """A deduction of 500 per complaint with no floor: a rep with one complaint and no sales is
    paid -500; the finding names the component, points at it, and says it has no limit."""
    [f] = negative(HEAD + DEDUCTION)
    assert (f.component, f.severity, f.attainment_range) == ("deduction", "warning", (0.0, 0.05))
    assert f.message == ("component 'deduction' can make the period's total negative: the reference rep at 0% of "
                         "target with complaints at 1 is paid -500, and the deduction has no limit (it keeps "
                         "growing with the count)")
    assert "min(500 * actuals.complaints, commission)" in f.why
    assert (f.span.line, f.span.column) == (line_of(DEDUCTION, "name: deduction"), 5)
    out = format_findings([f], "t.yaml")
    assert out.startswith(f"t.yaml:{f.span.line}:5: warning[negative-total]: component 'deduction'")


def test_deduction_bounded_by_what_the_other_components_pay_is_not_reported():
    """A deduction of at most the commission cannot take the total below 0: no finding,
    whatever the count (the total is computed, not guessed)."""
    assert negative(HEAD + BOUNDED_DEDUCTION) == []
    assert lint(BOUNDED_DEDUCTION) == lint(LINEAR)


def test_a_capped_deduction_is_not_unlimited():
    """min() on the count caps the deduction at 2,000: still below 0 without sales, but with no
    'no limit' clause."""
    [f] = negative(HEAD + CAPPED_DEDUCTION)
    assert f.severity == "warning" and "no limit" not in f.message


def test_base_pay_decides_the_severity():
    """With base pay (20,000 a quarter): a capped deduction comes out of base pay (info, it says
    so); an unlimited one can take more than the base pay (warning)."""
    [capped] = negative(with_top("base_pay: roster.base_salary / 4\n", CAPPED_DEDUCTION))
    assert capped.severity == "info"
    assert capped.message.endswith("; the base pay of 20,000 covers it, so the deduction comes out of base pay")
    assert capped.why.endswith("or cap it with min(...) below the base pay")
    [unlimited] = negative(with_top("base_pay: roster.base_salary / 4\n", DEDUCTION))
    assert unlimited.severity == "warning" and unlimited.message.endswith("; it can take more than the base pay")


def test_a_curve_below_zero_is_a_deduction():
    """A curve whose first point pays -0.5x target pay: the reference rep at 0% is paid -2,500
    (no count needed); negative up to 30% of target."""
    [f] = negative(HEAD + NEGATIVE_CURVE)
    assert f.component == "bonus" and f.attainment_range == (0.0, 0.3)
    assert "the reference rep at 0% of target is paid -2,500" in f.message


@pytest.mark.parametrize("top", ["accumulate: year\n", "draw: {amount: 0, recoverable: false}\n"],
                         ids=["true-up without clawback", "draw"])
def test_a_floor_on_the_payment_is_not_reported(top):
    """A year-to-date plan without clawback pays max(YTD earned - paid, 0) and a draw tops the
    payment up to its amount: neither payment can be negative."""
    assert negative(with_top(top, DEDUCTION)) == []
    assert negative(with_top(top, NEGATIVE_CURVE)) == []


def test_clawback_is_judged_on_the_year_to_date_earnings():
    """With clawback a negative payment that recovers earlier pay is intended: a plan that only
    pays is not reported; a deduction that takes the year's earnings below 0 is."""
    clawback = "accumulate: year\nclawback: true\n"
    assert negative(with_top(clawback, LINEAR)) == []
    assert negative(with_top(clawback, BOUNDED_DEDUCTION)) == []
    [f] = negative(with_top(clawback, DEDUCTION))
    assert f.message.startswith("component 'deduction' can make the year-to-date earnings negative")
    assert f.why.startswith("clawback recovers what was paid earlier in the year")


def test_a_component_gated_on_a_count_is_not_never_pays():
    """A bonus paid on revenue once a rep wins a new customer: the reference rep has none, but
    a rep with one is paid, so it is no 'never-pays' (nor a deduction)."""
    text = LINEAR + """\
  - name: new_logo_bonus
    kind: rate
    base: revenue
    rate: 1%
    when: actuals.new_customers > 0
"""
    assert lint(text) == lint(LINEAR)


def test_no_shipped_plan_can_pay_a_negative_total():
    """None of the shipped plans has a deduction that can make a total negative (the seeds
    plan's complaints penalty multiplies by 0.8; seeds_cn_deals pays only amounts >= 0)."""
    for path in sorted(PLANS.glob("*.yaml")):
        assert [f for f in lint_plan(load_plan(path)) if f.code == "negative-total"] == [], path.name


# --------------------------------------------------------------------------- output format

def test_format_one_paragraph_per_finding():
    """Each finding is 'FILE:LINE:COL: SEVERITY[CODE]: MESSAGE — WHY', paragraphs apart,
    then a count."""
    text = STEP
    out = format_findings(lint(text), "plan.yaml")
    paragraphs = out.split("\n\n")
    assert len(paragraphs) == 4
    line = line_of(text, "at: 0.9")
    assert re.fullmatch(rf"plan\.yaml:{line}:\d+: warning\[payout-cliff\]: component 'bonus': "
                        r"pay jumps by 2,500 \(50% of target incentive\) at 90% of target .* — "
                        r"a rep at 87% gains 2,500 .*", paragraphs[1])
    assert paragraphs[-1].startswith("3 design hazards: 3 warnings, 0 info")


def test_format_without_findings():
    """No findings: one line saying so."""
    assert format_findings([], "plan.yaml") == "no design hazards found"


def test_format_plan_level_finding_without_position():
    """A finding without a span shows the file alone."""
    f = Finding("payout-cliff", None, (1.0, 1.0), "warning", "the plan's total: ...", "why", None)
    out = format_findings([f], "p.yaml")
    assert out.startswith("p.yaml: warning[payout-cliff]: the plan's total")


# --------------------------------------------------------------------------- shipped plans

SHIPPED = {
    "seeds_base_float_excess": [
        ("zero-incentive-below-threshold", "base_and_float", (0.0, 0.8), "info"),
        ("payout-cliff", "base_and_float", (0.8, 0.8), "warning"),
        ("payout-cliff", "base_and_float", (1.0, 1.0), "warning"),
        ("zero-incentive-above-cap", "excess_commission", (1.4, math.inf), "warning"),
    ],
    "classic_ae": [
        ("zero-incentive-below-threshold", "quota_bonus", (0.0, 0.5), "info"),
        ("payout-cliff", "quota_bonus", (0.5, 0.5), "warning"),
        ("zero-incentive-above-cap", "quota_bonus", (3.0, math.inf), "info"),
    ],
    "kpi_scorecard": [
        ("row-level-meaning", None, None, "info"),  # csat: {aggregate: mean}: a split row counts in full
        ("zero-incentive-above-cap", "kpi", (2.0, math.inf), "info"),
        ("zero-incentive-below-threshold", "kpi", (0.0, 0.5), "info"),
        ("payout-cliff", "kpi", (0.5, 0.5), "warning"),
    ],
    "annual_quarterly_trueup": [
        ("zero-incentive-below-threshold", "revenue_bonus", (0.0, 0.5), "info"),
        ("payout-cliff", "revenue_bonus", (0.5, 0.5), "warning"),
        ("zero-incentive-above-cap", None, (1.75, math.inf), "info"),
    ],
    "team_contest": [],
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_plans(name):
    """The shipped plans' hazards: the seeds plan's steps at 80% and 100% are cliffs and its
    commission cap at 140% leaves no incentive above it; classic_ae's threshold pays 25% of
    TI at once and its curve is flat above 300% (info: few get there); the KPI gate at 50%
    is a cliff; the true-up plan's cap binds at 175%; the contest plan's commission is
    linear and its contests are not scanned."""
    found = lint_plan(load_plan(PLANS / f"{name}.yaml"))
    got = [(f.code, f.component, f.attainment_range, f.severity) for f in found]
    assert got == SHIPPED[name]


def test_seeds_cliff_message():
    """The seeds plan's 100% step: a rep at 97% gains the 3,000 floating bonus."""
    found = lint_plan(load_plan(PLANS / "seeds_base_float_excess.yaml"))
    f = next(f for f in found if f.code == "payout-cliff" and f.attainment_range == (1.0, 1.0))
    assert "pay jumps by 3,000 (60% of target incentive) at 100% of target" in f.message
    assert "a rep at 97% gains 3,000" in f.why
    assert f.span.line == 52


def test_scenario_rates_findings_by_simulated_attainment():
    """With a scenario, the plan is simulated and its attainment quantiles rate findings:
    messages say what share of reps a zone concerns."""
    from engine.sim.scenario import default_scenario

    checked = load_plan(PLANS / "classic_ae.yaml")
    q = scenario_quantiles(checked, default_scenario(), runs=5)
    assert [p for p, _ in q] == [0.1, 0.5, 0.9] and q[0][1] < q[1][1] < q[2][1]
    found = lint_plan(checked, attainment_quantiles=q)
    assert {f.code for f in found} == {"zero-incentive-below-threshold", "payout-cliff",
                                       "zero-incentive-above-cap"}
    for f in found:
        if f.code.startswith("zero-incentive"):
            assert "of reps sit" in f.message


YEAR_TOTALS = """\
  - name: commission
    kind: rate
    base: revenue
    rate: 0.5 * roster.ti / roster.quota
  - name: overachievement
    kind: rate
    base: max(revenue - roster.quota, 0)
    rate: 0.5 * roster.ti / roster.quota
  - name: annual_bonus
    kind: step
    input: revenue / targets.revenue
    when: targets.revenue >= roster.quota
    steps: [{at: 1.0, pay: 0.25 * roster.ti}]
"""


def test_components_judged_against_the_year_pay_at_its_end():
    """In a year-to-date plan (accumulate: year) a rate on sales beyond the *annual* quota and a
    bonus gated on the year's end pay nothing in one quarter but do over the year (Chung,
    Steenburgh & Sudhir 2014's plan): no never-pays. One that pays nothing even over a whole
    year at 200% of target (beyond three annual quotas) still is."""
    assert "never-pays" not in [f.code for f in lint_plan(parse_plan("accumulate: year\n" + HEAD + YEAR_TOTALS,
                                                                     "t.yaml"))]
    beyond_three = YEAR_TOTALS.replace("max(revenue - roster.quota, 0)", "max(revenue - 3 * roster.quota, 0)")
    found = lint_plan(parse_plan("accumulate: year\n" + HEAD + beyond_three, "t.yaml"))
    assert [(f.code, f.component) for f in found if f.code == "never-pays"] == [("never-pays", "overachievement")]
    # Without accumulate the year's totals never build up: one quarter is all there is.
    found = lint_plan(parse_plan(HEAD + YEAR_TOTALS, "t.yaml"))
    assert {f.component for f in found if f.code == "never-pays"} == {"overachievement", "annual_bonus"}


def test_the_check_table_says_what_year_components_earn_over_the_year():
    """The payout table (one period) shows 0 for them; its notes give the year's earnings at
    each level, computed by hand: the overachievement rate 0.5 x 20,000 / 1,000,000 = 1% on the
    year's sales beyond 1,000,000 (120%: 2,000; 150%: 5,000); the bonus 5,000 from 100%."""
    from engine.data.summary import payout_table

    table, notes = payout_table(parse_plan("accumulate: year\n" + HEAD + YEAR_TOTALS, "t.yaml"))
    assert table.loc["overachievement"].abs().max() == 0 and table.loc["annual_bonus"].abs().max() == 0
    assert ("overachievement is judged against the year's totals, so one period shows it paying nothing: over a "
            "plan year with every period at the level it earns 0 / 0 / 0 / 2,000 / 5,000 (at 50%, 80%, 100%, 120%, "
            "150%)") in notes
    assert any(n.startswith("annual_bonus is judged") and "0 / 0 / 5,000 / 5,000 / 5,000" in n for n in notes)
    _, plain = payout_table(parse_plan(HEAD + YEAR_TOTALS, "t.yaml"))
    assert not any("judged against the year" in n for n in plain)
