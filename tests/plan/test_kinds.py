"""The registry of component kinds: one module per kind, dispatched from one table."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import PlanErrors
from engine.data.summary import summarize
from engine.plan import ReferenceEvaluator, compile_plan, kinds, parse_plan
from engine.plan.functions import NUM
from engine.plan.kinds import HOOKS, KINDS, Kind
from engine.plan.lint import lint_plan
from engine.plan.model import Code
from tests.plan.helpers import make_inputs

ENGINE = Path(__file__).resolve().parents[2] / "engine"


HEADER = """
plan: p
period: month
target_incentive: roster.ti
measures:
  att: actuals.revenue / roster.quota
components:
"""


def _component(kind: str) -> str:
    """A minimal valid component of each built-in kind."""
    return {
        "curve": "  - {name: c, kind: curve, input: att, points: [[0, 0], [1, 1]]}\n",
        "rate": "  - {name: c, kind: rate, base: actuals.revenue, rate: 0.1}\n",
        "step": "  - {name: c, kind: step, input: att, steps: [{at: 1, pay: 100}]}\n",
        "scorecard": ("  - name: c\n    kind: scorecard\n    metrics:\n"
                      "      - {name: m, input: att, weight: 1, points: [[0, 0], [1, 1]]}\n"),
        "rank": "  - {name: c, kind: rank, by: att, awards: [100]}\n",
    }[kind]


def test_every_kind_implements_every_hook():
    """Every row of the table is a Kind whose name is its key, with its keys and every hook;
    the stage hooks (parse, check, lower, reference, summary, inputs) are its own."""
    for name, kind in KINDS.items():
        assert isinstance(kind, Kind) and kind.name == name
        assert kind.keys and set(kind.required) <= set(kind.keys)
        for hook in HOOKS:
            assert callable(getattr(kind, hook, None)), (name, hook)
        for hook in ("parse", "check", "lower", "reference", "summary", "inputs"):
            assert getattr(type(kind), hook) is not getattr(Kind, hook), (name, hook)


def test_the_parser_accepts_exactly_the_kinds_of_the_table():
    """Each kind of the table parses; any other kind is refused, with the table as the hint."""
    assert list(KINDS) == ["curve", "rate", "step", "scorecard", "rank"]  # messages list them so
    for name in KINDS:
        checked = parse_plan(HEADER + _component(name) + "\n")
        assert checked.plan.components[0].kind == name
    with pytest.raises(PlanErrors) as err:
        parse_plan(HEADER + "  - {name: c, kind: bonus, input: att}\n")
    (e,) = err.value.errors
    assert e.code == "bad-value" and e.message == "unknown component kind 'bonus'"
    assert e.hint == "kinds: " + ", ".join(KINDS)
    with pytest.raises(PlanErrors) as err:
        parse_plan(HEADER + "  - {name: c, input: att}\n")
    assert err.value.errors[0].message == "a component needs 'kind' (one of " + ", ".join(KINDS) + ")"


def _kind_switches(path: Path) -> list[int]:
    """Lines comparing something named ``kind`` with a component kind name (``c.kind ==
    "rank"``, ``kind in ("rate", "step")``)."""
    names = set(KINDS)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        about_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind" or
                         isinstance(s, ast.Name) and s.id == "kind" for s in sides)
        literals = set()
        for s in sides:
            elts = s.elts if isinstance(s, (ast.Tuple, ast.List, ast.Set)) else [s]
            literals |= {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        if about_kind and literals & names:
            found.append(node.lineno)
    return found


def test_no_switch_on_component_kinds_outside_the_kinds():
    """No module outside engine/plan/kinds tests a component's kind against a kind name: they
    ask the kind's row of the table."""
    bad = {}
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ENGINE.parent).as_posix()
        if rel.startswith("engine/plan/kinds/"):
            continue
        lines = _kind_switches(path)
        if lines:
            bad[rel] = lines
    assert not bad, f"switches on component kinds (dispatch through engine.plan.kinds instead): {bad}"


def test_the_scan_finds_a_switch(tmp_path):
    """The source scan of the previous test does see the switches it forbids."""
    src = tmp_path / "m.py"
    src.write_text('if c.kind == "rank":\n    pass\nelif ref.kind == "param":\n    pass\n'
                   'x = kind in ("curve", "step")\n')
    assert _kind_switches(src) == [1, 5]


