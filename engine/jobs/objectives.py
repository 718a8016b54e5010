"""What ``recalibrate`` optimises and constrains: the metric catalogue of a simulation and
``--subject-to`` constraints (``cost_of_sales <= 6.5%``, ``measures.complaints <= baseline``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.core.errors import PlanError, PlanErrors
from engine.sim.scenario import Scenario, default_scenario

__all__ = ["Constraint", "MetricDef", "metric_catalogue", "parse_constraint", "unknown_metric"]


@dataclass(frozen=True)
class MetricDef:
    """A figure of the simulation that can be optimised or constrained.

    Attributes:
        name: its name on the command line.
        label: how tables show it.
        kind: ``money``, ``pct`` or ``num`` (formatting).
        value: the figure from the simulation document and per-run arrays.
        per_run: per-run values for paired differences (None where there are none).
    """

    name: str
    label: str
    kind: str
    value: Callable[[dict, dict], float | None]
    per_run: Callable[[dict], np.ndarray] | None = None


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def metric_catalogue(scenario: Scenario | None = None) -> dict[str, MetricDef]:
    """Every metric name ``--maximize``, ``--minimize`` and ``--subject-to`` accept.

    ``profit`` is revenue x margin - incentive cost - replacement cost of leavers, with the
    margin rate given (default :data:`DEFAULT_MARGIN`), or the simulated total of the
    scenario's ``margin`` output when it produces one. ``measures.COLUMN`` is the mean
    annual total of an actuals column the scenario produces.
    """
    d: list[MetricDef] = [
        MetricDef("cost", "cost (mean)", "money", lambda doc, pr: doc["cost"]["mean"], lambda pr: pr["cost"]),
        MetricDef("cost_p90", "cost P90", "money", lambda doc, pr: doc["cost"]["p90"]),
        MetricDef("revenue", "revenue (mean)", "money", lambda doc, pr: doc["revenue"]["mean"],
                  lambda pr: pr["revenue"]),
        MetricDef("profit", "profit (mean)", "money", lambda doc, pr: float(np.mean(pr["profit"])),
                  lambda pr: pr["profit"]),
        MetricDef("cost_of_sales", "cost of sales", "pct", lambda doc, pr: doc["cost_of_sales"],
                  lambda pr: _ratio(pr["cost"], pr["revenue"])),
        MetricDef("share_at_or_above_target", "at or above target", "pct",
                  lambda doc, pr: doc["attainment"]["share_at_or_above_target"],
                  lambda pr: _ratio(pr["at_or_above"], pr["reps"])),
        MetricDef("attainment_p10", "attainment P10", "pct", lambda doc, pr: doc["attainment"]["p10"]),
        MetricDef("attainment_p50", "attainment P50", "pct", lambda doc, pr: doc["attainment"]["p50"],
                  lambda pr: pr["attainment_p50"]),
        MetricDef("attainment_p90", "attainment P90", "pct", lambda doc, pr: doc["attainment"]["p90"]),
        MetricDef("attainment_gini", "attainment Gini", "num", lambda doc, pr: doc["attainment"]["gini"],
                  lambda pr: pr["gini"]),
        MetricDef("payout_per_rep_p50", "payout per rep P50", "money", lambda doc, pr: doc["payout_per_rep"]["p50"]),
        MetricDef("payout_per_rep_p90", "payout per rep P90", "money", lambda doc, pr: doc["payout_per_rep"]["p90"]),
        MetricDef("attrition_rate", "attrition", "pct", lambda doc, pr: doc["morale"]["attrition_rate"],
                  lambda pr: _ratio(pr["leavers"], pr["headcount"])),
        MetricDef("regretted_attrition_rate", "regretted attrition", "pct",
                  lambda doc, pr: doc["morale"]["regretted_attrition_rate"],
                  lambda pr: _ratio(pr["regretted"], pr["headcount"])),
        MetricDef("share_disengaged", "disengaged", "pct", lambda doc, pr: doc["morale"]["share_disengaged"],
                  lambda pr: _ratio(pr["disengaged_months"], pr["active_months"])),
        MetricDef("replacement_cost", "replacement cost", "money", lambda doc, pr: doc["morale"]["replacement_cost"],
                  lambda pr: pr["replacement_cost"]),
        MetricDef("last_month_share", "last-month share", "pct", lambda doc, pr: doc["timing"]["last_month_share"],
                  lambda pr: _ratio(pr["last_month_primary"], pr["revenue"])),
        MetricDef("effort", "effort vs baseline", "num", lambda doc, pr: doc["effort"]["mean"],
                  lambda pr: _ratio(pr["effort_sum"], pr["active_months"])),
    ]
    out = {m.name: m for m in d}
    columns = scenario.actual_columns if scenario is not None else default_scenario().actual_columns
    outputs = scenario.outputs if scenario is not None else default_scenario().outputs
    money = {o.name for o in outputs if o.kind in ("amount", "share_of")}
    for col in columns:
        name = f"measures.{col}"
        out[name] = MetricDef(name, f"{col} (mean total)", "money" if col in money else "num",
                              _measure_of_doc(col), _measure_of_runs(col))
    return out


def _measure_of_doc(col: str) -> Callable:
    """The mean total of measure ``col`` in a simulation document."""
    return lambda doc, pr: doc["measures"].get(col)


def _measure_of_runs(col: str) -> Callable:
    """The per-run totals of measure ``col``."""
    return lambda pr: pr[f"measures.{col}"]


# --------------------------------------------------------------------------- constraints

_OPS = {"<=": "<=", "=<": "<=", "<": "<=", ">=": ">=", "=>": ">=", ">": ">="}
_CONSTRAINT = re.compile(r"^\s*([^\s<>=]+)\s*(<=|>=|=<|=>|<|>)\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[+-]?(\d[\d_,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")
_BASELINE = re.compile(r"^baseline(?:\s*([+\-*])\s*(\S+))?$")


def _number(text: str) -> float | None:
    t = text.strip()
    if not _NUMBER.match(t):
        return None
    pct = t.endswith("%")
    v = float(t.rstrip("%").replace("_", "").replace(",", ""))
    return v / 100.0 if pct else v


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``; the bound may be relative to the baseline.

    Attributes:
        text: as written.
        metric: a name of :func:`metric_catalogue`.
        op: ``<=`` or ``>=``.
        value: the bound, or the number of a relative bound.
        relative: None, or ``=`` (``baseline``), ``+``, ``-``, ``*`` (``baseline * 1.05``).
    """

    text: str
    metric: str
    op: str
    value: float
    relative: str | None = None

    def bound(self, baseline: float | None) -> float:
        """The bound, given the current plan's value of the metric (for relative bounds)."""
        if self.relative is None:
            return self.value
        b = float("nan") if baseline is None else baseline
        return {"=": b, "+": b + self.value, "-": b - self.value, "*": b * self.value}[self.relative]


