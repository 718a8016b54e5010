"""The compiled (numpy) evaluator and the reference (scalar) evaluator agree.

Random valid plans covering every construct of the language (see
:mod:`tests.plan.strategies`) are evaluated by both on random inputs: the unrounded
arrays must agree (floats within rtol 1e-9 / atol 1e-6, grades exactly), either both
raise :class:`EvaluationError` or neither does, and the rounded statements must be equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.errors import EngineError, EvaluationError, PlanErrors
from engine.core.inputs import Inputs
from engine.data.statements import statement_table
from engine.plan import PayoutArrays, ReferenceEvaluator, compile_plan, parse_plan
from tests.plan.strategies import GenPlan, inputs_for, period_infos, plans

RTOL, ATOL = 1e-9, 1e-6
SETTINGS = {"deadline": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


# --------------------------------------------------------------------------- helpers

def evaluate_both(text: str, inputs: Inputs, params: dict[str, float] | None = None):
    """Both evaluators on one plan: ``(checked, compiled result/error, reference result/error)``.

    The error is an :class:`EvaluationError` (a value is not finite), or with ``params`` a
    :class:`PlanErrors` (the new parameter values break a rule of the plan).
    """
    checked = parse_plan(text, "gen.yaml")
    try:
        fast: object = compile_plan(checked, params).evaluate(inputs)
    except (EvaluationError, PlanErrors) as exc:
        fast = exc
    try:
        slow: object = ReferenceEvaluator(checked, inputs, params).run()
    except (EvaluationError, PlanErrors) as exc:
        slow = exc
    return checked, fast, slow


def _close(name: str, a, b, active: np.ndarray | None = None) -> None:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if active is not None:
        a, b = np.where(active, a, 0.0), np.where(active, b, 0.0)
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{name}: compiled vs reference")


def assert_payouts_agree(fast: PayoutArrays, slow: PayoutArrays) -> None:
    """Every unrounded result of the two evaluators agrees."""
    np.testing.assert_array_equal(fast.active, slow.active)
    active = np.asarray(slow.active, dtype=bool)
    _close("total", fast.total, slow.total)
    _close("adjustment", fast.adjustment, slow.adjustment)
    assert fast.columns.keys() == slow.columns.keys()
    for name in slow.columns:
        _close(f"columns[{name}]", fast.columns[name], slow.columns[name])
        _close(f"earned[{name}]", fast.earned[name], slow.earned[name])
        _close(f"modified[{name}]", fast.modified[name], slow.modified[name])
    assert fast.scores.keys() == slow.scores.keys()
    for name in slow.scores:
        # Scores only mean something where the rep has a statement row.
        _close(f"scores[{name}]", fast.scores[name], slow.scores[name], active)
    _close("capped_total", fast.capped_total, slow.capped_total, active)
    _close("paid_before_draw", fast.paid_before_draw, slow.paid_before_draw, active)
    if slow.grades is None:
        assert fast.grades is None
    else:
        np.testing.assert_array_equal(np.asarray(fast.grades, dtype=object),
                                      np.asarray(slow.grades, dtype=object))


def _near_half(units: np.ndarray) -> np.ndarray:
    """Values (in minor units) within 1e-6 of a half unit."""
    frac = np.abs(units) - np.floor(np.abs(units))
    return np.abs(frac - 0.5) <= 1e-6


def _remainder_tie(units: np.ndarray) -> np.ndarray:
    """Rows where two columns' fractional parts are within 1e-6 of each other."""
    frac = units - np.floor(units)
    k = units.shape[1]
    tie = np.zeros(units.shape[0], dtype=bool)
    for i in range(k):
        for j in range(i + 1, k):
            d = np.abs(frac[:, i] - frac[:, j])
            tie |= (d <= 1e-6) | (d >= 1 - 1e-6)
    return tie


