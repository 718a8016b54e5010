"""Running simulations: the JSON contract, reproducibility whatever the chunking, every shipped plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.plan import load_plan
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario
from tests.cli import incentive

PLANS = sorted((Path(__file__).resolve().parents[2] / "scenarios" / "plans").glob("*.yaml"))

KEYS = {"plan", "scenario", "runs", "reps", "periods", "cost", "revenue", "cost_of_sales", "attainment",
        "payout_per_rep", "morale", "timing", "effort", "measures"}


@pytest.fixture(scope="module")
def scenario():
    return default_scenario()


@pytest.mark.parametrize("path", PLANS, ids=[p.stem for p in PLANS])
def test_every_shipped_plan_simulates_on_the_default_scenario(path, scenario):
    """Each shipped plan runs on the default scenario and gives a complete, plausible document."""
    doc = simulate(load_plan(path), scenario, runs=3, seed=1).document
    assert KEYS <= set(doc)
    assert doc["runs"] == 3 and doc["reps"] == 120
    for key in ("mean", "p05", "p50", "p90", "p95"):
        assert doc["cost"][key] > 0 and doc["revenue"][key] > 0
    assert doc["cost"]["p05"] <= doc["cost"]["p50"] <= doc["cost"]["p95"]
    assert 0 < doc["cost_of_sales"] < 0.5
    att = doc["attainment"]
    assert 0 < att["p10"] < att["p50"] < att["p90"]
    assert 0 < att["share_at_or_above_target"] < 1 and 0 < att["gini"] < 1
    assert set(doc["morale"]) == {"attrition_rate", "regretted_attrition_rate", "share_disengaged",
                                  "replacement_cost"}
    assert 0 <= doc["morale"]["regretted_attrition_rate"] <= doc["morale"]["attrition_rate"] < 1
    # the scenario's outputs, and the plan's own columns the team was shaped to (engine/sim/shape.py)
    assert set(scenario.actual_columns) <= set(doc["measures"])
    assert 0 < doc["timing"]["last_month_share"] <= 1
    assert doc["effort"]["mean"] > 0.5


@pytest.mark.parametrize("path", PLANS, ids=[p.stem for p in PLANS])
def test_same_seed_same_json_whatever_the_chunking(path, scenario):
    """Run i depends only on (seed, i): chunks of 1, 2 or all runs give bit-identical JSON,
    for every shipped plan (a one-run chunk once rounded a per-run total differently)."""
    checked = load_plan(path)
    docs = [json.dumps(simulate(checked, scenario, runs=4, seed=42, chunk_runs=size).document)
            for size in (1, 2, 4)]
    assert docs[0] == docs[1] == docs[2]


def test_same_json_whatever_the_number_of_workers(scenario):
    """1 process or 2 worker processes, any chunk size: bit-identical JSON (and the plan
    travels to the workers by its text)."""
    checked = load_plan(PLANS[0])
    one = json.dumps(simulate(checked, scenario, runs=6, seed=8, workers=1).document)
    two = json.dumps(simulate(checked, scenario, runs=6, seed=8, workers=2, chunk_runs=2).document)
    assert one == two


def test_chunk_size_follows_available_memory():
    """Chunks shrink with the memory available and leave every worker several chunks."""
    from engine.sim.executor import BYTES_PER_CELL, chunk_runs_for

    assert chunk_runs_for(100, 10_000, 1, memory=2 * 100 * 50 * BYTES_PER_CELL) == 50
    assert chunk_runs_for(100, 10_000, 1, memory=10 ** 12) == 4_000  # capped at 400,000 cells
    assert chunk_runs_for(100, 80, 2, memory=10 ** 12) == 10  # 80 runs, 2 workers: 8 chunks
    assert chunk_runs_for(10 ** 6, 5, 1, memory=1) == 1  # never below one run


def test_different_seed_different_result(scenario):
    """The seed matters (the test above is not vacuous)."""
    checked = load_plan(PLANS[0])
    a = simulate(checked, scenario, runs=2, seed=1).document
    b = simulate(checked, scenario, runs=2, seed=2).document
    assert a["cost"]["mean"] != b["cost"]["mean"]


def test_progress_bar_only_on_a_terminal(monkeypatch):
    """A progress bar is drawn on an interactive terminal, never when stderr is piped or
    when stdout carries the JSON document."""
    import io
    import sys

    from engine.sim.run import progress_enabled

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    piped = incentive("simulate", PLANS[0], "--runs", "3", "--chunk-runs", "1")
    assert piped.returncode == 0 and piped.stderr == ""
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert progress_enabled(json_to_stdout=False) and not progress_enabled(json_to_stdout=True)
    simulate(load_plan(PLANS[0]), default_scenario(), runs=3, seed=1, chunk_runs=1, progress=True)
    assert "%|" in term.getvalue() and "/3 [" in term.getvalue() and "run/s" in term.getvalue()


def test_scenario_with_a_real_roster(tmp_path):
    """A scenario can name a roster file: its reps, quotas and target incentives are used."""
    import pandas as pd

    from engine.sim.scenario import load_scenario

    roster = tmp_path / "team.csv"
    pd.DataFrame({"rep_id": ["A1", "A2", "B1"], "team": ["A", "A", "B"], "quota": [900_000, 1_100_000, 1_000_000],
                  "ti": [20_000, 22_000, 21_000], "base_salary": [80_000, 82_000, 81_000]}).to_csv(roster, index=False)
    sc_file = tmp_path / "s.yaml"
    sc_file.write_text("scenario: mine\nteam: {roster: team.csv}\n")
    doc = simulate(load_plan(PLANS[0]), load_scenario(sc_file), runs=2, seed=1).document
    assert doc["reps"] == 3 and doc["cost"]["mean"] > 0


def test_plans_simulated_as_one_batch_are_each_plan_simulated_alone(monkeypatch):
    """``simulate_plans`` sends every plan's chunks to the executor in one batch, the chunks
    of a plan with cross-rep terms first; each result is the one ``simulate`` gives that plan
    alone, in this process and on two workers."""
    from engine.sim import executor as ex_mod
    from engine.sim.run import simulate_plans
    from tests.sim.test_executor import SMALL

    root = Path(__file__).resolve().parents[2] / "scenarios" / "plans"
    plans = [load_plan(root / f"{n}.yaml") for n in ("seeds_base_float_excess", "team_contest", "classic_ae")]
    alone = [simulate(p, SMALL, runs=4, seed=6, chunk_runs=2).document for p in plans]
    sent: list[str] = []
    imap = ex_mod.Executor.imap

    def spy(self, jobs, **kw):
        sent.extend(task.checked.plan.name for task, _ in jobs)
        return imap(self, jobs, **kw)

    monkeypatch.setattr(ex_mod.Executor, "imap", spy)
    for workers in (1, 2):
        sent.clear()
        batch = simulate_plans(plans, SMALL, runs=4, seed=6, chunk_runs=2, workers=workers)
        assert [r.document for r in batch] == alone
        assert sent == ["team_contest"] * 2 + ["seeds_base_float_excess"] * 2 + ["classic_ae"] * 2
