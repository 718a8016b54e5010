"""Comparing candidate plans on the same simulated team and random numbers.

Every plan is simulated with the same seed, so run ``i`` of every plan has the same people,
the same noise and the same quit draws (common random numbers); the difference between two
plans is then measured run by run, and its Monte Carlo confidence interval is that of a
paired mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats

from engine.plan.validate import CheckedPlan
from engine.sim.metrics import PER_RUN_KEYS
from engine.sim.run import SimResult, simulate
from engine.sim.scenario import Scenario, default_scenario

__all__ = ["Comparison", "compare_plans", "paired_difference", "comparison_table"]


@dataclass
class Comparison:
    results: list[SimResult]
    differences: list[dict]  # one per plan after the first: key -> {mean, ci_low, ci_high}

    @property
    def document(self) -> dict:
        return {"plans": [r.document for r in self.results],
                "differences": self.differences}


def paired_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict:
    """Mean of b - a over runs with a t confidence interval (None where undefined)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return {"mean": None, "ci_low": None, "ci_high": None}
    mean = float(d.mean())
    if n < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def compare_plans(plans: Sequence[CheckedPlan], scenario: Optional[Scenario] = None, runs: int = 200,
                  seed: Optional[int] = None, progress: bool = False, chunk_runs: Optional[int] = None,
                  workers: int = 1, scheduler=None) -> Comparison:
    """Simulate every plan on the same scenario and seed, and difference each with the first."""
    scenario = scenario or default_scenario()
    results = [simulate(p, scenario, runs, seed, chunk_runs=chunk_runs, progress=progress, workers=workers,
                        scheduler=scheduler,
                        label=f"{p.plan.name} ({i + 1}/{len(plans)})") for i, p in enumerate(plans)]
    base = results[0].per_run
    diffs = []
    for r in results[1:]:
        diffs.append({"plan": r.document["plan"],
                      **{k: paired_difference(base[k], r.per_run[k]) for k in PER_RUN_KEYS}})
    return Comparison(results, diffs)


ROWS = [
    ("cost (mean)", lambda d: d["cost"]["mean"], "money", "cost"),
    ("cost P50", lambda d: d["cost"]["p50"], "money", None),
    ("cost P90", lambda d: d["cost"]["p90"], "money", None),
    ("cost P95", lambda d: d["cost"]["p95"], "money", None),
    ("revenue (mean)", lambda d: d["revenue"]["mean"], "money", "revenue"),
    ("cost of sales", lambda d: d["cost_of_sales"], "pct", "cost_of_sales"),
    ("attainment P10", lambda d: d["attainment"]["p10"], "pct", None),
    ("attainment P50", lambda d: d["attainment"]["p50"], "pct", "attainment_p50"),
    ("attainment P90", lambda d: d["attainment"]["p90"], "pct", None),
    ("at or above target", lambda d: d["attainment"]["share_at_or_above_target"], "pct",
     "share_at_or_above_target"),
    ("attainment Gini", lambda d: d["attainment"]["gini"], "num", None),
    ("payout per rep P50", lambda d: d["payout_per_rep"]["p50"], "money", None),
    ("payout per rep P90", lambda d: d["payout_per_rep"]["p90"], "money", None),
    ("attrition", lambda d: d["morale"]["attrition_rate"], "pct", "attrition_rate"),
    ("regretted attrition", lambda d: d["morale"]["regretted_attrition_rate"], "pct", "regretted_attrition_rate"),
    ("disengaged", lambda d: d["morale"]["share_disengaged"], "pct", "share_disengaged"),
    ("replacement cost", lambda d: d["morale"]["replacement_cost"], "money", None),
    ("last-month share", lambda d: d["timing"]["last_month_share"], "pct", None),
    ("effort vs baseline", lambda d: d["effort"]["mean"], "num", "effort_mean"),
]


def _fmt(v, kind: str, signed: bool = False) -> str:
    if v is None:
        return "—"
    sign = "+" if signed and v >= 0 else ""
    if kind == "money":
        return f"{sign}{v:,.0f}"
    if kind == "pct":
        return f"{sign}{100 * v:.1f}" + ("pp" if signed else "%")
    return f"{sign}{v:.3f}"


def _fmt_diff(d: dict, kind: str) -> str:
    if d["mean"] is None:
        return "—"
    text = _fmt(d["mean"], kind, signed=True)
    if d["ci_low"] is None:
        return text
    half = (d["ci_high"] - d["ci_low"]) / 2
    return f"{text} ± {_fmt(half, kind).replace('%', 'pp')}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]


def comparison_table(cmp: Comparison, currency: str = "") -> str:
    """The side-by-side table of every plan, then each later plan's difference to the first.

    Differences are paired over runs (common random numbers), shown with the half-width of
    their 95% confidence interval.
    """
    docs = [r.document for r in cmp.results]
    unit = lambda label, kind: label + (f" ({currency})" if kind == "money" and currency else "")  # noqa: E731
    rows = [[unit(label, kind)] + [_fmt(get(d), kind) for d in docs] for label, get, kind, _ in ROWS]
    lines = _table(["metric"] + [d["plan"] for d in docs], rows)
    if cmp.differences:
        lines += ["", f"Difference to {docs[0]['plan']} (mean ± 95% CI half-width, paired over runs)"]
        drows = [[unit(label, kind)] + [_fmt_diff(diff[key], kind) for diff in cmp.differences]
                 for label, _, kind, key in ROWS if key]
        lines += _table(["metric"] + [d["plan"] for d in docs[1:]], drows)
    d0 = docs[0]
    lines.append("")
    lines.append(f"{d0['runs']} runs of scenario {d0['scenario']} ({d0['reps']} seats), seed {d0['seed']}; "
                 "every plan sees the same reps and random numbers.")
    return "\n".join(lines)
