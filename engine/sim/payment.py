"""When closed business reaches the plan: payment delays and cancellations of deals.

A plan that pays on payment (``transactions: {date: paid_date}``) sees a deal in the month
it is paid, not the month it closes; a cancelled deal is never paid. A plan that pays at
booking sees the deal when it closes and, when it is cancelled, a credit note (a row with
the negative amount) in the month of the cancellation. The scenario's ``deals.payment``
section says how long payments take and how many deals are cancelled
(:class:`~engine.sim.scenario.Payment`).

The simulator works in months, so all of this reduces to *lags*: the share of a month's
closed business that reaches the plan ``k`` months later (:func:`month_lags`), computed once
from the days within the month that deals close on (``deals.last_week``) and the spread of
the days to payment (a gamma distribution; a point mass with ``spread: 0``). Applying them
is a short convolution over months of every rep and run at once (:meth:`Placement.placed`),
so the monthly loop stays vectorized: this is why no discrete-event engine is used here.

Business closed before the simulated horizon is still being paid in its first months: the
starting team's months before the horizon are filled with each rep's expected business at
their starting effort (:func:`before_horizon` in engine/sim/simulate.py), so the plan year
starts in the steady state a running team is in, not with an empty pipeline.

Public: :class:`Placement`, :func:`month_lags`, :func:`placement_for`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from engine.core.inputs import Mix
from engine.plan.validate import CheckedPlan
from engine.sim.scenario import Scenario

__all__ = ["Placement", "month_lags", "placement_for"]

MONTH_DAYS = 365.25 / 12.0
"""The mean calendar month, in days: lags are computed on it."""

_TAIL = 1e-4
"""Lags beyond the month where less than this share of business is still to come are folded
into that month (so a long tail does not lengthen every convolution)."""

_MAX_LAG = 24
_DAY_POINTS = 240  # points across the month for the day a deal closes


def _close_positions(last_week: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Where in its month a deal closes: positions in ``[0, 1)`` of the month and their weights.

    ``last_week`` is the share of a month's deals closed in its last seven days (None: spread
    evenly over the month).
    """
    u = (np.arange(_DAY_POINTS) + 0.5) / _DAY_POINTS
    tail = 7.0 / MONTH_DAYS
    if last_week is None:
        w = np.full(_DAY_POINTS, 1.0)
    else:
        late = u >= 1.0 - tail
        w = np.where(late, float(last_week) / max(late.sum(), 1), (1.0 - float(last_week)) / max((~late).sum(), 1))
    return u, w / w.sum()


def month_lags(mean_days: float, spread_days: float, last_week: float | None = None) -> np.ndarray:
    """``(K + 1,)`` share of a month's closed deals that land ``k = 0..K`` months later.

    A deal closes at a position ``u`` within its month (see :func:`_close_positions`) and lands
    ``X`` days later, ``X`` gamma-distributed with the given mean and standard deviation (a
    point mass where the spread is 0); it lands ``floor(u + X / MONTH_DAYS)`` months after
    its closing month. The shares sum to 1; the tail after the month where less than
    :data:`_TAIL` is left is folded into that month.
    """
    u, w = _close_positions(last_week)
    mean = max(float(mean_days), 0.0)
    if spread_days <= 0 or mean == 0:  # a point mass: the deal lands in month floor(u + mean / month)
        land = np.floor(u + mean / MONTH_DAYS).astype(np.int64)
        lags = np.bincount(np.minimum(land, _MAX_LAG), weights=w, minlength=_MAX_LAG + 1)
    else:
        edges = np.arange(_MAX_LAG + 2, dtype=np.float64)  # month k covers [k, k + 1) of u + X / month
        x = (edges[None, :] - u[:, None]) * MONTH_DAYS  # (positions, K + 2) days from close
        shape = (mean / float(spread_days)) ** 2
        scale = mean / shape
        cdf = special.gammainc(shape, np.maximum(x, 0.0) / scale)  # the gamma CDF (scipy.stats' own formula)
        lags = (w[:, None] * np.diff(cdf, axis=1)).sum(axis=0)
        lags[-1] += 1.0 - lags.sum()  # what lands after the last month considered
    left = 1.0 - np.cumsum(lags)
    K = int(np.argmax(left < _TAIL)) if (left < _TAIL).any() else len(lags) - 1
    out = lags[: K + 1].copy()
    out[K] += 1.0 - out.sum()
    return np.maximum(out, 0.0)


