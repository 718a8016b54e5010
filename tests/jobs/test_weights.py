"""The team sets its KPI weights: votes to weights within bounds, checked by simulation (issue 26)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine
from engine.core.errors import DataErrors, PlanErrors
from engine.jobs.weights import (
    project_to_bounds,
    read_votes,
    round_weights,
    scorecard_measures,
    weights_from_votes,
)
from engine.plan import load_plan, parse_plan
from engine.plan.rewrite import plan_numbers
from engine.sim.scenario import parse_scenario
from tests.cli import incentive, invoke

ROOT = Path(__file__).resolve().parents[2]
KPI = ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml"
VOTES = ROOT / "scenarios" / "data" / "kpi_scorecard_votes.csv"
METRICS = ["revenue_attainment", "collection_rate", "satisfaction", "new_logos"]

# A three-metric scorecard, weights 0.5 / 0.3 / 0.2: bounds with the default change of 0.1
# are a [0.4, 0.6], b [0.2, 0.4], c [0.1, 0.3].
TOY = """\
plan: toy_card
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota / 4
components:
  - name: card
    kind: scorecard
    metrics:
      - {name: a, input: revenue / targets.revenue, weight: 0.5, points: [[0, 0], [1, 1]]}
      - {name: b, input: revenue / targets.revenue, weight: 0.3, points: [[0, 0], [1, 1]]}   # keep me
      - {name: c, input: revenue / targets.revenue, weight: 0.2, points: [[0, 0], [1, 1]]}
