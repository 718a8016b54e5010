"""The numba backend: a kernel specialized for each plan, agreeing with the reference evaluator.

The differential tests draw the same random plans as :mod:`tests.plan.test_differential`
(every construct of version 1) and :mod:`tests.plan.test_differential_v2` (version 2), and
evaluate them with ``compile_plan(..., backend="numba")``: a plan the kernel lowers runs on
it, any other on the numpy fallback, and either way the results agree with the scalar
reference (rtol 1e-9) and the statements are equal. Each new plan costs a compilation (about
a second), so the default suite draws a bounded number of plans and ``make test-slow`` many
more. Kernels compile into a temporary cache directory.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.core.errors import DataErrors, EngineError, EvaluationError, PlanErrors
from engine.core.inputs import Inputs
from engine.plan import PayoutArrays, ReferenceEvaluator, compile_plan, load_plan, parse_plan
from engine.plan.compile import BACKENDS, CompiledPlan
from engine.plan.lower_numba import Unsupported, lower_plan
from engine.plan.numba_backend import CACHE_ENV, NumbaPlan
from tests.plan.test_differential import (
    SETTINGS,
    assert_payouts_agree,
    assert_statements_agree,
    parameter_overrides,
    plan_and_inputs,
)
from tests.plan.test_differential_v2 import v2_case, v2_loaded

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


pytestmark = pytest.mark.usefixtures("kernel_cache")  # tests/conftest.py


def _numba_and_reference(checked, inputs: Inputs, params=None):
    """``(program, numba result or error, reference result or error)``."""
    try:
        prog: NumbaPlan | None = compile_plan(checked, params, backend="numba")  # type: ignore[assignment]
        assert isinstance(prog, NumbaPlan)
        fast: object = prog.evaluate(inputs)
    except (EvaluationError, PlanErrors, DataErrors) as exc:
        prog, fast = None, exc
    try:
        slow: object = ReferenceEvaluator(checked, inputs, params).run()
    except (EvaluationError, PlanErrors, DataErrors) as exc:
        slow = exc
    if prog is not None:
        assert "did not compile" not in (prog.reason or ""), prog.reason
        event(f"evaluated on {'numba' if prog.ran['numba'] else 'numpy'}")
    return prog, fast, slow


def _agree(checked, inputs: Inputs, params=None) -> None:
    _, fast, slow = _numba_and_reference(checked, inputs, params)
    if isinstance(fast, EngineError) or isinstance(slow, EngineError):
        assert type(fast) is type(slow), f"numba: {fast!s}\nreference: {slow!s}"
        return
    assert_payouts_agree(fast, slow)  # type: ignore[arg-type]
    if slow.base_pay is not None:  # type: ignore[union-attr]
        np.testing.assert_allclose(fast.base_pay, slow.base_pay, rtol=1e-9, atol=1e-6)  # type: ignore[union-attr]
    try:
        assert_statements_agree(checked.plan, inputs, fast, slow)  # type: ignore[arg-type]
    except EvaluationError as exc:  # both pay past exact cents: refused, not rounded
        assert exc.code == "amount-too-large"


def _lowers(text: str) -> bool:
    try:
        lower_plan(CompiledPlan(parse_plan(text, "gen.yaml")))
    except Unsupported:
        return False
    return True


def _lowerable(**options):
    """Random version 1 plans of the constructs the kernel computes (no rank, group functions
    or tables: those plans are drawn by the tests of all constructs)."""
    return plan_and_inputs(kinds=("curve", "step", "rate", "scorecard"), **options).filter(
        lambda case: _lowers(case[0].text))


def _v1(case) -> None:
    gp, inputs = case
    _agree(parse_plan(gp.text, "gen.yaml"), inputs)


def _v2(case) -> None:
    loaded = v2_loaded(case)
    if loaded is not None:
        _agree(*loaded)


# --------------------------------------------------------------------------- differential
# A bounded number of plans in the default suite (each new plan compiles its kernel, 1-5 s);
# hundreds in `make test-slow`.


@settings(max_examples=12, **SETTINGS)
@given(case=plan_and_inputs())
def test_numba_agrees_with_reference(case):
    """On random plans of every construct, the numba backend (its kernel, or numpy where the
    plan needs it) and the reference evaluator agree, errors included."""
    _v1(case)


@settings(max_examples=12, **SETTINGS)
@given(case=_lowerable(holes=True))
def test_numba_kernel_agrees_with_reference(case):
    """On random plans the kernel lowers (curves, steps, tiers, scorecards, gates, caps,
    modifiers, plan caps, draws, grades; any activity mask), kernel and reference agree."""
    _v1(case)


@settings(max_examples=8, **SETTINGS)
@given(data=st.data())
def test_numba_kernel_agrees_with_reference_with_parameters(data):
    """Parameters moved within their bounds reach the kernel as values (one compiled kernel
    for every value): kernel and reference agree."""
    gp, inputs = data.draw(_lowerable())
    _agree(parse_plan(gp.text, "gen.yaml"), inputs, data.draw(parameter_overrides(gp)))


@settings(max_examples=12, **SETTINGS)
@given(case=v2_case())
def test_numba_agrees_with_reference_on_version_2_constructs(case):
    """Version 2 plans (row-level measures, tables, effective-dated rosters, base pay...):
    the numba backend and the reference agree."""
    _v2(case)


@pytest.mark.slow
@settings(max_examples=600, **SETTINGS)
@given(case=plan_and_inputs())
def test_numba_agrees_with_reference_many(case):
    """The differential test with many more plans (``make test-slow``)."""
    _v1(case)


@pytest.mark.slow
@settings(max_examples=600, **SETTINGS)
@given(case=_lowerable(holes=True))
def test_numba_kernel_agrees_with_reference_many(case):
    """The kernel's differential test with many more plans (``make test-slow``)."""
    _v1(case)


