"""What management sees before accepting the team's weights: text and HTML.

Formatting only: the weights, the spread of the votes and the simulated comparison arrive
computed (:mod:`engine.jobs.weights`). The comparison tables are those of ``compare``, and
the HTML report is ``compare``'s page with the weights as its first sections.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
from typing import TYPE_CHECKING

from engine.core.text import MISSING, figure, text_table
from engine.jobs.compare import report_inputs
from engine.report.html import _html_table, compare_report
from engine.report.text import comparison_table

if TYPE_CHECKING:
    from engine.jobs.weights import VoteComparison, VotedWeights

__all__ = ["weights_html", "weights_report", "weights_text", "write_weights_report"]


def _w(v: float) -> str:
    return f"{v:.4f}"


def _s(v: float) -> str:
    return f"{v:.3f}"


def _held(row) -> str:
    if row["bound"] == "lower":
        return f"lower bound {_w(row['lower'])}"
    if row["bound"] == "upper":
        return f"upper bound {_w(row['upper'])}"
    return ""


def _headline(vw: VotedWeights) -> list[str]:
    n = len(vw.votes)
    rule = "mean" if vw.method == "mean" else "per-metric median"
    return [(f"Team weights for scorecard {vw.scorecard} of plan {vw.plan.plan.name}: {n} voter{'s' if n != 1 else ''} "
            f"({vw.source})"),
            (f"team weight = {rule} of the voters' shares; final = the closest weights (least squares) that sum to 1 "
            f"within the bounds (current ± {vw.weight_change:g}, clipped to [0, 1])")]


def _weight_rows(vw: VotedWeights) -> tuple[list[str], list[list[str]]]:
    header = ["metric", "current", f"team ({vw.method})", "bounds", "final", "held by"]
    rows = [[r["metric"], _w(r["current"]), _w(r["team"]), f"[{_w(r['lower'])}, {_w(r['upper'])}]", _w(r["final"]),
             _held(r)] for _, r in vw.table.iterrows()]
    return header, rows


def _spread_rows(vw: VotedWeights) -> tuple[list[str], list[list[str]]]:
    header = ["metric", "min", "P25", "median", "P75", "max", "sd"]
    rows = [[r["metric"]] + [_s(r[k]) for k in ("votes_min", "votes_p25", "votes_median", "votes_p75", "votes_max",
                                                "votes_sd")] for _, r in vw.table.iterrows()]
    return header, rows


def _measure_rows(vc: VoteComparison) -> tuple[list[str], list[list[str]]]:
    names = [p.plan.name for p in vc.plans]
    header = ["measure", names[0], names[1], "difference", "relative"]
    rows = []
    for _, r in vc.measures.iterrows():
        def num(v, signed=False):
            return MISSING if v is None or (isinstance(v, float) and not math.isfinite(v)) else \
                figure(v, "num", signed=signed)
        rel = r["relative"]
        rows.append([r["measure"], num(r["current"]), num(r["voted"]), num(r["difference"], True),
                     MISSING if rel is None or (isinstance(rel, float) and not math.isfinite(rel))
                     else f"{100 * rel:+.1f}%"])
    return header, rows


def weights_text(vw: VotedWeights, vc: VoteComparison | None = None) -> str:
    """The report ``incentive weights`` prints: the weights, the spread of the votes, the change
    to the plan and, when simulated, the comparison of the current and the voted plan."""
    lines = _headline(vw) + [""]
    lines += text_table(*_weight_rows(vw))
    lines += ["", "Spread of the votes (each voter's shares; a wide range means the team disagrees)"]
    lines += text_table(*_spread_rows(vw))
    lines.append("")
    diff = vw.diff(context=0)
    if diff:
        lines.append(f"Changes ({vw.plan.plan.file})")
        lines += diff
    else:
        lines.append("Changes: none (the voted weights are the current ones)")
    if vc is not None:
        cur = vw.plan.plan.currency
        lines += ["", (f"Simulated: the current plan ({vc.plans[0].plan.name}) and the voted one "
                      f"({vc.plans[1].plan.name}) on the same team and random numbers")]
        lines += comparison_table(vc.comparison, cur).splitlines()
        if len(vc.measures):
            lines += ["", "Measures the scorecard reads (mean annual team total per run; difference of the means)"]
            lines += text_table(*_measure_rows(vc))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def weights_html(vw: VotedWeights) -> str:
    """The weights, the spread of the votes and the change to the plan, as HTML."""
    e = html.escape
    parts = ["<p>" + "<br>".join(e(x) for x in _headline(vw)) + "</p>",
             _html_table(*_weight_rows(vw)),
             ("<h3>Spread of the votes</h3><p class=\"note\">each voter's shares; a wide range means the team "
             "disagrees</p>"), _html_table(*_spread_rows(vw))]
    diff = vw.diff(context=0)
    parts.append("<h3>Changes to the plan</h3>" + (f"<pre>{e(chr(10).join(diff))}</pre>" if diff
                                                    else '<p class="note">none</p>'))
    return "".join(parts)


def weights_report(vw: VotedWeights, vc: VoteComparison, *, generated: dt.datetime | None = None) -> str:
    """The HTML page of ``incentive weights --report``: the weights, then ``compare``'s report
    of the current and the voted plan (``vc`` simulated with ``keep_reps=True``)."""
    before = [("weights", "The team's weights", weights_html(vw))]
    if len(vc.measures):
        before.append(("measures", "Measures the scorecard reads",
                       '<p class="lead">Mean annual team total per simulated year; difference of the means.</p>'
                       + _html_table(*_measure_rows(vc))))
    inputs = report_inputs(vc.comparison, list(vc.plans), vc.scenario)
    return compare_report(inputs, title=f"Team-voted weights for {vw.plan.plan.name}", generated=generated,
                          before=before, command="incentive weights --report")


def write_weights_report(path: str | os.PathLike[str], vw: VotedWeights, vc: VoteComparison) -> None:
    """Write :func:`weights_report` to ``path`` atomically."""
    from engine.core.atomic import write_text_atomic

    write_text_atomic(path, weights_report(vw, vc))
