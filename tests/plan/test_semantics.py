"""The language's rules, checked on hand-made inputs with numbers worked out from the spec.

Each test evaluates with both evaluators (they must agree) and compares with the value the
specification gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.errors import EvaluationError
from tests.plan.helpers import evaluate_both, make_inputs

HEAD = """\
plan: t
period: month
target_incentive: roster.ti
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota
components:
"""


def one_rep(component: str, revenue, quota=100.0, ti=1000.0, extra=""):
    revenue = np.atleast_1d(np.asarray(revenue, dtype=float))
    inputs = make_inputs({"ti": [ti] * len(revenue), "quota": [quota] * len(revenue)},
                         {"revenue": revenue.reshape(-1, 1)})
    return evaluate_both(HEAD + component + extra, inputs)


CURVE = """\
  - name: c
    kind: curve
    input: revenue / targets.revenue
    points: [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]
"""


def test_curve_threshold_interpolation_and_extend():
    """Below the first x pays 0; at it the first y; linear between; beyond extends the last slope."""
    res = one_rep(CURVE, [49.999, 50, 75, 100, 125, 150, 200])
    assert res.total[:, 0].tolist() == pytest.approx([0, 250, 625, 1000, 1500, 2000, 3000])


def test_curve_flat_and_step():
    """beyond: flat holds the last y; interpolate: step pays the y of the last point reached."""
    flat = one_rep(CURVE + "    beyond: flat\n", [200])
    assert flat.total[0, 0] == pytest.approx(2000)
    step = one_rep(CURVE + "    interpolate: step\n", [49, 50, 99.9, 100, 149, 300])
    assert step.total[:, 0].tolist() == pytest.approx([0, 250, 250, 1000, 1000, 2000])


def test_curve_single_point_holds():
    """A single point holds its y beyond it."""
    res = one_rep(CURVE.replace("[[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]", "[[1.0, 0.5]]"), [90, 100, 500])
    assert res.total[:, 0].tolist() == pytest.approx([0, 500, 500])


def test_curve_weight_scales_target_pay():
    """Target pay is weight * target_incentive."""
    res = one_rep(CURVE + "    weight: 0.6\n", [100])
    assert res.total[0, 0] == pytest.approx(600)


TIERS = """\
  - name: r
    kind: rate
    base: revenue
    tiers:
      - {upto: 100, rate: 3%}
      - {upto: 200, rate: 6%}
      - {rate: 2%}
"""


def test_marginal_tiers():
    """Each slice earns its own rate; negative bases earn the first tier's rate."""
    res = one_rep(TIERS, [50, 100, 150, 300, -40])
    assert res.total[:, 0].tolist() == pytest.approx([1.5, 3, 6, 3 + 6 + 2, -1.2])


def test_marginal_tiers_nothing_above_last_upto():
    """With an upto on the last tier, nothing is paid above it."""
    res = one_rep(TIERS.replace("      - {rate: 2%}\n", ""), [300])
    assert res.total[0, 0] == pytest.approx(9)


def test_retroactive_tiers_boundary_stays_lower():
    """Retroactive: the highest tier reached applies to the whole base; exactly at upto stays lower."""
    res = one_rep(TIERS + "    retroactive: true\n", [100, 100.5, 200, 250, -10])
    assert res.total[:, 0].tolist() == pytest.approx([3, 6.03, 12, 5, -0.3])


def test_single_rate():
    """A single rate pays rate * base."""
    res = one_rep("  - {name: r, kind: rate, base: revenue, rate: 5%}\n", [80])
    assert res.total[0, 0] == pytest.approx(4)


def test_step_reached_means_at_or_above():
    """A step is reached when input >= at, with no tolerance."""
    comp = ("  - name: s\n    kind: step\n    input: revenue / targets.revenue\n    steps:\n"
            "      - {at: 80%, pay: 0.3 * target_incentive}\n      - {at: 1.0, pay: 0.7 * target_incentive}\n")
    res = one_rep(comp, [79.9999, 80, 99.99, 100, 500])
    assert res.total[:, 0].tolist() == pytest.approx([0, 300, 300, 1000, 1000])