@pytest.mark.slow
@settings(max_examples=300, **SETTINGS)
@given(case=v2_case())
def test_numba_agrees_with_reference_on_version_2_constructs_many(case):
    """The version 2 differential test with many more plans (``make test-slow``)."""
    _v2(case)


# --------------------------------------------------------------------------- the seam


def test_numba_is_a_row_of_the_backends_table():
    """``compile_plan(..., backend="numba")`` gives the numba program, which runs the shipped
    seeds plan on its kernel."""
    assert set(BACKENDS) == {"numpy", "numba"}
    prog = compile_plan(load_plan(SEEDS), backend="numba")
    assert isinstance(prog, NumbaPlan)
    assert prog.backend == "numba" and prog.reason is None
    assert prog.describe()["ran"] == "numba"


def test_without_numba_the_numpy_program_runs(monkeypatch, without_numba):
    """Where numba cannot be imported, the numba backend evaluates with numpy (same numbers),
    and says so."""
    monkeypatch.setattr("engine.plan.numba_backend._LOADED", {})
    checked = load_plan(SEEDS)
    prog = compile_plan(checked, backend="numba")
    assert isinstance(prog, NumbaPlan)
    assert prog.backend == "numpy" and prog.reason == "numba is not installed"
    assert prog.describe() == {"requested": "numba", "ran": "numpy", "compile_seconds": prog.describe()["compile_seconds"],
                               "from_cache": False, "fallback": "numba is not installed"}
    inputs = _seeds_inputs(checked)
    got = prog.evaluate(inputs)
    want = CompiledPlan(checked).evaluate(inputs)
    np.testing.assert_array_equal(got.total, want.total)
    assert prog.ran == {"numpy": 1}


def test_a_plan_the_kernel_does_not_compute_runs_on_numpy():
    """A plan with a contest (rank) runs on numpy, with the reason recorded."""
    checked = load_plan(ROOT / "scenarios" / "plans" / "team_contest.yaml")
    prog = compile_plan(checked, backend="numba")
    assert isinstance(prog, NumbaPlan)
    assert prog.backend == "numpy"
    assert "numba kernel does not compute" in (prog.reason or "")


def _seeds_inputs(checked, runs: int = 0, seed: int = 1) -> Inputs:
    from tests.plan.strategies import period_infos

    rng = np.random.default_rng(seed)
    R, P = 50, 4
    lead = (runs,) if runs else ()
    return Inputs(
        rep_ids=np.array([f"R{i}" for i in range(R)], dtype=object), periods=period_infos("quarter", 1, [0, 1, 2, 3]),
        roster={"ti": np.full(R, 20_000.0), "quota": rng.uniform(5e5, 2e6, R)},
        actuals={"revenue": rng.uniform(0, 8e5, lead + (R, P)), "complaints": rng.integers(0, 6, lead + (R, P)) * 1.0},
        active=rng.random((R, P)) > 0.1, proration=np.ones((R, P)),
    )


