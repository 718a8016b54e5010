"""Rosters and actuals: read tables and bind them to a plan's fiscal periods; a team's attainment
history for calibration (:mod:`engine.data.history`)."""

from engine.core.inputs import Inputs, PeriodInfo
from engine.core.periods import parse_period_label, period_for_date
from engine.data.load import load_inputs, read_table

__all__ = [
    "Inputs",
    "PeriodInfo",
    "load_inputs",
    "parse_period_label",
    "period_for_date",
    "read_table",
]
