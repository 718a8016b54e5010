"""The floor for the simulator: a minimal hand-written numpy kernel of the same arithmetic.

``benchmarks/bench_scale.py --part floor`` times the engine (:class:`engine.sim.simulate.Simulation`)
against this kernel at the same size to show how close the engine gets to what plain numpy
can do for this one plan. It hard-codes the seeds plan
(``scenarios/plans/seeds_base_float_excess.yaml``: quarterly; a step at 80% / 100% of the
quarterly revenue target paying 0.4 / 0.6 of the quarterly TI; 4% / 6% marginal commission
on revenue above target, the first tier up to 20% of target, capped at the quarterly TI;
everything x0.8 when the quarter has more than 3 complaints) and the default scenario's
production model (numbers read from the scenario, formulas written out).

Every rep of every run is one cell of flat ``(runs x reps,)`` arrays; there are no per-rep
loops and every large temporary is preallocated and reused in place. Cells are independent
under this plan, so they are simulated a year at a time in blocks of 8,192 cells, which
keeps the work arrays in the L2 cache (about 1.35x faster here than all cells at once).
Each month, for all cells of a block at once, it does what the engine does for this plan:

1. coordinate search over the effort grid (6 levels) for selling, then for care (the two
   activities the plan can see: revenue, and complaints through care and the selling
   pressure), the other activity held at its current choice; each candidate is priced on
   the plan window (the current quarter) at
   3 Gauss-Hermite noise points on the projected revenue: realized months so far plus the
   expected revenue of the remaining months, expected complaints, the plan's pay per
   quarter (hand-coded), the CARA certainty equivalent
   ``-(ti/12)/rho ln sum_j w_j exp(-rho V_j / (ti/12))`` (docs/model.md §3) minus the
   cost of effort, and the best level (ties to the lower level, with the engine's 1e-9
   relative tolerance);
2. realized outputs: Poisson deal counts by inversion of a uniform (a lookup in a
   precomputed CDF table), the Fenton-Wilkinson lognormal deal-size sum (from per-count
   tables), Poisson complaints (``Generator.poisson``; the engine inverts a common uniform
   so that plans share random numbers); business carried in from a period end arrives;
3. the realized pay at each quarter close (for the cost figure), tenure (for the ramp).

What it leaves out or does more cheaply (the engine does all of it in general form):

* the timing choice at a quarter's close (docs/model.md §3, "Timing"): priced once per rep
  and quarter (7 candidates, against about 36 effort candidates per rep and month), it is
  left out, and so no business moves between quarters unless the state says so;

* everything generic: the plan compiler and its :class:`~engine.core.inputs.Inputs`
  (actuals rebuilt per candidate, proration, activity masks, roster columns, per-value
  finiteness checks, the ``targets``/``measures`` environment, per-period statement
  columns), :func:`~engine.sim.behaviour.Production.expected` over every output, the
  aggregation of months into periods by column;
* morale and attrition: morale stays at each rep's initial value (so the effort multiplier
  is constant), no outside offers, no hopeless-target check, no fairness percentiles, no
  quits, vacancies or backfills (every seat is filled all year, so cells are never packed
  or unpacked), no regretted leavers;
* outputs the plan does not read (collected, csat, new customers) are not realized, and
  only the random numbers used are drawn (the engine draws a uniform and a normal for each
  of the 5 outputs, and a quit uniform, per slot and month, from one generator per run);
* the end-of-year evaluation of full statements and the per-run metrics;
* algebra an expert would do by hand: the effort is the same for the rest of the window, so
  the projected revenue of a quarter is ``E^0.7`` times a per-rep sum over its remaining
  months; ``(g m)^a = g^a m^a`` with ``g^a`` taken from a table over the grid; thresholds
  are compared with precomputed ``0.8 x target``. It does *not* exploit that care effort
  leaves revenue unchanged: every candidate is priced in full, as the engine does.

:func:`check_against_engine` compares this kernel's utilities for every candidate with the
engine's own ``Simulation._utility`` on the same state (past months, carried business,
the quarter's window): they agree to round-off, so the floor times
the same arithmetic and not a simpler model.

Run: ``python benchmarks/numpy_floor.py [--reps 2000] [--runs 20] [--block 8192] [--check]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from engine.sim.population import build_roster
from engine.sim.scenario import Scenario, default_scenario

__all__ = ["Floor", "check_against_engine", "run_floor"]

ROOT = Path(__file__).resolve().parents[1]
SEEDS_PLAN = ROOT / "scenarios" / "plans" / "seeds_base_float_excess.yaml"

# The seeds plan, hand-coded.
BASE_AT, FLOAT_AT = 0.8, 1.0          # attainment of the base and the floating step
BASE_SHARE, FLOAT_SHARE = 0.4, 0.6    # of the quarterly target incentive
EXCESS_RATE, SUPER_RATE = 0.04, 0.06  # marginal commission on revenue above target
TIER = 0.2                            # first tier: up to 20% of target above target
COMPLAINT_LIMIT, PENALTY = 3.0, 0.8   # more than 3 complaints in the quarter: x0.8
MONTHS_PER_PERIOD = 3
TIE = 1e-9                            # the engine's relative tolerance: ties go to the lower candidate
BLOCK = 8_192                         # cells simulated together (work arrays stay in a 4 MiB L2 cache)


class Floor:
    """The month loop for ``N`` cells (flat arrays of shape ``(N,)``).

    Args:
        sc: the scenario (production numbers, grid, quadrature, seasonality, ramp).
        quota, ti: annual revenue target and target incentive per cell.
        skill, kappa, rho, morale, tenure: per-cell traits (morale stays constant).
        rng: generator for the outcome draws.
    """

    def __init__(self, sc: Scenario, quota, ti, skill, kappa, rho, morale, tenure,
                 rng: np.random.Generator | None = None):
        out = {o.name: o for o in sc.outputs}
        rev, comp = out["revenue"], out["complaints"]
        acts = {a.name: i for i, a in enumerate(sc.activities)}
        self.i_sell, self.i_care = acts[rev.activity], acts[comp.activity]
        assert comp.activity != rev.activity and out["complaints"].kind == "incidents"
        self.M = sc.months
        self.season = np.array([sc.seasonality[i % 12] for i in range(self.M)])  # the plan year starts in January
        self.ramp_T, self.ramp_r0 = float(sc.ramp_months), float(sc.ramp_start)
        self.el = rev.get("elasticity", 1.0)
        self.lam = rev.get("deals_per_month", 4.0)
        ssig = rev.get("size_sigma", 0.8)
        self.c_mean, self.c_el, self.c_press = comp.get("mean"), comp.get("elasticity"), comp.get("pressure")
        shares = np.array([a.share for a in sc.activities])
        self.share_s, self.share_c = shares[self.i_sell], shares[self.i_care]
        self.share_other = shares.sum() - self.share_s - self.share_c  # activities left at baseline effort 1
        self.grid = np.array(sc.effort_grid, dtype=float)
        self.grid = self.grid[self.grid <= min(sc.activities[self.i_sell].max_effort,
                                               sc.activities[self.i_care].max_effort) + 1e-12]
        G = self.G = len(self.grid)
        nodes, weights = np.polynomial.hermite_e.hermegauss(sc.noise_points) if sc.noise_points > 1 \
            else (np.zeros(1), np.ones(1))
        self.nodes, self.weights = nodes, weights / weights.sum()
        S = self.S = len(self.nodes)
        self.cv = math.sqrt(math.exp(ssig * ssig) / self.lam)  # monthly CV of deal revenue
        f = dict(sc.morale)["effort_floor"]

        # Per-grid-level powers (g^a), per-cell powers of the morale multiplier (m^a).
        self.g_el, self.g_press, self.g_cel = self.grid ** self.el, self.grid ** self.c_press, self.grid ** self.c_el
        self.g_cost = np.maximum(self.grid - 1.0, 0.0) ** 2
        mm = f + (1.0 - f) * np.asarray(morale, dtype=float)
        self.mm = mm
        self.mm_el, self.mm_press, self.mm_cel = mm ** self.el, mm ** self.c_press, mm ** self.c_el

        # Per-cell constants of the plan and the production model.
        quota, ti = np.asarray(quota, dtype=float), np.asarray(ti, dtype=float)
        N = self.N = quota.size
        self.base_rev = rev.get("level", 1.0) * quota / 12.0 * np.asarray(skill, dtype=float)
        self.Tq = quota / 4.0
        self.thr_base, self.thr_float, self.tier = BASE_AT * self.Tq, FLOAT_AT * self.Tq, TIER * self.Tq
        self.TIq = ti / 4.0
        self.b_base, self.b_float = BASE_SHARE * self.TIq, FLOAT_SHARE * self.TIq
        ti_m = np.maximum(ti / 12.0, 1e-9)
        rho = np.asarray(rho, dtype=float)
        self.ti_m = ti_m
        self.neutral = rho <= 1e-12                    # risk neutral: the limit mean - rho/2 var/s
        self.rho = np.where(self.neutral, 1.0, rho)
        self.half_rho = 0.5 * rho
        self.cost_unit = np.asarray(kappa, dtype=float) * ti_m * 0.5
        self.tenure = np.asarray(tenure, dtype=float).copy()

        # State.
        self.cs = np.ones(N)     # chosen selling effort level
        self.cc = np.ones(N)     # chosen care effort level
        self.i_cs = np.zeros(N, dtype=np.intp)
        self.i_cc = np.zeros(N, dtype=np.intp)
        self.qrev = np.zeros(N)  # revenue realized so far in the current quarter
        self.qcomp = np.zeros(N)
        self.carry = np.zeros(N)  # business moved into this month by last month's timing choice
        self.paid = np.zeros(N)
        self.revenue = np.zeros(N)
        self.effort_sum = np.zeros(N)
        self.rng = rng if rng is not None else np.random.default_rng(0)

        # Preallocated work arrays: K candidates x N cells.
        K = max(G, 3)
        self._ep, self._unit, self._cost = np.empty((K, N)), np.empty((K, N)), np.empty((K, N))
        self._F, self._R, self._x, self._pay, self._pen = (np.empty((K, N)) for _ in range(5))
        self._mask = np.empty((K, N), dtype=bool)
        self._V = np.empty((S, K, N))
        self._u, self._var = np.empty((K, N)), np.empty((K, N))
        self._best, self._thr = np.empty(N), np.empty(N)
        self._nmask = np.empty(N, dtype=bool)
        self._n1, self._n2, self._n3 = np.empty(N), np.empty(N), np.empty(N)

        # Poisson(lam) inversion table and the deal-size sum per deal count.
        p = math.exp(-self.lam)
        cdf = [p]
        k = 0
        while k < 400:
            k += 1
            p = p * self.lam / k
            cdf.append(cdf[-1] + p)
            if p < 1e-17 * cdf[-1]:
                break
        self.deal_cdf = np.array(cdf)
        n = np.arange(len(cdf) + 1, dtype=float)
        s2 = np.log1p(np.expm1(ssig * ssig) / np.maximum(n, 1.0))
        self.deal_scale = n / self.lam * np.exp(-s2 / 2.0)  # 0 for no deal
        self.deal_sd = np.sqrt(s2)

    # -- the window of a month ------------------------------------------------------------

    def _prepare(self, t: int) -> None:
        """Quarters this month's choices can change, each quarter's remaining-month revenue
        coefficient, and the quadrature factors."""
        M, k = self.M, t // MONTHS_PER_PERIOD
        quarters = [k]
        self.window = []
        nf = 0
        for q in quarters:
            months = [m for m in range(q * MONTHS_PER_PERIOD, min((q + 1) * MONTHS_PER_PERIOD, M)) if m >= t]
            coef = np.zeros(self.N)
            for m in months:
                ramp = np.minimum(1.0, self.ramp_r0 + (1.0 - self.ramp_r0) * (self.tenure + (m - t)) / self.ramp_T)
                coef += self.season[m] * ramp
            coef *= self.base_rev
            first = q == k and t > k * MONTHS_PER_PERIOD  # realized months before t in this quarter
            self.window.append((coef, self.qrev if first else None, self.qcomp if first else None, len(months)))
            nf += len(months)
        self.nf = nf
        cv = self.cv / math.sqrt(max(nf, 1))
        s = math.sqrt(math.log1p(cv * cv))
        self.factors = np.exp(s * self.nodes - s * s / 2.0)

    # -- pricing K candidates ---------------------------------------------------------------

    def _price(self, K: int, ep, unit, adj, cost) -> np.ndarray:
        """Utility of K candidates per cell: ``(K, N)`` (a view of a work array).

        ep: selling effort^elasticity, ``(K, N)`` or ``(N,)``; unit: expected complaints per
        remaining month; adj: per window quarter, known business carried in (added after the
        noise, as the engine adds it) or None; cost: cost of effort.
        """
        F, R, x, pay, pen = self._F[:K], self._R[:K], self._x[:K], self._pay[:K], self._pen[:K]
        mask, V, u, var = self._mask[:K], self._V[:, :K], self._u[:K], self._var[:K]
        for qi, (coef, past_r, past_c, nfq) in enumerate(self.window):
            np.multiply(ep, coef, out=F)            # expected revenue of the quarter's remaining months
            np.multiply(unit, float(nfq), out=pen)  # expected complaints of the quarter
            if past_c is not None:
                pen += past_c
            np.greater(pen, COMPLAINT_LIMIT, out=mask)
            np.multiply(mask, PENALTY - 1.0, out=pen)
            pen += 1.0
            for j in range(self.S):
                np.multiply(F, self.factors[j], out=R)
                if past_r is not None:
                    R += past_r
                if adj[qi] is not None:
                    R += adj[qi]
                # Step: base bonus at 80% of target, floating bonus at 100%.
                np.greater_equal(R, self.thr_base, out=mask)
                np.multiply(mask, self.b_base, out=pay)
                np.greater_equal(R, self.thr_float, out=mask)
                np.multiply(mask, self.b_float, out=x)
                pay += x
                # Commission on the excess over target, marginal tiers, capped at the quarterly TI.
                R -= self.Tq
                np.maximum(R, 0.0, out=R)
                np.minimum(R, self.tier, out=x)
                x *= EXCESS_RATE
                R -= self.tier
                np.maximum(R, 0.0, out=R)
                R *= SUPER_RATE
                R += x
                np.minimum(R, self.TIq, out=R)
                pay += R
                pay *= pen                          # the complaints penalty
                if qi == 0:
                    V[j] = pay
                else:
                    V[j] += pay
        # CARA certainty equivalent minus the cost of effort. With x_j = (V_j - mean)/s: near
        # the mean (rho x_j >= -1) mean - s/rho log1p(sum w_j expm1(-rho x_j)); otherwise
        # min V - s/rho ln sum w_j exp(-rho (V_j - min V)/s); risk neutral: mean - rho/2 var/s.
        s, r, w = self.ti_m, self.rho, self.weights
        np.multiply(V[0], w[0], out=u)
        for j in range(1, self.S):
            np.multiply(V[j], w[j], out=x)
            u += x
        lowest = V.min(axis=0)
        near = r * (u - lowest) / s <= 1.0
        sum_near, sum_far = np.zeros_like(u), np.zeros_like(u)
        var[:] = 0.0
        for j in range(self.S):
            np.subtract(V[j], u, out=x)
            x /= s
            var += w[j] * x * x
            sum_near += w[j] * np.expm1(np.minimum(-r * x, 1.0))
            sum_far += w[j] * np.exp(-r * (V[j] - lowest) / s)
        ce_near = u + s * np.where(self.neutral, -self.half_rho * var, -np.log1p(sum_near) / r)
        ce_far = lowest - s / r * np.log(sum_far)
        u[:] = np.where(near | self.neutral, ce_near, ce_far)
        u -= cost
        return u

    def _select(self, u: np.ndarray, idx: np.ndarray) -> None:
        """Best candidate per cell, scanning in order: a later one must beat the best by 1e-9 relative."""
        best, thr, better = self._best, self._thr, self._nmask
        best[:] = u[0]
        idx[:] = 0
        for i in range(1, u.shape[0]):
            np.abs(best, out=thr)
            thr *= TIE
            thr += best
            np.greater(u[i], thr, out=better)
            np.copyto(best, u[i], where=better)
            np.copyto(idx, i, where=better)

    # -- the three decisions ---------------------------------------------------------------

    def _carry_adj(self):
        return [self.carry if self.carry_any else None] + [None] * (len(self.window) - 1)

    def sell_utilities(self, cc: np.ndarray, i_cc: np.ndarray | None = None) -> np.ndarray:
        """``(G, N)`` utilities of the selling levels, care held at ``cc``."""
        G = self.G
        ep, unit, cost = self._ep[:G], self._unit[:G], self._cost[:G]
        np.multiply(self.g_el[:, None], self.mm_el, out=ep)
        care = self._n1
        if i_cc is not None:
            np.multiply(self.g_cel[i_cc], self.mm_cel, out=care)
        else:
            np.power(cc * self.mm, self.c_el, out=care)
        care *= self.c_mean
        care *= self.mm_press
        np.multiply(self.g_press[:, None], care, out=unit)
        c2 = self._n2
        np.subtract(cc, 1.0, out=c2)
        np.maximum(c2, 0.0, out=c2)
        c2 *= c2
        c2 *= self.share_c
        np.add((self.share_s * self.g_cost)[:, None], c2, out=cost)
        cost *= self.cost_unit
        cost *= float(self.nf)
        return self._price(G, ep, unit, self._carry_adj(), cost)

    def care_utilities(self, cs: np.ndarray, i_cs: np.ndarray | None = None) -> np.ndarray:
        """``(G, N)`` utilities of the care levels, selling held at ``cs``."""
        G = self.G
        unit, cost = self._unit[:G], self._cost[:G]
        ep, press = self._n1, self._n2
        if i_cs is not None:
            np.multiply(self.g_el[i_cs], self.mm_el, out=ep)
            np.multiply(self.g_press[i_cs], self.mm_press, out=press)
        else:
            np.power(cs * self.mm, self.el, out=ep)
            np.power(cs * self.mm, self.c_press, out=press)
        press *= self.c_mean
        press *= self.mm_cel
        np.multiply(self.g_cel[:, None], press, out=unit)
        s2 = self._n3
        np.subtract(cs, 1.0, out=s2)
        np.maximum(s2, 0.0, out=s2)
        s2 *= s2
        s2 *= self.share_s
        np.add((self.share_c * self.g_cost)[:, None], s2, out=cost)
        cost *= self.cost_unit
        cost *= float(self.nf)
        return self._price(G, ep, unit, self._carry_adj(), cost)

    # -- the month -------------------------------------------------------------------------

    def month(self, t: int) -> None:
        self.carry_any = bool(self.carry.any())
        self._prepare(t)
        # 1. Effort: selling, then care.
        u = self.sell_utilities(self.cc, self.i_cc)
        self._select(u, self.i_cs)
        np.take(self.grid, self.i_cs, out=self.cs)
        u = self.care_utilities(self.cs, self.i_cs)
        self._select(u, self.i_cc)
        np.take(self.grid, self.i_cc, out=self.cc)
        # 2. Outcomes.
        es_el = self.g_el[self.i_cs] * self.mm_el
        ramp = np.minimum(1.0, self.ramp_r0 + (1.0 - self.ramp_r0) * self.tenure / self.ramp_T)
        mu = self.base_rev * self.season[t] * ramp * es_el
        rng = self.rng
        uni = rng.random(self.N)
        z = rng.standard_normal(self.N)
        n = np.searchsorted(self.deal_cdf, uni)
        prim = mu * self.deal_scale[n] * np.exp(self.deal_sd[n] * z)
        lam_c = self.c_mean * (self.g_cel[self.i_cc] * self.mm_cel) * (self.g_press[self.i_cs] * self.mm_press)
        comp = rng.poisson(lam_c).astype(np.float64)
        if self.carry_any:
            prim += self.carry
            self.carry[:] = 0.0
        self.qrev += prim
        self.qcomp += comp
        self.revenue += prim
        self.effort_sum += self.share_s * self.cs * self.mm + self.share_other * self.mm \
            + self.share_c * self.cc * self.mm
        # 3. Quarter close: the realized pay.
        if t % MONTHS_PER_PERIOD == MONTHS_PER_PERIOD - 1 or t == self.M - 1:
            self.paid += self.pay(self.qrev, self.qcomp)
            self.qrev[:] = 0.0
            self.qcomp[:] = 0.0
        self.tenure += 1.0

    def pay(self, rev: np.ndarray, comp: np.ndarray) -> np.ndarray:
        """The plan's pay for a quarter of realized revenue and complaints."""
        step = np.where(rev >= self.thr_base, self.b_base, 0.0) + np.where(rev >= self.thr_float, self.b_float, 0.0)
        excess = np.maximum(rev - self.Tq, 0.0)
        comm = np.minimum(excess, self.tier) * EXCESS_RATE + np.maximum(excess - self.tier, 0.0) * SUPER_RATE
        return (step + np.minimum(comm, self.TIq)) * np.where(comp > COMPLAINT_LIMIT, PENALTY, 1.0)


