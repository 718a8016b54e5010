"""The numbers a user gets for each plan, accumulated chunk by chunk in mergeable form.

Per-run figures (cost, revenue, leavers...) are kept in arrays indexed by run, so the
result does not depend on how runs were split into chunks. Distributions over reps pooled
across runs (attainment, payout per rep) are kept exactly while they are small and in a
mergeable log-bucket sketch beyond :data:`EXACT_LIMIT` values, whose quantiles are within a
relative error of :data:`SKETCH_ALPHA` (0.1%) of the exact ones.
"""

from __future__ import annotations

import math

import numpy as np

from engine.sim.simulate import ChunkResult

__all__ = [
    "EXACT_LIMIT",
    "PER_RUN_KEYS",
    "SAMPLE_CELLS",
    "SKETCH_ALPHA",
    "Accumulator",
    "QuantileSketch",
    "RepDetail",
    "gini",
    "skill_quartiles",
]

EXACT_LIMIT = 2_000_000
SKETCH_ALPHA = 0.001

SAMPLE_CELLS = 100_000  # (run x slot) cells of per-rep values kept by RepDetail: about 4 MB per plan

PER_RUN_KEYS = ("cost", "revenue", "cost_of_sales", "share_at_or_above_target", "attainment_p50",
                "attrition_rate", "regretted_attrition_rate", "share_disengaged", "effort_mean")


class QuantileSketch:
    """Values kept exactly up to a limit, then in log-spaced buckets (relative accuracy alpha).

    Both forms are mergeable and order-independent: the same multiset of values always gives
    the same quantiles.
    """

    def __init__(self, alpha: float = SKETCH_ALPHA, limit: int = EXACT_LIMIT):
        self.alpha = alpha
        self.limit = limit
        self.gamma = (1 + alpha) / (1 - alpha)
        self.log_gamma = math.log(self.gamma)
        self.values: list[np.ndarray] | None = []
        self.n = 0
        self.pos: dict[int, int] = {}
        self.neg: dict[int, int] = {}
        self.zero = 0

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).ravel()
        self.n += x.size
        if self.values is not None:
            self.values.append(x)
            if self.n > self.limit:
                allv = np.concatenate(self.values)
                self.values = None
                self._bucket(allv)
            return
        self._bucket(x)

    def _bucket(self, x: np.ndarray) -> None:
        tiny = 1e-9
        self.zero += int((np.abs(x) < tiny).sum())
        for sign, store in ((1, self.pos), (-1, self.neg)):
            v = x[(sign * x) >= tiny] * sign
            if not v.size:
                continue
            idx = np.ceil(np.log(v) / self.log_gamma).astype(np.int64)
            uniq, counts = np.unique(idx, return_counts=True)
            for i, cnt in zip(uniq.tolist(), counts.tolist()):
                store[i] = store.get(i, 0) + cnt

    def quantile(self, q: float) -> float:
        if self.n == 0:
            return float("nan")
        if self.values is not None:
            return float(np.quantile(np.sort(np.concatenate(self.values)), q))
        # Walk the buckets from the most negative to the most positive.
        rank = q * (self.n - 1)
        items = [(-self._mid(i), c) for i, c in sorted(self.neg.items(), reverse=True)]
        items += [(0.0, self.zero)] if self.zero else []
        items += [(self._mid(i), c) for i, c in sorted(self.pos.items())]
        seen = 0
        for value, count in items:
            seen += count
            if seen > rank:
                return float(value)
        return float(items[-1][0])

    def _mid(self, i: int) -> float:
        return 2.0 * self.gamma ** i / (self.gamma + 1.0)


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, 1 = one rep has everything)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() <= 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


