"""``kind: rank``: awards by rank among the eligible reps of each period (and group).

Reps are ranked by ``by`` (1 = highest) among those active and eligible (``when``, which
here is eligibility to compete, not a gate), within ``group`` when given; rank *k* earns
the *k*-th award, and tied reps share the awards of the ranks they cover equally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.plan.functions import ANY, NUM
from engine.plan.kinds.base import Cause, Kind, Pay, present
from engine.plan.model import Code, Component

if TYPE_CHECKING:
    from engine.plan.compile import ComponentLowering, PayEnv
    from engine.plan.parse import Reader
    from engine.plan.reference import ReferenceEvaluator, Trace
    from engine.plan.source import YMap
    from engine.plan.validate import ComponentChecks

__all__ = ["RankKind"]


class RankKind(Kind):
    name = "rank"
    keys = ("by", "group", "awards")
    required = ("by", "awards")
    own_when = True
    contest = True
    table_note = "rank components: the reference rep competes alone, so it ranks first where eligible"

    def parse(self, r: Reader, item: YMap, what: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"by": r.optional_code(item.get("by"), f"'by' of {what}"),
                                  "group": r.optional_code(item.get("group"), f"'group' of {what}")}
        awards = []
        seq = r.entries(item.get("awards"), f"awards of {what}", f"{what} needs at least one award")
        for a in seq:
            code = r.code(a, f"an award of {what}")
            if code is not None:
                awards.append(code)
        fields["awards"] = tuple(awards)
        return fields

    def check(self, c: Component, ck: ComponentChecks) -> None:
        ck.expect(c.by, "'by'", NUM)
        ck.expect(c.group, "'group'", ANY)
        for a in c.awards:
            ck.const(a, f"an award of {ck.what}")

    def lower(self, c: Component, lo: ComponentLowering) -> Pay:
        assert c.by is not None  # required of a rank component
        by_code, when_code = c.by, c.when
        by_fn = lo.lower(by_code)
        when_fn = lo.when
        group_fn = lo.lower(c.group) if c.group is not None else None
        awards = np.array([lo.const(a) for a in c.awards], dtype=np.float64)
        cum = np.concatenate([[0.0], np.cumsum(awards)])
        what = f"'by' of component '{c.name}'"

        def pay(cx: PayEnv):
            env = cx.env
            by = cx.check(by_fn(env), by_code, what)
            eligible = env.active
            if when_fn is not None:
                assert when_code is not None
                eligible = eligible & cx.cond(when_fn, when_code)
            group = None
            if group_fn is not None:
                group = cx.factorize(group_fn(env))
            rank, ties = env.ranks(("component", c.name), np.broadcast_to(by, env.shape),
                                   np.broadcast_to(eligible, env.shape), group)
            return cx.award_shares(rank, ties, eligible, cum)
        return pay

    def reference(self, c: Component, ev: ReferenceEvaluator, r: int, p: int, trace: Trace) -> float:
        note, num = ev.note, ev.num

        def eligible(o: int) -> bool:
            return ev.active[o][p] and (c.when is None or bool(ev.eval(c.when.tree, "final", o, p)))

        by = c.by
        assert by is not None  # required of a rank component
        mine = ev.expr(by, r, p, f"'by' of component '{c.name}'")
        if not eligible(r):
            if trace is not None:
                why = f"when {c.when.text}{ev.where_(c.when, r, p)} is false" if c.when else "inactive"
                note(trace, f"  not eligible ({why}): pays 0")
            return 0.0
        key = ev.eval(c.group.tree, "final", r, p) if c.group is not None else None
        better, tied = 0, 0
        for o in range(ev.R):
            if not eligible(o):
                continue
            if c.group is not None and ev.eval(c.group.tree, "final", o, p) != key:
                continue
            v = ev.expr(by, o, p, f"'by' of component '{c.name}'")
            if v > mine:
                better += 1
            elif v == mine:
                tied += 1
        awards = [ev.const(a) for a in c.awards]
        rank = better + 1
        shared = awards[rank - 1: rank - 1 + tied]
        pay = sum(shared) / tied
        where = f" in group {key!r}" if c.group is not None else ""
        note(trace, f"  {by.text} = {num(mine)}: rank {rank}{where}"
             + (f", tied with {tied - 1} other{'s' if tied > 2 else ''}" if tied > 1 else ""))
        if tied > 1:
            note(trace, f"  shares the awards of ranks {rank}-{rank + tied - 1}: "
                 f"({' + '.join(num(a) for a in shared) or '0'}) / {tied} = {num(pay)}")
        else:
            note(trace, f"  award for rank {rank}: {num(pay)}")
        return pay

    def summary(self, c: Component) -> str:
        assert c.by is not None
        group = f" within {c.group.text}" if c.group else ""
        return f"by {c.by.text}{group}, awards {', '.join(a.text for a in c.awards)}"

    def inputs(self, c: Component) -> list[Code]:
        return [c.by] if c.by is not None else []

    def profile(self, c: Component) -> list[Code]:
        return present((c.when, c.by, c.cap))

    def never_pays_cause(self, c: Component) -> Cause | None:
        if c.when is not None:
            return f": no rep is eligible ('{c.when.text}' is never true)", c.when.span
        return None
