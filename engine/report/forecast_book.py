"""The forecast as an Excel workbook for finance (``incentive forecast --xlsx``).

Formatting only: the numbers are those of :class:`~engine.jobs.forecast.Forecast`. The
workbook speaks words, not code: headers say what a column holds (with the currency), the
plan is named by its label where it has one, a plan written in Chinese gets the workbook's words
in Chinese (:mod:`engine.report.forecast_words_zh`), a Glossary sheet explains P50, P90, accrual,
variance shares and the other terms, a note says why the year's P50 is not the sum of the
periods' P50s, variance shares are never shown below zero (each with its standard error and
interval), and an Inputs sheet records what the forecast was computed from (plan, roster,
actuals, history and fit, scenario, runs, seed, engine version). With a history
(``--history``) a History sheet says what it changed: each scenario parameter it moved
(without -> with history), what that did to P50 and P90, and which forecast to trust.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np

from engine.report.forecast_words_zh import ZH

if TYPE_CHECKING:
    from engine.jobs.forecast import Forecast
    from engine.jobs.with_history import HistoryCheck

__all__ = ["GLOSSARY", "SHEETS", "write_forecast_xlsx"]

SHEETS = ("Summary", "By period", "Distribution", "Reps", "Variance", "Market", "History", "Glossary", "Inputs",
          "Assumptions")
"""The sheets, in order (Variance and Market only when the forecast measured them, History only
with a history)."""

YEAR_P50_NOTE = ("The year's P50 (or P90, P95) is not the sum of the periods' P50s: each percentile is taken over "
                 "the simulated years separately, and a year that is high in one period is not high in every "
                 "period, so the percentiles of the periods do not add up to the percentile of the year. The "
                 "expected values (mean) do add up.")

VARIANCE_NOTE = ("Shares estimated from {runs} runs, each source alone; an estimate below 0 is shown as 0 (a share "
                 "of variance cannot be negative) and the interval is the estimate +/- 1.96 standard errors, within "
                 "0-100%. What the listed sources leave is what they do only together.")

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Run", ("One simulated completion of the plan year: the closed periods as paid, the rest of the year "
            "simulated for the real team (effort, results, who leaves and is replaced).")),
    ("Expected (mean)", "The average over the runs. Expected amounts of the periods add up to the year's."),
    ("P05", "5th percentile: 5% of the runs end below this amount."),
    ("P50 (median)", "50th percentile: half of the runs end below this amount, half above."),
    ("P90", "90th percentile: 9 runs in 10 end at or below this amount; a prudent budget."),
    ("P95", "95th percentile: 19 runs in 20 end at or below this amount."),
    ("Percentiles do not add up", YEAR_P50_NOTE),
    ("Closed / in progress / forecast", ("A closed period is paid from the actuals, as `incentive payout` computes "
                                        "it; a period in progress has some months of actuals; a forecast period "
                                        "is simulated.")),
    ("Paid to date", "What the closed periods' statements pay."),
    ("Expected still to pay", "The expected payout of the rest of the year."),
    ("Cost earned to date (accrual)", ("The incentive cost recognised so far: per-period plans, the closed "
                                      "periods' pay plus the earned share of a period in progress; year-to-date "
                                      "plans (accumulate: year), the expected annual payout x the share of the "
                                      "year elapsed (ratable), at least what has been paid.")),
    ("Accrued liability to book", "Cost earned to date minus what has been paid."),
    ("Probability annual payout > budget", "The share of the runs whose annual team payout exceeds the budget."),
    ("Probability of leaving before the year ends", ("The share of the runs in which the rep quits before the "
                                                    "plan year ends (the simulator's attrition model, an "
                                                    "estimate).")),
    ("Estimated skill", ("The rep's productivity relative to a typical rep, estimated from the results so far "
                        "(median of the estimate); its uncertainty is the standard deviation of log skill.")),
    ("(new hires)", "The replacements the simulator hires for reps who leave: what they are expected to be paid."),
    ("Share of the year's payout variance", ("How much of the spread of the annual payout (its variance) one "
                                            "source explains on its own: skill (who the reps really are), noise "
                                            "(month-to-month luck), market (demand), attrition (who leaves). "
                                            "Estimated from a limited number of runs: an estimate below zero is "
                                            "shown as 0 (a share cannot be negative), with its standard error "
                                            "and 95% interval; the rest is what the sources do only together.")),
    ("Standard error", ("The uncertainty of an estimate from a finite number of runs; the 95% interval is the "
                       "estimate +/- 1.96 standard errors (clipped to 0-100%).")),
    ("Market (demand multiplier)", ("The demand the team met each month relative to normal, read off the actuals "
                                   "so far (1.000 = normal; 0.950 = 5% below).")),
    ("Scenario", ("The behaviour and attrition model the rest of the year is simulated with (the built-in one, a "
                 "scenario file, or one calibrated to a history file).")),
    ("Seed", "The random seed: the same inputs, runs and seed give the same figures."),
)

_PERIOD_HEADERS = {"period": "Period", "status": "Status", "paid": "Paid ({cur})", "mean": "Expected (mean, {cur})",
                   "p50": "P50: median ({cur})", "p90": "P90 ({cur})", "p95": "P95 ({cur})"}
_REP_HEADERS = {"rep_id": "Rep", "paid_to_date": "Paid to date ({cur})",
                "expected_remaining": "Expected still to pay ({cur})", "expected_year": "Expected for the year ({cur})",
                "p50_year": "P50 for the year ({cur})", "p90_year": "P90 for the year ({cur})",
                "quit_probability": "Probability of leaving before the year ends",
                "attainment_to_date": "Attainment to date", "skill_median": "Estimated skill (x a typical rep)",
                "skill_sd": "Uncertainty of the skill estimate (sd of log skill)"}


def _version() -> str:
    try:
        return metadata.version("incentive-engine")
    except metadata.PackageNotFoundError:
        return "unknown"


def _value(v: object) -> object:
    """A cell value: NaN and None become an empty cell, numpy scalars plain numbers."""
    if v is None or (isinstance(v, (float, np.floating)) and math.isnan(float(v))):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _formats(ws, by_header: dict[str, str]) -> None:
    """Apply number formats to whole columns of a sheet, found by their header."""
    for col in ws.iter_cols(min_row=1, max_row=ws.max_row):
        fmt = by_header.get(col[0].value)
        if fmt:
            for cell in col[1:]:
                cell.number_format = fmt


def variance_rows(fc: Forecast) -> list[tuple[str, float, float | None, float | None, float | None, float]]:
    """The variance shares as shown: ``(source, share, se, low, high, sd)`` with the share
    clipped at 0 (a share of variance cannot be negative; a negative estimate is noise of a
    finite number of runs) and its 95% interval clipped to [0, 1]."""
    rows: list[tuple[str, float, float | None, float | None, float | None, float]] = []
    if fc.variance is None:
        return rows
    for part in fc.variance.to_dict("records"):
        share = float(part["share"])
        se = part["se"]
        se_v = None if se is None or not math.isfinite(float(se)) else float(se)
        low = None if se_v is None else min(max(share - 1.96 * se_v, 0.0), 1.0)
        high = None if se_v is None else min(max(share + 1.96 * se_v, 0.0), 1.0)
        rows.append((str(part["source"]), min(max(share, 0.0), 1.0), se_v, low, high, float(part["sd"])))
    if not rows:
        return rows
    # The last row is what the sources leave (1 - their shares): recomputed from the shares
    # as shown, so that the column adds up to 100% wherever it can.
    listed = sum(r[1] for r in rows[:-1])
    var = next((r[5] ** 2 / r[1] for r in rows[:-1] if r[1] > 0), 0.0)
    rest = max(1.0 - listed, 0.0)
    rows[-1] = (rows[-1][0], rest, rows[-1][2], rows[-1][3], rows[-1][4], math.sqrt(rest * var))
    return rows


def write_forecast_xlsx(fc: Forecast, path: str | os.PathLike[str], *,
                        inputs: Sequence[tuple[str, object]] = (), history: HistoryCheck | None = None) -> None:
    """Write the forecast as an Excel workbook, atomically.

    Sheets (:data:`SHEETS`): ``Summary``; ``By period`` (with a line chart of paid, P50 and
    P90 by period, and the note that percentiles do not add up); ``Distribution`` (the
    simulated annual totals, sorted, and a histogram table); ``Reps``; ``Variance`` (shares
    clipped at 0 with standard error and interval) and ``Market`` when measured; ``History``
    with a history (the parameters it moved, its effect on P50 and P90, which to trust);
    ``Glossary``; ``Inputs`` (what the forecast was computed from); ``Assumptions``.

    Args:
        fc: the forecast.
        path: the ``.xlsx`` file to write.
        inputs: ``(item, value)`` pairs the caller knows about the inputs (plan file,
            scenario file, history file and fit, ledger...), recorded first on the Inputs
            sheet; the forecast's own record (roster, actuals, runs, seed, engine version)
            follows.
        history: the forecasts with and without history compared
            (:func:`~engine.jobs.with_history.check_history`): writes the History sheet.
    """
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Alignment, Font

    from engine.core.atomic import atomic_path

    cur = fc.currency
    zh = fc.language == "zh"

    def w(text: str, **fields: object) -> str:
        """``text`` in the plan's language, its ``{cur}`` and other fields filled in."""
        return (ZH.get(text, text) if zh else text).format(cur=cur, **fields)

    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    plan_name = fc.plan_label or fc.plan
    cents = "#,##0" + ("." + "0" * fc.minor_unit if fc.minor_unit else "")
    whole, share = "#,##0", "0.0%"
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    s = fc.summary
    rows: list[tuple[str, object, str | None]] = [("Plan", fc.plan, None)]
    if fc.plan_label:
        rows.append(("Plan (label)", fc.plan_label, None))
    rows += [("Scenario", fc.scenario, None), ("Currency", cur, None), ("As of", fc.as_of, None),
             ("As of date", fc.as_of_date.isoformat(), None), ("Months closed", fc.closed_months, None),
             ("Simulated runs", fc.runs, None), ("Seed", fc.seed, None), ("Reps", int(s["reps"]), None),
             ("Paid to date ({cur})", s["paid_to_date"], cents),
             ("Expected annual payout (mean, {cur})", s["mean"], whole),
             ("Annual P05 ({cur})", s["p05"], whole), ("Annual P50: median ({cur})", s["p50"], whole),
             ("Annual P90 ({cur})", s["p90"], whole), ("Annual P95 ({cur})", s["p95"], whole),
             ("Expected still to pay ({cur})", s["expected_remaining"], whole),
             ("Budget ({cur})", fc.budget if fc.budget is not None else "none", whole),
             ("Probability annual payout > budget",
              s["probability_over_budget"] if fc.budget is not None else "n/a", share),
             ("Accrual method", fc.method, None), ("Share of the year elapsed", s["share_of_year_elapsed"], share),
             ("Cost earned to date ({cur})", s["earned_to_date"], whole),
             ("Accrued liability to book ({cur})", s["accrued_liability"], whole)]
    rest = fc.rest_of_year
    if rest:  # why the rest of the year pays more or less than the months closed, per month
        rows += [(REST_WORDS[0], rest["pay"]["change"], "+0.0%;-0.0%"),
                 (REST_WORDS[1], rest["output"]["change"], "+0.0%;-0.0%")]
        rows += [(REST_PARTS[p["part"]], p["change"], "+0.0%;-0.0%") for p in rest["parts"] if p["part"] in REST_PARTS]
        rows.append((REST_WORDS[2], rest["pay_per_output"]["change"], "+0.0%;-0.0%"))
    ws.append([w("Item"), w("Value")])
    for item, value, fmt in rows:
        ws.append([w(item), _value(value)])
        if fmt and isinstance(value, (int, float, np.number)):
            ws.cell(row=ws.max_row, column=2).number_format = fmt
    ws.append([])
    ws.append([w("Note"), w(YEAR_P50_NOTE)])
    ws.append([w("Terms"), w("see the Glossary sheet; what the forecast was computed from: the Inputs sheet")])
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 24

    bp = wb.create_sheet("By period")
    keys = list(fc.by_period.columns)
    period_heads = {k: w(_PERIOD_HEADERS.get(k, k)) for k in keys}
    bp.append([period_heads[k] for k in keys])
    for r in fc.by_period.to_dict("records"):
        if zh:
            r["period"] = w(str(r["period"])) if r["period"] == "year" else r["period"]
            r["status"] = w(str(r["status"])) if r["status"] else r["status"]
        bp.append([_value(r[k]) for k in keys])
    n = len(fc.by_period) - 1  # chart the periods, not the year row
    note_row = len(fc.by_period) + 3
    bp.cell(row=note_row, column=1, value=w("Note")).font = bold
    bp.cell(row=note_row, column=2, value=w(YEAR_P50_NOTE))
    chart = LineChart()
    chart.title = w("Team payout by period, {plan} ({cur})", plan=plan_name)
    chart.y_axis.title = cur
    chart.x_axis.title = w("Period")
    for col in (3, 5, 6):  # paid, P50, P90
        chart.add_data(Reference(bp, min_col=col, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(bp, min_col=1, min_row=2, max_row=n + 1))
    chart.width, chart.height = 18, 9
    bp.add_chart(chart, "I2")

    dist = wb.create_sheet("Distribution")
    dist_heads = [w("Run (sorted by payout)"), w("Simulated annual team payout ({cur})"), "", w("Bin from ({cur})"),
                  w("Bin to ({cur})"), w("Runs in bin")]
    dist.append(dist_heads)
    ann = np.sort(fc.annual)
    lo, hi = float(ann[0]), float(ann[-1])
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 21)
    counts, _ = np.histogram(ann, bins)
    for i, v in enumerate(ann):
        cells: list[float | None] = [i + 1, float(v)]
        if i < len(counts):
            cells += [None, float(bins[i]), float(bins[i + 1]), int(counts[i])]
        dist.append(cells)
    for i in range(len(ann), len(counts)):
        dist.append([None, None, None, float(bins[i]), float(bins[i + 1]), int(counts[i])])
    hist = BarChart()
    hist.title = w("Simulated annual team payout, {plan}", plan=plan_name)
    hist.add_data(Reference(dist, min_col=6, min_row=1, max_row=len(counts) + 1), titles_from_data=True)
    hist.set_categories(Reference(dist, min_col=4, min_row=2, max_row=len(counts) + 1))
    dist.add_chart(hist, "H2")

    rp = wb.create_sheet("Reps")
    rep_heads = {k: w(_REP_HEADERS.get(k, k)) for k in fc.reps.columns}
    rp.append(list(rep_heads.values()))
    for r in fc.reps.to_dict("records"):
        if zh and r.get("rep_id") == "(new hires)":
            r["rep_id"] = w("(new hires)")
        rp.append([_value(r[k]) for k in fc.reps.columns])

    # Number formats: paid amounts to the cent, forecasts in whole units, shares in percent.
    period_formats = {"paid": cents, "mean": whole, "p50": whole, "p90": whole, "p95": whole}
    _formats(bp, {period_heads[k]: f for k, f in period_formats.items() if k in period_heads})
    rep_formats = {"paid_to_date": cents, "expected_remaining": whole, "expected_year": whole, "p50_year": whole,
                   "p90_year": whole, "quit_probability": share, "attainment_to_date": share,
                   "skill_median": "0.000", "skill_sd": "0.000"}
    _formats(rp, {rep_heads[k]: f for k, f in rep_formats.items() if k in rep_heads})
    _formats(dist, {dist_heads[1]: whole, dist_heads[3]: whole, dist_heads[4]: whole})
    for sheet in (bp, rp, dist):
        sheet.freeze_panes = "A2"
        for col in sheet.iter_cols(min_row=1, max_row=1):
            sheet.column_dimensions[col[0].column_letter].width = max(12, min(len(str(col[0].value or "")) + 2, 40))
            col[0].alignment = wrap
            col[0].font = bold

    shown = variance_rows(fc)
    if shown:
        vs = wb.create_sheet("Variance")
        heads = [w("Source of variance"), w("Share of the year's payout variance"), w("Standard error of the share"),
                 w("95% interval, low"), w("95% interval, high"), w("Spread it alone causes (sd, {cur})")]
        vs.append(heads)
        for row in shown:
            vs.append([w(row[0]), *row[1:]])
        vs.append([])
        vs.append([w(VARIANCE_NOTE, runs=fc.variance_runs)])
        _formats(vs, {heads[1]: share, heads[2]: share, heads[3]: share, heads[4]: share, heads[5]: whole})
        bars = BarChart()
        bars.title = w("Share of the year's payout variance, by source")
        bars.y_axis.title = w("share of variance")
        bars.add_data(Reference(vs, min_col=2, min_row=1, max_row=len(shown)), titles_from_data=True)
        bars.set_categories(Reference(vs, min_col=1, min_row=2, max_row=len(shown)))
        vs.add_chart(bars, "H2")
        vs.column_dimensions["A"].width = 36
        for letter in "BCDEF":
            vs.column_dimensions[letter].width = 18
        for cell in vs[1]:
            cell.alignment, cell.font = wrap, bold
    if fc.market is not None:
        mks = wb.create_sheet("Market")
        market_heads = [w("Month"), w("Demand multiplier (1 = normal)"), w("Uncertainty (sd of its log)")]
        mks.append(market_heads)
        for row in fc.market["months"]:
            mks.append(list(row))
        _formats(mks, {market_heads[1]: "0.000", market_heads[2]: "0.000"})
        mks.column_dimensions["B"].width = mks.column_dimensions["C"].width = 30

    if history is not None:
        _history_sheet(wb.create_sheet("History"), history, w, whole, bold, wrap)

    gl = wb.create_sheet("Glossary")
    gl.append([w("Term"), w("Meaning")])
    for term, meaning in GLOSSARY:
        gl.append([w(term), w(meaning)])
    _two_columns(gl, 40, wrap, bold)

    ins = wb.create_sheet("Inputs")
    ins.append([w("Input"), w("Value")])
    recorded = dict(fc.assumptions)
    own: list[tuple[str, object]] = [
        ("Plan", fc.plan), ("Plan (label)", fc.plan_label or "none"),
        ("Roster", recorded.get("roster", "")), ("Actuals", recorded.get("actuals", "")),
        ("Scenario", fc.scenario), ("As of", fc.as_of), ("Simulated runs", fc.runs), ("Seed", fc.seed),
        ("Engine version", f"incentive-engine {_version()}"),
        ("Written at (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")),
    ]
    given = {k for k, _ in inputs}
    for item, value in [*inputs, *((k, v) for k, v in own if k not in given)]:
        ins.append([w(item), _value(value) if not isinstance(value, (list, tuple)) else "\n".join(map(str, value))])
    _two_columns(ins, 30, wrap, bold)

    asn = wb.create_sheet("Assumptions")
    asn.append([w("Assumption"), w("Value")])
    for k, v in fc.assumptions:
        asn.append([k, v])
    asn.column_dimensions["A"].width = 34
    asn.column_dimensions["B"].width = 90
    with atomic_path(path) as tmp:
        wb.save(tmp)


