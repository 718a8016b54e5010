"""Notebook display: the report layer registers the HTML of plans and results with IPython."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.jobs.compare import compare_plans
from engine.plan import load_plan
from engine.report.display import FORMATTERS, register_display_hooks, to_html
from engine.sim.scenario import default_scenario

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "scenarios" / "plans" / "classic_ae.yaml"


@pytest.fixture(scope="module")
def cmp():
    plans = [load_plan(PLAN), load_plan(ROOT / "scenarios" / "plans" / "kpi_scorecard.yaml")]
    return compare_plans(plans, default_scenario(), runs=3, seed=5, workers=1)


def test_formatters_registered_with_ipython(cmp):
    """Registered with IPython's HTML formatter, a plan, a result and a comparison format to
    the report's HTML; an object of another class gets no HTML."""
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()
    assert register_display_hooks(SimpleNamespace(display_formatter=formatter))
    for obj in (load_plan(PLAN), cmp.results[0], cmp):
        data, _ = formatter.format(obj)
        assert data["text/html"] == to_html(obj) and "<table" in data["text/html"]
    assert "text/html" not in formatter.format(object())[0]


def test_nothing_registered_without_ipython():
    """Outside IPython there is no shell to register with: nothing happens."""
    assert register_display_hooks() is False


def test_objects_know_no_html():
    """The displayed classes define no _repr_html_ of their own (a lower layer would call up)."""
    for cls in FORMATTERS:
        assert not hasattr(cls, "_repr_html_"), cls.__name__
    with pytest.raises(TypeError, match="no HTML display"):
        to_html(object())


def test_importing_engine_in_ipython_registers_the_hooks():
    """In a running IPython, importing engine is enough for a plan to show as an HTML table."""
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "shell = InteractiveShell.instance()\n"
            "from engine import load_plan\n"
            f"data, _ = shell.display_formatter.format(load_plan({str(PLAN)!r}))\n"
            "print('<table' in data.get('text/html', ''))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr
