"""benchmarks/bench_numba.py runs end to end at a tiny size (it compares the two backends'
results as it goes), so that `make bench-numba` does not fall out of step with the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("numba")


def test_bench_numba_runs_and_finds_the_backends_agree(tmp_path):
    """A tiny run prints every workload and finds the simulation results bit-identical."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INCENTIVE_KERNEL_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_numba.py"), "--reps", "200",
                          "--sim-reps", "20", "--sim-runs", "1", "--repeat", "1", "--sim-repeat", "1"],
                         capture_output=True, text=True, check=True, cwd=ROOT, env=env, timeout=600).stdout
    assert "statements" in out and "what-if" in out
    assert "bit-identical across backends: True" in out
