"""Simulating on the numba backend: chosen on the command line, named in the JSON, and the
same numbers whatever the chunking and the worker count (bit for bit, under that backend)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.plan import load_plan
from engine.sim.run import simulate
from tests.cli import invoke
from tests.sim.test_executor import SMALL

pytest.importorskip("numba")

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"
SEEDS = PLANS / "seeds_base_float_excess.yaml"


pytestmark = pytest.mark.usefixtures("kernel_cache")  # tests/conftest.py


def test_simulate_backend_numba_says_so_in_the_json():
    """``incentive simulate --backend numba`` runs the seeds plan on its kernel and the JSON
    says which backend ran and what compiling cost; without ``--backend`` the default is
    INCENTIVE_BACKEND's (numpy in this suite, tests/conftest.py)."""
    got = invoke("simulate", SEEDS, "--runs", 2, "--seed", 5, "--workers", 1, "--json", "-", "--backend", "numba")
    assert got.exit_code == 0, got.output
    doc = json.loads(got.output)
    assert doc["backend"]["requested"] == "numba" and doc["backend"]["ran"] == "numba"
    assert doc["backend"]["compile_seconds"] >= 0 and "fallback" not in doc["backend"]
    plain = json.loads(invoke("simulate", SEEDS, "--runs", 2, "--seed", 5, "--workers", 1, "--json", "-").output)
    assert plain["backend"] == {"requested": "numpy", "ran": "numpy"}


def test_a_plan_the_kernel_does_not_compute_says_why():
    """A contest runs on numpy under ``--backend numba``, and the JSON says why."""
    doc = simulate(load_plan(PLANS / "team_contest.yaml"), SMALL, runs=1, seed=3, backend="numba").document
    assert doc["backend"]["ran"] == "numpy"
    assert "rank" in doc["backend"]["fallback"]


def test_numba_results_do_not_depend_on_chunks_or_workers():
    """Same seed, same document under the numba backend: one chunk, chunks of one run, or
    two worker processes."""
    checked = load_plan(SEEDS)
    docs = [simulate(checked, SMALL, runs=4, seed=9, backend="numba", **kw).document
            for kw in ({"chunk_runs": 4}, {"chunk_runs": 1}, {"workers": 2, "chunk_runs": 2})]
    for doc in docs:
        doc["backend"].pop("compile_seconds")
        doc["backend"].pop("from_cache")
    assert docs[0] == docs[1] == docs[2]
    numpy_doc = simulate(checked, SMALL, runs=4, seed=9).document
    np.testing.assert_allclose(numpy_doc["cost"]["mean"], docs[0]["cost"]["mean"], rtol=1e-9)


def test_compare_backend_numba_names_the_backend_of_each_plan():
    """``incentive compare --backend numba``: each plan's document says what ran (the
    contest on numpy, with the reason)."""
    got = invoke("compare", SEEDS, PLANS / "team_contest.yaml", "--runs", 2, "--seed", 5, "--workers", 1,
                 "--json", "-", "--backend", "numba")
    assert got.exit_code == 0, got.output
    seeds, contest = json.loads(got.output)["plans"]
    assert seeds["backend"]["ran"] == "numba"
    assert contest["backend"]["ran"] == "numpy" and "rank" in contest["backend"]["fallback"]


def test_recalibrate_candidates_share_one_kernel():
    """``recalibrate(..., backend="numba")``: every candidate (new parameter values) runs on
    the plan's one compiled kernel, and the search finds what it finds with numpy."""
    from engine.jobs.recalibrate import RecalibrationSpec, recalibrate
    from engine.plan import numba_backend

    checked = load_plan(SEEDS)
    spec = RecalibrationSpec(maximize="profit", budget=6)
    before = set(numba_backend._LOADED)
    got = recalibrate(checked, spec, SMALL, runs=3, seed=5, backend="numba")
    assert len(set(numba_backend._LOADED) - before) <= 1  # the seeds plan's kernel, if not loaded yet
    want = recalibrate(checked, spec, SMALL, runs=3, seed=5)
    assert got.plan_text == want.plan_text


def test_simulations_default_to_the_compiled_kernel(monkeypatch):
    """Without ``--backend`` or INCENTIVE_BACKEND, simulations run on each plan's compiled
    kernel (numpy where the kernel does not apply), with numpy's numbers; INCENTIVE_BACKEND
    chooses numpy, and a value that names no backend is a clear error (exit 2)."""
    from engine.jobs.compare import compare_plans
    from engine.plan.compile import BACKEND_ENV, default_backend

    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert default_backend() == "numba"
    checked = load_plan(SEEDS)
    doc = simulate(checked, SMALL, runs=2, seed=5).document
    assert doc["backend"]["requested"] == "numba" and doc["backend"]["ran"] == "numba"
    contest = compare_plans([checked, load_plan(PLANS / "team_contest.yaml")], SMALL, runs=2, seed=5)
    assert [d["backend"]["ran"] for d in contest.document["plans"]] == ["numba", "numpy"]
    monkeypatch.setenv(BACKEND_ENV, "numpy")
    plain = simulate(checked, SMALL, runs=2, seed=5).document
    assert plain.pop("backend") == {"requested": "numpy", "ran": "numpy"}
    doc.pop("backend")
    assert doc == plain
    monkeypatch.setenv(BACKEND_ENV, "jax")
    got = invoke("simulate", SEEDS, "--runs", 2, "--workers", 1)
    assert got.exit_code == 2 and "INCENTIVE_BACKEND=jax is not a plan backend" in got.output
    assert "Traceback" not in got.output
