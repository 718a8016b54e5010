"""Error text is part of the contract: each bad plan, its exact code, position and message."""

from __future__ import annotations

import textwrap

import pytest

from engine.core.errors import PlanErrors
from engine.plan import parse_plan

BASE = """\
plan: p
period: quarter
target_incentive: roster.ti / 4
measures:
  revenue: actuals.revenue
  attainment: revenue / targets.revenue
targets:
  revenue: roster.quota / 4
components:
  - name: bonus
    kind: curve
    input: attainment
    points: [[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]
"""


def errors_of(text: str) -> list:
    with pytest.raises(PlanErrors) as info:
        parse_plan(textwrap.dedent(text), "plan.yaml")
    return list(info.value.errors)


def one(text: str):
    errs = errors_of(text)
    assert len(errs) == 1, [e.render() for e in errs]
    return errs[0]


# (description, plan text, code, line, column, message fragment, hint fragment or None)
CASES = [
    ("unknown measure name with suggestion",
     BASE.replace("revenue / targets.revenue", "revenu / targets.revenue"),
     "unknown-name", 6, 15, "unknown name 'revenu'", "did you mean 'revenue'?"),
    ("unknown function",
     BASE.replace("input: attainment", "input: maxx(attainment, 0)"),
     "unknown-function", 12, 12, "unknown function 'maxx'", "did you mean 'max'?"),
    ("unknown target",
     BASE.replace("revenue / targets.revenue", "revenue / targets.revnue"),
     "unknown-name", 6, 33, "unknown target 'revnue'", "did you mean 'revenue'?"),
    ("unknown top-level key",
     BASE + "capp: 100\n",
     "unknown-key", 14, 1, "unknown key 'capp' in the plan", "did you mean 'cap'?"),
    ("unknown component key",
     BASE + "    beyound: flat\n",
     "unknown-key", 14, 5, "unknown key 'beyound' in component 'bonus' (kind curve)", "did you mean 'beyond'?"),
    ("unknown kind",
     BASE.replace("kind: curve", "kind: curv"),
     "bad-value", 11, 11, "unknown component kind 'curv'", "did you mean 'curve'?"),
    ("Python attribute access is not the language",
     BASE.replace("input: attainment", "input: attainment.__class__"),
     "not-in-language", 12, 23, "'__class__' is not a name in the plan language", "'__'"),
    ("import is not a name",
     BASE.replace("input: attainment", "input: __import__('os')"),
     "not-in-language", 12, 12, "'__import__' is not a name in the plan language", "cannot reach Python"),
    ("method call on a call",
     BASE.replace("input: attainment", "input: \"open('x').read()\""),
     "not-in-language", 12, 22, "method calls", None),
    ("lambda is not the language",
     BASE.replace("input: attainment", "input: lambda x: x"),
     "yaml-syntax", 12, 20, "invalid YAML", None),
    ("measure named like a Python special name",
     BASE.replace("  revenue: actuals.revenue", "  __revenue__: actuals.revenue"),
     "bad-identifier", 5, 3, "'__revenue__' is not a valid name in measures", "'__'"),
    ("power operator",
     BASE.replace("input: attainment", "input: attainment ** 2"),
     "not-in-language", 12, 23, "'**' is not an operator here: exponentiation is not supported", "x * x"),
    ("subscript",
     BASE.replace("input: attainment", "input: \"attainment[0]\""),
     "not-in-language", 12, 23, "indexing", None),
    ("if-else",
     BASE.replace("input: attainment", "input: 1 if attainment else 0"),
     "not-in-language", 12, 14, "'if' is not part of the expression language", "where(condition, a, b)"),
    ("single equals",
     BASE.replace("input: attainment", "input: where(attainment = 1, 1, 0)"),
     "not-in-language", 12, 29, "'=' is not a comparison", "'=='"),
    ("condition used as a number",
     BASE.replace("input: attainment", "input: attainment > 1"),
     "type-mismatch", 12, 12, "the input of component 'bonus' must be a number, but this is a condition",
     "where(attainment > 1, 1, 0)"),
    ("number used as a gate",
     BASE + "    when: attainment\n",
     "type-mismatch", 14, 11, "must be a condition, but this is a number", "attainment > 0"),
    ("text in arithmetic",
     BASE.replace("input: attainment", "input: attainment * \"x\""),
     "type-mismatch", 12, 25, "each side of '*' must be a number, but '\"x\"' is a text", None),
    ("wrong argument count",
     BASE.replace("input: attainment", "input: \"clip(attainment, 0)\""),
     "wrong-arguments", 12, 13, "clip() takes 3 arguments, got 2", "clip(x, lo, hi)"),
    ("non-increasing curve points",
     BASE.replace("[[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]", "[[0.5, 0.25], [0.5, 1.0], [1.5, 2.0]]"),
     "curve-order", 13, 28, "must increase strictly (0.5 comes after 0.5)", None),
    ("curve point depends on data",
     BASE.replace("[[0.5, 0.25], [1.0, 1.0], [1.5, 2.0]]", "[[0.5, 0.25], [revenue, 1.0]]"),
     "not-constant", 13, 28, "'revenue' cannot be used in a point's x of component 'bonus'", "parameters"),
    ("duplicate component",
     BASE + "  - name: bonus\n    kind: step\n    input: attainment\n    steps: [{at: 1, pay: 100}]\n",
     "duplicate-name", 14, 11, "there are two components named 'bonus'", "line 10"),
    ("duplicate YAML key",
     BASE.replace("  revenue: roster.quota / 4", "  revenue: roster.quota / 4\n  revenue: roster.quota / 2"),
     "duplicate-key", 9, 3, "key 'revenue' appears twice", "line 8"),
    ("measure cycle",
     BASE.replace("  revenue: actuals.revenue", "  revenue: attainment * 2"),
     "cycle", 5, 12, "depend on each other in a circle", None),
    ("forward component reference",
     BASE.replace("input: attainment", "input: later")
     + "  - name: later\n    kind: step\n    input: attainment\n    steps: [{at: 1, pay: 100}]\n",
     "forward-reference", 12, 12, "component 'later' is defined after this one", "earlier"),
    ("weight on a rate component",
     BASE + "  - name: c\n    kind: rate\n    base: revenue\n    rate: 3%\n    weight: 0.5\n",
     "weight-not-allowed", 18, 13, "it pays amounts, so it cannot have a 'weight'", None),
    ("parameter outside its bounds",
     "parameters:\n  t: {value: 1.2, min: 0.5, max: 1.0}\n" + BASE,
     "parameter-bounds", 2, 14, "parameter 't' has value 1.2 outside its bounds [0.5, 1]", None),
    ("a comma cuts an unquoted expression in a flow mapping",
     BASE + "  - name: s\n    kind: step\n    input: attainment\n    steps: [{at: 1, pay: max(1, 2)}]\n",
     "syntax", 17, 30, "the expression ends too early", "quoted"),
    ("clawback without accumulate",
     BASE + "clawback: true\n",
     "bad-value", 14, 11, "clawback only applies with 'accumulate: year'", None),
    ("only the last tier may omit upto",
     BASE + "  - name: c\n    kind: rate\n    base: revenue\n    tiers:\n      - {rate: 1%}\n      - {upto: 10, rate: 2%}\n",
     "missing-key", 18, 9, "only the last tier of component 'c' may omit 'upto'", None),
    ("bad period",
     BASE.replace("period: quarter", "period: quartr"),
     "bad-value", 2, 9, "period must be one of month, quarter, half, year (got 'quartr')", "did you mean 'quarter'?"),
    # Deep expressions are refused where the limit is crossed (engine.plan.expr.MAX_NESTING = 50,
    # MAX_DEPTH = 200), never a RecursionError.
    ("150 nested parentheses",
     BASE.replace("revenue / targets.revenue", "(" * 150 + "revenue" + ")" * 150 + " / targets.revenue"),
     "too-deep", 6, 15 + 50, "expression nested too deeply (more than 50 levels", "measures"),
    ("1,000-term sum",
     BASE.replace("revenue / targets.revenue", " + ".join(["revenue"] * 1000)),
     "too-deep", 6, 15 + 7 + 199 * 10 + 1, "expression too deep (more than 200 operators", "measures"),
    ("4,000 unary minuses",
     BASE.replace("revenue / targets.revenue", "-" * 4000 + "revenue"),
     "too-deep", 6, 15 + 50, "expression nested too deeply", None),
    ("1,500 nested abs",
     BASE.replace("revenue / targets.revenue", "abs(" * 1500 + "revenue" + ")" * 1500),
     "too-deep", 6, 15 + 50 * 4, "expression nested too deeply", None),
    ("YAML nested 5,000 brackets deep",
     "a: " + "[" * 5000 + "]" * 5000 + "\n",
     "yaml-too-deep", 1, 3 + 65, "the YAML nests more than 64 levels deep", "brackets"),
    ("tab indentation",
     BASE.replace("  revenue: actuals.revenue", "\trevenue: actuals.revenue"),
     "yaml-syntax", 5, 1, "found character '\\t'", "indent with spaces, not tabs (YAML does not allow tabs"),
    ("power operator in a measure",
     BASE.replace("revenue / targets.revenue", "revenue ** 2"),
     "not-in-language", 6, 23, "'**' is not an operator here: exponentiation is not supported", "x * x"),
    ("caret as power",
     BASE.replace("revenue / targets.revenue", "revenue ^ 2"),
     "not-in-language", 6, 23, "'^' is not an operator here: exponentiation is not supported", "x * x"),
    ("dunder call in a measure",
     BASE.replace("revenue / targets.revenue", '__import__("os")'),
     "not-in-language", 6, 15, "'__import__' is not a name in the plan language", "'__'"),
    ("dunder attribute of a prefix",
     BASE.replace("revenue / targets.revenue", "roster.__dict__"),
     "not-in-language", 6, 22, "'__dict__' is not a name in the plan language", None),
    ("tab indenting a list item",
     BASE.replace("  - name: bonus", "\t- name: bonus"),
     "yaml-syntax", 10, 1, "found character '\\t'", "indent with spaces, not tabs (YAML does not allow tabs"),
]


