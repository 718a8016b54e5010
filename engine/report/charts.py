"""Charts of plans and simulation results, as plotly figures.

Each function returns a :class:`plotly.graph_objects.Figure`, so a notebook shows it with
one call and a web app (Dash) or the HTML report (:mod:`engine.report.html`) embeds it::

    from engine.report import charts
    charts.payout_curve(plan)                     # what one plan pays, per component
    cmp = compare_plans(plans, keep_reps=True)
    charts.cost_distribution(cmp.results)         # team cost per simulated year, P50/P90/P95
    charts.winners_losers(cmp)                    # payout change by skill quartile

Plans keep one colour across every chart: the colour of the plan's position in the list
(:func:`plan_colours`). Charts of results take ``labels=`` to name the results otherwise
than by plan (e.g. a plan with moved parameters). Money is in the plans' currency with thousands separators;
attainment is in percent of target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.data.summary import payout_curve_data

if TYPE_CHECKING:
    from engine.jobs.compare import Comparison
    from engine.plan.validate import CheckedPlan
    from engine.sim.metrics import RepDetail
    from engine.sim.population import Roster
    from engine.sim.run import SimResult

__all__ = [
    "COST_PERCENTILES",
    "FONT_FAMILY",
    "PALETTE",
    "attainment_distribution",
    "by_year",
    "cost_distribution",
    "cost_of_sales",
    "currency_of",
    "forecast_by_period",
    "forecast_distribution",
    "morale_risk",
    "payout_curve",
    "payout_curve_data",
    "payout_curves",
    "payout_distribution",
    "plan_colours",
    "winners_losers",
    "years_of",
]

# Okabe-Ito (colour-blind safe, without its yellow), then Plotly's D3 colours for long lists.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
COMPONENT_PALETTE = ("#8DA0CB", "#FC8D62", "#66C2A5", "#E78AC3", "#A6D854", "#FFD92F", "#E5C494", "#B3B3B3")
COST_PERCENTILES = (("P50", 0.50, "circle"), ("P90", 0.90, "diamond"), ("P95", 0.95, "x"))

RosterLike = Union[pd.DataFrame, "Roster", None]


def plan_colours(names: Sequence[str]) -> dict[str, str]:
    """Colour of each plan, by its position in the list (the first plan is always blue)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _money_title(text: str, currency: str) -> str:
    return f"{text} ({currency})" if currency else text


FONT_FAMILY = ('system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, "Noto Sans CJK SC", '
               '"Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif')
"""The report's and the charts' fonts: Latin system fonts first, then the common Chinese
(CJK) fonts of Linux, macOS and Windows, so that Chinese plan and component names render as
text and not as boxes on a machine whose default sans-serif font has no CJK glyphs."""


def currency_of(results: Sequence[SimResult]) -> str:
    """The results' common currency, or "" when they differ (labels then name no currency)."""
    cur = {r.currency for r in results}
    return cur.pop() if len(cur) == 1 else ""


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        template="plotly_white", title={"text": title, "x": 0.01, "xanchor": "left"}, height=height,
        font={"family": FONT_FAMILY, "size": 13},
        separators=".,", margin={"l": 70, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hoverlabel={"namelength": -1},
    )
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig


# --------------------------------------------------------------------------- payout curves

