"""The statement pack as HTML pages: one per rep, one per team, an index; optionally PDFs.

Every page is self-contained and opens offline: the CSS is inline, the charts are inline SVG,
and nothing (font, script, image) is fetched from anywhere. Text comes from the plan's
labels, and the words around them are English or Chinese (:attr:`Pack.language`); the CSS
lists Noto Sans CJK SC first for Chinese pages. Formatting only: every number arrives
computed in a :class:`~engine.jobs.pack.Pack`.

:func:`write_pack` writes the folder all or nothing (a temporary folder next to the target,
renamed into place), and refuses to replace a folder that is not an earlier pack.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from engine.core.errors import DataError
from engine.core.text import MISSING, money, percent
from engine.jobs.pack import Estimate, Highlight, Metric, Pack, RepPage
from engine.report.svg import BLUE, GREY, bar_chart, sparkline, versus

__all__ = ["MARKER", "check_pack_target", "find_chromium", "index_html", "rep_html", "team_html", "write_pack"]

#: The file that marks a folder as a statement pack (and so safe to replace).
MARKER = ".incentive-statements.json"

#: Headless chromium's arguments for printing (as the browser tests launch it).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-pdf-header-footer",
]

_FONTS = {
    "zh": '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
          'system-ui, sans-serif',
    "en": 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, "Noto Sans CJK SC", sans-serif',
}

CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --good: #1a7f37; --bad: #cf222e;
        --accent: #0969da; --median: #8c959f; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45; font-size: 15px; font-family: FONTS; }
header { background: var(--bg); border-bottom: 1px solid var(--line); padding: 20px 36px 14px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header .meta { color: var(--muted); margin: 0; }
nav { margin-top: 8px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
main { max-width: 1100px; padding: 4px 36px 40px; }
section { margin-top: 26px; }
h2 { font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-bottom: 8px; }
p.lead { color: var(--muted); margin-top: 0; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { background: var(--bg); text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 700; border-top: 2px solid var(--ink); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 170px; }
.card .k { color: var(--muted); font-size: 13px; }
.card .v { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.grade { display: inline-block; min-width: 28px; text-align: center; border-radius: 5px; padding: 1px 7px;
         font-weight: 700; color: #fff; background: var(--median); }
.grade-A { background: #1a7f37; } .grade-B { background: #0969da; } .grade-C { background: #bf8700; }
.grade-D { background: #cf222e; }
ul.hl { margin: 4px 0 12px; padding-left: 20px; }
ul.good li::marker { color: var(--good); } ul.bad li::marker { color: var(--bad); }
.good { color: var(--good); } .bad { color: var(--bad); }
.note { color: var(--muted); font-size: 13px; }
.consequence { font-weight: 600; margin: 8px 0; }
table.est td:first-child { min-width: 260px; }
svg.chart { display: block; margin: 6px 0 12px; }
svg.spark, svg.versus { display: block; }
pre.explain { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 12px;
              font-size: 12.5px; overflow-x: auto; white-space: pre; font-family: ui-monospace, "Noto Sans Mono CJK SC",
              "DejaVu Sans Mono", monospace; }
footer { color: var(--muted); font-size: 13px; padding: 14px 36px 28px; border-top: 1px solid var(--line); }
a { color: var(--accent); }
@media print { nav { display: none; } section { break-inside: avoid; } pre.explain { white-space: pre-wrap; } }
"""

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "statement_of": "Statement of {who}", "period": "Period", "team": "Team", "plan": "Plan",
        "statement": "Statement", "component": "Line", "amount": "Amount ({cur})", "base_pay": "Base pay",
        "adjustment": "Adjustments (caps, true-up, draw)", "total": "Incentive total", "total_pay": "Total pay",
        "grade": "Grade", "ytd": "Year to date", "ytd_lead": "Progress through the plan year to {period}.",
        "of_target": "{actual} of {target} ({pct} of target)", "paid_ytd": "Incentive paid to date",
        "ti_ytd": "{paid} of a target incentive of {ti} ({pct})", "dashboard": "Personal dashboard",
        "dashboard_lead": "Each measure in {period} against the median of the {n} reps of the team, and your own "
                          "trend over the periods.",
        "strengths": "Strengths", "improve": "To improve", "none": "Nothing stands out this period.",
        "measure": "Measure", "you": "You", "median": "Team median", "rank": "Rank", "trend": "Trend",
        "vs": "You against the team", "grades": "Grade history", "estimator": "What the next threshold would pay",
        "estimator_lead": "What you would be paid this {period} if your {column} reached each threshold you have "
                          "not reached yet (everything else as it is).",
        "no_estimate": "No threshold is left to reach by raising {column} alone (everything else as it is).",
        "explain": "How every number was calculated", "history": "Pay by period",
        "first": "{label}: first in the team ({value}; team median {median})",
        "top-quarter": "{label}: in the team's top quarter (rank {rank} of {n}; {value})",
        "below-median": "{label}: below the team median ({value} against {median})",
        "above-median": "{label}: above the team median ({value} against {median}; lower is better)",
        "promotion-candidate": "Grade A twice in a row: a promotion candidate.",
        "improvement-plan": "Grade C or D twice in a row: an improvement plan is due.",
        "no_consequence": "No consequence yet: two A's in a row make a promotion candidate, C or D twice an "
                          "improvement plan.",
        "reach": "Reach {att} of target ({column} +{extra}) and you would earn {more} more this {period}: {then} "
                 "in all.",
        "reach_amount": "Reach {needed} of {column} (+{extra}) and you would earn {more} more this {period}: {then} "
                        "in all.",
        "what_step": "{label}: threshold {level}", "what_curve": "{label}: point {level}",
        "what_tier": "{label}: next tier from {level}", "what_payout": "{label}: score {level}",
        "what_grade": "grade {grade}",
        "threshold": "Threshold", "needed": "Needed", "extra": "More than now", "att": "Attainment",
        "pay_then": "Incentive then", "more": "More this period", "grade_then": "Grade then",
        "index": "Statements {period}", "reps": "Reps", "rep": "Rep", "name": "Name", "pages": "Statement pages",
        "team_page": "Team {team}", "all_reps": "All reps", "att_short": "Attainment",
        "consequence": "Consequence", "index_link": "All teams", "team_link": "Team page",
        "footer": "Written by incentive statements from plan {plan}. Amounts in {cur}; every number is explained "
                  "at the end of the page.",
        "rep_total": "Incentive by rep ({cur})", "ytd_chart": "{column} to date against target",
        "pay_chart": "Incentive by period ({cur})", "target": "target", "actual": "actual",
        "teams": "Teams", "no_team": "(all reps)",
    },
    "zh": {
        "statement_of": "{who} 的业绩与奖金单", "period": "期间", "team": "团队", "plan": "方案",
        "statement": "奖金单", "component": "项目", "amount": "金额（{cur}）", "base_pay": "底薪",
        "adjustment": "调整（封顶、补差、保底）", "total": "奖金合计", "total_pay": "应发合计",
        "grade": "等级", "ytd": "年度累计", "ytd_lead": "本方案年度截至 {period} 的进度。",
        "of_target": "{actual} / 目标 {target}（达成 {pct}）", "paid_ytd": "年度已发奖金",
        "ti_ytd": "{paid} / 目标奖金 {ti}（{pct}）", "dashboard": "个人绩效仪表盘",
        "dashboard_lead": "{period} 各项指标与团队 {n} 人的中位数对比，以及本人各期的趋势。",
        "strengths": "优势", "improve": "待改进", "none": "本期没有突出的项目。",
        "measure": "指标", "you": "本人", "median": "团队中位数", "rank": "排名", "trend": "趋势",
        "vs": "本人与团队对比", "grades": "等级记录", "estimator": "达到下一门槛可得多少",
        "estimator_lead": "如果{column}达到尚未达到的各个门槛（其他不变），本{period}可得的奖金。",
        "no_estimate": "仅提高{column}（其他不变）已没有可以达到的新门槛。",
        "explain": "每个数字的计算过程", "history": "各期奖金",
        "first": "{label} 团队第一（{value}，团队中位数 {median}）",
        "top-quarter": "{label} 位列团队前四分之一（第 {rank}/{n} 名，{value}）",
        "below-median": "{label} 低于团队中位数（{value}，中位数 {median}）",
        "above-median": "{label} 高于团队中位数（{value}，中位数 {median}，越低越好）",
        "promotion-candidate": "连续两期 A 等：晋升候选人。",
        "improvement-plan": "连续两期 C/D 等：需制定绩效改进计划。",
        "no_consequence": "暂无后果：连续两期 A 等为晋升候选人，连续两期 C/D 等需制定绩效改进计划。",
        "reach": "达成目标的 {att}（{column}再增加 {extra}），本{period}可多得 {more}，合计 {then}。",
        "reach_amount": "{column}达到 {needed}（再增加 {extra}），本{period}可多得 {more}，合计 {then}。",
        "what_step": "{label}：门槛 {level}", "what_curve": "{label}：节点 {level}",
        "what_tier": "{label}：从 {level} 起的下一档", "what_payout": "{label}：得分 {level}",
        "what_grade": "{grade} 等",
        "threshold": "门槛", "needed": "所需金额", "extra": "比现在多", "att": "达成率",
        "pay_then": "届时奖金", "more": "本期多得", "grade_then": "届时等级",
        "index": "{period} 奖金单", "reps": "人数", "rep": "工号", "name": "姓名", "pages": "个人奖金单",
        "team_page": "团队 {team}", "all_reps": "全部人员", "att_short": "达成率",
        "consequence": "后果", "index_link": "全部团队", "team_link": "团队页",
        "footer": "由 incentive statements 根据方案 {plan} 生成。金额单位 {cur}；页末列出每个数字的计算过程。",
        "rep_total": "各人奖金（{cur}）", "ytd_chart": "{column} 累计与目标",
        "pay_chart": "各期奖金（{cur}）", "target": "目标", "actual": "实际",
        "teams": "团队", "no_team": "（全部人员）",
    },
}

