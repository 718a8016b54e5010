"""Notebook display: plans, results, comparisons, forecasts and recalibrations as HTML tables.

The objects themselves know nothing of HTML (a lower layer never calls up into the report);
the report layer registers one HTML formatter per class with IPython instead. Importing
:mod:`engine` inside a running IPython (a Jupyter kernel) registers them; elsewhere nothing
happens, and :func:`register_display_hooks` can be called by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.data.summary import payout_table
from engine.jobs.compare import Comparison
from engine.jobs.forecast import Forecast
from engine.jobs.recalibrate import Recalibration
from engine.plan.validate import CheckedPlan
from engine.report.html import (
    comparison_html,
    forecast_html,
    key_figures_html,
    plan_html,
    recalibration_html,
)
from engine.sim.run import SimResult

__all__ = ["FORMATTERS", "register_display_hooks", "to_html"]


def _plan(checked: CheckedPlan) -> str:
    return plan_html(checked, *payout_table(checked))


# One row per displayed class: the class -> its HTML (a new kind of result adds a row).
FORMATTERS: dict[type, Callable[[Any], str]] = {
    CheckedPlan: _plan,  # components, and what it pays at 50-150% of target
    SimResult: lambda result: key_figures_html([result]),  # the key figures, formatted as in the CLI
    Comparison: comparison_html,  # side by side, then the paired differences
    Forecast: forecast_html,  # by period, and the headline figures
    Recalibration: recalibration_html,  # what moved, the constraints, the predicted effect
}


def to_html(obj: object) -> str:
    """The HTML a notebook shows for an engine object.

    Raises:
        TypeError: the object is of no displayed class.
    """
    for cls, fmt in FORMATTERS.items():
        if isinstance(obj, cls):
            return fmt(obj)
    raise TypeError(f"no HTML display for {type(obj).__name__}")


def register_display_hooks(shell: Any = None) -> bool:
    """Register :data:`FORMATTERS` with IPython's HTML formatter.

    Args:
        shell: an IPython shell (default: the running one, if any).

    Returns:
        True when registered, False when no IPython shell is running.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with Jupyter
            return False
        shell = get_ipython()
    if shell is None:
        return False
    html = shell.display_formatter.formatters["text/html"]
    for cls, fmt in FORMATTERS.items():
        html.for_type(cls, fmt)
    return True