def test_rank_tie_sharing_example_from_spec():
    """200, 150, 150, 120 -> awards 5000, 2000, 2000, 0 with awards [5000, 3000, 1000]."""
    comp = "  - {name: g, kind: rank, by: revenue, awards: [5000, 3000, 1000]}\n"
    inputs = make_inputs({"ti": [1] * 4, "quota": [1] * 4}, {"revenue": [[200], [150], [150], [120]]})
    res = evaluate_both(HEAD + comp, inputs)
    assert res.total[:, 0].tolist() == pytest.approx([5000, 2000, 2000, 0])


def test_rank_only_eligible_and_groups():
    """Only eligible reps are ranked, within each group."""
    comp = ("  - name: g\n    kind: rank\n    by: revenue\n    group: roster.team\n"
            "    awards: [100, 10]\n    when: revenue >= 100\n")
    inputs = make_inputs({"ti": [1] * 5, "quota": [1] * 5, "team": ["a", "a", "a", "b", "b"]},
                         {"revenue": [[300], [50], [120], [90], [110]]})
    res = evaluate_both(HEAD + comp, inputs)
    assert res.total[:, 0].tolist() == pytest.approx([100, 0, 10, 0, 100])


def test_rank_function_ties_share_best_rank():
    """rank(x): 1 = highest, ties share the best rank (1, 2, 2, 4)."""
    comp = "  - {name: r, kind: rate, base: rank(revenue), rate: 1}\n"
    inputs = make_inputs({"ti": [1] * 4, "quota": [1] * 4}, {"revenue": [[200], [150], [150], [120]]})
    res = evaluate_both(HEAD + comp, inputs)
    assert res.total[:, 0].tolist() == [1, 2, 2, 4]


def test_previous_and_group_functions():
    """previous() is 0 in the first period; group_sum/group_mean are per key and period."""
    comp = ("  - {name: p, kind: rate, base: previous(revenue), rate: 1}\n"
            "  - {name: s, kind: rate, base: \"group_sum(revenue, roster.team)\", rate: 1}\n"
            "  - {name: m, kind: rate, base: \"group_mean(revenue, roster.team)\", rate: 1}\n")
    inputs = make_inputs({"ti": [1] * 3, "quota": [1] * 3, "team": ["a", "a", "b"]},
                         {"revenue": [[10, 20], [30, 40], [5, 6]]})
    res = evaluate_both(HEAD + comp, inputs)
    assert res.columns["p"].tolist() == [[0, 10], [0, 30], [0, 5]]
    assert res.columns["s"].tolist() == [[40, 60], [40, 60], [5, 6]]
    assert res.columns["m"].tolist() == [[20, 30], [20, 30], [5, 6]]


def test_scorecard_score_and_gate():
    """The score is the weighted sum of metric scores; it exists even where the gate is false."""
    comp = """\
  - name: kpi
    kind: scorecard
    weight: 0.5
    when: revenue >= 60
    metrics:
      - {name: a, input: revenue / targets.revenue, weight: 0.75, points: [[0, 0], [1, 1]], beyond: flat}
      - {name: b, input: actuals.csat / 5, weight: 0.25, points: [[0.6, 0], [1, 1]], beyond: flat}
  - {name: echo, kind: rate, base: kpi.score, rate: 1}
"""
    inputs = make_inputs({"ti": [1000] * 2, "quota": [100] * 2},
                         {"revenue": [[80], [40]], "csat": [[4], [5]]})
    res = evaluate_both(HEAD + comp, inputs)
    # rep 0: 0.75*0.8 + 0.25*0.5 = 0.725 -> payout 0.725 * 500; rep 1: 0.75*0.4 + 0.25 = 0.55, gated.
    assert res.columns["kpi"][:, 0].tolist() == pytest.approx([362.5, 0])
    assert res.columns["echo"][:, 0].tolist() == pytest.approx([0.725, 0.55])