def unknown_metric(name: str, names: Sequence[str], what: str) -> PlanError:
    from engine.plan.parse import suggest

    hint = suggest(name, list(names))
    listing = "valid metrics: " + ", ".join(names)
    return PlanError("unknown-metric", f"unknown metric '{name}' in {what}", None,
                     f"{hint} {listing}" if hint else listing)


def parse_constraint(text: str, metrics: dict[str, MetricDef] | None = None) -> Constraint:
    """Read ``"cost_of_sales <= 0.12"``, ``"share_at_or_above_target >= 60%"``,
    ``"attrition_rate <= baseline"`` or ``"cost <= baseline * 1.05"``.

    Raises:
        PlanErrors: a malformed constraint (code ``bad-constraint``) or an unknown metric
            (``unknown-metric``, listing the valid names).
    """
    metrics = metric_catalogue() if metrics is None else metrics
    example = ('write METRIC <= VALUE or METRIC >= VALUE, e.g. --subject-to "cost_of_sales <= 0.12", '
               '"share_at_or_above_target >= 60%" or "attrition_rate <= baseline"')
    m = _CONSTRAINT.match(text or "")
    if not m or not m.group(3):
        raise PlanErrors([PlanError("bad-constraint", f"cannot read constraint '{text}'", None, example)])
    name, op, rhs = m.group(1), _OPS[m.group(2)], m.group(3)
    if name not in metrics:
        raise PlanErrors([unknown_metric(name, list(metrics), f"constraint '{text}'")])
    v = _number(rhs)
    if v is not None:
        return Constraint(text, name, op, v)
    b = _BASELINE.match(rhs.strip())
    if b:
        if b.group(1) is None:
            return Constraint(text, name, op, 0.0, "=")
        v = _number(b.group(2))
        if v is not None:
            return Constraint(text, name, op, v, b.group(1))
    raise PlanErrors([PlanError("bad-constraint", f"cannot read the bound '{rhs}' of constraint '{text}'", None,
                                "the bound is a number (0.12, 12%, 7_000_000) or 'baseline' "
                                "(optionally + - * a number)")])