"""

SMALL_TEAM = "scenario: small_team\nseed: 11\nteam: {reps: 24, teams: 2, extra_columns: {new_customer_quota: 24}}\n"


def toy() -> engine.CheckedPlan:
    return parse_plan(TOY, "toy_card.yaml")


def votes(rows: list[list[float]], names: tuple[str, ...] = ("a", "b", "c")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(names))


def final(vw) -> list[float]:
    return [float(x) for x in vw.table["final"]]


# --------------------------------------------------------------------------- the rule, by hand


def test_a_bound_that_binds_from_below_and_above():
    """Votes (10, 30, 40, 20) and (30, 20, 30, 20) points average to shares (0.2, 0.25, 0.35, 0.2).
    Bounds are 0.4 ± 0.1 and 0.2 ± 0.1: revenue is held at its lower bound 0.3 and satisfaction at
    its upper bound 0.3; the other two share the remaining 0.4 with the same shift λ = -0.025:
    0.225 and 0.175."""
    vw = weights_from_votes(load_plan(KPI), votes([[10, 30, 40, 20], [30, 20, 30, 20]], tuple(METRICS)))
    assert list(vw.table["team"]) == pytest.approx([0.2, 0.25, 0.35, 0.2])
    assert final(vw) == [0.3, 0.225, 0.3, 0.175]
    assert list(vw.table["bound"]) == ["lower", "", "upper", ""]
    assert plan_numbers(vw.checked)["kpi.collection_rate"] == 0.225
    assert vw.weights == dict(zip(METRICS, [0.3, 0.225, 0.3, 0.175]))


def test_mean_within_bounds_is_kept_and_a_rounding_tie_goes_to_the_first_metric():
    """Shares (0.6, 0.3, 0.1), (0.2, 0.5, 0.3), (0.5, 0.2, 0.3): the mean (0.4333.., 0.3333..,
    0.2333..) is within the bounds, so it is the answer. With 4 decimals the floors 0.4333,
    0.3333, 0.2333 miss one unit; the three remainders are equal (a tie), so it goes to the
    metric listed first: 0.4334, 0.3333, 0.2333."""
    vw = weights_from_votes(toy(), votes([[60, 30, 10], [20, 50, 30], [50, 20, 30]]))
    assert list(vw.table["team"]) == pytest.approx([1.3 / 3, 1.0 / 3, 0.7 / 3])
    assert list(vw.table["exact"]) == pytest.approx([1.3 / 3, 1.0 / 3, 0.7 / 3], abs=1e-12)
    assert final(vw) == [0.4334, 0.3333, 0.2333]
    assert list(vw.table["bound"]) == ["", "", ""]


def test_median_differs_from_mean_and_is_shifted_to_sum_to_one():
    """The same three voters with ``median``: per-metric medians (0.5, 0.3, 0.3) sum to 1.1;
    the closest weights summing to 1 subtract 0.1/3 from each: (0.46667, 0.26667, 0.26667),
    within the bounds. Rounded: floors 0.4666, 0.2666, 0.2666 miss two units, the remainders
    tie, so the first two metrics get them: 0.4667, 0.2667, 0.2666."""
    vw = weights_from_votes(toy(), votes([[60, 30, 10], [20, 50, 30], [50, 20, 30]]), method="median")
    assert list(vw.table["team"]) == pytest.approx([0.5, 0.3, 0.3])
    assert list(vw.table["exact"]) == pytest.approx([0.5 - 0.1 / 3, 0.3 - 0.1 / 3, 0.3 - 0.1 / 3], abs=1e-12)
    assert final(vw) == [0.4667, 0.2667, 0.2666]


def test_median_of_an_even_number_of_voters_is_the_midpoint_of_the_tied_middle():
    """Four voters: (0.5, 0.3, 0.2), (0.4, 0.4, 0.2), (0.6, 0.2, 0.2), (0.5, 0.2, 0.3). The medians
    are the midpoints of the two middle shares: a (0.5, 0.5) -> 0.5, b (0.2, 0.3) -> 0.25,
    c (0.2, 0.2) -> 0.2; they sum to 0.95, so each gets +0.05/3: (0.51667, 0.26667, 0.21667);
    rounded to 0.5167, 0.2667, 0.2166 (the missing two units go to the first two of three tied
    remainders)."""
    rows = [[50, 30, 20], [40, 40, 20], [60, 20, 20], [50, 20, 30]]
    vw = weights_from_votes(toy(), votes(rows), method="median")
    assert list(vw.table["team"]) == pytest.approx([0.5, 0.25, 0.2])
    assert final(vw) == [0.5167, 0.2667, 0.2166]
    mean = weights_from_votes(toy(), votes(rows))
    assert list(mean.table["team"]) == pytest.approx([0.5, 0.275, 0.225])


def test_each_row_is_normalised_whatever_its_scale():
    """Points, percentages and shares count the same: (5, 3, 2), (50%, 30%, 20%) and
    (0.5, 0.3, 0.2) are one vote each for (0.5, 0.3, 0.2). The voter column may be capitalised."""
    df = pd.DataFrame({"Voter": ["x", "y", "z"], "a": [5, "50%", 0.5], "b": [3, "30%", 0.3], "c": [2, "20%", 0.2]})
    shares = read_votes(df, ["a", "b", "c"])
    assert shares[["a", "b", "c"]].to_numpy() == pytest.approx(np.tile([0.5, 0.3, 0.2], (3, 1)))
    assert list(shares["voter"]) == ["x", "y", "z"]
    assert list(shares.index) == [2, 3, 4]  # spreadsheet rows


def test_weight_change_zero_keeps_the_plan_as_it_is():
    """With --weight-change 0 every bound is the current weight: the plan does not change, and
    the table says which way the team pushed (a and b down, c up)."""
    vw = weights_from_votes(toy(), votes([[10, 10, 80]]), weight_change=0.0)
    assert final(vw) == [0.5, 0.3, 0.2]
    assert list(vw.table["bound"]) == ["lower", "lower", "upper"]
    assert vw.plan_text == TOY and not vw.changed and vw.diff() == []


def test_only_the_weights_change_in_the_text():
    """The new plan is the old text with only the weight numbers replaced: comments, layout and
    the rest are kept byte for byte (the rewrite of ``recalibrate``)."""
    vw = weights_from_votes(toy(), votes([[60, 30, 10], [20, 50, 30], [50, 20, 30]]))
    old, new = TOY.splitlines(), vw.plan_text.splitlines()
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new) if a != b]
    assert [b for _, b in changed] == [
        "      - {name: a, input: revenue / targets.revenue, weight: 0.4334, points: [[0, 0], [1, 1]]}",
        "      - {name: b, input: revenue / targets.revenue, weight: 0.3333, points: [[0, 0], [1, 1]]}   # keep me",
        "      - {name: c, input: revenue / targets.revenue, weight: 0.2333, points: [[0, 0], [1, 1]]}"]
    assert vw.diff()[0] == "--- a/toy_card.yaml"


def test_management_bounds_replace_the_default_ones():
    """``bounds`` set a metric's limits instead of current ± change: a capped at 0.45 here."""
    vw = weights_from_votes(toy(), votes([[80, 10, 10]]), bounds={"a": (0.4, 0.45)})
    # team (0.8, 0.1, 0.1); a held at 0.45; b and c share 0.55 with one shift: 0.275 each.
    assert final(vw) == [0.45, 0.275, 0.275]
    assert list(vw.table["bound"]) == ["upper", "", ""]