def payout_curve(checked: CheckedPlan, params: dict | None = None, roster: RosterLike = None, *,
                 colour: str | None = None, levels: Sequence[float] | None = None) -> go.Figure:
    """Annual pay against attainment for one plan: components stacked, the total as a line.

    See :func:`payout_curve_data` for the reference rep. ``colour`` is the total's colour
    (default: the first plan colour).
    """
    plan = checked.plan
    df = payout_curve_data(checked, params, roster, levels)
    cur = plan.currency
    fig = go.Figure()
    comps = [c.name for c in plan.components]
    x = df.index.to_numpy()
    stack = all((df[c] >= -1e-9).all() for c in comps)
    for i, name in enumerate(comps):
        col = COMPONENT_PALETTE[i % len(COMPONENT_PALETTE)]
        fig.add_trace(go.Scatter(
            x=x, y=df[name], name=name, mode="lines", line={"color": col, "width": 1.5},
            stackgroup="components" if stack else None, fillcolor=col if stack else None,
            hovertemplate=f"{name}<br>attainment %{{x:.0f}}%<br>%{{y:,.0f}} {cur}<extra></extra>"))
    if "adjustment" in df and np.abs(df["adjustment"]).max() > 1e-9:
        fig.add_trace(go.Scatter(
            x=x, y=df["adjustment"], name="adjustment (modifiers, cap, draw)", mode="lines",
            line={"color": "#666666", "dash": "dot"},
            hovertemplate=f"adjustment<br>attainment %{{x:.0f}}%<br>%{{y:,.0f}} {cur}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=x, y=df["total"], name=f"total ({plan.name})", mode="lines",
        line={"color": colour or PALETTE[0], "width": 3},
        hovertemplate=f"total<br>attainment %{{x:.0f}}%<br>%{{y:,.0f}} {cur}<extra></extra>"))
    fig.add_vline(x=100, line={"color": "#999999", "dash": "dash", "width": 1},
                  annotation_text="target", annotation_position="top left")
    _layout(fig, f"What {plan.name} pays a typical rep in a year",
            "Attainment (% of target, the same in every period)", _money_title("Annual payout per rep", cur))
    fig.update_xaxes(ticksuffix="%", range=[float(x.min()), float(x.max())])
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero")
    return fig


def payout_curves(plans: Sequence[CheckedPlan], roster: RosterLike = None) -> go.Figure:
    """Every plan's total annual pay against attainment on one chart (plan colours)."""
    fig = go.Figure()
    curs = {p.plan.currency for p in plans}
    cur = curs.pop() if len(curs) == 1 else ""
    for i, p in enumerate(plans):
        df = payout_curve_data(p, roster=roster)
        fig.add_trace(go.Scatter(
            x=df.index, y=df["total"], name=p.plan.name, mode="lines", line={"color": _colour(i), "width": 2.5},
            hovertemplate=f"{p.plan.name}<br>attainment %{{x:.0f}}%<br>%{{y:,.0f}} {p.plan.currency}<extra></extra>"))
    fig.add_vline(x=100, line={"color": "#999999", "dash": "dash", "width": 1})
    _layout(fig, "Annual pay of a typical rep against attainment, every plan",
            "Attainment (% of target, the same in every period)", _money_title("Annual payout per rep", cur))
    fig.update_xaxes(ticksuffix="%")
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero")
    return fig


# --------------------------------------------------------------------------- distributions

def _names(results: Sequence[SimResult], labels: Sequence[str] | None) -> list[str]:
    """Legend names: ``labels`` when given (e.g. a plan with moved parameters), else plan names."""
    if labels is None:
        return [r.plan for r in results]
    if len(labels) != len(results):
        raise ValueError(f"labels must name every result (got {len(labels)} for {len(results)})")
    return [str(x) for x in labels]


def _need_detail(results: Sequence[SimResult]) -> list[RepDetail]:
    """Each result's per-rep values; ValueError when a result was simulated without them."""
    details = [r.detail for r in results]
    if any(d is None for d in details):
        raise ValueError("this chart needs per-rep values: simulate(..., keep_reps=True) "
                         "or compare_plans(..., keep_reps=True)")
    return [d for d in details if d is not None]


def _step_histograms(fig: go.Figure, results: Sequence[SimResult], key: str, edges: np.ndarray,
                     scale: float, hover: str, names: Sequence[str]) -> None:
    centres = (edges[:-1] + edges[1:]) / 2
    for i, (r, name) in enumerate(zip(results, names)):
        assert r.detail is not None  # the caller ran _need_detail
        v = r.detail.values(key) * scale
        counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
        share = 100 * counts / max(v.size, 1)
        fig.add_trace(go.Scatter(
            x=centres, y=share, name=name, mode="lines", line={"color": _colour(i), "width": 2, "shape": "hvh"},
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate=f"{name}<br>{hover}<br>%{{y:.1f}}% of rep-years<extra></extra>"))


