"""The forecast workbook's words in Chinese, for a plan written in Chinese
(:func:`engine.jobs.pack.plan_language`): every header, item, note and glossary entry of
:mod:`engine.report.forecast_book`, keyed by its English text (``{cur}`` is the currency)."""

from __future__ import annotations

__all__ = ["ZH"]

ZH: dict[str, str] = {
    # Summary
    "Item": "项目", "Value": "数值", "Plan": "方案", "Plan (label)": "方案名称", "Scenario": "情景",
    "Currency": "币种", "As of": "截至", "As of date": "截至日期", "Months closed": "已结月数",
    "Simulated runs": "模拟次数", "Seed": "随机种子", "Reps": "销售人数",
    "Paid to date ({cur})": "至今已发放（{cur}）", "Expected annual payout (mean, {cur})": "预计全年发放（均值，{cur}）",
    "Annual P05 ({cur})": "全年 P05（{cur}）", "Annual P50: median ({cur})": "全年 P50：中位数（{cur}）",
    "Annual P90 ({cur})": "全年 P90（{cur}）", "Annual P95 ({cur})": "全年 P95（{cur}）",
    "Expected still to pay ({cur})": "预计尚需发放（{cur}）", "Budget ({cur})": "预算（{cur}）",
    "Probability annual payout > budget": "全年发放超出预算的概率", "Accrual method": "计提方法",
    "Share of the year elapsed": "年度已过比例", "Cost earned to date ({cur})": "至今应计成本（{cur}）",
    "Accrued liability to book ({cur})": "应入账的计提负债（{cur}）", "Note": "说明", "Terms": "术语",
    "see the Glossary sheet; what the forecast was computed from: the Inputs sheet":
        "术语见 Glossary（术语表）工作表；预测所依据的输入见 Inputs（输入）工作表",
    # Summary: the rest of the year against the months closed
    "Rest of the year against the months closed, per month: pay": "全年剩余月份对比已结月份（按月）：发放",
    "Rest of the year against the months closed, per month: primary output": "全年剩余月份对比已结月份（按月）：主要产出",
    "Rest of the year against the months closed, per month: pay per unit of output":
        "全年剩余月份对比已结月份（按月）：单位产出的发放",
    "Rest of the year against the months closed, per month: output from seasonality":
        "全年剩余月份对比已结月份（按月）：产出中季节性的影响",
    "Rest of the year against the months closed, per month: output from reps in the role":
        "全年剩余月份对比已结月份（按月）：产出中在岗人数的影响",
    "Rest of the year against the months closed, per month: output from ramp, market and skill":
        "全年剩余月份对比已结月份（按月）：产出中新人爬坡、市场与能力的影响",
    "Rest of the year against the months closed, per month: output from effort":
        "全年剩余月份对比已结月份（按月）：产出中努力程度的影响",
    "Rest of the year against the months closed, per month: output, other": "全年剩余月份对比已结月份（按月）：产出，其他",
    # By period
    "Period": "期间", "Status": "状态", "Paid ({cur})": "已发放（{cur}）", "Expected (mean, {cur})": "预计（均值，{cur}）",
    "P50: median ({cur})": "P50：中位数（{cur}）", "P90 ({cur})": "P90（{cur}）", "P95 ({cur})": "P95（{cur}）",
    "closed": "已结", "in progress": "进行中", "forecast": "预测", "year": "全年",
    "Team payout by period, {plan} ({cur})": "各期间团队发放，{plan}（{cur}）",
    # History (with --history)
    "What the history moved": "历史数据改变的参数", "Without history": "不含历史数据", "With history": "含历史数据",
    "How it was reached": "如何得出", "(no parameter of the scenario moved)": "（情景参数均未改变）",
    "What that did to the forecast ({cur})": "对预测的影响（{cur}）", "Change": "变化", "Change (%)": "变化（%）",
    "Annual P50": "全年 P50", "Annual P90": "全年 P90", "Which to trust": "应采信哪一个预测",
    "Forecast without history": "不含历史数据的预测", "What that did": "对预测的影响",
    "With or without history": "含或不含历史数据",
    "Each group alone ({cur})": "各组参数单独的影响（{cur}）", "P50 change (%)": "P50 变化（%）",
    "P90 change (%)": "P90 变化（%）",
    # Distribution
    "Run (sorted by payout)": "模拟（按发放额排序）", "Simulated annual team payout ({cur})": "模拟的全年团队发放（{cur}）",
    "Bin from ({cur})": "区间起（{cur}）", "Bin to ({cur})": "区间止（{cur}）", "Runs in bin": "区间内模拟次数",
    "Simulated annual team payout, {plan}": "模拟的全年团队发放，{plan}",
    # Reps
    "Rep": "销售", "Expected for the year ({cur})": "预计全年（{cur}）", "P50 for the year ({cur})": "全年 P50（{cur}）",
    "P90 for the year ({cur})": "全年 P90（{cur}）", "Probability of leaving before the year ends": "年底前离职的概率",
    "Attainment to date": "至今达成率", "Estimated skill (x a typical rep)": "能力估计（相对一般销售的倍数）",
    "Uncertainty of the skill estimate (sd of log skill)": "能力估计的不确定性（对数能力的标准差）",
    "(new hires)": "（新招聘）",
    # Variance
    "Source of variance": "波动来源", "Share of the year's payout variance": "占全年发放方差的比例",
    "Standard error of the share": "比例的标准误", "95% interval, low": "95% 区间下限", "95% interval, high": "95% 区间上限",
    "Spread it alone causes (sd, {cur})": "单独造成的波动（标准差，{cur}）",
    "skill": "能力", "noise": "随机波动", "market": "市场", "attrition": "离职",
    "other (interactions, other traits)": "其他（交互作用、其他特征）",
    "Share of the year's payout variance, by source": "全年发放方差的来源比例", "share of variance": "方差比例",
    "Shares estimated from {runs} runs, each source alone; an estimate below 0 is shown as 0 (a share of variance "
    "cannot be negative) and the interval is the estimate +/- 1.96 standard errors, within 0-100%. What the listed "
    "sources leave is what they do only together.":
        "比例由 {runs} 次模拟估计，每个来源单独计算；低于 0 的估计显示为 0（方差的比例不可能为负），区间为估计值 ± 1.96 "
        "个标准误，限制在 0-100% 之内。所列来源之外的部分是它们共同作用的结果。",
    # Market
    "Month": "月份", "Demand multiplier (1 = normal)": "需求系数（1 = 正常）", "Uncertainty (sd of its log)": "不确定性（对数标准差）",
    # Glossary, Inputs, Assumptions
    "Term": "术语", "Meaning": "含义", "Input": "输入", "Assumption": "假设",
    "Plan file": "方案文件", "Roster": "花名册", "Actuals": "业绩数据", "Scenario file": "情景文件",
    "History file": "历史数据文件", "History paid under plan": "历史数据所依据的方案", "Fit": "拟合结果",
    "Ledger (paid in closed periods)": "台账（已结期间的发放）", "Budget": "预算", "Engine version": "引擎版本",
    "Written at (UTC)": "生成时间（UTC）",
    # the note and the glossary's terms and meanings
    "The year's P50 (or P90, P95) is not the sum of the periods' P50s: each percentile is taken over the simulated "
    "years separately, and a year that is high in one period is not high in every period, so the percentiles of "
    "the periods do not add up to the percentile of the year. The expected values (mean) do add up.":
        "全年的 P50（以及 P90、P95）不等于各期间 P50 之和：每个分位数都是在模拟的年份上分别计算的，某一期间偏高的年份"
        "并不在每个期间都偏高，所以各期间的分位数相加不等于全年的分位数。预计值（均值）可以相加。",
    "Run": "模拟", "Expected (mean)": "预计（均值）", "P50 (median)": "P50（中位数）", "P05": "P05", "P90": "P90",
    "P95": "P95", "Percentiles do not add up": "分位数不能相加", "Closed / in progress / forecast": "已结 / 进行中 / 预测",
    "Paid to date": "至今已发放", "Expected still to pay": "预计尚需发放", "Cost earned to date (accrual)": "至今应计成本（计提）",
    "Accrued liability to book": "应入账的计提负债", "Estimated skill": "能力估计",
    "Standard error": "标准误", "Market (demand multiplier)": "市场（需求系数）",
    "One simulated completion of the plan year: the closed periods as paid, the rest of the year simulated for the "
    "real team (effort, results, who leaves and is replaced).":
        "对方案年度的一次模拟补全：已结期间按实际发放，其余月份为真实团队模拟（努力程度、业绩、离职与补员）。",
    "The average over the runs. Expected amounts of the periods add up to the year's.":
        "所有模拟的平均值。各期间的预计值相加等于全年的预计值。",
    "5th percentile: 5% of the runs end below this amount.": "第 5 百分位数：5% 的模拟低于此金额。",
    "50th percentile: half of the runs end below this amount, half above.": "第 50 百分位数：一半的模拟低于此金额，一半高于此金额。",
    "90th percentile: 9 runs in 10 end at or below this amount; a prudent budget.":
        "第 90 百分位数：十次模拟中有九次不超过此金额；稳健的预算。",
    "95th percentile: 19 runs in 20 end at or below this amount.": "第 95 百分位数：二十次模拟中有十九次不超过此金额。",
    "A closed period is paid from the actuals, as `incentive payout` computes it; a period in progress has some "
    "months of actuals; a forecast period is simulated.":
        "已结期间按实际业绩发放（与 `incentive payout` 的计算相同）；进行中的期间有部分月份的实际业绩；预测期间为模拟。",
    "What the closed periods' statements pay.": "已结期间的结算单所发放的金额。",
    "The expected payout of the rest of the year.": "年度剩余时间的预计发放。",
    "The incentive cost recognised so far: per-period plans, the closed periods' pay plus the earned share of a "
    "period in progress; year-to-date plans (accumulate: year), the expected annual payout x the share of the year "
    "elapsed (ratable), at least what has been paid.":
        "至今确认的激励成本：按期发放的方案，为已结期间的发放加上进行中期间已赚取的部分；按年累计的方案（accumulate: "
        "year），为预计全年发放 × 年度已过比例（按比例计提），且不低于已发放金额。",
    "Cost earned to date minus what has been paid.": "至今应计成本减去已发放金额。",
    "The share of the runs whose annual team payout exceeds the budget.": "全年团队发放超出预算的模拟所占比例。",
    "The share of the runs in which the rep quits before the plan year ends (the simulator's attrition model, an "
    "estimate).": "该销售在方案年度结束前离职的模拟所占比例（模拟器的离职模型，属于估计）。",
    "The rep's productivity relative to a typical rep, estimated from the results so far (median of the "
    "estimate); its uncertainty is the standard deviation of log skill.":
        "根据至今业绩估计的该销售相对一般销售的产出能力（估计的中位数）；其不确定性为对数能力的标准差。",
    "The replacements the simulator hires for reps who leave: what they are expected to be paid.":
        "模拟器为离职销售招聘的替补人员：预计向他们发放的金额。",
    "How much of the spread of the annual payout (its variance) one source explains on its own: skill (who the "
    "reps really are), noise (month-to-month luck), market (demand), attrition (who leaves). Estimated from a "
    "limited number of runs: an estimate below zero is shown as 0 (a share cannot be negative), with its standard "
    "error and 95% interval; the rest is what the sources do only together.":
        "单个来源单独能解释的全年发放波动（方差）的比例：能力（销售的真实水平）、随机波动（每月的运气）、市场（需求）、"
        "离职（谁会离开）。由有限次数的模拟估计：低于 0 的估计显示为 0（比例不可能为负），并给出标准误和 95% 区间；"
        "其余部分是各来源共同作用的结果。",
    "The uncertainty of an estimate from a finite number of runs; the 95% interval is the estimate +/- 1.96 "
    "standard errors (clipped to 0-100%).": "有限次数模拟带来的估计不确定性；95% 区间为估计值 ± 1.96 个标准误（限制在 0-100%）。",
    "The demand the team met each month relative to normal, read off the actuals so far (1.000 = normal; 0.950 = 5% "
    "below).": "根据至今实际业绩推算的团队每月需求相对正常水平的系数（1.000 = 正常；0.950 = 低 5%）。",
    "The behaviour and attrition model the rest of the year is simulated with (the built-in one, a scenario file, "
    "or one calibrated to a history file).": "模拟年度剩余时间所用的行为与离职模型（内置模型、情景文件，或按历史数据校准的模型）。",
    "The random seed: the same inputs, runs and seed give the same figures.": "随机种子：相同的输入、模拟次数和种子得到相同的数字。",
}
