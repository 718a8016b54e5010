"""How effort becomes actuals: the production model, expected and realized.

Each output column of the scenario responds to the effective effort of one activity
(``E_a = chosen effort x morale multiplier``), the rep's skill, the month's seasonality and
the new-hire ramp. The same formulas give the *expected* value (what a rep projects when
choosing effort) and, with noise drawn from common random numbers, the *realized* value.
See ``docs/model.md`` for the equations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from engine.sim.scenario import Output, Scenario

__all__ = ["Production", "certainty_equivalent", "effort_multiplier", "effort_utility", "morale_after_month", "morale_after_pay",
           "nodes_sum", "outside_gap", "quadrature", "quit_hazard", "ramp_factor"]


def quadrature(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for a standard normal (1, 3 or 5 points)."""
    if points == 1:
        return np.array([0.0]), np.array([1.0])
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    return nodes, weights / weights.sum()


def ramp_factor(tenure: np.ndarray, months: int, start: float) -> np.ndarray:
    """Productivity of a rep with ``tenure`` completed months: ``start`` in month 0, 1 after ``months``."""
    if months <= 0:
        return np.ones_like(tenure)
    return np.minimum(1.0, start + (1.0 - start) * tenure / months)


@dataclass
class Production:
    """The production model of one scenario.

    Attributes:
        scenario: the scenario.
        activity_index: activity name -> index on the effort axis.
        primary_activity: index of the activity producing the primary measure.
    """

    scenario: Scenario

    def __post_init__(self) -> None:
        sc = self.scenario
        self.activity_index = {a.name: i for i, a in enumerate(sc.activities)}
        self.shares = np.array([a.share for a in sc.activities])
        self.primary_activity = self.activity_index[sc.output(sc.primary_measure).activity]
        # Order outputs so that share_of outputs come after what they are a share of.
        done: list[Output] = []
        pending = list(sc.outputs)
        while pending:
            for o in pending:
                if o.kind != "share_of" or o.get("of") in [d.name for d in done]:
                    done.append(o)
                    pending.remove(o)
                    break
            else:  # pragma: no cover - validation rejects cycles of share_of
                raise ValueError("share_of outputs form a cycle")
        self.outputs = done

    def closure(self, names) -> frozenset:
        """The outputs needed to compute ``names`` (a share needs what it is a share of)."""
        need = set(names)
        for o in reversed(self.outputs):
            if o.name in need and o.kind == "share_of":
                need.add(o.get("of"))
        return frozenset(need)

    # -- the noise of the primary measure, for the projection's quadrature ------------------

    def monthly_cv(self, output: Output) -> float:
        """Coefficient of variation of one month of an amount output."""
        if output.get("noise", "lognormal") == "deals":
            lam = max(output.get("deals_per_month", 4.0), 1e-9)
            return math.sqrt(math.exp(output.get("size_sigma", 0.8) ** 2) / lam)
        if output.get("noise", "lognormal") == "none":
            return 0.0
        s = output.get("sigma", 0.35)
        return math.sqrt(math.exp(s * s) - 1.0)

    # -- expected values ---------------------------------------------------------------

    def expected(self, effort: np.ndarray, skill: np.ndarray, quota: np.ndarray, season: float | np.ndarray,
                 ramp: np.ndarray, only: frozenset | None = None) -> dict[str, np.ndarray]:
        """Expected value of every output (or of those in ``only``) for one month.

        Args:
            effort: ``(A, ...)`` effective effort per activity.
            skill, quota, ramp: arrays broadcastable to ``effort[0]``.
            season: the month's demand factor: seasonality, times the market where it is
                simulated (then an array broadcastable to ``effort[0]``).
            only: output names to compute (with what they are shares of), or None for all.
        """
        out: dict[str, np.ndarray] = {}
        prim = effort[self.primary_activity]
        for o in self.outputs:
            if only is not None and o.name not in only:
                continue
            e = effort[self.activity_index[o.activity]]
            if o.kind == "amount":
                out[o.name] = (o.get("level", 1.0) * quota / 12.0 * skill * season * ramp
                               * np.power(e, o.get("elasticity", 1.0)))
            elif o.kind == "count":
                out[o.name] = (o.get("mean", 1.0) * np.power(skill, o.get("skill_elasticity", 1.0)) * season * ramp
                               * np.power(e, o.get("elasticity", 1.0)))
            elif o.kind == "share_of":
                rate = np.clip(o.get("base", 0.9) + o.get("gain", 0.0) * np.log(e), 0.0, 1.0)
                out[o.name] = rate * out[o.get("of")]
            elif o.kind == "score":
                out[o.name] = np.clip(o.get("base", 0.0) + o.get("gain", 0.0) * np.log(e)
                                      - o.get("pressure", 0.0) * np.log(prim), 0.0, o.get("max", 5.0))
            elif o.kind == "incidents":
                out[o.name] = (o.get("mean", 1.0) * np.power(e, o.get("elasticity", -1.0))
                               * np.power(prim, o.get("pressure", 0.0)))
        return out

    # -- realized values ---------------------------------------------------------------

    def realize(self, expected: dict[str, np.ndarray], effort: np.ndarray, uniforms: np.ndarray,
                normals: np.ndarray, poisson=None) -> dict[str, np.ndarray]:
        """Realized outputs from expected values and common random numbers.

        Args:
            expected: what :meth:`expected` returned for the month.
            effort: ``(A, ...)`` effective effort (for rates and scores).
            uniforms: ``(len(outputs), ...)`` U(0,1) draws, one row per output.
            normals: ``(len(outputs), ...)`` N(0,1) draws, one row per output.
            poisson: ``(u, mean) -> counts``, the Poisson draw by inversion (default
                :func:`_poisson_ppf`; the simulator passes the compiled one of
                engine/sim/kernels.py, the same counts).
        """
        poisson = _poisson_ppf if poisson is None else poisson
        out: dict[str, np.ndarray] = {}
        prim = effort[self.primary_activity]
        for i, o in enumerate(self.outputs):
            mu = expected[o.name]
            u, z = uniforms[i], normals[i]
            if o.kind == "amount":
                noise = o.get("noise", "lognormal")
                if noise == "none":
                    out[o.name] = mu
                elif noise == "deals":
                    lam = o.get("deals_per_month", 4.0)
                    ssig = o.get("size_sigma", 0.8)
                    n = poisson(u, lam)
                    # The sum of n lognormal deal sizes, moment-matched to one lognormal
                    # (Fenton-Wilkinson), scaled so that E[revenue] = mu.
                    with np.errstate(divide="ignore", invalid="ignore"):
                        s2 = np.log1p(np.expm1(ssig * ssig) / np.maximum(n, 1.0))
                    total = n / lam * np.exp(np.sqrt(s2) * z - s2 / 2.0)
                    out[o.name] = np.where(n > 0, mu * total, 0.0)
                else:
                    s = o.get("sigma", 0.35)
                    out[o.name] = mu * np.exp(s * z - s * s / 2.0)
            elif o.kind in ("count", "incidents"):
                out[o.name] = poisson(u, mu)
            elif o.kind == "share_of":
                e = effort[self.activity_index[o.activity]]
                rate = np.clip(o.get("base", 0.9) + o.get("gain", 0.0) * np.log(e) + o.get("sd", 0.0) * z, 0.0, 1.0)
                out[o.name] = rate * out[o.get("of")]
            elif o.kind == "score":
                e = effort[self.activity_index[o.activity]]
                out[o.name] = np.clip(o.get("base", 0.0) + o.get("gain", 0.0) * np.log(e)
                                      - o.get("pressure", 0.0) * np.log(prim) + o.get("sd", 0.0) * z,
                                      0.0, o.get("max", 5.0))
        return out


