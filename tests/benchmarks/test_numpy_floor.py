"""The hand-written numpy floor of benchmarks/ prices exactly what the engine prices.

`make bench-scale` reports the engine's speed against this kernel; the comparison only means
something while both compute the same utilities, so the check runs with the default suite
(a small state: it also catches the benchmark falling out of step with the engine's API).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from numpy_floor import check_against_engine


def test_floor_prices_every_candidate_as_the_engine_does():
    """Every effort and timing candidate of a random state, in a quarter's first, middle and
    last month, priced by both: utilities agree to 1e-12 monthly TI and no best choice differs."""
    chk = check_against_engine(reps=60, months=(0, 1, 2, 11))
    assert chk["candidates_priced"] > 0
    assert chk["max_abs_diff_per_ti_month"] < 1e-12, chk
    assert chk["best_choice_differs"] == 0, chk
