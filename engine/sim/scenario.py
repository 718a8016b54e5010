"""Scenario files: the team, its distributions, activities, outputs, morale and attrition.

A scenario is a YAML file validated with the same machinery as plans (every problem at
once, with file, line, column and a did-you-mean). Every key has a default: the built-in
default scenario (:data:`DEFAULT_SCENARIO`, ``engine/sim/default_scenario.yaml``) spells
them all out with where each comes from; ``docs/scenario.md`` documents them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.core.errors import PlanError, PlanErrors, Span
from engine.plan.parse import Reader, suggest
from engine.plan.source import YMap, YNode, YScalar, YSeq, parse_yaml, read_yaml
from engine.sim.market import MarketModel

__all__ = [
    "DEFAULT_SCENARIO",
    "DIST_KINDS",
    "OUTPUT_KINDS",
    "QUOTA_POLICY_KINDS",
    "Activity",
    "Dist",
    "Output",
    "QuotaPolicy",
    "Scenario",
    "default_scenario",
    "load_scenario",
    "parse_scenario",
]

DEFAULT_SCENARIO = Path(__file__).with_name("default_scenario.yaml")

DIST_KINDS = {
    "constant": ("value",),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "beta": ("a", "b"),
    "empirical": ("values",),
}
DIST_OPTIONAL = ("low", "high")  # truncation bounds for normal/lognormal, scaling for beta

OUTPUT_KINDS = {
    # kind: (required keys, optional keys)
    "amount": (("activity",), ("level", "elasticity", "noise", "sigma", "deals_per_month", "size_sigma", "label")),
    "count": (("activity", "mean"), ("elasticity", "skill_elasticity", "label")),
    "share_of": (("of", "activity"), ("base", "gain", "sd", "label")),
    "score": (("activity",), ("base", "gain", "sd", "max", "pressure", "label")),
    "incidents": (("activity", "mean"), ("elasticity", "pressure", "label")),
}
AGGREGATE_OF_KIND = {"amount": "sum", "count": "sum", "share_of": "sum", "score": "mean", "incidents": "sum"}


@dataclass(frozen=True)
class Dist:
    """A distribution to draw per-rep values from.

    ``kind`` is one of :data:`DIST_KINDS`; ``params`` holds its parameters; ``low``/``high``
    truncate normal and lognormal draws (by clipping) and scale beta draws.
    """

    kind: str
    params: tuple[tuple[str, Any], ...]

    def get(self, key: str, default=None):
        return dict(self.params).get(key, default)

    def sample(self, rng, size) -> Any:
        import numpy as np

        p = dict(self.params)
        if self.kind == "constant":
            return np.full(size, float(p["value"]))
        if self.kind == "normal":
            x = rng.normal(p["mean"], p["sd"], size)
        elif self.kind == "lognormal":
            x = p["median"] * np.exp(rng.normal(0.0, p["sigma"], size))
        elif self.kind == "uniform":
            return rng.uniform(p["low"], p["high"], size)
        elif self.kind == "beta":
            x = rng.beta(p["a"], p["b"], size)
            lo, hi = p.get("low", 0.0), p.get("high", 1.0)
            return lo + (hi - lo) * x
        elif self.kind == "empirical":
            values = np.asarray(p["values"], dtype=float)
            return values[rng.integers(0, len(values), size)]
        else:  # pragma: no cover - validated
            raise ValueError(self.kind)
        lo, hi = p.get("low"), p.get("high")
        if lo is not None or hi is not None:
            x = np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        return x

    def mean(self) -> float:
        p = dict(self.params)
        if self.kind == "constant":
            return float(p["value"])
        if self.kind == "normal":
            return float(p["mean"])
        if self.kind == "lognormal":
            return float(p["median"] * math.exp(p["sigma"] ** 2 / 2))
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        if self.kind == "beta":
            lo, hi = p.get("low", 0.0), p.get("high", 1.0)
            return lo + (hi - lo) * p["a"] / (p["a"] + p["b"])
        return float(sum(p["values"]) / len(p["values"]))

    def describe(self) -> str:
        return f"{self.kind}(" + ", ".join(f"{k}={v}" for k, v in self.params) + ")"


def const(value: float) -> Dist:
    return Dist("constant", (("value", float(value)),))


@dataclass(frozen=True)
class Activity:
    """Something a rep spends effort on; effort 1.0 is the baseline."""

    name: str
    share: float  # share of a baseline month spent on it (weights effort cost and the effort metric)
    max_effort: float = 2.0


@dataclass(frozen=True)
class Output:
    """One actuals column the simulation produces and how it responds to effort."""

    name: str
    kind: str
    activity: str
    params: tuple[tuple[str, Any], ...] = ()
    label: str | None = None

    def get(self, key: str, default=None):
        return dict(self.params).get(key, default)

    @property
    def aggregate(self) -> str:
        return AGGREGATE_OF_KIND[self.kind]


PAYS_ON = ("payment", "booking")


@dataclass(frozen=True)
class Payment:
    """When deals are paid or cancelled, for plans that pay on payment or claw back
    (engine/sim/payment.py).

    Attributes:
        days: mean days from a deal's close to its payment.
        spread: standard deviation of those days (a gamma distribution; 0: every deal is
            paid exactly ``days`` after it closes).
        cancel: share of deals cancelled: never paid under a plan that pays on payment, a
            credit note in the month of the cancellation under one that pays at booking.
        cancel_days: mean days from a deal's close to its cancellation (spread in the same
            proportion as the payment's).
        plan_pays_on: ``payment`` or ``booking``; None: a plan that places its transactions
            by a date column it declares other than ``date`` (``transactions: {date:
            paid_date}``) pays on payment, any other at booking.
    """

    days: float = 30.0
    spread: float = 15.0
    cancel: float = 0.0
    cancel_days: float = 45.0
    plan_pays_on: str | None = None


@dataclass(frozen=True)
class Deals:
    """How the primary amount arrives as deals, for plans that pay deal by deal.

    Attributes:
        count: expected deals per rep and month.
        size_sigma: lognormal spread of one deal's size around the month's mean deal.
        attributes: ``(column, ((value, share), ...))``: each deal's text attributes drawn
            with these shares (they sum to 1 per column).
        activities: ``(column, ((value, activity, gain), ...))``: values whose share responds
            to effort on an activity (hunting new customers against farming existing ones):
            the value's weight is ``share + gain x ln(effort)``, the weights of a column
            renormalised to shares.
        last_week: share of a month's deals closed in its last seven days (None: spread
            evenly over the month); it decides which month a payment lands in.
        payment: payment delays and cancellations (None: every deal reaches the plan in the
            month it closes).
    """

    count: float = 4.0
    size_sigma: float = 0.8
    attributes: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    activities: tuple[tuple[str, tuple[tuple[str, str, float], ...]], ...] = ()
    last_week: float | None = None
    payment: Payment | None = None

    def mix_column(self, column: str, value: str) -> str:
        """The name of the output carrying an effort-responsive value's weight."""
        return f"deals.{column}={value}"