REST_PARTS = {
    "seasonality": "Rest of the year against the months closed, per month: output from seasonality",
    "reps in the role": "Rest of the year against the months closed, per month: output from reps in the role",
    "ramp, market and skill": "Rest of the year against the months closed, per month: output from ramp, market "
                              "and skill",
    "effort": "Rest of the year against the months closed, per month: output from effort",
    "other": "Rest of the year against the months closed, per month: output, other",
}
"""The Summary rows of the rest of the year's parts (engine/jobs/rest_of_year.py), by part."""
REST_WORDS = ("Rest of the year against the months closed, per month: pay",
              "Rest of the year against the months closed, per month: primary output",
              "Rest of the year against the months closed, per month: pay per unit of output",
              *REST_PARTS.values())
"""The Summary's rest-of-year rows (each has its Chinese in :data:`~engine.report.forecast_words_zh.ZH`)."""
HISTORY_WORDS = ("What the history moved", "Without history", "With history", "Meaning", "How it was reached",
                 "(no parameter of the scenario moved)", "What that did to the forecast ({cur})", "Change",
                 "Change (%)", "Annual P50", "Annual P90", "Which to trust", "Each group alone ({cur})",
                 "P50 change (%)", "P90 change (%)")
"""The History sheet's own words (each has its Chinese in :data:`~engine.report.forecast_words_zh.ZH`)."""


