"""``kind: rate``: a rate times a base, single or in tiers.

With ``rate:`` the pay is ``rate x base``. With ``tiers:`` each tier pays its rate on the
part of the base up to its ``upto`` (marginal), or, with ``retroactive: true``, the rate of
the highest tier reached applies to the whole base. A negative base earns the first tier's
rate. The ``upto`` values may depend on data, so their order is checked at evaluation too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import EvaluationError
from engine.plan.findings import Fall, Finding, Jump, LintContext
from engine.plan.functions import NUM
from engine.plan.kinds.base import Cause, Kind, LinePay, Pay
from engine.plan.model import Code, Component, Tier

if TYPE_CHECKING:
    from engine.plan.compile import ComponentLowering, PayEnv
    from engine.plan.parse import Reader
    from engine.plan.reference import ReferenceEvaluator, Trace
    from engine.plan.source import YMap
    from engine.plan.validate import ComponentChecks

__all__ = ["RateKind"]


class RateKind(Kind):
    name = "rate"
    keys = ("base", "rate", "tiers", "retroactive")
    required = ("base",)
    lint_codes = ("retroactive-negative-marginal",)

    # -- parse, check ----------------------------------------------------------------------

    def parse(self, r: Reader, item: YMap, what: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"base": r.optional_code(item.get("base"), f"base of {what}")}
        fields["retroactive"] = r.boolean(item.get("retroactive"), f"retroactive of {what}", False)
        has_rate, has_tiers = item.get("rate") is not None, item.get("tiers") is not None
        if has_rate == has_tiers:
            r.error("missing-key" if not has_rate else "bad-value",
                    f"{what} needs either 'rate' (a single rate) or 'tiers', not "
                    + ("both" if has_rate else "neither"), item.span)
        if has_rate:
            fields["rate"] = r.optional_code(item.get("rate"), f"rate of {what}")
            retroactive_node = item.get("retroactive")
            if retroactive_node is not None:
                r.error("bad-value", f"'retroactive' of {what} only applies to tiers",
                        retroactive_node.span)
        tiers = []
        seq = r.entries(item.get("tiers"), f"tiers of {what}", f"{what} needs at least one tier")
        for i, t in enumerate(seq):
            m = r.mapping(t, f"a tier of {what}", ("upto", "rate"), ("rate",))
            if m is None:
                continue
            upto = r.code(m.get("upto"), f"'upto' of a tier of {what}") if m.get("upto") is not None else None
            if m.get("upto") is None and i < len(seq) - 1:
                r.error("missing-key", f"only the last tier of {what} may omit 'upto'", m.span)
            rate = r.code(m.get("rate"), f"'rate' of a tier of {what}")
            if rate is not None:
                tiers.append(Tier(upto, rate, m.span))
        fields["tiers"] = tuple(tiers)
        return fields

    def check(self, c: Component, ck: ComponentChecks) -> None:
        ck.expect(c.base, "the base", NUM)
        ck.expect(c.rate, "the rate", NUM)
        prev = None
        for t in c.tiers:
            ck.expect(t.rate, "the rate of a tier", NUM)
            if t.upto is None:
                continue
            ck.expect(t.upto, "'upto' of a tier", NUM)
            value = ck.try_const(t.upto)
            if value is not None and prev is not None and not value > prev:
                ck.error("tiers-order",
                         f"the 'upto' values of {ck.what} must increase ({ck.fmt(value)} comes after "
                         f"{ck.fmt(prev)})", t.upto.span, "sort the tiers by 'upto'")
            if value is not None:
                prev = value

    # -- numpy -----------------------------------------------------------------------------

    def lower(self, c: Component, lo: ComponentLowering) -> Pay:
        assert c.base is not None  # required of a rate component
        base_code = c.base
        base_fn = lo.lower(base_code)
        tiers: list[tuple[Any, Any, Tier | None]]  # (upto, rate, tier) lowered; no tier for 'rate'
        if c.rate is not None:
            tiers = [(None, lo.lower(c.rate), None)]
        else:
            tiers = [(lo.lower(t.upto) if t.upto is not None else None, lo.lower(t.rate), t) for t in c.tiers]
        what = f"the base of component '{c.name}'"

        def pay(cx: PayEnv):
            base = cx.check(base_fn(cx.env), base_code, what)
            return _rate(cx, c, base, tiers)
        return pay

    def line_pay(self, c: Component, lo: ComponentLowering):
        """The tiers' rates and ``upto`` values of each rep and period, applied to any base."""
        tiers: list[tuple[Any, Any, Tier | None]]
        if c.rate is not None:
            tiers = [(None, lo.lower(c.rate), None)]
        else:
            tiers = [(lo.lower(t.upto) if t.upto is not None else None, lo.lower(t.rate), t) for t in c.tiers]

        def at(cx: PayEnv) -> LinePay:
            rates, uptos = _schedule(cx, c, tiers)
            full = lambda a: np.broadcast_to(a, cx.shape)

            def pay(base: np.ndarray, rep: np.ndarray, period: np.ndarray) -> np.ndarray:
                r = [full(x)[..., rep, period] for x in rates]
                u = [None if x is None else full(x)[..., rep, period] for x in uptos]
                return tiered(np.asarray(base, dtype=np.float64), u, r, c.retroactive)
            return pay
        return at

    # -- reference -------------------------------------------------------------------------

    def reference(self, c: Component, ev: ReferenceEvaluator, r: int, p: int, trace: Trace) -> float:
        assert c.base is not None  # required of a rate component
        note, num = ev.note, ev.num
        name = f"component '{c.name}'"
        base = ev.expr(c.base, r, p, f"the base of {name}")
        note(trace, f"  base {c.base.text} = {num(base)}")
        if c.rate is not None:
            rate = ev.expr(c.rate, r, p, f"a rate of {name}")
            note(trace, f"  rate {c.rate.text} = {num(rate)}: {num(base)} x {num(rate)} = {num(base * rate)}")
            return base * rate
        rates = [ev.expr(t.rate, r, p, f"a rate of {name}") for t in c.tiers]
        uptos = [None if t.upto is None else ev.expr(t.upto, r, p, f"an 'upto' of {name}") for t in c.tiers]
        prev = None
        for i, u in enumerate(uptos):
            if u is None:
                continue
            if (prev is None and u < 0) or (prev is not None and not u > prev):
                upto = c.tiers[i].upto
                assert upto is not None  # u was evaluated from it
                raise EvaluationError(
                    "tiers-order",
                    f"the first 'upto' of component '{c.name}' is negative ({u:g})" if prev is None else
                    f"the 'upto' values of component '{c.name}' must increase, but tier {i + 1} has "
                    f"{u:g} after {prev:g}",
                    rep=str(ev.inputs.rep_ids[r]), period=ev.inputs.periods[p].label,
                    expression=upto.text, span=upto.span)
            prev = u
        if base < 0:
            note(trace, f"  negative base earns the first tier's rate {num(rates[0])}: {num(rates[0] * base)}")
            return rates[0] * base
        if c.retroactive:
            k = 0
            for i in range(1, len(rates)):
                if base > uptos[i - 1]:
                    k = i
            note(trace, f"  retroactive: highest tier reached is tier {k + 1} (rate {num(rates[k])}), "
                 f"applied to the whole base: {num(base)} x {num(rates[k])} = {num(rates[k] * base)}")
            return rates[k] * base
        total, lower = 0.0, 0.0
        for i, (u, rate) in enumerate(zip(uptos, rates)):
            top = base if u is None else min(base, u)
            piece = max(top - lower, 0.0)
            total += rate * piece
            note(trace, f"  tier {i + 1} ({f'above {num(lower)}' if u is None else f'{num(lower)} to {num(u)}'}) at "
                 f"{num(rate)}: {num(piece)} x {num(rate)} = {num(rate * piece)}")
            if u is not None:
                lower = u
        if uptos[-1] is not None and base > uptos[-1]:
            note(trace, f"  above the last upto {num(uptos[-1])}: nothing")
        return total

    def thresholds(self, c: Component) -> list[tuple[str, Code | None, Code]]:
        if c.base is None:
            return []
        return [("tier", c.base, t.upto) for t in c.tiers if t.upto is not None]

    # -- summary ---------------------------------------------------------------------------

    def summary(self, c: Component) -> str:
        assert c.base is not None
        if c.rate is not None:
            return f"{c.rate.text} x {c.base.text}"
        tiers = "; ".join(f"{t.rate.text} up to {t.upto.text}" if t.upto else f"{t.rate.text} above"
                          for t in c.tiers)
        return f"{'retroactive' if c.retroactive else 'marginal'} tiers on {c.base.text}: {tiers}"

    def inputs(self, c: Component) -> list[Code]:
        out = [x for x in (c.base, c.rate) if x is not None]
        return out + [t.rate for t in c.tiers] + [t.upto for t in c.tiers if t.upto is not None]

    # -- lint ------------------------------------------------------------------------------

    def rerates(self, c: Component) -> bool:
        return c.retroactive

    def cliff_cause(self, c: Component, scan: LintContext, jump: Jump, k: int) -> Cause:
        if not c.retroactive:
            return "", c.span
        # The k-th jump of a retroactive component is at its k-th tier whose rate goes up.
        rates = _tier_rates(c, scan) or []
        up = [i for i in range(1, len(rates)) if rates[i] > rates[i - 1]]
        if k < len(up):
            i = up[k]
            text = (f" (crossing into tier {i + 1} re-rates the whole base from "
                    f"{scan.pct(rates[i - 1])} to {scan.pct(rates[i])})")
            return text, c.tiers[i].span
        return " (a retroactive tier re-rates the whole base)", c.span

    def drop_cause(self, c: Component, scan: LintContext) -> Cause:
        if c.tiers:
            rates = _tier_rates(c, scan) or []
            for i, r in enumerate(rates):
                if r < 0:
                    return f" (tier {i + 1} has a negative rate, {scan.pct(r)})", c.tiers[i].span
        return "", c.span

    def cap_cause(self, c: Component) -> Cause | None:
        if c.tiers and c.tiers[-1].upto is not None:
            return " (nothing is paid above the last tier)", c.tiers[-1].span
        return None

    def lint_drop(self, c: Component, scan: LintContext, fall: Fall, k: int) -> Finding | None:
        """A retroactive component's ``k``-th fall is at its ``k``-th tier whose rate goes down."""
        if not c.retroactive:
            return None
        all_rates = _tier_rates(c, scan)
        down = ([i for i in range(1, len(all_rates)) if all_rates[i] < all_rates[i - 1]]
                if all_rates else [])
        tier = down[k] if k < len(down) else None
        pct, money = scan.pct, scan.money
        detail, span = "", c.span
        if tier is not None and all_rates is not None:
            detail = (f": crossing into tier {tier + 1} re-rates the whole base from "
                      f"{pct(all_rates[tier - 1])} down to {pct(all_rates[tier])}")
            span = c.tiers[tier].span
        amount = fall.peak - fall.bottom
        text = scan.fall_text(f"component '{c.name}'", fall, detail)
        if math.isinf(fall.regained):
            why = (f"the sale that crosses {pct(fall.lo)} costs the rep {money(amount)}: reps "
                   "just below it will stop selling for the period")
        else:
            why = (f"the sale that crosses {pct(fall.lo)} costs the rep {money(amount)}: a rep "
                   "just below it will hold deals back unless they can clear "
                   f"{pct(fall.regained)}")
        return scan.finding("retroactive-negative-marginal", c.name, (fall.lo, fall.regained), "warning",
                            text, why, span)

    def lint_plan(self, c: Component, scan: LintContext, findings: list[Finding]) -> None:
        """Retroactive tiers whose rate goes down, when the scan could not place the fall."""
        placed = {f.component for f in findings if f.code == "retroactive-negative-marginal"}
        if not c.retroactive or c.name in placed:
            return
        rates = _tier_rates(c, scan)
        if rates is None:
            return
        pct = scan.pct
        for i in range(1, len(rates)):
            if rates[i] < rates[i - 1]:
                upto = c.tiers[i - 1].upto
                findings.append(scan.finding(
                    "retroactive-negative-marginal", c.name, None, "warning",
                    f"component '{c.name}': tier {i + 1} has a lower rate ({pct(rates[i])}) "
                    f"than tier {i} ({pct(rates[i - 1])}), so crossing "
                    f"{upto.text if upto is not None else 'the boundary'} re-rates the whole "
                    f"base down and pay falls by ({pct(rates[i - 1])} - {pct(rates[i])}) x "
                    "that amount",
                    "the sale that crosses the boundary costs the rep money: reps will hold "
                    "deals back at the boundary",
                    c.tiers[i].span))


