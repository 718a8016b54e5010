"""A self-contained HTML report comparing candidate plans, and HTML tables for notebooks.

:func:`compare_report` returns one HTML page that opens offline: plotly.js is inlined once
(with the first chart), the other charts reuse it, the CSS is inline and no font, script or
image is fetched from anywhere. :func:`write_report` writes it atomically.

Formatting only: the numbers arrive computed (:class:`~engine.jobs.compare.ReportInputs`,
payout tables from :func:`engine.data.summary.payout_table`, results of the jobs).
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from engine.core.text import MISSING, figure, money
from engine.jobs.compare import Comparison, ReportInputs
from engine.plan.kinds import kind_of
from engine.report import charts
from engine.report.text import difference_rows, figure_rows, has_base_pay

if TYPE_CHECKING:
    from engine.jobs.forecast import Forecast
    from engine.jobs.recalibrate import Recalibration
    from engine.plan.lint import Finding
    from engine.plan.validate import CheckedPlan
    from engine.sim.run import SimResult

__all__ = [
    "SECTIONS",
    "compare_report",
    "comparison_html",
    "forecast_html",
    "key_figures_html",
    "lint_html",
    "plan_html",
    "recalibration_html",
    "write_report",
]

# Section ids and titles, in page order (the years section only with several plan years, the
# winners section only with two plans or more).
SECTIONS = (
    ("summary", "Side by side"),
    ("years", "Plan year by plan year"),
    ("payout-curves", "What each plan pays"),
    ("attainment", "How attainment spreads"),
    ("payout", "How pay spreads"),
    ("cost", "What the team will cost"),
    ("cost-of-sales", "Cost of sales"),
    ("morale", "Morale and attrition risk"),
    ("winners", "Winners and losers"),
    ("lint", "Design hazards"),
)

CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font-family: FONT_FAMILY; font-size: 15px; }
header { background: var(--bg); border-bottom: 1px solid var(--line); padding: 24px 40px 16px; }
header h1 { margin: 0 0 6px; font-size: 26px; }
header .meta { color: var(--muted); margin: 0; }
nav { margin-top: 10px; font-size: 14px; }
nav a { color: #0969da; text-decoration: none; margin-right: 14px; }
main { max-width: 1280px; padding: 8px 40px 48px; }
section { margin-top: 32px; }
h2 { font-size: 21px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 17px; margin-bottom: 4px; }
p.lead { color: var(--muted); max-width: 900px; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--bg); text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
          vertical-align: baseline; }
.plans { list-style: none; padding: 0; margin: 8px 0 0; }
.plans li { margin: 2px 0; }
.chart { margin: 6px 0 18px; border: 1px solid var(--line); border-radius: 6px; padding: 4px; }
.sev-warning { color: #9a6700; font-weight: 600; }
.sev-info { color: var(--muted); }
.why { color: var(--muted); }
.note { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 13px; padding: 16px 40px 32px; border-top: 1px solid var(--line); }
""".replace("FONT_FAMILY", charts.FONT_FAMILY)

