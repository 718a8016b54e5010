"""Plan lint: design hazards of a valid plan, found by scanning what it pays.

A plan can be valid and still pay in ways that invite gaming or leave reps without a
reason to sell. :func:`lint_plan` evaluates the plan for the reference rep of
``incentive check`` (see :mod:`engine.plan.reference_rep`: roster medians or defaults, every actuals
column measured against a target set to the same share of it, other ratios at 100%) on a
fine grid of attainment levels, 0 to 3x target in steps of 0.5 points, and reads off:

* ``payout-cliff``: pay rises by at least 10% of the period's target incentive (or of a
  curve's or scorecard's own target pay, as ``info``) at one attainment level, or within
  one grid step. The level is located by bisection, so a step at 80% is reported at 80%.
* ``zero-incentive-above-cap``: the plan's total stops rising at some level and stays
  flat (a component's cap, the plan cap, ``beyond: flat``, a last step).
* ``zero-incentive-below-threshold``: the plan's total pays nothing (stays constant) from
  0 up to some level (a curve's first point, a first step, a gate).
* ``decelerator``: pay falls while attainment rises.
* ``never-pays``: a component driven by attainment pays nothing anywhere in the plausible
  range (0 to 200% of target, or up to the scenario's highest attainment quantile), nor
  once a count the reference rep leaves at 0 is raised (so a deduction per complaint is not
  a component that never pays).
* ``retroactive-negative-marginal``: a retroactive tier with a lower rate than the tier
  below it: crossing the boundary re-rates the whole base down, so pay falls.
* ``negative-total``: a deduction (a component that can pay less than 0: a penalty per
  complaint, a curve below 0) with nothing to stop it can make what a rep is paid for a
  period negative. Found by evaluating the reference rep at attainment levels from 0 to 300%
  with each count column the reference rep leaves at 0 (complaints, returns) raised to
  1, 2, 5, ... 1,000, and each column it sets by a ratio (``csat`` at 5, ``collected`` =
  ``revenue``) at 0: only a total actually computed below 0 is reported, so a deduction
  bounded by what the other components pay never is. The total is the period's payment
  after the true-up and the draw: a year-to-date plan without clawback floors it at 0 and a
  draw at the draw, so neither is reported; with ``clawback: true`` a negative payment that
  recovers earlier overpayment is intended, and the one period evaluated is the year to
  date, so it is reported only when the year's earnings themselves go below 0. Base pay is
  not in the total (it is what the statement's ``total`` excludes), but it sets the severity:
  ``warning`` when the plan has no base pay, when the deduction has no limit (pay still falls
  between 100 and 1,000 of the column) or when it can exceed the base pay; ``info`` when a
  bounded deduction is taken out of base pay, which some plans intend.

Zero-incentive zones are judged on the plan's total (a component that stops paying while
another keeps paying leaves the rep an incentive) and attributed to the component that
causes them. Rank components are contests whose pay depends on the other reps: they are
left out of the scan, except that one whose eligibility is never met is ``never-pays``.
Amounts are for the reference rep and one period, before any draw.

Severity: ``warning`` where the hazard is likely to change behaviour, ``info`` where few
reps are concerned. With attainment quantiles (given, or simulated from a scenario) the
share of reps concerned decides; without them, the attainment level does (thresholds above
80% and caps below 150% warn). Simulating a scenario for its quantiles is the jobs layer's
work (:func:`engine.jobs.check.design_hazards`): this module only reads the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from engine.core.errors import EngineError, EvaluationError, Span
from engine.core.inputs import Inputs
from engine.plan import expr as ex
from engine.plan import kinds
from engine.plan.compile import CompiledPlan, PayoutArrays, compile_plan
from engine.plan.findings import Fall, Finding, Jump
from engine.plan.kinds import Cause, kind_of
from engine.plan.model import Code, Component
from engine.plan.reference_rep import (
    Dependencies,
    reference_actuals,
    reference_inputs,
    reference_profile,
    roster_values,
    year_end_inputs,
)
from engine.plan.validate import CheckedPlan, const_value

__all__ = ["CODES", "Finding", "format_findings", "lint_plan"]

CODES = (
    "payout-cliff",
    "zero-incentive-above-cap",
    "zero-incentive-below-threshold",
    "decelerator",
    "never-pays",
    "row-level-meaning",
    "nonlinear-on-totals",
    "negative-total",
) + tuple(code for kind in kinds.KINDS.values() for code in kind.lint_codes)
"""Every finding code: the generic ones, then those of the kinds (``retroactive-negative-marginal``:
:mod:`engine.plan.kinds.rate`)."""

GRID_STEP = 0.005  # attainment grid resolution (half a point of target)
GRID_MAX = 3.0  # scanned up to 300% of target (further when the plan names higher levels)
PLAUSIBLE_MAX = 2.0  # a component silent up to here "never pays"
CLIFF_SHARE = 0.10  # a jump of 10% of target incentive (or of a component's target pay)
MIN_THRESHOLD = 0.10  # no-pay zones up to 10% of target are not worth a finding
THRESHOLD_WARN_LEVEL = 0.80  # without a scenario: thresholds above 80% warn
THRESHOLD_WARN_SHARE = 0.25  # with a scenario: warn when a quarter of reps sit below it
CAP_WARN_LEVEL = 1.50  # without a scenario: flat zones starting below 150% warn
CAP_WARN_SHARE = 0.10  # with a scenario: warn when a tenth of reps sit above it
GAMING_WINDOW = 0.03  # "a rep at 3 points below the cliff"
AFFECTED_WINDOW = 0.05  # "reps within 5 points below the cliff"
RAMP_MAX = 0.02  # a rise of a cliff's size spread over at most 2 points is still a cliff
NEGATIVE_LEVELS = 0.05  # the negative-total check evaluates attainment in steps of 5 points
NEGATIVE_COUNTS = (1, 2, 5, 10, 20, 50, 100, 1000)  # a count column (complaints) raised to these

_PERIOD_OF = {"month": "a month's", "quarter": "a quarter's", "half": "a half-year's",
              "year": "a year's"}

Quantiles = Mapping[float, float] | Sequence[tuple[float, float]]


# --------------------------------------------------------------------------- public API

def lint_plan(checked: CheckedPlan, roster: pd.DataFrame | None = None,
              attainment_quantiles: Quantiles | None = None) -> list[Finding]:
    """Design hazards of a valid plan, in file order.

    Args:
        checked: the validated plan.
        roster: a roster whose numeric columns' medians make the reference rep (as for
            ``incentive check --roster``); documented defaults otherwise.
        attainment_quantiles: ``{quantile: attainment}`` or ``((quantile, attainment),
            ...)``, e.g. ``((0.1, 0.45), (0.5, 0.95), (0.9, 1.5))``: the attainment
            distribution used to say what share of reps a hazard concerns. The plan layer
            does not simulate: :func:`engine.jobs.check.design_hazards` simulates a scenario
            and passes its quantiles here.

    Returns:
        The findings, sorted by position in the plan file, then attainment.

    Raises:
        EngineError: the plan cannot be evaluated for the reference rep at some attainment
            level.
    """
    scan = _Scan(checked, roster, _quantiles(attainment_quantiles))
    findings = [replace(f, attainment_range=_snap(f.attainment_range)) for f in scan.run()]
    return sorted(findings, key=_order)


def format_findings(findings: Sequence[Finding], plan_file: str) -> str:
    """The findings as ``incentive check`` prints them: one paragraph each.

    Each paragraph is ``FILE:LINE:COL: SEVERITY[CODE]: MESSAGE — WHY`` (``FILE`` alone when
    the finding has no position), followed by a count; ``no design hazards found`` when
    there are none.
    """
    if not findings:
        return "no design hazards found"
    paragraphs = []
    for f in findings:
        where = plan_file if f.span is None else f"{plan_file}:{f.span.line}:{f.span.column}"
        paragraphs.append(f"{where}: {f.severity}[{f.code}]: {f.message} — {f.why}")
    warnings = sum(f.severity == "warning" for f in findings)
    infos = len(findings) - warnings
    count = (f"{len(findings)} design hazard{'s' if len(findings) != 1 else ''}: "
             f"{warnings} warning{'s' if warnings != 1 else ''}, {infos} info "
             "(amounts are per period for the reference rep of the payout table)")
    return "\n\n".join(paragraphs + [count])


# --------------------------------------------------------------------------- helpers

def _order(f: Finding) -> tuple:
    line = f.span.line if f.span is not None else 10**9
    col = f.span.column if f.span is not None else 0
    lo = f.attainment_range[0] if f.attainment_range is not None else -1.0
    return (line, col, lo, f.code)


def _snap(r: tuple[float, float] | None) -> tuple[float, float] | None:
    """Levels found by bisection, rounded to a millionth of target (0.8 rather than 0.79999999)."""
    if r is None:
        return None

    def snap(x: float) -> float:
        return x if math.isinf(x) else round(x, 6) + 0.0

    lo, hi = r
    return snap(lo), snap(hi)


def _quantiles(q: Quantiles | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Quantile points sorted by attainment: ``(attainments, probabilities)``."""
    if q is None:
        return None
    pairs = list(q.items()) if isinstance(q, Mapping) else [tuple(p) for p in q]
    pairs = sorted((float(v), float(p)) for p, v in pairs if v is not None and math.isfinite(v))
    if not pairs:
        return None
    return np.array([v for v, _ in pairs]), np.array([p for _, p in pairs])