@dataclass(frozen=True)
class Placement:
    """How a month's closed business on the columns that ride on deals reaches the plan.

    Attributes:
        columns: the actuals columns that ride on deals (the primary amount and the columns
            that are shares of it).
        paid: ``(K + 1,)`` share of a month's closed business placed ``k`` months later (net of
            cancelled deals for a plan that pays on payment).
        credit: ``(K + 1,)`` share credited back ``k`` months later (a plan that pays at
            booking, with cancellations), else None.
        on_payment: the plan pays on payment (else at booking).
        cancel: the share of deals cancelled.
        row_credits: credit notes reach the plan as rows of their own (a plan with row-level
            measures): the credited amount of column ``c`` is the actuals column
            :meth:`credit_column` ``(c)``; else the credits are netted into ``c``.
        observed: months before this one hold a real team's actuals, already as the plan
            placed them (a forecast's closed months): they pass through unchanged.
    """

    columns: tuple[str, ...]
    paid: np.ndarray
    credit: np.ndarray | None
    on_payment: bool
    cancel: float
    row_credits: bool
    observed: int = 0

    @property
    def depth(self) -> int:
        """How many months before a month can still place business in it."""
        k = len(self.paid)
        if self.credit is not None:
            k = max(k, len(self.credit))
        return k - 1

    @staticmethod
    def credit_column(column: str) -> str:
        """The actuals column carrying the credit notes of ``column`` (row-level plans)."""
        return f"{column}~credit"

    @staticmethod
    def placed(closed, m: int, lags: np.ndarray, fold: bool = False):
        """``sum_k lags[k] x closed(m - k)``: what reaches the plan in month ``m``, where
        ``closed(j)`` is the business closed in month ``j`` (negative ``j``: before the horizon).
        ``fold``: also what the months up to ``m`` place after it (``m`` is the horizon's last
        month, and a rep deciding knows that business will be paid)."""
        weights = np.cumsum(lags[::-1])[::-1] if fold else lags  # fold: sum_{k >= d} lags[k]
        out = weights[0] * closed(m)
        for k in range(1, len(weights)):
            if weights[k] != 0.0:
                out = out + weights[k] * closed(m - k)
        return out

    def months(self, closed, m: int, fold: bool = False) -> dict[str, Any]:
        """What reaches the plan in month ``m`` for one column: ``{"": placed}`` and, for a plan
        with credit notes as rows, ``{"~credit": credited}`` (credits netted otherwise)."""
        if m < self.observed:
            return {"": closed(m)}
        value = self.placed(closed, m, self.paid, fold)
        if self.credit is None:
            return {"": value}
        credited = self.placed(closed, m, self.credit, fold)
        if self.row_credits:
            return {"": value, "~credit": credited}
        return {"": value - credited}

    def mix(self, mix: Mix | None) -> Mix | None:
        """The deals inside a simulated period as the plan sees them: fewer under pay on
        payment (cancelled deals are never paid), credit notes beside them at booking."""
        if mix is None:
            return None
        if self.on_payment:
            return replace(mix, deals=mix.deals * (1.0 - self.cancel))
        if self.row_credits:
            return replace(mix, credits=mix.deals * self.cancel,
                           credit_columns=tuple((c, self.credit_column(c)) for c in self.columns))
        return mix


def rides_on_deals(scenario: Scenario, columns: list[str]) -> tuple[str, ...]:
    """The columns the plan reads that ride on deals: the primary amount and its shares."""
    primary = scenario.primary_measure
    share_of = {o.name: o.get("of") for o in scenario.outputs if o.kind == "share_of"}

    def rides(col: str, seen: frozenset = frozenset()) -> bool:
        if col == primary:
            return True
        of = share_of.get(col)
        return of is not None and of not in seen and rides(of, seen | {col})

    return tuple(c for c in columns if rides(c) and not c.startswith("deals."))


def pays_on_payment(checked: CheckedPlan, scenario: Scenario) -> bool:
    """Whether the plan pays on payment: the scenario says so (``deals.payment.plan_pays_on``),
    else the plan places its transactions by a date column it declares other than ``date``."""
    d = scenario.deals
    said = None if d is None or d.payment is None else d.payment.plan_pays_on
    if said is not None:
        return said == "payment"
    plan = checked.plan
    return bool(plan.placing_declared) and plan.placing_date != "date"


def placement_for(checked: CheckedPlan, scenario: Scenario, columns: list[str],
                  conditioned: int = 0) -> Placement | None:
    """How closed business reaches the plan, or None (the scenario's deals have no ``payment``:
    every deal reaches the plan in the month it closes, as before).

    ``conditioned`` runs (a forecast from a real team's first ``conditioned`` months) read
    placed actuals for the closed months, so they place the months to come in the month they
    close, net of cancellations: the steady state, where what a year pays is what it closes
    (and what is pending now is about what will be pending at the year's end).
    """
    d = scenario.deals
    if d is None or d.payment is None:
        return None
    p = d.payment
    cols = rides_on_deals(scenario, columns)
    on_payment = pays_on_payment(checked, scenario)
    cancel = float(p.cancel)
    if on_payment:
        paid = month_lags(p.days, p.spread, d.last_week) * (1.0 - cancel)
        credit = None
    else:
        paid = np.array([1.0])
        credit = month_lags(p.cancel_days, p.spread * p.cancel_days / max(p.days, 1e-9), d.last_week) * cancel \
            if cancel > 0 else None
    if conditioned:
        paid = np.array([paid.sum() - (0.0 if credit is None else credit.sum())])
        credit = None
    return Placement(columns=cols, paid=paid, credit=credit, on_payment=on_payment, cancel=cancel,
                     row_credits=bool(checked.row_measures) and credit is not None, observed=int(conditioned))