def assert_statements_agree(plan, inputs: Inputs, fast: PayoutArrays, slow: PayoutArrays) -> None:
    """The rounded statements of both results are equal, row by row.

    A row is exempt only where rounding is ill-conditioned: the two unrounded results may
    differ in the last bits of a float (sums taken in another order), so where an unrounded
    amount sits within 1e-6 minor units of a half unit, the half-away rounding of the total
    (or of a column) may legitimately go either way; and the largest-remainder allocation
    may hand a unit to either of two columns whose remainders are equal up to the same
    noise. Rows whose unrounded amounts are bitwise identical are never exempt.
    """
    a = statement_table(plan, inputs, fast)
    b = statement_table(plan, inputs, slow)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    pd.testing.assert_series_equal(a["rep_id"], b["rep_id"])
    pd.testing.assert_series_equal(a["period"], b["period"])
    if "grade" in a:
        pd.testing.assert_series_equal(a["grade"], b["grade"])
    names = [c.name for c in plan.components]
    money = names + ["adjustment", "total"]
    scale = 10.0 ** plan.minor_unit
    r_idx, p_idx = np.nonzero(np.asarray(slow.active, dtype=bool))

    def unrounded(res: PayoutArrays) -> np.ndarray:
        cols = [np.asarray(res.columns[n], dtype=np.float64)[r_idx, p_idx] for n in names]
        cols.append(np.asarray(res.adjustment, dtype=np.float64)[r_idx, p_idx])
        cols.append(np.asarray(res.total, dtype=np.float64)[r_idx, p_idx])
        return np.stack(cols, axis=1) * scale

    ua, ub = unrounded(fast), unrounded(slow)
    identical = (ua == ub).all(axis=1)
    exempt = ~identical & (_near_half(ua).any(axis=1) | _near_half(ub).any(axis=1)
                           | _remainder_tie(ua[:, :-1]) | _remainder_tie(ub[:, :-1]))
    va = a[money].to_numpy(dtype=np.float64)
    vb = b[money].to_numpy(dtype=np.float64)
    differ = (va != vb).any(axis=1) & ~exempt
    if differ.any():
        i = int(np.argmax(differ))
        raise AssertionError(
            f"statements differ for rep {a['rep_id'].iloc[i]} period {a['period'].iloc[i]}:\n"
            f"compiled  {dict(zip(money, va[i]))}\nreference {dict(zip(money, vb[i]))}\n"
            f"unrounded compiled  {dict(zip(money, ua[i] / scale))}\n"
            f"unrounded reference {dict(zip(money, ub[i] / scale))}"
        )


def check_agreement(text: str, inputs: Inputs, params: dict[str, float] | None = None) -> None:
    """Both evaluators raise the same kind of error, or agree on every result and statement."""
    checked, fast, slow = evaluate_both(text, inputs, params)
    if isinstance(fast, EngineError) or isinstance(slow, EngineError):
        assert type(fast) is type(slow), (
            f"only one evaluator raised (or not the same error):\ncompiled: {fast!s}\n"
            f"reference: {slow!s}")
        return
    assert_payouts_agree(fast, slow)
    assert_statements_agree(checked.plan, inputs, fast, slow)


@st.composite
def plan_and_inputs(draw, holes: bool = False, **plan_options):
    """A random plan and random inputs for it (``holes``: any activity mask)."""
    gp: GenPlan = draw(plans(**plan_options))
    return gp, draw(inputs_for(gp, holes=holes))


# --------------------------------------------------------------------------- the core

@settings(max_examples=150, **SETTINGS)
@given(case=plan_and_inputs())
def test_compiled_agrees_with_reference(case):
    """The numpy evaluator and the scalar reference agree on every random plan and input."""
    gp, inputs = case
    check_agreement(gp.text, inputs)


@settings(max_examples=60, **SETTINGS)
@given(case=plan_and_inputs(accumulate=True))
def test_compiled_agrees_with_reference_year_to_date(case):
    """The two evaluators agree on year-to-date true-ups, with and without clawback."""
    gp, inputs = case
    check_agreement(gp.text, inputs)


