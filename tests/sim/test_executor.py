"""The one executor: serial, process-pool and Dask runs give the same numbers and the same errors."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.core.errors import EvaluationError
from engine.jobs.forecast import forecast
from engine.jobs.recalibrate import RecalibrationSpec, recalibrate
from engine.plan import load_plan
from engine.sim import executor as ex_mod
from engine.sim.executor import (
    BYTES_PER_CELL,
    MAX_CELLS,
    Executor,
    SimTask,
    chunk_runs_for,
    chunks_of,
    run_chunks,
    simulation_for,
)
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario, parse_scenario
from tests.cli import invoke

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"

SMALL = parse_scenario("scenario: small_team\nseed: 11\n"
                       "team: {reps: 16, teams: 2, extra_columns: {new_customer_quota: 24}}\n", "small_team.yaml")


@pytest.fixture(scope="module")
def client():
    import dask
    from distributed import Client, LocalCluster

    # As in tests/sim/test_dask.py: raise the nannies' malloc trim threshold before they start.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 2 ** 30}):
        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
        c = Client(cluster)
        yield c
        c.close()
        cluster.close()


def _failing(tmp_path: Path, plan: str = "classic_ae.yaml", old: str = "    expr: actuals.revenue",
             condition: str = "actuals.revenue >= 0") -> Path:
    """A shipped plan whose measure divides by zero where ``condition`` holds."""
    text = (PLANS / plan).read_text()
    expr = old.split(":", 1)[1].strip()
    assert old in text
    path = tmp_path / plan
    path.write_text(text.replace(old, old.replace(expr, f"where({condition}, {expr} / ({expr} * 0), {expr})"), 1))
    return path


# -- same numbers however the work is split -------------------------------------------------


def test_simulate_serial_pool_and_dask_are_identical(client):
    """simulate(): one process, two processes and a 2-worker Dask cluster give bit-identical
    documents and per-run values for the same seed."""
    checked = load_plan(PLANS / "classic_ae.yaml")
    kw = {"runs": 6, "seed": 13}
    serial = simulate(checked, SMALL, **kw)
    pool = simulate(checked, SMALL, **kw, workers=2, chunk_runs=2)
    dask = simulate(checked, SMALL, **kw, chunk_runs=1, scheduler=client)
    docs = [json.dumps(r.document, sort_keys=True) for r in (serial, pool, dask)]
    assert docs[0] == docs[1] == docs[2]
    for r in (pool, dask):
        assert serial.per_run.keys() == r.per_run.keys()
        assert all(np.array_equal(serial.per_run[k], r.per_run[k]) for k in serial.per_run)


def test_forecast_serial_pool_and_dask_are_identical(client):
    """forecast(): the shipped field team's forecast is bit-identical in one process, two
    processes and on a Dask cluster."""
    checked = load_plan(PLANS / "kpi_scorecard.yaml")
    args = (checked, DATA / "field_team_roster.csv", DATA / "field_team_actuals_h1.csv")
    kw = {"runs": 6, "seed": 3, "budget": 7_300_000.0}
    serial = forecast(*args, **kw)
    pool = forecast(*args, **kw, workers=2, chunk_runs=2)
    dask = forecast(*args, **kw, chunk_runs=3, scheduler=client)
    for other in (pool, dask):
        assert np.array_equal(serial.annual, other.annual)
        assert json.dumps(serial.document) == json.dumps(other.document)
        pd.testing.assert_frame_equal(serial.reps, other.reps)


def test_recalibrate_serial_pool_and_dask_are_identical(client):
    """recalibrate(): the same search, history and plan in one process, two processes and on
    a Dask cluster."""
    checked = load_plan(PLANS / "classic_ae.yaml")
    spec = RecalibrationSpec(maximize="revenue", subject_to=["cost_of_sales <= 0.2"], budget=4)
    kw = {"runs": 4, "seed": 2}
    serial = recalibrate(checked, spec, SMALL, **kw)
    pool = recalibrate(checked, spec, SMALL, **kw, workers=2)
    dask = recalibrate(checked, spec, SMALL, **kw, scheduler=client)
    for other in (pool, dask):
        assert other.plan_text == serial.plan_text
        pd.testing.assert_frame_equal(serial.history, other.history)
        assert json.dumps(serial.document, sort_keys=True) == json.dumps(other.document, sort_keys=True)


# -- errors arrive intact ------------------------------------------------------------------------


def _assert_intact(error: EvaluationError) -> None:
    assert type(error) is EvaluationError
    assert error.code == "non-finite" and error.rep and error.period and error.span is not None
    assert "actuals.revenue" in (error.expression or "")


@pytest.mark.parametrize("mode", ["serial", "pool", "dask"])
def test_failing_plan_error_arrives_intact(mode, tmp_path, request):
    """A plan that fails in the simulation raises the same EvaluationError (class and fields)
    whether its chunks run here, in worker processes or on Dask; with ``errors="return"`` the
    failed chunks hand back that error instead."""
    checked = load_plan(_failing(tmp_path))
    task = SimTask(checked, SMALL, 3)
    chunks = chunks_of(4, 2)
    opts = {"serial": {}, "pool": {"workers": 2}, "dask": {"scheduler": request.getfixturevalue("client")
                                                            if mode == "dask" else None}}[mode]
    with pytest.raises(EvaluationError) as info:
        list(run_chunks(task, chunks, **opts))
    _assert_intact(info.value)
    with Executor(**opts) as ex:
        returned = ex.map([(task, idx) for idx in chunks], errors="return")
    assert len(returned) == len(chunks)
    for r in returned:
        _assert_intact(r)


def test_forecast_and_recalibrate_errors_on_dask(client, tmp_path):
    """On Dask too, a forecast's failing plan raises its EvaluationError, and a recalibration's
    failing candidates carry the rendered error in their history row."""
    failing = load_plan(_failing(tmp_path, "kpi_scorecard.yaml", "  revenue: actuals.revenue",
                                 "actuals.revenue > 1200000"))
    with pytest.raises(EvaluationError) as info:
        forecast(failing, DATA / "field_team_roster.csv", DATA / "field_team_actuals_h1.csv",
                 runs=8, chunk_runs=4, seed=1, scheduler=client)
    assert info.value.code == "non-finite" and info.value.rep and info.value.period
    checked = load_plan(_failing(tmp_path, condition="threshold > 0.6"))
    rec = recalibrate(checked, RecalibrationSpec(maximize="revenue", budget=6), SMALL, runs=4, seed=2,
                      scheduler=client)
    failed = rec.history[rec.history["threshold"] > 0.6]
    assert len(failed) > 0 and failed["invalid"].notna().all()
    assert all("error[non-finite]" in t and "in expression:" in t for t in failed["invalid"])


# -- the chunk-size rule ------------------------------------------------------------------------


def test_chunk_size_rule():
    """One rule: memory and MAX_CELLS bound a chunk; with several workers the batch's
    tasks x runs make at least four chunks per worker; never below one run."""
    big = 10 ** 12
    assert chunk_runs_for(100, 10_000, 1, memory=big) == MAX_CELLS // 100
    assert chunk_runs_for(100, 10_000, 1, memory=2 * 100 * 50 * BYTES_PER_CELL) == 50
    assert chunk_runs_for(100, 80, 2, memory=big) == 10  # 80 runs, 2 workers: 8 chunks
    # Eight candidates of 100 runs on 2 workers: one chunk per candidate is enough.
    assert chunk_runs_for(100, 100, 2, memory=big, tasks=8) == 100
    assert chunk_runs_for(100, 100, 2, memory=big, tasks=1) == 13
    assert chunk_runs_for(10 ** 6, 5, 4, memory=1, tasks=3) == 1
    assert [c.tolist() for c in chunks_of(5, 2, first=10)] == [[10, 11], [12, 13], [14]]


# -- one worker-side cache ------------------------------------------------------------------------


def test_one_simulation_per_task_and_process():
    """A task becomes a Simulation once per process: equal tasks share it, and a worker that
    has it does not unpickle the task again."""
    checked = load_plan(PLANS / "classic_ae.yaml")
    a, b = SimTask(checked, SMALL, 5), SimTask(load_plan(PLANS / "classic_ae.yaml"), SMALL, 5)
    assert a.key == b.key and simulation_for(a) is simulation_for(b)
    assert SimTask(checked, SMALL, 6).key != a.key
    assert SimTask(checked, SMALL, 5, {"threshold": 0.6}).key != a.key
    assert pickle.loads(a.blob)[0].source == checked.source
    idx = np.arange(2)
    remote = ex_mod._run_remote(a.key, b"not a pickle", None, idx)  # cached: the blob is not read
    assert np.array_equal(remote.cost, simulation_for(a).run_chunk(idx).cost)


def test_a_plan_without_text_runs_in_this_process_only():
    """A plan built without source text cannot be sent to workers, but runs serially."""
    bare = dataclasses.replace(load_plan(PLANS / "classic_ae.yaml"), source="")
    task = SimTask(bare, default_scenario().with_overrides(reps=6, teams=2), 1)
    assert task.key.startswith("local-")
    (i, res), = run_chunks(task, [np.arange(1)])
    assert i == 0 and res.cost.shape == (1,)
    with pytest.raises(TypeError):
        list(run_chunks(task, chunks_of(2, 1), workers=2))


def test_user_errors_are_returned_by_workers(tmp_path):
    """A worker hands a user error back as a value (so Dask never retries it: its retries are
    for lost workers), and it unpickles into the same class with the same fields."""
    task = SimTask(load_plan(_failing(tmp_path)), SMALL, 3)
    res = ex_mod._run_remote(task.key, task.blob, None, np.arange(2))
    assert isinstance(res, EvaluationError)
    back = pickle.loads(pickle.dumps(res))
    _assert_intact(back)
    assert back.render() == res.render()


def test_forecast_and_recalibrate_take_a_scheduler_on_the_command_line(client, tmp_path):
    """`incentive forecast` and `incentive recalibrate` accept --scheduler (like simulate and
    compare) and print the same JSON as without it."""
    address = client.scheduler.address
    fc = [str(PLANS / "kpi_scorecard.yaml"), "--roster", str(DATA / "field_team_roster.csv"),
          "--actuals", str(DATA / "field_team_actuals_h1.csv"), "--runs", "4", "--seed", "5", "--json", "-"]
    rc = [str(PLANS / "classic_ae.yaml"), "--maximize", "revenue", "--runs", "3", "--budget-evals", "2",
          "--seed", "5", "--roster", str(DATA / "field_team_roster.csv"), "--json", "-"]
    for command, args in (("forecast", fc), ("recalibrate", rc)):
        out = [invoke(command, *args, *extra, *(["--out", str(tmp_path / f"{i}.yaml")]
                                                if command == "recalibrate" else []))
               for i, extra in enumerate((["--workers", "1"], ["--scheduler", address]))]
        assert all(r.exit_code == 0 for r in out), [r.output for r in out]
        assert json.loads(out[0].stdout) == json.loads(out[1].stdout)


def test_progress_bar_counts_runs_on_stderr(monkeypatch):
    """With progress, a bar on stderr counts the runs as chunks complete, labelled with desc."""
    import io
    import sys

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    task = SimTask(load_plan(PLANS / "classic_ae.yaml"), SMALL, 1)
    assert len(list(run_chunks(task, chunks_of(3, 1), progress=True, desc="three runs"))) == 3
    assert "three runs" in err.getvalue() and "/3 [" in err.getvalue() and "run/s" in err.getvalue()
