"""The default team shaped to a plan: its own roster and actuals column names, its deals.

A plan written for a team's own data (``roster.年度指标``, ``actuals.新客户金额``,
``actuals.客户类型 == '新客户'``) names columns the scenario's team does not have. Rather than
asking the user to rewrite the plan or hand-write a scenario, :func:`shape_scenario` maps
each column the plan names onto the team:

* **roster columns** the team lacks: a column the plan's targets, target incentive or base
  pay read is a multiple of the team's quota, target incentive or base salary, the multiple
  chosen so that the plan's own expression gives the team's amount
  (:func:`engine.plan.reference_rep.shaped_roles`: ``年度指标 / 4`` reads a quota, ``月底薪 * 3``
  a monthly salary); another number keeps a documented default by its name; a text column
  (``roster.region == 'EAST'``) the first value the plan names;
* **actuals columns** the scenario does not produce: those the plan measures against a
  target (its attainment, possibly a sum of several columns) are shares of the scenario's
  primary amount, in equal parts (``新客户金额 + 老客户金额`` is driven as a whole); any other
  number is the primary amount itself;
* **deals**: a plan with row-level measures sees the primary amount arrive as deals
  (:class:`~engine.sim.scenario.Deals`: the scenario's ``deals`` section, else the primary
  output's own deal count and size spread, and for each text attribute the values the plan
  names in equal shares, plus a share of values it does not name where it provides for them:
  one value named, a ``has()``, a lookup with a default, ``!=`` or ``not in``).

Everything the scenario states itself (its roster columns, outputs, ``columns:`` and
``deals:`` sections) wins: only what is missing is mapped, and :func:`describe` says how.

Public: :func:`shape_scenario`, :func:`mix_for`, :func:`describe`, :class:`Shaping`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.core.inputs import Mix
from engine.plan import expr as ex
from engine.plan.reference_rep import (
    measured_against,
    reference_attributes,
    reference_values,
    roster_values,
    shaped_roles,
)
from engine.plan.validate import CheckedPlan
from engine.sim.payment import pays_on_payment, rides_on_deals
from engine.sim.scenario import Deals, Output, Scenario

__all__ = ["Shaping", "describe", "mix_columns", "mix_for", "shape_scenario"]

_ROLE_SOURCE = {"target": None, "ti": "ti", "base_pay": "base_salary"}  # None: the primary target (quota)
_ECONOMY = {"target": 1_000_000.0, "ti": 20_000.0, "base_pay": 80_000.0}
_MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}
SIZE_NODES = 3
"""Deal sizes per kind of deal: the Gauss-Hermite nodes of the lognormal size spread."""


@dataclass(frozen=True)
class Shaping:
    """How a plan's columns were mapped onto the team (for ``check`` and the notes)."""

    roster: tuple[tuple[str, str], ...] = ()  # (column, how)
    actuals: tuple[tuple[str, str], ...] = ()
    deals: str = ""


def _team_columns(scenario: Scenario) -> set[str]:
    base = {scenario.primary_target, "ti", "base_salary", "team", "status", "tenure_months"}
    base |= {name for name, _ in scenario.extra_columns}
    base |= {name for name, _, _ in scenario.derived_columns} | {name for name, _ in scenario.constant_columns}
    if scenario.roster is not None:
        from engine.data.load import read_table

        base |= set(read_table(scenario.roster, "roster").columns)
    return base


def _from_roster_file(checked: CheckedPlan, scenario: Scenario, derived: list,
                      notes: list[tuple[str, str]]) -> list[tuple[str, str, float]]:
    """A roster file in the plan's own columns (``年度指标`` rather than ``quota``): the team's
    quota, target incentive and base salary are read back from the plan's columns that play
    those roles (:func:`~engine.sim.population._read_roster` divides by the factor)."""
    if scenario.roster is None:
        return []
    from engine.data.load import read_table

    in_file = set(read_table(scenario.roster, "roster").columns)
    lacking = {scenario.primary_target, "ti", "base_salary"} - in_file
    if not lacking:
        return []
    done = {source for _, source, _ in derived}
    candidates = sorted(c for c in checked.roster_columns if c in in_file and c not in checked.text_roster_columns)
    if not candidates:
        return []
    roles = shaped_roles(checked, roster_values(checked, None), candidates)
    out: list[tuple[str, str, float]] = []
    for col in candidates:
        if col not in roles:
            continue
        value, role = roles[col]
        source = _ROLE_SOURCE[role] or scenario.primary_target
        if source in lacking and source not in done:
            factor = value / _ECONOMY[role]
            out.append((col, source, factor))
            done.add(source)
            notes.append((col, f"read from the roster file as the team's {source} x {factor:.6g}"))
    return out