_PERIOD_WORD = {"en": {"month": "month", "quarter": "quarter", "half": "half-year", "year": "year"},
                "zh": {"month": "月", "quarter": "季度", "half": "半年", "year": "年度"}}


def _pct(share: float) -> str:
    """A share as a percentage, rounded down to 0.1% (99.9996% is not shown as 100.0%: a
    threshold is reached only at or above it)."""
    if share is None or not math.isfinite(share):
        return MISSING
    return percent(math.floor(share * 1000 + 1e-9) / 1000, 1)


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


class _Text:
    """The words of one language, and the pack's money and number formats."""

    def __init__(self, pack: Pack):
        self.pack = pack
        self.lang = pack.language if pack.language in _WORDS else "en"
        self.words = _WORDS[self.lang]

    def __call__(self, key: str, **kw: object) -> str:
        return self.words[key].format(**kw)

    def money(self, v: float | None) -> str:
        return money(v, self.pack.minor_unit)

    def value(self, v: float, ratio: bool) -> str:
        if v is None or not math.isfinite(v):
            return MISSING
        if ratio:
            return _pct(v)
        if float(v).is_integer():
            return f"{v:,.0f}"
        return f"{v:,.2f}"

    def period_word(self) -> str:
        return _PERIOD_WORD[self.lang].get(self.pack.period_kind, self.pack.period_kind)


