"""Every notebook in notebooks/ runs top to bottom, and is committed with its outputs stripped.

A notebook that simulates declares its sizes in one cell tagged ``parameters`` (papermill's
convention); the suite runs it top to bottom with smaller sizes, injected in a cell right after
that one, so every cell runs as a user runs it, only on fewer simulated years."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
EXPECTED = {"compare_plans.ipynb", "budget_forecast.ipynb", "quarterly_recalibration.ipynb",
            "plan_language_tour.ipynb"}
SMALLER = {"RUNS": 30, "SEARCH_RUNS": 20, "SEARCH_BUDGET": 8}
"""The sizes the suite runs the notebooks with (each notebook's ``parameters`` cell names its own)."""


def _with_smaller_sizes(nb) -> int:
    """Insert a cell overriding the sizes the ``parameters`` cell declares; return how many it overrides."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            names = [name for name in SMALLER if f"{name} =" in cell.source]
            assert names, "a parameters cell declares at least one size the suite knows"
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell("\n".join(f"{n} = {SMALLER[n]}" for n in names)))
            return len(names)
    return 0


def test_the_four_stories_are_there():
    assert EXPECTED <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    _with_smaller_sizes(nb)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell and traceback, on any error
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("output_type") in ("display_data", "execute_result") for o in shown)
    assert not [o for o in shown if o.get("output_type") == "error"]
    nbformat.write(nb, tmp_path / path.name)  # the executed copy, for a person to look at


def test_simulating_notebooks_declare_their_sizes():
    """Every notebook that simulates, forecasts or recalibrates takes its sizes from its parameters cell."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        if "runs=" in code:
            assert _with_smaller_sizes(nb) > 0, f"{path.name}: simulates but has no parameters cell"
            assert not [line for line in code.splitlines() if "runs=" in line and "runs=RUNS" not in line
                        and "runs=SEARCH_RUNS" not in line], f"{path.name}: a run count not taken from the parameters"