# --------------------------------------------------------------------------- a toy kind


@dataclass(frozen=True)
class FixedSpec:
    """The fields of a ``fixed`` component: one amount per period."""

    amount: Code

    def codes(self) -> tuple[Code, ...]:
        return (self.amount,)


class FixedKind(Kind):
    """``kind: fixed``: pays ``amount`` every period (a toy kind, in one class)."""

    name = "fixed"
    keys = ("amount",)
    required = ("amount",)

    def parse(self, r, item, what):
        amount = r.optional_code(item.get("amount"), f"amount of {what}")
        return {"spec": FixedSpec(amount)} if amount is not None else {}

    def check(self, c, ck):
        ck.expect(c.spec.amount if c.spec else None, "the amount", NUM)

    def lower(self, c, lo):
        code = c.spec.amount
        fn = lo.lower(code)
        return lambda cx: cx.check(fn(cx.env), code, f"the amount of component '{c.name}'")

    def reference(self, c, ev, r, p, trace):
        amount = ev.expr(c.spec.amount, r, p, f"the amount of component '{c.name}'")
        ev.note(trace, f"  pays {ev.num(amount)}")
        return amount

    def summary(self, c):
        return f"{c.spec.amount.text} per period"

    def inputs(self, c):
        return [c.spec.amount]


TOY = HEADER + """\
  - {name: base_pay, kind: fixed, amount: "roster.ti / 10", cap: 150}
  - {name: bonus, kind: curve, input: att, points: [[0.5, 0], [1, 1]], when: base_pay > 0}
"""


def test_a_new_kind_is_one_module_and_a_row(monkeypatch):
    """A kind registered in (a copy of) the table parses, validates, compiles, agrees with
    the reference evaluator, is summarized and linted: nothing else needs to change."""
    with pytest.raises(PlanErrors, match="unknown component kind 'fixed'"):
        parse_plan(TOY)
    monkeypatch.setattr(kinds, "KINDS", {**KINDS, "fixed": FixedKind()})
    checked = parse_plan(TOY)
    c = checked.plan.components[0]
    assert c.kind == "fixed" and c.spec.amount.text == "roster.ti / 10"
    assert c.spec.amount in checked.plan.codes()

    inputs = make_inputs({"ti": [1000.0, 2000.0], "quota": [100.0, 100.0]},
                         {"revenue": [[40.0, 80.0, 120.0], [100.0, 0.0, 75.0]]})
    fast = compile_plan(checked).evaluate(inputs)
    slow = ReferenceEvaluator(checked, inputs).run()
    np.testing.assert_allclose(fast.earned["base_pay"], [[100, 100, 100], [150, 150, 150]])
    for res in (fast, slow):
        np.testing.assert_allclose(res.earned["bonus"], [[0, 600, 1000 * 1.4], [2000, 0, 1000]])
        np.testing.assert_allclose(res.total, np.asarray(fast.earned["base_pay"]) + res.earned["bonus"])
    np.testing.assert_allclose(fast.total, slow.total)

    trace: list[str] = []
    ReferenceEvaluator(checked, inputs).component_earned("base_pay", 1, 0, trace)
    assert trace == ["  pays 200", "  cap 150 = 150: 200 capped to 150"]

    text = summarize(checked)
    assert "  base_pay (fixed): roster.ti / 10 per period" in text
    assert isinstance(lint_plan(checked), list)


def test_a_new_kind_gets_the_common_checks(monkeypatch):
    """Keys, required keys, weights and types of a new kind are checked like any kind's."""
    monkeypatch.setattr(kinds, "KINDS", {**KINDS, "fixed": FixedKind()})
    with pytest.raises(PlanErrors) as err:
        parse_plan(HEADER + "  - {name: f, kind: fixed, input: att, weight: 0.5}\n")
    messages = [e.message for e in err.value.errors]
    assert "unknown key 'input' in component 'f' (kind fixed)" in messages
    assert "component 'f' (kind fixed) needs 'amount'" in messages
    assert "component 'f' is a 'fixed' component: it pays amounts, so it cannot have a 'weight'" in messages
    with pytest.raises(PlanErrors) as err:
        parse_plan(HEADER + "  - {name: f, kind: fixed, amount: att > 1}\n")
    assert err.value.errors[0].code == "type-mismatch"
    assert err.value.errors[0].message == "the amount of component 'f' must be a number, but this is a condition"