@settings(max_examples=60, **SETTINGS)
@given(case=plan_and_inputs(kinds=("rank",), max_components=3))
def test_compiled_agrees_with_reference_rank(case):
    """The two evaluators agree on contests: eligibility, groups, tie sharing of awards."""
    gp, inputs = case
    check_agreement(gp.text, inputs)


@st.composite
def parameter_overrides(draw, gp: GenPlan) -> dict[str, float]:
    """New values for the bounded parameters, within their bounds (as recalibration does)."""
    out = {}
    for name, (value, lo, hi) in gp.parameters.items():
        if lo is None and hi is None:
            continue
        lo = value if lo is None else lo
        hi = value if hi is None else hi
        out[name] = draw(st.one_of(st.sampled_from([lo, hi, value]), st.floats(lo, hi)))
    return out


@settings(max_examples=40, **SETTINGS)
@given(data=st.data())
def test_compiled_agrees_with_reference_with_parameters(data):
    """The two evaluators agree when parameters are moved within their [min, max] bounds."""
    gp = data.draw(plans())
    inputs = data.draw(inputs_for(gp))
    check_agreement(gp.text, inputs, data.draw(parameter_overrides(gp)))


@pytest.mark.slow
@settings(max_examples=3000, **SETTINGS)
@given(case=plan_and_inputs())
def test_compiled_agrees_with_reference_many(case):
    """The differential test with many more examples (``make test-slow``)."""
    gp, inputs = case
    check_agreement(gp.text, inputs)


@pytest.mark.slow
@settings(max_examples=1000, **SETTINGS)
@given(case=plan_and_inputs(holes=True))
def test_compiled_agrees_with_reference_any_active_mask(case):
    """The two evaluators agree on any activity mask (a rep inactive mid-year and back)."""
    gp, inputs = case
    check_agreement(gp.text, inputs)


# --------------------------------------------------------------------------- simulation runs

def _stack(runs: list[Inputs], shared: bool) -> Inputs:
    """Several inputs of the same shape as one, with a leading simulation-run axis; with
    ``shared`` only the actuals get the axis (one roster and activity for every run)."""
    first = runs[0]
    if shared:
        return Inputs(
            rep_ids=first.rep_ids, periods=first.periods, roster=first.roster,
            actuals={k: np.stack([r.actuals[k] for r in runs]) for k in first.actuals},
            active=first.active, proration=first.proration,
        )
    return Inputs(
        rep_ids=first.rep_ids, periods=first.periods,
        roster={k: np.stack([r.roster[k] for r in runs]) for k in first.roster},
        actuals={k: np.stack([r.actuals[k] for r in runs]) for k in first.actuals},
        active=np.stack([r.active for r in runs]), proration=np.stack([r.proration for r in runs]),
    )


@st.composite
def plan_and_runs(draw):
    """A plan, 2-3 runs of inputs of one shape, and whether the runs share roster and activity."""
    gp = draw(plans())
    first = draw(inputs_for(gp, counts=False))
    runs = [first] + [draw(inputs_for(gp, counts=False, shape=first.shape, periods=first.periods))
                      for _ in range(draw(st.integers(1, 2)))]
    shared = draw(st.booleans())
    if shared:
        runs = [Inputs(rep_ids=first.rep_ids, periods=first.periods, roster=first.roster,
                       actuals={k: np.where(first.active, v, 0.0) for k, v in r.actuals.items()},
                       active=first.active, proration=first.proration) for r in runs]
    return gp, runs, shared


