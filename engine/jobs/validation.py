"""The model card: what the field has measured, and what the simulator gives.

:func:`evaluate` simulates pairs of plans built after the papers (``scenarios/validation/``)
on the default scenario, with common random numbers, and judges each finding: the
simulator's figure with its 95% confidence interval, and whether it holds (in direction;
within the published band where a magnitude is published).
:func:`engine.report.text.model_card` writes the table (each finding, its source, the
published direction and magnitude, the figure, the judgements), and
``python -m engine.app.validation [--runs N] [--out docs/validation.md]`` (``make validation``)
regenerates ``docs/validation.md``: a few minutes at the default 200 runs on 2 cores.

Public: :data:`FINDINGS`, :func:`evaluate`, :class:`Finding`, :class:`Result`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from engine.jobs.compare import compare_plans, paired_difference
from engine.plan import load_plan
from engine.sim.scenario import QuotaPolicy, Scenario, default_scenario

__all__ = ["FINDINGS", "Finding", "Result", "evaluate"]

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "scenarios" / "validation"
SHIPPED = ROOT / "scenarios" / "plans"


@dataclass(frozen=True)
class Finding:
    """One published finding and how the simulator is asked about it.

    Attributes:
        key: short identifier.
        claim: what the field measured, in words.
        source: the paper(s).
        published: the published direction and magnitude, in words.
        plans: plan files (the first is the base of the differences).
        measure: ``(comparison) -> (value, ci_low, ci_high, text)``: the simulator's figure.
        direction: ``(value, ci_low, ci_high) -> bool``: the published direction holds.
        band: ``(low, high)`` the published magnitude (half the published effect either side
            of it), or None where none is published.
        scenarios: one change of the scenario per plan (``scenario -> scenario``), where the
            finding is about the scenario (a quota policy) rather than the plan: each plan then
            runs on its own scenario, on the same seed (common random numbers); None: every
            plan on the scenario as it is.
    """

    key: str
    claim: str
    source: str
    published: str
    plans: tuple[Path, ...]
    measure: Callable
    direction: Callable
    band: tuple[float, float] | None = None
    scenarios: tuple[Callable[[Scenario], Scenario], ...] | None = None


def _two_years(scenario: Scenario) -> Scenario:
    """Two plan years on fixed quotas."""
    return replace(scenario, months=24, quota_policy=QuotaPolicy("fixed"))


def _ratcheted(scenario: Scenario) -> Scenario:
    """Two plan years, next year's quota this year's actual (a full ratchet, no growth)."""
    return replace(scenario, months=24, quota_policy=QuotaPolicy("ratchet", 0.0, 1.0))


@dataclass(frozen=True)
class Result:
    finding: Finding
    value: float
    ci_low: float
    ci_high: float
    text: str
    direction: bool
    magnitude: bool | None  # None: no magnitude published

    @property
    def holds(self) -> bool:
        return self.direction and self.magnitude is not False


def _relative(metric: str, index: int = 1) -> Callable:
    """Plan ``index`` against the first: the paired change of ``metric`` over the base's mean."""

    def measure(cmp):
        base = cmp.results[0].per_run[metric]
        d = paired_difference(base, cmp.results[index].per_run[metric])
        scale = float(np.nanmean(base))
        v, lo, hi = (d[k] / scale for k in ("mean", "ci_low", "ci_high"))
        return v, lo, hi, f"{v:+.1%} (95% CI {lo:+.1%} to {hi:+.1%})"
    return measure


def _first_year(metric: str) -> Callable:
    """:func:`_relative` on the first plan year's ``metric`` (``"revenue 2027"``, ...)."""

    def measure(cmp):
        years = sorted(k for k in cmp.results[0].per_run if k.startswith(f"{metric} "))
        return _relative(years[0])(cmp)
    return measure


