"""Random streams per purpose: each run draws each purpose from its own stream, so a new
draw changes nothing else and results do not depend on chunking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.plan import load_plan
from engine.sim import streams
from engine.sim.scenario import default_scenario
from engine.sim.simulate import ChunkResult, Simulation

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"


def _flat(prefix: str, v, out: dict) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _flat(f"{prefix}.{k}", x, out)
    elif v is not None:
        out[prefix] = np.asarray(v)


def _fields(res: ChunkResult) -> dict:
    out: dict = {}
    for f in dataclasses.fields(res):
        _flat(f.name, getattr(res, f.name), out)
    return out


def _assert_identical(a: ChunkResult, b: ChunkResult) -> None:
    fa, fb = _fields(a), _fields(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fa[k].shape == fb[k].shape and fa[k].tobytes() == fb[k].tobytes(), k


@pytest.fixture(scope="module")
def sim():
    return Simulation(load_plan(PLANS / "seeds_base_float_excess.yaml"), default_scenario(), 17)


def test_every_purpose_has_its_own_stream_id():
    """The table gives each purpose a distinct id, and each id a distinct sequence."""
    assert len(set(streams.STREAMS.values())) == len(streams.STREAMS)
    firsts = {streams.stream(1, 0, p).random() for p in streams.STREAMS}
    assert len(firsts) == len(streams.STREAMS)


def test_an_unknown_stream_is_refused_with_the_known_ones():
    """Drawing from a purpose missing from the table is an error naming the table's rows."""
    with pytest.raises(KeyError, match="unknown random stream 'nope'.*quits"):
        streams.stream(1, 0, "nope")


def test_a_draw_on_a_new_stream_changes_no_other_output(sim, monkeypatch):
    """A new behaviour that draws every month from a stream of its own (a new row of the
    table) leaves every seeded output bit-identical; the same draws taken from an existing
    stream change them (so the check is not vacuous)."""
    runs = np.arange(3)
    before = sim.run_chunk(runs, keep=True)
    produce = Simulation._produce
    monkeypatch.setitem(streams.STREAMS, "new_behaviour", 99)
    drawn = []

    def with_new_draw(purpose):
        def step(self, state, t):
            drawn.append(state.streams.random(purpose, (self.slots,)))
            produce(self, state, t)
        return step

    monkeypatch.setattr(Simulation, "_produce", with_new_draw("new_behaviour"))
    _assert_identical(before, sim.run_chunk(runs, keep=True))
    assert len(drawn) == sim.months
    monkeypatch.setattr(Simulation, "_produce", with_new_draw("output_uniform"))
    with pytest.raises(AssertionError):
        _assert_identical(before, sim.run_chunk(runs, keep=True))


@pytest.mark.parametrize("name", ["seeds_base_float_excess", "team_contest"])
def test_results_do_not_depend_on_the_chunking(name):
    """Runs simulated all together, one by one, or in uneven chunks give bit-identical
    per-run and per-rep results (cross-rep plans included)."""
    s = Simulation(load_plan(PLANS / f"{name}.yaml"), default_scenario(), 4)
    runs = np.arange(5)
    whole = s.run_chunk(runs)
    for split in ([[0], [1], [2], [3], [4]], [[0, 1, 2], [3, 4]], [[4, 0], [2, 1, 3]]):
        parts = [s.run_chunk(np.array(idx)) for idx in split]
        order = np.argsort(np.concatenate(split))
        for key, value in _fields(whole).items():
            if value.ndim == 0 or key == "run_index":
                continue
            got = np.concatenate([_fields(p)[key] for p in parts])[order]
            assert got.tobytes() == value.tobytes(), key


def test_common_random_numbers_across_plans():
    """Two plans on the same seed share traits: run i's reps have the same skills."""
    sc = default_scenario()
    runs = np.arange(2)
    a = Simulation(load_plan(PLANS / "seeds_base_float_excess.yaml"), sc, 9).run_chunk(runs)
    b = Simulation(load_plan(PLANS / "kpi_scorecard.yaml"), sc, 9).run_chunk(runs)
    np.testing.assert_array_equal(a.skill, b.skill)