class Accumulator:
    """Collects :class:`ChunkResult`s of one plan into the JSON document."""

    def __init__(self, runs: int, measures: list[str]):
        self.runs = runs
        self.filled = np.zeros(runs, dtype=bool)
        self.per_run = {k: np.full(runs, np.nan) for k in (
            "cost", "revenue", "leavers", "regretted", "headcount", "replacement_cost", "disengaged_months",
            "active_months", "effort_sum", "last_month_primary", "at_or_above", "reps", "gini",
            "attainment_p50", "base_pay_cost", "timing_ends", "pulls", "pushes")}
        self.measures = {m: np.full(runs, np.nan) for m in measures}
        self.attainment = QuantileSketch()
        self.payout = QuantileSketch()
        # Several plan years (filled from the first chunk with ``by_year``).
        self.years: tuple[str, ...] = ()
        self.year_runs: dict[str, np.ndarray] = {}
        self.year_attainment: list[QuantileSketch] = []

    def add(self, r: ChunkResult) -> None:
        idx = r.run_index
        self.filled[idx] = True
        pr = self.per_run
        for key in ("cost", "revenue", "leavers", "regretted", "headcount", "replacement_cost",
                    "disengaged_months", "active_months", "effort_sum", "last_month_primary"):
            pr[key][idx] = getattr(r, key)
        if r.base_pay_cost is not None:
            pr["base_pay_cost"][idx] = r.base_pay_cost
        moves = r.timing_moves if r.timing_moves is not None else np.zeros((len(idx), 3))
        for j, key in enumerate(("timing_ends", "pulls", "pushes")):
            pr[key][idx] = moves[:, j]
        for m, v in r.measures.items():
            if m in self.measures:
                self.measures[m][idx] = v
        for j, run in enumerate(idx):
            mask = r.rep_mask[j]
            att = r.attainment[j][mask]
            pr["at_or_above"][run] = float((att >= 1.0).sum())
            pr["reps"][run] = float(mask.sum())
            pr["gini"][run] = gini(np.maximum(att, 0.0))
            pr["attainment_p50"][run] = float(np.median(att)) if att.size else np.nan
        # The sketches' result does not depend on the order values arrive in.
        self.attainment.add(r.attainment[r.rep_mask])
        self.payout.add(r.payout[r.rep_mask])
        if r.by_year is not None:
            self._add_years(r)

    _YEAR_KEYS = ("cost", "revenue", "leavers", "regretted", "headcount", "replacement_cost", "disengaged_months",
                  "active_months", "effort_sum")

    def _add_years(self, r: ChunkResult) -> None:
        by = r.by_year
        assert by is not None
        if not self.years:
            self.years = tuple(by["labels"])
            Y = len(self.years)
            self.year_runs = {k: np.full((self.runs, Y), np.nan) for k in self._YEAR_KEYS + ("at_or_above", "reps")}
            self.year_attainment = [QuantileSketch() for _ in self.years]
        idx = r.run_index
        for key in self._YEAR_KEYS:
            self.year_runs[key][idx] = by[key]
        att, mask = by["attainment"], by["mask"]
        self.year_runs["at_or_above"][idx] = ((att >= 1.0) & mask).sum(axis=1)
        self.year_runs["reps"][idx] = mask.sum(axis=1)
        for y, sketch in enumerate(self.year_attainment):
            sketch.add(att[..., y][mask[..., y]])

    def _by_year(self, stats) -> list[dict]:
        """One entry per plan year: its label and its figures as at the top level."""
        out = []
        yr = self.year_runs
        for y, label in enumerate(self.years):
            def col(key: str, y: int = y) -> np.ndarray:
                return yr[key][:, y]
            reps, head, active = col("reps").sum(), col("headcount").sum(), col("active_months").sum()
            att = self.year_attainment[y]
            out.append({
                "year": label,
                "cost": stats(col("cost")),
                "revenue": stats(col("revenue")),
                "cost_of_sales": _f(np.mean(col("cost")) / np.mean(col("revenue"))) if np.mean(col("revenue"))
                else None,
                "attainment": {
                    "p10": _f(att.quantile(0.10)), "p50": _f(att.quantile(0.50)), "p90": _f(att.quantile(0.90)),
                    "share_at_or_above_target": _f(col("at_or_above").sum() / reps) if reps else None,
                },
                "morale": {
                    "attrition_rate": _f(col("leavers").sum() / head) if head else None,
                    "regretted_attrition_rate": _f(col("regretted").sum() / head) if head else None,
                    "share_disengaged": _f(col("disengaged_months").sum() / active) if active else None,
                    "replacement_cost": _f(np.mean(col("replacement_cost"))),
                },
                "effort": {"mean": _f(col("effort_sum").sum() / active) if active else None},
            })
        return out

    def year_per_run(self) -> dict[str, np.ndarray]:
        """Per-run cost and revenue of each plan year (``cost <year>``, ``revenue <year>``), for
        paired differences; empty with a single plan year."""
        out = {}
        for y, label in enumerate(self.years):
            out[f"cost {label}"] = self.year_runs["cost"][:, y]
            out[f"revenue {label}"] = self.year_runs["revenue"][:, y]
        return out

    def per_run_metrics(self) -> dict[str, np.ndarray]:
        """Per-run values of the figures compared between plans (for paired differences)."""
        pr = self.per_run
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "cost": pr["cost"],
                "revenue": pr["revenue"],
                "cost_of_sales": pr["cost"] / pr["revenue"],
                "share_at_or_above_target": pr["at_or_above"] / pr["reps"],
                "attainment_p50": pr["attainment_p50"],
                "attrition_rate": pr["leavers"] / pr["headcount"],
                "regretted_attrition_rate": pr["regretted"] / pr["headcount"],
                "share_disengaged": pr["disengaged_months"] / pr["active_months"],
                "effort_mean": pr["effort_sum"] / pr["active_months"],
                "last_month_share": pr["last_month_primary"] / pr["revenue"],
                "timing_moved_share": (pr["pulls"] + pr["pushes"]) / pr["timing_ends"],
                **self.year_per_run(),
            }

    def document(self, plan: str, scenario: str, reps: int, periods: int, seed: int) -> dict:
        """The JSON contract of ``incentive simulate``."""
        if not self.filled.all():
            raise RuntimeError("not every run was simulated")
        pr = self.per_run
        cost, revenue = pr["cost"], pr["revenue"]

        def stats(x):
            return {"mean": _f(np.mean(x)), "p05": _q(x, 0.05), "p50": _q(x, 0.50), "p90": _q(x, 0.90),
                    "p95": _q(x, 0.95)}

        att = self.attainment
        total_reps = pr["reps"].sum()
        timing_ends = pr["timing_ends"].sum()
        return {
            "plan": plan,
            "scenario": scenario,
            "runs": self.runs,
            "reps": reps,
            "periods": periods,
            "seed": seed,
            "cost": stats(cost),
            "revenue": stats(revenue),
            "cost_of_sales": _f(np.mean(cost) / np.mean(revenue)) if np.mean(revenue) else None,
            "attainment": {
                "p10": _f(att.quantile(0.10)), "p50": _f(att.quantile(0.50)), "p90": _f(att.quantile(0.90)),
                "share_at_or_above_target": _f(pr["at_or_above"].sum() / total_reps) if total_reps else None,
                "gini": _f(np.mean(pr["gini"])),
            },
            "payout_per_rep": {"p10": _f(self.payout.quantile(0.10)), "p50": _f(self.payout.quantile(0.50)),
                               "p90": _f(self.payout.quantile(0.90))},
            "morale": {
                "attrition_rate": _f(pr["leavers"].sum() / pr["headcount"].sum()),
                "regretted_attrition_rate": _f(pr["regretted"].sum() / pr["headcount"].sum()),
                "share_disengaged": _f(pr["disengaged_months"].sum() / pr["active_months"].sum()),
                "replacement_cost": _f(np.mean(pr["replacement_cost"])),
            },
            "timing": {"last_month_share": _f(pr["last_month_primary"].sum() / revenue.sum())
                       if revenue.sum() else None,
                       # Of the rep period-ends at which business could move: the share pulled in, pushed out.
                       "pull_share": _f(pr["pulls"].sum() / timing_ends) if timing_ends else 0.0,
                       "push_share": _f(pr["pushes"].sum() / timing_ends) if timing_ends else 0.0},
            "effort": {"mean": _f(pr["effort_sum"].sum() / pr["active_months"].sum())},
            "measures": {m: _f(np.mean(v)) for m, v in self.measures.items()},
            **({} if np.isnan(pr["base_pay_cost"]).any() else {
                "base_pay_cost": stats(pr["base_pay_cost"]),
                "total_pay_cost": stats(cost + pr["base_pay_cost"]),
            }),
            **({"by_year": self._by_year(stats)} if len(self.years) > 1 else {}),
        }