def test_modifiers_component_cap_plan_cap():
    """Component cap before modifiers; modifiers in order; the plan cap goes to adjustment."""
    plan = HEAD + """\
  - {name: a, kind: rate, base: revenue, rate: 1, cap: 150}
  - {name: b, kind: rate, base: revenue, rate: 0.5}
modifiers:
  - {name: half, when: actuals.complaints > 3, multiply: 0.5, applies_to: [a]}
  - {name: bonus, multiply: 1.1}
cap: 200
"""
    inputs = make_inputs({"ti": [1] * 2, "quota": [1] * 2},
                         {"revenue": [[200], [100]], "complaints": [[5], [0]]})
    res = evaluate_both(plan, inputs)
    # rep 0: a = min(200,150)=150 *0.5*1.1 = 82.5; b = 100*1.1 = 110; total 192.5 < 200
    # rep 1: a = 100 * 1.1 = 110; b = 50 * 1.1 = 55; total 165
    assert res.columns["a"][:, 0].tolist() == pytest.approx([82.5, 110])
    assert res.total[:, 0].tolist() == pytest.approx([192.5, 165])
    capped = evaluate_both(plan.replace("cap: 200", "cap: 150"), inputs)
    assert capped.total[:, 0].tolist() == pytest.approx([150, 150])
    assert capped.adjustment[:, 0].tolist() == pytest.approx([-42.5, -15])


def test_accumulate_year_true_up_and_clawback():
    """With accumulate: year each period pays max(YTD earned - paid to date, 0); clawback allows < 0."""
    plan = HEAD.replace("period: month", "period: month\naccumulate: year") + \
        "  - {name: c, kind: rate, base: revenue, rate: 10%}\n"
    inputs = make_inputs({"ti": [1], "quota": [1]}, {"revenue": [[100, -50, 30, 200]]})
    res = evaluate_both(plan, inputs)
    # YTD earned: 10, 5, 8, 28 -> pays 10, 0, 0, 18 (paid to date 10, 10, 10, 28)
    assert res.total[0].tolist() == pytest.approx([10, 0, 0, 18])
    assert res.columns["c"][0].tolist() == pytest.approx([10, -5, 3, 20])
    claw = evaluate_both(plan.replace("accumulate: year", "accumulate: year\nclawback: true"), inputs)
    assert claw.total[0].tolist() == pytest.approx([10, -5, 3, 20])


def test_recoverable_draw():
    """A recoverable draw tops up and recovers from later earnings above the draw."""
    plan = HEAD + "  - {name: c, kind: rate, base: revenue, rate: 1}\ndraw: {amount: 100, recoverable: true}\n"
    inputs = make_inputs({"ti": [1], "quota": [1]}, {"revenue": [[30, 250, 120, 400]]})
    res = evaluate_both(plan, inputs)
    # owed: 70 after m1; m2 recovers 70 of the 150 above the draw -> 180; m3 120; m4 400
    assert res.total[0].tolist() == pytest.approx([100, 180, 120, 400])
    nonrec = evaluate_both(plan.replace("recoverable: true", "recoverable: false"), inputs)
    assert nonrec.total[0].tolist() == pytest.approx([100, 250, 120, 400])


def test_proration_scales_targets_and_ti_not_amounts():
    """Proration scales targets and target_incentive, not amounts written in the plan."""
    plan = HEAD + CURVE + "  - {name: flat, kind: step, input: revenue, steps: [{at: 0, pay: 100}]}\n"
    inputs = make_inputs({"ti": [1000], "quota": [100]}, {"revenue": [[50]]}, proration=[[0.5]])
    res = evaluate_both(plan, inputs)
    # prorated target 50 -> attainment 1.0 -> pays 1.0 x prorated TI 500; the step's 100 is not prorated
    assert res.columns["c"][0, 0] == pytest.approx(500)
    assert res.columns["flat"][0, 0] == pytest.approx(100)