@settings(max_examples=40, **SETTINGS)
@given(case=plan_and_runs())
def test_compiled_over_runs_agrees_with_run_by_run(case):
    """The compiled evaluator on inputs stacked along a leading (simulation-run) axis gives,
    run by run, what it gives on each run alone (and raises if any run raises). Leading
    axes broadcast: runs may share one roster and activity mask."""
    gp, runs, shared = case
    prog = compile_plan(parse_plan(gp.text, "gen.yaml"))
    singles = []
    for inputs in runs:
        try:
            singles.append(prog.evaluate(inputs))
        except EvaluationError:
            with pytest.raises(EvaluationError):
                prog.evaluate(_stack(runs, shared))
            return
    stacked = prog.evaluate(_stack(runs, shared))
    for i, one in enumerate(singles):
        _close("total", stacked.total[i], one.total)
        _close("adjustment", stacked.adjustment[i], one.adjustment)
        for name in one.columns:
            _close(f"columns[{name}]", stacked.columns[name][i], one.columns[name])
            _close(f"earned[{name}]", stacked.earned[name][i], one.earned[name])
        if one.grades is not None:
            np.testing.assert_array_equal(stacked.grades[i], one.grades)


# --------------------------------------------------------------------------- minimal reproductions
# Disagreements the generators above found, reduced to a few lines each (kept as
# regression tests once fixed).

def _one_rep(periods: list[int], **columns) -> Inputs:
    """One rep ("R1", roster ti 400, quota 1000, level 1, team A), quarters from 2027-Q1."""
    P = len(periods)
    active = np.array([columns.pop("active", [True] * P)], dtype=bool)
    return Inputs(
        rep_ids=np.array(["R1"], dtype=object), periods=period_infos("quarter", 1, periods),
        roster={"ti": np.array([400.0]), "quota": np.array([1000.0]), "level": np.array([1.0]),
                "team": np.array(["A"], dtype=object)},
        actuals={k: np.array([v], dtype=np.float64) for k, v in columns.items()},
        active=active, proration=active.astype(np.float64),
    )


def test_year_to_date_column_after_an_inactive_period():
    """With `accumulate: year` a statement column is the change in year-to-date earnings
    since the rep's previous statement, so over a plan year the column adds up to the
    year-to-date earnings. A rep active in Q1 and Q3 but not Q2 (10% of 100 each) earns
    10 then 20 year to date: the columns are 10 and 10, with no adjustment."""
    text = """plan: p
period: quarter
accumulate: year
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
components:
  - {name: commission, kind: rate, base: revenue, rate: "10%"}
"""
    inputs = _one_rep([0, 1, 2], revenue=[100.0, 0.0, 100.0], active=[True, False, True])
    _, fast, slow = evaluate_both(text, inputs)
    for res in (slow, fast):
        np.testing.assert_allclose(res.total, [[10.0, 0.0, 10.0]])
        np.testing.assert_allclose(res.columns["commission"], [[10.0, 0.0, 10.0]])
        np.testing.assert_allclose(res.adjustment, [[0.0, 0.0, 0.0]])


def test_rank_of_a_value_that_is_not_finite():
    """rank() over a value that is NaN for one rep (0 / 0): both evaluators must give the
    same answer (the spec makes a non-finite value an evaluation error)."""
    text = """plan: p
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
  position: "rank(revenue / roster.level)"
components:
  - {name: c, kind: rate, base: position, rate: "1"}
"""
    R = 3
    inputs = Inputs(
        rep_ids=np.array(["R1", "R2", "R3"], dtype=object), periods=period_infos("quarter", 1, [0]),
        roster={"ti": np.full(R, 400.0), "level": np.array([0.0, 1.0, 1.0])},
        actuals={"revenue": np.array([[0.0], [5.0], [3.0]])},
        active=np.ones((R, 1), dtype=bool), proration=np.ones((R, 1)),
    )
    check_agreement(text, inputs)


