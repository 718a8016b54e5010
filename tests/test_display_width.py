"""Text in a terminal is measured in display columns, not characters: a Chinese character
takes two columns (``wcwidth``), so tables and the caret under an error line up with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import PlanErrors
from engine.core.text import display_width, ljust, rjust, text_table, wrap
from engine.plan import load_plan
from tests.cli import invoke

ROOT = Path(__file__).resolve().parents[1]
CN_PLAN = ROOT / "scenarios" / "plans" / "seeds_cn_deals.yaml"


def test_display_width_counts_wide_characters_twice():
    """A CJK character takes two columns, ASCII one; padding helpers pad to display columns."""
    assert display_width("abc") == 3
    assert display_width("浮动奖金") == 8
    assert display_width("R01 张伟") == 8
    assert ljust("张伟", 6) == "张伟  "
    assert rjust("张伟", 6) == "  张伟"
    assert display_width(ljust("新客户提成", 12)) == 12


def test_text_table_aligns_chinese_and_ascii_rows():
    """Every line of a text table has its right-aligned columns ending at the same display
    column, whatever the script of the first column."""
    lines = text_table(["metric", "value"], [["新客户提成", "1.00"], ["total", "22.00"]])
    ends = {display_width(line) for line in lines}
    assert len(ends) == 1


def test_text_table_total_row_headerless_and_least_widths():
    """The one table formatter: a rule above a total row (the forecast's year), a table without
    a header line (the recalibration's changes), and least column widths that keep a layout put
    (the history fit), all by display width."""
    assert text_table(["期间", "paid"], [["2027-Q1", "1"], ["全年", "10"]], rule=False, total=True) == [
        "期间     paid", "2027-Q1     1", "-------  ----", "全年       10"]
    assert text_table(None, [["销售额: 1 → 2", "x"], ["rate: 1 → 2", "y"]], left=2, sep="   ") == [
        "销售额: 1 → 2   x", "rate: 1 → 2     y"]
    assert text_table(None, [["名称", "1", "m"]], left=3, sep=" ", rule=False, min_widths=[6, 3]) == [
        "名称   1   m"]
    assert text_table(None, []) == []


def test_wrap_counts_display_columns():
    """Wrapped text keeps within the width in display columns: words move whole to the next
    line, a run of Chinese (no spaces) breaks between characters; text of narrow characters
    wraps exactly as textwrap does."""
    import textwrap

    text = "the 80% threshold of '浮动奖金' was missed by rep 张三丰 in 华东区销售一部门的重点客户组 for good"
    for width in (12, 20, 30):
        lines = wrap(text, width)
        assert max(display_width(line) for line in lines) <= width
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert wrap(text, 30)[:2] == ["the 80% threshold of", "'浮动奖金' was missed by rep"]
    assert wrap("一二三四五", 4) == ["一二", "三四", "五"]
    ascii_text = "a rep at 47% gains 417 by pulling 3% of a month's target forward: expect timing-games"
    assert wrap(ascii_text, 25) == textwrap.wrap(ascii_text, 25)


def test_check_table_with_chinese_component_names_lines_up():
    """``incentive check`` on a plan whose components have Chinese names: every line of the
    payout table ends at the same display column, and each numeric column ends at the same
    display column on every line (DataFrame.to_string counted characters and misaligned them)."""
    result = invoke("check", CN_PLAN)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("What it pays per period")) + 1
    table = []
    for ln in lines[start:]:
        if not ln.startswith("  ") or ln.startswith("  *"):
            break
        table.append(ln)
    assert any("浮动奖金" in ln for ln in table) and any(ln.strip().startswith("total") for ln in table)

    def column_ends(line: str) -> list[int]:
        ends, pos = [], 0
        for i, ch in enumerate(line):
            pos += display_width(ch)
            if ch != " " and (i + 1 == len(line) or line[i + 1] == " "):
                ends.append(pos)
        return ends[-5:]  # the five attainment levels

    assert len({tuple(column_ends(ln)) for ln in table}) == 1, "\n".join(table)


def test_ascii_check_table_keeps_the_dataframe_look():
    """For ASCII names the table is what DataFrame.to_string printed: the index left-aligned,
    the level columns right-aligned, two spaces apart."""
    result = invoke("check", ROOT / "scenarios" / "plans" / "classic_ae.yaml")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("What it pays per period")) + 1
    assert lines[start].split() == ["50%", "80%", "100%", "120%", "150%"]


def test_caret_sits_under_a_chinese_name(tmp_path):
    """An error on a line with Chinese text before and at the error: the caret line starts at
    the display column where the bad name starts and is as wide as it is."""
    text = CN_PLAN.read_text(encoding="utf-8").replace("达成率: 销售额 / targets.销售额",
                                                        "达成率: 销售量 / targets.销售额")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(PlanErrors) as info:
        load_plan(bad)
    rendered = info.value.render().splitlines()
    i = next(i for i, ln in enumerate(rendered) if "达成率: 销售量" in ln)
    source, caret = rendered[i], rendered[i + 1]
    col = source.index("销售量")
    assert display_width(caret[:caret.index("^")]) == display_width(source[:col])
    assert caret.count("^") == display_width("销售量")


def test_explain_statement_block_lines_up_with_chinese_names():
    """``incentive explain``'s statement block: the amounts of Chinese-named components end
    at the same display column as those of ``base_pay`` and ``total``."""
    data = ROOT / "scenarios" / "data"
    result = invoke("explain", CN_PLAN, "--roster", data / "seeds_cn_roster.csv", "--actuals",
                    data / "seeds_cn_deals.csv", "--rep", "R01", "--period", "2027-Q1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Statement ("))
    block = [ln for ln in lines[start + 1:] if "(unrounded" in ln or "(base_pay + total)" in ln]
    assert any("浮动奖金" in ln for ln in block) and any(ln.lstrip().startswith("total ") for ln in block)
    ends = {display_width(ln[:ln.index("   (")]) for ln in block}
    assert len(ends) == 1, "\n".join(block)
