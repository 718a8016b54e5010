"""Reports: tables and charts of plans and simulation results, formatted for people.

Formatting only: the numbers come from :mod:`engine.jobs.compare`, :mod:`engine.sim` and
:mod:`engine.plan.lint`; the figures from :mod:`engine.charts`.
"""

from engine.report.html import (
    compare_report,
    comparison_html,
    key_figures_html,
    plan_html,
    write_report,
)

__all__ = ["compare_report", "comparison_html", "key_figures_html", "plan_html", "write_report"]