def attainment_distribution(results: Sequence[SimResult], max_pct: float = 250.0,
                            step_pct: float = 5.0, labels: Sequence[str] | None = None) -> go.Figure:
    """How attainment spreads over reps: share of rep-years in each band, per plan.

    Needs results simulated with ``keep_reps=True``; values above ``max_pct`` count in the
    last band.
    """
    _need_detail(results)
    fig = go.Figure()
    edges = np.arange(0.0, max_pct + step_pct / 2, step_pct)
    _step_histograms(fig, results, "attainment", edges, 100.0,
                     "attainment %{customdata[0]:.0f}% to %{customdata[1]:.0f}%", _names(results, labels))
    fig.add_vline(x=100, line={"color": "#999999", "dash": "dash", "width": 1},
                  annotation_text="target", annotation_position="top right")
    _layout(fig, "Attainment per rep over the year", "Attainment (% of annual target)",
            f"Share of rep-years (% per {step_pct:g}-point band)")
    fig.update_xaxes(ticksuffix="%", range=[0, max_pct])
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    return fig


def payout_distribution(results: Sequence[SimResult], bins: int = 40,
                        labels: Sequence[str] | None = None) -> go.Figure:
    """How pay spreads over reps: share of rep-years in each payout band, per plan.

    Bands are shared by every plan, from 0 to the 99th percentile of all plans' payouts;
    larger payouts count in the last band. Reps who joined or left during the year are
    included with what they were paid. Needs results simulated with ``keep_reps=True``.
    """
    details = _need_detail(results)
    cur = currency_of(results)
    allv = np.concatenate([d.values("payout") for d in details])
    lo = min(0.0, float(np.min(allv))) if allv.size else 0.0
    hi = float(np.quantile(allv, 0.99)) if allv.size else 1.0
    hi = _nice_ceiling(max(hi, lo + 1.0))
    edges = np.linspace(lo, hi, bins + 1)
    fig = go.Figure()
    _step_histograms(fig, results, "payout", edges, 1.0,
                     f"paid %{{customdata[0]:,.0f}} to %{{customdata[1]:,.0f}} {cur}", _names(results, labels))
    _layout(fig, "Incentive pay per rep over the year", _money_title("Annual payout per rep", cur),
            "Share of rep-years (% per band)")
    fig.update_xaxes(tickformat=",.0f", range=[lo, hi])
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    return fig


def _nice_ceiling(v: float) -> float:
    mag = 10 ** np.floor(np.log10(max(abs(v), 1.0)))
    return float(np.ceil(v / mag * 2) / 2 * mag)


def cost_distribution(results: Sequence[SimResult], labels: Sequence[str] | None = None) -> go.Figure:
    """Team incentive cost per simulated year, per plan: every run as a dot, P50, P90 and P95
    marked (the quantiles of the JSON document's ``cost``)."""
    cur = currency_of(results)
    fig = go.Figure()
    names = _names(results, labels)
    for i, (r, name) in enumerate(zip(results, names)):
        cost = np.asarray(r.per_run["cost"], dtype=float)
        fig.add_trace(go.Box(
            x=cost, name=name, orientation="h", boxpoints="all", jitter=0.7, pointpos=0,
            line={"color": "rgba(0,0,0,0)"}, fillcolor="rgba(0,0,0,0)", hoveron="points",
            marker={"size": 6, "color": _colour(i), "opacity": 0.6},
            hovertemplate=f"{name}<br>one simulated year: %{{x:,.0f}} {cur}<extra></extra>"))
    for label, q, symbol in COST_PERCENTILES:
        xs = [float(np.quantile(np.asarray(r.per_run["cost"], dtype=float), q)) for r in results]
        fig.add_trace(go.Scatter(
            x=xs, y=names, mode="markers", name=label,
            marker={"symbol": symbol, "size": 13, "color": "#222222", "line": {"width": 2, "color": "white"}},
            hovertemplate=f"%{{y}}<br>{label}: %{{x:,.0f}} {cur}<extra></extra>"))
    _layout(fig, "Team incentive cost per simulated year (P50, P90, P95 marked)",
            _money_title("Annual team payout", cur), "", height=max(320, 110 * len(results) + 140))
    fig.update_xaxes(tickformat=",.0f")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    return fig


# --------------------------------------------------------------------------- figures with intervals