def _tier_rates(c: Component, scan: LintContext) -> list[float] | None:
    """The tiers' rates when they are all constant, else None."""
    rates = [scan.const(t.rate) for t in c.tiers]
    known = [r for r in rates if r is not None]
    return None if len(known) < len(rates) else known


def _schedule(cx: PayEnv, c: Component, tiers) -> tuple[list, list]:
    """``(rates, uptos)`` of every tier over the evaluation, checked."""
    name = f"component '{c.name}'"
    rates = []
    uptos = []
    for upto_fn, rate_fn, tier in tiers:
        code = tier.rate if tier is not None else c.rate
        rates.append(cx.check(rate_fn(cx.env), code, f"a rate of {name}"))
        uptos.append(None if upto_fn is None else
                     cx.check(upto_fn(cx.env), tier.upto, f"an 'upto' of {name}"))
    _check_uptos(cx, c, uptos)
    return rates, uptos


def _rate(cx: PayEnv, c: Component, base: np.ndarray, tiers) -> np.ndarray:
    rates, uptos = _schedule(cx, c, tiers)
    return tiered(base, uptos, rates, c.retroactive, cx.shape)


def tiered(base: np.ndarray, uptos: list, rates: list, retroactive: bool, shape=None) -> np.ndarray:
    """Pay of a base under tiers (marginal, or retroactive); a negative base earns the first
    tier's rate."""
    if retroactive:
        rate = rates[0]
        for i in range(1, len(rates)):
            rate = np.where(base > uptos[i - 1], rates[i], rate)
        return rate * base
    pay = np.zeros(np.broadcast_shapes(np.shape(base), *(np.shape(r) for r in rates)) if shape is None else shape)
    lower = 0.0
    for upto, rate in zip(uptos, rates):
        piece = np.subtract(base, lower)
        np.maximum(piece, 0.0, out=piece)
        if upto is not None:
            np.minimum(piece, np.subtract(upto, lower), out=piece)
        piece *= rate
        pay += piece
        lower = upto if upto is not None else lower
    negative = base < 0
    if negative.any():
        pay = np.where(negative, rates[0] * base, pay)
    return pay


def _check_uptos(cx: PayEnv, c: Component, uptos: list) -> None:
    env = cx.env
    prev = None
    for i, u in enumerate(uptos):
        if u is None:
            continue
        bad = (u < 0) if prev is None else (u <= prev)
        bad = np.broadcast_to(bad, env.shape) & env.active
        if bad.any():
            pos = tuple(np.argwhere(bad)[0])
            upto = c.tiers[i].upto
            assert upto is not None  # u came from it
            got = np.broadcast_to(u, env.shape)[pos]
            msg = (f"the first 'upto' of component '{c.name}' is negative ({got:g})" if prev is None else
                   f"the 'upto' values of component '{c.name}' must increase, but tier {i + 1} has "
                   f"{got:g} after {np.broadcast_to(prev, env.shape)[pos]:g}")
            raise EvaluationError("tiers-order", msg, rep=str(env.inputs.rep_ids[pos[-2]]),
                                  period=env.inputs.periods[pos[-1]].label, expression=upto.text,
                                  span=upto.span)
        prev = u
