"""Running chunks on a dask.distributed cluster: same numbers, and a dead worker loses nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from engine.plan import load_plan
from engine.sim.run import simulate
from engine.sim.scenario import default_scenario

PLAN = Path(__file__).resolve().parents[2] / "scenarios" / "plans" / "seeds_base_float_excess.yaml"


@pytest.fixture(scope="module")
def client():
    import dask
    from distributed import Client, LocalCluster

    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which makes chunked
    # numpy several times slower; raise it before the cluster starts.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 2 ** 30}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        c = Client(cluster)
        yield c
        c.close()
        cluster.close()


def test_dask_cluster_gives_the_same_json(client):
    """A 2-worker LocalCluster gives bit-identical JSON to the single-process run, same seed."""
    checked, sc = load_plan(PLAN), default_scenario()
    local = json.dumps(simulate(checked, sc, runs=8, seed=21).document)
    on_dask = json.dumps(simulate(checked, sc, runs=8, seed=21, chunk_runs=2, scheduler=client).document)
    assert local == on_dask


def test_killing_a_worker_mid_run_changes_nothing(client):
    """A worker killed while chunks are running: Dask re-runs its chunks, no chunk is lost,
    and the result is bit-identical to the undisturbed run."""
    checked, sc = load_plan(PLAN), default_scenario()
    expected = json.dumps(simulate(checked, sc, runs=30, seed=4).document)
    pids = client.run(os.getpid)
    out: dict = {}

    def run():
        out["doc"] = simulate(checked, sc, runs=30, seed=4, chunk_runs=1, scheduler=client).document

    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 30
    while time.time() < deadline and not any(client.processing().values()):
        time.sleep(0.05)
    victim = next(iter(pids.values()))
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=240)
    assert not t.is_alive()
    assert json.dumps(out["doc"]) == expected
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)  # the worker really died