def _poisson_ppf(u: np.ndarray, lam) -> np.ndarray:
    """Poisson draws by inversion of common uniforms (so that plans share random numbers).

    Sequential search of the CDF, vectorized over the draws still searching (a few passes
    for the small means of monthly counts); a normal approximation with continuity
    correction above a mean of 50.
    """
    u = np.asarray(u, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape)
    flat_u, flat_l = u.reshape(-1), lam.reshape(-1)
    out = np.zeros(flat_u.shape)
    big = flat_l > 50.0
    if big.any():
        z = special.ndtri(np.clip(flat_u[big], 1e-300, 1 - 1e-16))
        out[big] = np.maximum(np.floor(flat_l[big] + np.sqrt(flat_l[big]) * z + 0.5), 0.0)
    idx = np.nonzero(~big & (flat_l > 0))[0]
    lam_s = flat_l[idx]
    uu = flat_u[idx]
    p = np.exp(-lam_s)
    cdf = p.copy()
    k = 0
    while idx.size and k < 400:
        going = uu > cdf
        if not going.all():
            idx, lam_s, uu, p, cdf = idx[going], lam_s[going], uu[going], p[going], cdf[going]
            if not idx.size:
                break
        k += 1
        out[idx] += 1.0
        p = p * lam_s / k
        cdf = cdf + p
        # Round-off: once the CDF stops growing the search is over.
        done = p < 1e-17 * cdf
        if done.any():
            keep = ~done
            idx, lam_s, uu, p, cdf = idx[keep], lam_s[keep], uu[keep], p[keep], cdf[keep]
    return out.reshape(u.shape)