def test_the_sample_votes_on_the_kpi_plan():
    """The shipped votes: mean shares (0.29, 0.205, 0.285, 0.22); revenue is held at 0.3, the
    rest shift by -0.01/3 to 0.201667, 0.281667, 0.216667, written 0.2017, 0.2817, 0.2166
    (two missing units to the first two of three tied remainders)."""
    vw = weights_from_votes(load_plan(KPI), VOTES)
    assert list(vw.table["team"]) == pytest.approx([0.29, 0.205, 0.285, 0.22])
    assert final(vw) == [0.3, 0.2017, 0.2817, 0.2166]
    assert sum(vw.weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert list(vw.table["bound"]) == ["lower", "", "", ""]
    assert vw.table.loc[0, "votes_min"] == 0.2 and vw.table.loc[0, "votes_max"] == 0.4
    assert vw.measures == ("revenue", "collected", "csat", "new_customers")


def test_votes_in_excel_read_like_csv(tmp_path):
    """An Excel votes file gives the same weights as the CSV."""
    path = tmp_path / "votes.xlsx"
    pd.read_csv(VOTES).to_excel(path, index=False)
    assert weights_from_votes(load_plan(KPI), path).weights == weights_from_votes(load_plan(KPI), VOTES).weights


def test_scorecard_measures_follow_the_plan_measures():
    """The KPI scorecard reads revenue, collected, csat and new_customers (through its measures)."""
    assert scorecard_measures(load_plan(KPI), "kpi") == ("revenue", "collected", "csat", "new_customers")


def test_weights_from_votes_is_public():
    """``weights_from_votes`` is part of the package's public API."""
    assert "weights_from_votes" in engine.__all__ and engine.weights_from_votes is weights_from_votes


# --------------------------------------------------------------------------- the projection


def test_projection_hand_cases():
    """Inside the box the projection is the shift of the target by (1 - sum) / n; a binding
    bound takes the excess off the others."""
    w, lam = project_to_bounds([0.5, 0.3, 0.3], [0, 0, 0], [1, 1, 1])
    assert w == pytest.approx([0.5 - 0.1 / 3, 0.3 - 0.1 / 3, 0.3 - 0.1 / 3], abs=1e-15)
    assert lam == pytest.approx(-0.1 / 3)
    w, _ = project_to_bounds([1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.6, 1.0, 1.0])
    assert w == pytest.approx([0.6, 0.2, 0.2], abs=1e-15)
    w, _ = project_to_bounds([0.2, 0.2], [0.3, 0.7], [0.3, 0.7])  # the box is one point
    assert list(w) == [0.3, 0.7]


def test_projection_refuses_bounds_that_cannot_sum_to_one():
    """Lower bounds above 1 in total, or upper bounds below 1, have no solution."""
    with pytest.raises(ValueError, match="does not include 1"):
        project_to_bounds([0.5, 0.5], [0.6, 0.6], [1, 1])
    with pytest.raises(ValueError, match="does not include 1"):
        project_to_bounds([0.5, 0.5], [0, 0], [0.4, 0.4])


@st.composite
def boxes(draw):
    n = draw(st.integers(2, 6))
    t = np.array(draw(st.lists(st.floats(-1, 2), min_size=n, max_size=n)))
    lo = np.array(draw(st.lists(st.floats(0, 0.5), min_size=n, max_size=n)))
    width = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    hi = np.minimum(lo + width, 1.0)
    assume(lo.sum() <= 1.0 - 1e-9 and hi.sum() >= 1.0 + 1e-9)
    return t, lo, hi


@settings(max_examples=150, deadline=None)
@given(boxes())
def test_projection_is_the_closest_feasible_point(box):
    """The result sums to 1 (1e-12), stays in the box, meets the optimality (KKT) conditions of
    min |w - t|^2 — free coordinates are t + λ, those at a lower bound have t + λ <= lo, those
    at an upper bound t + λ >= hi — and no general optimiser (SLSQP) finds a closer point."""
    from scipy.optimize import minimize

    t, lo, hi = box
    w, lam = project_to_bounds(t, lo, hi)
    assert abs(w.sum() - 1.0) <= 1e-12
    assert np.all(w >= lo - 1e-15) and np.all(w <= hi + 1e-15)
    for wi, ti, a, b in zip(w, t, lo, hi):
        free = abs(wi - (ti + lam)) <= 1e-12
        at_lower = abs(wi - a) <= 1e-12 and ti + lam <= a + 1e-9
        at_upper = abs(wi - b) <= 1e-12 and ti + lam >= b - 1e-9
        assert free or at_lower or at_upper or a == b  # a fixed coordinate has no condition
    res = minimize(lambda x: float(((x - t) ** 2).sum()), np.clip(np.full(len(t), 1 / len(t)), lo, hi),
                   jac=lambda x: 2 * (x - t), method="SLSQP", bounds=list(zip(lo, hi)),
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0}], options={"ftol": 1e-14})
    if res.success and abs(res.x.sum() - 1) < 1e-9:
        assert ((w - t) ** 2).sum() <= ((res.x - t) ** 2).sum() + 1e-9