def _attained(checked: CheckedPlan) -> list[str]:
    """Actuals columns the plan measures against a target (a ratio, difference or comparison
    of an expression of actuals only with one of targets only), in the plan's order."""
    out: list[str] = []
    for _, _, (la, lt), (ra, rt) in measured_against(checked):
        if la and not lt and rt and not ra:
            out += [c for c in sorted(la) if c not in out]
    return out


#: What a column's name says it counts, in English and Chinese: the kind of the scenario's
#: output it is modelled like (an amount otherwise).
_ROLES = (
    ("incidents", ("complaint", "incident", "refund", "return", "dispute", "投诉", "退货", "事故", "差错")),
    ("score", ("csat", "satisf", "nps", "score", "rating", "满意", "评分", "评价")),
    ("share_of", ("collect", "cash", "receiv", "回款", "收款", "到账")),
    ("count", ("customer", "logo", "meeting", "visit", "call", "lead", "account", "客户数", "新客户数", "拜访",
               "线索", "商机")),
)


def _like(col: str, scenario: Scenario) -> Output | None:
    """The scenario output a column's name says it is like (a complaints count, a
    satisfaction score, collections, a count of customers), or None for an amount."""
    name = col.lower()
    for kind, words in _ROLES:
        if any(w in name for w in words):
            return next((o for o in scenario.outputs if o.kind == kind), None)
    return None


OTHER = "(other)"
"""A value no rule of the plan names: the deals its ``has()`` or defaults are written for."""


def _handles_others(checked: CheckedPlan, col: str) -> bool:
    """Whether the plan provides for values of ``col`` it does not name: it asks ``has()``
    of it, looks it up with a default, or compares it with ``!=`` or ``not in``."""
    tables = {t.name: t for t in checked.plan.tables}
    for code in checked.plan.codes():
        for node in ex.walk(code.tree):
            key = None
            if isinstance(node, ex.Call) and node.func in ("has", "lookup") and len(node.args) >= 2:
                key = node.args[1]
                table = tables.get(node.args[0].name) if isinstance(node.args[0], ex.Name) else None
                if node.func == "lookup" and len(node.args) == 2 and (table is None or table.default is None):
                    key = None
            elif isinstance(node, ex.Compare) and node.op == "!=":
                key = node.left if isinstance(node.right, ex.Str) else node.right
            elif isinstance(node, ex.In) and node.negate:
                key = node.left
            if isinstance(key, ex.Name) and key.prefix == "actuals" and key.name == col:
                return True
    return False


