"""Reports: tables and charts of plans and simulation results, formatted for people.

Formatting only: the numbers come from :mod:`engine.jobs` (:func:`~engine.jobs.compare.report_inputs`),
:mod:`engine.sim`, :mod:`engine.data.summary` and :mod:`engine.plan.lint`; the figures are
drawn by :mod:`engine.report.charts`; :mod:`engine.report.display` registers the notebook
HTML of plans and results.
"""

from engine.report.html import (
    compare_report,
    comparison_html,
    key_figures_html,
    plan_html,
    write_report,
)

__all__ = ["compare_report", "comparison_html", "key_figures_html", "plan_html", "write_report"]