@settings(max_examples=150, deadline=None)
@given(boxes(), st.integers(2, 5))
def test_rounding_keeps_the_sum_exact_and_the_bounds(box, decimals):
    """Rounded weights are whole units of 10^-decimals adding up to exactly one, within the
    bounds (rounded inward to the grid), and each within one unit of the exact weight."""
    t, lo, hi = box
    unit = 10 ** decimals
    lo_g, hi_g = np.ceil(lo * unit - 1e-6) / unit, np.floor(hi * unit + 1e-6) / unit
    assume(np.all(lo_g <= hi_g) and lo_g.sum() <= 1 and hi_g.sum() >= 1)
    w, _ = project_to_bounds(t, lo_g, hi_g)
    r = round_weights(w, lo_g, hi_g, decimals)
    units = np.round(r * unit).astype(int)
    assert units.sum() == unit
    assert np.all(r >= lo_g - 1e-12) and np.all(r <= hi_g + 1e-12)
    assert np.all(np.abs(r - w) <= 1.0 / unit + 1e-12)


# --------------------------------------------------------------------------- bad votes

HEADER = "voter,revenue_attainment,collection_rate,satisfaction,new_logos\n"
BAD_VOTES = [
    # (case, votes text, error code, what the message must name)
    ("negative", HEADER + "Ana,30,20,30,20\nBen,40,-5,35,30\n", "negative-vote",
     ["row 3", "column 'collection_rate'", "voter 'Ben'", "-5"]),
    ("not a number", HEADER + "Ana,30,20,30,20\nBen,40,lots,35,30\n", "not-a-number",
     ["row 3", "column 'collection_rate'", "voter 'Ben'", "'lots'"]),
    ("all zero", HEADER + "Ana,30,20,30,20\nBen,0,0,0,0\n", "all-zero-votes", ["row 3", "voter 'Ben'"]),
    ("unknown column", "voter,revenue,collection_rate,satisfaction,new_logos\nAna,30,20,30,20\n", "unknown-column",
     ["column 'revenue' is no metric of scorecard 'kpi'", "did you mean 'revenue_attainment'"]),
    ("missing column", "voter,revenue_attainment,collection_rate,satisfaction\nAna,30,20,30\n", "missing-column",
     ["column 'new_logos'", "metric 'new_logos'"]),
    ("duplicate voter", HEADER + "Ana,30,20,30,20\nBen,25,25,25,25\nAna,40,20,20,20\n", "duplicate-voter",
     ["row 4", "column 'voter'", "voter 'Ana' votes twice (rows 2 and 4)"]),
    ("empty cell", HEADER + "Ana,30,20,,20\n", "missing-vote", ["row 2", "column 'satisfaction'", "voter 'Ana'"]),
    ("no voter column", "revenue_attainment,collection_rate,satisfaction,new_logos\n30,20,30,20\n-1,1,1,1\n",
     "negative-vote", ["row 3", "the voter of row 3"]),
]


@pytest.mark.parametrize(("case", "text", "code", "names"), BAD_VOTES, ids=[c[0] for c in BAD_VOTES])
def test_bad_votes_are_clean_errors_naming_row_voter_or_column(tmp_path, case, text, code, names):
    """Each bad vote is an error with its code, naming the row, voter or column; the command
    exits 2 without a traceback and writes no plan."""
    path = tmp_path / "votes.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataErrors) as info:
        weights_from_votes(load_plan(KPI), path)
    assert code in info.value.codes
    out = tmp_path / "new.yaml"
    res = invoke("weights", KPI, "--votes", path, "--out", out, "--runs", 2, "--workers", 1)
    assert res.exit_code == 2, res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    for text_part in names + [f"error[{code}]"]:
        assert text_part in res.output, (text_part, res.output)
    assert not out.exists()