def test_the_kernel_agrees_with_numpy_on_the_seeds_plan_over_runs():
    """The seeds plan over simulation runs: every array the statements read agrees with numpy's,
    grades exactly, and evaluating run by run gives the same bits as all runs at once."""
    checked = load_plan(SEEDS)
    prog = compile_plan(checked, backend="numba")
    inputs = _seeds_inputs(checked, runs=3)
    got = prog.evaluate(inputs)
    want = CompiledPlan(checked).evaluate(inputs)
    assert prog.ran == {"numba": 1}  # type: ignore[attr-defined]
    np.testing.assert_allclose(got.total, want.total, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got.adjustment, want.adjustment, rtol=1e-12, atol=1e-9)
    for name in want.columns:
        np.testing.assert_allclose(got.columns[name], want.columns[name], rtol=1e-12, atol=1e-9)
    for name in want.values:
        np.testing.assert_allclose(got.values[name], want.values[name], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(got.grades, want.grades)
    for res in (got, want):  # the codes the statements read spell the same grades
        codes, labels = res.grade_texts()
        np.testing.assert_array_equal(np.array(labels, dtype=object)[codes], want.grades)
    for i in range(3):
        one = Inputs(rep_ids=inputs.rep_ids, periods=inputs.periods, roster=inputs.roster,
                     actuals={k: v[i] for k, v in inputs.actuals.items()}, active=inputs.active,
                     proration=inputs.proration)
        np.testing.assert_array_equal(prog.evaluate(one).total, got.total[i])


def test_a_value_that_is_not_finite_is_numpys_error():
    """Where a checked value is not finite for an active rep, the error is the numpy
    evaluator's (naming the rep, the period and the expression)."""
    checked = load_plan(SEEDS)
    inputs = _seeds_inputs(checked)
    inputs.roster["quota"][3] = 0.0  # attainment = revenue / 0
    with pytest.raises(EvaluationError) as got:
        compile_plan(checked, backend="numba").evaluate(inputs)
    with pytest.raises(EvaluationError) as want:
        CompiledPlan(checked).evaluate(inputs)
    assert str(got.value) == str(want.value)


def test_kernels_are_cached_on_disk():
    """A plan's kernel is written once under the cache directory and numba's cache of it
    sits beside it, so another process loads it without compiling."""
    compile_plan(load_plan(SEEDS), {"base_share": 0.41}, backend="numba")
    root = Path(os.environ[CACHE_ENV])
    assert list(root.glob("k_*.py"))
    assert list((root / "__pycache__").glob("k_*.nbi"))


def test_without_grades_the_other_arrays_come_on_first_read():
    """A what-if evaluation (``grades=False``) computes the total at once and every other
    array the first time one is read: the same values as a full evaluation."""
    checked = load_plan(SEEDS)
    prog = compile_plan(checked, backend="numba")
    inputs = _seeds_inputs(checked, runs=2)
    lazy = prog.evaluate(inputs, grades=False)
    full = prog.evaluate(inputs)
    np.testing.assert_array_equal(lazy.total, full.total)
    assert lazy.grades is None
    for name in full.columns:
        np.testing.assert_array_equal(lazy.columns[name], full.columns[name])
        np.testing.assert_array_equal(lazy.earned[name], full.earned[name])
    for name in full.values:
        np.testing.assert_array_equal(lazy.values[name], full.values[name])
    np.testing.assert_array_equal(lazy.adjustment, full.adjustment)
    np.testing.assert_array_equal(lazy.capped_total, full.capped_total)
    again = pickle.loads(pickle.dumps(prog.evaluate(inputs, grades=False)))
    assert type(again) is PayoutArrays
    np.testing.assert_array_equal(again.columns["base_and_float"], full.columns["base_and_float"])


def test_new_parameter_values_reuse_the_compiled_kernel():
    """Parameters reach the kernel as values, not in its source: another set of parameter
    values (a recalibration candidate, a slider move) runs on the same compiled kernel, with
    its own numbers."""
    checked = load_plan(SEEDS)
    inputs = _seeds_inputs(checked)
    first = compile_plan(checked, backend="numba")
    for params in ({"base_share": 0.3, "excess_rate": 0.05}, {"base_threshold": 0.7, "complaint_limit": 1}):
        prog = compile_plan(checked, params, backend="numba")
        assert isinstance(prog, NumbaPlan) and isinstance(first, NumbaPlan)
        assert prog.kernel is first.kernel and prog.compile_seconds < 0.5
        np.testing.assert_allclose(prog.evaluate(inputs).total, CompiledPlan(checked, params).evaluate(inputs).total,
                                   rtol=1e-12, atol=1e-9)


def test_generated_names_never_collide_with_slots():
    """Each parameter slot (``K_j``) and curve tuple (``T_j``) is assigned once, at the top
    of the kernel, and no local of the cell code reuses its name (a tier's slice named like
    a slot once overwrote a grade threshold)."""
    import re

    for path in (SEEDS, ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml"):
        source = lower_plan(CompiledPlan(load_plan(path))).source
        assigned = re.findall(r"^\s*([A-Za-z_]\w*) = ", source, flags=re.MULTILINE)
        slots = [n for n in assigned if re.fullmatch(r"[KT]_\d+", n)]
        assert slots and len(slots) == len(set(slots))


def test_a_missing_roster_column_is_numpys_data_error():
    """Inputs without a column the plan uses: the same data error as the numpy evaluator's."""
    checked = load_plan(SEEDS)
    inputs = _seeds_inputs(checked)
    del inputs.roster["quota"]
    with pytest.raises(DataErrors) as got:
        compile_plan(checked, backend="numba").evaluate(inputs)
    with pytest.raises(DataErrors) as want:
        CompiledPlan(checked).evaluate(inputs)
    assert str(got.value) == str(want.value)