def _interval_bars(fig: go.Figure, results: Sequence[SimResult], metrics: Sequence[tuple[str, str]],
                   scale: float, fmt: str, names: Sequence[str], by_plan: bool = False) -> None:
    from engine.jobs.compare import mean_interval

    for i, (r, name) in enumerate(zip(results, names)):
        stats = [mean_interval(r.per_run[key]) for key, _ in metrics]
        mean = np.array([np.nan if s["mean"] is None else s["mean"] for s in stats]) * scale
        hi = np.array([np.nan if s["ci_high"] is None else s["ci_high"] for s in stats]) * scale
        lo = np.array([np.nan if s["ci_low"] is None else s["ci_low"] for s in stats]) * scale
        fig.add_trace(go.Bar(
            x=[name] if by_plan else [label for _, label in metrics], y=mean, name=name, marker_color=_colour(i),
            error_y={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - mean),
                     "arrayminus": np.nan_to_num(mean - lo), "color": "#333333", "thickness": 1.2, "width": 4},
            customdata=np.stack([lo, hi], axis=1),
            hovertemplate=(f"{name}<br>%{{x}}: %{{y:{fmt}}}<br>95% CI %{{customdata[0]:{fmt}}} "
                           f"to %{{customdata[1]:{fmt}}}<extra></extra>")))


def cost_of_sales(results: Sequence[SimResult], labels: Sequence[str] | None = None) -> go.Figure:
    """Incentive cost as a share of revenue, per plan, with 95% confidence intervals (mean
    over runs)."""
    fig = go.Figure()
    _interval_bars(fig, results, [("cost_of_sales", "cost of sales")], 100.0, ".2f", _names(results, labels), by_plan=True)
    _layout(fig, "Cost of sales: incentive pay as a share of revenue (95% CI)", "",
            "Incentive cost (% of revenue)", height=380)
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    fig.update_layout(barmode="overlay", bargap=0.45)
    return fig


MORALE_METRICS = (("attrition_rate", "attrition"), ("regretted_attrition_rate", "regretted attrition"),
                  ("share_disengaged", "disengaged (share of rep-months)"))


def morale_risk(results: Sequence[SimResult], labels: Sequence[str] | None = None) -> go.Figure:
    """Attrition, regretted attrition (top-quartile leavers) and disengagement per plan,
    with 95% confidence intervals (mean over runs)."""
    fig = go.Figure()
    _interval_bars(fig, results, MORALE_METRICS, 100.0, ".1f", _names(results, labels))
    _layout(fig, "Morale and attrition risk (95% CI)", "", "Share of reps (% per year)")
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    fig.update_layout(barmode="group")
    return fig


def years_of(results: Sequence[SimResult]) -> list[str]:
    """The plan years of the results (``by_year`` of their documents, in order), or ``[]``
    when every result is of one plan year."""
    years: list[str] = []
    for r in results:
        years += [e["year"] for e in r.document.get("by_year", ()) if e["year"] not in years]
    return years


def _year_shares(r: SimResult, years: Sequence[str], get) -> np.ndarray:
    entries = {e["year"]: e for e in r.document.get("by_year", ())}
    return np.array([np.nan if y not in entries or get(entries[y]) is None else 100.0 * get(entries[y])
                     for y in years])


YEAR_PANELS = ("Incentive cost (mean, 95% CI)", "Revenue (mean, 95% CI)", "Reps at or above target",
               "Attrition")


