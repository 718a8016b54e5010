"""What a scenario holds: the team, its distributions, activities, outputs, deals, payment
terms, the quota policy, morale and attrition, as frozen values (read from YAML by
:mod:`engine.sim.scenario`), and the defaults every key falls back to.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.sim.market import MarketModel

__all__ = [
    "AGGREGATE_OF_KIND",
    "ATTRITION_DEFAULTS",
    "DEFAULT_SCENARIO",
    "DIST_KINDS",
    "DIST_OPTIONAL",
    "MORALE_DEFAULTS",
    "OUTPUT_KINDS",
    "PAYS_ON",
    "QUOTA_POLICY_KINDS",
    "Activity",
    "Deals",
    "Dist",
    "Output",
    "Payment",
    "QuotaPolicy",
    "Scenario",
    "const",
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