def _history_sheet(ws, check: HistoryCheck, w, whole: str, bold, wrap) -> None:
    """What the history changed: the parameters it moved, what that did to P50 and P90, and
    which forecast to trust."""
    from engine.jobs.with_history import show_value

    ws.append([w("What the history moved"), w("Without history"), w("With history"), w("Meaning"),
               w("How it was reached")])
    heads = [ws.max_row]
    for m in check.moved:
        cells = [m.without_history, m.with_history]
        ws.append([m.name, *(v if isinstance(v, (int, float)) and not isinstance(v, bool) else show_value(v)
                             for v in cells), m.meaning, m.note])
    if not check.moved:
        ws.append([w("(no parameter of the scenario moved)")])
    ws.append([])
    ws.append([w("What that did to the forecast ({cur})"), w("Without history"), w("With history"),
               w("Change"), w("Change (%)")])
    heads.append(ws.max_row)
    for band, v in check.effect.items():
        ws.append([w(f"Annual {band.upper()}"), v["without_history"], v["with_history"], v["change"],
                   v["change_percent"] / 100.0])
        for col in (2, 3, 4):
            ws.cell(row=ws.max_row, column=col).number_format = whole
        ws.cell(row=ws.max_row, column=5).number_format = "+0.0%;-0.0%;0.0%"
    if check.alone:
        ws.append([])
        ws.append([w("Each group alone ({cur})"), w("Annual P50"), w("Annual P90"), w("P50 change (%)"),
                   w("P90 change (%)")])
        heads.append(ws.max_row)
        for g in check.alone:
            change = check.alone_change(g)
            ws.append([g.group, g.p50, g.p90, change["p50"] / 100.0, change["p90"] / 100.0])
            for col in (2, 3):
                ws.cell(row=ws.max_row, column=col).number_format = whole
            for col in (4, 5):
                ws.cell(row=ws.max_row, column=col).number_format = "+0.0%;-0.0%;0.0%"
    ws.append([])
    ws.append([w("Which to trust"), check.verdict])
    heads.append(ws.max_row)
    for row in heads:
        for cell in ws[row]:
            cell.font = bold
    ws.column_dimensions["A"].width = 34
    for letter, width in (("B", 22), ("C", 22), ("D", 50), ("E", 60)):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows(min_row=1):
        for cell in row[1:]:
            cell.alignment = wrap


def _two_columns(ws, first_width: int, wrap, bold) -> None:
    """A term-and-text sheet: the text column wide and wrapped, the header row bold."""
    ws.column_dimensions["A"].width = first_width
    ws.column_dimensions["B"].width = 110
    for row in ws.iter_rows(min_row=1):
        row[1].alignment = wrap
    for cell in ws[1]:
        cell.font = bold
