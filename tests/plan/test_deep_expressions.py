"""Deep and hostile expressions end in one located error on the command line, never a traceback.

The limits are :data:`engine.plan.expr.MAX_NESTING` (parentheses, calls and prefix operators
open at once) and :data:`engine.plan.expr.MAX_DEPTH` (depth of the syntax tree, a chain
``a + b + c`` counting one level per operator); see "Limits" in docs/plan-language.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.plan import expr as ex
from engine.plan import parse_plan
from tests.cli import incentive, invoke

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "scenarios" / "plans" / "classic_ae.yaml"
ROSTER = ROOT / "scenarios" / "data" / "classic_ae_roster.csv"
DEALS = ROOT / "scenarios" / "data" / "classic_ae_deals.csv"
FORMULA = "input: revenue / targets.revenue"
LINE = 1 + PLAN.read_text().splitlines().index("    " + FORMULA)  # the component's input
COL = 13  # first character of the quoted expression: 4 spaces, "input: ", "'"

N, D = ex.MAX_NESTING, ex.MAX_DEPTH


def plan_with(expr: str, tmp_path: Path) -> Path:
    """The shipped classic_ae plan with ``expr`` as its component's input, in single quotes."""
    text = PLAN.read_text()
    assert FORMULA in text
    path = tmp_path / "plan.yaml"
    path.write_text(text.replace(FORMULA, f"input: '{expr}'"))
    return path


# (id, expression, column where the error points, message)
DEEP = [
    ("150 nested parentheses", "(" * 150 + "revenue" + ")" * 150 + " / targets.revenue",
     COL + N, f"expression nested too deeply (more than {N} levels"),
    ("1,000-term sum", " + ".join(["revenue"] * 1000) + " / targets.revenue",
     COL + 7 + (D - 1) * 10 + 1, f"expression too deep (more than {D} operators"),
    ("4,000 unary minuses", "-" * 4000 + "revenue / targets.revenue",
     COL + N, f"expression nested too deeply (more than {N} levels"),
    ("1,500 nested abs", "abs(" * 1500 + "revenue" + ")" * 1500 + " / targets.revenue",
     COL + 4 * N, f"expression nested too deeply (more than {N} levels"),
]

HOSTILE = [
    ("power", "revenue ** 2 / targets.revenue", COL + 8,
     "error[not-in-language]: '**' is not an operator here: exponentiation is not supported"),
    ("import", '__import__("os")', COL,
     "error[not-in-language]: '__import__' is not a name in the plan language"),
    ("dunder attribute", "revenue.__class__", COL + 8,
     "error[not-in-language]: '__class__' is not a name in the plan language"),
]


@pytest.mark.parametrize("expr,col,message", [c[1:] for c in DEEP + HOSTILE], ids=[c[0] for c in DEEP + HOSTILE])
def test_check_refuses_with_one_located_error(tmp_path, expr, col, message):
    """`incentive check` exits 2 with exactly one error at FILE:LINE:COL, a hint, and no traceback."""
    plan = plan_with(expr, tmp_path)
    proc = incentive("check", plan)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-2000:]
    assert "Traceback" not in out and "RecursionError" not in out
    assert f"{plan}:{LINE}:{col}: error[" in proc.stderr, proc.stderr[:500]
    assert message in proc.stderr, proc.stderr[:500]
    assert "= hint:" in proc.stderr
    assert "1 error found" in proc.stderr
    assert "did you mean" not in proc.stderr


def test_tab_indentation_hint(tmp_path):
    """A plan indented with a tab is a YAML error at the tab, with a hint to use spaces."""
    text = PLAN.read_text()
    plan = tmp_path / "plan.yaml"
    plan.write_text(text.replace("    kind: curve", "\tkind: curve"))
    line = 1 + text.splitlines().index("    kind: curve")
    proc = incentive("check", plan)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert f"{plan}:{line}:1: error[yaml-syntax]: invalid YAML: found character '\\t'" in proc.stderr
    assert "hint: indent with spaces, not tabs (YAML does not allow tabs for indentation)" in proc.stderr


@pytest.mark.parametrize("command", ["payout", "explain", "simulate"])
@pytest.mark.parametrize("expr,col,message", [c[1:] for c in DEEP], ids=[c[0] for c in DEEP])
def test_other_commands_refuse_cleanly(tmp_path, command, expr, col, message):
    """Every command that reads a plan refuses a deep one the same way (in process)."""
    plan = plan_with(expr, tmp_path)
    extra = {"payout": ["--roster", ROSTER, "--actuals", DEALS, "--out", tmp_path / "out.csv"],
             "explain": ["--roster", ROSTER, "--actuals", DEALS, "--rep", "A001"],
             "simulate": ["--runs", "2", "--workers", "1"]}[command]
    result = invoke(command, plan, *extra)
    assert result.exit_code == 2, (result.output[-1000:], result.exception)
    assert isinstance(result.exception, SystemExit)
    assert f"{plan}:{LINE}:{col}: error[too-deep]: {message}" in result.output
    assert not (tmp_path / "out.csv").exists()


