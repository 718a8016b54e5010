"""``incentive studio``: a local what-if page for plan designers.

The page opens a plan (one given on the command line, a shipped one, or a file opened on
the page), shows a slider for each bounded parameter (thresholds, accelerators, caps) and
each scorecard metric weight (rescaled to sum to 1) and, whenever a slider moves, simulates the scenario's team under the moved plan and redraws the payout
curve, the cost distribution, the attainment spread and the morale risk figures. A plan with
``base_pay`` shows its incentive cost, its base pay cost and its total pay cost apart (cards
and status line); the payout curve and the cost distribution are the incentive's. A scenario
of several plan years (``horizon.months`` above 12) adds a chart plan year by plan year
(:func:`years_chart`); with one plan year the page is as before.

Every what-if uses the same seed (common random numbers), so a change on the page is the
effect of the slider, not of new random draws. Results are cached by parameter values, so
moving a slider back is instant.

Built on Dash (Plotly's app framework): the page is declared in Python, the charts are the
same plotly figures as the HTML report and the notebooks, and there is no front end to build.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.errors import EngineError
from engine.core.text import MISSING, is_missing, money, percent
from engine.plan import CheckedPlan, load_plan

if TYPE_CHECKING:
    from engine.sim.executor import Executor
    from engine.sim.run import SimResult
    from engine.sim.scenario import Scenario

__all__ = ["Studio", "WhatIf", "create_app", "shipped_plans", "years_chart"]

DEFAULT_RUNS = 40
# Plans whose pay depends on other reps (contests, team terms) price each rep's best response
# against the team, about 25x the work per run: they get this share of the runs so that a
# move still answers in about a second.
CROSS_REP_SHARE = 8
_CACHE = 64


def shipped_plans() -> dict[str, Path]:
    """The plans under ``scenarios/plans`` of this checkout, by file stem."""
    root = Path(__file__).resolve().parents[2] / "scenarios" / "plans"
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}


def _step(lo: float, hi: float) -> float:
    """A slider step of about 1/100 of the range, rounded to one significant digit."""
    span = hi - lo
    if span <= 0:
        return 1.0
    raw = span / 100.0
    mag = 10 ** math.floor(math.log10(raw))
    return float(round(raw / mag) * mag)


@dataclass(frozen=True)
class Kpi:
    """One headline card of the page: its key in :attr:`WhatIf.kpis` and its labels."""

    key: str
    label: str  # for a plan without base_pay
    label_with_base_pay: str  # for a plan with base_pay, whose incentive cost is not all it costs
    money: bool = False  # an amount in the plan's currency (else a share)
    base_pay_only: bool = False  # shown only for a plan with base_pay


KPIS = (
    Kpi("cost_p50", "Annual cost P50", "Incentive cost P50", money=True),
    Kpi("cost_p90", "Annual cost P90", "Incentive cost P90", money=True),
    Kpi("base_pay_p50", "", "Base pay cost P50", money=True, base_pay_only=True),
    Kpi("total_pay_p50", "", "Total pay cost P50", money=True, base_pay_only=True),
    Kpi("cost_of_sales", "Cost of sales", "Incentive cost of sales"),
    Kpi("share_at_or_above_target", "Reps at or above target", "Reps at or above target"),
    Kpi("attrition_rate", "Attrition (annual)", "Attrition (annual)"),
    Kpi("share_disengaged", "Rep-months disengaged", "Rep-months disengaged"),
)
"""The headline cards, in page order. A plan with ``base_pay`` shows its incentive cost, its
base pay cost and its total pay cost (incentive + base pay) apart; the others, the cost."""


@dataclass
class WhatIf:
    """One evaluated what-if: the moved plan, its simulation and its headline figures."""

    params: dict
    plan: CheckedPlan
    result: SimResult
    seconds: float
    text: str = ""  # the moved plan's YAML: the original text with only the moved numbers changed

    @property
    def has_base_pay(self) -> bool:
        """The plan pays base pay (``base_pay``): its cost is shown apart from the incentive."""
        return "base_pay_cost" in self.result.document

    @property
    def kpis(self) -> dict[str, float | None]:
        """The headline figures, by :data:`KPIS` key (base and total pay: None without base_pay)."""
        d = self.result.document
        base, total = d.get("base_pay_cost"), d.get("total_pay_cost")
        return {
            "cost_p50": d["cost"]["p50"],
            "cost_p90": d["cost"]["p90"],
            "base_pay_p50": base["p50"] if base else None,
            "total_pay_p50": total["p50"] if total else None,
            "cost_of_sales": d["cost_of_sales"],
            "share_at_or_above_target": d["attainment"]["share_at_or_above_target"],
            "attrition_rate": d["morale"]["attrition_rate"],
            "share_disengaged": d["morale"]["share_disengaged"],
        }


@dataclass
class Studio:
    """What-if state shared by the page's callbacks: plans, scenario and a result cache.

    Args:
        plans: plan name -> plan file.
        scenario: the scenario (default: the built-in one).
        runs: simulated plan years per what-if.
        seed: the seed every what-if uses.
        backend: how plans are evaluated (a row of :data:`engine.plan.compile.BACKENDS`;
            default :func:`~engine.plan.compile.default_backend`, each plan's compiled kernel
            where numba can compute it): a kernel is compiled on a plan's first what-if and
            reused by every move, whose numbers are the kernel's arguments.
        workers: processes a what-if's runs are spread over (1: this process). With more,
            one pool serves every move (the runs split evenly between its processes); the
            figures do not depend on it. :meth:`close` ends the pool.
    """

    plans: dict[str, Path]
    scenario: Scenario | None = None  # None: the built-in one (set by __post_init__)
    runs: int = DEFAULT_RUNS
    seed: int | None = None
    backend: str | None = None  # None: default_backend() (set by __post_init__)
    workers: int = 1
    _loaded: dict = field(default_factory=dict)
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # the server runs callbacks in threads
    _run_lock: threading.Lock = field(default_factory=threading.Lock)  # one what-if on the pool at a time
    _executor: Executor | None = None

    def __post_init__(self):
        from engine.sim.scenario import default_scenario

        if not self.plans:
            raise ValueError("the studio needs at least one plan")
        self.scenario = self.scenario or default_scenario()
        self.seed = self.scenario.seed if self.seed is None else int(self.seed)
        if self.backend is None:
            from engine.plan.compile import default_backend

            self.backend = default_backend()

    def plan(self, name: str) -> CheckedPlan:
        if name not in self._loaded:
            self._loaded[name] = load_plan(self.plans[name])
        return self._loaded[name]

    def names(self) -> list[str]:
        """Plans on offer: the files given, then plans opened on the page."""
        return list(self.plans) + [n for n in self._loaded if n not in self.plans]

    def open_text(self, filename: str, text: str) -> str:
        """Add a plan opened on the page (its file name and text); returns its name.

        The plan is validated like any plan file (never executed), so a bad one raises
        :class:`~engine.core.errors.PlanErrors` naming the line and column.
        """
        from engine.plan import parse_plan

        checked = parse_plan(text, filename)
        base = Path(filename).stem or checked.plan.name
        name, i = base, 2
        while name in self.plans or (name in self._loaded and self._loaded[name].source != text):
            name, i = f"{base} ({i})", i + 1
        self._loaded[name] = checked
        return name

    def runs_for(self, name: str) -> int:
        """Runs per what-if for plan ``name`` (fewer for plans with cross-rep terms)."""
        from engine.sim.simulate import uses_cross_rep

        if uses_cross_rep(self.plan(name)):
            return max(4, self.runs // CROSS_REP_SHARE)
        return self.runs

    def sliders(self, name: str) -> list[dict]:
        """The plan's movable numbers: bounded parameters, then scorecard metric weights.

        Each is ``{name, label, kind, min, max, step, value}``; weights (``kind: weight``,
        named ``COMPONENT.METRIC``) move between 0 and 1 and are rescaled to sum to 1 within
        their scorecard when the plan is evaluated.
        """
        from engine.plan.rewrite import number_sites

        out = []
        for p in self.plan(name).plan.parameters:
            if p.min is None or p.max is None or p.max <= p.min:
                continue
            out.append({"name": p.name, "label": p.label or p.name.replace("_", " "), "kind": "parameter",
                        "min": p.min, "max": p.max, "step": _step(p.min, p.max), "value": p.value})
        for site in number_sites(self.plan(name)):
            if site.kind == "weight":
                comp, metric = site.key.split(".", 1)
                out.append({"name": site.key, "label": f"{comp}: weight of {metric.replace('_', ' ')}",
                            "kind": "weight", "group": site.group, "min": 0.0, "max": 1.0, "step": 0.01,
                            "value": site.value})
        return out

    def values(self, name: str, moved: dict) -> dict[str, float]:
        """Plan numbers for slider positions ``moved``: parameters as given, each scorecard's
        weights rescaled to sum to 1 (rounded to 6 decimals, the largest taking the remainder).
        Unknown names are ignored."""
        specs = {s["name"]: s for s in self.sliders(name)}
        out = {k: float(v) for k, v in moved.items() if k in specs and specs[k]["kind"] == "parameter"}
        groups: dict[str, list[str]] = {}
        for k, spec in specs.items():
            if spec["kind"] == "weight":
                groups.setdefault(spec["group"], []).append(k)
        for keys in groups.values():
            raw = [max(float(moved.get(k, specs[k]["value"])), 0.0) for k in keys]
            total = sum(raw)
            if total <= 0:
                continue  # every weight at 0: keep the plan's
            w = [round(r / total, 6) for r in raw]
            big = max(range(len(w)), key=lambda i: w[i])
            w[big] = round(1.0 - sum(w[:big]) - sum(w[big + 1:]), 6)
            out.update(zip(keys, w))
        return out

    def evaluate(self, name: str, moved: dict) -> WhatIf:
        """Simulate plan ``name`` with its numbers moved to ``moved`` (cached by value).

        The moved plan is the plan's own text with those numbers rewritten (comments and
        layout kept), validated again like any plan.

        Raises:
            PlanErrors: a value outside its bounds, or a plan rule the new values break.
        """
        import time

        from engine.plan.rewrite import rewrite_plan
        from engine.sim.run import simulate

        values = self.values(name, moved)
        key = (name, tuple(sorted((k, round(v, 12)) for k, v in values.items())))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        base = self.plan(name)
        text, plan = rewrite_plan(base, values) if values else (base.source, base)
        runs = self.runs_for(name)
        t0 = time.perf_counter()
        with self._run_lock:
            result = simulate(plan, self.scenario, runs=runs, seed=self.seed, keep_reps=True, backend=self.backend,
                              executor=self._pool(), chunk_runs=-(-runs // max(self.workers, 1)))
        out = WhatIf(values, plan, result, time.perf_counter() - t0, text)
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return out

    def _pool(self) -> Executor:
        """The executor every what-if runs on (its process pool started on first use)."""
        if self._executor is None:
            from engine.sim.executor import Executor

            self._executor = Executor(max(self.workers, 1))
        return self._executor

    def start(self) -> None:
        """Start the process pool's workers now (``incentive studio`` does, before the server
        starts its threads)."""
        self._pool().start()

    def close(self) -> None:
        """End the process pool (a later what-if starts a new one)."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None