@pytest.mark.parametrize("expr", ["revenue ** 2", '__import__("os")', "revenue.__class__", "(revenue +)",
                                  "(" * 60 + "revenue", " + ".join(["revenue"] * 1000)])
def test_a_broken_expression_is_one_error_without_follow_ons(expr):
    """The measure whose expression does not parse is reported once; its uses elsewhere are
    not reported again as unknown names (with a misleading did-you-mean)."""
    errs = errors_of(BASE.replace("revenue / targets.revenue", expr))
    assert len(errs) == 1, [e.render() for e in errs]
    assert errs[0].span.line == 6


@pytest.mark.parametrize("desc,text,code,line,col,message,hint", CASES, ids=[c[0] for c in CASES])
def test_bad_plan_reports_code_position_message(desc, text, code, line, col, message, hint):
    """Every bad plan names the file, line and column, a stable code and what to do."""
    err = errors_of(text)[0]
    assert err.code == code, err.render()
    assert err.span is not None and err.span.file == "plan.yaml"
    assert (err.span.line, err.span.column) == (line, col), err.render()
    assert message in err.message, err.render()
    if hint is not None:
        assert err.hint is not None and hint in err.hint, err.render()


def test_scorecard_weights_must_sum_to_one():
    """Scorecard metric weights must sum to 1 within 1e-9."""
    text = BASE + (
        "  - name: kpi\n    kind: scorecard\n    metrics:\n"
        "      - {name: a, input: attainment, weight: 0.5, points: [[0, 0], [1, 1]]}\n"
        "      - {name: b, input: attainment, weight: 0.4, points: [[0, 0], [1, 1]]}\n"
    )
    err = one(text)
    assert err.code == "weights-sum"
    assert "must sum to 1 (got 0.9)" in err.message
    ok = text.replace("weight: 0.4", "weight: 0.5")
    parse_plan(ok, "plan.yaml")