_TEXT = {
    "summary": "Every plan was simulated on the same team with the same random numbers, so differences "
               "come from the plans, not from luck. Money is per simulated plan year. The second table "
               "shows each plan minus the first, with the 95% confidence interval of that difference "
               "(the Monte Carlo uncertainty: more runs make it narrower).",
    "years": "The simulation spans several plan years, and the figures above are over the whole horizon. "
             "Here each plan year: incentive cost and revenue (means over runs, with 95% confidence intervals), "
             "the share of reps at or above their annual target, and attrition. Quotas for the next year follow "
             "the scenario's quota policy; under a ratchet, reps who expect next year's quota to be set from this "
             "year's results hold back. A plan year cut short by the horizon counts only its simulated months.",
    "payout-curves": "What a typical rep (the team's median quota and target incentive) earns in a year if "
                     "they reach the same share of target in every period. Steps are lump sums; steeper "
                     "lines reward extra sales more; flat stretches give no reason to sell more.",
    "attainment": "Attainment is a rep's result over the year divided by their target. Plans are usually "
                  "designed so that 60-70% of reps reach target; published surveys find 41-59%.",
    "payout": "Annual incentive pay per rep. Reps who joined or left during the year are included with "
              "what they were paid. A wide spread means the plan differentiates strongly between reps.",
    "cost": "Each dot is one simulated year of the whole team. P50 is the typical year; P90 and P95 are "
            "the budget you need to be covered nine and 19 years in 20.",
    "cost-of-sales": "Incentive pay as a share of the revenue the simulated team booked, per plan (the "
                     "incentive alone: base salaries are not included).",
    "morale": "Attrition: share of reps who quit during the year. Regretted attrition: leavers from the "
              "top performance quartile. Disengaged: share of rep-months with morale below the "
              "scenario's threshold. Replacing a rep costs on the order of a year's on-target earnings.",
    "winners": "The reps who start the year are the same people under every plan, so each one's pay can "
               "be compared plan against plan. Reps are grouped by skill within their team (Q1: weakest "
               "quarter, Q4: strongest). A rep who leaves earlier under a plan is paid less under it.",
    "lint": "Design hazards found by scanning what each plan pays a typical rep between 0 and 300% of "
            "target: pay cliffs that invite timing games, stretches with no incentive to sell more, pay "
            "that falls as sales rise, components that never pay.",
}


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{colour}"></span>'


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], num_from: int = 1,
                raw_header: bool = False) -> str:
    head = "".join(f'<th class="{"num" if i >= num_from else ""}">{h if raw_header else _e(h)}</th>'
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="{"num" if i >= num_from else ""}">{_e(c)}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plan_headers(names: Sequence[str], offset: int = 0) -> list[str]:
    return [_swatch(charts.PALETTE[(i + offset) % len(charts.PALETTE)]) + _e(n) for i, n in enumerate(names)]


def key_figures_html(results: Sequence[SimResult]) -> str:
    """The side-by-side figures of some results as an HTML table (formatted as in the CLI)."""
    rows = figure_rows(results, charts.currency_of(results))
    return _html_table(["metric"] + _plan_headers([r.document["plan"] for r in results]), rows, raw_header=True)


def differences_html(cmp: Comparison) -> str:
    """Each later plan minus the first: mean ± 95% CI half-width, paired over runs."""
    if not cmp.differences:
        return ""
    rows = difference_rows(cmp, charts.currency_of(cmp.results))
    return _html_table(["metric"] + _plan_headers([d["plan"] for d in cmp.differences], offset=1), rows,
                       raw_header=True)


def comparison_html(cmp: Comparison) -> str:
    """The side-by-side table, then the paired differences to the first plan (for notebooks)."""
    parts = [key_figures_html(cmp.results)]
    if cmp.differences:
        parts.append(f"<p><b>Difference to {_e(cmp.plans[0])}</b> (mean ± 95% CI half-width, paired over runs)</p>")
        parts.append(differences_html(cmp))
    d0 = cmp.results[0].document
    parts.append(f'<p class="note">{d0["runs"]:,} runs of scenario {_e(d0["scenario"])} ({d0["reps"]:,} seats), '
                 f'seed {d0["seed"]}; every plan sees the same reps and random numbers.</p>')
    return "<div>" + "".join(parts) + "</div>"


def plan_html(checked: CheckedPlan, table: pd.DataFrame, notes: Sequence[str]) -> str:
    """A compact summary of a plan with what it pays at 50-150% of target (for notebooks).

    Args:
        checked: the plan.
        table, notes: its payout table and the reference rep's assumptions, from
            :func:`engine.data.summary.payout_table`.
    """
    plan = checked.plan
    meta = f"period: {plan.period}; currency: {plan.currency}; accumulate: {plan.accumulate}"
    comps = _html_table(["component", "kind", "what it does"],
                        [[c.name, c.kind, (c.label + ": " if c.label else "") + kind_of(c.kind).summary(c)]
                         for c in plan.components], num_from=99)
    rows = []
    for idx in table.index:
        vals = table.loc[idx]
        rows.append([idx] + [(MISSING if not np.isfinite(v) else f"{v:,.0f}%") if idx == "% of TI" else f"{v:,.2f}"
                             for v in vals])
    pays = _html_table([f"pays per {plan.period} ({plan.currency})"] + list(table.columns), rows)
    return (f"<div><p><b>{_e(plan.name)}</b>{' — ' + _e(plan.label) if plan.label else ''}<br>"
            f'<span class="note">{_e(meta)}; target incentive: {_e(plan.target_incentive.text)}</span></p>'
            f"{comps}{pays}" + "".join(f'<div class="note">* {_e(n)}</div>' for n in notes) + "</div>")


def _range_text(r: tuple[float, float] | None) -> str:
    if r is None:
        return MISSING
    lo, hi = r

    def pct(v: float) -> str:
        return "∞" if not np.isfinite(v) else f"{100 * v:.1f}".rstrip("0").rstrip(".") + "%"

    return pct(lo) if lo == hi else f"{pct(lo)} – {pct(hi)}"


def lint_html(findings: Sequence[Finding]) -> str:
    """Lint findings as a table: severity, component, attainment range, message and why."""
    if not findings:
        return '<p class="note">No design hazards found.</p>'
    head = "<tr><th>severity</th><th>component</th><th>attainment</th><th>finding</th></tr>"
    body = "".join(
        f'<tr><td class="sev-{_e(f.severity)}">{_e(f.severity)}</td><td>{_e(f.component or "(plan)")}</td>'
        f'<td class="num">{_e(_range_text(f.attainment_range))}</td>'
        f'<td>{_e(f.message)} <span class="why">— {_e(f.why)}</span>'
        + (f' <span class="note">(line {f.span.line})</span>' if f.span is not None else "")
        + "</td></tr>" for f in findings)
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


class _Figures:
    """Embeds figures: plotly.js inline with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: go.Figure) -> str:
        div = pio.to_html(fig, full_html=False, include_plotlyjs=self.count == 0, include_mathjax=False,
                          config={"displaylogo": False, "responsive": True},
                          div_id=f"chart-{self.count + 1}", default_width="100%")
        self.count += 1
        return f'<div class="chart">{div}</div>'


def compare_report(report: ReportInputs, *, title: str | None = None,
                   generated: dt.datetime | None = None, before: Sequence[tuple[str, str, str]] = (),
                   command: str = "incentive compare --report") -> str:
    """The HTML report of a comparison: one self-contained page.

    Args:
        report: what the page shows, from :func:`engine.jobs.compare.report_inputs`.
        title: page title.
        generated: the date shown in the header (default: now).
        before: sections shown before the comparison, as ``(id, title, HTML body)``
            (a job's own findings, e.g. the voted weights of ``incentive weights``).
        command: the command named in the footer.

    Returns:
        The page (UTF-8 text).
    """
    comparison, plans, roster, findings = report.comparison, report.plans, report.roster, report.findings
    results = comparison.results
    d0 = results[0].document
    generated = generated or dt.datetime.now()
    title = title or f"Plan comparison on {d0['scenario']}"
    fig = _Figures()
    colours = [charts.PALETTE[i % len(charts.PALETTE)] for i in range(len(plans))]
    multi = len(results) > 1
    sections = [f'<section id="{_e(key)}"><h2>{_e(name)}</h2>{body}</section>' for key, name, body in before]

    n_years = len(d0.get("by_year") or ())

    def section(key: str, body: str) -> None:
        name = dict(SECTIONS)[key]
        lead = _TEXT[key]
        if n_years > 1:  # money is over the whole horizon of several plan years
            lead = lead.replace("Money is per simulated plan year.",
                                f"Money is per simulated horizon of {n_years} plan years.")
        sections.append(f'<section id="{key}"><h2>{_e(name)}</h2><p class="lead">{_e(lead)}</p>'
                        f"{body}</section>")

    summary = key_figures_html(results)
    if comparison.differences:
        summary += (f"<h3>Difference to {_e(comparison.plans[0])}</h3>"
                    '<p class="note">mean ± 95% confidence interval half-width, paired over runs</p>'
                    + differences_html(comparison))
    section("summary", summary)
    years = charts.years_of(results)
    if years:
        section("years", fig(charts.by_year(results)) + _years_table(results))
    curves = (fig(charts.payout_curves(plans, roster)) if multi else "") + "".join(
        fig(charts.payout_curve(p, roster=roster, colour=colours[i])) for i, p in enumerate(plans))
    section("payout-curves", curves)
    section("attainment", fig(charts.attainment_distribution(results)))
    section("payout", fig(charts.payout_distribution(results)))
    cost_rows = [[r.plan] + [figure(r.document["cost"][k], "money") for k in ("mean", "p50", "p90", "p95")]
                 for r in results]
    cur = charts.currency_of(results)
    what = "incentive cost " if has_base_pay([r.document for r in results]) else ""  # base pay: not all it costs
    section("cost", fig(charts.cost_distribution(results))
            + _html_table(["plan"] + [f"{what}{k} ({cur})" if cur else what + k for k in ("mean", "P50", "P90", "P95")],
                          cost_rows))
    section("cost-of-sales", fig(charts.cost_of_sales(results)))
    section("morale", fig(charts.morale_risk(results)))
    if multi:
        section("winners", fig(charts.winners_losers(comparison)) + _winners_table(comparison))
    lint = "".join(f"<h3>{_swatch(colours[i])}{_e(p.plan.name)}</h3>{lint_html(f)}"
                   for i, (p, f) in enumerate(zip(plans, findings)))
    section("lint", lint)

    shown = [s for s in SECTIONS if (multi or s[0] != "winners") and (years or s[0] != "years")]
    nav = "".join(f'<a href="#{_e(k)}">{_e(n)}</a>' for k, n in [(k, n) for k, n, _ in before] + shown)
    plan_list = "".join(f"<li>{_swatch(colours[i])}<b>{_e(p.plan.name)}</b>"
                        f"{' — ' + _e(p.plan.label) if p.plan.label else ''} "
                        f'<span class="note">({_e(p.plan.file)}; paid per {_e(p.plan.period)}, '
                        f"{_e(p.plan.currency)})</span></li>" for i, p in enumerate(plans))
    sample = results[0].detail
    assert sample is not None  # charts.attainment_distribution above raised otherwise
    runs = (f"{d0['runs']:,} simulated horizons of {len(years)} plan years ({', '.join(years)}) per plan" if years
            else f"{d0['runs']:,} simulated years per plan")
    meta = (f"Scenario <b>{_e(d0['scenario'])}</b> ({d0['reps']:,} seats, {d0['periods']} plan periods) · "
            f"{_e(runs)} · seed {d0['seed']} · generated {generated:%Y-%m-%d %H:%M}")
    foot = (f"Per-rep distributions use the reps of the first {sample.sample_runs:,} runs "
            f"of {d0['runs']:,}; every other figure uses all runs. Confidence intervals are 95% t intervals "
            f"over runs. Made with {command}.")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f'<header><h1>{_e(title)}</h1><p class="meta">{meta}</p><ul class="plans">{plan_list}</ul>'
            f"<nav>{nav}</nav></header><main>{''.join(sections)}</main><footer>{_e(foot)}</footer>"
            "</body></html>\n")


def _winners_table(cmp: Comparison) -> str:
    df = cmp.winners_losers()
    cur = charts.currency_of(cmp.results)
    rows = []
    for _, r in df.iterrows():
        ci = "" if r["ci_low"] is None or not np.isfinite(r["ci_low"]) else \
            f" ± {(r['ci_high'] - r['ci_low']) / 2:,.0f}"
        rows.append([r["plan"], r["label"], f"{r['base_payout']:,.0f}", f"{r['mean_change']:+,.0f}{ci}",
                     f"{100 * r['share_better']:.0f}%", f"{100 * r['share_worse']:.0f}%"])
    unit = f" ({cur})" if cur else ""
    return _html_table(["plan", "skill quartile", f"paid under {cmp.plans[0]}{unit}", f"change{unit}",
                        "better off", "worse off"], rows, num_from=2)


def _years_table(results: Sequence[SimResult]) -> str:
    """Each plan's figures plan year by plan year (the document's ``by_year``)."""
    cur = charts.currency_of(results)
    unit = f" ({cur})" if cur else ""
    rows = [[r.plan, e["year"], figure(e["cost"]["mean"], "money"), figure(e["revenue"]["mean"], "money"),
             figure(e["cost_of_sales"], "pct"), figure(e["attainment"]["share_at_or_above_target"], "pct"),
             figure(e["morale"]["attrition_rate"], "pct")]
            for r in results for e in r.document.get("by_year", ())]
    return _html_table(["plan", "plan year", f"incentive cost, mean{unit}", f"revenue, mean{unit}",
                        "incentive cost of sales", "at or above target", "attrition"], rows, num_from=2)


def write_report(path: str | os.PathLike[str], report: ReportInputs, **kwargs) -> None:
    """Write :func:`compare_report` to ``path`` atomically (no partial file on failure)."""
    from engine.core.atomic import write_text_atomic

    write_text_atomic(path, compare_report(report, **kwargs))


def forecast_html(fc: Forecast) -> str:
    """In a notebook: a forecast's by-period table and its headline figures."""
    s = fc.summary
    table = fc.by_period.to_html(index=False, na_rep="", float_format=lambda v: f"{v:,.0f}")
    lines = [(f"Expected annual payout {money(s['mean'])} {fc.currency} (P50 {money(s['p50'])}, "
             f"P90 {money(s['p90'])}, P95 {money(s['p95'])}); paid to date {money(s['paid_to_date'])}."),
             (f"Accrual ({fc.method}): cost earned to date {money(s['earned_to_date'])}, "
             f"liability to book {money(s['accrued_liability'])}.")]
    if fc.budget is not None:
        lines.append(f"Budget {money(fc.budget)}: probability of exceeding it "
                     f"{100 * s['probability_over_budget']:.1f}%.")
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    return (f"<div><b>Forecast of {html.escape(fc.plan)} as of {html.escape(fc.as_of)}</b> "
            f"({fc.closed_months} of 12 months closed, {fc.runs} runs, seed {fc.seed}; "
            f"{fc.currency}){table}<ul>{items}</ul></div>")


def recalibration_html(rc: Recalibration) -> str:
    """In a notebook: what a recalibration moved, whether the constraints hold, and the
    predicted effect."""
    head = (f"<b>Recalibration of {html.escape(rc.checked.plan.name)}</b>: {rc.sense} "
            f"{html.escape(rc.objective)} on {html.escape(rc.scenario)}, {rc.evaluations} simulations "
            f"of {rc.runs} runs (seed {rc.seed}); " + ("every constraint met" if rc.feasible
                                                       else "<b>constraints not met</b>"))
    parts = [f"<div>{head}"]
    for title, df in (("Changes", rc.changes), ("Predicted effect", rc.effects)):
        if df is not None and len(df):
            parts.append(f"<h4>{title}</h4>" + df.to_html(index=False, na_rep="", float_format=lambda v: f"{v:,.4g}"))
    if rc.notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in rc.notes) + "</ul>")
    return "".join(parts) + "</div>"