def by_year(results: Sequence[SimResult], labels: Sequence[str] | None = None) -> go.Figure:
    """Plan year by plan year, per plan: incentive cost and revenue (means over runs with 95%
    confidence intervals, from the per-run figures of each year), the share of reps at or
    above their annual target and attrition (the document's ``by_year``, pooled over runs).

    For a horizon of several plan years (``horizon.months`` above 12); a plan year cut short
    by the horizon counts only its simulated months.

    Raises:
        ValueError: no result spans several plan years.
    """
    from plotly.subplots import make_subplots

    from engine.jobs.compare import mean_interval

    years = years_of(results)
    if not years:
        raise ValueError("this chart needs several plan years: a scenario with horizon.months above 12")
    cur = currency_of(results)
    names = _names(results, labels)
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.12, vertical_spacing=0.2, subplot_titles=YEAR_PANELS)
    for i, (r, name) in enumerate(zip(results, names)):
        col = _colour(i)
        for j, key in enumerate(("cost", "revenue")):
            stats = [mean_interval(r.per_run[f"{key} {y}"]) if f"{key} {y}" in r.per_run
                     else {"mean": None, "ci_low": None, "ci_high": None} for y in years]
            mean, lo, hi = (np.array([np.nan if s[k] is None else s[k] for s in stats], dtype=float)
                            for k in ("mean", "ci_low", "ci_high"))
            fig.add_trace(go.Bar(
                x=list(years), y=mean, name=name, legendgroup=name, showlegend=j == 0, marker_color=col,
                error_y={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - mean),
                         "arrayminus": np.nan_to_num(mean - lo), "color": "#333333", "thickness": 1.2, "width": 4},
                customdata=np.stack([lo, hi], axis=1),
                hovertemplate=(f"{name}<br>%{{x}} {'incentive cost' if key == 'cost' else key}: %{{y:,.0f}} {cur}"
                               f"<br>95% CI %{{customdata[0]:,.0f}} to %{{customdata[1]:,.0f}}<extra></extra>")),
                row=1, col=j + 1)
        for j, (what, get) in enumerate((
                ("at or above target", lambda e: e["attainment"]["share_at_or_above_target"]),
                ("attrition", lambda e: e["morale"]["attrition_rate"]))):
            fig.add_trace(go.Bar(
                x=list(years), y=_year_shares(r, years, get), name=name, legendgroup=name, showlegend=False,
                marker_color=col, hovertemplate=f"{name}<br>%{{x}} {what}: %{{y:.1f}}%<extra></extra>"),
                row=2, col=j + 1)
    _layout(fig, "Plan year by plan year", "", "", height=640)
    fig.update_layout(barmode="group", bargap=0.3, margin={"b": 90},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.1, "xanchor": "center", "x": 0.5})
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text=_money_title("Per plan year", cur), tickformat=",.0f", rangemode="tozero", row=1)
    fig.update_yaxes(title_text="Share of reps (%)", ticksuffix="%", rangemode="tozero", row=2)
    return fig


def winners_losers(comparison: Comparison) -> go.Figure:
    """Who gains and who loses under each plan against the first, by skill quartile.

    Left: the mean change in a starting rep's annual payout (95% CI, paired over runs).
    Right: the share of reps better off (up) and worse off (down). Needs a comparison made
    with ``keep_reps=True`` and at least two plans.
    """
    from plotly.subplots import make_subplots

    df = comparison.winners_losers()
    cur = currency_of(comparison.results)
    base = comparison.plans[0]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        _money_title("Mean change in annual payout", cur), "Reps better off (up) and worse off (down)"))
    for i, plan in enumerate(comparison.plans[1:], start=1):
        d = df[df["plan"] == plan]
        col = _colour(i)
        mean = d["mean_change"].to_numpy(dtype=float)
        fig.add_trace(go.Bar(
            x=d["label"], y=mean, name=plan, legendgroup=plan, marker_color=col,
            error_y={"type": "data", "symmetric": False,
                     "array": np.nan_to_num(d["ci_high"].to_numpy(dtype=float) - mean),
                     "arrayminus": np.nan_to_num(mean - d["ci_low"].to_numpy(dtype=float)),
                     "color": "#333333", "thickness": 1.2, "width": 4},
            customdata=d[["ci_low", "ci_high", "base_payout"]].to_numpy(dtype=float),
            hovertemplate=(f"{plan} vs {base}<br>%{{x}}: %{{y:+,.0f}} {cur}<br>95% CI %{{customdata[0]:+,.0f}} "
                           f"to %{{customdata[1]:+,.0f}}<br>paid %{{customdata[2]:,.0f}} under {base}"
                           "<extra></extra>")), row=1, col=1)
        fig.add_trace(go.Bar(
            x=d["label"], y=100 * d["share_better"], name=plan, legendgroup=plan, showlegend=False, offsetgroup=plan,
            marker_color=col, hovertemplate=f"{plan}<br>%{{x}}: %{{y:.0f}}% better off<extra></extra>"),
            row=1, col=2)
        fig.add_trace(go.Bar(
            x=d["label"], y=-100 * d["share_worse"], name=plan, legendgroup=plan, showlegend=False, offsetgroup=plan,
            marker={"color": col, "opacity": 0.45, "pattern": {"shape": "/"}},
            customdata=100 * d["share_worse"],
            hovertemplate=f"{plan}<br>%{{x}}: %{{customdata:.0f}}% worse off<extra></extra>"), row=1, col=2)
    _layout(fig, f"Winners and losers against {base}, by skill quartile of the reps who start the year",
            "", "", height=470)
    fig.update_layout(barmode="group", margin={"b": 110},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "center", "x": 0.5})
    fig.update_xaxes(title_text="Skill quartile within the team")
    fig.update_yaxes(title_text=_money_title("Change per rep", cur), tickformat="+,.0f", row=1, col=1)
    fig.update_yaxes(title_text="Share of reps (%)", ticksuffix="%", row=1, col=2)
    return fig


