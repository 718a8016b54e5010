"""Scenario files: defaults, validation with positions and suggestions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.core.errors import PlanErrors
from engine.sim.scenario import DEFAULT_SCENARIO, default_scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_default_file_spells_out_the_code_defaults():
    """The default scenario file and an empty scenario agree on every value (bar the extra column)."""
    a = default_scenario()
    b = parse_scenario("scenario: empty\n", "empty.yaml")
    for f in dataclasses.fields(a):
        if f.name in ("name", "file", "label", "extra_columns"):
            continue
        assert getattr(a, f.name) == getattr(b, f.name), f.name


def test_shipped_copy_matches_builtin():
    """scenarios/field_sales_default.yaml is the built-in default scenario, for users to copy."""
    assert (ROOT / "scenarios" / "field_sales_default.yaml").read_text() == DEFAULT_SCENARIO.read_text()
    assert load_scenario(ROOT / "scenarios" / "field_sales_default.yaml").reps == 120


@pytest.mark.parametrize("text,code,line,col,fragment", [
    ("scenario: s\nteam: {reps: 10, teamz: 2}\n", "unknown-key", 2, 18, "did you mean 'teams'?"),
    ("scenario: s\nreps:\n  skill: {dist: lognormal, median: 1, sigmaa: 0.2}\n", "unknown-key", 3, 39, "did you mean 'sigma'?"),
    ("scenario: s\nreps:\n  skill: {dist: lognormel, median: 1, sigma: 0.2}\n", "bad-value", 3, 17, "lognormal"),
    ("scenario: s\nactivities:\n  selling: {share: 0.5}\n", "weights-sum", 3, 3, "sum to 1"),
    ("scenario: s\noutputs:\n  revenue: {kind: amount, activity: seling}\n", "unknown-name", 3, 37, "selling"),
    ("scenario: s\nseasonality: [1, 2]\n", "bad-value", 2, 14, "12 positive"),
    ("scenario: s\nteam: {pay_mix: 1.5}\n", "bad-value", 2, 17, "between 0 and 1"),
])
def test_bad_scenarios(text, code, line, col, fragment):
    """Scenario errors carry a code, line, column and a hint or the expected values."""
    with pytest.raises(PlanErrors) as info:
        parse_scenario(text, "s.yaml")
    err = next((e for e in info.value.errors if e.code == code), info.value.errors[0])
    assert err.code == code, err.render()
    assert (err.span.line, err.span.column) == (line, col), err.render()
    assert fragment in err.render()


def test_timing_holds_back_a_third_of_what_it_pulls_unless_told():
    """`timing.max_push` defaults to a third of `max_shift` (what closes in a period's last days
    against next month's pipeline), so `max_shift: 0` turns timing off; it can be set, within 0-1."""
    assert parse_scenario("scenario: s\ntiming: {max_shift: 0.6}\n", "s.yaml").timing_max_push == pytest.approx(0.2)
    assert parse_scenario("scenario: s\ntiming: {max_shift: 0}\n", "s.yaml").timing_max_push == 0.0
    assert parse_scenario("scenario: s\ntiming: {max_push: 0.3}\n", "s.yaml").timing_max_push == 0.3
    with pytest.raises(PlanErrors) as info:
        parse_scenario("scenario: s\ntiming: {max_push: 1.5}\n", "s.yaml")
    assert "max_push" in info.value.errors[0].render()