def _traits(sc: Scenario, rng: np.random.Generator, n: int) -> dict:
    """The traits the arithmetic needs, drawn as the engine draws them (no outside offer)."""
    return {
        "skill": np.maximum(sc.skill.sample(rng, n), 1e-6),
        "kappa": np.maximum(sc.effort_cost.sample(rng, n), 1e-6),
        "rho": np.maximum(sc.risk_aversion.sample(rng, n), 0.0),
        "morale": np.clip(sc.initial_morale.sample(rng, n), 0.0, 1.0),
        "tenure": np.maximum(sc.tenure_months.sample(rng, n), 0.0),
    }


def run_floor(reps: int, runs: int, seed: int, scenario: Scenario | None = None,
              block: int | None = BLOCK) -> dict:
    """Simulate ``runs`` years of ``reps`` reps with the floor kernel.

    The roster is the engine's (:func:`engine.sim.population.build_roster` of the scenario
    resized to ``reps``), built before the clock starts, as the engine builds it in
    ``Simulation.__init__``. Timed: drawing the traits, setting up the arrays, 12 months.
    Cells are independent under this plan, so they are simulated in blocks of ``block``
    cells, a whole year per block, to keep the work arrays in cache (None: one block).

    Returns:
        ``{'rep_months', 'seconds', 'mean_effort', 'mean_attainment', 'payout_per_rep',
        'share_at_or_above_target', 'block'}``.
    """
    base = scenario or default_scenario()
    sc = dataclasses.replace(base, reps=reps, teams=min(base.teams, reps))
    roster = build_roster(sc)
    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF1007]))
    n = reps * runs
    tr = _traits(sc, rng, n)
    quota, ti = np.tile(roster.quota, runs), np.tile(roster.ti, runs)
    block = n if not block else int(block)
    revenue, paid, effort = np.empty(n), np.empty(n), 0.0
    months = sc.months
    for lo in range(0, n, block):
        part = slice(lo, min(lo + block, n))
        fl = Floor(sc, quota[part], ti[part], rng=rng, **{k: v[part] for k, v in tr.items()})
        for t in range(months):
            fl.month(t)
        revenue[part], paid[part] = fl.revenue, fl.paid
        effort += float(fl.effort_sum.sum())
    seconds = time.perf_counter() - t0
    att = revenue / (quota * months / 12.0)
    return {
        "rep_months": n * months, "seconds": seconds, "mean_effort": effort / (n * months),
        "mean_attainment": float(att.mean()), "payout_per_rep": float(paid.mean()),
        "share_at_or_above_target": float((att >= 1.0).mean()), "block": min(block, n),
    }