# --------------------------------------------------------------------------- forecasts

def forecast_by_period(fc) -> go.Figure:
    """A payout forecast by period: what was paid in closed periods, and for the rest of the
    year the simulated team payout's P50 with a P50-P90 band and the P95 marked.

    Args:
        fc: an :class:`engine.jobs.forecast.Forecast`.
    """
    df = fc.by_period[fc.by_period["period"] != "year"]
    cur = fc.currency
    closed = df["status"] == "closed"
    fig = go.Figure()
    fig.add_trace(go.Bar(x=df["period"][closed], y=df["paid"][closed], name="paid (closed periods)",
                         marker_color="#8DA0CB",
                         hovertemplate=f"%{{x}}: paid %{{y:,.0f}} {cur}<extra></extra>"))
    open_ = df[~closed]
    if len(open_):
        fig.add_trace(go.Bar(
            x=open_["period"], y=open_["p50"], name="forecast P50", marker_color=PALETTE[0],
            error_y={"type": "data", "symmetric": False, "array": (open_["p90"] - open_["p50"]).to_numpy(dtype=float),
                     "arrayminus": np.zeros(len(open_)), "color": "#333333", "thickness": 1.2, "width": 6},
            customdata=open_[["p90", "p95"]].to_numpy(dtype=float),
            hovertemplate=(f"%{{x}}: P50 %{{y:,.0f}} {cur}<br>P90 %{{customdata[0]:,.0f}}<br>"
                           f"P95 %{{customdata[1]:,.0f}}<extra></extra>")))
        fig.add_trace(go.Scatter(x=open_["period"], y=open_["p95"], mode="markers", name="P95",
                                 marker={"symbol": "x", "size": 11, "color": "#222222"},
                                 hovertemplate=f"%{{x}}: P95 %{{y:,.0f}} {cur}<extra></extra>"))
    _layout(fig, f"{fc.plan}: team payout by period as of {fc.as_of} (whisker: up to P90)", "Plan period",
            _money_title("Team payout", cur))
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero")
    return fig


def forecast_distribution(fc, budget: float | None = None) -> go.Figure:
    """The simulated annual team payout of a forecast: a histogram over runs with paid to
    date, P50, P90 and P95 and the budget (``fc.budget`` unless ``budget`` is given) marked."""
    cur = fc.currency
    annual = np.asarray(fc.annual, dtype=float)
    budget = fc.budget if budget is None else budget
    fig = go.Figure(go.Histogram(x=annual, nbinsx=40, marker_color=PALETTE[0], opacity=0.75, name="simulated years",
                                 hovertemplate=f"%{{x}} {cur}<br>%{{y}} runs<extra></extra>"))
    marks = [("P50", float(np.quantile(annual, 0.5)), "#222222", "solid"),
             ("P90", float(np.quantile(annual, 0.9)), "#222222", "dash"),
             ("P95", float(np.quantile(annual, 0.95)), "#222222", "dot")]
    if budget is not None:
        share = float(np.mean(annual > budget))
        marks.append((f"budget ({100 * share:.1f}% of runs above)", float(budget), PALETTE[1], "solid"))
    for i, (label, x, colour, dash) in enumerate(marks):
        fig.add_vline(x=x, line={"color": colour, "dash": dash, "width": 2})
        fig.add_annotation(x=x, y=1.0 - 0.07 * i, yref="paper", text=f"{label}: {x:,.0f}", showarrow=False,
                           xanchor="left", bgcolor="rgba(255,255,255,0.8)", font={"size": 11})
    _layout(fig, f"{fc.plan}: annual team payout over {fc.runs} simulated completions of the year",
            _money_title("Annual team payout", cur), "Simulated years")
    fig.update_xaxes(tickformat=",.0f")
    fig.update_layout(showlegend=False)
    return fig