# --------------------------------------------------------------------------- pages

def _page(pack: Pack, title: str, header: str, nav: str, body: str, footer: str) -> str:
    css = CSS.replace("FONTS", _FONTS["zh" if pack.language == "zh" else "en"])
    lang = "zh-CN" if pack.language == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{css}</style></head><body>"
            f"<header>{header}<nav>{nav}</nav></header><main>{body}</main>"
            f"<footer>{_e(footer)}</footer></body></html>\n")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], num: Sequence[int] = (), raw: bool = False,
           total_last: bool = False, cls: str = "") -> str:
    head = "".join(f'<th class="{"num" if i in num else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = []
    for j, r in enumerate(rows):
        cls = ' class="total"' if total_last and j == len(rows) - 1 else ""
        body.append(f"<tr{cls}>" + "".join(f'<td class="{"num" if i in num else ""}">{c if raw else _e(c)}</td>'
                                           for i, c in enumerate(r)) + "</tr>")
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _grade(g: object) -> str:
    g = "" if g is None else str(g)
    return f'<span class="grade grade-{_e(g)}">{_e(g or MISSING)}</span>'


def _who(page: RepPage) -> str:
    return f"{page.name} ({page.rep_id})" if page.name else page.rep_id


def _highlight(t: _Text, h: Highlight) -> str:
    key = h.kind
    if key == "below-median" and h.value > h.median:
        key = "above-median"  # a measure where lower is better
    return t(key, label=h.label, value=t.value(h.value, h.ratio), median=t.value(h.median, h.ratio),
             rank=h.rank, n=h.team_size)


def _what(t: _Text, e: Estimate) -> str:
    level = percent(e.level, 1) if e.ratio else t.value(e.level, False)
    return t(f"what_{e.what}", label=e.label, level=level, grade=e.label)


def _estimate_sentence(t: _Text, e: Estimate, column: str) -> str:
    common = {"extra": t.money(e.extra), "column": column, "more": t.money(e.more_pay), "then": t.money(e.pay_then),
              "period": t.period_word(), "needed": t.money(e.needed)}
    if math.isfinite(e.attainment):
        return t("reach", att=_pct(e.attainment), **common)
    return t("reach_amount", **common)


def rep_html(pack: Pack, page: RepPage, *, index: str = "index.html", team_page: str | None = None) -> str:
    """One rep's page: statement, year to date, dashboard, grades, estimator, explanation."""
    t = _Text(pack)
    cur = pack.currency
    st = page.statement
    sections: list[tuple[str, str, str]] = []

    # The statement.
    rows: list[list[str]] = []
    if "base_pay" in st:
        rows.append([t("base_pay"), t.money(st["base_pay"])])
    for c in pack.money_columns:
        if c in ("base_pay", "adjustment", "total", "total_pay"):
            continue
        rows.append([pack.labels.get(c, c), t.money(st[c])])
    rows.append([t("adjustment"), t.money(st["adjustment"])])
    rows.append([t("total"), t.money(st["total"])])
    if "total_pay" in st:
        rows.append([t("total_pay"), t.money(st["total_pay"])])
    cards = [(t("total"), _e(t.money(st["total"])))]
    if "total_pay" in st:
        cards.append((t("total_pay"), _e(t.money(st["total_pay"]))))
    if pack.has_grades:
        cards.append((t("grade"), _grade(st.get("grade"))))
    if page.ytd is not None:
        cards.append((t("ytd") + " · " + t("att_short"), _e(_pct(page.ytd.attainment))))
    card_html = '<div class="cards">' + "".join(f'<div class="card"><div class="k">{_e(k)}</div>'
                                                f'<div class="v">{v}</div></div>' for k, v in cards) + "</div>"
    statement = card_html + _table([t("component"), t("amount", cur=cur)], rows, num=(1,),
                                   total_last="total_pay" not in st)
    history = [h for h in page.history]
    statement += bar_chart([str(h["period"]) for h in history], [(t("total"), BLUE, [float(h["total"])
                                                                                     for h in history])],
                           t("pay_chart", cur=cur), t.money,
                           marks=[str(h.get("grade", "")) for h in history] if pack.has_grades else None)
    sections.append(("statement", t("statement") + f" · {page.period}", statement))

    # Year to date.
    if page.ytd is not None:
        y = page.ytd
        text = (f"<p><b>{_e(y.label)}</b>: {_e(t('of_target', actual=t.money(y.actual[-1]), target=t.money(y.target[-1]), pct=_pct(y.attainment)))}<br>"
                f"<b>{_e(t('paid_ytd'))}</b>: "
                f"{_e(t('ti_ytd', paid=t.money(y.paid[-1]), ti=t.money(y.target_incentive[-1]), pct=percent(y.paid[-1] / y.target_incentive[-1], 1) if y.target_incentive[-1] else MISSING))}</p>")
        chart = bar_chart(list(y.periods), [(t("actual"), BLUE, y.actual), (t("target"), GREY, y.target)],
                          t("ytd_chart", column=y.label), t.money)
        sections.append(("ytd", t("ytd"), f'<p class="lead">{_e(t("ytd_lead", period=page.period))}</p>'
                         + text + chart))

    # The dashboard.
    size = max((m.team_size for m in page.metrics), default=0)
    good = "".join(f"<li>{_e(_highlight(t, h))}</li>" for h in page.strengths)
    bad = "".join(f"<li>{_e(_highlight(t, h))}</li>" for h in page.improvements)
    dash = (f'<p class="lead">{_e(t("dashboard_lead", period=page.period, n=size))}</p>'
            f'<h3 class="good">{_e(t("strengths"))}</h3>'
            + (f'<ul class="hl good">{good}</ul>' if good else f'<p class="note">{_e(t("none"))}</p>')
            + f'<h3 class="bad">{_e(t("improve"))}</h3>'
            + (f'<ul class="hl bad">{bad}</ul>' if bad else f'<p class="note">{_e(t("none"))}</p>'))
    mrows = []
    for m in page.metrics:
        mrows.append([_e(m.label), _e(t.value(m.value, m.ratio)), _e(t.value(m.median, m.ratio)),
                      _e(f"{m.rank}/{m.team_size}" if m.rank else MISSING),
                      versus(m.value, m.median, _better(m), f"{m.label}: {t('you')} / {t('median')}"),
                      sparkline(m.trend, f"{m.label}: {t('trend')} " + ", ".join(pack.periods))])
    dash += _table([t("measure"), t("you"), t("median"), t("rank"), t("vs"), t("trend")], mrows,
                   num=(1, 2, 3), raw=True)
    sections.append(("dashboard", t("dashboard"), dash))

    # Grades.
    if pack.has_grades:
        chips = " ".join(f'<span class="note">{_e(p)}</span> {_grade(g)}' for p, g in page.grades)
        consequence = t(page.consequence) if page.consequence else t("no_consequence")
        cls = {"promotion-candidate": "good", "improvement-plan": "bad"}.get(page.consequence or "", "note")
        sections.append(("grades", t("grades"),
                         f'<p>{chips}</p><p class="consequence {cls}">{_e(consequence)}</p>'))

    # The estimator.
    column = page.ytd.label if page.ytd is not None else (page.estimates[0].column if page.estimates else "")
    est = f'<p class="lead">{_e(t("estimator_lead", period=t.period_word(), column=column))}</p>'
    if page.estimates:
        est += "<ul>" + "".join(f"<li>{_e(_estimate_sentence(t, e, column))}</li>" for e in page.estimates) + "</ul>"
        erows = [[_e(_what(t, e)), _e(t.money(e.needed)), _e(t.money(e.extra)), _e(_pct(e.attainment)),
                  _e(t.money(e.pay_then)), f'<span class="good">{_e(t.money(e.more_pay))}</span>']
                 + ([_grade(e.grade_then)] if pack.has_grades else []) for e in page.estimates]
        est += _table([t("threshold"), t("needed", column=column), t("extra"), t("att"), t("pay_then"), t("more")]
                      + ([t("grade_then")] if pack.has_grades else []), erows, num=(1, 2, 3, 4, 5), raw=True,
                      cls="est")
    else:
        est += f'<p class="note">{_e(t("no_estimate", column=column))}</p>'
    sections.append(("estimator", t("estimator"), est))

    sections.append(("explain", t("explain"), f'<pre class="explain">{_e(page.explanation)}</pre>'))

    plan_name = pack.plan_label or pack.plan
    header = (f"<h1>{_e(t('statement_of', who=_who(page)))}</h1>"
              f'<p class="meta">{_e(t("period"))}: {_e(page.period)} · {_e(t("plan"))}: {_e(plan_name)}'
              + (f" · {_e(t('team'))}: {_e(page.team)}" if page.team else "") + "</p>")
    nav = f'<a href="{_e(index)}">{_e(t("index_link"))}</a>'
    if team_page:
        nav += f'<a href="{_e(team_page)}">{_e(t("team_link"))}</a>'
    nav += "".join(f'<a href="#{k}">{_e(title)}</a>' for k, title, _ in sections)
    body = "".join(f'<section id="{k}"><h2>{_e(title)}</h2>{b}</section>' for k, title, b in sections)
    return _page(pack, t("statement_of", who=_who(page)) + f" · {page.period}", header, nav, body,
                 t("footer", plan=pack.plan, cur=cur))


def _better(m: Metric) -> bool | None:
    if not (math.isfinite(m.value) and math.isfinite(m.median)) or m.value == m.median:
        return None
    return (m.value > m.median) == m.higher_is_better


def _rep_rows(t: _Text, pack: Pack, pages: Sequence[RepPage], files: dict[str, str]) -> str:
    names = any(p.name for p in pages)
    teams = pack.team_column is not None
    pay = bool(pages) and "total_pay" in pages[0].statement
    head = [t("rep")] + [t("name")] * names + [t("team")] * teams + [t("total")] + [t("total_pay")] * pay
    first = len(head) - 1 - pay
    head.append(t("ytd") + " · " + t("att_short"))
    if pack.has_grades:
        head += [t("grade"), t("consequence")]
    rows = []
    for p in pages:
        row = [f'<a href="{_e(files[p.rep_id])}">{_e(p.rep_id)}</a>'] + [_e(p.name or "")] * names
        row += [_e(p.team or "")] * teams + [_e(t.money(p.statement["total"]))]
        if pay:
            row.append(_e(t.money(p.statement["total_pay"])))
        row.append(_e(_pct(p.ytd.attainment) if p.ytd is not None else MISSING))
        if pack.has_grades:
            row += [_grade(p.statement.get("grade")), _e(t(p.consequence) if p.consequence else "")]
        rows.append(row)
    return _table(head, rows, num=tuple(range(first, first + 2 + pay)), raw=True)


def team_html(pack: Pack, team: str, files: dict[str, str], index: str = "index.html") -> str:
    """One team's (or manager's) index: its reps' totals, grades and pages."""
    t = _Text(pack)
    pages = [p for p in pack.reps if (p.team or "") == team]
    name = team or t("no_team")
    chart = bar_chart([p.name or p.rep_id for p in pages],
                      [(t("total"), BLUE, [float(p.statement["total"]) for p in pages])],
                      t("rep_total", cur=pack.currency), t.money, width=max(420, 70 * len(pages) + 90),
                      marks=[str(p.statement.get("grade", "")) for p in pages] if pack.has_grades else None)
    header = (f"<h1>{_e(t('team_page', team=name))} · {_e(pack.period)}</h1>"
              f'<p class="meta">{_e(t("plan"))}: {_e(pack.plan_label or pack.plan)}</p>')
    nav = f'<a href="{_e(index)}">{_e(t("index_link"))}</a>'
    body = (f'<section id="reps"><h2>{_e(t("pages"))}</h2>{_rep_rows(t, pack, pages, files)}{chart}</section>')
    return _page(pack, t("team_page", team=name), header, nav, body, t("footer", plan=pack.plan, cur=pack.currency))


def index_html(pack: Pack, files: dict[str, str], team_files: dict[str, str]) -> str:
    """The pack's front page: each team with its page, and every rep's page."""
    t = _Text(pack)
    parts = []
    if team_files:
        rows = [[f'<a href="{_e(team_files[k])}">{_e(k or t("no_team"))}</a>', _e(len(v)),
                 _e(t.money(sum(float(p.statement["total"]) for p in pack.reps if (p.team or "") == k)))]
                for k, v in pack.teams.items()]
        parts.append(f'<section id="teams"><h2>{_e(t("teams"))}</h2>'
                     + _table([t("team"), t("reps"), t("total")], rows, num=(1, 2), raw=True) + "</section>")
    chart = bar_chart([p.name or p.rep_id for p in pack.reps],
                      [(t("total"), BLUE, [float(p.statement["total"]) for p in pack.reps])],
                      t("rep_total", cur=pack.currency), t.money, width=max(420, 60 * len(pack.reps) + 90),
                      marks=[str(p.statement.get("grade", "")) for p in pack.reps] if pack.has_grades else None)
    parts.append(f'<section id="reps"><h2>{_e(t("all_reps"))}</h2>{_rep_rows(t, pack, pack.reps, files)}'
                 f"{chart}</section>")
    header = (f"<h1>{_e(t('index', period=pack.period))}</h1>"
              f'<p class="meta">{_e(t("plan"))}: {_e(pack.plan_label or pack.plan)} · {_e(pack.currency)}</p>')
    return _page(pack, t("index", period=pack.period), header, "", "".join(parts),
                 t("footer", plan=pack.plan, cur=pack.currency))


# --------------------------------------------------------------------------- files

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "x"


def _names(keys: Sequence[str], prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for k in keys:
        base = f"{prefix}-{_safe(k)}"
        name, n = base, 1
        while name.lower() in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name.lower())
        out[k] = name + ".html"
    return out


def check_pack_target(out: str | os.PathLike[str]) -> None:
    """Raise a clean error now if ``out`` cannot become the pack's folder: a file, or a
    folder with files in it that is not an earlier pack (no :data:`MARKER`)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise DataError("cannot-write", f"cannot write --out {os.fspath(out)}: it is a file, not a folder",
                        file=os.fspath(out), hint="give a folder for the statement pages")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).is_file():
        raise DataError("not-a-pack", f"--out {os.fspath(out)} is a folder with other files in it; "
                        "it is not replaced", file=os.fspath(out),
                        hint="give a new or empty folder, or one an earlier `incentive statements` wrote")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DataError("cannot-write", f"cannot write --out {os.fspath(out)}: permission denied in {parent}",
                        file=os.fspath(out))


def find_chromium() -> str:
    """The chromium to print with: ``$INCENTIVE_CHROMIUM``, else ``chromium`` (or
    ``chromium-browser``, ``google-chrome``) on the PATH.

    Raises:
        DataError: no browser found.
    """
    path = os.environ.get("INCENTIVE_CHROMIUM") or next(
        (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if not path or not Path(path).exists():
        raise DataError("no-chromium", "--pdf prints with headless chromium, which was not found",
                        hint="install it (Debian: apt-get install chromium) or set INCENTIVE_CHROMIUM")
    return path


def _print_pdf(chromium: str, page: Path, pdf: Path, profile: Path) -> None:
    try:
        done = subprocess.run([chromium, *CHROMIUM_ARGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
                               page.resolve().as_uri()], capture_output=True, text=True, timeout=180, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError("pdf-failed", f"chromium could not print {page.name}: {exc}") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise DataError("pdf-failed", f"chromium could not print {page.name} (exit {done.returncode}): "
                        + (done.stderr.strip().splitlines() or [""])[-1])


def write_pack(pack: Pack, out: str | os.PathLike[str], *, pdf: bool = False) -> list[Path]:
    """Write the pack's pages into the folder ``out``, all or nothing.

    ``index.html``; with a team column, ``team-<team>.html`` per team; ``rep-<id>.html`` per
    rep (and ``rep-<id>.pdf`` with ``pdf``). The pages are written into a temporary folder
    next to ``out`` and renamed into place; an earlier pack in ``out`` is replaced.

    Returns:
        The paths of the rep pages (in ``out``).

    Raises:
        DataError: ``out`` is a file or a foreign folder; chromium is missing or fails (``pdf``).
    """
    check_pack_target(out)
    chromium = find_chromium() if pdf else None
    target = Path(out)
    files = _names([p.rep_id for p in pack.reps], "rep")
    team_files = _names(list(pack.teams), "team") if pack.team_column is not None else {}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for page in pack.reps:
            team_page = team_files.get(page.team or "")
            (tmp / files[page.rep_id]).write_text(rep_html(pack, page, team_page=team_page), encoding="utf-8")
        for team, name in team_files.items():
            (tmp / name).write_text(team_html(pack, team, files), encoding="utf-8")
        (tmp / "index.html").write_text(index_html(pack, files, team_files), encoding="utf-8")
        if chromium is not None:
            profile = Path(tempfile.mkdtemp(prefix="incentive-chromium-"))
            try:
                for name in files.values():
                    _print_pdf(chromium, tmp / name, tmp / name.replace(".html", ".pdf"), profile)
            finally:
                shutil.rmtree(profile, ignore_errors=True)
        (tmp / MARKER).write_text(json.dumps({"plan": pack.plan, "period": pack.period, "reps": len(pack.reps)},
                                             ensure_ascii=False) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.rename(target, old / "pack")
        os.rename(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError("cannot-write", f"cannot write --out {os.fspath(out)}: {exc.strerror or exc}",
                        file=os.fspath(out)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [target / files[p.rep_id] for p in pack.reps]