def skill_quartiles(skill: np.ndarray) -> np.ndarray:
    """Quartile (0 = lowest, 3 = highest) of each rep's skill within its run, on the last axis."""
    n = skill.shape[-1]
    ranks = np.argsort(np.argsort(skill, axis=-1, kind="stable"), axis=-1, kind="stable")
    return (ranks * 4) // max(n, 1)


class RepDetail:
    """Per-rep values kept for charts, beside the JSON document (opt-in, bounded memory).

    Two things, both filled by run index so that they do not depend on chunking, workers
    or the order chunks arrive in:

    * a sample: every slot of the first ``sample_runs`` runs (as many as fit in
      :data:`SAMPLE_CELLS` cells), with its attainment, payout, skill and ``rep_mask``;
    * for every run, the mean payout and attainment of the reps who started the year (the
      seats), by skill quartile within the run. Run ``i`` has the same people under every
      plan (common random numbers), so these can be differenced plan against plan.

    Attributes:
        seats: starting reps per run (slots ``0 .. seats - 1``).
        sample_runs: runs in the sample (runs ``0 .. sample_runs - 1``).
        attainment, payout, skill: ``(sample_runs, slots)``; NaN where ``rep_mask`` is False.
        rep_mask: ``(sample_runs, slots)`` slots that held a rep during the year.
        quartile_payout, quartile_attainment: ``(runs, 4)`` means over the starting reps
            of each skill quartile (Q1 lowest).
    """

    def __init__(self, runs: int, slots: int, seats: int, cells: int = SAMPLE_CELLS):
        self.runs, self.slots, self.seats = runs, slots, seats
        self.sample_runs = min(runs, max(1, cells // max(slots, 1)))
        k = self.sample_runs
        self.attainment = np.full((k, slots), np.nan)
        self.payout = np.full((k, slots), np.nan)
        self.skill = np.full((k, slots), np.nan)
        self.rep_mask = np.zeros((k, slots), dtype=bool)
        self.quartile_payout = np.full((runs, 4), np.nan)
        self.quartile_attainment = np.full((runs, 4), np.nan)

    def add(self, r: ChunkResult) -> None:
        idx = np.asarray(r.run_index)
        keep = idx < self.sample_runs
        if keep.any():
            rows, m = idx[keep], r.rep_mask[keep]
            self.rep_mask[rows] = m
            self.attainment[rows] = np.where(m, r.attainment[keep], np.nan)
            self.payout[rows] = np.where(m, r.payout[keep], np.nan)
            self.skill[rows] = np.where(m, r.skill[keep], np.nan)
        s = self.seats
        q = skill_quartiles(r.skill[:, :s])
        for k in range(4):
            inq = q == k
            count = np.maximum(inq.sum(axis=1), 1)
            self.quartile_payout[idx, k] = np.where(inq, r.payout[:, :s], 0.0).sum(axis=1) / count
            self.quartile_attainment[idx, k] = np.where(inq, r.attainment[:, :s], 0.0).sum(axis=1) / count

    def values(self, key: str) -> np.ndarray:
        """The sampled per-rep values of ``"attainment"`` or ``"payout"`` (reps present only)."""
        return getattr(self, key)[self.rep_mask]


def _q(x: np.ndarray, q: float) -> float | None:
    return _f(np.quantile(x, q))


def _f(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None
