"""Comparing candidate plans on the same simulated team and random numbers.

Every plan is simulated with the same seed, so run ``i`` of every plan has the same people,
the same noise and the same quit draws (common random numbers); the difference between two
plans is then measured run by run, and its Monte Carlo confidence interval is that of a
paired mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from engine.core.errors import PlanError, PlanErrors
from engine.data.summary import roster_frame
from engine.jobs.check import design_hazards
from engine.plan.lint import Finding
from engine.plan.validate import CheckedPlan
from engine.sim.metrics import PER_RUN_KEYS, skill_quartiles
from engine.sim.population import Roster, build_roster
from engine.sim.run import SimResult, simulate_plans
from engine.sim.scenario import Scenario, default_scenario

__all__ = [
    "QUARTILES",
    "ROWS",
    "Comparison",
    "ReportInputs",
    "compare_plans",
    "key_figures",
    "mean_interval",
    "metric_intervals",
    "paired_difference",
    "report_inputs",
    "rows_for",
    "winners_losers",
]

QUARTILES = ("Q1 (lowest skill)", "Q2", "Q3", "Q4 (highest skill)")


@dataclass
class Comparison:
    results: list[SimResult]
    differences: list[dict]  # one per plan after the first: key -> {mean, ci_low, ci_high}

    @property
    def document(self) -> dict:
        return {"plans": [r.document for r in self.results],
                "differences": self.differences}

    @property
    def plans(self) -> list[str]:
        return [r.document["plan"] for r in self.results]

    def table(self) -> pd.DataFrame:
        """The side-by-side figures: one row per metric, one column per plan (unformatted)."""
        return key_figures(self.results)

    def differences_table(self) -> pd.DataFrame:
        """Each later plan minus the first, paired over runs: one row per (plan, metric) with
        ``mean``, ``ci_low`` and ``ci_high`` (95%)."""
        rows = []
        for diff in self.differences:
            for label, _, _, key in rows_for([r.document for r in self.results]):
                if key and key in diff:
                    rows.append({"plan": diff["plan"], "metric": label, **diff[key]})
        return pd.DataFrame(rows, columns=["plan", "metric", "mean", "ci_low", "ci_high"])

    def winners_losers(self) -> pd.DataFrame:
        """Who gains and who loses under each later plan against the first, by skill quartile.

        See :func:`winners_losers`.
        """
        return winners_losers(self)


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
    # Student's t quantile (what scipy.stats.t.ppf computes, without importing scipy.stats:
    # a second of every command's start)
    half = float(special.stdtrit(n - 1, 0.5 + level / 2) * d.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def compare_plans(plans: Sequence[CheckedPlan], scenario: Scenario | None = None, runs: int = 200,
                  seed: int | None = None, progress: bool = False, chunk_runs: int | None = None,
                  workers: int = 1, scheduler=None, keep_reps: bool = False, backend: str | None = None) -> Comparison:
    """Simulate every plan on the same scenario and seed, and difference each with the first.

    With ``keep_reps`` every result also keeps per-rep values (``SimResult.detail``) for
    the distribution and winners-and-losers charts; the document does not change.
    ``backend`` evaluates every plan (see :func:`engine.sim.run.simulate`).
    """
    _same_currency(plans)
    scenario = scenario or default_scenario()
    # One batch of every plan's chunks on one pool (or cluster connection): no plan waits for
    # the one before it to finish.
    results = simulate_plans(plans, scenario, runs, seed, chunk_runs=chunk_runs, progress=progress,
                             keep_reps=keep_reps, workers=workers, scheduler=scheduler, backend=backend)
    base = results[0].per_run
    diffs = []
    for r in results[1:]:
        years = [k for k in base if k.rsplit(" ", 1)[-1].isdigit() and k in r.per_run]  # "cost 2027", ...
        diffs.append({"plan": r.document["plan"],
                      **{k: paired_difference(base[k], r.per_run[k]) for k in (*PER_RUN_KEYS, *years)}})
    return Comparison(results, diffs)


def _same_currency(plans: Sequence[CheckedPlan]) -> None:
    """Plans compared side by side must pay in one currency: their costs are added and
    differenced, and the simulated team's quotas and pay are in one currency."""
    currencies = {p.plan.currency for p in plans}
    if len(currencies) > 1:
        first = plans[0].plan
        others = [p.plan for p in plans if p.plan.currency != first.currency]
        listing = ", ".join(f"{p.file or p.name} ({p.currency})" for p in others)
        raise PlanErrors([PlanError(
            "mixed-currencies",
            f"cannot compare plans in different currencies: {first.file or first.name} pays in "
            f"{first.currency}, {listing}",
            hint="compare plans of one currency: write the others' amounts in "
                 f"{first.currency} (and set `currency: {first.currency}`), at the exchange rate "
                 "you budget with")])


