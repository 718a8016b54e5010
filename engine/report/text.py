"""The terminal text of the jobs: what ``incentive simulate``, ``compare``, ``recalibrate``,
``forecast``, ``alerts`` and ``calibrate --plan`` print.

The jobs return data (:class:`~engine.jobs.compare.Comparison`, :class:`~engine.jobs.forecast.Forecast`,
:class:`~engine.jobs.recalibrate.Recalibration`, an alerts table, a
:class:`~engine.jobs.history.HistoryFit`); this module words and lays it out. Every table goes
through one formatter, :func:`engine.core.text.text_table` (columns aligned by display width, so
Chinese names line up), and every figure through :func:`engine.core.text.figure` (money, shares,
numbers) as in the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.core.text import MISSING, figure, plan_diff, plus_minus, text_table
from engine.jobs.compare import Comparison, rows_for
from engine.jobs.recalibrate import Recalibration, metric_catalogue
from engine.sim.run import SimResult

__all__ = ["comparison_table", "difference_rows", "figure_rows", "recalibration_text"]


def _unit(label: str, kind: str, currency: str) -> str:
    """A row label with the currency of a money row: ``cost (mean) (USD)``."""
    return label + (f" ({currency})" if kind == "money" and currency else "")


# --------------------------------------------------------------------------- simulate, compare

def figure_rows(results: Sequence[SimResult], currency: str = "") -> list[list[str]]:
    """The side-by-side figures as text rows (label, then one cell per result), as every
    renderer shows them: the CLI table, the report and the notebook display. A row no
    result has (base pay, for plans without it) is left out."""
    docs = [r.document for r in results]
    return [[_unit(label, kind, currency)] + [figure(get(d), kind) for d in docs]
            for label, get, kind, _ in rows_for(docs) if any(get(d) is not None for d in docs)]


def difference_rows(cmp: Comparison, currency: str = "") -> list[list[str]]:
    """Each later plan minus the first as text rows: mean ± 95% CI half-width."""
    docs = [r.document for r in cmp.results]
    return [[_unit(label, kind, currency)] + [plus_minus(diff[key]["mean"], diff[key]["ci_low"], diff[key]["ci_high"],
                                                         kind) if key in diff else MISSING
                                              for diff in cmp.differences]
            for label, _, kind, key in rows_for(docs) if key]


def comparison_table(cmp: Comparison, currency: str = "") -> str:
    """The side-by-side table of every plan, then each later plan's difference to the first
    (what ``incentive compare`` prints; ``simulate`` prints it for one plan).

    Differences are paired over runs (common random numbers), shown with the half-width of
    their 95% confidence interval.
    """
    docs = [r.document for r in cmp.results]
    lines = text_table(["metric"] + [d["plan"] for d in docs], figure_rows(cmp.results, currency))
    if cmp.differences:
        lines += ["", f"Difference to {docs[0]['plan']} (mean ± 95% CI half-width, paired over runs)"]
        lines += text_table(["metric"] + [d["plan"] for d in docs[1:]], difference_rows(cmp, currency))
    d0 = docs[0]
    lines.append("")
    lines.append(f"{d0['runs']} runs of scenario {d0['scenario']} ({d0['reps']} seats), seed {d0['seed']}; "
                 "every plan sees the same reps and random numbers.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- recalibrate

def _bound(v: float) -> str:
    """A parameter's bound as the plan would write it (``0.05``, ``1,500,000``)."""
    return f"{v:g}" if abs(v) < 1e6 else f"{v:,.0f}"


def _difference(row) -> str:
    """An effect's paired difference with its interval (a row of ``effects`` or ``quartiles``)."""
    return plus_minus(row["difference"], row.get("ci_low"), row.get("ci_high"), row["kind"])


def _change_name(r) -> str:
    return f"{r['name']} weight" if r["kind"] == "weight" else str(r["name"])