# --- morale and quits (docs/model.md §4 and §5): one copy, for the simulator and the alerts ---


def morale_after_pay(morale, mp, gap, unfair, awards):
    """Morale after a period's pay: the pay gap against expectation (clipped to +-1),
    unfairness (pay rank far from performance rank) and contest awards.

    ``mp`` is the scenario's ``morale`` parameters (``pay_gap``, ``unfair``, ``wins``).
    """
    return morale + mp["pay_gap"] * gap - mp["unfair"] * unfair + mp["wins"] * awards


def morale_after_month(morale, mp, outside_gap, hopeless, baseline):
    """Morale at a month's end: outside offers above expected pay and a hopeless target
    lower it, and it recovers toward ``baseline`` (the rep's starting morale); clipped to [0, 1].

    ``mp`` is the scenario's ``morale`` parameters (``outside_gap``, ``hopeless``, ``recovery``).
    """
    updated = morale - mp["outside_gap"] * outside_gap - mp["hopeless"] * hopeless \
        + mp["recovery"] * (baseline - morale)
    return np.clip(updated, 0.0, 1.0)


def quit_hazard(base_hazard, ap, morale, outside_gap):
    """Monthly quit hazard: the base rate raised by low morale and by outside offers.

    ``ap`` is the scenario's ``attrition`` parameters (``morale_sensitivity``,
    ``outside_sensitivity``).
    """
    return base_hazard * np.exp(ap["morale_sensitivity"] * (1.0 - morale)
                                + ap["outside_sensitivity"] * outside_gap)


# --- effort choice (docs/model.md §2) -----------------------------------------------------


def effort_multiplier(morale, mp):
    """Effective effort per unit of chosen effort: ``effort_floor`` at morale 0, 1 at morale 1.

    ``mp`` is the scenario's ``morale`` parameters (``effort_floor``).
    """
    return mp["effort_floor"] + (1.0 - mp["effort_floor"]) * morale


RHO_NEGLIGIBLE = 1e-12
"""Risk aversion (per monthly target incentive) below which a rep is risk neutral: the
certainty equivalent is then its second-order limit ``mean - rho/2 x var / s``, exact to
``O(rho^2)`` (and no division by a vanishing ``rho``)."""