ROWS = [
    ("cost (mean)", lambda d: d["cost"]["mean"], "money", "cost"),
    ("cost P50", lambda d: d["cost"]["p50"], "money", None),
    ("cost P90", lambda d: d["cost"]["p90"], "money", None),
    ("cost P95", lambda d: d["cost"]["p95"], "money", None),
    ("base pay (mean)", lambda d: d.get("base_pay_cost", {}).get("mean"), "money", None),
    ("total pay cost (mean)", lambda d: d.get("total_pay_cost", {}).get("mean"), "money", None),
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
    ("period ends pulled in", lambda d: d["timing"].get("pull_share"), "pct", None),
    ("period ends pushed out", lambda d: d["timing"].get("push_share"), "pct", None),
    ("effort vs baseline", lambda d: d["effort"]["mean"], "num", "effort_mean"),
]


def _year_figure(d: dict, year: str, key: str) -> float | None:
    for entry in d.get("by_year", ()):
        if entry["year"] == year:
            return entry[key]["mean"]
    return None


def rows_for(docs: Sequence[dict]) -> list:
    """:data:`ROWS`, with per-plan-year cost and revenue rows (``cost 2027 (mean)``) after
    the revenue row where any document has several plan years (``by_year``)."""
    years: list[str] = []
    for d in docs:
        years += [e["year"] for e in d.get("by_year", ()) if e["year"] not in years]
    if not years:
        return ROWS
    extra = [(f"{key} {y} (mean)", lambda d, y=y, key=key: _year_figure(d, y, key), "money", f"{key} {y}")
             for y in years for key in ("cost", "revenue")]
    at = next(i for i, row in enumerate(ROWS) if row[0] == "revenue (mean)") + 1
    return ROWS[:at] + extra + ROWS[at:]


def key_figures(results: Sequence[SimResult]) -> pd.DataFrame:
    """The figures of the side-by-side table, unformatted: rows are metrics (the labels of
    :data:`ROWS`; money in the plan's currency, shares as fractions), columns are plans."""
    rows = [row for row in rows_for([r.document for r in results])
            if any(row[1](r.document) is not None for r in results)]
    data = {r.document["plan"]: [get(r.document) for _, get, _, _ in rows] for r in results}
    df = pd.DataFrame(data, index=[label for label, _, _, _ in rows], dtype=float)
    df.index.name = "metric"
    return df


def mean_interval(x: np.ndarray, level: float = 0.95) -> dict:
    """Mean over runs with its t confidence interval (the Monte Carlo error of the mean)."""
    return paired_difference(np.zeros_like(np.asarray(x, dtype=float)), x, level)


def metric_intervals(results: Sequence[SimResult], keys: Sequence[str] = PER_RUN_KEYS) -> pd.DataFrame:
    """Per plan and per-run figure: the mean over runs with a 95% confidence interval.

    Returns:
        One row per (plan, metric) with ``mean``, ``ci_low``, ``ci_high``. Means over runs
        of per-run ratios can differ slightly from the document's pooled ratios.
    """
    rows = [{"plan": r.document["plan"], "metric": k, **mean_interval(r.per_run[k])} for r in results for k in keys]
    return pd.DataFrame(rows, columns=["plan", "metric", "mean", "ci_low", "ci_high"])


