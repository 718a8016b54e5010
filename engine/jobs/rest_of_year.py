"""The rest of the year against the months closed: why a forecast's open months pay more or
less than the closed ones did (issue 27).

Per month, the open months' expected pay over the closed months' paid pay is split into the
primary output (revenue) and the pay per unit of it; the output's change into the parts the
simulation records (:class:`~engine.sim.conditioning.Conditioning` records, per month, the
reps' expected primary output at the effort they chose and at effective effort 1, its
*capacity*):

    output ratio = seasonality x reps in the role x (ramp, market, skill) x effort x other

* seasonality: the scenario's demand factors, open months over closed months;
* reps in the role: the average reps present per month (quits, vacancies, hires);
* ramp, market and skill: the rest of the capacity per rep and season (new hires ramping up,
  the market as read and as expected, the skills of who is in the role);
* effort: the effort factor (expected output at the chosen effort over capacity) of the open
  months against the one the pilot measured behind the closed months' actuals;
* other: what the output does beyond its expectation (the open months: timing costs; the
  closed months: the part of their results the skill posterior did not carry forward).

Each part is a ratio of weighted means over runs (the forecast's importance weights); the
parts multiply to the output's ratio exactly ("other" is the remainder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RunRecords:
    """What the forecast's runs recorded, for :func:`against_so_far`.

    Attributes:
        open_pay: ``(runs,)`` the team's pay of the open periods.
        output: ``(runs,)`` the team's primary output over the whole year (closed months real).
        expected: ``(runs, 12)`` the present reps' expected primary output at the chosen effort.
        capacity: ``(runs, 12)`` the same at effective effort 1.
        headcount: ``(runs,)`` average reps in the role per month over the year.
    """

    open_pay: np.ndarray
    output: np.ndarray
    expected: np.ndarray
    capacity: np.ndarray
    headcount: np.ndarray


def against_so_far(records: RunRecords, weights: np.ndarray | None, *, closed_months: int, paid: float,
                   closed_output: float, closed_effort: np.ndarray, closed_present: np.ndarray,
                   season: np.ndarray) -> dict | None:
    """The open months against the closed ones, per month (module docstring).

    Args:
        records: the runs' records.
        weights: the runs' importance weights (None: equal).
        closed_months: months with real actuals (``M``, 1-11).
        paid: what the closed periods paid.
        closed_output: the team's real primary output in the closed months.
        closed_effort: ``(M,)`` the effort factor behind the closed months' actuals.
        closed_present: ``(M,)`` reps in the role in each closed month.
        season: ``(12,)`` the scenario's demand factor of each month of the plan year.

    Returns:
        ``{"closed_months", "open_months", "pay": {"closed", "open", "change"}, "output":
        {"closed", "open", "change"}, "parts": [{"part", "change"}...], "pay_per_output":
        {"change"}}`` (changes per month, as fractions: -0.05 is 5% less), or None when no
        month is closed, every month is, or the closed months produced or paid nothing.
    """
    M = int(closed_months)
    if not 0 < M < 12 or paid <= 0 or closed_output <= 0:
        return None
    w = None if weights is None else np.asarray(weights, dtype=float)

    def mean(x: np.ndarray) -> float:
        return float(np.average(x, axis=0, weights=w))

    n_open = 12 - M
    open_pay = mean(records.open_pay)
    open_output = mean(records.output) - closed_output
    cap = np.average(records.capacity, axis=0, weights=w)  # (12,)
    exp_open = mean(records.expected[:, M:].sum(axis=1))
    cap_c, cap_o = float(cap[:M].sum()), float(cap[M:].sum())
    if cap_c <= 0 or cap_o <= 0 or open_output <= 0:
        return None
    present_c = float(np.sum(closed_present)) / M
    present_o = (12.0 * mean(records.headcount) - float(np.sum(closed_present))) / n_open
    season_c, season_o = float(season[:M].mean()), float(season[M:].mean())
    effort_c = float(np.dot(cap[:M], closed_effort) / cap_c)
    effort_o = exp_open / cap_o
    per_month = M / n_open
    output_ratio = open_output / closed_output * per_month
    capacity_ratio = cap_o / cap_c * per_month
    season_ratio = season_o / season_c
    present_ratio = present_o / present_c if present_c > 0 else 1.0
    rest_ratio = capacity_ratio / season_ratio / present_ratio
    effort_ratio = effort_o / effort_c
    other_ratio = output_ratio / (capacity_ratio * effort_ratio)
    pay_ratio = open_pay / paid * per_month
    parts = [("seasonality", season_ratio), ("reps in the role", present_ratio),
             ("ramp, market and skill", rest_ratio), ("effort", effort_ratio), ("other", other_ratio)]
    return {
        "closed_months": M, "open_months": n_open,
        "pay": {"closed": float(paid), "open": open_pay, "change": pay_ratio - 1.0},
        "output": {"closed": float(closed_output), "open": open_output, "change": output_ratio - 1.0},
        "parts": [{"part": name, "change": r - 1.0} for name, r in parts],
        "pay_per_output": {"change": pay_ratio / output_ratio - 1.0},
    }
