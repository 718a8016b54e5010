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

from engine.core.text import MISSING, figure, plus_minus, text_table
from engine.jobs.compare import Comparison, rows_for
from engine.sim.run import SimResult

__all__ = ["comparison_table", "difference_rows", "figure_rows"]


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