def certainty_equivalent(values, weights, rho, scale):
    """CARA certainty equivalent of pay known at quadrature nodes (docs/model.md §3).

    ``CE = -(s / rho) x ln sum_j w_j exp(-rho x V_j / s)``: the sure pay a rep with constant
    absolute risk aversion ``rho / s`` (``rho`` per monthly target incentive ``s``) values as
    much as the uncertain pay ``V``. Unlike ``mean - rho/2 x var / s`` it never falls when
    any ``V_j`` rises (expected utility is increasing in every outcome), and it scales with
    money: ``CE(kV; k s) = k CE(V; s)``. To second order in ``rho`` it is that mean-variance
    formula (Pratt 1964), so the same ``rho`` means the same risk premium for small risks.

    Computed stably. Where ``rho (mean - min V) / s <= 1``, around the mean, with
    ``x_j = (V_j - mean) / s``, ``CE = mean - (s/rho) log1p(sum w_j expm1(-rho x_j))``:
    accurate to rounding however small ``rho`` is. Elsewhere as a log-sum-exp with the
    largest exponent subtracted before ``exp`` (so no outcome overflows),
    ``CE = min V - (s/rho) ln sum w_j exp(-rho (V_j - min V) / s)``. Below
    :data:`RHO_NEGLIGIBLE`, the limit ``mean - rho/2 x var / s``. Elementwise over the reps
    (the nodes are the leading axis), so a rep's value does not depend on who else is
    evaluated with it.

    Args:
        values: ``(S, ...)`` pay at each quadrature node.
        weights: ``(S,)`` quadrature weights (non-negative, summing to 1).
        rho: risk aversion per unit of ``scale`` (``>= 0``), broadcastable to ``values[0]``.
        scale: the unit of pay ``s`` (a rep's monthly target incentive), ``> 0``.

    Returns:
        The certainty equivalent, shaped like ``values[0]``.
    """
    values = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    rho = np.asarray(rho, dtype=float)
    mean = nodes_sum(w, values)
    x = (values - mean) / scale
    active = rho > RHO_NEGLIGIBLE
    r = np.where(active, rho, 1.0)
    lowest = values.min(axis=0)
    near = r * (mean - lowest) / scale <= 1.0
    # Near the mean: -rho x_j <= 1 for every node, expm1 cannot overflow (min() guards the
    # rows computed but not used).
    g_near = -np.log1p(nodes_sum(w, np.expm1(np.minimum(-r * x, 1.0)))) / r
    ce_near = mean + scale * np.where(active, g_near, -0.5 * rho * nodes_sum(w, x * x))
    # Far: exponents -rho (V_j - min V) / s <= 0.
    ce_far = lowest - scale / r * np.log(nodes_sum(w, np.exp(-r * (values - lowest) / scale)))
    return np.where(near | ~active, ce_near, ce_far)


def nodes_sum(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_j weights[j] * x[j]`` over the leading (quadrature) axis, element by element.

    Not ``np.tensordot``: BLAS kernels round an element differently depending on where it
    falls in their vector blocks, so a rep's expected pay would depend in the last bit on
    how many reps share the chunk; elementwise multiplies and adds do not (and use no BLAS
    threads).
    """
    out = weights[0] * x[0]
    for j in range(1, len(weights)):
        out = out + weights[j] * x[j]
    return out


def effort_utility(values, weights, rho, kappa, ti, months, shares, choice):
    """What a rep maximises when choosing effort: the certainty equivalent of projected pay
    (:func:`certainty_equivalent`, in units of the monthly target incentive) minus the cost
    of effort above baseline over the ``months`` left in the window.

    Args:
        values: ``(S, ...)`` projected pay over the window at each quadrature node.
        weights: ``(S,)`` the quadrature weights.
        rho, kappa: the rep's risk aversion (per monthly target incentive) and cost of effort.
        ti: annual target incentive (the scale of pay and of the cost of effort).
        months: months from now to the window's end.
        shares: ``(A,)`` share of working time of each activity.
        choice: ``(A, ...)`` chosen effort per activity (1 = baseline).
    """
    ti_m = np.maximum(ti / 12.0, 1e-9)
    ce = certainty_equivalent(values, weights, rho, ti_m)
    cost = kappa * ti_m * months * 0.5 * (shares[:, None, None] * np.maximum(choice - 1.0, 0.0) ** 2).sum(axis=0)
    return ce - cost


def outside_gap(outside, base_salary, ti, ote, pay_to_date, ti_to_date, seen):
    """How far an outside offer (as a multiple of OTE) exceeds the pay the rep expects.

    Expected annual pay is on target at the start of the year and, as the share ``seen`` of
    the year passes, weighted toward what the plan has paid against target so far.
    """
    pay_ratio = np.where(ti_to_date > 0, pay_to_date / np.maximum(ti_to_date, 1e-9), 1.0)
    comp_ratio = (base_salary + ti * (seen * pay_ratio + 1.0 - seen)) / np.maximum(ote, 1e-9)
    return np.maximum(outside - comp_ratio, 0.0)
