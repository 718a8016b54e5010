"""``kind: curve``: a share of target incentive read off a payout curve of one input.

The pay is ``weight x target_incentive x curve(input)``; the curve is 0 below its first
point, interpolated (``linear`` or ``step``) between points, and beyond the last point
extends the last slope or stays ``flat``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.plan.findings import Jump, LintContext
from engine.plan.functions import NUM
from engine.plan.kinds.base import Cause, Kind, Pay
from engine.plan.model import Code, Component

if TYPE_CHECKING:
    from engine.plan.compile import ComponentLowering, PayEnv
    from engine.plan.parse import Reader
    from engine.plan.reference import ReferenceEvaluator, Trace
    from engine.plan.source import YMap
    from engine.plan.validate import ComponentChecks

__all__ = ["CurveKind"]


class CurveKind(Kind):
    name = "curve"
    keys = ("input", "points", "interpolate", "beyond")
    required = ("input", "points")
    weighted = True
    levels = True

    def parse(self, r: Reader, item: YMap, what: str) -> dict[str, Any]:
        return {"input": r.optional_code(item.get("input"), f"input of {what}"),
                "curve": r.curve(item.get("points"), item.get("interpolate"), item.get("beyond"),
                                 what, item.span)}

    def check(self, c: Component, ck: ComponentChecks) -> None:
        ck.expect(c.input, "the input", NUM)
        ck.curve(c.curve, ck.what)

    def lower(self, c: Component, lo: ComponentLowering) -> Pay:
        assert c.input is not None  # required of a curve component
        code = c.input
        input_fn = lo.lower(code)
        xs, ys, interp, beyond = lo.curve(c.curve)
        weight = lo.weight
        what = f"the input of component '{c.name}'"

        def pay(cx: PayEnv):
            x = cx.check(input_fn(cx.env), code, what)
            return weight * cx.ti() * cx.curve(x, xs, ys, interp, beyond)
        return pay

    def reference(self, c: Component, ev: ReferenceEvaluator, r: int, p: int, trace: Trace) -> float:
        assert c.input is not None and c.curve is not None  # required of a curve component
        note, num = ev.note, ev.num
        x = ev.expr(c.input, r, p, f"the input of component '{c.name}'")
        w = ev.const(c.weight) if c.weight is not None else 1.0
        ti = ev.ti(r, p)
        note(trace, f"  input {c.input.text} = {num(x)}")
        y = ev.curve(x, ev.points(c.curve), c.curve.interpolate, c.curve.beyond, trace, "  ")
        pay = w * ti * y
        note(trace, f"  target pay = weight {num(w)} x target_incentive {num(ti)} = {num(w * ti)}; "
             f"pays {num(y)} x {num(w * ti)} = {num(pay)}")
        return pay

    def summary(self, c: Component) -> str:
        assert c.input is not None and c.curve is not None
        pts = ", ".join(f"[{x.text}, {y.text}]" for x, y in c.curve.points)
        return f"{c.input.text} through {pts} ({c.curve.interpolate}, beyond: {c.curve.beyond})"

    def inputs(self, c: Component) -> list[Code]:
        return [c.input] if c.input is not None else []

    def thresholds(self, c: Component) -> list[tuple[str, Code | None, Code]]:
        if c.input is None or c.curve is None:
            return []
        return [("curve", c.input, x) for x, _ in c.curve.points]

    def breakpoints(self, c: Component) -> list[Code]:
        return [x for x, _ in c.curve.points] if c.curve is not None else []

    def cliff_cause(self, c: Component, scan: LintContext, jump: Jump, k: int) -> Cause:
        if c.curve is None:
            return "", c.span
        x0, y0 = c.curve.points[0]
        y = scan.const(y0)
        x = scan.const(x0)
        if x is not None and abs(x - jump.hi) <= 1e-6 and y:
            return f" (the curve's first point pays {y:g}x target pay at once)", c.curve.span
        if c.curve.interpolate == "step":
            return " (a step curve)", c.curve.span
        return "", c.curve.span

    def drop_cause(self, c: Component, scan: LintContext) -> Cause:
        return "", (c.curve.span if c.curve is not None else c.span)

    def threshold_cause(self, c: Component) -> Cause | None:
        if c.curve is not None:
            return " (the curve's first point)", c.curve.span
        return None

    def cap_cause(self, c: Component) -> Cause | None:
        if c.curve is not None:
            return f" (its curve, beyond: {c.curve.beyond})", c.curve.span
        return None

    def never_pays_cause(self, c: Component) -> Cause | None:
        return ": its threshold is out of reach", c.span