def recalibration_text(rec: Recalibration, currency: str | None = None) -> str:
    """The report ``incentive recalibrate`` prints: changes (with the diff of the plan text),
    constraints, predicted effects, skill quartiles, targets and notes."""
    plan = rec.checked.plan
    cur = currency or plan.currency
    lines = [f"Recalibration of {plan.name} on scenario {rec.scenario}: {rec.sense} {rec.objective}"
             + (f" (margin {rec.margin:.0%} of revenue)" if rec.objective == "profit" and rec.margin is not None
                else "")]
    lines.append(f"{rec.evaluations} of {rec.budget} simulations, {rec.runs} runs each on common random numbers "
                 f"(seed {rec.seed}), method {rec.method}")
    lines.append("")
    if rec.changes.empty:
        lines.append("Changes: none")
    else:
        lines.append(f"Changes ({plan.file})")
        rows = []
        for _, r in rec.changes.iterrows():
            rng = (f"range [{_bound(r['min'])}, {_bound(r['max'])}]" if r["kind"] == "parameter" and r["min"] is not None
                   else "weights sum to 1")
            rows.append([f"{_change_name(r)}: {r['old_text']} → {r['new_text']}", f"{rng}, line {r['line']}"])
        lines += ["  " + ln for ln in text_table(None, rows, left=2, sep="   ")]
        lines.append("")
        lines += plan_diff(rec.baseline_text, rec.plan_text, plan.file, context=0)
    if rec.constraint_rows:
        lines.append("")
        lines.append("Constraints")
        mk = metric_catalogue()
        for c in rec.constraint_rows:
            kind = mk[c["metric"]].kind if c["metric"] in mk else "num"
            status = "met" if c["satisfied"] else \
                f"NOT MET ({'over' if c['op'] == '<=' else 'under'} by {figure(c['excess'], kind, True)})"
            lines.append(f"  {c['constraint']}: {figure(c['baseline'], kind)} → {figure(c['recalibrated'], kind)}  "
                         f"{status}")
    lines.append("")
    lines.append("Predicted effect (mean over runs; difference paired over runs, ± 95% CI half-width)")
    rows = []
    for _, r in rec.effects.iterrows():
        label = r["label"] + (f" ({cur})" if r["kind"] == "money" else "")
        mark = " *" if r["role"] == "objective" else (" †" if r["role"] == "constraint" else "")
        rows.append([label + mark, figure(r["baseline"], r["kind"]), figure(r["recalibrated"], r["kind"]),
                     _difference(r)])
    lines += ["  " + ln for ln in text_table(["metric", "baseline", "recalibrated", "difference"], rows)]
    lines.append("  * objective   † constrained")
    if not rec.quartiles.empty:
        lines.append("")
        lines.append("By skill quartile of the starting team (the same people under both plans; mean per rep)")
        rows = []
        for _, r in rec.quartiles.iterrows():
            label = r["figure"] + (f" ({cur})" if r["kind"] == "money" else "")
            rows.append([r["quartile"], label, figure(r["baseline"], r["kind"]), figure(r["recalibrated"], r["kind"]),
                         _difference(r)])
        lines += ["  " + ln for ln in text_table(["quartile", "figure", "baseline", "recalibrated", "difference"],
                                                 rows)]
    if rec.target_info is not None:
        ti = rec.target_info
        summary = rec.target_summary
        assert summary is not None, "target_info and target_summary are set together"
        lines.append("")
        lines.append(f"Targets for {ti['year']}: company target {ti['company_target']:,.0f} {cur} shared over "
                     f"{len(summary)} reps")
        lines.append(f"  potential: {ti['potential']}")
        lines.append(f"  each target = {ti['stretch']:.3f} x the rep's expected output under the recalibrated plan; "
                     f"expected share reaching target {ti['expected_share_reaching']:.0%} "
                     f"(goal {ti['share_goal']:.0%}: company target {ti['company_target_for_goal']:,.0f})")
        ts = summary["annual_target"]
        lines.append(f"  annual targets: min {ts.min():,.0f}, median {ts.median():,.0f}, max {ts.max():,.0f}; "
                     "quarters and months follow the scenario's seasonality")
    if rec.notes:
        lines.append("")
        for n in rec.notes:
            lines.append(f"Note: {n}")
    return "\n".join(lines) + "\n"
