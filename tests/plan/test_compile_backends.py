"""The backend seam: compile_plan picks a payout program from one table of backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.plan import load_plan
from engine.plan.compile import BACKENDS, CompiledPlan, PayoutArrays, compile_plan
from engine.sim.scenario import default_scenario
from engine.sim.simulate import Simulation

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


class Counting:
    """A second backend: the numpy program, counting its evaluations."""

    calls = 0

    def __init__(self, checked, params=None):
        self.inner = CompiledPlan(checked, params)
        self.checked = self.inner.checked

    def evaluate(self, inputs, grades=True, record=None, reference=None) -> PayoutArrays:
        type(self).calls += 1
        return self.inner.evaluate(inputs, grades=grades, record=record, reference=reference)


def test_numpy_is_the_default_backend():
    """Without a backend, compile_plan gives the numpy program (the one row of the table today)."""
    checked = load_plan(PLAN)
    assert set(BACKENDS) >= {"numpy"}
    assert isinstance(compile_plan(checked), CompiledPlan)
    assert isinstance(compile_plan(checked, backend="numpy"), CompiledPlan)


def test_unknown_backend_is_a_clear_error_listing_the_known_ones():
    """An unknown backend name is refused with the list of known backends."""
    with pytest.raises(ValueError, match=r"unknown plan backend 'jax' \(known: numba, numpy\)"):
        compile_plan(load_plan(PLAN), backend="jax")


def test_a_registered_backend_is_used_by_the_simulator(monkeypatch):
    """A backend added to the table is compiled by name and the simulator evaluates the plan
    only through it (same results as numpy's, every evaluation counted), with no change to
    engine/sim."""
    monkeypatch.setitem(BACKENDS, "counting", Counting)
    monkeypatch.setattr(Counting, "calls", 0)
    checked = load_plan(PLAN)
    program = compile_plan(checked, {"base_share": 0.45}, backend="counting")
    assert isinstance(program, Counting)
    sc = default_scenario()
    runs = np.arange(2)
    got = Simulation(checked, sc, 3, program=program).run_chunk(runs)
    assert Counting.calls > 0
    want = Simulation(checked, sc, 3, {"base_share": 0.45}).run_chunk(runs)
    for name in ("cost", "revenue", "payout", "attainment", "leavers"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_the_executor_compiles_with_the_tasks_backend(monkeypatch):
    """Jobs choose a backend on their task: the executor compiles the plan with it and the
    simulation receives the program (it compiles nothing itself), with numpy's numbers."""
    from engine.sim.executor import Executor, SimTask

    monkeypatch.setitem(BACKENDS, "counting", Counting)
    monkeypatch.setattr(Counting, "calls", 0)
    checked = load_plan(PLAN)
    sc = default_scenario()
    runs = np.arange(2)
    task = SimTask(checked, sc, 3, backend="counting")
    with Executor(1) as ex:
        [got] = ex.map([(task, runs)])
    assert Counting.calls > 0
    with Executor(1) as ex:
        [want] = ex.map([(SimTask(checked, sc, 3), runs)])
    for name in ("cost", "revenue", "payout", "attainment", "leavers"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