def _quartile_gap(cmp):
    """Relative attainment change of the lowest skill quartile minus the highest's (plan 2 vs 1)."""
    a = cmp.results[0].detail.quartile_attainment
    b = cmp.results[1].detail.quartile_attainment
    rel = (b - a) / np.where(np.abs(a) > 1e-9, a, np.nan)
    gap = rel[:, 0] - rel[:, 3]
    d = paired_difference(np.zeros_like(gap), gap)
    low, high = float(np.nanmean(rel[:, 0])), float(np.nanmean(rel[:, 3]))
    text = (f"lowest quartile {low:+.1%}, highest {high:+.1%}: gap {d['mean']:+.1%} "
            f"(95% CI {d['ci_low']:+.1%} to {d['ci_high']:+.1%})")
    return d["mean"], d["ci_low"], d["ci_high"], text


def _level(key: str, path: tuple[str, ...]) -> Callable:
    """A figure of the first plan's document (a share), with a normal-approximation CI over runs."""

    def measure(cmp):
        doc = cmp.results[0].document
        v = doc
        for k in path:
            v = v[k]
        per_run = cmp.results[0].per_run.get(key)
        if per_run is not None and np.isfinite(per_run).sum() > 1:
            x = per_run[np.isfinite(per_run)]
            half = 1.96 * float(np.std(x, ddof=1)) / math.sqrt(x.size)
        else:
            half = float("nan")
        return float(v), float(v) - half, float(v) + half, f"{float(v):.1%} (95% CI {v - half:.1%} to {v + half:.1%})"
    return measure


def _last_month_gap(cmp):
    """Last month's share of each quarter's revenue, plan 2 minus plan 1, with a 95% CI over
    runs (the paired difference of each run's share)."""
    shares = [float(r.document["timing"]["last_month_share"]) for r in cmp.results[:2]]
    d = paired_difference(cmp.results[0].per_run["last_month_share"], cmp.results[1].per_run["last_month_share"])
    v = d["mean"]
    names = [r.plan.replace("_", " ") for r in cmp.results[:2]]
    return v, d["ci_low"], d["ci_high"], (f"{shares[1]:.1%} with the {names[1]} vs {shares[0]:.1%} with the "
                                          f"{names[0]} ({v:+.1%}, 95% CI {d['ci_low']:+.1%} to {d['ci_high']:+.1%})")


def _timing_games(cmp):
    """Share of rep period-ends at which business was moved (pulled in or pushed out), plan 2
    minus plan 1, with a 95% CI over runs."""
    a, b = (r.per_run["timing_moved_share"] for r in cmp.results[:2])
    d = paired_difference(a, b)
    names = [r.plan.replace("_", " ") for r in cmp.results[:2]]
    return d["mean"], d["ci_low"], d["ci_high"], (
        f"{float(np.mean(b)):.1%} of period ends moved business with the {names[1]}, {float(np.mean(a)):.1%} with "
        f"the {names[0]} ({d['mean']:+.1%}, 95% CI {d['ci_low']:+.1%} to {d['ci_high']:+.1%})")


def _positive(v, lo, hi) -> bool:
    return lo > 0 if math.isfinite(lo) else v > 0


def _negative(v, lo, hi) -> bool:
    return hi < 0 if math.isfinite(hi) else v < 0


def _any(v, lo, hi) -> bool:
    return True