def shape_scenario(checked: CheckedPlan, scenario: Scenario) -> tuple[Scenario, Shaping]:
    """The scenario with the plan's missing roster columns, actuals columns and deals mapped
    onto its team (see the module's docstring), and how."""
    plan = checked.plan
    have = _team_columns(scenario)
    roster_notes: list[tuple[str, str]] = []
    derived = list(scenario.derived_columns)
    constant = list(scenario.constant_columns)
    free = sorted(c for c in checked.roster_columns if c not in have)
    if free:
        values = roster_values(checked, None)
        numeric_free = [c for c in free if c not in checked.text_roster_columns]
        roles = shaped_roles(checked, values, numeric_free)
        per = 12 // _MONTHS.get(plan.period, 12)
        for col in free:
            if col in roles:
                value, role = roles[col]
                source = _ROLE_SOURCE[role] or scenario.primary_target
                factor = value / _ECONOMY[role]
                derived.append((col, source, factor))
                what = {"target": "the team's quota", "ti": "the team's annual target incentive",
                        "base_pay": "the team's annual base salary"}[role]
                noun = {"target": "target", "ti": "target incentive", "base_pay": "base_pay"}[role]
                roster_notes.append((col, (f"{factor:.6g} x {source} ({what}, so that the plan's {noun} is the "
                                           f"team's per {plan.period}, 1/{per} of a year)")))
            elif col in checked.text_roster_columns:
                v = values.get(col, "")
                constant.append((col, str(v)))
                roster_notes.append((col, f"'{v}' for every rep (the first value the plan names)"))
            else:
                v = values.get(col, 1.0)
                constant.append((col, float(v)))  # type: ignore[arg-type]
                roster_notes.append((col, f"{v:g} for every rep (a default by its name)"))
    derived += _from_roster_file(checked, scenario, derived, roster_notes)
    produced = {o.name for o in scenario.outputs}
    primary = scenario.primary_measure
    prim_out = scenario.output(primary) if primary in produced else None
    missing = [c for c in sorted(checked.numeric_actual_columns) if c not in produced]
    outputs = list(scenario.outputs)
    actual_notes: list[tuple[str, str]] = []
    if missing and prim_out is not None:
        attained = [c for c in _attained(checked) if c in missing]
        for col in missing:
            template = None if col in attained else _like(col, scenario)
            if template is not None:
                outputs.append(replace(template, name=col, label=None))
                note = f"like the scenario's {template.name} ({template.kind}: its name reads as one)"
                actual_notes.append((col, note))
                continue
            share = 1.0 / len(attained) if col in attained else 1.0
            outputs.append(Output(col, "share_of", prim_out.activity, (("of", primary), ("base", share),
                                                                        ("gain", 0.0))))
            actual_notes.append((col, f"{share:.4g} x {primary}" + (" (measured against a target: the plan's "
                                                                    "attainment, driven as a whole)"
                                                                    if col in attained else "")))
    deals = scenario.deals
    deal_note = ""
    if checked.row_measures:
        d = deals or Deals(count=float(prim_out.get("deals_per_month", 4.0)) if prim_out is not None and
                           prim_out.get("noise") == "deals" else 4.0,
                           size_sigma=float(prim_out.get("size_sigma", 0.8)) if prim_out is not None else 0.8)
        attrs = dict(d.attributes)
        for col in sorted(checked.text_actual_columns):
            if col not in attrs:
                vals = reference_values(checked, col)
                if (len(vals) == 1 or _handles_others(checked, col)) and OTHER not in vals:
                    vals = [*vals, OTHER]
                attrs[col] = tuple((v, 1.0 / len(vals)) for v in vals)
        deals = replace(d, attributes=tuple(sorted(attrs.items())))
        if prim_out is not None:  # effort-driven values: each value's weight is an output of its activity
            have_out = {o.name for o in outputs}
            for col, driven in deals.activities:
                by_value = {v: (a, g) for v, a, g in driven}
                pairs: tuple[tuple[str, float], ...] = dict(deals.attributes).get(col, ())
                for val, fixed in pairs:
                    name = deals.mix_column(col, val)
                    if name in have_out:
                        continue
                    act, gain = by_value.get(val, (prim_out.activity, 0.0))
                    outputs.append(Output(name, "share_of", act, (("of", primary), ("base", fixed), ("gain", gain))))
        shares = "; ".join(f"{col}: " + ", ".join(f"{v or '(empty)'} {s:.0%}" for v, s in pairs)
                           for col, pairs in deals.attributes)
        deal_note = (f"{primary} arrives as {deals.count:g} deals per rep and month, sizes spread lognormally "
                     f"(sigma {deals.size_sigma:g})" + (f"; {shares}" if shares else ""))
    if deals is not None and deals.payment is not None:
        deal_note = "; ".join(n for n in (deal_note, payment_note(checked, scenario, deals)) if n)
    shaped = replace(scenario, derived_columns=tuple(derived), constant_columns=tuple(constant),
                     outputs=tuple(outputs), deals=deals)
    return shaped, Shaping(tuple(roster_notes), tuple(actual_notes), deal_note)