def winners_losers(cmp: Comparison, tolerance: float = 1.0) -> pd.DataFrame:
    """Who gains and who loses under each later plan against the first, by skill quartile.

    Run ``i`` has the same starting reps, with the same skills, under every plan (common
    random numbers), so a rep's annual payout can be compared plan against plan. Reps are
    the ones who start the year (backfills differ between plans); a rep who leaves earlier
    under one plan is paid less under it. Quartiles are of skill within each run.

    Args:
        cmp: a comparison simulated with ``keep_reps=True``.
        tolerance: payout changes within this amount (in the plan's currency) count as
            neither better nor worse off.

    Returns:
        One row per (later plan, quartile): ``plan``, ``quartile`` (1-4), ``label``,
        ``base_payout`` (mean annual payout under the first plan), ``mean_change``,
        ``ci_low``, ``ci_high`` (paired over all runs), ``share_better``, ``share_worse``
        (over the reps of the sampled runs).

    Raises:
        ValueError: the comparison has no per-rep detail.
    """
    if any(r.detail is None for r in cmp.results):
        raise ValueError("winners and losers need per-rep detail: compare_plans(..., keep_reps=True)")
    base = cmp.results[0].detail
    assert base is not None
    s = base.seats
    k = min(r.detail.sample_runs for r in cmp.results if r.detail is not None)  # all have one (checked above)
    q = skill_quartiles(base.skill[:k, :s])
    base_pay = base.payout[:k, :s]
    rows = []
    for r in cmp.results[1:]:
        d = r.detail
        assert d is not None
        delta = d.payout[:k, :s] - base_pay
        for j in range(4):
            inq = q == j
            n = max(int(inq.sum()), 1)
            rows.append({
                "plan": r.document["plan"], "quartile": j + 1, "label": QUARTILES[j],
                "base_payout": float(np.nanmean(base.quartile_payout[:, j])),
                **{("mean_change" if key == "mean" else key): v for key, v in
                   paired_difference(base.quartile_payout[:, j], d.quartile_payout[:, j]).items()},
                "share_better": float((delta[inq] > tolerance).sum() / n),
                "share_worse": float((delta[inq] < -tolerance).sum() / n),
            })
    return pd.DataFrame(rows, columns=["plan", "quartile", "label", "base_payout", "mean_change", "ci_low",
                                       "ci_high", "share_better", "share_worse"])


@dataclass(frozen=True)
class ReportInputs:
    """Everything the HTML report of a comparison shows, computed: the report only formats it.

    Attributes:
        comparison: simulated with ``keep_reps=True``.
        plans: the compared plans, in the comparison's order.
        scenario: the scenario they were simulated on.
        roster: the scenario's team (its medians make the reference rep of the payout curves).
        findings: the design hazards of each plan (lint findings), in the plans' order.
    """

    comparison: Comparison
    plans: tuple[CheckedPlan, ...]
    scenario: Scenario
    roster: Roster
    findings: tuple[tuple[Finding, ...], ...]


def report_inputs(comparison: Comparison, plans: Sequence[CheckedPlan], scenario: Scenario,
                  findings: Sequence[Sequence[Finding]] | None = None) -> ReportInputs:
    """What :func:`engine.report.html.compare_report` shows for a comparison.

    Args:
        comparison: from :func:`compare_plans` with ``keep_reps=True``.
        plans: the compared plans, in the comparison's order.
        scenario: the scenario they were simulated on (its team is the reference rep).
        findings: lint findings per plan (default: :func:`engine.jobs.check.design_hazards`
            for each plan, rated with its simulated attainment quantiles; nothing is simulated
            again).

    Returns:
        The report's inputs.

    Raises:
        ValueError: the comparison has no per-rep detail, or plans and results differ.
    """
    results = comparison.results
    if len(plans) != len(results) or [p.plan.name for p in plans] != comparison.plans:
        raise ValueError("plans must be the compared plans, in the same order")
    if any(r.detail is None for r in results):
        raise ValueError("the report needs per-rep detail: compare_plans(..., keep_reps=True)")
    roster = build_roster(scenario)
    if findings is None:
        roster_df = roster_frame(roster)
        findings = [design_hazards(p, roster=roster_df, result=r) for p, r in zip(plans, results)]
    return ReportInputs(comparison, tuple(plans), scenario, roster, tuple(tuple(f) for f in findings))