def test_bad_votes_through_the_real_command_have_no_traceback(tmp_path):
    """Run as a user runs it: exit 2, the message on stderr, no traceback, no file."""
    path = tmp_path / "votes.csv"
    path.write_text(HEADER + "Ana,30,20,30,20\nBen,40,-5,35,30\n", encoding="utf-8")
    out = tmp_path / "new.yaml"
    proc = incentive("weights", KPI, "--votes", path, "--out", out, "--runs", 2, "--workers", 1)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "row 3, column 'collection_rate'" in proc.stderr
    assert not out.exists()


def test_bounds_that_cannot_sum_to_one_name_the_metrics():
    """Management bounds whose lower limits add up to more than 1 are refused, naming each
    metric's bounds."""
    with pytest.raises(PlanErrors) as info:
        weights_from_votes(toy(), votes([[1, 1, 1]]), bounds={"a": (0.6, 0.7), "b": (0.35, 0.4)})
    (err,) = info.value.errors
    assert err.code == "infeasible-bounds"
    assert "lower bounds add up to 1.05" in err.message and "a [0.6, 0.7]" in err.message \
        and "b [0.35, 0.4]" in err.message


def test_unknown_scorecard_and_plan_without_one():
    """--scorecard must name a scorecard of the plan (with a did-you-mean); a plan without a
    weighted scorecard has nothing to vote on."""
    res = invoke("weights", KPI, "--votes", VOTES, "--out", "x.yaml", "--scorecard", "kpis")
    assert res.exit_code == 2 and "no scorecard 'kpis'" in res.output and "did you mean 'kpi'" in res.output
    with pytest.raises(PlanErrors, match="has no scorecard"):
        weights_from_votes(load_plan(ROOT / "scenarios" / "plans" / "classic_ae.yaml"), VOTES)


# --------------------------------------------------------------------------- the comparison


def test_comparison_uses_common_random_numbers():
    """Votes equal to the current weights give the same plan: on the same random numbers every
    paired difference is exactly zero."""
    team = parse_scenario(SMALL_TEAM, "small.yaml")
    vw = weights_from_votes(load_plan(KPI), votes([[40, 20, 20, 20]], tuple(METRICS)))
    assert not vw.changed
    vc = vw.compare(team, runs=3, seed=5)
    assert [p.plan.name for p in vc.plans] == ["kpi_scorecard", "kpi_scorecard_voted"]
    for key, d in vc.comparison.differences[0].items():
        if key != "plan" and d["mean"] is not None:
            assert d["mean"] == 0.0, key
    assert list(vc.measures["measure"]) == ["revenue", "collected", "csat", "new_customers"]
    assert (vc.measures["difference"] == 0).all()


def test_cli_end_to_end_on_the_shipped_votes(tmp_path):
    """``incentive weights`` on the shipped KPI plan and votes writes the voted plan and prints
    the weights, the spread of the votes, the diff and the simulated comparison, with the
    measures the scorecard reads; --report writes the compare report with the weights first."""
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL_TEAM, encoding="utf-8")
    out, report = tmp_path / "kpi_voted.yaml", tmp_path / "weights.html"
    proc = incentive("weights", KPI, "--votes", VOTES, "--out", out, "--scenario", scenario, "--runs", 4,
                     "--workers", 1, "--report", report)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "10 voters" in text and "lower bound 0.3000" in text
    assert "Spread of the votes" in text and "+        weight: 0.2017" in text
    assert "kpi_scorecard_voted" in text and "Difference to kpi_scorecard" in text
    assert "Measures the scorecard reads" in text and "new_customers" in text
    assert text.rstrip().endswith(f"wrote {out} and {report}")
    new = load_plan(out)
    assert plan_numbers(new)["kpi.revenue_attainment"] == 0.3 and new.plan.name == "kpi_scorecard"
    assert out.read_text() == weights_from_votes(load_plan(KPI), VOTES).plan_text
    page = report.read_text(encoding="utf-8")
    assert page.count('<section id="weights">') == 1 and page.count('<section id="summary">') == 1
    assert page.index('id="weights"') < page.index('id="summary"')
    assert 'id="measures"' in page and "Made with incentive weights --report." in page
    assert "kpi_scorecard_voted" in page and "lower bound 0.3000" in page


def test_unwritable_report_fails_before_the_work_and_writes_no_plan(tmp_path):
    """An output that cannot be written is a clean error up front (exit 2), and no plan is left."""
    (tmp_path / "not_a_folder").write_text("a file, not a folder")
    out = tmp_path / "new.yaml"
    res = invoke("weights", KPI, "--votes", VOTES, "--out", out, "--report", tmp_path / "not_a_folder" / "r.html",
                 "--runs", 100000)
    assert res.exit_code == 2 and "error[cannot-write]" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]