def payment_note(checked: CheckedPlan, scenario: Scenario, deals: Deals) -> str:
    """How the deals' payment delays and cancellations reach the plan, in words."""
    p = deals.payment
    if p is None:
        return ""
    on_payment = pays_on_payment(checked, replace(scenario, deals=deals))
    paid = f"paid {p.days:g} days after closing on average (sd {p.spread:g})"
    if on_payment:
        how = f"the plan pays on payment: {paid}" + (f", {p.cancel:.0%} cancelled and never paid" if p.cancel else "")
    else:
        how = "the plan pays at booking" + (f": {p.cancel:.0%} cancelled about {p.cancel_days:g} days after closing, "
                                            "credited back then" if p.cancel else f" ({paid})")
    return how


def mix_for(checked: CheckedPlan, scenario: Scenario) -> Mix | None:
    """The kinds of deal inside each simulated period row, for a plan with row-level
    measures: every combination of attribute values (their shares multiplied) at
    :data:`SIZE_NODES` deal sizes. None without row-level measures."""
    if not checked.row_measures or scenario.deals is None:
        return None
    d = scenario.deals
    x, w = np.polynomial.hermite_e.hermegauss(SIZE_NODES)
    w = w / w.sum()
    s = float(d.size_sigma)
    sizes = np.exp(s * x)  # lognormal at the nodes, scaled to a weighted mean of exactly 1
    sizes = sizes / float(np.dot(w, sizes))
    combos: list[tuple[dict[str, str], float]] = [({}, 1.0)]
    for col, pairs in d.attributes:
        combos = [({**attrs, col: value}, share * p) for attrs, share in combos for value, p in pairs if p > 0]
    attrs_cols = [col for col, _ in d.attributes]
    defaults = reference_attributes(checked)
    J = len(combos) * SIZE_NODES
    attributes = {col: np.array([c[0].get(col, defaults.get(col, "")) for c in combos for _ in range(SIZE_NODES)],
                                dtype=object) for col in attrs_cols}
    for col in checked.text_actual_columns:
        attributes.setdefault(col, np.full(J, defaults.get(col, ""), dtype=object))
    size = np.tile(sizes, len(combos))
    share = np.array([c[1] * wq for c in combos for wq in w])
    months = _MONTHS.get(checked.plan.period, 12)
    driven = []
    pairs_of = dict(d.attributes)
    for col, _ in d.activities:
        values = tuple(v for v, p in pairs_of.get(col, ()) if p > 0)
        fixed = dict(pairs_of.get(col, ()))
        index = np.array([values.index(c[0][col]) for c in combos for _ in range(SIZE_NODES)], dtype=np.int64)
        static = np.array([fixed[c[0][col]] for c in combos for _ in range(SIZE_NODES)])
        driven.append((col, tuple(d.mix_column(col, v) for v in values), index, static))
    # Columns gathered other than by summing that no deal amount rides on (a survey score
    # averaged over the period): every deal carries the period's value, not a share of it.
    numeric = [c for c in checked.actual_columns if c not in checked.text_actual_columns]
    carried = set(rides_on_deals(scenario, numeric))
    levels = frozenset(c for c in numeric if checked.actual_columns[c] in ("mean", "last", "min", "max")
                       and c not in carried)
    return Mix(attributes=attributes, size=size, share=share / share.sum(), deals=float(d.count) * months,
               driven=tuple(driven), levels=levels)


def mix_columns(scenario: Scenario) -> list[str]:
    """The outputs carrying effort-driven deal shares (they go to the plan with its actuals)."""
    d = scenario.deals
    if d is None:
        return []
    pairs_of = dict(d.attributes)
    return [d.mix_column(col, v) for col, _ in d.activities for v, p in pairs_of.get(col, ()) if p > 0]


def describe(shaping: Shaping) -> list[str]:
    """Lines saying how the plan's columns were mapped onto the team."""
    lines = [f"  roster.{col} = {how}" for col, how in shaping.roster]
    lines += [f"  actuals.{col} = {how}" for col, how in shaping.actuals]
    if shaping.deals:
        lines.append(f"  deals: {shaping.deals}")
    return lines