def _money(v: float | None, currency: str) -> str:
    return MISSING if is_missing(v) else f"{money(v)} {currency}"


def _pct(v: float | None) -> str:
    return percent(v)


def _years_text(doc: dict, currency: str) -> str:
    """Cost and revenue per plan year, for a horizon of several plan years (else empty)."""
    years = doc.get("by_year")
    if not years:
        return ""
    parts = [f"{e['year']} cost {_money(e['cost']['mean'], currency)}, revenue {_money(e['revenue']['mean'], currency)}"
             for e in years]
    return " By plan year (means): " + "; ".join(parts) + "."


def _pay_text(doc: dict, currency: str) -> str:
    """Incentive, base pay and total pay cost per plan year (means), for a plan with base_pay
    (else empty): the incentive cost alone is not what such a plan costs."""
    if "base_pay_cost" not in doc:
        return ""
    return (f" Means per plan year: incentive {_money(doc['cost']['mean'], currency)} + base pay "
            f"{_money(doc['base_pay_cost']['mean'], currency)} = total pay "
            f"{_money(doc['total_pay_cost']['mean'], currency)}.")


def years_chart(results: list, labels: list[str], runs: int):
    """Plan year by plan year (incentive cost, revenue, share at or above target, attrition),
    for the plan as written and as moved, when the scenario spans several plan years; None
    with one plan year (the page then shows no such chart)."""
    from engine.report import charts

    if not charts.years_of(results):
        return None
    fig = _compact(charts.by_year(results, labels=labels), f"Plan year by plan year over {runs} simulated horizons",
                   legend_y=-0.12, bottom=80)
    return fig.update_layout(margin={"t": 80})


