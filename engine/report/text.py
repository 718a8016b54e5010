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

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from engine.core.text import (
    MISSING,
    display_width,
    figure,
    money,
    percent,
    plan_diff,
    plus_minus,
    text_table,
    wrap,
)
from engine.jobs.alerts import ALERT_CODES, SEVERITIES
from engine.jobs.compare import Comparison, rows_for
from engine.sim.run import SimResult

if TYPE_CHECKING:  # the other jobs' results, imported where their text is written (scipy.stats, with the
    # history fit, costs a second to import: `compare` and `simulate` do not need it)
    from engine.jobs.forecast import Forecast
    from engine.jobs.history import HistoryFit
    from engine.jobs.recalibrate import Recalibration
    from engine.jobs.validation import Result
    from engine.jobs.with_history import HistoryCheck

__all__ = ["ALERT_TITLES", "alerts_text", "comparison_table", "cost_label", "difference_rows", "figure_rows",
           "forecast_text", "has_base_pay", "history_fit_report", "model_card", "recalibration_text"]


def _unit(label: str, kind: str, currency: str) -> str:
    """A row label with the currency of a money row: ``cost (mean) (USD)``."""
    return label + (f" ({currency})" if kind == "money" and currency else "")


# --------------------------------------------------------------------------- simulate, compare

def has_base_pay(docs: Sequence[dict]) -> bool:
    """Any of the documents is of a plan with ``base_pay`` (it has ``base_pay_cost``)."""
    return any("base_pay_cost" in d for d in docs)


def cost_label(label: str, base_pay: bool) -> str:
    """A row label as shown: with base pay in the table, the cost rows (``cost (mean)``,
    ``cost P90``, ``cost of sales``, ``cost 2027 (mean)``) are the incentive's alone and say
    so (``incentive cost (mean)``), beside the base pay and total pay cost rows; without
    base pay the label is unchanged. Only the words change, never the JSON keys."""
    return f"incentive {label}" if base_pay and label.startswith("cost") else label


def figure_rows(results: Sequence[SimResult], currency: str = "") -> list[list[str]]:
    """The side-by-side figures as text rows (label, then one cell per result), as every
    renderer shows them: the CLI table, the report and the notebook display. A row no
    result has (base pay, for plans without it) is left out; with a plan with base pay the
    cost rows are called incentive cost (:func:`cost_label`)."""
    docs = [r.document for r in results]
    base_pay = has_base_pay(docs)
    return [[_unit(cost_label(label, base_pay), kind, currency)] + [figure(get(d), kind) for d in docs]
            for label, get, kind, _ in rows_for(docs) if any(get(d) is not None for d in docs)]