def test_clip_with_a_bound_that_is_not_finite():
    """clip(x, lo, hi) with lo = 0 / 0 (NaN): both evaluators must agree (the compiled one
    propagates the NaN and raises a non-finite error, like min and max do)."""
    text = """plan: p
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
  bounded: "clip(revenue, revenue / roster.level, 5)"
components:
  - {name: c, kind: rate, base: bounded, rate: "1"}
"""
    inputs = _one_rep([0], revenue=[0.0])
    inputs = Inputs(rep_ids=inputs.rep_ids, periods=inputs.periods,
                    roster={**inputs.roster, "level": np.array([0.0])}, actuals=inputs.actuals,
                    active=inputs.active, proration=inputs.proration)
    check_agreement(text, inputs)


def test_compiled_runs_broadcast_against_shared_activity():
    """Leading (simulation-run) axes broadcast through: per-run actuals ``(S, R, P)`` with
    one roster ``(R,)`` and one activity mask ``(R, P)`` evaluate run by run."""
    text = """plan: p
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
components:
  - {name: commission, kind: rate, base: revenue, rate: "3%"}
"""
    prog = compile_plan(parse_plan(text, "p.yaml"))
    one = _one_rep([0, 1], revenue=[100.0, 200.0])
    runs = Inputs(rep_ids=one.rep_ids, periods=one.periods, roster=one.roster,
                  actuals={"revenue": np.array([[[100.0, 200.0]], [[300.0, 400.0]]])},
                  active=one.active, proration=one.proration)
    res = prog.evaluate(runs)
    np.testing.assert_allclose(res.total, [[[3.0, 6.0]], [[9.0, 12.0]]])


def test_parameter_override_that_breaks_curve_order():
    """Moving a parameter within its declared bounds can make a curve's x values
    non-increasing ([0, 0.5, -1.25, 0.8]), which validation forbids in a plan. Such an
    override must be rejected, or at least give the same payout in both evaluators (both
    used to accept it silently: at attainment 0.25 the compiled plan paid 0 and the
    reference 18.29)."""
    text = """plan: p
period: quarter
parameters:
  knee: {value: 0.75, min: -2, max: 1}
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
targets:
  revenue: roster.quota / 4
components:
  - name: bonus
    kind: curve
    input: revenue / targets.revenue
    points: [[0, 0], [0.5, 0], [knee, 0], [0.8, 0.25]]
"""
    inputs = _one_rep([0], revenue=[62.5])  # attainment 62.5 / 250 = 0.25
    checked = parse_plan(text, "p.yaml")
    outcomes = []
    for evaluate in (lambda: compile_plan(checked, {"knee": -1.25}).evaluate(inputs),
                     lambda: ReferenceEvaluator(checked, inputs, {"knee": -1.25}).run()):
        try:
            outcomes.append(round(float(evaluate().total[0, 0]), 6))
        except (EngineError, ValueError) as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1], f"compiled {outcomes[0]!r}, reference {outcomes[1]!r}"


def test_compiled_runs_broadcast_year_to_date_last():
    """Leading axes broadcast through year-to-date aggregation too: with
    `accumulate: year` and a `last` measure, per-run actuals ``(S, R, P)`` against one
    activity mask ``(R, P)`` evaluate run by run."""
    text = """plan: p
period: quarter
accumulate: year
target_incentive: roster.ti / 4
measures:
  units: {expr: actuals.units, aggregate: last}
components:
  - {name: per_unit, kind: rate, base: units, rate: "10"}
"""
    prog = compile_plan(parse_plan(text, "p.yaml"))
    one = _one_rep([0, 1], units=[1.0, 2.0])
    runs = Inputs(rep_ids=one.rep_ids, periods=one.periods, roster=one.roster,
                  actuals={"units": np.array([[[1.0, 2.0]], [[3.0, 1.0]]])},
                  active=one.active, proration=one.proration)
    res = prog.evaluate(runs)
    # YTD earned 10 then 20 (run 1), 30 then 10 (run 2, no clawback: pays 0).
    np.testing.assert_allclose(res.total, [[[10.0, 10.0]], [[30.0, 0.0]]])