def _pct(x: float) -> str:
    if math.isinf(x):
        return "∞"
    v = round(100 * x, 1)
    return f"{v:.0f}%" if float(v).is_integer() else f"{v:.1f}%"


def _money(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _share_text(share: float, bound: str) -> str:
    if bound == "below":
        return f"fewer than {_pct(share)}"
    if bound == "above":
        return f"more than {_pct(share)}"
    return f"about {_pct(round(share, 2))}"


class _Dist:
    """Share of reps below a level, from a few attainment quantiles (linear in between)."""

    def __init__(self, q: tuple[np.ndarray, np.ndarray]):
        self.v, self.p = q

    def below(self, x: float) -> tuple[float, str]:
        """``(share, bound)``: bound is ``"below"``/``"above"`` when only a bound is known."""
        if x < self.v[0]:
            return float(self.p[0]), "below"
        if x > self.v[-1]:
            return float(self.p[-1]), "above"
        return float(np.interp(x, self.v, self.p)), ""

    def above(self, x: float) -> tuple[float, str]:
        share, bound = self.below(x)
        return 1.0 - share, {"below": "above", "above": "below", "": ""}[bound]

    def between(self, lo: float, hi: float) -> float | None:
        a, ba = self.below(lo)
        b, bb = self.below(hi)
        if ba or bb:
            return None
        return b - a

    def describe(self) -> str:
        return "/".join(f"p{round(100 * p):02d} {_pct(v)}" for v, p in zip(self.v, self.p))


# --------------------------------------------------------------------------- the reference rep

class _Reference:
    """Evaluates a plan for the reference rep at a vector of attainment levels."""

    def __init__(self, checked: CheckedPlan, roster: pd.DataFrame | None):
        self.checked = checked
        self.roster_vals = roster_values(checked, roster)
        self.linked, self.others = reference_profile(checked)
        self.prog = compile_plan(checked)
        self.raw_prog = _compile_raw(checked)
        # Targets and target incentive depend on the roster only (any actuals would do).
        first = self.prog.evaluate(self._inputs(np.zeros(1), ones=True), grades=False)
        self.targets = {col: float(np.asarray(first.values[f"targets.{t}"], dtype=float)[0, 0, 0])
                        for col, t in self.linked.items()}
        self.ti = float(np.asarray(first.values["target_incentive"], dtype=float)[0, 0, 0])
        self.rank = [c.name for c in checked.plan.components if kind_of(c.kind).contest]

    def _inputs(self, levels: np.ndarray, ones: bool = False) -> Inputs:
        n = len(levels)
        if ones:
            actuals = {col: np.ones((n, 1, 1)) for col in self.checked.actual_columns}
        else:
            actuals = reference_actuals(levels, {col: self.targets[col] for col in self.linked}, self.others)
        return reference_inputs(self.roster_vals, actuals, n, self.checked)

    def series(self, levels, raw: bool = False) -> dict[str, np.ndarray]:
        """Component name -> earned; ``TOTAL`` -> paid (after modifiers and plan cap,
        before true-up and draw) without rank components; ``UNCAPPED`` -> the same before
        the plan cap."""
        levels = np.asarray(levels, dtype=float)
        prog = self.raw_prog if raw else self.prog
        if prog is None:
            return {}
        res = prog.evaluate(self._inputs(levels), grades=False)
        out = {k: np.asarray(v, dtype=float)[:, 0, 0] for k, v in res.earned.items()}
        rank_paid = sum((np.asarray(res.modified[n], dtype=float)[:, 0, 0] for n in self.rank),
                        np.zeros(len(levels)))
        capped = np.asarray(res.capped_total, dtype=float)[:, 0, 0]
        out[TOTAL] = capped - rank_paid
        out[UNCAPPED] = sum((np.asarray(v, dtype=float)[:, 0, 0] for k, v in res.modified.items()
                             if k not in self.rank), np.zeros(len(levels)))
        return out

    def year_end(self, levels) -> dict[str, np.ndarray]:
        """Component name -> earned over the whole plan year at each level (every period at
        the level), for a year-to-date plan of several periods; empty for any other plan."""
        levels = np.asarray(levels, dtype=float)
        inputs = year_end_inputs(self.roster_vals, reference_actuals(
            levels, {col: self.targets[col] for col in self.linked}, self.others), len(levels), self.checked)
        if inputs is None:
            return {}
        try:
            res = self.prog.evaluate(inputs, grades=False)
        except EvaluationError:
            return {}
        return {k: np.asarray(v, dtype=float)[:, 0, -1] for k, v in res.earned.items()}


TOTAL = "\0total"
UNCAPPED = "\0uncapped"


def _compile_raw(checked: CheckedPlan) -> CompiledPlan | None:
    """The plan without gates (except rank eligibility) and caps: what explains a finding."""
    plan = checked.plan
    comps = tuple(c if kind_of(c.kind).contest else replace(c, when=None, cap=None)
                  for c in plan.components)
    try:
        return compile_plan(replace(checked, plan=replace(plan, components=comps, cap=None)))
    except EngineError:  # pragma: no cover - the same expressions compiled before
        return None


# --------------------------------------------------------------------------- the scan

class _Scan:
    def __init__(self, checked: CheckedPlan, roster: pd.DataFrame | None,
                 quantiles: tuple[np.ndarray, np.ndarray] | None):
        self.checked = checked
        self.plan = checked.plan
        self.ref = _Reference(checked, roster)
        self.dist = _Dist(quantiles) if quantiles is not None else None
        top = max([GRID_MAX] + [1.25 * b for b in self._breakpoints()])
        top = min(math.ceil(top / GRID_STEP) * GRID_STEP, 10.0)
        self.x = np.arange(round(top / GRID_STEP) + 1) / round(1 / GRID_STEP)
        self.plausible = PLAUSIBLE_MAX
        if quantiles is not None:
            self.plausible = max(PLAUSIBLE_MAX, float(quantiles[0][-1]))
        self.f = self._grid_series(raw=False)
        self.raw = self._grid_series(raw=True)
        scale = max(abs(self.ref.ti), float(np.max(np.abs(self.f[TOTAL]))), 1.0)
        self.ti = self.ref.ti if self.ref.ti > 0 else scale
        self.tol = 1e-9 * scale
        self.period_s = _PERIOD_OF.get(self.plan.period, "a period's")
        self.comps = [c for c in self.plan.components if not kind_of(c.kind).contest]
        self.deps = Dependencies(checked)
        self._stressed_runs: list[tuple[float, str, dict[str, float], PayoutArrays]] | None = None

    # -- evaluation helpers --------------------------------------------------------------

    def _grid_series(self, raw: bool) -> dict[str, np.ndarray]:
        try:
            return self.ref.series(self.x, raw)
        except EvaluationError:
            if raw:
                return {}
            # Usually a ratio with nothing to divide at 0% attainment: scan from one step up.
            self.x = self.x[1:]
            return self.ref.series(self.x, raw)

    def at(self, levels, raw: bool = False) -> dict[str, np.ndarray]:
        try:
            return self.ref.series(np.atleast_1d(np.asarray(levels, dtype=float)), raw)
        except EvaluationError:
            if raw:
                return {}
            raise

    def _breakpoints(self) -> list[float]:
        """Constant x levels the plan names (curve points, step thresholds)."""
        out: list[float] = []
        params = self.plan.parameter_values
        for c in self.plan.components:
            for code in kind_of(c.kind).breakpoints(c):
                v = _const(code.tree, params, self.checked)
                if v is not None and math.isfinite(v):
                    out.append(v)
        return out

    def refine(self, jobs: list[tuple[str, float, float]], mode: str,
               target: list[float] | None = None, raw: bool = False,
               ) -> list[Jump]:
        """Narrow each ``(series, lo, hi)`` interval by bisection onto where it changes.

        Modes: ``rise`` (keep the half with the larger increase), ``fall`` (larger
        decrease), ``leave`` (first level whose value differs from ``target``), ``reach``
        (first level whose value equals ``target``).
        """
        if not jobs:
            return []
        keys = [k for k, _, _ in jobs]
        lo = np.array([a for _, a, _ in jobs], dtype=float)
        hi = np.array([b for _, _, b in jobs], dtype=float)
        tgt = np.array(target if target is not None else [0.0] * len(jobs), dtype=float)

        def pick(values: dict[str, np.ndarray]) -> np.ndarray:
            return np.array([values[k][i] for i, k in enumerate(keys)])

        ends = self.at(np.concatenate([lo, hi]), raw)
        flo = np.array([ends[k][i] for i, k in enumerate(keys)])
        fhi = np.array([ends[k][len(jobs) + i] for i, k in enumerate(keys)])
        for _ in range(60):
            if np.all(hi - lo <= 1e-12 * np.maximum(1.0, np.abs(hi))):
                break
            mid = (lo + hi) / 2
            fm = pick(self.at(mid, raw))
            if mode == "rise":
                left = (fm - flo) >= (fhi - fm)
            elif mode == "fall":
                left = (flo - fm) >= (fm - fhi)
            elif mode == "leave":
                left = np.abs(fm - tgt) > self.tol
            else:  # reach
                left = np.abs(fm - tgt) <= self.tol
            hi = np.where(left, mid, hi)
            fhi = np.where(left, fm, fhi)
            lo = np.where(left, lo, mid)
            flo = np.where(left, flo, fm)
        return [Jump(float(a), float(b), float(c), float(d))
                for a, b, c, d in zip(lo, hi, flo, fhi)]

    # -- the checks -----------------------------------------------------------------------

    def run(self) -> list[Finding]:
        findings: list[Finding] = []
        silent = self.never_pays(findings)
        live = [c for c in self.comps if c.name not in silent]
        cliffs = self.cliffs(live, findings)
        drops = self.drops(live, findings)
        # What a silent component does beyond the plausible range is not the plan's doing.
        for c in self.comps:
            if c.name in silent:
                cliffs += [(j.lo, j.hi) for j in self._jumps(c.name, CLIFF_SHARE * self.ti)]
                drops += [(fall.lo, fall.regained) for fall in self._falls(c.name)]
        self.plan_cliffs(cliffs, findings)
        self.plan_drops(drops, findings)
        self.below_threshold(live, findings)
        self.above_cap(live, findings)
        self.negative_total(findings)
        self.plan_text(findings)
        return findings

    def depends_on_attainment(self, c: Component, seen: set | None = None) -> bool:
        seen = set() if seen is None else seen
        if c.name in seen:
            return False
        seen.add(c.name)
        linked = set(self.ref.linked)
        codes = [x for x in (c.when, c.cap) if x is not None] + kind_of(c.kind).inputs(c)
        for code in codes:
            actuals, _ = self.deps.of(code.tree)
            if actuals & linked:
                return True
            for node in ex.walk(code.tree):
                if isinstance(node, ex.Name):
                    ref = self.checked.refs.get(id(node))
                    if (ref is not None and ref.kind in ("component", "score")
                            and self.depends_on_attainment(self.plan.component(ref.name), seen)):
                        return True
        return False

    def never_pays(self, findings: list[Finding]) -> set[str]:
        silent: set[str] = set()
        inside = self.x <= self.plausible + 1e-12
        for c in self.plan.components:
            pay = self.f[c.name]
            if np.any(np.abs(pay[inside]) > self.tol) or not self.depends_on_attainment(c):
                continue
            if not kind_of(c.kind).contest and self._paid_when_stressed(c.name):
                continue  # paid once a count the reference rep leaves at 0 is not (a deduction per complaint)
            year = self._year_end().get(c.name)
            if year is not None and np.any(np.abs(year[inside]) > self.tol):
                continue  # judged against the year's totals: it pays at the year's end (accumulate: year)
            silent.add(c.name)
            paying = np.flatnonzero(np.abs(pay) > self.tol)
            later = (f" (it first pays at {_pct(float(self.x[paying[0]]))})" if paying.size else
                     f" (nor anywhere up to {_pct(float(self.x[-1]))})")
            span = c.span
            cause = ""
            raw = self.raw.get(c.name)
            kind = kind_of(c.kind)
            got: Cause | None = None
            if kind.contest:
                got = kind.never_pays_cause(c)
            elif raw is not None and np.any(np.abs(raw[inside]) > self.tol):
                if c.when is not None:
                    cause, span = f": its gate '{c.when.text}' is never true there", c.when.span
                elif c.cap is not None:
                    cause, span = f": its cap '{c.cap.text}' is 0 or less", c.cap.span
            else:
                got = kind.never_pays_cause(c)
            if got is not None:
                cause, span = got[0], got[1] or span
            findings.append(Finding(
                "never-pays", c.name, (0.0, self.plausible), "warning",
                f"component '{c.name}' pays nothing anywhere from 0% to {_pct(self.plausible)} of "
                f"target{later}{cause}",
                "a component nobody can earn motivates nobody and overstates what the plan "
                "offers: lower its threshold, fix its gate, or remove it",
                span))
        return silent

    def _runs(self, mask: np.ndarray) -> list[tuple[int, int]]:
        """Consecutive True runs of a per-interval mask: ``(first, last)`` interval indices."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return []
        breaks = np.flatnonzero(np.diff(idx) > 1)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]])
        return list(zip(starts.tolist(), ends.tolist()))

    def _target_pay(self, c: Component) -> float | None:
        if kind_of(c.kind).weighted:
            w = (1.0 if c.weight is None else
                 _const(c.weight.tree, self.plan.parameter_values, self.checked))
            if w is not None and w > 0:
                return w * self.ti
        return None

    def _jumps(self, key: str, threshold: float) -> list[Jump]:
        """Where a series rises by ``threshold`` or more within one grid step, or within
        :data:`RAMP_MAX` of attainment; a rise within one step is located by bisection."""
        f = self.f[key]
        d = np.diff(f)
        out: list[Jump] = []
        singles = []
        for a, b in self._runs(d >= threshold):
            if a == b:
                singles.append((key, float(self.x[a]), float(self.x[a + 1])))
            elif self.x[b + 1] - self.x[a] <= RAMP_MAX + 1e-9:  # longer: a steep slope, not a cliff
                out.append(Jump(float(self.x[a]), float(self.x[b + 1]),
                                 float(f[a]), float(f[b + 1])))
        for (_, lo, hi), j in zip(singles, self.refine(singles, "rise")):
            if j.after - j.before >= threshold:
                out.append(j)
            else:  # a steep ramp inside one grid step
                i = int(np.searchsorted(self.x, lo))
                out.append(Jump(lo, hi, float(f[i]), float(f[i + 1])))
        return out

    def cliffs(self, comps: list[Component], findings: list[Finding]) -> list[tuple[float, float]]:
        located: list[tuple[float, float]] = []
        for c in comps:
            own = self._target_pay(c)
            threshold = CLIFF_SHARE * (min(self.ti, own) if own else self.ti)
            for k, j in enumerate(self._jumps(c.name, threshold)):
                located.append((j.lo, j.hi))
                findings.append(self._cliff_finding(c, j, k))
        return located

    def _gain(self, x: float) -> tuple[float, float]:
        """(window, what the rep gains on the total by moving from ``x - window`` to ``x``)."""
        lo = max(x - GAMING_WINDOW, float(self.x[0]))
        v = self.at([lo, x])[TOTAL]
        return x - lo, float(v[1] - v[0])

    def _cliff_finding(self, c: Component | None, j: Jump, k: int = 0) -> Finding:
        jump = j.after - j.before
        exact = j.hi - j.lo <= 1e-9
        where = (f"at {_pct(j.hi)} of target" if exact else
                 f"between {_pct(j.lo)} and {_pct(j.hi)} of target")
        subject = f"component '{c.name}'" if c is not None else "the plan's total"
        share = f"{_pct(jump / self.ti)} of target incentive"
        own = self._target_pay(c) if c is not None else None
        severity = "warning" if jump >= CLIFF_SHARE * self.ti - self.tol else "info"
        if own is not None and own < self.ti:
            share += f", {_pct(jump / own)} of its target pay"
        retro = c is not None and kind_of(c.kind).rerates(c)
        span: Span | None
        if c is not None:
            cause, span = self._cliff_cause(c, j, k)
        else:
            cause, span = self._plan_cause(j.lo, j.hi)
        affected = ""
        if self.dist is not None:
            s = self.dist.between(j.hi - AFFECTED_WINDOW, j.hi)
            if s is not None:
                affected = (f"; about {_pct(round(s, 2))} of reps sit within "
                            f"{round(100 * AFFECTED_WINDOW):d} points below it")
        w, gain = self._gain(j.hi)
        lead = "reaching the tier re-rates the whole base, so " if retro else ""
        if w < GRID_STEP:
            why = (f"{lead}the first sale of the period is worth {_money(gain)}: expect deals "
                   "split across periods to collect it every period")
        else:
            why = (f"{lead}a rep at {_pct(j.hi - w)} gains {_money(gain)} by pulling {_pct(w)} "
                   f"of {self.period_s} target forward: expect timing games (deals pulled in or "
                   "held back across period ends) and end-of-period discounting")
        return Finding("payout-cliff", c.name if c is not None else None,
                       (j.hi if exact else j.lo, j.hi), severity,
                       f"{subject}: pay jumps by {_money(jump)} ({share}) {where}{cause}{affected}",
                       why, span)

    def _cliff_cause(self, c: Component, j: Jump, k: int) -> Cause:
        if c.when is not None and c.name in self.raw:
            r = self.at([j.lo, j.hi], raw=True).get(c.name)
            if r is not None and (r[1] - r[0]) < 0.5 * (j.after - j.before):
                return f", where its gate '{c.when.text}' opens", c.when.span
        return kind_of(c.kind).cliff_cause(c, self, j, k)

    def drops(self, comps: list[Component], findings: list[Finding]) -> list[tuple[float, float]]:
        located: list[tuple[float, float]] = []
        total_falls = np.diff(self.f[TOTAL]) < -self.tol
        for c in comps:
            kind = kind_of(c.kind)
            for k, fall in enumerate(self._falls(c.name)):
                located.append((fall.lo, fall.regained))
                covered = bool(total_falls[fall.first:fall.last + 1].any())
                own = kind.lint_drop(c, self, fall, k)
                findings.append(own if own is not None else self._drop_finding(c, fall, covered))
        return located

    def _falls(self, key: str) -> list[Fall]:
        """Where a series falls, merged over consecutive grid steps; a fall within one step
        is located by bisection."""
        f = self.f[key]
        out = []
        runs = self._runs(np.diff(f) < -self.tol)
        singles = [(key, float(self.x[a]), float(self.x[a + 1])) for a, b in runs if a == b]
        refined = iter(self.refine(singles, "fall"))
        for a, b in runs:
            lo, hi, peak = float(self.x[a]), float(self.x[b + 1]), float(f[a])
            left, right = lo, hi
            bottom = float(np.min(f[a:b + 2]))
            if a == b:
                j = next(refined)
                if j.before - j.after > 0.5 * (f[a] - f[a + 1]):  # a drop at one level
                    lo = hi = j.hi
                    left, right = j.lo, j.hi
                    peak, bottom = j.before, min(bottom, j.after)
            after = np.flatnonzero(f[b + 1:] >= peak - self.tol)
            regained = float(self.x[b + 1 + after[0]]) if after.size else math.inf
            out.append(Fall(a, b, lo, hi, peak, bottom, regained, b + 1 == len(self.x) - 1,
                             left, right))
        return out

    def _fall_text(self, subject: str, fall: Fall, cause: str) -> str:
        amount = fall.peak - fall.bottom
        if fall.hi - fall.lo <= 1e-9:
            where = f"at {_pct(fall.lo)} of target"
        elif fall.to_end:
            where = f"from {_pct(fall.lo)} of target on"
        else:
            where = f"from {_pct(fall.lo)} to {_pct(fall.hi)} of target"
        regain = ("never comes back to that level" if math.isinf(fall.regained) else
                  f"only comes back to that level at {_pct(fall.regained)}")
        return (f"{subject}: pay falls by {_money(amount)} ({_pct(amount / self.ti)} of target "
                f"incentive) {where}{cause}, below the {_money(fall.peak)} it pays at "
                f"{_pct(fall.lo)}, "
                f"and {regain}")

    def _drop_finding(self, c: Component | None, fall: Fall, covered: bool) -> Finding:
        subject = f"component '{c.name}'" if c is not None else "the plan's total"
        cause, span = "", (c.span if c is not None else None)
        if c is not None:
            cause, span = self._drop_cause(c, fall)
        else:
            cause, span = self._plan_cause(fall.left, fall.right)
        tail = "" if covered or c is None else "; other components make up for it in the total"
        why = (f"selling more lowers pay: a rep at {_pct(fall.lo)} is better off holding the rest "
               "of the period's business back" + ("" if math.isinf(fall.regained) else
                                                   f" unless they can reach {_pct(fall.regained)}"))
        return Finding("decelerator", c.name if c is not None else None, (fall.lo, fall.regained),
                       "warning" if covered else "info",
                       self._fall_text(subject, fall, cause) + tail, why, span)

    def _drop_cause(self, c: Component, fall: Fall) -> tuple[str, Span | None]:
        raw = self.raw.get(c.name)
        if raw is not None and not np.any(np.diff(raw[fall.first:fall.last + 2]) < -self.tol):
            if c.when is not None:
                return f" (its gate '{c.when.text}')", c.when.span
            if c.cap is not None:
                return f" (its cap '{c.cap.text}')", c.cap.span
        return kind_of(c.kind).drop_cause(c, self)

    def _plan_cause(self, lo: float, hi: float) -> tuple[str, Span | None]:
        """Which modifier makes the plan's total jump or fall between ``lo`` and ``hi``."""
        base = self.at([lo, hi])[TOTAL]
        change = abs(base[1] - base[0])
        for i, m in enumerate(self.plan.modifiers):
            prog = compile_plan(replace(self.checked, plan=replace(
                self.plan, modifiers=self.plan.modifiers[:i] + self.plan.modifiers[i + 1:])))
            try:
                res = prog.evaluate(self.ref._inputs(np.array([lo, hi])), grades=False)
            except EngineError:
                continue
            without = np.asarray(res.capped_total, dtype=float)[:, 0, 0]
            if abs(without[1] - without[0]) < 0.5 * change:
                when = f" when {m.when.text}" if m.when is not None else ""
                return f" (modifier '{m.name}': x {m.multiply.text}{when})", m.span
        if self.plan.cap is not None:
            unc = self.at([lo, hi])[UNCAPPED]
            if abs((unc[1] - unc[0]) - (base[1] - base[0])) > 0.5 * change:
                return f" (the plan cap '{self.plan.cap.text}')", self.plan.cap.span
        return " (several components together)", None

    def plan_cliffs(self, located: list[tuple[float, float]], findings: list[Finding]) -> None:
        for j in self._jumps(TOTAL, CLIFF_SHARE * self.ti):
            if any(a - GRID_STEP <= j.hi and j.lo <= b + GRID_STEP for a, b in located):
                continue
            findings.append(self._cliff_finding(None, j))

    def plan_drops(self, located: list[tuple[float, float]], findings: list[Finding]) -> None:
        for fall in self._falls(TOTAL):
            if any(a - GRID_STEP <= fall.hi and fall.lo <= b + GRID_STEP for a, b in located):
                continue
            findings.append(self._drop_finding(None, fall, True))

    def _first_change(self, f: np.ndarray) -> int | None:
        idx = np.flatnonzero(np.abs(f[1:] - f[0]) > self.tol)
        return int(idx[0]) if idx.size else None

    def _last_change(self, f: np.ndarray) -> int | None:
        idx = np.flatnonzero(np.abs(f[:-1] - f[-1]) > self.tol)
        return int(idx[-1]) if idx.size else None

    def below_threshold(self, comps: list[Component], findings: list[Finding]) -> None:
        total = self.f[TOTAL]
        i = self._first_change(total)
        if i is None:
            return
        interval = [(TOTAL, float(self.x[i]), float(self.x[i + 1]))]
        j = self.refine(interval, "leave", [float(total[0])])[0]
        b = j.hi if j.after != j.before or abs(j.after - total[0]) > self.tol else j.lo
        if b <= MIN_THRESHOLD + 1e-9:
            return
        owner = next((c for c in comps if self._first_change(self.f[c.name]) == i), None)
        span = owner.span if owner is not None else None
        cause = ""
        if owner is not None:
            raw = self.raw.get(owner.name)
            k = self._first_change(raw) if raw is not None else None
            if owner.when is not None and (k is None or raw is None or k < i - 1 or
                                           abs(raw[0] - self.f[owner.name][0]) > self.tol):
                cause, span = f" (its gate '{owner.when.text}')", owner.when.span
            elif (got := kind_of(owner.kind).threshold_cause(owner)) is not None:
                cause, span = got
        level = ("nothing is paid" if abs(total[0]) <= self.tol else
                 f"pay stays at {_money(float(total[0]))}")
        subject = f"component '{owner.name}'" if owner is not None else "the plan"
        others = (", and no other component pays there" if owner is not None and len(comps) > 1
                  else "")
        share_txt = ""
        if self.dist is not None:
            share, bound = self.dist.below(b)
            severity = "warning" if share >= THRESHOLD_WARN_SHARE else "info"
            share_txt = (f"; {_share_text(share, bound)} of reps sit below it "
                         f"(attainment {self.dist.describe()})")
        else:
            severity = "warning" if b > THRESHOLD_WARN_LEVEL + 1e-6 else "info"
        findings.append(Finding(
            "zero-incentive-below-threshold", owner.name if owner is not None else None, (0.0, b),
            severity,
            f"{subject}: {level} below {_pct(b)} of target{cause}{others}{share_txt}",
            f"a rep who sees {_pct(b)} is out of reach has no reason to sell more this period and "
            "will push deals into the next one; thresholds usually sit at 50-80% of target",
            span))

    def above_cap(self, comps: list[Component], findings: list[Finding]) -> None:
        total = self.f[TOTAL]
        end = float(total[-1])
        i = self._last_change(total)
        if i is None or end <= self.tol or i + 1 >= len(self.x) - 2:
            return
        j = self.refine([(TOTAL, float(self.x[i]), float(self.x[i + 1]))], "reach", [end])[0]
        b = j.hi
        capped = self.plan.cap is not None and self.f[UNCAPPED][-1] > end + self.tol
        owner = None
        span = self.plan.cap.span if capped and self.plan.cap is not None else None
        cause = " (the plan cap)" if capped else ""
        if not capped:
            owner = next((c for c in comps if self._last_change(self.f[c.name]) == i), None)
        if owner is not None:
            span = owner.span
            raw = self.raw.get(owner.name)
            binds = raw is not None and raw[-1] > self.f[owner.name][-1] + self.tol
            if owner.cap is not None and binds:
                cause, span = f" (its cap '{owner.cap.text}')", owner.cap.span
            elif (got := kind_of(owner.kind).cap_cause(owner)) is not None:
                cause, span = got
        subject = f"component '{owner.name}'" if owner is not None else "the plan's total"
        share_txt = ""
        if self.dist is not None:
            share, bound = self.dist.above(b)
            severity = "warning" if share >= CAP_WARN_SHARE else "info"
            share_txt = (f"; {_share_text(share, bound)} of reps sit above it "
                         f"(attainment {self.dist.describe()})")
        else:
            severity = "warning" if b < CAP_WARN_LEVEL - 1e-6 else "info"
        findings.append(Finding(
            "zero-incentive-above-cap", owner.name if owner is not None else None, (b, math.inf),
            severity,
            f"{subject}: pay stops rising at {_pct(b)} of target{cause}: the rep's total stays at "
            f"{_money(end)} ({_pct(end / self.ti)} of target incentive) however much more is "
            f"sold{share_txt}",
            f"a rep who reaches {_pct(b)} before the period ends earns nothing for further sales "
            "and will hold deals back for the next period (sandbagging)",
            span))

    # -- deductions ----------------------------------------------------------------------------

    def _witnesses(self) -> list[tuple[float, str, dict[str, float]]]:
        """Reference reps that stress a deduction: ``(value, words, overrides)``, the simplest
        first; the first, ``(0, "", {})``, is the reference rep itself. A count the reference
        rep leaves at 0 is raised through :data:`NEGATIVE_COUNTS` (alone, and every count
        together), a column it sets by a ratio is set to 0."""
        counts = [c for c, (how, _) in self.ref.others.items() if how == "zero"]
        out: list[tuple[float, str, dict[str, float]]] = [(0.0, "", {})]
        out += [(0.0, f" with {col} at 0", {col: 0.0}) for col, (how, _) in self.ref.others.items() if how != "zero"]
        for v in NEGATIVE_COUNTS:
            out += [(float(v), f" with {col} at {v:,}", {col: float(v)}) for col in counts]
            if len(counts) > 1:
                out.append((float(v), f" with {', '.join(counts)} at {v:,} each", dict.fromkeys(counts, float(v))))
        return out

    def negative_total(self, findings: list[Finding]) -> None:
        """``negative-total``: the period's payment (after true-up and draw, without rank
        awards) goes below 0 for some stressed reference rep (:meth:`_witnesses`); reported
        for the simplest such rep, its most negative attainment level."""
        levels = self._stress_levels()
        n = len(levels)
        found = None  # (paid, words, level index, evaluation, its levels below 0) of the first witness paying below 0
        covered = True  # base pay covers every negative total seen
        falls: dict[str, float] = {}  # count column -> lowest total at the last two NEGATIVE_COUNTS
        for value, words, overrides, res in self._stress():
            rank_paid = sum((np.asarray(res.modified[r], dtype=float)[:, 0, 0] for r in self.ref.rank), np.zeros(n))
            total = np.asarray(res.total, dtype=float)[:, 0, 0] - rank_paid
            base = np.zeros(n) if res.base_pay is None else np.asarray(res.base_pay, dtype=float)[:, 0, 0]
            if len(overrides) == 1 and value in NEGATIVE_COUNTS[-2:]:
                col = next(iter(overrides))
                if col in falls and float(total.min()) < min(falls[col], 0.0) - self.tol:
                    falls[col] = -math.inf  # below 0 and still falling from 100 to 1,000: no limit
                else:
                    falls[col] = float(total.min())
            neg = total < -self.tol
            if not neg.any():
                continue
            covered = covered and bool(np.all(total + base >= -self.tol))
            if found is None:
                i = int(np.argmin(total))
                found = (float(total[i]), words, i, res, levels[neg])
        if found is None:
            return
        paid, words, i, res, below = found
        unbounded = any(math.isinf(v) for v in falls.values())
        own = {c.name: float(np.asarray(res.modified[c.name], dtype=float)[i, 0, 0]) for c in self.comps}
        name = min(own, key=lambda k: own[k]) if own and min(own.values()) < -self.tol else None
        comp = self.plan.component(name) if name is not None else None
        subject = f"component '{name}'" if name is not None else "the plan's components together"
        part = (f" ({_money(own[name])} from '{name}')" if name is not None and abs(own[name] - paid) > self.tol
                else "")
        limit = ", and the deduction has no limit (it keeps growing with the count)" if unbounded else ""
        has_base = res.base_pay is not None
        severity = "info" if has_base and covered and not unbounded else "warning"
        base_txt = ""
        if has_base:
            base_pay = float(np.asarray(res.base_pay, dtype=float)[i, 0, 0])
            base_txt = (f"; the base pay of {_money(base_pay)} covers it, so the deduction comes out of base pay"
                        if severity == "info" else "; it can take more than the base pay")
        if self.plan.clawback:
            total_of = "year-to-date earnings"
            why = ("clawback recovers what was paid earlier in the year, but earnings below 0 ask the rep to pay "
                   "back more than they were ever paid")
        else:
            total_of = "period's total"
            why = "a period's pay below 0 asks the rep to pay money back, which a payroll run cannot pay out"
        findings.append(Finding(
            "negative-total", name, (float(below.min()), float(below.max())), severity,
            f"{subject} can make the {total_of} negative: the reference rep at {_pct(float(levels[i]))} "
            f"of target{words} is paid {_money(paid)}{part}{limit}{base_txt}",
            f"{why}: bound the deduction by what the other components pay (e.g. base: "
            "min(500 * actuals.complaints, commission) with rate: -1), or cap it with min(...)"
            + (" below the base pay" if has_base else ""),
            comp.span if comp is not None else None))

    def _stress_levels(self) -> np.ndarray:
        """The attainment levels of the stressed reference reps: every :data:`NEGATIVE_LEVELS`
        up to :data:`GRID_MAX` (from the scan's first level)."""
        on_step = np.isclose(self.x, np.round(self.x / NEGATIVE_LEVELS) * NEGATIVE_LEVELS, atol=1e-9)
        return np.unique(np.concatenate([self.x[:1], self.x[on_step & (self.x <= GRID_MAX + 1e-9)]]))

    def _stress(self) -> list[tuple[float, str, dict[str, float], PayoutArrays]]:
        """Each of :meth:`_witnesses` evaluated at :meth:`_stress_levels` (those the plan
        cannot evaluate left out), computed once."""
        if self._stressed_runs is None:
            levels = self._stress_levels()
            self._stressed_runs = []
            for value, words, overrides in self._witnesses():
                try:
                    res = self.ref.prog.evaluate(self._stressed(levels, overrides), grades=False)
                except EvaluationError:
                    continue
                self._stressed_runs.append((value, words, overrides, res))
        return self._stressed_runs

    def _year_end(self) -> dict[str, np.ndarray]:
        """What each component earns over the plan year on the grid (year-to-date plans of
        several periods only; computed once)."""
        if not hasattr(self, "_year_end_values"):
            self._year_end_values = self.ref.year_end(self.x)
        return self._year_end_values

    def _paid_when_stressed(self, name: str) -> bool:
        """Component ``name`` pays something (above or below 0) for a stressed reference rep
        in the plausible range: a count raised (a deduction per complaint), a ratio at 0."""
        inside = self._stress_levels() <= self.plausible + 1e-12
        return any(np.any(np.abs(np.asarray(res.earned[name], dtype=float)[inside, 0, 0]) > self.tol)
                   for _, _, overrides, res in self._stress() if overrides)

    def _stressed(self, levels: np.ndarray, overrides: Mapping[str, float]) -> Inputs:
        """The reference rep at ``levels`` with some actuals columns set to a value."""
        ref = self.ref
        actuals = reference_actuals(levels, {col: ref.targets[col] for col in ref.linked}, ref.others)
        for col, v in overrides.items():
            actuals[col] = np.full((len(levels), 1, 1), v)
        return reference_inputs(ref.roster_vals, actuals, len(levels), self.checked)

    # -- findings read from the plan text ---------------------------------------------------

    def plan_text(self, findings: list[Finding]) -> None:
        """Each kind's findings from the plan text alone (retroactive tiers whose rate goes
        down, when the scan could not place the fall)."""
        for c in self.plan.components:
            kind_of(c.kind).lint_plan(c, self, findings)
        findings += version2_findings(self.checked)

    # -- what the kinds' lint hooks use ------------------------------------------------------

    def const(self, code: Code) -> float | None:
        """The value of a parameter-only expression, or None when it depends on data."""
        return _const(code.tree, self.plan.parameter_values, self.checked)

    pct = staticmethod(_pct)
    money = staticmethod(_money)
    finding = Finding

    def fall_text(self, subject: str, fall: Fall, cause: str) -> str:
        return self._fall_text(subject, fall, cause)


def _nonlinear(tree: ex.Expr, checked: CheckedPlan) -> str | None:
    """What makes an expression nonlinear in the actuals columns it names (``where``,
    ``min``/``max``/``clip``/``abs``, a comparison, a product or ratio of two columns), or
    None when it is linear in them."""

    def names_actuals(node: ex.Expr) -> bool:
        return any(isinstance(n, ex.Name) and n.prefix == "actuals" for n in ex.walk(node))

    for node in ex.walk(tree):
        if isinstance(node, ex.Call) and node.func in ("where", "min", "max", "clip", "abs", "safe_div") \
                and any(names_actuals(a) for a in node.args):
            return f"{node.func}()"
        if isinstance(node, ex.Compare) and (names_actuals(node.left) or names_actuals(node.right)):
            return f"a comparison ('{node.op}')"
        if isinstance(node, ex.Binary) and node.op in ("*", "/") and names_actuals(node.left) and \
                names_actuals(node.right):
            return "a product or ratio of two columns" if node.op == "*" else "a ratio of two columns"
    return None


def version2_findings(checked: CheckedPlan) -> list[Finding]:
    """Where a plan's numbers depend on version 2's row-level reading (plan-language.md,
    "What changes from version 1"), from the plan text alone.

    * ``row-level-meaning`` (info): a measure written ``{expr, aggregate}`` whose expression is
      nonlinear in the actuals is now computed on each transaction row, then aggregated
      (version 1 computed it on the period's aggregates); one with a ``mean``, ``min``, ``max``
      or ``last`` aggregate no longer has its rows scaled by ``split``.
    * ``nonlinear-on-totals`` (warning): a plain measure applies something nonlinear to
      actuals columns: with transaction actuals it is computed on the period's totals.
    """
    out: list[Finding] = []
    for m in checked.plan.measures:
        why = _nonlinear(m.code.tree, checked)
        if m.name in checked.row_measures:
            agg = checked.row_measures[m.name]
            changes = []
            if why is not None and m.explicit:
                changes.append(f"its expression uses {why}, so with transactions it is computed on each row, then "
                               f"gathered with '{agg}' (version 1 computed it on the period's aggregated columns)")
            if agg in ("mean", "min", "max", "last") and any(
                    isinstance(n, ex.Name) and n.prefix == "actuals" for n in ex.walk(m.code.tree)):
                changes.append(f"a split transaction counts in full in its '{agg}' (version 1 multiplied its "
                               "columns by the split)")
            if changes:
                out.append(Finding("row-level-meaning", None, None, "info",
                                   f"measure '{m.name}' is row-level: " + "; and ".join(changes),
                                   "plans written for version 1 of the language may pay differently on "
                                   "transaction actuals; per-period actuals are unchanged", m.span))
        elif why is not None:
            out.append(Finding("nonlinear-on-totals", None, None, "warning",
                               f"measure '{m.name}' applies {why} to actuals columns: with transaction actuals it is "
                               "computed on the period's totals, not deal by deal",
                               "write it as {expr: ..., aggregate: sum} to evaluate it on each transaction "
                               "and add up the results (e.g. a SPIFF counted per qualifying deal)", m.span))
    return out


def _const(tree: ex.Expr, params: dict[str, float], checked: CheckedPlan) -> float | None:
    """The value of a parameter-only expression, or None when it depends on data."""
    for node in ex.walk(tree):
        if isinstance(node, ex.Name):
            ref = checked.refs.get(id(node))
            if ref is None or ref.kind != "param":
                return None
        elif not isinstance(node, (ex.Num, ex.Unary, ex.Binary, ex.Call)):
            return None
        if isinstance(node, ex.Call) and node.func not in ("min", "max", "abs", "clip"):
            return None
    try:
        return float(const_value(tree, params, checked.refs))
    except (KeyError, TypeError, ZeroDivisionError, ValueError):
        return None