def test_division_by_zero_names_rep_period_expression():
    """A non-finite value is an error naming the rep, the period and the expression."""
    inputs = make_inputs({"ti": [1, 1], "quota": [100, 0]}, {"revenue": [[10], [10]]})
    with pytest.raises(EvaluationError) as info:
        evaluate_both(HEAD + CURVE, inputs)
    err = info.value
    assert (err.rep, err.period, err.expression) == ("r1", "2027-01", "revenue / targets.revenue")


def test_safe_div_avoids_the_error():
    """safe_div(a, b, default) returns the default where b is 0."""
    comp = CURVE.replace("input: revenue / targets.revenue", "input: \"safe_div(revenue, targets.revenue, 0)\"")
    inputs = make_inputs({"ti": [1000, 1000], "quota": [100, 0]}, {"revenue": [[100], [10]]})
    res = evaluate_both(HEAD + comp, inputs)
    assert res.total[:, 0].tolist() == pytest.approx([1000, 0])


def test_text_comparison_on_roster():
    """String literals compare with == against text columns."""
    comp = "  - {name: r, kind: rate, base: revenue, rate: \"where(roster.role == 'manager', 0.1, 0.05)\"}\n"
    inputs = make_inputs({"ti": [1] * 2, "quota": [1] * 2, "role": ["manager", "rep"]}, {"revenue": [[100], [100]]})
    res = evaluate_both(HEAD + comp, inputs)
    assert res.total[:, 0].tolist() == pytest.approx([10, 5])


def test_grades_first_band_reached():
    """Each rep gets the grade of the first band whose min it reaches."""
    plan = HEAD + CURVE + ("grades:\n  input: revenue / targets.revenue\n"
                           "  bands: [{min: 1.0, grade: A}, {min: 0.8, grade: B}, {grade: C}]\n")
    inputs = make_inputs({"ti": [1] * 3, "quota": [100] * 3}, {"revenue": [[100], [80], [79.99]]})
    res = evaluate_both(plan, inputs)
    assert res.grades[:, 0].tolist() == ["A", "B", "C"]


def test_grade_codes_spell_the_grades_with_or_without_the_evaluators_codes():
    """Statements read grades as codes into labels: the compiled evaluator's own codes and an
    object array of grades alone (the reference evaluator's) spell the same grades, an
    inactive cell's label empty."""
    from dataclasses import replace

    plan = HEAD + CURVE + ("grades:\n  input: revenue / targets.revenue\n"
                           "  bands: [{min: 1.0, grade: A}, {min: 0.8, grade: B}, {grade: C}]\n")
    inputs = make_inputs({"ti": [1] * 4, "quota": [100] * 4}, {"revenue": [[100], [80], [79.99], [120]]})
    inputs.active[3] = False
    res = evaluate_both(plan, inputs)
    assert res.grades[:, 0].tolist() == ["A", "B", "C", ""]
    for arrays in (res, replace(res, grade_codes=None, grade_labels=())):
        codes, labels = arrays.grade_texts()
        assert np.array(labels, dtype=object)[codes][:, 0].tolist() == ["A", "B", "C", ""]
    assert replace(res, grades=None).grade_texts() is None


def test_previous_is_zero_after_a_gap_in_periods():
    """previous() is the value of the previous calendar period: after a gap (Q1 then Q3) it is 0."""
    from engine.data import parse_period_label

    periods = tuple(parse_period_label(lbl, "quarter") for lbl in ("2027-Q1", "2027-Q2", "2027-Q4"))
    plan = HEAD.replace("period: month", "period: quarter") + \
        "  - {name: p, kind: rate, base: previous(revenue), rate: 1}\n"
    inputs = make_inputs({"ti": [1], "quota": [1]}, {"revenue": [[10, 20, 40]]}, periods=periods)
    res = evaluate_both(plan, inputs)
    assert res.columns["p"][0].tolist() == [0, 10, 0]
