"""``kind: step``: fixed amounts paid as an input reaches thresholds.

Each step ``{at: LEVEL, pay: AMOUNT}`` adds its amount once ``input >= at``; the ``at``
values are parameter-only and must increase strictly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.plan.findings import Jump, LintContext
from engine.plan.functions import NUM
from engine.plan.kinds.base import Cause, Kind, Pay
from engine.plan.model import Code, Component, Step

if TYPE_CHECKING:
    from engine.plan.compile import ComponentLowering, PayEnv
    from engine.plan.parse import Reader
    from engine.plan.reference import ReferenceEvaluator, Trace
    from engine.plan.source import YMap
    from engine.plan.validate import ComponentChecks

__all__ = ["StepKind"]


class StepKind(Kind):
    name = "step"
    keys = ("input", "steps")
    required = ("input", "steps")
    levels = True

    def parse(self, r: Reader, item: YMap, what: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"input": r.optional_code(item.get("input"), f"input of {what}")}
        steps = []
        seq = r.entries(item.get("steps"), f"steps of {what}", f"{what} needs at least one step")
        for s in seq:
            m = r.mapping(s, f"a step of {what}", ("at", "pay"), ("at", "pay"))
            if m is None:
                continue
            at = r.code(m.get("at"), f"'at' of a step of {what}")
            pay = r.code(m.get("pay"), f"'pay' of a step of {what}")
            if at is not None and pay is not None:
                steps.append(Step(at, pay, m.span))
        fields["steps"] = tuple(steps)
        return fields

    def check(self, c: Component, ck: ComponentChecks) -> None:
        ck.expect(c.input, "the input", NUM)
        prev = None
        for s in c.steps:
            at = ck.const(s.at, f"'at' of a step of {ck.what}")
            ck.expect(s.pay, "'pay' of a step", NUM)
            if at is not None and prev is not None and not at > prev:
                ck.error("steps-order",
                         f"the 'at' values of {ck.what} must increase strictly ({ck.fmt(at)} comes after "
                         f"{ck.fmt(prev)})", s.at.span, "sort the steps by 'at'")
            if at is not None:
                prev = at

    def lower(self, c: Component, lo: ComponentLowering) -> Pay:
        assert c.input is not None  # required of a step component
        code = c.input
        input_fn = lo.lower(code)
        steps = [(lo.const(s.at), lo.lower(s.pay), s) for s in c.steps]
        name = f"component '{c.name}'"

        def pay(cx: PayEnv):
            x = cx.check(input_fn(cx.env), code, f"the input of {name}")
            total = np.zeros(cx.shape)
            for at, payfn, step in steps:
                amount = cx.check(payfn(cx.env), step.pay, f"a step's pay of {name}")
                total = total + np.where(x >= at, amount, 0.0)
            return total
        return pay

    def reference(self, c: Component, ev: ReferenceEvaluator, r: int, p: int, trace: Trace) -> float:
        assert c.input is not None  # required of a step component
        note, num = ev.note, ev.num
        name = f"component '{c.name}'"
        x = ev.expr(c.input, r, p, f"the input of {name}")
        note(trace, f"  input {c.input.text} = {num(x)}")
        total = 0.0
        for s in c.steps:
            at = ev.const(s.at)
            amount = ev.expr(s.pay, r, p, f"a step's pay of {name}")
            if x >= at:
                total += amount
                note(trace, f"  step at {num(at)} reached: + {s.pay.text} = {num(amount)}")
            else:
                note(trace, f"  step at {num(at)} not reached ({num(x)} < {num(at)})")
        return total

    def summary(self, c: Component) -> str:
        assert c.input is not None
        return "; ".join(f"at {s.at.text} pays {s.pay.text}" for s in c.steps) + f" on {c.input.text}"

    def inputs(self, c: Component) -> list[Code]:
        return ([c.input] if c.input is not None else []) + [s.pay for s in c.steps]

    def thresholds(self, c: Component) -> list[tuple[str, Code | None, Code]]:
        return [("step", c.input, s.at) for s in c.steps] if c.input is not None else []

    def breakpoints(self, c: Component) -> list[Code]:
        return [s.at for s in c.steps]

    def cliff_cause(self, c: Component, scan: LintContext, jump: Jump, k: int) -> Cause:
        for s in c.steps:
            at = scan.const(s.at)
            if at is not None and abs(at - jump.hi) <= 1e-6:
                return f" (the step at {s.at.text} pays {s.pay.text})", s.span
        return "", c.span

    def threshold_cause(self, c: Component) -> Cause | None:
        if c.steps:
            return f" (the first step, at {c.steps[0].at.text})", c.steps[0].span
        return None

    def cap_cause(self, c: Component) -> Cause | None:
        if c.steps:
            return " (its last step)", c.steps[-1].span
        return None

    def never_pays_cause(self, c: Component) -> Cause | None:
        return ": its threshold is out of reach", c.span