QUOTA_POLICY_KINDS = ("fixed", "growth", "ratchet")


@dataclass(frozen=True)
class QuotaPolicy:
    """How each next plan year's quotas are set from this year's (docs/model.md §11).

    Attributes:
        kind: ``fixed`` (quotas unchanged), ``growth`` (``x (1 + growth)``) or ``ratchet``
            (``((1 - weight) x quota + weight x this year's actual) x (1 + growth)``).
        growth: yearly growth applied by ``growth`` and ``ratchet`` (more than -1).
        weight: ``ratchet``: the weight of this year's actual (0 to 1).
        discount: how much a rep weighs next year's pay against this year's (0 to 1):
            reps discount the future and may not stay.
    """

    kind: str = "fixed"
    growth: float = 0.0
    weight: float = 1.0
    discount: float = 0.5

    @property
    def ratchet_weight(self) -> float:
        """The weight of this year's actual in next year's quota (0 unless ``ratchet``)."""
        return self.weight if self.kind == "ratchet" else 0.0

    def next_quota(self, quota, actual):
        """Next year's quota from this year's ``quota`` and annualized primary ``actual``."""
        if self.kind == "fixed":
            return quota
        if self.kind == "growth":
            return quota * (1.0 + self.growth)
        return ((1.0 - self.weight) * quota + self.weight * actual) * (1.0 + self.growth)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. All fields have defaults (the built-in default scenario)."""

    name: str
    file: str
    label: str | None = None
    start: dt.date = dt.date(2027, 1, 1)
    months: int = 12
    seed: int = 2027
    # team
    reps: int = 120
    teams: int = 12
    roster: str | None = None
    quota_multiple: Dist = field(default_factory=lambda: Dist("lognormal", (("median", 5.0), ("sigma", 0.08))))
    base_salary: Dist = field(default_factory=lambda: Dist("normal", (("mean", 85_000.0), ("sd", 10_000.0),
                                                                       ("low", 50_000.0))))
    pay_mix: float = 0.5
    extra_columns: tuple[tuple[str, Dist], ...] = ()
    # the team in a plan's own column names (scenario `columns:`, or engine/sim/shape.py)
    derived_columns: tuple[tuple[str, str, float], ...] = ()  # (column, team column it is a multiple of, factor)
    constant_columns: tuple[tuple[str, Any], ...] = ()  # (column, value for every rep)
    deals: Deals | None = None
    # reps
    skill: Dist = field(default_factory=lambda: Dist("lognormal", (("median", 1.0), ("sigma", 0.25))))
    effort_cost: Dist = field(default_factory=lambda: Dist("lognormal", (("median", 2.0), ("sigma", 0.3))))
    risk_aversion: Dist = field(default_factory=lambda: Dist("uniform", (("low", 0.0), ("high", 1.0))))
    outside_offer: Dist = field(default_factory=lambda: Dist("lognormal", (("median", 1.0), ("sigma", 0.1))))
    initial_morale: Dist = field(default_factory=lambda: Dist("beta", (("a", 7.0), ("b", 2.0))))
    tenure_months: Dist = field(default_factory=lambda: Dist("uniform", (("low", 0.0), ("high", 60.0))))
    # activities and outputs
    activities: tuple[Activity, ...] = ()
    outputs: tuple[Output, ...] = ()
    primary_measure: str = "revenue"
    primary_target: str = "quota"
    seasonality: tuple[float, ...] = (0.90, 0.95, 1.05, 0.95, 1.00, 1.05, 0.90, 0.90, 1.05, 1.00, 1.05, 1.20)
    ramp_months: int = 5
    ramp_start: float = 0.25
    # the market: a demand factor shared by all reps of a run (engine/sim/market.py)
    market: MarketModel = field(default_factory=MarketModel)
    # several plan years: how next year's quotas are set
    quota_policy: QuotaPolicy = field(default_factory=QuotaPolicy)
    # timing
    timing_max_shift: float = 0.33
    timing_max_push: float = 0.11
    timing_pull_cost: float = 0.02
    timing_push_cost: float = 0.10
    # morale and attrition
    morale: tuple[tuple[str, float], ...] = ()
    attrition: tuple[tuple[str, float], ...] = ()
    # behaviour
    effort_grid: tuple[float, ...] = (1.0, 1.15, 1.3, 1.5, 1.75, 2.0)
    noise_points: int = 3

    def output(self, name: str) -> Output:
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(name)

    @property
    def actual_columns(self) -> list[str]:
        return [o.name for o in self.outputs]

    def with_overrides(self, **kw) -> Scenario:
        return replace(self, **kw)


MORALE_DEFAULTS = {
    "pay_gap": 0.10,        # per unit of (pay - expected pay) / monthly TI
    "outside_gap": 0.15,    # per unit of (outside offer - expected pay) / OTE, monthly
    "hopeless": 0.05,       # monthly, while 80% of the annual target is out of reach
    "unfair": 0.05,         # per unit of |pay rank - performance rank| (percentiles)
    "wins": 0.05,           # per award won (a rank component paying out)
    "recovery": 0.30,       # monthly pull back toward the rep's initial morale
    "disengaged_below": 0.4,
    "effort_floor": 0.6,    # effective effort multiplier at morale 0
}
ATTRITION_DEFAULTS = {
    "annual_base_rate": 0.11,     # voluntary quits at full morale and a fair offer
    "morale_sensitivity": 2.0,    # hazard x exp(s * (1 - morale))
    "outside_sensitivity": 2.0,   # hazard x exp(s * outside gap)
    "vacancy_months": 2,          # months a seat stays empty before the backfill starts
    "replacement_cost": 0.75,     # cost of replacing a leaver, in years of their OTE
}


# --------------------------------------------------------------------------- parsing

TOP_KEYS = ("scenario", "label", "description", "seed", "horizon", "team", "reps", "activities", "outputs",
            "primary", "seasonality", "market", "ramp", "timing", "morale", "attrition", "behaviour", "deals",
            "columns", "quota_policy")


class _ScenarioReader(Reader):
    def dist(self, node: YNode | None, what: str, default: Dist) -> Dist:
        if node is None:
            return default
        if isinstance(node, YScalar):
            v = self.number(node, what)
            return const(v) if v is not None else default
        if not isinstance(node, YMap):
            self.error("bad-type", f"{what} must be a number or a distribution {{dist: ..., ...}}", node.span)
            return default
        if node.get("dist") is None:
            self.error("missing-key", f"{what} needs 'dist' (one of {', '.join(DIST_KINDS)})", node.span)
            return default
        kind = self.choice(node.get("dist"), f"dist of {what}", tuple(DIST_KINDS), "")
        if not kind:
            return default
        m = self.mapping(node, f"{what} ({kind} distribution)", ("dist",) + DIST_KINDS[kind] + DIST_OPTIONAL)
        assert m is not None  # node is a mapping: mapping() returns it
        params: list[tuple[str, Any]] = []
        ok = True
        for key in DIST_KINDS[kind]:
            v_node = m.get(key)
            if v_node is None:
                self.error("missing-key", f"{what}: a {kind} distribution needs '{key}'", m.span)
                ok = False
                continue
            if key == "values":
                vals = [self.number(x, f"a value of {what}") for x in self.sequence(v_node, f"values of {what}")]
                if not vals or any(v is None for v in vals):
                    ok = False
                    if not vals:
                        self.error("bad-value", f"{what}: values must be a non-empty list of numbers", v_node.span)
                    continue
                params.append((key, tuple(vals)))
                continue
            v = self.number(v_node, f"{key} of {what}")
            if v is None:
                ok = False
                continue
            if key in ("sd", "sigma", "a", "b") and v < 0 or key in ("a", "b") and v == 0:
                self.error("bad-value", f"{key} of {what} must be positive (got {v:g})", v_node.span)
                ok = False
            params.append((key, v))
        for key in DIST_OPTIONAL:
            if m.get(key) is not None and key not in DIST_KINDS[kind]:
                v = self.number(m.get(key), f"{key} of {what}")
                if v is not None:
                    params.append((key, v))
        d = dict(params)
        if kind == "uniform" and ok and d["low"] > d["high"]:
            self.error("bad-value", f"{what}: low must not exceed high", m.span)
        return Dist(kind, tuple(params)) if ok else default

    def positive(self, node: YNode | None, what: str, default: float, allow_zero: bool = True,
                 upper: float | None = None) -> float:
        if node is None:
            return default
        v = self.number(node, what)
        if v is None:
            return default
        if v < 0 or (v == 0 and not allow_zero) or (upper is not None and v > upper):
            rng = f"between 0 and {upper:g}" if upper is not None else ("positive" if not allow_zero else "0 or more")
            self.error("bad-value", f"{what} must be {rng} (got {v:g})", node.span)
            return default
        return v


def _build(root: YNode, filename: str) -> Scenario:
    r = _ScenarioReader(filename)
    top = r.mapping(root, "the scenario", TOP_KEYS, ("scenario",))
    if top is None:
        raise PlanErrors(r.errors or [PlanError("bad-type", "a scenario must be a mapping", None)])
    ident = r.identifier(top.get("scenario"), "scenario name")
    kw: dict[str, Any] = {"name": ident[0] if ident else "scenario", "file": filename}
    if top.get("label") is not None:
        kw["label"] = r.text(top.get("label"), "label")
    seed_node = top.get("seed")
    if seed_node is not None:
        s = r.number(seed_node, "seed")
        if s is not None and (s < 0 or s != int(s)):
            r.error("bad-value", f"seed must be a whole number of at least 0 (got {s:g})", seed_node.span)
        elif s is not None:
            kw["seed"] = int(s)

    hz = r.mapping(top.get("horizon"), "horizon", ("start", "months"))
    if hz is not None:
        start_node = hz.get("start")
        if start_node is not None:
            text = r.text(start_node, "start")
            try:
                year, month = str(text).split("-")
                kw["start"] = dt.date(int(year), int(month), 1)
            except (ValueError, TypeError):
                r.error("bad-value", f"horizon start must be a month like 2027-01 (got '{text}')", start_node.span)
        months_node = hz.get("months")
        if months_node is not None:
            v = r.number(months_node, "months")
            if v is not None:
                if v != int(v) or not 1 <= v <= 60:
                    r.error("bad-value", f"horizon months must be a whole number from 1 to 60 (got {v:g})",
                            months_node.span)
                else:
                    kw["months"] = int(v)

    team = r.mapping(top.get("team"), "team", ("reps", "teams", "roster", "quota_multiple", "base_salary",
                                                "pay_mix", "extra_columns"))
    if team is not None:
        for key in ("reps", "teams"):
            count_node = team.get(key)
            if count_node is not None:
                v = r.number(count_node, key)
                if v is not None and (v != int(v) or v < 1):
                    r.error("bad-value", f"{key} must be a whole number of at least 1", count_node.span)
                elif v is not None:
                    kw[key] = int(v)
        if team.get("roster") is not None:
            path = r.text(team.get("roster"), "roster")
            if path is not None:
                base = Path(filename).parent
                kw["roster"] = str((base / path) if not Path(path).is_absolute() else Path(path))
        defaults = Scenario("", "")
        kw["quota_multiple"] = r.dist(team.get("quota_multiple"), "quota_multiple", defaults.quota_multiple)
        kw["base_salary"] = r.dist(team.get("base_salary"), "base_salary", defaults.base_salary)
        pay_mix_node = team.get("pay_mix")
        if pay_mix_node is not None:
            v = r.number(pay_mix_node, "pay_mix")
            if v is not None and not 0 < v < 1:
                r.error("bad-value", f"pay_mix (TI / OTE) must be between 0 and 1 (got {v:g})", pay_mix_node.span)
            elif v is not None:
                kw["pay_mix"] = v
        extra = []
        ec = team.get("extra_columns")
        if ec is not None:
            if not isinstance(ec, YMap):
                r.error("bad-type", "extra_columns must map column names to distributions", ec.span)
            else:
                for key, kspan, value in ec.items:
                    extra.append((key, r.dist(value, f"extra column '{key}'", const(0.0))))
        kw["extra_columns"] = tuple(extra)
    if "reps" in kw and "teams" not in kw:
        kw["teams"] = min(12, kw["reps"])
    if kw.get("teams", 12) > kw.get("reps", 120):
        r.error("bad-value", "there cannot be more teams than reps", team.span if team else None)

    reps = r.mapping(top.get("reps"), "reps", ("skill", "effort_cost", "risk_aversion", "outside_offer",
                                               "initial_morale", "tenure_months"))
    if reps is not None:
        defaults = Scenario("", "")
        for key in ("skill", "effort_cost", "risk_aversion", "outside_offer", "initial_morale", "tenure_months"):
            kw[key] = r.dist(reps.get(key), key, getattr(defaults, key))

    activities = []
    acts = top.get("activities")
    if acts is not None:
        if not isinstance(acts, YMap):
            r.error("bad-type", "activities must map activity names to {share, max_effort}", acts.span)
        else:
            for name, kspan, value in acts.items:
                m = r.mapping(value, f"activity '{name}'", ("share", "max_effort", "label"), ("share",))
                if m is None:
                    continue
                share = r.positive(m.get("share"), f"share of activity '{name}'", 0.0, upper=1.0)
                max_effort_node = m.get("max_effort")
                mx = r.positive(max_effort_node, f"max_effort of activity '{name}'", 2.0)
                if mx < 1.0:
                    assert max_effort_node is not None  # the default, 2.0, is not below 1
                    r.error("bad-value", f"max_effort of activity '{name}' must be at least 1 (the baseline)",
                            max_effort_node.span)
                activities.append(Activity(name, share, max(mx, 1.0)))
            total = sum(a.share for a in activities)
            if activities and abs(total - 1.0) > 1e-6:
                r.error("weights-sum", f"activity shares must sum to 1 (got {total:.6g})", acts.span)
    else:
        activities = [Activity("selling", 0.7), Activity("collections", 0.15), Activity("care", 0.15)]
    if acts is not None and top.get("outputs") is None:
        r.error("missing-key", "a scenario that defines its own activities must define its outputs too "
                "(the default outputs use the default activities selling, collections and care)", acts.span)
    kw["activities"] = tuple(activities)
    act_names = [a.name for a in activities]

    outputs = []
    outs = top.get("outputs")
    if outs is not None:
        if not isinstance(outs, YMap):
            r.error("bad-type", "outputs must map actuals column names to their model", outs.span)
        else:
            for name, kspan, value in outs.items:
                o = _output(r, name, kspan, value, act_names)
                if o is not None:
                    outputs.append(o)
    else:
        outputs = list(_default_outputs())
    names = [o.name for o in outputs]
    for o in outputs:
        if o.kind == "share_of" and o.get("of") not in names:
            r.error("unknown-name", f"output '{o.name}' is a share of unknown output '{o.get('of')}'", None,
                    suggest(str(o.get("of")), names))
    kw["outputs"] = tuple(outputs)

    prim = r.mapping(top.get("primary"), "primary", ("measure", "target"))
    if prim is not None:
        measure_node = prim.get("measure")
        if measure_node is not None:
            measure = r.text(measure_node, "primary measure")
            if measure is not None and measure not in names:
                r.error("unknown-name", f"primary measure '{measure}' is not one of the outputs", measure_node.span,
                        suggest(measure, names) or f"outputs: {', '.join(names)}")
            elif measure is not None:
                kw["primary_measure"] = measure
        if prim.get("target") is not None:
            target = r.text(prim.get("target"), "primary target")
            if target is not None:
                kw["primary_target"] = target
    elif "revenue" not in names and names:
        kw["primary_measure"] = names[0]
    amounts = [o.name for o in outputs if o.kind == "amount"]
    if kw.get("primary_measure", "revenue") not in amounts and outputs:
        r.error("bad-value", f"the primary measure must be an 'amount' output (amounts: {', '.join(amounts) or 'none'})",
                prim.span if prim is not None else None)

    seas = top.get("seasonality")
    if seas is not None:
        vals = [r.number(x, "a seasonality factor") for x in r.sequence(seas, "seasonality")]
        factors = [v for v in vals if v is not None]
        if isinstance(seas, YSeq):
            if len(vals) != 12 or len(factors) != len(vals) or any(v <= 0 for v in factors):
                r.error("bad-value", "seasonality must list 12 positive monthly factors (January first)", seas.span)
            else:
                mean = sum(factors) / 12
                kw["seasonality"] = tuple(factors) if abs(mean - 1.0) < 1e-9 else tuple(v / mean for v in factors)

    ramp = r.mapping(top.get("ramp"), "ramp", ("months", "start"))
    if ramp is not None:
        ramp_months_node = ramp.get("months")
        months = r.positive(ramp_months_node, "ramp months", 5)
        if months != int(months):
            assert ramp_months_node is not None  # the default, 5, is whole
            r.error("bad-value", f"ramp months must be a whole number (got {months:g})", ramp_months_node.span)
        kw["ramp_months"] = int(months)
        kw["ramp_start"] = r.positive(ramp.get("start"), "ramp start", 0.25, upper=1.0)

    market = r.mapping(top.get("market"), "market", ("year_sigma", "rho", "month_sigma", "team_share"))
    if market is not None:
        d = MarketModel()
        kw["market"] = MarketModel(
            year_sigma=r.positive(market.get("year_sigma"), "market year_sigma", d.year_sigma, upper=2.0),
            rho=r.positive(market.get("rho"), "market rho", d.rho, upper=0.99),
            month_sigma=r.positive(market.get("month_sigma"), "market month_sigma", d.month_sigma, upper=2.0),
            team_share=r.positive(market.get("team_share"), "market team_share", d.team_share, upper=1.0))

    timing = r.mapping(top.get("timing"), "timing", ("max_shift", "max_push", "pull_cost", "push_cost"))
    if timing is not None:
        kw["timing_max_shift"] = r.positive(timing.get("max_shift"), "max_shift", 0.33, upper=1.0)
        # By default a third of what can be pulled: what would have closed in the period's
        # last days, not next month's whole pipeline (docs/model.md §3, "Timing").
        kw["timing_max_push"] = r.positive(timing.get("max_push"), "max_push", kw["timing_max_shift"] / 3.0,
                                           upper=1.0)
        kw["timing_pull_cost"] = r.positive(timing.get("pull_cost"), "pull_cost", 0.02, upper=1.0)
        kw["timing_push_cost"] = r.positive(timing.get("push_cost"), "push_cost", 0.10, upper=1.0)

    kw["morale"] = tuple(_params(r, top.get("morale"), "morale", MORALE_DEFAULTS).items())
    kw["attrition"] = tuple(_params(r, top.get("attrition"), "attrition", ATTRITION_DEFAULTS).items())

    kw["deals"] = _deals(r, top.get("deals"), [a.name for a in activities])
    policy = _quota_policy(r, top.get("quota_policy"))
    if policy is not None:
        kw["quota_policy"] = policy
    _columns(r, top.get("columns"), kw, [a.name for a in activities])

    beh = r.mapping(top.get("behaviour"), "behaviour", ("effort_grid", "noise_points"))
    if beh is not None:
        grid_node = beh.get("effort_grid")
        if grid_node is not None:
            grid = [r.number(x, "an effort level") for x in r.sequence(grid_node, "effort_grid")]
            levels = [g for g in grid if g is not None]
            if not grid or len(levels) != len(grid) or levels[0] != 1.0 or \
                    any(b <= a for a, b in itertools.pairwise(levels)):
                r.error("bad-value", "effort_grid must start at 1.0 (the baseline) and increase",
                        grid_node.span)
            else:
                kw["effort_grid"] = tuple(levels)
        noise_node = beh.get("noise_points")
        if noise_node is not None:
            v = r.number(noise_node, "noise_points")
            if v not in (1, 3, 5):
                r.error("bad-value", "noise_points must be 1, 3 or 5", noise_node.span)
            else:
                kw["noise_points"] = int(v)
    if r.errors:
        raise PlanErrors(r.errors)
    return Scenario(**kw)


def _deals(r: _ScenarioReader, node: YNode | None, act_names: list[str]) -> Deals | None:
    """``deals: {count, size_sigma, last_week, attributes: {column: {value: share | {share,
    activity, gain}}}, payment: {days, spread, cancel, cancel_days, plan_pays_on}}``."""
    m = r.mapping(node, "deals", ("count", "size_sigma", "last_week", "attributes", "payment"))
    if m is None:
        return None
    d = Deals()
    count = r.positive(m.get("count"), "deals count", d.count, allow_zero=False, upper=10_000.0)
    sigma = r.positive(m.get("size_sigma"), "deals size_sigma", d.size_sigma, upper=5.0)
    attributes = []
    activities: list = []
    node_a = m.get("attributes")
    if node_a is not None:
        if not isinstance(node_a, YMap):
            r.error("bad-type", "deals attributes must map each column to {value: share}", node_a.span)
        else:
            for col, _, shares_node in node_a.items:
                if not isinstance(shares_node, YMap) or not shares_node.items:
                    r.error("bad-type", f"deals attribute '{col}' must map each value to its share", shares_node.span)
                    continue
                pairs = []
                driven = []
                for value, _, share_node in shares_node.items:
                    if isinstance(share_node, YMap):  # {share, activity, gain}: effort shifts the mix
                        sm = r.mapping(share_node, f"deals attribute {col} '{value}'", ("share", "activity", "gain"),
                                       ("share",))
                        share = r.positive(sm.get("share") if sm else None, f"share of {col} '{value}'", 0.0,
                                           upper=1.0)
                        act = r.text(sm.get("activity"), f"activity of {col} '{value}'") if sm and \
                            sm.get("activity") is not None else None
                        gain = r.positive(sm.get("gain") if sm else None, f"gain of {col} '{value}'", 0.2,
                                          upper=5.0)
                        if act is not None:
                            if act not in act_names:
                                r.error("unknown-name", f"deals attribute {col} '{value}': '{act}' is not an activity",
                                        share_node.span, suggest(act, act_names))
                            else:
                                driven.append((str(value), act, gain))
                    else:
                        share = r.positive(share_node, f"share of {col} '{value}'", 0.0, upper=1.0)
                    pairs.append((str(value), share))
                if driven:
                    activities.append((col, tuple(driven)))
                total = sum(v for _, v in pairs)
                if abs(total - 1.0) > 1e-6:
                    r.error("weights-sum", f"the shares of deals attribute '{col}' must sum to 1 (got {total:.6g})",
                            shares_node.span)
                attributes.append((col, tuple(pairs)))
    last_week = None if m.get("last_week") is None else \
        r.positive(m.get("last_week"), "deals last_week", 0.0, upper=1.0)
    return Deals(count, sigma, tuple(attributes), tuple(activities), last_week, _payment(r, m.get("payment")))


def _payment(r: _ScenarioReader, node: YNode | None) -> Payment | None:
    """``payment: {days, spread, cancel, cancel_days, plan_pays_on}`` of the ``deals`` section."""
    m = r.mapping(node, "deals payment", ("days", "spread", "cancel", "cancel_days", "plan_pays_on"))
    if m is None:
        return None
    d = Payment()
    days = r.positive(m.get("days"), "payment days", d.days, upper=730.0)
    spread = r.positive(m.get("spread"), "payment spread", d.spread, upper=730.0)
    cancel = r.positive(m.get("cancel"), "payment cancel", d.cancel, upper=0.95)
    cancel_days = r.positive(m.get("cancel_days"), "payment cancel_days", d.cancel_days, upper=730.0)
    pays_on = None
    if m.get("plan_pays_on") is not None:
        pays_on = r.choice(m.get("plan_pays_on"), "plan_pays_on", PAYS_ON, PAYS_ON[0])
    return Payment(days, spread, cancel, cancel_days, pays_on)


def _quota_policy(r: _ScenarioReader, node: YNode | None) -> QuotaPolicy | None:
    """``quota_policy: {kind, growth, weight, discount}``."""
    m = r.mapping(node, "quota_policy", ("kind", "growth", "weight", "discount"))
    if m is None:
        return None
    d = QuotaPolicy()
    kind = d.kind
    if m.get("kind") is not None:
        kind = r.choice(m.get("kind"), "quota_policy kind", QUOTA_POLICY_KINDS, d.kind) or d.kind
    growth = d.growth
    growth_node = m.get("growth")
    if growth_node is not None:
        g = r.number(growth_node, "quota_policy growth")
        if g is not None and not -1.0 < g <= 10.0:
            r.error("bad-value", f"quota_policy growth must be more than -1 and at most 10 (got {g:g})",
                    growth_node.span)
        elif g is not None:
            growth = g
    weight = r.positive(m.get("weight"), "quota_policy weight", d.weight, upper=1.0)
    discount = r.positive(m.get("discount"), "quota_policy discount", d.discount, upper=1.0)
    return QuotaPolicy(kind, growth, weight, discount)


_TEAM_COLUMNS = ("quota", "ti", "base_salary")


def _columns(r: _ScenarioReader, node: YNode | None, kw: dict, act_names: list[str]) -> None:
    """``columns:``: the team in the plan's own column names, each overriding the mapping the
    engine would choose. ``NAME: quota`` (or ``{from: ti, factor: 0.25}``) a roster column as a
    multiple of a team column; ``{value: X}`` the same value for every rep; ``{output: revenue,
    share: 0.4}`` an actuals column as a share of an output."""
    if node is None:
        return
    if not isinstance(node, YMap):
        r.error("bad-type", "columns must map the plan's column names to how the team provides them", node.span)
        return
    derived, constant = list(kw.get("derived_columns", ())), list(kw.get("constant_columns", ()))
    outputs = list(kw.get("outputs", ()))
    names = [o.name for o in outputs]
    team_cols = (kw.get("primary_target", "quota"), "ti", "base_salary", "team")
    for col, _, spec in node.items:
        if isinstance(spec, YScalar):
            source = r.text(spec, f"column '{col}'")
            if source is not None:
                if source not in team_cols:
                    r.error("unknown-name", f"column '{col}': '{source}' is not a team column "
                            f"({', '.join(team_cols)})", spec.span, suggest(source, list(team_cols)))
                else:
                    derived.append((col, source, 1.0))
            continue
        m = r.mapping(spec, f"column '{col}'", ("from", "factor", "value", "output", "share"))
        if m is None:
            continue
        if m.get("output") is not None:
            of = r.text(m.get("output"), f"output of column '{col}'")
            share = r.positive(m.get("share"), f"share of column '{col}'", 1.0, upper=1.0)
            if of is not None and of not in names:
                r.error("unknown-name", f"column '{col}': '{of}' is not an output of the scenario",
                        m.get("output").span if m.get("output") else None, suggest(of, names))  # type: ignore[union-attr]
            elif of is not None:
                activity = next(o.activity for o in outputs if o.name == of)
                outputs.append(Output(col, "share_of", activity, (("of", of), ("base", share), ("gain", 0.0))))
        elif m.get("value") is not None:
            v = m.get("value")
            assert isinstance(v, YScalar) or v is not None
            value = v.value if isinstance(v, YScalar) else None
            constant.append((col, value if isinstance(value, (int, float)) and not isinstance(value, bool)
                             else str(value)))
        elif m.get("from") is not None:
            source = r.text(m.get("from"), f"from of column '{col}'")
            factor = r.positive(m.get("factor"), f"factor of column '{col}'", 1.0)
            if source is not None and source not in team_cols:
                r.error("unknown-name", f"column '{col}': '{source}' is not a team column ({', '.join(team_cols)})",
                        m.get("from").span if m.get("from") else None, suggest(source, list(team_cols)))  # type: ignore[union-attr]
            elif source is not None:
                derived.append((col, source, factor))
        else:
            r.error("missing-key", f"column '{col}' needs 'from', 'value' or 'output'", m.span)
    kw["derived_columns"] = tuple(derived)
    kw["constant_columns"] = tuple(constant)
    kw["outputs"] = tuple(outputs)


_PARAM_LIMITS = {
    "annual_base_rate": (0.0, 0.999), "effort_floor": (0.0, 1.0), "disengaged_below": (0.0, 1.0),
    "recovery": (0.0, 1.0), "vacancy_months": (0.0, 120.0),
}
_WHOLE = ("vacancy_months",)


def _params(r: Reader, node: YNode | None, what: str, defaults: dict) -> dict:
    out = dict(defaults)
    m = r.mapping(node, what, tuple(defaults))
    if m is None:
        return out
    for key, _, value in m.items:
        if key in defaults:
            v = r.number(value, f"{what} {key}")
            if v is None:
                continue
            lo, hi = _PARAM_LIMITS.get(key, (0.0, float("inf")))
            if not lo <= v <= hi:
                r.error("bad-value", f"{what} {key} must be between {lo:g} and {hi:g} (got {v:g})"
                        if hi != float("inf") else f"{what} {key} must not be negative (got {v:g})", value.span)
            elif key in _WHOLE and v != int(v):
                r.error("bad-value", f"{what} {key} must be a whole number of months (got {v:g})", value.span)
            else:
                out[key] = v
    return out


def _output(r: _ScenarioReader, name: str, kspan: Span, value: YNode, act_names: list[str]) -> Output | None:
    if not name.isidentifier():
        r.error("bad-identifier", f"'{name}' is not a valid column name", kspan)
        return None
    if not isinstance(value, YMap):
        r.error("bad-type", f"output '{name}' must be a mapping with 'kind' and 'activity'", value.span)
        return None
    kind = r.choice(value.get("kind"), f"kind of output '{name}'", tuple(OUTPUT_KINDS), "")
    if value.get("kind") is None:
        r.error("missing-key", f"output '{name}' needs 'kind' (one of {', '.join(OUTPUT_KINDS)})", value.span)
    if not kind:
        return None
    required, optional = OUTPUT_KINDS[kind]
    r.mapping(value, f"output '{name}' ({kind})", ("kind",) + required + optional, required)
    activity_node = value.get("activity")
    activity = r.text(activity_node, "activity")
    if activity is not None and activity not in act_names:
        assert activity_node is not None  # the activity was read from it
        r.error("unknown-name", f"output '{name}' uses unknown activity '{activity}'", activity_node.span,
                suggest(activity, act_names) or f"activities: {', '.join(act_names)}")
        return None
    params: list[tuple[str, Any]] = []
    for key, _, v in value.items:
        if key in ("kind", "activity", "label"):
            continue
        if key == "of":
            params.append((key, r.text(v, "of")))
        elif key == "noise":
            params.append((key, r.choice(v, "noise", ("lognormal", "deals", "none"), "lognormal")))
        elif key == "pressure":
            params.append((key, r.positive(v, f"pressure of output '{name}'", 0.0)))
        elif key in ("gain", "elasticity"):
            x = r.number(v, f"{key} of output '{name}'")
            params.append((key, 0.0 if x is None else x))
        elif key in required + optional:
            params.append((key, r.positive(v, f"{key} of output '{name}'", 0.0)))
    label = r.text(value.get("label"), "label") if value.get("label") is not None else None
    return Output(name, kind, activity or "", tuple(params), label)


def _default_outputs() -> tuple[Output, ...]:
    return (
        Output("revenue", "amount", "selling", (("level", 0.97), ("elasticity", 0.7), ("noise", "deals"),
                                                ("deals_per_month", 4.0), ("size_sigma", 0.8))),
        Output("collected", "share_of", "collections", (("of", "revenue"), ("base", 0.9), ("gain", 0.12),
                                                        ("sd", 0.04))),
        Output("csat", "score", "care", (("base", 4.1), ("gain", 0.8), ("sd", 0.35), ("max", 5.0),
                                         ("pressure", 0.4))),
        Output("complaints", "incidents", "care", (("mean", 0.8), ("elasticity", -1.2), ("pressure", 1.5))),
        Output("new_customers", "count", "selling", (("mean", 2.0), ("elasticity", 0.9),
                                                     ("skill_elasticity", 1.0))),
    )


def parse_scenario(text: str, filename: str = "<scenario>") -> Scenario:
    """Parse and validate scenario text."""
    return _build(parse_yaml(text, filename), filename)


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario file (the built-in default when ``path`` is None)."""
    p = DEFAULT_SCENARIO if path is None else Path(path)
    return _build(read_yaml(p), str(path) if path is not None else "default scenario")


def default_scenario() -> Scenario:
    """The built-in default scenario: a field sales team of 120 reps in 12 teams over one year."""
    return load_scenario(None)
