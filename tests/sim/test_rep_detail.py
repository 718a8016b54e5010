"""Per-rep detail kept for charts: opt-in, deterministic, and invisible in the document."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.plan import load_plan
from engine.sim.metrics import RepDetail, skill_quartiles
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


def test_detail_does_not_change_the_document_and_does_not_depend_on_chunking():
    """keep_reps leaves the JSON byte-identical; the detail is the same for any chunking."""
    checked, sc = load_plan(PLAN), default_scenario()
    plain = simulate(checked, sc, runs=4, seed=7, chunk_runs=4)
    a = simulate(checked, sc, runs=4, seed=7, chunk_runs=1, keep_reps=True)
    b = simulate(checked, sc, runs=4, seed=7, chunk_runs=3, keep_reps=True)
    assert plain.detail is None and plain.currency == "USD"
    assert json.dumps(plain.document) == json.dumps(a.document) == json.dumps(b.document)
    for key in ("attainment", "payout", "skill", "rep_mask", "quartile_payout", "quartile_attainment"):
        np.testing.assert_array_equal(getattr(a.detail, key), getattr(b.detail, key))
    d = a.detail
    assert d.sample_runs == 4 and d.seats == 120
    assert np.isfinite(d.quartile_payout).all()
    # The sample holds exactly the reps the document's quantiles pool (4 runs is exact).
    att = np.sort(d.values("attainment"))
    assert np.quantile(att, 0.5) == a.document["attainment"]["p50"]
    assert np.quantile(d.values("payout"), 0.9) == a.document["payout_per_rep"]["p90"]


def test_sample_is_bounded():
    """The sample keeps whole runs, as many as fit in the cell budget."""
    d = RepDetail(runs=1000, slots=192, seats=120, cells=10_000)
    assert d.sample_runs == 52 and d.attainment.shape == (52, 192) and d.quartile_payout.shape == (1000, 4)


def test_skill_quartiles_split_each_run_in_four_equal_groups():
    """Quartile 0 holds the lowest quarter of skills within each run, 3 the highest."""
    rng = np.random.default_rng(0)
    skill = rng.lognormal(size=(3, 120))
    q = skill_quartiles(skill)
    for run in range(3):
        assert np.bincount(q[run], minlength=4).tolist() == [30, 30, 30, 30]
        assert skill[run][q[run] == 0].max() < skill[run][q[run] == 1].min()
        assert skill[run][q[run] == 2].max() < skill[run][q[run] == 3].min()