def kpi_cards(w: WhatIf, base: WhatIf) -> list[dict]:
    """What each headline card shows for what-if ``w`` against the plan as written ``base``:
    ``{key, label, value, delta, shown}`` per :data:`KPIS` entry (``shown`` is False for the
    base and total pay cards of a plan without base_pay)."""
    cur = w.plan.plan.currency
    moved = w.text != base.text
    k, k0 = w.kpis, base.kpis
    years = len(w.result.document.get("by_year") or ())
    cards = []
    for kpi in KPIS:
        shown = w.has_base_pay or not kpi.base_pay_only
        value = _money(k[kpi.key], cur) if kpi.money else _pct(k[kpi.key])
        delta = _delta(k[kpi.key], k0[kpi.key], cur if kpi.money else None) if moved else "the plan as written"
        label = kpi.label_with_base_pay if w.has_base_pay else kpi.label
        if years > 1:  # the figures cover the whole horizon, not one year
            label = label.replace("Annual cost", "Cost").replace("(annual)", "")
            label = f"{label.strip()} ({years} plan years)" if kpi.money or kpi.key == "attrition_rate" else label
        cards.append({"key": kpi.key, "label": label,
                      "value": value if shown else MISSING, "delta": delta if shown else "", "shown": shown})
    return cards