FINDINGS: tuple[Finding, ...] = (
    Finding("cap", "A cap on a quarterly bonus curve lowers revenue", "Misra & Nair (2011)",
            "removing a cap (with quarterly quotas) raised revenue by about 9%",
            (PLANS / "cap120.yaml", PLANS / "uncapped.yaml"), _relative("revenue"), _positive, (0.045, 0.135)),
    Finding("accelerator", "Extending an accelerator (more pay where performance is higher) never lowers revenue",
            "Chung, Steenburgh & Sudhir (2014); dominance", "higher or equal revenue",
            (SHIPPED / "classic_ae.yaml", PLANS / "classic_ae_accel400.yaml"), _relative("revenue"),
            lambda v, lo, hi: hi >= 0),
    Finding("quarterly", "Quarterly bonuses pace the team: removing them lowers revenue",
            "Chung, Steenburgh & Sudhir (2014)", "removing quarterly bonuses cost 13.6% of revenue",
            (PLANS / "quarterly_bonus.yaml", PLANS / "no_quarterly_bonus.yaml"), _relative("revenue"), _negative,
            (-0.204, -0.068)),
    Finding("overachievement", "Overachievement commissions sustain the best: removing them lowers revenue",
            "Chung, Steenburgh & Sudhir (2014)", "removing overachievement commissions cost about 6% of revenue",
            (PLANS / "overachievement.yaml", PLANS / "no_overachievement.yaml"), _relative("revenue"), _negative,
            (-0.09, -0.03)),
    Finding("commission-low-deciles", "Commission instead of a lump sum lifts the lower-ability reps most",
            "Kishore, Rao, Narasimhan & John (2013)", "the lowest deciles gain the most (direction)",
            (PLANS / "lump_sum.yaml", PLANS / "commission_only.yaml"), _quartile_gap, _positive),
    Finding("commission-timing-games", "Commission instead of a lump sum reduces timing games",
            "Kishore, Rao, Narasimhan & John (2013)", "fewer sales moved across period ends (direction)",
            (PLANS / "commission_only.yaml", PLANS / "lump_sum.yaml"), _timing_games, _positive),
    Finding("bunching", "Nonlinear quota bonuses bunch business at period ends",
            "Oyer (1998); practitioners' 15/25/60", "a higher share in each quarter's last month",
            (PLANS / "commission_only.yaml", PLANS / "lump_sum.yaml"), _last_month_gap,
            lambda v, lo, hi: (lo > 0.01) if math.isfinite(lo) else v > 0.01),
    Finding("bunching-accelerator", "Accelerating commissions pull business into the period they pay more in",
            "Larkin (2014)", "a higher share in each quarter's last month",
            (PLANS / "commission_only.yaml", PLANS / "accelerator.yaml"), _last_month_gap,
            lambda v, lo, hi: (lo > 0.01) if math.isfinite(lo) else v > 0.01),
    Finding("ratchet", "Quotas ratcheted on this year's results make reps hold back",
            "Weitzman (1980); Misra & Nair (2011)", "lower output in a year whose results set next year's quota",
            (SHIPPED / "seeds_base_float_excess.yaml", SHIPPED / "seeds_base_float_excess.yaml"),
            _first_year("revenue"), _negative, scenarios=(_two_years, _ratcheted)),
    Finding("at-quota", "About half of reps reach quota", "Alexander Group, Xactly and Bridge Group surveys",
            "41-59% at or above quota", (SHIPPED / "seeds_base_float_excess.yaml",),
            _level("share_at_or_above_target", ("attainment", "share_at_or_above_target")), _any, (0.41, 0.59)),
    Finding("attrition", "Annual sales turnover", "Bridge Group; Xactly (14-35% a year)", "25-35% in the default team",
            (SHIPPED / "seeds_base_float_excess.yaml",), _level("attrition_rate", ("morale", "attrition_rate")),
            _any, (0.25, 0.35)),
    Finding("cost-of-sales", "Incentive cost of sales", "Alexander Group; WorldatWork (3-10% of revenue)",
            "3-10% of revenue", (SHIPPED / "seeds_base_float_excess.yaml",),
            _level("cost_of_sales", ("cost_of_sales",)), _any, (0.03, 0.10)),
)


def evaluate(findings=FINDINGS, scenario: Scenario | None = None, runs: int = 200, seed: int | None = None,
             workers: int = 1) -> list[Result]:
    """Simulate each finding's plans (one comparison per finding, common random numbers)."""
    scenario = scenario or default_scenario()
    out = []
    cache: dict[tuple[Path, ...], object] = {}
    for f in findings:
        cmp: object
        if f.scenarios is not None:  # each plan on its own scenario, the same seed
            cmp = SimpleNamespace(results=[
                compare_plans([load_plan(p)], change(scenario), runs=runs, seed=seed, workers=workers,
                              keep_reps=True).results[0] for p, change in zip(f.plans, f.scenarios, strict=True)])
        elif (cmp := cache.get(f.plans)) is None:
            cmp = compare_plans([load_plan(p) for p in f.plans], scenario, runs=runs, seed=seed, workers=workers,
                                keep_reps=True)
            cache[f.plans] = cmp
        v, lo, hi, text = f.measure(cmp)
        magnitude = None if f.band is None else bool(f.band[0] <= v <= f.band[1])
        out.append(Result(f, v, lo, hi, text, bool(f.direction(v, lo, hi)), magnitude))
    return out
