"""``kind: scorecard``: weighted metrics, each through its own curve, make a score that a
payout curve turns into a share of target incentive.

The metric weights are parameter-only and must sum to 1; ``NAME.score`` (the weighted
score, before the gate) may be read by later expressions. Without ``payout`` the score is
paid as it is (the curve ``[[0, 0], [1, 1]]``, extended).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import Span
from engine.plan.findings import LintContext
from engine.plan.functions import NUM
from engine.plan.kinds.base import Cause, Kind, Pay, present
from engine.plan.model import Code, Component, Metric

if TYPE_CHECKING:
    from engine.plan.compile import ComponentLowering, PayEnv
    from engine.plan.parse import Reader
    from engine.plan.reference import ReferenceEvaluator, Trace
    from engine.plan.source import YMap
    from engine.plan.validate import ComponentChecks

__all__ = ["ScorecardKind"]

METRIC_KEYS = ("name", "label", "input", "weight", "points", "interpolate", "beyond")


class ScorecardKind(Kind):
    name = "scorecard"
    keys = ("metrics", "payout")
    required = ("metrics",)
    weighted = True
    has_score = True

    def parse(self, r: Reader, item: YMap, what: str) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        metrics = []
        seq = r.entries(item.get("metrics"), f"metrics of {what}", f"{what} needs at least one metric")
        seen: dict[str, Span] = {}
        for mnode in seq:
            m = r.mapping(mnode, f"a metric of {what}", METRIC_KEYS, ("name", "input", "weight", "points"))
            if m is None:
                continue
            mid = r.identifier(m.get("name"), "metric name") if m.get("name") is not None else None
            minput = r.code(m.get("input"), f"input of a metric of {what}")
            mweight = r.code(m.get("weight"), f"weight of a metric of {what}")
            mcurve = r.curve(m.get("points"), m.get("interpolate"), m.get("beyond"),
                             f"metric of {what}", m.span)
            if mid is not None and mid[0] in seen:
                r.error("duplicate-name", f"metric '{mid[0]}' appears twice in {what}", mid[1],
                        f"the first is on line {seen[mid[0]].line}")
                continue
            if mid is not None:
                seen[mid[0]] = mid[1]
            if mid and minput and mweight and mcurve:
                metrics.append(Metric(mid[0], minput, mweight, mcurve, m.span, r.label(m)))
        fields["metrics"] = tuple(metrics)
        if item.get("payout") is not None:
            fields["payout"] = r.curve(item.get("payout"), None, None, f"payout of {what}", item.span)
        return fields

    def check(self, c: Component, ck: ComponentChecks) -> None:
        total = 0.0
        ok = True
        for m in c.metrics:
            ck.expect(m.input, f"the input of metric '{m.name}'", NUM)
            w = ck.const(m.weight, f"the weight of metric '{m.name}'")
            ck.curve(m.curve, f"metric '{m.name}' of {ck.what}")
            if w is None:
                ok = False
            else:
                if w < 0:
                    ck.error("bad-value", f"the weight of metric '{m.name}' must not be negative", m.weight.span)
                total += w
        if ok and c.metrics and abs(total - 1.0) > 1e-9:
            ck.error("weights-sum", f"the metric weights of {ck.what} must sum to 1 (got {total:.10g})",
                     c.metrics[0].weight.span,
                     "adjust the weights so that they add up to 1 (e.g. 0.5, 0.3, 0.2)")
        ck.curve(c.payout, f"the payout of {ck.what}")

    def lower(self, c: Component, lo: ComponentLowering) -> Pay:
        metrics = [(m, lo.lower(m.input), lo.const(m.weight), lo.curve(m.curve)) for m in c.metrics]
        payout = lo.curve(c.payout)
        weight = lo.weight
        name = f"component '{c.name}'"

        def pay(cx: PayEnv):
            score = np.zeros(cx.shape)
            for m, fn, w, curve in metrics:
                x = cx.check(fn(cx.env), m.input, f"the input of metric '{m.name}' of {name}")
                score = score + w * cx.curve(x, *curve)
            cx.env.scores[c.name] = score
            return weight * cx.ti() * cx.curve(score, *payout)
        return pay

    def reference(self, c: Component, ev: ReferenceEvaluator, r: int, p: int, trace: Trace) -> float:
        note, num = ev.note, ev.num
        name = f"component '{c.name}'"
        score = 0.0
        for m in c.metrics:
            x = ev.expr(m.input, r, p, f"the input of metric '{m.name}' of {name}")
            w = ev.const(m.weight)
            note(trace, f"  metric {m.name}: {m.input.text} = {num(x)}")
            ms = ev.curve(x, ev.points(m.curve), m.curve.interpolate, m.curve.beyond, trace, "    ")
            note(trace, f"    score {num(ms)} x weight {num(w)} = {num(ms * w)}")
            score += w * ms
        ev.score_memo[(c.name, r, p)] = score
        note(trace, f"  {c.name}.score = {num(score)}")
        payout = c.payout
        y = ev.curve(score, ev.points(payout), payout.interpolate if payout else "linear",
                     payout.beyond if payout else "extend", trace, "  ")
        w = ev.const(c.weight) if c.weight is not None else 1.0
        ti = ev.ti(r, p)
        pay = w * ti * y
        note(trace, f"  target pay = weight {num(w)} x target_incentive {num(ti)} = {num(w * ti)}; "
             f"pays {num(y)} x {num(w * ti)} = {num(pay)}")
        return pay

    def summary(self, c: Component) -> str:
        return ", ".join(f"{m.name} {m.weight.text}" for m in c.metrics)

    def inputs(self, c: Component) -> list[Code]:
        return [m.input for m in c.metrics]

    def profile(self, c: Component) -> list[Code]:
        return present((c.when, c.cap)) + self.inputs(c)

    def thresholds(self, c: Component) -> list[tuple[str, Code | None, Code]]:
        return [("payout", None, x) for x, _ in c.payout.points] if c.payout is not None else []

    def breakpoints(self, c: Component) -> list[Code]:
        return [x for m in c.metrics for x, _ in m.curve.points]

    def drop_cause(self, c: Component, scan: LintContext) -> Cause:
        return "", (c.payout.span if c.payout is not None else c.span)

    def threshold_cause(self, c: Component) -> Cause | None:
        return " (the score's payout threshold)", (c.payout.span if c.payout is not None else c.span)

    def cap_cause(self, c: Component) -> Cause | None:
        return " (its metrics' curves top out)", c.span

    def never_pays_cause(self, c: Component) -> Cause | None:
        return ": its threshold is out of reach", c.span

    def weights(self, c: Component) -> list[tuple[str, Code]]:
        return [(f"{c.name}.{m.name}", m.weight) for m in c.metrics]