def _delta(new: float | None, old: float | None, currency: str | None) -> str:
    """The change against the plan as written: money in the currency, shares in points."""
    if new is None or old is None:
        return ""
    if currency is not None:
        return f"{new - old:+,.0f} {currency} vs as written"
    return f"{100 * (new - old):+.1f} pp vs as written"


YEARS_SHOWN = {"height": "560px", "minWidth": 0, "gridColumn": "1 / span 2"}
YEARS_HIDDEN = {**YEARS_SHOWN, "display": "none"}


def _compact(fig, title: str, legend_y: float = -0.25, bottom: int = 50):
    """A report figure fitted to a half-width tile: short title, legend below the plot."""
    fig.update_layout(title={"text": title}, height=None, autosize=True,
                      margin={"l": 70, "r": 20, "t": 50, "b": bottom},
                      legend={"orientation": "h", "yanchor": "top", "y": legend_y, "x": 0, "xanchor": "left"})
    return fig


def create_app(studio: Studio):
    """The Dash app for ``studio`` (call ``.run(port=...)`` to serve it)."""
    import dash
    from dash import ALL, Dash, Input, Output, State, dcc, html
    from dash.exceptions import PreventUpdate

    from engine.report import charts

    names = list(studio.plans)
    scenario = studio.scenario
    assert scenario is not None  # Studio.__post_init__ sets it
    app = Dash(__name__, title="Incentive studio", serve_locally=True)
    card = {"padding": "8px 14px", "border": "1px solid #d0d7de", "borderRadius": "6px", "minWidth": "150px"}
    hidden = {**card, "display": "none"}
    app.layout = html.Div(style={"fontFamily": "system-ui, sans-serif", "margin": "16px 24px"}, children=[
        html.H2("Incentive studio: what if the plan changed?"),
        html.P(f"Scenario: {scenario.label or scenario.name}. Each change simulates "
               f"{studio.runs} plan years (contests: {max(4, studio.runs // CROSS_REP_SHARE)}) with the same random "
               f"numbers (seed {studio.seed}), so differences come from the plan alone.", style={"color": "#555"}),
        html.Div(style={"display": "flex", "gap": "24px", "alignItems": "flex-start"}, children=[
            html.Div(style={"width": "320px", "flex": "none"}, children=[
                html.Label("Plan", htmlFor="plan"),
                dcc.Dropdown(id="plan", options=[{"label": n, "value": n} for n in names], value=names[0],
                             clearable=False),
                dcc.Upload(id="upload", accept=".yaml,.yml", multiple=False,
                           children=html.Div("Open a plan file: drop it here or click"),
                           style={"marginTop": "8px", "padding": "8px", "border": "1px dashed #8c959f",
                                  "borderRadius": "6px", "textAlign": "center", "color": "#555",
                                  "fontSize": "90%", "cursor": "pointer"}),
                html.Pre(id="upload-error", style={"color": "#b00", "whiteSpace": "pre-wrap", "fontSize": "80%"}),
                html.Div(id="sliders", style={"marginTop": "16px"}),
                html.Div(style={"display": "flex", "gap": "8px", "flexWrap": "wrap"}, children=[
                    html.Button("Reset to the plan as written", id="reset", n_clicks=0),
                    html.Button("Download this plan (YAML)", id="download-button", n_clicks=0),
                ]),
                dcc.Download(id="download"),
                html.Div(id="status", style={"color": "#555", "marginTop": "12px", "fontSize": "90%"}),
            ]),
            html.Div(style={"flex": "1"}, children=[
                dcc.Loading(type="dot", children=html.Div(
                    id="kpis", style={"display": "flex", "gap": "10px", "flexWrap": "wrap"},
                    children=[html.Div(id=f"kpi-card-{kpi.key}", style=hidden if kpi.base_pay_only else card,
                                       children=[html.Div(kpi.label, id=f"kpi-label-{kpi.key}",
                                                          style={"fontSize": "85%", "color": "#555"}),
                                                 html.Div(MISSING, id=f"kpi-{kpi.key}", style={"fontSize": "140%"}),
                                                 html.Div("", id=f"kpi-delta-{kpi.key}",
                                                          style={"fontSize": "85%", "color": "#555"})])
                              for kpi in KPIS])),
                html.Div(style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "8px"}, children=[
                    *[dcc.Graph(id=g, style={"height": "400px", "minWidth": 0},
                                config={"displaylogo": False, "responsive": True})
                      for g in ("curve", "cost", "attainment", "morale")],
                    # several plan years only: the whole row (hidden for a horizon of one plan year)
                    dcc.Graph(id="years", style=YEARS_HIDDEN, config={"displaylogo": False, "responsive": True}),
                ]),
            ]),
        ]),
    ])

    @app.callback(Output("plan", "options"), Output("plan", "value"), Output("upload-error", "children"),
                  Input("upload", "contents"), State("upload", "filename"), State("plan", "value"),
                  prevent_initial_call=True)
    def _open(contents, filename, current):
        import base64

        options = [{"label": n, "value": n} for n in studio.names()]
        if not contents:
            raise PreventUpdate
        try:
            text = base64.b64decode(contents.split(",", 1)[1]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return options, current, f"{filename}: not a UTF-8 text file; a plan is a YAML file"
        try:
            name = studio.open_text(filename or "plan.yaml", text)
        except EngineError as exc:
            return options, current, exc.render()
        return [{"label": n, "value": n} for n in studio.names()], name, ""

    @app.callback(Output("sliders", "children"), Input("plan", "value"), Input("reset", "n_clicks"))
    def _sliders(name, _clicks):
        try:
            specs = studio.sliders(name)
        except EngineError as exc:
            return html.Pre(exc.render(), style={"color": "#b00"})
        if not specs:
            return html.P("This plan declares no bounded parameters and no scorecard weights: add "
                          "{value, min, max} to a parameter to make it movable here.")
        rows = []
        for s in specs:
            rows.append(html.Div(style={"marginBottom": "14px"}, children=[
                html.Label(f"{s['label']} [{s['min']:g} – {s['max']:g}]" if s["kind"] == "parameter"
                           else f"{s['label']} (relative: rescaled to sum to 1)"),
                dcc.Slider(id={"type": "param", "name": s["name"]}, min=s["min"], max=s["max"], step=s["step"],
                           value=s["value"], marks={s["min"]: f"{s['min']:g}", s["max"]: f"{s['max']:g}"},
                           updatemode="mouseup"),
            ]))
        return rows

    @app.callback(Output("download", "data"), Input("download-button", "n_clicks"), State("plan", "value"),
                  State({"type": "param", "name": ALL}, "value"), State({"type": "param", "name": ALL}, "id"),
                  prevent_initial_call=True)
    def _download(_clicks, name, values, ids):
        moved_to = {i["name"]: float(v) for i, v in zip(ids, values) if v is not None}
        try:
            w = studio.evaluate(name, moved_to)
        except EngineError:
            raise PreventUpdate
        return {"content": w.text, "filename": f"{name}_whatif.yaml"}

    outputs = [Output(f"kpi-{kpi.key}", "children") for kpi in KPIS] + [
        Output(f"kpi-delta-{kpi.key}", "children") for kpi in KPIS] + [
        Output(f"kpi-label-{kpi.key}", "children") for kpi in KPIS] + [
        Output(f"kpi-card-{kpi.key}", "style") for kpi in KPIS] + [
        Output("curve", "figure"), Output("cost", "figure"), Output("attainment", "figure"),
        Output("morale", "figure"), Output("years", "figure"), Output("years", "style"),
        Output("status", "children")]

    @app.callback(outputs, Input({"type": "param", "name": ALL}, "value"), State("plan", "value"),
                  State({"type": "param", "name": ALL}, "id"))
    def _update(values, name, ids):
        if name is None:
            raise PreventUpdate
        specs = {s["name"] for s in studio.sliders(name)}
        moved_to = {i["name"]: float(v) for i, v in zip(ids, values) if v is not None and i["name"] in specs}
        try:
            w = studio.evaluate(name, moved_to)
        except EngineError as exc:
            msg = exc.render()
            return ([MISSING] * len(KPIS) + [""] * len(KPIS) + [dash.no_update] * (2 * len(KPIS))
                    + [{}, {}, {}, {}, {}, YEARS_HIDDEN, f"Not a valid plan at these values: {msg}"])
        base = studio.evaluate(name, {})
        moved = w.text != base.text
        cur = w.plan.plan.currency
        cards = kpi_cards(w, base)
        texts = [c["value"] for c in cards] + [c["delta"] for c in cards] + [c["label"] for c in cards]
        styles = [card if c["shown"] else hidden for c in cards]
        results, labels = ([base.result, w.result], ["as written", "moved"]) if moved else ([w.result], [name])
        curve = charts.payout_curve(w.plan)
        if moved:
            as_written = charts.payout_curve_data(base.plan)["total"]
            curve.add_scatter(x=as_written.index, y=as_written.to_numpy(), name="total as written", mode="lines",
                              line={"color": "#444444", "dash": "dash", "width": 2})
        figs = [_compact(curve, "Incentive payout curve (median rep)" if w.has_base_pay else "Payout curve (median rep)"),
                _compact(charts.cost_distribution(results, labels=labels),
                         f"Annual team {'incentive cost (base pay apart)' if w.has_base_pay else 'cost'} over "
                         f"{studio.runs_for(name)} simulated years"),
                _compact(charts.attainment_distribution(results, labels=labels), "Attainment spread"),
                _compact(charts.morale_risk(results, labels=labels), "Morale and attrition risk (95% CI)",
                         legend_y=-0.55, bottom=110)]
        years = years_chart(results, labels, studio.runs_for(name))
        figs += [years or {}, YEARS_SHOWN if years is not None else YEARS_HIDDEN]
        n_years = len(w.result.document.get("by_year") or ())
        status = (f"Simulated {studio.runs_for(name)} horizons of {n_years} plan years in {w.seconds:.2f} s."
                  if n_years > 1 else f"Simulated {studio.runs_for(name)} plan years in {w.seconds:.2f} s.")
        status += _pay_text(w.result.document, cur) + _years_text(w.result.document, cur)
        if studio.runs_for(name) < studio.runs:
            status += (" (Fewer runs for this plan: pay depends on other reps, so each rep's best response is "
                       "priced against the team; bands are wider.)")
        weights = [f"{key.split('.', 1)[1]} {v:.0%}" for key, v in w.params.items() if "." in key]
        if weights:
            status += " Scorecard weights used: " + ", ".join(weights) + "."
        return texts + styles + figs + [status]

    return app


def serve(studio: Studio, port: int = 8050, host: str = "127.0.0.1") -> None:
    """Serve the studio until interrupted."""
    app = create_app(studio)
    app.run(host=host, port=port, debug=False)
