"""Rewriting numbers in plan text: only the changed numbers move, everything else stays."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from engine.core.errors import PlanErrors
from engine.core.yamledit import line_offsets
from engine.plan import load_plan, parse_plan
from engine.plan.rewrite import (
    format_number,
    number_sites,
    plan_numbers,
    rewrite_plan,
)

PLANS = Path(__file__).resolve().parents[2] / "scenarios" / "plans"


def _changed_lines(a: str, b: str) -> list[tuple[str, str]]:
    """Pairs (old line, new line) of lines that differ; the line count must not change."""
    la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
    assert len(la) == len(lb)
    return [(x, y) for x, y in zip(la, lb) if x != y]


def test_seeds_plan_only_changed_numbers_move():
    """Comments, alignment and every other character survive; the re-loaded plan has the new values."""
    ck = load_plan(PLANS / "seeds_base_float_excess.yaml")
    text, new = rewrite_plan(ck, {"base_threshold": 0.74, "excess_rate": 0.0437, "complaint_limit": 4})
    changed = _changed_lines(ck.source, text)
    assert [(o.strip(), n.strip()) for o, n in changed] == [
        ("base_threshold:     {value: 0.8, min: 0.6, max: 0.9}    # attainment that earns the base bonus",
         "base_threshold:     {value: 0.74, min: 0.6, max: 0.9}    # attainment that earns the base bonus"),
        ("excess_rate:        {value: 0.04, min: 0.02, max: 0.06} # commission, first 20% of target above target",
         "excess_rate:        {value: 0.0437, min: 0.02, max: 0.06} # commission, first 20% of target above target"),
        ("complaint_limit:    {value: 3, min: 1, max: 10}         # complaints tolerated before the penalty",
         "complaint_limit:    {value: 4, min: 1, max: 10}         # complaints tolerated before the penalty"),
    ]
    # Character level: the original with exactly those three numbers replaced, nothing else.
    expected = (ck.source.replace("{value: 0.8, min: 0.6", "{value: 0.74, min: 0.6")
                .replace("{value: 0.04, min", "{value: 0.0437, min").replace("{value: 3, min", "{value: 4, min"))
    assert text == expected
    ops = [op for op in difflib.SequenceMatcher(None, ck.source, text, autojunk=False).get_opcodes()
           if op[0] != "equal"]
    assert all(text[j1:j2].strip("0123456789.") == "" for *_, j1, j2 in ops)
    vals = new.plan.parameter_values
    assert vals["base_threshold"] == 0.74 and vals["excess_rate"] == 0.0437 and vals["complaint_limit"] == 4
    assert vals["floating_share"] == 0.6  # untouched
    assert new.source == text


def test_unchanged_values_leave_text_identical():
    """Asking for the current values changes nothing at all."""
    ck = load_plan(PLANS / "classic_ae.yaml")
    text, _ = rewrite_plan(ck, {"threshold": 0.5, "threshold_pay": 0.25})
    assert text == ck.source


def test_scorecard_weights_are_rewritten_and_still_sum_to_one():
    """Literal metric weights are sites of their scorecard; new weights keep the plan valid."""
    ck = load_plan(PLANS / "kpi_scorecard.yaml")
    sites = {s.key: s for s in number_sites(ck)}
    assert {k for k, s in sites.items() if s.kind == "weight"} == {
        "kpi.revenue_attainment", "kpi.collection_rate", "kpi.satisfaction", "kpi.new_logos"}
    text, new = rewrite_plan(ck, {"kpi.revenue_attainment": 0.45, "kpi.collection_rate": 0.15})
    changed = _changed_lines(ck.source, text)
    assert [(o.strip(), n.strip()) for o, n in changed] == [("weight: 0.4", "weight: 0.45"),
                                                             ("weight: 0.2", "weight: 0.15")]
    w = [m.weight.tree.value for m in new.plan.component("kpi").metrics]
    assert w == [0.45, 0.15, 0.2, 0.2] and abs(sum(w) - 1) < 1e-9


def test_weights_not_summing_to_one_are_refused():
    """The rewritten plan is validated like any plan."""
    ck = load_plan(PLANS / "kpi_scorecard.yaml")
    with pytest.raises(PlanErrors) as exc:
        rewrite_plan(ck, {"kpi.revenue_attainment": 0.5})
    assert "weights-sum" in exc.value.codes


def test_value_outside_bounds_is_refused():
    """A value outside [min, max] does not validate."""
    ck = load_plan(PLANS / "classic_ae.yaml")
    with pytest.raises(PlanErrors) as exc:
        rewrite_plan(ck, {"threshold": 0.95})
    assert "parameter-bounds" in exc.value.codes


def test_unknown_key_suggests():
    """An unknown number name is an error with a did-you-mean."""
    ck = load_plan(PLANS / "classic_ae.yaml")
    with pytest.raises(PlanErrors) as exc:
        rewrite_plan(ck, {"treshold": 0.6})
    assert "did you mean 'threshold'?" in exc.value.render()


PLAN_CRLF = (
    "# 计划 with CRLF line endings\r\n"
    "plan: 测试\r\n"
    "period: quarter\r\n"
    "parameters:\r\n"
    "  门槛: {value: 80%, min: 60%, max: 90%}   # percent, kept as percent\r\n"
    "  rate: 0.05\r\n"
    "target_incentive: roster.ti / 4\r\n"
    "measures:\r\n"
    "  销售额: actuals.revenue\r\n"
    "  csat: {expr: actuals.csat, aggregate: mean}\r\n"
    "targets:\r\n"
    "  销售额: roster.quota / 4\r\n"
    "components:\r\n"
    "  - name: kpi\r\n"
    "    kind: scorecard\r\n"
    "    metrics:\r\n"
    "      - {name: sales, input: 销售额 / targets.销售额, weight: \"0.7\", points: [[门槛, 0], [1, 1]]}\r\n"
    "      - {name: care, input: csat / 5, weight: '30%', points: [[0.6, 0], [1, 1]]}\r\n"
)


def test_crlf_unicode_quoted_and_percent():
    """CRLF endings, identifiers in any script, quoted and percent numbers are all kept in style."""
    ck = parse_plan(PLAN_CRLF, "crlf.yaml")
    text, new = rewrite_plan(ck, {"门槛": 0.74, "kpi.sales": 0.65, "kpi.care": 0.35})
    assert text.count("\r\n") == PLAN_CRLF.count("\r\n") and "\n" not in text.replace("\r\n", "")
    changed = _changed_lines(PLAN_CRLF, text)
    assert [n.strip() for _, n in changed] == [
        "门槛: {value: 74%, min: 60%, max: 90%}   # percent, kept as percent",
        '- {name: sales, input: 销售额 / targets.销售额, weight: "0.65", points: [[门槛, 0], [1, 1]]}',
        "- {name: care, input: csat / 5, weight: '35%', points: [[0.6, 0], [1, 1]]}",
    ]
    assert plan_numbers(new) == {"门槛": 0.74, "rate": 0.05, "kpi.sales": 0.65, "kpi.care": 0.35}


def test_alias_shared_by_two_weights_is_refused():
    """Two numbers written in one place (a YAML alias) cannot be changed independently."""
    text = PLAN_CRLF.replace("\r\n", "\n").replace('weight: "0.7"', "weight: &w 0.5").replace(
        "weight: '30%'", "weight: *w")
    ck = parse_plan(text, "alias.yaml")
    with pytest.raises(PlanErrors) as exc:
        rewrite_plan(ck, {"kpi.sales": 0.4, "kpi.care": 0.6})
    assert "cannot-rewrite" in exc.value.codes


def test_line_offsets_follow_yaml_line_breaks():
    """\\r\\n counts once, a lone \\r counts, as PyYAML counts lines."""
    assert line_offsets("a\r\nb\rc\nd") == [0, 3, 5, 7]


@pytest.mark.parametrize("value, like, decimals, expected", [
    (0.74, "0.8", 2, "0.74"),
    (1.0, "1.0", 1, "1"),
    (0.743, "80%", 3, "74.3%"),
    (4.0, "3", 0, "4"),
    (1250000.0, "1_000_000", 0, "1_250_000"),
    (0.1 + 0.2, "0.5", 1, "0.3"),
])
def test_format_number(value, like, decimals, expected):
    """New numbers are written like the old ones (percent, digit grouping), without float noise."""
    assert format_number(value, like, decimals) == expected


def _moved(site) -> float:
    lo = site.min if site.min is not None else site.value * 0.5
    hi = site.max if site.max is not None else site.value * 1.5 + 1.0
    return round(lo + 0.37 * (hi - lo), 3 if not site.integer else 0)


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.yaml")), ids=lambda p: p.stem)
def test_rewritten_text_is_read_exactly_as_pyyaml_reads_it(path):
    """A rewritten plan composed by libyaml (the fast path) gives the very tree PyYAML's own
    parser gives: every value, style and span, on every shipped plan, Chinese included."""
    from engine.plan.source import _libyaml_reads_alike, parse_yaml

    ck = load_plan(path)
    assert _libyaml_reads_alike(ck.source)  # the shipped plans take the fast path
    for site in number_sites(ck):
        if site.kind != "parameter":
            continue
        try:
            text, _ = rewrite_plan(ck, {site.key: _moved(site)})
        except PlanErrors:
            continue  # a value this plan's rules refuse: nothing to read
        assert parse_yaml(text, ck.plan.file, like=ck.source) == parse_yaml(text, ck.plan.file)


def test_text_libyaml_reads_differently_is_read_by_pyyaml():
    """Where libyaml composes the original text differently from PyYAML (a byte-order mark
    inside a key), edits of it are read by PyYAML's parser, so nothing changes."""
    from engine.plan.source import _libyaml_reads_alike, parse_yaml

    base = "a:\n  beyond\ufeff: flat\n  value: 1.5\n"
    assert not _libyaml_reads_alike(base)
    edited = base.replace("1.5", "2.25")
    assert parse_yaml(edited, "p.yaml", like=base) == parse_yaml(edited, "p.yaml")
    assert _libyaml_reads_alike(edited.replace("\ufeff", ""))