AT_LIMIT = [
    ("sum of the most terms", " + ".join(["revenue"] * D) + " / targets.revenue / 200"),
    ("deepest nesting", "(" * (N - 1) + "abs(revenue)" + ")" * (N - 1) + " / targets.revenue"),
    ("nesting around a long sum", "abs(" * (N - 1) + " + ".join(["revenue"] * (D - N)) + ")" * (N - 1)
     + " / targets.revenue"),
    ("most prefix minuses", "-" * (N - 1) + "-revenue / targets.revenue"),
]


@pytest.mark.parametrize("expr", [c[1] for c in AT_LIMIT], ids=[c[0] for c in AT_LIMIT])
def test_expressions_at_the_limits_still_run(tmp_path, expr):
    """Up to the limits, a plan checks, pays and explains (no stage recurses too deep)."""
    plan = plan_with(expr, tmp_path)
    out = tmp_path / "out.csv"
    for args in (["check", plan], ["payout", plan, "--roster", ROSTER, "--actuals", DEALS, "--out", out],
                 ["explain", plan, "--roster", ROSTER, "--actuals", DEALS, "--rep", "A001"]):
        result = invoke(*args)
        assert result.exit_code == 0, (args[0], result.output[-1000:], result.exception)
    assert out.exists()


def test_walk_does_not_recurse():
    """`walk` visits every node of a tree at the depth limit, even with little stack left."""
    text = " + ".join(["x"] * D)
    tree = ex.parse_expression(text, lambda start, end: None)
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(100)
        count = sum(1 for _ in ex.walk(tree))
    finally:
        sys.setrecursionlimit(limit)
    assert count == 2 * D - 1


def test_ordinary_shipped_plans_still_parse():
    """The limits leave the shipped plans alone."""
    for path in sorted((ROOT / "scenarios" / "plans").glob("*.yaml")):
        parse_plan(path.read_text(), str(path))  # table files are relative to the plan


def plan_with_chain(links: int, terms: int, tmp_path: Path) -> Path:
    """classic_ae with ``revenue`` at the end of ``links`` measures, each a sum of ``terms`` terms
    reading the one before: the shape the depth limit's hint ("give parts names") leads to."""
    text = PLAN.read_text()
    old = "  revenue:\n    expr: actuals.revenue\n"
    assert old in text
    chain = "  m0:\n    expr: actuals.revenue\n"
    for i in range(1, links):
        chain += f"  m{i}:\n    expr: {' + '.join([f'm{i - 1}'] + ['0'] * (terms - 1))}\n"
    path = tmp_path / "chain.yaml"
    path.write_text(text.replace(old, chain + f"  revenue:\n    expr: m{links - 1}\n"))
    return path


def test_chain_of_deep_measures_pays_and_explains(tmp_path):
    """Twelve measures, each near the depth limit and reading the one before, check, pay and
    explain (the scalar explanation settles the chain bottom-up instead of recursing through
    all twelve expressions at once), and pay what the plain plan pays."""
    plan = plan_with_chain(12, D - 5, tmp_path)
    outs = {}
    for name, path in (("chain", plan), ("plain", PLAN)):
        outs[name] = tmp_path / f"{name}.csv"
        for args in (["check", path], ["payout", path, "--roster", ROSTER, "--actuals", DEALS, "--out", outs[name]],
                     ["explain", path, "--roster", ROSTER, "--actuals", DEALS, "--rep", "A001"]):
            result = invoke(*args)
            assert result.exit_code == 0, (name, args[0], result.output[-1000:], result.exception)
            if args[0] == "explain":
                assert "total" in result.output
    assert outs["chain"].read_text() == outs["plain"].read_text().replace("classic_ae.yaml", "chain.yaml")


def test_chain_past_the_limit_is_refused(tmp_path):
    """A chain of more than MAX_CHAIN definitions is one located error, not a RecursionError in a
    later stage (summary, lint, explanation)."""
    from engine.plan.validate import MAX_CHAIN

    ok = plan_with_chain(MAX_CHAIN - 1, 2, tmp_path)  # m0..m198 and revenue: 200 links
    result = invoke("check", ok)
    assert result.exit_code == 0, (result.output[-1000:], result.exception)
    bad = plan_with_chain(MAX_CHAIN + 400, 2, tmp_path)
    proc = incentive("check", bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-2000:]
    line = 1 + bad.read_text().splitlines().index(f"  m{MAX_CHAIN}:") + 1
    assert (f"{bad}:{line}:11: error[too-deep]: m{MAX_CHAIN} is the end of a chain of more than "
            f"{MAX_CHAIN} definitions") in proc.stderr
    assert "1 error found" in proc.stderr