def test_every_problem_reported_at_once():
    """Validation collects every problem before raising once."""
    text = (BASE.replace("period: quarter", "period: weekly")
            .replace("revenue / targets.revenue", "revenu / targets.revenue")
            + "  - name: bonus\n    kind: step\n    input: attainment\n    steps: [{at: 1, pay: 100}]\n")
    codes = sorted(e.code for e in errors_of(text))
    assert codes == ["bad-value", "duplicate-name", "unknown-name"]


def test_rendered_error_shows_line_and_caret():
    """The rendered error is FILE:LINE:COL: error[CODE]: message, the line, and a caret under the span."""
    err = one(BASE.replace("revenue / targets.revenue", "revenu / targets.revenue"))
    text = err.render()
    lines = text.splitlines()
    assert lines[0] == "plan.yaml:6:15: error[unknown-name]: unknown name 'revenu'"
    assert "  attainment: revenu / targets.revenue" in lines[2]
    caret_line = lines[3]
    assert caret_line.index("^") == lines[2].index("revenu /")
    assert caret_line.count("^") == len("revenu")
    assert lines[-1] == "  = hint: did you mean 'revenue'?"


def test_alias_bomb_refused_without_expanding():
    """A YAML alias bomb is refused by counting, not expanded."""
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    err = one("\n".join(levels) + "\n")
    assert err.code == "yaml-too-large"


def test_oversized_plan_refused(tmp_path):
    """A plan file over the size limit is refused before parsing."""
    from engine.plan import load_plan
    from engine.plan.source import MAX_BYTES

    p = tmp_path / "huge.yaml"
    p.write_text("# " + "x" * (MAX_BYTES + 10) + "\n")
    with pytest.raises(PlanErrors) as info:
        load_plan(p)
    assert info.value.errors[0].code == "file-too-large"


def test_unicode_identifiers():
    """Identifiers follow Python's rules, so plans may be written in any script."""
    text = textwrap.dedent("""\
        plan: 销售计划
        period: month
        target_incentive: roster.ti / 12
        measures:
          销售额: actuals.revenue
          回款率: "safe_div(actuals.collected, 销售额, 0)"
        targets:
          销售额: roster.quota / 12
        components:
          - name: 奖金
            kind: curve
            input: 销售额 / targets.销售额
            points: [[0.5, 0.25], [1.0, 1.0]]
            when: 回款率 >= 80%
    """)
    checked = parse_plan(text, "cn.yaml")
    assert checked.plan.components[0].name == "奖金"