def _one(x) -> np.ndarray:
    """Cells as the engine's packed layout: one row of N cells."""
    return np.asarray(x, dtype=float)[None]


def check_against_engine(reps: int = 400, seed: int = 7, months=(0, 1, 2, 3, 4, 5, 11)) -> dict:
    """The floor's utilities against the engine's ``Simulation._utility`` on the same state.

    For each month in ``months`` a random state (traits, current choices, realized revenue
    and complaints of the quarter's earlier months, business carried in from a timing
    choice) is priced for every selling level and every care level, by both. Returns the largest relative difference of
    utility (scaled by the monthly target incentive) and how many best choices differ.
    """
    from engine.plan import load_plan
    from engine.sim.simulate import Reps, Simulation

    checked = load_plan(SEEDS_PLAN)
    base = default_scenario()
    sc = dataclasses.replace(base, reps=reps, teams=min(base.teams, reps))
    sim = Simulation(checked, sc, seed)
    assert sim.P == 4 and list(sim.relevant) == [0, 2], "the floor hard-codes a quarterly plan on selling and care"
    rng = np.random.default_rng(seed)
    N, M, A = reps, sim.months, len(sc.activities)
    quota, ti = np.asarray(sim.roster.quota, dtype=float), np.asarray(sim.roster.ti, dtype=float)
    grid = sim.grid
    worst, flips, priced = 0.0, 0, 0
    for t in months:
        tr = _traits(sc, rng, N)
        fl = Floor(sc, quota, ti, rng=rng, **tr)
        cs, cc = grid[rng.integers(0, len(grid), N)], grid[rng.integers(0, len(grid), N)]
        actual = {"revenue": np.zeros((1, N, M)), "complaints": np.zeros((1, N, M))}
        actual["revenue"][0, :, :t] = quota[:, None] / 12 * rng.lognormal(0.0, 0.5, (N, t))
        actual["complaints"][0, :, :t] = rng.poisson(1.2, (N, t))
        k = t // 3
        fl.qrev[:] = actual["revenue"][0, :, 3 * k:t].sum(axis=1)
        fl.qcomp[:] = actual["complaints"][0, :, 3 * k:t].sum(axis=1)
        carry = rng.normal(0.0, 5_000.0, N) if t % 3 == 0 and t > 0 else np.zeros(N)
        fl.carry[:] = carry
        fl.carry_any = bool(carry.any())
        fl._prepare(t)
        window = sim._window(k, False)
        reps_ = Reps(skill=_one(tr["skill"]), quota=_one(quota), ti=_one(ti), tenure=_one(tr["tenure"]),
                     kappa=_one(tr["kappa"]), rho=_one(tr["rho"]), actual=actual,
                     active_m=np.ones((1, N, M), dtype=bool), present=np.ones((1, N), dtype=bool),
                     roster_cols={"quota": _one(quota), "ti": _one(ti)}, carry=_one(carry))

        mm = _one(fl.mm)
        view = sim._month_view(reps_, t, window)

        def engine_u(sell, care, view=view, mm=mm, reps_=reps_):
            choice = np.ones((A, 1, N))
            choice[0, 0], choice[2, 0] = sell, care
            u, _ = sim._utility(reps_, view, choice, mm)
            return u[0]

        cases = [(fl.sell_utilities(cc).copy(), np.stack([engine_u(g, cc) for g in grid])),
                 (fl.care_utilities(cs).copy(), np.stack([engine_u(cs, g) for g in grid]))]
        scale = ti / 12.0
        for uf, ue in cases:
            worst = max(worst, float(np.max(np.abs(uf - ue) / scale)))
            a, b = np.empty(N, dtype=np.intp), np.empty(N, dtype=np.intp)
            fl._select(uf, a)
            fl._select(ue, b)
            flips += int((a != b).sum())
            priced += uf.size
    return {"months": tuple(months), "cells": N, "candidates_priced": priced, "max_abs_diff_per_ti_month": worst,
            "best_choice_differs": flips}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2027)
    ap.add_argument("--block", type=int, default=BLOCK, help="cells per block (0: all cells at once)")
    ap.add_argument("--check", action="store_true", help="compare utilities with the engine's first")
    args = ap.parse_args()
    if args.check:
        print(check_against_engine())
    r = run_floor(args.reps, args.runs, args.seed, block=args.block)
    print(f"numpy floor: {r['rep_months']:,} rep-months in {r['seconds']:.3f} s = "
          f"{r['rep_months'] / r['seconds']:,.0f} rep-months/s (blocks of {r['block']:,} cells); effort {r['mean_effort']:.3f}, "
          f"attainment {r['mean_attainment']:.3f}, payout/rep {r['payout_per_rep']:,.0f}")


if __name__ == "__main__":
    main()