def difference_rows(cmp: Comparison, currency: str = "") -> list[list[str]]:
    """Each later plan minus the first as text rows: mean ± 95% CI half-width."""
    docs = [r.document for r in cmp.results]
    base_pay = has_base_pay(docs)
    return [[_unit(cost_label(label, base_pay), kind, currency)]
            + [plus_minus(diff[key]["mean"], diff[key]["ci_low"], diff[key]["ci_high"], kind) if key in diff
               else MISSING for diff in cmp.differences]
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
    years = [y["year"] for y in d0.get("by_year") or []]
    if len(years) > 1:
        lines.append(f"Each run spans {len(years)} plan years ({', '.join(years)}): money, attainment and attrition "
                     "are over the whole horizon; the rows named by year are each plan year's.")
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
        from engine.jobs.recalibrate import metric_catalogue

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


# --------------------------------------------------------------------------- forecast

def _number(x: object) -> float | None:
    """A table cell (as ``itertuples`` gives it) as a float; None when it is not a number."""
    return float(x) if isinstance(x, numbers.Real) else None


def forecast_text(fc: Forecast) -> str:
    """The forecast as ``incentive forecast`` prints it: paid and P50/P90/P95 by period with
    the year below a rule, then the expected payout, budget, accrual, market and the sources
    of the spread."""
    cur = fc.currency
    title = (f"Forecast of {fc.plan} as of {fc.as_of} ({fc.closed_months} of 12 months closed, through "
             f"{fc.as_of_date.isoformat()}); scenario {fc.scenario}, {fc.runs} runs, seed {fc.seed}, "
             f"{int(fc.summary['reps'])} reps")
    lines = [title, ""] + [f"Warning: {w}" for w in fc.warnings] + ([""] if fc.warnings else [])
    rows = [[str(r.period), str(r.status)] + [money(_number(v)) for v in (r.paid, r.p50, r.p90, r.p95)]
            for r in fc.by_period.itertuples(index=False)]
    lines += text_table(["period", "status", f"paid ({cur})", "P50", "P90", "P95"], rows, left=2, rule=False,
                        total=True)
    s = fc.summary
    lines.append("")
    lines.append(f"Expected annual payout {money(s['mean'])} {cur} (P05 {money(s['p05'])}, P95 {money(s['p95'])}); "
                 f"expected still to pay {money(s['expected_remaining'])}.")
    if fc.budget is not None:
        lines.append(f"Budget {money(fc.budget)} {cur}: probability the annual payout exceeds it "
                     f"{100 * s['probability_over_budget']:.1f}%.")
    if fc.method == "ratable":
        how = (f"expected annual payout x {100 * s['share_of_year_elapsed']:.1f}% of the year elapsed "
               "(accumulate: year), at least what has been paid")
    else:
        how = "the closed periods' pay, plus the earned share of a period in progress"
    lines.append(f"Accrual at {fc.as_of_date.isoformat()}: cost earned to date {money(s['earned_to_date'])} {cur} "
                 f"({how}); paid {money(s['paid_to_date'])}; accrued liability to book "
                 f"{money(s['accrued_liability'])}.")
    if fc.market is not None:
        mk = fc.market
        f = [m[1] for m in mk["months"]]
        lines.append(f"Market so far (read off the team's results): demand {min(f):.3f}-{max(f):.3f} x normal "
                     f"over {mk['months'][0][0]} to {mk['months'][-1][0]}; the year's level shock "
                     f"{mk['level']:+.3f} (sd {mk['level_sd']:.3f}, log), persistent part at the as-of month "
                     f"{mk['last']:+.3f} (sd {mk['last_sd']:.3f}).")
    rest = rest_of_year_text(fc)
    if rest:
        lines.append(rest)
    if fc.variance is not None:
        parts = []
        for part in fc.variance.to_dict("records"):
            se = _number(part["se"])
            # a share of variance cannot be negative: a negative estimate (few runs) shows as 0
            parts.append(f"{part['source']} {100 * max(float(part['share']), 0.0):.0f}%"
                         + (f" (± {100 * se:.0f})" if se is not None and not math.isnan(se) else ""))
        lines.append(f"Where the spread of the annual payout comes from (share of its variance, each source "
                     f"alone, {fc.variance_runs} runs): " + ", ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def rest_of_year_text(fc: Forecast) -> str:
    """Why the rest of the year is forecast to pay more or less than the months closed, per
    month (the forecast's ``rest_of_year``; engine/jobs/rest_of_year.py); "" when not measured."""
    r = fc.rest_of_year
    if not r:
        return ""
    cur = fc.currency
    M, n = r["closed_months"], r["open_months"]

    def pct(x: float) -> str:
        return f"{100 * x:+.1f}%"

    parts = ", ".join(f"{p['part']} {pct(p['change'])}" for p in r["parts"])
    what = r["output"].get("measure") or "the primary output"
    return (f"The rest of the year against the months closed, per month: pay {pct(r['pay']['change'])} "
            f"({money(r['pay']['open'])} {cur} expected over {n} month{_s(n)} against {money(r['pay']['closed'])} "
            f"paid over {M}); {what} {pct(r['output']['change'])} ({parts}); pay per unit of {what} "
            f"{pct(r['pay_per_output']['change'])} (what the plan pays for the results: its gates, thresholds and curves, "
            f"and the measures other than {what}).")


# --------------------------------------------------------------------------- alerts

ALERT_TITLES = {
    "attrition-risk": "Attrition risk",
    "gave-up": "Gave up",
    "improvement-plan": "Improvement plan due",
    "falling-attainment": "Falling attainment",
    "promotion-candidate": "Promotion candidates",
}
"""The heading of each alert code's group."""


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def alerts_text(df: pd.DataFrame, width: int = 100) -> str:
    """Readable alerts grouped by kind, the group with the most severe alert first (what
    ``incentive alerts`` prints).

    Within a group, rows keep the table's order (most severe, then most extreme first).

    Args:
        df: a table from :func:`engine.jobs.alerts.alerts`.
        width: wrap details at this many display columns (a Chinese character takes two).

    Returns:
        The text; ``no alerts`` when the table is empty.
    """
    if df is None or len(df) == 0:
        return "no alerts"
    sev_rank = {s: i for i, s in enumerate(SEVERITIES)}
    code_rank = {c: i for i, c in enumerate(ALERT_CODES)}
    groups = []
    for code, part in df.groupby("alert", sort=False):
        worst = min(sev_rank.get(s, len(SEVERITIES)) for s in part["severity"])
        groups.append((worst, code_rank.get(str(code), len(ALERT_CODES)), str(code), part))
    groups.sort(key=lambda g: g[:3])
    n_reps = df["rep_id"].nunique()
    periods = sorted(set(df["period"]))
    head = f"{len(df)} alert{_s(len(df))} for {n_reps} rep{_s(n_reps)}"
    lines = [head + (f" (latest period {periods[-1]})" if len(periods) == 1 else "")]
    for _, _, code, part in groups:
        lines.append("")
        lines.append(f"{ALERT_TITLES.get(code, code)} [{code}]: {len(part)}")
        for row in part.itertuples(index=False):
            head = f"  {row.severity:<6} {row.rep_id}  {row.period}  "
            lead = display_width(head)  # a Chinese rep id takes two columns a character
            body = wrap(str(row.detail), max(width - lead, 30)) or [""]  # by display width
            lines.append(head + body[0])
            lines += [" " * lead + more for more in body[1:]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- calibrate --plan

def history_fit_report(fit: HistoryFit) -> str:
    """The fixed point in words (what ``incentive calibrate --plan`` and ``forecast --history``
    print): target, simulated before and after, level and effort factor."""
    status = (f"converged within {fit.tolerance:.1%}" if fit.converged
              else f"not within {fit.tolerance:.1%} after {fit.iterations} simulations: best level kept")
    rows = [
        ["history attainment", f"{fit.target:.3f}",
         f"mean over {fit.rep_years} rep-years of each rep's mean attainment in the year"],
        ["simulated, fitted", f"{fit.simulated_fitted:.3f}",
         f"{fit.plan} simulated at the fitted level {fit.fitted_level:#.4g} ({fit.runs} runs, seed {fit.seed})"],
        ["simulated, adjusted", f"{fit.simulated:.3f} ± {fit.simulated_se:.3f}",
         f"at level {fit.level:#.4g} ({fit.gap:+.2%}; {fit.iterations} simulation{_s(fit.iterations)}, {status})"],
        [f"{fit.primary} level", f"{fit.fitted_level:#.4g} -> {fit.level:#.4g}",
         "the level without the effort the history plan induced"],
        ["effort factor", f"{fit.effort_factor:.3f}",
         "fitted / adjusted level: what the history plan's effort (and the team's morale and ramp) added"],
    ]
    if fit.moments:  # calibrated by simulation: what the statistical fit alone would have kept
        (h_within, h_between), (s_within, s_between) = fit.history_moments, fit.simulated_moments
        rows += [
            ["noise sigma (month)", f"{fit.fitted_noise_sigma:.3f} -> {fit.noise_sigma:.3f}",
             (f"so that the simulated variation within reps matches the history's ({s_within:.3f} simulated, "
              f"{h_within:.3f} in the history: squared coefficient of variation)")],
            ["skill spread", f"{fit.fitted_skill_sigma:.3f} -> {fit.skill_sigma:.3f}",
             (f"so that the simulated dispersion across reps matches the history's ({s_between:.3f} simulated, "
              f"{h_between:.3f} in the history: variance of log mean attainment)")],
        ]
        if fit.history_profile and fit.simulated_profile:
            rows.append(["within-year profile", " ".join(f"{x:.2f}" for x in fit.history_profile),
                         "the history's periods of the year over their mean; simulated with the calibrated "
                         "seasonality: " + " ".join(f"{x:.2f}" for x in fit.simulated_profile)])
    lines = [f"History read under the plan {fit.plan} (the plan that paid it)"]
    lines += ["  " + ln for ln in text_table(None, rows, left=3, sep=" ", min_widths=(21, 23))]
    return "\n".join(lines) + "\n"


def history_check_text(check: HistoryCheck, currency: str = "") -> str:
    """The forecasts with and without history side by side, and which to trust where they
    disagree (what ``incentive forecast --history`` prints after the forecast)."""
    from engine.jobs.with_history import log_shift_percent

    budget = "over_budget" in check.with_history
    rows = [[name, *(money(bands[k]) for k in ("p05", "p50", "p90", "p95")),
             *([percent(bands["over_budget"])] if budget else []), log_shift_percent(s)]
            for name, bands, s in (("with history", check.with_history, check.surprise_with),
                                   ("without history", check.without_history, check.surprise_without))]
    lines = ["With and without history"]
    lines += text_table(["forecast", f"P05 ({currency})" if currency else "P05", "P50", "P90", "P95",
                         *(["over budget"] if budget else []), "actuals vs expected"], rows, left=2)
    lines.append(f"  {check.headline}.")
    lines += [f"  - {r}." for r in check.reasons]
    lines += _moved_lines(check, currency)
    return "\n".join(lines) + "\n"


def _moved_lines(check: HistoryCheck, currency: str = "") -> list[str]:
    """What the history changed: each scenario parameter it moved (without -> with history,
    what it means, how the level was reached) and what that did to P50 and P90."""
    if not check.moved:
        lines = ["  The history moved no parameter of the scenario."]
    else:
        lines = ["  What the history moved (without history -> with history):"]
        for m in check.moved:
            lines.append(f"  - {m.name} {m.change}" + (f": {m.meaning}" if m.meaning else ""))
            if m.note:
                lines.append(f"    {m.note}")
    lines.append(f"  What that did{f' ({currency})' if currency else ''}: {check.effect_sentence}.")
    if check.alone:
        lines.append("  Each group alone (the forecast without history with only that group moved):")
        for g in check.alone:
            change = check.alone_change(g)
            lines.append(f"  - {g.group}: P50 {money(g.p50)} ({change['p50']:+.1f}%), "
                         f"P90 {money(g.p90)} ({change['p90']:+.1f}%)")
    return lines


# --------------------------------------------------------------------------- the model card

def model_card(results: Sequence[Result], runs: int, scenario: str) -> str:
    """The model card as Markdown (``docs/validation.md``): each published finding against
    what the simulator gives (:func:`engine.jobs.validation.evaluate`)."""
    held = sum(r.holds for r in results)
    directions = sum(r.direction for r in results)
    lines = [
        "# Model card: what the field has measured, and what the simulator gives",
        "",
        ("Regenerated by `make validation` (`python -m engine.app.validation`): every row is simulated "
         f"on the {scenario} scenario, {runs} runs, the plans of a pair on the same random numbers "
         "(`scenarios/validation/`). A finding holds in direction when the 95% confidence interval "
         "excludes the wrong sign, and in magnitude when the figure is within half the published "
         "effect of it (where a magnitude is published)."),
        "",
        f"**{held} of {len(results)} findings hold** ({directions} in direction).",
        "",
        "| finding | source | published | simulator | direction | magnitude |",
        "|---|---|---|---|---|---|",
    ]
    word = {True: "holds", False: "does not hold", None: "(none published)"}
    for r in results:
        f = r.finding
        lines.append(f"| {f.claim} | {f.source} | {f.published} | {r.text} | {word[r.direction]} | "
                     f"{word[r.magnitude]} |")
    lines += ["", "Where a finding does not hold, docs/model.md says what the model lacks."]
    return "\n".join(lines) + "\n"
